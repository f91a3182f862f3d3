/* The server's event queue on Linux (evq.h): one epoll set, level-triggered, and an eventfd
 * to wake it. Compiled instead of evq_poll.c when CMake builds for Linux without
 * NETLAB_FORCE_PORTABLE_POSIX. close() takes a descriptor out of the set by itself. */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "evq.h"

#define EVQ_MAX 256 /* events taken per wait */

struct nl__evq {
    int epfd;
    int wakefd;
    struct epoll_event evs[EVQ_MAX];
};

static int ctl(nl__evq *q, int op, int fd, unsigned events)
{
    struct epoll_event ev = {0};

    ev.events = (events & NL__EV_IN ? EPOLLIN : 0u) | (events & NL__EV_OUT ? EPOLLOUT : 0u);
    ev.data.fd = fd;
    return epoll_ctl(q->epfd, op, fd, &ev) < 0 ? nl__err(errno) : 0;
}

int nl__evq_open(nl__evq **out, int lfd)
{
    nl__evq *q = malloc(sizeof *q);
    int rc;

    *out = NULL;
    if (q == NULL)
        return NL_ENOMEM;
    q->wakefd = -1;
    q->epfd = nl__fd_above_stdio(epoll_create1(EPOLL_CLOEXEC));
    if (q->epfd < 0)
        rc = nl__err(errno);
    else if ((q->wakefd = nl__fd_above_stdio(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK))) < 0)
        rc = nl__err(errno);
    else if ((rc = ctl(q, EPOLL_CTL_ADD, q->wakefd, NL__EV_IN)) == 0)
        rc = ctl(q, EPOLL_CTL_ADD, lfd, NL__EV_IN);
    if (rc < 0) {
        nl__evq_close(q);
        return rc;
    }
    *out = q;
    return 0;
}

void nl__evq_close(nl__evq *q)
{
    if (q == NULL)
        return;
    if (q->epfd >= 0)
        close(q->epfd);
    if (q->wakefd >= 0)
        close(q->wakefd);
    free(q);
}

int nl__evq_add(nl__evq *q, int fd, unsigned events)
{
    return ctl(q, EPOLL_CTL_ADD, fd, events);
}

int nl__evq_mod(nl__evq *q, int fd, unsigned events)
{
    return ctl(q, EPOLL_CTL_MOD, fd, events);
}

void nl__evq_del(nl__evq *q, int fd)
{
    (void)q; /* the close() that follows removes it from the set */
    (void)fd;
}

int nl__evq_wait(nl__evq *q, int timeout_ms, nl__sock *tr)
{
    int n = epoll_wait(q->epfd, q->evs, EVQ_MAX, timeout_ms);

    if (tr->trace != NULL) {
        tr->fd = q->epfd;
        nl__trace_call(tr, "epoll_wait", n, errno, "%d ms", timeout_ms);
    }
    return n < 0 ? nl__err(errno) : n;
}

void nl__evq_get(const nl__evq *q, int i, int *fd, unsigned *events)
{
    uint32_t e = q->evs[i].events;

    *fd = q->evs[i].data.fd == q->wakefd ? -1 : q->evs[i].data.fd;
    *events = (e & EPOLLIN ? NL__EV_IN : 0u) | (e & EPOLLOUT ? NL__EV_OUT : 0u) |
              (e & (EPOLLERR | EPOLLHUP) ? NL__EV_ERR : 0u);
}

int nl__evq_wake(nl__evq *q)
{
    uint64_t one = 1;
    return write(q->wakefd, &one, sizeof one) < 0 && errno != EAGAIN ? nl__err(errno) : 0;
}

void nl__evq_unwake(nl__evq *q)
{
    uint64_t v;
    while (read(q->wakefd, &v, sizeof v) < 0 && errno == EINTR)
        ;
}
