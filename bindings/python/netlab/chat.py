"""netlab.ChatSession: the course's point-to-point chat (libnetlab's nl_chat_session) in Python.

::

    with netlab.ChatSession(bind=('127.0.0.1', 9001), peer=('127.0.0.1', 9002)) as chat:
        chat.send('你好')
        for ev in chat:                      # events until the session is closed
            if ev.type is netlab.EventType.MESSAGE:
                print(ev.data)

Events are ChatEvent tuples ``(type, data, peer, msg_id, code)``:

- ``type``: an EventType (MESSAGE, PEER_JOINED, DELIVERED, PEER_LEFT, PEER_LOST, ERROR, CLOSED,
  WARNING).
- ``data``: MESSAGE: the text; PEER_JOINED: the peer's name ('' when it sent none). A ``str``
  when the bytes are valid UTF-8, otherwise the raw ``bytes``. ``None`` for the other types.
- ``peer``: the peer's address tuple, as the socket class shows addresses (``None`` if unknown).
- ``msg_id``: MESSAGE: its number from the peer (1, 2, ...); DELIVERED: the id send() returned.
- ``code``: ERROR, PEER_LOST, CLOSED, WARNING: 0 or a negative libnetlab code
  (``netlab.nl_err_name``); WARNING: what the session suspects (see nl_chat_event_type).

The session runs on the calling threads, with no thread of its own: events only happen while
some thread waits in poll(), events() or the iteration. One thread may wait for events while
others call send(), leave(), stats() or close() (which wakes the waiting thread).
"""
import dataclasses as _dataclasses
import enum as _enum
import errno as _errno
import time as _time
import typing as _typing
import warnings as _warnings

from . import _netlab
from . import _util


class EventType(_enum.IntEnum):
    """What a chat event reports (the values of libnetlab's nl_chat_event_type)."""
    PEER_JOINED = _netlab.CHAT_EV_PEER_JOINED
    MESSAGE = _netlab.CHAT_EV_MESSAGE
    DELIVERED = _netlab.CHAT_EV_DELIVERED
    PEER_LEFT = _netlab.CHAT_EV_PEER_LEFT
    PEER_LOST = _netlab.CHAT_EV_PEER_LOST
    ERROR = _netlab.CHAT_EV_ERROR
    CLOSED = _netlab.CHAT_EV_CLOSED
    WARNING = _netlab.CHAT_EV_WARNING


class ChatEvent(_typing.NamedTuple):
    """One event of a ChatSession; see the module's documentation for the fields."""
    type: EventType
    data: _typing.Union[str, bytes, None]
    peer: _typing.Optional[tuple]
    msg_id: int
    code: int


@_dataclasses.dataclass(frozen=True)
class ChatStats:
    """The session's drop counters (every datagram it refused, by reason) and traffic figures,
    as libnetlab's nl_chat_stats."""
    wrong_source: int   # from an address other than the locked peer's
    bad_length: int     # too short, too long, or a length field that disagrees
    bad_magic: int      # not the chat protocol
    bad_version: int    # a protocol version we do not speak
    bad_header: int     # unknown type or flags, fields illegal for the type
    auth_failed: int    # AEAD tag wrong, or sealed/unsealed against the key
    bad_session: int    # a valid frame of another session
    replayed: int       # packet number already seen, or older than the window
    out_of_window: int  # sequence number beyond the receive window
    duplicates: int     # a fragment or BYE received again
    unexpected: int     # a valid frame that makes no sense in the current state
    budget_stops: int   # steps that stopped reading because of the work bound
    datagrams_in: int
    datagrams_out: int
    retransmits: int
    messages_in: int
    messages_out: int   # accepted by send()
    messages_acked: int  # of those, acknowledged by the peer (reliable mode)

    @property
    def dropped(self):
        """All datagrams refused, whatever the reason."""
        return (self.wrong_source + self.bad_length + self.bad_magic + self.bad_version +
                self.bad_header + self.auth_failed + self.bad_session + self.replayed +
                self.out_of_window)


# The only events that carry data (the library may hand the others an empty buffer).
_WITH_DATA = frozenset((_netlab.CHAT_EV_MESSAGE, _netlab.CHAT_EV_PEER_JOINED))


def _text(data):
    """Text as str when it is valid UTF-8, else the bytes as they came."""
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


class ChatSession:
    """A point-to-point chat over UDP (reliable by default, or plain text datagrams).

    bind: the local address, e.g. ('127.0.0.1', 0) (port 0 picks a free port; see
    local_address). peer: the address to call; None waits for the first peer and locks onto
    it. plain: raw text datagrams, as nc -u and the notes' programs speak ('q' ends the chat).
    key: None, or 32 bytes of pre-shared key (reliable mode): frames are sealed and checked.
    name: shown to the peer (at most 64 bytes of UTF-8). keepalive_ms, peer_lost_ms,
    leave_timeout_ms: None for the library's defaults (1000, 5000, 4000).

    The with statement leaves on exit and waits (at most the leave time-out, plus a second)
    for the session to close, then closes it. Errors raise the standard exceptions (OSError
    and its subclasses, TypeError, ValueError, OverflowError), as the socket class does.
    """

    def __init__(self, bind=("127.0.0.1", 0), peer=None, plain=False, key=None, name=None,
                 keepalive_ms=None, peer_lost_ms=None, leave_timeout_ms=None, family=None):
        self._h = None
        self._done = False
        self._final = None
        self._family = _util.family_of(bind) if family is None else family
        bhost, bport, bscope = _util.split(bind, self._family, "bind")
        phost, pport, pscope = (None, 0, 0) if peer is None else \
            _util.split(peer, self._family, "peer")
        if key is None:
            key = b""
        else:
            key = bytes(memoryview(key))
            if len(key) != _netlab.CHAT_KEY_BYTES:
                raise ValueError(f"key must be {_netlab.CHAT_KEY_BYTES} bytes, "
                                 f"not {len(key)}")
            if plain:
                raise ValueError("a key needs the reliable mode (plain=False)")
        if name is not None:
            if not isinstance(name, str):
                raise TypeError(f"name must be str, not {type(name).__name__}")
            if len(name.encode("utf-8")) > _netlab.CHAT_NAME_MAX or "\0" in name:
                raise ValueError(f"name must be at most {_netlab.CHAT_NAME_MAX} bytes of "
                                 "UTF-8, without NUL")
        self._leave_ms = _util.check_ms(leave_timeout_ms, "leave_timeout_ms") or 4000
        self._h = _netlab.chat_open(
            self._family, 1 if plain else 0, bhost, bport, bscope, phost, pport, pscope, key,
            name, _util.check_ms(keepalive_ms, "keepalive_ms"),
            _util.check_ms(peer_lost_ms, "peer_lost_ms"), self._leave_ms)
        self._closed = False
        self.plain = bool(plain)

    # -- life cycle --

    def close(self):
        """Close at once, without telling the peer (leave() first for that). Twice is fine.
        A thread waiting for events is woken and gets OSError(EBADF)."""
        if self._h is not None and not self._closed:
            # Remember how it ended: a thread still iterating then just stops (see poll),
            # and status stays readable.
            self._final = self.status
            self._closed = True
            _netlab.chat_close(self._h)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            if not self._closed:
                self.leave()
                self.drain((self._leave_ms + 1000) / 1000)
        finally:
            self.close()

    def __del__(self):
        if getattr(self, "_h", None) is not None and not self._closed:
            _warnings.warn(f"unclosed {self!r}", ResourceWarning, source=self)
            self.close()

    def __repr__(self):
        if self._h is None or self._closed:
            return "<netlab.ChatSession [closed]>"
        return (f"<netlab.ChatSession local={self.local_address} peer={self.peer_address} "
                f"status={self.status}>")

    def fileno(self):
        """The session's descriptor (readable when a datagram waits), for select/selectors;
        -1 once closed. Wake up after next_timeout() at the latest and call poll(0)."""
        return -1 if self._closed else _netlab.chat_fileno(self._h)

    def next_timeout(self):
        """Seconds until the session's next timer (0.0: events are waiting), None if none."""
        ms = -1 if self._closed else _netlab.chat_next_timeout(self._h)
        return None if ms < 0 else ms / 1000

    # -- sending --

    def send(self, message):
        """Queue a message (str, sent as UTF-8, or bytes-like) for the peer; return its id
        (1, 2, ...; a DELIVERED event with that id follows), or 0 in plain mode.
        OSError(EMSGSIZE) over 64 KiB; OSError(ENOBUFS) when the queue is full;
        BrokenPipeError (ESHUTDOWN) after leave(); OSError(EBADF) after close()."""
        if isinstance(message, str):
            message = message.encode("utf-8")
        return _netlab.chat_send(self._h, message)

    def leave(self):
        """Start leaving: the peer gets every message sent so far, then a goodbye; the session
        closes (a CLOSED event) when the peer confirms, or after the leave time-out. Keep
        reading events (or use the with statement, which does)."""
        _netlab.chat_leave(self._h)

    # -- events --

    def poll(self, timeout=0):
        """Wait at most timeout seconds (None: until something happens) for events; return
        the list of those that came (empty when none did, or after the CLOSED event)."""
        if self._done:
            return []
        if timeout is None:
            deadline = None
        else:
            timeout = float(timeout)
            if timeout < 0:
                raise ValueError("timeout must be non-negative")
            deadline = _time.monotonic() + timeout
        while True:
            if deadline is None:
                slice_ms = _util.SLICE_MS
            else:
                left = deadline - _time.monotonic()
                slice_ms = 0 if left <= 0 else min(_util.ms(left), _util.SLICE_MS)
            try:
                raw = _netlab.chat_step(self._h, slice_ms)
            except OSError as e:
                # EBADF: the session is over (another thread took the CLOSED event, e.g. the
                # with statement's exit), and the iteration just ends; or close() came while
                # it was still going, an error for whoever waits. Other errors are errors.
                if e.errno != _errno.EBADF or (self._closed and self._final is None):
                    raise
                self._done = True
                return []
            if raw or slice_ms == 0:
                break
            # pending signal handlers (Ctrl-C) run here, between slices
        events = [ChatEvent(EventType(t), _text(d) if t in _WITH_DATA else None, p, i, c)
                  for t, c, i, d, p in raw]
        if events and events[-1].type == EventType.CLOSED:
            self._done = True
        return events

    def events(self, timeout=None):
        """Yield events as they come, until the CLOSED event (included). With a timeout,
        stop early when no event came for that many seconds. When another thread took the
        CLOSED event (the with statement's exit does), or closed a session that was over, the
        iteration ends without it; close() of a session still going raises OSError(EBADF)."""
        while not self._done:
            batch = self.poll(timeout)
            if not batch and timeout is not None:
                return
            yield from batch

    def __iter__(self):
        return self.events()

    def drain(self, timeout):
        """Read and discard events until the session is closed, at most timeout seconds;
        return True when it closed."""
        deadline = _time.monotonic() + timeout
        while self.status is None:
            left = deadline - _time.monotonic()
            if left <= 0:
                return False
            self.poll(min(left, _util.SLICE_MS / 1000))
        return True

    # -- state --

    @property
    def status(self):
        """None while the session is open; then its outcome: 0 for an agreed end (either
        side left and both know it), or a negative libnetlab code (netlab.NL_EPEERLOST when
        the peer vanished or never confirmed our leaving; see netlab.nl_err_name)."""
        if self._closed and self._final is not None:
            return self._final
        st = _netlab.chat_status(self._h)
        return None if st == _netlab.NL_EAGAIN else st

    def stats(self):
        """The drop counters and traffic figures (a ChatStats)."""
        return ChatStats(**_netlab.chat_stats(self._h))

    @property
    def local_address(self):
        """The address the session is bound to, e.g. ('127.0.0.1', 40123)."""
        return _netlab.chat_local(self._h)

    @property
    def peer_address(self):
        """The peer's address once known (given, or locked onto), else None."""
        try:
            return _netlab.chat_peer(self._h)
        except OSError as e:
            if self._closed:
                raise
            return None
