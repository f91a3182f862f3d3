#!/usr/bin/env bash
# Cross-build libsodium and cmocka for Windows x86-64 (mingw-w64) from Debian's own source
# packages: Debian ships no mingw builds of either.
#
#   bash tests/windows/build-deps.sh PREFIX
#
# Installs into PREFIX (include/, lib/, lib/pkgconfig/, bin/*.dll). apt-get source needs a
# deb-src entry: it goes into a private apt configuration under PREFIX/../deps-src/apt, so the
# system's sources and lists are left alone. The result is cached: when PREFIX/stamp names the
# same source versions, nothing is done.
set -euo pipefail
prefix=$(realpath -m "${1:?usage: build-deps.sh PREFIX}")
here=$(cd "$(dirname "$0")/../.." && pwd)
work=$prefix-src
host=x86_64-w64-mingw32
mkdir -p "$work/apt/lists/partial" "$work/apt/archives/partial" "$prefix"

# Private apt: the system's deb lines turned into deb-src ones, own lists and cache.
cat > "$work/apt/sources.list" <<SRC
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
SRC
apt=(apt-get -q -o "Dir::Etc::SourceList=$work/apt/sources.list" -o "Dir::Etc::SourceParts=-"
     -o "Dir::State::Lists=$work/apt/lists" -o "Dir::Cache::Archives=$work/apt/archives"
     -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")
want=$(dpkg-query -W -f='${source:Package}=${source:Version} ' libsodium-dev libcmocka-dev)
if [ -f "$prefix/stamp" ] && [ "$(cat "$prefix/stamp")" = "$want" ]; then
  echo "build-deps: cached in $prefix ($want)"; exit 0
fi
if ! compgen -G "$work/apt/lists/*Sources*" >/dev/null; then
  "${apt[@]}" update >/dev/null
fi
cd "$work"
for pv in $want; do
  # The exact versions installed here (Debian's patches applied: dpkg-source -x).
  if [ ! -d "src-${pv%%=*}" ]; then
    rm -rf tmp
    mkdir tmp
    (cd tmp && "${apt[@]}" source --download-only "$pv" >/dev/null)
    (cd tmp && dpkg-source -x ./*.dsc x >/dev/null)
    mv tmp/x "src-${pv%%=*}"
    rm -rf tmp
  fi
done

jobs=$(nproc)
# libsodium: autotools. Debian's source has no generated configure; its autogen.sh would
# download config.guess/config.sub unless told not to.
if [ ! -f "$prefix/lib/libsodium.a" ]; then
  (cd src-libsodium && DO_NOT_UPDATE_CONFIG_SCRIPTS=1 ./autogen.sh -s >/dev/null)
  rm -rf build-sodium && mkdir build-sodium
  (cd build-sodium && ../src-libsodium/configure --host=$host --prefix="$prefix" \
     --disable-shared --enable-static --disable-dependency-tracking --with-pic \
     CC=$host-gcc-posix CFLAGS="-O2" >/dev/null && make -j"$jobs" >/dev/null && make install >/dev/null)
fi
# cmocka: CMake, with the same toolchain file as libnetlab.
if [ ! -f "$prefix/lib/libcmocka.dll.a" ] && [ ! -f "$prefix/lib/libcmocka.a" ]; then
  rm -rf build-cmocka
  cmake -S src-cmocka -B build-cmocka -DCMAKE_TOOLCHAIN_FILE="$here/cmake/mingw-w64-x86_64.cmake" \
    -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
    -DWITH_EXAMPLES=OFF -DUNIT_TESTING=OFF -DCMAKE_CROSSCOMPILING_EMULATOR= >/dev/null
  cmake --build build-cmocka -j"$jobs" >/dev/null
  cmake --install build-cmocka >/dev/null
fi
echo "$want" > "$prefix/stamp"
echo "build-deps: built into $prefix ($want)"
