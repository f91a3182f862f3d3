/* Batch UDP chunks without recvmmsg / sendmmsg (udp_batch.c): one nl__recvfrom() or
 * nl__sendto() of the seam per datagram, with the same contract as lib/linux_mmsg.c. Every
 * system but Linux, and Linux built with NETLAB_FORCE_PORTABLE_POSIX. */
#include <errno.h>

#include "internal.h"

int nl__batch_recv(const nl__sock *s, nl_udp_msg *msgs, size_t n, int wait)
{
    nl__batch_addr addr;
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
        /* No sender and no bytes: the receive side is shut down (a real datagram, even an
         * empty one, has a sender), as linux_mmsg.c and nl_udp_recv() see it. */
        if (r == 0 && alen == 0)
            return i > 0 ? (int)i : NL_EOF;
        msgs[i].flags = (size_t)r > msgs[i].cap ? NL_UDP_MSG_TRUNC : 0;
        msgs[i].len = (size_t)r > msgs[i].cap ? msgs[i].cap : (size_t)r;
        if (nl__ep_from_sockaddr(&msgs[i].peer, &addr.sa, alen) < 0)
            msgs[i].peer = (nl_endpoint){0};
    }
    return (int)n;
}

int nl__batch_send(const nl__sock *s, const nl_udp_msg *msgs, size_t n, int wait)
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
