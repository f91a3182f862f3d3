"""Builds the netlab extension for the interpreter that runs pip (see pyproject.toml).

Which libnetlab: NETLAB_BUILD_DIR=<cmake build dir> uses that tree's static library and this
tree's headers; otherwise pkg-config's netlab (the static library when installed next to the
shared one, so the module does not depend on libnetlab.so at run time, as the CMake build's
module does not). SWIG runs into the build directory, never into the source tree.
"""
import glob
import os
import re
import shlex
import subprocess

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
TREE = os.path.dirname(os.path.dirname(HERE))


class NetlabError(Exception):
    pass


def pkg_config(*args):
    try:
        out = subprocess.run(["pkg-config", *args, "netlab"], check=True, capture_output=True,
                             text=True).stdout
    except FileNotFoundError:
        raise NetlabError("pkg-config is not installed (Debian: pkg-config)") from None
    except subprocess.CalledProcessError as e:
        raise NetlabError("pkg-config finds no libnetlab (%s); install libnetlab-dev, or set "
                          "NETLAB_BUILD_DIR to a CMake build directory of libnetlab"
                          % e.stderr.strip()) from None
    return shlex.split(out)


def libnetlab():
    """Returns (include_dirs, extra_objects, libraries, library_dirs, runtime_dirs)."""
    build = os.environ.get("NETLAB_BUILD_DIR")
    if build:
        archive = os.path.join(os.path.abspath(build), "lib", "libnetlab.a")
        if not os.path.exists(archive):
            raise NetlabError("NETLAB_BUILD_DIR=%s has no lib/libnetlab.a: build it first "
                              "(cmake --build %s)" % (build, build))
        return [os.path.join(TREE, "include")], [archive], ["sodium"], [], []
    incs = [f[2:] for f in pkg_config("--cflags-only-I")]
    libdir = pkg_config("--variable=libdir")[0]
    archive = os.path.join(libdir, "libnetlab.a")
    if os.path.exists(archive):
        libs = [f[2:] for f in pkg_config("--static", "--libs-only-l") if f != "-lnetlab"]
        dirs = [f[2:] for f in pkg_config("--static", "--libs-only-L")]
        return incs, [archive], libs, dirs, []
    return incs, [], ["netlab"], [libdir], [libdir]


def version():
    """The library's version: the tree's version.h, else the installed library's."""
    try:
        with open(os.path.join(TREE, "include", "netlab", "version.h"), encoding="utf-8") as f:
            return re.search(r'#define NL_VERSION_STRING "([^"]+)"', f.read()).group(1)
    except OSError:
        return pkg_config("--modversion")[0]


class BuildExt(build_ext):
    """Runs SWIG on netlab.i into build_temp, then builds as usual."""

    def build_extension(self, ext):
        try:
            incs, objs, libs, libdirs, rdirs = libnetlab()
        except NetlabError as e:
            raise SystemExit("netlab: %s" % e) from None
        os.makedirs(self.build_temp, exist_ok=True)
        wrap = os.path.join(self.build_temp, "netlab_wrap.c")
        cmd = ["swig", "-python", "-builtin", "-threads", "-Wall", "-outdir", self.build_temp,
               "-o", wrap] + ["-I" + i for i in incs] + [os.path.join(HERE, "netlab.i")]
        try:
            subprocess.run(cmd, check=True)
        except FileNotFoundError:
            raise SystemExit("netlab: swig is not installed (Debian: swig)") from None
        ext.sources = [wrap] + [s for s in ext.sources if not s.endswith(".i")]
        ext.include_dirs += incs + [HERE]
        ext.extra_objects += objs
        ext.libraries += libs
        ext.library_dirs += libdirs
        ext.runtime_library_dirs += rdirs
        super().build_extension(ext)


setup(
    version=version(),
    packages=["netlab"],
    ext_modules=[Extension("netlab._netlab",
                           sources=["netlab.i"] + sorted(
                               os.path.relpath(p, HERE)
                               for p in glob.glob(os.path.join(HERE, "nlpy*.c"))),
                           extra_compile_args=["-fvisibility=hidden"])],
    cmdclass={"build_ext": BuildExt},
)
