/* libnetlab internals shared by the lib/ sources; not installed, not part of the API. */
#ifndef NETLAB_INTERNAL_H
#define NETLAB_INTERNAL_H

#include <stdarg.h>
#include <stdint.h>

#include "netlab.h"
#include "platform.h"

/* Room for the argument text of one trace event. */
#define NL__TRACE_ARGS 160

/* What every socket handle has: its descriptor, family and trace hook. */
typedef struct nl__sock {
    nl_socket_t fd; /* NL__NOSOCK when closed */
    int family;     /* NL_AF_INET or NL_AF_INET6 */
    nl_trace_fn trace;
    void *trace_user;
    int return_eintr; /* nl_opts.return_eintr: EINTR ends the call with NL_EINTR */
} nl__sock;

typedef union nl__sockaddr {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
    struct sockaddr_storage ss;
} nl__sockaddr;

/* endpoint.c */
socklen_t nl__ep_to_sockaddr(const nl_endpoint *ep, int sock_family, nl__sockaddr *out);
int nl__ep_from_sockaddr(nl_endpoint *ep, const struct sockaddr *sa, socklen_t len);
int nl__ep_valid(const nl_endpoint *ep);

/* error.c */
int nl__err(int errnum); /* errno -> negative code */

/* sock.c: system calls with EINTR, timeouts and tracing in one place. */
int nl__sock_open(nl__sock *s, int family, int type, const nl_opts *opts);
int nl__sock_close(nl__sock *s);
#define NL__NONBLOCK 0x40000000 /* nl__sock_open() type flag: a non-blocking socket */
int nl__sock_adopt(nl__sock *s, nl_socket_t fd, int type, const nl_opts *opts, int *listening);
int nl__sock_bind(nl__sock *s, const nl_endpoint *ep);
int nl__sock_connect(nl__sock *s, const nl_endpoint *ep, int timeout_ms);
int nl__sock_local(const nl__sock *s, nl_endpoint *out);
#define NL__READ_SHUT 1 /* nl__sock_wait(): ready, but only because reading is shut down */
int nl__sock_wait(const nl__sock *s, short events, int64_t deadline_ms);
#define NL__DEADLINE_UNSET (-2) /* nl__sock_await(): no deadline computed yet */
int nl__sock_await(const nl__sock *s, short events, int timeout_ms, int64_t *deadline);
int64_t nl__deadline(int timeout_ms);
void nl__trace_call(const nl__sock *s, const char *call, long result, int err,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The event of one trace line, for nl__trace_call() and the chat core's protocol lines: call,
 * fd (-1: none), result, err (kept only when result < 0), and fmt's text from ap written into
 * args (cut to fit: a cut line is still useful), which ev->args then points to. Pure. */
void nl__trace_event(nl_trace_event *ev, char args[NL__TRACE_ARGS], const char *call, int fd,
                     long result, int err, const char *fmt, va_list ap)
    __attribute__((format(printf, 7, 0)));
/* udp.c: the socket inside a UDP handle (for udp_batch.c). */
const nl__sock *nl__udp_sock(const nl_udp *u);

/* Batch UDP (udp_batch.c): one chunk of n <= NL_UDP_BATCH_MAX datagrams, with recvmmsg /
 * sendmmsg (linux_mmsg.c) or one call per datagram (udp_batch_each.c), whichever CMake
 * built. wait: block (on a blocking socket) for the first datagram only, else never block.
 * The number of datagrams moved (> 0), NL_EOF (receive side shut down), or an NL_E* error
 * (NL_EAGAIN: none without waiting). EINTR as the handle's return_eintr says. */
int nl__batch_recv(const nl__sock *s, nl_udp_msg *msgs, size_t n, int wait);
int nl__batch_send(const nl__sock *s, const nl_udp_msg *msgs, size_t n, int wait);
/* An address of a batch: sockaddr_in6-sized, to keep the chunks' stack frames small. */
typedef union nl__batch_addr {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
} nl__batch_addr;

#define NL__TRACING(s) ((s)->trace != NULL)

/* Whether a call that failed with err should simply be made again: EINTR, unless the handle's
 * owner asked to be told about interruptions (nl_opts.return_eintr). */
#define NL__RETRY_EINTR(s, err) ((err) == EINTR && !(s)->return_eintr)

#endif /* NETLAB_INTERNAL_H */
