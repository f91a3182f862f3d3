"""The example programs under valgrind memcheck: no invalid reads or writes, no leaks.

netlab-demo and the clients exit on their own, so --error-exitcode decides; the servers run
until stopped, so they get SIGTERM (by PID) and their log's summaries are checked instead.
"""
import os
import re
import socket
import subprocess

import pytest

from conftest import (CHINESE, TIMEOUT, connect_tcp, program, recv_exactly, start_tcp_server,
                      start_udp_server)

# CMake registers this test only when it found valgrind, and passes its path.
VALGRIND = os.environ.get("NETLAB_VALGRIND")

# Valgrind slows programs down a lot; give every exit more time than the other tests do.
SLOW = 6 * TIMEOUT


def memcheck(log):
    if not VALGRIND:
        pytest.fail("NETLAB_VALGRIND is not set (run this test through ctest)")
    return [VALGRIND, "--error-exitcode=1", "--leak-check=full", f"--log-file={log}"]


def check_log(log, exited_by_signal=False):
    with open(log) as f:
        text = f.read()
    m = re.search(r"ERROR SUMMARY: (\d+) errors", text)
    assert m and m.group(1) == "0", text
    if exited_by_signal:
        assert "Process terminating with default action of signal 15" in text, text
    # Either every block was freed, or none was lost (a server stopped by a signal still holds
    # its handle, which is reachable, not leaked).
    assert ("All heap blocks were freed" in text
            or re.search(r"definitely lost: 0 bytes", text)), text
    assert not re.search(r"(definitely|indirectly|possibly) lost: [1-9]", text), text


def test_examples_under_memcheck(procs, tmp_path):
    # netlab-demo: both flows, the transcript and exit 0, with no memcheck error.
    log = tmp_path / "demo.log"
    demo = procs.start([*memcheck(log), program("demo")], stdin=subprocess.DEVNULL)
    assert demo.wait(SLOW) == 0, (demo.out.text(), log.read_text())
    assert "demo finished: every flow worked" in demo.out.text()
    check_log(log)

    # The UDP server with a normal and an oversized datagram, and the UDP client feeding it.
    srv_log = tmp_path / "udp-server.log"
    server, port = start_udp_server(procs, wrapper=memcheck(srv_log))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"y" * 2000, ("127.0.0.1", port))
        assert server.out.read_line(SLOW) is not None
    log = tmp_path / "udp-client.log"
    client = procs.start([*memcheck(log), program("udp_client"), "--trace", "127.0.0.1", port],
                         input=(CHINESE + "\nq\n").encode())
    assert client.wait(SLOW) == 0, log.read_text()
    assert server.out.read_line(SLOW).endswith(f": {CHINESE}".encode())
    check_log(log)
    server.popen.terminate()
    server.wait(SLOW)
    check_log(srv_log, exited_by_signal=True)

    # The TCP server echoing to the TCP client, plus a client that vanishes at once.
    srv_log = tmp_path / "tcp-server.log"
    server, port = start_tcp_server(procs, wrapper=memcheck(srv_log), extra=["--trace"])
    log = tmp_path / "tcp-client.log"
    client = procs.start([*memcheck(log), program("tcp_client"), "127.0.0.1", port],
                         input=("hello\n" + CHINESE + "\n" + "z" * 3000 + "\nq\n").encode())
    assert client.wait(SLOW) == 0, log.read_text()
    assert client.out.data() == ("hello\n" + CHINESE + "\n" + "z" * 3000 + "\n").encode()
    check_log(log)
    with connect_tcp("127.0.0.1", port, timeout=SLOW) as c:
        c.sendall(b"last")
        assert recv_exactly(c, 4, timeout=SLOW) == b"last"
    server.popen.terminate()
    server.wait(SLOW)
    check_log(srv_log, exited_by_signal=True)

    # A usage error path: exit 2 and nothing for memcheck to complain about.
    log = tmp_path / "usage.log"
    bad = procs.start([*memcheck(log), program("tcp_client"), "999.1.1.1", "9000"],
                      stdin=subprocess.DEVNULL)
    assert bad.wait(SLOW) == 2
    check_log(log)


@pytest.mark.parametrize("mode", ["reliable", "keyed", "plain"])
def test_chat_under_memcheck(tmp_path, mode):
    # Two netlab-chat processes, both under memcheck: the handshake, messages both ways (one
    # of 10,000 bytes, so fragments and reassembly run), the synchronized exit, --stats.
    from chatlib import Chat, big_message

    extra = {"reliable": [], "plain": ["--plain"], "keyed": ["--key-file", tmp_path / "k"]}[mode]
    if mode == "keyed":
        (tmp_path / "k").write_text("0123456789abcdef" * 4 + "\n")
        os.chmod(tmp_path / "k", 0o600)
    extra = [str(x) for x in extra]
    logs = [tmp_path / "chat-a.log", tmp_path / "chat-b.log"]
    a = Chat(["--bind", "127.0.0.1:0", "--stats", *extra], prefix=memcheck(logs[0]))
    b = None
    try:
        pa = int(a.wait_err(r"listening on [0-9.]+:(\d+)", timeout=SLOW).group(1))
        b = Chat(["--bind", "127.0.0.1:0", "--peer", "127.0.0.1:%d" % pa, "--stats", *extra],
                 prefix=memcheck(logs[1]))
        ours = ["hello", CHINESE] + ([] if mode == "plain" else [big_message()])
        if mode == "plain":
            b.send("first")  # a plain chat that waits locks onto the first datagram
            assert a.read_lines(1, SLOW) == [b"first"]
        for m in ours:
            a.send(m)
            b.send(m[::-1])
        assert b.read_lines(len(ours), SLOW) == [m.encode() for m in ours]
        assert a.read_lines(len(ours), SLOW) == [m[::-1].encode() for m in ours]
        a.send("q")
        assert (a.wait_exit(SLOW), b.wait_exit(SLOW)) == (0, 0), (a.err_lines, b.err_lines)
    finally:
        a.close()
        if b:
            b.close()
    for log in logs:
        check_log(log)


def test_echo_server_under_memcheck(procs, tmp_path):
    """netlab-echo-server: 20 clients at once, pipelined echoes, one that resets, then SIGTERM:
    it stops cleanly (exit 0) with every block freed and no memcheck error."""
    prog = os.environ.get("NETLAB_ECHO_SERVER")
    if not prog or not os.access(prog, os.X_OK):
        pytest.fail("NETLAB_ECHO_SERVER is not set to an executable (run through ctest)")
    log = tmp_path / "echo-server.log"
    server = procs.start([*memcheck(log), prog, "--host", "127.0.0.1", "--port", "0",
                          "--idle-timeout", "60000"])
    line = server.out.read_line(SLOW)
    assert line and line.startswith(b"listening on "), (line, server.err.text())
    port = int(line.rsplit(b":", 1)[1])
    clients = [connect_tcp("127.0.0.1", port, timeout=SLOW) for _ in range(20)]
    try:
        for i, c in enumerate(clients):
            c.sendall(f"{i} {CHINESE} ".encode() * 50)
        for i, c in enumerate(clients):
            want = f"{i} {CHINESE} ".encode() * 50
            assert recv_exactly(c, len(want), timeout=SLOW) == want
        clients[0].setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
    finally:
        for c in clients:
            c.close()
    server.popen.terminate()
    assert server.wait(SLOW) == 0, (server.err.text(), log.read_text())
    check_log(log)
    assert "All heap blocks were freed" in log.read_text(), log.read_text()


def test_chat_terminal_under_memcheck(tmp_path):
    # The interactive chat in tmux (a real libedit) under memcheck: a pasted 10,000-character
    # line, a message arriving while a line is half typed, Ctrl-D. AddressSanitizer cannot see
    # this: libedit is not instrumented, and its readline emulation wrote into a freed buffer
    # past 1 KiB unnoticed (issue 10); memcheck sees every write.
    import shutil
    from chatlib import CHAT, Chat
    from test_chat_terminal import Tmux

    if shutil.which("tmux") is None:
        pytest.skip("SKIP: tmux is not installed (Debian: tmux)")
    log = tmp_path / "chat-term.log"
    argv = memcheck(log)
    term = Tmux(["sh", "-c", 'env LC_ALL=C.UTF-8 "$@"; echo "EXIT=$?"', "sh", *argv, CHAT,
                 "--bind", "127.0.0.1:0", "--name", "alice"])
    b = None
    try:
        m, _ = term.wait_for(r"listening on 127\.0\.0\.1:(\d+)", timeout=SLOW)
        b = Chat(["--bind", "127.0.0.1:0", "--peer", "127.0.0.1:%s" % m.group(1)])
        term.wait_for(r"joined from", timeout=SLOW)
        line = "0123456789" * 999 + "中文END"
        term.paste(line)
        term.wait_for(r"END$", timeout=SLOW, joined=True)
        term.keys("Enter")
        assert b.read_lines(1, SLOW) == [line.encode()]
        term.keys("half", literal=True)
        b.send("while typing")
        term.wait_for(r"while typing$", timeout=SLOW)
        term.keys("C-u")
        term.keys("C-d")
        assert b.wait_exit(SLOW) == 0
        m, screen = term.wait_for(r"^EXIT=(\d+)$", timeout=SLOW)
        assert m.group(1) == "0", screen
    finally:
        if b is not None:
            b.close()
        term.close()
    check_log(log)
