/* libFuzzer target for the endpoint parser. Two halves, chosen by the first input byte:
 *
 * text:   the rest of the input is a string (cut at the first NUL). nl_endpoint_parse() and
 *         nl_endpoint_parse_port() must either refuse it with their documented codes or
 *         accept it; an accepted endpoint must format, and parse(format(ep)) must give back
 *         exactly the same endpoint, field by field (stricter than nl_endpoint_compare(),
 *         which identifies IPv4 with IPv4-mapped IPv6).
 * binary: the rest of the input fills an nl_endpoint's fields directly (family, port,
 *         address bytes, zone), so endpoints the parser would never produce are formatted
 *         too; every valid one must survive format then parse unchanged.
 * Any violation aborts, which libFuzzer reports as a crash with the input saved. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <netlab.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Same family, port, address bytes and zone; IPv4 endpoints keep their unused bytes zero. */
static int same(const nl_endpoint *a, const nl_endpoint *b)
{
    return a->family == b->family && a->port == b->port && a->scope_id == b->scope_id &&
           memcmp(a->addr, b->addr, sizeof a->addr) == 0;
}

static void check_round_trip(const nl_endpoint *ep)
{
    char text[NL_ENDPOINT_STRLEN], again[NL_ENDPOINT_STRLEN], small[8];
    nl_endpoint back;
    int n, m;

    n = nl_endpoint_format(ep, text, sizeof text);
    if (n <= 0 || (size_t)n != strlen(text))
        abort();
    /* The default port must not matter: a formatted endpoint always names its port. */
    if (nl_endpoint_parse(&back, text, 7) != 0 || !same(ep, &back))
        abort();
    if (nl_endpoint_compare(ep, &back) != 0)
        abort();
    m = nl_endpoint_format(&back, again, sizeof again);
    if (m != n || strcmp(text, again) != 0)
        abort();
    /* Too small a buffer is refused and left a valid empty string, never overrun. */
    if (nl_endpoint_format(ep, small, sizeof small) != NL_ENOSPC && n >= (int)sizeof small)
        abort();
    if (n >= (int)sizeof small && small[0] != '\0')
        abort();
}

static void fuzz_text(const uint8_t *data, size_t size)
{
    char text[256];
    nl_endpoint ep;
    int rc, port;

    if (size >= sizeof text)
        size = sizeof text - 1;
    memcpy(text, data, size);
    text[size] = '\0';

    port = nl_endpoint_parse_port(text);
    if (port != NL_EBADPORT && (port < 0 || port > 65535))
        abort();
    if (port >= 0 && (text[0] < '0' || text[0] > '9'))
        abort(); /* a port is digits only: no sign, no space */

    rc = nl_endpoint_parse(&ep, text, 9000);
    if (rc == 0) {
        if (ep.family != NL_AF_INET && ep.family != NL_AF_INET6)
            abort();
        if (ep.family == NL_AF_INET && (ep.scope_id != 0 || ep.addr[4] != 0))
            abort();
        check_round_trip(&ep);
    } else if (rc != NL_EBADADDR && rc != NL_EBADPORT) {
        abort();
    }
}

static void fuzz_binary(const uint8_t *data, size_t size)
{
    nl_endpoint ep;

    memset(&ep, 0, sizeof ep);
    if (size < 1 + 2 + 16 + 4)
        return;
    ep.family = (data[0] & 1) ? NL_AF_INET6 : NL_AF_INET;
    ep.port = (uint16_t)(data[1] << 8 | data[2]);
    if (ep.family == NL_AF_INET6) {
        memcpy(ep.addr, data + 3, 16);
        ep.scope_id = (uint32_t)data[19] << 24 | (uint32_t)data[20] << 16 |
                      (uint32_t)data[21] << 8 | data[22];
    } else {
        memcpy(ep.addr, data + 3, 4);
    }
    check_round_trip(&ep);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] == 0xff)
        fuzz_binary(data + 1, size - 1);
    else
        fuzz_text(data + 1, size - 1);
    return 0;
}
