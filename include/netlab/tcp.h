/** @file
 * libnetlab: TCP connections, the course's second flow.
 *
 *   server: nl_tcp_listen(0.0.0.0:9000) -> loop nl_tcp_accept -> nl_tcp_recv / nl_tcp_send
 *   client: nl_tcp_connect(peer)        -> loop nl_tcp_send   -> nl_tcp_recv
 *
 * Done right, where the notes' code is naive: every blocking call, connect included, takes a
 * timeout; EINTR is retried (or returned as NL_EINTR with nl_opts.return_eintr); writing to a
 * closed peer gives NL_EPIPE / NL_ECONNRESET, never a
 * SIGPIPE; nl_tcp_send_all() loops over partial writes and always says how many bytes went;
 * nl_tcp_recv() tells "the peer closed" (NL_EOF) apart from "no data yet" (NL_EAGAIN /
 * NL_ETIMEDOUT); listeners use SO_REUSEADDR so a restarted server can bind at once; all
 * descriptors are close-on-exec, and never 0, 1 or 2: a program started with its standard
 * input or output closed gets an error from it, never a socket in its place.
 *
 * Timeouts are in milliseconds: -1 waits as long as it takes, 0 never waits (NL_EAGAIN), > 0
 * waits at most that long (NL_ETIMEDOUT).
 *
 * Thread-safety: one handle must be used by one thread at a time; different handles may be
 * used from different threads concurrently.
 */
#ifndef NETLAB_TCP_H
#define NETLAB_TCP_H

#include <stddef.h>
#include <sys/types.h>

#include "netlab/endpoint.h"
#include "netlab/trace.h"
#include "netlab/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A TCP listener or connection. Opaque; freed by nl_tcp_close(). */
typedef struct nl_tcp nl_tcp;

#define NL_SHUT_RD 0   /**< nl_tcp_shutdown(): no more receiving */
#define NL_SHUT_WR 1   /**< nl_tcp_shutdown(): no more sending; the peer then reads NL_EOF */
#define NL_SHUT_RDWR 2 /**< nl_tcp_shutdown(): both directions */

/**
 * Listen for connections on a local endpoint: socket(), SO_REUSEADDR, bind(), listen().
 * 0.0.0.0 or :: listens on every address; port 0 picks a free port (see nl_tcp_local()).
 *
 * @param out      receives the listener; NULL on failure (never half-built).
 * @param local    address and port to listen on.
 * @param backlog  queue length for not-yet-accepted connections; <= 0 means the system maximum.
 * @param opts     options (trace, v6only, reuseport); NULL for defaults. Copied.
 * @return 0; NL_EINVAL (NULL arguments, unset endpoint); NL_ENOMEM; or the socket(), bind() or
 *         listen() error (NL_EADDRINUSE, NL_EACCES, NL_EADDRNOTAVAIL, NL_EMFILE, ...).
 */
NL_EXTERN int nl_tcp_listen(nl_tcp **out, const nl_endpoint *local, int backlog,
                            const nl_opts *opts);

/**
 * Accept one connection.
 *
 * @param listener  a handle from nl_tcp_listen().
 * @param out   receives the new connection, owned by the caller; NULL on failure. It inherits
 *              the listener's trace callback.
 * @param peer  receives the client's endpoint (normalised to IPv4 where mapped); may be NULL.
 * @param timeout_ms  how long to wait for a client (see the top of this file).
 * @return 0; NL_EAGAIN (timeout 0, nobody waiting); NL_ETIMEDOUT; NL_EINVAL (NULL, or not a
 *         listener); NL_EMFILE / NL_ENFILE (out of descriptors: the client stays queued);
 *         NL_ENOMEM; or the accept() error. NL_ECONNABORTED (a client gave up while queued) and
 *         the network errors accept(2) may report for one client are skipped, not returned.
 */
NL_EXTERN int nl_tcp_accept(nl_tcp *listener, nl_tcp **out, nl_endpoint *peer, int timeout_ms);

/**
 * Connect to a server, waiting at most timeout_ms for the three-way handshake.
 *
 * @param out         receives the connection; NULL on failure.
 * @param remote      the server's endpoint.
 * @param timeout_ms  how long the handshake may take (see the top of this file).
 * @param opts        options; NULL for defaults. The system picks the local address and port.
 * @return 0; NL_ECONNREFUSED; NL_ETIMEDOUT; NL_EAGAIN (timeout 0 and not yet connected: the
 *         attempt is abandoned); NL_ENETUNREACH / NL_EHOSTUNREACH; NL_EINVAL; NL_ENOMEM; or the
 *         socket() / connect() error.
 */
NL_EXTERN int nl_tcp_connect(nl_tcp **out, const nl_endpoint *remote, int timeout_ms,
                             const nl_opts *opts);

/* Step by step, as with the socket module: nl_tcp_open() makes an unconnected socket at once
 * (so its descriptor and local endpoint exist before bind or connect, and socket options can be
 * set first); nl_tcp_bind(), then nl_tcp_listen_on() or nl_tcp_connect_on(), give it its role.
 * The Python module is built on these. Unlike nl_tcp_listen(), nothing is set behind the
 * caller's back: no SO_REUSEADDR unless the caller asks for it. */

/**
 * Create an unconnected TCP socket (Python's `socket.socket()`): socket() and nothing else.
 *
 * @param out     receives the handle; set to NULL on failure (never half-built).
 * @param family  NL_AF_INET or NL_AF_INET6 (dual-stack unless opts->v6only).
 * @param opts    options (trace, v6only, reuseport); NULL for defaults. Copied.
 * @return 0; NL_EINVAL (NULL out); NL_EAFNOSUPPORT (bad family); NL_ENOMEM; or the socket()
 *         error (NL_EMFILE, ...). The caller owns the handle and must nl_tcp_close() it.
 *         Thread-safe.
 */
NL_EXTERN int nl_tcp_open(nl_tcp **out, int family, const nl_opts *opts);

/**
 * Bind a socket made by nl_tcp_open() to a local endpoint (port 0 picks a free port). An IPv4
 * endpoint on an IPv6 socket binds its IPv4-mapped form.
 *
 * @param t      a socket from nl_tcp_open().
 * @param local  the local address and port.
 * @return 0; NL_EINVAL (NULL arguments, unset endpoint, already bound); NL_EAFNOSUPPORT (IPv6
 *         endpoint on an IPv4 socket); or the bind() error (NL_EADDRINUSE, NL_EACCES, ...).
 *         Does not block.
 */
NL_EXTERN int nl_tcp_bind(nl_tcp *t, const nl_endpoint *local);

/**
 * Turn a socket made by nl_tcp_open() into a listener: listen(). Without a bind first the
 * system picks a free port (see nl_tcp_local()). Calling it again on a listener only changes
 * the backlog. The descriptor becomes non-blocking, as with nl_tcp_listen(), so that
 * nl_tcp_accept() keeps its timeout rules even when another thread took the queued client.
 *
 * @param t        a socket from nl_tcp_open().
 * @param backlog  queue length for not-yet-accepted connections; <= 0 means the system maximum.
 * @return 0; NL_EINVAL (NULL, or a connected socket); or the listen() / fcntl() error.
 *         Does not block.
 */
NL_EXTERN int nl_tcp_listen_on(nl_tcp *t, int backlog);

/**
 * Connect a socket made by nl_tcp_open() (bound or not) to a server, waiting at most
 * timeout_ms for the three-way handshake. The handle is kept on failure: the caller decides
 * whether to retry or close, as with connect() on a socket object.
 *
 * When the wait ends before the handshake does (NL_ETIMEDOUT, or NL_EINPROGRESS for timeout
 * 0), the attempt goes on in the kernel: the descriptor turns writable when it is decided (read
 * SO_ERROR, or call again); calling again gives NL_EALREADY while it is pending and, as with
 * connect(2), 0 once after it succeeded in the background, NL_EISCONN from then on.
 *
 * @param t           a socket from nl_tcp_open().
 * @param remote      the server's endpoint.
 * @param timeout_ms  how long the handshake may take (see the top of this file).
 * @return 0 when connected; NL_EINPROGRESS (timeout 0, handshake not finished yet);
 *         NL_ETIMEDOUT; NL_ECONNREFUSED; NL_ENETUNREACH / NL_EHOSTUNREACH; NL_EALREADY;
 *         NL_EISCONN; NL_EINVAL (NULL arguments, unset endpoint); NL_EAFNOSUPPORT; or the
 *         connect() error.
 */
NL_EXTERN int nl_tcp_connect_on(nl_tcp *t, const nl_endpoint *remote, int timeout_ms);

/**
 * Send once: as many bytes as the socket takes now (Python's `send`). Partial sends happen.
 *
 * @param t           the connection.
 * @param buf         the bytes; may be NULL when len is 0.
 * @param len         how many.
 * @param timeout_ms  how long to wait for room in the send buffer.
 * @return the number of bytes sent (>= 1 when len >= 1; 0 when len is 0); NL_EAGAIN /
 *         NL_ETIMEDOUT when no room came in time; NL_EPIPE / NL_ECONNRESET when the peer is
 *         gone (never SIGPIPE); NL_EINVAL; or the send() error.
 */
NL_EXTERN ssize_t nl_tcp_send(nl_tcp *t, const void *buf, size_t len, int timeout_ms);

/**
 * Send all len bytes, looping over partial writes (Python's `sendall`). The timeout covers the
 * whole call, not each write.
 *
 * @param t     the connection.
 * @param buf   the bytes; may be NULL when len is 0.
 * @param len   how many.
 * @param sent  receives the number of bytes that went out, always, even on timeout or error;
 *              may be NULL.
 * @param timeout_ms  how long the whole transfer may take.
 * @return 0 when everything was sent; otherwise the error that stopped it (NL_ETIMEDOUT,
 *         NL_EAGAIN for timeout 0, NL_EPIPE, NL_ECONNRESET, ...) with *sent telling how far
 *         it got.
 */
NL_EXTERN int nl_tcp_send_all(nl_tcp *t, const void *buf, size_t len, size_t *sent,
                              int timeout_ms);

/**
 * Receive up to cap bytes (the course's `recv(1024)`).
 *
 * @param t           the connection.
 * @param buf         where the bytes go.
 * @param cap         size of buf (> 0).
 * @param timeout_ms  how long to wait for data.
 * @return the number of bytes received (>= 1); NL_EOF when the peer closed its side and
 *         everything it sent has been read; NL_EAGAIN (timeout 0, no data yet); NL_ETIMEDOUT;
 *         NL_ECONNRESET; NL_EINVAL (NULL handle or buf, cap 0, a listener); or the recv() error.
 */
NL_EXTERN ssize_t nl_tcp_recv(nl_tcp *t, void *buf, size_t cap, int timeout_ms);

/**
 * Shut down one or both directions (NL_SHUT_RD, NL_SHUT_WR, NL_SHUT_RDWR). After NL_SHUT_WR
 * the peer reads NL_EOF once it has everything sent before.
 * @param t    the connection.
 * @param how  NL_SHUT_RD, NL_SHUT_WR or NL_SHUT_RDWR.
 * @return 0; NL_EINVAL; NL_ENOTCONN; or the shutdown() error.
 */
NL_EXTERN int nl_tcp_shutdown(nl_tcp *t, int how);

/**
 * Turn Nagle's algorithm off (on = 1: TCP_NODELAY, small writes go at once) or back on (0).
 * @param t   the connection.
 * @param on  1 or 0.
 * @return 0, NL_EINVAL, or the setsockopt() error.
 */
NL_EXTERN int nl_tcp_set_nodelay(nl_tcp *t, int on);

/**
 * The local endpoint of a listener or connection.
 * @param t    the handle.
 * @param out  receives the endpoint.
 * @return 0, NL_EINVAL, or the getsockname() error.
 */
NL_EXTERN int nl_tcp_local(const nl_tcp *t, nl_endpoint *out);

/**
 * The peer's endpoint.
 * @param t    the connection.
 * @param out  receives the endpoint.
 * @return 0, NL_EINVAL, NL_ENOTCONN, or the getpeername() error.
 */
NL_EXTERN int nl_tcp_peer(const nl_tcp *t, nl_endpoint *out);

/**
 * The file descriptor, for poll/epoll/select. Still owned by the handle: do not close it, and
 * leave its blocking mode alone.
 * @param t  the handle.
 * @return the descriptor (a SOCKET on Windows), or NL_EINVAL for NULL (INVALID_SOCKET on
 *         Windows).
 */
NL_EXTERN nl_socket_t nl_tcp_fd(const nl_tcp *t);

/**
 * Take over a TCP socket descriptor opened elsewhere (Python's `socket(fileno=fd)`): a
 * connection, a listener or a socket not yet connected, of family AF_INET or AF_INET6. The
 * handle owns the descriptor from then on and nl_tcp_close() closes it. Its
 * close-on-exec flag is left alone; a listener is made non-blocking (as nl_tcp_listen_on()
 * does), a connection's blocking mode is left alone.
 *
 * @param out   receives the handle; set to NULL on failure (never half-built).
 * @param fd    the descriptor; on failure it stays the caller's, untouched.
 * @param opts  options (only trace and trace_user apply); NULL for defaults. Copied.
 * @return 0; NL_EINVAL (NULL out, or not a SOCK_STREAM socket); NL_EBADF (fd < 0 or not
 *         open); NL_ENOTSOCK (not a socket); NL_EAFNOSUPPORT (another family, e.g. AF_UNIX);
 *         NL_ENOMEM; or the fcntl() error. Does not block. Thread-safe.
 */
NL_EXTERN int nl_tcp_adopt(nl_tcp **out, nl_socket_t fd, const nl_opts *opts);

/**
 * Free the handle without closing its descriptor (Python's `socket.detach()`): the caller
 * owns the descriptor from then on.
 *
 * @param t  the handle; freed.
 * @return the descriptor (a SOCKET on Windows), or NL_EINVAL for NULL (INVALID_SOCKET on
 *         Windows).
 */
NL_EXTERN nl_socket_t nl_tcp_detach(nl_tcp *t);

/**
 * Close the connection or listener and free the handle. NULL is a no-op. Unsent data still
 * in the kernel's buffer is delivered in the background, as with close().
 * @param t  the handle, or NULL.
 * @return 0, or the close() error (the handle is freed all the same).
 */
NL_EXTERN int nl_tcp_close(nl_tcp *t);

#ifdef __cplusplus
}
#endif
#endif /* NETLAB_TCP_H */
