/* Batch UDP: NL_UDP_BATCH_MAX datagrams per chunk, one system call per chunk where the system
 * has recvmmsg / sendmmsg (lib/linux_mmsg.c), one per datagram elsewhere
 * (lib/udp_batch_each.c); CMake compiles one of the two. Waiting and time-outs are here. */
#include <string.h>

#include "internal.h"

ssize_t nl_udp_recv_batch(nl_udp *u, nl_udp_msg *msgs, size_t count, int timeout_ms)
{
    const nl__sock *s;
    int64_t deadline = NL__DEADLINE_UNSET;
    size_t done = 0, i;
    int r, read_shut = 0;

    if (u == NULL || (msgs == NULL && count > 0))
        return NL_EINVAL;
    for (i = 0; i < count; i++)
        if (msgs[i].buf == NULL && msgs[i].cap > 0)
            return NL_EINVAL;
    s = nl__udp_sock(u);
    while (done < count) {
        size_t n = count - done < NL_UDP_BATCH_MAX ? count - done : NL_UDP_BATCH_MAX;
        /* Only the first chunk waits, and only with timeout -1 does it block in the kernel;
         * other timeouts poll first, as the single-datagram calls do. */
        r = nl__batch_recv(s, msgs + done, n, done == 0 && timeout_ms < 0);
        if (r == NL_EAGAIN && done == 0) {
            if (read_shut) /* shut down and drained: see nl_udp_recv_from() */
                return NL_EOF;
            if ((r = nl__sock_await(s, POLLIN, timeout_ms, &deadline)) < 0)
                return r;
            read_shut = r == NL__READ_SHUT;
            continue;
        }
        if (r < 0)
            return done > 0 ? (ssize_t)done : r;
        done += (size_t)r;
        if ((size_t)r < n)
            break;
    }
    return (ssize_t)done;
}

ssize_t nl_udp_send_batch(nl_udp *u, const nl_udp_msg *msgs, size_t count, int timeout_ms)
{
    const nl__sock *s;
    int64_t deadline = NL__DEADLINE_UNSET;
    size_t done = 0, i;
    int r;

    if (u == NULL || (msgs == NULL && count > 0))
        return NL_EINVAL;
    for (i = 0; i < count; i++)
        if ((msgs[i].buf == NULL && msgs[i].len > 0) ||
            (msgs[i].peer.family != 0 && !nl__ep_valid(&msgs[i].peer)))
            return NL_EINVAL;
    s = nl__udp_sock(u);
    while (done < count) {
        size_t n = count - done < NL_UDP_BATCH_MAX ? count - done : NL_UDP_BATCH_MAX;
        /* Never blocks in the kernel: a blocking sendmmsg() could block on any datagram,
         * not only the first. Waiting for room is poll()'s job, before the first one. */
        r = nl__batch_send(s, msgs + done, n, 0);
        if (r == NL_EAGAIN && done == 0) {
            if ((r = nl__sock_await(s, POLLOUT, timeout_ms, &deadline)) < 0)
                return r;
            continue;
        }
        if (r < 0)
            return done > 0 ? (ssize_t)done : r;
        done += (size_t)r;
        if ((size_t)r < n)
            break;
    }
    return (ssize_t)done;
}
