"""Run a command in a private network namespace with its own loopback, when the system allows
it, so that the course programs can keep their fixed port 9000 without clashing with anything
else on the machine (or with tests running in parallel). Where namespaces are not allowed the
command runs as is, and test_examples.py moves the programs to a free port instead.

usage: netns_exec.py COMMAND [ARG...]     (sets NETLAB_TEST_NETNS=1 when it got a namespace)
"""
import ctypes
import os
import shutil
import subprocess
import sys

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000


def private_network():
    ip = shutil.which("ip")
    if ip is None:
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    flags = CLONE_NEWNET if os.geteuid() == 0 else CLONE_NEWUSER | CLONE_NEWNET
    if libc.unshare(flags) != 0:
        return False
    # A new namespace has only a loopback interface, and it is down.
    return subprocess.run([ip, "link", "set", "lo", "up"]).returncode == 0


def main():
    env = dict(os.environ)
    if private_network():
        env["NETLAB_TEST_NETNS"] = "1"
    os.execvpe(sys.argv[1], sys.argv[1:], env)


if __name__ == "__main__":
    main()
