/* The platform seam for POSIX systems (see platform.h). Linux's own calls are used on Linux
 * (NL__LINUX); every other POSIX system, and Linux built with NETLAB_FORCE_PORTABLE_POSIX,
 * takes the portable path: accept() + fcntl() for accept4(), fcntl() for SOCK_CLOEXEC and
 * SOCK_NONBLOCK, SO_NOSIGPIPE (where it exists) for MSG_NOSIGNAL, recvmsg()'s MSG_TRUNC flag
 * for recvfrom(MSG_TRUNC), getentropy() for getrandom(), a pipe for the eventfd. */
#ifndef _WIN32
#include <fcntl.h>
#include <ifaddrs.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "platform.h"

#ifdef NL__LINUX
#include <sys/eventfd.h>
#include <sys/random.h>
#define NL__MSG_NOSIGNAL MSG_NOSIGNAL
#else
#ifdef MSG_NOSIGNAL
#define NL__MSG_NOSIGNAL MSG_NOSIGNAL /* the BSDs have it too */
#else
#define NL__MSG_NOSIGNAL 0 /* macOS: SO_NOSIGPIPE on the socket instead */
#endif
#endif

int nl__sys_family(int nl_family)
{
    return nl_family == NL_AF_INET ? AF_INET : nl_family == NL_AF_INET6 ? AF_INET6 : -1;
}

int nl__nl_family(int sys_family)
{
    return sys_family == AF_INET ? NL_AF_INET : sys_family == AF_INET6 ? NL_AF_INET6 : -1;
}

int nl__net_init(void)
{
    return 0;
}

/* A new descriptor numbered 0, 1 or 2 means the program's standard input, output or error was
 * closed, and a socket would take its place: the program would read its input from the network
 * or print into a connection. Move such a descriptor above 2 (close-on-exec kept) and close
 * the low number, which then stays closed, as the program left it. Returns the descriptor or
 * -1 with errno set (the low one closed too). */
int nl__fd_above_stdio(int fd)
{
    int moved, err;

    if (fd < 0 || fd > 2)
        return fd;
    moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    err = errno;
    close(fd);
    errno = err;
    return moved;
}

#ifndef NL__LINUX
/* What SOCK_CLOEXEC | SOCK_NONBLOCK and accept4() do in one call, in three. */
static int set_flags(int fd, int nonblock)
{
    int err;

    if (fd < 0)
        return fd;
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
        (nonblock && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)) {
        err = errno;
        close(fd);
        errno = err;
        return -1;
    }
#ifdef SO_NOSIGPIPE
    {
        int one = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
    }
#endif
    return fd;
}
#endif

nl_socket_t nl__socket(int nl_family, int type, int nonblock)
{
    int family = nl__sys_family(nl_family);

    if (family < 0) {
        errno = EAFNOSUPPORT;
        return -1;
    }
#ifdef NL__LINUX
    return nl__fd_above_stdio(
        socket(family, type | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0));
#else
    return nl__fd_above_stdio(set_flags(socket(family, type, 0), nonblock));
#endif
}

nl_socket_t nl__accept(nl_socket_t l, struct sockaddr *sa, socklen_t *len, int nonblock)
{
#ifdef NL__LINUX
    return nl__fd_above_stdio(accept4(l, sa, len, SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0)));
#else
    return nl__fd_above_stdio(set_flags(accept(l, sa, len), nonblock));
#endif
}

int nl__closesocket(nl_socket_t fd)
{
    return close(fd);
}

int nl__connect(nl_socket_t fd, const struct sockaddr *sa, socklen_t len)
{
    return connect(fd, sa, len);
}

int nl__reuseport(nl_socket_t fd)
{
#ifdef SO_REUSEPORT
    int one = 1;
    return setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
#else
    (void)fd;
    errno = ENOTSUP;
    return -1;
#endif
}

ssize_t nl__sendto(nl_socket_t fd, const void *buf, size_t len, int dontwait,
                   const struct sockaddr *to, socklen_t tolen)
{
    int flags = NL__MSG_NOSIGNAL | (dontwait ? MSG_DONTWAIT : 0);
    return to == NULL ? send(fd, buf, len, flags) : sendto(fd, buf, len, flags, to, tolen);
}

ssize_t nl__recvfrom(nl_socket_t fd, void *buf, size_t cap, int dontwait, struct sockaddr *from,
                     socklen_t *fromlen)
{
#ifdef NL__LINUX
    /* MSG_TRUNC makes Linux return the datagram's real length. */
    return recvfrom(fd, buf, cap, MSG_TRUNC | (dontwait ? MSG_DONTWAIT : 0), from, fromlen);
#else
    /* POSIX: recvmsg() flags a cut datagram with MSG_TRUNC in msg_flags; say so by returning
     * more than cap (the real length is not known). */
    struct iovec iov = {.iov_base = buf, .iov_len = cap};
    struct msghdr mh = {0};
    ssize_t n;

    mh.msg_name = from;
    mh.msg_namelen = from != NULL ? *fromlen : 0;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    n = recvmsg(fd, &mh, dontwait ? MSG_DONTWAIT : 0);
    if (from != NULL)
        *fromlen = mh.msg_namelen;
    return n >= 0 && (mh.msg_flags & MSG_TRUNC) ? (ssize_t)cap + 1 : n;
#endif
}

ssize_t nl__recv(nl_socket_t fd, void *buf, size_t cap, int dontwait)
{
    return recv(fd, buf, cap, dontwait ? MSG_DONTWAIT : 0);
}

int nl__nonblock_get(nl_socket_t fd)
{
    int flags = fcntl(fd, F_GETFL);
    return flags < 0 ? -1 : (flags & O_NONBLOCK) != 0;
}

int nl__nonblock_set(nl_socket_t fd, int on)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags < 0)
        return -1;
    return fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK);
}

int nl__getsockopt(nl_socket_t fd, int level, int name, void *val, socklen_t *len)
{
    return getsockopt(fd, level, name, val, len);
}

int nl__setsockopt(nl_socket_t fd, int level, int name, const void *val, socklen_t len)
{
    return setsockopt(fd, level, name, val, len);
}

int nl__socket_family(nl_socket_t fd)
{
    struct sockaddr_storage ss = {0};
    socklen_t len = sizeof ss;
    int family;

    /* getsockname() works on every POSIX system; SO_DOMAIN is Linux and FreeBSD only. */
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -1;
    if ((family = nl__nl_family(ss.ss_family)) < 0)
        errno = EAFNOSUPPORT;
    return family;
}

int nl__poll(struct pollfd *fds, size_t n, int timeout_ms)
{
    return poll(fds, (nfds_t)n, timeout_ms);
}

int nl__wake_open(nl_socket_t *rfd, nl_socket_t *wfd)
{
#ifdef NL__LINUX
    *rfd = *wfd = nl__fd_above_stdio(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    return *rfd < 0 ? -1 : 0;
#else
    int p[2];

    *rfd = *wfd = -1;
    if (pipe(p) < 0)
        return -1;
    *rfd = p[0];
    *wfd = p[1];
    if (fcntl(p[0], F_SETFL, O_NONBLOCK) < 0 || fcntl(p[1], F_SETFL, O_NONBLOCK) < 0 ||
        fcntl(p[0], F_SETFD, FD_CLOEXEC) < 0 || fcntl(p[1], F_SETFD, FD_CLOEXEC) < 0)
        return -1;
    return 0;
#endif
}

int nl__wake_send(nl_socket_t wfd)
{
    uint64_t one = 1; /* an eventfd takes 8 bytes; a pipe takes any */
    return write(wfd, &one, sizeof one) < 0 && errno != EAGAIN ? -1 : 0;
}

void nl__wake_drain(nl_socket_t rfd)
{
    char buf[64];
    ssize_t n;

    do
        n = read(rfd, buf, sizeof buf);
    while (n > 0 || (n < 0 && errno == EINTR));
}

void nl__wake_close(nl_socket_t rfd, nl_socket_t wfd)
{
    if (rfd >= 0)
        close(rfd);
    if (wfd >= 0 && wfd != rfd)
        close(wfd);
}

int nl__spare_open(void)
{
    return nl__fd_above_stdio(open("/dev/null", O_RDONLY | O_CLOEXEC));
}

void nl__spare_close(int fd)
{
    close(fd);
}

int nl__inet_aton(const char *text, struct in_addr *out)
{
    return inet_aton(text, out);
}

int nl__getaddrinfo(const char *host, const char *service, const struct addrinfo *hints,
                    struct addrinfo **res)
{
    int rc = getaddrinfo(host, service, hints, res);

    return rc == 0 ? 0 : nl__gai_err(rc);
}

int nl__getnameinfo(const struct sockaddr *sa, socklen_t len, char *host, size_t host_size,
                    char *serv, size_t serv_size, int flags)
{
    int rc = getnameinfo(sa, len, host_size > 0 ? host : NULL, (socklen_t)host_size,
                         serv_size > 0 ? serv : NULL, (socklen_t)serv_size, flags);

    return rc == 0 ? 0 : nl__gai_err(rc);
}

unsigned nl__if_nametoindex(const char *name)
{
    return if_nametoindex(name);
}

void nl__ipv4_broadcasts(void (*each)(const uint8_t addr[4], void *arg), void *arg)
{
    struct ifaddrs *ifs = NULL;

    if (getifaddrs(&ifs) != 0)
        return;
    for (struct ifaddrs *i = ifs; i != NULL; i = i->ifa_next) {
        struct in_addr bc;
        uint8_t a[4];
        if (!(i->ifa_flags & IFF_BROADCAST) || !(i->ifa_flags & IFF_UP) || i->ifa_addr == NULL ||
            i->ifa_netmask == NULL || i->ifa_addr->sa_family != AF_INET)
            continue;
        bc.s_addr = ((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr.s_addr |
                    ~((struct sockaddr_in *)(void *)i->ifa_netmask)->sin_addr.s_addr;
        memcpy(a, &bc, sizeof a);
        each(a, arg);
    }
    freeifaddrs(ifs);
}

int64_t nl__now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int nl__random(void *buf, size_t len)
{
    unsigned char *p = buf;

    while (len > 0) {
#ifdef NL__LINUX
        ssize_t n = getrandom(p, len, 0);
#else
        /* getentropy(): glibc >= 2.25, macOS, the BSDs; 256 bytes at most per call. */
        ssize_t n = len > 256 ? 256 : (ssize_t)len;
        if (getentropy(p, (size_t)n) < 0)
            n = -1;
#endif
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}
#endif /* !_WIN32 */
