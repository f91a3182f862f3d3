/** @file
 * libnetlab: endpoints, an IP address and a port as a plain value.
 *
 * An nl_endpoint is a small struct the caller owns and copies freely: no allocation, no
 * handle. IPv4 and IPv6 are both first class. Parsing is pure (no system calls, safe to fuzz);
 * only nl_endpoint_resolve() and nl_endpoint_from_host() may ask the resolver (getaddrinfo),
 * and only when the text is not already a numeric address.
 *
 * Text forms accepted:
 *   "127.0.0.1"  "127.0.0.1:9000"  "::1"  "[::1]"  "[::1]:9000"  "fe80::1%2"  "[fe80::1%2]:9000"
 *   and, for the resolving functions, host names: "localhost"  "localhost:9000"
 *   and a zone by interface name, "fe80::1%lo"  "[fe80::1%eth0]:9000" (looked up with
 *   if_nametoindex(), so only the resolving functions take it; nl_endpoint_parse() stays pure)
 * Brackets go only around IPv6 addresses: "[1.2.3.4]:80" and "[localhost]:80" are NL_EBADADDR.
 * A bare IPv6 address has no port part (its colons would be ambiguous): use brackets for one.
 */
#ifndef NETLAB_ENDPOINT_H
#define NETLAB_ENDPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "netlab/version.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NL_AF_UNSPEC 0  /**< no family: an unset endpoint */
/* The library's own constants, the same on every system; the library translates them to the
 * system's AF_* values (AF_INET6 is 10 on Linux, 23 on Windows, 28 on FreeBSD, 30 on macOS).
 * Pass these, never AF_*, to libnetlab. */
#define NL_AF_INET 2    /**< IPv4 (the library's own constant) */
#define NL_AF_INET6 10  /**< IPv6 (the library's own constant, not the system's AF_INET6) */

/** Room for any formatted endpoint, "[ffff:...:ffff%4294967295]:65535", with its NUL. */
#define NL_ENDPOINT_STRLEN 64

/** An IP address and port. Zero-initialised means "unset" (family 0). */
typedef struct nl_endpoint {
    int family;        /**< NL_AF_INET or NL_AF_INET6; 0 when unset */
    uint16_t port;     /**< host byte order */
    uint8_t addr[16];  /**< network byte order; IPv4 uses addr[0..3], rest is zero */
    uint32_t scope_id; /**< IPv6 zone (interface index), 0 for none */
} nl_endpoint;

#define NL_RESOLVE_ANY 0   /**< resolver flag: either family, IPv4 first when a name has both */
#define NL_RESOLVE_IPV4 1  /**< resolver flag: IPv4 only */
#define NL_RESOLVE_IPV6 2  /**< resolver flag: IPv6 only */
/** Resolver flag, OR-ed to one of the three above: also take the short and old IPv4 forms
 *  inet_aton() takes ("127.1" = 127.0.0.1, "2130706433", "0x7f.1"), as getaddrinfo() and
 *  Python's socket module do. Without it such text is refused as a typo (NL_EBADADDR). */
#define NL_RESOLVE_SHORT_IPV4 4

/**
 * Parse a numeric endpoint ("127.0.0.1:9000", "[::1]:9000", "::1", ...). Pure: no I/O.
 *
 * @param out           receives the endpoint; untouched on failure.
 * @param text          the text, NUL-terminated.
 * @param default_port  port used when the text has none (0..65535).
 * @return 0; NL_EINVAL for NULL arguments or a default_port out of range; NL_EBADADDR for an
 *         address that is not numeric IPv4/IPv6 or is malformed; NL_EBADPORT for a port part
 *         that is not a number from 0 to 65535. Thread-safe.
 */
NL_EXTERN int nl_endpoint_parse(nl_endpoint *out, const char *text, int default_port);

/**
 * Parse a port number given as text ("9000"). Pure.
 *
 * @param text  decimal digits only, NUL-terminated.
 * @return the port (0..65535), or NL_EBADPORT for anything else (empty, sign, junk, > 65535,
 *         NULL). Thread-safe.
 */
NL_EXTERN int nl_endpoint_parse_port(const char *text);

/**
 * Like nl_endpoint_parse(), but the host part may also be a name, looked up with getaddrinfo.
 * Blocks while the resolver works (it has no timeout of its own; numeric text never blocks).
 *
 * @param out           receives the endpoint; untouched on failure.
 * @param text          "host", "host:port", "[v6]:port" or a bare IPv6 address.
 * @param default_port  port used when the text has none (0..65535).
 * @param flags         NL_RESOLVE_ANY, NL_RESOLVE_IPV4 or NL_RESOLVE_IPV6, with
 *                      NL_RESOLVE_SHORT_IPV4 or-ed in to take "127.1" and the like.
 * An IPv6 zone may be an interface name ("fe80::1%lo"): it becomes the scope_id that
 * if_nametoindex() gives, as with getaddrinfo().
 *
 * @return 0, or the nl_endpoint_parse() errors, or an NL_EAI_* code when the resolver fails
 *         (NL_EAI_NONAME: no such host, or no such interface for a zone). Thread-safe.
 */
NL_EXTERN int nl_endpoint_resolve(nl_endpoint *out, const char *text, int default_port,
                                  int flags);

/**
 * Make an endpoint from a host (numeric address or name, no port part; brackets allowed around
 * IPv6) and a port given separately, as in Python's ('127.0.0.1', 9000) or a --host/--port
 * command line. An empty host means "all addresses" (0.0.0.0, or :: with NL_RESOLVE_IPV6).
 *
 * @param out    receives the endpoint; untouched on failure.
 * @param host   "127.0.0.1", "::1", "[::1]", "fe80::1%lo", "localhost", or "" for all
 *               addresses.
 * @param port   0..65535, else NL_EBADPORT (so a failed nl_endpoint_parse_port() passes through).
 * @param flags  NL_RESOLVE_ANY, NL_RESOLVE_IPV4 or NL_RESOLVE_IPV6, with
 *               NL_RESOLVE_SHORT_IPV4 or-ed in to take "127.1" and the like.
 * @return 0 or the same codes as nl_endpoint_resolve(). Thread-safe.
 */
NL_EXTERN int nl_endpoint_from_host(nl_endpoint *out, const char *host, int port, int flags);

/**
 * Format an endpoint as "127.0.0.1:9000" or "[::1]:9000". Pure.
 *
 * @param ep    the endpoint.
 * @param buf   receives the NUL-terminated text; NL_ENDPOINT_STRLEN bytes always suffice.
 * @param size  size of buf.
 * @return the length written (without the NUL); NL_EINVAL for NULL arguments or an unset
 *         endpoint; NL_ENOSPC when size is too small (buf then holds an empty string).
 */
NL_EXTERN int nl_endpoint_format(const nl_endpoint *ep, char *buf, size_t size);

/**
 * Format only the address: "127.0.0.1", "::1", "fe80::1%2". Pure. The zone is always the
 * number (what nl_endpoint_parse() reads back); to print an address as Python's socket module
 * does, ('fe80::1', port, 0, scope_id), format a copy whose scope_id is 0.
 *
 * @param ep    the endpoint.
 * @param buf   receives the NUL-terminated text.
 * @param size  size of buf.
 * @return the length written, or the errors of nl_endpoint_format().
 */
NL_EXTERN int nl_endpoint_format_addr(const nl_endpoint *ep, char *buf, size_t size);

/**
 * Compare two endpoints. An IPv4-mapped IPv6 address (\::ffff:127.0.0.1) compares equal to
 * its IPv4 form. The order is total and stable: family, then address, then port, then scope.
 *
 * @param a  one endpoint, or NULL.
 * @param b  the other, or NULL.
 * @return 0 when equal, < 0 or > 0 otherwise. NULL sorts before any endpoint. Pure.
 */
NL_EXTERN int nl_endpoint_compare(const nl_endpoint *a, const nl_endpoint *b);

/**
 * Turn an IPv4-mapped IPv6 endpoint into its plain IPv4 form in place; others are left alone.
 * Pure. Does nothing for NULL.
 *
 * @param ep  the endpoint to rewrite.
 */
NL_EXTERN void nl_endpoint_normalize(nl_endpoint *ep);

/**
 * Tell whether the address is the wildcard, 0.0.0.0 or :: ("all addresses"). Pure.
 *
 * @param ep  the endpoint, or NULL.
 * @return 1 for the wildcard, 0 otherwise (also for NULL or an unset endpoint).
 */
NL_EXTERN int nl_endpoint_is_any(const nl_endpoint *ep);

/** What nl_resolve() looks for; zero-initialised means "anything" (as getaddrinfo()'s hints). */
typedef struct nl_resolve_hints {
    int family;   /**< NL_AF_INET, NL_AF_INET6, or NL_AF_UNSPEC (0) for both */
    int socktype; /**< the system's SOCK_STREAM / SOCK_DGRAM, or 0 for both */
    int protocol; /**< the system's IPPROTO_TCP / IPPROTO_UDP, or 0 for any */
    int flags;    /**< the system's AI_* flags (AI_PASSIVE, AI_NUMERICHOST, AI_CANONNAME, ...) */
} nl_resolve_hints;

/** One answer of nl_resolve(). */
typedef struct nl_resolved {
    nl_endpoint ep; /**< the address and port */
    int socktype;   /**< the system's SOCK_STREAM or SOCK_DGRAM (0 for others, e.g. SOCK_RAW) */
    int protocol;   /**< the system's IPPROTO_TCP, IPPROTO_UDP, ... */
} nl_resolved;

/**
 * Every address a host and service stand for, in the resolver's order (Python's
 * `getaddrinfo()`): getaddrinfo() with the given hints, the answers of families other than
 * IPv4 and IPv6 left out. Blocks while the resolver works (numeric text never blocks).
 *
 * @param host        a name or a numeric address; NULL for "none" (with AI_PASSIVE: the
 *                    wildcard, else loopback), as with getaddrinfo().
 * @param service     a port number or service name ("http"); NULL for port 0.
 * @param hints       what to look for; NULL for anything.
 * @param out         receives up to cap answers; may be NULL when cap is 0 (to count them).
 * @param cap         room in out.
 * @param canon       receives the canonical name (AI_CANONNAME), "" when there is none; may
 *                    be NULL when canon_size is 0. Cut to canon_size - 1 bytes.
 * @param canon_size  size of canon.
 * @return the number of answers (may exceed cap: then only cap were stored); NL_EINVAL (both
 *         host and service NULL, NULL buffers with a size); NL_EAI_FAMILY (another family);
 *         an NL_EAI_* code when the resolver fails (NL_EAI_NONAME: no such name,
 *         NL_EAI_SERVICE: no such service for this socket type). Thread-safe.
 */
NL_EXTERN int nl_resolve(const char *host, const char *service, const nl_resolve_hints *hints,
                         nl_resolved *out, size_t cap, char *canon, size_t canon_size);

/**
 * The host and service names of an endpoint (Python's `getnameinfo()`): getnameinfo() with the
 * given flags (the system's NI_NUMERICHOST, NI_NUMERICSERV, NI_NAMEREQD, NI_DGRAM, ...). Blocks
 * while the resolver works unless both parts are asked for numerically.
 *
 * @param ep         the endpoint (its scope_id is used for a link-local IPv6 address).
 * @param host       receives the host name; may be NULL when host_size is 0 (not wanted).
 * @param host_size  size of host (NI_MAXHOST, 1025, always suffices).
 * @param serv       receives the service name or port; may be NULL when serv_size is 0.
 * @param serv_size  size of serv (32 suffices).
 * @param flags      the system's NI_* flags.
 * @return 0; NL_EINVAL (NULL or unset endpoint, NULL buffers with a size); an NL_EAI_* code
 *         when the resolver fails (NL_EAI_NONAME with NI_NAMEREQD and no name, ...); the
 *         result is cut (NL_EAI_OTHER) when a buffer is too small. Thread-safe.
 */
NL_EXTERN int nl_endpoint_name(const nl_endpoint *ep, char *host, size_t host_size, char *serv,
                               size_t serv_size, int flags);

#ifdef __cplusplus
}
#endif
#endif /* NETLAB_ENDPOINT_H */
