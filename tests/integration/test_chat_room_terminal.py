"""netlab-chat's room mode on a real terminal (tmux, so libedit really edits), host and member:
the same terminal as the point-to-point chat (examples/chat_term.c). Before, room mode read
lines with read(2) and printed what arrived straight into the line being typed ("half typedann:
?]0;pwned??[2Jclear"): no prompt, Enter then sent a line the screen did not show, and control
characters became '?'. Now: a prompt, incoming lines above it, what the screen shows is what
Enter sends, 10,000-character pasted lines intact, a line over the room's limit refused and kept,
the others' control characters shown as ^[ ..., closing the host's terminal ends the room."""

import re
import shutil
import time

import pytest

from chatlib import CHAT, Chat
from test_chat_terminal import Tmux, last_lines, sanitizer_env, sanitizer_reports

TEXT_MAX = 65536 - 10 - (64 + 12)  # nl_chat_room_send()'s limit (lib/chat_room.c)
NASTY_NAME = "b\x1b]2;pwned\x07\x1b[31mob"
NASTY_TEXT = b"\x1b]0;pwned\x07\x1b[2Jclear\x9b\xc2\x9b\x7f\xff \xe4\xbd\xa0\xe5\xa5\xbd"
SHOWN_TEXT = r"^[]0;pwned^G^[[2Jclear\x9B<U+009B>^?\xFF 你好"


def room_in_tmux(*args, prefix="", width=100, height=20):
    """netlab-chat in a terminal of its own, with the given room arguments."""
    if shutil.which("tmux") is None:
        pytest.skip("SKIP: tmux is not installed (Debian: tmux)")
    logs, env = sanitizer_env()
    envs = ["%s=%s" % kv for kv in env.items()]
    t = Tmux(["sh", "-c", 'trap "" INT; %s env LC_ALL=C.UTF-8 %s "$0" "$@"; echo "EXIT=$?"'
              % (prefix, " ".join(envs)), CHAT, "--bind", "127.0.0.1:0"] + list(args),
             width=width, height=height)
    t.san_logs = logs
    return t


@pytest.fixture
def room():
    """Terminals and pipe-mode members, all torn down (by PID, tmux by its own server)."""
    terms, chats = [], []

    def term(*args, **kw):
        t = room_in_tmux(*args, **kw)
        terms.append(t)
        return t

    def chat(*args):
        c = Chat(["--bind", "127.0.0.1:0"] + list(args))
        chats.append(c)
        return c

    yield term, chat
    for c in chats:
        c.close()
    reports = ""
    for t in terms:
        reports += sanitizer_reports(t)
        t.close()
    assert reports == "", reports


def host_addr_on_screen(term):
    m, _ = term.wait_for(r"join with --join (127\.0\.0\.1:\d+)")
    return m.group(1)


def test_host_typing_is_not_cut_by_incoming_lines(room):
    """The observed defect: the host typing "half typed" when a member's message arrives. The
    message goes above the prompt, the ESC sequences in it shown as ^[, the typed line stays
    whole on the last row, and Enter sends exactly it (the member gets "teacher: ...")."""
    term, chat = room
    h = term("--room", "class", "--name", "teacher")
    addr = host_addr_on_screen(h)
    ann = chat("--join", addr, "--name", "ann")
    h.wait_for(r"\*\*\* ann joined$")
    ann.wait_err(r"in the room of teacher")
    h.keys("half typed 你好", literal=True)
    h.wait_for(r"^> half typed 你好$")
    ann.send(NASTY_TEXT)
    _, screen = h.wait_for(r"^\[\d\d:\d\d:\d\d\] ann: .*你好$")
    assert SHOWN_TEXT in screen, screen
    assert last_lines(screen, 1) == ["> half typed 你好"], screen
    h.keys(" more", literal=True)
    h.keys("Enter")
    assert ann.read_lines(1, 5) == ["teacher: half typed 你好 more".encode()]
    # Ctrl-C ends the room for everyone; no prompt is left before the shell's.
    h.keys("C-c")
    assert ann.wait_exit(5) == 0, ann.err_lines
    assert any(b"room closed by teacher" in x for x in ann.err_lines)
    m, screen = h.wait_for(r"^EXIT=(\d+)$", timeout=8)
    assert m.group(1) == "0", screen
    assert not any(x.rstrip() == ">" for x in screen.splitlines()), screen


def test_member_pastes_long_lines_intact_and_over_the_limit_kept(room):
    """A member pastes 10,000 characters plus Chinese: the host and the other members get it
    intact. A line over the room's limit (65,450 bytes) is refused with a notice and stays on
    the line; one character less and it goes."""
    term, chat = room
    h = chat("--room", "class", "--name", "teacher")
    addr = h.wait_err(r"join with --join (\S+)").group(1)
    bob = chat("--join", addr, "--name", "bob")
    bob.wait_err(r"in the room of teacher")
    m = term("--join", addr, "--name", "ann")
    m.wait_for(r"in the room of teacher")
    m.wait_for(r"^>\s*$")
    line = "".join(chr(ord("a") + i % 26) for i in range(9996)) + "中文END"
    m.paste(line)
    m.wait_for(r"中文END$", timeout=20, joined=True)
    m.keys("Enter")
    assert h.read_lines(1, 20) == [("ann: " + line).encode()]
    assert bob.read_lines(1, 20) == [("ann: " + line).encode()]
    over = "中" * (TEXT_MAX // 3) + "xyz"  # 65,451 bytes
    m.paste(over)
    m.wait_for(r"中xyz$", timeout=30, joined=True)
    m.keys("Enter")
    m.wait_for(r"over the %d limit of a message: not sent" % TEXT_MAX, timeout=10, joined=True)
    m.wait_for(r"中xyz$", timeout=10, joined=True)
    m.keys("BSpace")
    m.keys("Enter")
    got = h.read_lines(1, 20)[0]
    assert got == ("ann: " + over[:-1]).encode(), (len(got), got[-20:])
    assert bob.read_lines(1, 20)[0] == got
    # The editor still works; Ctrl-D leaves (only ann), and nothing of the prompt is left.
    m.keys("after", literal=True)
    m.keys("Enter")
    assert h.read_lines(1, 5) == [b"ann: after"]
    m.keys("C-d")
    h.wait_err(r"\*\*\* ann left")
    m2, screen = m.wait_for(r"^EXIT=(\d+)$", timeout=8)
    assert m2.group(1) == "0", screen
    assert not any(x.rstrip() == ">" for x in screen.splitlines()), screen


def test_member_sees_names_and_text_as_placeholders_then_q(room):
    """The host's and another member's control characters (in a name, in text) reach a member's
    terminal as ^[ ..., never as escape sequences: the window's title stays. q leaves; --stats
    then starts at the left margin."""
    term, chat = room
    h = chat("--room", "class", "--name", "teacher")
    addr = h.wait_err(r"join with --join (\S+)").group(1)
    m = term("--join", addr, "--name", "ann", "--stats")
    m.wait_for(r"in the room of teacher")
    title = m.pane_title()
    nasty = chat("--join", addr, "--name", NASTY_NAME)
    m.wait_for(r"\*\*\* b\^\[\]2;pwned\^G\^\[\[31mob joined$")
    m.keys("typing", literal=True)
    m.wait_for(r"^> typing$")
    nasty.send(NASTY_TEXT)
    _, screen = m.wait_for(r"\] b\^\[\]2;pwned\^G\^\[\[31mob: .*你好$")
    assert SHOWN_TEXT in screen, screen
    h.send(b"\x1b[2Jfrom the host")
    _, screen = m.wait_for(r"\] teacher: \^\[\[2Jfrom the host$")
    assert last_lines(screen, 1) == ["> typing"], screen
    assert m.pane_title() == title
    m.keys("C-u")
    m.keys("q", literal=True)
    m.keys("Enter")
    h.wait_err(r"\*\*\* ann left")
    m2, screen = m.wait_for(r"^EXIT=(\d+)$", timeout=8)
    assert m2.group(1) == "0", screen
    stats = [x for x in screen.splitlines() if "room stats" in x]
    assert stats and stats[0].startswith("netlab-chat: room stats:"), screen


def test_pipe_member_on_a_terminal_shows_placeholders(room):
    """stdin a pipe, stdout a terminal (`sleep 20 | netlab-chat --join ...`): pipe mode, but the
    text and the names are shown with the same placeholders as on an interactive terminal."""
    term, chat = room
    h = chat("--room", "class", "--name", "teacher")
    addr = h.wait_err(r"join with --join (\S+)").group(1)
    m = term("--join", addr, "--name", "ann", prefix="sleep 20 |")
    m.wait_for(r"in the room of teacher")
    nasty = chat("--join", addr, "--name", NASTY_NAME)
    m.wait_for(r"\*\*\* b\^\[\]2;pwned\^G\^\[\[31mob joined$")
    nasty.send(NASTY_TEXT)
    _, screen = m.wait_for(r"^b\^\[\]2;pwned\^G\^\[\[31mob: .*你好$")
    assert SHOWN_TEXT in screen, screen


def test_closing_the_hosts_terminal_ends_the_room(room):
    """SIGHUP (the host's window closed) leaves like q: the room ends for everyone at once, the
    members say so and exit 0 (not 3 after the peer-lost time)."""
    term, chat = room
    h = term("--room", "class", "--name", "teacher")
    addr = host_addr_on_screen(h)
    ms = [chat("--join", addr, "--name", n) for n in ("ann", "bob")]
    for m in ms:
        m.wait_err(r"in the room of teacher")
    h.keys("half typed", literal=True)
    h.wait_for(r"^> half typed$")
    t0 = time.monotonic()
    h.close()  # the pty goes away: SIGHUP
    for m in ms:
        assert m.wait_exit(4) == 0, m.err_lines
        assert any(b"room closed by teacher" in x for x in m.err_lines), m.err_lines
    assert time.monotonic() - t0 < 4.0


def test_member_typing_survives_and_sighup_leaves(room):
    """A member typing while the host and another member talk: the line stays intact and Enter
    sends exactly it; closing the member's window leaves the room (the host says so) and the
    room goes on."""
    term, chat = room
    h = chat("--room", "class", "--name", "teacher")
    addr = h.wait_err(r"join with --join (\S+)").group(1)
    m = term("--join", addr, "--name", "ann")
    m.wait_for(r"in the room of teacher")
    bob = chat("--join", addr, "--name", "bob")
    m.wait_for(r"\*\*\* bob joined$")
    m.keys("ann types 你好", literal=True)
    m.wait_for(r"^> ann types 你好$")
    for i in range(5):
        bob.send("bob %d" % i)
        h.send("host %d" % i)
    _, screen = m.wait_for(r"teacher: host 4$")
    m.wait_for(r"bob: bob 4$")
    _, screen = m.wait_for(r"^> ann types 你好$")
    assert last_lines(screen, 1) == ["> ann types 你好"], screen
    m.keys("Enter")
    for c in (h, bob):  # 5 lines from the others, then ann's: exactly what was on screen
        got = [x for x in c.read_lines(6, 5) if x.startswith(b"ann:")]
        assert got == ["ann: ann types 你好".encode()], got
    m.close()  # SIGHUP: ann leaves, the room goes on
    h.wait_err(r"\*\*\* ann left", 4)
    bob.send("still here")
    assert h.read_lines(1, 5) == [b"bob: still here"]


def test_member_paste_storm_arrives_whole_and_in_order(room):
    """300 pasted lines of 1,000 bytes (more than the queue to the host holds: the rest waits
    in order in the terminal's queue) while the host sends 100 messages: every line reaches the
    host once and in order, every message reaches the member, then a normal exit."""
    term, chat = room
    h = chat("--room", "class", "--name", "teacher")
    addr = h.wait_err(r"join with --join (\S+)").group(1)
    m = term("--join", addr, "--name", "ann")
    m.wait_for(r"in the room of teacher")
    lines = ["line %04d " % i + "x" * 990 for i in range(300)]
    m.paste("\n".join(lines) + "\n")
    for i in range(100):
        h.p.stdin.write(b"flood %d\n" % i)
    h.p.stdin.flush()
    assert h.read_lines(300, 60) == [("ann: " + x).encode() for x in lines]
    m.wait_for(r"teacher: flood 99$", timeout=20, joined=True)
    m.keys("C-d")
    h.wait_err(r"\*\*\* ann left", 10)
    m2, screen = m.wait_for(r"^EXIT=(\d+)$", timeout=10)
    assert m2.group(1) == "0", screen
