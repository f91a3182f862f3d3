"""netlab-chat over a lossy link: two network namespaces joined by a veth pair, nftables in each
dropping 30% of incoming UDP. Needs root (CI is root); where namespaces cannot be made, the test
is reported as SKIPPED (exit 77 for CTest), never as a pass."""

import os
import subprocess
import time

import pytest

from chatlib import Chat, messages
from conftest import sh

LOSS = 30
N = 50


@pytest.fixture
def lossy_pair(netns_pair):
    """The two hosts of conftest's netns_pair, each dropping LOSS% of incoming UDP."""
    rules = ("table inet nlchat_lossy {\n chain input {\n"
             "  type filter hook input priority 0; policy accept;\n"
             "  meta l4proto udp numgen random mod 100 < %d drop\n }\n}\n" % LOSS)
    for n in netns_pair.ns:
        r = sh("ip", "netns", "exec", n, "nft", "-f", "-", stdin=rules)
        if r.returncode != 0:
            pytest.skip("SKIP (loud): nftables unusable: " + r.stderr.strip())
    return netns_pair.ns


def test_lossy_link_once_in_order_and_synchronized_exit(lossy_pair):
    na, nb = lossy_pair
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
