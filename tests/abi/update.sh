#!/bin/sh
# Write the ABI baseline (lib/abi/libnetlab.so.MAJOR.abi) from a build's shared library, on
# purpose: for a release, or after an intended, SONAME-bumping change. See docs/abi.md.
#
#   tests/abi/update.sh [BUILD_DIR]     (default: build)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
lib=$(readlink -f "$build/lib/libnetlab.so")
major=$(sed -n 's/^#define NL_VERSION_MAJOR \([0-9]*\).*/\1/p' "$root/include/netlab/version.h")
out=$root/lib/abi/libnetlab.so.$major.abi
# Source paths are kept relative to the tree, so the baseline does not name this checkout.
abidw --no-corpus-path --no-comp-dir-path --no-show-locs --headers-dir "$root/include" "$lib" |
    sed -E "s|path='[^']*/(lib/[^'/]*)'|path='\1'|" >"$out"
echo "abi: wrote $out from $lib"
