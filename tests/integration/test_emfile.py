"""Descriptor exhaustion for the course TCP server (netlab-tcp-server): its RLIMIT_NOFILE is
lowered from outside (prlimit) while it serves a client. The client it has keeps being served;
the next accept() fails with EMFILE while a connection waits in the backlog; the server must not
spin on that error (its CPU time over a one-second window is measured) and must serve the
waiting client once a descriptor is available again (the limit raised back)."""

import resource
import time

from conftest import TIMEOUT, connect_tcp, recv_exactly, start_tcp_server
from chatlib import cpu_seconds

# 0, 1, 2, the listener (3) and one client (4): the fifth descriptor is the last one.
ROOMY, TIGHT = 64, 4
WINDOW = 1.0
SPIN_CPU_MAX = 0.1  # seconds of CPU in the window; a spinning accept loop burns ~1.0


def set_nofile(pid, n):
    """Set the soft limit only: raising it again later needs no privilege."""
    hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)[1]
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (n, hard))


def echo(sock, data):
    sock.sendall(data)
    assert recv_exactly(sock, len(data)) == data


def test_emfile_keeps_client_no_busy_loop_recovers(procs):
    server, port = start_tcp_server(procs)
    a = connect_tcp("127.0.0.1", port)
    try:
        assert server.out.read_line().endswith(b" connected")
        echo(a, b"before the squeeze")
        set_nofile(server.pid, TIGHT)  # fds 0-4 stay open; no new one can be made
        echo(a, b"the existing client is still served " * 100)

        b = connect_tcp("127.0.0.1", port)  # completes in the kernel, waits in the backlog
        a.close()
        assert server.out.read_line().endswith(b" disconnected")
        # The server closed a (fd 4 free again) and its accept() of b now needs a fifth
        # descriptor: EMFILE. Its error line says so.
        assert server.err.wait_for(b"too many open files"), server.err.text()
        cpu0 = cpu_seconds(server.pid)
        time.sleep(WINDOW)  # measuring CPU time over a window, not synchronising
        spent = cpu_seconds(server.pid) - cpu0
        errors = server.err.text().count("too many open files")
        print("EMFILE: %.3f s CPU in a %.1f s window, %d accept errors reported"
              % (spent, WINDOW, errors))
        assert server.alive()
        assert spent <= SPIN_CPU_MAX, "the server spins on EMFILE"
        assert errors <= 50, "the server retries without pause"

        t0 = time.monotonic()
        set_nofile(server.pid, ROOMY)
        line = server.out.read_line(timeout=TIMEOUT)
        assert line is not None and line.endswith(b" connected"), line
        echo(b, "recovered: 你好".encode())
        print("EMFILE: waiting client served %.3f s after the limit was raised"
              % (time.monotonic() - t0))
        b.close()
        assert server.out.read_line().endswith(b" disconnected")
    finally:
        a.close()
