"""Shared helpers for the netlab pytest suites.

The suites import `netlab` from PYTHONPATH (ctest points it at <build>/bindings/python) and the
standard library's `socket` as the reference. Every process a test starts is registered with the
`procs` fixture, which reaps it by PID at the end; every wait is bounded.
"""
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
EXAMPLES = Path(os.environ.get("NETLAB_EXAMPLES_DIR", HERE.parents[1] / "examples" / "python"))


class Proc:
    """A child Python process with its stdout read line by line on a thread, so that tests
    can wait for a line with a time limit instead of sleeping."""

    def __init__(self, args, **kw):
        env = dict(os.environ, PYTHONIOENCODING="utf-8", PYTHONUNBUFFERED="1")
        self.p = subprocess.Popen([sys.executable, "-u", *map(str, args)], env=env,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, encoding="utf-8", **kw)
        self.lines = queue.Queue()
        self.out = []
        self.err = []
        self._readers = [threading.Thread(target=self._pump, args=(self.p.stdout, True)),
                         threading.Thread(target=self._pump, args=(self.p.stderr, False))]
        for t in self._readers:
            t.daemon = True
            t.start()

    def _pump(self, stream, is_out):
        for line in stream:
            (self.out if is_out else self.err).append(line)
            if is_out:
                self.lines.put(line)

    def line(self, timeout=10):
        """The next line of stdout; fails the test when none comes in time."""
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no output within {timeout} s; stderr: {''.join(self.err)}")

    def write(self, text):
        self.p.stdin.write(text)
        self.p.stdin.flush()

    def wait(self, timeout=10):
        rc = self.p.wait(timeout=timeout)
        for t in self._readers:
            t.join(timeout=5)
        return rc

    def stop(self):
        """Reap the process by PID: SIGINT first (as Ctrl-C), then SIGKILL."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
            try:
                self.p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(timeout=5)
        for stream in (self.p.stdin, self.p.stdout, self.p.stderr):
            try:
                stream.close()
            except OSError:
                pass


@pytest.fixture
def procs():
    started = []

    def start(args, **kw):
        proc = Proc(args, **kw)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()
