/* nl_udp_recv_batch / nl_udp_send_batch: order, contents, senders, truncation, timeouts,
 * connected sockets, IPv6, argument checks. Loopback, ephemeral ports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <netlab.h>

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pair(const char *host, nl_udp **a, nl_udp **b, nl_endpoint *a_ep, nl_endpoint *b_ep)
{
    nl_endpoint any;

    assert_int_equal(nl_endpoint_parse(&any, host, 0), 0);
    assert_int_equal(nl_udp_open_bound(a, &any, NULL), 0);
    assert_int_equal(nl_udp_open_bound(b, &any, NULL), 0);
    assert_int_equal(nl_udp_local(*a, a_ep), 0);
    assert_int_equal(nl_udp_local(*b, b_ep), 0);
}

/* 150 datagrams of sizes 0..199 (more than two kernel batches) arrive whole and in order. */
static void run_order_and_contents(const char *host)
{
    enum { N = 150 };
    static char out[N][1100], in[N][1100];
    nl_udp_msg sm[N], rm[N];
    nl_endpoint a_ep, b_ep;
    nl_udp *a, *b;
    size_t got = 0, sent = 0;
    int64_t end = now_ms() + 10000;
    int i;

    pair(host, &a, &b, &a_ep, &b_ep);
    for (i = 0; i < N; i++) {
        size_t len = (size_t)(i * 7) % 200; /* 150 of them fit the default receive buffer */
        memset(out[i], 'a' + i % 26, len);
        if (len >= 2) {
            out[i][0] = (char)i;
            out[i][1] = (char)(i >> 8);
        }
        sm[i] = (nl_udp_msg){.buf = out[i], .len = len, .peer = b_ep};
        rm[i] = (nl_udp_msg){.buf = in[i], .cap = sizeof in[i]};
    }
    while (sent < N && now_ms() < end) {
        ssize_t n = nl_udp_send_batch(a, sm + sent, N - sent, 5000);
        assert_true(n >= 1);
        sent += (size_t)n;
    }
    while (got < N && now_ms() < end) {
        ssize_t n = nl_udp_recv_batch(b, rm + got, N - got, 5000);
        assert_true(n >= 1);
        got += (size_t)n;
    }
    assert_int_equal(got, N);
    for (i = 0; i < N; i++) {
        assert_int_equal(rm[i].len, sm[i].len);
        assert_int_equal(rm[i].flags, 0);
        assert_memory_equal(rm[i].buf, sm[i].buf, sm[i].len);
        assert_int_equal(nl_endpoint_compare(&rm[i].peer, &a_ep), 0);
    }
    nl_udp_close(a);
    nl_udp_close(b);
}

static void test_order_and_contents_v4(void **state)
{
    (void)state;
    run_order_and_contents("127.0.0.1");
}

static void test_order_and_contents_v6(void **state)
{
    (void)state;
    run_order_and_contents("::1");
}

static void test_truncation_flag(void **state)
{
    char big[100], small[10];
    nl_udp_msg sm = {.buf = big, .len = sizeof big}, rm[2];
    nl_endpoint a_ep, b_ep;
    nl_udp *a, *b;

    (void)state;
    memset(big, 'z', sizeof big);
    pair("127.0.0.1", &a, &b, &a_ep, &b_ep);
    sm.peer = b_ep;
    assert_int_equal(nl_udp_send_batch(a, &sm, 1, 1000), 1);
    assert_int_equal(nl_udp_send_batch(a, &sm, 1, 1000), 1);
    rm[0] = (nl_udp_msg){.buf = small, .cap = sizeof small};
    rm[1] = (nl_udp_msg){.buf = big, .cap = sizeof big};
    /* The second datagram may not be queued yet when the first is taken: loop, bounded. */
    ssize_t n = nl_udp_recv_batch(b, rm, 2, 1000);
    assert_true(n >= 1);
    if (n == 1)
        assert_int_equal(nl_udp_recv_batch(b, rm + 1, 1, 1000), 1);
    assert_int_equal(rm[0].flags, NL_UDP_MSG_TRUNC);
    assert_int_equal(rm[0].len, sizeof small);
    assert_int_equal(rm[1].flags, 0);
    assert_int_equal(rm[1].len, sizeof big);
    nl_udp_close(a);
    nl_udp_close(b);
}

static void test_timeouts(void **state)
{
    char buf[8];
    nl_udp_msg rm = {.buf = buf, .cap = sizeof buf};
    nl_endpoint a_ep, b_ep;
    nl_udp *a, *b;
    int64_t t0;

    (void)state;
    pair("127.0.0.1", &a, &b, &a_ep, &b_ep);
    assert_int_equal(nl_udp_recv_batch(b, &rm, 1, 0), NL_EAGAIN);
    t0 = now_ms();
    assert_int_equal(nl_udp_recv_batch(b, &rm, 1, 100), NL_ETIMEDOUT);
    assert_true(now_ms() - t0 >= 95);
    assert_int_equal(nl_udp_recv_batch(b, &rm, 0, 100), 0);
    nl_udp_close(a);
    nl_udp_close(b);
}

static void test_connected_peer(void **state)
{
    char out[3] = "abc", in[8];
    nl_udp_msg sm = {.buf = out, .len = 3}, rm = {.buf = in, .cap = sizeof in};
    nl_endpoint a_ep, b_ep;
    nl_udp *a, *b;

    (void)state;
    pair("127.0.0.1", &a, &b, &a_ep, &b_ep);
    /* Unconnected and no destination: the kernel says so. */
    assert_int_equal(nl_udp_send_batch(a, &sm, 1, 1000), NL_EDESTADDRREQ);
    assert_int_equal(nl_udp_connect(a, &b_ep), 0);
    assert_int_equal(nl_udp_send_batch(a, &sm, 1, 1000), 1);
    assert_int_equal(nl_udp_recv_batch(b, &rm, 1, 1000), 1);
    assert_int_equal(rm.len, 3);
    assert_memory_equal(in, "abc", 3);
    nl_udp_close(a);
    nl_udp_close(b);
}

static void test_invalid_arguments(void **state)
{
    nl_udp_msg m = {.buf = NULL, .cap = 5, .len = 5};
    nl_endpoint a_ep, b_ep, v6;
    nl_udp *a, *b;

    (void)state;
    pair("127.0.0.1", &a, &b, &a_ep, &b_ep);
    assert_int_equal(nl_udp_recv_batch(NULL, &m, 1, 0), NL_EINVAL);
    assert_int_equal(nl_udp_send_batch(NULL, &m, 1, 0), NL_EINVAL);
    assert_int_equal(nl_udp_recv_batch(a, NULL, 1, 0), NL_EINVAL);
    assert_int_equal(nl_udp_recv_batch(a, &m, 1, 0), NL_EINVAL);
    assert_int_equal(nl_udp_send_batch(a, &m, 1, 0), NL_EINVAL);
    m.buf = "hello";
    assert_int_equal(nl_endpoint_parse(&v6, "[::1]:9", 0), 0);
    m.peer = v6;
    assert_int_equal(nl_udp_send_batch(a, &m, 1, 0), NL_EAFNOSUPPORT);
    nl_udp_close(a);
    nl_udp_close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_contents_v4),
        cmocka_unit_test(test_order_and_contents_v6),
        cmocka_unit_test(test_truncation_flag),
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_connected_peer),
        cmocka_unit_test(test_invalid_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
