/* Endpoints: parsing of every accepted form and of malformed input, formatting round trips,
 * comparison (IPv4-mapped equals IPv4), and the resolver path (localhost works, a name under
 * the reserved .invalid TLD is reported with a resolver code, never lost). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#ifndef _WIN32
#include <net/if.h> /* if_nametoindex; Windows names its interfaces otherwise */
#endif
#include <netlab.h>
#include <stdio.h>

/* Parse text and return the endpoint; the test fails if parsing fails. */
static nl_endpoint parse_ok(const char *text, int default_port)
{
    nl_endpoint ep;
    int rc = nl_endpoint_parse(&ep, text, default_port);

    if (rc != 0)
        fail_msg("parse(\"%s\") = %s", text, nl_err_name(rc));
    return ep;
}

static const char *fmt(const nl_endpoint *ep, char *buf)
{
    int n = nl_endpoint_format(ep, buf, NL_ENDPOINT_STRLEN);

    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(buf));
    return buf;
}

static void parses_ipv4(void **state)
{
    static const uint8_t lo[4] = {127, 0, 0, 1};
    nl_endpoint ep = parse_ok("127.0.0.1", 9000);

    (void)state;
    assert_int_equal(ep.family, NL_AF_INET);
    assert_int_equal(ep.port, 9000);
    assert_memory_equal(ep.addr, lo, 4);
    for (int i = 4; i < 16; i++)
        assert_int_equal(ep.addr[i], 0);
    assert_int_equal(ep.scope_id, 0);

    ep = parse_ok("127.0.0.1:9001", 9000);
    assert_int_equal(ep.port, 9001);
    assert_memory_equal(ep.addr, lo, 4);

    ep = parse_ok("10.1.2.3:0", 9000);
    assert_int_equal(ep.port, 0);
    ep = parse_ok("255.255.255.255:65535", 0);
    assert_int_equal(ep.port, 65535);
}

static void parses_ipv6(void **state)
{
    static const uint8_t lo6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    nl_endpoint ep = parse_ok("::1", 80);

    (void)state;
    assert_int_equal(ep.family, NL_AF_INET6);
    assert_int_equal(ep.port, 80);
    assert_memory_equal(ep.addr, lo6, 16);

    ep = parse_ok("[::1]:9000", 80);
    assert_int_equal(ep.family, NL_AF_INET6);
    assert_int_equal(ep.port, 9000);
    assert_memory_equal(ep.addr, lo6, 16);

    ep = parse_ok("[::1]", 81);
    assert_int_equal(ep.port, 81);

    /* A bare IPv6 address has no port part: the last group is part of the address. */
    ep = parse_ok("2001:db8::1:80", 5);
    assert_int_equal(ep.port, 5);
    assert_int_equal(ep.addr[15], 0x80);
}

static void parses_scope_ids(void **state)
{
    nl_endpoint ep = parse_ok("fe80::1%2", 0);

    (void)state;
    assert_int_equal(ep.family, NL_AF_INET6);
    assert_int_equal(ep.scope_id, 2);
    assert_int_equal(ep.addr[0], 0xfe);
    assert_int_equal(ep.addr[15], 1);

    ep = parse_ok("[fe80::1%4294967295]:9000", 0);
    assert_int_equal(ep.scope_id, 4294967295u);
    assert_int_equal(ep.port, 9000);
}

static void wildcards_are_any(void **state)
{
    nl_endpoint a = parse_ok("0.0.0.0", 0), b = parse_ok("::", 0), c = parse_ok("::1", 0);

    (void)state;
    assert_true(nl_endpoint_is_any(&a));
    assert_true(nl_endpoint_is_any(&b));
    assert_false(nl_endpoint_is_any(&c));
    assert_false(nl_endpoint_is_any(NULL));
}

/* The malformed forms of the issue, and neighbours of them, each with its code. The output
 * must stay untouched on failure. */
static void rejects_bad_forms(void **state)
{
    static const struct {
        const char *text;
        int rc;
    } bad[] = {
        {"999.1.1.1", NL_EBADADDR},
        {"1.2.3", NL_EBADADDR},
        {"[::1", NL_EBADADDR},
        {"[::1]x", NL_EBADADDR},
        {"[1.2.3.4]:80", NL_EBADADDR},
        {"[1.2.3.4]", NL_EBADADDR},
        {"1.2.3.4:70000", NL_EBADPORT},
        {":80", NL_EBADADDR},
        {"abc:12", NL_EBADADDR},
        {"", NL_EBADADDR},
        {"localhost", NL_EBADADDR},
        {"1.2.3.4:", NL_EBADPORT},
        {"1.2.3.4:-1", NL_EBADPORT},
        {"1.2.3.4:+80", NL_EBADPORT},
        {"1.2.3.4:8o", NL_EBADPORT},
        {"1.2.3.4:999999", NL_EBADPORT},
        {"[::1]:", NL_EBADPORT},
        {"[::1]:65536", NL_EBADPORT},
        {"[]:80", NL_EBADADDR},
        {"[]", NL_EBADADDR},
        {"fe80::1%", NL_EBADADDR},
        {"fe80::1%eth0", NL_EBADADDR},
        {"fe80::1%99999999999", NL_EBADADDR},
        {"fe80::1%4294967296", NL_EBADADDR},
        {"1.2.3.4%2", NL_EBADADDR},
        {"::1::", NL_EBADADDR},
        {" 127.0.0.1", NL_EBADADDR},
        {"127.0.0.1 ", NL_EBADADDR},
        {"1.2.3.4.5", NL_EBADADDR},
        {"[::1]]:80", NL_EBADADDR},
    };
    nl_endpoint ep, before;

    (void)state;
    memset(&before, 0xab, sizeof before);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc;
        ep = before;
        rc = nl_endpoint_parse(&ep, bad[i].text, 9000);
        if (rc != bad[i].rc)
            fail_msg("parse(\"%s\") = %s, want %s", bad[i].text, nl_err_name(rc),
                     nl_err_name(bad[i].rc));
        assert_memory_equal(&ep, &before, sizeof ep);
    }
}

static void rejects_null_and_bad_default_port(void **state)
{
    nl_endpoint ep;

    (void)state;
    assert_int_equal(nl_endpoint_parse(&ep, NULL, 0), NL_EINVAL);
    assert_int_equal(nl_endpoint_parse(NULL, "127.0.0.1", 0), NL_EINVAL);
    assert_int_equal(nl_endpoint_parse(&ep, "127.0.0.1", -1), NL_EINVAL);
    assert_int_equal(nl_endpoint_parse(&ep, "127.0.0.1", 65536), NL_EINVAL);
}

static void rejects_very_long_text(void **state)
{
    char big[4096];
    nl_endpoint ep;

    (void)state;
    memset(big, '1', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(nl_endpoint_parse(&ep, big, 0), NL_EBADADDR);
    big[0] = '[';
    big[2000] = ']';
    assert_true(nl_endpoint_parse(&ep, big, 0) < 0);
    assert_true(nl_endpoint_resolve(&ep, big, 0, NL_RESOLVE_ANY) < 0);
    assert_true(nl_endpoint_from_host(&ep, big, 0, NL_RESOLVE_ANY) < 0);
}

static void parses_ports(void **state)
{
    (void)state;
    assert_int_equal(nl_endpoint_parse_port("0"), 0);
    assert_int_equal(nl_endpoint_parse_port("9000"), 9000);
    assert_int_equal(nl_endpoint_parse_port("65535"), 65535);
    assert_int_equal(nl_endpoint_parse_port("00080"), 80);
    assert_int_equal(nl_endpoint_parse_port("65536"), NL_EBADPORT);
    assert_int_equal(nl_endpoint_parse_port("70000"), NL_EBADPORT);
    assert_int_equal(nl_endpoint_parse_port(""), NL_EBADPORT);
    assert_int_equal(nl_endpoint_parse_port(NULL), NL_EBADPORT);
    assert_int_equal(nl_endpoint_parse_port("-1"), NL_EBADPORT);
    assert_int_equal(nl_endpoint_parse_port("+1"), NL_EBADPORT);
    assert_int_equal(nl_endpoint_parse_port("12a"), NL_EBADPORT);
    assert_int_equal(nl_endpoint_parse_port(" 12"), NL_EBADPORT);
    assert_int_equal(nl_endpoint_parse_port("abc"), NL_EBADPORT);
}

/* Canonical text -> parse -> format gives the same text back, and parsing that again gives an
 * equal endpoint. */
static void format_round_trips(void **state)
{
    static const char *canon[] = {
        "127.0.0.1:9000",
        "0.0.0.0:0",
        "255.255.255.255:65535",
        "[::1]:9000",
        "[::]:65535",
        "[2001:db8::1]:443",
        "[fe80::1%2]:9000",
        "[::ffff:127.0.0.1]:80",
        "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%4294967295]:65535",
    };
    char buf[NL_ENDPOINT_STRLEN];

    (void)state;
    for (size_t i = 0; i < sizeof canon / sizeof canon[0]; i++) {
        nl_endpoint a = parse_ok(canon[i], 1), b;
        assert_string_equal(fmt(&a, buf), canon[i]);
        b = parse_ok(buf, 2);
        assert_int_equal(nl_endpoint_compare(&a, &b), 0);
        assert_memory_equal(&a, &b, sizeof a);
    }
}

static void format_addr_only(void **state)
{
    char buf[NL_ENDPOINT_STRLEN];
    nl_endpoint ep = parse_ok("127.0.0.1:9000", 0);

    (void)state;
    assert_int_equal(nl_endpoint_format_addr(&ep, buf, sizeof buf), 9);
    assert_string_equal(buf, "127.0.0.1");
    ep = parse_ok("[::1]:9000", 0);
    assert_int_equal(nl_endpoint_format_addr(&ep, buf, sizeof buf), 3);
    assert_string_equal(buf, "::1");
    ep = parse_ok("[fe80::1%2]:9000", 0);
    assert_true(nl_endpoint_format_addr(&ep, buf, sizeof buf) > 0);
    assert_string_equal(buf, "fe80::1%2");
}

static void format_checks_its_buffer(void **state)
{
    nl_endpoint ep = parse_ok("127.0.0.1:9000", 0), unset = {0};
    char buf[NL_ENDPOINT_STRLEN];

    (void)state;
    /* "127.0.0.1:9000" is 14 characters: 15 bytes fit, 14 do not. */
    assert_int_equal(nl_endpoint_format(&ep, buf, 15), 14);
    assert_string_equal(buf, "127.0.0.1:9000");
    memset(buf, 'x', sizeof buf);
    assert_int_equal(nl_endpoint_format(&ep, buf, 14), NL_ENOSPC);
    assert_string_equal(buf, "");
    assert_int_equal(nl_endpoint_format(&ep, buf, 0), NL_ENOSPC);
    assert_int_equal(nl_endpoint_format_addr(&ep, buf, 9), NL_ENOSPC);
    assert_string_equal(buf, "");
    assert_int_equal(nl_endpoint_format(NULL, buf, sizeof buf), NL_EINVAL);
    assert_int_equal(nl_endpoint_format(&ep, NULL, sizeof buf), NL_EINVAL);
    assert_int_equal(nl_endpoint_format(&unset, buf, sizeof buf), NL_EINVAL);
    assert_int_equal(nl_endpoint_format_addr(&unset, buf, sizeof buf), NL_EINVAL);
}

static void compare_mapped_equals_ipv4(void **state)
{
    nl_endpoint v4 = parse_ok("127.0.0.1:80", 0), mapped = parse_ok("[::ffff:127.0.0.1]:80", 0);
    nl_endpoint other_port = parse_ok("127.0.0.1:81", 0), v6 = parse_ok("[::1]:80", 0);

    (void)state;
    assert_int_equal(mapped.family, NL_AF_INET6);
    assert_int_equal(nl_endpoint_compare(&v4, &mapped), 0);
    assert_int_equal(nl_endpoint_compare(&mapped, &v4), 0);
    assert_int_equal(nl_endpoint_compare(&v4, &v4), 0);
    assert_true(nl_endpoint_compare(&v4, &other_port) < 0);
    assert_true(nl_endpoint_compare(&other_port, &v4) > 0);
    assert_true(nl_endpoint_compare(&mapped, &other_port) < 0);
    assert_true(nl_endpoint_compare(&v4, &v6) != 0);
    assert_true(nl_endpoint_compare(&v4, &v6) == -nl_endpoint_compare(&v6, &v4));
}

static void compare_orders_totally(void **state)
{
    static const char *texts[] = {"[::1]:80",       "127.0.0.1:80", "10.0.0.1:80", "[fe80::1%1]:80",
                                  "[fe80::1%2]:80", "[::1]:79",     "127.0.0.1:1", "0.0.0.0:0"};
    nl_endpoint eps[sizeof texts / sizeof texts[0]];
    size_t n = sizeof texts / sizeof texts[0];

    (void)state;
    for (size_t i = 0; i < n; i++)
        eps[i] = parse_ok(texts[i], 0);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            int ij = nl_endpoint_compare(&eps[i], &eps[j]);
            int ji = nl_endpoint_compare(&eps[j], &eps[i]);
            assert_true((ij < 0 && ji > 0) || (ij > 0 && ji < 0) || (ij == 0 && ji == 0));
            assert_true((ij == 0) == (i == j));
            for (size_t k = 0; k < n; k++)
                if (ij < 0 && nl_endpoint_compare(&eps[j], &eps[k]) < 0)
                    assert_true(nl_endpoint_compare(&eps[i], &eps[k]) < 0);
        }
    }
    /* NULL sorts first. */
    assert_int_equal(nl_endpoint_compare(NULL, NULL), 0);
    assert_true(nl_endpoint_compare(NULL, &eps[0]) < 0);
    assert_true(nl_endpoint_compare(&eps[0], NULL) > 0);
}

static void normalize_maps_back(void **state)
{
    nl_endpoint m = parse_ok("[::ffff:10.1.2.3]:7", 0), v4 = parse_ok("10.1.2.3:7", 0);
    nl_endpoint v6 = parse_ok("[::1]:7", 0), v6copy = v6;

    (void)state;
    nl_endpoint_normalize(&m);
    assert_memory_equal(&m, &v4, sizeof m);
    nl_endpoint_normalize(&v6);
    assert_memory_equal(&v6, &v6copy, sizeof v6);
    nl_endpoint_normalize(NULL);
}

static void resolves_localhost(void **state)
{
    static const uint8_t lo[4] = {127, 0, 0, 1};
    nl_endpoint ep;

    (void)state;
    assert_int_equal(nl_endpoint_resolve(&ep, "localhost", 9000, NL_RESOLVE_ANY), 0);
    assert_int_equal(ep.family, NL_AF_INET); /* IPv4 preferred, see endpoint.h */
    assert_memory_equal(ep.addr, lo, 4);
    assert_int_equal(ep.port, 9000);

    assert_int_equal(nl_endpoint_resolve(&ep, "localhost:8080", 9000, NL_RESOLVE_IPV4), 0);
    assert_int_equal(ep.port, 8080);
    assert_memory_equal(ep.addr, lo, 4);

    /* Brackets are for IPv6 literals only. */
    assert_int_equal(nl_endpoint_resolve(&ep, "[localhost]:81", 9000, NL_RESOLVE_ANY),
                     NL_EBADADDR);

    /* Numeric text never reaches the resolver and keeps its family. */
    assert_int_equal(nl_endpoint_resolve(&ep, "[::1]:82", 0, NL_RESOLVE_ANY), 0);
    assert_int_equal(ep.family, NL_AF_INET6);
    assert_int_equal(nl_endpoint_resolve(&ep, "::1", 0, NL_RESOLVE_IPV4), NL_EAI_FAMILY);
    assert_int_equal(nl_endpoint_resolve(&ep, "127.0.0.1", 0, NL_RESOLVE_IPV6), NL_EAI_FAMILY);
}

/* RFC 6761 reserves .invalid: no resolver may answer it. Whether the local resolver says "no
 * such name" or "try again", the failure must come back as a resolver code with its own
 * message, and the output must stay untouched. */
static void resolver_failure_is_reported(void **state)
{
    nl_endpoint ep, before;
    int rc;

    (void)state;
    memset(&before, 0x5a, sizeof before);
    ep = before;
    rc = nl_endpoint_resolve(&ep, "no-such-host.invalid:80", 0, NL_RESOLVE_ANY);
    if (rc != NL_EAI_NONAME && rc != NL_EAI_AGAIN)
        fail_msg("resolve(no-such-host.invalid) = %d %s", rc, nl_err_name(rc));
    assert_memory_equal(&ep, &before, sizeof ep);
    assert_memory_equal(nl_err_name(rc), "NL_EAI_", 7);
    assert_string_not_equal(nl_strerror(rc), "unknown error");
    assert_non_null(strstr(nl_strerror(rc), "resolver"));

    rc = nl_endpoint_from_host(&ep, "no-such-host.invalid", 80, NL_RESOLVE_IPV4);
    assert_true(rc == NL_EAI_NONAME || rc == NL_EAI_AGAIN);
    assert_memory_equal(&ep, &before, sizeof ep);
}

static void resolve_rejects_bad_input(void **state)
{
    nl_endpoint ep;

    (void)state;
    /* A broken numeric address is a typo, not a host name: it must not go to DNS. */
    assert_int_equal(nl_endpoint_resolve(&ep, "999.1.1.1", 0, NL_RESOLVE_ANY), NL_EBADADDR);
    assert_int_equal(nl_endpoint_resolve(&ep, "1.2.3", 0, NL_RESOLVE_ANY), NL_EBADADDR);
    assert_int_equal(nl_endpoint_resolve(&ep, "localhost:70000", 0, 0), NL_EBADPORT);
    assert_int_equal(nl_endpoint_resolve(&ep, "", 0, 0), NL_EBADADDR);
    assert_int_equal(nl_endpoint_resolve(&ep, ":80", 0, 0), NL_EBADADDR);
    assert_int_equal(nl_endpoint_resolve(&ep, NULL, 0, 0), NL_EINVAL);
    assert_int_equal(nl_endpoint_resolve(NULL, "localhost", 0, 0), NL_EINVAL);
    assert_int_equal(nl_endpoint_resolve(&ep, "localhost", 0, 3), NL_EINVAL);
    assert_int_equal(nl_endpoint_resolve(&ep, "localhost", 0, -1), NL_EINVAL);
    assert_int_equal(nl_endpoint_resolve(&ep, "localhost", 65536, 0), NL_EINVAL);
}

static void from_host_forms(void **state)
{
    char buf[NL_ENDPOINT_STRLEN];
    nl_endpoint ep;

    (void)state;
    assert_int_equal(nl_endpoint_from_host(&ep, "", 9000, NL_RESOLVE_ANY), 0);
    assert_string_equal(fmt(&ep, buf), "0.0.0.0:9000");
    assert_int_equal(nl_endpoint_from_host(&ep, "", 9000, NL_RESOLVE_IPV6), 0);
    assert_string_equal(fmt(&ep, buf), "[::]:9000");
    assert_int_equal(nl_endpoint_from_host(&ep, "[::1]", 80, NL_RESOLVE_ANY), 0);
    assert_string_equal(fmt(&ep, buf), "[::1]:80");
    assert_int_equal(nl_endpoint_from_host(&ep, "::1", 80, NL_RESOLVE_ANY), 0);
    assert_string_equal(fmt(&ep, buf), "[::1]:80");
    assert_int_equal(nl_endpoint_from_host(&ep, "127.0.0.1", 65535, NL_RESOLVE_ANY), 0);
    assert_string_equal(fmt(&ep, buf), "127.0.0.1:65535");
    assert_int_equal(nl_endpoint_from_host(&ep, "[fe80::1%3]", 7, NL_RESOLVE_ANY), 0);
    assert_string_equal(fmt(&ep, buf), "[fe80::1%3]:7");
    assert_int_equal(nl_endpoint_from_host(&ep, "localhost", 0, NL_RESOLVE_IPV4), 0);
    assert_string_equal(fmt(&ep, buf), "127.0.0.1:0");
}

/* The short and old IPv4 forms inet_aton() takes, as Python's socket module does. */
static void from_host_short_ipv4_forms(void **state)
{
    static const char *const forms[] = {"127.1", "127.0.1", "2130706433", "0x7f.1", "0177.1"};
    char buf[NL_ENDPOINT_STRLEN];
    nl_endpoint ep;

    (void)state;
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        const int s = NL_RESOLVE_SHORT_IPV4;
        int rc = nl_endpoint_from_host(&ep, forms[i], 80, NL_RESOLVE_ANY | s);
        if (rc != 0)
            fail_msg("from_host(\"%s\") = %s", forms[i], nl_err_name(rc));
        assert_string_equal(fmt(&ep, buf), "127.0.0.1:80");
        assert_int_equal(nl_endpoint_from_host(&ep, forms[i], 80, NL_RESOLVE_IPV4 | s), 0);
        assert_int_equal(nl_endpoint_resolve(&ep, forms[i], 80, NL_RESOLVE_IPV4 | s), 0);
        assert_string_equal(fmt(&ep, buf), "127.0.0.1:80");
        assert_int_equal(nl_endpoint_from_host(&ep, forms[i], 80, NL_RESOLVE_IPV6 | s),
                         NL_EAI_FAMILY);
        /* Without the flag they stay typos, as the course programs want them. */
        if (strchr(forms[i], 'x') == NULL)
            assert_int_equal(nl_endpoint_from_host(&ep, forms[i], 80, 0), NL_EBADADDR);
    }
    /* Still refused, without asking DNS: out-of-range parts. */
    assert_int_equal(nl_endpoint_from_host(&ep, "256.1", 80, NL_RESOLVE_SHORT_IPV4),
                     NL_EBADADDR);
    assert_int_equal(nl_endpoint_from_host(&ep, "1.2.3.4.5", 80, NL_RESOLVE_SHORT_IPV4),
                     NL_EBADADDR);
    assert_int_equal(nl_endpoint_from_host(&ep, "::1", 80, 8), NL_EINVAL);
}

static void from_host_rejects_bad_input(void **state)
{
    nl_endpoint ep, before;

    (void)state;
    memset(&before, 0x33, sizeof before);
    ep = before;
    assert_int_equal(nl_endpoint_from_host(&ep, "127.0.0.1", 70000, 0), NL_EBADPORT);
    assert_int_equal(nl_endpoint_from_host(&ep, "127.0.0.1", 65536, 0), NL_EBADPORT);
    assert_int_equal(nl_endpoint_from_host(&ep, "127.0.0.1", -1, 0), NL_EBADPORT);
    assert_int_equal(nl_endpoint_from_host(&ep, "[::1", 80, 0), NL_EBADADDR);
    assert_int_equal(nl_endpoint_from_host(&ep, "[]", 80, 0), NL_EBADADDR);
    assert_int_equal(nl_endpoint_from_host(&ep, "[", 80, 0), NL_EBADADDR);
    assert_int_equal(nl_endpoint_from_host(&ep, "999.1.1.1", 80, 0), NL_EBADADDR);
    /* The port goes separately: a port part in the host is malformed. */
    assert_int_equal(nl_endpoint_from_host(&ep, "127.0.0.1:80", 80, 0), NL_EBADADDR);
    assert_int_equal(nl_endpoint_from_host(&ep, "[::1]:80", 80, 0), NL_EBADADDR);
    assert_int_equal(nl_endpoint_from_host(&ep, "1.2.3.4", 80, NL_RESOLVE_IPV6), NL_EAI_FAMILY);
    assert_memory_equal(&ep, &before, sizeof ep);
    assert_int_equal(nl_endpoint_from_host(&ep, NULL, 80, 0), NL_EINVAL);
    assert_int_equal(nl_endpoint_from_host(NULL, "::1", 80, 0), NL_EINVAL);
    assert_int_equal(nl_endpoint_from_host(&ep, "::1", 80, 9), NL_EINVAL);
}

#ifndef _WIN32
/* An IPv6 zone by interface name, as getaddrinfo() and Python take it (issue 11): "lo"
 * exists on every Linux host, with the index if_nametoindex() gives. */
static void zone_by_interface_name(void **state)
{
    char buf[NL_ENDPOINT_STRLEN];
    unsigned lo = if_nametoindex("lo");
    nl_endpoint ep, before;

    (void)state;
    assert_true(lo > 0);
    assert_int_equal(nl_endpoint_from_host(&ep, "fe80::1%lo", 9000, NL_RESOLVE_ANY), 0);
    assert_int_equal(ep.family, NL_AF_INET6);
    assert_int_equal(ep.scope_id, lo);
    assert_int_equal(ep.port, 9000);
    assert_int_equal(nl_endpoint_from_host(&ep, "[fe80::1%lo]", 7, NL_RESOLVE_IPV6), 0);
    assert_int_equal(ep.scope_id, lo);
    assert_int_equal(nl_endpoint_resolve(&ep, "[fe80::1%lo]:9000", 0, NL_RESOLVE_ANY), 0);
    assert_int_equal(ep.scope_id, lo);
    assert_int_equal(ep.port, 9000);
    assert_int_equal(nl_endpoint_resolve(&ep, "fe80::1%lo", 5, NL_RESOLVE_ANY), 0);
    assert_int_equal(ep.port, 5);
    /* Formatted with the number, which reads back without asking the kernel. */
    snprintf(buf, sizeof buf, "[fe80::1%%%u]:5", lo);
    assert_string_equal(fmt(&ep, buf + 32), buf);

    memset(&before, 0x44, sizeof before);
    ep = before;
    /* No such interface: the resolver's "not known", as getaddrinfo() says it. */
    assert_int_equal(nl_endpoint_from_host(&ep, "fe80::1%no-such-if0", 1, 0), NL_EAI_NONAME);
    assert_int_equal(nl_endpoint_resolve(&ep, "[fe80::1%nosuchif]:1", 0, 0), NL_EAI_NONAME);
    assert_int_equal(nl_endpoint_from_host(&ep, "fe80::1%waytoolonganinterfacename", 1, 0),
                     NL_EAI_NONAME);
    /* A zone is for IPv6 only, needs a name, and the address before it must be one. */
    assert_int_equal(nl_endpoint_from_host(&ep, "127.0.0.1%lo", 1, 0), NL_EBADADDR);
    assert_int_equal(nl_endpoint_from_host(&ep, "fe80::1%", 1, 0), NL_EBADADDR);
    assert_int_equal(nl_endpoint_from_host(&ep, "fe80::zz%lo", 1, 0), NL_EBADADDR);
    assert_int_equal(nl_endpoint_from_host(&ep, "fe80::1%lo", 1, NL_RESOLVE_IPV4),
                     NL_EAI_FAMILY);
    assert_memory_equal(&ep, &before, sizeof ep);
    /* The pure parser does no I/O, so it keeps to numeric zones. */
    assert_int_equal(nl_endpoint_parse(&ep, "fe80::1%lo", 0), NL_EBADADDR);
}
#endif

/* A bounded, seeded fuzz of the pure parser: random text from the characters that matter must
 * never crash (the sanitizer build watches), and whatever parses must round-trip. */
static void parse_survives_random_text(void **state)
{
    static const char alphabet[] = "0123456789abcdef:.[]%f";
    uint32_t seed = 12345;
    char text[48], buf[NL_ENDPOINT_STRLEN];
    int accepted = 0;

    (void)state;
    for (int iter = 0; iter < 200000; iter++) {
        size_t len;
        nl_endpoint a, b;

        seed = seed * 1103515245u + 12345u;
        len = (seed >> 16) % (sizeof text - 1);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            text[i] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
        }
        text[len] = '\0';
        if (nl_endpoint_parse(&a, text, 7) != 0)
            continue;
        accepted++;
        assert_true(nl_endpoint_format(&a, buf, sizeof buf) > 0);
        assert_int_equal(nl_endpoint_parse(&b, buf, 8), 0);
        assert_int_equal(nl_endpoint_compare(&a, &b), 0);
    }
    assert_true(accepted > 0); /* the generator does reach valid addresses */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_ipv4),
        cmocka_unit_test(parses_ipv6),
        cmocka_unit_test(parses_scope_ids),
        cmocka_unit_test(wildcards_are_any),
        cmocka_unit_test(rejects_bad_forms),
        cmocka_unit_test(rejects_null_and_bad_default_port),
        cmocka_unit_test(rejects_very_long_text),
        cmocka_unit_test(parses_ports),
        cmocka_unit_test(format_round_trips),
        cmocka_unit_test(format_addr_only),
        cmocka_unit_test(format_checks_its_buffer),
        cmocka_unit_test(compare_mapped_equals_ipv4),
        cmocka_unit_test(compare_orders_totally),
        cmocka_unit_test(normalize_maps_back),
        cmocka_unit_test(resolves_localhost),
        cmocka_unit_test(resolver_failure_is_reported),
        cmocka_unit_test(resolve_rejects_bad_input),
        cmocka_unit_test(from_host_forms),
        cmocka_unit_test(from_host_rejects_bad_input),
        cmocka_unit_test(from_host_short_ipv4_forms),
#ifndef _WIN32
        cmocka_unit_test(zone_by_interface_name),
#endif
        cmocka_unit_test(parse_survives_random_text),
    };

    return cmocka_run_group_tests_name("endpoint", tests, NULL, NULL);
}
