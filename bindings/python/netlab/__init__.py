"""netlab: the course's socket module, on libnetlab.

Programs written for the standard library's ``socket`` module run unchanged with one line
changed::

    import netlab as socket

    sd = socket.socket(type=socket.SOCK_DGRAM)
    sd.bind(('0.0.0.0', 9000))
    data, addr = sd.recvfrom(1024)

The socket class below mirrors ``socket.socket``: same methods, same address tuples
(``('ip', port)`` for AF_INET, ``('ip', port, flowinfo, scope_id)`` for AF_INET6), same
time-out rules (``settimeout(None)`` blocks, ``0`` never waits, ``t`` waits at most ``t``
seconds) and the standard exception classes with ``errno`` and ``strerror`` set
(``TimeoutError``, ``ConnectionRefusedError``, ``BlockingIOError``, ``OSError`` with EBADF for a
closed socket, ``OverflowError`` for a port outside 0-65535, ``TypeError`` for ``str`` where
bytes are needed, ``netlab.gaierror`` for resolver failures).

Beyond the stdlib: ``netlab.ChatSession`` (the course's chat session: events, send, leave,
drop counters), ``netlab.EchoServer`` (the concurrent echo server) and, on datagram sockets,
``recvmmsg()``/``sendmmsg()`` (many datagrams per system call); see bindings/python/README.md.

Under it is libnetlab's C API (nl_udp, nl_tcp), reached through the private SWIG extension
``netlab._netlab``. The per-call methods (recv, recvfrom, recv_into, recvfrom_into, send,
sendto, sendall, accept) and the time-out calls are those of the C base class
``netlab._netlab._sock`` (bindings/python/nlpy_sock.c), with no Python layer in between. A
blocking call waits in the kernel in one system call with the GIL released, so one thread can
wait in ``recvfrom`` while another sends; a signal interrupts it, its handler runs, and the call
goes on unless the handler raised (Ctrl-C: KeyboardInterrupt), as PEP 475 says. Known differences from the standard library are listed in
``bindings/python/README.md``.
"""

import enum as _enum
import errno as _errno
import math as _math
import operator as _operator
import os as _os
import time as _time
import warnings as _warnings

from . import _netlab
from . import _makefile
from . import _resolve

_SO_PROTOCOL = _netlab.SO_PROTOCOL

__all__ = [
    "socket", "SocketType", "error", "timeout", "gaierror", "herror",
    "getdefaulttimeout", "setdefaulttimeout", "create_connection", "has_ipv6",
    "AddressFamily", "SocketKind",
    "ChatSession", "ChatEvent", "ChatStats", "EventType", "ChatRoom", "RoomEvent",
    "RoomEventType", "EchoServer", "ServerStats",
    "nl_err_name", "nl_strerror", "NL_EPEERLOST",
]

__version__ = _netlab.VERSION

# ---- Constants --------------------------------------------------------------------------------

def _convert(kind, name, prefix, doc):
    """An enum of every _netlab constant starting with prefix, sorted by value then name, as
    the stdlib makes its own from _socket (so the members and their order match)."""
    pairs = sorted(((getattr(_netlab, n), n) for n in dir(_netlab)
                    if n.startswith(prefix) and n.isupper()))
    cls = kind(name, [(n, v) for v, n in pairs], module=__name__)
    cls.__doc__ = doc
    cls.__reduce_ex__ = _reduce_by_name  # the members are module globals: pickle by name
    return cls


def _reduce_by_name(member, proto):
    return member.name


AddressFamily = _convert(_enum.IntEnum, "AddressFamily", "AF_",
                         "Address families, as socket.AddressFamily (netlab sockets take AF_INET "
                         "and AF_INET6; the others name what the resolver or a descriptor give).")
SocketKind = _convert(_enum.IntEnum, "SocketKind", "SOCK_",
                      "Socket types, as socket.SocketKind (netlab sockets are SOCK_STREAM or "
                      "SOCK_DGRAM).")
MsgFlag = _convert(_enum.IntFlag, "MsgFlag", "MSG_", "send/recv flags, as socket.MsgFlag.")
AddressInfo = _convert(_enum.IntFlag, "AddressInfo", "AI_",
                       "getaddrinfo() flags, as socket.AddressInfo.")
globals().update(AddressFamily.__members__)
globals().update(SocketKind.__members__)
globals().update(MsgFlag.__members__)
globals().update(AddressInfo.__members__)


for _name in dir(_netlab):
    if _name.startswith(("SOL_", "SO_", "IPPROTO_", "IP_", "IPV6_", "TCP_", "SHUT_", "EAI_",
                         "INADDR_", "AI_", "NI_", "AF_", "SOCK_", "MSG_")) or _name == "SOMAXCONN":
        globals().setdefault(_name, getattr(_netlab, _name))  # enum members stay members
        __all__.append(_name)
del _name
__all__ += ["AddressInfo", "MsgFlag"]

# The stdlib's names for the loopback addresses (test suites use them).
_LOCALHOST = "127.0.0.1"
_LOCALHOST_V6 = "::1"

has_ipv6 = True

# ---- Exceptions -------------------------------------------------------------------------------

error = OSError          # socket.error has been OSError since Python 3.3
timeout = TimeoutError   # socket.timeout has been TimeoutError since Python 3.10
gaierror = _netlab.gaierror  # OSError subclass; errno is an EAI_* code, as in the stdlib
herror = _netlab.herror      # OSError subclass, for symmetry with the stdlib (never raised)

# ---- Time-outs --------------------------------------------------------------------------------

_defaulttimeout = None


def getdefaulttimeout():
    """The time-out new sockets start with (None: blocking), as socket.getdefaulttimeout()."""
    return _defaulttimeout


def setdefaulttimeout(value):
    """Set the time-out new sockets start with, as socket.setdefaulttimeout()."""
    global _defaulttimeout
    _defaulttimeout = _check_timeout(value)


def _check_timeout(value):
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, (int, float)) and \
            not hasattr(value, "__float__"):
        raise TypeError("Timeout value must be int, float or None")
    value = float(value)
    if _math.isnan(value):
        raise ValueError("Invalid value NaN (not a number)")
    if value < 0:
        raise ValueError("Timeout value out of range")
    if value * 1e9 >= 9.2e18:  # the stdlib keeps time-outs in int64 nanoseconds
        raise OverflowError("timestamp too large to convert to C _PyTime_t")
    return value


def _ms(seconds):
    """Seconds (> 0) to whole milliseconds for the C calls, rounded up so that a time-out never
    ends early, and capped to what a C int holds."""
    return min(max(1, _math.ceil(seconds * 1000)), 0x7fffffff)


# recvmmsg() and sendmmsg() without a timeout argument use the socket's time-out.
_SOCKET_TIMEOUT = object()


# ---- The socket class -------------------------------------------------------------------------

class socket(_netlab._sock):
    """A socket, as socket.socket: created at once (it has a descriptor before bind or connect),
    closed by close(), the with statement, or (with a ResourceWarning) the garbage collector.

    The per-call methods and the time-out calls (settimeout, gettimeout, setblocking,
    getblocking) come from the C base class, which also holds ``_h`` (the handle) and
    ``_timeout`` (None or seconds; setting it checks the value as settimeout() does and sets the
    descriptor's O_NONBLOCK as the stdlib does: blocking sockets have blocking descriptors)."""

    __slots__ = ("_family", "_type", "_proto", "_closed", "_io_refs")

    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        self._closed = True  # until the handle exists, so that __del__ has nothing to do
        self._io_refs = 0
        if fileno is not None:
            self._init_fileno(family, type, proto, fileno)
            return
        family = AF_INET if family == -1 else family
        type = SOCK_STREAM if type == -1 else type
        proto = 0 if proto == -1 else proto
        for value in (family, type, proto):
            if not isinstance(value, int):
                raise TypeError(f"'{value.__class__.__name__}' object cannot be interpreted "
                                f"as an integer")
        nonblock = bool(type & SOCK_NONBLOCK)
        type &= ~(SOCK_NONBLOCK | SOCK_CLOEXEC)  # netlab's descriptors are close-on-exec
        expected = _netlab.IPPROTO_TCP if type == SOCK_STREAM else _netlab.IPPROTO_UDP
        if proto not in (0, expected):
            raise OSError(_errno.EPROTONOSUPPORT, _os.strerror(_errno.EPROTONOSUPPORT))
        self._h = _netlab.open_socket(family, type)
        self._family = family
        self._type = type
        self._proto = proto
        self._timeout = 0.0 if nonblock else _defaulttimeout
        self._closed = False

    @classmethod
    def _adopt(cls, handle, family, type):
        """A socket object for a handle accept() made (called by the C accept(); a netlab.socket
        whatever the listener's class, as the stdlib's accept() makes a socket.socket)."""
        self = socket.__new__(socket)
        self._h = handle
        self._family = family
        self._type = type
        self._proto = 0
        self._timeout = _defaulttimeout
        self._closed = False
        self._io_refs = 0
        return self

    # -- attributes and life cycle --

    @property
    def family(self):
        """The address family, AF_INET or AF_INET6."""
        return _resolve._enum(AddressFamily, self._family)

    @property
    def type(self):
        """The socket type, SOCK_STREAM or SOCK_DGRAM."""
        return _resolve._enum(SocketKind, self._type)

    @property
    def proto(self):
        """The protocol number given to the constructor (0 by default)."""
        return self._proto

    def fileno(self):
        """The descriptor, for select, poll and selectors; -1 once closed (or detached)."""
        h = getattr(self, "_h", None)
        return _netlab.fileno(h) if h is not None else -1

    def close(self):
        """Close the socket. Closing twice is fine. A thread blocked in this socket (recvfrom,
        accept, ...) is woken and gets OSError(EBADF). While a file object from makefile() is
        open, the descriptor stays open until the last such file is closed, as in the stdlib."""
        if self._closed:
            return
        self._closed = True
        if self._io_refs <= 0:
            _netlab.close(self._h)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            closed = self._closed
        except AttributeError:  # __init__ failed before setting anything
            return
        if not closed:
            _warnings.warn(f"unclosed {self!r}", ResourceWarning, source=self)
            self.close()

    def __repr__(self):
        closed = getattr(self, "_closed", True)
        text = (f"<{type(self).__module__}.{type(self).__qualname__}"
                f"{' [closed]' if closed else ''} fd={self.fileno() if not closed else -1}, "
                f"family={getattr(self, '_family', -1)}, type={getattr(self, '_type', -1)}, "
                f"proto={getattr(self, '_proto', 0)}")
        if not closed:
            try:
                text += f", laddr={self.getsockname()}"
                text += f", raddr={self.getpeername()}"
            except OSError:
                pass
        return text + ">"

    def __getstate__(self):
        raise TypeError(f"cannot pickle {type(self).__name__!r} object")

    # -- descriptors and file objects (the stdlib's dup, detach, fileno=, makefile) --

    def _init_fileno(self, family, type, proto, fileno):
        """socket(fileno=fd): take over the descriptor; family, type and protocol come from the
        kernel, as in the stdlib (given values must be ints, and are otherwise ignored)."""
        for value in (family, type, proto):
            if not isinstance(value, int):
                raise TypeError(f"'{value.__class__.__name__}' object cannot be interpreted "
                                f"as an integer")
        if isinstance(fileno, float) or not hasattr(fileno, "__index__"):
            raise TypeError(f"'{fileno.__class__.__name__}' object cannot be interpreted as an "
                            f"integer")
        fd = _operator.index(fileno)
        if fd < 0:
            raise ValueError("negative file descriptor")
        if fd > 0x7fffffff:
            raise OverflowError("file descriptor out of range")
        self._h = _netlab.adopt(fd)
        # As in the stdlib, values given win over what the kernel says (they only show in the
        # family, type and proto attributes; the calls go by the descriptor).
        self._family = _netlab.family(self._h) if family == -1 else family
        self._type = _netlab.socktype(self._h) if type == -1 else type
        self._proto = (_netlab.getsockopt_int(self._h, _netlab.SOL_SOCKET, _SO_PROTOCOL)
                       if proto == -1 else proto)
        self._timeout = _defaulttimeout
        self._closed = False

    def _accept(self):
        """accept() as the stdlib's C layer has it: (descriptor, address)."""
        conn, address = self.accept()
        return conn.detach(), address

    def dup(self):
        """A new socket object on a duplicate of the descriptor (not inheritable)."""
        sock = type(self)(self._family, self._type, self._proto, fileno=_os.dup(self.fileno()))
        sock.settimeout(self.gettimeout())
        return sock

    def detach(self):
        """Close the socket object without closing the descriptor; return the descriptor
        (-1 when already closed)."""
        self._closed = True
        fd = _netlab.detach(self._h)
        if fd < -1:
            raise OSError(-fd, _os.strerror(-fd))
        return fd

    def get_inheritable(self):
        """Whether child processes inherit the descriptor (os.get_inheritable)."""
        return _os.get_inheritable(self._fd_or_ebadf())

    def set_inheritable(self, inheritable):
        """Let child processes inherit the descriptor, or not (os.set_inheritable)."""
        _os.set_inheritable(self._fd_or_ebadf(), inheritable)

    def _fd_or_ebadf(self):
        fd = self.fileno()
        if fd < 0:
            raise OSError(_errno.EBADF, _os.strerror(_errno.EBADF))
        return fd

    def makefile(self, mode="r", buffering=None, *, encoding=None, errors=None,
                 newline=None):
        """A file object reading and/or writing the socket ('r', 'w', 'b' as for open()); the
        socket's time-out applies to its reads and writes."""
        return _makefile.makefile(self, mode, buffering, encoding=encoding, errors=errors,
                                  newline=newline)

    def _io_closed(self):
        """A file from makefile() was closed: close the socket if it waited for that."""
        self._io_refs -= 1
        if self._closed and self._io_refs <= 0:
            _netlab.close(self._h)

    # -- scatter/gather (the stdlib's sendmsg/recvmsg, without ancillary data) --

    def sendmsg(self, buffers, ancdata=(), flags=0, address=None):
        """Send the buffers as one message (one datagram on a UDP socket); ancillary data is
        not supported (NotImplementedError when given)."""
        if list(ancdata):
            raise NotImplementedError("netlab: sendmsg() ancillary data is not supported")
        data = b"".join(memoryview(b).cast("B") for b in buffers)
        if address is not None:
            return self.sendto(data, flags, address) if flags else self.sendto(data, address)
        return self.send(data, flags)

    def recvmsg(self, bufsize, ancbufsize=0, flags=0):
        """Receive one message: (data, [], msg_flags, address); no ancillary data comes."""
        _operator.index(ancbufsize)
        if ancbufsize < 0:
            raise ValueError("negative buffer size in recvmsg()")
        data, address = self.recvfrom(bufsize, flags)
        return data, [], 0, address

    def recvmsg_into(self, buffers, ancbufsize=0, flags=0):
        """Receive one message into the buffers, in order: (nbytes, [], msg_flags, address)."""
        views = [memoryview(b).cast("B") for b in buffers]
        for v in views:
            if v.readonly:
                raise TypeError("recvmsg_into() argument 1 must be an iterable of writable "
                                "buffers")
        total = sum(v.nbytes for v in views)
        data, ancdata, msg_flags, address = self.recvmsg(total, ancbufsize, flags)
        at = 0
        for v in views:
            part = data[at:at + v.nbytes]
            v[:len(part)] = part
            at += len(part)
        return len(data), ancdata, msg_flags, address

    # -- time-outs --
    # settimeout, gettimeout, setblocking and getblocking are the C base class's.

    def _wait(self, call, *args):
        """Run call(handle, *args, timeout_ms) under the socket's time-out: -1 blocks in the
        kernel, 0 never waits, else what is left of the time-out. A signal ends the C call with
        InterruptedError; the handlers run at the loop's next turn (and raise, for Ctrl-C) and
        the call goes on with the time that is left (PEP 475)."""
        t = self._timeout
        if t == 0.0:
            return call(self._h, *args, 0)
        deadline = None if t is None else _time.monotonic() + t
        while True:
            if deadline is None:
                ms = -1
            else:
                left = deadline - _time.monotonic()
                if left <= 0:
                    raise TimeoutError(_errno.ETIMEDOUT, "timed out")
                ms = _ms(left)
            try:
                return call(self._h, *args, ms)
            except InterruptedError:
                pass

    # -- addresses --

    def _address(self, address, caller):
        """Check an address tuple as the stdlib does; return (host, port, scope_id)."""
        if self._family == AF_INET6:
            if not isinstance(address, tuple):
                raise TypeError(f"{caller}(): AF_INET6 address must be tuple, "
                                f"not {type(address).__name__}")
            if not 2 <= len(address) <= 4:
                raise TypeError("AF_INET6 address must be a tuple "
                                "(host, port[, flowinfo[, scopeid]])")
            host, port = address[0], address[1]
            flowinfo = _operator.index(address[2]) if len(address) > 2 else 0
            scope_id = _operator.index(address[3]) if len(address) > 3 else 0
            if not 0 <= flowinfo <= 0xfffff:
                raise OverflowError(f"{caller}(): flowinfo must be 0-1048575.")
            if not 0 <= scope_id <= 0xffffffff:
                raise OverflowError("scope_id must be 0-4294967295")
        else:
            if not isinstance(address, tuple):
                raise TypeError(f"{caller}(): AF_INET address must be tuple, "
                                f"not {type(address).__name__}")
            if len(address) != 2:
                raise TypeError("AF_INET address must be a pair (host, port)")
            host, port = address
            scope_id = 0
        if isinstance(host, (bytes, bytearray)):
            host = bytes(host).decode("ascii")
        elif not isinstance(host, str):
            raise TypeError(f"str, bytes or bytearray expected, not {type(host).__name__}")
        if "\0" in host:
            raise TypeError("host name must not contain null character")
        port = _operator.index(port)
        if not 0 <= port <= 65535:
            raise OverflowError(f"{caller}(): port must be 0-65535.")
        if host == "<broadcast>" and self._family == AF_INET:
            host = "255.255.255.255"
        return host, port, scope_id

    def getsockname(self):
        """The local address: ('ip', port) or ('ip', port, flowinfo, scope_id)."""
        return _netlab.getsockname(self._h)

    def getpeername(self):
        """The peer's address (OSError ENOTCONN when not connected)."""
        return _netlab.getpeername(self._h)

    # -- the server's calls --

    def bind(self, address):
        """Bind to a local address, e.g. ('0.0.0.0', 9000); port 0 picks a free port."""
        _netlab.bind(self._h, *self._address(address, "bind"))

    def listen(self, backlog=None):
        """Listen for connections (stream sockets); the default backlog is the system's."""
        if backlog is None:
            backlog = min(_netlab.SOMAXCONN, 128)
        # libnetlab reads a backlog <= 0 as "the system maximum"; the stdlib passes 0 on to
        # the kernel. 1 is the closest libnetlab can say.
        _netlab.listen(self._h, max(_operator.index(backlog), 1))
        self._sync_blocking()  # the library's listener is non-blocking; follow the time-out

    # accept() is the C base class's.

    # -- the client's calls --

    def connect(self, address):
        """Connect to address; TimeoutError, ConnectionRefusedError, ... on failure. With a
        time-out of 0 it raises BlockingIOError (EINPROGRESS) and the handshake goes on."""
        self._connect(*self._address(address, "connect"))

    def connect_ex(self, address):
        """Like connect(), but return an errno value (0 on success) instead of raising
        OSError; resolver errors and bad arguments still raise, as in the stdlib."""
        try:
            self.connect(address)
        except gaierror:
            raise
        except TimeoutError as e:
            return e.errno if e.errno is not None else _errno.EAGAIN
        except OSError as e:
            return e.errno
        return 0

    # -- receiving and sending --
    # recv, recvfrom, recv_into, recvfrom_into, send, sendto and sendall are the C base
    # class's (bindings/python/nlpy_sock.c). flags other than 0 raise NotImplementedError.

    # -- batches (netlab extras, not in the stdlib) --

    # recvmmsg(count, bufsize, timeout=<the socket's>) is the C base class's.

    def sendmmsg(self, datagrams, timeout=_SOCKET_TIMEOUT):
        """netlab extra: send a sequence of (data, address) tuples (address None: the
        connected peer) in as few system calls as possible (sendmmsg), in order, each whole
        or not at all. Waits (per the socket's time-out, or timeout seconds) only while the
        first finds no room; returns how many went out (fewer than given when the socket
        buffer filled up or a later destination failed: send the rest again to learn why).
        Datagram sockets only."""
        if timeout is _SOCKET_TIMEOUT:
            return self._wait(_netlab.sendmmsg, datagrams)
        return self._wait_for(_check_timeout(timeout), _netlab.sendmmsg, datagrams)

    def _wait_for(self, t, call, *args):
        """_wait() under time-out t instead of the socket's."""
        saved = self._timeout
        try:
            self._timeout = t
            return self._wait(call, *args)
        finally:
            self._timeout = saved

    # -- the rest --

    def shutdown(self, how):
        """Shut down reading (SHUT_RD), writing (SHUT_WR) or both (SHUT_RDWR)."""
        _netlab.shutdown(self._h, _operator.index(how))

    def setsockopt(self, level, optname, value, optlen=None):
        """Set a socket option: an int, or a bytes-like value (e.g. SO_LINGER's struct)."""
        if optlen is not None:
            raise NotImplementedError("netlab: setsockopt(level, optname, None, optlen) is "
                                      "not supported")
        if isinstance(value, int):
            _netlab.setsockopt_int(self._h, level, optname, value)
        else:
            _netlab.setsockopt_buf(self._h, level, optname, value)

    def getsockopt(self, level, optname, buflen=0):
        """Read a socket option: an int, or with buflen its raw bytes (at most buflen)."""
        buflen = _operator.index(buflen)
        if buflen == 0:
            return _netlab.getsockopt_int(self._h, level, optname)
        if not 0 < buflen <= 1024:
            raise OSError("getsockopt buflen out of range")
        return _netlab.getsockopt_buf(self._h, level, optname, buflen)


SocketType = socket


_GLOBAL_DEFAULT_TIMEOUT = object()


def create_connection(address, timeout=_GLOBAL_DEFAULT_TIMEOUT, source_address=None, *,
                      all_errors=False):
    """Connect to (host, port), trying each address getaddrinfo() gives in turn; return the
    socket, as socket.create_connection(). When every attempt fails, raise the last error, or
    with all_errors=True an ExceptionGroup of them all."""
    host, port = address
    errors = []
    for family, kind, proto, _, addr in getaddrinfo(host, port, 0, SOCK_STREAM):
        sock = None
        try:
            sock = socket(family, kind, proto)
            if timeout is not _GLOBAL_DEFAULT_TIMEOUT:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(addr)
            errors.clear()
            return sock
        except OSError as e:
            errors.append(e)
            if sock is not None:
                sock.close()
        except BaseException:
            if sock is not None:
                sock.close()
            raise
    if not errors:
        raise OSError("getaddrinfo returns an empty list")
    try:
        if all_errors:
            raise ExceptionGroup("create_connection failed", errors)
        raise errors[-1]
    finally:
        errors = None


def has_dualstack_ipv6():
    """True: IPv6 sockets here can also take IPv4 (IPV6_V6ONLY can be turned off)."""
    try:
        with socket(AF_INET6, SOCK_STREAM) as sock:
            sock.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 0)
            return True
    except OSError:
        return False


def create_server(address, *, family=AF_INET, backlog=None, reuse_port=False,
                  dualstack_ipv6=False):
    """A TCP socket bound to address and listening, as socket.create_server()."""
    if reuse_port and not hasattr(_netlab, "SO_REUSEPORT"):
        raise ValueError("SO_REUSEPORT not supported on this platform")
    if dualstack_ipv6:
        if not has_dualstack_ipv6():
            raise ValueError("dualstack_ipv6 not supported on this platform")
        if family != AF_INET6:
            raise ValueError("dualstack_ipv6 requires AF_INET6 family")
    sock = socket(family, SOCK_STREAM)
    try:
        # Restarted servers must be able to bind while old connections sit in TIME_WAIT.
        sock.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(SOL_SOCKET, SO_REUSEPORT, 1)
        if family == AF_INET6:
            sock.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 0 if dualstack_ipv6 else 1)
        try:
            sock.bind(address)
        except OSError as err:
            raise OSError(err.errno, f"{err.strerror} (while attempting to bind on address "
                                     f"{address!r})") from None
        if backlog is None:
            sock.listen()
        else:
            sock.listen(backlog)
        return sock
    except BaseException:
        sock.close()
        raise


def socketpair(family=None, type=SOCK_STREAM, proto=0):
    """Two connected sockets, as socket.socketpair(), over loopback TCP (or UDP): netlab
    speaks no AF_UNIX, so the default family is AF_INET, not the stdlib's AF_UNIX."""
    if family is None:
        family = AF_INET
    if family not in (AF_INET, AF_INET6):
        raise ValueError("Only AF_INET and AF_INET6 socket address families are supported")
    if type not in (SOCK_STREAM, SOCK_DGRAM):
        raise ValueError("Only SOCK_STREAM and SOCK_DGRAM socket types are supported")
    if proto != 0:
        raise ValueError("Only protocol zero is supported")
    host = "127.0.0.1" if family == AF_INET else "::1"
    if type == SOCK_DGRAM:
        a, b = socket(family, type), socket(family, type)
        try:
            a.bind((host, 0))
            b.bind((host, 0))
            a.connect(b.getsockname())
            b.connect(a.getsockname())
            return a, b
        except BaseException:
            a.close()
            b.close()
            raise
    with socket(family, type) as lsock:
        lsock.bind((host, 0))
        lsock.listen()
        csock = socket(family, type)
        try:
            csock.connect(lsock.getsockname())
            # Only our own client may be the other end: compare the addresses.
            while True:
                ssock, addr = lsock.accept()
                if addr[:2] == csock.getsockname()[:2]:
                    return csock, ssock
                ssock.close()
        except BaseException:
            csock.close()
            raise


def fromfd(fd, family, type, proto=0):
    """A socket object on a duplicate of descriptor fd, as socket.fromfd()."""
    return socket(family, type, proto, fileno=_os.dup(fd))


def close(fd):
    """Close a socket descriptor, as socket.close(fd)."""
    _os.close(_operator.index(fd))


from ._resolve import (  # noqa: E402
    getaddrinfo, gethostbyname, gethostbyname_ex, gethostbyaddr, gethostname, getfqdn,
    getnameinfo, getservbyname, getservbyport, htons, ntohs, htonl, ntohl, inet_aton,
    inet_ntoa, inet_pton, inet_ntop, if_nameindex, if_nametoindex, if_indextoname,
    sethostname)

__all__ += [
    "create_server", "has_dualstack_ipv6", "socketpair", "fromfd", "close", "getaddrinfo",
    "gethostbyname", "gethostbyname_ex", "gethostbyaddr", "gethostname", "getfqdn",
    "getnameinfo", "getservbyname", "getservbyport", "htons", "ntohs", "htonl", "ntohl",
    "inet_aton", "inet_ntoa", "inet_pton", "inet_ntop", "if_nameindex", "if_nametoindex",
    "if_indextoname", "sethostname"]


# ---- libnetlab's own classes ------------------------------------------------------------------

def nl_err_name(code):
    """The name of a libnetlab code, e.g. nl_err_name(NL_EPEERLOST) == 'NL_EPEERLOST'."""
    return _netlab.err_name(code)


def nl_strerror(code):
    """The message of a libnetlab code."""
    return _netlab.strerror(code)


NL_EPEERLOST = _netlab.NL_EPEERLOST

from .chat import ChatSession, ChatEvent, ChatStats, EventType  # noqa: E402
from .room import ChatRoom, RoomEvent, RoomEventType  # noqa: E402
from .server import EchoServer, ServerStats  # noqa: E402
