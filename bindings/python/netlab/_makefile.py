"""socket.makefile() for netlab sockets: a raw byte stream over the socket's own calls
(recv_into, send), wrapped in the io module's buffered and text layers as open() does.

The raw stream reads and writes through the socket object, so it follows the socket's
time-out. After a time-out the stream's position in the byte stream is unknown (part of a
line may have been consumed by the buffer), so further reads are refused, as the stdlib's
file objects do. The socket stays open while a file made from it is open: close() on the
socket then only marks it, and the last file to close closes it (see socket._io_refs).
"""
import errno as _errno
import io as _io

# What the kernel says when there is nothing to read or no room to write, with a time-out of 0.
_WOULD_BLOCK = (_errno.EAGAIN, _errno.EWOULDBLOCK)


class SocketRaw(_io.RawIOBase):
    """A raw byte stream on a netlab socket (mode 'r', 'w' or 'rw')."""

    def __init__(self, sock, mode):
        if mode not in ("r", "w", "rw", "rb", "wb", "rwb"):
            raise ValueError(f"invalid mode: {mode!r}")
        super().__init__()
        self._sock = sock
        self._reading = "r" in mode
        self._writing = "w" in mode
        self._mode = mode if mode.endswith("b") else mode + "b"
        self._timed_out = False
        sock._io_refs += 1

    def readinto(self, b):
        self._checkClosed()
        self._checkReadable()
        if self._timed_out:
            raise OSError("cannot read from timed out object")
        try:
            return self._sock.recv_into(b)
        except TimeoutError:
            self._timed_out = True
            raise
        except OSError as e:
            if e.errno in _WOULD_BLOCK:
                return None  # non-blocking: nothing yet, as RawIOBase says
            raise

    def write(self, b):
        self._checkClosed()
        self._checkWritable()
        try:
            return self._sock.send(b)
        except OSError as e:
            if e.errno in _WOULD_BLOCK:
                return None
            raise

    def readable(self):
        if self.closed:
            raise ValueError("I/O operation on closed socket.")
        return self._reading

    def writable(self):
        if self.closed:
            raise ValueError("I/O operation on closed socket.")
        return self._writing

    def seekable(self):
        if self.closed:
            raise ValueError("I/O operation on closed socket.")
        return False

    def fileno(self):
        self._checkClosed()
        return self._sock.fileno()

    @property
    def name(self):
        return self.fileno() if not self.closed else -1

    @property
    def mode(self):
        return self._mode

    def close(self):
        if self.closed:
            return
        super().close()
        self._sock._io_closed()
        self._sock = None


def makefile(sock, mode="r", buffering=None, *, encoding=None, errors=None, newline=None):
    """A file object on sock: mode is a combination of 'r', 'w' and 'b' as for open()."""
    if not set(mode) <= {"r", "w", "b"}:
        raise ValueError(f"invalid mode {mode!r} (only r, w, b allowed)")
    reading = "r" in mode
    writing = "w" in mode
    if not reading and not writing:
        reading = True
    binary = "b" in mode
    raw = SocketRaw(sock, ("r" if reading else "") + ("w" if writing else ""))
    if buffering is None:
        buffering = -1
    if buffering < 0:
        buffering = _io.DEFAULT_BUFFER_SIZE
    if buffering == 0:
        if not binary:
            raise ValueError("unbuffered streams must be binary")
        return raw
    if reading and writing:
        stream = _io.BufferedRWPair(raw, raw, buffering)
    elif reading:
        stream = _io.BufferedReader(raw, buffering)
    else:
        stream = _io.BufferedWriter(raw, buffering)
    if binary:
        return stream
    text = _io.TextIOWrapper(stream, encoding, errors, newline)
    text.mode = mode
    return text
