"""CPython's own socket tests, run against the stdlib and against netlab (ctest label
python-parity).

    cpython_parity.py [--readme bindings/python/README.md] [--timeout S] [-v]

Runs the classes of Lib/test/test_socket.py and Lib/test/test_selectors.py (Debian package
libpython3.11-testsuite) that concern TCP and UDP over IPv4 and IPv6 twice, each run in a child
interpreter of its own: once as they are (the stdlib), once with `netlab` in place of `socket`
in the test bodies. Prints per class how many tests pass with each module and the overall
ratio, and fails when

  * netlab passes fewer than 97% of the in-scope tests that the stdlib passes here, or
  * a test the stdlib passes fails for netlab and is not listed as a known difference, or
  * a listed known difference passes (the list must stay true).

How netlab is substituted: the test module is imported as it is (so everything it computes at
import -- the skip decorators, HAVE_* probes -- comes from the real module, the same in both
runs), then its module-global name `socket` is rebound to netlab. Every `socket.xxx` in the
module's classes (set-up, the test bodies, the helper threads) then reaches netlab, while the
test infrastructure outside the module (test.support, socket_helper, threading_helper,
unittest, selectors) keeps the real module, which it imported itself. An import hook that
handed out netlab for every `import socket` would also swap the stdlib under that
infrastructure (and under selectors, asyncio, ...), so it would measure something else.
test_selectors.py binds `socketpair = socket.socketpair` at import; that name is rebound too.

The known differences are read from one place: the list between the markers
`<!-- parity-known:begin -->` and `<!-- parity-known:end -->` in bindings/python/README.md,
one `- \`Class.test_name\`: reason` per line.

Both children run with RLIMIT_NOFILE capped at 4096 (FD_LIMIT): test_selectors'
test_above_fd_setsize opens as many socket pairs as the hard limit allows (up to 2**16
descriptors), and netlab's socketpair() is TCP over loopback (it has no AF_UNIX), so with the
machine's limit one run would hold ten thousands of loopback ports in TIME_WAIT, which the
other tests of the suite share. 4096 is still well above FD_SETSIZE (1024), which is what the
test is about, and the cap is the same for both modules.

Each child runs under a time limit in a session of its own; on time-out the whole process
group is killed and reaped, and the run fails.
"""
import argparse
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time

TARGET = 0.97
FD_LIMIT = 4096

# (test module, class) pairs in scope: TCP and UDP over IPv4 and IPv6.
SCOPE = {
    "test_socket": [
        "GeneralModuleTests",            # module functions, constants, argument checks
        "BasicTCPTest", "BasicTCPTest2", "BasicUDPTest", "TCPCloserTest",
        "TCPTimeoutTest", "UDPTimeoutTest",
        "NonBlockingTCPTests",
        "InterruptedRecvTimeoutTest", "InterruptedSendTimeoutTest",
        "NetworkConnectionNoServer", "NetworkConnectionAttributesTest",
        "NetworkConnectionBehaviourTest",
        "ContextManagersTest", "InheritanceTest", "NonblockConstantTest", "TestExceptions",
        "BufferIOTest",
        "FileObjectClassTestCase", "UnbufferedFileObjectClassTestCase",
        "LineBufferedFileObjectClassTestCase", "SmallBufferedFileObjectClassTestCase",
        "UnicodeReadFileObjectClassTestCase", "UnicodeWriteFileObjectClassTestCase",
        "UnicodeReadWriteFileObjectClassTestCase",
        "CreateServerTest", "CreateServerFunctionalTest",
    ],
    "test_selectors": [
        "DefaultSelectorTestCase", "SelectSelectorTestCase", "PollSelectorTestCase",
        "EpollSelectorTestCase",
    ],
}

KNOWN_BEGIN = "<!-- parity-known:begin -->"
KNOWN_END = "<!-- parity-known:end -->"


# ---- the child: one run of the classes in scope ---------------------------------------------

def _missing_socketpair(*args, **kwargs):
    raise AttributeError("module 'netlab' has no attribute 'socketpair'")


def child(module_name, out_path):
    import unittest
    import importlib

    results = {}

    class Recorder(unittest.TextTestResult):
        def _put(self, test, outcome):
            results[test.id()] = outcome

        def addSuccess(self, test):
            super().addSuccess(test)
            self._put(test, "pass")

        def addFailure(self, test, err):
            super().addFailure(test, err)
            self._put(test, "fail")

        def addError(self, test, err):
            super().addError(test, err)
            # Errors of a class fixture (setUpClass) have no test id of a test: skip them.
            self._put(test, "error")

        def addSkip(self, test, reason):
            super().addSkip(test, reason)
            self._put(test, "skip")

        def addExpectedFailure(self, test, err):
            super().addExpectedFailure(test, err)
            self._put(test, "xfail")

        def addUnexpectedSuccess(self, test):
            super().addUnexpectedSuccess(test)
            self._put(test, "xpass")

        def addSubTest(self, test, subtest, err):
            super().addSubTest(test, subtest, err)
            if err is not None:  # one failed subtest fails the test
                self._put(test, "fail")

    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    for modname, classes in SCOPE.items():
        mod = importlib.import_module("test." + modname)
        if module_name == "netlab":
            import netlab
            mod.socket = netlab
            if hasattr(mod, "socketpair"):
                mod.socketpair = getattr(netlab, "socketpair", _missing_socketpair)
        for cls in classes:
            suite.addTests(loader.loadTestsFromTestCase(getattr(mod, cls)))
    # setUpModule of test_socket checks that the threads were cleaned up; run it as unittest
    # would, through the suite (module fixtures are honoured by TestSuite).
    stream = open(os.devnull, "w") if not os.environ.get("PARITY_VERBOSE") else sys.stderr
    runner = unittest.TextTestRunner(stream=stream, resultclass=Recorder, verbosity=2)
    runner.run(suite)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(results, f)
    return 0


# ---- the parent ------------------------------------------------------------------------------

def read_known(readme):
    """{test id without module: reason} from the README's marked list."""
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    try:
        body = text.split(KNOWN_BEGIN, 1)[1].split(KNOWN_END, 1)[0]
    except IndexError:
        sys.exit(f"cpython_parity: {readme} has no {KNOWN_BEGIN} ... {KNOWN_END} list")
    known = {}
    last = None
    for line in body.splitlines():
        m = re.match(r"\s*[-*]\s+`([A-Za-z0-9_]+\.[A-Za-z0-9_]+)`\s*:?\s*(.*)", line)
        if m:
            last = m.group(1)
            known[last] = m.group(2).strip()
        elif last is not None and line.strip():
            known[last] += " " + line.strip()  # the reason goes on on the next line
    return known


def _cap_descriptors():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    hard = FD_LIMIT if hard == resource.RLIM_INFINITY else min(hard, FD_LIMIT)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, hard), hard))


def run_child(module_name, timeout):
    """Run one child; return {test id: outcome}. Kills and reaps its process group on
    time-out."""
    with tempfile.TemporaryDirectory(prefix="nlparity.") as tmp:
        out = os.path.join(tmp, "results.json")
        cmd = [sys.executable, "-X", "faulthandler", os.path.abspath(__file__),
               "--child", module_name, "--out", out]
        env = dict(os.environ)
        proc = subprocess.Popen(cmd, env=env, start_new_session=True, cwd=tmp,
                                preexec_fn=_cap_descriptors,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate()
            sys.stdout.write(output.decode(errors="replace")[-4000:])
            sys.exit(f"cpython_parity: the {module_name} run took more than {timeout} s; "
                     f"killed")
        finally:
            # Whatever the child left in its group (a stray helper) goes with it.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if proc.returncode != 0 or not os.path.exists(out):
            sys.stdout.write(output.decode(errors="replace")[-4000:])
            sys.exit(f"cpython_parity: the {module_name} run failed (exit {proc.returncode})")
        if os.environ.get("PARITY_VERBOSE"):
            sys.stdout.write(output.decode(errors="replace"))
        with open(out, encoding="utf-8") as f:
            return json.load(f)


def short(test_id):
    """'test.test_socket.BasicTCPTest.testRecv' -> 'BasicTCPTest.testRecv'."""
    return ".".join(test_id.split(".")[-2:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", choices=("stdlib", "netlab"))
    ap.add_argument("--out")
    ap.add_argument("--readme", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "bindings", "python",
        "README.md"))
    ap.add_argument("--timeout", type=float, default=240.0,
                    help="seconds each of the two runs may take")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="list every test that passes with one module only")
    args = ap.parse_args()
    if args.child:
        return child(args.child, args.out)

    import importlib.util
    for modname in SCOPE:
        if importlib.util.find_spec("test." + modname) is None:
            sys.exit(f"cpython_parity: test.{modname} is not installed for {sys.executable} "
                     f"(Debian: apt-get install libpython3.11-testsuite; see .ci/packages)")
    known = read_known(args.readme)
    started = time.monotonic()
    std = run_child("stdlib", args.timeout)
    t_std = time.monotonic() - started
    nl = run_child("netlab", args.timeout)
    t_nl = time.monotonic() - started - t_std

    per_class = {}
    for tid, outcome in std.items():
        cls = short(tid).split(".")[0]
        row = per_class.setdefault(cls, [0, 0, 0])
        row[0] += 1
        if outcome == "pass":
            row[1] += 1
            if nl.get(tid) == "pass":
                row[2] += 1
    print(f"{'class':42} {'tests':>5} {'stdlib':>6} {'netlab':>6}")
    for mod, classes in SCOPE.items():
        for cls in classes:
            total, s, n = per_class.get(cls, (0, 0, 0))
            print(f"{cls:42} {total:5} {s:6} {n:6}")
    s_pass = [t for t, o in std.items() if o == "pass"]
    both = [t for t in s_pass if nl.get(t) == "pass"]
    ratio = len(both) / len(s_pass) if s_pass else 0.0
    print(f"{'total':42} {len(std):5} {len(s_pass):6} {len(both):6}   "
          f"netlab/stdlib = {ratio:.1%} (target {TARGET:.0%}); "
          f"run times {t_std:.0f} s and {t_nl:.0f} s")

    ok = True
    missing = [t for t in s_pass if nl.get(t) != "pass"]
    unknown = [t for t in missing if short(t) not in known]
    listed = [t for t in missing if short(t) in known]
    if listed:
        print(f"\nknown differences ({len(listed)}, listed in {os.path.normpath(args.readme)}):")
        for t in sorted(listed):
            print(f"  {short(t)} [{nl.get(t, 'not run')}]: {known[short(t)]}")
    if unknown:
        ok = False
        print(f"\nFAIL: {len(unknown)} test(s) pass with the stdlib, fail with netlab and are "
              f"not listed as known differences:")
        for t in sorted(unknown):
            print(f"  {short(t)} [{nl.get(t, 'not run')}]")
    stale = sorted(k for k in known
                   if not any(short(t) == k for t in missing))
    if stale:
        ok = False
        print(f"\nFAIL: listed as known differences but not one (passes, or not run by the "
              f"stdlib here); update the README:")
        for k in stale:
            print(f"  {k}")
    if ratio < TARGET:
        ok = False
        print(f"\nFAIL: netlab passes {ratio:.1%} of the tests the stdlib passes; the target "
              f"is {TARGET:.0%}")
    if args.verbose:
        extra = [t for t, o in nl.items() if o == "pass" and std.get(t) != "pass"]
        for t in sorted(extra):
            print(f"  netlab only: {short(t)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
