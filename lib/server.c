/* The concurrent TCP server runner: one thread, one event queue, one slot per descriptor.
 *
 * Connections live in an array indexed by their descriptor, so that finding a connection is an
 * index and an idle one costs sizeof(slot) bytes and nothing else. Descriptors are registered
 * level-triggered: a request/response exchange then costs one read and one write per event,
 * where edge-triggered registration would need an extra read that returns EAGAIN.
 *
 * Callbacks may call back into the server (send, disconnect). A connection that must close
 * while a callback runs is only marked and put on a pending list, and closed once the callback
 * has returned, so a callback never sees on_close run underneath it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "evq.h"
#include "internal.h"
#include "netlab/server.h"

#define SV_IN NL__EV_IN
#define SV_OUT NL__EV_OUT
#define SV_ERR NL__EV_ERR

#define ACCEPT_BURST 64       /* accepts per listener event, so clients get served too */
#define ACCEPT_PAUSE_MS 100   /* back-off when accept keeps failing for lack of fds   */
#define MAX_QUEUE (1u << 30)  /* cfg.max_queued limit: queue offsets are 32-bit        */

enum { SLOT_FREE = 0, SLOT_OPEN = 1 };

/* Slot flags. */
#define F_PAUSED 0x01  /* not reading: queue at the cap, or closing after a flush      */
#define F_CLOSING 0x02 /* close once the queue is empty                                */
#define F_DEAD 0x04    /* close as soon as the current callback returns (reason set)   */
#define F_REG_IN 0x08  /* registered for input                                          */
#define F_REG_OUT 0x10 /* registered for output                                         */
#define F_PENDING 0x20 /* on the pending list                                           */

/* One connection. 24 bytes on LP64; no other per-connection user-space memory
 * exists while nothing is queued. */
typedef struct slot {
    char *out;        /* queued output, NULL when nothing is queued            */
    uint32_t out_len; /* bytes in out                                          */
    uint32_t out_off; /* bytes of out already written                          */
    uint32_t last_ms; /* last activity, ms since open (wraps; compared by difference) */
    int16_t reason;   /* why an F_DEAD slot closes                             */
    uint8_t state;    /* SLOT_FREE or SLOT_OPEN                                */
    uint8_t flags;    /* F_*                                                   */
} slot;

struct nl_tcp_server {
    nl_tcp *listener;
    int lfd;
    int spare_fd;            /* kept open so that EMFILE can be answered, -1 if lost */
    nl__sock tr;             /* carries the trace hook; fd set per call             */
    nl_tcp_server_config cfg;
    slot *slots;
    size_t nslots;
    char *rbuf; /* the read buffer all connections share */
    int *pend;  /* connections to close or flush once the callback returns */
    size_t npend, cap_pend;
    int callback_depth;
    int accept_paused;
    uint32_t accept_resume_ms;
    uint32_t next_sweep_ms;
    uint32_t now_ms;
    int64_t t0_ns; /* the monotonic clock at open */
    nl_tcp_server_stats st;
    nl__evq *evq; /* the event queue (evq.h) */
};

#define TRACE(srv, fdv, ...)                                                                       \
    do {                                                                                           \
        if ((srv)->tr.trace != NULL) {                                                             \
            (srv)->tr.fd = (fdv);                                                                  \
            nl__trace_call(&(srv)->tr, __VA_ARGS__);                                               \
        }                                                                                          \
    } while (0)

static void clock_update(nl_tcp_server *srv)
{
    srv->now_ms = (uint32_t)((nl__now_ns() - srv->t0_ns) / 1000000);
}

/* ---- connections ------------------------------------------------------------------------- */

static slot *slot_of(nl_tcp_server *srv, int conn)
{
    if (conn < 0 || (size_t)conn >= srv->nslots || srv->slots[conn].state != SLOT_OPEN)
        return NULL;
    return &srv->slots[conn];
}

static int slots_reserve(nl_tcp_server *srv, int fd)
{
    size_t n = srv->nslots ? srv->nslots : 64;
    slot *p;

    if ((size_t)fd < srv->nslots)
        return 0;
    while (n <= (size_t)fd)
        n *= 2;
    p = realloc(srv->slots, n * sizeof *p);
    if (p == NULL)
        return NL_ENOMEM;
    memset(p + srv->nslots, 0, (n - srv->nslots) * sizeof *p);
    srv->slots = p;
    srv->nslots = n;
    srv->st.slot_bytes = n * sizeof *p;
    return 0;
}

/* Register for what the slot needs now: input unless paused, output while something is
 * queued. Only calls into the kernel when that changes. */
static int slot_update(nl_tcp_server *srv, int fd, slot *s)
{
    unsigned want = (s->flags & F_PAUSED ? 0u : SV_IN) | (s->out_len > s->out_off ? SV_OUT : 0u);
    unsigned have = (s->flags & F_REG_IN ? SV_IN : 0u) | (s->flags & F_REG_OUT ? SV_OUT : 0u);

    if (want == have)
        return 0;
    s->flags = (uint8_t)((s->flags & ~(F_REG_IN | F_REG_OUT)) | (want & SV_IN ? F_REG_IN : 0) |
                         (want & SV_OUT ? F_REG_OUT : 0));
    return nl__evq_mod(srv->evq, fd, want);
}

static void queue_free(nl_tcp_server *srv, slot *s)
{
    srv->st.queued_bytes -= s->out_len - s->out_off;
    free(s->out);
    s->out = NULL;
    s->out_len = s->out_off = 0;
}

static void run_pending(nl_tcp_server *srv);

/* Close one connection and tell the application; what its on_close kills meanwhile is only
 * put on the pending list. Never flushes that list itself: run_pending() loops over it, so
 * a chain of callbacks that each close another connection costs no stack (clang-tidy's
 * misc-no-recursion found the recursion this replaced, one frame per link of the chain). */
static void conn_close_one(nl_tcp_server *srv, int fd, int reason)
{
    slot *s = &srv->slots[fd];
    int rc;

    nl__evq_del(srv->evq, fd);
    rc = nl__closesocket(fd);
    TRACE(srv, fd, "close", rc, errno, "%d", fd);
    queue_free(srv, s);
    memset(s, 0, sizeof *s);
    srv->st.connections--;
    if (srv->cfg.on_close != NULL) {
        srv->callback_depth++;
        srv->cfg.on_close(srv, fd, reason, srv->cfg.user);
        srv->callback_depth--;
    }
}

static void conn_close(nl_tcp_server *srv, int fd, int reason)
{
    conn_close_one(srv, fd, reason);
    if (srv->callback_depth == 0 && srv->npend > 0)
        run_pending(srv);
}


/* Close now, or, inside a callback, once it returns. */
static void conn_kill(nl_tcp_server *srv, int fd, int reason)
{
    slot *s = &srv->slots[fd];

    if (srv->callback_depth == 0) {
        conn_close(srv, fd, reason);
        return;
    }
    if (s->flags & F_DEAD)
        return;
    s->flags |= F_DEAD | F_PAUSED;
    s->reason = (int16_t)reason;
    if (!(s->flags & F_PENDING)) {
        if (srv->npend == srv->cap_pend) {
            size_t cap = srv->cap_pend ? srv->cap_pend * 2 : 16;
            int *p = realloc(srv->pend, cap * sizeof *p);
            if (p == NULL)
                return; /* stays F_DEAD and paused; the next event or sweep closes it */
            srv->pend = p;
            srv->cap_pend = cap;
        }
        s->flags |= F_PENDING;
        srv->pend[srv->npend++] = fd;
    }
}

/* After a callback: close what it killed. */
static void run_pending(nl_tcp_server *srv)
{
    while (srv->npend > 0) {
        int fd = srv->pend[--srv->npend];
        slot *s = &srv->slots[fd];

        s->flags &= (uint8_t)~F_PENDING;
        if (s->state == SLOT_OPEN && (s->flags & F_DEAD))
            conn_close_one(srv, fd, s->reason);
    }
}

/* Queue bytes a write could not take. Called with everything before them already queued. */
static int queue_append(nl_tcp_server *srv, int fd, slot *s, const char *buf, size_t len)
{
    size_t queued = s->out_len - s->out_off;
    char *p;

    if (queued + len > srv->cfg.max_queued) {
        conn_kill(srv, fd, NL_ENOBUFS);
        return NL_ENOBUFS;
    }
    if (s->out_off > 0) { /* compact before growing */
        memmove(s->out, s->out + s->out_off, queued);
        s->out_off = 0;
        s->out_len = (uint32_t)queued;
    }
    p = realloc(s->out, queued + len);
    if (p == NULL) {
        conn_kill(srv, fd, NL_ENOMEM);
        return NL_ENOMEM;
    }
    memcpy(p + queued, buf, len);
    s->out = p;
    s->out_len = (uint32_t)(queued + len);
    srv->st.queued_bytes += len;
    if (s->out_len > srv->st.max_queue_seen)
        srv->st.max_queue_seen = s->out_len;
    if (s->out_len >= srv->cfg.max_queued && !(s->flags & F_PAUSED)) {
        s->flags |= F_PAUSED; /* backpressure: let TCP flow control push back on the client */
        srv->st.paused++;
    }
    return 0;
}

static int conn_send(nl_tcp_server *srv, int fd, slot *s, const char *buf, size_t len)
{
    ssize_t n = 0;
    int rc;

    if (s->flags & F_DEAD)
        return NL_ECLOSED; /* closing: its stream is over */
    if (s->out_len == s->out_off) {
        do
            n = nl__sendto(fd, buf, len, 0, NULL, 0); /* the socket is non-blocking */
        while (n < 0 && errno == EINTR);
        TRACE(srv, fd, "send", (long)n, errno, "%zu bytes", len);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                rc = nl__err(errno);
                conn_kill(srv, fd, rc);
                return rc;
            }
            n = 0;
        }
        s->last_ms = srv->now_ms;
        if ((size_t)n == len)
            return 0;
    }
    if ((rc = queue_append(srv, fd, s, buf + n, len - (size_t)n)) < 0)
        return rc;
    if ((rc = slot_update(srv, fd, s)) < 0)
        conn_kill(srv, fd, rc);
    return rc;
}

/* Write queued output; on the last byte free the queue and resume reading. */
static void conn_flush(nl_tcp_server *srv, int fd, slot *s)
{
    ssize_t n;
    int rc;

    do
        n = nl__sendto(fd, s->out + s->out_off, s->out_len - s->out_off, 0, NULL, 0);
    while (n < 0 && errno == EINTR);
    TRACE(srv, fd, "send", (long)n, errno, "%u queued bytes", s->out_len - s->out_off);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            conn_close(srv, fd, nl__err(errno));
        return;
    }
    s->out_off += (uint32_t)n;
    srv->st.queued_bytes -= (size_t)n;
    s->last_ms = srv->now_ms;
    if (s->out_off < s->out_len)
        return;
    queue_free(srv, s);
    if (s->flags & F_CLOSING) {
        conn_close(srv, fd, 0);
        return;
    }
    s->flags &= (uint8_t)~F_PAUSED;
    if ((rc = slot_update(srv, fd, s)) < 0)
        conn_close(srv, fd, rc);
}

static void conn_read(nl_tcp_server *srv, int fd, slot *s)
{
    size_t room = srv->cfg.max_queued - (s->out_len - s->out_off);
    size_t want = room < srv->cfg.read_size ? room : srv->cfg.read_size;
    ssize_t n;
    int rc;

    /* Reading at most what the queue still has room for means the echo service can never
     * push a queue past the cap: it pauses exactly at it. */
    if (want == 0)
        return;
    do
        n = nl__recv(fd, srv->rbuf, want, 0);
    while (n < 0 && errno == EINTR);
    TRACE(srv, fd, "recv", (long)n, errno, "%zu%s", want, n == 0 ? " (peer closed)" : "");
    if (n > 0) {
        s->last_ms = srv->now_ms;
        srv->callback_depth++;
        srv->cfg.on_data(srv, fd, srv->rbuf, (size_t)n, srv->cfg.user);
        srv->callback_depth--;
        run_pending(srv);
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            conn_close(srv, fd, nl__err(errno));
        return;
    }
    /* The client closed its side: flush what is queued for it, then close. */
    if (s->out_len == s->out_off) {
        conn_close(srv, fd, 0);
        return;
    }
    s->flags |= F_CLOSING | F_PAUSED;
    if ((rc = slot_update(srv, fd, s)) < 0)
        conn_close(srv, fd, rc);
}

static void conn_event(nl_tcp_server *srv, int fd, unsigned events)
{
    slot *s = slot_of(srv, fd);

    /* A stale event: the connection closed earlier in this batch. */
    if (s == NULL)
        return;
    if (s->flags & F_DEAD) {
        conn_close(srv, fd, s->reason);
        return;
    }
    if ((events & (SV_OUT | SV_ERR)) && s->out_len > s->out_off) {
        conn_flush(srv, fd, s);
        if ((s = slot_of(srv, fd)) == NULL)
            return;
    }
    if ((events & (SV_IN | SV_ERR)) && !(s->flags & F_PAUSED))
        conn_read(srv, fd, s);
}

/* ---- accepting --------------------------------------------------------------------------- */

static void accept_pause(nl_tcp_server *srv)
{
    clock_update(srv);
    if (nl__evq_mod(srv->evq, srv->lfd, 0) == 0) {
        srv->accept_paused = 1;
        srv->accept_resume_ms = srv->now_ms + ACCEPT_PAUSE_MS;
    }
}

/* Out of descriptors: close the spare to make room, accept the client and close it at once,
 * so that it learns it was not served instead of waiting in the queue, and so that the
 * listener stops being readable (level-triggered, it would otherwise wake us in a loop). */
static void accept_emfile(nl_tcp_server *srv)
{
    int fd;

    srv->st.emfile++;
    if (srv->spare_fd >= 0) {
        nl__spare_close(srv->spare_fd);
        srv->spare_fd = -1;
        do
            fd = (int)nl__accept(srv->lfd, NULL, NULL, 0);
        while (fd < 0 && (errno == EINTR || errno == ECONNABORTED));
        TRACE(srv, srv->lfd, "accept", fd, errno, "%s", "to drop (out of descriptors)");
        if (fd >= 0) {
            nl__closesocket(fd);
            srv->st.dropped++;
        }
        srv->spare_fd = nl__spare_open();
    }
    /* Without a spare (another thread took the descriptor), back off instead of spinning. */
    if (srv->spare_fd < 0)
        accept_pause(srv);
}

static void accept_one(nl_tcp_server *srv, int fd, const nl__sockaddr *sa, socklen_t salen)
{
    int one = 1;
    slot *s;

    if ((srv->cfg.max_connections > 0 &&
         srv->st.connections >= (size_t)srv->cfg.max_connections) ||
        slots_reserve(srv, fd) < 0) {
        nl__closesocket(fd);
        srv->st.dropped++;
        return;
    }
    if (!srv->cfg.no_nodelay)
        (void)nl__setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    s = &srv->slots[fd];
    memset(s, 0, sizeof *s);
    s->state = SLOT_OPEN;
    s->flags = F_REG_IN;
    s->last_ms = srv->now_ms;
    if (nl__evq_add(srv->evq, fd, SV_IN) < 0) {
        s->state = SLOT_FREE;
        nl__closesocket(fd);
        srv->st.dropped++;
        return;
    }
    srv->st.accepted++;
    srv->st.connections++;
    if (srv->cfg.on_connect != NULL) {
        nl_endpoint peer;
        int rc;

        if (nl__ep_from_sockaddr(&peer, &sa->sa, salen) < 0)
            peer = (nl_endpoint){0};
        srv->callback_depth++;
        rc = srv->cfg.on_connect(srv, fd, &peer, srv->cfg.user);
        srv->callback_depth--;
        if (rc < 0) {
            /* Refused: close without on_close, as documented. */
            nl__evq_del(srv->evq, fd);
            queue_free(srv, s);
            memset(s, 0, sizeof *s);
            nl__closesocket(fd);
            srv->st.connections--;
            run_pending(srv);
            return;
        }
        run_pending(srv);
    }
}

static void accept_ready(nl_tcp_server *srv)
{
    nl__sockaddr sa;
    socklen_t salen;
    int i, fd, err;

    for (i = 0; i < ACCEPT_BURST; i++) {
        salen = sizeof sa;
        fd = (int)nl__accept(srv->lfd, &sa.sa, &salen, 1); /* a SOCKET fits an int */
        err = errno;
        TRACE(srv, srv->lfd, "accept", fd, err, "%s", "");
        if (fd >= 0) {
            accept_one(srv, fd, &sa, salen);
            continue;
        }
        if (err == EINTR || err == ECONNABORTED)
            continue;
        if (err == EMFILE || err == ENFILE)
            accept_emfile(srv);
        else if (err != EAGAIN && err != EWOULDBLOCK)
            accept_pause(srv); /* ENOBUFS, ENOMEM, ...: transient, retry a little later */
        return;
    }
}

/* ---- the loop ---------------------------------------------------------------------------- */

static uint32_t sweep_interval(const nl_tcp_server *srv)
{
    uint32_t iv = (uint32_t)srv->cfg.idle_timeout_ms / 4;
    return iv < 5 ? 5 : iv > 1000 ? 1000 : iv;
}

static void idle_sweep(nl_tcp_server *srv)
{
    uint32_t limit = (uint32_t)srv->cfg.idle_timeout_ms;
    size_t fd;

    for (fd = 0; fd < srv->nslots; fd++) {
        slot *s = &srv->slots[fd];
        if (s->state == SLOT_OPEN && srv->now_ms - s->last_ms >= limit) {
            srv->st.closed_idle++;
            conn_close(srv, (int)fd, NL_ETIMEDOUT);
        }
    }
    srv->next_sweep_ms = srv->now_ms + sweep_interval(srv);
}

/* Milliseconds until the next timer (idle sweep, accept resume), -1 for none. */
static int next_timeout(const nl_tcp_server *srv)
{
    int64_t t = -1, d;

    if (srv->cfg.idle_timeout_ms > 0) {
        d = (int32_t)(srv->next_sweep_ms - srv->now_ms);
        t = d < 0 ? 0 : d;
    }
    if (srv->accept_paused) {
        d = (int32_t)(srv->accept_resume_ms - srv->now_ms);
        d = d < 0 ? 0 : d;
        t = t < 0 || d < t ? d : t;
    }
    return (int)t;
}

static int timers_used(const nl_tcp_server *srv)
{
    return srv->cfg.idle_timeout_ms > 0 || srv->accept_paused;
}

int nl_tcp_server_run(nl_tcp_server *srv)
{
    int n, i, fd, stop = 0;
    unsigned events;

    if (srv == NULL || srv->callback_depth > 0)
        return NL_EINVAL;
    clock_update(srv);
    if (srv->cfg.idle_timeout_ms > 0)
        srv->next_sweep_ms = srv->now_ms + sweep_interval(srv);
    while (!stop) {
        n = nl__evq_wait(srv->evq, next_timeout(srv), &srv->tr);
        if (n == NL_EINTR)
            continue;
        if (n < 0)
            return n;
        srv->st.wakeups++;
        /* The clock is read once per wake-up, and only when some timer needs it. */
        if (timers_used(srv))
            clock_update(srv);
        for (i = 0; i < n; i++) {
            nl__evq_get(srv->evq, i, &fd, &events);
            if (fd < 0) { /* the wake-up channel */
                nl__evq_unwake(srv->evq);
                stop = 1;
            } else if (fd == srv->lfd) {
                accept_ready(srv);
            } else {
                conn_event(srv, fd, events);
            }
        }
        if (srv->accept_paused && (int32_t)(srv->now_ms - srv->accept_resume_ms) >= 0 &&
            nl__evq_mod(srv->evq, srv->lfd, SV_IN) == 0)
            srv->accept_paused = 0;
        if (srv->cfg.idle_timeout_ms > 0 && (int32_t)(srv->now_ms - srv->next_sweep_ms) >= 0)
            idle_sweep(srv);
    }
    return 0;
}

/* ---- public API -------------------------------------------------------------------------- */

int nl_tcp_server_open(nl_tcp_server **out, const nl_endpoint *local,
                       const nl_tcp_server_config *cfg)
{
    nl_tcp_server *srv;
    int rc;

    if (out == NULL)
        return NL_EINVAL;
    *out = NULL;
    if (local == NULL ||
        (cfg != NULL && (cfg->max_queued > MAX_QUEUE || cfg->read_size > MAX_QUEUE ||
                         cfg->idle_timeout_ms < 0 || cfg->max_connections < 0)))
        return NL_EINVAL;
    srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return NL_ENOMEM;
    if (cfg != NULL)
        srv->cfg = *cfg;
    if (srv->cfg.max_queued == 0)
        srv->cfg.max_queued = NL_TCP_SERVER_DEFAULT_QUEUE;
    if (srv->cfg.read_size == 0)
        srv->cfg.read_size = NL_TCP_SERVER_DEFAULT_READ;
    if (srv->cfg.on_data == NULL)
        srv->cfg.on_data = nl_tcp_server_echo;
    srv->lfd = srv->spare_fd = -1;
    srv->t0_ns = nl__now_ns();
    srv->rbuf = malloc(srv->cfg.read_size);
    if (srv->rbuf == NULL) {
        rc = NL_ENOMEM;
        goto fail;
    }
    if ((rc = nl_tcp_listen(&srv->listener, local, srv->cfg.backlog, &srv->cfg.opts)) < 0)
        goto fail;
    srv->lfd = (int)nl_tcp_fd(srv->listener);
    srv->tr.family = local->family;
    srv->tr.trace = srv->cfg.opts.trace;
    srv->tr.trace_user = srv->cfg.opts.trace_user;
    if ((rc = nl__evq_open(&srv->evq, srv->lfd)) < 0)
        goto fail;
    srv->spare_fd = nl__spare_open();
    if (srv->spare_fd < 0) {
        rc = nl__err(errno);
        goto fail;
    }
    *out = srv;
    return 0;
fail:
    nl_tcp_server_close(srv);
    return rc;
}

int nl_tcp_server_local(const nl_tcp_server *srv, nl_endpoint *out)
{
    return srv == NULL ? NL_EINVAL : nl_tcp_local(srv->listener, out);
}

int nl_tcp_server_stop(nl_tcp_server *srv)
{
    return srv == NULL ? NL_EINVAL : nl__evq_wake(srv->evq);
}

int nl_tcp_server_send(nl_tcp_server *srv, int conn, const void *buf, size_t len)
{
    slot *s;

    if (srv == NULL || (s = slot_of(srv, conn)) == NULL || (buf == NULL && len > 0))
        return NL_EINVAL;
    if (len == 0)
        return 0;
    return conn_send(srv, conn, s, buf, len);
}

int nl_tcp_server_disconnect(nl_tcp_server *srv, int conn)
{
    slot *s;
    int rc;

    if (srv == NULL || (s = slot_of(srv, conn)) == NULL)
        return NL_EINVAL;
    if (s->out_len == s->out_off) {
        conn_kill(srv, conn, 0);
        return 0;
    }
    s->flags |= F_CLOSING | F_PAUSED;
    if ((rc = slot_update(srv, conn, s)) < 0)
        conn_kill(srv, conn, rc);
    return 0;
}

int nl_tcp_server_stats_get(const nl_tcp_server *srv, nl_tcp_server_stats *out)
{
    if (srv == NULL || out == NULL)
        return NL_EINVAL;
    *out = srv->st;
    return 0;
}

void nl_tcp_server_echo(nl_tcp_server *srv, int conn, const void *data, size_t len, void *user)
{
    (void)user;
    (void)nl_tcp_server_send(srv, conn, data, len);
}

void nl_tcp_server_close(nl_tcp_server *srv)
{
    size_t fd;

    if (srv == NULL)
        return;
    for (fd = 0; fd < srv->nslots; fd++)
        if (srv->slots[fd].state == SLOT_OPEN)
            conn_close(srv, (int)fd, NL_ECANCELED);
    nl__evq_close(srv->evq);
    if (srv->spare_fd >= 0)
        nl__spare_close(srv->spare_fd);
    nl_tcp_close(srv->listener);
    free(srv->slots);
    free(srv->rbuf);
    free(srv->pend);
    free(srv);
}
