#!/usr/bin/env bash
# netlab-chat's input layer with standard input a file and a pipe (chat_io_cat copies it
# through examples/chat_io.h): a 10,000-byte line with Chinese, CRLF line ends, a NUL inside a
# line, a last line without its newline, empty input, and input that arrives in pieces.
#   chat_io_input.sh PROGRAM [RUNNER]   (RUNNER: wine for the Windows build)
set -euo pipefail
prog=$1
run=()
[ -z "${2:-}" ] || run=("$2")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

{
  for _ in $(seq 1666); do printf '中文'; done # 9,996 bytes
  printf 'abcd\n'                               # the line: 10,000 bytes
  printf 'second line\r\n'
  printf 'with\0nul\r\n'
  printf 'end'
} >"$dir/in"
[ "$(head -n1 "$dir/in" | wc -c)" -eq 10001 ]

check() { # name: compares $dir/out with $dir/in
  if ! cmp "$dir/in" "$dir/out"; then
    echo "chat_io_input: $1: output differs from input" >&2
    exit 1
  fi
  echo "chat_io_input: $1: ok ($(tr -d '\r' <"$dir/err"))"
}
"${run[@]}" "$prog" <"$dir/in" >"$dir/out" 2>"$dir/err"
check "from a file"
# shellcheck disable=SC2002 # a pipe, not the file, is the point
cat "$dir/in" | "${run[@]}" "$prog" >"$dir/out" 2>"$dir/err"
check "from a pipe"
# In pieces: the reader must wait for the rest, not take a pause for the end.
{ head -c 5000 "$dir/in"; sleep 0.3; tail -c +5001 "$dir/in"; } | "${run[@]}" "$prog" >"$dir/out" 2>"$dir/err"
check "from a pipe, in two pieces"
: >"$dir/in"
"${run[@]}" "$prog" <"$dir/in" >"$dir/out" 2>"$dir/err"
check "empty file"
"${run[@]}" "$prog" </dev/null >"$dir/out" 2>"$dir/err"
check "/dev/null"
