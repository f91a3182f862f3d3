#!/bin/sh
# Run clang-tidy with the repository's .clang-tidy over every lib/*.c; fail on any finding.
# usage: clang_tidy.sh CLANG_TIDY SOURCE_DIR
# The compile flags are given here rather than through compile_commands.json, so the check
# does not depend on how the build tree was configured (compiler, sanitizers).
set -eu
tidy=$1
src=$2
cd "$src"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
"$tidy" --quiet lib/*.c -- -std=c11 -D_GNU_SOURCE -DNETLAB_HAVE_SODIUM -Iinclude -Ilib \
  >"$out" 2>&1 || status=$?
findings=$(grep -c ': \(warning\|error\):' "$out" || true)
cat "$out"
echo "clang-tidy: $(ls lib/*.c | wc -l) files, $findings findings, exit $status"
[ "$status" -eq 0 ] && [ "$findings" -eq 0 ]
