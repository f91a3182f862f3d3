/* UDP sockets. The descriptor stays in blocking mode so that a call with timeout -1 costs
 * exactly one system call, as raw code would; timeouts >= 0 use MSG_DONTWAIT and poll(). */
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

struct nl_udp {
    nl__sock s;
};

int nl_udp_open(nl_udp **out, int family, const nl_opts *opts)
{
    nl_udp *u;
    int rc;

    if (out == NULL)
        return NL_EINVAL;
    *out = NULL;
    u = malloc(sizeof *u);
    if (u == NULL)
        return NL_ENOMEM;
    rc = nl__sock_open(&u->s, family, SOCK_DGRAM, opts);
    if (rc < 0) {
        free(u);
        return rc;
    }
    *out = u;
    return 0;
}

int nl_udp_bind(nl_udp *u, const nl_endpoint *local)
{
    return u == NULL ? NL_EINVAL : nl__sock_bind(&u->s, local);
}

int nl_udp_open_bound(nl_udp **out, const nl_endpoint *local, const nl_opts *opts)
{
    int rc;

    if (out == NULL)
        return NL_EINVAL;
    *out = NULL;
    if (!nl__ep_valid(local))
        return NL_EINVAL;
    rc = nl_udp_open(out, local->family, opts);
    if (rc == 0 && (rc = nl_udp_bind(*out, local)) < 0) {
        nl_udp_close(*out);
        *out = NULL;
    }
    return rc;
}

int nl_udp_connect(nl_udp *u, const nl_endpoint *peer)
{
    /* A UDP connect() never blocks: it only records the peer. */
    return u == NULL ? NL_EINVAL : nl__sock_connect(&u->s, peer, 0);
}

ssize_t nl_udp_send_to(nl_udp *u, const void *buf, size_t len, const nl_endpoint *to,
                       int timeout_ms)
{
    char text[NL_ENDPOINT_STRLEN];
    int64_t deadline = NL__DEADLINE_UNSET;
    nl__sockaddr sa;
    socklen_t salen = 0;
    ssize_t n;
    int err;

    if (u == NULL || (buf == NULL && len > 0) || (to != NULL && !nl__ep_valid(to)))
        return NL_EINVAL;
    if (to != NULL && (salen = nl__ep_to_sockaddr(to, u->s.family, &sa)) == 0)
        return NL_EAFNOSUPPORT;
    if (NL__TRACING(&u->s) && (to == NULL || nl_endpoint_format(to, text, sizeof text) < 0))
        (void)snprintf(text, sizeof text, "connected peer"); /* formatted only when someone looks */
    for (;;) {
        n = nl__sendto(u->s.fd, buf, len, timeout_ms >= 0, to ? &sa.sa : NULL, salen);
        err = errno;
        nl__trace_call(&u->s, "sendto", (long)n, err, "%zu bytes, %s", len, text);
        if (n >= 0)
            return n;
        if (NL__RETRY_EINTR(&u->s, err))
            continue;
        if (err != EAGAIN && err != EWOULDBLOCK)
            return nl__err(err);
        if ((err = nl__sock_await(&u->s, POLLOUT, timeout_ms, &deadline)) < 0)
            return err;
    }
}

ssize_t nl_udp_recv_from(nl_udp *u, void *buf, size_t cap, nl_endpoint *from, int timeout_ms)
{
    char text[NL_ENDPOINT_STRLEN];
    int64_t deadline = NL__DEADLINE_UNSET;
    nl__sockaddr sa;
    socklen_t salen;
    ssize_t n;
    int err, read_shut = 0;

    if (u == NULL || (buf == NULL && cap > 0))
        return NL_EINVAL;
    for (;;) {
        salen = sizeof sa;
        /* More than cap: the datagram was truncated (the seam detects it). */
        n = nl__recvfrom(u->s.fd, buf, cap, timeout_ms >= 0, &sa.sa, &salen);
        err = errno;
        if (NL__TRACING(&u->s)) {
            nl_endpoint ep;
            text[0] = '\0';
            if (n >= 0 && nl__ep_from_sockaddr(&ep, &sa.sa, salen) == 0)
                nl_endpoint_format(&ep, text, sizeof text);
            nl__trace_call(&u->s, "recvfrom", (long)n, err, "%zu%s%s", cap, n >= 0 ? " <- " : "",
                           text);
        }
        if (n >= 0)
            break;
        if (NL__RETRY_EINTR(&u->s, err))
            continue;
        if (err != EAGAIN && err != EWOULDBLOCK)
            return nl__err(err);
        if (read_shut) /* shut down and drained: waiting again would only spin */
            return NL_EOF;
        if ((err = nl__sock_await(&u->s, POLLIN, timeout_ms, &deadline)) < 0)
            return err;
        read_shut = err == NL__READ_SHUT;
    }
    /* A blocking recvfrom() on a socket whose receive side is shut down returns 0 at once with
     * no sender: that is the end of input, not an empty datagram (which always has a sender). */
    if (n == 0 && salen == 0)
        return NL_EOF;
    if (from != NULL && nl__ep_from_sockaddr(from, &sa.sa, salen) < 0)
        *from = (nl_endpoint){0};
    return (size_t)n > cap ? NL_ETRUNC : n;
}

int nl_udp_local(const nl_udp *u, nl_endpoint *out)
{
    return u == NULL || out == NULL ? NL_EINVAL : nl__sock_local(&u->s, out);
}

nl_socket_t nl_udp_fd(const nl_udp *u)
{
    return u == NULL ? (nl_socket_t)NL__FD_EINVAL : u->s.fd;
}

int nl_udp_family(const nl_udp *u)
{
    return u == NULL ? NL_EINVAL : u->s.family;
}

int nl_udp_adopt(nl_udp **out, nl_socket_t fd, const nl_opts *opts)
{
    nl_udp *u;
    int rc;

    if (out == NULL)
        return NL_EINVAL;
    *out = NULL;
    if ((u = malloc(sizeof *u)) == NULL)
        return NL_ENOMEM;
    if ((rc = nl__sock_adopt(&u->s, fd, SOCK_DGRAM, opts, NULL)) < 0) {
        free(u);
        return rc;
    }
    *out = u;
    return 0;
}

nl_socket_t nl_udp_detach(nl_udp *u)
{
    nl_socket_t fd;

    if (u == NULL)
        return (nl_socket_t)NL__FD_EINVAL;
    fd = u->s.fd;
    free(u);
    return fd;
}

int nl_udp_close(nl_udp *u)
{
    int rc;

    if (u == NULL)
        return 0;
    rc = nl__sock_close(&u->s);
    free(u);
    return rc;
}

/* For udp_batch.c, which shares the handle but not its definition. */
const nl__sock *nl__udp_sock(const nl_udp *u)
{
    return &u->s;
}
