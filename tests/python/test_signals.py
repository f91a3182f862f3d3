"""Signals during blocking calls (issue 12): Ctrl-C interrupts every blocking call with
KeyboardInterrupt, and a handler that does not raise lets the call go on (PEP 475).

A blocking call waits in the kernel in one system call; the library hands the interruption
back (NL_EINTR) and the binding runs the handlers. Each test first waits until the main thread
is really blocked in a system call (read from /proc/self/task/<tid>/syscall, not guessed with a
sleep), then signals it; the signal is sent again every 50 ms while the call has not ended, so
a signal that came just before the call blocked cannot hang the test. Every wait is bounded;
nothing is timed."""
import os
import platform
import signal
import socket
import threading
import time

import pytest

import netlab
from test_leaks import tcp_pair  # connected, each with a 5 s time-out the tests replace

MAIN = threading.main_thread()
LIMIT_S = 10


def blocked_in_syscall(tid):
    """The system call thread tid sleeps in (its number, as text), or None when it runs or
    waits for a futex (the GIL's)."""
    try:
        with open(f"/proc/self/task/{tid}/syscall") as f:
            first = f.read().split()[0]
    except OSError:
        return None
    return None if first in ("running", SYS["futex"]) else first


# System call numbers, for the calls these tests wait in.
SYS = ({"futex": "98", "recvfrom": "207", "accept4": "242", "ppoll": "73", "recvmmsg": "243"}
       if platform.machine() in ("aarch64", "arm64") else
       {"futex": "202", "recvfrom": "45", "accept4": "288", "poll": "7", "recvmmsg": "299"})


class Signaller:
    """From a helper thread: wait until the main thread blocks in a system call, then send it
    signum, again and again (bounded) until stop()."""

    def __init__(self, signum, after=None):
        self.signum = signum
        self.after = after  # called once the first signal went, e.g. to end the wait
        self.sent = 0
        self.done = threading.Event()
        self.saw_block = None  # the system call the main thread was seen blocked in
        self.t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        end = time.monotonic() + LIMIT_S
        while not self.done.is_set() and time.monotonic() < end:
            self.saw_block = blocked_in_syscall(MAIN.native_id)
            if self.saw_block is not None:
                break
            time.sleep(0.005)
        while not self.done.is_set() and time.monotonic() < end:
            signal.pthread_kill(MAIN.ident, self.signum)
            self.sent += 1
            if self.sent == 3 and self.after is not None:
                self.after()
            self.done.wait(0.05)

    def __enter__(self):
        self.t.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.t.join(LIMIT_S)
        assert not self.t.is_alive()


def udp_bound():
    s = netlab.socket(type=netlab.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s


@pytest.fixture(params=[None, 30.0], ids=["blocking", "timeout"])
def timeout(request):
    return request.param


def interrupted(call, waits_in=None):
    """call() must end with KeyboardInterrupt from SIGINT sent while it is blocked; waits_in
    names the one system call it must be blocked in (a blocking call waits in the kernel in
    that call itself, not in poll())."""
    fired = []

    def once(signum, frame):
        # As Python's own SIGINT handler, but only once: a repeat that comes while the test
        # is already leaving the call must not end the test session.
        if not fired:
            fired.append(signum)
            raise KeyboardInterrupt

    old = signal.signal(signal.SIGINT, once)
    try:
        with Signaller(signal.SIGINT) as sig:
            with pytest.raises(KeyboardInterrupt):
                call()
    finally:
        signal.signal(signal.SIGINT, old)
    assert sig.saw_block is not None, "the call never blocked in a system call"
    if waits_in is not None and waits_in in SYS:
        assert sig.saw_block == SYS[waits_in], f"waited in syscall {sig.saw_block}, not {waits_in}"


def test_sigint_interrupts_recv(timeout):
    c, s = tcp_pair()
    with c, s:
        s.settimeout(timeout)
        interrupted(lambda: s.recv(100), "recvfrom" if timeout is None else None)


def test_sigint_interrupts_recvfrom(timeout):
    with udp_bound() as s:
        s.settimeout(timeout)
        blocking = "recvfrom" if timeout is None else None
        interrupted(lambda: s.recvfrom(100), blocking)
        interrupted(lambda: s.recvfrom_into(bytearray(10)), blocking)


def test_sigint_interrupts_recvmmsg(timeout):
    """The batch receive (C, like recvfrom) waits in recvmmsg itself when the socket blocks;
    a call's own time-out on a non-blocking socket (whose descriptor stays non-blocking) waits
    in poll. Ctrl-C ends both."""
    with udp_bound() as s:
        s.settimeout(timeout)
        interrupted(lambda: s.recvmmsg(8, 100), "recvmmsg" if timeout is None else None)
        s.settimeout(0)
        interrupted(lambda: s.recvmmsg(8, 100, timeout=timeout))


def test_sigint_interrupts_accept(timeout):
    with netlab.socket() as lst:
        lst.bind(("127.0.0.1", 0))
        lst.listen()
        lst.settimeout(timeout)
        interrupted(lst.accept, "accept4" if timeout is None else "poll")


def test_sigint_interrupts_sendall(timeout):
    c, s = tcp_pair()
    with c, s:
        c.settimeout(timeout)
        # Nobody reads s: the buffers fill and sendall() blocks.
        interrupted(lambda: c.sendall(b"x" * (64 << 20)))


def test_sigint_interrupts_connect(timeout):
    """A handshake that cannot finish: the listener's accept queue is full, so the kernel drops
    the SYN and connect() waits."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(0)
    fillers = []
    try:
        for _ in range(8):
            f = socket.socket()
            f.setblocking(False)
            f.connect_ex(lst.getsockname())
            fillers.append(f)
        time.sleep(0.2)  # let the handshakes that can complete complete
        with netlab.socket() as c:
            c.settimeout(timeout)
            interrupted(lambda: c.connect(lst.getsockname()))
    finally:
        for f in fillers:
            f.close()
        lst.close()


def test_handler_that_does_not_raise_lets_recvfrom_go_on(timeout):
    """PEP 475: the handler runs (several times) and recvfrom() then gets the datagram."""
    calls = []
    old = signal.signal(signal.SIGUSR1, lambda *a: calls.append(a[0]))
    peer = socket.socket(type=socket.SOCK_DGRAM)
    try:
        with udp_bound() as s:
            s.settimeout(timeout)
            send = lambda: peer.sendto(b"after the signals", s.getsockname())  # noqa: E731
            with Signaller(signal.SIGUSR1, after=send) as sig:
                data, addr = s.recvfrom(100)
            assert sig.saw_block is not None
            assert data == b"after the signals"
            assert addr[1] == peer.getsockname()[1]
            assert len(calls) >= 3
    finally:
        signal.signal(signal.SIGUSR1, old)
        peer.close()


def test_handler_that_does_not_raise_lets_accept_and_recv_go_on():
    calls = []
    old = signal.signal(signal.SIGUSR1, lambda *a: calls.append(a[0]))
    try:
        with netlab.socket() as lst:
            lst.bind(("127.0.0.1", 0))
            lst.listen()
            peer = socket.socket()
            with Signaller(signal.SIGUSR1, after=lambda: peer.connect(lst.getsockname())):
                conn, _ = lst.accept()
            with conn, peer:
                with Signaller(signal.SIGUSR1, after=lambda: peer.sendall(b"hi")):
                    assert conn.recv(10) == b"hi"
        assert len(calls) >= 6
    finally:
        signal.signal(signal.SIGUSR1, old)


def test_timeout_still_ends_the_call_under_signals():
    """Signals that keep coming do not restart the time-out: the call still times out."""
    old = signal.signal(signal.SIGUSR1, lambda *a: None)
    try:
        with udp_bound() as s:
            s.settimeout(0.3)
            with Signaller(signal.SIGUSR1):
                with pytest.raises(TimeoutError):
                    s.recvfrom(10)
    finally:
        signal.signal(signal.SIGUSR1, old)


def test_blocking_socket_has_a_blocking_descriptor():
    """The descriptor's O_NONBLOCK follows the time-out mode, as the stdlib's does."""
    import fcntl
    with udp_bound() as s:
        nb = lambda: bool(fcntl.fcntl(s.fileno(), fcntl.F_GETFL) & os.O_NONBLOCK)  # noqa: E731
        assert not nb()
        s.settimeout(1.0)
        assert nb()
        s.settimeout(None)
        assert not nb()
        s.setblocking(False)
        assert nb()
        s.setblocking(True)
        assert not nb()
    with netlab.socket() as lst:
        lst.bind(("127.0.0.1", 0))
        lst.listen()
        assert not bool(fcntl.fcntl(lst.fileno(), fcntl.F_GETFL) & os.O_NONBLOCK)


def test_settimeout_rejects_what_the_stdlib_rejects():
    with udp_bound() as s:
        for bad, exc in ((float("inf"), OverflowError), (float("nan"), ValueError),
                         (-1, ValueError), ("1", TypeError)):
            with pytest.raises(exc):
                s.settimeout(bad)
            with socket.socket(type=socket.SOCK_DGRAM) as ref, pytest.raises(exc):
                ref.settimeout(bad)
        assert s.gettimeout() is None
        with pytest.raises(OverflowError):
            s.settimeout(1e10)  # more nanoseconds than an int64 holds, as the stdlib says
        with pytest.raises(OverflowError):
            netlab.setdefaulttimeout(float("inf"))
        assert netlab.getdefaulttimeout() is None
