"""Helpers shared by netlab's classes: address tuples and time-outs (private)."""
import math as _math
import operator as _operator

from . import _netlab

# Blocking waits run in slices of this many milliseconds, so that Ctrl-C (KeyboardInterrupt)
# and other signal handlers run while a program waits, as in the socket class.
SLICE_MS = 200


def family_of(address):
    """AF_INET6 for an IPv6 address tuple (4 items, or a host with a colon), else AF_INET."""
    if not isinstance(address, tuple) or not 2 <= len(address) <= 4:
        raise TypeError("address must be a tuple (host, port) or (host, port, flowinfo, "
                        f"scope_id), not {address!r}")
    host = address[0]
    if len(address) > 2 or (isinstance(host, str) and ":" in host):
        return _netlab.AF_INET6
    return _netlab.AF_INET


def split(address, family, caller):
    """Check an address tuple as the socket class does; return (host, port, scope_id)."""
    if family == _netlab.AF_INET6:
        if not isinstance(address, tuple) or not 2 <= len(address) <= 4:
            raise TypeError(f"{caller}: AF_INET6 address must be a tuple "
                            "(host, port[, flowinfo[, scopeid]])")
        scope_id = _operator.index(address[3]) if len(address) > 3 else 0
        if not 0 <= scope_id <= 0xffffffff:
            raise OverflowError("scope_id must be 0-4294967295")
    else:
        if not isinstance(address, tuple) or len(address) != 2:
            raise TypeError(f"{caller}: AF_INET address must be a pair (host, port)")
        scope_id = 0
    host, port = address[0], address[1]
    if isinstance(host, (bytes, bytearray)):
        host = bytes(host).decode("ascii")
    elif not isinstance(host, str):
        raise TypeError(f"str, bytes or bytearray expected, not {type(host).__name__}")
    if "\0" in host:
        raise TypeError("host name must not contain null character")
    port = _operator.index(port)
    if not 0 <= port <= 65535:
        raise OverflowError(f"{caller}: port must be 0-65535.")
    return host, port, scope_id


def ms(seconds):
    """Seconds (> 0) to whole milliseconds, rounded up, capped to a C int."""
    return min(max(1, _math.ceil(seconds * 1000)), 0x7fffffff)


def check_ms(value, name):
    """A millisecond option: None (the library's default) or an int from 1 to 2**31 - 1."""
    if value is None:
        return 0
    value = _operator.index(value)
    if not 0 < value <= 0x7fffffff:
        raise ValueError(f"{name} must be 1 to 2147483647 milliseconds, not {value}")
    return value
