"""Threads: blocking calls release the GIL, so a two-thread chat works as learners write it, and
closing a socket from one thread wakes another blocked in it.

The GIL test has a thread wait in C with no time-out while this one needs the GIL to end the
wait: with -threads taken out of the build it deadlocks and the watchdog fails the run. Every
join is bounded, so a deadlock fails the test instead of hanging it."""
import os
import socket
import threading
import time

import netlab
from watchdog import Watchdog

HELLO = "你好，世界"


def bound_udp():
    s = netlab.socket(type=netlab.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s


def test_main_thread_runs_while_another_waits_in_recvfrom():
    """A thread waits in the C recvfrom with no time-out at all (no 200 ms slices); this thread
    then needs the GIL to send the datagram that ends the wait. Had the wait kept the GIL, that
    is a deadlock, which the watchdog turns into a failure: no timing is measured."""
    s = bound_udp()
    got = []
    t = threading.Thread(target=lambda: got.append(netlab._netlab.recvfrom(s._h, 1024, -1)))
    try:
        with Watchdog(), socket.socket(type=socket.SOCK_DGRAM) as peer:
            t.start()
            peer.sendto(HELLO.encode(), s.getsockname())
            t.join(timeout=10)
        assert not t.is_alive()
        assert got[0][0].decode() == HELLO
    finally:
        s.close()
        t.join(timeout=10)


def test_two_thread_chat():
    """One thread blocked in recvfrom(), the main thread sending, on both ends: the exercise."""
    a, b = bound_udp(), bound_udp()
    received = {"a": [], "b": []}
    complete = {"a": threading.Event(), "b": threading.Event()}
    n = 200

    def listen(sock, name):
        while True:
            try:
                data, addr = sock.recvfrom(1024)
            except OSError:
                return  # closed by the main thread: time to go
            received[name].append(data.decode())
            if len(received[name]) == n:
                complete[name].set()

    threads = [threading.Thread(target=listen, args=(a, "a")),
               threading.Thread(target=listen, args=(b, "b"))]
    for t in threads:
        t.start()
    for i in range(n):
        a.sendto(f"{HELLO} {i}".encode(), b.getsockname())
        b.sendto(f"hello {i}".encode(), a.getsockname())
    assert complete["a"].wait(10) and complete["b"].wait(10)
    a.close()
    b.close()
    for t in threads:
        t.join(timeout=5)
        assert not t.is_alive()
    assert received["b"] == [f"{HELLO} {i}" for i in range(n)]
    assert received["a"] == [f"hello {i}" for i in range(n)]


def close_wakes(call):
    """close() from this thread wakes another blocked in call(s), which gets EBADF."""
    s = bound_udp()
    errors = []
    ready = threading.Event()

    def receiver():
        ready.set()
        try:
            call(s)
        except OSError as e:
            errors.append(e)

    t = threading.Thread(target=receiver)
    t.start()
    assert ready.wait(5)
    time.sleep(0.05)  # let it get into the call; the outcome is the same either way
    s.close()
    t.join(timeout=5)
    assert not t.is_alive()
    assert isinstance(errors[0], OSError) and errors[0].errno == 9


def test_close_wakes_thread_blocked_in_recvfrom():
    close_wakes(lambda s: s.recvfrom(1024))


def test_close_wakes_thread_blocked_in_recvmmsg():
    close_wakes(lambda s: s.recvmmsg(8, 1024))


def test_close_wakes_thread_blocked_in_accept_and_recv():
    lst = netlab.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen()
    c = netlab.socket()
    c.connect(lst.getsockname())
    conn, _ = lst.accept()
    results = {}

    def call(name, fn):
        try:
            results[name] = fn()
        except OSError as e:
            results[name] = e.errno

    threads = [threading.Thread(target=call, args=("accept", lst.accept)),
               threading.Thread(target=call, args=("recv", lambda: conn.recv(10)))]
    for t in threads:
        t.start()
    time.sleep(0.05)
    started = time.monotonic()
    lst.close()
    conn.close()
    for t in threads:
        t.join(timeout=5)
        assert not t.is_alive()
    assert time.monotonic() - started < 2
    assert results == {"accept": 9, "recv": 9}
    c.close()


def test_close_race_stress():
    """Close while another thread is (or is about to be) inside a call, many times: no crash,
    no descriptor left behind."""
    fds = len(os.listdir("/proc/self/fd"))
    for i in range(40):
        if i % 2:
            s = bound_udp()
            call = lambda: s.recvfrom(10)
        else:
            lst = netlab.socket()
            lst.listen()
            s = netlab.socket()
            s.connect(lst.getsockname())
            lst.close()
            call = lambda: s.recv(10)
        s.settimeout(0.5)

        def receiver():
            try:
                call()
            except OSError:
                pass

        t = threading.Thread(target=receiver)
        t.start()
        if i % 4 < 2:
            time.sleep(0.001)
        s.close()
        t.join(timeout=5)
        assert not t.is_alive()
    assert len(os.listdir("/proc/self/fd")) == fds


def test_many_threads_many_sockets():
    errors = []

    def worker(k):
        try:
            a, b = bound_udp(), bound_udp()
            b.settimeout(5)
            for i in range(500):
                a.sendto(b"%d:%d" % (k, i), b.getsockname())
                assert b.recv(64) == b"%d:%d" % (k, i)
            a.close()
            b.close()
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
        assert not t.is_alive()
    assert errors == []
