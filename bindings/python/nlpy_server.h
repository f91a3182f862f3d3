/* The C side of netlab.EchoServer: libnetlab's concurrent TCP server (nl_tcp_server) with its
 * built-in echo service, as Python sees it.
 *
 * Not part of libnetlab's API; netlab.i wraps it, netlab/server.py builds the class on top.
 *
 * Why a box: Python may call stop() and close() from any thread while another thread serves.
 * nl_tcp_server_stop() may run at any time, but nl_tcp_server_close() must not run while the
 * server runs; so the box records whether it is running, and close() stops it and waits for
 * run to return before freeing it. Every function runs without the GIL (SWIG -threads).
 */
#ifndef NLPY_SERVER_H
#define NLPY_SERVER_H

#include <stddef.h>

#include "nlpy.h"

/** A server box. Owned by its Python wrapper; freed by nlpy_server_free(). */
typedef struct nlpy_server nlpy_server;

/** Listen on host:port (family NL_AF_INET or NL_AF_INET6) for an echo server.
 *  idle_timeout_ms and max_queued: 0 for the library's defaults (never; 64 KiB).
 *  @return 0 or the errors of nlpy_endpoint() and nl_tcp_server_open(). */
nlpy_rc nlpy_server_open(nlpy_server **out, int family, const char *host, int port,
                         unsigned scope_id, int idle_timeout_ms, long max_queued,
                         int max_connections);
/** Free; destructor only (stops and waits for a run in flight first). */
void nlpy_server_free(nlpy_server *v);
/** Serve until stopped. @return 0 after a stop; NL_EBUSY when another thread is already
 *  serving; NL_EBADF after close(); or the error of nl_tcp_server_run(). */
nlpy_rc nlpy_server_run(nlpy_server *v);
/** Make a run in flight return (or the next one return at once). Any thread. */
nlpy_rc nlpy_server_stop(nlpy_server *v);
/** Stop, wait until a run in flight has returned, close every connection and the listener.
 *  A second close is a no-op. @return 0. */
nlpy_rc nlpy_server_close(nlpy_server *v);
/** The listening address. */
nlpy_rc nlpy_server_local(nlpy_server *v, nlpy_addr *out);
/** The counters; NL_EBUSY while the server runs (they belong to the run thread then). */
nlpy_rc nlpy_server_stats(nlpy_server *v, nl_tcp_server_stats *out);

/** The counters of nl_tcp_server_stats, by name, for the Python dict (X-macro). */
#define NLPY_SERVER_STATS(X)                                                               \
    X(accepted) X(dropped) X(closed_idle) X(paused) X(emfile) X(wakeups) X(connections)   \
    X(queued_bytes) X(max_queue_seen) X(slot_bytes)

#endif /* NLPY_SERVER_H */
