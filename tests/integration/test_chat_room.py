"""netlab-chat's room mode (issue 13): --room hosts, --join joins. Real processes on loopback,
pipe mode; every wait bounded, every process reaped by PID."""

import os
import re
import select
import socket
import subprocess
import threading
import time

import pytest

from chatlib import CHAT, Chat, free_udp_port


def host(*extra, name="teacher"):
    h = Chat(["--bind", "127.0.0.1:0", "--room", "class", "--name", name, *extra])
    addr = h.wait_err(r"join with --join (\S+)", 5).group(1)
    return h, addr


def member(addr, name, *extra):
    return Chat(["--bind", "127.0.0.1:0", "--join", addr, "--name", name, *extra])


def close_all(chats):
    for c in chats:
        c.close()


def same_order(a, b):
    """The lines both saw come in the same order."""
    common = set(a) & set(b)
    return [x for x in a if x in common] == [x for x in b if x in common]


def run_room(n, per, timeout):
    h, addr = host()
    ms = []
    try:
        for i in range(n):
            ms.append(member(addr, "s%03d" % i))
        for i in range(n):
            h.wait_err(r"\*\*\* s\d+ joined", 10)
        for m in ms:
            m.wait_err(r"in the room of teacher", 10)
        for k in range(per):
            for i, m in enumerate(ms):
                m.send("s%03d-%d" % (i, k))
        got = [m.read_lines((n - 1) * per, timeout) for m in ms]
        for i, lines in enumerate(got):
            mine = b"s%03d: " % i
            assert not any(x.startswith(mine) for x in lines)  # never its own
            assert len(set(lines)) == len(lines) == (n - 1) * per  # each once
            for j in range(n):
                if j != i:  # every other member's, in the order that member sent them
                    theirs = [x for x in lines if x.startswith(b"s%03d: " % j)]
                    assert theirs == [b"s%03d: s%03d-%d" % (j, j, k) for k in range(per)]
        for lines in got[1:]:
            assert same_order(got[0], lines)
        assert len(h.read_lines(n * per, timeout)) == n * per  # the host hears everyone
        t0 = time.monotonic()
        h.send("q")
        for m in ms:
            assert m.wait_exit(5) == 0, m.err_lines
            assert any(b"*** room closed by teacher" in x for x in m.err_lines)
        assert time.monotonic() - t0 < 5
        assert h.wait_exit(10) == 0, h.err_lines
    finally:
        close_all(ms + [h])


def test_room_every_member_gets_every_other_message_once_in_one_order():
    run_room(8, 20, 30)


def test_room_of_100_members_on_loopback():
    run_room(100, 2, 60)


def test_member_q_leaves_only_it_kill_9_is_lost_host_gone_is_exit_3():
    h, addr = host("--peer-lost", "1000")
    a = member(addr, "ann", "--peer-lost", "1000")
    b = member(addr, "bob", "--peer-lost", "1000")
    c = member(addr, "cy", "--peer-lost", "1000")
    try:
        for m in (a, b, c):
            m.wait_err("in the room of teacher", 10)
        for _ in range(3):
            h.wait_err(r"joined", 10)
        a.send("q")
        assert a.wait_exit(10) == 0, a.err_lines
        c.wait_err(r"\*\*\* ann left", 10)
        h.wait_err(r"\*\*\* ann left", 10)
        b.send("still here")
        assert c.read_lines(1, 5) == [b"bob: still here"]
        b.p.kill()  # kill -9
        b.p.wait(5)
        t0 = time.monotonic()
        c.wait_err(r"\*\*\* bob lost", 5)
        assert time.monotonic() - t0 < 3  # the peer-lost bound, 1 s, and slack for a load
        assert c.p.poll() is None and h.p.poll() is None
        h.p.kill()
        h.p.wait(5)
        assert c.wait_exit(5) == 3, c.err_lines
        assert any(b"*** teacher lost" in x for x in c.err_lines)
    finally:
        close_all([a, b, c, h])


def test_members_exit_promptly_after_the_end_and_after_their_own_q():
    """room-mem: the host answers a member's goodbye (it keeps the member's core until the BYE
    exchange is complete), so on a quiet network a member exits well before its 1.5 s linger:
    after the host's end (E) and after its own q. A bounded wait, not a benchmark: 1.0 s is
    generous on loopback and fails when the member waits out the linger."""
    h, addr = host()
    ms = [member(addr, "s%d" % i) for i in range(4)]
    try:
        for m in ms:
            m.wait_err("in the room of teacher", 10)
        for _ in ms:
            h.wait_err(r"joined", 10)
        ms[0].send("q")
        t0 = time.monotonic()
        assert ms[0].wait_exit(1.0) == 0, ms[0].err_lines
        print("member's own q: exit after %.3f s" % (ms[0].t_exit - t0))
        h.wait_err(r"\*\*\* s0 left", 5)
        h.send("q")
        late = []
        for m in ms[1:]:
            m.wait_err(r"\*\*\* room closed by teacher", 5)
            t0 = time.monotonic()
            assert m.wait_exit(1.0) == 0, m.err_lines
            late.append(m.t_exit - t0)
        print("member exits after the end: %s s" % ", ".join("%.3f" % t for t in late))
        assert h.wait_exit(10) == 0, h.err_lines
    finally:
        close_all(ms + [h])


class DropFirstAck:
    """A UDP relay between one member and the host that drops the member's first handshake
    ACK (type 4, seq 0): the host then completes the join only when the member repeats it."""

    def __init__(self, host_addr):
        self.host = host_addr
        self.down = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.down.bind(("127.0.0.1", 0))
        self.up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.up.connect(host_addr)
        self.member = None
        self.dropped = 0
        self.stop = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def addr(self):
        return "127.0.0.1:%d" % self.down.getsockname()[1]

    def _run(self):
        while not self.stop:
            ready, _, _ = select.select([self.down, self.up], [], [], 0.1)
            for s in ready:
                try:
                    self._forward(s)
                except OSError:
                    pass  # the host has gone (ECONNREFUSED on the connected socket): a loss

    def _forward(self, s):
        if s is self.down:
            data, self.member = s.recvfrom(70000)
            if (self.dropped == 0 and len(data) >= 36 and data[:2] == b"NL" and data[3] == 4
                    and data[24:28] == bytes(4)):
                self.dropped = 1
                return
            self.up.send(data)
        elif self.member is not None:
            self.down.sendto(s.recv(70000), self.member)

    def close(self):
        self.stop = True
        self.t.join(timeout=2)
        self.down.close()
        self.up.close()


def test_in_the_room_means_every_later_message_arrives():
    """"in the room" is said once the host counts the member in: a message sent by another
    member right after it reaches the newcomer even when the newcomer's handshake ACK was lost
    (the host had not yet counted it in when the member first thought it was in)."""
    h, addr = host()
    hp = addr.rsplit(":", 1)
    relay = DropFirstAck((hp[0], int(hp[1])))
    a = member(addr, "ann")
    b = None
    try:
        a.wait_err("in the room of teacher", 10)
        h.wait_err(r"\*\*\* ann joined", 10)
        b = member(relay.addr(), "bob")
        b.wait_err("in the room of teacher", 10)
        deadline = time.monotonic() + 5
        while relay.dropped == 0 and time.monotonic() < deadline:
            time.sleep(0.01)  # the relay thread has no event to wait on
        assert relay.dropped == 1
        a.send("welcome bob")
        assert b.read_lines(1, 5) == [b"ann: welcome bob"]
        h.send("q")
        assert a.wait_exit(5) == 0 and b.wait_exit(5) == 0
        assert h.wait_exit(10) == 0
    finally:
        relay.close()
        close_all([c for c in (a, b, h) if c is not None])


def test_host_on_a_wildcard_address_names_addresses_members_can_join():
    """Bound to 0.0.0.0 the host must not tell members to join 0.0.0.0."""
    h = Chat(["--bind", "0.0.0.0:0", "--room", "class", "--name", "teacher"])
    try:
        m = h.wait_err(r"room class open on port (\d+): join with --join any:(\d+), "
                       r"or --join with one of (.*)", 5)
        assert m.group(1) == m.group(2)
        addrs = m.group(3).split(", ")
        assert "127.0.0.1:" + m.group(1) in addrs, addrs
        assert not any(a.startswith("0.0.0.0") for a in addrs), addrs
        a = member(addrs[-1], "ann")
        a.wait_err("in the room of teacher", 10)
        h.send("q")
        assert a.wait_exit(5) == 0 and h.wait_exit(10) == 0
    finally:
        close_all([h] + ([a] if "a" in locals() else []))


def test_nobody_answering_is_said_at_once_not_only_at_give_up(tmp_path):
    """A member calling where no room is, or a room with another key, says so while it goes on
    calling; a keyed host says that frames fail authentication (before: silence for 60 s)."""
    port = free_udp_port()
    m = member("127.0.0.1:%d" % port, "ann")
    try:
        m.wait_err(r"\*\*\* nobody hosts a room at 127\.0\.0\.1:%d yet \(port unreachable\); "
                   r"still calling \(giving up after 60 s\)" % port, 5)
        assert m.p.poll() is None
    finally:
        m.close()
    ka, kb = tmp_path / "a.key", tmp_path / "b.key"
    ka.write_bytes(bytes(range(32)))
    kb.write_bytes(bytes(range(1, 33)))
    os.chmod(ka, 0o600)
    os.chmod(kb, 0o600)
    h, addr = host("--key-file", str(ka))
    m = member(addr, "ann", "--key-file", str(kb))
    try:
        m.wait_err(r"\*\*\* no answer from %s yet; still calling \(giving up after 60 s\): "
                   r"a room with another key does not answer" % re.escape(addr), 5)
        h.wait_err(r"\*\*\* warning: frames that fail authentication reach the room", 5)
        assert m.p.poll() is None and h.p.poll() is None
    finally:
        close_all([m, h])


def udp_drops(port):
    """The kernel's drop count for the UDP socket bound to port (/proc/net/udp)."""
    with open("/proc/net/udp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) == port:
                return int(fields[-1])
    raise AssertionError("no socket on port %d" % port)


def test_non_member_flood_is_dropped_and_counted():
    h, addr = host("--stats")
    a = member(addr, "ann")
    b = member(addr, "bob")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        a.wait_err("in the room", 10)
        b.wait_err("in the room", 10)
        hp = addr.rsplit(":", 1)
        for i in range(3000):
            s.sendto(b"NL" + bytes([1, i & 0xff]) + b"x" * 60, (hp[0], int(hp[1])))
        kernel_drops = udp_drops(int(hp[1]))
        a.send("through the flood")
        assert b.read_lines(1, 5) == [b"ann: through the flood"]
        h.send("q")
        assert a.wait_exit(5) == 0 and b.wait_exit(5) == 0
        assert h.wait_exit(10) == 0
        text = b"".join(h.err_lines).decode()
        n = int(re.search(r"non-member datagrams (\d+)", text).group(1))
        # Every one counted, but for those the kernel dropped for a full socket buffer; the
        # count also has the members' last frames after the end (each member's BYE and its
        # repeats reach a host that has forgotten the member): a few.
        assert 3000 <= n + kernel_drops <= 3000 + 20, (text, kernel_drops)
    finally:
        s.close()
        close_all([a, b, h])


@pytest.mark.parametrize("args", [["--room", "x", "--join", "127.0.0.1:9"],
                                  ["--room", "x", "--peer", "127.0.0.1:9"],
                                  ["--join", "127.0.0.1:9", "--plain"],
                                  ["--join", "nowhere"],
                                  ["--room", "r" * 65]])
def test_room_usage_errors(args):
    c = Chat(["--bind", "127.0.0.1:0", *args])
    try:
        assert c.wait_exit(5) == 2
        assert len(c.err_lines) == 1, c.err_lines
    finally:
        c.close()


# ---- chat-ui: pipe mode's output and input edges -------------------------------------------

def raw_member(addr, name, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, prefix=()):
    """A member whose streams the test chooses (Chat always gives it pipes)."""
    return subprocess.Popen(list(prefix) + [CHAT, "--bind", "127.0.0.1:0", "--join", addr,
                                            "--name", name],
                            stdin=stdin, stdout=stdout, stderr=subprocess.PIPE)


def reap(p, timeout):
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(timeout=5)
        raise AssertionError("%r did not exit within %.1fs" % (p.args, timeout))


@pytest.mark.parametrize("where", ["member", "host"])
def test_stdout_dev_full_stops_with_a_message_and_exit_1(where):
    """A received message that cannot be written (/dev/full: ENOSPC) was lost silently, the
    program went on and exited 0. Now it says why on stderr, leaves, and exits 1; when it is
    the host, its leaving ends the room for the others (exit 0)."""
    full = open("/dev/full", "wb")
    procs, chats = [], []
    try:
        if where == "host":
            h = subprocess.Popen([CHAT, "--bind", "127.0.0.1:0", "--room", "class", "--name",
                                  "teacher"], stdin=subprocess.PIPE, stdout=full,
                                 stderr=subprocess.PIPE)
            procs.append(h)
            line = h.stderr.readline().decode()
            addr = re.search(r"join with --join (\S+)", line).group(1)
            ann = member(addr, "ann")
            chats.append(ann)
            ann.wait_err("in the room of teacher", 10)
            ann.send("to a full disk")
            assert reap(h, 10) == 1
            err = h.stderr.read().decode()
            assert "cannot write a received message to standard output (No space left on " \
                   "device)" in err, err
            assert ann.wait_exit(5) == 0, ann.err_lines
            assert any(b"room closed by teacher" in x for x in ann.err_lines)
        else:
            h, addr = host()
            chats.append(h)
            m = raw_member(addr, "ann", stdin=subprocess.PIPE, stdout=full)
            procs.append(m)
            h.wait_err(r"\*\*\* ann joined", 10)
            time.sleep(0.2)  # ann counts itself in at the host's welcome, just after
            h.send("to a full disk")
            assert reap(m, 10) == 1
            err = m.stderr.read().decode()
            assert "cannot write a received message to standard output (No space left on " \
                   "device)" in err, err
            h.wait_err(r"\*\*\* ann left", 5)
    finally:
        full.close()
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=5)
        close_all(chats)


def test_stdout_closed_pipe_is_epipe_exit_1():
    """A reader that went away (SIGPIPE ignored, so EPIPE): said, left, exit 1."""
    h, addr = host()
    r, w = os.pipe()
    os.close(r)
    m = None
    try:
        m = raw_member(addr, "ann", stdin=subprocess.PIPE, stdout=w)
        os.close(w)
        w = None
        h.wait_err(r"\*\*\* ann joined", 10)
        time.sleep(0.2)
        h.send("into a closed pipe")
        assert reap(m, 10) == 1
        err = m.stderr.read().decode()
        assert "cannot write a received message to standard output (Broken pipe)" in err, err
        h.wait_err(r"\*\*\* ann left", 5)
    finally:
        if w is not None:
            os.close(w)
        if m is not None and m.poll() is None:
            m.kill()
            m.wait(timeout=5)
        close_all([h])


@pytest.mark.parametrize("how", ["closed", "devnull"])
def test_member_without_input_leaves_cleanly(how):
    """stdin closed (`<&-`: the socket must not become "standard input") or /dev/null: end of
    input, the member leaves at once and exits 0; the room goes on."""
    h, addr = host()
    m = None
    try:
        if how == "closed":
            m = raw_member(addr, "ann", stdin=None,
                           prefix=["sh", "-c", 'exec "$0" "$@" <&-'])
        else:
            m = raw_member(addr, "ann")
        assert reap(m, 10) == 0, m.stderr.read()
        assert m.stdout.read() == b""
        # Never silent: either the host let it in before the end of input was read, or the
        # member says it left before that (which of the two is a race, and either is right).
        err = m.stderr.read()
        assert (b"*** in the room of teacher" in err) != \
            (b"input ended before the room let us in" in err), err
        b = member(addr, "bob")
        try:
            b.wait_err("in the room of teacher", 10)
            b.send("the room goes on")
            assert h.read_lines(1, 5) == [b"bob: the room goes on"]
        finally:
            b.close()
    finally:
        if m is not None and m.poll() is None:
            m.kill()
            m.wait(timeout=5)
        close_all([h])


@pytest.mark.parametrize("how", ["closed", "devnull"])
def test_host_without_input_ends_the_room_at_once(how):
    """A host whose input ends (closed or /dev/null) ends the room: exit 0, nothing printed on
    stdout."""
    argv = [CHAT, "--bind", "127.0.0.1:0", "--room", "class", "--name", "teacher"]
    if how == "closed":
        argv = ["sh", "-c", 'exec "$0" "$@" <&-'] + argv
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        assert reap(p, 10) == 0
        assert p.stdout.read() == b""
        assert b"room class open" in p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=5)


def test_control_characters_use_the_placeholders():
    """Names and text from the network keep the line protocol (one NAME: TEXT line each), with
    the point-to-point chat's placeholders (^[, ^J, <U+009B>, \\xFF) instead of '?'."""
    h, addr = host()
    nasty = member(addr, "b\x1b]2;x\x07ob")
    try:
        h.wait_err(r"\*\*\* b\^\[\]2;x\^Gob joined", 10)
        nasty.wait_err("in the room of teacher", 10)
        nasty.send(b"\x1b[2Jone\x0btwo\xc2\x9b\xff")
        assert h.read_lines(1, 5) == [rb"b^[]2;x^Gob: ^[[2Jone^Ktwo<U+009B>\xFF"]
    finally:
        close_all([nasty, h])


def test_pipe_line_longer_than_any_message_is_refused_whole():
    """A piped line of 70,000 bytes was sent in pieces: the first 65,537 bytes refused as too
    long, the remaining 4,463 bytes relayed as a message nobody wrote. Now the whole line is
    refused (said on stderr) and the next line goes."""
    h, addr = host()
    a = member(addr, "ann")
    try:
        a.wait_err("in the room of teacher", 10)
        a.p.stdin.write(b"x" * 70000 + b"\nafter\n")
        a.p.stdin.flush()
        assert h.read_lines(1, 5) == [b"ann: after"]
        a.wait_err(r"longer than 65450 bytes: not sent")
    finally:
        close_all([a, h])
