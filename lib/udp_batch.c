/* Batch UDP: recvmmsg / sendmmsg, NL_UDP_BATCH_MAX datagrams per system call.
 *
 * The kernel's vectors (mmsghdr, iovec, addresses) are built on the stack for each chunk so
 * the caller only deals with nl_udp_msg. Addresses use a 28-byte sockaddr_in6-sized union
 * rather than sockaddr_storage to keep that stack frame small. */
#include <string.h>

#include "internal.h"

typedef union batch_addr {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
} batch_addr;

#ifdef NL__LINUX
/* One recvmmsg() over msgs[0..n-1]; n <= NL_UDP_BATCH_MAX. wait: block for the first. */
static int recv_chunk(const nl__sock *s, nl_udp_msg *msgs, size_t n, int wait)
{
    struct mmsghdr mm[NL_UDP_BATCH_MAX];
    struct iovec iov[NL_UDP_BATCH_MAX];
    batch_addr addr[NL_UDP_BATCH_MAX];
    size_t i;
    int r;

    for (i = 0; i < n; i++) {
        iov[i].iov_base = msgs[i].buf;
        iov[i].iov_len = msgs[i].cap;
        memset(&mm[i].msg_hdr, 0, sizeof mm[i].msg_hdr);
        mm[i].msg_hdr.msg_name = &addr[i];
        mm[i].msg_hdr.msg_namelen = sizeof addr[i];
        mm[i].msg_hdr.msg_iov = &iov[i];
        mm[i].msg_hdr.msg_iovlen = 1;
    }
    /* MSG_WAITFORONE: block (blocking socket) for the first datagram only. */
    do
        r = recvmmsg(s->fd, mm, (unsigned)n, wait ? MSG_WAITFORONE : MSG_DONTWAIT, NULL);
    while (r < 0 && NL__RETRY_EINTR(s, errno));
    nl__trace_call(s, "recvmmsg", r, errno, "%zu buffers", n);
    if (r < 0)
        return nl__err(errno);
    for (i = 0; i < (size_t)r; i++) {
        /* No sender and no bytes: the receive side is shut down (a real datagram, even an
         * empty one, always has a sender). End the batch there. */
        if (mm[i].msg_hdr.msg_namelen == 0 && mm[i].msg_len == 0)
            return i > 0 ? (int)i : NL_EOF;
        msgs[i].flags = mm[i].msg_hdr.msg_flags & MSG_TRUNC ? NL_UDP_MSG_TRUNC : 0;
        msgs[i].len = mm[i].msg_len > msgs[i].cap ? msgs[i].cap : mm[i].msg_len;
        if (nl__ep_from_sockaddr(&msgs[i].peer, &addr[i].sa, mm[i].msg_hdr.msg_namelen) < 0)
            msgs[i].peer = (nl_endpoint){0};
    }
    return r;
}

static int send_chunk(const nl__sock *s, const nl_udp_msg *msgs, size_t n, int wait)
{
    struct mmsghdr mm[NL_UDP_BATCH_MAX];
    struct iovec iov[NL_UDP_BATCH_MAX];
    batch_addr addr[NL_UDP_BATCH_MAX];
    socklen_t len;
    size_t i;
    int r;

    for (i = 0; i < n; i++) {
        memset(&mm[i].msg_hdr, 0, sizeof mm[i].msg_hdr);
        iov[i].iov_base = msgs[i].buf;
        iov[i].iov_len = msgs[i].len;
        mm[i].msg_hdr.msg_iov = &iov[i];
        mm[i].msg_hdr.msg_iovlen = 1;
        if (msgs[i].peer.family != 0) {
            nl__sockaddr sa;
            len = nl__ep_to_sockaddr(&msgs[i].peer, s->family, &sa);
            if (len == 0 || len > sizeof addr[i]) {
                if (i == 0)
                    return NL_EAFNOSUPPORT;
                n = i; /* send what precedes it; the caller meets the error next time */
                break;
            }
            memcpy(&addr[i], &sa, len);
            mm[i].msg_hdr.msg_name = &addr[i];
            mm[i].msg_hdr.msg_namelen = len;
        }
    }
    do
        r = sendmmsg(s->fd, mm, (unsigned)n, MSG_NOSIGNAL | (wait ? 0 : MSG_DONTWAIT));
    while (r < 0 && NL__RETRY_EINTR(s, errno));
    nl__trace_call(s, "sendmmsg", r, errno, "%zu datagrams", n);
    return r < 0 ? nl__err(errno) : r;
}
#else
/* No recvmmsg/sendmmsg: one call per datagram, same contract. */
static int recv_chunk(const nl__sock *s, nl_udp_msg *msgs, size_t n, int wait)
{
    batch_addr addr;
    socklen_t alen;
    ssize_t r;
    size_t i;

    for (i = 0; i < n; i++) {
        alen = sizeof addr;
        do
            r = nl__recvfrom(s->fd, msgs[i].buf, msgs[i].cap, !(wait && i == 0), &addr.sa, &alen);
        while (r < 0 && NL__RETRY_EINTR(s, errno));
        if (r < 0)
            return i > 0 ? (int)i : nl__err(errno);
        msgs[i].flags = (size_t)r > msgs[i].cap ? NL_UDP_MSG_TRUNC : 0;
        msgs[i].len = (size_t)r > msgs[i].cap ? msgs[i].cap : (size_t)r;
        if (nl__ep_from_sockaddr(&msgs[i].peer, &addr.sa, alen) < 0)
            msgs[i].peer = (nl_endpoint){0};
    }
    return (int)n;
}

static int send_chunk(const nl__sock *s, const nl_udp_msg *msgs, size_t n, int wait)
{
    nl__sockaddr sa;
    socklen_t len = 0;
    ssize_t r;
    size_t i;

    for (i = 0; i < n; i++) {
        if (msgs[i].peer.family != 0 &&
            (len = nl__ep_to_sockaddr(&msgs[i].peer, s->family, &sa)) == 0)
            return i > 0 ? (int)i : NL_EAFNOSUPPORT;
        do
            r = nl__sendto(s->fd, msgs[i].buf, msgs[i].len, !(wait && i == 0),
                           msgs[i].peer.family ? &sa.sa : NULL, msgs[i].peer.family ? len : 0);
        while (r < 0 && NL__RETRY_EINTR(s, errno));
        if (r < 0)
            return i > 0 ? (int)i : nl__err(errno);
    }
    return (int)n;
}
#endif

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
        r = recv_chunk(s, msgs + done, n, done == 0 && timeout_ms < 0);
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
        r = send_chunk(s, msgs + done, n, 0);
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
