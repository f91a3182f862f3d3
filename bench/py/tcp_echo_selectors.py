"""TCP echo server with the Python standard library's selectors, as the docs show it: one
thread, non-blocking sockets, recv then send. Prints the port, serves until SIGTERM.

  tcp_echo_selectors.py [--netlab]

--netlab: the same program with `import netlab as socket` (bench/run puts its Release build on
PYTHONPATH), to compare netlab's sockets with the stdlib's in an unchanged program."""
import resource
import selectors
import signal
import sys

if "--netlab" in sys.argv[1:]:
    import netlab as socket
else:
    import socket

# Thousands of idle connections in the memory benchmark: raise the descriptor limit.
_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

sel = selectors.DefaultSelector()
lsock = socket.socket()
lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lsock.bind(("127.0.0.1", 0))
lsock.listen(4096)
lsock.setblocking(False)
sel.register(lsock, selectors.EVENT_READ, None)
print(lsock.getsockname()[1], flush=True)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))

while True:
    for key, _ in sel.select():
        if key.data is None:
            try:
                while True:
                    conn, _ = lsock.accept()
                    conn.setblocking(False)
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    sel.register(conn, selectors.EVENT_READ, 1)
            except BlockingIOError:
                pass
        else:
            sock = key.fileobj
            try:
                data = sock.recv(16384)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if data:
                try:
                    sock.send(data)
                except BlockingIOError:
                    pass
                except OSError:
                    sel.unregister(sock)
                    sock.close()
            else:
                sel.unregister(sock)
                sock.close()
