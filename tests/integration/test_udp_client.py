"""netlab-udp-client sending to a Python socket, a socat listener and an ncat listener.

Each input line must become one datagram without its newline; `q` stops the client (lines
after it are never sent); end of input exits 0; the prompt appears only on a terminal.
"""
import os
import pty
import re
import socket
import time

from conftest import (CHINESE, PROMPT, TIMEOUT, drain, program, start_bound, udp_recv)

LINES = ["hello", CHINESE, "", "spaces  and\ttabs", "q is text unless alone"]
INPUT = "\n".join(LINES + ["q", "never sent", ""]).encode()


def recv_until_marker(sock, marker=b"--marker--"):
    """All datagrams that arrive before the test's own marker datagram.

    The marker is sent after the client has exited, from another socket; on loopback a
    datagram is queued at the receiver before sendto() returns, so anything the client sent
    is already ahead of the marker in the queue.
    """
    with socket.socket(sock.family, socket.SOCK_DGRAM) as m:
        m.sendto(marker, sock.getsockname()[:2])
    got = []
    for _ in range(100):
        data, _ = udp_recv(sock)
        assert data is not None, f"marker never arrived; got {got!r}"
        if data == marker:
            return got
        got.append(data)
    raise AssertionError(f"too many datagrams: {got!r}")


def run_client(procs, host, port, data, extra=()):
    return procs.start([program("udp_client"), *extra, host, port], input=data)


def test_stdlib_receiver_one_datagram_per_line(procs):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as r:
        r.bind(("127.0.0.1", 0))
        client = run_client(procs, "127.0.0.1", r.getsockname()[1], INPUT)
        assert client.wait() == 0, client.err.text()
        got = recv_until_marker(r)
    assert got == [line.encode() for line in LINES]
    # Not a terminal: no prompt, nothing at all on stdout or stderr.
    assert client.out.data() == b""
    assert client.err.data() == b""


def test_sender_address_is_the_clients_loopback_socket(procs):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as r:
        r.bind(("127.0.0.1", 0))
        client = run_client(procs, "127.0.0.1", r.getsockname()[1], b"one\ntwo\n")
        first, addr1 = udp_recv(r)
        second, addr2 = udp_recv(r)
        assert client.wait() == 0
    assert (first, second) == (b"one", b"two")
    assert addr1[0] == "127.0.0.1" and addr1 == addr2  # one socket for the whole session


def test_end_of_input_without_q_exits_0(procs):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as r:
        r.bind(("127.0.0.1", 0))
        # The last line has no newline: it is still a line, and still sent.
        client = run_client(procs, "127.0.0.1", r.getsockname()[1], "a\n你好，世界".encode())
        assert client.wait() == 0, client.err.text()
        assert recv_until_marker(r) == [b"a", CHINESE.encode()]


def test_crlf_line_endings_are_not_sent(procs):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as r:
        r.bind(("127.0.0.1", 0))
        client = run_client(procs, "127.0.0.1", r.getsockname()[1], b"dos\r\nq\r\nlost\r\n")
        assert client.wait() == 0
        assert recv_until_marker(r) == [b"dos"]


def test_ipv6_receiver(procs):
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as r:
        r.bind(("::1", 0))
        client = run_client(procs, "::1", r.getsockname()[1], (CHINESE + "\nq\n").encode())
        data, addr = udp_recv(r)
        assert client.wait() == 0
    assert data == CHINESE.encode() and addr[0] == "::1"


def test_socat_listener(procs):
    # -v logs each read with its length on stderr: one read per datagram, so the lengths show
    # the datagram boundaries that the concatenated stdout cannot.
    socat, port = start_bound(
        procs, lambda p: ["socat", "-u", "-v", f"UDP4-RECV:{p},bind=127.0.0.1", "STDOUT"],
        socket.SOCK_DGRAM)
    client = run_client(procs, "127.0.0.1", port, INPUT)
    assert client.wait() == 0, client.err.text()
    sent = [line.encode() for line in LINES if line]  # socat does not log empty reads
    expected = b"".join(sent)
    # Our marker goes to the same listener after the client is done: it must come last.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as m:
        m.sendto(b"#END", ("127.0.0.1", port))
    assert socat.out.wait_for(b"#END"), socat.out.data()
    assert socat.out.data() == expected + b"#END"
    assert socat.err.wait_for(b"length=4 ")
    lengths = [int(n) for n in re.findall(rb"length=(\d+)", socat.err.data())]
    assert lengths == [len(s) for s in sent] + [4]


def test_ncat_listener(procs):
    # ncat's --hex-dump restarts its offsets at 0000 for every read, i.e. every datagram.
    dump = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"netlab-ncat-{os.getpid()}.hex")
    try:
        ncat, port = start_bound(
            procs, lambda p: ["ncat", "-u", "-l", "--hex-dump", dump, "127.0.0.1", p],
            socket.SOCK_DGRAM)
        client = run_client(procs, "127.0.0.1", port, INPUT)
        assert client.wait() == 0, client.err.text()
        sent = [line.encode() for line in LINES if line]
        expected = b"".join(sent)
        assert ncat.out.wait_len(len(expected)), ncat.out.data()
        # ncat answers only its first peer, so no marker here; instead wait until the kernel
        # queue is empty (ncat has read everything the client sent) before comparing.
        deadline = time.monotonic() + TIMEOUT
        while udp_rx_queue(port) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ncat.out.data() == expected
        ncat.stop()  # flushes nothing more, but closes the dump file
        with open(dump, "rb") as f:
            starts = sum(1 for line in f if line.startswith(b"0000 "))
        assert starts == len(sent)
    finally:
        if os.path.exists(dump):
            os.unlink(dump)


def udp_rx_queue(port):
    """Bytes waiting in the receive queue of the UDP socket bound to `port` (/proc/net/udp)."""
    with open("/proc/net/udp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                return int(fields[4].split(":")[1], 16)
    return 0


def test_prompt_on_a_terminal(procs):
    """With stdin a terminal the client prompts like input("请输入发送数据: ") does."""
    master, slave = pty.openpty()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as r:
            r.bind(("127.0.0.1", 0))
            client = procs.start([program("udp_client"), "127.0.0.1", r.getsockname()[1]],
                                 stdin=slave)
            os.close(slave)
            slave = -1
            assert client.out.wait_for(PROMPT.encode()), client.out.data()
            os.write(master, "你好，世界\n".encode())
            data, _ = udp_recv(r)
            assert data == CHINESE.encode()
            assert client.out.wait_for((PROMPT * 2).encode()), client.out.data()
            os.write(master, b"q\n")
            assert client.wait() == 0
            assert client.out.data() == (PROMPT * 2).encode()
            drain(master)
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)

