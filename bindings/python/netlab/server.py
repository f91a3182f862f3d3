"""netlab.EchoServer: libnetlab's concurrent TCP server (nl_tcp_server) with its echo service.

::

    with netlab.EchoServer(('127.0.0.1', 9000)) as srv:
        srv.serve_forever()        # until srv.stop() (another thread, a signal handler, Ctrl-C)

One thread serves every client at once (epoll): what a client sends comes back to it. The
service is the built-in echo only; Python callbacks are not offered (a callback per chunk of
data would run the interpreter on the server's hot path, which is what the C server avoids).
"""
import dataclasses as _dataclasses
import errno as _errno
import threading as _threading
import warnings as _warnings

from . import _netlab
from . import _util


@_dataclasses.dataclass(frozen=True)
class ServerStats:
    """The server's counters, as libnetlab's nl_tcp_server_stats."""
    accepted: int        # connections accepted and kept
    dropped: int         # connections accepted and closed at once (no descriptors, limit)
    closed_idle: int     # connections closed by the idle time-out
    paused: int          # times reading from a client was paused (backpressure)
    emfile: int          # times accept() failed for lack of descriptors
    wakeups: int         # times the event wait returned
    connections: int     # open connections now
    queued_bytes: int    # output bytes queued now, all connections
    max_queue_seen: int  # the largest single-connection queue so far
    slot_bytes: int      # user-space bytes of the connection table


class EchoServer:
    """A concurrent TCP echo server listening on address (port 0 picks a free port; see
    address). idle_timeout: seconds after which a silent connection is closed (None: never).
    max_queued: per-connection output cap in bytes (None: 64 KiB); when a client does not read
    its echo, the server stops reading from it until the queue drains. max_connections: None
    for as many as descriptors allow.

    It listens from construction on; serve_forever() serves until stop(). The with statement
    closes it (stopping a serve_forever() running in another thread first)."""

    def __init__(self, address=("127.0.0.1", 0), idle_timeout=None, max_queued=None,
                 max_connections=None, family=None):
        self._h = None
        family = _util.family_of(address) if family is None else family
        host, port, scope_id = _util.split(address, family, "EchoServer")
        idle_ms = 0
        if idle_timeout is not None:
            if idle_timeout <= 0:
                raise ValueError("idle_timeout must be positive, or None")
            idle_ms = _util.ms(idle_timeout)
        if max_queued is not None and max_queued <= 0:
            raise ValueError("max_queued must be positive, or None")
        if max_connections is not None and max_connections <= 0:
            raise ValueError("max_connections must be positive, or None")
        self._h = _netlab.server_open(family, host, port, scope_id, idle_ms, max_queued or 0,
                                      max_connections or 0)
        self._closed = False

    @property
    def address(self):
        """The address the server listens on, e.g. ('127.0.0.1', 40123)."""
        return _netlab.server_local(self._h)

    def serve_forever(self):
        """Serve until stop() is called, with the GIL released. On the main thread the
        serving runs on a helper thread while the main thread waits in short slices, so that
        signal handlers (and Ctrl-C, which stops the server and raises KeyboardInterrupt)
        run meanwhile; elsewhere it serves on the calling thread. RuntimeError when another
        thread is already serving; OSError(EBADF) after close()."""
        if _threading.current_thread() is not _threading.main_thread():
            self._run()
            return
        failure = []
        finished = _threading.Event()

        def run():
            try:
                self._run()
            except BaseException as e:  # handed to the main thread below
                failure.append(e)
            finally:
                finished.set()

        # The main thread waits on an Event, not in Thread.join(): a join() interrupted by a
        # signal can leave the thread looking finished while it still runs (CPython 3.11).
        worker = _threading.Thread(target=run, name="netlab-echo-server", daemon=True)
        try:
            # start() waits for the thread to begin, and a signal handler may raise there
            # too, after the serving has begun: so it is inside the try.
            worker.start()
            while not finished.wait(_util.SLICE_MS / 1000):
                pass  # pending signal handlers run here
        except BaseException as e:
            self.stop()
            # Unless the thread could not be started at all (RuntimeError from start()), it
            # runs: wait until it has returned (at once, since stop() is pending).
            if not (isinstance(e, RuntimeError) and worker.ident is None):
                finished.wait()
            raise
        if failure:
            raise failure[0]

    def _run(self):
        try:
            _netlab.server_run(self._h)
        except OSError as e:
            if e.errno == _errno.EBUSY:
                raise RuntimeError("EchoServer: already serving in another thread") from None
            raise

    def stop(self):
        """Make serve_forever() return (or the next call return at once). Any thread; also
        from a signal handler. Connections stay open until close()."""
        if not self._closed:
            _netlab.server_stop(self._h)

    def close(self):
        """Stop, wait for serve_forever() to return, close every connection and the
        listener. Twice is fine."""
        if self._h is not None and not self._closed:
            self._closed = True
            _netlab.server_close(self._h)

    def stats(self):
        """The counters (a ServerStats). Only while not serving: the counters belong to the
        serving thread then (RuntimeError)."""
        try:
            return ServerStats(**_netlab.server_stats(self._h))
        except OSError as e:
            if e.errno == _errno.EBUSY:
                raise RuntimeError("EchoServer.stats(): the server is serving; call it after "
                                   "serve_forever() has returned") from None
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_h", None) is not None and not self._closed:
            _warnings.warn(f"unclosed {self!r}", ResourceWarning, source=self)
            self.close()

    def __repr__(self):
        if self._h is None or self._closed:
            return "<netlab.EchoServer [closed]>"
        return f"<netlab.EchoServer address={self.address}>"
