/* The platform seam for Windows (see platform.h): Winsock 2. WSAStartup once; closesocket;
 * select() for poll (WSAPoll misses a refused connect on older Windows); a connected
 * loopback UDP socket as the wake-up channel (select takes sockets only); blocking mode
 * switched around one call for MSG_DONTWAIT; WSAEMSGSIZE as truncation; the port-unreachable
 * WSAECONNRESET switched off on UDP sockets (SIO_UDP_CONNRESET), as Linux and BSD ignore
 * ICMP errors on unconnected sockets; WSA* errors translated to errno values. */
#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h" /* winsock2.h, which must come before windows.h */
#include <windows.h>
#include <bcrypt.h>
#include <iphlpapi.h> /* if_nametoindex() */
#include <mswsock.h>

_Static_assert(NL__IF_NAMESIZE == IF_NAMESIZE, "platform.h's NL__IF_NAMESIZE is netioapi.h's");

#ifndef SIO_UDP_CONNRESET
#define SIO_UDP_CONNRESET _WSAIOW(IOC_VENDOR, 12)
#endif

/* Winsock's errors as the errno values the NL_E* codes are made of. */
static int wsa_to_errno(int e)
{
    switch (e) {
    case WSAEINTR:
        return EINTR;
    case WSAEBADF:
        return EBADF;
    case WSAENOTSOCK:
        return ENOTSOCK;
    case WSAEACCES:
        return EACCES;
    case WSAEFAULT:
        return EFAULT;
    case WSAEINVAL:
        return EINVAL;
    case WSAEMFILE:
        return EMFILE;
    case WSAEWOULDBLOCK:
        return EAGAIN;
    case WSAEINPROGRESS:
    case WSAEALREADY:
        return EALREADY;
    case WSAEDESTADDRREQ:
        return EDESTADDRREQ;
    case WSAEMSGSIZE:
        return EMSGSIZE;
    case WSAEPROTOTYPE:
        return EPROTOTYPE;
    case WSAENOPROTOOPT:
        return ENOPROTOOPT;
    case WSAEPROTONOSUPPORT:
    case WSAESOCKTNOSUPPORT:
        return EPROTONOSUPPORT;
    case WSAEOPNOTSUPP:
    case WSAEPFNOSUPPORT:
        return ENOTSUP;
    case WSAEAFNOSUPPORT:
        return EAFNOSUPPORT;
    case WSAEADDRINUSE:
        return EADDRINUSE;
    case WSAEADDRNOTAVAIL:
        return EADDRNOTAVAIL;
    case WSAENETDOWN:
        return ENETDOWN;
    case WSAENETUNREACH:
        return ENETUNREACH;
    case WSAENETRESET:
    case WSAECONNRESET:
        return ECONNRESET;
    case WSAECONNABORTED:
        return ECONNABORTED;
    case WSAENOBUFS:
        return ENOBUFS;
    case WSAEISCONN:
        return EISCONN;
    case WSAENOTCONN:
        return ENOTCONN;
    case WSAESHUTDOWN:
        return ESHUTDOWN;
    case WSAETIMEDOUT:
        return ETIMEDOUT;
    case WSAECONNREFUSED:
        return ECONNREFUSED;
    case WSAEHOSTDOWN:
        return EHOSTDOWN;
    case WSAEHOSTUNREACH:
        return EHOSTUNREACH;
    case WSANOTINITIALISED:
    case WSASYSNOTREADY:
        return ENETDOWN;
    case WSA_NOT_ENOUGH_MEMORY:
        return ENOMEM;
    case WSAECANCELLED:
    case WSA_OPERATION_ABORTED:
        return ECANCELED;
    default:
        return EIO;
    }
}

/* After a failed Winsock call: errno = its error, translated. Returns -1. */
static int fail(void)
{
    errno = wsa_to_errno(WSAGetLastError());
    return -1;
}

int nl__wsa_fail(int rc)
{
    if (rc == SOCKET_ERROR)
        fail();
    return rc;
}

int nl__sys_family(int nl_family)
{
    return nl_family == NL_AF_INET ? AF_INET : nl_family == NL_AF_INET6 ? AF_INET6 : -1;
}

int nl__nl_family(int sys_family)
{
    return sys_family == AF_INET ? NL_AF_INET : sys_family == AF_INET6 ? NL_AF_INET6 : -1;
}

static INIT_ONCE init_once = INIT_ONCE_STATIC_INIT;
static int init_rc;

static BOOL CALLBACK init_winsock(PINIT_ONCE once, PVOID param, PVOID *ctx)
{
    WSADATA wd;
    int rc = WSAStartup(MAKEWORD(2, 2), &wd);

    (void)once;
    (void)param;
    (void)ctx;
    /* Never WSACleanup(): other code in the process may use Winsock, and the process's end
     * releases everything. */
    init_rc = rc == 0 ? 0 : -wsa_to_errno(rc);
    return TRUE;
}

int nl__net_init(void)
{
    InitOnceExecuteOnce(&init_once, init_winsock, NULL, NULL);
    return init_rc;
}

nl_socket_t nl__socket(int nl_family, int type, int nonblock)
{
    int family = nl__sys_family(nl_family);
    SOCKET s;

    if (family < 0) {
        errno = EAFNOSUPPORT;
        return NL__NOSOCK;
    }
    /* WSA_FLAG_NO_HANDLE_INHERIT: the Windows form of close-on-exec. */
    s = WSASocketW(family, type, 0, NULL, 0, WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (s == INVALID_SOCKET) {
        fail();
        return NL__NOSOCK;
    }
    if (type == SOCK_DGRAM) {
        BOOL off = FALSE;
        DWORD got;
        (void)WSAIoctl(s, SIO_UDP_CONNRESET, &off, sizeof off, NULL, 0, &got, NULL, NULL);
    }
    if (nonblock && nl__nonblock_set(s, 1) < 0) {
        int err = errno;
        closesocket(s);
        errno = err;
        return NL__NOSOCK;
    }
    return s;
}

nl_socket_t nl__accept(nl_socket_t l, struct sockaddr *sa, socklen_t *len, int nonblock)
{
    SOCKET s = accept(l, sa, len);

    if (s == INVALID_SOCKET) {
        fail();
        return NL__NOSOCK;
    }
    /* An accepted socket inherits the listener's non-blocking mode, but not its
     * WSA_FLAG_NO_HANDLE_INHERIT: a child process would inherit the connection (found by
     * test_tcp's descriptors_are_cloexec under wine). Set both as asked. */
    if (!SetHandleInformation((HANDLE)s, HANDLE_FLAG_INHERIT, 0)) {
        errno = EINVAL; /* the handle refused a flag: not a limit the caller should back off on */
        closesocket(s);
        return NL__NOSOCK;
    }
    if (nl__nonblock_set(s, nonblock) < 0) {
        int err = errno;
        closesocket(s);
        errno = err;
        return NL__NOSOCK;
    }
    return s;
}

int nl__closesocket(nl_socket_t fd)
{
    return closesocket(fd) == 0 ? 0 : fail();
}

int nl__connect(nl_socket_t fd, const struct sockaddr *sa, socklen_t len)
{
    if (connect(fd, sa, len) == 0)
        return 0;
    fail();
    if (WSAGetLastError() == WSAEWOULDBLOCK)
        errno = EINPROGRESS;
    return -1;
}

int nl__reuseport(nl_socket_t fd)
{
    (void)fd;
    errno = ENOTSUP;
    return -1;
}

/* Winsock cannot read a socket's blocking mode back. The library's sockets are blocking except
 * listeners and the server's connections, and it asks only before making a blocking socket
 * non-blocking for a moment (connect with a timeout, listen): "blocking" is the answer. */
int nl__nonblock_get(nl_socket_t fd)
{
    (void)fd;
    return 0;
}

int nl__nonblock_set(nl_socket_t fd, int on)
{
    u_long v = on ? 1 : 0;
    return ioctlsocket(fd, FIONBIO, &v) == 0 ? 0 : fail();
}

int (*nl__win_fault)(const char *call);

/* Whether the test hook injects an error into this call; if so it is set as the last error. */
static int injected(const char *call)
{
    int e = nl__win_fault != NULL ? nl__win_fault(call) : 0;

    if (e != 0)
        WSASetLastError(e);
    return e != 0;
}

/* One call that does not block on a blocking socket: non-blocking around it, blocking again
 * after. Callers with a non-blocking socket (the server) pass dontwait 0. */
#define DONTWAIT_BEGIN(fd, dontwait)                                                               \
    if ((dontwait) && nl__nonblock_set((fd), 1) < 0)                                               \
        return -1;
#define DONTWAIT_END(fd, dontwait)                                                                 \
    if (dontwait) {                                                                                \
        int saved_ = errno, wsa_ = WSAGetLastError();                                              \
        (void)nl__nonblock_set((fd), 0);                                                           \
        errno = saved_;                                                                            \
        WSASetLastError(wsa_);                                                                     \
    }

/* A datagram socket without a peer (never connected). */
static int unconnected_dgram(nl_socket_t fd)
{
    struct sockaddr_storage peer;
    int type = 0, len = sizeof type, plen = sizeof peer;

    return getsockopt(fd, SOL_SOCKET, SO_TYPE, (char *)&type, &len) == 0 && type == SOCK_DGRAM &&
           getpeername(fd, (struct sockaddr *)&peer, &plen) != 0;
}

ssize_t nl__sendto(nl_socket_t fd, const void *buf, size_t len, int dontwait,
                   const struct sockaddr *to, socklen_t tolen)
{
    int n;

    if (len > 0x7fffffff)
        len = 0x7fffffff;
    DONTWAIT_BEGIN(fd, dontwait)
    if (injected("sendto"))
        n = SOCKET_ERROR;
    else
        n = to != NULL ? sendto(fd, buf, (int)len, 0, to, tolen) : send(fd, buf, (int)len, 0);
    if (n == SOCKET_ERROR) {
        int e = WSAGetLastError();
        fail();
        /* No destination on an unconnected datagram socket: POSIX says EDESTADDRREQ, Winsock
         * WSAENOTCONN (wine WSAEINVAL). Only this failure pays for the two lookups. */
        if (to == NULL && (e == WSAENOTCONN || e == WSAEINVAL) && unconnected_dgram(fd))
            errno = EDESTADDRREQ;
    }
    DONTWAIT_END(fd, dontwait)
    return n;
}

ssize_t nl__recvfrom(nl_socket_t fd, void *buf, size_t cap, int dontwait, struct sockaddr *from,
                     socklen_t *fromlen)
{
    int n, e = 0;

    if (cap > 0x7fffffff)
        cap = 0x7fffffff;
    DONTWAIT_BEGIN(fd, dontwait)
    n = injected("recvfrom") ? SOCKET_ERROR : recvfrom(fd, buf, (int)cap, 0, from, fromlen);
    if (n == SOCKET_ERROR) {
        e = WSAGetLastError();
        fail();
        /* Only UDP comes here. WSAECONNRESET on UDP is an ICMP port unreachable, which a
         * connected socket reports on POSIX as ECONNREFUSED (unconnected ones never see it:
         * SIO_UDP_CONNRESET is off). */
        if (e == WSAECONNRESET)
            errno = ECONNREFUSED;
        /* The receive side shut down (shutdown(SD_RECEIVE)): POSIX's recvfrom() returns 0
         * bytes from no sender, which udp.c reads as NL_EOF; say the same. */
        if (e == WSAESHUTDOWN && fromlen != NULL) {
            *fromlen = 0;
            n = 0;
        }
    }
    DONTWAIT_END(fd, dontwait)
    /* A datagram larger than the buffer: Winsock stores cap bytes and fails with WSAEMSGSIZE
     * (the datagram is gone, as on POSIX). Say "truncated" the way the seam does. */
    if (n == SOCKET_ERROR && e == WSAEMSGSIZE)
        return (ssize_t)cap + 1;
    return n;
}

ssize_t nl__recv(nl_socket_t fd, void *buf, size_t cap, int dontwait)
{
    int n;

    if (cap > 0x7fffffff)
        cap = 0x7fffffff;
    DONTWAIT_BEGIN(fd, dontwait)
    n = injected("recv") ? SOCKET_ERROR : recv(fd, buf, (int)cap, 0);
    if (n == SOCKET_ERROR)
        fail();
    DONTWAIT_END(fd, dontwait)
    return n;
}

int nl__getsockopt(nl_socket_t fd, int level, int name, void *val, socklen_t *len)
{
    if (getsockopt(fd, level, name, val, len) != 0)
        return fail();
    /* SO_ERROR holds a Winsock code: translate it like every other error. */
    if (level == SOL_SOCKET && name == SO_ERROR && *len >= (socklen_t)sizeof(int) &&
        *(int *)val != 0)
        *(int *)val = wsa_to_errno(*(int *)val);
    return 0;
}

int nl__setsockopt(nl_socket_t fd, int level, int name, const void *val, socklen_t len)
{
    return setsockopt(fd, level, name, val, len) == 0 ? 0 : fail();
}

int nl__socket_family(nl_socket_t fd)
{
    WSAPROTOCOL_INFOW info;
    int len = sizeof info, family;

    if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL_INFOW, (char *)&info, &len) != 0)
        return fail();
    if ((family = nl__nl_family(info.iAddressFamily)) < 0)
        errno = EAFNOSUPPORT;
    return family;
}

/* poll() on select(): every socket in a set of its own kind; a failed connect shows in the
 * exception set, reported as POLLERR (WSAPoll misses it before Windows 10 2004). */
int nl__poll(struct pollfd *fds, size_t n, int timeout_ms)
{
    fd_set *r, *w, *x;
    struct timeval tv, *tvp = NULL;
    size_t i, bytes;
    int rc, ready = 0;

    /* fd_set on Windows is a counted array: allocate ones large enough for n sockets. */
    bytes = sizeof(u_int) + (n > 0 ? n : 1) * sizeof(SOCKET);
    r = calloc(1, bytes);
    w = calloc(1, bytes);
    x = calloc(1, bytes);
    if (r == NULL || w == NULL || x == NULL) {
        free(r);
        free(w);
        free(x);
        errno = ENOMEM;
        return -1;
    }
    for (i = 0; i < n; i++) {
        fds[i].revents = 0;
        if (fds[i].fd == NL__NOSOCK)
            continue;
        if (fds[i].events & POLLIN)
            r->fd_array[r->fd_count++] = fds[i].fd;
        if (fds[i].events & POLLOUT)
            w->fd_array[w->fd_count++] = fds[i].fd;
        x->fd_array[x->fd_count++] = fds[i].fd;
    }
    if (timeout_ms >= 0) {
        tv.tv_sec = timeout_ms / 1000;
        tv.tv_usec = (timeout_ms % 1000) * 1000;
        tvp = &tv;
    }
    if (r->fd_count + w->fd_count + x->fd_count == 0) {
        Sleep(timeout_ms < 0 ? INFINITE : (DWORD)timeout_ms); /* select() refuses empty sets */
        rc = 0;
    } else {
        rc = select(0, r, w, x, tvp);
    }
    if (rc == SOCKET_ERROR) {
        fail();
    } else if (rc > 0) {
        for (i = 0; i < n; i++) {
            if (fds[i].fd == NL__NOSOCK)
                continue;
            if (FD_ISSET(fds[i].fd, r))
                fds[i].revents |= POLLIN;
            if (FD_ISSET(fds[i].fd, w))
                fds[i].revents |= POLLOUT;
            if (FD_ISSET(fds[i].fd, x))
                fds[i].revents |= POLLERR;
            ready += fds[i].revents != 0;
        }
        rc = ready;
    }
    free(r);
    free(w);
    free(x);
    return rc;
}

/* The wake-up channel: a UDP socket connected to itself on 127.0.0.1. */
int nl__wake_open(nl_socket_t *rfd, nl_socket_t *wfd)
{
    struct sockaddr_in sa = {0};
    int len = sizeof sa;
    SOCKET s;

    *rfd = *wfd = NL__NOSOCK;
    if (nl__net_init() < 0) {
        errno = ENETDOWN;
        return -1;
    }
    if ((s = nl__socket(NL_AF_INET, SOCK_DGRAM, 1)) == NL__NOSOCK)
        return -1;
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(s, (struct sockaddr *)&sa, &len) != 0 ||
        connect(s, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int err = (fail(), errno);
        closesocket(s);
        errno = err;
        return -1;
    }
    *rfd = *wfd = s;
    return 0;
}

int nl__wake_send(nl_socket_t wfd)
{
    char c = 1;
    if (send(wfd, &c, 1, 0) == SOCKET_ERROR && WSAGetLastError() != WSAEWOULDBLOCK)
        return fail();
    return 0;
}

void nl__wake_drain(nl_socket_t rfd)
{
    char buf[64];
    while (recv(rfd, buf, sizeof buf, 0) > 0)
        ;
}

void nl__wake_close(nl_socket_t rfd, nl_socket_t wfd)
{
    if (rfd != NL__NOSOCK)
        closesocket(rfd);
    if (wfd != NL__NOSOCK && wfd != rfd)
        closesocket(wfd);
}

/* Winsock's socket limit is memory, not a descriptor table; the reserve is a CRT descriptor
 * all the same, so the server's EMFILE path stays one path. */
int nl__spare_open(void)
{
    return _open("NUL", _O_RDONLY | _O_NOINHERIT);
}

void nl__spare_close(int fd)
{
    _close(fd);
}

/* Windows' inet_addr() takes the same forms as inet_aton(), but answers INADDR_NONE both for
 * junk and for 255.255.255.255 itself. */
int nl__inet_aton(const char *text, struct in_addr *out)
{
    unsigned long a = inet_addr(text);

    if (a == INADDR_NONE && strcmp(text, "255.255.255.255") != 0 &&
        strcmp(text, "4294967295") != 0 && strcmp(text, "0xffffffff") != 0)
        return 0;
    out->s_addr = a;
    return 1;
}

int nl__getaddrinfo(const char *host, const char *service, const struct addrinfo *hints,
                    struct addrinfo **res)
{
    int rc = nl__net_init();

    if (rc < 0)
        return rc;
    rc = getaddrinfo(host, service, hints, res);
    return rc == 0 ? 0 : nl__gai_err(rc);
}

int nl__getnameinfo(const struct sockaddr *sa, socklen_t len, char *host, size_t host_size,
                    char *serv, size_t serv_size, int flags)
{
    int rc = nl__net_init();

    if (rc < 0)
        return rc;
    rc = getnameinfo(sa, len, host_size > 0 ? host : NULL, (DWORD)host_size,
                     serv_size > 0 ? serv : NULL, (DWORD)serv_size, flags);
    return rc == 0 ? 0 : nl__gai_err(rc);
}

unsigned nl__if_nametoindex(const char *name)
{
    return if_nametoindex(name);
}

/* No getifaddrs(): the limited broadcast, which Windows sends on every interface. */
void nl__ipv4_broadcasts(void (*each)(const uint8_t addr[4], void *arg), void *arg)
{
    static const uint8_t all[4] = {255, 255, 255, 255};

    each(all, arg);
}

int64_t nl__now_ns(void)
{
    static LARGE_INTEGER freq;
    LARGE_INTEGER now;

    if (freq.QuadPart == 0)
        QueryPerformanceFrequency(&freq); /* the same value every time: a benign race */
    QueryPerformanceCounter(&now);
    return (int64_t)(now.QuadPart / freq.QuadPart) * 1000000000 +
           (int64_t)(now.QuadPart % freq.QuadPart) * 1000000000 / freq.QuadPart;
}

int nl__random(void *buf, size_t len)
{
    unsigned char *p = buf;

    while (len > 0) {
        ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, p, n, BCRYPT_USE_SYSTEM_PREFERRED_RNG))) {
            errno = EIO;
            return -1;
        }
        p += n;
        len -= n;
    }
    return 0;
}
#endif /* _WIN32 */
