/* No live capture (capture_int.h): Windows, the POSIX systems other than Linux, and Linux
 * built with NETLAB_FORCE_PORTABLE_POSIX. Offline handles (the decoder and the tracker) work
 * everywhere; what needs a packet socket says NL_ENOTSUP. */
#include "capture_int.h"

int nl__cap_open_socket(nl_capture *c, const char *ifname)
{
    (void)c, (void)ifname;
    return NL_ENOTSUP;
}

void nl__cap_close_socket(nl_capture *c)
{
    (void)c; /* never opened */
}

int nl__cap_kernel_counts(nl_capture *c)
{
    (void)c;
    return 0;
}

int nl_capture_read(nl_capture *c, nl_capture_packet *pkts, int max, int timeout_ms)
{
    (void)timeout_ms;
    return !c || !pkts || max <= 0 || c->fd < 0 ? NL_EINVAL : NL_ENOTSUP;
}

int nl_capture_interface(const nl_endpoint *addr, char *buf, size_t size)
{
    if (!addr || !buf || (addr->family != NL_AF_INET && addr->family != NL_AF_INET6))
        return NL_EINVAL;
    (void)size;
    return NL_ENOTSUP;
}
