"""netlab.ChatRoom: a chat room for a whole class (libnetlab's nl_chat_room) in Python.

::

    with netlab.ChatRoom(bind=('0.0.0.0', 9000), room='class', name='teacher') as room:
        print('join with', room.address)
        for ev in room:                          # events until the room is closed
            if ev.type is netlab.RoomEventType.MESSAGE:
                print(f'{ev.name}: {ev.data}')

    member = netlab.ChatRoom(bind=('0.0.0.0', 0), host=('192.168.7.170', 9000), name='ann')

Without ``host`` the room is hosted here; with it, joined. The host puts every message, join
and leave in one order (``seq``, the same on every member) and relays it to every other member:
each member sees every other member's message once, in that order. The host's leave() ends the
room for everyone (members get ROOM_CLOSED with the host's name, then CLOSED with code 0); a
member's leave() takes only that member out. A host that vanishes closes its members with code
``-netlab.errno_of('EPEERLOST')`` after the peer-lost time.

Events are RoomEvent tuples ``(type, name, data, seq, code)``: ``name`` whose event it is (a
``str``), ``data`` the text of a MESSAGE (``str`` when valid UTF-8, else ``bytes``), for
ENTERED our own name in the room (the host makes names unique: ``ann#2``), ``None`` for the other
types; ``seq`` the room's number (for ENTERED our join's: every later event reaches us; 0 for
CLOSED and WARNING), ``code`` CLOSED's outcome (0 or a negative libnetlab code) or what a
WARNING is about (``-netlab.errno_of('EBADFRAME')``: the keys probably differ;
``ECONNREFUSED`` / ``ETIMEDOUT``: calling, nobody answers yet).

The room runs on the calling threads; one thread may wait for events while another sends.
"""
import enum as _enum
import errno as _errno
import time as _time
import typing as _typing

from . import _netlab
from . import _util


class RoomEventType(_enum.IntEnum):
    """What a room event reports (libnetlab's nl_chat_room_event_type)."""
    ENTERED = _netlab.ROOM_EV_ENTERED
    JOINED = _netlab.ROOM_EV_JOINED
    MESSAGE = _netlab.ROOM_EV_MESSAGE
    LEFT = _netlab.ROOM_EV_LEFT
    LOST = _netlab.ROOM_EV_LOST
    DROPPED = _netlab.ROOM_EV_DROPPED
    ROOM_CLOSED = _netlab.ROOM_EV_ROOM_CLOSED
    CLOSED = _netlab.ROOM_EV_CLOSED
    WARNING = _netlab.ROOM_EV_WARNING


class RoomEvent(_typing.NamedTuple):
    """One event of a ChatRoom; see the module's documentation for the fields."""
    type: RoomEventType
    name: str
    data: _typing.Union[str, bytes, None]
    seq: int
    code: int


def _text(b):
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b


class ChatRoom:
    """A room, hosted (host=None) or joined (host=(HOST, PORT)). Errors raise OSError with the
    errno of the libnetlab code, as the socket class does."""

    def __init__(self, bind=("127.0.0.1", 0), host=None, room=None, name=None, key=None,
                 peer_lost_ms=None, family=None):
        self._family = _util.family_of(bind) if family is None else family
        bhost, bport, _ = _util.split(bind, self._family, "bind")
        hhost, hport = None, 0
        if host is not None:
            hhost, hport, _ = _util.split(host, self._family, "host")
        if key is not None:
            key = bytes(key)
            if len(key) != _netlab.CHAT_KEY_BYTES:
                raise ValueError(f"key must be {_netlab.CHAT_KEY_BYTES} bytes, not {len(key)}")
        for what, v in (("name", name), ("room", room)):
            if v is not None and (not isinstance(v, str) or "\0" in v or
                                  len(v.encode("utf-8")) > _netlab.CHAT_NAME_MAX):
                raise ValueError(f"{what} must be a str of at most {_netlab.CHAT_NAME_MAX} "
                                 "bytes of UTF-8, without NUL")
        self._closed = False
        self._done = False
        self._h = _netlab.room_open(self._family, bhost, bport, hhost, hport, room, name,
                                    key or b"", _util.check_ms(peer_lost_ms, "peer_lost_ms"))

    @property
    def address(self):
        """The local address: on the host, the one members join."""
        return _netlab.room_local(self._h)

    def fileno(self):
        return -1 if self._closed else _netlab.room_fileno(self._h)

    def send(self, message):
        """Say something to the room (str is sent as UTF-8)."""
        if isinstance(message, str):
            message = message.encode("utf-8")
        _netlab.room_send(self._h, message)

    def leave(self):
        """Host: end the room for everyone. Member: leave it. Keep reading events until
        CLOSED."""
        _netlab.room_leave(self._h)

    def counters(self):
        """The room's counters as a dict (members, joined, non_member, refused_full,
        dropped_slow, relayed, messages_in, messages_out, frames: the sessions' counters)."""
        return _netlab.room_counters(self._h)

    def poll(self, timeout=0):
        """Wait at most timeout seconds (None: until something happens); return the events
        that came (empty when none did, or after CLOSED)."""
        if self._done:
            return []
        deadline = None if timeout is None else _time.monotonic() + float(timeout)
        while True:
            if deadline is None:
                slice_ms = _util.SLICE_MS
            else:
                left = deadline - _time.monotonic()
                slice_ms = 0 if left <= 0 else min(_util.ms(left), _util.SLICE_MS)
            try:
                raw = _netlab.room_step(self._h, slice_ms)
            except OSError as e:
                if e.errno != _errno.EBADF or not self._closed:
                    raise
                self._done = True
                return []
            if raw or slice_ms == 0:
                break
        events = [RoomEvent(RoomEventType(t), n.decode("utf-8", "replace"),
                            _text(d) if t in (_netlab.ROOM_EV_MESSAGE, _netlab.ROOM_EV_ENTERED) else None,
                            s, c)
                  for t, c, s, n, d in raw]
        if events and events[-1].type == RoomEventType.CLOSED:
            self._done = True
        return events

    def events(self, timeout=None):
        """Yield events until CLOSED (included); with a timeout, stop when none came for that
        many seconds."""
        while not self._done:
            batch = self.poll(timeout)
            if not batch and timeout is not None:
                return
            yield from batch

    __iter__ = events

    def close(self):
        """Close without telling anyone (leave() first for an orderly end)."""
        if not self._closed:
            self._closed = True
            _netlab.room_close(self._h)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if not self._closed and not self._done:
            try:
                self.leave()
                for _ in self.events(timeout=6):
                    pass
            except OSError:
                pass
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
