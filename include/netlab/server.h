/** @file
 * libnetlab: a concurrent TCP server runner, one thread, thousands of clients.
 *
 *   nl_tcp_server_open(&srv, 127.0.0.1:9000, &cfg) -> nl_tcp_server_run(srv) ... from a signal
 *   handler or another thread: nl_tcp_server_stop(srv) -> run returns -> nl_tcp_server_close()
 *
 * The notes' echo server serves one client at a time. This runner waits for every client at
 * once (epoll on Linux, poll elsewhere) and calls you back when a client connects, sends data
 * or goes away. Leave the data callback NULL and it is an echo server.
 *
 * What it costs, by design:
 *   - An idle connection is one small slot (24 bytes on 64-bit) in an array indexed by the
 *     descriptor: no per-connection malloc, no buffer. All connections share one read buffer.
 *   - Output is written at once; only what a write could not take is queued, in a buffer that
 *     exists only while something is queued.
 *   - Backpressure: when a client's queue reaches cfg.max_queued the server stops reading from
 *     that client (it stops asking the kernel for its input, so TCP flow control pushes back on
 *     the client) until the queue has drained. Other clients are not affected.
 *   - Out of descriptors (EMFILE): the server keeps one spare descriptor; it closes the spare,
 *     accepts the waiting client and closes it at once (the client sees the connection closed
 *     rather than hanging in the queue), then reopens the spare. No busy loop.
 *   - Idle timeout: a connection that neither sent nor received for cfg.idle_timeout_ms is
 *     closed (checked a few times per timeout period, so it closes within about 1.25x of it).
 *
 * Connections are named by an int id (their descriptor): valid from on_connect until on_close
 * returns, reused for later connections afterwards.
 *
 * Thread-safety: a server is driven by the one thread that calls nl_tcp_server_run(); every
 * callback runs on that thread, and nl_tcp_server_send() / _disconnect() / _stats() may be
 * called only from there (typically from a callback). The one exception is
 * nl_tcp_server_stop(): any thread, and signal handlers, may call it at any time.
 */
#ifndef NETLAB_SERVER_H
#define NETLAB_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "netlab/endpoint.h"
#include "netlab/trace.h"
#include "netlab/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A running (or ready to run) TCP server. Opaque; freed by nl_tcp_server_close(). */
typedef struct nl_tcp_server nl_tcp_server;

/** Default per-connection output cap (cfg.max_queued 0): 64 KiB. */
#define NL_TCP_SERVER_DEFAULT_QUEUE 65536
/** Default shared read buffer (cfg.read_size 0): 16 KiB. */
#define NL_TCP_SERVER_DEFAULT_READ 16384

/**
 * Called when a client has connected, before any of its data. Return 0 to keep it, or a
 * negative value to close it at once (on_close is not called for a refused client).
 * @param srv   the server.
 * @param conn  the connection's id.
 * @param peer  the client's endpoint (valid during the call only).
 * @param user  cfg.user.
 */
typedef int (*nl_tcp_server_connect_fn)(nl_tcp_server *srv, int conn, const nl_endpoint *peer,
                                        void *user);

/**
 * Called with each chunk of data read from a client. The data is in a buffer shared by all
 * connections and is valid during the call only; copy what you keep. Typically answers with
 * nl_tcp_server_send(). The chunks follow TCP's byte stream, not the client's writes.
 * @param srv   the server.
 * @param conn  the connection's id.
 * @param data  the bytes read.
 * @param len   how many (>= 1).
 * @param user  cfg.user.
 */
typedef void (*nl_tcp_server_data_fn)(nl_tcp_server *srv, int conn, const void *data, size_t len,
                                      void *user);

/**
 * Called once when a connection goes away, after its descriptor is closed.
 * @param srv     the server.
 * @param conn    the connection's id (free for reuse once this returns).
 * @param user    cfg.user.
 * @param reason  0 when the client closed (after its pending output was flushed) or the
 *                program called nl_tcp_server_disconnect(); NL_ETIMEDOUT for the idle timeout;
 *                NL_ENOBUFS when a send would have exceeded the queue cap; NL_ECANCELED when
 *                nl_tcp_server_close() closed it; otherwise the read or write error
 *                (NL_ECONNRESET, NL_EPIPE, ...).
 */
typedef void (*nl_tcp_server_close_fn)(nl_tcp_server *srv, int conn, int reason, void *user);

/** Server configuration. Zero-initialise, then set what you need; NULL means all defaults. */
typedef struct nl_tcp_server_config {
    nl_tcp_server_connect_fn on_connect; /**< NULL: accept everyone                        */
    nl_tcp_server_data_fn on_data;       /**< NULL: the built-in echo service              */
    nl_tcp_server_close_fn on_close;     /**< NULL: nothing to do                          */
    void *user;                          /**< passed to every callback as is               */
    size_t max_queued;      /**< per-connection output cap in bytes; 0 = 64 KiB (max 1 GiB) */
    size_t read_size;       /**< shared read buffer size; 0 = 16 KiB                       */
    int idle_timeout_ms;    /**< close connections idle this long; 0 = never               */
    int max_connections;    /**< 0 = as many as descriptors allow; beyond: accept + close  */
    int backlog;            /**< listen() backlog; 0 = the system maximum                  */
    int no_nodelay;         /**< 1 = keep Nagle's algorithm (default: TCP_NODELAY is set)  */
    nl_opts opts;           /**< listener options: trace hook, v6only, reuseport           */
} nl_tcp_server_config;

/** Counters, for tests and monitoring. */
typedef struct nl_tcp_server_stats {
    uint64_t accepted;       /**< connections accepted and kept                              */
    uint64_t dropped;        /**< connections accepted and closed at once (EMFILE, limit)    */
    uint64_t closed_idle;    /**< connections closed by the idle timeout                     */
    uint64_t paused;         /**< times reading from a client was paused (backpressure)      */
    uint64_t emfile;         /**< times accept() failed for lack of descriptors              */
    uint64_t wakeups;        /**< times the event wait returned                              */
    size_t connections;      /**< open connections now                                       */
    size_t queued_bytes;     /**< output bytes queued now, all connections                   */
    size_t max_queue_seen;   /**< the largest single-connection queue so far                 */
    size_t slot_bytes;       /**< user-space bytes of the connection table                   */
} nl_tcp_server_stats;

/**
 * Create a server listening on a local endpoint (port 0 picks a free port; see
 * nl_tcp_server_local()). Nothing is served until nl_tcp_server_run().
 *
 * @param out    receives the server; NULL on failure (never half-built).
 * @param local  where to listen, e.g. 127.0.0.1:9000.
 * @param cfg    callbacks and limits; NULL for an echo server with defaults. Copied.
 * @return 0; NL_EINVAL (NULL out or local, max_queued over 1 GiB, negative timeout or limit);
 *         NL_ENOMEM; or the errors of nl_tcp_listen() and of creating the event queue.
 */
NL_EXTERN int nl_tcp_server_open(nl_tcp_server **out, const nl_endpoint *local,
                                 const nl_tcp_server_config *cfg);

/**
 * The endpoint the server listens on.
 * @param srv  the server.
 * @param out  receives the endpoint.
 * @return 0, NL_EINVAL, or the getsockname() error.
 */
NL_EXTERN int nl_tcp_server_local(const nl_tcp_server *srv, nl_endpoint *out);

/**
 * Serve until nl_tcp_server_stop() is called. Blocks the calling thread, which runs all the
 * callbacks. Connections stay open when it returns; run it again to go on serving, or close.
 * A stop requested before the call makes it return at once.
 *
 * @param srv  the server.
 * @return 0 after a stop; NL_EINVAL (NULL, or called from inside a callback); or the error
 *         of the event wait (EINTR is retried, not returned).
 */
NL_EXTERN int nl_tcp_server_run(nl_tcp_server *srv);

/**
 * Ask nl_tcp_server_run() to return. Async-signal-safe and callable from any thread: it only
 * write()s to the server's wake-up descriptor. The server must not be closed concurrently.
 * @param srv  the server.
 * @return 0; NL_EINVAL for NULL; or the write() error.
 */
NL_EXTERN int nl_tcp_server_stop(nl_tcp_server *srv);

/**
 * Send data to a connection: written at once as far as the socket takes it, the rest queued
 * (in order) and written when the client reads. Never blocks.
 *
 * @param srv   the server.
 * @param conn  the connection's id.
 * @param buf   the bytes; may be NULL when len is 0.
 * @param len   how many.
 * @return 0 when every byte was written or queued; NL_EINVAL (unknown conn, NULL buf with
 *         len > 0); NL_ENOBUFS when queuing would exceed cfg.max_queued: the connection is
 *         then closed (on_close gets NL_ENOBUFS) since its byte stream can no longer be whole;
 *         NL_ENOMEM; NL_ECLOSED when the connection is already being closed (disconnected
 *         from this callback, or an earlier send failed); or the write error (the connection
 *         is then closed with that reason). On the run thread only.
 */
NL_EXTERN int nl_tcp_server_send(nl_tcp_server *srv, int conn, const void *buf, size_t len);

/**
 * Close a connection once its queued output has gone out (at once if nothing is queued, but
 * always after the current callback returns). on_close gets reason 0. Run thread only.
 * @param srv   the server.
 * @param conn  the connection's id.
 * @return 0, or NL_EINVAL for an unknown conn.
 */
NL_EXTERN int nl_tcp_server_disconnect(nl_tcp_server *srv, int conn);

/**
 * Copy the counters. Run thread only (or while the server is not running).
 * @param srv  the server.
 * @param out  receives the counters.
 * @return 0 or NL_EINVAL.
 */
NL_EXTERN int nl_tcp_server_stats_get(const nl_tcp_server *srv, nl_tcp_server_stats *out);

/**
 * The built-in echo service, as a data callback: sends the data back. Usable in your own
 * on_data to echo some of the traffic.
 * @param srv   the server.
 * @param conn  the connection's id.
 * @param data  the bytes to send back.
 * @param len   how many.
 * @param user  unused.
 */
NL_EXTERN void nl_tcp_server_echo(nl_tcp_server *srv, int conn, const void *data, size_t len,
                                  void *user);

/**
 * Close every connection (on_close gets NL_ECANCELED), the listener, and free the server.
 * NULL is a no-op. Must not run concurrently with nl_tcp_server_run() or _stop().
 * @param srv  the server, or NULL.
 */
NL_EXTERN void nl_tcp_server_close(nl_tcp_server *srv);

#ifdef __cplusplus
}
#endif
#endif /* NETLAB_SERVER_H */
