"""netlab.capture (issue 15): the capture in Python. Offline (crafted packets through feed(),
no privilege needed) and live on loopback (root, as CI runs; elsewhere those tests skip)."""
import errno
import struct
import threading

import pytest

import netlab
from netlab.capture import ACK, PSH, SYN, Capture, CaptureStats

PORT, CPORT = 9000, 50000


def tcp4(to_server, flags, seq, ack, win, data=b"", wscale=None):
    """An IPv4 TCP segment between 127.0.0.1:CPORT (client) and 127.0.0.2:PORT (server)."""
    opt = bytes([1, 3, 3, wscale]) if wscale is not None else b""
    sp, dp = (CPORT, PORT) if to_server else (PORT, CPORT)
    tcp = struct.pack("!HHIIBBHHH", sp, dp, seq, ack, (20 + len(opt)) // 4 << 4, flags, win,
                      0, 0) + opt + data
    src, dst = (b"\x7f\0\0\1", b"\x7f\0\0\2") if to_server else (b"\x7f\0\0\2", b"\x7f\0\0\1")
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0, src, dst) + tcp


def test_offline_exchange():
    with Capture.offline(PORT) as cap:
        syn = cap.feed(tcp4(True, SYN, 1000, 0, 65495, wscale=7))
        assert (syn.step, syn.index, syn.rel_seq, syn.to_server) == ("syn", 1, 0, True)
        assert syn.src == ("127.0.0.1", CPORT) and syn.dst == ("127.0.0.2", PORT)
        assert "客户端给服务器发送请求连接包" in str(syn)
        sa = cap.feed(tcp4(False, SYN | ACK, 5000, 1001, 65483, wscale=7))
        assert (sa.step, sa.rel_ack, sa.answers) == ("syn-ack", 1, 1)
        hs = cap.feed(tcp4(True, ACK, 1001, 5001, 512))
        assert (hs.step, hs.window, hs.window_scaled) == ("handshake-ack", 512 << 7, True)
        data = cap.feed(tcp4(True, PSH | ACK, 1001, 5001, 512, b"hello"))
        assert (data.step, data.len, data.segs) == ("data", 5, 1)
        ack = cap.feed(tcp4(False, ACK, 5001, 1006, 512))
        assert (ack.step, ack.answers, ack.rel_ack) == ("ack", data.index, 6)
        assert '"step":"ack"' in ack.json
        assert cap.feed(b"\x45garbage") is None
        assert cap.feed(tcp4(True, SYN, 1, 0, 1)[:-1]) is None  # truncated
        assert cap.stats() == CaptureStats(received=0, drops=0, decoded=5, ignored=2)
        with pytest.raises(TypeError):
            cap.feed("not bytes")
        with pytest.raises(OSError) as e:
            cap.fileno()  # offline: no descriptor
        assert e.value.errno == errno.EINVAL


def test_arguments():
    with pytest.raises(OverflowError):
        Capture.offline(0)
    with pytest.raises(OverflowError):
        Capture.offline(65536)
    with pytest.raises(TypeError):
        Capture.offline("9000")
    cap = Capture.offline(PORT)
    cap.close()
    cap.close()  # a second close is a no-op
    with pytest.raises(OSError) as e:
        cap.feed(tcp4(True, SYN, 1, 0, 1))
    assert e.value.errno == errno.EBADF


def live(port):
    try:
        return Capture(port)
    except PermissionError:
        pytest.skip("SKIP (loud): capturing needs CAP_NET_RAW (root, or unshare -rn)")


def test_live_reader_thread():
    """A reader thread collects while the exchange runs; close() from the main thread ends it."""
    srv = netlab.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    port = srv.getsockname()[1]
    cap = live(port)
    got, stop = [], threading.Event()

    def reader():
        while not stop.is_set():
            try:
                got.extend(cap.read(timeout=0.5))
            except OSError as e:  # closed under us
                assert e.errno == errno.EBADF
                return
    t = threading.Thread(target=reader)
    t.start()
    c = netlab.socket()
    c.connect(("127.0.0.1", port))
    a, _ = srv.accept()
    c.sendall(b"x" * 100000)
    n = 0
    while n < 100000:
        n += len(a.recv(65536))
    c.close()
    a.close()
    srv.close()
    for _ in range(100):  # until the close is captured (both FINs and the last ACK)
        if sum(p.step == "fin" for p in got) == 2 and got[-1].step == "ack":
            break
        t.join(0.05)
    st = cap.stats()
    stop.set()
    cap.close()
    t.join(5)
    assert not t.is_alive()
    steps = [p.step for p in got]
    assert steps[:3] == ["syn", "syn-ack", "handshake-ack"], steps
    assert sum(p.len for p in got if p.to_server) == 100000
    assert st.drops == 0 and st.decoded == len(got), st


def test_live_fileno_and_timeout():
    cap = live(PORT)
    with cap:
        assert cap.fileno() > 2
        assert cap.read(timeout=0) == []
        assert cap.read(timeout=0.05) == []
