#!/usr/bin/python3
"""Checks of the wire (issue 15) that run the same as root and as an unprivileged user.

Each check starts `netlab-wire --json PORT`, drives an exchange with Python's socket module
(a peer nobody here wrote) and compares what the capture reported with what happened and with
what the kernel counted (TCP_INFO). test_wire.py runs them directly (as root: CI's private
network namespace) and through this file's command line as `nobody` inside `unshare -rn`
(the namespace path a learner takes). No pytest here: failures raise AssertionError, and the
command line prints one JSON summary line.

Every wait has a deadline; the netlab-wire process is stopped by its PID and reaped.
"""
import argparse
import fcntl
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

TIMEOUT = 10.0


def lo_up():
    """Bring up lo in a fresh network namespace (SIOCGIFFLAGS, then SIOCSIFFLAGS with IFF_UP)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(s, 0x8913, req))[1]
        fcntl.ioctl(s, 0x8914, struct.pack("16sh", b"lo", flags | 1))


def tcp_info(sock):
    """(segments out, segments in, bytes acknowledged) from the kernel's TCP_INFO."""
    raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
    bytes_acked, = struct.unpack_from("=Q", raw, 120)
    segs_out, segs_in = struct.unpack_from("=II", raw, 136)
    return segs_out, segs_in, bytes_acked


class Wire:
    """A running `netlab-wire --json PORT`, its lines parsed on a thread as they come."""

    def __init__(self, binary, port, extra=()):
        self.proc = subprocess.Popen([binary, "--json", *extra, str(port)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.packets, self.stats, self.ready = [], None, False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()
        assert self.wait(lambda: self.ready), self.failure("netlab-wire did not start")

    def _pump(self):
        for line in self.proc.stdout:
            obj = json.loads(line)
            with self._cond:
                if "watching" in obj:
                    self.ready = True
                elif "stats" in obj:
                    self.stats = obj["stats"]
                else:
                    self.packets.append(obj)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait(self, ready, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        with self._cond:
            while not ready():
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None and not self._thread.is_alive():
                    return ready()
                self._cond.wait(min(left, 0.5))
            return True

    def flow(self, client_port):
        """The packets of one connection (identified by the client's port), in order."""
        with self._cond:
            return [p for p in self.packets
                    if p["proto"] == "tcp" and
                    (p["src"] if p["dir"] == "c2s" else p["dst"]).endswith(f":{client_port}")]

    def stop(self):
        """Interrupt it (it then prints its counters), reap it; returns its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            rc = self.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("netlab-wire did not stop on SIGINT")
        self._thread.join(TIMEOUT)
        return rc

    def failure(self, what):
        err = self.proc.stderr.read().decode() if self.proc.poll() is not None else ""
        return f"{what}; stderr: {err!r}"


def shape(flow):
    """A connection's packets as (direction, step) pairs."""
    return [(p["dir"], p["step"]) for p in flow]


def check_close(flow, n_data):
    """The packets of a connect / send / close run: what the notes teach, in order, none
    missing, and every ACK answering the segment it should. The close has two correct shapes:
    the server's ACK of the client's FIN goes alone or rides on the server's own FIN."""
    i = [p["i"] for p in flow]
    head = [("c2s", "syn"), ("s2c", "syn-ack"), ("c2s", "handshake-ack")]
    head += [("c2s", "data"), ("s2c", "ack")] * n_data + [("c2s", "fin")]
    tails = ([("s2c", "ack"), ("s2c", "fin"), ("c2s", "ack")], [("s2c", "fin"), ("c2s", "ack")])
    got = shape(flow)
    assert got[:len(head)] == head and tuple(got[len(head):]) in map(tuple, tails), got
    assert flow[1]["answers"] == i[0] and flow[2]["answers"] == i[1], flow
    assert flow[0]["flags"] == "SYN" and flow[1]["flags"] == "SYN,ACK", flow
    assert flow[0]["seq"] == 0 and flow[1]["seq"] == 0 and flow[1]["ack"] == 1, flow
    for k in range(n_data):
        data, ack = flow[3 + 2 * k], flow[4 + 2 * k]
        assert ack["answers"] == data["i"] and ack["ack"] == data["seq"] + data["len"], flow
    fin = len(head) - 1
    assert flow[fin + 1]["answers"] == i[fin], flow  # the client's FIN is acknowledged
    assert flow[-1]["answers"] == i[-2], flow        # and so is the server's
    # i counts every packet the capture reported: no gap within this connection's run.
    assert i == list(range(i[0], i[0] + len(i))), i


def listener(backlog):
    """A TCP socket listening on a free loopback port, and the port."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(backlog)
    return srv, srv.getsockname()[1]


def handshakes(binary, runs):
    """`runs` connect / send / close runs, each captured whole and cross-checked."""
    srv, port = listener(16)
    with srv:
        wire = Wire(binary, port)
        try:
            for run in range(runs):
                c = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
                a, _ = srv.accept()
                a.settimeout(TIMEOUT)
                cport = c.getsockname()[1]
                # Each step waits until the capture has shown the previous one, so the order
                # on the wire is the order of the steps even on a loaded machine.
                assert wire.wait(lambda: len(wire.flow(cport)) >= 3), wire.flow(cport)
                c.sendall(b"hello")
                assert a.recv(16) == b"hello"
                assert wire.wait(lambda: len(wire.flow(cport)) >= 5), wire.flow(cport)
                c.shutdown(socket.SHUT_WR)
                assert a.recv(16) == b""
                a.close()
                assert c.recv(16) == b""

                def closed():
                    f = wire.flow(cport)
                    return len(f) >= 8 and f[-1]["dir"] == "c2s" and f[-1]["answers"] and \
                        any(p["dir"] == "s2c" and p["step"] == "fin" for p in f)
                assert wire.wait(closed), wire.flow(cport)
                segs_out, segs_in, acked = tcp_info(c)
                c.close()
                flow = wire.flow(cport)
                check_close(flow, 1)
                sent = [p for p in flow if p["dir"] == "c2s"]
                got = [p for p in flow if p["dir"] == "s2c"]
                assert (segs_out, segs_in) == (len(sent), len(got)), (run, segs_out, segs_in, flow)
                assert acked == max(p["ack"] for p in got) == 7, (acked, flow)
        finally:
            rc = wire.stop()
    assert rc == 0, wire.failure(f"netlab-wire exit status {rc}")
    assert wire.stats["drops"] == 0 and wire.stats["decoded"] == len(wire.packets), wire.stats
    return {"runs": runs, "packets": len(wire.packets), "drops": wire.stats["drops"]}


def bulk(binary, size=1 << 20, mss=1400):
    """A 1 MiB transfer in segments of at most `mss` bytes: every segment captured, none
    dropped, every byte acknowledged; counts equal to TCP_INFO's."""
    srv, port = listener(1)
    with srv:
        wire = Wire(binary, port)
        try:
            c = socket.socket()
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, mss)
            c.settimeout(TIMEOUT)
            c.connect(("127.0.0.1", port))
            a, _ = srv.accept()
            a.settimeout(TIMEOUT)
            cport = c.getsockname()[1]
            payload = bytes(range(256)) * (size // 256)
            t = threading.Thread(target=c.sendall, args=(payload,))
            t.start()
            got = 0
            while got < size:
                chunk = a.recv(1 << 16)
                assert chunk, "connection closed early"
                got += len(chunk)
            t.join(TIMEOUT)
            assert not t.is_alive()

            def all_acked():
                return any(p["dir"] == "s2c" and p["ack"] == size + 1 for p in wire.flow(cport))
            assert wire.wait(all_acked), "the last byte's ACK was not captured"
            segs_out, segs_in, acked = tcp_info(c)
            flow = wire.flow(cport)
            a.close()
            c.close()
        finally:
            rc = wire.stop()
    assert rc == 0 and wire.stats["drops"] == 0, (rc, wire.stats)
    data = [p for p in flow if p["dir"] == "c2s" and p["len"]]
    # Loopback takes offloaded packets of up to 64 KiB (GSO); each stands for segs segments of
    # at most one MSS, which is what TCP_INFO counts.
    assert sum(p["len"] for p in data) == size, len(data)
    assert all(p["len"] <= p["segs"] * mss for p in data), data
    # Contiguous: each segment starts where the previous one ended (no retransmission on lo).
    assert all(q["seq"] == p["seq"] + p["len"] for p, q in zip(data, data[1:]))
    assert (segs_out, segs_in) == (sum(p["segs"] for p in flow if p["dir"] == "c2s"),
                                   sum(p["segs"] for p in flow if p["dir"] == "s2c"))
    assert acked == size + 1
    return {"bytes": size, "segments": sum(p["segs"] for p in data), "packets": len(flow),
            "drops": wire.stats["drops"]}


def udp(binary):
    """Datagrams: no handshake, no acknowledgement; one packet per sendto, each way."""
    with socket.socket(type=socket.SOCK_DGRAM) as srv, \
            socket.socket(type=socket.SOCK_DGRAM) as cli:
        srv.bind(("127.0.0.1", 0))
        srv.settimeout(TIMEOUT)
        port = srv.getsockname()[1]
        wire = Wire(binary, port)
        try:
            msgs = [b"hello", "你好，世界".encode(), b""]
            for m in msgs:
                cli.sendto(m, ("127.0.0.1", port))
                data, addr = srv.recvfrom(2048)
                assert data == m
            srv.sendto(b"reply", addr)
            assert wire.wait(lambda: len(wire.packets) >= 4), wire.packets
        finally:
            rc = wire.stop()
    assert rc == 0 and wire.stats["drops"] == 0, (rc, wire.stats)
    pk = wire.packets
    assert [p["step"] for p in pk] == ["udp"] * 4, pk
    assert [p["dir"] for p in pk] == ["c2s"] * 3 + ["s2c"], pk
    assert [p["len"] for p in pk] == [len(m) for m in msgs] + [5], pk
    assert all(p["udp_len"] == p["len"] + 8 and "ack" not in p for p in pk), pk
    return {"datagrams": len(pk)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--netlab-wire", required=True)
    ap.add_argument("--lo-up", action="store_true", help="bring lo up first (a new netns)")
    ap.add_argument("--runs", type=int, default=200)
    args = ap.parse_args()
    if args.lo_up:
        lo_up()
    out = {"uid": os.getuid(), "handshakes": handshakes(args.netlab_wire, args.runs),
           "bulk": bulk(args.netlab_wire), "udp": udp(args.netlab_wire)}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
