"""netlab-tcp-client against a Python echo server, socat running cat, and ncat running cat.

Each line is sent without its newline and the echo printed on a line of its own; `q` quits
with exit 0; a refused connection is exit 1 with a one-line message.
"""
import os
import pty
import socket
import threading

from conftest import CHINESE, PROMPT, TIMEOUT, drain, program, start_bound

LINES = ["hello", CHINESE, "third line", "x" * 5000]
INPUT = "\n".join(LINES + ["q", "never sent", ""]).encode()
OUTPUT = "".join(line + "\n" for line in LINES).encode()


class EchoServer:
    """A stdlib echo server for one connection, on its own thread; records what it received.

    chunk: echo back in pieces of this size (each its own send), to show that the client
    reassembles a byte stream. close_after: hang up after echoing this many bytes.
    """

    def __init__(self, family=socket.AF_INET, chunk=65536, close_after=None):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
        self.sock.listen(1)
        self.sock.settimeout(TIMEOUT)
        self.port = self.sock.getsockname()[1]
        self.received = bytearray()
        self.error = None
        self.chunk = chunk
        self.close_after = close_after
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            conn, _ = self.sock.accept()
            with conn:
                conn.settimeout(TIMEOUT)
                while True:
                    data = conn.recv(65536)
                    if not data:
                        return
                    self.received += data
                    for i in range(0, len(data), self.chunk):
                        conn.sendall(data[i:i + self.chunk])
                    if self.close_after is not None and len(self.received) >= self.close_after:
                        return
        except OSError as e:
            self.error = e

    def finish(self):
        self.thread.join(TIMEOUT)
        self.sock.close()
        assert not self.thread.is_alive(), "echo server still waiting for the client to close"
        assert self.error is None, self.error


def run_client(procs, host, port, data, extra=()):
    return procs.start([program("tcp_client"), *extra, host, port], input=data)


def test_stdlib_echo_server(procs):
    echo = EchoServer()
    client = run_client(procs, "127.0.0.1", echo.port, INPUT)
    assert client.wait() == 0, client.err.text()
    echo.finish()  # returns once the client has closed its connection
    assert client.out.data() == OUTPUT
    assert client.err.data() == b""
    assert bytes(echo.received) == "".join(LINES).encode()  # no newlines, nothing after q


def test_echo_arriving_in_pieces_is_printed_whole(procs):
    echo = EchoServer(chunk=3)
    client = run_client(procs, "127.0.0.1", echo.port, INPUT)
    assert client.wait() == 0, client.err.text()
    echo.finish()
    assert client.out.data() == OUTPUT


def test_end_of_input_without_q_exits_0(procs):
    echo = EchoServer()
    client = run_client(procs, "127.0.0.1", echo.port, "one\n你好，世界".encode())
    assert client.wait() == 0, client.err.text()
    echo.finish()
    assert client.out.data() == "one\n你好，世界\n".encode()


def test_ipv6_echo_server(procs):
    echo = EchoServer(family=socket.AF_INET6)
    client = run_client(procs, "::1", echo.port, (CHINESE + "\nq\n").encode())
    assert client.wait() == 0, client.err.text()
    echo.finish()
    assert client.out.data() == (CHINESE + "\n").encode()


def test_server_hanging_up_is_an_error(procs):
    echo = EchoServer(close_after=len("first"))
    client = procs.start([program("tcp_client"), "127.0.0.1", echo.port])
    client.write("first\n")
    assert client.out.read_line() == b"first"
    echo.finish()  # the server has closed the connection
    client.write("second\n")
    client.close_stdin()
    assert client.wait() == 1
    assert client.err.text().count("\n") == 1, client.err.text()


def test_connection_refused(procs):
    # A bound socket that does not listen: connecting to it is refused, and while we hold it
    # no other test can start listening on the port.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        client = run_client(procs, "127.0.0.1", holder.getsockname()[1], b"hello\n")
        assert client.wait() == 1
    err = client.err.text()
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert "refused" in err.lower(), err
    assert client.out.data() == b""


def test_socat_exec_cat(procs):
    socat, port = start_bound(
        procs,
        lambda p: ["socat", f"TCP4-LISTEN:{p},bind=127.0.0.1,reuseaddr", "EXEC:cat"],
        socket.SOCK_STREAM)
    client = run_client(procs, "127.0.0.1", port, INPUT)
    assert client.wait() == 0, client.err.text()
    assert client.out.data() == OUTPUT
    assert socat.wait() == 0  # one-shot socat ends when our client has closed


def test_ncat_exec_cat(procs):
    ncat, port = start_bound(
        procs, lambda p: ["ncat", "-l", "-k", "--exec", "/bin/cat", "127.0.0.1", p],
        socket.SOCK_STREAM)
    for _ in range(2):  # -k: ncat keeps listening, so two sessions in a row
        client = run_client(procs, "127.0.0.1", port, INPUT)
        assert client.wait() == 0, client.err.text()
        assert client.out.data() == OUTPUT
    assert ncat.alive()


def test_prompt_on_a_terminal(procs):
    echo = EchoServer()
    master, slave = pty.openpty()
    try:
        client = procs.start([program("tcp_client"), "127.0.0.1", echo.port], stdin=slave)
        os.close(slave)
        slave = -1
        assert client.out.wait_for(PROMPT.encode()), client.out.data()
        os.write(master, (CHINESE + "\n").encode())
        expected = (PROMPT + CHINESE + "\n" + PROMPT).encode()
        assert client.out.wait_for(expected), client.out.data()
        os.write(master, b"q\n")
        assert client.wait() == 0
        assert client.out.data() == expected
        drain(master)
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    echo.finish()
