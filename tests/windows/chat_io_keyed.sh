#!/usr/bin/env bash
# A keyed chat between a Linux netlab-chat and chat_io_peer.exe under wine (the Windows
# pieces of netlab-chat: the --key-file reader, the wait and input layer, safe output), over
# loopback, both ways: each side's lines, Chinese and control characters included, arrive,
# and both sides end in agreement (exit 0).
#   bash tests/windows/chat_io_keyed.sh NATIVE_NETLAB_CHAT CHAT_IO_PEER_EXE
# The Linux chat's port is read from its "listening on" line; it is reaped by its PID.
set -euo pipefail
native=$1
peer=$2
work=$(mktemp -d)
pid=
cleanup() {
  [ -z "$pid" ] || { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "chat_io_keyed: FAIL: $*" >&2; tail -n +1 "$work"/*.out "$work"/*.err >&2; exit 1; }

printf '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n' >"$work/key"
chmod 600 "$work/key"
printf 'hello from linux 你好\nesc \033[2J here\n' >"$work/linux.in"
printf '你好 from windows\r\nbell \a here\r\n' >"$work/wine.in"

# The Linux side's input stays open until the Windows side is done (at most 60 s): the
# Windows side leaves first, after its lines. (Input that ends at once makes the Linux side
# leave as soon as its lines are delivered, and lines the other side sends after that are not
# taken: netlab-chat's own rule, exit 4, not what is tested here.)
{
  cat "$work/linux.in"
  for _ in $(seq 600); do [ -e "$work/done" ] && break; sleep 0.1; done
} | "$native" --bind 127.0.0.1:0 --key-file "$work/key" --name linux >"$work/linux.out" \
  2>"$work/linux.err" &
pid=$!
port=
for _ in $(seq 200); do
  port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/linux.err" | head -1)
  [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || fail "netlab-chat exited before listening"
  sleep 0.1
done
[ -n "$port" ] || fail "netlab-chat did not say its port"

timeout 60 wine "$peer" "$work/key" "127.0.0.1:$port" <"$work/wine.in" >"$work/wine.out" \
  2>"$work/wine.err" || fail "chat_io_peer exited $?"
touch "$work/done"
timeout 60 tail --pid="$pid" -f /dev/null || fail "netlab-chat did not end"
wait "$pid" || fail "netlab-chat exited $?"
pid=
tr -d '\r' <"$work/wine.out" | grep -qxF 'peer: hello from linux 你好' || fail "linux's line"
grep -qF '你好 from windows' "$work/linux.out" || fail "windows' first line"
# A pipe gets the bytes as sent (netlab-chat makes text safe on a terminal only); the Windows
# side makes every message safe.
grep -qF "$(printf 'bell \a here')" "$work/linux.out" || fail "windows' second line"
tr -d '\r' <"$work/wine.out" | grep -qxF 'peer: esc ^[[2J here' || fail "linux's second line"
echo "chat_io_keyed: both ways, keyed: ok"
