"""--trace shows the socket system calls on stderr; netlab-demo runs the notes' flows."""
import re
import socket
import subprocess

from conftest import (CHINESE, connect_tcp, program, recv_exactly, start_tcp_server,
                      start_udp_server)


def assert_traced(proc, pattern):
    """Wait for a trace line on the program's stderr (written when the call returns)."""
    rx = re.compile(r"^\[trace\] " + pattern, re.M)
    assert proc.err.wait_match(rx), (pattern, proc.err.text())


def assert_only_trace(proc):
    # Only whole lines: the program may be writing the next one as we look.
    text = proc.err.text()
    lines = text[:text.rfind("\n") + 1].splitlines()
    assert lines and all(line.startswith("[trace] ") for line in lines), lines


def test_udp_server_trace(procs):
    server, port = start_udp_server(procs, extra=["--trace"])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.sendto(b"traced", ("127.0.0.1", port))
        me = s.getsockname()[1]
        assert server.out.read_line() == f"('127.0.0.1', {me}): traced".encode()
    assert_traced(server, r"socket\(AF_INET, SOCK_DGRAM\) = \d+$")
    assert_traced(server, rf"bind\(\d+, 127\.0\.0\.1:{port}\) = 0$")
    assert_traced(server, rf"recvfrom\(\d+, 1024 <- 127\.0\.0\.1:{me}\) = 6$")
    assert_only_trace(server)


def test_tcp_server_trace(procs):
    server, port = start_tcp_server(procs, extra=["--trace"])
    with connect_tcp("127.0.0.1", port) as c:
        c.sendall(CHINESE.encode())
        assert recv_exactly(c, len(CHINESE.encode())) == CHINESE.encode()
        me = c.getsockname()[1]
    assert server.out.read_line() == f"127.0.0.1:{me} connected".encode()
    assert server.out.read_line() == f"127.0.0.1:{me} disconnected".encode()
    assert_traced(server, rf"bind\(\d+, 127\.0\.0\.1:{port}\) = 0$")
    assert_traced(server, r"listen\(\d+, \d+\) = 0$")
    assert_traced(server, rf"accept\(\d+, <- 127\.0\.0\.1:{me}\) = \d+$")
    assert_traced(server, r"recv\(\d+, 1024\) = 15$")
    assert_traced(server, r"send\(\d+, 15 bytes\) = 15$")
    assert_only_trace(server)


def test_udp_client_trace(procs):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as r:
        r.bind(("127.0.0.1", 0))
        port = r.getsockname()[1]
        client = procs.start([program("udp_client"), "--trace", "127.0.0.1", port],
                             input=b"abc\nq\n")
        assert client.wait() == 0
    assert_traced(client, r"socket\(AF_INET, SOCK_DGRAM\) = \d+$")
    assert_traced(client, rf"sendto\(\d+, 3 bytes, 127\.0\.0\.1:{port}\) = 3$")
    assert_traced(client, r"close\(\d+\) = 0$")
    assert client.out.data() == b""  # the trace never goes to stdout


def test_tcp_client_trace(procs):
    server, port = start_tcp_server(procs)
    client = procs.start([program("tcp_client"), "--trace", "127.0.0.1", port],
                         input=b"abcd\nq\n")
    assert client.wait() == 0
    assert client.out.data() == b"abcd\n"
    assert_traced(client, rf"connect\(\d+, 127\.0\.0\.1:{port}\)")
    assert_traced(client, r"send\(\d+, 4 bytes\) = 4$")
    assert_traced(client, r"recv\(\d+, 4\) = 4$")


def run_demo(procs, *args):
    demo = procs.start([program("demo"), *args], stdin=subprocess.DEVNULL)
    rc = demo.wait()
    return rc, demo.out.text(), demo.err.text()


def test_demo_transcript(procs):
    rc, out, err = run_demo(procs)
    assert rc == 0, (out, err)
    assert err == ""
    assert "== UDP" in out and "== TCP" in out
    udp, tcp = out.split("== TCP", 1)
    assert re.search(rf"^server: \('127\.0\.0\.1', \d+\): {CHINESE}$", udp, re.M), udp
    assert f'client: echo "{CHINESE}"' in tcp, tcp
    assert "FAILED" not in out
    assert out.rstrip().endswith("demo finished: every flow worked")


def test_demo_trace(procs):
    rc, out, err = run_demo(procs, "--trace")
    assert rc == 0, (out, err)
    for call in ["socket", "bind", "recvfrom", "sendto", "listen", "connect", "accept", "recv",
                 "send"]:
        assert re.search(rf"^    \[trace\] {call}\(", out, re.M), (call, out)
