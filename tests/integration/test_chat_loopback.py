"""netlab-chat, two processes on loopback in pipe mode: delivery once and in order, a flood of
interference that is never displayed, synchronized exit, peer loss, usage errors."""

import os
import random
import signal
import socket
import threading
import time

import pytest

from chatlib import (Chat, Sniffer, Spoofer, can_raw, junk_datagrams, messages,
                     start_pair)

ROOT = can_raw()


def exchange(a, b, n=20, timeout=20):
    ma, mb = messages("A", n), messages("B", n)
    for x, y in zip(ma, mb):
        a.send(x)
        b.send(y)
    got_b = b.read_lines(n, timeout)
    got_a = a.read_lines(n, timeout)
    assert got_b == [m.encode() for m in ma]
    assert got_a == [m.encode() for m in mb]


def quit_and_time(a, b, limit):
    t0 = time.monotonic()
    a.send("q")
    rc_a = a.wait_exit(limit + 3)
    rc_b = b.wait_exit(limit + 3)
    ta, tb = a.t_exit - t0, b.t_exit - t0
    print("exit times: leaver %.3fs, peer %.3fs" % (ta, tb))
    assert (rc_a, rc_b) == (0, 0), (a.err_lines, b.err_lines)
    assert max(ta, tb) < limit, (ta, tb)
    return ta, tb


class Flood:
    """Interference at both chat ports while the chat runs: from a third socket, and (as root)
    spoofed from each side's own peer address, including replays of captured frames."""

    def __init__(self, pa, pb, seed):
        self.pa, self.pb = pa, pb
        self.rng = random.Random(seed)
        self.third = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.third.bind(("127.0.0.1", 0))
        self.spoof = Spoofer() if ROOT else None
        self.sniff = Sniffer([pa, pb]) if ROOT else None
        self.sent = 0

    def round(self, n):
        a, b = ("127.0.0.1", self.pa), ("127.0.0.1", self.pb)
        for d in junk_datagrams(self.rng, n):
            for src, dst in ((b, a), (a, b)):
                self.third.sendto(d, dst)
                if self.spoof:
                    self.spoof.send(src, dst, d)
                self.sent += 1
        if self.sniff:
            for sport, dport, payload in list(self.sniff.frames):
                self.spoof.send(("127.0.0.1", sport), ("127.0.0.1", dport), payload)
                self.sent += 1

    def close(self):
        self.third.close()
        if self.spoof:
            self.spoof.close()
        if self.sniff:
            self.sniff.close()


@pytest.mark.parametrize("plain", [False, True], ids=["reliable", "plain"])
def test_loopback_flood_and_synchronized_exit(plain):
    extra = ["--plain"] if plain else []
    a, b, pa, pb = start_pair(extra, extra)
    flood = None
    try:
        if plain:
            # A plain chat that waits locks onto the first datagram: B speaks first.
            b.send("hello")
            assert a.read_lines(1, 5) == [b"hello"]
        else:
            a.wait_err("joined")
            b.wait_err("joined")
        flood = Flood(pa, pb, seed=3)
        # Spoofed datagrams from the peer's own address would be displayed in plain mode (it
        # checks nothing but the address): there, only the third socket floods.
        if plain and flood.spoof:
            flood.spoof.close()
            flood.spoof = None
            flood.sniff.close()
            flood.sniff = None
        stop = threading.Event()

        def flooding():
            for _ in range(10):
                if stop.is_set():
                    return
                flood.round(40)

        t = threading.Thread(target=flooding)
        t.start()
        try:
            exchange(a, b)
            t.join(timeout=30)  # let the whole flood arrive before quitting
        finally:
            stop.set()
            t.join(timeout=30)
        if flood.sniff:
            assert flood.sniff.wait_both_ways(), "no frames captured"
        flood.round(30)  # and once more, replaying everything captured so far
        quit_and_time(a, b, 2.0)
        assert a.rest_of_output() == [] and b.rest_of_output() == [], "interference displayed"
        sa, sb = a.stats(), b.stats()
        print("flood: %d datagrams sent; A drops %s; B drops %s" % (flood.sent, sa, sb))
        if ROOT and not plain:
            for st in (sa, sb):
                assert st["bad_magic"] > 0 and st["bad_session"] > 0 and st["replayed"] > 0, st
    finally:
        if flood:
            flood.close()
        a.close()
        b.close()


def test_keyed_rejects_frames_spoofing_the_peer(tmp_path):
    if not ROOT:
        pytest.skip("SKIP: raw sockets need root (CAP_NET_RAW) to spoof the peer's address")
    key = tmp_path / "key"
    key.write_text(os.urandom(32).hex() + "\n")
    key.chmod(0o600)
    a, b, pa, pb = start_pair(["--key-file", str(key)], ["--key-file", str(key)])
    sniff = Sniffer([pa, pb])
    spoof = Spoofer()
    try:
        a.wait_err("joined")
        b.wait_err("joined")
        a.send("before")
        assert b.read_lines(1, 5) == [b"before"]
        # The capture runs in its own thread: wait for it to have seen the exchange.
        assert sniff.wait_both_ways(), "no frames captured"
        # Take the real session and sender ids off the wire and forge with them: a message and
        # a BYE, sealed with the wrong key (random tag), sent from the peer's own address.
        hdrs = [(s, d, p) for s, d, p in sniff.frames if p[:2] == b"NL"]
        assert hdrs, "no frames captured"
        from chatlib import frame, parse_header
        for sport, dport, payload in hdrs:
            h = parse_header(payload)
            if h["sid"] & 0xffffffff == 0:
                continue
            fake = frame(3, h["sid"], h["sender"], seq=h["seq"] + 1 or 1, pn=h["pn"] + 1000,
                         index=0, count=1, payload=b"forged!" + os.urandom(16), flags=1)
            bye = frame(7, h["sid"], h["sender"], seq=200, pn=h["pn"] + 1001, flags=1,
                        payload=os.urandom(16))
            for d in (fake, bye, payload):  # forged, forged BYE, replayed
                spoof.send(("127.0.0.1", sport), ("127.0.0.1", dport), d)
        a.send("after")
        b.send("still here")
        assert b.read_lines(1, 5) == [b"after"]
        assert a.read_lines(1, 5) == [b"still here"]
        quit_and_time(a, b, 2.0)
        assert a.rest_of_output() == [] and b.rest_of_output() == []
        sa, sb = a.stats(), b.stats()
        print("keyed: A drops %s; B drops %s" % (sa, sb))
        assert sa["auth_failed"] > 0 and sb["auth_failed"] > 0
        assert sa["replayed"] + sb["replayed"] > 0
    finally:
        sniff.close()
        spoof.close()
        a.close()
        b.close()


def test_ipv6_loopback():
    if not socket.has_ipv6:
        pytest.skip("SKIP: no IPv6")
    a, b, pa, pb = start_pair(host="::1", bind_fmt="[%s]:0")
    try:
        a.wait_err("joined")
        exchange(a, b, n=5)
        quit_and_time(a, b, 2.0)
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("killed,busy", [("caller", False), ("waiter", False),
                                         ("caller", True)],
                         ids=["caller-killed", "waiter-killed", "killed-mid-transfer"])
def test_sigkilled_peer_is_reported_lost(killed, busy):
    # Either side may vanish, and the survivor may be idle or in the middle of sending (its
    # queue full of unacknowledged fragments): in each case it notices within its bound.
    a, b, pa, pb = start_pair(["--peer-lost", "1500"], ["--peer-lost", "1500"])
    try:
        a.wait_err("joined")
        b.wait_err("joined")
        victim, survivor = (b, a) if killed == "caller" else (a, b)
        if busy:
            victim.p.send_signal(signal.SIGSTOP)  # acks stop: the survivor's sends pile up
            for m in messages("S", 20):
                survivor.send(m)
        t0 = time.monotonic()
        victim.p.send_signal(signal.SIGKILL)
        victim.wait_exit(5)
        survivor.wait_err("peer lost", timeout=4)
        rc = survivor.wait_exit(3)
        elapsed = time.monotonic() - t0
        print("%s: peer lost reported after %.3fs (bound 1.5s)" % (killed, elapsed))
        assert rc == 3
        assert 1.4 <= elapsed < 3.0 or (busy and elapsed < 3.0)
        assert survivor.rest_of_output() == []
    finally:
        a.close()
        b.close()


def test_leaver_whose_peer_never_confirms_exits_3_within_5s():
    a, b, pa, pb = start_pair()
    try:
        a.wait_err("joined")
        b.wait_err("joined")
        b.p.send_signal(signal.SIGSTOP)  # alive but silent: no BYE-ACK, no ICMP either
        t0 = time.monotonic()
        a.send("q")
        rc = a.wait_exit(7)
        elapsed = time.monotonic() - t0
        print("unconfirmed leave: exit %d after %.3fs" % (rc, elapsed))
        assert rc == 3 and elapsed < 5.0
        assert any(b"warning" in line for line in a.err_lines)
    finally:
        if b.p.poll() is None:
            b.p.send_signal(signal.SIGCONT)
        a.close()
        b.close()


def test_too_long_line_is_refused_before_sending():
    a, b, pa, pb = start_pair()
    try:
        a.wait_err("joined")
        a.send("x" * 70000)
        a.send("short")
        a.wait_err(r"line 1 .*65536.*not sent")
        assert b.read_lines(1, 5) == [b"short"]
        a.send("y" * 65536)  # the largest message goes through, in 55 fragments
        assert b.read_lines(1, 5) == [b"y" * 65536]
        quit_and_time(a, b, 2.0)
        assert b.rest_of_output() == []
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("args", [[], ["--bind"], ["--bind", "nonsense:x"],
                                  ["--bind", "127.0.0.1:0", "--peer", "127.0.0.1:0"],
                                  ["--bind", "127.0.0.1:0", "--bogus"],
                                  ["--bind", "127.0.0.1:0", "extra"],
                                  ["--bind", "127.0.0.1:0", "--plain", "--key-file", "/x"]])
def test_usage_errors_one_line_exit_2(args):
    c = Chat(args)
    try:
        rc = c.wait_exit(5)
        assert rc == 2
        assert len(c.err_lines) == 1, c.err_lines
    finally:
        c.close()


def test_input_before_the_peer_exists_is_delivered_then_both_exit():
    """Pipe mode: lines and end of input before the peer has even started. The messages wait
    for the handshake, the leave waits for the messages, and both sides exit 0."""
    from chatlib import free_udp_port
    pa = free_udp_port()
    b = Chat(["--bind", "127.0.0.1:0", "--peer", "127.0.0.1:%d" % pa, "--name", "bob"])
    a = None
    try:
        b.port()
        b.send("early 1")
        b.send("早 2")
        b.p.stdin.close()  # end of input: bob wants to leave, but nobody is there yet
        a = Chat(["--bind", "127.0.0.1:%d" % pa, "--name", "alice"])
        assert a.read_lines(2, 10) == [b"early 1", "早 2".encode()]
        a.wait_err("bob left the chat")
        assert b.wait_exit(5) == 0
        assert a.wait_exit(5) == 0
    finally:
        b.close()
        if a is not None:
            a.close()
