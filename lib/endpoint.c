/* Endpoints: parse, resolve, format, compare. Everything but the resolver is pure. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int nl__ep_valid(const nl_endpoint *ep)
{
    return ep != NULL && (ep->family == NL_AF_INET || ep->family == NL_AF_INET6);
}

int nl_endpoint_parse_port(const char *text)
{
    long v = 0;

    if (text == NULL || *text == '\0' || strlen(text) > 5)
        return NL_EBADPORT;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return NL_EBADPORT;
        v = v * 10 + (*p - '0');
    }
    return v <= 65535 ? (int)v : NL_EBADPORT;
}

/* Numeric IPv4 or IPv6 address, with an optional numeric "%zone" for IPv6. */
static int parse_numeric_host(nl_endpoint *ep, const char *host)
{
    char buf[INET6_ADDRSTRLEN + 16];
    const char *pct;
    size_t n = strlen(host);

    memset(ep, 0, sizeof *ep);
    if (n == 0 || n >= sizeof buf)
        return NL_EBADADDR;
    if (inet_pton(AF_INET, host, ep->addr) == 1) {
        ep->family = NL_AF_INET;
        return 0;
    }
    memcpy(buf, host, n + 1);
    pct = strchr(buf, '%');
    if (pct != NULL) {
        /* Only a numeric zone ("%2"): a name ("%eth0") needs if_nametoindex(), i.e. I/O. */
        /* 64 bits: ten digits overflow a 32-bit unsigned long (Windows' long is 32 bits). */
        uint64_t z = 0;
        if (pct[1] == '\0' || strlen(pct + 1) > 10)
            return NL_EBADADDR;
        for (const char *p = pct + 1; *p; p++) {
            if (*p < '0' || *p > '9')
                return NL_EBADADDR;
            z = z * 10 + (uint64_t)(*p - '0');
        }
        if (z > 0xffffffffU)
            return NL_EBADADDR;
        ep->scope_id = (uint32_t)z;
        buf[pct - buf] = '\0';
    }
    if (inet_pton(AF_INET6, buf, ep->addr) == 1) {
        ep->family = NL_AF_INET6;
        return 0;
    }
    memset(ep, 0, sizeof *ep);
    return NL_EBADADDR;
}

/* Split "host", "host:port", "[v6]", "[v6]:port" or a bare IPv6 address into a host string
 * (copied into hostbuf) and a port. Pure. */
static int split_host_port(const char *text, char *hostbuf, size_t hostcap, int *port)
{
    const char *host = text, *end, *colon;
    size_t hlen;

    if (text[0] == '[') {
        end = strchr(text, ']');
        if (end == NULL)
            return NL_EBADADDR;
        host = text + 1;
        hlen = (size_t)(end - host);
        /* Brackets exist to set an IPv6 address's colons apart from the port's, and are
         * kept for that: "[1.2.3.4]:80" or "[localhost]:80" is a typo, not an address. */
        if (memchr(host, ':', hlen) == NULL)
            return NL_EBADADDR;
        if (end[1] == ':') {
            int p = nl_endpoint_parse_port(end + 2);
            if (p < 0)
                return p;
            *port = p;
        } else if (end[1] != '\0') {
            return NL_EBADADDR;
        }
    } else {
        colon = strchr(text, ':');
        if (colon != NULL && strchr(colon + 1, ':') == NULL) {
            int p = nl_endpoint_parse_port(colon + 1);
            if (p < 0)
                return p;
            *port = p;
            hlen = (size_t)(colon - text);
        } else {
            hlen = strlen(text); /* no colon, or several: a bare IPv6 address */
        }
    }
    if (hlen == 0 || hlen >= hostcap)
        return NL_EBADADDR;
    memcpy(hostbuf, host, hlen);
    hostbuf[hlen] = '\0';
    return 0;
}

int nl_endpoint_parse(nl_endpoint *out, const char *text, int default_port)
{
    char host[NL_ENDPOINT_STRLEN];
    nl_endpoint ep;
    int port = default_port, rc;

    if (out == NULL || text == NULL || default_port < 0 || default_port > 65535)
        return NL_EINVAL;
    rc = split_host_port(text, host, sizeof host, &port);
    if (rc < 0)
        return rc;
    rc = parse_numeric_host(&ep, host);
    if (rc < 0)
        return rc;
    ep.port = (uint16_t)port;
    *out = ep;
    return 0;
}

/* A numeric IPv6 address with a zone given by interface name, "fe80::1%lo", as the stdlib's
 * getaddrinfo() accepts it. Returns 1 and fills ep when host has that shape and the interface
 * exists, 0 when host has another shape, NL_EAI_NONAME for an interface that does not exist
 * (what getaddrinfo() says too). Not pure: if_nametoindex() asks the kernel. */
static int parse_named_zone(nl_endpoint *ep, const char *host)
{
    char buf[INET6_ADDRSTRLEN + NL__IF_NAMESIZE];
    const char *pct = strchr(host, '%');
    size_t n = strlen(host);
    unsigned idx;

    if (pct == NULL || n >= sizeof buf || pct[1] == '\0')
        return 0;
    memcpy(buf, host, n + 1);
    buf[pct - host] = '\0';
    if (parse_numeric_host(ep, buf) < 0 || ep->family != NL_AF_INET6)
        return 0; /* not an IPv6 address before the '%': an ordinary malformed address */
    if (strlen(pct + 1) >= NL__IF_NAMESIZE || (idx = nl__if_nametoindex(pct + 1)) == 0)
        return NL_EAI_NONAME;
    ep->scope_id = idx;
    return 1;
}

/* Resolve a host (no port part) to the first address of the wanted family. */
static int resolve_host(nl_endpoint *out, const char *host, int port, int flags)
{
    struct addrinfo hints, *res = NULL, *ai;
    struct in_addr a4;
    nl_endpoint ep;
    int rc = 0, short_ipv4 = flags & NL_RESOLVE_SHORT_IPV4;

    flags &= ~NL_RESOLVE_SHORT_IPV4;
    if (parse_numeric_host(&ep, host) == 0 || (rc = parse_named_zone(&ep, host)) == 1) {
        if ((flags == NL_RESOLVE_IPV4 && ep.family != NL_AF_INET) ||
            (flags == NL_RESOLVE_IPV6 && ep.family != NL_AF_INET6))
            return NL_EAI_FAMILY;
        ep.port = (uint16_t)port;
        *out = ep;
        return 0;
    }
    if (rc < 0)
        return rc;
    /* On request, the short and old IPv4 forms that inet_aton() and so getaddrinfo() take
     * ("127.1", "0x7f.1", "2130706433"), as Python's socket module does. */
    if (short_ipv4 && strchr(host, ':') == NULL &&
        strspn(host, "0123456789.xXabcdefABCDEF") == strlen(host) &&
        nl__inet_aton(host, &a4) == 1) {
        if (flags == NL_RESOLVE_IPV6)
            return NL_EAI_FAMILY;
        memset(&ep, 0, sizeof ep);
        ep.family = NL_AF_INET;
        memcpy(ep.addr, &a4, 4);
        ep.port = (uint16_t)port;
        *out = ep;
        return 0;
    }
    /* Something that looks like a broken numeric address (only digits and dots, or colons,
     * or a zone) is a typo, not a host name: "999.1.1.1" must not go to DNS. */
    if (strspn(host, "0123456789.") == strlen(host) || strpbrk(host, ":%") != NULL)
        return NL_EBADADDR;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = flags == NL_RESOLVE_IPV4 ? AF_INET
                      : flags == NL_RESOLVE_IPV6 ? AF_INET6
                                                 : AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM; /* one entry per address instead of one per protocol */
    if ((rc = nl__getaddrinfo(host, NULL, &hints, &res)) < 0)
        return rc;
    /* With AF_UNSPEC prefer IPv4 ("localhost" has both): it works with the course's
     * 0.0.0.0 servers, which do not accept IPv6. */
    rc = NL_EAI_NODATA;
    for (int pass = 0; pass < 2 && rc != 0; pass++) {
        for (ai = res; ai != NULL; ai = ai->ai_next) {
            if (pass == 0 && flags == NL_RESOLVE_ANY && ai->ai_family != AF_INET)
                continue;
            if (nl__ep_from_sockaddr(&ep, ai->ai_addr, ai->ai_addrlen) == 0) {
                ep.port = (uint16_t)port;
                *out = ep;
                rc = 0;
                break;
            }
        }
    }
    freeaddrinfo(res);
    return rc;
}

int nl_endpoint_resolve(nl_endpoint *out, const char *text, int default_port, int flags)
{
    char host[256];
    int port = default_port, rc;

    if (out == NULL || text == NULL || default_port < 0 || default_port > 65535 ||
        (flags & ~NL_RESOLVE_SHORT_IPV4) < 0 || (flags & ~NL_RESOLVE_SHORT_IPV4) > NL_RESOLVE_IPV6)
        return NL_EINVAL;
    rc = split_host_port(text, host, sizeof host, &port);
    if (rc < 0)
        return rc;
    return resolve_host(out, host, port, flags);
}

int nl_endpoint_from_host(nl_endpoint *out, const char *host, int port, int flags)
{
    char buf[256];
    size_t n;

    if (out == NULL || host == NULL || (flags & ~NL_RESOLVE_SHORT_IPV4) < 0 ||
        (flags & ~NL_RESOLVE_SHORT_IPV4) > NL_RESOLVE_IPV6)
        return NL_EINVAL;
    if (port < 0 || port > 65535)
        return NL_EBADPORT;
    n = strlen(host);
    if (n == 0)
        host = (flags & ~NL_RESOLVE_SHORT_IPV4) == NL_RESOLVE_IPV6 ? "::" : "0.0.0.0";
    else if (host[0] == '[') {
        if (n < 3 || host[n - 1] != ']' || n - 2 >= sizeof buf || memchr(host, ':', n) == NULL)
            return NL_EBADADDR; /* brackets only around IPv6 addresses, as in the text forms */
        memcpy(buf, host + 1, n - 2);
        buf[n - 2] = '\0';
        host = buf;
    }
    if (strlen(host) >= sizeof buf)
        return NL_EBADADDR;
    return resolve_host(out, host, port, flags);
}

int nl_endpoint_format_addr(const nl_endpoint *ep, char *buf, size_t size)
{
    char tmp[NL_ENDPOINT_STRLEN];
    int n;

    if (!nl__ep_valid(ep) || buf == NULL)
        return NL_EINVAL;
    if (inet_ntop(ep->family == NL_AF_INET ? AF_INET : AF_INET6, ep->addr, tmp, sizeof tmp) ==
        NULL)
        return NL_EINVAL;
    n = (int)strlen(tmp);
    if (ep->family == NL_AF_INET6 && ep->scope_id != 0)
        n += snprintf(tmp + n, sizeof tmp - (size_t)n, "%%%u", (unsigned)ep->scope_id);
    if ((size_t)n >= size) {
        if (size > 0)
            buf[0] = '\0';
        return NL_ENOSPC;
    }
    memcpy(buf, tmp, (size_t)n + 1);
    return n;
}

int nl_endpoint_format(const nl_endpoint *ep, char *buf, size_t size)
{
    char addr[NL_ENDPOINT_STRLEN], tmp[NL_ENDPOINT_STRLEN + 8];
    int n = nl_endpoint_format_addr(ep, addr, sizeof addr);

    if (n < 0 || buf == NULL)
        return n < 0 ? n : NL_EINVAL;
    if (ep->family == NL_AF_INET6)
        n = snprintf(tmp, sizeof tmp, "[%s]:%u", addr, (unsigned)ep->port);
    else
        n = snprintf(tmp, sizeof tmp, "%s:%u", addr, (unsigned)ep->port);
    if (n < 0 || (size_t)n >= size) {
        if (size > 0)
            buf[0] = '\0';
        return NL_ENOSPC;
    }
    memcpy(buf, tmp, (size_t)n + 1);
    return n;
}

void nl_endpoint_normalize(nl_endpoint *ep)
{
    if (ep == NULL || ep->family != NL_AF_INET6 ||
        memcmp(ep->addr, v4mapped_prefix, sizeof v4mapped_prefix) != 0)
        return;
    memmove(ep->addr, ep->addr + 12, 4);
    memset(ep->addr + 4, 0, 12);
    ep->family = NL_AF_INET;
    ep->scope_id = 0;
}

int nl_endpoint_compare(const nl_endpoint *a, const nl_endpoint *b)
{
    nl_endpoint x, y;
    int c;

    if (a == NULL || b == NULL)
        return (a != NULL) - (b != NULL);
    x = *a;
    y = *b;
    nl_endpoint_normalize(&x);
    nl_endpoint_normalize(&y);
    if (x.family != y.family)
        return x.family < y.family ? -1 : 1;
    c = memcmp(x.addr, y.addr, x.family == NL_AF_INET ? 4 : 16);
    if (c != 0)
        return c < 0 ? -1 : 1;
    if (x.port != y.port)
        return x.port < y.port ? -1 : 1;
    if (x.scope_id != y.scope_id)
        return x.scope_id < y.scope_id ? -1 : 1;
    return 0;
}

int nl_endpoint_is_any(const nl_endpoint *ep)
{
    static const uint8_t zero[16];

    if (!nl__ep_valid(ep))
        return 0;
    return memcmp(ep->addr, zero, ep->family == NL_AF_INET ? 4 : 16) == 0;
}

/* Conversions to and from the system's sockaddr. An IPv4 endpoint used on an IPv6 socket is
 * given as its IPv4-mapped form, so dual-stack sockets reach IPv4 peers. */
socklen_t nl__ep_to_sockaddr(const nl_endpoint *ep, int sock_family, nl__sockaddr *out)
{
    memset(out, 0, sizeof *out);
    if (sock_family == NL_AF_INET6) {
        out->in6.sin6_family = AF_INET6;
        out->in6.sin6_port = htons(ep->port);
        if (ep->family == NL_AF_INET) {
            memcpy(out->in6.sin6_addr.s6_addr, v4mapped_prefix, 12);
            memcpy(out->in6.sin6_addr.s6_addr + 12, ep->addr, 4);
        } else {
            memcpy(out->in6.sin6_addr.s6_addr, ep->addr, 16);
            out->in6.sin6_scope_id = ep->scope_id;
        }
        return sizeof out->in6;
    }
    if (ep->family != NL_AF_INET)
        return 0;
    out->in4.sin_family = AF_INET;
    out->in4.sin_port = htons(ep->port);
    memcpy(&out->in4.sin_addr, ep->addr, 4);
    return sizeof out->in4;
}

int nl__ep_from_sockaddr(nl_endpoint *ep, const struct sockaddr *sa, socklen_t len)
{
    memset(ep, 0, sizeof *ep);
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)(const void *)sa;
        ep->family = NL_AF_INET;
        ep->port = ntohs(in4->sin_port);
        memcpy(ep->addr, &in4->sin_addr, 4);
        return 0;
    }
    if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        ep->family = NL_AF_INET6;
        ep->port = ntohs(in6->sin6_port);
        memcpy(ep->addr, in6->sin6_addr.s6_addr, 16);
        ep->scope_id = in6->sin6_scope_id;
        nl_endpoint_normalize(ep);
        return 0;
    }
    return NL_EAFNOSUPPORT;
}
