"""The room's synchronized end (issue 13, 同步退出) at 30% loss: a host in one network namespace,
members in another, a veth pair between them, nftables in each namespace dropping 30% of
incoming UDP. After a few messages, the host's q must end every member with
`*** room closed by NAME` and exit status 0 within 5 s (the issue's own bound). Needs root
(CI is root); where namespaces cannot be made the test is SKIPPED (exit 77)."""

import time

import pytest

from chatlib import Chat
from conftest import NetnsPair
from test_chat_lossy import LOSS, lossy_pair  # noqa: F401 (a fixture): 30% each way

MEMBERS = 5


@pytest.mark.parametrize("rnd", range(3))  # three rooms: three draws of the loss at the end
def test_host_q_closes_every_member_within_5s_at_30pct_loss(lossy_pair, rnd):
    na, nb = lossy_pair
    ha, hb = NetnsPair.V4
    h = Chat(["--bind", ha + ":0", "--room", "class", "--name", "teacher", "--stats"],
             prefix=["ip", "netns", "exec", na])
    ms = []
    try:
        addr = h.wait_err(r"join with --join (\S+)", 5).group(1)
        for i in range(MEMBERS):
            ms.append(Chat(["--bind", hb + ":0", "--join", addr, "--name", "s%d" % i,
                            "--stats"], prefix=["ip", "netns", "exec", nb]))
        for m in ms:
            m.wait_err("in the room of teacher", 30)
        for _ in ms:
            h.wait_err(r"\*\*\* s\d joined", 30)
        for i, m in enumerate(ms):
            m.send("hello from s%d" % i)
        for m in ms:
            assert len(m.read_lines(MEMBERS - 1, 60)) == MEMBERS - 1
        t0 = time.monotonic()
        h.send("q")
        late = []
        for m in ms:
            rc = m.wait_exit(max(0.1, 5 - (time.monotonic() - t0)))
            assert rc == 0, m.err_lines
            assert any(b"*** room closed by teacher" in x for x in m.err_lines), m.err_lines
            late.append(m.t_exit - t0)
        print("30%% loss, room of %d: member exits after q: %s s"
              % (MEMBERS, ", ".join("%.3f" % t for t in late)))
        assert max(late) < 5.0, late
        assert h.wait_exit(10) == 0, h.err_lines
        print(b"".join(x for x in h.err_lines if b"stats" in x).decode().strip())
    finally:
        for c in ms + [h]:
            c.close()
