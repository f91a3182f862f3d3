/** @file
 * libnetlab: many UDP datagrams per system call (recvmmsg / sendmmsg).
 *
 *   nl_udp_msg m[32];  (point each m[i].buf at a buffer, m[i].cap at its size)
 *   n = nl_udp_recv_batch(u, m, 32, -1);   -> m[0..n-1].len, .peer, .flags are filled in
 *   n = nl_udp_send_batch(u, m, n, -1);    -> the first n went out
 *
 * A socket loop that moves small datagrams spends most of its time entering and leaving the
 * kernel; handing the kernel a vector of datagrams pays that cost once per batch. On systems
 * without recvmmsg/sendmmsg the calls fall back to one recvfrom/sendto per datagram, with the
 * same results.
 *
 * Thread-safety: as for the other nl_udp calls (one thread per handle at a time).
 */
#ifndef NETLAB_UDP_BATCH_H
#define NETLAB_UDP_BATCH_H

#include <stddef.h>
#include <sys/types.h>

#include "netlab/endpoint.h"
#include "netlab/udp.h"
#include "netlab/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/** nl_udp_msg.flags: the datagram was longer than cap; buf holds its first cap bytes. */
#define NL_UDP_MSG_TRUNC 1

/** Datagrams handed to the kernel per system call; longer vectors take several calls. */
#define NL_UDP_BATCH_MAX 64

/** One datagram of a batch. The caller owns the array and the buffers. */
typedef struct nl_udp_msg {
    void *buf;        /**< payload: data to send, or where a received datagram goes           */
    size_t cap;       /**< receive: size of buf (unused for send)                             */
    size_t len;       /**< send: payload length; receive: set to the length stored in buf     */
    nl_endpoint peer; /**< send: destination, or family 0 for the connected peer;
                         receive: set to the sender (IPv4-mapped normalised to IPv4)        */
    int flags;        /**< receive: set to NL_UDP_MSG_TRUNC or 0                              */
} nl_udp_msg;

/**
 * Receive up to count datagrams: wait (per timeout_ms) for the first, then take the ones
 * already queued without waiting. Never blocks once one datagram has arrived.
 *
 * @param u      the socket.
 * @param msgs   count entries with buf and cap set; for each received one, len, peer and
 *               flags are set. A truncated datagram is not an error: its flags say so.
 * @param count  entries in msgs; 0 returns 0 at once.
 * @param timeout_ms  -1 waits for the first datagram as long as it takes, 0 never waits,
 *               > 0 waits at most that long.
 * @return the number received (>= 1); NL_EAGAIN (timeout 0, nothing queued); NL_ETIMEDOUT;
 *         NL_EOF when the receive side was shut down and nothing is queued;
 *         NL_EINVAL (NULL u or msgs, NULL buf with cap > 0); NL_ECONNREFUSED (connected
 *         socket, ICMP port unreachable); or the recvmmsg() error.
 */
NL_EXTERN ssize_t nl_udp_recv_batch(nl_udp *u, nl_udp_msg *msgs, size_t count, int timeout_ms);

/**
 * Send up to count datagrams, each whole or not at all, in order. Waits (per timeout_ms) only
 * while the first one finds no room; once one has gone out, it returns what went out rather
 * than wait again.
 *
 * @param u      the socket.
 * @param msgs   count entries with buf, len and peer set (peer.family 0: the connected peer).
 * @param count  entries in msgs; 0 returns 0 at once.
 * @param timeout_ms  how long the first datagram may wait for room in the send buffer.
 * @return the number sent (>= 1; fewer than count when the socket buffer filled up or a later
 *         datagram failed: send the rest again to learn its error); NL_EAGAIN / NL_ETIMEDOUT
 *         when not even the first fitted in time; NL_EINVAL (NULL arguments, bad endpoint);
 *         NL_EAFNOSUPPORT; NL_EMSGSIZE; NL_EDESTADDRREQ; or the sendmmsg() error for the
 *         first datagram.
 */
NL_EXTERN ssize_t nl_udp_send_batch(nl_udp *u, const nl_udp_msg *msgs, size_t count,
                                    int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif /* NETLAB_UDP_BATCH_H */
