"""A UDP flooder, run as its own process by the hostile-input tests: it sends junk datagrams
(plain text, random bytes, well-formed frames of sessions that do not exist; chatlib's mix) to
HOST PORT as fast as it can for SECONDS, then prints how many it sent. Bounded in time; a
full socket buffer (ENOBUFS) or an ICMP error (ECONNREFUSED) is counted and ignored.

With --spoof SRCPORT (root, IPv4), the datagrams carry 127.0.0.1:SRCPORT as their source (a raw
socket, chatlib's Spoofer), so they pass a connected socket's address filter and reach the
program's own validation.

usage: flood.py HOST PORT SECONDS [SEED] [--spoof SRCPORT]"""
import os
import random
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chatlib import Spoofer, junk_datagrams  # noqa: E402


def main():
    args = sys.argv[1:]
    spoof_port = None
    if "--spoof" in args:
        i = args.index("--spoof")
        spoof_port = int(args[i + 1])
        del args[i:i + 2]
    host, port, seconds = args[0], int(args[1]), float(args[2])
    seed = int(args[3]) if len(args) > 3 else 1
    junk = junk_datagrams(random.Random(seed), 300)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if spoof_port is not None:
        spoofer = Spoofer()

        class Sock:
            def sendto(self, d, dst):
                spoofer.send(("127.0.0.1", spoof_port), dst, d)
        s = Sock()
    else:
        s = socket.socket(family, socket.SOCK_DGRAM)
    sent = errors = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for d in junk[:100]:
            try:
                s.sendto(d, (host, port))
                sent += 1
            except OSError:
                errors += 1
        junk.append(junk.pop(0))
    print("sent %d errors %d" % (sent, errors), flush=True)


if __name__ == "__main__":
    main()
