/* TCP listeners and connections. Connections stay in blocking mode so that timeout -1 costs
 * one system call per operation; timeouts >= 0 use MSG_DONTWAIT and poll(). Listeners are
 * non-blocking so that accept() never hangs when another thread took the queued client. */
#include <stdlib.h>

#include "internal.h"

struct nl_tcp {
    nl__sock s;
    int listening; /* 1 for a listener: send/recv are refused */
};

static int tcp_new(nl_tcp **out)
{
    if (out == NULL)
        return NL_EINVAL;
    *out = malloc(sizeof **out);
    if (*out == NULL)
        return NL_ENOMEM;
    (*out)->listening = 0;
    (*out)->s.fd = NL__NOSOCK;
    return 0;
}

/* Give up on a half-built handle: close what was opened, free it, report rc. */
static int tcp_abandon(nl_tcp **out, int rc)
{
    nl_tcp_close(*out);
    *out = NULL;
    return rc;
}

int nl_tcp_listen(nl_tcp **out, const nl_endpoint *local, int backlog, const nl_opts *opts)
{
    int rc, one = 1;

    if ((rc = tcp_new(out)) < 0)
        return rc;
    if (!nl__ep_valid(local)) {
        free(*out);
        *out = NULL;
        return NL_EINVAL;
    }
    rc = nl__sock_open(&(*out)->s, local->family, SOCK_STREAM | NL__NONBLOCK, opts);
    if (rc < 0)
        return tcp_abandon(out, rc);
    (*out)->listening = 1;
    /* A restarted server must be able to bind while old connections sit in TIME_WAIT: POSIX
     * needs SO_REUSEADDR for that, Windows nothing (platform.h). */
    if (NL__LISTEN_REUSEADDR) {
        rc = nl__setsockopt((*out)->s.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        nl__trace_call(&(*out)->s, "setsockopt", rc, errno, "SO_REUSEADDR, 1");
        if (rc < 0)
            return tcp_abandon(out, nl__err(errno));
    }
    if ((rc = nl__sock_bind(&(*out)->s, local)) < 0)
        return tcp_abandon(out, rc);
    if (backlog <= 0)
        backlog = SOMAXCONN;
    rc = listen((*out)->s.fd, backlog);
    nl__trace_call(&(*out)->s, "listen", rc, errno, "%d", backlog);
    if (rc < 0)
        return tcp_abandon(out, nl__err(errno));
    return 0;
}

/* Errors that belong to one queued client, not to the listener: that client is gone, so try
 * the next. Linux reports a new connection's pending network error from accept() itself, and
 * accept(2) asks callers to treat these like EAGAIN. */
static int accept_skips(int err)
{
    if (err == ENONET) /* apart: ENONET is ENETDOWN where the system has none (platform.h) */
        return 1;
    switch (err) {
    case ECONNABORTED:
    case EPROTO:
    case ENOPROTOOPT:
    case ENETDOWN:
    case ENETUNREACH:
    case EHOSTDOWN:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
        return 1;
    default:
        return 0;
    }
}

int nl_tcp_accept(nl_tcp *listener, nl_tcp **out, nl_endpoint *peer, int timeout_ms)
{
    char text[NL_ENDPOINT_STRLEN];
    int64_t deadline = NL__DEADLINE_UNSET;
    nl__sockaddr sa;
    socklen_t salen;
    nl_socket_t fd;
    int err, rc;

    if (out != NULL)
        *out = NULL;
    if (listener == NULL || out == NULL || !listener->listening)
        return NL_EINVAL;
    for (;;) {
        salen = sizeof sa;
        fd = nl__accept(listener->s.fd, &sa.sa, &salen, 0);
        err = errno;
        if (NL__TRACING(&listener->s)) {
            nl_endpoint ep;
            text[0] = '\0';
            if (fd != NL__NOSOCK && nl__ep_from_sockaddr(&ep, &sa.sa, salen) == 0)
                nl_endpoint_format(&ep, text, sizeof text);
            nl__trace_call(&listener->s, "accept", fd == NL__NOSOCK ? -1 : (long)fd, err, "%s%s",
                           fd != NL__NOSOCK ? "<- " : "", text);
        }
        if (fd != NL__NOSOCK)
            break;
        if (NL__RETRY_EINTR(&listener->s, err) || accept_skips(err))
            continue;
        if (err != EAGAIN && err != EWOULDBLOCK)
            return nl__err(err);
        if ((rc = nl__sock_await(&listener->s, POLLIN, timeout_ms, &deadline)) < 0)
            return rc;
    }
    if ((rc = tcp_new(out)) < 0) {
        nl__closesocket(fd);
        return rc;
    }
    (*out)->s = listener->s; /* inherit family and trace hook */
    (*out)->s.fd = fd;
    if (peer != NULL && nl__ep_from_sockaddr(peer, &sa.sa, salen) < 0)
        *peer = (nl_endpoint){0};
    return 0;
}

int nl_tcp_connect(nl_tcp **out, const nl_endpoint *remote, int timeout_ms, const nl_opts *opts)
{
    int rc;

    if ((rc = tcp_new(out)) < 0)
        return rc;
    if (!nl__ep_valid(remote)) {
        free(*out);
        *out = NULL;
        return NL_EINVAL;
    }
    if ((rc = nl__sock_open(&(*out)->s, remote->family, SOCK_STREAM, opts)) < 0)
        return tcp_abandon(out, rc);
    if ((rc = nl__sock_connect(&(*out)->s, remote, timeout_ms)) < 0)
        return tcp_abandon(out, rc);
    return 0;
}

int nl_tcp_open(nl_tcp **out, int family, const nl_opts *opts)
{
    int rc;

    if ((rc = tcp_new(out)) < 0)
        return rc;
    if ((rc = nl__sock_open(&(*out)->s, family, SOCK_STREAM, opts)) < 0)
        return tcp_abandon(out, rc);
    return 0;
}

int nl_tcp_bind(nl_tcp *t, const nl_endpoint *local)
{
    return t == NULL ? NL_EINVAL : nl__sock_bind(&t->s, local);
}

int nl_tcp_listen_on(nl_tcp *t, int backlog)
{
    int rc, err, nonblock = 0;

    if (t == NULL)
        return NL_EINVAL;
    if (!t->listening) {
        /* Non-blocking first: a listener that fails to listen stays a plain socket. */
        nonblock = nl__nonblock_get(t->s.fd);
        if (nonblock < 0 || nl__nonblock_set(t->s.fd, 1) < 0)
            return nl__err(errno);
    }
    if (backlog <= 0)
        backlog = SOMAXCONN;
    rc = listen(t->s.fd, backlog);
    err = errno; /* before the trace callback can change it */
    nl__trace_call(&t->s, "listen", rc, err, "%d", backlog);
    if (rc < 0) {
        rc = nl__err(err);
        if (!t->listening)
            (void)nl__nonblock_set(t->s.fd, nonblock);
        return rc;
    }
    t->listening = 1;
    return 0;
}

int nl_tcp_connect_on(nl_tcp *t, const nl_endpoint *remote, int timeout_ms)
{
    int rc;

    if (t == NULL)
        return NL_EINVAL;
    rc = nl__sock_connect(&t->s, remote, timeout_ms);
    /* For timeout 0 nl__sock_connect() reports "not yet" as NL_EAGAIN; here the attempt is
     * kept, so say what connect() itself says about a handshake that is still going on. */
    return rc == NL_EAGAIN && timeout_ms == 0 ? NL_EINPROGRESS : rc;
}

static int check_conn(const nl_tcp *t)
{
    return t == NULL || t->listening ? NL_EINVAL : 0;
}

/* One send() with the timeout rules; the deadline is shared by the callers' loops. */
static ssize_t send_once(nl_tcp *t, const char *buf, size_t len, int timeout_ms,
                         int64_t *deadline)
{
    ssize_t n;
    int err;

    for (;;) {
        n = nl__sendto(t->s.fd, buf, len, timeout_ms >= 0, NULL, 0);
        err = errno;
        nl__trace_call(&t->s, "send", (long)n, err, "%zu bytes", len);
        if (n >= 0)
            return n;
        if (NL__RETRY_EINTR(&t->s, err))
            continue;
        if (err != EAGAIN && err != EWOULDBLOCK)
            return nl__err(err);
        if ((err = nl__sock_await(&t->s, POLLOUT, timeout_ms, deadline)) < 0)
            return err;
    }
}

ssize_t nl_tcp_send(nl_tcp *t, const void *buf, size_t len, int timeout_ms)
{
    int64_t deadline = NL__DEADLINE_UNSET;

    if (check_conn(t) < 0 || (buf == NULL && len > 0))
        return NL_EINVAL;
    if (len == 0)
        return 0;
    return send_once(t, buf, len, timeout_ms, &deadline);
}

/* How many bytes of the rest of a large buffer to hand to one send(): its whole segments.
 *
 * A write that is not a multiple of the MSS ends in a short tail segment. The kernel sends it
 * on its own, or holds it back (autocorking, Nagle) until an ACK returns; the next write then
 * fills that tail first, so every later write ends in a tail too. Each tail is an extra small
 * packet with its own per-packet cost on both sides, an extra ACK, and often a wait. On this
 * loopback (MTU 65,536; MSS 65,483 = 65,536 - 40 - 12 bytes of timestamp option, or 32,741
 * while the peer's window is still small) 65,536-byte writes ran 1.3-5x slower than
 * 65,483-byte ones; see docs/benchmarks.md. So the bulk of a large buffer goes out as a
 * multiple of the current MSS, in one system call, and only the remainder (< 1 MSS) as a
 * tail: one tail per call instead of one per write. The MSS is asked for once per call, not
 * cached for the connection's life: it grows as the connection ramps up, and one getsockopt()
 * is nothing next to copying the buffer. */
static size_t mss_of(const nl_tcp *t)
{
    socklen_t sl = sizeof(int);
    int mss = 0;

    if (nl__getsockopt(t->s.fd, IPPROTO_TCP, TCP_MAXSEG, &mss, &sl) < 0 || mss <= 0)
        return 0;
    return (size_t)mss;
}

int nl_tcp_send_all(nl_tcp *t, const void *buf, size_t len, size_t *sent, int timeout_ms)
{
    size_t mss = 0, want;
    const char *p = buf;
    int64_t deadline = NL__DEADLINE_UNSET;
    size_t done = 0;
    ssize_t n = 0;

    if (sent != NULL)
        *sent = 0;
    if (check_conn(t) < 0 || (buf == NULL && len > 0))
        return NL_EINVAL;
    if (len > 65536) /* small buffers go out whole, in one call, as before */
        mss = mss_of(t);
    while (done < len) {
        want = len - done;
        if (mss > 0 && want > mss)
            want -= want % mss;
        n = send_once(t, p + done, want, timeout_ms, &deadline);
        if (n < 0)
            break;
        done += (size_t)n;
        if (sent != NULL)
            *sent = done;
    }
    return n < 0 ? (int)n : 0;
}

ssize_t nl_tcp_recv(nl_tcp *t, void *buf, size_t cap, int timeout_ms)
{
    int64_t deadline = NL__DEADLINE_UNSET;
    ssize_t n;
    int err;

    if (check_conn(t) < 0 || buf == NULL || cap == 0)
        return NL_EINVAL;
    for (;;) {
        n = nl__recv(t->s.fd, buf, cap, timeout_ms >= 0);
        err = errno;
        nl__trace_call(&t->s, "recv", (long)n, err, "%zu%s", cap, n == 0 ? " (peer closed)" : "");
        if (n > 0)
            return n;
        if (n == 0)
            return NL_EOF;
        if (NL__RETRY_EINTR(&t->s, err))
            continue;
        if (err != EAGAIN && err != EWOULDBLOCK)
            return nl__err(err);
        if ((err = nl__sock_await(&t->s, POLLIN, timeout_ms, &deadline)) < 0)
            return err;
    }
}

int nl_tcp_shutdown(nl_tcp *t, int how)
{
    static const char *names[] = {"SHUT_RD", "SHUT_WR", "SHUT_RDWR"};
    int rc;

    if (t == NULL || how < NL_SHUT_RD || how > NL_SHUT_RDWR)
        return NL_EINVAL;
    rc = shutdown(t->s.fd, how); /* NL_SHUT_* equal SHUT_RD/WR/RDWR and SD_RECEIVE/SEND/BOTH */
    nl__trace_call(&t->s, "shutdown", rc, errno, "%s", names[how]);
    return rc < 0 ? nl__err(errno) : 0;
}

int nl_tcp_set_nodelay(nl_tcp *t, int on)
{
    int v = on ? 1 : 0, rc;

    if (check_conn(t) < 0)
        return NL_EINVAL;
    rc = nl__setsockopt(t->s.fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v);
    nl__trace_call(&t->s, "setsockopt", rc, errno, "TCP_NODELAY, %d", v);
    return rc < 0 ? nl__err(errno) : 0;
}

int nl_tcp_local(const nl_tcp *t, nl_endpoint *out)
{
    return t == NULL || out == NULL ? NL_EINVAL : nl__sock_local(&t->s, out);
}

int nl_tcp_peer(const nl_tcp *t, nl_endpoint *out)
{
    nl__sockaddr sa;
    socklen_t len = sizeof sa;

    if (t == NULL || out == NULL)
        return NL_EINVAL;
    if (getpeername(t->s.fd, &sa.sa, &len) < 0)
        return nl__err(errno);
    return nl__ep_from_sockaddr(out, &sa.sa, len);
}

nl_socket_t nl_tcp_fd(const nl_tcp *t)
{
    return t == NULL ? (nl_socket_t)NL__FD_EINVAL : t->s.fd;
}

int nl_tcp_adopt(nl_tcp **out, nl_socket_t fd, const nl_opts *opts)
{
    int rc, listening = 0;

    if ((rc = tcp_new(out)) < 0)
        return rc;
    if ((rc = nl__sock_adopt(&(*out)->s, fd, SOCK_STREAM, opts, &listening)) < 0) {
        free(*out);
        *out = NULL;
        return rc;
    }
    /* A listener is non-blocking here, whoever made it (see nl_tcp_listen_on()). */
    if (listening && nl__nonblock_set(fd, 1) < 0) {
        rc = nl__err(errno);
        free(*out);
        *out = NULL;
        return rc;
    }
    (*out)->listening = listening;
    return 0;
}

nl_socket_t nl_tcp_detach(nl_tcp *t)
{
    nl_socket_t fd;

    if (t == NULL)
        return (nl_socket_t)NL__FD_EINVAL;
    fd = t->s.fd;
    free(t);
    return fd;
}

int nl_tcp_close(nl_tcp *t)
{
    int rc;

    if (t == NULL)
        return 0;
    rc = nl__sock_close(&t->s);
    free(t);
    return rc;
}
