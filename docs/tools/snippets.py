#!/usr/bin/python3
"""Keep the code and the output shown in the tutorials equal to the real thing.

Every fenced code block in a tutorial must follow a marker comment on the line just above it:

  <!-- include: PATH -->                            the whole file
  <!-- include: PATH lines A-B -->                  lines A to B (1-based, inclusive)
  <!-- include: PATH function NAME -->              a C function with the comment above it
  <!-- include: PATH function NAME from "TEXT" -->  that function from the first line with TEXT
  <!-- output: COMMAND -->                          the block is what COMMAND prints
  <!-- session -->  or  <!-- session: ports 9000 9001 -->  or  <!-- session: netns ports 9000 -->
      a terminal transcript: lines "$ CMD" are commands (a trailing " &" runs a server in the
      background), the other lines are what the terminal shows. Each listed port is replaced by
      a free one when the commands run; each background server is awaited until one more of
      the listed ports is bound than before it started; its standard input stays open (like a
      terminal nobody types in) until it is ended and reaped by PID once the output is complete.
      With "netns" the whole session runs in a network namespace of its own (loopback only; it
      needs CAP_SYS_ADMIN) and the ports keep their numbers: for programs, such as the notes'
      Python ones, whose port is written in their code.

--check compares; --update rewrites the blocks that differ. Output is compared after the port
numbers that follow an IP address (other than the listed ones) and the durations of traced
poll() calls are normalised, since the OS picks ephemeral ports anew on every run and a wait
lasts what is left of its timeout. With two tutorials, --check also requires that they
have the same structure: heading levels, marker comments and code blocks, in the same order.
Paths are relative to the repository root; the programs are found through --bin-dir, and
"PYTHONPATH=build/bindings/python" in a command names the built Python package (--python-dir).
"""
import argparse
import difflib
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MARKER = re.compile(r"^<!--\s*(include|output|session)\b:?\s*(.*?)\s*-->\s*$")
COMMENT = re.compile(r"<!--.*?-->")
FENCE = re.compile(r"^(```+)(.*)$")
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")
PYTHONPATH_SHOWN = "PYTHONPATH=build/bindings/python"
RUN_TIMEOUT = 20.0  # s: the longest any one command of a session may run
READY_TIMEOUT = 5.0  # s: how long a background server may take to bind its port
DRAIN_TIMEOUT = 5.0  # s: how long to wait for output still on its way from a server


class Block:
    """One fenced code block: where it is, its marker, its info string and its text."""

    def __init__(self, marker_line, kind, arg, info, start, end, text):
        self.marker_line, self.kind, self.arg = marker_line, kind, arg
        self.info, self.start, self.end, self.text = info, start, end, text


def parse(lines, path, errors):
    """Finds the fenced blocks and headings of a Markdown file (lines keep their newlines)."""
    blocks, headings, comments, images = [], [], [], []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i].rstrip("\n"))
        if not m:
            line = lines[i]
            if line.startswith("#"):
                headings.append(len(line) - len(line.lstrip("#")))
            comments.extend(c for c in COMMENT.findall(line))
            images.extend(IMAGE.findall(line))
            i += 1
            continue
        fence, info = m.group(1), m.group(2).strip()
        j = i + 1
        while j < len(lines) and lines[j].rstrip("\n") != fence:
            j += 1
        if j == len(lines):
            errors.append(f"{path}:{i + 1}: code block never closed")
            break
        mk = MARKER.match(lines[i - 1].rstrip("\n")) if i > 0 else None
        if not mk:
            errors.append(f"{path}:{i + 1}: code block without an include/output/session marker")
        else:
            blocks.append(Block(i - 1, mk.group(1), mk.group(2), info, i + 1, j,
                                "".join(lines[i + 1:j])))
        i = j + 1
    return blocks, headings, comments, images


def c_function(src, name, path):
    """Returns the lines of C function NAME in src: its leading comment, signature and body."""
    lines = src.splitlines(keepends=True)
    sig = re.compile(r"^[A-Za-z_].*\b" + re.escape(name) + r"\s*\(")
    for i, line in enumerate(lines):
        if sig.match(line) and not line.rstrip().endswith(";"):
            break
    else:
        raise ValueError(f"{path}: no function {name}()")
    end = next((k for k in range(i, len(lines)) if lines[k].rstrip("\n") == "}"), None)
    if end is None:
        raise ValueError(f"{path}: function {name}() has no closing brace at column 0")
    start = i
    if start > 0 and lines[start - 1].rstrip().endswith("*/"):
        start -= 1
        while start > 0 and not lines[start].lstrip().startswith("/*"):
            start -= 1
    return lines[start:end + 1], i - start


def extract(arg):
    """The text an include marker asks for."""
    m = re.fullmatch(r'(\S+)(?:\s+lines\s+(\d+)-(\d+)|\s+function\s+(\w+)(?:\s+from\s+"(.*)")?)?',
                     arg)
    if not m:
        raise ValueError(f"bad include marker '{arg}'")
    path = m.group(1)
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        src = f.read()
    if m.group(2):
        lines = src.splitlines(keepends=True)
        a, b = int(m.group(2)), int(m.group(3))
        if not 1 <= a <= b <= len(lines):
            raise ValueError(f"{path}: lines {a}-{b} out of range (1-{len(lines)})")
        return "".join(lines[a - 1:b])
    if m.group(4):
        lines, _ = c_function(src, m.group(4), path)
        if m.group(5) is not None:
            k = next((k for k, line in enumerate(lines) if m.group(5) in line), None)
            if k is None:
                raise ValueError(f'{path}: "{m.group(5)}" not in {m.group(4)}()')
            lines = lines[k:]
        return "".join(lines)
    return src


def free_port():
    """A port that is free for both TCP and UDP on 127.0.0.1 right now (the OS picks it)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind(("127.0.0.1", port))
                    return port
                except OSError:
                    continue
    raise RuntimeError("no port free for both TCP and UDP")


def port_bound(port, net="/proc/net"):
    """True once some socket is bound to port: a TCP listener or a UDP socket. net is the
    /proc directory of the network namespace to look in (/proc/PID/net for another one)."""
    for table, states in (("tcp", {"0A"}), ("tcp6", {"0A"}), ("udp", {"07"}), ("udp6", {"07"})):
        try:
            with open(f"{net}/{table}") as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if int(cols[1].split(":")[1], 16) == port and cols[3] in states:
                return True
    return False


def normalise(text, fixed):
    """Replaces the ports after an IP address, except the fixed ones, by <port>."""
    def repl(m):
        return m.group(1) + (m.group(2) if m.group(2) in fixed else "<port>")
    # 127.0.0.1:PORT, [::1]:PORT, and Python's address tuples ('127.0.0.1', PORT).
    text = re.sub(r"(\d{1,3}(?:\.\d{1,3}){3}:|\]:|'[0-9A-Fa-f:.]+', )(\d+)\b", repl, text)
    # A traced poll() waits for what is left of a timeout: 5001 ms or 5000 ms, as the clock
    # happens to cross a millisecond boundary or not. Only the duration is normalised.
    text = re.sub(r"(\bpoll\(.*, )\d+( ms\))", r"\1<ms>\2", text)
    # netlab-chat --stats: how many datagrams carried a chat depends on timing (a repeat after
    # a timer on a busy machine), so those figures are normalised; messages and drops are not.
    if "stats: datagrams in " in text:
        text = re.sub(r"\b(datagrams in |, out |retransmits )\d+(?=,)", r"\1<n>", text)
    return text


def interleaves(expected, streams):
    """True if expected is some interleaving of the streams, each kept in its own order."""
    seen = set()
    todo = [(0, (0,) * len(streams))]
    while todo:
        k, pos = todo.pop()
        if k == len(expected):
            if all(p == len(s) for p, s in zip(pos, streams)):
                return True
            continue
        for n, (p, s) in enumerate(zip(pos, streams)):
            if p < len(s) and s[p] == expected[k]:
                nxt = (k + 1, pos[:n] + (p + 1,) + pos[n + 1:])
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
    return False


def stop(proc, chunks):
    """Ends a background server and reaps it, keeping what it printed. The server runs in a
    process group of its own whose id is the PID we started, so the signal reaches the program
    even when the shell forked it rather than exec'd it, and nothing else."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            out, _ = proc.communicate(timeout=5)
            chunks.append(out)
            return
        except subprocess.TimeoutExpired:
            continue


def run_foreground(argv, env):
    """Runs one command to its end and returns what it printed. Like a server, it runs in a
    process group of its own, so that a command that hangs is ended whole, pipeline and all."""
    cmd = argv[-1]
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=RUN_TIMEOUT)
        return out
    except subprocess.TimeoutExpired:
        chunks = []
        stop(proc, chunks)
        raise RuntimeError(f"'{cmd}' still running after {RUN_TIMEOUT} s; it printed: "
                           + b"".join(chunks).decode(errors="replace"))


class Netns:
    """A network namespace of our own for one session: a holder process keeps it alive, the
    commands join it with nsenter, and its loopback interface is brought up first."""

    def __init__(self):
        self.holder = subprocess.Popen(["unshare", "--net", "sh", "-c", "read x"],
                                       stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                       start_new_session=True)
        self.net = f"/proc/{self.holder.pid}/net"
        deadline = time.monotonic() + READY_TIMEOUT
        # unshare has entered the namespace once its net differs from ours (it exec'd sh).
        while os.readlink(f"/proc/{self.holder.pid}/ns/net") == os.readlink("/proc/self/ns/net"):
            if self.holder.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError("cannot create a network namespace (unshare --net)")
            time.sleep(0.01)  # polling a condition, bounded by READY_TIMEOUT
        up = subprocess.run(self.argv("ip link set lo up"), capture_output=True, text=True,
                            timeout=RUN_TIMEOUT)
        if up.returncode != 0:
            self.close()
            raise RuntimeError("netns: ip link set lo up: " + up.stderr.strip())

    def argv(self, cmd):
        return ["nsenter", f"--net=/proc/{self.holder.pid}/ns/net", "sh", "-c", cmd]

    def close(self):
        try:
            self.holder.stdin.close()  # its `read` sees end of input, and it exits
            self.holder.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.holder.pid, signal.SIGKILL)
            self.holder.wait()


def run_session(text, ports, bin_dir, python_dir, netns=False):
    """Runs the commands of a transcript; returns (expected lines, [lines per stream])."""
    env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""),
               LC_ALL="C.UTF-8")
    ns = Netns() if netns else None
    net = ns.net if ns else "/proc/net"
    subst = {p: p if netns else str(free_port()) for p in ports}

    def real(cmd):
        for doc, actual in subst.items():
            cmd = re.sub(r"\b" + doc + r"\b", actual, cmd)
        cmd = cmd.replace(PYTHONPATH_SHOWN, "PYTHONPATH=" + python_dir)
        return ns.argv(cmd) if ns else ["sh", "-c", cmd]

    def bound():
        return sum(port_bound(int(p), net) for p in subst.values())

    expected, fg_out, servers = [], [], []
    try:
        for line in text.splitlines():
            if not line.startswith("$ "):
                expected.append(line)
                continue
            cmd = line[2:]
            if cmd.endswith(" &"):
                before = bound()
                proc = subprocess.Popen(real(cmd[:-2]), cwd=ROOT, env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, start_new_session=True)
                servers.append((proc, []))
                deadline = time.monotonic() + READY_TIMEOUT
                while subst and bound() <= before:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        stop(proc, servers[-1][1])
                        raise RuntimeError(f"server '{cmd}' did not bind its port: "
                                           + b"".join(servers[-1][1]).decode(errors="replace"))
                    time.sleep(0.02)  # polling a condition, bounded by READY_TIMEOUT
            else:
                fg_out.append(run_foreground(real(cmd), env))
        # Servers print in their own time: wait until every line shown has arrived, or give up.
        deadline = time.monotonic() + DRAIN_TIMEOUT
        shown = len(expected)
        open_ = [(p, c) for p, c in servers]
        while open_ and time.monotonic() < deadline:
            have = sum(o.count(b"\n") for o in fg_out) + sum(
                b"".join(c).count(b"\n") for _, c in servers)
            if have >= shown:
                break
            ready = select.select([p.stdout for p, _ in open_], [], [],
                                  max(0.0, deadline - time.monotonic()))[0]
            for proc, chunks in list(open_):
                if proc.stdout in ready:
                    data = os.read(proc.stdout.fileno(), 65536)
                    if data:
                        chunks.append(data)
                    else:  # the server closed its output: nothing more will come
                        open_ = [x for x in open_ if x[0] is not proc]
    finally:
        for proc, chunks in servers:
            stop(proc, chunks)
        if ns:
            ns.close()

    def lines_of(data):
        text = data.decode("utf-8", errors="replace")
        for doc, actual in subst.items():
            text = re.sub(r"\b" + actual + r"\b", doc, text)
        return text.splitlines()

    streams = [lines_of(b"".join(fg_out))] + [lines_of(b"".join(c)) for _, c in servers]
    return expected, streams


def check_block(b, path, bin_dir, python_dir):
    """Checks one block; returns (error or None, replacement text or None)."""
    where = f"{path}:{b.start}"
    try:
        if b.kind == "include":
            want = extract(b.arg)
            if want != b.text:
                return f"{where}: block differs from {b.arg}", want
            src = b.arg.split()[0]
            if src.endswith(".py"):  # Python shown but not run must at least be Python
                compile(want, src, "exec")
            return None, None
        if b.kind == "output":
            text, ports = "$ " + b.arg + "\n" + b.text, []
        else:
            m = re.fullmatch(r"(netns\s*)?(?:ports\s+([\d ]+))?", b.arg)
            if not m:
                return f"{where}: bad session marker '{b.arg}'", None
            text, ports = b.text, (m.group(2) or "").split()
        netns = b.kind == "session" and m.group(1) is not None
        expected, streams = run_session(text, ports, bin_dir, python_dir, netns)
        fixed = set(ports)
        exp = [normalise(s, fixed) for s in expected]
        norm = [[normalise(s, fixed) for s in st] for st in streams]
        if interleaves(exp, norm):
            return None, None
        got = [s for st in streams for s in st]
        new = "".join(line + "\n" for line in got)
        if b.kind == "session":
            cmds = [line for line in text.splitlines() if line.startswith("$ ")]
            new = "".join(c + "\n" for c in cmds) + new
        diff = difflib.unified_diff(exp, [s for st in norm for s in st], "shown", "real",
                                    lineterm="", n=1)
        return f"{where}: output differs (real streams concatenated)\n" + "\n".join(diff), new
    except (OSError, ValueError, RuntimeError, SyntaxError, subprocess.SubprocessError) as e:
        return f"{where}: {e}", None


def process(path, bin_dir, update, python_dir=None):
    """Checks (or updates) one tutorial; returns (errors, structure)."""
    with open(path, encoding="utf-8") as f:
        lines = f.readlines()
    errors = []
    blocks, headings, comments, images = parse(lines, path, errors)
    for img in images:
        if not os.path.exists(os.path.join(os.path.dirname(path), img)):
            errors.append(f"{path}: image {img} does not exist")
    for b in reversed(blocks):  # bottom up, so that earlier line numbers stay valid
        err, new = check_block(b, path, bin_dir,
                               python_dir or os.path.join(ROOT, "build", "bindings", "python"))
        if err and update and new is not None:
            lines[b.start:b.end] = [new]
            print(f"{path}:{b.start}: updated", file=sys.stderr)
            if b.kind != "include":
                print("  (check the order of the lines: servers print in their own time)",
                      file=sys.stderr)
        elif err:
            errors.append(err)
    if update:
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(lines)
    # Runs differ in their ephemeral ports only; the two languages must agree on the rest.
    shown = [(b.kind, b.arg, b.info, b.text if b.kind == "include" else normalise(b.text, set()))
             for b in blocks]
    structure = (headings, comments, shown, images)
    return errors, structure


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="fail if any block differs")
    mode.add_argument("--update", action="store_true", help="rewrite the blocks that differ")
    ap.add_argument("--bin-dir", default=os.path.join(ROOT, "build", "examples"),
                    help="where the example programs are (default build/examples)")
    ap.add_argument("--python-dir", default=os.path.join(ROOT, "build", "bindings", "python"),
                    help="where the built Python package is (default build/bindings/python)")
    ap.add_argument("files", nargs="+", help="tutorials; two are compared for structure")
    args = ap.parse_args()
    bin_dir = os.path.abspath(args.bin_dir)
    errors, structures = [], []
    for path in args.files:
        errs, st = process(path, bin_dir, args.update, os.path.abspath(args.python_dir))
        errors += errs
        structures.append((path, st))
    if len(structures) == 2:
        (pa, a), (pb, b) = structures
        names = ("heading levels", "marker comments", "code blocks", "images")
        for name, x, y in zip(names, a, b):
            if x != y:
                errors.append(f"{pa} and {pb} differ in their {name}: {len(x)} vs {len(y)}"
                              + ("" if len(x) != len(y) else " (same count, different content)"))
    for e in errors:
        print(e, file=sys.stderr)
    nblocks = sum(len(st[2]) for _, st in structures)
    print(f"snippets: {len(args.files)} file(s), {nblocks} code blocks, {len(errors)} problem(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
