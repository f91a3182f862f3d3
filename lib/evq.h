/* The concurrent server's event queue (lib/server.c): epoll and an eventfd on Linux
 * (lib/linux_epoll.c), poll() and the seam's wake-up channel everywhere else (lib/evq_poll.c).
 * CMake compiles exactly one of the two into the library, so server.c itself is portable.
 *
 * Registration is level-triggered. A queue is used by one thread, except nl__evq_wake(),
 * which any thread may call. Errors are negative NL_E* codes. Not installed, not the API. */
#ifndef NETLAB_EVQ_H
#define NETLAB_EVQ_H

#include "internal.h"

#define NL__EV_IN  1u /* readable (or a connection waiting to be accepted) */
#define NL__EV_OUT 2u /* writable                                          */
#define NL__EV_ERR 4u /* error or hang-up; reported, never asked for         */

/* The event queue of one server; opaque. */
typedef struct nl__evq nl__evq;

/* A queue with its wake-up channel and the listener lfd registered for input. */
int nl__evq_open(nl__evq **out, int lfd);
/* Frees the queue and its wake-up channel; NULL is a no-op. Registered sockets stay open. */
void nl__evq_close(nl__evq *q);
/* Register fd for events (NL__EV_IN | NL__EV_OUT, or 0 for none yet), change that, or forget
 * it (before fd is closed). */
int nl__evq_add(nl__evq *q, int fd, unsigned events);
int nl__evq_mod(nl__evq *q, int fd, unsigned events);
void nl__evq_del(nl__evq *q, int fd);
/* Wait up to timeout_ms (-1: no limit) for events; the number of ready entries (0 on a
 * time-out), NL_EINTR, or another error. tr's trace hook, if any, sees the system call. */
int nl__evq_wait(nl__evq *q, int timeout_ms, nl__sock *tr);
/* Ready entry i (0 <= i < what nl__evq_wait() returned): its descriptor, -1 for the wake-up
 * channel, and its NL__EV_* events. */
void nl__evq_get(const nl__evq *q, int i, int *fd, unsigned *events);
/* Make the queue's wait return with the wake-up channel ready; from any thread. */
int nl__evq_wake(nl__evq *q);
/* Consume the wake-ups sent so far. */
void nl__evq_unwake(nl__evq *q);

#endif /* NETLAB_EVQ_H */
