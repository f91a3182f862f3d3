"""netlab.EchoServer: libnetlab's concurrent echo server from Python, served to stdlib clients
on threads, stopped from another thread, a signal handler or the with statement."""
import hashlib
import os
import signal
import socket as stdsocket
import threading
import time

import pytest

import netlab
from watchdog import Watchdog

TIMEOUT = 10
CLIENTS = 50


def serve_in_thread(srv):
    failure = []

    def run():
        try:
            srv.serve_forever()
        except BaseException as e:
            failure.append(e)

    t = threading.Thread(target=run)
    t.start()
    return t, failure


def echo_client(address, seed, size, results):
    """Send size bytes in uneven writes while reading the echo; keep its digest."""
    data = hashlib.shake_256(b"%d" % seed).digest(size)
    got = bytearray()
    with stdsocket.create_connection(address, timeout=TIMEOUT) as c:
        sent = 0
        step = 1 + seed % 7 * 1000
        while sent < size:
            c.sendall(data[sent:sent + step])
            sent += step
            while len(got) < min(sent, size) - 64 * 1024:  # keep the echo flowing
                got += c.recv(65536)
        c.shutdown(stdsocket.SHUT_WR)
        while len(got) < size:
            chunk = c.recv(65536)
            if not chunk:
                break
            got += chunk
        assert c.recv(1) == b""  # the server closes after the client's end of stream
    results[seed] = bytes(got) == data


def test_fifty_threaded_clients_every_byte_back_and_stop_from_another_thread():
    srv = netlab.EchoServer(("127.0.0.1", 0))
    t, failure = serve_in_thread(srv)
    results = {}
    clients = [threading.Thread(target=echo_client,
                                args=(srv.address, i, 1000 + i * 997, results))
               for i in range(CLIENTS)]
    for c in clients:
        c.start()
    for c in clients:
        c.join(TIMEOUT * 3)
        assert not c.is_alive()
    assert len(results) == CLIENTS and all(results.values())
    stopper = threading.Thread(target=srv.stop)
    stopper.start()
    stopper.join(TIMEOUT)
    t.join(TIMEOUT)
    assert not t.is_alive() and failure == []
    st = srv.stats()
    assert st.accepted == CLIENTS and st.dropped == 0
    srv.close()
    srv.close()  # twice is fine
    with pytest.raises(OSError):
        srv.serve_forever()


def test_serving_releases_the_gil():
    """serve_forever() on another thread never returns to Python while it serves; this thread
    needs the GIL to be its client. The watchdog turns a deadlock into a failure."""
    with netlab.EchoServer(("127.0.0.1", 0)) as srv:
        t, failure = serve_in_thread(srv)
        with Watchdog():
            with stdsocket.create_connection(srv.address, timeout=TIMEOUT) as c:
                c.sendall(b"gil")
                assert c.recv(3) == b"gil"
            srv.stop()
            t.join(TIMEOUT)
        assert not t.is_alive() and failure == []


def test_stats_only_while_not_serving():
    with netlab.EchoServer(("127.0.0.1", 0)) as srv:
        t, failure = serve_in_thread(srv)
        # Serving has begun once a client is answered.
        with stdsocket.create_connection(srv.address, timeout=TIMEOUT) as c:
            c.sendall("回声".encode())
            assert c.recv(100) == "回声".encode()
            with pytest.raises(RuntimeError):
                srv.stats()
            with pytest.raises(RuntimeError):
                srv.serve_forever()  # one thread serves at a time
        srv.stop()
        t.join(TIMEOUT)
        assert srv.stats().accepted == 1


def test_with_statement_stops_a_server_serving_in_another_thread():
    with netlab.EchoServer(("127.0.0.1", 0)) as srv:
        t, failure = serve_in_thread(srv)
        with stdsocket.create_connection(srv.address, timeout=TIMEOUT) as c:
            c.sendall(b"x")
            assert c.recv(1) == b"x"
    t.join(TIMEOUT)
    assert not t.is_alive() and failure == []


def signal_once_served(srv, signum):
    """A thread that waits until the server answers (so the main thread is in serve_forever),
    then sends this process a signal."""
    def run():
        with stdsocket.create_connection(srv.address, timeout=TIMEOUT) as c:
            c.sendall(b"ping")
            assert c.recv(4) == b"ping"
        os.kill(os.getpid(), signum)

    t = threading.Thread(target=run)
    t.start()
    return t


def test_serve_forever_on_the_main_thread_stopped_by_a_signal_handler():
    srv = netlab.EchoServer(("127.0.0.1", 0))
    old = signal.signal(signal.SIGUSR1, lambda *a: srv.stop())
    try:
        killer = signal_once_served(srv, signal.SIGUSR1)
        t0 = time.monotonic()
        srv.serve_forever()  # returns once the handler has stopped it
        assert time.monotonic() - t0 < TIMEOUT
        killer.join(TIMEOUT)
        assert srv.stats().accepted == 1
    finally:
        signal.signal(signal.SIGUSR1, old)
        srv.close()


def test_keyboard_interrupt_stops_serving():
    srv = netlab.EchoServer(("127.0.0.1", 0))
    with pytest.raises(KeyboardInterrupt):
        killer = signal_once_served(srv, signal.SIGINT)
        srv.serve_forever()
    killer.join(TIMEOUT)
    # Stopped, not closed: it serves again.
    t, failure = serve_in_thread(srv)
    with stdsocket.create_connection(srv.address, timeout=TIMEOUT) as c:
        c.sendall(b"again")
        assert c.recv(10) == b"again"
    srv.close()
    t.join(TIMEOUT)
    assert not t.is_alive() and failure == []


def test_idle_timeout_and_ipv6():
    with netlab.EchoServer(("::1", 0), idle_timeout=0.2) as srv:
        assert len(srv.address) == 4 and srv.address[0] == "::1"
        t, failure = serve_in_thread(srv)
        with stdsocket.create_connection(srv.address[:2], timeout=TIMEOUT) as c:
            t0 = time.monotonic()
            assert c.recv(1) == b""  # closed by the server for idleness
            assert 0.15 < time.monotonic() - t0 < 3
        srv.stop()
        t.join(TIMEOUT)
        assert srv.stats().closed_idle == 1


def test_errors():
    with pytest.raises(OverflowError):
        netlab.EchoServer(("127.0.0.1", 70000))
    with pytest.raises(ValueError):
        netlab.EchoServer(("127.0.0.1", 0), idle_timeout=-1)
    with pytest.raises(ValueError):
        netlab.EchoServer(("127.0.0.1", 0), max_queued=0)
    with pytest.raises(TypeError):
        netlab.EchoServer("127.0.0.1:0")
    with netlab.EchoServer(("127.0.0.1", 0)) as srv:
        with pytest.raises(OSError) as e:
            netlab.EchoServer(srv.address)  # the port is taken
        assert e.value.errno is not None
