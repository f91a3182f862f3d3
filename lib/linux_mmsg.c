/* Batch UDP chunks on Linux (udp_batch.c): one recvmmsg() or sendmmsg() per chunk.
 *
 * The kernel's vectors (mmsghdr, iovec, addresses) are built on the stack for each chunk so
 * the caller only deals with nl_udp_msg. Addresses use a 28-byte sockaddr_in6-sized union
 * rather than sockaddr_storage to keep that stack frame small. Compiled instead of
 * udp_batch_each.c when CMake builds for Linux without NETLAB_FORCE_PORTABLE_POSIX. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"

/* One recvmmsg() over msgs[0..n-1]; n <= NL_UDP_BATCH_MAX. wait: block for the first. */
int nl__batch_recv(const nl__sock *s, nl_udp_msg *msgs, size_t n, int wait)
{
    struct mmsghdr mm[NL_UDP_BATCH_MAX];
    struct iovec iov[NL_UDP_BATCH_MAX];
    nl__batch_addr addr[NL_UDP_BATCH_MAX];
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

int nl__batch_send(const nl__sock *s, const nl_udp_msg *msgs, size_t n, int wait)
{
    struct mmsghdr mm[NL_UDP_BATCH_MAX];
    struct iovec iov[NL_UDP_BATCH_MAX];
    nl__batch_addr addr[NL_UDP_BATCH_MAX];
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
