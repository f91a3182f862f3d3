#!/usr/bin/env bash
# Windows programs (mingw-w64 builds, run under wine) talking to Linux ones over loopback, both
# ways: UDP client -> server, TCP client <-> echo server, and netlab-demo on its own (with
# --wire too, which says capture is unavailable on Windows).
#
#   bash tests/windows/interop.sh NATIVE_BIN_DIR WINDOWS_BIN_DIR
#
# Every process started here is reaped by its PID; ports are chosen by the servers (port 0)
# and read back from their "listening on" line. Run by ctest (windows.interop) with a
# persistent wineserver (see .ci/windows), so each wine start costs ~0.1 s.
set -euo pipefail
native=$(realpath "$1")
win=$(realpath "$2")
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "interop: FAIL: $*" >&2; for f in "$work"/*; do echo "--- $f"; cat "$f"; done >&2; exit 1; }

# start NAME CMD...: run a server in the background, wait for its port (at most 20 s) in the
# "listening on" line it prints (on stderr, or stdout for netlab-echo-server).
start() {
  local name=$1; shift
  "$@" >"$work/$name.out" 2>"$work/$name.err" &
  pids+=($!)
  for _ in $(seq 200); do
    port=$(cat "$work/$name.err" "$work/$name.out" | tr -d '\r' |
      sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' | head -1)
    [ -n "$port" ] && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || fail "$name exited before listening"
    sleep 0.1
  done
  fail "$name did not say its port"
}
# expect FILE TEXT: FILE (CRs dropped) gets a line containing TEXT within 20 s.
expect() {
  for _ in $(seq 200); do
    tr -d '\r' <"$1" | grep -qF -- "$2" && return 0
    sleep 0.1
  done
  fail "no '$2' in $1"
}
stop() { kill "${pids[-1]}" 2>/dev/null || true; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'; }

# flow LABEL INPUT WHO TEXT SERVER... -- CLIENT...: start the server, pipe INPUT (printf
# format) into the client given 127.0.0.1 and the server's port, then expect TEXT in the
# output of WHO (server or client); stop the server.
flow() {
  local label=$1 input=$2 who=$3 text=$4 server=()
  shift 4
  while [ "$1" != -- ]; do server+=("$1"); shift; done
  shift
  start "$label-server" "${server[@]}"
  # shellcheck disable=SC2059 # the input is a printf format on purpose (\n)
  printf "$input" | timeout 30 "$@" 127.0.0.1 "$port" >"$work/$label-client.out" 2>&1 ||
    fail "$label: client exited $?"
  expect "$work/$label-$who.out" "$text"
  stop
}

# 1. UDP: a Windows client to a Linux server (UTF-8 text too), and the other way round.
flow udp-w2l 'hello from windows\n你好\nq\n' server "): 你好" \
  "$native/netlab-udp-server" --host 127.0.0.1 --port 0 -- wine "$win/netlab-udp-client.exe"
expect "$work/udp-w2l-server.out" "): hello from windows"
flow udp-l2w 'hello from linux\nq\n' server "): hello from linux" \
  wine "$win/netlab-udp-server.exe" --host 127.0.0.1 --port 0 -- "$native/netlab-udp-client"

# 2. TCP: a Windows client through a Linux echo server, and a Linux client through a Windows
#    one; the concurrent echo server on Windows with three Linux clients at once.
flow tcp-w2l 'echo me\nq\n' client "echo me" \
  "$native/netlab-tcp-server" --host 127.0.0.1 --port 0 -- wine "$win/netlab-tcp-client.exe"
flow tcp-l2w 'echo you\nq\n' client "echo you" \
  wine "$win/netlab-tcp-server.exe" --host 127.0.0.1 --port 0 -- "$native/netlab-tcp-client"
start echo-wine wine "$win/netlab-echo-server.exe" --host 127.0.0.1 --port 0
clients=()
for i in 1 2 3; do
  printf 'client %s line one\nclient %s line two\nq\n' "$i" "$i" |
    timeout 30 "$native/netlab-tcp-client" 127.0.0.1 "$port" >"$work/echo-client$i.out" 2>&1 &
  clients+=($!)
done
for i in 1 2 3; do
  wait "${clients[$((i - 1))]}" || fail "netlab-tcp-client $i against the wine echo server"
  expect "$work/echo-client$i.out" "client $i line two"
done
# A client that sends up to 16 MiB for 3 s and never reads: the echo server must pause it and
# go on serving others, never block in a send (its sockets must stay non-blocking).
python3 - "$port" >"$work/hog.out" 2>&1 <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setblocking(False)
sent, end = 0, time.monotonic() + 3
while sent < 16 << 20 and time.monotonic() < end:
    try:
        sent += s.send(b"x" * 65536)
    except BlockingIOError:
        time.sleep(0.01)
print("hog sent", sent, flush=True)
time.sleep(30)  # hold the connection, unread; killed below
PY
pids+=($!)
expect "$work/hog.out" "hog sent"
printf 'still served\nq\n' | timeout 20 "$native/netlab-tcp-client" 127.0.0.1 "$port" \
  >"$work/echo-after-hog.out" 2>&1 || fail "netlab-tcp-client after the unread client: exit $?"
expect "$work/echo-after-hog.out" "still served"
stop # the hog
stop # the echo server
# 3. The demo: every flow on Windows alone.
timeout 60 wine "$win/netlab-demo.exe" >"$work/demo.out" 2>&1 || fail "wine netlab-demo exited $?"
expect "$work/demo.out" "demo finished: every flow worked"
# 4. --wire (packet capture is Linux-only, netlab/capture.h): the demo and a course program say
# it is unavailable and go on without it; no netlab-wire.exe is built.
timeout 60 wine "$win/netlab-demo.exe" --wire >"$work/demo-wire.out" 2>&1 ||
  fail "wine netlab-demo --wire exited $?"
expect "$work/demo-wire.out" "wire: packet capture is not available on this system"
expect "$work/demo-wire.out" "demo finished: every flow worked"
if grep -qF "[wire]" "$work/demo-wire.out"; then fail "netlab-demo --wire printed packets"; fi
printf 'hi\n' | timeout 20 wine "$win/netlab-udp-client.exe" --wire 127.0.0.1 9 \
  >/dev/null 2>"$work/client-wire.err" || fail "wine netlab-udp-client --wire exited $?"
expect "$work/client-wire.err" \
  "--wire: operation not supported (packet capture exists on Linux only); going on without it"
[ ! -e "$win/netlab-wire.exe" ] || fail "netlab-wire.exe was built"
echo "interop: all flows passed"
