/* The platform seam: every system call that differs between Linux, the other POSIX systems
 * and Windows goes through here (as libuv has unix/ and win/). lib/unix.c implements it for
 * POSIX (Linux-only calls behind NL__LINUX), lib/win.c for Winsock; Linux-only back ends are
 * lib/linux_*.c, chosen by CMake. The rest of lib/ is portable C11: it has no platform
 * conditional, takes the system's socket headers from here only, and calls the system directly
 * only for what is the same everywhere (bind, listen, getsockname, getpeername, shutdown,
 * inet_pton, inet_ntop, freeaddrinfo, htons/ntohs).
 *
 * Every function has POSIX semantics: on failure it returns -1 (NL__NOSOCK for a socket) and
 * leaves the reason in errno, with Winsock's WSAGetLastError() codes translated to the errno
 * values the NL_E* codes are made of (win.c). Not installed, not part of the API. */
#ifndef NETLAB_PLATFORM_H
#define NETLAB_PLATFORM_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "netlab.h"

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#define NL__NOSOCK    ((nl_socket_t)INVALID_SOCKET)
#define NL__POLLRDHUP 0
#define NL__SHUT_RD   SD_RECEIVE
#define NL__SHUT_WR   SD_SEND
#define NL__SHUT_RDWR SD_BOTH
/* A descriptor no call can take: a SOCKET is unsigned, so only INVALID_SOCKET. */
#define NL__SOCK_BAD(fd) ((fd) == NL__NOSOCK)
/* What an *_fd() getter returns for a NULL handle: INVALID_SOCKET (NL_EINVAL would be a
 * huge unsigned number that could name a real socket). */
#define NL__FD_EINVAL NL__NOSOCK
/* Windows lets a listener bind while old connections sit in TIME_WAIT without asking, and its
 * SO_REUSEADDR would let another socket steal the port: a listener sets nothing. */
#define NL__LISTEN_REUSEADDR 0
/* IF_NAMESIZE of netioapi.h (which needs windows.h): checked in win.c. */
#define NL__IF_NAMESIZE 256
#ifndef ENONET
#define ENONET ENETDOWN
#endif
#ifndef TCP_MAXSEG
#define TCP_MAXSEG 4 /* ws2ipdef.h has it only for newer targets; Windows 10 1607 reads it */
#endif
/* The BSD calls that are the same on Windows except for how they report errors: after one
 * fails, errno holds the translated WSAGetLastError(), as on POSIX. */
int nl__wsa_fail(int rc); /* rc == SOCKET_ERROR: set errno; returns rc */
#define bind(...)        nl__wsa_fail(bind(__VA_ARGS__))
#define listen(...)      nl__wsa_fail(listen(__VA_ARGS__))
#define getsockname(...) nl__wsa_fail(getsockname(__VA_ARGS__))
#define getpeername(...) nl__wsa_fail(getpeername(__VA_ARGS__))
#define shutdown(...)    nl__wsa_fail(shutdown(__VA_ARGS__))
/* For tests linked with the static library only: when set, called before each send/recv call
 * of the seam ("sendto", "recvfrom", "recv"); a non-zero result is a WSA error the call then
 * fails with, without reaching Winsock. Wine cannot produce some errors real Windows gives
 * (WSAECONNRESET on UDP after an ICMP port unreachable): this is how they are tested. */
extern int (*nl__win_fault)(const char *call);
#else
#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#define NL__NOSOCK    (-1)
#define NL__SHUT_RD   SHUT_RD
#define NL__SHUT_WR   SHUT_WR
#define NL__SHUT_RDWR SHUT_RDWR
#define NL__SOCK_BAD(fd) ((fd) < 0)
#define NL__FD_EINVAL    NL_EINVAL
/* A restarted server must be able to bind while old connections sit in TIME_WAIT. */
#define NL__LISTEN_REUSEADDR 1
#define NL__IF_NAMESIZE      IF_NAMESIZE
/* Linux's own calls (epoll, eventfd, accept4, recvmmsg, getrandom, MSG_NOSIGNAL, POLLRDHUP)
 * are used on Linux unless the build forces the portable POSIX path to test it there
 * (cmake -DNETLAB_FORCE_PORTABLE_POSIX=ON). */
#if defined(__linux__) && !defined(NL_PORTABLE_POSIX)
#define NL__LINUX 1
#endif
/* POLLRDHUP is a poll flag, not a call: Linux and FreeBSD have it, and a UDP socket shut down
 * for reading needs it on Linux (it polls readable while recvfrom() says EAGAIN). */
#ifdef POLLRDHUP
#define NL__POLLRDHUP POLLRDHUP
#else
#define NL__POLLRDHUP 0
#endif
#ifndef ENONET
#define ENONET ENETDOWN
#endif
/* Moves a new descriptor numbered 0-2 above 2 (see unix.c). */
int nl__fd_above_stdio(int fd);
#endif

/* NL_AF_* (the library's own constants) <-> the system's AF_*: -1 for anything else. */
int nl__sys_family(int nl_family);
int nl__nl_family(int sys_family);

/* Start the socket layer once (WSAStartup on Windows); 0 or a negative NL_E* code. Every
 * function below that makes a socket calls it. Thread-safe. */
int nl__net_init(void);

/* A socket of SOCK_DGRAM or SOCK_STREAM, close-on-exec, never numbered 0-2, no SIGPIPE where
 * the system can say so per socket (SO_NOSIGPIPE); non-blocking when nonblock. */
nl_socket_t nl__socket(int nl_family, int type, int nonblock);
/* accept(): the new socket close-on-exec, never 0-2, non-blocking when nonblock. */
nl_socket_t nl__accept(nl_socket_t l, struct sockaddr *sa, socklen_t *len, int nonblock);
int nl__closesocket(nl_socket_t fd);
/* connect(): a connection under way fails with EINPROGRESS everywhere. */
int nl__connect(nl_socket_t fd, const struct sockaddr *sa, socklen_t len);
/* SO_REUSEPORT where the system has it; ENOTSUP elsewhere (Windows). */
int nl__reuseport(nl_socket_t fd);

/* send/recv on a blocking or non-blocking socket, without SIGPIPE; dontwait: this call on a
 * blocking socket does not block (EAGAIN instead); pass 0 for a non-blocking socket (on
 * Windows dontwait switches the socket to blocking again after the call). to/from may be NULL.
 * nl__recvfrom() returns the datagram's full length, so a result above cap means it was truncated
 * (cap bytes were stored), and 0 with *fromlen 0 once the receive side is shut down (Linux's
 * answer; Winsock's WSAESHUTDOWN is turned into it). nl__sendto() without a destination on an
 * unconnected datagram socket fails with EDESTADDRREQ everywhere. */
ssize_t nl__sendto(nl_socket_t fd, const void *buf, size_t len, int dontwait,
                   const struct sockaddr *to, socklen_t tolen);
ssize_t nl__recvfrom(nl_socket_t fd, void *buf, size_t cap, int dontwait, struct sockaddr *from,
                     socklen_t *fromlen);
ssize_t nl__recv(nl_socket_t fd, void *buf, size_t cap, int dontwait);

/* The blocking mode: nl__nonblock_get() returns 1, 0 or -1; set takes 1 or 0. */
int nl__nonblock_get(nl_socket_t fd);
int nl__nonblock_set(nl_socket_t fd, int on);

int nl__getsockopt(nl_socket_t fd, int level, int name, void *val, socklen_t *len);
int nl__setsockopt(nl_socket_t fd, int level, int name, const void *val, socklen_t len);
/* The family (NL_AF_*) of a socket, -1 with errno set when it is none or not a socket. */
int nl__socket_family(nl_socket_t fd);

/* poll() over sockets (WSAPoll's contract; select() underneath on Windows). */
int nl__poll(struct pollfd *fds, size_t n, int timeout_ms);

/* A wake-up channel for a poll loop: rfd polls readable after nl__wake_send(). */
int nl__wake_open(nl_socket_t *rfd, nl_socket_t *wfd);
int nl__wake_send(nl_socket_t wfd);
void nl__wake_drain(nl_socket_t rfd);
void nl__wake_close(nl_socket_t rfd, nl_socket_t wfd);

/* getaddrinfo() and getnameinfo(), the socket layer started first: 0, or a negative NL_EAI_*
 * code (NL_E* if the start failed). The system's EAI_* values differ (Winsock's are WSA*
 * errors, and not every system has EAI_NODATA, EAI_ADDRFAMILY or EAI_SYSTEM). */
int nl__getaddrinfo(const char *host, const char *service, const struct addrinfo *hints,
                    struct addrinfo **res);
int nl__getnameinfo(const struct sockaddr *sa, socklen_t len, char *host, size_t host_size,
                    char *serv, size_t serv_size, int flags);
/* The system's EAI_* -> NL_EAI_*, for unix.c and win.c (Winsock's EAI_* are WSA* errors;
 * EAI_NODATA, EAI_ADDRFAMILY and EAI_SYSTEM are not everywhere, and glibc has the first two
 * only with _GNU_SOURCE). */
static inline int nl__gai_err(int rc)
{
    switch (rc) {
    case EAI_NONAME:
        return NL_EAI_NONAME;
    case EAI_AGAIN:
        return NL_EAI_AGAIN;
    case EAI_FAIL:
        return NL_EAI_FAIL;
    case EAI_FAMILY:
        return NL_EAI_FAMILY;
#ifdef EAI_NODATA
    case EAI_NODATA:
        return NL_EAI_NODATA;
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
        return NL_EAI_NODATA;
#endif
    case EAI_MEMORY:
        return NL_EAI_MEMORY;
    case EAI_SERVICE:
        return NL_EAI_SERVICE;
#ifdef EAI_SYSTEM
    case EAI_SYSTEM:
        return NL_EAI_SYSTEM;
#endif
    default:
        return NL_EAI_OTHER;
    }
}
/* if_nametoindex(): the index of the interface called name, 0 when there is none. */
unsigned nl__if_nametoindex(const char *name);
/* Calls each(addr, arg) with every IPv4 broadcast address a datagram should go to to reach all
 * the local networks (addr: 4 bytes, network order): each up IPv4 interface's subnet broadcast
 * (address | ~mask, as an address added without "brd +" has none of its own) on POSIX; the
 * limited broadcast 255.255.255.255 on Windows, which sends it on every interface. None when
 * the interfaces cannot be listed. */
void nl__ipv4_broadcasts(void (*each)(const uint8_t addr[4], void *arg), void *arg);

/* inet_aton(): the short and old IPv4 forms too ("127.1", "0x7f.1"); 1 or 0. */
int nl__inet_aton(const char *text, struct in_addr *out);

/* A descriptor held in reserve so that a server out of descriptors (EMFILE) can free one to
 * accept and drop a client: /dev/null on POSIX, NUL on Windows. -1 with errno set. */
int nl__spare_open(void);
void nl__spare_close(int fd);

/* The monotonic clock in nanoseconds. */
int64_t nl__now_ns(void);
/* len bytes from the system's CSPRNG; 0 or -1 with errno set. */
int nl__random(void *buf, size_t len);

#endif /* NETLAB_PLATFORM_H */
