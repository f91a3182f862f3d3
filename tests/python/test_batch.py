"""Batch UDP from Python (netlab extras): socket.recvmmsg() and socket.sendmmsg().

Every result is checked against what the per-call methods (or the stdlib's socket) give for the
same datagrams: contents, truncation, sender addresses, order."""
import socket as stdsocket
import threading
import time

import pytest

import netlab
from watchdog import Watchdog

TIMEOUT = 5


def nl_udp(host="127.0.0.1", family=netlab.AF_INET):
    s = netlab.socket(family, netlab.SOCK_DGRAM)
    s.bind((host, 0))
    s.settimeout(TIMEOUT)
    return s


def std_udp(host="127.0.0.1", family=stdsocket.AF_INET):
    s = stdsocket.socket(family, stdsocket.SOCK_DGRAM)
    s.bind((host, 0))
    s.settimeout(TIMEOUT)
    return s


def recv_all(sock, n, bufsize):
    """recvmmsg() until n datagrams came (bounded: each call waits at most TIMEOUT)."""
    got = []
    for _ in range(n):
        if len(got) >= n:
            break
        got += sock.recvmmsg(n - len(got), bufsize)
    assert len(got) == n
    return got


def payloads(n):
    # Lengths 0..n-1 and text that differs per datagram, some of it Chinese.
    return [("第%d个" % i).encode() + bytes(range(i % 50)) for i in range(n)]


def test_recvmmsg_matches_recvfrom_with_truncation_and_senders():
    rx = nl_udp()
    s1, s2 = std_udp(), std_udp()
    data = payloads(40) + [b"x" * 300, b"y" * 100, b"z" * 101]
    # The same datagrams, twice: once received per call, once in batches.
    expected = []
    for i, d in enumerate(data):
        (s1 if i % 3 else s2).sendto(d, rx.getsockname())
    for _ in data:
        expected.append(rx.recvfrom(100))
    for i, d in enumerate(data):
        (s1 if i % 3 else s2).sendto(d, rx.getsockname())
    got = recv_all(rx, len(data), 100)
    assert got == expected
    # And both are right: cut to 100 bytes, from the right sender, in order.
    for i, (d, (g, addr)) in enumerate(zip(data, got)):
        assert g == d[:100]
        assert addr == (s1 if i % 3 else s2).getsockname()
    assert [len(g) for g, _ in got[-3:]] == [100, 100, 100]
    for s in (rx, s1, s2):
        s.close()


def test_recvmmsg_takes_what_is_queued_only():
    rx, tx = nl_udp(), std_udp()
    for i in range(5):
        tx.sendto(b"%d" % i, rx.getsockname())
    # Loopback queues a datagram before sendto() returns: all five are there, no more.
    got = rx.recvmmsg(64, 10)
    assert [d for d, _ in got] == [b"0", b"1", b"2", b"3", b"4"]
    with pytest.raises(BlockingIOError):
        rx.recvmmsg(64, 10, timeout=0)
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        rx.recvmmsg(64, 10, timeout=0.1)
    assert 0.09 <= time.monotonic() - t0 < 2
    assert rx.recvmmsg(0, 10) == []
    with pytest.raises(ValueError):
        rx.recvmmsg(-1, 10)
    with pytest.raises(ValueError):
        rx.recvmmsg(1, -10)
    rx.close()
    tx.close()


def test_sendmmsg_to_several_destinations():
    tx = nl_udp()
    r1, r2 = std_udp(), std_udp()
    items = [(b"a%d" % i, (r1 if i % 2 else r2).getsockname()) for i in range(150)]
    items.append((bytearray("汉字".encode()), r1.getsockname()))
    items.append((memoryview(b"view"), r2.getsockname()))
    assert tx.sendmmsg(items) == len(items)
    for r, want in ((r1, [d for d, a in items if a == r1.getsockname()]),
                    (r2, [d for d, a in items if a == r2.getsockname()])):
        for d in want:
            got, addr = r.recvfrom(100)
            assert got == bytes(d)
            assert addr == tx.getsockname()
    for s in (tx, r1, r2):
        s.close()


def test_sendmmsg_equals_sendto():
    """The receiver sees the same datagrams whether they went per call or in a batch."""
    tx, rx = nl_udp(), std_udp()
    data = payloads(30)
    for d in data:
        tx.sendto(d, rx.getsockname())
    per_call = [rx.recvfrom(100) for _ in data]
    assert tx.sendmmsg([(d, rx.getsockname()) for d in data]) == len(data)
    batched = [rx.recvfrom(100) for _ in data]
    assert batched == per_call
    tx.close()
    rx.close()


def test_sendmmsg_connected_peer_and_empty():
    tx, rx = nl_udp(), nl_udp()
    tx.connect(rx.getsockname())
    assert tx.sendmmsg([(b"one", None), (b"two", None)]) == 2
    assert tx.sendmmsg([]) == 0
    got = recv_all(rx, 2, 10)
    assert got == [(b"one", tx.getsockname()), (b"two", tx.getsockname())]
    tx.close()
    rx.close()


def test_ipv6_addresses():
    rx = nl_udp("::1", netlab.AF_INET6)
    tx = std_udp("::1", stdsocket.AF_INET6)
    for i in range(3):
        tx.sendto(b"%d" % i, rx.getsockname()[:2])
    got = recv_all(rx, 3, 10)
    assert got == [(b"0", tx.getsockname()), (b"1", tx.getsockname()),
                   (b"2", tx.getsockname())]
    assert rx.sendmmsg([(b"back", tx.getsockname())]) == 1
    assert tx.recvfrom(10) == (b"back", rx.getsockname())
    rx.close()
    tx.close()


def test_errors_as_the_stdlib_raises_them():
    s = nl_udp()
    dest = s.getsockname()
    with pytest.raises(TypeError):
        s.sendmmsg([("text", dest)])
    with pytest.raises(OverflowError):
        s.sendmmsg([(b"x", ("127.0.0.1", 70000))])
    with pytest.raises(TypeError):
        s.sendmmsg([(b"x", ("127.0.0.1", 1, 0, 0))])  # an AF_INET6 tuple on AF_INET
    with pytest.raises(TypeError):
        s.sendmmsg([b"no address"])
    with pytest.raises(TypeError):
        s.sendmmsg(42)
    with pytest.raises(netlab.gaierror):
        s.sendmmsg([(b"x", ("999.1.1.1", 9))])
    # A bad destination after good ones: the good ones go, and their number is returned.
    assert s.sendmmsg([(b"ok", dest), (b"x", ("999.1.1.1", 9))]) == 1
    assert s.recvfrom(10) == (b"ok", dest)
    # Not connected and no address: the kernel's "destination address required".
    with pytest.raises(OSError):
        s.sendmmsg([(b"x", None)])
    t = netlab.socket()
    with pytest.raises(OSError):
        t.recvmmsg(1, 10)
    with pytest.raises(OSError):
        t.sendmmsg([(b"x", dest)])
    t.close()
    s.close()
    with pytest.raises(OSError):
        s.recvmmsg(1, 10)
    with pytest.raises(OSError):
        s.sendmmsg([(b"x", dest)])


def test_recvmmsg_keeps_no_large_message_array():
    """The buffers a socket keeps between calls are bounded whatever the count: a call with a
    huge count and bufsize 0 once kept its whole message array (count x 40 bytes) until the
    socket was deallocated."""
    import tracemalloc
    rx, tx = nl_udp(), std_udp()
    try:
        tx.sendto(b"x", rx.getsockname())
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            got = rx.recvmmsg(count=200000, bufsize=0, timeout=TIMEOUT)
            kept = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert len(got) == 1
        assert kept < 1 << 20, kept  # 200,000 messages would be 8 MB
    finally:
        rx.close()
        tx.close()


def test_recvmmsg_arguments_and_kept_buffers():
    """recvmmsg() is the C base class's: arguments by name as before, and the buffers it keeps
    between calls give each call its own datagrams whatever the previous call's count and
    bufsize were (larger, smaller, over the kept size)."""
    rx, tx = nl_udp(), std_udp()
    dest = rx.getsockname()
    try:
        for count, bufsize in ((4, 10), (2, 10), (8, 3), (3, 100), (2, 200000), (4, 10)):
            sent = payloads(count)
            for p in sent:
                tx.sendto(p, dest)
            got = []
            while len(got) < count:
                got += rx.recvmmsg(count=count - len(got), bufsize=bufsize, timeout=TIMEOUT)
            assert got == [(p[:bufsize], tx.getsockname()) for p in sent]
        with pytest.raises(TypeError):
            rx.recvmmsg(1)
        with pytest.raises(TypeError):
            rx.recvmmsg(1, 10, 0.1, 4)
        with pytest.raises(TypeError):
            rx.recvmmsg(1, 10, bufsize=10)
        with pytest.raises(TypeError):
            rx.recvmmsg(1, 10, flags=0)
        with pytest.raises(TypeError):
            rx.recvmmsg(1.0, 10)
        with pytest.raises(TypeError):
            rx.recvmmsg(1, 10, timeout="1")
        with pytest.raises(ValueError):
            rx.recvmmsg(1, 10, timeout=-1)
        with pytest.raises(TimeoutError):
            rx.recvmmsg(1, 10, timeout=0.01)
        with pytest.raises(BlockingIOError):
            rx.recvmmsg(1, 10, timeout=0)
        assert rx.gettimeout() == TIMEOUT  # a call's own time-out leaves the socket's alone
    finally:
        rx.close()
        tx.close()


def test_recvmmsg_own_timeout_leaves_the_socket_alone_meanwhile():
    """recvmmsg(timeout=...) waits under its own time-out without touching the socket's: while
    one thread waits with timeout=None, another still sees the socket's time-out and its
    non-blocking descriptor (the Python method it replaced set the socket's time-out, and the
    descriptor's O_NONBLOCK, for the length of the call)."""
    import fcntl
    import os

    rx, tx = nl_udp(), std_udp()
    rx.settimeout(0)
    got, errors = [], []

    def reader():
        try:
            got.extend(rx.recvmmsg(4, 100, timeout=None))
        except OSError as e:
            errors.append(e)

    t = threading.Thread(target=reader)
    try:
        with Watchdog():
            t.start()
            time.sleep(0.2)  # let it wait in the call
            seen = rx.gettimeout(), fcntl.fcntl(rx.fileno(), fcntl.F_GETFL) & os.O_NONBLOCK
            tx.sendto(b"wake", rx.getsockname())
            t.join(TIMEOUT)
        assert not t.is_alive() and not errors
        assert got == [(b"wake", tx.getsockname())]
        assert seen == (0.0, os.O_NONBLOCK)
    finally:
        rx.close()
        tx.close()
        t.join(TIMEOUT)


def test_recvmmsg_in_two_threads_at_once():
    """Two threads wait in recvmmsg() on one socket: one uses the kept buffers, the other
    buffers of its own; each datagram arrives once, intact."""
    rx, tx = nl_udp(), std_udp()
    results, errors = [[], []], []

    def reader(k):
        try:
            results[k].extend(rx.recvmmsg(1, 100))
        except OSError as e:
            errors.append(e)

    threads = [threading.Thread(target=reader, args=(k,)) for k in (0, 1)]
    try:
        with Watchdog():
            for t in threads:
                t.start()
            time.sleep(0.1)  # both waiting (the outcome is the same if not)
            tx.sendto(b"one", rx.getsockname())
            tx.sendto(b"two", rx.getsockname())
            for t in threads:
                t.join(TIMEOUT)
        assert not errors
        assert sorted(d for r in results for d, _ in r) == [b"one", b"two"]
    finally:
        rx.close()
        tx.close()
        for t in threads:
            t.join(TIMEOUT)


def test_blocking_recvmmsg_releases_the_gil():
    """A thread waits in the C call with no time-out at all (no slices, no return to Python
    until a datagram comes); this thread then needs the GIL to send that datagram. Without the
    GIL released by the wait, that is a deadlock, which the watchdog turns into a failure."""
    rx, tx = nl_udp(), std_udp()
    got = []
    t = threading.Thread(target=lambda: got.extend(netlab._netlab.recvmmsg(rx._h, 8, 10, -1)))
    try:
        with Watchdog():
            t.start()
            tx.sendto(b"wake", rx.getsockname())
            t.join(TIMEOUT)
        assert not t.is_alive()
        assert got == [(b"wake", tx.getsockname())]
    finally:
        rx.close()  # wakes the thread if it is still waiting
        tx.close()
        t.join(TIMEOUT)
