/* The C side of netlab.ChatSession; see nlpy_chat.h for why the box exists. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, pipe, fcntl under -std=c11 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nlpy_chat.h"

struct nlpy_chat {
    pthread_mutex_t mu; /* guards everything below, and every call on s            */
    nl_chat_session *s; /* the session; NULL once closed                           */
    int family;         /* NL_AF_INET or NL_AF_INET6                               */
    int fd;             /* the session's descriptor, -1 once close() was called   */
    int sfd;            /* the same, for step's poll: never changes               */
    int wake[2];        /* a pipe: a byte in it wakes a thread waiting in step     */
    int busy;           /* calls in flight                                         */
    int closing;        /* close() was called                                      */
};

/* Free the session and the wake-up pipe: close() gives back every descriptor at once (or,
 * with calls in flight, when the last one leaves), as a socket's close() does. */
static void close_session(nlpy_chat *c)
{
    nl_chat_session_close(c->s);
    c->s = NULL;
    for (int i = 0; i < 2; i++) {
        if (c->wake[i] >= 0)
            close(c->wake[i]);
        c->wake[i] = -1;
    }
}

static int enter(nlpy_chat *c)
{
    int rc = 0;

    pthread_mutex_lock(&c->mu);
    if (c->closing)
        rc = NL_EBADF;
    else
        c->busy++;
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* Leave a call; the mutex is not held. The last call to leave after close() frees the
 * session, and such calls report NL_EBADF, as for sockets. */
static long leave(nlpy_chat *c, long rc)
{
    pthread_mutex_lock(&c->mu);
    if (--c->busy == 0 && c->closing && c->s != NULL)
        close_session(c);
    if (c->closing)
        rc = NL_EBADF;
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* Wake a thread waiting in step. The pipe is non-blocking: when it is full, a wake-up is
 * already pending, which is all that matters. */
static void wake(nlpy_chat *c)
{
    char b = 1;
    ssize_t r;

    do
        r = write(c->wake[1], &b, 1);
    while (r < 0 && errno == EINTR);
}

static void drain(int fd)
{
    char buf[64];

    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r > 0 || (r < 0 && errno == EINTR))
            continue;
        break;
    }
}

static int make_pipe(int p[2])
{
    if (pipe(p) < 0)
        return -errno;
    for (int i = 0; i < 2; i++) {
        if (fcntl(p[i], F_SETFL, O_NONBLOCK) < 0 || fcntl(p[i], F_SETFD, FD_CLOEXEC) < 0) {
            int e = -errno;
            close(p[0]);
            close(p[1]);
            return e;
        }
    }
    return 0;
}

nlpy_rc nlpy_chat_open(nlpy_chat **out, int family, int plain, const char *bind_host,
                       int bind_port, unsigned bind_scope, const char *peer_host, int peer_port,
                       unsigned peer_scope, const void *key, size_t key_len, const char *name,
                       int keepalive_ms, int peer_lost_ms, int leave_timeout_ms)
{
    nl_chat_opts o;
    nlpy_chat *c;
    int rc;

    *out = NULL;
    memset(&o, 0, sizeof o);
    o.mode = plain ? NL_CHAT_PLAIN : NL_CHAT_RELIABLE;
    if ((rc = nlpy_endpoint(&o.bind, family, bind_host, bind_port, bind_scope)) < 0)
        return rc;
    if (peer_host != NULL &&
        (rc = nlpy_endpoint(&o.peer, family, peer_host, peer_port, peer_scope)) < 0)
        return rc;
    if (key_len > 0 && key_len != NL_CHAT_KEY_BYTES)
        return NL_EINVAL;
    o.key = key_len > 0 ? key : NULL;
    o.name = name;
    o.keepalive_ms = keepalive_ms;
    o.peer_lost_ms = peer_lost_ms;
    o.leave_timeout_ms = leave_timeout_ms;
    c = calloc(1, sizeof *c);
    if (c == NULL)
        return NL_ENOMEM;
    if ((rc = make_pipe(c->wake)) < 0) {
        free(c);
        return rc;
    }
    if ((rc = nl_chat_session_open(&c->s, &o)) < 0) {
        close(c->wake[0]);
        close(c->wake[1]);
        free(c);
        return rc;
    }
    pthread_mutex_init(&c->mu, NULL);
    c->family = family;
    c->fd = c->sfd = nl_chat_session_fd(c->s);
    *out = c;
    return 0;
}

void nlpy_chat_free(nlpy_chat *c)
{
    if (c == NULL)
        return;
    close_session(c);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

nlpy_rc nlpy_chat_close(nlpy_chat *c)
{
    pthread_mutex_lock(&c->mu);
    if (!c->closing) {
        c->closing = 1;
        c->fd = -1;
        if (c->busy == 0)
            close_session(c);
        else
            wake(c); /* the waiting stepper sees closing and leaves; the last one frees */
    }
    pthread_mutex_unlock(&c->mu);
    return 0;
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Copy the events out of the session: their data lives in the session only until its next
 * step, which another thread may run as soon as we unlock. */
static int copy_events(nlpy_chat_events *out, const nl_chat_event *ev, int n)
{
    size_t total = 0, at = 0;

    for (int i = 0; i < n; i++)
        total += ev[i].data != NULL ? ev[i].len + 1 : 0;
    if (total > 0 && (out->store = malloc(total)) == NULL)
        return NL_ENOMEM;
    for (int i = 0; i < n; i++) {
        nlpy_chat_ev *e = &out->ev[i];
        e->type = (int)ev[i].type;
        e->code = ev[i].code;
        e->msg_id = ev[i].msg_id;
        e->peer = ev[i].peer;
        e->len = ev[i].len;
        e->data = NULL;
        if (ev[i].data != NULL) {
            memcpy(out->store + at, ev[i].data, ev[i].len);
            out->store[at + ev[i].len] = '\0';
            e->data = out->store + at;
            at += ev[i].len + 1;
        }
    }
    out->n = n;
    return n;
}

nlpy_count nlpy_chat_step(nlpy_chat *c, nlpy_chat_events *out, int timeout_ms)
{
    nl_chat_event ev[NLPY_CHAT_EVENTS];
    long long deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
    int rc = enter(c), n, next;

    memset(out, 0, sizeof *out);
    out->sock_family = c->family;
    if (rc < 0)
        return rc;
    for (;;) {
        struct pollfd pfd[2];
        int wait = timeout_ms;

        pthread_mutex_lock(&c->mu);
        n = c->closing ? NL_EBADF : nl_chat_session_step(c->s, ev, NLPY_CHAT_EVENTS, 0);
        if (n > 0)
            n = copy_events(out, ev, n);
        next = n == 0 ? nl_chat_session_next_timeout_ms(c->s) : 0;
        pthread_mutex_unlock(&c->mu);
        if (n != 0 || timeout_ms == 0)
            break;
        if (timeout_ms > 0) {
            long long left = deadline - now_ms();
            if (left <= 0)
                break;
            wait = (int)left;
        }
        if (next >= 0 && (wait < 0 || next < wait))
            wait = next;
        pfd[0].fd = c->sfd;
        pfd[0].events = POLLIN;
        pfd[1].fd = c->wake[0];
        pfd[1].events = POLLIN;
        /* EINTR ends the call (with no events) on purpose: Python runs its signal handlers
         * (Ctrl-C) before it waits again. */
        if (poll(pfd, 2, wait) < 0) {
            if (errno != EINTR)
                n = -errno;
            break;
        }
        if (pfd[1].revents & POLLIN)
            drain(c->wake[0]);
    }
    return leave(c, n);
}

void nlpy_chat_events_free(nlpy_chat_events *out)
{
    free(out->store);
    out->store = NULL;
    out->n = 0;
}

nlpy_count nlpy_chat_send(nlpy_chat *c, const void *buf, size_t len)
{
    long n;
    int rc = enter(c);

    if (rc < 0)
        return rc;
    pthread_mutex_lock(&c->mu);
    n = (long)nl_chat_session_send(c->s, buf, len);
    wake(c);
    pthread_mutex_unlock(&c->mu);
    return leave(c, n);
}

nlpy_rc nlpy_chat_leave(nlpy_chat *c)
{
    int rc = enter(c);

    if (rc < 0)
        return rc;
    pthread_mutex_lock(&c->mu);
    rc = nl_chat_session_leave(c->s);
    wake(c);
    pthread_mutex_unlock(&c->mu);
    return (nlpy_rc)leave(c, rc);
}

nlpy_rc nlpy_chat_status(nlpy_chat *c, int *status)
{
    int rc = enter(c);

    *status = NL_EAGAIN;
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&c->mu);
    *status = nl_chat_session_status(c->s);
    pthread_mutex_unlock(&c->mu);
    return (nlpy_rc)leave(c, 0);
}

nlpy_rc nlpy_chat_stats(nlpy_chat *c, nl_chat_stats *out)
{
    int rc = enter(c);

    memset(out, 0, sizeof *out);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&c->mu);
    rc = nl_chat_session_stats(c->s, out);
    pthread_mutex_unlock(&c->mu);
    return (nlpy_rc)leave(c, rc);
}

/* The local or the peer's endpoint, read under the session's lock. */
static nlpy_rc chat_endpoint(nlpy_chat *c, nlpy_addr *out,
                             int (*get)(const nl_chat_session *, nl_endpoint *))
{
    int rc = enter(c);

    memset(out, 0, sizeof *out);
    out->sock_family = c->family;
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&c->mu);
    rc = get(c->s, &out->ep);
    pthread_mutex_unlock(&c->mu);
    return (nlpy_rc)leave(c, rc);
}

nlpy_rc nlpy_chat_local(nlpy_chat *c, nlpy_addr *out)
{
    return chat_endpoint(c, out, nl_chat_session_local);
}

nlpy_rc nlpy_chat_peer(nlpy_chat *c, nlpy_addr *out)
{
    return chat_endpoint(c, out, nl_chat_session_peer);
}

int nlpy_chat_next_timeout(nlpy_chat *c)
{
    int ms = -1;

    pthread_mutex_lock(&c->mu);
    if (!c->closing)
        ms = nl_chat_session_next_timeout_ms(c->s);
    pthread_mutex_unlock(&c->mu);
    return ms;
}

int nlpy_chat_fileno(nlpy_chat *c)
{
    int fd;

    pthread_mutex_lock(&c->mu);
    fd = c->fd;
    pthread_mutex_unlock(&c->mu);
    return fd;
}
