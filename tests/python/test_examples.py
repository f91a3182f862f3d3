"""The course notes' four programs (examples/python/), run as they are with `import netlab as
socket`, against standard-library peers in both directions, with Chinese text; and the
two-thread chat example against itself.

Run through netns_exec.py, the programs keep their port 9000 inside a private network
namespace. Without one (NETLAB_TEST_NETNS unset) each program is copied with 9000 replaced by a
free port, the only change.
"""
import os
import re
import signal
import socket
import threading

import pytest

from conftest import EXAMPLES

IN_NETNS = os.environ.get("NETLAB_TEST_NETNS") == "1"
HELLO = "你好，世界"

# The notes' code lines (comments and blank lines left out), exactly as the notes have them but
# for the server address, which is the lecturer's LAN address there.
NOTES = {
    "udp_server.py": [
        "sd = socket.socket(type=socket.SOCK_DGRAM)",
        "sd.bind(('0.0.0.0', 9000))",
        "while True:",
        "data, addr = sd.recvfrom(1024)",
        'print("%s: %s" % (addr, data.decode()))',
        "sd.close()",
    ],
    "udp_client.py": [
        "sd = socket.socket(type=socket.SOCK_DGRAM)",
        "while True:",
        'data = input("请输入发送数据: ")',
        "if data == 'q':",
        "break",
        "sd.sendto(data.encode(), ('192.168.7.170', 9000))",
        "sd.close()",
    ],
    "tcp_server.py": [
        "sd = socket.socket()",
        "sd.bind(('0.0.0.0', 9000))",
        "sd.listen()",
        "while True:",
        "cli_sd, addr = sd.accept()",
        "data = cli_sd.recv(1024)",
        "cli.send(data)",
        "sd.close()",
    ],
    "tcp_client.py": [
        "sd = socket.socket()",
        "sd.connect(('192.168.7.170', 9000))",
        "while True:",
        'data = input("请输入发送数据: ")',
        "if data == 'q':",
        "break",
        "sd.send(data.encode())",
        "print(sd.recv(1024).decode())",
        "sd.close()",
    ],
}


def code_lines(path):
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


@pytest.mark.parametrize("name", sorted(NOTES))
def test_example_is_the_notes_program_with_one_line_changed(name):
    expected = ["import netlab as socket"] + [
        line.replace("192.168.7.170", "127.0.0.1").replace("cli.send(", "cli_sd.send(")
        for line in NOTES[name]]
    assert code_lines(EXAMPLES / name) == expected


@pytest.fixture
def course(tmp_path):
    """prepare(name, port=None) -> (program to run, its port). In a private namespace: the
    example file itself and 9000. Otherwise a copy moved to `port` (or a free one)."""

    def prepare(name, port=None):
        src = EXAMPLES / name
        if IN_NETNS:
            return src, 9000
        if port is None:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
        dst = tmp_path / name
        dst.write_text(src.read_text(encoding="utf-8").replace("9000", str(port)),
                       encoding="utf-8")
        return dst, port

    return prepare


def test_udp_server_example_receives_from_stdlib_client(course, procs):
    program, port = course("udp_server.py")
    server = procs([program])
    with socket.socket(type=socket.SOCK_DGRAM) as client:
        client.bind(("127.0.0.1", 0))
        me = client.getsockname()
        # The server has no "ready" signal of its own: probe until it echoes a probe line.
        for _ in range(100):
            client.sendto(b"probe", ("127.0.0.1", port))
            try:
                line = server.lines.get(timeout=0.1)
                break
            except Exception:
                continue
        else:
            pytest.fail("the UDP server never answered: " + "".join(server.err))
        assert line == "%s: probe\n" % (me,)
        while not server.lines.empty():
            server.lines.get_nowait()
        client.sendto(HELLO.encode(), ("127.0.0.1", port))
        client.sendto(b"second", ("127.0.0.1", port))
        assert server.line() == "%s: %s\n" % (me, HELLO)
        assert server.line() == "%s: second\n" % (me,)
    # Ctrl-C stops the server while it waits in recvfrom(), as with the stdlib.
    server.p.send_signal(signal.SIGINT)
    assert server.wait(timeout=5) != 0
    assert "KeyboardInterrupt" in "".join(server.err)


def test_udp_client_example_sends_to_stdlib_server(course, procs):
    with socket.socket(type=socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 9000 if IN_NETNS else 0))
        program, port = course("udp_client.py", server.getsockname()[1])
        server.settimeout(10)
        client = procs([program])
        client.write(HELLO + "\nhello\nq\n")
        assert client.wait(timeout=10) == 0, "".join(client.err)
        data, addr = server.recvfrom(1024)
        assert data.decode() == HELLO
        assert addr[0] == "127.0.0.1"
        assert server.recvfrom(1024) == (b"hello", addr)
    assert "".join(client.out).count("请输入发送数据: ") == 3


def test_tcp_server_example_echoes_to_stdlib_clients(course, procs):
    program, port = course("tcp_server.py")
    server = procs([program])
    # Wait for the listener: connect until it accepts (bounded), then one message per
    # connection, as the notes' server handles them.
    for attempt in range(200):
        client = socket.socket()
        client.settimeout(10)
        try:
            client.connect(("127.0.0.1", port))
            break
        except ConnectionRefusedError:
            client.close()
            assert server.p.poll() is None, "".join(server.err)
            threading.Event().wait(0.05)
    else:
        pytest.fail("the TCP server never listened: " + "".join(server.err))
    for i, text in enumerate([HELLO, "hello", "第三条消息"]):
        if i:
            client = socket.socket()
            client.settimeout(10)
            client.connect(("127.0.0.1", port))
        with client:
            client.sendall(text.encode())
            assert client.recv(1024).decode() == text
    server.p.send_signal(signal.SIGINT)  # waiting in accept()
    assert server.wait(timeout=5) != 0
    assert "KeyboardInterrupt" in "".join(server.err)


def test_tcp_client_example_talks_to_stdlib_server(course, procs):
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 9000 if IN_NETNS else 0))
        listener.listen()
        listener.settimeout(10)
        program, port = course("tcp_client.py", listener.getsockname()[1])
        got = []

        def serve():
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(10)
                while True:
                    data = conn.recv(1024)
                    if not data:
                        return
                    got.append(data.decode())
                    conn.sendall(("回声: " + data.decode()).encode())

        t = threading.Thread(target=serve)
        t.start()
        client = procs([program])
        client.write(HELLO + "\nhello\nq\n")
        assert client.wait(timeout=10) == 0, "".join(client.err)
        t.join(timeout=10)
        assert not t.is_alive()
    assert got == [HELLO, "hello"]
    out = "".join(client.out)
    assert "回声: " + HELLO + "\n" in out and "回声: hello\n" in out


def test_chat_example_two_peers(procs):
    ports = []
    for _ in range(2):
        with socket.socket(type=socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    a = procs([EXAMPLES / "udp_chat.py", ports[0], "127.0.0.1", ports[1]])
    assert a.line().startswith("聊天开始")
    b = procs([EXAMPLES / "udp_chat.py", ports[1], "127.0.0.1", ports[0]])
    assert b.line().startswith("聊天开始")
    a.write(HELLO + "\n")
    assert b.line() == "('127.0.0.1', %d): %s\n" % (ports[0], HELLO)
    b.write("你好!\n")
    assert a.line() == "('127.0.0.1', %d): 你好!\n" % (ports[1],)
    # 防干扰: a stranger's datagram is ignored.
    with socket.socket(type=socket.SOCK_DGRAM) as stranger:
        stranger.sendto("干扰".encode(), ("127.0.0.1", ports[0]))
    b.write("after\n")
    assert a.line() == "('127.0.0.1', %d): after\n" % (ports[1],)
    # 同步退出: b quits, a is told and leaves after Enter.
    b.write("q\n")
    assert b.wait(timeout=10) == 0, "".join(b.err)
    assert a.line().startswith("对方已退出")
    a.write("\n")
    assert a.wait(timeout=10) == 0, "".join(a.err)
    assert not re.search("干扰", "".join(a.out))
