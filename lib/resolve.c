/* The resolver for callers that want every answer (Python's getaddrinfo()) or the name of an
 * address (getnameinfo()), on top of the system's getaddrinfo()/getnameinfo(). */
#include <string.h>

#include "internal.h"

int nl_resolve(const char *host, const char *service, const nl_resolve_hints *hints,
               nl_resolved *out, size_t cap, char *canon, size_t canon_size)
{
    struct addrinfo h, *res = NULL, *ai;
    size_t n = 0;
    int rc;

    if ((host == NULL && service == NULL) || (out == NULL && cap > 0) ||
        (canon == NULL && canon_size > 0))
        return NL_EINVAL;
    if (canon_size > 0)
        canon[0] = '\0';
    memset(&h, 0, sizeof h);
    if (hints != NULL) {
        if (hints->family != NL_AF_UNSPEC && hints->family != NL_AF_INET &&
            hints->family != NL_AF_INET6)
            return NL_EAI_FAMILY;
        /* NL_AF_* are the library's constants: the system's AF_* may differ. */
        h.ai_family = hints->family == NL_AF_UNSPEC ? AF_UNSPEC : nl__sys_family(hints->family);
        h.ai_socktype = hints->socktype;
        h.ai_protocol = hints->protocol;
        h.ai_flags = hints->flags;
    }
    if ((rc = nl__getaddrinfo(host, service, &h, &res)) < 0)
        return rc;
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        nl_endpoint ep;

        /* Only the families the library speaks; getaddrinfo() gives no others for them. */
        if (nl__ep_from_sockaddr(&ep, ai->ai_addr, ai->ai_addrlen) < 0)
            continue;
        if (n < cap) {
            out[n].ep = ep;
            out[n].socktype = ai->ai_socktype;
            out[n].protocol = ai->ai_protocol;
            /* Windows leaves the protocol 0 when the hints do: name it as POSIX systems do. */
            if (out[n].protocol == 0)
                out[n].protocol = ai->ai_socktype == SOCK_STREAM  ? IPPROTO_TCP
                                  : ai->ai_socktype == SOCK_DGRAM ? IPPROTO_UDP
                                                                  : 0;
        }
        n++;
        if (canon_size > 0 && canon[0] == '\0' && ai->ai_canonname != NULL) {
            strncpy(canon, ai->ai_canonname, canon_size - 1);
            canon[canon_size - 1] = '\0';
        }
    }
    freeaddrinfo(res);
    return n > (size_t)0x7fffffff ? 0x7fffffff : (int)n;
}

int nl_endpoint_name(const nl_endpoint *ep, char *host, size_t host_size, char *serv,
                     size_t serv_size, int flags)
{
    nl__sockaddr sa;
    socklen_t len;

    if (ep == NULL || !nl__ep_valid(ep) || (host == NULL && host_size > 0) ||
        (serv == NULL && serv_size > 0))
        return NL_EINVAL;
    len = nl__ep_to_sockaddr(ep, ep->family, &sa);
    if (len == 0)
        return NL_EINVAL;
    return nl__getnameinfo(&sa.sa, len, host, host_size, serv, serv_size, flags);
}
