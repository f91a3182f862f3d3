"""The room with a key (issue 13, 防干扰): frames forged from a member's own address, or from
the host's, are refused. A keyed room on loopback (a host and two members); a sniffer records
their frames; a raw socket then sends, each from the address its original came from, every
captured frame again (replays) and every sealed one with a byte of its tag changed (forgeries),
and forged frames of the right session whose plaintext nobody sealed. Nothing forged or
replayed may be displayed, a real message still arrives once, and the host's --stats counts
the forgeries it received as auth failed and the replays as replayed. Raw sockets need root;
elsewhere the test is SKIPPED (exit 77)."""

import os
import re
import time

import pytest

from chatlib import (Chat, Sniffer, Spoofer, can_raw, frame, free_udp_port,
                     parse_header)

pytestmark = pytest.mark.skipif(not can_raw(), reason="SKIP (loud): raw sockets need root")

HELLOS = (1, 2)  # HELLO, HELLO-ACK: answered by the handshake, not by the replay window


def host_stats(h):
    text = b"".join(h.err_lines).decode("utf-8", "replace")
    m = re.search(r"room stats: .*auth failed (\d+), replayed (\d+)", text)
    assert m, text
    return int(m.group(1)), int(m.group(2))


def test_keyed_room_refuses_forged_and_replayed_frames_from_members_addresses(tmp_path):
    key = tmp_path / "key"
    key.write_text(os.urandom(32).hex() + "\n")
    key.chmod(0o600)
    kf = ["--key-file", str(key)]
    h = Chat(["--bind", "127.0.0.1:0", "--room", "class", "--name", "teacher", "--stats", *kf])
    ms, sniff, spoof = [], None, Spoofer()
    try:
        addr = h.wait_err(r"join with --join (\S+)", 5).group(1)
        hp = int(addr.rsplit(":", 1)[1])
        mp = [free_udp_port(), free_udp_port()]
        sniff = Sniffer([hp] + mp)
        for name, port in zip(("ann", "bob"), mp):
            ms.append(Chat(["--bind", "127.0.0.1:%d" % port, "--join", addr, "--name", name,
                            "--stats", *kf]))
        a, b = ms
        for m in ms:
            m.wait_err("in the room of teacher", 10)
        for _ in ms:
            h.wait_err(r"\*\*\* \w+ joined", 10)
        for i in range(5):
            a.send("real %d from ann" % i)
            b.send("real %d from bob" % i)
        assert b.read_lines(5, 10) == [b"ann: real %d from ann" % i for i in range(5)]
        assert a.read_lines(5, 10) == [b"bob: real %d from bob" % i for i in range(5)]
        assert len(h.read_lines(10, 10)) == 10
        deadline = time.monotonic() + 5
        while len(sniff.frames) < 40 and time.monotonic() < deadline:
            time.sleep(0.02)  # the capture thread has no event to wait on
        sniff.close()
        old = [(sp, dp, p) for sp, dp, p in sniff.frames if parse_header(p)]
        assert len(old) >= 20, "too few frames captured"
        assert all(parse_header(p)["flags"] & 1 for _, _, p in old), "a frame not sealed"
        # Every frame again, from where it came; every frame with its last byte (the tag)
        # changed; and a frame of each member's session carrying text nobody sealed.
        to_host = {"replayed": 0, "forged": 0}
        for sp, dp, p in old:
            hd = parse_header(p)
            sends = [(p, "replayed"), (p[:-1] + bytes([p[-1] ^ 0x5a]), "forged")]
            if hd["type"] not in HELLOS:  # a HELLO carries no whole session to forge DATA of
                sends.append((frame(3, hd["sid"], hd["sender"], seq=hd["seq"] + 1000,
                                    pn=hd["pn"] + 1000, count=1, flags=1,
                                    payload=b"Mforged from your own address" + bytes(16)),
                              "forged"))
            for data, kind in sends:
                spoof.send(("127.0.0.1", sp), ("127.0.0.1", dp), data)
                if dp == hp and not (kind == "replayed" and hd["type"] in HELLOS):
                    to_host[kind] += 1
        a.send("after the forgeries")
        assert b.read_lines(1, 10) == [b"ann: after the forgeries"]
        assert h.read_lines(1, 10) == [b"ann: after the forgeries"]
        h.send("q")
        for m in ms:
            assert m.wait_exit(10) == 0, m.err_lines
            assert any(b"*** room closed by teacher" in x for x in m.err_lines)
        assert h.wait_exit(10) == 0, h.err_lines
        for c in ms + [h]:
            assert c.rest_of_output() == [], "a forged or replayed frame was displayed"
            assert not any(b"forged" in x for x in c.err_lines), c.err_lines
        auth, replayed = host_stats(h)
        print("keyed room: %d captured frames; to the host %d forged, %d replayed; host counts "
              "auth failed %d, replayed %d" % (len(old), to_host["forged"], to_host["replayed"],
                                               auth, replayed))
        assert auth >= to_host["forged"], (auth, to_host)
        assert replayed >= to_host["replayed"], (replayed, to_host)
    finally:
        if sniff is not None:
            sniff.close()
        spoof.close()
        for c in ms + [h]:
            c.close()
