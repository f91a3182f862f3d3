"""netlab-chat's life cycle without a terminal (issue 10): signals, closed or odd standard
descriptors, end of input before a peer, CRLF input, a long $USER, and standard output that
cannot be written. Every process is reaped by PID; every wait has a deadline."""

import os
import signal
import subprocess
import time

from chatlib import CHAT, Chat


def run_sh(script, env=None, timeout=10):
    """Run a shell command line (for redirections such as <&-) and return (rc, stdout, stderr).
    A program that does not end in time is killed by PID, and the test fails."""
    p = subprocess.Popen(["sh", "-c", script, CHAT], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        raise AssertionError("still running after %ss: %r %r" % (timeout, out, err))
    return p.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def test_end_of_input_before_a_peer_ends_the_chat():
    """Point 8: `netlab-chat --bind ... </dev/null` with no peer waited forever with nothing
    to send. Now it says so and exits 0."""
    rc, _, err = run_sh('"$0" --bind 127.0.0.1:0 </dev/null')
    assert rc == 0, err
    assert "end of input before any peer joined" in err, err


def test_closed_stdin_is_end_of_input_not_the_socket():
    """Point 7: with stdin closed (<&-) the UDP socket became descriptor 0 and was read as the
    keyboard. Now closed stdin reads as end of input: the program leaves at once (point 8)."""
    rc, _, err = run_sh('"$0" --bind 127.0.0.1:0 <&-')
    assert rc == 0, err
    assert "end of input before any peer joined" in err, err


def test_closed_stdout_gets_no_socket():
    """Point 7: with stdout closed (>&-) the socket became descriptor 1, and messages received
    were written into it. Now 0-2 are never sockets, the user is warned, and the chat works."""
    a = Chat(["--bind", "127.0.0.1:0", "--name", "alice"], prefix=["sh", "-c", 'exec "$@" >&-',
                                                                  "sh"])
    b = None
    try:
        a.wait_err("standard output was closed")
        port = a.port()
        for fd in (0, 1, 2):
            target = os.readlink("/proc/%d/fd/%d" % (a.p.pid, fd))
            assert not target.startswith("socket:"), (fd, target)
        # bob traces its frames, to know when alice has taken its line: had she left before,
        # the line would be unsent and bob would rightly exit 4.
        b = Chat(["--bind", "127.0.0.1:0", "--peer", "127.0.0.1:%d" % port, "--name", "bob",
                  "--trace"])
        a.wait_err("bob joined")
        a.send("hello bob")
        assert b.read_lines(1, 5) == [b"hello bob"]
        b.send("into the void")
        b.wait_err(r"frame-in\(\d+, ACK seq 1 ")  # alice acknowledged it
        a.p.stdin.close()  # end of input: alice leaves
        assert a.wait_exit(5) == 0
        assert b.wait_exit(5) == 0
    finally:
        a.kill()
        if b is not None:
            b.close()


def test_sighup_leaves_like_q():
    """Point 6: SIGHUP sent no BYE; the peer waited 5 s and exited 3. Now it leaves like q."""
    a = Chat(["--bind", "127.0.0.1:0", "--name", "alice"])
    b = None
    try:
        port = a.port()
        b = Chat(["--bind", "127.0.0.1:0", "--peer", "127.0.0.1:%d" % port, "--name", "bob"])
        a.wait_err("bob joined")
        b.wait_err("alice joined")
        t0 = time.monotonic()
        a.p.send_signal(signal.SIGHUP)
        assert a.wait_exit(5) == 0
        assert b.wait_exit(5) == 0
        assert time.monotonic() - t0 < 3.0
        b.wait_err("alice left the chat")
    finally:
        a.close()
        if b is not None:
            b.close()


def test_crlf_input_sends_no_cr():
    """Point 5: lines from a Windows file (CRLF) were sent with a stray CR at the end."""
    a = Chat(["--bind", "127.0.0.1:0", "--name", "alice"])
    b = None
    try:
        port = a.port()
        b = Chat(["--bind", "127.0.0.1:0", "--peer", "127.0.0.1:%d" % port, "--name", "bob"])
        b.p.stdin.write(b"windows line\r\nsecond\r\nlast without newline\r")
        b.p.stdin.close()
        assert a.read_lines(3, 5) == [b"windows line", b"second", b"last without newline"]
        assert b.wait_exit(5) == 0
    finally:
        a.close()
        if b is not None:
            b.close()


def test_pipe_output_stays_verbatim():
    """The other side of point 5: when stdout is not a terminal, text is data and passes
    byte for byte (control characters, CR and invalid UTF-8 included)."""
    a = Chat(["--bind", "127.0.0.1:0", "--name", "alice"])
    b = None
    raw = b"\x1b[31mred\x07\x9b\xff\xe4\xbd\xa0\r"
    try:
        port = a.port()
        b = Chat(["--bind", "127.0.0.1:0", "--peer", "127.0.0.1:%d" % port, "--name", "bob"])
        b.p.stdin.write(raw + b"X\n")
        b.p.stdin.flush()
        assert a.read_lines(1, 5) == [raw + b"X"]
    finally:
        a.close()
        if b is not None:
            b.close()


def test_long_user_name_is_shortened_not_refused():
    """Point 11: a $USER over 64 bytes gave exit 2 complaining about --name, never given. The
    default is shortened at a character boundary; an explicit long --name stays an error."""
    user = "用户" * 12  # 72 bytes: shortened to 21 characters, 63 bytes
    env = dict(os.environ, USER=user)
    a = subprocess.Popen([CHAT, "--bind", "127.0.0.1:0"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    b = None
    try:
        line = a.stderr.readline().decode()
        assert "listening on 127.0.0.1:" in line, (line, a.stderr.read())
        port = int(line.split("127.0.0.1:")[1].split(",")[0])
        b = Chat(["--bind", "127.0.0.1:0", "--peer", "127.0.0.1:%d" % port, "--name", "bob"])
        m = b.wait_err(r"\*\*\* (.*) joined from")
        assert m.group(1) == user[:21], m.group(1)
    finally:
        a.kill()
        a.wait(timeout=5)
        for f in (a.stdin, a.stdout, a.stderr):
            f.close()
        if b is not None:
            b.close()
    rc, _, err = run_sh('"$0" --bind 127.0.0.1:0 --name %s </dev/null' % ("x" * 65))
    assert rc == 2 and "--name" in err, (rc, err)


def test_unwritable_stdout_is_said_and_ends_the_chat():
    """Attack: stdout is /dev/full. A message that cannot be written is not lost silently: the
    program says so, leaves (the peer learns it) and exits 1."""
    a = Chat(["--bind", "127.0.0.1:0", "--name", "alice"],
             prefix=["sh", "-c", 'exec "$@" >/dev/full', "sh"])
    b = None
    try:
        port = a.port()
        b = Chat(["--bind", "127.0.0.1:0", "--peer", "127.0.0.1:%d" % port, "--name", "bob"])
        a.wait_err("bob joined")
        b.send("lost?")
        a.wait_err("cannot write a received message to standard output")
        assert a.wait_exit(5) == 1
        assert b.wait_exit(5) == 0
        b.wait_err("alice left the chat")
    finally:
        a.close()
        if b is not None:
            b.close()


def test_kill_9_is_seen_as_a_lost_peer():
    """Attack: kill -9 cannot be caught; the peer must still end, with status 3 and a word,
    after --peer-lost."""
    a = Chat(["--bind", "127.0.0.1:0", "--name", "alice", "--peer-lost", "1000"])
    b = None
    try:
        port = a.port()
        b = Chat(["--bind", "127.0.0.1:0", "--peer", "127.0.0.1:%d" % port, "--name", "bob",
                  "--peer-lost", "1000"])
        a.wait_err("bob joined")
        a.p.kill()
        a.p.wait(timeout=5)
        assert b.wait_exit(5) == 3
        b.wait_err("stopped answering")
    finally:
        a.close()
        if b is not None:
            b.close()
