#!/usr/bin/env bash
# Windows programs (mingw-w64 builds, run under wine) talking to Linux ones over loopback, both
# ways: UDP client -> server, TCP client <-> echo server, and netlab-demo on its own.
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

# start NAME CMD...: run a server in the background, wait for its port (at most 20 s).
start() {
  local name=$1; shift
  "$@" >"$work/$name.out" 2>"$work/$name.err" &
  pids+=($!)
  for _ in $(seq 200); do
    port=$(tr -d '\r' <"$work/$name.err" | sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p')
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

# 1. A Windows UDP client to a Linux UDP server, and the other way round.
start udp-native "$native/netlab-udp-server" --host 127.0.0.1 --port 0
printf 'hello from windows\n你好\nq\n' | timeout 30 wine "$win/netlab-udp-client.exe" 127.0.0.1 "$port" \
  >"$work/udp-wine-client.out" 2>&1 || fail "wine netlab-udp-client exited $?"
expect "$work/udp-native.out" "): hello from windows"
expect "$work/udp-native.out" "): 你好"
stop

start udp-wine wine "$win/netlab-udp-server.exe" --host 127.0.0.1 --port 0
printf 'hello from linux\nq\n' | timeout 30 "$native/netlab-udp-client" 127.0.0.1 "$port" \
  >"$work/udp-native-client.out" 2>&1 || fail "netlab-udp-client exited $?"
expect "$work/udp-wine.out" "): hello from linux"
stop

# 2. TCP: a Windows client through a Linux echo server, and a Linux client through a Windows one.
start tcp-native "$native/netlab-tcp-server" --host 127.0.0.1 --port 0
printf 'echo me\nq\n' | timeout 30 wine "$win/netlab-tcp-client.exe" 127.0.0.1 "$port" \
  >"$work/tcp-wine-client.out" 2>&1 || fail "wine netlab-tcp-client exited $?"
expect "$work/tcp-wine-client.out" "echo me"
expect "$work/tcp-native.out" "connected"
stop

start tcp-wine wine "$win/netlab-tcp-server.exe" --host 127.0.0.1 --port 0
printf 'echo you\nq\n' | timeout 30 "$native/netlab-tcp-client" 127.0.0.1 "$port" \
  >"$work/tcp-native-client.out" 2>&1 || fail "netlab-tcp-client exited $?"
expect "$work/tcp-native-client.out" "echo you"
stop

# 3. The demo: every flow on Windows alone.
timeout 60 wine "$win/netlab-demo.exe" >"$work/demo.out" 2>&1 || fail "wine netlab-demo exited $?"
expect "$work/demo.out" "demo finished: every flow worked"
echo "interop: all flows passed"
