"""netlab.capture: the packets behind a program, as they happen (libnetlab's nl_capture).

::

    from netlab.capture import Capture
    with Capture(9000) as cap:           # TCP segments and UDP datagrams of port 9000 on lo
        ...                              # run the exchange (another thread, another process)
        for p in cap.read(timeout=1.0):  # what arrived, decoded
            print(p)                     # one line, the step labelled in Chinese and English
        print(cap.stats().drops)         # packets the kernel had to drop: never silent

Each Packet has its direction (to_server), flags, relative sequence and acknowledgement numbers
(rel_seq, rel_ack), payload length, scaled window, the step of the exchange it is ('syn',
'syn-ack', 'handshake-ack', 'data', 'ack', 'fin', 'rst', 'udp', 'other') and, for an ACK, the
index of the packet it answers. Capturing needs CAP_NET_RAW (root, or a user and network
namespace of one's own: ``unshare -rn``); without it Capture() raises PermissionError.
Capture.offline(port) follows connections from packets given to feed(), without a socket.
"""
import dataclasses as _dataclasses
import math as _math
import time as _time

from . import _netlab

SYN, ACK, FIN, RST, PSH = 0x02, 0x10, 0x01, 0x04, 0x08

_SLICE = 0.2  # s: the longest single wait in C, so that close() from another thread is quick


@_dataclasses.dataclass(frozen=True)
class Packet:
    """One captured packet, decoded (nl_capture_packet)."""
    index: int           # 1, 2, ...: order in this capture
    proto: str           # 'tcp' or 'udp'
    to_server: bool      # sent to the watched port (client -> server)
    src: tuple           # (host, port)
    dst: tuple
    flags: int           # TCP flags (SYN, ACK, FIN, RST, PSH, ... OR-ed)
    seq: int             # as on the wire
    ack: int
    rel_seq: int         # relative to the sender's initial sequence number
    rel_ack: int         # relative to the receiver's
    len: int             # payload bytes
    window: int          # receive window in bytes (scaled when window_scaled)
    window_scaled: bool
    wscale: int          # a SYN's window-scale option, -1 if none
    udp_len: int         # UDP length field
    segs: int            # segments on a physical wire (offloaded packets stand for several)
    step: str            # what it is in the exchange
    answers: int         # index of the segment this ACK answers in full, 0 for none
    text: str            # the readable line
    json: str            # the JSON line

    def __str__(self):
        return self.text


@_dataclasses.dataclass(frozen=True)
class CaptureStats:
    """The capture's counters (nl_capture_counts)."""
    received: int  # packets the kernel matched
    drops: int     # packets it dropped: missed
    decoded: int   # packets reported
    ignored: int   # packets read but not reported


class Capture:
    """Watch the TCP segments and UDP datagrams of a local port on an interface (default
    'lo'), as they happen. Read while the exchange runs: the kernel holds what it captured
    only in a bounded buffer (4 MiB), and counts what it had to drop (stats().drops)."""

    def __init__(self, port, interface="lo", *, _offline=False):
        self._h = None
        if not isinstance(port, int) or isinstance(port, bool):
            raise TypeError("port must be an int")
        self._h = _netlab.capture_open(interface, port, 1 if _offline else 0)

    @classmethod
    def offline(cls, port):
        """A capture without a socket: give it IP packets with feed()."""
        return cls(port, _offline=True)

    def fileno(self):
        """The descriptor to poll (select, selectors, asyncio): readable when packets wait."""
        return _netlab.capture_fileno(self._handle())

    def read(self, timeout=None):
        """The packets waiting, waiting up to timeout seconds (None: until there is one, 0:
        not at all) for the first; [] when none came. The GIL is released while it waits."""
        h = self._handle()
        deadline = None if timeout is None else _time.monotonic() + max(timeout, 0)
        while True:
            left = _SLICE if deadline is None else min(_SLICE, deadline - _time.monotonic())
            try:
                return [Packet(**p) for p in
                        _netlab.capture_read(h, max(0, _math.ceil(left * 1000)))]
            except (TimeoutError, BlockingIOError):
                if deadline is not None and _time.monotonic() >= deadline:
                    return []
                h = self._handle()  # closed meanwhile: OSError(EBADF)

    def feed(self, packet):
        """Decode one IP packet (bytes-like, from its IP header on) and follow its connection,
        without I/O. The Packet, or None when it is not for the port or is malformed."""
        got = _netlab.capture_feed(self._handle(), packet)
        return Packet(**got[0]) if got else None

    def stats(self):
        """The counters; call it after the last read to learn whether anything was missed."""
        return CaptureStats(**_netlab.capture_stats(self._handle()))

    def close(self):
        """Stop capturing. A second close is a no-op."""
        if self._h is not None:
            _netlab.capture_close(self._h)

    def _handle(self):
        if self._h is None:
            raise OSError(9, "Bad file descriptor")
        return self._h

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()
