/* The platform seam, through the public API only, on every platform the suite runs on: Linux,
 * Linux forced onto the portable POSIX path, and Windows (mingw-w64, under wine). What it pins
 * down is what differs between systems: the library's own NL_AF_* constants (AF_INET6 is 10
 * on Linux, 23 on Windows), truncation (MSG_TRUNC, recvmsg's flag, WSAEMSGSIZE), timeouts
 * without MSG_DONTWAIT, a refused connect, the wake-up channel of poll loops, and on Windows
 * Winsock errors wine cannot produce, injected (lib/win.c's nl__win_fault). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "netlab.h"

static nl_endpoint loopback(int family)
{
    nl_endpoint ep;
    assert_int_equal(nl_endpoint_parse(&ep, family == NL_AF_INET6 ? "::1" : "127.0.0.1", 0), 0);
    return ep;
}

/* NL_AF_INET6 is the library's constant: nl_resolve() with it as the hint family must find
 * ::1 on every system (it was passed to getaddrinfo() untranslated: EAI_FAMILY on Windows). */
static void resolve_translates_the_family(void **state)
{
    nl_resolve_hints h = {.family = NL_AF_INET6};
    nl_resolved r[4];
    int n;

    (void)state;
    n = nl_resolve("::1", "9000", &h, r, 4, NULL, 0);
    assert_true(n >= 1);
    assert_int_equal(r[0].ep.family, NL_AF_INET6);
    assert_int_equal(r[0].ep.port, 9000);
    h.family = NL_AF_INET;
    n = nl_resolve("127.0.0.1", NULL, &h, r, 4, NULL, 0);
    assert_true(n >= 1);
    assert_int_equal(r[0].ep.family, NL_AF_INET);
}

/* Both families over loopback: a datagram each way, the sender's family and port seen. */
static void udp_both_families(void **state)
{
    int fams[2] = {NL_AF_INET, NL_AF_INET6};

    (void)state;
    for (int i = 0; i < 2; i++) {
        nl_endpoint ep = loopback(fams[i]), la, lb, from;
        nl_udp *a = NULL, *b = NULL;
        char buf[16];

        assert_int_equal(nl_udp_open_bound(&a, &ep, NULL), 0);
        assert_int_equal(nl_udp_open_bound(&b, &ep, NULL), 0);
        assert_int_equal(nl_udp_family(a), fams[i]);
        assert_int_equal(nl_udp_local(a, &la), 0);
        assert_int_equal(nl_udp_local(b, &lb), 0);
        assert_int_equal(la.family, fams[i]);
        assert_int_equal(nl_udp_send_to(a, "ping", 4, &lb, 2000), 4);
        assert_int_equal(nl_udp_recv_from(b, buf, sizeof buf, &from, 2000), 4);
        assert_memory_equal(buf, "ping", 4);
        assert_int_equal(nl_endpoint_compare(&from, &la), 0);
        nl_udp_close(a);
        nl_udp_close(b);
    }
}

/* A datagram larger than the buffer: NL_ETRUNC, and the next one arrives whole. */
static void udp_truncation(void **state)
{
    nl_endpoint ep = loopback(NL_AF_INET), lb;
    nl_udp *a = NULL, *b = NULL;
    char buf[8];

    (void)state;
    assert_int_equal(nl_udp_open_bound(&a, &ep, NULL), 0);
    assert_int_equal(nl_udp_open_bound(&b, &ep, NULL), 0);
    assert_int_equal(nl_udp_local(b, &lb), 0);
    assert_int_equal(nl_udp_send_to(a, "0123456789", 10, &lb, 2000), 10);
    assert_int_equal(nl_udp_send_to(a, "ok", 2, &lb, 2000), 2);
    assert_int_equal(nl_udp_recv_from(b, buf, 4, NULL, 2000), NL_ETRUNC);
    assert_memory_equal(buf, "0123", 4);
    assert_int_equal(nl_udp_recv_from(b, buf, sizeof buf, NULL, 2000), 2);
    /* Timeouts: 0 is "now", a small one expires, and the blocking mode is left alone. */
    assert_int_equal(nl_udp_recv_from(b, buf, sizeof buf, NULL, 0), NL_EAGAIN);
    assert_int_equal(nl_udp_recv_from(b, buf, sizeof buf, NULL, 30), NL_ETIMEDOUT);
    assert_int_equal(nl_udp_send_to(a, "x", 1, &lb, -1), 1);
    assert_int_equal(nl_udp_recv_from(b, buf, sizeof buf, NULL, -1), 1);
    nl_udp_close(a);
    nl_udp_close(b);
}

/* TCP over IPv6 loopback: listen, connect, accept, both ways, end of stream. */
static void tcp_exchange(void **state)
{
    nl_endpoint ep = loopback(NL_AF_INET6), ll, peer;
    nl_tcp *l = NULL, *c = NULL, *s = NULL;
    char buf[16];

    (void)state;
    assert_int_equal(nl_tcp_listen(&l, &ep, 0, NULL), 0);
    assert_int_equal(nl_tcp_local(l, &ll), 0);
    assert_int_equal(nl_tcp_accept(l, &s, NULL, 0), NL_EAGAIN);
    assert_int_equal(nl_tcp_connect(&c, &ll, 2000, NULL), 0);
    assert_int_equal(nl_tcp_accept(l, &s, &peer, 2000), 0);
    assert_int_equal(peer.family, NL_AF_INET6);
    assert_int_equal(nl_tcp_send(c, "hello", 5, 2000), 5);
    assert_int_equal(nl_tcp_recv(s, buf, sizeof buf, 2000), 5);
    assert_int_equal(nl_tcp_recv(s, buf, sizeof buf, 0), NL_EAGAIN);
    assert_int_equal(nl_tcp_send(s, "back", 4, -1), 4);
    assert_int_equal(nl_tcp_recv(c, buf, sizeof buf, -1), 4);
    assert_int_equal(nl_tcp_shutdown(c, NL_SHUT_WR), 0);
    assert_int_equal(nl_tcp_recv(s, buf, sizeof buf, 2000), NL_EOF);
    nl_tcp_close(c);
    nl_tcp_close(s);
    nl_tcp_close(l);
}

/* A connect to a closed port: NL_ECONNREFUSED (WSAECONNREFUSED through SO_ERROR). */
static void tcp_refused(void **state)
{
    nl_endpoint ep = loopback(NL_AF_INET), ll;
    nl_tcp *l = NULL, *c = NULL;

    (void)state;
    assert_int_equal(nl_tcp_listen(&l, &ep, 0, NULL), 0);
    assert_int_equal(nl_tcp_local(l, &ll), 0);
    nl_tcp_close(l); /* the port is closed now */
    assert_int_equal(nl_tcp_connect(&c, &ll, 5000, NULL), NL_ECONNREFUSED);
    assert_null(c);
}

/* The wake-up channel the poll loops use: readable after a send, quiet after a drain. */
static void wake_channel(void **state)
{
    nl_socket_t r, w;
    struct pollfd p;

    (void)state;
    assert_int_equal(nl__net_init(), 0);
    assert_int_equal(nl__wake_open(&r, &w), 0);
    p.fd = r;
    p.events = POLLIN;
    assert_int_equal(nl__poll(&p, 1, 0), 0);
    assert_int_equal(nl__wake_send(w), 0);
    assert_int_equal(nl__poll(&p, 1, 2000), 1);
    assert_true(p.revents & POLLIN);
    nl__wake_drain(r);
    assert_int_equal(nl__poll(&p, 1, 0), 0);
    nl__wake_close(r, w);
}

/* The system's CSPRNG: two draws differ. */
static void random_bytes(void **state)
{
    unsigned char a[32] = {0}, b[32] = {0};

    (void)state;
    assert_int_equal(nl__random(a, sizeof a), 0);
    assert_int_equal(nl__random(b, sizeof b), 0);
    assert_memory_not_equal(a, b, sizeof a);
}

/* The resolver through the seam: the system's EAI_* (WSA errors on Windows) come back as
 * NL_EAI_*, and a numeric name back as text. No DNS: numeric hosts only. */
static void resolver_through_the_seam(void **state)
{
    struct addrinfo h, *res = NULL;
    nl_endpoint ep = loopback(NL_AF_INET);
    nl__sockaddr sa;
    char host[64], serv[16];
    socklen_t len;

    (void)state;
    memset(&h, 0, sizeof h);
    h.ai_family = 12345; /* no such family */
    assert_int_equal(nl__getaddrinfo("127.0.0.1", NULL, &h, &res), NL_EAI_FAMILY);
    h.ai_family = AF_INET;
    h.ai_flags = AI_NUMERICHOST;
    assert_int_equal(nl__getaddrinfo("127.0.0.1", "7", &h, &res), 0);
    assert_non_null(res);
    freeaddrinfo(res);
    ep.port = 9;
    len = nl__ep_to_sockaddr(&ep, NL_AF_INET, &sa);
    assert_int_equal(nl__getnameinfo(&sa.sa, len, host, sizeof host, serv, sizeof serv,
                                     NI_NUMERICHOST | NI_NUMERICSERV),
                     0);
    assert_string_equal(host, "127.0.0.1");
    assert_string_equal(serv, "9");
    assert_int_equal(nl__if_nametoindex("nl-no-such-if"), 0);
}

#ifdef _WIN32
static const char *fault_call;
static int fault_err, fault_count;

static int fault(const char *call)
{
    if (fault_count > 0 && strcmp(call, fault_call) == 0) {
        fault_count--;
        return fault_err;
    }
    return 0;
}

/* Real Windows answers a UDP datagram to a closed port with WSAECONNRESET on the next
 * recvfrom() of a connected socket; wine just lets recvfrom() time out. Injected: it must be
 * NL_ECONNREFUSED, as Linux says. WSAEWOULDBLOCK is "not yet", retried until the timeout. */
static void winsock_errors_injected(void **state)
{
    nl_endpoint ep = loopback(NL_AF_INET), la, lb;
    nl_udp *a = NULL, *b = NULL;
    char buf[8];

    (void)state;
    assert_int_equal(nl_udp_open_bound(&a, &ep, NULL), 0);
    assert_int_equal(nl_udp_open_bound(&b, &ep, NULL), 0);
    assert_int_equal(nl_udp_local(a, &la), 0);
    assert_int_equal(nl_udp_local(b, &lb), 0);
    assert_int_equal(nl_udp_connect(a, &lb), 0);
    nl__win_fault = fault;
    fault_call = "recvfrom", fault_err = WSAECONNRESET, fault_count = 1;
    assert_int_equal(nl_udp_recv_from(a, buf, sizeof buf, NULL, 1000), NL_ECONNREFUSED);
    fault_call = "recvfrom", fault_err = WSAEMSGSIZE, fault_count = 1;
    assert_int_equal(nl_udp_recv_from(a, buf, sizeof buf, NULL, 1000), NL_ETRUNC);
    fault_call = "sendto", fault_err = WSAENETUNREACH, fault_count = 1;
    assert_int_equal(nl_udp_send_to(a, "x", 1, NULL, 1000), NL_ENETUNREACH);
    fault_call = "sendto", fault_err = WSAEWOULDBLOCK, fault_count = 3;
    assert_int_equal(nl_udp_send_to(a, "x", 1, NULL, 2000), 1);
    assert_int_equal(fault_count, 0);
    assert_int_equal(nl_udp_recv_from(b, buf, sizeof buf, NULL, 2000), 1);
    fault_call = "recvfrom", fault_err = WSAEINTR, fault_count = 2;
    assert_int_equal(nl_udp_send_to(b, "y", 1, &la, 2000), 1);
    assert_int_equal(nl_udp_recv_from(a, buf, sizeof buf, NULL, 2000), 1);
    nl__win_fault = NULL;
    nl_udp_close(a);
    nl_udp_close(b);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(resolve_translates_the_family),
        cmocka_unit_test(udp_both_families),
        cmocka_unit_test(udp_truncation),
        cmocka_unit_test(tcp_exchange),
        cmocka_unit_test(tcp_refused),
        cmocka_unit_test(wake_channel),
        cmocka_unit_test(random_bytes),
        cmocka_unit_test(resolver_through_the_seam),
#ifdef _WIN32
        cmocka_unit_test(winsock_errors_injected),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
