#!/bin/sh
# ABI check: compare a shared library with the ABI baseline committed in the tree, with
# libabigail's abidiff, looking only at what the public headers declare.
#
#   check.sh BASELINE.abi LIBRARY.so HEADERS_DIR
#
# Passes when nothing changed, or when the only changes are additions (new functions or
# variables); the report is printed either way. Fails (exit 1) with abidiff's report when
# anything else changed (a removal, a changed type or signature) and the library's SONAME is
# still the baseline's: such a change needs a SOVERSION bump (NL_VERSION_MAJOR in
# include/netlab/version.h) and a new baseline. Exit 77 (skipped) when abigail-tools is not
# installed.
# How to update the baseline on purpose: docs/abi.md.
set -u
baseline=$1 lib=$2 headers=$3
for t in abidiff abidw readelf; do
    command -v "$t" >/dev/null 2>&1 ||
        { echo "skipped: $t is not installed (bash .ci/setup pkg installs abigail-tools)"; exit 77; }
done
[ -f "$baseline" ] || { echo "abi: no baseline $baseline"; exit 1; }
[ -f "$lib" ] || { echo "abi: no library $lib"; exit 1; }

soname() { readelf -d "$1" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p'; }
base_soname=$(sed -n 's/.*<abi-corpus [^>]*soname=.\([^"'\'']*\).*/\1/p' "$baseline" | head -1)
lib_soname=$(soname "$lib")
echo "abi: baseline $baseline (SONAME $base_soname), library $lib (SONAME $lib_soname)"

full=$(abidiff --headers-dir2 "$headers" "$baseline" "$lib" 2>&1)
rc=$?
# abidiff's exit status is a bit field: 1 error, 2 usage error, 4 ABI change, 8 incompatible.
if [ $((rc & 3)) -ne 0 ]; then
    printf '%s\n' "$full"
    echo "abi: abidiff failed (exit $rc)"
    exit 1
fi
# Bit 8 is set only for what libabigail knows to break (a removed function, say); a changed
# type or parameter sets only bit 4, as an addition does. So a change counts as incompatible
# when bit 8 is set, or when bit 4 remains with additions left out of the comparison.
abidiff --headers-dir2 "$headers" --no-added-syms "$baseline" "$lib" >/dev/null 2>&1
rc_noadd=$?
if [ $((rc & 8)) -ne 0 ] || [ $((rc_noadd & 4)) -ne 0 ]; then
    printf '%s\n' "$full"
    if [ "$base_soname" = "$lib_soname" ]; then
        echo "abi: FAIL: incompatible ABI change, but the SONAME is still $lib_soname;"
        echo "abi: bump NL_VERSION_MAJOR and update the baseline (docs/abi.md)"
        exit 1
    fi
    echo "abi: incompatible change with a new SONAME ($base_soname -> $lib_soname):"
    echo "abi: allowed; update the baseline to the new library (docs/abi.md)"
    exit 0
fi
printf '%s\n' "$full"
echo "abi: compatible with the baseline"
exit 0
