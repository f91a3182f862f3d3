/* nl_tcp_send_all on large buffers: every byte arrives exactly once and in order, even with
 * short writes and EINTR injected (send() is wrapped with -Wl,--wrap=send); a large buffer
 * goes out as a multiple of the connection's MSS, then the tail; *sent is exact on a timeout. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include <netlab.h>

/* ---- send() wrapper: records lengths, optionally injects EINTR and short writes ---------- */

#define MAX_LENS 100000
static size_t g_lens[MAX_LENS];
static int g_nlens;
static int g_inject;
static int g_calls;

ssize_t __real_send(int fd, const void *buf, size_t len, int flags);
ssize_t __wrap_send(int fd, const void *buf, size_t len, int flags);

ssize_t __wrap_send(int fd, const void *buf, size_t len, int flags)
{
    if (g_nlens < MAX_LENS)
        g_lens[g_nlens++] = len;
    if (g_inject) {
        g_calls++;
        if (g_calls % 5 == 0) {
            errno = EINTR;
            return -1;
        }
        if (g_calls % 3 == 0 && len > 1000)
            len = 1000 + (size_t)g_calls % 7; /* a short write of an odd size */
    }
    return __real_send(fd, buf, len, flags);
}

/* ---- a connected pair and a reader thread ------------------------------------------------ */

typedef struct conn_pair {
    nl_tcp *client, *server;
} conn_pair;

static void connect_pair(conn_pair *p)
{
    nl_endpoint ep;
    nl_tcp *l;

    assert_int_equal(nl_endpoint_parse(&ep, "127.0.0.1:0", 0), 0);
    assert_int_equal(nl_tcp_listen(&l, &ep, 1, NULL), 0);
    assert_int_equal(nl_tcp_local(l, &ep), 0);
    assert_int_equal(nl_tcp_connect(&p->client, &ep, 5000, NULL), 0);
    assert_int_equal(nl_tcp_accept(l, &p->server, NULL, 5000), 0);
    nl_tcp_close(l);
}

typedef struct reader {
    nl_tcp *t;
    char *buf;
    size_t cap, got;
    int rc;
} reader;

/* Read to EOF (bounded by cap + 1 and a 20 s timeout per read). */
static void *read_all(void *arg)
{
    reader *r = arg;

    for (;;) {
        ssize_t n = nl_tcp_recv(r->t, r->buf + r->got, r->cap + 1 - r->got, 20000);
        if (n == NL_EOF) {
            r->rc = 0;
            return NULL;
        }
        if (n < 0 || r->got + (size_t)n > r->cap) {
            r->rc = n < 0 ? (int)n : -1;
            return NULL;
        }
        r->got += (size_t)n;
    }
}

static char *pattern(size_t len)
{
    char *b = malloc(len);
    size_t i;

    assert_non_null(b);
    for (i = 0; i < len; i++)
        b[i] = (char)(i ^ (i >> 9) ^ (i >> 17));
    return b;
}

static void send_and_check(size_t len, int timeout_ms)
{
    char *out = pattern(len);
    reader r = {0};
    pthread_t th;
    conn_pair p;
    size_t sent = 0;

    connect_pair(&p);
    r.t = p.server;
    r.cap = len;
    r.buf = malloc(len + 1);
    assert_non_null(r.buf);
    assert_int_equal(pthread_create(&th, NULL, read_all, &r), 0);
    assert_int_equal(nl_tcp_send_all(p.client, out, len, &sent, timeout_ms), 0);
    assert_int_equal(sent, len);
    assert_int_equal(nl_tcp_shutdown(p.client, NL_SHUT_WR), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.got, len);
    assert_memory_equal(r.buf, out, len);
    nl_tcp_close(p.client);
    nl_tcp_close(p.server);
    free(r.buf);
    free(out);
}

static void test_exact_with_short_writes_and_eintr(void **state)
{
    (void)state;
    g_inject = 1;
    g_calls = 0;
    g_nlens = 0;
    send_and_check((8u << 20) + 123, -1);
    send_and_check((8u << 20) + 77, 10000); /* the non-blocking path too */
    send_and_check(1, -1);
    g_inject = 0;
    assert_true(g_calls >= 6); /* so at least one short write (3rd call) and one EINTR (5th) */
}

static void test_large_buffer_goes_in_mss_multiples(void **state)
{
    size_t len = (4u << 20) + 5, whole, total = 0;
    char *out = pattern(len);
    reader r = {0};
    socklen_t sl = sizeof(int);
    pthread_t th;
    conn_pair p;
    int mss = 0, i;

    (void)state;
    connect_pair(&p);
    r.t = p.server;
    r.cap = len + 65536;
    r.buf = malloc(r.cap + 1);
    assert_int_equal(getsockopt(nl_tcp_fd(p.client), IPPROTO_TCP, TCP_MAXSEG, &mss, &sl), 0);
    assert_true(mss > 0);
    whole = len / (size_t)mss * (size_t)mss;
    assert_int_equal(pthread_create(&th, NULL, read_all, &r), 0);
    g_nlens = 0;
    assert_int_equal(nl_tcp_send_all(p.client, out, len, NULL, -1), 0);
    /* Blocking writes are whole: the segments in one call, then the tail in another. */
    assert_int_equal(g_nlens, 2);
    assert_int_equal(g_lens[0], whole);
    assert_int_equal(g_lens[1], len - whole);
    for (i = 0; i < g_nlens; i++)
        total += g_lens[i];
    assert_int_equal(total, len);
    /* A buffer of 64 KiB or less is one write, as before. */
    g_nlens = 0;
    assert_int_equal(nl_tcp_send_all(p.client, out, 65536, NULL, -1), 0);
    assert_int_equal(g_nlens, 1);
    assert_int_equal(g_lens[0], 65536);
    assert_int_equal(nl_tcp_shutdown(p.client, NL_SHUT_WR), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.got, len + 65536);
    assert_memory_equal(r.buf, out, len);
    assert_memory_equal(r.buf + len, out, 65536);
    nl_tcp_close(p.client);
    nl_tcp_close(p.server);
    free(r.buf);
    free(out);
}

/* Nobody reads: the call times out and *sent says exactly how much the peer will get. */
static void test_timeout_reports_exact_count(void **state)
{
    size_t len = 64u << 20, sent = 0, got = 0;
    char *out = pattern(len), *in = malloc(1 << 20);
    conn_pair p;
    ssize_t n;

    (void)state;
    connect_pair(&p);
    assert_int_equal(nl_tcp_send_all(p.client, out, len, &sent, 300), NL_ETIMEDOUT);
    assert_true(sent > 0 && sent < len);
    assert_int_equal(nl_tcp_shutdown(p.client, NL_SHUT_WR), 0);
    while ((n = nl_tcp_recv(p.server, in, 1 << 20, 5000)) > 0) {
        assert_memory_equal(in, out + got, (size_t)n);
        got += (size_t)n;
    }
    assert_int_equal(n, NL_EOF);
    assert_int_equal(got, sent);
    nl_tcp_close(p.client);
    nl_tcp_close(p.server);
    free(in);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_with_short_writes_and_eintr),
        cmocka_unit_test(test_large_buffer_goes_in_mss_multiples),
        cmocka_unit_test(test_timeout_reports_exact_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
