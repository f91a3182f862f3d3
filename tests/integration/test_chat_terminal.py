"""netlab-chat on a real terminal (tmux): a message that arrives while a line is half typed is
printed above the prompt, with the peer's name and the time, and the half-typed line survives
intact; Ctrl-C leaves gracefully and the peer exits too."""

import os
import re
import shutil
import subprocess
import time

import pytest

from chatlib import CHAT, Chat


class Tmux:
    count = 0

    def __init__(self, argv):
        # A tmux server of its own for each terminal: kill-server returns before the old
        # server has gone, and a new session on the same socket then races with its exit.
        Tmux.count += 1
        self.sock = "nlchat-test-%d-%d" % (os.getpid(), Tmux.count)
        self.t = ["tmux", "-u", "-L", self.sock, "-f", "/dev/null"]
        subprocess.run(self.t + ["new-session", "-d", "-s", "chat", "-x", "100", "-y", "20"]
                       + argv + [";", "set-option", "-t", "chat", "remain-on-exit", "on"],
                       check=True, timeout=10)

    def screen(self):
        r = subprocess.run(self.t + ["capture-pane", "-p", "-t", "chat"], capture_output=True,
                           text=True, timeout=10)
        return r.stdout

    def wait_for(self, pattern, timeout=5.0):
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern, re.M)
        while time.monotonic() < deadline:
            text = self.screen()
            m = rx.search(text)
            if m:
                return m, text
            time.sleep(0.05)  # polling the screen: tmux has no event for "text appeared"
        raise AssertionError("screen never matched %r:\n%s" % (pattern, self.screen()))

    def keys(self, *keys, literal=False):
        subprocess.run(self.t + ["send-keys", "-t", "chat"] + (["-l"] if literal else [])
                       + list(keys), check=True, timeout=10)

    def close(self):
        subprocess.run(self.t + ["kill-server"], capture_output=True, timeout=10)


def chat_in_tmux():
    if shutil.which("tmux") is None:
        pytest.skip("SKIP: tmux is not installed (Debian: tmux)")
    # A shell that ignores Ctrl-C itself reports the exit status on the screen (tmux's own
    # pane_dead_status is not reliably set when the terminal closes first).
    return Tmux(["sh", "-c", 'trap "" INT; env LC_ALL=C.UTF-8 "$0" "$@"; echo "EXIT=$?"', CHAT,
                 "--bind", "127.0.0.1:0", "--name", "alice"])


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
