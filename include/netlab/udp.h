/** @file
 * libnetlab: UDP sockets, the course's first flow.
 *
 *   server: nl_udp_open -> nl_udp_bind(0.0.0.0:9000) -> loop nl_udp_recv_from -> nl_udp_close
 *   client: nl_udp_open -> loop nl_udp_send_to(peer)                          -> nl_udp_close
 *
 * The calls mirror socket(), bind(), recvfrom(), sendto() and connect(), done right: every
 * blocking call takes a timeout, EINTR is retried (or returned as NL_EINTR when the handle was
 * opened with nl_opts.return_eintr), a datagram larger than the buffer is
 * reported (NL_ETRUNC) instead of silently cut, zero-length datagrams are delivered, and
 * descriptors are close-on-exec, and never 0, 1 or 2: a program started with its standard
 * input or output closed gets an error from it, never a socket in its place.
 *
 * Timeouts are in milliseconds: -1 waits as long as it takes, 0 never waits (NL_EAGAIN when
 * nothing is ready), > 0 waits at most that long (NL_ETIMEDOUT when it runs out).
 *
 * Thread-safety: one handle must be used by one thread at a time; different handles may be
 * used from different threads concurrently. The library keeps no global mutable state.
 */
#ifndef NETLAB_UDP_H
#define NETLAB_UDP_H

#include <stddef.h>
#include <sys/types.h>

#include "netlab/endpoint.h"
#include "netlab/trace.h"
#include "netlab/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A UDP socket. Opaque; created by nl_udp_open(), freed by nl_udp_close(). */
typedef struct nl_udp nl_udp;

/** Largest UDP payload over IPv4 (65,535 - 20 - 8); a buffer this size never truncates. */
#define NL_UDP_MAX_DATAGRAM 65507

/**
 * Create an unbound UDP socket (the course's `socket(type=SOCK_DGRAM)`).
 *
 * An NL_AF_INET6 socket also reaches IPv4 peers through IPv4-mapped addresses unless
 * opts->v6only is set; endpoints it reports are normalised back to plain IPv4.
 *
 * @param out     receives the handle; set to NULL on failure (never half-built).
 * @param family  NL_AF_INET or NL_AF_INET6.
 * @param opts    options (trace callback, v6only, reuseport); NULL for defaults. Copied.
 * @return 0; NL_EINVAL (NULL out), NL_EAFNOSUPPORT (bad family), NL_ENOMEM, or the socket()
 *         error (NL_EMFILE, ...). The caller owns the handle and must nl_udp_close() it.
 */
NL_EXTERN int nl_udp_open(nl_udp **out, int family, const nl_opts *opts);

/**
 * Bind the socket to a local endpoint, e.g. 0.0.0.0:9000 (port 0 picks a free port).
 * An IPv4 endpoint on an IPv6 socket binds its IPv4-mapped form.
 *
 * @param u      the socket.
 * @param local  the local address and port; 0.0.0.0 or :: for all addresses.
 * @return 0; NL_EINVAL (NULL arguments, unset endpoint), NL_EAFNOSUPPORT (IPv6 address on an
 *         IPv4 socket), or the bind() error (NL_EADDRINUSE, NL_EACCES, NL_EADDRNOTAVAIL, ...).
 */
NL_EXTERN int nl_udp_bind(nl_udp *u, const nl_endpoint *local);

/**
 * Create a socket of the endpoint's family and bind it in one step.
 *
 * @param out    receives the handle, or NULL on failure.
 * @param local  the local address and port; its family is the socket's.
 * @param opts   options; NULL for defaults. Copied.
 * @return 0 or the errors of nl_udp_open() and nl_udp_bind().
 */
NL_EXTERN int nl_udp_open_bound(nl_udp **out, const nl_endpoint *local, const nl_opts *opts);

/**
 * Connect the socket to one peer: from then on it receives only that peer's datagrams (the
 * kernel drops others) and nl_udp_send_to() may pass NULL as destination. Never blocks.
 *
 * @param u     the socket.
 * @param peer  the one peer to talk to.
 * @return 0; NL_EINVAL; NL_EAFNOSUPPORT; or the connect() error.
 */
NL_EXTERN int nl_udp_connect(nl_udp *u, const nl_endpoint *peer);

/**
 * Send one datagram (the course's `sendto`).
 *
 * @param u    the socket.
 * @param buf  the payload; may be NULL when len is 0 (an empty datagram is valid).
 * @param len  payload length; at most NL_UDP_MAX_DATAGRAM over IPv4.
 * @param to   destination, or NULL on a connected socket.
 * @param timeout_ms  how long to wait for room in the send buffer (see the top of this file).
 * @return len (a datagram is sent whole or not at all); NL_EINVAL (NULL handle, NULL buf with
 *         len > 0, unset endpoint), NL_EMSGSIZE (too large), NL_EDESTADDRREQ (no destination on
 *         an unconnected socket), NL_EAGAIN / NL_ETIMEDOUT, NL_ECONNREFUSED (a connected
 *         socket learnt from ICMP that nobody listens), or the sendto() error.
 */
NL_EXTERN ssize_t nl_udp_send_to(nl_udp *u, const void *buf, size_t len, const nl_endpoint *to,
                                 int timeout_ms);

/**
 * Receive one datagram (the course's `recvfrom`).
 *
 * @param u     the socket.
 * @param buf   where the payload goes; may be NULL when cap is 0.
 * @param cap   size of buf.
 * @param from  receives the sender (IPv4-mapped senders normalised to IPv4); may be NULL.
 * @param timeout_ms  how long to wait for a datagram (see the top of this file).
 * @return the datagram's length (0 for an empty datagram); NL_ETRUNC when it was longer than
 *         cap: buf then holds its first cap bytes and from is set, the rest is gone;
 *         NL_EAGAIN (timeout 0, nothing queued); NL_ETIMEDOUT; NL_EOF when the socket's
 *         receive side was shut down (shutdown(fd, SHUT_RD), e.g. to wake a blocked reader)
 *         and nothing is queued; NL_ECONNREFUSED (connected
 *         socket, ICMP port unreachable); NL_EINVAL; or the recvfrom() error.
 */
NL_EXTERN ssize_t nl_udp_recv_from(nl_udp *u, void *buf, size_t cap, nl_endpoint *from,
                                   int timeout_ms);

/**
 * The local endpoint the socket is bound to (after bind, connect or the first send).
 * @param u    the socket.
 * @param out  receives the endpoint.
 * @return 0, NL_EINVAL, or the getsockname() error.
 */
NL_EXTERN int nl_udp_local(const nl_udp *u, nl_endpoint *out);

/**
 * The file descriptor, for poll/epoll/select. Still owned by the handle: do not close it, and
 * leave it in blocking mode (the handle's own timeouts do the rest).
 * @param u  the socket.
 * @return the descriptor (a SOCKET on Windows), or NL_EINVAL for NULL (INVALID_SOCKET on
 *         Windows).
 */
NL_EXTERN nl_socket_t nl_udp_fd(const nl_udp *u);

/**
 * The socket's address family.
 * @param u  the socket.
 * @return NL_AF_INET or NL_AF_INET6; NL_EINVAL for NULL.
 */
NL_EXTERN int nl_udp_family(const nl_udp *u);

/**
 * Close the socket and free the handle. NULL is a no-op. The handle is invalid afterwards.
 * @param u  the socket, or NULL.
 * @return 0, or the close() error (the handle is freed all the same).
 */
NL_EXTERN int nl_udp_close(nl_udp *u);

/**
 * Take over a UDP socket descriptor opened elsewhere (Python's `socket(fileno=fd)`), bound or
 * not, connected or not, of family AF_INET or AF_INET6. The handle owns the descriptor from
 * then on and nl_udp_close() closes it. Its flags (blocking mode,
 * close-on-exec) are left alone.
 *
 * @param out   receives the handle; set to NULL on failure (never half-built).
 * @param fd    the descriptor; on failure it stays the caller's, untouched.
 * @param opts  options (only trace and trace_user apply); NULL for defaults. Copied.
 * @return 0; NL_EINVAL (NULL out, or not a SOCK_DGRAM socket); NL_EBADF (fd < 0 or not
 *         open); NL_ENOTSOCK (not a socket); NL_EAFNOSUPPORT (another family, e.g. AF_UNIX);
 *         NL_ENOMEM; or the fcntl() error. Does not block. Thread-safe.
 */
NL_EXTERN int nl_udp_adopt(nl_udp **out, nl_socket_t fd, const nl_opts *opts);

/**
 * Free the handle without closing its descriptor (Python's `socket.detach()`): the caller
 * owns the descriptor from then on.
 *
 * @param u  the handle; freed.
 * @return the descriptor (a SOCKET on Windows), or NL_EINVAL for NULL (INVALID_SOCKET on
 *         Windows).
 */
NL_EXTERN nl_socket_t nl_udp_detach(nl_udp *u);

#ifdef __cplusplus
}
#endif
#endif /* NETLAB_UDP_H */
