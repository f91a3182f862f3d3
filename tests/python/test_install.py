"""`cmake --install` puts a working package into site-packages: install the python component
into a scratch prefix and use it from there, with nothing of the build tree on the path."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

BUILD = os.environ.get("NETLAB_BUILD_DIR")
INSTALL_DIR = os.environ.get("NETLAB_PYTHON_INSTALL_DIR", "")

PROGRAM = r"""
import netlab, sys
s = netlab.socket(type=netlab.SOCK_DGRAM)
s.bind(('127.0.0.1', 0))
s.sendto('你好，世界'.encode(), s.getsockname())
data, addr = s.recvfrom(1024)
s.close()
print(netlab.__file__)
print(data.decode(), addr[0])
"""


@pytest.mark.skipif(not BUILD, reason="run by ctest, which names the build directory")
def test_install_into_prefix(tmp_path):
    if os.path.isabs(INSTALL_DIR):
        pytest.skip(f"install directory {INSTALL_DIR} is absolute: not relocatable to a scratch "
                    "prefix")
    cmake = os.environ.get("NETLAB_CMAKE", "cmake")
    subprocess.run([cmake, "--install", BUILD, "--prefix", str(tmp_path), "--component", "python"],
                   check=True, capture_output=True, timeout=60)
    site = tmp_path / INSTALL_DIR
    installed = sorted(p.name for p in (site / "netlab").iterdir())
    assert "__init__.py" in installed
    assert any(name.startswith("_netlab.") and name.endswith(".so") for name in installed)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    env["PYTHONIOENCODING"] = "utf-8"
    out = subprocess.run([sys.executable, "-c", PROGRAM], env=env, cwd=tmp_path, check=True,
                         capture_output=True, encoding="utf-8", timeout=30).stdout.splitlines()
    assert Path(out[0]).resolve().is_relative_to(site.resolve())
    assert out[1] == "你好，世界 127.0.0.1"
