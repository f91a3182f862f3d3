"""No leaks in batch UDP: many recvmmsg()/sendmmsg() calls with flat RSS and flat tracemalloc
figures, and reference counts of what they take and return as they should be (as
test_leaks.py does for the per-call methods)."""
import sys

import netlab
from test_leaks import measure

BATCH = 16


def test_batch_send_receive_20k_calls():
    a = netlab.socket(type=netlab.SOCK_DGRAM)
    b = netlab.socket(type=netlab.SOCK_DGRAM)
    a.bind(("127.0.0.1", 0))
    b.bind(("127.0.0.1", 0))
    a.settimeout(5)
    b.settimeout(5)
    items = [("第%d" % i).encode() * 4 for i in range(BATCH)]
    out = [(d, b.getsockname()) for d in items]
    src = a.getsockname()

    def step():
        assert a.sendmmsg(out) == BATCH
        n = 0
        while n < BATCH:
            got = b.recvmmsg(BATCH, 64)
            assert got[0][1] == src
            n += len(got)
        assert n == BATCH

    grew, traced = measure(step, 10_000)  # two calls or more per step
    a.close()
    b.close()
    assert grew < 1 << 20, f"RSS grew by {grew} bytes"
    assert traced < 64 << 10, f"traced Python memory grew by {traced} bytes"


def test_batch_error_paths_do_not_leak():
    s = netlab.socket(type=netlab.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    dest = s.getsockname()

    def step():
        try:
            s.recvmmsg(8, 100, timeout=0)
        except BlockingIOError:
            pass
        try:
            s.sendmmsg([(b"x", dest), (b"y", ("127.0.0.1", 70000))])
        except OverflowError:
            pass
        try:
            s.sendmmsg([(b"x", dest), ("str", dest)])
        except TypeError:
            pass

    grew, traced = measure(step, 20_000)
    s.close()
    assert grew < 1 << 20, f"RSS grew by {grew} bytes"
    assert traced < 64 << 10, f"traced Python memory grew by {traced} bytes"


def test_batch_reference_counts():
    a = netlab.socket(type=netlab.SOCK_DGRAM)
    b = netlab.socket(type=netlab.SOCK_DGRAM)
    a.bind(("127.0.0.1", 0))
    b.bind(("127.0.0.1", 0))
    a.settimeout(5)
    b.settimeout(5)
    buf = bytearray(b"resizable")
    host = "127.0.0." + "1"  # a str of its own, not interned
    addr = (host, b.getsockname()[1])
    before = sys.getrefcount(buf), sys.getrefcount(host), sys.getrefcount(addr)
    items = [(buf, addr), (buf, addr)]
    assert a.sendmmsg(items) == 2
    del items
    assert (sys.getrefcount(buf), sys.getrefcount(host), sys.getrefcount(addr)) == before
    buf.extend(b"!")  # the buffer export was released, so it can be resized
    got = []
    while len(got) < 2:
        got += b.recvmmsg(4, 64)
    assert sys.getrefcount(got) == 2
    data0, addr0 = got[0]
    # got's tuple, our name (and getrefcount's argument).
    assert sys.getrefcount(data0) == 3
    # The two datagrams share one address tuple: two items, the receiving socket's kept last
    # sender (given again by the next call while the sender is the same), our name, the
    # argument; the socket's reference goes with the socket.
    assert got[0][1] is got[1][1]
    assert sys.getrefcount(addr0) == 5
    a.close()
    b.close()
    del b
    assert sys.getrefcount(addr0) == 4
