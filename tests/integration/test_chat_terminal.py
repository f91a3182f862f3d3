"""netlab-chat on a real terminal (tmux, so libedit really edits): a message that arrives while a
line is half typed is printed above the prompt, with the peer's name and the time, and the
half-typed line survives intact; Ctrl-C leaves gracefully and the peer exits too. Issue 10: long
pasted lines, the screen always showing what Enter sends, each sent line shown once, no prompt
left before --stats or the shell's prompt, the peer's control characters made visible, closing
the terminal leaving like q. Under AddressSanitizer (the CI's sanitizer stage) the program's
report goes to a file that a failing test prints."""

import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from chatlib import CHAT, Chat


class Tmux:
    count = 0

    def __init__(self, argv, width=100, height=20):
        # A tmux server of its own for each terminal: kill-server returns before the old
        # server has gone, and a new session on the same socket then races with its exit.
        Tmux.count += 1
        self.sock = "nlchat-test-%d-%d" % (os.getpid(), Tmux.count)
        self.t = ["tmux", "-u", "-L", self.sock, "-f", "/dev/null"]
        # A long scrollback: a pasted 64 KB line fills hundreds of rows.
        subprocess.run(self.t + ["start-server", ";", "set-option", "-g", "history-limit",
                                 "50000", ";", "new-session", "-d", "-s", "chat", "-x", str(width), "-y", str(height)]
                       + argv + [";", "set-option", "-t", "chat", "remain-on-exit", "on"],
                       check=True, timeout=10)

    def screen(self, joined=False):
        """The visible pane; joined: with wrapped lines joined into one (capture-pane -J), and
        with the scrollback, where a line of 60 KB ends up."""
        r = subprocess.run(self.t + ["capture-pane", "-p"] + (["-J", "-S", "-"] if joined else [])
                           + ["-t", "chat"], capture_output=True, text=True, timeout=10)
        return r.stdout

    def wait_for(self, pattern, timeout=5.0, joined=False):
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern, re.M)
        while time.monotonic() < deadline:
            text = self.screen(joined)
            m = rx.search(text)
            if m:
                return m, text
            time.sleep(0.05)  # polling the screen: tmux has no event for "text appeared"
        raise AssertionError("screen never matched %r:\n%s" % (pattern, self.screen()))

    def keys(self, *keys, literal=False):
        subprocess.run(self.t + ["send-keys", "-t", "chat"] + (["-l"] if literal else [])
                       + list(keys), check=True, timeout=10)

    def paste(self, text):
        """Paste text as a terminal does with a bracketed-paste-less paste: all at once."""
        data = text.encode() if isinstance(text, str) else text
        path = "/tmp/nlchat-paste-%d-%d" % (os.getpid(), Tmux.count)
        with open(path, "wb") as f:
            f.write(data)
        try:
            subprocess.run(self.t + ["load-buffer", path], check=True, timeout=10)
            subprocess.run(self.t + ["paste-buffer", "-t", "chat"], check=True, timeout=10)
        finally:
            os.unlink(path)

    def history(self):
        """The whole pane, scrollback included."""
        r = subprocess.run(self.t + ["capture-pane", "-p", "-J", "-S", "-", "-t", "chat"],
                           capture_output=True, text=True, timeout=10)
        return r.stdout

    def resize(self, width, height):
        subprocess.run(self.t + ["resize-window", "-t", "chat", "-x", str(width), "-y",
                                 str(height)], check=True, timeout=10)

    def pane_title(self):
        r = subprocess.run(self.t + ["display-message", "-p", "-t", "chat", "#{pane_title}"],
                           capture_output=True, text=True, timeout=10)
        return r.stdout.strip()

    def close(self):
        subprocess.run(self.t + ["kill-server"], capture_output=True, timeout=10)


def sanitizer_env():
    """Under ASan/UBSan, send the reports to files of our own (the pane would lose them)."""
    logs = "/tmp/nlchat-san-%d-%d" % (os.getpid(), Tmux.count + 1)
    extra = {}
    for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        if os.environ.get(var):
            extra[var] = os.environ[var] + ":log_path=" + logs
    return logs, extra


def chat_in_tmux(*extra, prefix="", width=100, height=20, name="alice"):
    if shutil.which("tmux") is None:
        pytest.skip("SKIP: tmux is not installed (Debian: tmux)")
    logs, env = sanitizer_env()
    envs = ["%s=%s" % kv for kv in env.items()]
    # A shell that ignores Ctrl-C itself reports the exit status on the screen (tmux's own
    # pane_dead_status is not reliably set when the terminal closes first).
    t = Tmux(["sh", "-c", 'trap "" INT; %s env LC_ALL=C.UTF-8 %s "$0" "$@"; echo "EXIT=$?"'
              % (prefix, " ".join(envs)), CHAT, "--bind", "127.0.0.1:0", "--name", name]
             + list(extra), width=width, height=height)
    t.san_logs = logs
    return t


def sanitizer_reports(term):
    """Whatever ASan/UBSan wrote for this terminal's program (empty without sanitizers)."""
    out = []
    d = os.path.dirname(term.san_logs)
    for f in sorted(os.listdir(d)):
        if f.startswith(os.path.basename(term.san_logs) + "."):
            with open(os.path.join(d, f), errors="replace") as fh:
                out.append(fh.read())
            os.unlink(os.path.join(d, f))
    return "".join(out)


@pytest.fixture
def pair():
    """alice in tmux (waiting), bob in pipe mode calling her; both torn down by PID."""
    made = {}

    def start(*extra, bob_extra=(), **kw):
        term = chat_in_tmux(*extra, **kw)
        made["term"] = term
        m, _ = term.wait_for(r"listening on 127\.0\.0\.1:(\d+)")
        b = Chat(["--bind", "127.0.0.1:0", "--peer", "127.0.0.1:%s" % m.group(1), "--name",
                  "bob"] + list(bob_extra))
        made["bob"] = b
        term.wait_for(r"\*\*\* bob joined")
        return term, b

    yield start
    if "bob" in made:
        made["bob"].close()
    if "term" in made:
        reports = sanitizer_reports(made["term"])
        made["term"].close()
        assert reports == "", reports


def test_half_typed_line_survives_incoming_message():
    term = chat_in_tmux()
    b = None
    try:
        m, _ = term.wait_for(r"listening on 127\.0\.0\.1:(\d+)")
        b = Chat(["--bind", "127.0.0.1:0", "--peer", "127.0.0.1:%s" % m.group(1), "--name", "bob"])
        term.wait_for(r"\*\*\* bob joined")
        term.keys("half typed 你好", literal=True)
        term.wait_for(r"^> half typed 你好$")
        b.send("incoming while you type")
        _, screen = term.wait_for(r"^\[\d\d:\d\d:\d\d\] bob: incoming while you type$")
        lines = [x for x in screen.splitlines() if x.strip()]
        assert lines[-1] == "> half typed 你好", screen
        assert lines[-2].endswith("bob: incoming while you type"), screen
        # The line is still being edited: finish it and send it.
        term.keys(" more", literal=True)
        term.keys("Enter")
        assert b.read_lines(1, 5) == ["half typed 你好 more".encode()]
        # Ctrl-C leaves gracefully: the peer learns it and both exit 0.
        t0 = time.monotonic()
        term.keys("C-c")
        assert b.wait_exit(3) == 0
        assert time.monotonic() - t0 < 2.0
        m, screen = term.wait_for(r"^EXIT=(\d+)$", timeout=3)
        assert m.group(1) == "0", screen
    finally:
        if b is not None:
            b.close()
        term.close()


@pytest.mark.parametrize("how", ["C-d", "q"])
def test_ctrl_d_and_q_leave_gracefully(how):
    term = chat_in_tmux()
    b = None
    try:
        m, _ = term.wait_for(r"listening on 127\.0\.0\.1:(\d+)")
        b = Chat(["--bind", "127.0.0.1:0", "--peer", "127.0.0.1:%s" % m.group(1), "--name", "bob"])
        term.wait_for(r"\*\*\* bob joined")
        b.send("hi")
        term.wait_for(r"bob: hi$")
        if how == "q":
            term.keys("q", literal=True)
        term.keys("Enter" if how == "q" else "C-d")
        assert b.wait_exit(3) == 0
        b.wait_err("alice left the chat")
        m, screen = term.wait_for(r"^EXIT=(\d+)$", timeout=3)
        assert m.group(1) == "0", screen
    finally:
        if b is not None:
            b.close()
        term.close()


# ---- issue 10 ------------------------------------------------------------------------------

def last_lines(screen, n):
    return [x for x in screen.splitlines() if x.strip()][-n:]


def test_pasted_long_lines_are_delivered_intact(pair):
    """Point 1: libedit's readline emulation wrote into a freed 1 KiB buffer once a line passed
    1,024 bytes (SIGABRT at 10,000). Lines up to the 64 KiB message size go through intact, in
    ASCII and in Chinese (3 bytes a character); a longer one is refused with a notice and stays
    on the line for editing instead of being lost."""
    term, b = pair()
    ascii_line = "".join(chr(ord("a") + i % 26) for i in range(9997)) + "END"
    term.paste(ascii_line)
    term.wait_for(r"END$", timeout=20, joined=True)
    term.keys("Enter")
    assert b.read_lines(1, 20) == [ascii_line.encode()]
    # 21,845 Chinese characters + "a" = 65,536 bytes, the most a message holds.
    full = "中" * 21845 + "ab"
    term.paste(full)
    term.wait_for(r"中ab$", timeout=30, joined=True)
    term.keys("Enter")
    term.wait_for(r"over the 65536 limit of a message: not sent", timeout=10, joined=True)
    # Nothing was lost: the line is still there; one character less and it goes.
    term.wait_for(r"中ab$", timeout=10, joined=True)
    term.keys("BSpace")
    term.keys("Enter")
    got = b.read_lines(1, 20)[0]
    assert got == ("中" * 21845 + "a").encode(), (len(got), got[-20:])
    # The editor still works afterwards.
    term.keys("after", literal=True)
    term.keys("Enter")
    assert b.read_lines(1, 5) == [b"after"]
    term.keys("C-d")
    assert b.wait_exit(5) == 0
    m, screen = term.wait_for(r"^EXIT=(\d+)$", timeout=5)
    assert m.group(1) == "0", screen


def test_screen_shows_what_enter_sends(pair):
    """Points 2 and 3: after a first line was sent, an incoming message redrew the prompt with
    that old line ("> first") and Enter then sent the text being typed, which the screen no
    longer showed; and every sent line appeared twice. Now the screen's last line is always the
    line Enter sends, and each sent line is on the screen once."""
    term, b = pair()
    for word in ["first", "second", "third"]:
        term.keys(word, literal=True)
        term.keys("Enter")
        assert b.read_lines(1, 5) == [word.encode()]
    term.keys("now typing 你好", literal=True)
    term.wait_for(r"^> now typing 你好$")
    b.send("incoming")
    _, screen = term.wait_for(r"bob: incoming$")
    assert last_lines(screen, 1) == ["> now typing 你好"], screen
    for word in ["first", "second", "third"]:
        assert screen.count("> %s\n" % word) == 1, screen
    term.keys("Enter")
    assert b.read_lines(1, 5) == ["now typing 你好".encode()]
    _, screen = term.wait_for(r"^> now typing 你好\n>", timeout=5)
    assert screen.count("now typing") == 1, screen


def test_no_prompt_left_before_stats_and_the_shell(pair):
    """Point 4: --stats and the shell's next prompt started after a leftover "> "."""
    term, b = pair("--stats")
    term.keys("typed but not sent", literal=True)
    term.wait_for(r"^> typed but not sent$")
    term.keys("C-c")
    assert b.wait_exit(5) == 0
    _, screen = term.wait_for(r"^EXIT=0$", timeout=5)
    lines = screen.splitlines()
    stats = [x for x in lines if "stats: datagrams" in x]
    assert stats and stats[0].startswith("netlab-chat: stats:"), screen
    assert not any(x.startswith(">") for x in lines), screen
    # The half-typed line is not silently dropped.
    assert "(not sent) typed but not sent" in screen, screen


NASTY_NAME = "b\x1b]2;pwned\x07\x1b[31mob"
NASTY_TEXT = b"\x1b[2J\x1b[31mred\x9b\xc2\x9b\x7f\x07\xff end \xe4\xbd\xa0\xe5\xa5\xbd"
SHOWN_TEXT = r"^[[2J^[[31mred\x9B<U+009B>^?^G\xFF end 你好"


def nasty_peer(port):
    return Chat(["--bind", "127.0.0.1:0", "--peer", "127.0.0.1:%s" % port, "--name", NASTY_NAME])


@pytest.mark.parametrize("stdin", ["terminal", "pipe"])
def test_peer_control_characters_are_shown_not_obeyed(stdin):
    """Point 5: with stdin a pipe but stdout a terminal (`sleep 20 | netlab-chat`), the peer's
    text and name went to the terminal raw: it could clear the screen, recolour it, retitle
    the window. Whenever stdout is a terminal, control characters (C0, C1, DEL, the ESC of
    every sequence) and bytes that are not UTF-8 are shown as visible placeholders; Chinese
    stays; a Windows peer's CR before the line end is not shown."""
    term = chat_in_tmux(prefix="sleep 20 |" if stdin == "pipe" else "")
    b = None
    try:
        m, _ = term.wait_for(r"listening on 127\.0\.0\.1:(\d+)")
        title = term.pane_title()
        b = nasty_peer(m.group(1))
        term.wait_for(r"\*\*\* b\^\[\]2;pwned\^G\^\[\[31mob joined")
        b.send(NASTY_TEXT)
        b.send(b"from windows\r")
        _, screen = term.wait_for(r"from windows$")
        assert SHOWN_TEXT in screen, screen
        assert term.pane_title() == title
        assert "\r" not in screen
    finally:
        if b is not None:
            b.close()
        reports = sanitizer_reports(term)
        term.close()
        assert reports == "", reports


def test_closing_the_terminal_leaves_like_q(pair):
    """Point 6: SIGHUP (the terminal closed) killed the chat without a BYE; the peer waited
    for its 5 s and exited 3. Now the peer learns at once that we left and exits 0."""
    term, b = pair()
    term.keys("half typed", literal=True)
    term.wait_for(r"^> half typed$")
    t0 = time.monotonic()
    term.close()  # the pty goes away: SIGHUP
    assert b.wait_exit(4) == 0
    assert time.monotonic() - t0 < 3.0
    b.wait_err("alice left the chat")


def test_resize_keeps_the_line(pair):
    """Attack: the window shrinks and grows while a wrapped line is half typed, and a message
    arrives: the line survives intact and Enter sends exactly it."""
    term, b = pair()
    text = "wrap " * 40 + "X"
    term.keys(text, literal=True)
    term.wait_for(r" X$")
    term.resize(37, 15)
    b.send("after shrink")
    term.wait_for(r"bob: after shrink")
    term.resize(120, 20)
    b.send("after growth")
    term.wait_for(r"bob: after growth")
    term.keys("end", literal=True)
    term.keys("Enter")
    assert b.read_lines(1, 5) == [(text + "end").encode()]


def test_binary_paste_and_escape_keys_keep_the_chat_alive(pair):
    """Attack: a paste of every byte value, then a lone ESC, Ctrl-R and Ctrl-V (key commands
    that wait for one more key) left waiting longer than --peer-lost: no crash, no stall. The
    session keeps answering while a command waits, so the peer does not count us as lost;
    messages that arrive meanwhile are shown once the command ends, in order. A lone ESC (not
    followed by the rest of a key's sequence) is given up by itself and holds nothing back."""
    term, b = pair("--peer-lost", "2000", bob_extra=["--peer-lost", "2000"])
    # Without the bytes that are keys with a meaning of their own: Ctrl-C, Ctrl-\\ (leave),
    # Ctrl-D, CR and LF (end the line). Ctrl-S is among them: flow control is off.
    term.paste(bytes(b for b in range(256) if b not in b"\x03\x1c\x04\r\n"))
    term.keys("C-u")  # kill the line
    term.keys("after paste", literal=True)
    term.wait_for(r"^> after paste$")
    term.keys("C-u")
    term.keys("Escape")
    b.send("after a lone ESC")
    term.wait_for(r"bob: after a lone ESC", timeout=5)
    for key in ["C-r", "C-v"]:
        term.keys(key)
        b.send("while %s waits" % key)
        time.sleep(2.5)  # longer than --peer-lost: the session must keep answering
        assert b.p.poll() is None, "bob gave up on alice: %r" % b.err_lines
        term.keys("C-g")  # ends the command
        term.wait_for(r"bob: while %s waits" % key, timeout=5)
        term.keys("C-u")
    term.keys("still fine", literal=True)
    term.keys("Enter")
    assert b.read_lines(1, 5) == [b"still fine"]


def test_keys_pressed_while_leaving_reach_neither_screen_nor_shell():
    """Attack: the peer is frozen (SIGSTOP), so leaving waits for a BYE-ACK that never comes
    (4 s, then exit 3). Keys pressed meanwhile, Ctrl-C again among them, must not be echoed
    over the status lines, and must not reach the shell afterwards as a command line."""
    if shutil.which("tmux") is None:
        pytest.skip("SKIP: tmux is not installed (Debian: tmux)")
    logs, env = sanitizer_env()
    term = Tmux(["sh", "-c", 'trap "" INT; env LC_ALL=C.UTF-8 %s "$0" "$@"; echo "EXIT=$?"; '
                 'read -r x; echo "SHELL GOT [$x]"' % " ".join("%s=%s" % kv for kv in env.items()),
                 CHAT, "--bind", "127.0.0.1:0", "--name", "alice"])
    term.san_logs = logs
    b = None
    try:
        m, _ = term.wait_for(r"listening on 127\.0\.0\.1:(\d+)")
        b = Chat(["--bind", "127.0.0.1:0", "--peer", "127.0.0.1:%s" % m.group(1), "--name",
                  "bob"])
        term.wait_for(r"\*\*\* bob joined")
        b.p.send_signal(signal.SIGSTOP)
        term.keys("q", literal=True)
        term.keys("Enter")
        term.keys("C-c")
        term.keys("leaked", literal=True)
        term.keys("Enter")
        m, screen = term.wait_for(r"^EXIT=(\d+)$", timeout=10)
        assert m.group(1) == "3", screen
        assert "leaked" not in screen and "^C" not in screen, screen
        term.keys("ok", literal=True)
        term.keys("Enter")
        _, screen = term.wait_for(r"^SHELL GOT \[.*\]$", timeout=5)
        assert "SHELL GOT [ok]" in screen, screen
    finally:
        if b is not None:
            b.p.send_signal(signal.SIGCONT)
            b.close()
        reports = sanitizer_reports(term)
        term.close()
        assert reports == "", reports


def test_paste_storm_while_flooded(pair):
    """Attack: 300 lines of 1,000 bytes pasted at once (more than the session's send queue
    holds: the rest waits in order) while the peer sends 200 messages: every line arrives, in
    order, and every message is received; then a normal exit."""
    term, b = pair("--stats")
    lines = ["line %04d " % i + "x" * 990 for i in range(300)]
    term.paste("\n".join(lines) + "\n")
    for i in range(200):
        b.p.stdin.write(b"flood %d\n" % i)
    b.p.stdin.flush()
    assert b.read_lines(300, 60) == [x.encode() for x in lines]
    term.wait_for(r"bob: flood 199$", timeout=20, joined=True)
    term.keys("C-d")
    assert b.wait_exit(10) == 0
    _, screen = term.wait_for(r"^EXIT=0$", timeout=10)
    assert re.search(r"messages in 200, out 300", screen), screen


def pane_child(term):
    """The PID of the program the pane's shell started (netlab-chat: env execs it)."""
    r = subprocess.run(term.t + ["display-message", "-p", "-t", "chat", "#{pane_pid}"],
                       capture_output=True, text=True, timeout=10, check=True)
    shell = r.stdout.strip()
    with open("/proc/%s/task/%s/children" % (shell, shell)) as f:
        kids = f.read().split()
    assert len(kids) == 1, kids
    return int(kids[0])


def test_line_typed_after_the_peer_left_is_refused_and_counted(pair):
    """Merge of chat-proto and chat-term: after the peer's BYE the session only finishes what it
    had, so a line typed then cannot go. It said "message not sent: cannot send after socket
    shutdown" and the exit status was 0. Now the screen says plainly that the peer has left,
    and at exit the line is counted and the status is 4 (not everything was sent). To hold
    that moment open, alice is stopped until bob's BYE is on its way, then bob is stopped so
    that alice's own goodbye waits."""
    term, b = pair(bob_extra=("--trace",))
    alice = pane_child(term)
    stopped = []
    try:
        os.kill(alice, signal.SIGSTOP)
        stopped.append(alice)
        b.p.stdin.close()  # end of bob's input: bob leaves, its BYE goes out
        b.wait_err(r"frame-out\(\d+, BYE ")
        b.wait_err(r"sendto\(\d+, \d+ bytes")  # the trace line comes before the datagram
        b.p.send_signal(signal.SIGSTOP)
        stopped.append(b.p.pid)
        os.kill(alice, signal.SIGCONT)
        stopped.remove(alice)
        term.wait_for(r"\*\*\* bob left the chat$")
        term.keys("too late", literal=True)
        term.keys("Enter")
        _, screen = term.wait_for(r"\*\*\* not sent: bob has left the chat")
        assert "cannot send after socket shutdown" not in screen, screen
        b.p.send_signal(signal.SIGCONT)
        stopped.remove(b.p.pid)
        assert b.wait_exit(5) == 0
        m, screen = term.wait_for(r"^EXIT=(\d+)$", timeout=10)
        assert m.group(1) == "4", screen
        assert "bob left before 1 typed line was sent: not sent" in screen, screen
        assert b.rest_of_output() == [], "the refused line reached bob"
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
