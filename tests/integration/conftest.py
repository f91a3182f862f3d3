"""Shared helpers for the integration tests of the example programs.

The tests run the real programs (paths come from CMake through environment variables) against
peers nobody here wrote: Python's socket module, socat and ncat. Every process a test starts
goes through the `procs` fixture, which kills and reaps it by PID when the test ends, and every
wait below has a deadline, so a misbehaving program fails a test instead of hanging it.
"""
import os
import select
import socket
import subprocess
import threading
import time

import pytest

# How long any single expected event may take. Generous, because the suite runs under
# `ctest -j` on a small shared machine, and sometimes under valgrind or the sanitizers.
TIMEOUT = 10.0

PROGRAMS = {
    "udp_server": "NETLAB_UDP_SERVER",
    "udp_client": "NETLAB_UDP_CLIENT",
    "tcp_server": "NETLAB_TCP_SERVER",
    "tcp_client": "NETLAB_TCP_CLIENT",
    "demo": "NETLAB_DEMO",
    "echo_server": "NETLAB_ECHO_SERVER",
    "wire": "NETLAB_WIRE",
    "chat": "NETLAB_CHAT",
}

CHINESE = "你好，世界"
PROMPT = "请输入发送数据: "


def program(name):
    """The path of an example program, as CMake passed it; a missing one fails the test."""
    var = PROGRAMS[name]
    path = os.environ.get(var)
    if not path or not os.access(path, os.X_OK):
        pytest.fail(f"{var} is not set to an executable (run these tests through ctest)")
    return path


def free_port(kind=socket.SOCK_DGRAM, family=socket.AF_INET):
    """A port the OS just handed out for `kind`. Callers retry if someone takes it meanwhile."""
    host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
    with socket.socket(family, kind) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Stream:
    """Collects everything a pipe delivers, on a thread, so tests can wait with a deadline."""

    def __init__(self, fileobj):
        self._buf = bytearray()
        self._eof = False
        self._cond = threading.Condition()
        self._pos = 0  # how far read_line() has consumed
        self._thread = threading.Thread(target=self._pump, args=(fileobj,), daemon=True)
        self._thread.start()

    def _pump(self, fileobj):
        # This thread alone reads and closes the pipe. Were another thread to close it, the
        # descriptor number could be reused by the next test process's pipe while this thread
        # still reads from that number, stealing the new program's output.
        fd = fileobj.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # e.g. EIO from a pty whose other side is gone
                chunk = b""
            with self._cond:
                if chunk:
                    self._buf += chunk
                else:
                    self._eof = True
                self._cond.notify_all()
            if not chunk:
                fileobj.close()
                return

    def join(self, timeout=TIMEOUT):
        """Wait for the reader to see the end of the pipe (the program and its children gone)."""
        self._thread.join(timeout)

    def _wait(self, ready, timeout):
        deadline = time.monotonic() + timeout
        with self._cond:
            while not ready():
                left = deadline - time.monotonic()
                if left <= 0 or self._eof:
                    return ready()
                self._cond.wait(left)
            return True

    def read_line(self, timeout=TIMEOUT):
        """The next whole line (bytes, without its newline), or None on timeout/EOF."""
        def have_line():
            return self._buf.find(b"\n", self._pos) >= 0

        if not self._wait(have_line, timeout):
            return None
        with self._cond:
            end = self._buf.index(b"\n", self._pos)
            line = bytes(self._buf[self._pos:end])
            self._pos = end + 1
            return line

    def wait_for(self, needle, timeout=TIMEOUT):
        """True once `needle` (bytes) has appeared anywhere in the output."""
        return self._wait(lambda: needle in self._buf, timeout)

    def wait_match(self, regex, timeout=TIMEOUT):
        """True once the output, decoded, matches the compiled `regex` (searched)."""
        return self._wait(lambda: regex.search(self._buf.decode("utf-8", "replace")), timeout)

    def wait_len(self, n, timeout=TIMEOUT):
        """True once at least n bytes have arrived."""
        return self._wait(lambda: len(self._buf) >= n, timeout)

    def wait_eof(self, timeout=TIMEOUT):
        return self._wait(lambda: self._eof, timeout)

    def data(self):
        with self._cond:
            return bytes(self._buf)

    def text(self):
        return self.data().decode("utf-8", errors="replace")


class Proc:
    """A started program with its output streams collected in the background."""

    def __init__(self, argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, input=None, **kw):
        """input: bytes to give the program as its whole standard input, already at hand
        when it starts (a pipe filled and closed beforehand), so a program that exits early
        cannot make the test fail with a broken pipe."""
        self.argv = [str(a) for a in argv]
        feed = None
        if input is not None:
            assert len(input) < 65536, "must fit in a pipe buffer"
            feed, w = os.pipe()
            os.write(w, input)
            os.close(w)
            stdin = feed
        try:
            self.popen = subprocess.Popen(self.argv, stdin=stdin, stdout=stdout,
                                          stderr=subprocess.PIPE, **kw)
        finally:
            if feed is not None:
                os.close(feed)
        self.pid = self.popen.pid
        self.out = Stream(self.popen.stdout) if self.popen.stdout else None
        self.err = Stream(self.popen.stderr)

    def write(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.popen.stdin.write(data)
        self.popen.stdin.flush()

    def close_stdin(self):
        if self.popen.stdin and not self.popen.stdin.closed:
            self.popen.stdin.close()

    def alive(self):
        return self.popen.poll() is None

    def wait(self, timeout=TIMEOUT):
        """The exit status; fails the test if the program does not exit in time."""
        try:
            rc = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{self.argv} did not exit within {timeout} s; "
                        f"stderr: {self.err.text()!r}")
        # The readers may still hold the last bytes the program wrote before exiting.
        if self.out:
            self.out.wait_eof(TIMEOUT)
        self.err.wait_eof(TIMEOUT)
        return rc

    def stop(self):
        """Kill (by PID) and reap. Safe to call twice."""
        if self.popen.poll() is None:
            self.popen.kill()
        try:
            self.popen.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL cannot be ignored
            pass
        try:
            self.close_stdin()
        except OSError:  # the program died with unread input: EPIPE on the final flush
            pass
        # The readers close stdout and stderr themselves once they see the end of the pipes.
        for stream in (self.out, self.err):
            if stream:
                stream.join()


class Procs:
    """Starts processes for one test and guarantees each is killed and reaped afterwards."""

    def __init__(self):
        self._all = []

    def start(self, argv, **kw):
        p = Proc(argv, **kw)
        self._all.append(p)
        return p

    def stop_all(self):
        for p in reversed(self._all):
            p.stop()


@pytest.fixture
def procs():
    ps = Procs()
    try:
        yield ps
    finally:
        ps.stop_all()


def addr_in_use(proc):
    """True when a program that has exited gave up because its port was taken."""
    text = proc.err.text().lower()
    return "in use" in text


# --- waiting for listeners --------------------------------------------------------------------

def _socket_inodes(pid):
    """The inodes of the sockets process `pid` holds open, from /proc/PID/fd."""
    inodes = set()
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:  # the process is gone
        return inodes
    for name in names:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _proc_net_inodes(kind, port, states, pid="self"):
    """Inodes of the sockets of `kind` bound to local `port` in one of `states`, as seen from
    process `pid`'s network namespace (/proc/PID/net), so programs in netns work too."""
    files = ["tcp", "tcp6"] if kind == socket.SOCK_STREAM else ["udp", "udp6"]
    found = set()
    for name in files:
        try:
            with open(f"/proc/{pid}/net/{name}") as f:
                next(f)
                for line in f:
                    fields = line.split()
                    local, state, inode = fields[1], fields[3], fields[9]
                    if int(local.rsplit(":", 1)[1], 16) == port and state in states:
                        found.add(inode)
        except FileNotFoundError:
            continue
    return found


def wait_bound(proc, kind, port, timeout=TIMEOUT):
    """Wait until `proc` itself has a socket listening (TCP) or bound (UDP) on `port`.

    Reading /proc does not disturb the peer, unlike a probe connection that a one-shot
    `socat TCP-LISTEN` would take as its only client. The socket must be the process's own:
    under `ctest -j` another test may have grabbed the port between our choosing it and the
    program binding it, and talking to that test's socket would fail in confusing ways.
    Returns False if the process exited first.
    """
    states = {"0A"} if kind == socket.SOCK_STREAM else {"07"}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _proc_net_inodes(kind, port, states, proc.pid) & _socket_inodes(proc.pid):
            return True
        if not proc.alive():
            return False
        time.sleep(0.01)  # polling /proc: there is no event to wait on
    pytest.fail(f"{proc.argv} did not bind port {port} within {timeout} s; "
                f"stderr {proc.err.text()!r}")


def start_bound(procs, make_argv, kind, family=socket.AF_INET, attempts=5):
    """Start a program that binds a free port, retrying if the port got taken meanwhile.

    make_argv(port) builds the command line. Returns (proc, port) once the program has bound
    the port itself.
    """
    for _ in range(attempts):
        port = free_port(kind, family)
        p = procs.start(make_argv(port))
        if wait_bound(p, kind, port):
            return p, port
        p.wait()
        p.stop()
    pytest.fail(f"could not start {make_argv('PORT')} after {attempts} attempts: "
                f"{p.err.text()!r}")


# --- the programs under test as servers ------------------------------------------------------

def start_udp_server(procs, host="127.0.0.1", extra=(), wrapper=()):
    """Start netlab-udp-server on a free port and wait until it prints datagrams.

    Once the server has bound its port, we send numbered probes until the first one is printed
    (the line also proves stdout is flushed), then an end marker; reading up to the marker
    leaves the output clean for the test. wrapper: a command to run the server under, e.g.
    valgrind. Returns (proc, port).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    p, port = start_bound(
        procs, lambda port: [*wrapper, program("udp_server"), "--host", host, "--port", port,
                             *extra], socket.SOCK_DGRAM, family)
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        deadline = time.monotonic() + TIMEOUT
        first = None
        i = 0
        while first is None and time.monotonic() < deadline and p.alive():
            probe.sendto(b"sync-probe-%d" % i, (host, port))
            i += 1
            first = p.out.read_line(timeout=0.05)
        probe.sendto(b"sync-end", (host, port))
        line = first
        for _ in range(i + 2):
            if line is None:
                break
            if line.endswith(b": sync-end"):
                return p, port
            assert b": sync-probe-" in line, line
            line = p.out.read_line()
    pytest.fail(f"udp server did not print the probes; alive={p.alive()} "
                f"stdout={p.out.text()!r} stderr={p.err.text()!r}")


def connect_tcp(host, port, timeout=TIMEOUT):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, port))
    return s


def start_tcp_server(procs, host="127.0.0.1", extra=(), wrapper=()):
    """Start netlab-tcp-server on a free port and wait until it serves a probe connection.

    The probe connects and closes at once, which is itself a case the server must survive; its
    "connected"/"disconnected" lines are consumed here. wrapper: as for start_udp_server().
    Returns (proc, port).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    p, port = start_bound(
        procs, lambda port: [*wrapper, program("tcp_server"), "--host", host, "--port", port,
                             *extra], socket.SOCK_STREAM, family)
    with connect_tcp(host, port) as probe:
        me = probe.getsockname()
        who = f"{me[0]}:{me[1]}" if family == socket.AF_INET else f"[{me[0]}]:{me[1]}"
    for event in ["connected", "disconnected"]:
        line = p.out.read_line()
        assert line == f"{who} {event}".encode(), \
            (line, p.alive(), p.out.text(), p.err.text())
    return p, port


def recv_exactly(sock, n, timeout=TIMEOUT):
    """Read exactly n bytes from a TCP socket (a byte stream may deliver them in pieces)."""
    sock.settimeout(timeout)
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(65536, n - len(buf)))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def udp_recv(sock, timeout=TIMEOUT):
    """One datagram and its sender from a stdlib socket, or (None, None) after timeout."""
    sock.settimeout(timeout)
    try:
        return sock.recvfrom(65536)
    except socket.timeout:
        return None, None


def drain(fd):
    """Read what the terminal echoed back, so the pty never fills; bounded by select()."""
    for _ in range(100):
        ready, _, _ = select.select([fd], [], [], 0)
        if not ready:
            return
        try:
            if not os.read(fd, 4096):
                return
        except OSError:
            return


# --- network namespaces: two hosts joined by a veth pair -------------------------------------

def sh(*argv, stdin=None):
    """Run a command (ip, nft), its output captured, bounded in time."""
    return subprocess.run([str(a) for a in argv], input=stdin, capture_output=True, text=True,
                          timeout=20)


class NetnsPair:
    """Two network namespaces ("hosts") a and b joined by a veth pair, with IPv4 10.201.0.1/.2
    and IPv6 fd00:201::1/::2 (addresses that exist only inside these namespaces)."""

    V4 = ("10.201.0.1", "10.201.0.2")
    V6 = ("fd00:201::1", "fd00:201::2")

    def __init__(self, tag):
        self.ns = ("nlab-a-" + tag, "nlab-b-" + tag)
        self.veth = ("nla" + tag, "nlb" + tag)  # interface names: at most 15 bytes

    def run_in(self, i, argv):
        """argv prefixed to run inside namespace i (0 = a, 1 = b); `ip netns exec` execs it,
        so the process's PID is the program's own and procs can reap it."""
        return ["ip", "netns", "exec", self.ns[i], *argv]


_netns_serial = [0]


@pytest.fixture
def netns_pair():
    """A NetnsPair, torn down afterwards. Names carry the PID and a serial number, so parallel
    runs never collide. Where namespaces cannot be made (no root, no iproute2), the test is
    skipped loudly, and the run's exit code 77 makes CTest report it as skipped, not passed."""
    _netns_serial[0] += 1
    pair = NetnsPair("%d%s" % (os.getpid() % 100000, chr(ord("a") + _netns_serial[0] % 26)))
    made = []
    try:
        for n in pair.ns:
            r = sh("ip", "netns", "add", n)
            if r.returncode != 0:
                pytest.skip("SKIP (loud): cannot create network namespaces: " + r.stderr.strip())
            made.append(n)
        a, b = pair.ns
        va, vb = pair.veth
        steps = [
            ("ip", "link", "add", va, "type", "veth", "peer", "name", vb),
            ("ip", "link", "set", va, "netns", a),
            ("ip", "link", "set", vb, "netns", b),
            ("ip", "-n", a, "addr", "add", pair.V4[0] + "/24", "dev", va),
            ("ip", "-n", b, "addr", "add", pair.V4[1] + "/24", "dev", vb),
            # nodad: usable at once, instead of after duplicate address detection's ~1 s
            ("ip", "-n", a, "addr", "add", pair.V6[0] + "/64", "dev", va, "nodad"),
            ("ip", "-n", b, "addr", "add", pair.V6[1] + "/64", "dev", vb, "nodad"),
            ("ip", "-n", a, "link", "set", va, "up"),
            ("ip", "-n", b, "link", "set", vb, "up"),
            ("ip", "-n", a, "link", "set", "lo", "up"),
            ("ip", "-n", b, "link", "set", "lo", "up"),
        ]
        for argv in steps:
            r = sh(*argv)
            if r.returncode != 0:
                pytest.skip("SKIP (loud): cannot set up the veth link: %s: %s"
                            % (" ".join(argv), r.stderr.strip()))
        yield pair
    finally:
        for n in made:  # deleting a namespace deletes its end of the veth, and so the pair
            sh("ip", "netns", "del", n)


"""Make a skipped test visible to CTest: a run with skips and no failures exits with 77, which
the tests' SKIP_RETURN_CODE turns into "Skipped" instead of a silent pass."""


def pytest_sessionfinish(session, exitstatus):
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or exitstatus != 0:
        return
    if reporter.stats.get("skipped"):
        session.exitstatus = 77
