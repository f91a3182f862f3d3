"""The wire where packet capture does not exist (a NETLAB_FORCE_PORTABLE_POSIX build: the path
macOS and the BSDs take, with no Linux packet sockets). Registered instead of test_wire.py in
such a build: every program says that capture is unavailable, and the others go on without it.
"""
import socket
import subprocess

from conftest import program


def test_wire_says_unavailable():
    r = subprocess.run([program("wire"), "9"], capture_output=True, timeout=60)
    assert r.returncode == 1
    assert r.stdout == b""
    assert r.stderr.decode() == ("netlab-wire: packet capture is not available here: it needs "
                                 "Linux's packet sockets (this libnetlab was built without "
                                 "them)\n")


def test_demo_wire_goes_on_without_it():
    r = subprocess.run([program("demo"), "--wire"], capture_output=True, timeout=120)
    out = r.stdout.decode()
    assert r.returncode == 0, out + r.stderr.decode()
    assert ("wire: packet capture is not available on this system (it needs Linux's packet "
            "sockets); going on without it\n") in out
    assert "[wire]" not in out and "[tcp_info]" not in out
    assert "demo finished: every flow worked" in out


def test_program_wire_goes_on_without_it():
    with socket.socket(type=socket.SOCK_DGRAM) as srv:
        srv.bind(("127.0.0.1", 0))
        srv.settimeout(60)
        port = srv.getsockname()[1]
        r = subprocess.run([program("udp_client"), "--wire", "127.0.0.1", str(port)],
                           input=b"hi\n", capture_output=True, timeout=60)
        assert srv.recv(16) == b"hi"
    assert r.returncode == 0
    assert r.stderr.decode() == ("netlab-udp-client: --wire: operation not supported (packet "
                                 "capture exists on Linux only); going on without it\n")
