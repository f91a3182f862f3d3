/* Signals during blocking calls: an EINTR storm. A timer fires SIGALRM every millisecond into a
 * handler installed WITHOUT SA_RESTART, so every poll(), recv(), send(), accept() and connect()
 * the library makes is interrupted over and over. The library must retry (the caller never sees
 * NL_EINTR), deliver exactly the right bytes, and still honour its timeouts: a retry that
 * restarted the full timeout would never return under the storm, and one that gave up early
 * would return too soon. Helper threads block SIGALRM, so the main thread takes every signal. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#define TIMEOUT_MS 200
#define SLACK_MS 250 /* a loaded 2-core CI machine, possibly under the sanitizers */

static volatile sig_atomic_t g_signals;

static void on_alarm(int sig)
{
    (void)sig;
    g_signals++;
}

static void storm_start(void)
{
    struct sigaction sa;
    struct itimerval it = {{0, 1000}, {0, 1000}};

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm; /* no SA_RESTART: interrupted system calls fail with EINTR */
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
    g_signals = 0;
    assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
}

static int storm_stop(void)
{
    struct itimerval off = {{0, 0}, {0, 0}};

    assert_int_equal(setitimer(ITIMER_REAL, &off, NULL), 0);
    return (int)g_signals;
}

static void block_alarm(void)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static int64_t ms_since(int64_t t0)
{
    return (tu_now_ns() - t0) / 1000000;
}

/* The storm must have hit the call, else the test proves nothing. */
static void assert_stormed(int signals, int64_t elapsed_ms)
{
    print_message("    returned after %lld ms and %d signals\n", (long long)elapsed_ms, signals);
    if (elapsed_ms >= 50)
        assert_true(signals >= 10);
}

static void assert_timeout_honoured(int64_t elapsed_ms)
{
    assert_true(elapsed_ms >= TIMEOUT_MS - 1);
    assert_true(elapsed_ms <= TIMEOUT_MS + SLACK_MS);
}

/* ---- helpers run on a second thread, after a delay, so the main thread blocks first --------- */

struct delayed {
    int delay_ms;
    nl_endpoint to;
    nl_udp *udp;
    nl_tcp *tcp;
    const unsigned char *data;
    size_t len;
    unsigned char *sink; /* for the reader: where the bytes go */
    size_t got;
};

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void *udp_sender(void *arg)
{
    struct delayed *d = arg;

    block_alarm();
    sleep_ms(d->delay_ms);
    nl_udp_send_to(d->udp, d->data, d->len, &d->to, 1000);
    return NULL;
}

static void *tcp_sender(void *arg)
{
    struct delayed *d = arg;

    block_alarm();
    sleep_ms(d->delay_ms);
    nl_tcp_send_all(d->tcp, d->data, d->len, NULL, 5000);
    return NULL;
}

static void *tcp_connector(void *arg)
{
    struct delayed *d = arg;
    nl_tcp *c = NULL;

    block_alarm();
    sleep_ms(d->delay_ms);
    if (nl_tcp_connect(&c, &d->to, 2000, NULL) == 0)
        d->tcp = c;
    return NULL;
}

/* Reads slowly (small reads with pauses) until EOF, so the sender blocks often. */
static void *tcp_slow_reader(void *arg)
{
    struct delayed *d = arg;
    ssize_t n;

    block_alarm();
    sleep_ms(d->delay_ms);
    while ((n = nl_tcp_recv(d->tcp, d->sink + d->got, d->len - d->got < 65536 ?
                            d->len - d->got + 1 : 65536, 5000)) > 0) {
        d->got += (size_t)n;
        if (d->got % (1 << 20) < 65536)
            sleep_ms(1);
    }
    return NULL;
}

/* ---- the tests ------------------------------------------------------------------------------ */

static void udp_recv_timeout_under_storm(void **state)
{
    nl_endpoint lo = tu_loopback(NL_AF_INET, 0);
    nl_udp *u;
    char buf[64];
    int64_t t0, ms;
    ssize_t n;
    (void)state;

    assert_int_equal(nl_udp_open_bound(&u, &lo, NULL), 0);
    storm_start();
    t0 = tu_now_ns();
    n = nl_udp_recv_from(u, buf, sizeof buf, NULL, TIMEOUT_MS);
    ms = ms_since(t0);
    assert_stormed(storm_stop(), ms);
    assert_int_equal(n, NL_ETIMEDOUT);
    assert_timeout_honoured(ms);
    nl_udp_close(u);
}

static void udp_recv_data_under_storm(void **state)
{
    static const unsigned char msg[] = "datagram through the storm 风暴";
    nl_endpoint lo = tu_loopback(NL_AF_INET, 0), from;
    struct delayed d = {.delay_ms = 100, .data = msg, .len = sizeof msg};
    nl_udp *u, *s;
    unsigned char buf[256];
    pthread_t th;
    ssize_t n;
    int sig;
    (void)state;

    assert_int_equal(nl_udp_open_bound(&u, &lo, NULL), 0);
    assert_int_equal(nl_udp_local(u, &d.to), 0);
    assert_int_equal(nl_udp_open(&s, NL_AF_INET, NULL), 0);
    d.udp = s;
    storm_start();
    assert_int_equal(pthread_create(&th, NULL, udp_sender, &d), 0);
    n = nl_udp_recv_from(u, buf, sizeof buf, &from, 3000);
    sig = storm_stop();
    pthread_join(th, NULL);
    assert_true(sig >= 10);
    assert_int_equal(n, sizeof msg);
    assert_memory_equal(buf, msg, sizeof msg);
    nl_udp_close(s);
    nl_udp_close(u);
}

static void tcp_accept_timeout_and_client_under_storm(void **state)
{
    nl_endpoint lo = tu_loopback(NL_AF_INET, 0), peer;
    struct delayed d = {.delay_ms = 100};
    nl_tcp *l, *c = NULL;
    pthread_t th;
    int64_t t0, ms;
    int rc, sig;
    (void)state;

    assert_int_equal(nl_tcp_listen(&l, &lo, 0, NULL), 0);
    assert_int_equal(nl_tcp_local(l, &d.to), 0);
    storm_start();
    t0 = tu_now_ns();
    rc = nl_tcp_accept(l, &c, NULL, TIMEOUT_MS);
    ms = ms_since(t0);
    assert_stormed(storm_stop(), ms);
    assert_int_equal(rc, NL_ETIMEDOUT);
    assert_timeout_honoured(ms);

    storm_start();
    assert_int_equal(pthread_create(&th, NULL, tcp_connector, &d), 0);
    rc = nl_tcp_accept(l, &c, &peer, 3000);
    sig = storm_stop();
    pthread_join(th, NULL);
    assert_true(sig >= 10);
    assert_int_equal(rc, 0);
    assert_non_null(d.tcp);
    nl_tcp_close(d.tcp);
    nl_tcp_close(c);
    nl_tcp_close(l);
}

static void tcp_connect_under_storm(void **state)
{
    nl_endpoint lo = tu_loopback(NL_AF_INET, 0), to;
    nl_tcp *l, *c = NULL, *queued[8] = {0};
    int64_t t0, ms;
    int rc, nq = 0;
    (void)state;

    assert_int_equal(nl_tcp_listen(&l, &lo, 1, NULL), 0);
    assert_int_equal(nl_tcp_local(l, &to), 0);
    storm_start();
    rc = nl_tcp_connect(&c, &to, 2000, NULL); /* succeeds: the handshake needs no accept() */
    storm_stop();
    assert_int_equal(rc, 0);
    nl_tcp_close(c);
    c = NULL;

    /* A listener whose accept queue is full drops SYNs, so a connect to it cannot complete:
     * fill the queue (never accepting), then the next connect must time out on time. */
    while (nq < 8) {
        rc = nl_tcp_connect(&queued[nq], &to, 100, NULL);
        if (rc != 0)
            break;
        nq++;
    }
    assert_int_equal(rc, NL_ETIMEDOUT);
    storm_start();
    t0 = tu_now_ns();
    rc = nl_tcp_connect(&c, &to, TIMEOUT_MS, NULL);
    ms = ms_since(t0);
    assert_stormed(storm_stop(), ms);
    assert_int_equal(rc, NL_ETIMEDOUT);
    assert_null(c);
    assert_timeout_honoured(ms);
    for (int i = 0; i < nq; i++)
        nl_tcp_close(queued[i]);
    nl_tcp_close(l);
}

/* A connected pair over loopback: a is accepted from the listener, b connected to it. */
static void tcp_pair(nl_tcp **a, nl_tcp **b)
{
    nl_endpoint lo = tu_loopback(NL_AF_INET, 0), to;
    nl_tcp *l;

    assert_int_equal(nl_tcp_listen(&l, &lo, 4, NULL), 0);
    assert_int_equal(nl_tcp_local(l, &to), 0);
    assert_int_equal(nl_tcp_connect(b, &to, 2000, NULL), 0);
    assert_int_equal(nl_tcp_accept(l, a, NULL, 2000), 0);
    nl_tcp_close(l);
}

static void tcp_recv_under_storm(void **state)
{
    static const unsigned char msg[] = "bytes through the storm";
    struct delayed d = {.delay_ms = 100, .data = msg, .len = sizeof msg};
    nl_tcp *a, *b;
    unsigned char buf[64];
    size_t got = 0;
    int64_t t0, ms;
    pthread_t th;
    ssize_t n;
    (void)state;

    tcp_pair(&a, &b);
    storm_start();
    t0 = tu_now_ns();
    n = nl_tcp_recv(a, buf, sizeof buf, TIMEOUT_MS);
    ms = ms_since(t0);
    assert_stormed(storm_stop(), ms);
    assert_int_equal(n, NL_ETIMEDOUT);
    assert_timeout_honoured(ms);

    d.tcp = b;
    storm_start();
    assert_int_equal(pthread_create(&th, NULL, tcp_sender, &d), 0);
    while (got < sizeof msg && (n = nl_tcp_recv(a, buf + got, sizeof buf - got, 3000)) > 0)
        got += (size_t)n;
    assert_true(storm_stop() >= 10);
    pthread_join(th, NULL);
    assert_int_equal(got, sizeof msg);
    assert_memory_equal(buf, msg, sizeof msg);
    nl_tcp_close(a);
    nl_tcp_close(b);
}

static void tcp_send_all_under_storm(void **state)
{
    enum { LEN = 16 << 20 };
    unsigned char *data = malloc(LEN), *sink = malloc(LEN + 1);
    struct delayed d = {.delay_ms = 10, .len = LEN, .sink = sink};
    nl_tcp *a, *b;
    size_t sent = 0;
    pthread_t th;
    int rc, sig;
    (void)state;

    assert_non_null(data);
    assert_non_null(sink);
    for (size_t i = 0; i < LEN; i++)
        data[i] = (unsigned char)(i * 2654435761u >> 13);
    tcp_pair(&a, &b);
    d.tcp = b;
    assert_int_equal(pthread_create(&th, NULL, tcp_slow_reader, &d), 0);
    storm_start();
    rc = nl_tcp_send_all(a, data, LEN, &sent, 20000);
    sig = storm_stop();
    assert_int_equal(rc, 0);
    assert_int_equal(sent, LEN);
    nl_tcp_shutdown(a, 1); /* SHUT_WR: the reader sees EOF after the last byte */
    pthread_join(th, NULL);
    assert_true(sig >= 1);
    assert_int_equal(d.got, LEN);
    assert_memory_equal(sink, data, LEN);
    nl_tcp_close(a);
    nl_tcp_close(b);
    free(data);
    free(sink);
}

static void tcp_send_all_timeout_under_storm(void **state)
{
    enum { LEN = 64 << 20 };
    unsigned char *data = calloc(1, LEN);
    nl_tcp *a, *b;
    size_t sent = 0;
    int64_t t0, ms;
    int rc;
    (void)state;

    assert_non_null(data);
    tcp_pair(&a, &b); /* b never reads: the send buffers fill and send_all must give up */
    storm_start();
    t0 = tu_now_ns();
    rc = nl_tcp_send_all(a, data, LEN, &sent, TIMEOUT_MS);
    ms = ms_since(t0);
    assert_stormed(storm_stop(), ms);
    assert_int_equal(rc, NL_ETIMEDOUT);
    assert_true(sent > 0 && sent < LEN);
    /* The timeout bounds the whole call (documented in tcp.h), however much got through. */
    assert_timeout_honoured(ms);
    nl_tcp_close(a);
    nl_tcp_close(b);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(udp_recv_timeout_under_storm),
        cmocka_unit_test(udp_recv_data_under_storm),
        cmocka_unit_test(tcp_accept_timeout_and_client_under_storm),
        cmocka_unit_test(tcp_connect_under_storm),
        cmocka_unit_test(tcp_recv_under_storm),
        cmocka_unit_test(tcp_send_all_under_storm),
        cmocka_unit_test(tcp_send_all_timeout_under_storm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
