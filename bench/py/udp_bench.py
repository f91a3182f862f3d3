"""UDP benchmarks in Python: one-way datagrams/s (receiver CPU per datagram) and round-trip
latency, with the standard library's socket module, or with netlab's Python module (--netlab;
bench/run puts its Release build on PYTHONPATH). Same method and JSON output as the C
programs:

  udp_bench.py oneway --size 64 --count N --seconds S --cpu-send C --cpu-recv C
               [--netlab [--batch]]
  udp_bench.py rtt --count N --seconds S --cpu-server C --cpu-client C [--netlab]

--batch: the receiver takes datagrams with netlab's sock.recvmmsg() and the sender sends them
with sock.sendmmsg(), 32 at a time (the C batched rows use batches of 32 too). The stdlib has
no batch call, so it is compared with stdlib's per-call receive. When the module has no
recvmmsg yet, the program prints {"skipped": ...}.

Both ends use the same module. A run that would measure nothing (a loaded machine that delays
the first datagrams past the time limit) goes on until it has measured one datagram or round
trip, for at most 30 s more: no result depends on timing.
"""
import argparse
import json
import os
import select
import signal
import socket
import struct
import sys
import time


def pin(cpu):
    if cpu >= 0:
        os.sched_setaffinity(0, {cpu})


BATCH = 32
EXTRA_S = 30  # the bounded extension of a run that has measured nothing yet


def oneway(a, mod):
    rx = mod.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    rx.bind(("127.0.0.1", 0))
    addr = rx.getsockname()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        pin(a.cpu_recv)
        select.select([rx], [], [], 10)
        n = 0
        cpu0 = time.process_time_ns()
        first = last = time.monotonic_ns()
        deadline = first + int(a.seconds * 1e9)
        if a.batch:
            recvmmsg = rx.recvmmsg
            stop = False
            while n < a.count and not stop:
                got = recvmmsg(BATCH, 2048)
                for data, _ in got:
                    if not data:
                        stop = True
                        break
                    n += 1
                if n & ~1023 != (n - len(got)) & ~1023:  # crossed a multiple of 1024
                    last = time.monotonic_ns()
                    if last > deadline:
                        break
        else:
            recvfrom = rx.recvfrom
            while n < a.count:
                data, _ = recvfrom(2048)
                if not data:
                    break
                n += 1
                if n & 1023 == 0:
                    last = time.monotonic_ns()
                    if last > deadline:
                        break
        last = time.monotonic_ns()
        cpu = time.process_time_ns() - cpu0
        os.write(w, struct.pack("qqq", n, last - first, cpu))
        os._exit(0)
    pin(a.cpu_send)
    tx = mod.socket(socket.AF_INET, socket.SOCK_DGRAM)
    payload = b"u" * a.size
    deadline = time.monotonic() + a.seconds
    sent = 0
    if a.batch:
        sendmmsg, batch = tx.sendmmsg, [(payload, addr)] * BATCH
        while sent < a.count:
            sent += sendmmsg(batch)
            if sent & ~1023 != (sent - BATCH) & ~1023 and time.monotonic() > deadline:
                break
    else:
        sendto = tx.sendto
        while sent < a.count:
            sendto(payload, addr)
            sent += 1
            if sent & 1023 == 0 and time.monotonic() > deadline:
                break
    # Stop markers until the receiver reports (any one may be dropped); bounded.
    for _ in range(600):
        tx.sendto(b"", addr)
        if select.select([r], [], [], 0.05)[0]:
            break
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise SystemExit("udp_bench: the receiver did not report within 30 s")
    n, ns, cpu = struct.unpack("qqq", os.read(r, 24))
    os.waitpid(pid, 0)
    if n == 0 or ns <= 0:
        raise SystemExit("udp_bench: nothing received")
    return {"impl": a.impl, "size": a.size, "sent": sent, "received": n,
            "dps": n / (ns / 1e9), "cpu_ns": cpu / max(n, 1)}


def rtt(a, mod):
    srv = mod.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind(("127.0.0.1", 0))
    addr = srv.getsockname()
    pid = os.fork()
    if pid == 0:
        pin(a.cpu_server)
        while True:
            data, peer = srv.recvfrom(2048)
            srv.sendto(data, peer)
    pin(a.cpu_client)
    c = mod.socket(socket.AF_INET, socket.SOCK_DGRAM)
    payload = b"r" * a.size
    samples = []
    deadline = time.monotonic() + a.seconds
    hard = deadline + EXTRA_S
    now = time.perf_counter_ns
    # 1000 warm-up round trips, unless the time limit comes first: then sampling starts at
    # once, and the run goes on (to at most 30 s more) until it has one sample.
    warm, i = 1000, 0
    while len(samples) < a.count:
        t0 = now()
        c.sendto(payload, addr)
        c.recvfrom(2048)
        if i >= warm:
            samples.append(now() - t0)
        i += 1
        if i & 255 == 0 or i < warm:
            t = time.monotonic()
            if t > deadline:
                warm = min(warm, i)
                if samples or t > hard:
                    break
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    if not samples:
        raise SystemExit("udp_bench: no round trip within the time limit and 30 s more")
    samples.sort()
    pick = lambda p: samples[min(len(samples) - 1, int(p / 100 * (len(samples) - 1) + 0.5))]
    return {"impl": a.impl, "n": len(samples), "p50_us": pick(50) / 1e3, "p99_us": pick(99) / 1e3}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["oneway", "rtt"])
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--count", type=int, default=100000)
    p.add_argument("--seconds", type=float, default=10)
    for n in ("cpu-send", "cpu-recv", "cpu-server", "cpu-client"):
        p.add_argument("--" + n, type=int, default=-1)
    p.add_argument("--netlab", action="store_true")
    p.add_argument("--batch", action="store_true")
    a = p.parse_args()
    mod, a.impl = socket, "py"
    if a.netlab:
        try:
            import netlab
        except ImportError as e:
            print(json.dumps({"skipped": "import netlab failed: %s" % e}))
            return 0
        mod, a.impl = netlab, "py-netlab"
        if a.batch:
            if not (hasattr(netlab.socket, "recvmmsg") and hasattr(netlab.socket, "sendmmsg")):
                print(json.dumps({"skipped": "this netlab module has no socket.recvmmsg/sendmmsg "
                                             "(batch UDP for Python not merged yet)"}))
                return 0
            a.impl = "py-netlab-batch"
    elif a.batch:
        p.error("--batch needs --netlab (the stdlib has no batch receive)")
    print(json.dumps(oneway(a, mod) if a.what == "oneway" else rtt(a, mod)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
