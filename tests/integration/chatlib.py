"""Helpers for the netlab-chat integration tests: run the program, talk to it through pipes,
forge and spoof datagrams. Standard library only; every wait has a deadline and every process
started here is reaped by PID."""

import os
import queue
import random
import re
import socket
import struct
import subprocess
import threading
import time

CHAT = os.environ.get("NETLAB_CHAT", "netlab-chat")


def cpu_seconds(pid):
    """User + system CPU time a process has used so far, from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Chat:
    """One netlab-chat process in pipe mode, its stdout and stderr read by threads."""

    def __init__(self, args, prefix=(), stdin=None):
        """stdin: None for a pipe the test writes to (send), or a file path to read from."""
        self.argv = list(prefix) + [CHAT] + list(args)
        src = subprocess.PIPE if stdin is None else open(stdin, "rb")
        try:
            self.p = subprocess.Popen(self.argv, stdin=src, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE)
        finally:
            if stdin is not None:
                src.close()
        self.out = queue.Queue()
        self.err_lines = []
        self.err = queue.Queue()
        self.t_exit = None
        self._threads = [threading.Thread(target=self._pump, args=(self.p.stdout, self.out, None),
                                          daemon=True),
                         threading.Thread(target=self._pump, args=(self.p.stderr, self.err,
                                                                   self.err_lines), daemon=True)]
        for t in self._threads:
            t.start()

    @staticmethod
    def _pump(f, q, keep):
        for line in iter(f.readline, b""):
            if keep is not None:
                keep.append(line)
            q.put(line)
        q.put(None)

    def wait_err(self, pattern, timeout=5.0):
        """Wait for a stderr line matching pattern (a regex on text); return the match."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no stderr line like %r in %.1fs; got %r"
                                     % (pattern, timeout, self.err_lines))
            try:
                line = self.err.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError("stderr closed before %r; got %r" % (pattern, self.err_lines))
            m = rx.search(line.decode("utf-8", "replace"))
            if m:
                return m

    def port(self):
        m = self.wait_err(r"listening on (\[?[0-9a-f.:]+\]?):(\d+)")
        return int(m.group(2))

    def send(self, text):
        data = text.encode() if isinstance(text, str) else text
        self.p.stdin.write(data + b"\n")
        self.p.stdin.flush()

    def read_lines(self, n, timeout):
        """Read n stdout lines (bytes, newline stripped) within timeout."""
        deadline = time.monotonic() + timeout
        got = []
        while len(got) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("only %d of %d lines in %.1fs: %r"
                                     % (len(got), n, timeout, [g[:60] for g in got]))
            try:
                line = self.out.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError("stdout closed after %d of %d lines" % (len(got), n))
            got.append(line[:-1] if line.endswith(b"\n") else line)
        return got

    def rest_of_output(self, timeout=2.0):
        """After exit: every stdout line not read yet."""
        rest = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.out.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                continue
            if line is None:
                return rest
            rest.append(line)
        raise AssertionError("stdout not closed")

    def wait_exit(self, timeout):
        try:
            rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("%s did not exit within %.1fs" % (self.argv, timeout))
        self.t_exit = time.monotonic()
        for t in self._threads:
            t.join(timeout=2)
        return rc

    def stats(self):
        """The drop counters printed by --stats, as a dict."""
        text = b"".join(self.err_lines).decode("utf-8", "replace")
        return {k: int(v) for k, v in re.findall(r"(\w+) (\d+)", text.split("drops:")[-1])} \
            if "drops:" in text else {}

    def traffic(self):
        """The traffic figures printed by --stats (datagrams_in, ..., messages_out), as a dict."""
        text = b"".join(self.err_lines).decode("utf-8", "replace")
        m = re.search(r"datagrams in (\d+), out (\d+), retransmits (\d+), messages in (\d+), "
                      r"out (\d+)(?:, acknowledged (\d+))?", text)
        keys = ["datagrams_in", "datagrams_out", "retransmits", "messages_in", "messages_out",
                "messages_acked"]
        return {k: int(v) for k, v in zip(keys, m.groups()) if v is not None} if m else {}

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(timeout=5)

    def close(self):
        try:
            if self.p.stdin is not None:
                self.p.stdin.close()
        except OSError:
            pass
        self.kill()


# ---- frames, for forging: the layout of lib/frame.h ------------------------------------------

def frame(ftype, sid, sender, seq=0, pn=1, index=0, count=0, payload=b"", flags=0, magic=b"NL",
          version=1):
    # A sealed frame's length field counts the plaintext: the payload minus its 16-byte tag.
    ln = len(payload) - 16 if flags & 1 else len(payload)
    return (magic + struct.pack(">BBBBH", version, ftype, flags, 0, ln)
            + struct.pack(">QQIIHH", sid, sender, seq, pn, index, count) + payload)


def parse_header(data):
    if len(data) < 36 or data[:2] != b"NL":
        return None
    ver, ftype, flags, _res, ln = struct.unpack(">BBBBH", data[2:8])
    sid, sender, seq, pn, index, count = struct.unpack(">QQIIHH", data[8:36])
    return dict(type=ftype, flags=flags, len=ln, sid=sid, sender=sender, seq=seq, pn=pn)


def junk_datagrams(rng, n):
    """Plain text, random bytes and well-formed frames of sessions that do not exist."""
    out = []
    for i in range(n):
        kind = i % 3
        if kind == 0:
            out.append(("text %d: 你好 interference" % i).encode())
        elif kind == 1:
            out.append(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300))))
        else:
            sid = rng.getrandbits(64) | (1 << 32) | 1
            out.append(frame(3, sid, rng.getrandbits(63) + 1, seq=rng.randint(1, 5), pn=i + 1,
                             index=0, count=1, payload=b"forged message %d" % i))
    return out


# ---- spoofing and sniffing on loopback (root only) ------------------------------------------

def can_raw():
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        s.close()
        return True
    except OSError:
        return False


class Spoofer:
    """Send UDP datagrams with any IPv4 source address and port (IP_HDRINCL raw socket)."""

    def __init__(self):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)

    def send(self, src, dst, payload):
        udp = struct.pack(">HHHH", src[1], dst[1], 8 + len(payload), 0) + payload
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, socket.IPPROTO_UDP, 0,
                         socket.inet_aton(src[0]), socket.inet_aton(dst[0]))
        self.s.sendto(ip + udp, (dst[0], 0))

    def close(self):
        self.s.close()


class Sniffer:
    """Record the UDP datagrams between two loopback ports (AF_PACKET on lo)."""

    def __init__(self, ports):
        self.ports = set(ports)
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
        # The flood passes through lo too: a large buffer, so real frames are not lost in it.
        self.s.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)  # SO_RCVBUFFORCE (root)
        self.s.bind(("lo", 0))
        self.s.settimeout(0.1)
        self.frames = []  # (src_port, dst_port, payload)
        self.stop = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        seen = set()
        while not self.stop:
            try:
                pkt = self.s.recv(70000)
            except socket.timeout:
                continue
            except OSError:
                return
            if len(pkt) < 28 or pkt[9] != socket.IPPROTO_UDP:
                continue
            ihl = (pkt[0] & 15) * 4
            sport, dport = struct.unpack(">HH", pkt[ihl:ihl + 4])
            if sport in self.ports and dport in self.ports:
                payload = pkt[ihl + 8:]
                # lo shows each packet once per direction of the capture; keep one copy.
                if (sport, payload) not in seen:
                    seen.add((sport, payload))
                    self.frames.append((sport, dport, payload))

    def wait_both_ways(self, timeout=5.0):
        """Wait until frames of our protocol were seen in both directions."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len({sp for sp, dp, p in list(self.frames) if p[:2] == b"NL"}) == 2:
                return True
            time.sleep(0.02)  # the capture thread has no event to wait on
        return False

    def close(self):
        self.stop = True
        self.t.join(timeout=2)
        self.s.close()


def free_udp_port(host="127.0.0.1", family=socket.AF_INET):
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def big_message():
    """A 10,000-byte UTF-8 message: 3,333 Chinese characters and one ASCII letter."""
    m = "中" * 3333 + "a"
    assert len(m.encode()) == 10000
    return m


def messages(who, n=20):
    """n distinct messages, Chinese among them and one of 10,000 bytes."""
    out = []
    for i in range(n):
        if i == 7:
            out.append(big_message())
        elif i % 3 == 0:
            out.append("%s 第%d条消息：你好，世界" % (who, i))
        else:
            out.append("%s message %d" % (who, i))
    return out


def start_pair(extra_a=(), extra_b=(), host="127.0.0.1", bind_fmt="%s:0"):
    """alice waits on a free port, bob calls her; both print their counters (--stats)."""
    a = Chat(["--bind", bind_fmt % host, "--name", "alice", "--stats"] + list(extra_a))
    pa = a.port()
    peer = ("[%s]:%d" if ":" in host else "%s:%d") % (host, pa)
    b = Chat(["--bind", bind_fmt % host, "--peer", peer, "--name", "bob", "--stats"]
             + list(extra_b))
    pb = b.port()
    return a, b, pa, pb
