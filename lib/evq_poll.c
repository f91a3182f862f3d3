/* The server's event queue everywhere but Linux (evq.h): poll() through the seam (WSAPoll's
 * contract on Windows) over an array of pollfd, and the seam's wake-up channel. Index 0 is
 * the wake-up channel for the queue's lifetime; where = the index of each registered
 * descriptor, so registering, changing and forgetting one cost O(1). Linux builds use it
 * with NETLAB_FORCE_PORTABLE_POSIX, and test_server_poll links it into the normal build. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "evq.h"

struct nl__evq {
    nl_socket_t wake_r, wake_w;
    struct pollfd *pfds;  /* the registered descriptors, [0] the wake-up channel */
    struct pollfd *ready; /* what the last wait found, copied out of pfds        */
    size_t npfd, cap_pfd;
    uint32_t *where; /* index in pfds by descriptor; size nwhere                   */
    size_t nwhere;
};

static short poll_events(unsigned events)
{
    return (short)((events & NL__EV_IN ? POLLIN : 0) | (events & NL__EV_OUT ? POLLOUT : 0));
}

static int push(nl__evq *q, nl_socket_t fd, unsigned events)
{
    if (q->npfd == q->cap_pfd) {
        size_t cap = q->cap_pfd ? q->cap_pfd * 2 : 64;
        struct pollfd *p = realloc(q->pfds, cap * sizeof *p);
        if (p == NULL)
            return NL_ENOMEM;
        q->pfds = p;
        p = realloc(q->ready, cap * sizeof *p);
        if (p == NULL)
            return NL_ENOMEM;
        q->ready = p;
        q->cap_pfd = cap;
    }
    q->pfds[q->npfd].fd = fd;
    q->pfds[q->npfd].events = poll_events(events);
    q->pfds[q->npfd].revents = 0;
    q->npfd++;
    return 0;
}

int nl__evq_add(nl__evq *q, int fd, unsigned events)
{
    if ((size_t)fd >= q->nwhere) {
        size_t n = q->nwhere ? q->nwhere : 64;
        uint32_t *w;
        while (n <= (size_t)fd)
            n *= 2;
        if ((w = realloc(q->where, n * sizeof *w)) == NULL)
            return NL_ENOMEM;
        memset(w + q->nwhere, 0, (n - q->nwhere) * sizeof *w);
        q->where = w;
        q->nwhere = n;
    }
    q->where[fd] = (uint32_t)q->npfd;
    return push(q, (nl_socket_t)fd, events);
}

int nl__evq_open(nl__evq **out, int lfd)
{
    nl__evq *q = calloc(1, sizeof *q);
    int rc;

    *out = NULL;
    if (q == NULL)
        return NL_ENOMEM;
    if (nl__wake_open(&q->wake_r, &q->wake_w) < 0) {
        rc = nl__err(errno);
        free(q);
        return rc;
    }
    /* Index 0: the wake-up channel. */
    if ((rc = push(q, q->wake_r, NL__EV_IN)) == 0 && (rc = nl__evq_add(q, lfd, NL__EV_IN)) == 0)
        *out = q;
    else
        nl__evq_close(q);
    return rc;
}

void nl__evq_close(nl__evq *q)
{
    if (!q)
        return;
    nl__wake_close(q->wake_r, q->wake_w);
    free(q->pfds);
    free(q->ready);
    free(q->where);
    free(q);
}

int nl__evq_mod(nl__evq *q, int fd, unsigned events)
{
    q->pfds[q->where[fd]].events = poll_events(events);
    return 0;
}

void nl__evq_del(nl__evq *q, int fd)
{
    size_t i = q->where[fd], last = q->npfd - 1;

    if (i != last) {
        q->pfds[i] = q->pfds[last];
        q->where[(int)q->pfds[i].fd] = (uint32_t)i;
    }
    q->npfd--;
}

int nl__evq_wait(nl__evq *q, int timeout_ms, nl__sock *tr)
{
    size_t i;
    int n = nl__poll(q->pfds, q->npfd, timeout_ms), k = 0;

    if (tr->trace != NULL) {
        tr->fd = NL__NOSOCK;
        nl__trace_call(tr, "poll", n, errno, "%zu fds, %d ms", q->npfd, timeout_ms);
    }
    if (n < 0)
        return nl__err(errno);
    /* Copy the ready ones out: handling them adds and removes entries of pfds. */
    for (i = 0; i < q->npfd && k < n; i++)
        if (q->pfds[i].revents)
            q->ready[k++] = q->pfds[i];
    return k;
}

void nl__evq_get(const nl__evq *q, int i, int *fd, unsigned *events)
{
    short e = q->ready[i].revents;

    *fd = q->ready[i].fd == q->wake_r ? -1 : (int)q->ready[i].fd;
    *events = (e & POLLIN ? NL__EV_IN : 0u) | (e & POLLOUT ? NL__EV_OUT : 0u) |
              (e & (POLLERR | POLLHUP | POLLNVAL) ? NL__EV_ERR : 0u);
}

int nl__evq_wake(nl__evq *q)
{
    return nl__wake_send(q->wake_w) < 0 ? nl__err(errno) : 0;
}

void nl__evq_unwake(nl__evq *q)
{
    nl__wake_drain(q->wake_r);
}
