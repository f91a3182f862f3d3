"""Behaviour next to the standard library: each case runs once with `socket` and once with
`netlab` (as `m`) and must give the same result, or raise the same exception class with the
same errno.

Peers are always standard-library sockets, so only the module under test changes. Results
are reduced to what must match (data, address shapes, flags), never to port numbers, which
differ from run to run.
"""
import errno
import select
import socket
import threading

import pytest

import netlab

MODULES = {"stdlib": socket, "netlab": netlab}
HELLO = "你好，世界".encode()


# ---- helpers ----------------------------------------------------------------------------------

def udp_peer():
    """A stdlib UDP socket bound to a free loopback port."""
    s = socket.socket(type=socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(5)
    return s


def dead_port():
    """A loopback TCP port nobody listens on: bound by a stdlib socket that is then closed."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Listener:
    """A stdlib TCP listener whose accepted connection is available as .conn."""

    def __init__(self, family=socket.AF_INET, host="127.0.0.1"):
        self.sock = socket.socket(family)
        self.sock.bind((host, 0))
        self.sock.listen()
        self.sock.settimeout(5)
        self.addr = self.sock.getsockname()
        self.conn = None

    def accept(self):
        self.conn, _ = self.sock.accept()
        self.conn.settimeout(5)
        return self.conn

    def close(self):
        if self.conn is not None:
            self.conn.close()
        self.sock.close()


def _connected_pair(m):
    """(m's TCP client, stdlib listener with .conn accepted)."""
    lst = Listener()
    c = m.socket()
    c.settimeout(5)
    c.connect(lst.addr)
    lst.accept()
    return c, lst


def shape(addr):
    """An address with the port replaced by its type, so that runs compare equal."""
    if addr is None:
        return None
    return (addr[0], type(addr[1]).__name__) + tuple(addr[2:])


# ---- the cases: each takes the module under test and returns a comparable result ---------------

def udp_round_trip(m):
    with m.socket(type=m.SOCK_DGRAM) as s, udp_peer() as peer:
        s.bind(("127.0.0.1", 0))
        s.settimeout(5)
        peer.sendto(HELLO, s.getsockname())
        data, addr = s.recvfrom(1024)
        n = s.sendto(b"back", addr)
        back, from_ = peer.recvfrom(1024)
        return data, addr == peer.getsockname(), n, back, from_ == s.getsockname()


def udp_truncated_datagram(m):
    with m.socket(type=m.SOCK_DGRAM) as s, udp_peer() as peer:
        s.bind(("127.0.0.1", 0))
        s.settimeout(5)
        peer.sendto(b"x" * 100, s.getsockname())
        peer.sendto(b"next", s.getsockname())
        return s.recvfrom(10)[0], s.recvfrom(10)[0]


def udp_empty_datagram(m):
    with m.socket(type=m.SOCK_DGRAM) as s, udp_peer() as peer:
        s.bind(("127.0.0.1", 0))
        s.settimeout(5)
        peer.sendto(b"", s.getsockname())
        return s.recvfrom(1024)[0]


def udp_recv_into(m):
    with m.socket(type=m.SOCK_DGRAM) as s, udp_peer() as peer:
        s.bind(("127.0.0.1", 0))
        s.settimeout(5)
        peer.sendto(b"abcdef", s.getsockname())
        peer.sendto(b"ghi", s.getsockname())
        buf = bytearray(8)
        n = s.recv_into(buf, 4)
        n2, addr = s.recvfrom_into(memoryview(buf)[4:])
        return n, n2, bytes(buf), addr == peer.getsockname()


def udp_recvfrom_timeout(m):
    with m.socket(type=m.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(0.05)
        s.recvfrom(1024)


def udp_recvfrom_nonblocking(m):
    with m.socket(type=m.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(0)
        s.recvfrom(1024)


def udp_setblocking_false(m):
    with m.socket(type=m.SOCK_DGRAM) as s:
        s.setblocking(False)
        s.recv(10)


def udp_connected_refused(m):
    with m.socket(type=m.SOCK_DGRAM) as s:
        s.connect(("127.0.0.1", dead_port()))
        s.settimeout(2)
        s.send(b"anyone?")
        s.recv(10)


def udp_send_unconnected(m):
    with m.socket(type=m.SOCK_DGRAM) as s:
        s.send(b"nowhere")


def udp_recvfrom_after_shutdown_rd(m):
    with m.socket(type=m.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        try:
            s.shutdown(m.SHUT_RD)
        except OSError as e:  # ENOTCONN, yet the kernel did shut it down
            err = e.errno
        return err, s.recvfrom(10)


def udp_listen(m):
    with m.socket(type=m.SOCK_DGRAM) as s:
        s.listen()


def udp_getsockname_unbound(m):
    with m.socket(type=m.SOCK_DGRAM) as s:
        return s.getsockname()


def udp_select_readable(m):
    with m.socket(type=m.SOCK_DGRAM) as s, udp_peer() as peer:
        s.bind(("127.0.0.1", 0))
        before = select.select([s], [], [], 0)[0]
        peer.sendto(b"x", s.getsockname())
        after = select.select([s.fileno()], [], [], 5)[0]
        return len(before), len(after)


def timeouts_semantics(m):
    with m.socket() as s:
        out = [s.gettimeout(), s.getblocking()]
        s.settimeout(0)
        out += [s.gettimeout(), s.getblocking()]
        s.settimeout(1.5)
        out += [s.gettimeout(), s.getblocking()]
        s.settimeout(None)
        out += [s.gettimeout(), s.getblocking()]
        s.setblocking(False)
        out += [s.gettimeout()]
        s.setblocking(True)
        out += [s.gettimeout()]
        return out


def settimeout_negative(m):
    with m.socket() as s:
        s.settimeout(-1)


def settimeout_str(m):
    with m.socket() as s:
        s.settimeout("1")


def tcp_round_trip(m):
    c, lst = _connected_pair(m)
    with c:
        c.sendall(HELLO)
        got = lst.conn.recv(1024)
        lst.conn.sendall(b"reply")
        reply = c.recv(1024)
        lst.close()
        return got, reply, c.recv(1024)  # b'' once the peer closed


def tcp_recv_after_peer_reset(m):
    import struct
    c, lst = _connected_pair(m)
    with c:
        # SO_LINGER with a zero time-out makes close() send RST instead of FIN.
        lst.conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        lst.close()
        c.recv(10)


def tcp_send_after_peer_reset(m):
    import struct
    c, lst = _connected_pair(m)
    with c:
        lst.conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        lst.close()
        select.select([c], [], [], 5)  # the RST has arrived once c is readable
        for _ in range(3):
            c.send(b"anyone there?")


def tcp_selectors_readable(m):
    import selectors
    c, lst = _connected_pair(m)
    with c, selectors.DefaultSelector() as sel:
        sel.register(c, selectors.EVENT_READ, "conn")
        before = sel.select(0)
        lst.conn.sendall(b"ping")
        after = [(key.data, events) for key, events in sel.select(5)]
        lst.close()
        return before, after, c.recv(10)


def ipv6_listener_accepts_ipv4_client(m):
    with m.socket(m.AF_INET6) as s:
        s.bind(("::", 0))
        s.listen()
        s.settimeout(5)
        with socket.create_connection(("127.0.0.1", s.getsockname()[1]), timeout=5) as c:
            conn, addr = s.accept()
            with conn:
                return shape(addr), addr[1] == c.getsockname()[1], shape(conn.getsockname())


def create_connection_helper(m):
    lst = Listener()
    with m.create_connection(lst.addr, timeout=5) as c:
        lst.accept()
        c.sendall(b"hi")
        got = lst.conn.recv(10)
        out = (got, c.gettimeout(), int(c.family), int(c.type))
    lst.close()
    return out


def tcp_recvfrom_gives_none_address(m):
    c, lst = _connected_pair(m)
    with c:
        lst.conn.sendall(b"x")
        data, addr = c.recvfrom(10)
        lst.close()
        return data, addr


def tcp_recv_zero_and_negative(m):
    c, lst = _connected_pair(m)
    with c:
        out = [c.recv(0)]
        try:
            c.recv(-1)
        except ValueError as e:
            out.append(str(e))
        lst.close()
        return out


def tcp_recv_timeout(m):
    c, lst = _connected_pair(m)
    try:
        c.settimeout(0.05)
        c.recv(10)
    finally:
        c.close()
        lst.close()


def tcp_shutdown_write(m):
    c, lst = _connected_pair(m)
    with c:
        c.sendall(b"last words")
        c.shutdown(m.SHUT_WR)
        data = b""
        while True:
            chunk = lst.conn.recv(1024)
            if not chunk:
                break
            data += chunk
        lst.close()
        return data


def tcp_connect_refused(m):
    with m.socket() as s:
        s.settimeout(5)
        s.connect(("127.0.0.1", dead_port()))


def tcp_connect_refused_blocking(m):
    with m.socket() as s:
        s.connect(("127.0.0.1", dead_port()))


def tcp_connect_ex_refused(m):
    with m.socket() as s:
        return s.connect_ex(("127.0.0.1", dead_port()))


def tcp_connect_ex_ok(m):
    lst = Listener()
    with m.socket() as s:
        rc = s.connect_ex(lst.addr)
        lst.close()
        return rc


def tcp_connect_timeout(m):
    # A listener whose accept queue is full drops further SYNs: connecting times out.
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(0)
    fillers = []
    try:
        for _ in range(2):
            f = socket.socket()
            f.setblocking(False)
            f.connect_ex(lst.getsockname())
            fillers.append(f)
        with m.socket() as s:
            s.settimeout(0.3)
            s.connect(lst.getsockname())
            s.connect(lst.getsockname())  # reached only if the queue had room
    finally:
        for f in fillers:
            f.close()
        lst.close()


def tcp_accept_timeout(m):
    with m.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        s.settimeout(0.05)
        s.accept()


def tcp_accept(m):
    with m.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        s.settimeout(5)
        with socket.create_connection(s.getsockname(), timeout=5) as c:
            conn, addr = s.accept()
            with conn:
                c.sendall(HELLO)
                return (conn.recv(1024), addr == c.getsockname(),
                        conn.getpeername() == c.getsockname(), conn.gettimeout(),
                        conn.family == m.AF_INET, conn.type == m.SOCK_STREAM)


def tcp_sendall_4mib(m):
    payload = bytes(range(256)) * (4 * 1024 * 4)  # 4 MiB
    c, lst = _connected_pair(m)
    got = []

    def reader():
        while True:
            chunk = lst.conn.recv(1 << 16)
            if not chunk:
                return
            got.append(chunk)

    t = threading.Thread(target=reader)
    t.start()
    with c:
        c.settimeout(30)
        result = c.sendall(payload)
    t.join(timeout=30)
    lst.close()
    return result, not t.is_alive(), b"".join(got) == payload


def tcp_sendall_timeout(m):
    c, lst = _connected_pair(m)  # nobody reads: the buffers fill up
    try:
        c.settimeout(0.2)
        c.sendall(b"x" * (64 << 20))
    finally:
        c.close()
        lst.close()


def tcp_send_str(m):
    c, lst = _connected_pair(m)
    try:
        c.send("text")
    finally:
        c.close()
        lst.close()


def tcp_sendall_str(m):
    c, lst = _connected_pair(m)
    try:
        c.sendall("text")
    finally:
        c.close()
        lst.close()


def udp_sendto_str(m):
    with m.socket(type=m.SOCK_DGRAM) as s:
        s.sendto("text", ("127.0.0.1", 9))


def send_bytes_like(m):
    import array
    c, lst = _connected_pair(m)
    with c:
        n = [c.send(bytearray(b"ab")), c.send(memoryview(b"cd")), c.send(array.array("B", b"ef"))]
        got = b""
        while len(got) < 6:
            got += lst.conn.recv(10)
        lst.close()
        return n, got


def tcp_send_unconnected(m):
    with m.socket() as s:
        s.send(b"x")


def tcp_recv_unconnected(m):
    with m.socket() as s:
        s.recv(1)


def tcp_getpeername_unconnected(m):
    with m.socket() as s:
        s.getpeername()


def tcp_recv_on_listener(m):
    with m.socket() as s:
        s.listen()
        s.recv(1)


def shapes_ipv4(m):
    c, lst = _connected_pair(m)
    with c:
        out = (shape(c.getsockname()), shape(c.getpeername()))
        lst.close()
        return out


def shapes_ipv6(m):
    lst = Listener(socket.AF_INET6, "::1")
    with m.socket(m.AF_INET6) as c:
        unbound = c.getsockname()
        c.settimeout(5)
        c.connect(lst.addr)
        out = (unbound, shape(c.getsockname()), shape(c.getpeername()))
    lst.close()
    return out


def ipv4_peer_on_ipv6_socket(m):
    with m.socket(m.AF_INET6, m.SOCK_DGRAM) as s, udp_peer() as peer:
        s.bind(("::", 0))
        s.settimeout(5)
        peer.sendto(b"v4", ("127.0.0.1", s.getsockname()[1]))
        data, addr = s.recvfrom(10)
        return data, shape(addr), addr[1] == peer.getsockname()[1]


def ipv4_address_on_ipv6_socket(m):
    with m.socket(m.AF_INET6, m.SOCK_DGRAM) as s:
        s.sendto(b"x", ("127.0.0.1", 9))


def ipv6_address_on_ipv4_socket(m):
    with m.socket(type=m.SOCK_DGRAM) as s:
        s.sendto(b"x", ("::1", 9))


def bad_numeric_address(m):
    with m.socket() as s:
        s.bind(("999.1.1.1", 0))


def port_70000_bind(m):
    with m.socket() as s:
        s.bind(("127.0.0.1", 70000))


def port_70000_connect(m):
    with m.socket() as s:
        s.connect(("127.0.0.1", 70000))


def port_70000_sendto(m):
    with m.socket(type=m.SOCK_DGRAM) as s:
        s.sendto(b"x", ("127.0.0.1", 70000))


def port_minus_one(m):
    with m.socket(type=m.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", -1))


def port_str(m):
    with m.socket() as s:
        s.bind(("127.0.0.1", "80"))


def address_not_tuple(m):
    with m.socket() as s:
        s.bind("127.0.0.1:80")


def address_wrong_length(m):
    with m.socket() as s:
        s.bind(("127.0.0.1",))


def host_not_str(m):
    with m.socket() as s:
        s.bind((127, 80))


def host_bytes(m):
    with m.socket(type=m.SOCK_DGRAM) as s:
        s.bind((b"127.0.0.1", 0))
        return s.getsockname()[0]


def empty_host_is_any(m):
    with m.socket(type=m.SOCK_DGRAM) as s:
        s.bind(("", 0))
        return s.getsockname()[0]


def localhost_name(m):
    with m.socket(type=m.SOCK_DGRAM) as s:
        s.bind(("localhost", 0))
        return s.getsockname()[0]


def bind_twice(m):
    with m.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.bind(("127.0.0.1", 0))


def bind_in_use(m):
    lst = Listener()
    try:
        with m.socket() as s:
            s.bind(lst.addr)
    finally:
        lst.close()


def reuseaddr_option(m):
    with m.socket() as s:
        before = s.getsockopt(m.SOL_SOCKET, m.SO_REUSEADDR)
        s.setsockopt(m.SOL_SOCKET, m.SO_REUSEADDR, 1)
        return before, s.getsockopt(m.SOL_SOCKET, m.SO_REUSEADDR) != 0


def sockopt_misc(m):
    import struct
    with m.socket(type=m.SOCK_DGRAM) as s:
        s.setsockopt(m.SOL_SOCKET, m.SO_LINGER, struct.pack("ii", 1, 0))
        linger = struct.unpack("ii", s.getsockopt(m.SOL_SOCKET, m.SO_LINGER, 8))
        return (s.getsockopt(m.SOL_SOCKET, m.SO_TYPE), s.getsockopt(m.SOL_SOCKET, m.SO_ERROR),
                linger)


def sockopt_bad(m):
    with m.socket() as s:
        s.setsockopt(m.SOL_SOCKET, 12345, 1)


def closed_recv(m):
    s = m.socket(type=m.SOCK_DGRAM)
    s.close()
    s.recv(1)


def closed_sendto(m):
    s = m.socket(type=m.SOCK_DGRAM)
    s.close()
    s.sendto(b"x", ("127.0.0.1", 9))


def closed_getsockname(m):
    s = m.socket()
    s.close()
    s.getsockname()


def closed_state(m):
    s = m.socket()
    s.close()
    return s.fileno(), s.close(), s.close(), "[closed]" in repr(s)


def with_statement_closes(m):
    with m.socket() as s:
        inside = s.fileno() >= 0
    return inside, s.fileno()


def attributes(m):
    with m.socket(m.AF_INET6, m.SOCK_DGRAM) as s:
        return (int(s.family), int(s.type), s.proto, s.family == m.AF_INET6,
                s.type == m.SOCK_DGRAM, str(s.family), repr(s).split(" fd=")[0].split(".")[-1])


def bad_family(m):
    m.socket(999)


def module_surface(m):
    return (m.timeout is TimeoutError, m.error is OSError, issubclass(m.gaierror, OSError),
            issubclass(m.herror, OSError), m.SHUT_RD, m.SHUT_WR, m.SHUT_RDWR, int(m.AF_INET),
            int(m.AF_INET6), int(m.SOCK_STREAM), int(m.SOCK_DGRAM), m.SOL_SOCKET,
            m.SO_REUSEADDR, m.IPPROTO_TCP, m.TCP_NODELAY, m.getdefaulttimeout())


def double_close_with_peer(m):
    c, lst = _connected_pair(m)
    c.close()
    c.close()
    got = lst.conn.recv(10)
    lst.close()
    return got


CASES = [v for k, v in sorted(globals().items())
         if callable(v) and hasattr(v, "__code__") and v.__module__ == __name__
         and not k.startswith("_")
         and v.__code__.co_varnames[:1] == ("m",)]


def outcome(case, m):
    """('ok', value) or ('raise', class name, errno)."""
    try:
        return ("ok", case(m))
    except Exception as e:  # the comparison is the test
        name = type(e).__name__
        # TimeoutError: the stdlib raises it without errno for its own time-outs; netlab sets
        # ETIMEDOUT. Compare the class only (documented difference).
        err = None if isinstance(e, TimeoutError) else getattr(e, "errno", None)
        return ("raise", name, err)


@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
def test_same_as_stdlib(case):
    expected = outcome(case, socket)
    got = outcome(case, netlab)
    assert got == expected


def test_cases_exist():
    # A guard against the collection above silently finding nothing.
    assert len(CASES) > 60


def test_exception_details():
    """Beyond the class: errno and strerror set, messages as the stdlib's where it matters."""
    with netlab.socket() as s:
        with pytest.raises(ConnectionRefusedError) as e:
            s.connect(("127.0.0.1", dead_port()))
        assert e.value.errno == errno.ECONNREFUSED
        assert e.value.strerror == "Connection refused"
    with netlab.socket(type=netlab.SOCK_DGRAM) as s:
        s.settimeout(0.01)
        with pytest.raises(netlab.timeout) as e:
            s.recv(1)
        assert e.value.errno == errno.ETIMEDOUT and e.value.strerror == "timed out"
        s.settimeout(0)
        with pytest.raises(BlockingIOError) as e:
            s.recv(1)
        assert e.value.errno == errno.EAGAIN
        with pytest.raises(OverflowError, match=r"^sendto\(\): port must be 0-65535\.$"):
            s.sendto(b"x", ("127.0.0.1", 70000))
        with pytest.raises(TypeError, match="a bytes-like object is required, not 'str'"):
            s.sendto("x", ("127.0.0.1", 9))
        with pytest.raises(netlab.gaierror) as e:
            s.sendto(b"x", ("no-such-host.invalid", 9))
        assert e.value.errno in (socket.EAI_NONAME, socket.EAI_AGAIN)
        s.close()
        with pytest.raises(OSError) as e:
            s.recv(1)
        assert e.value.errno == errno.EBADF and e.value.strerror == "Bad file descriptor"
