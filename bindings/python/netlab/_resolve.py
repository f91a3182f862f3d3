"""The socket module's resolver and conversion functions, on libnetlab's resolver
(nl_resolve, nl_endpoint_name) and the system's inet_pton/inet_ntop/inet_aton.

Names are IDNA-encoded as the stdlib does; ports may be ints, str or bytes (service names)."""
import operator as _operator
import os as _os
import struct as _struct

from . import _netlab

gaierror = _netlab.gaierror
herror = _netlab.herror


def _enum(cls, value):
    """value as a member of cls when it has one, else the plain int (as the stdlib does)."""
    try:
        return cls(value)
    except ValueError:
        return value


def _host_text(host, caller="getaddrinfo"):
    if host is None:
        return None
    if isinstance(host, str):
        try:
            host.encode("ascii")
            return host
        except UnicodeEncodeError:
            return host.encode("idna").decode("ascii")
    if isinstance(host, (bytes, bytearray)):
        return bytes(host).decode("ascii")
    raise TypeError(f"{caller}() argument 1 must be str, bytes or None, not "
                    f"{type(host).__name__}")


def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
    """[(family, type, proto, canonname, sockaddr), ...] as socket.getaddrinfo()."""
    from . import AddressFamily, SocketKind
    host = _host_text(host)
    if isinstance(port, int):
        service = str(port)
    elif isinstance(port, str):
        port.encode("utf-8")  # UnicodeEncodeError for lone surrogates, as in the stdlib
        service = port
    elif isinstance(port, bytes):
        service = port.decode("ascii")
    elif port is None:
        service = None
    else:
        raise OSError("Int or String expected")
    if host is not None and "\0" in host or service is not None and "\0" in service:
        raise ValueError("embedded null character")
    family, type, proto, flags = (_operator.index(v) for v in (family, type, proto, flags))
    if host is None and service is None:
        raise gaierror(_netlab.EAI_NONAME, "Name or service not known")
    out = []
    for fam, kind, prot, canon, addr in _netlab.getaddrinfo(host, service, family, type,
                                                             proto, flags):
        out.append((_enum(AddressFamily, fam), _enum(SocketKind, kind), prot, canon, addr))
    return out


def gethostbyname(hostname):
    """The IPv4 address of a host name, as socket.gethostbyname()."""
    host = _host_text(hostname, "gethostbyname")
    if host == "":
        return "0.0.0.0"
    if host == "<broadcast>":
        return "255.255.255.255"
    return getaddrinfo(host, None, _netlab.AF_INET, _netlab.SOCK_STREAM)[0][4][0]


def gethostbyname_ex(hostname):
    """(canonical name, aliases, IPv4 addresses), as socket.gethostbyname_ex()."""
    host = _host_text(hostname, "gethostbyname_ex")
    answers = getaddrinfo(host, None, _netlab.AF_INET, _netlab.SOCK_STREAM, 0,
                          _netlab.AI_CANONNAME)
    canon = answers[0][3] or host
    addrs = []
    for a in answers:
        if a[4][0] not in addrs:
            addrs.append(a[4][0])
    return canon, [], addrs


def gethostbyaddr(ip_address):
    """(host name, aliases, addresses) of an address or name, as socket.gethostbyaddr()."""
    host = _host_text(ip_address, "gethostbyaddr")
    answers = getaddrinfo(host, None, 0, _netlab.SOCK_STREAM)
    addr = answers[0][4]
    try:
        name, _ = _netlab.getnameinfo(addr[0], 0, 0, addr[3] if len(addr) > 3 else 0,
                                      answers[0][0], _netlab.NI_NAMEREQD)
    except gaierror:
        raise herror(1, "Unknown host") from None
    return name, [], [addr[0]]


def gethostname():
    """The machine's host name, as socket.gethostname()."""
    return _os.uname().nodename


def getfqdn(name=""):
    """A fully qualified domain name for name (default: this host), as socket.getfqdn()."""
    name = name.strip()
    if not name or name in ("0.0.0.0", "::"):
        name = gethostname()
    try:
        hostname, aliases, _ = gethostbyaddr(name)
    except OSError:
        return name
    for candidate in [hostname] + aliases:
        if "." in candidate:
            return candidate
    return hostname


def getnameinfo(sockaddr, flags):
    """(host, port) of a (host, port[, flowinfo, scope_id]) tuple, as socket.getnameinfo()."""
    if not isinstance(sockaddr, tuple):
        # The traceback keeps this frame: drop the caller's object first (no reference held).
        kind = type(sockaddr).__name__
        sockaddr = None
        raise TypeError(f"getnameinfo() argument 1 must be tuple, not {kind}")
    if not 2 <= len(sockaddr) <= 4:
        raise TypeError("getnameinfo() argument 1 must be a tuple of 2 to 4 items")
    host, port = sockaddr[0], sockaddr[1]
    if not isinstance(host, str):
        raise TypeError(f"getnameinfo(): illegal sockaddr argument")
    port = _operator.index(port)
    flowinfo = _operator.index(sockaddr[2]) if len(sockaddr) > 2 else 0
    scope_id = _operator.index(sockaddr[3]) if len(sockaddr) > 3 else 0
    if not 0 <= flowinfo <= 0xfffff:
        raise OverflowError("getnameinfo(): flowinfo must be 0-1048575.")
    if not 0 <= port <= 65535:
        raise OverflowError("getnameinfo(): port must be 0-65535.")
    answers = getaddrinfo(host, str(port), 0, _netlab.SOCK_DGRAM, 0, _netlab.AI_NUMERICHOST)
    if len(answers) != 1:
        raise OSError("sockaddr resolved to multiple addresses")
    family, _, _, _, addr = answers[0]
    if family == _netlab.AF_INET and len(sockaddr) != 2:
        raise OSError("IPv4 sockaddr must be 2 tuple")
    return _netlab.getnameinfo(addr[0], port, flowinfo, scope_id, int(family),
                               _operator.index(flags))


def _proto_flags(protocolname):
    if protocolname is None:
        return 0
    if not isinstance(protocolname, str):
        raise TypeError(f"argument 2 must be str, not {type(protocolname).__name__}")
    return {"tcp": _netlab.SOCK_STREAM, "udp": _netlab.SOCK_DGRAM}.get(protocolname, -1)


def getservbyname(servicename, protocolname=None):
    """The port of a service name ('http' -> 80), as socket.getservbyname()."""
    if not isinstance(servicename, str):
        raise TypeError(f"getservbyname() argument 1 must be str, not "
                        f"{type(servicename).__name__}")
    kind = _proto_flags(protocolname)
    if kind < 0 or servicename.isdigit():
        raise OSError("service/proto not found")
    try:
        answers = _netlab.getaddrinfo(None, servicename, _netlab.AF_INET, kind, 0,
                                      _netlab.AI_NUMERICHOST)
    except gaierror:
        raise OSError("service/proto not found") from None
    return answers[0][4][1]


def getservbyport(port, protocolname=None):
    """The service name of a port (80 -> 'http'), as socket.getservbyport()."""
    port = _operator.index(port)
    if not 0 <= port <= 65535:
        raise OverflowError("getservbyport: port must be 0-65535.")
    kind = _proto_flags(protocolname)
    if kind < 0:
        raise OSError("port/proto not found")
    flags = _netlab.NI_NUMERICHOST | (_netlab.NI_DGRAM if kind == _netlab.SOCK_DGRAM else 0)
    _, service = _netlab.getnameinfo("127.0.0.1", port, 0, 0, _netlab.AF_INET, flags)
    if service == str(port):
        raise OSError("port/proto not found")
    return service


# ---- byte order and address conversions ------------------------------------------------------

def _uint(x, bits, caller):
    if isinstance(x, float):
        raise TypeError(f"'float' object cannot be interpreted as an integer")
    x = _operator.index(x)
    if x < 0:
        raise OverflowError(f"{caller}: can't convert negative Python int to C "
                            f"{'16-bit unsigned integer' if bits == 16 else 'unsigned long'}")
    if x >= 1 << bits:
        raise OverflowError(f"{caller}: Python int too large to convert to C "
                            f"{'16-bit unsigned integer' if bits == 16 else 'unsigned long'}")
    return x


def htons(x):
    """16-bit host to network byte order."""
    return _struct.unpack("!H", _struct.pack("=H", _uint(x, 16, "htons")))[0]


def ntohs(x):
    """16-bit network to host byte order."""
    return _struct.unpack("=H", _struct.pack("!H", _uint(x, 16, "ntohs")))[0]


def htonl(x):
    """32-bit host to network byte order."""
    return _struct.unpack("!I", _struct.pack("=I", _uint(x, 32, "htonl")))[0]


def ntohl(x):
    """32-bit network to host byte order."""
    return _struct.unpack("=I", _struct.pack("!I", _uint(x, 32, "ntohl")))[0]


def inet_aton(string):
    """'a.b.c.d' (or a short form, '127.1') to 4 packed bytes."""
    if not isinstance(string, str):
        raise TypeError(f"inet_aton() argument 1 must be str, not {type(string).__name__}")
    if "\0" in string:
        raise ValueError("embedded null character")
    return _netlab.inet_aton(string)


def inet_ntoa(packed_ip):
    """4 packed bytes to 'a.b.c.d'."""
    view = memoryview(packed_ip)
    if view.nbytes != 4:
        raise OSError("packed IP wrong length for inet_ntoa")
    return ".".join(str(b) for b in view.cast("B"))


def inet_pton(address_family, ip_string):
    """Text to packed bytes for AF_INET or AF_INET6."""
    if not isinstance(ip_string, str):
        raise TypeError(f"inet_pton() argument 2 must be str, not {type(ip_string).__name__}")
    if "\0" in ip_string:
        raise ValueError("embedded null character")
    return _netlab.inet_pton(_operator.index(address_family), ip_string)


def inet_ntop(address_family, packed_ip):
    """Packed bytes to text for AF_INET or AF_INET6."""
    family = _operator.index(address_family)
    return _netlab.inet_ntop(family, packed_ip)


# ---- interfaces and the host name ------------------------------------------------------------

def if_nameindex():
    """[(index, name), ...] of the network interfaces."""
    return _netlab.if_nameindex()


def if_nametoindex(if_name):
    """The index of a network interface name."""
    if isinstance(if_name, bytes):
        if_name = if_name.decode()
    if not isinstance(if_name, str):
        raise TypeError(f"if_nametoindex(): argument must be str, not {type(if_name).__name__}")
    index = _netlab.if_nametoindex(if_name)
    if index == 0:
        raise OSError("no interface with this name")
    return index


def if_indextoname(if_index):
    """The name of a network interface index."""
    if isinstance(if_index, float) or not hasattr(if_index, "__index__"):
        raise TypeError(f"an integer is required (got type {type(if_index).__name__})")
    if_index = _operator.index(if_index)
    if if_index < 0:
        raise OverflowError("can't convert negative int to unsigned")
    return _netlab.if_indextoname(if_index)


def sethostname(name):
    """Set the machine's host name (needs the privilege to)."""
    if isinstance(name, str):
        name = _os.fsencode(name)
    return _netlab.sethostname(name)
