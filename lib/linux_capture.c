/* Live capture on Linux (capture_int.h): a packet socket, bound to one interface after a BPF
 * filter for one port is attached, read with the virtio-net header that tells an offloaded
 * packet's segment size. Compiled instead of capture_none.c when CMake builds for Linux
 * without NETLAB_FORCE_PORTABLE_POSIX. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "capture_int.h"

#include <ifaddrs.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23 /* Linux 4.20; older headers lack the name */
#endif

/* ---- the packet socket ------------------------------------------------------------------ */

/* Accept IPv4 (first fragments) and IPv6 (no extension headers) TCP and UDP packets whose
 * source or destination port is `port`. The IP header starts at `off`: after the 14-byte
 * Ethernet header on a SOCK_RAW socket (Ethernet, loopback), at 0 on a SOCK_DGRAM one. */
static int attach_filter(int fd, uint16_t port, unsigned off)
{
    struct sock_filter code[] = {
        /* 0 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, off + 0),
        /* 1 */ BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xf0),
        /* 2 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x60, 11, 0), /* IPv6: to 14 */
        /* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x40, 0, 18), /* not IPv4: drop */
        /* 4 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, off + 9),      /* IPv4 protocol */
        /* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 6, 1, 0),
        /* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 17, 0, 15),
        /* 7 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, off + 6),
        /* 8 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 13, 0), /* later fragment: drop */
        /* 9 */ BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, off),            /* X = IP header length */
        /* 10 */ BPF_STMT(BPF_LD | BPF_H | BPF_IND, off),            /* source port */
        /* 11 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port, 9, 0),
        /* 12 */ BPF_STMT(BPF_LD | BPF_H | BPF_IND, off + 2), /* destination port */
        /* 13 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port, 7, 8),
        /* 14 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, off + 6), /* IPv6 next header */
        /* 15 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 6, 1, 0),
        /* 16 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 17, 0, 5),
        /* 17 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, off + 40),
        /* 18 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port, 2, 0),
        /* 19 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, off + 42),
        /* 20 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port, 0, 1),
        /* 21 */ BPF_STMT(BPF_RET | BPF_K, 0x40000), /* accept the whole packet */
        /* 22 */ BPF_STMT(BPF_RET | BPF_K, 0),       /* drop */
    };
    struct sock_fprog prog = {(unsigned short)(sizeof code / sizeof code[0]), code};
    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
}

int nl__cap_open_socket(nl_capture *c, const char *ifname)
{
    struct sockaddr_ll sll = {0};
    struct ifreq ifr = {0};
    int one = 1, size = NL__CAP_RCVBUF;

    /* Protocol 0: the socket receives nothing until bound, after its filter is in place. */
    c->fd = nl__fd_above_stdio(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
    if (c->fd < 0)
        return nl__err(errno);
    size_t namelen = strlen(ifname);
    if (namelen >= sizeof ifr.ifr_name)
        return NL_EINVAL;
    memcpy(ifr.ifr_name, ifname, namelen + 1);
    if (ioctl(c->fd, SIOCGIFINDEX, &ifr) < 0)
        return errno == ENODEV ? NL_EINVAL : nl__err(errno);
    sll.sll_ifindex = ifr.ifr_ifindex;
    if (ioctl(c->fd, SIOCGIFHWADDR, &ifr) < 0)
        return nl__err(errno);
    /* Ethernet and loopback frames are read whole (SOCK_RAW), because only then does the
     * kernel add the virtio-net header that tells an offloaded packet's segment size. Other
     * link types (tunnels, ...) are read from their IP header on (SOCK_DGRAM). */
    if (ifr.ifr_hwaddr.sa_family == ARPHRD_ETHER || ifr.ifr_hwaddr.sa_family == ARPHRD_LOOPBACK) {
        c->link_len = ETH_HLEN;
        /* Without the header (an old kernel) it still captures; every packet is then one
         * segment. */
        c->vnet = setsockopt(c->fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) == 0;
    } else {
        close(c->fd);
        c->fd = nl__fd_above_stdio(socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        if (c->fd < 0)
            return nl__err(errno);
    }
    if (ioctl(c->fd, SIOCGIFFLAGS, &ifr) < 0)
        return nl__err(errno);
    if ((ifr.ifr_flags & IFF_LOOPBACK) &&
        setsockopt(c->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0)
        return nl__err(errno);
    /* The larger buffer holds bursts (64 KiB segments on lo) while the reader is busy. Forcing
     * it needs CAP_NET_ADMIN; without it the system's limit applies. */
    if (setsockopt(c->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
        setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (attach_filter(c->fd, c->port, (unsigned)c->link_len) < 0)
        return nl__err(errno);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    if (bind(c->fd, (struct sockaddr *)&sll, sizeof sll) < 0)
        return nl__err(errno);
    /* Reset the counters: they start with this capture. */
    struct tpacket_stats ts;
    socklen_t tl = sizeof ts;
    getsockopt(c->fd, SOL_PACKET, PACKET_STATISTICS, &ts, &tl);
    return 0;
}

void nl__cap_close_socket(nl_capture *c)
{
    if (c->fd >= 0)
        close(c->fd);
}

int nl__cap_kernel_counts(nl_capture *c)
{
    if (c->fd >= 0) {
        struct tpacket_stats ts;
        socklen_t tl = sizeof ts;
        if (getsockopt(c->fd, SOL_PACKET, PACKET_STATISTICS, &ts, &tl) < 0)
            return nl__err(errno);
        /* The kernel resets its counters on every read, so they are added up here. */
        c->st.received += ts.tp_packets;
        c->st.drops += ts.tp_drops;
    }
    return 0;
}

int nl_capture_read(nl_capture *c, nl_capture_packet *pkts, int max, int timeout_ms)
{
    int n = 0;
    int64_t deadline = NL__DEADLINE_UNSET;

    if (!c || !pkts || max <= 0 || c->fd < 0)
        return NL_EINVAL;
    while (n < max) {
        ssize_t got = recv(c->fd, c->buf, sizeof c->buf, MSG_DONTWAIT);
        if (got < 0 && errno == EINTR) {
            if (c->return_eintr)
                return NL_EINTR;
            continue;
        }
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (n > 0)
                break;
            if (timeout_ms == 0)
                return NL_EAGAIN;
            struct pollfd pfd = {c->fd, POLLIN, 0};
            if (deadline == NL__DEADLINE_UNSET)
                deadline = nl__deadline(timeout_ms);
            int64_t left = deadline < 0 ? -1 : deadline - nl__deadline(0);
            if (deadline >= 0 && left <= 0)
                return NL_ETIMEDOUT;
            int pr = poll(&pfd, 1, left < 0 ? -1 : (int)(left > 1000000 ? 1000000 : left));
            if (pr < 0 && (errno != EINTR || c->return_eintr))
                return nl__err(errno);
            continue;
        }
        if (got < 0)
            return nl__err(errno);
        /* [virtio-net header] [Ethernet header] IP packet */
        size_t skip = (c->vnet ? sizeof(struct virtio_net_hdr) : 0) + (size_t)c->link_len;
        const unsigned char *eth = c->buf + skip - (size_t)c->link_len;
        if ((size_t)got < skip || (c->link_len && !(eth[12] == 0x08 && eth[13] == 0x00) &&
                                   !(eth[12] == 0x86 && eth[13] == 0xdd))) {
            c->st.ignored++; /* not IP (the filter lets none through: a defence only) */
            continue;
        }
        if (!nl_capture_feed(c, c->buf + skip, (size_t)got - skip, &pkts[n]))
            continue; /* counted as ignored */
        if (c->vnet) {
            struct virtio_net_hdr vh;
            memcpy(&vh, c->buf, sizeof vh);
            /* In host byte order here: the packet socket writes it for this host. */
            if (vh.gso_type != VIRTIO_NET_HDR_GSO_NONE && vh.gso_size > 0 && pkts[n].len > 0 &&
                pkts[n].proto == NL_CAPTURE_TCP)
                pkts[n].segs = (pkts[n].len + vh.gso_size - 1u) / vh.gso_size;
        }
        n++;
    }
    return n;
}

/* Is addr one of this machine's addresses? Binding a UDP socket to it succeeds only then. */
static int is_local(const nl__sockaddr *sa, socklen_t len)
{
    int fd = socket(sa->sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0), ok;
    if (fd < 0)
        return 0;
    nl__sockaddr any = *sa;
    if (any.sa.sa_family == AF_INET)
        any.in4.sin_port = 0;
    else
        any.in6.sin6_port = 0;
    ok = bind(fd, &any.sa, len) == 0;
    close(fd);
    return ok;
}

int nl_capture_interface(const nl_endpoint *addr, char *buf, size_t size)
{
    static const uint8_t zero[16];
    nl__sockaddr sa, me = {0};
    socklen_t len, melen = sizeof me;
    struct ifaddrs *ifs, *i;
    const char *name = "lo";
    int rc = 0, fd;

    if (!addr || !buf || (addr->family != NL_AF_INET && addr->family != NL_AF_INET6))
        return NL_EINVAL;
    if (!(len = nl__ep_to_sockaddr(addr, addr->family == NL_AF_INET ? AF_INET : AF_INET6, &sa)))
        return NL_EINVAL;
    int wildcard = !memcmp(addr->addr, zero, addr->family == NL_AF_INET ? 4 : 16);
    if (wildcard || is_local(&sa, len))
        return snprintf(buf, size, "%s", name) < (int)size ? 0 : NL_ENOSPC;
    /* connect() on a UDP socket only looks up the route; getsockname() then tells the source
     * address it chose, whose interface getifaddrs() names. */
    if ((fd = socket(sa.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
        return nl__err(errno);
    if (connect(fd, &sa.sa, len) < 0 || getsockname(fd, &me.sa, &melen) < 0)
        rc = nl__err(errno);
    close(fd);
    if (rc < 0)
        return rc;
    if (getifaddrs(&ifs) < 0)
        return nl__err(errno);
    name = NULL;
    for (i = ifs; i && !name; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != me.sa.sa_family)
            continue;
        if (me.sa.sa_family == AF_INET
                ? ((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr.s_addr ==
                      me.in4.sin_addr.s_addr
                : !memcmp(&((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr,
                          &me.in6.sin6_addr, 16))
            name = i->ifa_name;
    }
    rc = !name ? NL_EADDRNOTAVAIL : snprintf(buf, size, "%s", name) < (int)size ? 0 : NL_ENOSPC;
    freeifaddrs(ifs);
    return rc;
}
