"""Plain mode against programs that know nothing of our protocol: a Python stdlib UDP peer (the
course notes' own way of doing UDP) and socat."""

import shutil
import socket
import subprocess
import threading
import time

import pytest

from chatlib import Chat


def udp_peer():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(5)
    return s


@pytest.mark.parametrize("who_quits", ["python", "netlab"])
def test_plain_against_python_udp(who_quits):
    py = udp_peer()
    intruder = udp_peer()
    c = Chat(["--plain", "--bind", "127.0.0.1:0", "--peer", "127.0.0.1:%d" % py.getsockname()[1]])
    try:
        port = c.port()
        py.sendto("你好 from python".encode(), ("127.0.0.1", port))
        assert c.read_lines(1, 5) == ["你好 from python".encode()]
        intruder.sendto(b"not from the peer", ("127.0.0.1", port))
        c.send("hi python, 再见")
        data, addr = py.recvfrom(65536)
        assert data == "hi python, 再见".encode() and addr[1] == port
        t0 = time.monotonic()
        if who_quits == "python":
            py.sendto(b"q", ("127.0.0.1", port))
        else:
            c.send("q")
            data, _ = py.recvfrom(65536)
            assert data == b"q"
        assert c.wait_exit(3) == 0
        assert time.monotonic() - t0 < 2.0
        assert c.rest_of_output() == [], "the intruder's datagram was displayed"
    finally:
        c.close()
        py.close()
        intruder.close()


def test_plain_against_socat():
    if shutil.which("socat") is None:
        pytest.skip("SKIP: socat is not installed (Debian: socat)")
    c = Chat(["--plain", "--bind", "127.0.0.1:0"])
    socat = None
    try:
        port = c.port()
        socat = subprocess.Popen(["socat", "-", "UDP:127.0.0.1:%d" % port],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        got = []

        def reader():
            got.append(socat.stdout.read1(65536))

        socat.stdin.write("hello from socat, 你好\n".encode())
        socat.stdin.flush()
        assert c.read_lines(1, 5) == ["hello from socat, 你好".encode()]
        t = threading.Thread(target=reader, daemon=True)
        t.start()
        c.send("hello socat")
        t.join(timeout=5)
        assert got and got[0] == b"hello socat"
        t0 = time.monotonic()
        socat.stdin.write(b"q\n")
        socat.stdin.flush()
        assert c.wait_exit(3) == 0
        assert time.monotonic() - t0 < 2.0
    finally:
        c.close()
        if socat is not None:
            socat.terminate()
            socat.wait(timeout=5)
