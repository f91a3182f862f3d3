"""netlab-udp-server receiving from Python's socket module, socat and ncat.

Each datagram must be printed the way the notes' Python prints it, `('IP', PORT): TEXT`, with
the sender's real port, one line per datagram, flushed at once (we read it while the server is
still running, so a line stuck in a stdio buffer fails the test).
"""
import socket

from conftest import CHINESE, free_port, start_udp_server


def expect_line(server, text):
    line = server.out.read_line()
    assert line is not None, f"no line for {text!r}; stdout so far {server.out.text()!r}, " \
                             f"stderr {server.err.text()!r}"
    assert line.decode("utf-8") == text
    return line


def test_stdlib_sender_several_datagrams_in_order(procs):
    server, port = start_udp_server(procs)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        me = s.getsockname()[1]
        for text in ["hello", CHINESE, "q is only special to the client", "a b  c\ttab"]:
            s.sendto(text.encode(), ("127.0.0.1", port))
            expect_line(server, f"('127.0.0.1', {me}): {text}")
    assert server.alive()


def test_two_senders_each_with_its_own_port(procs):
    server, port = start_udp_server(procs)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b:
        a.bind(("127.0.0.1", 0))
        b.bind(("127.0.0.1", 0))
        a.sendto(b"from a", ("127.0.0.1", port))
        expect_line(server, f"('127.0.0.1', {a.getsockname()[1]}): from a")
        b.sendto(b"from b", ("127.0.0.1", port))
        expect_line(server, f"('127.0.0.1', {b.getsockname()[1]}): from b")


def test_empty_datagram_is_printed_not_dropped(procs):
    # A zero-length datagram is valid UDP; Python's recvfrom returns b'' and prints the line.
    server, port = start_udp_server(procs)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.sendto(b"", ("127.0.0.1", port))
        s.sendto(b"after empty", ("127.0.0.1", port))
        me = s.getsockname()[1]
        expect_line(server, f"('127.0.0.1', {me}): ")
        expect_line(server, f"('127.0.0.1', {me}): after empty")


def test_oversized_datagram_warns_on_stderr(procs):
    server, port = start_udp_server(procs)
    payload = bytes((ord("a") + i % 26) for i in range(3000))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.sendto(payload, ("127.0.0.1", port))
        me = s.getsockname()[1]
        line = server.out.read_line()
        assert line == f"('127.0.0.1', {me}): ".encode() + payload[:1024]
        assert server.err.wait_for(b"\n"), "no warning on stderr for a cut datagram"
        warning = server.err.text()
        assert "1024" in warning and "cut" in warning, warning
        assert warning.count("\n") == 1, warning
        # The server carries on after the warning.
        s.sendto(b"next", ("127.0.0.1", port))
        expect_line(server, f"('127.0.0.1', {me}): next")


def test_exactly_1024_bytes_is_not_a_truncation(procs):
    server, port = start_udp_server(procs)
    payload = b"x" * 1024
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.sendto(payload, ("127.0.0.1", port))
        s.sendto(b"y", ("127.0.0.1", port))
        me = s.getsockname()[1]
        assert server.out.read_line() == f"('127.0.0.1', {me}): ".encode() + payload
        expect_line(server, f"('127.0.0.1', {me}): y")
    assert server.err.data() == b""


def test_ipv6_prints_like_python(procs):
    server, port = start_udp_server(procs, host="::1")
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
        s.bind(("::1", 0))
        s.sendto(CHINESE.encode(), ("::1", port))
        # Python's own recvfrom on this socket type reports the sender as a 4-tuple.
        expected_addr = ("::1", s.getsockname()[1], 0, 0)
        expect_line(server, f"{expected_addr}: {CHINESE}")


def send_from_free_port(procs, make_argv, data, family=socket.AF_INET, attempts=5):
    """Send `data` with a program that sends from a source port we choose, so the port the
    server prints can be checked; retried if another test took that port meanwhile.
    Returns the source port once the sender has exited successfully."""
    for _ in range(attempts):
        src = free_port(socket.SOCK_DGRAM, family)
        p = procs.start(make_argv(src), input=data)
        rc = p.wait()
        if rc == 0:
            return src
        assert "in use" in p.err.text().lower(), (p.argv, rc, p.err.text())
    raise AssertionError(f"no free source port in {attempts} attempts")


def test_socat_sender(procs):
    server, port = start_udp_server(procs)
    for text in ["from socat", CHINESE]:
        src = send_from_free_port(
            procs, lambda s: ["socat", "-", f"UDP4:127.0.0.1:{port},sourceport={s}"],
            text.encode())
        expect_line(server, f"('127.0.0.1', {src}): {text}")


def test_socat_sender_ipv6(procs):
    server, port = start_udp_server(procs, host="::1")
    src = send_from_free_port(
        procs, lambda s: ["socat", "-", f"UDP6:[::1]:{port},sourceport={s}"],
        CHINESE.encode(), family=socket.AF_INET6)
    expect_line(server, f"('::1', {src}, 0, 0): {CHINESE}")


def test_ncat_sender(procs):
    server, port = start_udp_server(procs)
    for text in ["from ncat", CHINESE]:
        src = send_from_free_port(
            procs, lambda s: ["ncat", "-u", "-p", s, "127.0.0.1", port], text.encode())
        expect_line(server, f"('127.0.0.1', {src}): {text}")
