/** @file
 * libnetlab: socket options and the system-call trace, a teaching aid.
 *
 * Give a handle a trace callback and it reports every socket system call it makes (socket,
 * bind, recvfrom, sendto, accept, ...) with its arguments, result and errno, so a learner can
 * watch the calls of the course notes happen. The library itself never prints: the callback
 * decides what to do with the event (nl_trace_format() makes a readable line of it).
 */
#ifndef NETLAB_TRACE_H
#define NETLAB_TRACE_H

#include <stddef.h>

#include "netlab/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One system call, as seen by the trace callback. Valid only during the callback. */
typedef struct nl_trace_event {
    const char *call; /**< system call name: "socket", "bind", "recvfrom", ... */
    int fd;           /**< descriptor it acted on (-1 for socket() before it returns) */
    const char *args; /**< the interesting arguments, already readable: "0.0.0.0:9000, 1024" */
    long result;      /**< what the call returned */
    int err;          /**< errno when it failed, else 0 */
} nl_trace_event;

/** Trace callback: called synchronously, on the calling thread, after each system call. */
typedef void (*nl_trace_fn)(const nl_trace_event *ev, void *user);

/** Options for opening a handle. Zero-initialise, then set what you need; NULL = defaults. */
typedef struct nl_opts {
    nl_trace_fn trace; /**< trace callback, NULL for none; inherited by accepted connections */
    void *trace_user;  /**< passed to trace as is */
    int v6only;        /**< IPv6 sockets: 1 = IPv6 only; 0 (default) = also IPv4 via mapping */
    int reuseport;     /**< 1 = SO_REUSEPORT (several listeners share a port) */
    /** 0 (default): a system call interrupted by a signal (EINTR) is retried inside the
     *  library, so a call never returns because of a signal. 1: every call on the handle that
     *  is interrupted while it waits (recv, recvfrom, send, sendto, accept, connect's wait,
     *  the batch calls, poll) returns NL_EINTR at once instead, and the caller decides: run
     *  its signal handlers and call again, as Python does (PEP 475). A call that returns
     *  NL_EINTR has transferred nothing (nl_tcp_send_all() reports what went in *sent; a
     *  connect goes on in the kernel: wait for writability, then read SO_ERROR); a time-out
     *  starts afresh when the call is repeated, so pass the time that is left. This lets a
     *  blocking call wait in the kernel with one system call (e.g. recvfrom with timeout -1)
     *  and still return promptly for a signal. Inherited by accepted connections. */
    int return_eintr;
} nl_opts;

/**
 * Format a trace event as one readable line (no newline), e.g.
 * "recvfrom(3, 1024) = 5 from 127.0.0.1:50000" or "connect(3, 127.0.0.1:1) = -1 ECONNREFUSED".
 *
 * @param ev    the event, as passed to the callback.
 * @param buf   receives the line.
 * @param size  size of buf; 160 bytes fit nearly every event.
 * @return the length written, or NL_EINVAL for NULL arguments; the text is cut to fit size
 *         (always NUL-terminated when size > 0). Pure, thread-safe.
 */
NL_EXTERN int nl_trace_format(const nl_trace_event *ev, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif /* NETLAB_TRACE_H */
