/* The C side of the Python binding; see nlpy.h for why the box exists. */
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "nlpy.h"

struct nlpy_sock {
    pthread_mutex_t mu; /* guards everything below                            */
    int family;         /* NL_AF_INET or NL_AF_INET6                          */
    int type;           /* NLPY_SOCK_STREAM or NLPY_SOCK_DGRAM                */
    nl_udp *udp;        /* the handle: exactly one is set until it is closed */
    nl_tcp *tcp;
    int fd;             /* the handle's descriptor, -1 once close() was called */
    int busy;           /* calls in flight                                    */
    int closing;        /* close() was called                                 */
};

/* Close the library handle; the caller holds the mutex. */
static int close_handle(nlpy_sock *s)
{
    int rc = s->udp != NULL ? nl_udp_close(s->udp) : nl_tcp_close(s->tcp);

    s->udp = NULL;
    s->tcp = NULL;
    return rc;
}

/* The handle's descriptor, for calls in flight: the handle cannot be closed under them. */
static int handle_fd(const nlpy_sock *s)
{
    return s->udp != NULL ? nl_udp_fd(s->udp) : nl_tcp_fd(s->tcp);
}

/* Every call on the handle is bracketed by enter() and leave(). */
static int enter(nlpy_sock *s)
{
    int rc = 0;

    if (s == NULL)
        return NL_EINVAL;
    pthread_mutex_lock(&s->mu);
    if (s->closing)
        rc = NL_EBADF; /* what the stdlib says for a closed socket */
    else
        s->busy++;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* Leave, closing the handle if close() came while the call was in flight; such a call reports
 * NL_EBADF whatever it got, since close() shut the socket down under it. */
static long leave(nlpy_sock *s, long rc)
{
    pthread_mutex_lock(&s->mu);
    if (--s->busy == 0 && s->closing && (s->udp != NULL || s->tcp != NULL))
        (void)close_handle(s);
    if (s->closing)
        rc = NL_EBADF;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

nlpy_rc nlpy_open(nlpy_sock **out, int family, int type)
{
    /* Interruptions come back to us as NL_EINTR, so a blocking call waits in the kernel in one
     * system call and Python still runs its signal handlers at once (PEP 475). */
    const nl_opts opts = {.return_eintr = 1};
    nlpy_sock *s;
    int rc;

    *out = NULL;
    if (type != NLPY_SOCK_STREAM && type != NLPY_SOCK_DGRAM)
        return NL_EINVAL; /* socket() says EINVAL for an unknown type too */
    s = calloc(1, sizeof *s);
    if (s == NULL)
        return NL_ENOMEM;
    if (type == NLPY_SOCK_DGRAM)
        rc = nl_udp_open(&s->udp, family, &opts);
    else
        rc = nl_tcp_open(&s->tcp, family, &opts);
    if (rc < 0) {
        free(s);
        return rc;
    }
    pthread_mutex_init(&s->mu, NULL);
    s->family = family;
    s->type = type;
    s->fd = handle_fd(s);
    *out = s;
    return 0;
}

void nlpy_free(nlpy_sock *s)
{
    if (s == NULL)
        return;
    /* Only the wrapper's destructor calls this: no reference is left, so no call is in
     * flight and the mutex is free. */
    (void)close_handle(s);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

nlpy_rc nlpy_close(nlpy_sock *s)
{
    int rc = 0;

    pthread_mutex_lock(&s->mu);
    if (!s->closing) {
        s->closing = 1;
        if (s->busy == 0)
            rc = close_handle(s);
        else
            /* Wake the calls in flight (a thread blocked in recv, recvfrom or accept): they
             * see NL_EBADF and the last one to leave closes the handle. */
            (void)shutdown(s->fd, SHUT_RDWR);
        s->fd = -1;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int nlpy_fileno(nlpy_sock *s)
{
    int fd;

    pthread_mutex_lock(&s->mu);
    fd = s->fd;
    pthread_mutex_unlock(&s->mu);
    return fd;
}

int nlpy_family(nlpy_sock *s)
{
    return s->family;
}

int nlpy_type(nlpy_sock *s)
{
    return s->type;
}

nlpy_rc nlpy_endpoint(nl_endpoint *out, int family, const char *host, int port,
                      unsigned scope_id)
{
    /* The short IPv4 forms ("127.1") as the stdlib takes them. */
    int rc = nl_endpoint_from_host(out, host, port,
                                   (family == NL_AF_INET6 ? NL_RESOLVE_IPV6 : NL_RESOLVE_IPV4) |
                                       NL_RESOLVE_SHORT_IPV4);

    if (rc == 0 && out->family == NL_AF_INET6 && scope_id != 0)
        out->scope_id = scope_id;
    return rc;
}

nlpy_rc nlpy_bind(nlpy_sock *s, const char *host, int port, unsigned scope_id)
{
    nl_endpoint ep;
    int rc = enter(s);

    if (rc < 0)
        return rc;
    rc = nlpy_endpoint(&ep, s->family, host, port, scope_id);
    if (rc == 0)
        rc = s->udp != NULL ? nl_udp_bind(s->udp, &ep) : nl_tcp_bind(s->tcp, &ep);
    return (nlpy_rc)leave(s, rc);
}

nlpy_rc nlpy_listen(nlpy_sock *s, int backlog)
{
    int rc = enter(s);

    if (rc < 0)
        return rc;
    rc = s->udp != NULL ? NL_ENOTSUP : nl_tcp_listen_on(s->tcp, backlog);
    return (nlpy_rc)leave(s, rc);
}

nlpy_rc nlpy_accept(nlpy_sock *s, int timeout_ms, nlpy_sock **conn, nlpy_addr *peer)
{
    nlpy_sock *c;
    nl_tcp *t = NULL;
    int rc;

    *conn = NULL;
    memset(peer, 0, sizeof *peer);
    if ((rc = enter(s)) < 0)
        return rc;
    peer->sock_family = s->family;
    if (s->udp != NULL)
        return (nlpy_rc)leave(s, NL_ENOTSUP);
    rc = nl_tcp_accept(s->tcp, &t, &peer->ep, timeout_ms);
    if ((rc = (int)leave(s, rc)) < 0) {
        nl_tcp_close(t);
        return rc;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        nl_tcp_close(t);
        return NL_ENOMEM;
    }
    pthread_mutex_init(&c->mu, NULL);
    c->family = s->family;
    c->type = NLPY_SOCK_STREAM;
    c->tcp = t;
    c->fd = nl_tcp_fd(t);
    *conn = c;
    return 0;
}

nlpy_rc nlpy_connect(nlpy_sock *s, const char *host, int port, unsigned scope_id,
                     int timeout_ms)
{
    nl_endpoint ep;
    int rc = enter(s);

    if (rc < 0)
        return rc;
    rc = nlpy_endpoint(&ep, s->family, host, port, scope_id);
    if (rc == 0)
        rc = s->udp != NULL ? nl_udp_connect(s->udp, &ep)
                            : nl_tcp_connect_on(s->tcp, &ep, timeout_ms);
    return (nlpy_rc)leave(s, rc);
}

nlpy_rc nlpy_connect_wait(nlpy_sock *s, int timeout_ms)
{
    struct pollfd pfd;
    socklen_t len = sizeof(int);
    int rc = enter(s), err = 0;

    if (rc < 0)
        return rc;
    pfd.fd = handle_fd(s);
    pfd.events = POLLOUT;
    /* EINTR is not retried here on purpose: Python must get the chance to run its signal
     * handlers (Ctrl-C) before waiting again. */
    rc = poll(&pfd, 1, timeout_ms);
    if (rc < 0)
        rc = errno == EINTR ? NL_EINTR : -errno;
    else if (rc == 0)
        rc = NL_ETIMEDOUT;
    else if (getsockopt(handle_fd(s), SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        rc = -errno;
    else
        rc = -err;
    return (nlpy_rc)leave(s, rc);
}

nlpy_count nlpy_recv(nlpy_sock *s, void *buf, size_t cap, nlpy_addr *from, int timeout_ms)
{
    long n;
    int rc = enter(s);

    if (from != NULL)
        memset(from, 0, sizeof *from);
    if (rc < 0)
        return rc;
    if (from != NULL)
        from->sock_family = s->family;
    if (s->udp != NULL) {
        n = nl_udp_recv_from(s->udp, buf, cap, from != NULL ? &from->ep : NULL, timeout_ms);
        if (n == NL_ETRUNC)
            n = (long)cap; /* the stdlib cuts a long datagram silently; so do we */
        else if (n == NL_EOF)
            n = 0; /* receiving shut down: recvfrom(2) gives 0 and no sender, Python (b'', None) */
    } else if (cap == 0) {
        n = 0; /* recv(0) asks for nothing and gets it at once, as recv(2) does */
    } else {
        n = nl_tcp_recv(s->tcp, buf, cap, timeout_ms);
        if (n == NL_EOF)
            n = 0; /* the peer closed: Python reads b'' */
        else if (n == NL_EINVAL)
            n = NL_ENOTCONN; /* a listener, which recv(2) calls "not connected" */
    }
    return leave(s, n);
}

nlpy_count nlpy_send(nlpy_sock *s, const void *buf, size_t len, int timeout_ms)
{
    long n;
    int rc = enter(s);

    if (rc < 0)
        return rc;
    if (s->udp != NULL)
        n = nl_udp_send_to(s->udp, buf, len, NULL, timeout_ms);
    else if ((n = nl_tcp_send(s->tcp, buf, len, timeout_ms)) == NL_EINVAL)
        n = NL_EPIPE; /* a listener; send(2) says EPIPE for any unconnected stream socket */
    return leave(s, n);
}

nlpy_count nlpy_sendall(nlpy_sock *s, const void *buf, size_t len, int timeout_ms)
{
    size_t sent = 0;
    long n;
    int rc = enter(s);

    if (rc < 0)
        return rc;
    if (s->udp != NULL) {
        n = nl_udp_send_to(s->udp, buf, len, NULL, timeout_ms);
    } else {
        rc = nl_tcp_send_all(s->tcp, buf, len, &sent, timeout_ms);
        if (rc == NL_EINVAL)
            rc = NL_EPIPE;
        if (rc == 0)
            n = (long)len;
        else if ((rc == NL_ETIMEDOUT || rc == NL_EAGAIN || rc == NL_EINTR) && sent > 0)
            n = (long)sent; /* progress: the caller goes on with the rest */
        else
            n = rc;
    }
    return leave(s, n);
}

nlpy_count nlpy_sendto(nlpy_sock *s, const void *buf, size_t len, const char *host, int port,
                       unsigned scope_id, int timeout_ms)
{
    nl_endpoint ep;
    int rc = nlpy_endpoint(&ep, s->family, host, port, scope_id);

    return rc < 0 ? rc : nlpy_sendto_ep(s, buf, len, &ep, timeout_ms);
}

nlpy_count nlpy_sendto_ep(nlpy_sock *s, const void *buf, size_t len, const nl_endpoint *ep,
                          int timeout_ms)
{
    nl_endpoint peer;
    long n;
    int rc = enter(s);

    if (rc < 0)
        return rc;
    if (s->udp != NULL)
        n = nl_udp_send_to(s->udp, buf, len, ep, timeout_ms);
    else
        /* A stream socket takes no destination: Linux ignores it on a connected socket
         * (sendto(2) sends, as the stdlib's sendto() then does) and says EPIPE otherwise. */
        n = nl_tcp_peer(s->tcp, &peer) == 0 ? nl_tcp_send(s->tcp, buf, len, timeout_ms)
                                            : NL_EPIPE;
    return leave(s, n);
}

nlpy_rc nlpy_set_nonblocking(nlpy_sock *s, int on)
{
    int rc = enter(s), flags;

    if (rc < 0)
        return rc;
    flags = fcntl(handle_fd(s), F_GETFL);
    if (flags < 0)
        rc = -errno;
    else if ((flags & O_NONBLOCK) != (on ? O_NONBLOCK : 0) &&
             fcntl(handle_fd(s), F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK) < 0)
        rc = -errno;
    return (nlpy_rc)leave(s, rc);
}

nlpy_rc nlpy_shutdown(nlpy_sock *s, int how)
{
    int rc = enter(s);

    if (rc < 0)
        return rc;
    if (s->tcp != NULL)
        rc = nl_tcp_shutdown(s->tcp, how);
    else if (how < NL_SHUT_RD || how > NL_SHUT_RDWR)
        rc = NL_EINVAL;
    else {
        /* UDP: whatever the kernel says; it shuts the socket down even when it reports
         * ENOTCONN for an unconnected one. */
        rc = shutdown(handle_fd(s), how) < 0 ? -errno : 0;
    }
    return (nlpy_rc)leave(s, rc);
}

nlpy_rc nlpy_getsockname(nlpy_sock *s, nlpy_addr *out)
{
    int rc = enter(s);

    memset(out, 0, sizeof *out);
    if (rc < 0)
        return rc;
    out->sock_family = s->family;
    rc = s->udp != NULL ? nl_udp_local(s->udp, &out->ep) : nl_tcp_local(s->tcp, &out->ep);
    return (nlpy_rc)leave(s, rc);
}

/* The library has no peer query for UDP; read it straight from the kernel. */
static int udp_peer(int fd, nl_endpoint *ep)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;

    memset(ep, 0, sizeof *ep);
    if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
        return -errno;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)&ss;
        ep->family = NL_AF_INET;
        ep->port = ntohs(in4->sin_port);
        memcpy(ep->addr, &in4->sin_addr, 4);
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
        ep->family = NL_AF_INET6;
        ep->port = ntohs(in6->sin6_port);
        memcpy(ep->addr, &in6->sin6_addr, 16);
        ep->scope_id = in6->sin6_scope_id;
        nl_endpoint_normalize(ep);
    } else {
        return NL_EAFNOSUPPORT;
    }
    return 0;
}

nlpy_rc nlpy_getpeername(nlpy_sock *s, nlpy_addr *out)
{
    int rc = enter(s);

    memset(out, 0, sizeof *out);
    if (rc < 0)
        return rc;
    out->sock_family = s->family;
    rc = s->tcp != NULL ? nl_tcp_peer(s->tcp, &out->ep) : udp_peer(handle_fd(s), &out->ep);
    return (nlpy_rc)leave(s, rc);
}

nlpy_rc nlpy_setsockopt_int(nlpy_sock *s, int level, int name, int value)
{
    return nlpy_setsockopt_buf(s, level, name, &value, sizeof value);
}

nlpy_rc nlpy_setsockopt_buf(nlpy_sock *s, int level, int name, const void *buf, size_t len)
{
    int rc = enter(s);

    if (rc < 0)
        return rc;
    rc = setsockopt(handle_fd(s), level, name, buf, (socklen_t)len) < 0 ? -errno : 0;
    return (nlpy_rc)leave(s, rc);
}

nlpy_rc nlpy_getsockopt_int(nlpy_sock *s, int level, int name, int *value)
{
    socklen_t len = sizeof *value;
    int rc = enter(s);

    *value = 0;
    if (rc < 0)
        return rc;
    rc = getsockopt(handle_fd(s), level, name, value, &len) < 0 ? -errno : 0;
    return (nlpy_rc)leave(s, rc);
}

nlpy_count nlpy_getsockopt_buf(nlpy_sock *s, int level, int name, void *buf, size_t cap)
{
    socklen_t len = (socklen_t)cap;
    long n;
    int rc = enter(s);

    if (rc < 0)
        return rc;
    n = getsockopt(handle_fd(s), level, name, buf, &len) < 0 ? -errno : (long)len;
    return leave(s, n);
}

/* ---- Batch UDP ---------------------------------------------------------------------------- */

nlpy_count nlpy_recv_msgs(nlpy_sock *s, nl_udp_msg *msgs, long count, int timeout_ms)
{
    long n;
    int rc;

    if (count < 0)
        return NL_EINVAL;
    if ((rc = enter(s)) < 0)
        return rc;
    if (s->udp == NULL)
        return leave(s, NL_ENOTSUP);
    if (count == 0)
        return leave(s, 0);
    n = (long)nl_udp_recv_batch(s->udp, msgs, (size_t)count, timeout_ms);
    if (n == NL_EOF)
        n = 0; /* receiving shut down: as recvfrom(), nothing rather than an error */
    return leave(s, n);
}

nlpy_count nlpy_recv_batch(nlpy_sock *s, nlpy_rbatch *b, long count, long bufsize,
                           int timeout_ms)
{
    memset(b, 0, sizeof *b);
    if (s == NULL || count < 0 || bufsize < 0)
        return NL_EINVAL;
    b->sock_family = s->family;
    if (count == 0)
        return nlpy_recv_msgs(s, NULL, 0, timeout_ms);
    if ((unsigned long)count > ((size_t)-1 / 2) / sizeof *b->msgs / ((size_t)bufsize + 1))
        return NL_ENOMEM;
    b->msgs = malloc((size_t)count * sizeof *b->msgs);
    b->arena = malloc((size_t)count * (size_t)bufsize + 1);
    if (b->msgs == NULL || b->arena == NULL) {
        nlpy_rbatch_free(b);
        return NL_ENOMEM;
    }
    for (long i = 0; i < count; i++) {
        b->msgs[i].buf = b->arena + (size_t)i * (size_t)bufsize;
        b->msgs[i].cap = (size_t)bufsize;
    }
    return nlpy_recv_msgs(s, b->msgs, count, timeout_ms);
}

void nlpy_rbatch_free(nlpy_rbatch *b)
{
    free(b->msgs);
    free(b->arena);
    b->msgs = NULL;
    b->arena = NULL;
}

/* Destinations are made in chunks on the stack, so that a long list needs no allocation. */
#define SEND_CHUNK NL_UDP_BATCH_MAX

nlpy_count nlpy_send_batch(nlpy_sock *s, const nlpy_sitem *items, size_t count, int timeout_ms)
{
    nl_udp_msg m[SEND_CHUNK];
    size_t done = 0;
    long n = 0;
    int rc;

    if ((rc = enter(s)) < 0)
        return rc;
    if (s->udp == NULL)
        return leave(s, NL_ENOTSUP);
    memset(m, 0, sizeof m);
    while (done < count) {
        size_t k = 0, want = count - done < SEND_CHUNK ? count - done : SEND_CHUNK;
        int bad = 0;

        for (; k < want; k++) {
            const nlpy_sitem *it = &items[done + k];
            const nlpy_sitem *prev = done + k > 0 ? it - 1 : NULL;

            m[k].buf = (void *)(uintptr_t)it->buf;
            m[k].len = it->len;
            if (it->host == NULL) {
                memset(&m[k].peer, 0, sizeof m[k].peer);
            } else if (k > 0 && prev->host != NULL && prev->port == it->port &&
                       prev->scope_id == it->scope_id && strcmp(prev->host, it->host) == 0) {
                m[k].peer = m[k - 1].peer;
            } else if ((rc = nlpy_endpoint(&m[k].peer, s->family, it->host, it->port,
                                           it->scope_id)) < 0) {
                bad = 1;
                break;
            }
        }
        if (k > 0) {
            /* Only the first system call may wait; later ones take what fits. */
            n = (long)nl_udp_send_batch(s->udp, m, k, done == 0 ? timeout_ms : 0);
            if (n < 0)
                break;
            done += (size_t)n;
            if ((size_t)n < k)
                break;
        }
        if (bad) {
            n = rc;
            break;
        }
    }
    return leave(s, done > 0 ? (long)done : n);
}

/* ---- Descriptors: socket(fileno=...), detach() -------------------------------------------- */

/* The family of a socket descriptor (the library checked it is AF_INET or AF_INET6). */
static int nlpy_domain(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;

    memset(&ss, 0, sizeof ss);
    (void)getsockname(fd, (struct sockaddr *)&ss, &len);
    return ss.ss_family;
}

nlpy_rc nlpy_adopt(nlpy_sock **out, int fd)
{
    /* As nlpy_open(): interruptions come back as NL_EINTR (PEP 475). */
    const nl_opts opts = {.return_eintr = 1};
    nlpy_sock *s;
    int type = 0, rc;
    socklen_t len = sizeof type;

    *out = NULL;
    if (fd < 0)
        return NL_EBADF;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
        return -errno;
    if (type != NLPY_SOCK_STREAM && type != NLPY_SOCK_DGRAM)
        return NL_EINVAL;
    s = calloc(1, sizeof *s);
    if (s == NULL)
        return NL_ENOMEM;
    if (type == NLPY_SOCK_DGRAM)
        rc = nl_udp_adopt(&s->udp, fd, &opts);
    else
        rc = nl_tcp_adopt(&s->tcp, fd, &opts);
    if (rc < 0) {
        free(s);
        return rc;
    }
    pthread_mutex_init(&s->mu, NULL);
    s->family = s->udp != NULL ? nl_udp_family(s->udp) : nlpy_domain(fd);
    s->type = type;
    s->fd = fd;
    *out = s;
    return 0;
}

nlpy_rc nlpy_detach(nlpy_sock *s)
{
    int fd = -1;

    pthread_mutex_lock(&s->mu);
    if (s->closing || s->busy > 0) {
        /* Closed: nothing to give; calls in flight still use the descriptor. */
        fd = s->closing ? -1 : NL_EBUSY;
    } else {
        s->closing = 1;
        fd = s->udp != NULL ? nl_udp_detach(s->udp) : nl_tcp_detach(s->tcp);
        s->udp = NULL;
        s->tcp = NULL;
        s->fd = -1;
    }
    pthread_mutex_unlock(&s->mu);
    return fd;
}
