"""netlab-echo-server as a program: many clients echoed, SIGTERM stops it cleanly (exit 0),
usage errors exit 2, --help exits 0, --idle-timeout closes idle clients."""
import os
import selectors
import signal
import socket
import subprocess
import time

import pytest

PROG = os.environ.get("NETLAB_ECHO_SERVER", "netlab-echo-server")


def start(*args):
    p = subprocess.Popen([PROG, "--port", "0", *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()  # "listening on 127.0.0.1:PORT", printed once it listens
    assert line.startswith("listening on "), line
    return p, int(line.rsplit(":", 1)[1])


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        out, err = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)
    return p.returncode, err


def test_many_clients_echoed_and_clean_stop():
    p, port = start()
    try:
        clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(300)]
        for i, c in enumerate(clients):
            c.sendall(b"hello %d\n" % i)
        for i, c in enumerate(clients):
            want = b"hello %d\n" % i
            got = b""
            while len(got) < len(want):
                chunk = c.recv(100)
                assert chunk
                got += chunk
            assert got == want
        for c in clients:
            c.close()
    finally:
        rc, err = stop(p)
    assert rc == 0
    assert "300 accepted" in err


def test_idle_timeout_closes():
    p, port = start("--idle-timeout", "200")
    try:
        c = socket.create_connection(("127.0.0.1", port), timeout=5)
        t0 = time.monotonic()
        assert c.recv(1) == b""  # EOF from the server
        assert time.monotonic() - t0 >= 0.19
        c.close()
    finally:
        rc, _ = stop(p)
    assert rc == 0


@pytest.mark.parametrize("args", [["--bogus"], ["--port"], ["--port", "70000"],
                                  ["--idle-timeout", "-1"], ["--max-queued", "0"],
                                  ["--host", "not an address!"]])
def test_usage_errors_exit_2(args):
    r = subprocess.run([PROG, *args], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2, (args, r.stderr)
    assert r.stderr


def test_help():
    r = subprocess.run([PROG, "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0
    assert "--idle-timeout" in r.stdout


def test_trace_prints_system_calls():
    p, port = start("--trace")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.sendall(b"x")
            assert c.recv(1) == b"x"
    finally:
        rc, err = stop(p)
    assert rc == 0
    assert "trace: accept(" in err and "trace: recv(" in err and "trace: send(" in err
