/* nl_chat_session: the public API, the event queue, the blocking runner and plain mode. The
 * reliable protocol itself lives in chat_proto.c. */
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

void nl__chat_ftrace(nl_chat_session *s, const char *what, const char *fmt, ...)
{
    char args[NL__TRACE_ARGS];
    nl_trace_event ev;
    va_list ap;

    if (s->trace == NULL)
        return;
    va_start(ap, fmt);
    (void)vsnprintf(args, sizeof args, fmt, ap); /* a cut trace line is still useful */
    va_end(ap);
    ev.call = what;
    ev.fd = nl_udp_fd(s->udp);
    ev.args = args;
    ev.result = 0;
    ev.err = 0;
    s->trace(&ev, s->trace_user);
}

const char *nl_chat_event_name(int type)
{
    static const char *const names[] = {"?",         "PEER_JOINED", "MESSAGE",
                                        "DELIVERED", "PEER_LEFT",   "PEER_LOST",
                                        "ERROR",     "CLOSED",      "WARNING"};

    return type >= NL_CHAT_EV_PEER_JOINED && type <= NL_CHAT_EV_WARNING ? names[type] : names[0];
}

/* Queue an event; its data is copied and NUL-terminated. An event that cannot be queued
 * would be a message silently lost, so running out of memory ends the session instead (its
 * CLOSED event needs no memory). */
static int push(nl_chat_session *s, nl_chat_event_type type, int code, uint64_t id,
                const void *data, size_t len);

int nl__chat_push(nl_chat_session *s, nl_chat_event_type type, int code, uint64_t id,
                  const void *data, size_t len)
{
    int rc = push(s, type, code, id, data, len);

    if (rc < 0)
        nl__chat_finish(s, rc);
    return rc;
}

static int push(nl_chat_session *s, nl_chat_event_type type, int code, uint64_t id,
                const void *data, size_t len)
{
    nl__chat_ev *it;
    char *own = NULL;

    if (s->ev_head + s->ev_count == s->ev_cap) {
        if (s->ev_head > 0) {
            memmove(s->evq, s->evq + s->ev_head, s->ev_count * sizeof *s->evq);
            s->ev_head = 0;
        } else {
            size_t cap = s->ev_cap ? s->ev_cap * 2 : 16;
            nl__chat_ev *q = realloc(s->evq, cap * sizeof *q);
            if (q == NULL)
                return NL_ENOMEM;
            s->evq = q;
            s->ev_cap = cap;
        }
    }
    if (data != NULL) {
        own = malloc(len + 1);
        if (own == NULL)
            return NL_ENOMEM;
        memcpy(own, data, len);
        own[len] = '\0';
    }
    it = &s->evq[s->ev_head + s->ev_count++];
    memset(it, 0, sizeof *it);
    it->ev.type = type;
    it->ev.code = code;
    it->ev.msg_id = id;
    it->ev.data = own != NULL ? own : "";
    it->ev.len = own != NULL ? len : 0;
    it->ev.peer = s->peer;
    it->own = own;
    return 0;
}

/* End the session. The CLOSED event is not queued (that could fail for want of memory):
 * step() makes it once every other event has been handed out. */
void nl__chat_finish(nl_chat_session *s, int status)
{
    if (s->state == NL__ST_CLOSED)
        return;
    s->state = NL__ST_CLOSED;
    s->status = status;
    nl__chat_ftrace(s, "chat-closed", "%s", nl_err_name(status));
}

/* Lock onto the peer: from now on the kernel drops datagrams from anyone else, and what was
 * queued before is checked by hand. A failed connect() is not fatal, the check still is. */
void nl__chat_lock_peer(nl_chat_session *s)
{
    if (!s->connected && nl_udp_connect(s->udp, &s->peer) == 0)
        s->connected = 1;
    s->peer_known = 1;
}

/* Send one datagram to the peer (or, before there is one, to the address given). Errors that the
 * protocol absorbs (a full buffer is just a loss, a refused port is a peer not there yet or any
 * more) are returned without fuss; others end the session. */
int nl__chat_sendraw(nl_chat_session *s, const void *buf, size_t len, const nl_endpoint *to)
{
    ssize_t n = nl_udp_send_to(s->udp, buf, len,
                               to != NULL     ? to
                               : s->connected ? NULL
                                              : &s->peer,
                               0);

    if (n >= 0) {
        s->st.datagrams_out++;
        return 0;
    }
    switch (n) {
    case NL_ECONNREFUSED:
        /* An ICMP "port unreachable" for an earlier datagram, reported here instead of to
         * recv(): acted on after this step's input, not in the middle of sending. */
        s->refused = 1;
        return (int)n;
    case NL_EAGAIN:
    case NL_ENOBUFS:
    case NL_EHOSTUNREACH:
    case NL_ENETUNREACH:
    case NL_EHOSTDOWN:
    case NL_ENETDOWN:
    case NL_EPERM: /* a firewall said no: for UDP, a loss like any other */
        return (int)n;
    default:
        nl__chat_push(s, NL_CHAT_EV_ERROR, (int)n, 0, NULL, 0);
        nl__chat_finish(s, (int)n);
        return (int)n;
    }
}

int nl_chat_session_open(nl_chat_session **out, const nl_chat_opts *o)
{
    nl_chat_session *s;
    nl_opts uo = {0};
    size_t name_len = 0;
    int rc, lost_ms;

    if (out == NULL)
        return NL_EINVAL;
    *out = NULL;
    if (o == NULL || o->bind.family == 0 ||
        (o->mode != NL_CHAT_RELIABLE && o->mode != NL_CHAT_PLAIN))
        return NL_EINVAL;
    if (o->key != NULL && o->mode == NL_CHAT_PLAIN)
        return NL_EINVAL;
    if (o->name != NULL && (name_len = strlen(o->name)) > NL_CHAT_NAME_MAX)
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
    s->mode = o->mode;
    s->status = NL_EAGAIN;
    s->trace = o->trace;
    s->trace_user = o->trace_user;
    s->lost_ms = lost_ms;
    /* Unless told otherwise, ping after a quarter of the peer-lost bound (at most 1 s): a
     * PING and its PONG may be lost a few times before a healthy peer counts as lost. */
    s->keepalive_ms = o->keepalive_ms ? o->keepalive_ms : lost_ms / 4 < 1000 ? lost_ms / 4 : 1000;
    s->leave_ms = o->leave_timeout_ms ? o->leave_timeout_ms : 4000;
    s->call_ms = o->call_timeout_ms ? o->call_timeout_ms : 60000;
    if (o->name != NULL)
        memcpy(s->name, o->name, name_len);
    s->name_len = name_len;
    if (o->key != NULL) {
        memcpy(s->key, o->key, NL_CHAT_KEY_BYTES);
        s->has_key = 1;
    }
    uo.trace = o->trace;
    uo.trace_user = o->trace_user;
    rc = nl_udp_open_bound(&s->udp, &o->bind, &uo);
    if (rc < 0)
        goto fail;
    s->state = NL__ST_WAITING;
    if (o->peer.family != 0) {
        s->peer = o->peer;
        nl_endpoint_normalize(&s->peer);
        s->peer_fixed = 1;
        if ((rc = nl_udp_connect(s->udp, &s->peer)) < 0)
            goto fail;
        s->connected = 1;
        s->peer_known = 1;
        if (s->mode == NL_CHAT_PLAIN)
            s->state = NL__ST_OPEN;
    }
    if (s->mode == NL_CHAT_RELIABLE && (rc = nl__chat_proto_start(s, nl__chat_now())) < 0)
        goto fail;
    *out = s;
    return 0;
fail:
    nl_chat_session_close(s);
    return rc;
}

static void release_lent(nl_chat_session *s)
{
    for (size_t i = 0; i < s->lent_count; i++)
        free(s->lent[i]);
    s->lent_count = 0;
}

void nl_chat_session_close(nl_chat_session *s)
{
    if (s == NULL)
        return;
    release_lent(s);
    free(s->lent);
    for (size_t i = 0; i < s->ev_count; i++)
        free(s->evq[s->ev_head + i].own);
    free(s->evq);
    if (s->mode == NL_CHAT_RELIABLE)
        nl__chat_proto_free(s);
#ifdef NETLAB_HAVE_SODIUM
    sodium_memzero(s->key, sizeof s->key);
#else
    memset(s->key, 0, sizeof s->key);
#endif
    nl_udp_close(s->udp);
    free(s);
}

nl_socket_t nl_chat_session_fd(const nl_chat_session *s)
{
    return s == NULL ? (nl_socket_t)NL__FD_EINVAL : nl_udp_fd(s->udp);
}

/* The session's next deadline, as an absolute time, or -1. */
static int64_t next_deadline(const nl_chat_session *s)
{
    if (s->ev_count > 0 || (s->state == NL__ST_CLOSED && !s->closed_reported))
        return 0;
    if (s->state == NL__ST_CLOSED || s->mode == NL_CHAT_PLAIN)
        return -1;
    return nl__chat_proto_deadline(s);
}

int nl_chat_session_next_timeout_ms(const nl_chat_session *s)
{
    int64_t d, left;

    if (s == NULL || (d = next_deadline(s)) < 0)
        return -1;
    if (d == 0)
        return 0;
    left = d - nl__chat_now();
    return left <= 0 ? 0 : left > 0x7fffffff ? 0x7fffffff : (int)left;
}

/* Plain mode: every datagram from the peer is a message, except "q", which ends the chat.
 * One trailing newline (as socat and nc send lines) is not part of the text. */
static void plain_input(nl_chat_session *s, const uint8_t *buf, size_t len, const nl_endpoint *from)
{
    if (s->peer_known && nl_endpoint_compare(from, &s->peer) != 0) {
        s->st.wrong_source++;
        nl__chat_ftrace(s, "drop", "wrong source, %zu bytes", len);
        return;
    }
    if (!s->peer_known) {
        s->peer = *from;
        nl__chat_lock_peer(s);
        s->state = NL__ST_OPEN;
    }
    if (!s->joined) {
        s->joined = 1;
        nl__chat_push(s, NL_CHAT_EV_PEER_JOINED, 0, 0, "", 0);
    }
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    if (len == 1 && buf[0] == 'q') {
        nl__chat_push(s, NL_CHAT_EV_PEER_LEFT, 0, 0, NULL, 0);
        nl__chat_finish(s, 0);
        return;
    }
    s->st.messages_in++;
    nl__chat_push(s, NL_CHAT_EV_MESSAGE, 0, ++s->msgs_in, buf, len);
}

/* Read what is queued on the socket, but at most NL__CHAT_BUDGET datagrams, so that a flood
 * leaves time for the timers and for the caller's other work. */
static void read_datagrams(nl_chat_session *s)
{
    nl_endpoint from;
    ssize_t n;
    int i;

    for (i = 0; i < NL__CHAT_BUDGET && s->state != NL__ST_CLOSED; i++) {
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
            s->st.datagrams_in++;
            s->st.bad_length++;
            continue;
        }
        if (n < 0) {
            nl__chat_push(s, NL_CHAT_EV_ERROR, (int)n, 0, NULL, 0);
            nl__chat_finish(s, (int)n);
            return;
        }
        nl_endpoint_normalize(&from);
        if (s->mode == NL_CHAT_PLAIN) {
            s->st.datagrams_in++;
            plain_input(s, s->rxbuf, (size_t)n, &from);
        } else {
            nl__chat_proto_input(s, s->rxbuf, (size_t)n, &from, nl__chat_now());
        }
    }
    if (i == NL__CHAT_BUDGET)
        s->st.budget_stops++;
}

static int take_events(nl_chat_session *s, nl_chat_event *events, size_t max)
{
    size_t n = 0;

    if (s->lent_cap < max) {
        char **l = realloc(s->lent, max * sizeof *l);
        if (l == NULL)
            return NL_ENOMEM;
        s->lent = l;
        s->lent_cap = max;
    }
    while (n < max && s->ev_count > 0) {
        nl__chat_ev *it = &s->evq[s->ev_head];
        events[n++] = it->ev;
        if (it->own != NULL)
            s->lent[s->lent_count++] = it->own;
        s->ev_head++;
        s->ev_count--;
    }
    if (s->ev_count == 0)
        s->ev_head = 0;
    if (n < max && s->ev_count == 0 && s->state == NL__ST_CLOSED && !s->closed_reported) {
        memset(&events[n], 0, sizeof events[n]);
        events[n].type = NL_CHAT_EV_CLOSED;
        events[n].code = s->status;
        events[n].data = "";
        events[n].peer = s->peer;
        s->closed_reported = 1;
        n++;
    }
    return (int)n;
}

int nl_chat_session_step(nl_chat_session *s, nl_chat_event *events, size_t max, int timeout_ms)
{
    struct pollfd pfd;
    int64_t d;
    int wait;

    if (s == NULL || events == NULL || max == 0)
        return NL_EINVAL;
    release_lent(s);
    if (s->closed_reported)
        return NL_ECLOSED;
    if (s->ev_count == 0 && s->state != NL__ST_CLOSED) {
        d = next_deadline(s);
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
        if (s->refused && s->mode == NL_CHAT_RELIABLE && s->state != NL__ST_CLOSED)
            nl__chat_proto_refused(s, nl__chat_now());
        s->refused = 0;
        if (s->mode == NL_CHAT_RELIABLE && s->state != NL__ST_CLOSED)
            nl__chat_proto_timers(s, nl__chat_now());
    }
    return take_events(s, events, max);
}

int64_t nl_chat_session_send(nl_chat_session *s, const void *text, size_t len)
{
    if (s == NULL || (text == NULL && len > 0))
        return NL_EINVAL;
    if (s->state == NL__ST_CLOSED)
        return NL_ECLOSED;
    if (s->state == NL__ST_LEAVING || s->state == NL__ST_LINGER)
        return NL_ESHUTDOWN;
    if (s->mode == NL_CHAT_PLAIN) {
        int rc;
        if (len > NL_CHAT_PLAIN_MAX)
            return NL_EMSGSIZE;
        if (!s->peer_known)
            return NL_ENOTCONN;
        rc = nl__chat_sendraw(s, text, len, NULL);
        if (rc == 0)
            s->st.messages_out++;
        return rc == NL_EAGAIN || rc == NL_ECONNREFUSED ? 0 : rc;
    }
    if (len > NL_CHAT_MSG_MAX)
        return NL_EMSGSIZE;
    return nl__chat_proto_send(s, text, len, nl__chat_now());
}

size_t nl_chat_session_send_room(const nl_chat_session *s)
{
    if (s == NULL || s->state == NL__ST_CLOSED)
        return 0;
    if (s->mode == NL_CHAT_PLAIN)
        return NL__CHAT_QUEUE_MAX;
    return nl__chat_proto_room(s);
}

int nl_chat_session_leave(nl_chat_session *s)
{
    if (s == NULL)
        return NL_EINVAL;
    if (s->state == NL__ST_CLOSED || s->state == NL__ST_LEAVING)
        return 0;
    if (s->mode == NL_CHAT_PLAIN) {
        /* The notes' programs end on "q"; telling the peer is the plain-mode BYE. */
        if (s->peer_known)
            nl__chat_sendraw(s, "q", 1, NULL);
        nl__chat_finish(s, 0);
        return 0;
    }
    nl__chat_proto_leave(s, nl__chat_now());
    return 0;
}

int nl_chat_session_status(const nl_chat_session *s)
{
    return s == NULL ? NL_EINVAL : s->state == NL__ST_CLOSED ? s->status : NL_EAGAIN;
}

int nl_chat_session_stats(const nl_chat_session *s, nl_chat_stats *out)
{
    if (s == NULL || out == NULL)
        return NL_EINVAL;
    *out = s->st;
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
    if (!s->peer_known)
        return NL_ENOTCONN;
    *out = s->peer;
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
        if (s->closed_reported)
            return s->status;
        struct pollfd p[2] = {{.fd = nl_udp_fd(s->udp), .events = POLLIN}};
        size_t np = 1;
        int rc;

        if (input_on && s->state != NL__ST_CLOSED &&
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
            return s->status;
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
