"""Multi-host: the course programs and netlab-chat between two network namespaces joined by a
veth pair (conftest's netns_pair), over IPv4 (10.201.0.x) and IPv6 (fd00:201::x). Real routing
and neighbour discovery instead of loopback's shortcut. Needs root; where namespaces cannot be
made, each test is SKIPPED loudly (exit 77, reported by CTest as skipped, never as passed)."""

import re
import socket
import time

import pytest

from chatlib import Chat, messages
from conftest import CHINESE, TIMEOUT, program, wait_bound

PORT = 9000  # fresh namespaces: nothing else can hold a port there

FAMILIES = [pytest.param(0, id="ipv4"), pytest.param(1, id="ipv6")]


def addrs(pair, v6):
    return pair.V6 if v6 else pair.V4


def bracket(host):
    return "[%s]" % host if ":" in host else host


@pytest.mark.parametrize("v6", FAMILIES)
def test_udp_server_in_a_client_in_b(procs, netns_pair, v6):
    server_host, client_host = addrs(netns_pair, v6)
    server = procs.start(netns_pair.run_in(0, [program("udp_server"), "--host", server_host,
                                                "--port", PORT]))
    assert wait_bound(server, socket.SOCK_DGRAM, PORT), server.err.text()
    lines = ["hello across hosts", CHINESE, "third line"]
    client = procs.start(netns_pair.run_in(1, [program("udp_client"), server_host, PORT]),
                         input=("\n".join(lines) + "\nq\n").encode())
    t0 = time.monotonic()
    assert client.wait() == 0, client.err.text()
    who = (r"\('%s', (\d+), 0, 0\): " if v6 else r"\('%s', (\d+)\): ") % re.escape(client_host)
    got = [server.out.read_line() for _ in lines]
    print("udp across hosts (%s): %d datagrams in %.3f s" % ("v6" if v6 else "v4", len(lines),
                                                            time.monotonic() - t0))
    ports = set()
    for line, want in zip(got, lines):
        assert line is not None, server.err.text()
        m = re.match(who.encode() + re.escape(want.encode()) + b"$", line)
        assert m, (line, want)  # the sender is host b's address: the datagram crossed the veth
        ports.add(m.group(1))
    assert len(ports) == 1  # one socket for the whole session, as in the notes


@pytest.mark.parametrize("v6", FAMILIES)
def test_tcp_echo_server_in_a_client_in_b(procs, netns_pair, v6):
    server_host, client_host = addrs(netns_pair, v6)
    server = procs.start(netns_pair.run_in(0, [program("tcp_server"), "--host", server_host,
                                                "--port", PORT]))
    assert wait_bound(server, socket.SOCK_STREAM, PORT), server.err.text()
    big = "x" * 3000 + CHINESE  # more than one recv() of the server's 1024-byte buffer
    lines = ["echo across hosts", CHINESE, big]
    client = procs.start(netns_pair.run_in(1, [program("tcp_client"), server_host, PORT]),
                         input=("\n".join(lines) + "\nq\n").encode())
    assert client.wait() == 0, client.err.text()
    assert client.out.data().decode().splitlines() == lines
    connected = server.out.read_line()
    assert re.match(rb"^%s:\d+ connected$" % re.escape(bracket(client_host).encode()),
                    connected), connected
    assert server.out.read_line().endswith(b" disconnected")


@pytest.mark.parametrize("v6", FAMILIES)
def test_chat_across_hosts(netns_pair, v6):
    ha, hb = addrs(netns_pair, v6)
    a = Chat(["--bind", "%s:%d" % (bracket(ha), PORT), "--name", "alice", "--stats"],
             prefix=netns_pair.run_in(0, []))
    b = Chat(["--bind", "%s:%d" % (bracket(hb), PORT), "--peer", "%s:%d" % (bracket(ha), PORT),
              "--name", "bob", "--stats"], prefix=netns_pair.run_in(1, []))
    try:
        a.wait_err("joined", timeout=TIMEOUT)
        b.wait_err("joined", timeout=TIMEOUT)
        n = 20
        ma, mb = messages("A", n), messages("B", n)
        for x, y in zip(ma, mb):
            a.send(x)
            b.send(y)
        assert b.read_lines(n, 20) == [m.encode() for m in ma]
        assert a.read_lines(n, 20) == [m.encode() for m in mb]
        t0 = time.monotonic()
        b.send("q")
        rc_b, rc_a = b.wait_exit(5), a.wait_exit(5)
        ta, tb = a.t_exit - t0, b.t_exit - t0
        print("chat across hosts (%s): %d messages each way; exit leaver %.3fs, peer %.3fs"
              % ("v6" if v6 else "v4", n, tb, ta))
        assert (rc_a, rc_b) == (0, 0), (a.err_lines, b.err_lines)
        assert max(ta, tb) < 2.0
        assert a.rest_of_output() == [] and b.rest_of_output() == []
    finally:
        a.close()
        b.close()
