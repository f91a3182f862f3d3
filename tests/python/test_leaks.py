"""No leaks: 100,000 send/receive calls with flat RSS and flat tracemalloc figures, descriptors
given back, reference counts of what the module returns and takes exactly as they should be.

RSS is read from /proc/self/statm. Each loop first warms up (allocator pools, caches), then
measures; the limits are far below what one leaked object per call would cost (100,000 calls x
at least 32 bytes = 3.2 MB)."""
import gc
import os
import sys
import tracemalloc

import pytest

import netlab

CALLS = 100_000
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def open_fds():
    return len(os.listdir("/proc/self/fd"))


def udp_pair():
    a = netlab.socket(type=netlab.SOCK_DGRAM)
    b = netlab.socket(type=netlab.SOCK_DGRAM)
    a.bind(("127.0.0.1", 0))
    b.bind(("127.0.0.1", 0))
    a.settimeout(5)
    b.settimeout(5)
    return a, b


def tcp_pair():
    lst = netlab.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen()
    c = netlab.socket()
    c.connect(lst.getsockname())
    conn, _ = lst.accept()
    lst.close()
    c.settimeout(5)
    conn.settimeout(5)
    return c, conn


def measure(step, calls):
    """Run step() calls times after a warm-up; return (RSS growth, traced growth) in bytes."""
    for _ in range(calls // 10):
        step()
    gc.collect()
    tracemalloc.start()
    traced0 = tracemalloc.get_traced_memory()[0]
    rss0 = rss()
    for _ in range(calls):
        step()
    gc.collect()
    traced1 = tracemalloc.get_traced_memory()[0]
    rss1 = rss()
    tracemalloc.stop()
    return rss1 - rss0, traced1 - traced0


def test_udp_sendto_recvfrom_100k():
    a, b = udp_pair()
    dest = b.getsockname()
    payload = "你好，世界".encode()

    def step():
        a.sendto(payload, dest)
        data, addr = b.recvfrom(1024)
        assert data == payload

    grew, traced = measure(step, CALLS // 2)  # two calls per step
    a.close()
    b.close()
    assert grew < 1 << 20, f"RSS grew by {grew} bytes"
    assert traced < 64 << 10, f"traced Python memory grew by {traced} bytes"


def test_tcp_send_recv_100k():
    c, conn = tcp_pair()
    payload = b"x" * 100
    buf = bytearray(100)

    def step():
        c.sendall(payload)
        n = 0
        while n < 100:
            n += conn.recv_into(memoryview(buf)[n:])
        c.send(payload)
        got = b""
        while len(got) < 100:
            got += conn.recv(100 - len(got))

    grew, traced = measure(step, CALLS // 4)  # four or more calls per step
    c.close()
    conn.close()
    assert grew < 1 << 20, f"RSS grew by {grew} bytes"
    assert traced < 64 << 10, f"traced Python memory grew by {traced} bytes"


def test_error_paths_do_not_leak():
    a, b = udp_pair()
    b.settimeout(0)

    def step():
        try:
            b.recvfrom(10)
        except BlockingIOError:
            pass
        try:
            a.sendto(b"x", ("127.0.0.1", 70000))
        except OverflowError:
            pass

    grew, traced = measure(step, 20_000)
    a.close()
    b.close()
    assert grew < 1 << 20, f"RSS grew by {grew} bytes"
    assert traced < 64 << 10, f"traced Python memory grew by {traced} bytes"


def test_sockets_and_descriptors_are_given_back():
    fds = open_fds()

    def step():
        with netlab.socket() as lst:
            lst.bind(("127.0.0.1", 0))
            lst.listen()
            c = netlab.socket()
            c.connect(lst.getsockname())
            conn, _ = lst.accept()
            conn.close()
            c.close()
        s = netlab.socket(type=netlab.SOCK_DGRAM)
        s.close()
        s.close()

    grew, traced = measure(step, 3000)
    assert open_fds() == fds
    assert grew < 1 << 20, f"RSS grew by {grew} bytes"
    assert traced < 64 << 10, f"traced Python memory grew by {traced} bytes"


def test_garbage_collected_socket_closes_its_descriptor():
    s = netlab.socket()
    fd = s.fileno()
    os.fstat(fd)
    with pytest.warns(ResourceWarning):
        del s
        gc.collect()
    with pytest.raises(OSError):
        os.fstat(fd)


def test_reference_counts():
    a, b = udp_pair()
    payload = bytearray(b"refcount")
    before = sys.getrefcount(payload)
    a.sendto(payload, b.getsockname())
    assert sys.getrefcount(payload) == before  # the buffer was released...
    payload.extend(b"!")                       # ...so it can be resized again
    data, addr = b.recvfrom(1024)
    # Only our variable (and getrefcount's argument) refer to what recvfrom returned, and the
    # socket keeps the last sender's address tuple to give it again (issue 12).
    assert sys.getrefcount(data) == 2
    assert sys.getrefcount(addr) == 3
    a.sendto(b"other", ("127.0.0.1", b.getsockname()[1]))  # a different tuple, the same value
    assert b.recvfrom(1024) == (b"other", addr)
    assert sys.getrefcount(addr) == 3  # given again, not copied
    assert sys.getrefcount(addr[0]) == 2 or addr[0] == "127.0.0.1"  # str may be interned
    buf = bytearray(16)
    before = sys.getrefcount(buf)
    a.sendto(b"into", b.getsockname())
    assert b.recv_into(buf) == 4
    assert sys.getrefcount(buf) == before
    buf.extend(b"resizable: no export left")
    c, conn = tcp_pair()
    handle = c._h
    assert sys.getrefcount(handle) == 3  # c._h, our variable, the argument
    c.close()
    assert sys.getrefcount(handle) == 3
    del handle
    conn.close()
    a.close()
    b.close()
    del b
    assert sys.getrefcount(addr) == 2  # the socket is gone, and its reference with it
