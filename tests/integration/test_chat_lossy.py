"""netlab-chat over a lossy link: two network namespaces joined by a veth pair, nftables in each
dropping 30% of incoming UDP. Needs root (CI is root); where namespaces cannot be made, the test
is reported as SKIPPED (exit 77 for CTest), never as a pass."""

import os
import subprocess
import time

import pytest

from chatlib import Chat, messages

LOSS = 30
N = 50


def sh(*argv, stdin=None):
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=20)


@pytest.fixture
def netns_pair():
    tag = "%d" % (os.getpid() % 100000)
    ns = ["nlchat-a-" + tag, "nlchat-b-" + tag]
    veth = ["nlca" + tag, "nlcb" + tag]
    made = []
    try:
        for n in ns:
            r = sh("ip", "netns", "add", n)
            if r.returncode != 0:
                pytest.skip("SKIP (loud): cannot create network namespaces: " + r.stderr.strip())
            made.append(n)
        steps = [
            ("ip", "link", "add", veth[0], "type", "veth", "peer", "name", veth[1]),
            ("ip", "link", "set", veth[0], "netns", ns[0]),
            ("ip", "link", "set", veth[1], "netns", ns[1]),
            ("ip", "-n", ns[0], "addr", "add", "10.201.0.1/24", "dev", veth[0]),
            ("ip", "-n", ns[1], "addr", "add", "10.201.0.2/24", "dev", veth[1]),
            ("ip", "-n", ns[0], "link", "set", veth[0], "up"),
            ("ip", "-n", ns[1], "link", "set", veth[1], "up"),
            ("ip", "-n", ns[0], "link", "set", "lo", "up"),
            ("ip", "-n", ns[1], "link", "set", "lo", "up"),
        ]
        for argv in steps:
            r = sh(*argv)
            if r.returncode != 0:
                pytest.skip("SKIP (loud): cannot set up the veth link: %s: %s"
                            % (" ".join(argv), r.stderr.strip()))
        rules = ("table inet nlchat_lossy {\n chain input {\n"
                 "  type filter hook input priority 0; policy accept;\n"
                 "  meta l4proto udp numgen random mod 100 < %d drop\n }\n}\n" % LOSS)
        for n in ns:
            r = sh("ip", "netns", "exec", n, "nft", "-f", "-", stdin=rules)
            if r.returncode != 0:
                pytest.skip("SKIP (loud): nftables unusable: " + r.stderr.strip())
        yield ns
    finally:
        for n in made:
            sh("ip", "netns", "del", n)


def test_lossy_link_once_in_order_and_synchronized_exit(netns_pair):
    na, nb = netns_pair
    a = Chat(["--bind", "10.201.0.1:9000", "--name", "alice", "--stats"],
             prefix=["ip", "netns", "exec", na])
    b = Chat(["--bind", "10.201.0.2:9000", "--peer", "10.201.0.1:9000", "--name", "bob",
              "--stats"], prefix=["ip", "netns", "exec", nb])
    try:
        a.wait_err("joined", timeout=15)
        b.wait_err("joined", timeout=15)
        ma, mb = messages("A", N), messages("B", N)
        for x, y in zip(ma, mb):
            a.send(x)
            b.send(y)
        assert b.read_lines(N, 60) == [m.encode() for m in ma]
        assert a.read_lines(N, 60) == [m.encode() for m in mb]
        t0 = time.monotonic()
        a.send("q")
        rc_a, rc_b = a.wait_exit(8), b.wait_exit(8)
        ta, tb = a.t_exit - t0, b.t_exit - t0
        print("30%% loss: exit times leaver %.3fs, peer %.3fs" % (ta, tb))
        print("A stats %s\nB stats %s" % (a.stats(), b.stats()))
        print("".join(x.decode() for x in a.err_lines + b.err_lines if b"stats:" in x))
        assert (rc_a, rc_b) == (0, 0), (a.err_lines, b.err_lines)
        assert max(ta, tb) < 5.0
        assert a.rest_of_output() == [] and b.rest_of_output() == []
    finally:
        a.close()
        b.close()
