"""The socket module's surface beyond the socket calls, next to the stdlib: each case runs once
with `socket` and once with `netlab` (as `m`) and must give the same result. The defects of
issue 12 found by hand (UDP recv(0), settimeout(inf), short IPv4 forms, sendto on a connected
TCP socket) have a case each; CPython's own tests (cpython_parity.py) cover the rest broadly.
"""
import errno
import os
import socket

import pytest

import netlab

MODULES = [socket, netlab]
IDS = ["stdlib", "netlab"]


@pytest.fixture(params=MODULES, ids=IDS)
def m(request):
    return request.param


def test_udp_recv0_leaves_the_datagram_queued(m):
    with m.socket(m.AF_INET, m.SOCK_DGRAM) as r, socket.socket(type=socket.SOCK_DGRAM) as s:
        r.bind(("127.0.0.1", 0))
        r.settimeout(5)
        s.sendto(b"kept", r.getsockname())
        assert r.recv(0) == b""
        assert r.recv(16) == b"kept"


@pytest.mark.parametrize("value", [float("inf"), 1e300, 1e10])
def test_settimeout_too_large_is_refused_at_once(m, value):
    with m.socket() as s:
        with pytest.raises(OverflowError):
            s.settimeout(value)
        with pytest.raises(OverflowError):
            m.setdefaulttimeout(value)
        assert s.gettimeout() is None


def test_settimeout_nan_and_negative(m):
    with m.socket() as s:
        for value in (float("nan"), -1):
            with pytest.raises(ValueError):
                s.settimeout(value)


@pytest.mark.parametrize("host", ["127.1", "127.0.1", "2130706433", "0x7f.1"])
def test_short_ipv4_forms(m, host):
    with m.socket(m.AF_INET, m.SOCK_DGRAM) as r, m.socket(m.AF_INET, m.SOCK_DGRAM) as s:
        r.bind((host, 0))
        r.settimeout(5)
        assert r.getsockname()[0] == "127.0.0.1"
        s.sendto(b"short", (host, r.getsockname()[1]))
        assert r.recvfrom(16)[0] == b"short"
        s.sendto(b"again", (host, r.getsockname()[1]))  # an equal tuple: the kept endpoint
        assert r.recvfrom(16)[0] == b"again"


def test_sendto_on_connected_tcp_sends(m):
    with socket.create_server(("127.0.0.1", 0)) as lst, m.socket() as c:
        c.settimeout(5)
        c.connect(lst.getsockname())
        conn, _ = lst.accept()
        with conn:
            conn.settimeout(5)
            assert c.sendto(b"abc", ("127.0.0.1", 9)) == 3
            assert conn.recv(16) == b"abc"


def test_sendto_on_unconnected_tcp_is_epipe(m):
    with m.socket() as c:
        with pytest.raises(OSError) as e:
            c.sendto(b"abc", ("127.0.0.1", 9))
        assert e.value.errno == errno.EPIPE


def tcp_pair(m):
    """Two connected TCP sockets of module m (the stdlib's socketpair() is AF_UNIX only)."""
    with m.socket() as lst:
        lst.bind(("127.0.0.1", 0))
        lst.listen()
        lst.settimeout(5)
        a = m.create_connection(lst.getsockname(), timeout=5)
        b, _ = lst.accept()
        return a, b


def test_socketpair_netlab_default_is_loopback_tcp():
    a, b = netlab.socketpair()
    with a, b:
        assert (a.family, a.type) == (netlab.AF_INET, netlab.SOCK_STREAM)
        assert a.getpeername() == b.getsockname()
        a.sendall(b"x")
        b.settimeout(5)
        assert b.recv(1) == b"x"


def test_makefile_lines_both_ways(m):
    a, b = tcp_pair(m)
    with a, b:
        b.settimeout(5)
        with a.makefile("w", encoding="utf-8") as w, b.makefile("rb") as r:
            w.write("第一行\nsecond\n")
            w.flush()
            assert r.readline() == "第一行\n".encode()
            assert r.readline() == b"second\n"
        assert a.fileno() >= 0  # the files closed; the sockets are still open


def test_makefile_keeps_the_socket_open_until_closed(m):
    a, b = tcp_pair(m)
    with b:
        f = a.makefile("rwb", buffering=0)
        a.close()
        b.sendall(b"x")
        assert f.read(1) == b"x"
        f.close()
        assert a.fileno() == -1


def test_dup_detach_and_fileno(m):
    with m.socket(m.AF_INET, m.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        d = s.dup()
        with d:
            assert d.fileno() != s.fileno()
            assert d.getsockname() == s.getsockname()
            assert not d.get_inheritable()
        fd = s.detach()
        assert s.fileno() == -1
        with m.socket(fileno=fd) as t:
            assert (t.family, t.type) == (m.AF_INET, m.SOCK_DGRAM)
            assert t.getsockname()[0] == "127.0.0.1"


def test_fromfd_and_close(m):
    with socket.socket() as s:
        f = m.fromfd(s.fileno(), m.AF_INET, m.SOCK_STREAM)
        fd = f.detach()
        m.close(fd)
        with pytest.raises(OSError):
            os.fstat(fd)


def test_resolver_shapes(m):
    got = m.getaddrinfo("127.0.0.1", 80, m.AF_INET, m.SOCK_STREAM)
    assert [(int(f), int(t), p, c, a) for f, t, p, c, a in got] == \
        [(2, 1, 6, "", ("127.0.0.1", 80))]
    assert repr(got[0][0]) == "<AddressFamily.AF_INET: 2>"
    v6 = m.getaddrinfo("::1", "80", m.AF_INET6, m.SOCK_DGRAM)
    assert v6[0][4] == ("::1", 80, 0, 0)
    assert m.getnameinfo(("127.0.0.1", 80), m.NI_NUMERICHOST | m.NI_NUMERICSERV) == \
        ("127.0.0.1", "80")
    assert m.gethostbyname("127.1") == "127.0.0.1"
    assert m.getservbyname("domain", "udp") == 53
    assert m.getservbyport(53, "udp") == "domain"
    with pytest.raises(m.gaierror):
        m.getaddrinfo("nonexistent.invalid", 80)


def test_conversions(m):
    assert m.inet_aton("127.1") == b"\x7f\x00\x00\x01"
    assert m.inet_ntoa(b"\x7f\x00\x00\x01") == "127.0.0.1"
    assert m.inet_pton(m.AF_INET6, "::ffff:1.2.3.4")[-4:] == b"\x01\x02\x03\x04"
    assert m.inet_ntop(m.AF_INET6, bytes(15) + b"\x01") == "::1"
    assert (m.htons(1), m.ntohs(256), m.htonl(1), m.ntohl(1 << 24)) == (256, 1, 1 << 24, 1)
    for bad in ("1.2.3", "::g"):
        with pytest.raises(OSError):
            m.inet_pton(m.AF_INET6 if ":" in bad else m.AF_INET, bad)


def test_create_connection_all_errors(m):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nobody listens
    with pytest.raises(ExceptionGroup) as e:
        m.create_connection(("127.0.0.1", port), timeout=5, all_errors=True)
    assert all(isinstance(x, ConnectionRefusedError) for x in e.value.exceptions)
    with pytest.raises(ConnectionRefusedError):
        m.create_connection(("127.0.0.1", port), timeout=5)


def test_create_server_dualstack(m):
    with m.create_server(("::", 0), family=m.AF_INET6, dualstack_ipv6=True) as srv:
        srv.settimeout(5)
        port = srv.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            conn, addr = srv.accept()
            conn.close()
        assert addr[0] == "::ffff:127.0.0.1"


def test_enums_match_the_stdlib():
    for name in ("AddressFamily", "SocketKind", "MsgFlag", "AddressInfo"):
        ours, theirs = getattr(netlab, name), getattr(socket, name)
        assert [(x.name, x.value) for x in ours] == [(x.name, x.value) for x in theirs]
