#!/usr/bin/env bash
# shellcheck disable=SC2094,SC2015 # inputs wait for lines in their own side's output; A && B || fail
# netlab-chat.exe under wine with the Linux netlab-chat, over loopback (issue 14):
#   bash tests/windows/chat_interop.sh NATIVE_NETLAB_CHAT WINDOWS_NETLAB_CHAT_EXE
# Point to point, in plain, reliable and keyed (--key-file) mode, each way round (the Linux
# side waits and the Windows side calls, then the reverse): a line of Chinese and a
# 10,000-byte line go each way and arrive intact, then the caller types q and both exit 0
# (同步退出). A peer that never answers: --give-up exits 4 on both. A room hosted under wine with
# two Linux members, and a Linux room with a Windows member: every message reaches the others,
# the host's q ends the room, all exit 0. Every process is reaped by its PID.
set -uo pipefail
native=$1
win=$2
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "chat_interop: FAIL: $*" >&2
  for f in "$work"/*.err; do echo "--- $f" >&2; head -c 2000 "$f" >&2; done
  exit 1
}
# run_side WHICH ARGS...: netlab-chat, native or under wine.
run_side() {
  local which=$1
  shift
  if [ "$which" = wine ]; then wine "$win" "$@"; else "$native" "$@"; fi
}
# port_of FILE PID: the port from a "listening on 127.0.0.1:PORT" or "room ... --join" line.
port_of() {
  local port=
  for _ in $(seq 300); do
    port=$(sed -n 's/.*\(listening on\|join with --join\) 127\.0\.0\.1:\([0-9]*\).*/\2/p' "$1" | head -1)
    [ -n "$port" ] && break
    kill -0 "$2" 2>/dev/null || fail "$1: exited before saying its port"
    sleep 0.1
  done
  [ -n "$port" ] || fail "$1: no port"
  echo "$port"
}
# wait_for FILE TEXT: until FILE has the line TEXT (CRs dropped), at most 60 s.
wait_for() {
  for _ in $(seq 600); do
    tr -d '\r' <"$1" 2>/dev/null | grep -qxF -- "$2" && return 0
    sleep 0.1
  done
  return 1
}
# reap PID NAME: its exit status, at most 60 s.
reap() {
  timeout 60 tail --pid="$1" -f /dev/null || fail "$2 did not end"
  wait "$1"
}

printf '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n' >"$work/key"
chmod 600 "$work/key"
long=$(head -c 3333 /dev/zero | tr '\0' 'x')
long="$long$(printf '中%.0s' $(seq 2222))y" # 3,333 + 6,666 + 1 = 10,000 bytes
[ "$(printf %s "$long" | wc -c)" -eq 10000 ] || fail "test line"

# chat MODE LISTENER(native|wine): the listener waits, the other side calls.
chat() {
  local mode=$1 lw=$2 cw opts=()
  cw=$([ "$lw" = wine ] && echo native || echo wine)
  case $mode in
    plain) opts=(--plain) ;;
    keyed) opts=(--key-file "$work/key") ;;
  esac
  local t="$work/$mode-$lw"
  printf '你好，我是 %s (listener)\n%s\n' "$lw" "$long" >"$t.l.in"
  printf '你好，我是 %s (caller)\n%s\n' "$cw" "$long" >"$t.c.in"
  # The listener answers once the caller's lines came (plain mode has no peer to send to before),
  # and its input stays open until the test ends: it leaves because the caller does.
  # (Input through process substitution: `wait` on a pipeline's PID would wait for its writer.)
  run_side "$lw" --bind 127.0.0.1:0 "${opts[@]}" --name L >"$t.l.out" 2>"$t.l.err" < <(
    wait_for "$t.l.out" "$long"
    cat "$t.l.in"
    for _ in $(seq 600); do [ -e "$t.done" ] && break; sleep 0.1; done
  ) &
  local lp=$!
  pids+=("$lp")
  local port
  port=$(port_of "$t.l.err" "$lp") || exit 1
  # The caller says q once the listener's lines arrived.
  run_side "$cw" --bind 127.0.0.1:0 --peer "127.0.0.1:$port" "${opts[@]}" --name C \
    >"$t.c.out" 2>"$t.c.err" < <(cat "$t.c.in"; wait_for "$t.c.out" "$long"; echo q) &
  local cp=$!
  pids+=("$cp")
  reap "$cp" "$mode caller ($cw)"
  local crc=$?
  reap "$lp" "$mode listener ($lw)"
  local lrc=$?
  touch "$t.done"
  [ "$crc" -eq 0 ] || fail "$mode: caller ($cw) exited $crc"
  [ "$lrc" -eq 0 ] || fail "$mode: listener ($lw) exited $lrc"
  # Received lines as sent (a Windows stdout ends its lines with CRLF: the CRs dropped).
  cmp -s <(tr -d '\r' <"$t.c.out") "$t.l.in" || fail "$mode: the listener's lines at the caller"
  cmp -s <(tr -d '\r' <"$t.l.out") "$t.c.in" || fail "$mode: the caller's lines at the listener"
  echo "chat_interop: $mode, $lw waits, $cw calls: both ways intact, both exit 0 ($SECONDS s)"
}

for mode in plain reliable keyed; do
  chat "$mode" native
  chat "$mode" wine
done

# room HOST_SIDE A_SIDE B_SIDE: a room hosted on one side, members a and b on the others.
room() {
  local hs=$1 as=$2 bs=$3 t="$work/room-$1-$2-$3"
  run_side "$hs" --bind 127.0.0.1:0 --room class --name teacher >"$t.h.out" 2>"$t.h.err" < <(
    wait_for "$t.h.out" "a: $long" && wait_for "$t.h.out" "b: hello from b"
    echo '老师: 下课'
    wait_for "$t.a.out" "teacher: 老师: 下课" && wait_for "$t.b.out" "teacher: 老师: 下课"
    echo q
  ) &
  local hp=$!
  pids+=("$hp")
  local port
  port=$(port_of "$t.h.err" "$hp") || exit 1
  # A member says its lines once both are in the room (only messages sent after a member is in
  # reach it) and (AFTER not empty) it has AFTER from the other member.
  member() { # NAME SIDE AFTER LINES...
    local name=$1 side=$2 after=$3
    shift 3
    run_side "$side" --bind 127.0.0.1:0 --join "127.0.0.1:$port" --name "$name" \
      >"$t.$name.out" 2>"$t.$name.err" < <(
      for _ in $(seq 600); do [ -e "$t.go" ] && break; sleep 0.1; done
      [ -z "$after" ] || wait_for "$t.$name.out" "$after"
      printf '%s\n' "$@"
      for _ in $(seq 600); do [ -e "$t.done" ] && break; sleep 0.1; done
    ) &
  }
  member a "$as" '' '你好 from a' "$long"
  local ap=$!
  pids+=("$ap")
  member b "$bs" "a: $long" 'hello from b'
  local bp=$!
  pids+=("$bp")
  wait_for "$t.a.err" "*** in the room of teacher" && wait_for "$t.b.err" "*** in the room of teacher" ||
    fail "room: the members are not let in"
  touch "$t.go"
  local hrc arc brc
  reap "$hp" "room host ($hs)"
  hrc=$?
  reap "$ap" "member a ($as)"
  arc=$?
  reap "$bp" "member b ($bs)"
  brc=$?
  touch "$t.done"
  [ "$hrc$arc$brc" = 000 ] || fail "room ($hs host): exit host $hrc, a $arc, b $brc"
  wait_for "$t.b.out" "a: 你好 from a" && wait_for "$t.b.out" "a: $long" || fail "room: a's lines at b"
  wait_for "$t.a.out" "b: hello from b" || fail "room: b's line at a"
  echo "chat_interop: room hosted on $hs, members on $as and $bs: every line to every other, all exit 0 ($SECONDS s)"
}
room wine native native
room native wine native

# A peer that never answers: a UDP port where nobody talks back. Input stays open (an input
# that ends before any peer joined leaves at once, exit 0).
exec 7< <(exec python3 -c 'import socket,time
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("127.0.0.1",0))
print(s.getsockname()[1],flush=True); time.sleep(60)')
pids+=("$!")
read -r silent <&7
exec 8< <(exec sleep 60)
pids+=("$!")
for side in native wine; do
  rc=0
  run_side "$side" --bind 127.0.0.1:0 --peer "127.0.0.1:$silent" --give-up 300 <&8 \
    >"$work/giveup-$side.out" 2>"$work/giveup-$side.err" || rc=$?
  [ "$rc" -eq 4 ] || fail "give-up ($side): exit $rc, want 4"
  grep -q 'nobody answered' "$work/giveup-$side.err" || fail "give-up ($side): no message"
done
echo "chat_interop: a silent peer: --give-up exits 4 on both"
