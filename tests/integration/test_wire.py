"""The wire (issue 15): netlab-wire and netlab-demo --wire, as root and as an unprivileged user.

As root (CI runs the suite as root in a private network namespace): the checks of
wirecheck.py in this process. As `nobody`: the same checks inside `unshare -rn` (a user and
network namespace of its own, where nobody has CAP_NET_RAW), and netlab-demo --wire, which
makes that namespace itself. Where user namespaces are at their limit, netlab-demo falls back
to TCP_INFO counters. The checks a user without root cannot set up skip loudly (exit 77).
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading

import pytest

import wirecheck
from conftest import program

HERE = os.path.dirname(os.path.abspath(__file__))
NOBODY = ["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups"]
RUNS = 200


def as_nobody(argv, **kw):
    """Run argv as the unprivileged user nobody (root can switch; others run as themselves,
    which is just as unprivileged)."""
    prefix = NOBODY if os.geteuid() == 0 else []
    if prefix and not shutil.which("setpriv"):
        pytest.fail("setpriv (util-linux) is missing")
    return subprocess.run(prefix + argv, capture_output=True, timeout=120, **kw)


def need_root():
    if os.geteuid() != 0:
        pytest.skip("SKIP (loud): capturing in the test's own namespace needs root; "
                    "the unprivileged tests below cover the namespace path")


def test_handshakes_root():
    need_root()
    got = wirecheck.handshakes(program("wire"), RUNS)
    assert got["runs"] == RUNS and got["drops"] == 0


def test_bulk_root():
    need_root()
    got = wirecheck.bulk(program("wire"))
    assert got["bytes"] == 1 << 20 and got["drops"] == 0


def test_udp_root():
    need_root()
    assert wirecheck.udp(program("wire"))["datagrams"] == 4


def test_all_unprivileged():
    """200 handshakes, 1 MiB and UDP as nobody, in a user and network namespace of its own."""
    r = as_nobody(["unshare", "-rn", sys.executable, os.path.join(HERE, "wirecheck.py"),
                   "--lo-up", "--netlab-wire", program("wire"), "--runs", str(RUNS)])
    err = r.stderr.decode(errors="replace")
    if r.returncode != 0 and "unshare failed" in err:
        pytest.skip("SKIP (loud): this system does not let users make namespaces: " + err)
    assert r.returncode == 0, err
    got = json.loads(r.stdout.decode().splitlines()[-1])
    assert got["handshakes"] == {"runs": RUNS, "packets": got["handshakes"]["packets"],
                                 "drops": 0}
    assert got["bulk"]["drops"] == 0 and got["bulk"]["bytes"] == 1 << 20
    assert got["udp"]["datagrams"] == 4


def demo_wire(text):
    """The [wire] JSON lines of netlab-demo --wire=json, split into its UDP and TCP flows."""
    flows, cur = {}, None
    for line in text.splitlines():
        if line.startswith("== "):
            cur = line.split(":")[0][3:]
            flows[cur] = []
        m = re.match(r"^    \[wire\] (\{.*\})$", line)
        if m and cur:
            flows[cur].append(json.loads(m.group(1)))
    return flows


def check_demo(text):
    flows = demo_wire(text)
    udp = flows["UDP"]
    assert [p["step"] for p in udp[:-1]] == ["udp"] * 3 and udp[-1]["stats"]["drops"] == 0, udp
    tcp = flows["TCP"]
    steps = [(p["dir"], p["step"]) for p in tcp[:-1]]
    echo = [("c2s", "data"), ("s2c", "ack"), ("s2c", "data"), ("c2s", "ack")] * 3
    assert steps == [("c2s", "syn"), ("s2c", "syn-ack"), ("c2s", "handshake-ack")] + echo + \
        [("c2s", "fin"), ("s2c", "ack"), ("s2c", "fin"), ("c2s", "ack")], steps
    for data, ack in zip(tcp[3:15:2], tcp[4:16:2]):
        assert ack["answers"] == data["i"], (data, ack)
    assert tcp[-1]["stats"] == {"received": 19, "drops": 0}
    assert "demo finished: every flow worked" in text


def test_demo_wire_root():
    need_root()
    r = subprocess.run([program("demo"), "--wire=json"], capture_output=True, timeout=60)
    out = r.stdout.decode()
    assert r.returncode == 0, (out, r.stderr)
    assert out.splitlines()[2] == "wire: capturing on lo (privileged: CAP_NET_RAW)"
    check_demo(out)


def test_demo_wire_unprivileged():
    r = as_nobody([program("demo"), "--wire=json"])
    out = r.stdout.decode()
    if "cannot capture packets" in out:
        pytest.skip("SKIP (loud): " + out.splitlines()[2])
    assert r.returncode == 0, (out, r.stderr)
    assert out.splitlines()[2].startswith("wire: not privileged, so the flows run in a user and "
                                          "network namespace of their own")
    check_demo(out)


def test_demo_wire_fallback():
    """No capture and no namespace (user namespaces at their limit): the demo says why and
    shows what the kernel counted for the client instead."""
    need_root()
    script = 'echo 0 > /proc/sys/user/max_user_namespaces && exec "$0" --wire'
    r = subprocess.run(["unshare", "-U", "-r", "sh", "-c", script, program("demo")],
                       capture_output=True, timeout=60)
    out = r.stdout.decode()
    assert r.returncode == 0, (out, r.stderr)
    assert re.search(r"^wire: cannot capture packets \(unshare\(CLONE_NEWUSER\|CLONE_NEWNET\): "
                     r".*max_user_namespaces.*\); showing TCP_INFO counters instead$", out, re.M)
    # Handshake: SYN and ACK out, SYN+ACK in, the SYN acknowledged (1 byte of sequence space).
    assert "    [tcp_info] client after connect: segments out 2, in 1; bytes acknowledged 1\n" \
        in out
    # Three lines (39 bytes) sent and echoed. Out: SYN, ACK, 3 data segments, and up to 3
    # ACKs of the echoes (an ACK may ride on the next line or wait: timing). In: SYN+ACK, 3
    # echoes, and up to 3 ACKs of the lines (likewise). All 39 bytes are acknowledged (the
    # last echo carries the ACK of the last line), plus the SYN: 40.
    m = re.search(r"^    \[tcp_info\] client after the echoes: segments out (\d+), in (\d+); "
                  r"bytes acknowledged 40$", out, re.M)
    assert m and 5 <= int(m.group(1)) <= 8 and 4 <= int(m.group(2)) <= 7, out
    assert "[wire]" not in out


def test_wire_unprivileged_outside_namespace():
    """Without CAP_NET_RAW netlab-wire says what it needs and exits 1."""
    r = as_nobody([program("wire"), "9000"])
    if os.geteuid() != 0 and r.returncode == 0:
        pytest.skip("SKIP (loud): this user may capture")
    assert r.returncode == 1
    assert r.stderr.decode() == ("netlab-wire: capture needs CAP_NET_RAW: run it as root, or "
                                 "inside a user and network namespace of your own "
                                 "(unshare -rn)\n")


@pytest.mark.parametrize("args,msg", [
    ([], "which port?"),
    (["0"], "bad port '0'"),
    (["65536"], "bad port '65536'"),
    (["--count", "0", "9000"], "bad count '0'"),
    (["--count", "-1", "9000"], "bad count '-1'"),
    (["9000", "9001"], "bad argument '9001'"),
    (["--bogus", "9000"], "bad argument '--bogus'"),
])
def test_wire_usage(args, msg):
    r = subprocess.run([program("wire")] + args, capture_output=True, timeout=30)
    assert r.returncode == 2 and r.stdout == b""
    err = r.stderr.decode()
    assert msg in err and err.count("\n") == 1 and err.startswith("netlab-wire: "), err


def test_wire_bad_interface():
    need_root()
    r = subprocess.run([program("wire"), "--interface", "nosuch0", "9000"], capture_output=True,
                       timeout=30)
    assert r.returncode == 1
    assert r.stderr.decode() == "netlab-wire: capture on nosuch0: invalid argument\n"


def wire_lines(stderr):
    """The [wire] JSON lines a course program printed on stderr, and its closing count."""
    pk, counts = [], None
    for line in stderr.decode().splitlines():
        if line.startswith("[wire] {"):
            pk.append(json.loads(line[7:]))
        elif line.startswith("[wire] ") and line.endswith(" missed"):
            counts = line
    return pk, counts


def echo_server():
    """A Python echo server on a free port, one connection, on a thread. Returns (port, thread)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(10)

    def serve():
        with srv:
            c, _ = srv.accept()
            with c:
                while data := c.recv(65536):
                    c.sendall(data)
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return srv.getsockname()[1], t


def test_tcp_client_wire():
    """netlab-tcp-client --wire=json: its own connection, handshake to close, none missed."""
    need_root()
    port, t = echo_server()
    r = subprocess.run([program("tcp_client"), "--wire=json", "127.0.0.1", str(port)],
                       input="hello\n你好\n".encode(), capture_output=True, timeout=60)
    t.join(10)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == "hello\n你好\n"
    pk, counts = wire_lines(r.stderr)
    steps = [(p["dir"], p["step"]) for p in pk]
    assert steps[:3] == [("c2s", "syn"), ("s2c", "syn-ack"), ("c2s", "handshake-ack")], steps
    sent = [p for p in pk if p["dir"] == "c2s" and p["len"]]
    echoed = [p for p in pk if p["dir"] == "s2c" and p["len"]]
    assert sum(p["len"] for p in sent) == sum(p["len"] for p in echoed) == 5 + 6, pk
    # Every data segment is answered, in both directions; each side's FIN too.
    assert all(any(q["answers"] >= p["i"] for q in pk if q["dir"] != p["dir"])
               for p in pk if p["len"] or p["step"] == "fin"), pk
    assert sorted(p["dir"] for p in pk if p["step"] == "fin") == ["c2s", "s2c"], pk
    assert counts == f"[wire] {len(pk)} packets, 0 missed", counts


def test_udp_client_wire():
    """netlab-udp-client --wire=json: one datagram per line, nothing back."""
    need_root()
    with socket.socket(type=socket.SOCK_DGRAM) as srv:
        srv.bind(("127.0.0.1", 0))
        port = srv.getsockname()[1]
        r = subprocess.run([program("udp_client"), "--wire=json", "127.0.0.1", str(port)],
                           input=b"hello\nworld!\n", capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    pk, counts = wire_lines(r.stderr)
    assert [(p["step"], p["dir"], p["len"], p["udp_len"]) for p in pk] == \
        [("udp", "c2s", 5, 13), ("udp", "c2s", 6, 14)], pk
    assert counts == "[wire] 2 packets, 0 missed"


def test_programs_wire_unprivileged():
    """Without CAP_NET_RAW the course programs say why and go on without --wire."""
    with socket.socket(type=socket.SOCK_DGRAM) as srv:
        srv.bind(("127.0.0.1", 0))
        port = srv.getsockname()[1]
        r = as_nobody([program("udp_client"), "--wire", "127.0.0.1", str(port)], input=b"hi\n")
        assert srv.recv(16) == b"hi"
    if os.geteuid() != 0 and b"going on without it" not in r.stderr:
        pytest.skip("SKIP (loud): this user may capture")
    assert r.returncode == 0
    assert r.stderr.decode() == ("netlab-udp-client: --wire: operation not permitted (capturing "
                                 "needs CAP_NET_RAW: root, or unshare -rn); going on without "
                                 "it\n")
