#!/bin/sh
# Debian packages from this tree, end to end (CI runs it; it needs root for dpkg):
#   1. debian/changelog's version is version.h's;
#   2. dpkg-buildpackage builds libnetlab0, libnetlab-dev, netlab-tools and python3-netlab from
#      a copy of the tree (its files as git knows them, uncommitted edits included);
#   3. lintian reports no error and no warning;
#   4. apt-get installs the four packages; the consumer test builds against /usr with
#      pkg-config and find_package; `import netlab` (from /usr/lib/python3/dist-packages) works
#      with Debian's python3; netlab-demo runs from /usr/bin; man finds its page;
#   5. apt-get purge removes them all, leaving none of their files.
#
#   debs.sh [OUT_DIR]      (default: build-deb; the .deb files stay there)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mkdir -p "${1:-$root/build-deb}" && cd "${1:-$root/build-deb}" && pwd)
pkgs="libnetlab0 libnetlab-dev netlab-tools python3-netlab"
step() { echo "debs: $*"; }
fail() { echo "debs: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root (dpkg -i)"
for p in $pkgs; do
    if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
        fail "$p is installed already; remove it first (apt-get purge $p)"
    fi
done

ver=$(sed -n 's/^#define NL_VERSION_STRING "\(.*\)"/\1/p' "$root/include/netlab/version.h")
deb_ver=$(cd "$root" && dpkg-parsechangelog -S Version)
[ "$ver" = "$deb_ver" ] || fail "debian/changelog says $deb_ver, version.h says $ver"

step "1. build $pkgs $ver"
rm -rf "$out/src" "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo
mkdir -p "$out/src"
(cd "$root" && git ls-files -co --exclude-standard -z | xargs -0 tar -cf - --) |
    tar -xf - -C "$out/src"
(cd "$out/src" && DEB_BUILD_OPTIONS="parallel=$(nproc)" dpkg-buildpackage -b -us -uc) \
    >"$out/build.log" 2>&1 || { tail -40 "$out/build.log"; fail "dpkg-buildpackage"; }
for p in $pkgs; do
    [ -f "$out/${p}_${ver}_$(dpkg --print-architecture).deb" ] || fail "no package $p"
done

step "2. lintian"
changes=$out/libnetlab_${ver}_$(dpkg --print-architecture).changes
lintian --fail-on error,warning --tag-display-limit 0 "$changes" 2>&1 |
    grep -v 'running with root privileges' || true
lintian --fail-on error,warning -q "$changes" >/dev/null 2>&1 || fail "lintian (see above)"

cleanup() { apt-get purge -y -q $pkgs >/dev/null 2>&1 || true; }
trap cleanup EXIT INT TERM
step "3. install"
files=""
for p in $pkgs; do files="$files $out/${p}_${ver}_$(dpkg --print-architecture).deb"; done
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $files \
    >"$out/install.log" 2>&1 || { cat "$out/install.log"; fail "apt-get install"; }
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)

step "4. use what is installed"
sh "$root/tests/consumer/run.sh" --installed=/usr "$root/tests/consumer" cmake cc \
    "lib/$multiarch" OFF || fail "consumer test against /usr"
(cd / && env -u PYTHONPATH /usr/bin/python3 - <<'PY') || fail "import netlab"
import netlab as socket
assert socket.__file__.startswith("/usr/lib/python3/dist-packages/netlab/"), socket.__file__
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", 0))
v = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
v.sendto("你好".encode(), u.getsockname())
assert u.recvfrom(64)[0].decode() == "你好"
print("debs: import netlab from", socket.__file__, "ok")
PY
/usr/bin/netlab-demo >"$out/demo.log" 2>&1 || { cat "$out/demo.log"; fail "netlab-demo"; }
[ "$(man -w netlab-chat)" = /usr/share/man/man1/netlab-chat.1.gz ] || fail "man -w netlab-chat"
readelf -d /usr/bin/netlab-chat | grep -q 'R.*PATH' && fail "netlab-chat has an RPATH"

step "5. purge"
listed=$(for p in $pkgs; do dpkg -L "$p"; done | sort -u)
cleanup
trap - EXIT INT TERM
for f in $listed; do
    case $f in /usr/share/doc* | /. | /usr | /usr/bin | /usr/lib | /usr/include | /usr/share | \
        /usr/share/man | /usr/share/man/man1 | /usr/lib/python3 | /usr/lib/python3/dist-packages | \
        /usr/lib/"$multiarch" | /usr/lib/"$multiarch"/pkgconfig | /usr/lib/"$multiarch"/cmake) continue ;;
    esac
    [ -e "$f" ] && fail "$f is still there after purge"
done
step "all passed"
