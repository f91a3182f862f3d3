"""The UDP echo loop of one Python process, to profile (strace -c, valgrind --tool=callgrind):

  profile_udp.py [--netlab] [--count N] [--size B] [--gap-us U] [--queued]

This process is the server: N times recvfrom() (blocking, so every call waits for the next
datagram, as in a round trip) and sendto() back. The client is a separate process using the
standard library (started with subprocess, so `strace` without -f and callgrind without
--trace-children see only the server). Bounded: the client gives up after 5 s without an
answer, the server after N round trips. --queued: no client; the socket sends N datagrams to
itself, each taken at once with recvfrom() (the datagram is always there: the instructions of
the calls themselves, for callgrind). See docs/benchmarks.md ("Profiles") for how it is run.
"""
import argparse
import socket
import subprocess
import sys

CLIENT = r"""
import socket, sys, time
port, count, size, gap_us = map(int, sys.argv[1:5])
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.settimeout(5)
payload = b"p" * size
for _ in range(count):
    if gap_us:
        time.sleep(gap_us / 1e6)  # the server waits for each datagram
    c.sendto(payload, ("127.0.0.1", port))
    try:
        c.recvfrom(2048)
    except TimeoutError:
        break
"""


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--netlab", action="store_true")
    p.add_argument("--count", type=int, default=20000)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--queued", action="store_true")
    p.add_argument("--gap-us", type=int, default=0,
                   help="the client waits this long before each datagram")
    a = p.parse_args()
    if a.netlab:
        import netlab as mod
    else:
        mod = socket
    s = mod.socket(mod.AF_INET, mod.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    if a.queued:
        addr, payload = s.getsockname(), b"q" * a.size
        recvfrom, sendto = s.recvfrom, s.sendto
        for _ in range(a.count):
            sendto(payload, addr)
            recvfrom(2048)
        s.close()
        return 0
    client = subprocess.Popen([sys.executable, "-c", CLIENT, str(s.getsockname()[1]),
                               str(a.count), str(a.size), str(a.gap_us)])
    recvfrom, sendto = s.recvfrom, s.sendto
    try:
        for _ in range(a.count):
            data, peer = recvfrom(2048)
            sendto(data, peer)
    finally:
        client.wait(timeout=30)
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
