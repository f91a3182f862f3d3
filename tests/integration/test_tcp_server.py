"""netlab-tcp-server, the echo server, with Python, socat and ncat as clients.

The notes' server answers only the first recv() of each client and never closes it; ours must
echo everything a client sends until it disconnects, then serve the next client.
"""
import socket
import struct
import threading

from conftest import CHINESE, TIMEOUT, connect_tcp, recv_exactly, start_tcp_server


def echo_roundtrip(sock, data):
    sock.sendall(data)
    assert recv_exactly(sock, len(data)) == data


def expect_events(server, sock, *events):
    who = "%s:%d" % sock.getsockname()[:2]
    for event in events:
        line = server.out.read_line()
        assert line == f"{who} {event}".encode(), (line, server.out.text(), server.err.text())


def test_several_messages_per_connection(procs):
    server, port = start_tcp_server(procs)
    with connect_tcp("127.0.0.1", port) as c:
        for text in ["hello", CHINESE, "third message", "hello"]:
            echo_roundtrip(c, text.encode())
        expect_events(server, c, "connected")
    assert server.out.read_line() is not None  # "... disconnected"
    assert server.alive()


def test_100k_blob_is_echoed_exactly(procs):
    server, port = start_tcp_server(procs)
    blob = bytes((i * 7 + i // 251) % 256 for i in range(100 * 1024))
    with connect_tcp("127.0.0.1", port) as c:
        # Send from a thread while reading here: the echo comes back while we are still
        # sending, and neither side may block the other once the socket buffers fill.
        errors = []

        def send():
            try:
                c.sendall(blob)
            except OSError as e:  # pragma: no cover - reported below
                errors.append(e)

        t = threading.Thread(target=send)
        t.start()
        got = recv_exactly(c, len(blob))
        t.join(TIMEOUT)
        assert not t.is_alive() and not errors, errors
        assert got == blob
        echo_roundtrip(c, "and still talking: 你好，世界".encode())


def test_clients_one_after_another(procs):
    server, port = start_tcp_server(procs)
    for i in range(4):
        with connect_tcp("127.0.0.1", port) as c:
            echo_roundtrip(c, f"client {i} first".encode())
            echo_roundtrip(c, f"client {i} second".encode())  # the notes' server stops here
            expect_events(server, c, "connected")
            c.shutdown(socket.SHUT_WR)
            assert c.recv(1) == b"", "server did not close after the client finished"
            expect_events(server, c, "disconnected")
    assert server.err.data() == b""


def test_waiting_client_is_served_after_the_first_leaves(procs):
    server, port = start_tcp_server(procs)
    with connect_tcp("127.0.0.1", port) as first, connect_tcp("127.0.0.1", port) as second:
        second.sendall(b"queued")  # accepted by the kernel, read once the first is done
        echo_roundtrip(first, b"first")
        first.close()
        assert recv_exactly(second, 6) == b"queued"
        echo_roundtrip(second, CHINESE.encode())


def test_connect_and_close_immediately(procs):
    server, port = start_tcp_server(procs)
    for _ in range(3):
        c = connect_tcp("127.0.0.1", port)
        c.close()
    with connect_tcp("127.0.0.1", port) as c:
        echo_roundtrip(c, b"still alive")
    assert server.alive()


def test_client_reset_does_not_kill_server(procs):
    server, port = start_tcp_server(procs)
    c = connect_tcp("127.0.0.1", port)
    echo_roundtrip(c, b"before reset")
    # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
    with connect_tcp("127.0.0.1", port) as c2:
        echo_roundtrip(c2, b"after reset")
    assert server.alive()
    # The reset is worth one line on stderr; it is not a crash.
    assert server.err.wait_for(b"\n")
    assert server.err.text().count("\n") == 1, server.err.text()


def test_client_that_never_reads_does_not_kill_server(procs):
    # The client sends a lot and closes without reading the echo: the server's send() then
    # hits a closed connection, which must be an error code (no SIGPIPE).
    server, port = start_tcp_server(procs)
    c = connect_tcp("127.0.0.1", port)
    c.sendall(b"z" * (512 * 1024))
    c.close()
    with connect_tcp("127.0.0.1", port) as c2:
        echo_roundtrip(c2, b"next client")
    assert server.alive()


def test_ipv6(procs):
    server, port = start_tcp_server(procs, host="::1")
    with connect_tcp("::1", port) as c:
        echo_roundtrip(c, CHINESE.encode())
        echo_roundtrip(c, b"again")
        host, cport = c.getsockname()[:2]
        assert server.out.read_line() == f"[{host}]:{cport} connected".encode()


def test_socat_client(procs):
    server, port = start_tcp_server(procs)
    socat = procs.start(["socat", "-", f"TCP4:127.0.0.1:{port}"])
    for text in ["one", CHINESE, "three"]:
        socat.write(text + "\n")
        assert socat.out.read_line() == text.encode()
    socat.close_stdin()  # socat half-closes; the server sees the end and closes too
    assert socat.wait() == 0, socat.err.text()
    assert server.out.read_line().endswith(b" connected")
    assert server.out.read_line().endswith(b" disconnected")


def test_ncat_client(procs):
    server, port = start_tcp_server(procs)
    ncat = procs.start(["ncat", "127.0.0.1", port])
    for text in ["one", CHINESE, "three"]:
        ncat.write(text + "\n")
        assert ncat.out.read_line() == text.encode()
    ncat.close_stdin()
    assert ncat.wait() == 0, ncat.err.text()
    assert server.out.read_line().endswith(b" connected")
    assert server.out.read_line().endswith(b" disconnected")
    # And the server takes the next client.
    with connect_tcp("127.0.0.1", port) as c:
        echo_roundtrip(c, b"after ncat")
