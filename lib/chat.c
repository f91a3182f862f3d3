/* nl_chat_session: the public API and the blocking runner, a driver over the sans-I/O core
 * (chat_core.c, which holds every protocol decision): it owns the socket, the clock and the
 * random numbers, feeds the core datagrams, commands and the time, and sends what the core
 * gives out. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_int.h"
#include "platform.h"

#ifdef NETLAB_HAVE_SODIUM
#include <sodium.h>
#endif

int64_t nl__chat_now(void)
{
    return nl__now_ns() / 1000000;
}

/* Session and sender ids must be unpredictable: an off-path attacker who could guess them
 * could inject frames into an unkeyed session. The system's CSPRNG (getrandom(), getentropy(),
 * BCryptGenRandom()) through the platform seam. */
int nl__chat_random(void *buf, size_t len)
{
    return nl__random(buf, len) < 0 ? NL_EIO : 0;
}

const char *nl_chat_event_name(int type)
{
    static const char *const names[] = {"?",         "PEER_JOINED", "MESSAGE",
                                        "DELIVERED", "PEER_LEFT",   "PEER_LOST",
                                        "ERROR",     "CLOSED",      "WARNING"};

    return type >= NL_CHAT_EV_PEER_JOINED && type <= NL_CHAT_EV_WARNING ? names[type] : names[0];
}

/* Send errors that are, for UDP, a loss like any other (a full buffer, an unreachable
 * network, a firewall that said no), or (a refused port) news for the protocol. */
static int absorbed(int rc)
{
    switch (rc) {
    case NL_ECONNREFUSED:
    case NL_EAGAIN:
    case NL_ENOBUFS:
    case NL_EHOSTUNREACH:
    case NL_ENETUNREACH:
    case NL_EHOSTDOWN:
    case NL_ENETDOWN:
    case NL_EPERM:
        return 1;
    default:
        return 0;
    }
}

/* Send one datagram to to, or (NULL) to the peer. Errors that the protocol absorbs (a full
 * buffer is just a loss, a refused port is a peer not there yet or any more) are returned
 * without fuss; others end the session. */
static int send_one(nl_chat_session *s, const void *buf, size_t len, const nl_endpoint *to)
{
    nl__chat_core *c = s->core;
    ssize_t n;

    /* The core locked onto its peer: from now on the kernel drops datagrams from anyone
     * else. A failed connect() is not fatal, the core's own check still is. */
    if (!s->connected && c->peer_known && nl_udp_connect(s->udp, &c->peer) == 0)
        s->connected = 1;
    if (to != NULL && s->connected && nl_endpoint_compare(to, &c->peer) == 0)
        to = NULL;
    n = nl_udp_send_to(s->udp, buf, len, to != NULL ? to : s->connected ? NULL : &c->peer, 0);
    if (n >= 0) {
        c->st.datagrams_out++;
        return 0;
    }
    if (n == NL_ECONNREFUSED)
        /* An ICMP "port unreachable" for an earlier datagram, reported here instead of to
         * recv(): acted on after this step's input, not in the middle of sending. */
        s->refused = 1;
    else if (!absorbed((int)n))
        nl__chat_core_fail(c, (int)n);
    return (int)n;
}

/* Send everything the core has queued; after an error that ends the session, the rest is
 * dropped with it. */
static void flush(nl_chat_session *s)
{
    const nl__chat_dgram *d;
    int dead = 0;

    while (nl__chat_core_pop_datagram(s->core, &d)) {
        if (!dead) {
            int rc = send_one(s, d->data, d->len, d->has_to ? &d->to : NULL);
            dead = rc < 0 && !absorbed(rc);
        }
    }
}

/* A random non-zero number of len bytes (4 or 8): zero means "not set" in the frame format. */
static int fresh(void *out, size_t len)
{
    static const uint8_t zero[8];
    int rc;

    do {
        if ((rc = nl__chat_random(out, len)) < 0)
            return rc;
    } while (memcmp(out, zero, len) == 0);
    return 0;
}

int nl_chat_session_open(nl_chat_session **out, const nl_chat_opts *o)
{
    nl_chat_session *s;
    nl__chat_core_cfg cfg = {0};
    nl__chat_core_seed seed = {0};
    nl_opts uo = {0};
    int rc, lost_ms;

    if (out == NULL)
        return NL_EINVAL;
    *out = NULL;
    if (o == NULL || o->bind.family == 0 ||
        (o->mode != NL_CHAT_RELIABLE && o->mode != NL_CHAT_PLAIN))
        return NL_EINVAL;
    if (o->key != NULL && o->mode == NL_CHAT_PLAIN)
        return NL_EINVAL;
    if (o->name != NULL && strlen(o->name) > NL_CHAT_NAME_MAX)
        return NL_EINVAL;
    if (o->keepalive_ms < 0 || o->peer_lost_ms < 0 || o->leave_timeout_ms < 0 ||
        o->call_timeout_ms < -1)
        return NL_EINVAL;
    /* Liveness needs a few keepalives inside the peer-lost bound, and a bound shorter than
     * that cannot be honoured at all: refuse it rather than report healthy peers lost. */
    lost_ms = o->peer_lost_ms ? o->peer_lost_ms : NL_CHAT_PEER_LOST_DEFAULT;
    if (lost_ms < NL_CHAT_PEER_LOST_MIN || (o->keepalive_ms != 0 && o->keepalive_ms * 2 > lost_ms))
        return NL_EINVAL;
    if (o->peer.family != 0 && o->peer.family != o->bind.family && o->bind.family != NL_AF_INET6)
        return NL_EAFNOSUPPORT;
#ifndef NETLAB_HAVE_SODIUM
    if (o->key != NULL)
        return NL_ENOTSUP;
#else
    if (o->key != NULL && sodium_init() < 0)
        return NL_EIO;
#endif
    s = calloc(1, sizeof *s);
    if (s == NULL)
        return NL_ENOMEM;
    uo.trace = o->trace;
    uo.trace_user = o->trace_user;
    rc = nl_udp_open_bound(&s->udp, &o->bind, &uo);
    if (rc < 0)
        goto fail;
    cfg.mode = o->mode;
    cfg.key = o->key;
    cfg.name = o->name;
    cfg.lost_ms = lost_ms;
    /* Unless told otherwise, ping after a quarter of the peer-lost bound (at most 1 s): a
     * PING and its PONG may be lost a few times before a healthy peer counts as lost. */
    cfg.keepalive_ms = o->keepalive_ms ? o->keepalive_ms : lost_ms / 4 < 1000 ? lost_ms / 4 : 1000;
    cfg.leave_ms = o->leave_timeout_ms ? o->leave_timeout_ms : 4000;
    cfg.call_ms = o->call_timeout_ms ? o->call_timeout_ms : 60000;
    cfg.trace = o->trace;
    cfg.trace_user = o->trace_user;
    cfg.trace_fd = nl_udp_fd(s->udp);
    if (o->peer.family != 0) {
        cfg.peer = o->peer;
        nl_endpoint_normalize(&cfg.peer);
        if ((rc = nl_udp_connect(s->udp, &cfg.peer)) < 0)
            goto fail;
        s->connected = 1;
    }
    /* Session and sender ids must be unpredictable: the core gets them from the kernel. */
    if (o->mode == NL_CHAT_RELIABLE &&
        ((rc = fresh(&seed.me, sizeof seed.me)) < 0 ||
         (rc = fresh(&seed.half, sizeof seed.half)) < 0 ||
         (rc = nl__chat_random(seed.cookie_key, sizeof seed.cookie_key)) < 0))
        goto fail;
    rc = nl__chat_core_new(&s->core, &cfg, &seed, nl__chat_now());
    memset(&seed, 0, sizeof seed);
    if (rc < 0)
        goto fail;
    flush(s);
    *out = s;
    return 0;
fail:
    nl_chat_session_close(s);
    return rc;
}

void nl_chat_session_close(nl_chat_session *s)
{
    if (s == NULL)
        return;
    nl__chat_core_free(s->core);
    nl_udp_close(s->udp);
    free(s);
}

nl_socket_t nl_chat_session_fd(const nl_chat_session *s)
{
    return s == NULL ? (nl_socket_t)NL__FD_EINVAL : nl_udp_fd(s->udp);
}

int nl_chat_session_next_timeout_ms(const nl_chat_session *s)
{
    int64_t d, left;

    if (s == NULL || (d = nl__chat_core_deadline(s->core)) < 0)
        return -1;
    if (d == 0)
        return 0;
    left = d - nl__chat_now();
    return left <= 0 ? 0 : left > 0x7fffffff ? 0x7fffffff : (int)left;
}

/* Read what is queued on the socket, but at most NL__CHAT_BUDGET datagrams, so that a flood
 * leaves time for the timers and for the caller's other work. Each goes to the core, and
 * what the core answers goes out before the next is read. */
static void read_datagrams(nl_chat_session *s)
{
    nl__chat_core *c = s->core;
    nl_endpoint from;
    ssize_t n;
    int i;

    for (i = 0; i < NL__CHAT_BUDGET && c->state != NL__ST_CLOSED; i++) {
        n = nl_udp_recv_from(s->udp, s->rxbuf, sizeof s->rxbuf, &from, 0);
        if (n == NL_EAGAIN)
            return;
        if (n == NL_ECONNREFUSED) {
            /* An ICMP "port unreachable" for something we sent: the peer is not (or no
             * longer) there. Only the reliable protocol can make sense of it. */
            s->refused = 1;
            continue;
        }
        if (n == NL_ETRUNC) {
            c->st.datagrams_in++;
            c->st.bad_length++;
            continue;
        }
        if (n < 0) {
            nl__chat_core_fail(c, (int)n);
            return;
        }
        nl_endpoint_normalize(&from);
        nl__chat_core_input(c, s->rxbuf, (size_t)n, &from, nl__chat_now());
        flush(s);
    }
    if (i == NL__CHAT_BUDGET)
        c->st.budget_stops++;
}

int nl_chat_session_step(nl_chat_session *s, nl_chat_event *events, size_t max, int timeout_ms)
{
    struct pollfd pfd;
    int64_t d;
    int wait;

    if (s == NULL || events == NULL || max == 0)
        return NL_EINVAL;
    if (!s->core->closed_reported && s->core->ev_count == 0 && s->core->state != NL__ST_CLOSED) {
        d = nl__chat_core_deadline(s->core);
        wait = timeout_ms;
        if (d >= 0) {
            int64_t left = d - nl__chat_now();
            int t = left <= 0 ? 0 : left > 0x7fffffff ? 0x7fffffff : (int)left;
            if (wait < 0 || t < wait)
                wait = t;
        }
        pfd.fd = nl_udp_fd(s->udp);
        pfd.events = POLLIN;
        /* An interrupted wait simply ends the step early: the caller gets control back to
         * look at whatever the signal meant. */
        if (nl__poll(&pfd, 1, wait) > 0)
            read_datagrams(s);
        if (s->refused)
            nl__chat_core_refused(s->core, nl__chat_now());
        s->refused = 0;
        nl__chat_core_timers(s->core, nl__chat_now());
        flush(s);
    }
    return nl__chat_core_events(s->core, events, max);
}

int64_t nl_chat_session_send(nl_chat_session *s, const void *text, size_t len)
{
    nl__chat_core *c;
    int64_t rc;

    if (s == NULL || (text == NULL && len > 0))
        return NL_EINVAL;
    c = s->core;
    if (c->mode == NL_CHAT_PLAIN && c->state != NL__ST_CLOSED) {
        /* Plain mode has no protocol: the text is the datagram. */
        if (len > NL_CHAT_PLAIN_MAX)
            return NL_EMSGSIZE;
        if (!c->peer_known)
            return NL_ENOTCONN;
        rc = send_one(s, text, len, NULL);
        if (rc == 0)
            c->st.messages_out++;
        return rc == NL_EAGAIN || rc == NL_ECONNREFUSED ? 0 : rc;
    }
    rc = nl__chat_core_send(c, text, len, nl__chat_now());
    flush(s);
    return rc;
}

size_t nl_chat_session_send_room(const nl_chat_session *s)
{
    return s == NULL ? 0 : nl__chat_core_room(s->core);
}

int nl_chat_session_leave(nl_chat_session *s)
{
    if (s == NULL)
        return NL_EINVAL;
    nl__chat_core_leave(s->core, nl__chat_now());
    flush(s);
    return 0;
}

int nl_chat_session_status(const nl_chat_session *s)
{
    return s == NULL ? NL_EINVAL : nl__chat_core_status(s->core);
}

int nl_chat_session_stats(const nl_chat_session *s, nl_chat_stats *out)
{
    if (s == NULL || out == NULL)
        return NL_EINVAL;
    *out = s->core->st;
    return 0;
}

int nl_chat_session_local(const nl_chat_session *s, nl_endpoint *out)
{
    return s == NULL ? NL_EINVAL : nl_udp_local(s->udp, out);
}

int nl_chat_session_peer(const nl_chat_session *s, nl_endpoint *out)
{
    if (s == NULL || out == NULL)
        return NL_EINVAL;
    if (!s->core->peer_known)
        return NL_ENOTCONN;
    *out = s->core->peer;
    return 0;
}

int nl_chat_session_run(nl_chat_session *s, const nl_chat_run_hooks *h)
{
    nl_chat_event evs[16];
    int input_on, n, i;

    if (s == NULL)
        return NL_EINVAL;
    input_on = h != NULL && h->input_fd >= 0 && h->on_input != NULL;
    for (;;) {
        /* A session whose CLOSED event is out has no timer and nothing to wait for: polling
         * it would block for good. */
        if (s->core->closed_reported)
            return s->core->status;
        struct pollfd p[2] = {{.fd = nl_udp_fd(s->udp), .events = POLLIN}};
        size_t np = 1;
        int rc;

        if (input_on && s->core->state != NL__ST_CLOSED &&
            nl_chat_session_send_room(s) >= NL_CHAT_MSG_MAX) {
            p[1].fd = (nl_socket_t)h->input_fd;
            p[1].events = POLLIN;
            np = 2;
        }
        rc = nl__poll(p, np, nl_chat_session_next_timeout_ms(s));
        if (rc < 0 && errno != EINTR)
            return nl__err(errno);
        if (h != NULL && h->on_tick != NULL)
            h->on_tick(s, h->user);
        if (rc > 0 && np == 2 && p[1].revents != 0 && h->on_input(s, h->user) < 0)
            input_on = 0;
        n = nl_chat_session_step(s, evs, sizeof evs / sizeof evs[0], 0);
        if (n == NL_ECLOSED)
            return s->core->status;
        if (n < 0)
            return n; /* no memory to hand out events: nothing sensible left to do */
        for (i = 0; i < n; i++) {
            if (h != NULL && h->on_event != NULL)
                h->on_event(s, &evs[i], h->user);
            if (evs[i].type == NL_CHAT_EV_CLOSED)
                return evs[i].code;
        }
    }
}
