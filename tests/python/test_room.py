"""netlab.ChatRoom (issue 13): a host and members in one process on loopback."""
import time

import netlab
from netlab import RoomEventType as T


def pump(rooms, secs, until=None):
    got = {k: [] for k in rooms}
    end = time.monotonic() + secs
    while time.monotonic() < end:
        for k, r in rooms.items():
            got[k] += r.poll(0.01)
        if until is not None and until(got):
            break
    return got


def test_room_messages_in_one_order_and_the_hosts_end():
    h = netlab.ChatRoom(bind=("127.0.0.1", 0), room="class", name="teacher")
    ms = {n: netlab.ChatRoom(bind=("127.0.0.1", 0), host=h.address, name=n)
          for n in ("ann", "bob", "cy")}
    rooms = {"teacher": h, **ms}
    try:
        pump(rooms, 5, lambda g: sum(e.type == T.JOINED for e in g["teacher"]) == 3)
        for n, r in ms.items():
            for k in range(5):
                r.send(f"{n}-{k} 你好")
        h.send("from the teacher")

        def all_in(g):
            return all(sum(e.type == T.MESSAGE for e in g[n]) == 11 for n in ms)
        got = pump(rooms, 10, all_in)
        seen = {}
        for n in ms:
            msgs = [e for e in got[n] if e.type == T.MESSAGE]
            assert len(msgs) == 11 and all(e.name != n for e in msgs)
            assert [e.seq for e in msgs] == sorted(e.seq for e in msgs)
            for e in msgs:  # the same text at the same room number everywhere
                assert seen.setdefault(e.seq, (e.name, e.data)) == (e.name, e.data)
        h.leave()
        got = pump(rooms, 5, lambda g: all(any(e.type == T.CLOSED for e in g[k]) for k in g))
        for n in ms:
            assert [e.type for e in got[n]][-2:] == [T.ROOM_CLOSED, T.CLOSED]
            assert got[n][-2].name == "teacher" and got[n][-1].code == 0
        assert got["teacher"][-1].type == T.CLOSED and got["teacher"][-1].code == 0
        assert h.counters()["joined"] == 3
    finally:
        for r in rooms.values():
            r.close()
