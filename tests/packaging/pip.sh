#!/bin/sh
# pip install ./bindings/python into fresh virtual environments, offline, one per interpreter
# given, against the build tree BUILD_DIR; then, from outside the tree, `import netlab` and a
# UDP and a TCP exchange through it. Debian's wheel package comes from /usr/share/python-wheels
# (python3-wheel-whl); each interpreter's own setuptools is used (--no-build-isolation).
#
#   pip.sh SOURCE_DIR BUILD_DIR PYTHON...
# Exit 77 (skipped) when Debian's wheel is not installed (bash .ci/setup pkg).
set -u
src=$1 build=$2
shift 2
wheels=/usr/share/python-wheels
ls "$wheels"/wheel-*.whl >/dev/null 2>&1 ||
    { echo "skipped: no $wheels/wheel-*.whl (bash .ci/setup pkg installs python3-wheel-whl)"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/netlab-pip.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
# pip builds in place; build from a copy so that parallel runs and the tree stay clean.
mkdir -p "$tmp/tree/bindings"
cp -r "$src/bindings/python" "$tmp/tree/bindings/python"
cp -r "$src/include" "$tmp/tree/include"
fails=0 n=0
for py in "$@"; do
    [ -x "$py" ] || { echo "pip: $py: not there, not tested"; continue; }
    n=$((n + 1)) venv=$tmp/venv$n
    ver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    echo "pip: Python $ver ($py)"
    if ! { "$py" -m venv "$venv" &&
        "$venv/bin/pip" install -q --no-index --find-links "$wheels" wheel &&
        NETLAB_BUILD_DIR=$build "$venv/bin/pip" install -q --no-build-isolation --no-index \
            "$tmp/tree/bindings/python"; } >"$tmp/log$n" 2>&1; then
        cat "$tmp/log$n"; echo "pip: FAIL: install with Python $ver"; fails=1; continue
    fi
    (cd "$tmp" && "$venv/bin/python" - "$venv") <<'PY' || { echo "pip: FAIL: Python $ver"; fails=1; }
import sys
import netlab as socket
assert socket.__file__.startswith(sys.argv[1]), socket.__file__
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", 0))
v = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
v.sendto("你好".encode(), u.getsockname())
data, addr = u.recvfrom(1024)
assert data.decode() == "你好" and addr[1] == v.getsockname()[1], (data, addr)
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen()
c = socket.create_connection(srv.getsockname(), timeout=5)
conn, _ = srv.accept()
c.sendall(b"ping")
assert conn.recv(4) == b"ping"
for s in (u, v, srv, c, conn):
    s.close()
print("pip: import netlab from", socket.__file__, "and a UDP and TCP exchange: ok")
PY
done
[ "$n" -gt 0 ] || { echo "pip: FAIL: no interpreter to test"; exit 1; }
[ $fails -eq 0 ] && echo "pip: all passed ($n interpreter(s))"
exit $fails
