#!/bin/sh
# Consumer test: install the build tree into a prefix chosen now, at install time, and use it
# as a stranger would, out-of-tree:
#   1. pkg-config --cflags --libs netlab, then run the program;
#   2. a CMake project with find_package(netlab CONFIG REQUIRED), shared and static, and the
#      example programs built the same way from examples/standalone;
#   3. a program linking libnetlab and libnl-3 together (no symbol clashes);
#   4. the shared library exports nl_* names only (hidden visibility works).
# With --installed=PREFIX in place of BUILD_DIR it installs nothing and tests what is already
# in PREFIX (e.g. /usr, from the Debian packages; see .ci/debs).
#
# usage: run.sh BUILD_DIR|--installed=PREFIX CONSUMER_SRC_DIR CMAKE CC LIBDIR [SANITIZE=ON|OFF]
set -eu

build=$1 src=$2 cmake=$3 cc=$4 libdir=$5 sanitize=${6:-OFF}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/netlab-consumer.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
prefix=$tmp/prefix
case $build in --installed=*) prefix=${build#--installed=} build="" ;; esac
warn="-std=c11 -Wall -Wextra -Werror"
# An instrumented library needs instrumented programs: the sanitizer runtime must load first.
san=""
case $sanitize in ON | on | 1 | TRUE | true | YES | yes) san="-fsanitize=address,undefined" ;; esac

fail() {
    echo "consumer: FAIL: $*" >&2
    exit 1
}
step() { echo "consumer: $*"; }

if [ -n "$build" ]; then
    step "install into $prefix"
    "$cmake" --install "$build" --prefix "$prefix" >"$tmp/install.log" ||
        { cat "$tmp/install.log"; fail "cmake --install"; }
else
    step "test what is installed in $prefix"
fi
lib=$prefix/$libdir
[ -f "$lib/libnetlab.so" ] || fail "no $lib/libnetlab.so (libdir $libdir)"
[ -f "$lib/libnetlab.a" ] || fail "no $lib/libnetlab.a"
[ -f "$lib/pkgconfig/netlab.pc" ] || fail "no $lib/pkgconfig/netlab.pc"
[ -f "$lib/cmake/netlab/netlabConfig.cmake" ] || fail "no netlabConfig.cmake"
[ -f "$lib/cmake/netlab/netlabConfigVersion.cmake" ] || fail "no netlabConfigVersion.cmake"
[ -f "$prefix/include/netlab.h" ] || fail "no include/netlab.h"

# The prefix was chosen after configuring: nothing installed may point back at the build tree
# or at the configured prefix.
if [ -n "$build" ] && grep -rl -- "$build" "$lib/pkgconfig" "$lib/cmake"; then
    fail "installed package files name the build tree $build"
fi

step "1. pkg-config"
export PKG_CONFIG_PATH="$lib/pkgconfig"
pc_prefix=$(cd "$(pkg-config --variable=prefix netlab)" && pwd -P)
[ "$pc_prefix" = "$(cd "$prefix" && pwd -P)" ] || fail "netlab.pc prefix is $pc_prefix"
pc_libdir=$(cd "$(pkg-config --variable=libdir netlab)" && pwd -P)
[ "$pc_libdir" = "$(cd "$lib" && pwd -P)" ] || fail "netlab.pc libdir is $pc_libdir"
[ "$(pkg-config --modversion netlab)" = "$(sed -n 's/^#define NL_VERSION_STRING "\(.*\)"/\1/p' \
    "$prefix/include/netlab/version.h")" ] || fail "netlab.pc version differs from version.h"
# shellcheck disable=SC2046,SC2086 # word splitting of the flags is intended
"$cc" $warn -pedantic $san -o "$tmp/hello_pc" "$src/hello.c" $(pkg-config --cflags --libs netlab) ||
    fail "build with pkg-config"
LD_LIBRARY_PATH=$lib ldd "$tmp/hello_pc" | grep -q "$lib/libnetlab.so" ||
    fail "hello_pc does not load libnetlab from the prefix"
LD_LIBRARY_PATH=$lib "$tmp/hello_pc" || fail "hello_pc"

step "2. find_package(netlab CONFIG)"
"$cmake" -S "$src/cmake" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$warn $san" \
    -DCMAKE_EXE_LINKER_FLAGS="$san" >"$tmp/cmake.log" 2>&1 ||
    { cat "$tmp/cmake.log"; fail "configure the find_package project"; }
grep -q "^netlab_DIR:PATH=$lib/cmake/netlab\$" "$tmp/cmake-build/CMakeCache.txt" ||
    fail "find_package found $(grep '^netlab_DIR' "$tmp/cmake-build/CMakeCache.txt")"
"$cmake" --build "$tmp/cmake-build" >"$tmp/build.log" 2>&1 ||
    { cat "$tmp/build.log"; fail "build the find_package project"; }
LD_LIBRARY_PATH=$lib "$tmp/cmake-build/hello" || fail "hello (netlab::netlab)"
"$tmp/cmake-build/hello_static" || fail "hello_static (netlab::netlab_static)"
if readelf -d "$tmp/cmake-build/hello_static" | grep -q "NEEDED.*libnetlab"; then
    fail "hello_static needs libnetlab.so"
fi

step "2b. the example programs, built on their own as a learner copies them"
"$cmake" -S "$src/../../examples/standalone" -B "$tmp/examples-build" \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$san" \
    -DCMAKE_EXE_LINKER_FLAGS="$san" >"$tmp/examples.log" 2>&1 &&
    "$cmake" --build "$tmp/examples-build" >>"$tmp/examples.log" 2>&1 ||
    { cat "$tmp/examples.log"; fail "build examples/standalone against the prefix"; }
LD_LIBRARY_PATH=$lib "$tmp/examples-build/netlab-demo" >"$tmp/demo.log" 2>&1 ||
    { cat "$tmp/demo.log"; fail "netlab-demo built from examples/standalone"; }

step "3. libnetlab next to libnl-3"
pkg-config --exists libnl-3.0 || fail "libnl-3 not found by pkg-config (Debian: libnl-3-dev)"
# shellcheck disable=SC2046,SC2086
# libnl's headers need POSIX declarations (struct addrinfo), hence gnu11 for its side.
"$cc" $warn -std=gnu11 $san -o "$tmp/with_libnl" "$src/with_libnl.c" \
    "$src/with_libnl_netlab.c" $(pkg-config --cflags --libs netlab libnl-3.0) ||
    fail "build with libnl-3"
LD_LIBRARY_PATH=$lib "$tmp/with_libnl" || fail "with_libnl"
libnl=$(pkg-config --variable=libdir libnl-3.0)/libnl-3.so
nm -D --defined-only "$lib/libnetlab.so" | awk '{print $NF}' | sort -u >"$tmp/netlab.syms"
nm -D --defined-only "$libnl" | awk '{print $NF}' | sed 's/@.*//' | sort -u >"$tmp/libnl.syms"
clash=$(comm -12 "$tmp/netlab.syms" "$tmp/libnl.syms")
[ -z "$clash" ] || fail "symbols in both libnetlab and libnl-3: $clash"

step "4. exported symbols"
[ -s "$tmp/netlab.syms" ] || fail "libnetlab.so exports nothing"
grep -qx nl_udp_open "$tmp/netlab.syms" || fail "nl_udp_open is not exported"
bad=$(grep -v '^nl_[a-z]' "$tmp/netlab.syms" || true)
[ -z "$bad" ] || fail "libnetlab.so exports non-nl_ symbols: $bad"
bad=$(grep '^nl__' "$tmp/netlab.syms" || true)
[ -z "$bad" ] || fail "libnetlab.so exports internal nl__ symbols: $bad"
step "$(wc -l <"$tmp/netlab.syms") symbols exported, all nl_*"

if command -v c++ >/dev/null 2>&1; then
    step "5. the headers compile as C++ too"
    echo '#include <netlab.h>
int main() { return nl_version() == nullptr; }' >"$tmp/cxx.cpp"
    c++ -std=c++11 -Wall -Wextra -Werror -I"$prefix/include" -fsyntax-only "$tmp/cxx.cpp" ||
        fail "netlab.h in C++"
fi
step "all passed"
