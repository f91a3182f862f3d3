/* What UDP and TCP handles share: socket creation, bind, connect with a timeout, waiting with
 * a deadline, and the trace hook. Each system call is retried on EINTR here, once, so the
 * callers never see it. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

void nl__trace_event(nl_trace_event *ev, char args[NL__TRACE_ARGS], const char *call, int fd,
                     long result, int err, const char *fmt, va_list ap)
{
    (void)vsnprintf(args, NL__TRACE_ARGS, fmt, ap); /* a cut trace line is still useful */
    ev->call = call;
    ev->fd = fd;
    ev->args = args;
    ev->result = result;
    ev->err = result < 0 ? err : 0;
}

void nl__trace_call(const nl__sock *s, const char *call, long result, int err, const char *fmt,
                    ...)
{
    char args[NL__TRACE_ARGS];
    nl_trace_event ev;
    va_list ap;
    int saved_errno = errno;

    if (s->trace == NULL)
        return;
    va_start(ap, fmt);
    /* A SOCKET fits an int in practice. */
    nl__trace_event(&ev, args, call, s->fd == NL__NOSOCK ? -1 : (int)s->fd, result, err, fmt, ap);
    va_end(ap);
    s->trace(&ev, s->trace_user);
    /* Callers read errno after tracing a call, and the callback is user code that may well
     * change it (printing does): give them back the system call's errno. */
    errno = saved_errno;
}

static int64_t now_ms(void)
{
    return nl__now_ns() / 1000000;
}

/* -1: no deadline; otherwise the monotonic time at which the wait ends. The start is rounded
 * up to the next whole millisecond: nl__sock_wait() compares against the rounded-down clock,
 * so a start rounded down could end a wait up to 1 ms before timeout_ms had passed. A timeout
 * of 0 means "now" and stays exactly that. */
int64_t nl__deadline(int timeout_ms)
{
    if (timeout_ms < 0)
        return -1;
    if (timeout_ms == 0)
        return now_ms();
    return (nl__now_ns() + 999999) / 1000000 + timeout_ms;
}

/* Wait until the socket is ready for events or the deadline passes. Returns 0 when ready,
 * NL__READ_SHUT when ready because the receive side is shut down (a UDP socket then polls
 * readable while a non-blocking recvfrom() still says EAGAIN: the caller must not just retry),
 * NL_ETIMEDOUT when the deadline passed. */
int nl__sock_wait(const nl__sock *s, short events, int64_t deadline)
{
    struct pollfd pfd = {.fd = s->fd,
                         .events = (short)(events | (events & POLLIN ? NL__POLLRDHUP : 0))};
    int timeout, rc;

    for (;;) {
        if (deadline < 0) {
            timeout = -1;
        } else {
            int64_t left = deadline - now_ms();
            timeout = left <= 0 ? 0 : left > 0x7fffffff ? 0x7fffffff : (int)left;
        }
        rc = nl__poll(&pfd, 1, timeout);
        nl__trace_call(s, "poll", rc, errno, "%s, %d ms", events & POLLIN ? "POLLIN" : "POLLOUT",
                       timeout);
        if (rc > 0) /* readable, writable, or an error the next call will report */
            return (pfd.revents & NL__POLLRDHUP) ? NL__READ_SHUT : 0;
        if (rc == 0) {
            if (deadline >= 0 && now_ms() < deadline)
                continue; /* poll rounds down; do not return early */
            return NL_ETIMEDOUT;
        }
        if (!NL__RETRY_EINTR(s, errno))
            return nl__err(errno);
    }
}

/* The "not ready yet" branch that every call with a timeout shares: NL_EAGAIN for timeout 0;
 * otherwise start the deadline the first time (so a call that never waits never reads the
 * clock) and wait. *deadline starts as NL__DEADLINE_UNSET and is kept across the caller's
 * retries, so the timeout covers the whole call. Returns what nl__sock_wait() returns. */
int nl__sock_await(const nl__sock *s, short events, int timeout_ms, int64_t *deadline)
{
    if (timeout_ms == 0)
        return NL_EAGAIN;
    if (*deadline == NL__DEADLINE_UNSET)
        *deadline = nl__deadline(timeout_ms);
    return nl__sock_wait(s, events, *deadline);
}

static const char *family_name(int family)
{
    return family == NL_AF_INET6 ? "AF_INET6" : "AF_INET";
}

int nl__sock_open(nl__sock *s, int family, int type, const nl_opts *opts)
{
    nl_socket_t fd;
    int err;

    memset(s, 0, sizeof *s);
    s->fd = NL__NOSOCK;
    if (family != NL_AF_INET && family != NL_AF_INET6)
        return NL_EAFNOSUPPORT;
    s->family = family;
    if (opts != NULL) {
        s->trace = opts->trace;
        s->trace_user = opts->trace_user;
        s->return_eintr = opts->return_eintr != 0;
    }
    if ((err = nl__net_init()) < 0)
        return err;
    fd = nl__socket(family, type & ~NL__NONBLOCK, (type & NL__NONBLOCK) != 0);
    err = errno;
    type &= ~NL__NONBLOCK;
    nl__trace_call(s, "socket", fd == NL__NOSOCK ? -1 : (long)fd, err, "%s, %s",
                   family_name(family), type == SOCK_DGRAM ? "SOCK_DGRAM" : "SOCK_STREAM");
    if (fd == NL__NOSOCK)
        return nl__err(err);
    s->fd = fd;
    if (family == NL_AF_INET6) {
        int v6only = opts != NULL && opts->v6only;
        if (nl__setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) < 0)
            goto fail;
    }
    if (opts != NULL && opts->reuseport && nl__reuseport(fd) < 0)
        goto fail;
    return 0;
fail:
    err = nl__err(errno);
    nl__sock_close(s);
    return err;
}

/* Take over a descriptor someone else opened: check that it is a socket of the given type in
 * a family the library knows. Its flags (blocking mode, close-on-exec) are left alone.
 * *listening (may be NULL) tells whether it is a listener (SO_ACCEPTCONN). */
int nl__sock_adopt(nl__sock *s, nl_socket_t fd, int type, const nl_opts *opts, int *listening)
{
    int value = 0;
    socklen_t len = sizeof value;

    memset(s, 0, sizeof *s);
    s->fd = NL__NOSOCK;
    if (NL__SOCK_BAD(fd))
        return NL_EBADF;
    if (nl__getsockopt(fd, SOL_SOCKET, SO_TYPE, &value, &len) < 0)
        return nl__err(errno); /* EBADF, or ENOTSOCK for a file */
    if (value != type)
        return NL_EINVAL;
    if ((value = nl__socket_family(fd)) < 0)
        return nl__err(errno);
    if (listening != NULL) {
        *listening = 0;
        len = sizeof *listening;
        if (nl__getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, listening, &len) < 0)
            return nl__err(errno);
    }
    s->family = value;
    if (opts != NULL) {
        s->trace = opts->trace;
        s->trace_user = opts->trace_user;
    }
    s->fd = fd;
    nl__trace_call(s, "adopt", (long)fd, 0, "%s", family_name(value));
    return 0;
}

int nl__sock_close(nl__sock *s)
{
    nl_socket_t fd = s->fd;
    int rc;

    if (fd == NL__NOSOCK)
        return 0;
    /* close() is not retried on EINTR: on Linux the descriptor is gone either way, and a
     * retry could close a descriptor another thread has just been given. */
    rc = nl__closesocket(fd);
    nl__trace_call(s, "close", rc, errno, "%s", "");
    s->fd = NL__NOSOCK;
    return rc < 0 && errno != EINTR ? nl__err(errno) : 0;
}

int nl__sock_bind(nl__sock *s, const nl_endpoint *ep)
{
    char text[NL_ENDPOINT_STRLEN];
    nl__sockaddr sa;
    socklen_t len;
    int rc, err;

    if (!nl__ep_valid(ep))
        return NL_EINVAL;
    len = nl__ep_to_sockaddr(ep, s->family, &sa);
    if (len == 0)
        return NL_EAFNOSUPPORT;
    rc = bind(s->fd, &sa.sa, len);
    err = errno;
    if (NL__TRACING(s)) {
        /* What the socket got, as getsockname() reports it: for port 0 the port the system
         * chose, which is the one a learner needs to know. The request if bind() failed. */
        nl_endpoint got;
        if (rc < 0 || nl__sock_local(s, &got) < 0)
            got = *ep;
        nl_endpoint_format(&got, text, sizeof text);
        nl__trace_call(s, "bind", rc, err, "%s", text);
    }
    return rc < 0 ? nl__err(err) : 0;
}

/* connect() with a timeout: non-blocking connect, wait for writability, read SO_ERROR.
 * The socket is blocking again afterwards. */
int nl__sock_connect(nl__sock *s, const nl_endpoint *ep, int timeout_ms)
{
    char text[NL_ENDPOINT_STRLEN] = "";
    nl__sockaddr sa;
    socklen_t len, elen;
    int rc, err, nonblock, soerr = 0;

    if (!nl__ep_valid(ep))
        return NL_EINVAL;
    len = nl__ep_to_sockaddr(ep, s->family, &sa);
    if (len == 0)
        return NL_EAFNOSUPPORT;
    if (NL__TRACING(s))
        nl_endpoint_format(ep, text, sizeof text);
    nonblock = nl__nonblock_get(s->fd);
    if (nonblock < 0 || nl__nonblock_set(s->fd, 1) < 0)
        return nl__err(errno);
    rc = nl__connect(s->fd, &sa.sa, len);
    err = errno;
    nl__trace_call(s, "connect", rc, err, "%s", text);
    if (rc < 0 && (err == EINPROGRESS || err == EINTR)) {
        /* EINTR: the handshake goes on in the kernel, exactly as with EINPROGRESS. */
        rc = nl__sock_wait(s, POLLOUT, nl__deadline(timeout_ms));
        if (rc == 0) {
            elen = sizeof soerr;
            if (nl__getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) < 0)
                soerr = errno;
            nl__trace_call(s, "getsockopt", soerr ? -1 : 0, soerr, "SO_ERROR (handshake %s)",
                           soerr ? "failed" : "done");
            rc = soerr ? nl__err(soerr) : 0;
        } else if (rc == NL_ETIMEDOUT && timeout_ms == 0) {
            rc = NL_EAGAIN;
        }
    } else if (rc < 0) {
        rc = nl__err(err);
    }
    if (nl__nonblock_set(s->fd, nonblock) < 0 && rc == 0)
        rc = nl__err(errno);
    return rc;
}

int nl__sock_local(const nl__sock *s, nl_endpoint *out)
{
    nl__sockaddr sa;
    socklen_t len = sizeof sa;

    if (getsockname(s->fd, &sa.sa, &len) < 0)
        return nl__err(errno);
    return nl__ep_from_sockaddr(out, &sa.sa, len);
}

int nl_trace_format(const nl_trace_event *ev, char *buf, size_t size)
{
    char fd[16] = "";
    const char *args, *sep;
    int n;

    if (ev == NULL || buf == NULL || ev->call == NULL)
        return NL_EINVAL;
    /* "call(fd, args) = result", leaving out the fd before socket() has made one. */
    args = ev->args != NULL ? ev->args : "";
    if (ev->fd >= 0)
        (void)snprintf(fd, sizeof fd, "%d", ev->fd); /* an int always fits in 16 bytes */
    sep = ev->fd >= 0 && *args ? ", " : "";
    if (ev->result < 0)
        n = snprintf(buf, size, "%s(%s%s%s) = %ld %s (%s)", ev->call, fd, sep, args, ev->result,
                     nl_err_name(nl__err(ev->err)) + 3, nl_strerror(nl__err(ev->err)));
    else
        n = snprintf(buf, size, "%s(%s%s%s) = %ld", ev->call, fd, sep, args, ev->result);
    if (n < 0)
        return NL_EINVAL;
    return size == 0 ? 0 : (size_t)n >= size ? (int)size - 1 : n;
}
