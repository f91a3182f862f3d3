"""netlab.ChatSession: the chat session from Python.

Two sessions in one process (each read by a thread of its own, so the blocking waits must
release the GIL), a session against the netlab-chat program (NETLAB_CHAT), plain mode against
a stdlib socket, keys, drop counters, errors. Every wait is bounded; nothing sleeps to
synchronise."""
import errno
import os
import queue
import socket as stdsocket
import subprocess
import threading
import time

import pytest

import netlab
from watchdog import Watchdog
from netlab import EventType

TIMEOUT = 10
BIG = ("中文" * 1666 + "abcd").encode()  # 10,000 bytes of UTF-8
assert len(BIG) == 10_000


class Reader:
    """A thread that iterates a session's events into a queue until the CLOSED event."""

    def __init__(self, session):
        self.session = session
        self.q = queue.Queue()
        self.error = None
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        try:
            for ev in self.session:
                self.q.put(ev)
        except BaseException as e:  # reported by join()
            self.error = e

    def next(self, *types, timeout=TIMEOUT):
        """The next event of one of the given types; the others are collected in .skipped."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {types} event within {timeout} s")
            try:
                ev = self.q.get(timeout=left)
            except queue.Empty:
                continue
            if not types or ev.type in types:
                return ev

    def join(self):
        self.t.join(TIMEOUT)
        assert not self.t.is_alive()
        if self.error is not None:
            raise self.error


def pair(**kw):
    """A waits, B calls it; both joined."""
    a = netlab.ChatSession(bind=("127.0.0.1", 0), name="甲", **kw)
    b = netlab.ChatSession(bind=("127.0.0.1", 0), peer=a.local_address, name="B", **kw)
    ra, rb = Reader(a), Reader(b)
    ja = ra.next(EventType.PEER_JOINED)
    jb = rb.next(EventType.PEER_JOINED)
    assert ja.data == "B" and ja.peer == b.local_address
    assert jb.data == "甲" and jb.peer == a.local_address
    return a, b, ra, rb


def finish(a, b, ra, rb):
    """B leaves: both sides see CLOSED with status 0, A after PEER_LEFT."""
    b.leave()
    left = ra.next(EventType.PEER_LEFT)
    assert left.peer == b.local_address
    ca = ra.next(EventType.CLOSED)
    cb = rb.next(EventType.CLOSED)
    assert (ca.code, cb.code) == (0, 0)
    # Only MESSAGE and PEER_JOINED carry data; the README says None for the others.
    assert (left.data, ca.data, cb.data) == (None, None, None)
    ra.join()
    rb.join()
    assert (a.status, b.status) == (0, 0)
    a.close()
    b.close()


def test_two_sessions_chinese_big_binary_and_leave():
    a, b, ra, rb = pair()
    assert a.status is None and b.status is None
    assert a.peer_address == b.local_address and b.peer_address == a.local_address
    ids = [b.send("你好，世界"), b.send(BIG), b.send(b"\xff\xfe binary"), b.send("")]
    assert ids == [1, 2, 3, 4]
    got = [ra.next(EventType.MESSAGE) for _ in ids]
    assert [ev.data for ev in got] == ["你好，世界", BIG.decode(), b"\xff\xfe binary", ""]
    assert isinstance(got[1].data, str) and isinstance(got[2].data, bytes)
    assert [ev.msg_id for ev in got] == [1, 2, 3, 4]
    assert all(ev.peer == b.local_address for ev in got)
    delivered = [rb.next(EventType.DELIVERED) for _ in ids]
    assert sorted(ev.msg_id for ev in delivered) == ids
    assert all(ev.data is None for ev in delivered)
    # And the other way round.
    assert a.send("回复") == 1
    assert rb.next(EventType.MESSAGE).data == "回复"
    st = a.stats()
    assert st.messages_in == 4 and st.messages_out == 1 and st.dropped == 0
    assert b.stats().messages_out == 4
    finish(a, b, ra, rb)


def test_blocking_wait_releases_the_gil():
    """A thread waits in the C step with no time-out at all (no slices); this thread then
    needs the GIL to send what ends the wait. Without the GIL released that is a deadlock,
    which the watchdog turns into a failure."""
    a = netlab.ChatSession(bind=("127.0.0.1", 0), plain=True)
    got = []
    t = threading.Thread(target=lambda: got.extend(netlab._netlab.chat_step(a._h, -1)))
    try:
        with Watchdog(), stdsocket.socket(stdsocket.AF_INET, stdsocket.SOCK_DGRAM) as s:
            t.start()
            s.sendto("醒来".encode(), a.local_address)
            t.join(TIMEOUT)
        assert not t.is_alive()
        assert [(EventType(e[0]), e[3]) for e in got] == [
            (EventType.PEER_JOINED, b""), (EventType.MESSAGE, "醒来".encode())]
    finally:
        a.close()
        t.join(TIMEOUT)


def test_close_wakes_a_waiting_thread():
    a = netlab.ChatSession(bind=("127.0.0.1", 0))
    r = Reader(a)
    time_closed = time.monotonic()
    a.close()
    r.t.join(TIMEOUT)
    assert not r.t.is_alive() and time.monotonic() - time_closed < 2
    assert isinstance(r.error, OSError)
    a.close()  # twice is fine
    with pytest.raises(OSError):
        a.send("x")
    assert a.fileno() == -1


def wait_stats(session, field, want):
    """Until the counter reaches want (a thread reads the session meanwhile); bounded."""
    deadline = time.monotonic() + TIMEOUT
    while getattr(session.stats(), field) < want:
        assert time.monotonic() < deadline, f"{field} did not reach {want}"
        time.sleep(0.01)  # polling a counter, not synchronising on an event
    return session.stats()


def test_stranger_datagram_is_counted_not_delivered():
    a = netlab.ChatSession(bind=("127.0.0.1", 0))
    ra = Reader(a)
    with stdsocket.socket(stdsocket.AF_INET, stdsocket.SOCK_DGRAM) as stranger:
        stranger.bind(("127.0.0.1", 0))
        # Before anyone joined: not the protocol, so it is dropped and counted.
        stranger.sendto("我是陌生人，不是协议".encode(), a.local_address)
        st = wait_stats(a, "datagrams_in", 1)
        assert st.dropped == 1 and st.bad_magic + st.bad_length == 1
        b = netlab.ChatSession(bind=("127.0.0.1", 0), peer=a.local_address, name="B")
        rb = Reader(b)
        assert ra.next(EventType.PEER_JOINED).data == "B"  # not the stranger
        rb.next(EventType.PEER_JOINED)
        # Once locked onto B, the stranger's datagrams do not get in at all.
        stranger.sendto(b"NL let me in", a.local_address)
        b.send("after the stranger")
        assert ra.next(EventType.MESSAGE).data == "after the stranger"
        assert a.stats().messages_in == 1
    finish(a, b, ra, rb)


def test_plain_mode_wrong_source_counted():
    """Plain mode locks onto the first sender; a second sender's datagram queued before the
    lock is checked by hand and counted as wrong_source."""
    a = netlab.ChatSession(bind=("127.0.0.1", 0), plain=True)
    with stdsocket.socket(stdsocket.AF_INET, stdsocket.SOCK_DGRAM) as s1, \
            stdsocket.socket(stdsocket.AF_INET, stdsocket.SOCK_DGRAM) as s2:
        s1.bind(("127.0.0.1", 0))
        s2.bind(("127.0.0.1", 0))
        s1.sendto("第一".encode(), a.local_address)
        s2.sendto("第二".encode(), a.local_address)  # queued before the session reads
        r = Reader(a)
        assert r.next(EventType.PEER_JOINED).peer == s1.getsockname()
        assert r.next(EventType.MESSAGE).data == "第一"
        st = wait_stats(a, "wrong_source", 1)
        assert st.wrong_source == 1 and st.messages_in == 1
        a.close()
        r.t.join(TIMEOUT)


def test_key_mode_same_key_chats_wrong_key_is_refused():
    key = bytes(range(32))
    a, b, ra, rb = pair(key=key)
    b.send("加密的消息")
    assert ra.next(EventType.MESSAGE).data == "加密的消息"
    finish(a, b, ra, rb)
    # A caller with another key never gets in; its frames fail authentication.
    a = netlab.ChatSession(bind=("127.0.0.1", 0), key=key)
    c = netlab.ChatSession(bind=("127.0.0.1", 0), peer=a.local_address, key=bytes(32))
    deadline = time.monotonic() + TIMEOUT
    while a.stats().auth_failed < 1:
        assert time.monotonic() < deadline, "no authentication failure counted"
        assert [ev for ev in a.poll(0.05) if ev.type == EventType.PEER_JOINED] == []
        c.poll(0)
    assert a.peer_address is None
    a.close()
    c.close()


def test_plain_mode_with_a_stdlib_socket():
    a = netlab.ChatSession(bind=("127.0.0.1", 0), plain=True)
    with stdsocket.socket(stdsocket.AF_INET, stdsocket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(TIMEOUT)
        r = Reader(a)
        s.sendto("你好".encode(), a.local_address)
        assert r.next(EventType.PEER_JOINED).peer == s.getsockname()
        assert r.next(EventType.MESSAGE).data == "你好"
        assert a.send("hi there") == 0
        assert s.recvfrom(100) == (b"hi there", a.local_address)
        s.sendto(b"q", a.local_address)
        r.next(EventType.PEER_LEFT)
        assert r.next(EventType.CLOSED).code == 0
        r.join()
    assert a.status == 0
    a.close()


def test_with_statement_leaves_and_both_close():
    a = netlab.ChatSession(bind=("127.0.0.1", 0))
    ra = Reader(a)
    with netlab.ChatSession(bind=("127.0.0.1", 0), peer=a.local_address) as b:
        rb = Reader(b)
        ra.next(EventType.PEER_JOINED)
        rb.next(EventType.PEER_JOINED)
        b.send("bye soon")
    # __exit__ left and waited for the close: both sides agree.
    rb.join()
    assert ra.next(EventType.MESSAGE).data == "bye soon"
    assert ra.next(EventType.CLOSED).code == 0
    ra.join()
    assert a.status == 0
    a.close()
    with pytest.raises(OSError):
        b.send("x")


def test_peer_lost():
    a, b, ra, rb = (None,) * 4
    a = netlab.ChatSession(bind=("127.0.0.1", 0), peer_lost_ms=300, keepalive_ms=100)
    b = netlab.ChatSession(bind=("127.0.0.1", 0), peer=a.local_address)
    ra, rb = Reader(a), Reader(b)
    ra.next(EventType.PEER_JOINED)
    rb.next(EventType.PEER_JOINED)
    b.close()  # vanishes without a word; its reader is woken with EBADF
    with pytest.raises(OSError):
        rb.join()
    ev = ra.next(EventType.PEER_LOST)
    assert ev.code == netlab.NL_EPEERLOST
    assert ra.next(EventType.CLOSED).code == netlab.NL_EPEERLOST
    ra.join()
    assert a.status == netlab.NL_EPEERLOST
    assert netlab.nl_err_name(a.status) == "NL_EPEERLOST"
    a.close()


def test_errors():
    with pytest.raises(OverflowError):
        netlab.ChatSession(bind=("127.0.0.1", 70000))
    with pytest.raises(ValueError):
        netlab.ChatSession(key=b"short")
    with pytest.raises(ValueError):
        netlab.ChatSession(plain=True, key=bytes(32))
    with pytest.raises(ValueError):
        netlab.ChatSession(name="名" * 30)  # 90 bytes of UTF-8
    with pytest.raises(TypeError):
        netlab.ChatSession(bind="127.0.0.1:9000")
    with pytest.raises(netlab.gaierror):
        netlab.ChatSession(bind=("999.1.1.1", 0))
    with pytest.raises(ValueError):
        netlab.ChatSession(peer_lost_ms=0)
    a = netlab.ChatSession()
    with pytest.raises(OSError) as e:
        a.send(b"x" * (netlab._netlab.CHAT_MSG_MAX + 1))
    assert e.value.errno is not None
    with pytest.raises(TypeError):
        a.send(12)
    a.leave()  # before any peer: closes at once, status 0
    assert a.poll(1)[-1].type == EventType.CLOSED
    assert a.status == 0
    with pytest.raises(OSError) as e:  # closed (NL_ECLOSED): EBADF, as a closed socket
        a.send("after leave")
    assert e.value.errno == errno.EBADF
    assert a.poll(0) == [] and list(a.events()) == []
    a.close()


def test_leave_unconfirmed_send_after_leave():
    """The peer vanishes, we leave: sends are refused (ESHUTDOWN) while the goodbye is
    repeated, and the session ends with NL_EPEERLOST after the leave time-out."""
    a = netlab.ChatSession(bind=("127.0.0.1", 0))
    b = netlab.ChatSession(bind=("127.0.0.1", 0), peer=a.local_address, leave_timeout_ms=500)
    ra, rb = Reader(a), Reader(b)
    ra.next(EventType.PEER_JOINED)
    rb.next(EventType.PEER_JOINED)
    a.close()
    with pytest.raises(OSError):
        ra.join()
    t0 = time.monotonic()
    b.leave()
    with pytest.raises(BrokenPipeError):
        b.send("too late")
    assert rb.next(EventType.CLOSED).code == netlab.NL_EPEERLOST
    assert 0.4 < time.monotonic() - t0 < 5
    rb.join()
    assert b.status == netlab.NL_EPEERLOST
    b.close()


def test_ipv6():
    a = netlab.ChatSession(bind=("::1", 0))
    b = netlab.ChatSession(bind=("::1", 0), peer=a.local_address)
    ra, rb = Reader(a), Reader(b)
    assert ra.next(EventType.PEER_JOINED).peer == b.local_address
    assert len(b.local_address) == 4
    rb.next(EventType.PEER_JOINED)
    b.send("v6")
    assert ra.next(EventType.MESSAGE).data == "v6"
    finish(a, b, ra, rb)


@pytest.fixture
def chat_program():
    path = os.environ.get("NETLAB_CHAT")
    if not path:
        pytest.fail("NETLAB_CHAT (the netlab-chat program) is not set; ctest sets it")
    started = []

    def start(*args):
        p = subprocess.Popen([path, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(l) for l in p.stdout], daemon=True).start()
        started.append(p)
        return p, lines

    yield start
    for p in started:  # reaped by PID
        if p.poll() is None:
            p.kill()
        p.wait(TIMEOUT)
        for f in (p.stdin, p.stdout, p.stderr):
            f.close()


def test_against_the_netlab_chat_program(chat_program):
    a = netlab.ChatSession(bind=("127.0.0.1", 0), name="python")
    r = Reader(a)
    host, port = a.local_address
    p, lines = chat_program("--bind", "127.0.0.1:0", "--peer", f"{host}:{port}",
                            "--name", "程序")
    joined = r.next(EventType.PEER_JOINED)
    assert joined.data == "程序"
    p.stdin.write("来自程序的问候\n".encode() + BIG + b"\n")
    p.stdin.flush()
    assert r.next(EventType.MESSAGE).data == "来自程序的问候"
    assert r.next(EventType.MESSAGE).data == BIG.decode()
    a.send("来自Python")
    assert lines.get(timeout=TIMEOUT) == "来自Python\n".encode()
    a.send(BIG)
    assert lines.get(timeout=TIMEOUT) == BIG + b"\n"
    a.leave()
    assert r.next(EventType.CLOSED).code == 0
    r.join()
    assert a.status == 0
    assert p.wait(TIMEOUT) == 0  # the program learnt that the chat is over
    a.close()


def test_example_chat_session(procs):
    """examples/python/chat_session.py, two of them as in two terminals: one waits, the other
    calls; lines typed on one side appear on the other; 'q' ends both with status 0."""
    from conftest import EXAMPLES
    example = EXAMPLES / "chat_session.py"
    a = procs([example, "--bind", "127.0.0.1:0", "--name", "甲"])
    line = a.line()
    assert line.startswith("listening on 127.0.0.1:")
    port = line.strip().rsplit(":", 1)[1]
    b = procs([example, "--bind", "127.0.0.1:0", "--peer", f"127.0.0.1:{port}", "--name", "乙"])
    assert b.line().startswith("listening on ")
    assert a.line().startswith("*** 乙 joined from 127.0.0.1:")
    assert b.line() == f"*** 甲 joined from 127.0.0.1:{port}\n"
    b.write("你好，甲\n")
    assert a.line() == "> 你好，甲\n"
    a.write("你好，乙\n")
    assert b.line() == "> 你好，乙\n"
    b.write("q\n")
    assert b.line() == "*** chat over (agreed)\n"
    assert a.line() == "*** the peer left; press Enter\n"
    assert a.line() == "*** chat over (agreed)\n"
    a.write("\n")
    assert b.wait() == 0
    assert a.wait() == 0
    assert a.line() == "dropped datagrams: 0\n"


def test_one_thread_two_sessions_with_selectors():
    """No threads: both sessions driven from one selectors loop by fileno() and
    next_timeout(), as an event-driven program would."""
    import selectors
    a = netlab.ChatSession(bind=("127.0.0.1", 0))
    b = netlab.ChatSession(bind=("127.0.0.1", 0), peer=a.local_address)
    sel = selectors.DefaultSelector()
    sel.register(a.fileno(), selectors.EVENT_READ, a)
    sel.register(b.fileno(), selectors.EVENT_READ, b)
    seen = {a: [], b: []}
    left = False
    b.send("单线程")
    deadline = time.monotonic() + TIMEOUT
    while not (any(e.type == EventType.CLOSED for e in seen[a]) and
               any(e.type == EventType.CLOSED for e in seen[b])):
        assert time.monotonic() < deadline, f"stuck: {seen}"
        timers = [t for t in (a.next_timeout(), b.next_timeout()) if t is not None]
        sel.select(min(timers + [0.5]))
        for s in (a, b):  # readable or a timer due: either way, a step does the work
            seen[s] += s.poll(0)
        if not left and any(e.type == EventType.DELIVERED for e in seen[b]):
            b.leave()
            left = True
    assert [e.data for e in seen[a] if e.type == EventType.MESSAGE] == ["单线程"]
    assert (a.status, b.status) == (0, 0)
    sel.close()
    a.close()
    b.close()


def test_descriptors_are_given_back():
    """Sessions (socket + wake-up pipe) and servers give their descriptors back, whether closed
    explicitly or by the garbage collector."""
    import gc
    import warnings
    fds = len(os.listdir("/proc/self/fd"))
    for i in range(200):
        a = netlab.ChatSession(bind=("127.0.0.1", 0))
        b = netlab.ChatSession(bind=("127.0.0.1", 0), peer=a.local_address, plain=bool(i % 2))
        b.send("x")
        a.poll(0)
        a.close()
        if i % 3:
            b.close()
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ResourceWarning)
                del b
                gc.collect()
        with netlab.EchoServer(("127.0.0.1", 0)):
            pass
    assert len(os.listdir("/proc/self/fd")) == fds
