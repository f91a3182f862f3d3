"""Command-line handling of every program: usage errors are one line on stderr and exit 2,
checked at start-up; --help prints the usage on stdout and exits 0."""
import socket
import subprocess

import pytest

from conftest import program

SERVERS = ["udp_server", "tcp_server"]
CLIENTS = ["udp_client", "tcp_client"]

SERVER_ERRORS = [
    ["--port", "70000"],
    ["--port", "abc"],
    ["--port", "-1"],
    ["--host", "999.1.1.1"],
    ["--bogus"],
    ["--port"],  # a flag without its value
    ["extra"],
]
CLIENT_ERRORS = [
    ["127.0.0.1", "70000"],
    ["127.0.0.1", "abc"],
    ["999.1.1.1", "9000"],
    ["999.1.1.1"],
    ["--bogus"],
    ["127.0.0.1", "9000", "extra"],
]


def check_usage_error(procs, argv, stdin):
    p = procs.start(argv, stdin=stdin)
    rc = p.wait()
    err = p.err.text()
    assert rc == 2, (argv, rc, err)
    assert err.endswith("\n") and err.count("\n") == 1, (argv, err)
    assert p.out.data() == b"", argv


@pytest.mark.parametrize("name", SERVERS)
@pytest.mark.parametrize("args", SERVER_ERRORS, ids=" ".join)
def test_server_usage_errors(procs, name, args):
    check_usage_error(procs, [program(name), *args], subprocess.DEVNULL)


@pytest.mark.parametrize("name", CLIENTS)
@pytest.mark.parametrize("args", CLIENT_ERRORS, ids=" ".join)
def test_client_usage_errors_with_stdin_at_eof(procs, name, args):
    check_usage_error(procs, [program(name), *args], subprocess.DEVNULL)


@pytest.mark.parametrize("name", CLIENTS)
@pytest.mark.parametrize("args", CLIENT_ERRORS, ids=" ".join)
def test_client_usage_errors_before_reading_input(procs, name, args):
    # stdin stays open and empty: a client that read input before checking its arguments
    # would block here, and the wait in check_usage_error would fail the test.
    check_usage_error(procs, [program(name), *args], subprocess.PIPE)


def test_demo_rejects_unknown_flag(procs):
    check_usage_error(procs, [program("demo"), "--bogus"], subprocess.DEVNULL)


@pytest.mark.parametrize("name", SERVERS + CLIENTS + ["demo"])
def test_help(procs, name):
    p = procs.start([program(name), "--help"], stdin=subprocess.DEVNULL)
    assert p.wait() == 0
    out = p.out.text()
    assert out.startswith("usage: netlab-" + name.replace("_", "-")), out
    assert out.endswith("\n")
    assert p.err.data() == b""


@pytest.mark.parametrize("name", SERVERS)
def test_server_port_in_use_is_a_runtime_error(procs, name):
    # Not a usage error: the command line is fine, the port is taken. Exit 1, one line.
    kind = socket.SOCK_DGRAM if name == "udp_server" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as holder:
        holder.bind(("127.0.0.1", 0))
        if kind == socket.SOCK_STREAM:
            holder.listen(1)
        port = holder.getsockname()[1]
        p = procs.start([program(name), "--host", "127.0.0.1", "--port", port],
                        stdin=subprocess.DEVNULL)
        assert p.wait() == 1
    err = p.err.text()
    assert err.count("\n") == 1 and "in use" in err.lower(), err
