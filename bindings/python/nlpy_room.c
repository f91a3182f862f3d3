/* The C side of netlab.ChatRoom; see nlpy_room.h. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nlpy_room.h"

struct nlpy_room {
    pthread_mutex_t mu; /* guards r, and every call on it                           */
    nl_chat_room *r;    /* NULL once closed                                         */
    int family;
    int fd; /* for step's poll: never changes                                   */
};

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

nlpy_rc nlpy_room_open(nlpy_room **out, int family, const char *bind_host, int bind_port,
                       const char *host_host, int host_port, const char *room, const char *name,
                       const void *key, size_t key_len, int peer_lost_ms)
{
    nl_chat_room_opts o;
    nlpy_room *b;
    int rc;

    *out = NULL;
    memset(&o, 0, sizeof o);
    if ((rc = nlpy_endpoint(&o.bind, family, bind_host, bind_port, 0)) < 0)
        return rc;
    if (host_host != NULL && (rc = nlpy_endpoint(&o.host, family, host_host, host_port, 0)) < 0)
        return rc;
    if (key_len > 0 && key_len != NL_CHAT_KEY_BYTES)
        return NL_EINVAL;
    o.key = key_len > 0 ? key : NULL;
    o.room = room;
    o.name = name;
    o.peer_lost_ms = peer_lost_ms;
    if ((b = calloc(1, sizeof *b)) == NULL)
        return NL_ENOMEM;
    if ((rc = nl_chat_room_open(&b->r, &o)) < 0) {
        free(b);
        return rc;
    }
    pthread_mutex_init(&b->mu, NULL);
    b->family = family;
    b->fd = nl_chat_room_fd(b->r);
    *out = b;
    return 0;
}

void nlpy_room_free(nlpy_room *b)
{
    if (b == NULL)
        return;
    nl_chat_room_close(b->r);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

nlpy_rc nlpy_room_close(nlpy_room *b)
{
    pthread_mutex_lock(&b->mu);
    nl_chat_room_close(b->r);
    b->r = NULL;
    pthread_mutex_unlock(&b->mu);
    return 0;
}

/* Copy the events (their strings die at the room's next step) into one allocation. */
static int copy_events(nlpy_room_events *out, const nl_chat_room_event *ev, int n)
{
    size_t total = 0, at = 0;

    for (int i = 0; i < n; i++)
        total += strlen(ev[i].name) + ev[i].len;
    if ((out->store = malloc(total + 1)) == NULL)
        return NL_ENOMEM;
    for (int i = 0; i < n; i++) {
        nlpy_room_ev *e = &out->ev[i];
        e->type = ev[i].type;
        e->code = ev[i].code;
        e->seq = ev[i].seq;
        e->name_off = at;
        e->name_len = strlen(ev[i].name);
        memcpy(out->store + at, ev[i].name, e->name_len);
        at += e->name_len;
        e->data_off = at;
        e->len = ev[i].len;
        memcpy(out->store + at, ev[i].data, ev[i].len);
        at += ev[i].len;
    }
    out->n = n;
    return n;
}

nlpy_count nlpy_room_step(nlpy_room *b, nlpy_room_events *out, int timeout_ms)
{
    nl_chat_room_event ev[NLPY_ROOM_EVENTS];
    long long deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
    int n, next;

    memset(out, 0, sizeof *out);
    for (;;) {
        struct pollfd pfd = {.fd = b->fd, .events = POLLIN};
        int wait = timeout_ms;

        pthread_mutex_lock(&b->mu);
        n = b->r == NULL ? NL_EBADF : nl_chat_room_step(b->r, ev, NLPY_ROOM_EVENTS, 0);
        if (n > 0)
            n = copy_events(out, ev, n);
        next = n == 0 ? nl_chat_room_next_timeout_ms(b->r) : 0;
        pthread_mutex_unlock(&b->mu);
        if (n != 0 || timeout_ms == 0)
            return n;
        if (timeout_ms > 0) {
            long long left = deadline - now_ms();
            if (left <= 0)
                return 0;
            wait = (int)left;
        }
        if (next >= 0 && (wait < 0 || next < wait))
            wait = next;
        if (wait < 0 || wait > 50)
            wait = 50; /* another thread's send may bring a timer forward */
        if (poll(&pfd, 1, wait) < 0)
            return 0; /* a signal: let Python run its handlers */
    }
}

void nlpy_room_events_free(nlpy_room_events *out)
{
    free(out->store);
    out->store = NULL;
    out->n = 0;
}

#define LOCKED(b, expr)                                                                            \
    do {                                                                                           \
        int rc_;                                                                                   \
        pthread_mutex_lock(&(b)->mu);                                                              \
        rc_ = (b)->r == NULL ? NL_EBADF : (expr);                                                  \
        pthread_mutex_unlock(&(b)->mu);                                                            \
        return rc_;                                                                                \
    } while (0)

nlpy_rc nlpy_room_send(nlpy_room *b, const void *buf, size_t len)
{
    LOCKED(b, nl_chat_room_send(b->r, buf, len));
}

nlpy_rc nlpy_room_leave(nlpy_room *b)
{
    LOCKED(b, nl_chat_room_leave(b->r));
}

nlpy_rc nlpy_room_counters(nlpy_room *b, nl_chat_room_counters *out)
{
    memset(out, 0, sizeof *out);
    LOCKED(b, nl_chat_room_stats(b->r, out));
}

nlpy_rc nlpy_room_local(nlpy_room *b, nlpy_addr *out)
{
    out->sock_family = b->family;
    LOCKED(b, nl_chat_room_local(b->r, &out->ep));
}

int nlpy_room_fileno(nlpy_room *b)
{
    LOCKED(b, b->fd);
}
