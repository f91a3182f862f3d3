/* Small helpers shared by the unit tests: clocks, loopback endpoints, descriptor counts.
 * Header-only (static functions) so each test stays one self-contained executable. */
#ifndef NETLAB_TESTUTIL_H
#define NETLAB_TESTUTIL_H

#include <dirent.h>
#include <stdint.h>
#include <time.h>

#include <netlab.h>

/* The socket headers: Winsock's on Windows (mingw-w64, the tests run under wine). */
#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#define SHUT_RD SD_RECEIVE
#define SHUT_WR SD_SEND
#define TU_FD_EINVAL ((nl_socket_t)INVALID_SOCKET) /* what nl_*_fd(NULL) returns */
#else
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#define TU_FD_EINVAL NL_EINVAL
#endif

/* Monotonic time in nanoseconds, to measure timeouts more finely than the library does. */
static inline int64_t tu_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A loopback endpoint of the given family with the given port (0: let the OS pick). */
static inline nl_endpoint tu_loopback(int family, int port)
{
    nl_endpoint ep;
    int rc = nl_endpoint_parse(&ep, family == NL_AF_INET6 ? "::1" : "127.0.0.1", port);

    return rc == 0 ? ep : (nl_endpoint){0};
}

/* Whether a child process would inherit the socket: without FD_CLOEXEC on POSIX, with
 * HANDLE_FLAG_INHERIT on Windows. -1 when that cannot be told. */
static inline int tu_inherited(nl_socket_t fd)
{
#ifdef _WIN32
    DWORD flags;
    return GetHandleInformation((HANDLE)fd, &flags) ? (flags & HANDLE_FLAG_INHERIT) != 0 : -1;
#else
    int flags = fcntl(fd, F_GETFD);
    return flags < 0 ? -1 : !(flags & FD_CLOEXEC);
#endif
}

/* How many descriptors this process has open, to prove that failure paths leak none.
 * Returns -1 when /proc is not available, and on Windows: there are no descriptors to count
 * there, and under wine /proc/self/fd lists wine's own Unix descriptors, which its threads
 * open and close at any moment (test_capture once saw 231 then 232 across a call that opens
 * nothing). */
static inline int tu_count_fds(void)
{
#ifdef _WIN32
    return -1;
#endif
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory stream's own descriptor */
}

#endif /* NETLAB_TESTUTIL_H */
