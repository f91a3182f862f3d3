#!/bin/sh
# Self-test of check.sh on three small libraries built here, so that the ABI check is known to
# fail when it must: a baseline from v1; a compatible addition passes; an incompatible change
# (a struct field inserted, a parameter's type changed) fails while the SONAME stays; the same
# change with a bumped SONAME passes.
#
#   selftest.sh CC
set -u
cc=$1
here=$(cd "$(dirname "$0")" && pwd)
command -v abidw >/dev/null 2>&1 ||
    { echo "skipped: abidw is not installed (bash .ci/setup pkg installs abigail-tools)"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/netlab-abi.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
fails=0

# lib VARIANT SONAME: builds $tmp/VARIANT/libx.so with header $tmp/VARIANT/inc/x.h.
lib() {
    mkdir -p "$tmp/$1/inc"
    case $1 in
    v1) fields="int a; int b;" proto="int x_get(const struct x_t *t, int which)" extra="" ;;
    add) fields="int a; int b;" proto="int x_get(const struct x_t *t, int which)"
         extra="int x_new(void);" ;;
    break*) fields="int a; long z; int b;" proto="int x_get(const struct x_t *t, long which)"
            extra="" ;;
    esac
    printf 'struct x_t { %s };\n%s;\n%s\n' "$fields" "$proto" "$extra" >"$tmp/$1/inc/x.h"
    body="#include \"x.h\"
$proto { return which ? t->b : t->a; }"
    [ -n "$extra" ] && body="$body
int x_new(void) { return 1; }"
    printf '%s\n' "$body" >"$tmp/$1/x.c"
    "$cc" -g -shared -fPIC -I"$tmp/$1/inc" -Wl,-soname,"$2" -o "$tmp/$1/libx.so" "$tmp/$1/x.c" ||
        { echo "abi-selftest: cannot build $1"; exit 1; }
}
# expect WANT VARIANT: check.sh against the v1 baseline must exit WANT.
expect() {
    "$here/check.sh" "$tmp/base.abi" "$tmp/$2/libx.so" "$tmp/$2/inc" >"$tmp/$2.log" 2>&1
    rc=$?
    if [ "$rc" -eq "$1" ]; then
        echo "abi-selftest: $2: exit $rc as expected"
    else
        echo "abi-selftest: FAIL: $2: exit $rc, expected $1"; cat "$tmp/$2.log"; fails=1
    fi
}

lib v1 libx.so.1
abidw --no-corpus-path --headers-dir "$tmp/v1/inc" "$tmp/v1/libx.so" >"$tmp/base.abi" ||
    { echo "abi-selftest: abidw failed"; exit 1; }
lib add libx.so.1
lib break libx.so.1
lib breakbump libx.so.2
expect 0 v1
expect 0 add
expect 1 break
expect 0 breakbump
grep -q "x_new" "$tmp/add.log" || { echo "abi-selftest: FAIL: the addition is not reported"; fails=1; }
grep -q "x_get" "$tmp/break.log" || { echo "abi-selftest: FAIL: the break is not reported"; fails=1; }
[ $fails -eq 0 ] && echo "abi-selftest: all passed"
exit $fails
