/* TCP handles on loopback, IPv4 and IPv6, ephemeral ports: echo, send_all of 4 MiB against a
 * reader thread, send_all's byte count on timeout, EOF versus "no data yet", refusal, writes
 * to a closed peer without SIGPIPE, accept timeouts, SO_REUSEADDR, shutdown, endpoints, bad
 * arguments and close-on-exec. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#define MS 1000000LL /* nanoseconds per millisecond */

static nl_tcp *listener(int family, nl_endpoint *local)
{
    nl_endpoint ep = tu_loopback(family, 0);
    nl_tcp *l = NULL;

    assert_int_equal(nl_tcp_listen(&l, &ep, 0, NULL), 0);
    assert_non_null(l);
    assert_int_equal(nl_tcp_local(l, local), 0);
    assert_true(local->port != 0);
    return l;
}

/* A connected pair through a fresh listener, which is closed again. */
static void tcp_pair(int family, nl_tcp **client, nl_tcp **server)
{
    nl_endpoint ll;
    nl_tcp *l = listener(family, &ll);

    assert_int_equal(nl_tcp_connect(client, &ll, 2000, NULL), 0);
    assert_int_equal(nl_tcp_accept(l, server, NULL, 2000), 0);
    nl_tcp_close(l);
}

/* Receive exactly len bytes or fail the test. */
static void recv_exact(nl_tcp *t, char *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = nl_tcp_recv(t, buf + got, len - got, 2000);
        if (n <= 0)
            fail_msg("recv after %zu of %zu bytes: %s", got, len, nl_err_name((int)n));
        got += (size_t)n;
    }
}

static void echo(int family)
{
    nl_endpoint ll, peer, cl, cp, sl;
    nl_tcp *l = listener(family, &ll), *c = NULL, *s = NULL;
    char buf[64];

    assert_int_equal(nl_tcp_connect(&c, &ll, 2000, NULL), 0);
    assert_int_equal(nl_tcp_accept(l, &s, &peer, 2000), 0);

    /* The peer accept reports is the client's own local endpoint, and vice versa. */
    assert_int_equal(nl_tcp_local(c, &cl), 0);
    assert_int_equal(nl_endpoint_compare(&peer, &cl), 0);
    assert_int_equal(peer.family, family);
    assert_int_equal(nl_tcp_peer(s, &cp), 0);
    assert_int_equal(nl_endpoint_compare(&cp, &cl), 0);
    assert_int_equal(nl_tcp_peer(c, &cp), 0);
    assert_int_equal(nl_endpoint_compare(&cp, &ll), 0);
    assert_int_equal(nl_tcp_local(s, &sl), 0);
    assert_int_equal(nl_endpoint_compare(&sl, &ll), 0);

    /* Several messages on one connection, echoed back. */
    for (int i = 0; i < 3; i++) {
        static const char *msgs[] = {"hello", "你好，世界", "q"};
        size_t len = strlen(msgs[i]);
        assert_int_equal(nl_tcp_send(c, msgs[i], len, 1000), len);
        recv_exact(s, buf, len);
        assert_int_equal(nl_tcp_send_all(s, buf, len, NULL, 1000), 0);
        recv_exact(c, buf, len);
        assert_memory_equal(buf, msgs[i], len);
    }
    assert_int_equal(nl_tcp_close(c), 0);
    assert_int_equal(nl_tcp_close(s), 0);
    assert_int_equal(nl_tcp_close(l), 0);
}

static void echo_ipv4(void **state)
{
    (void)state;
    echo(NL_AF_INET);
}

static void echo_ipv6(void **state)
{
    (void)state;
    echo(NL_AF_INET6);
}

static void dual_stack_listener_reports_ipv4(void **state)
{
    nl_endpoint any6, ll, to, peer, cl;
    nl_tcp *l = NULL, *c = NULL, *s = NULL;

    (void)state;
    assert_int_equal(nl_endpoint_parse(&any6, "::", 0), 0);
    assert_int_equal(nl_tcp_listen(&l, &any6, 0, NULL), 0);
    assert_int_equal(nl_tcp_local(l, &ll), 0);
    assert_int_equal(nl_endpoint_parse(&to, "127.0.0.1", ll.port), 0);
    assert_int_equal(nl_tcp_connect(&c, &to, 2000, NULL), 0);
    assert_int_equal(nl_tcp_accept(l, &s, &peer, 2000), 0);
    assert_int_equal(peer.family, NL_AF_INET);
    assert_int_equal(nl_tcp_local(c, &cl), 0);
    assert_memory_equal(&peer, &cl, sizeof peer);
    nl_tcp_close(c);
    nl_tcp_close(s);
    nl_tcp_close(l);
}

static unsigned char pattern(size_t i)
{
    return (unsigned char)((i * 31 + (i >> 12)) % 251);
}

struct reader {
    nl_tcp *t;
    size_t total;  /* bytes read before NL_EOF */
    size_t bad_at; /* first offset whose byte was wrong, or SIZE_MAX */
    int end;       /* the code that ended the loop (NL_EOF expected) */
};

static void *read_all(void *arg)
{
    struct reader *r = arg;
    static char buf[65536];
    ssize_t n;

    r->bad_at = SIZE_MAX;
    /* Bounded: each receive waits at most 10 s, and a 4 MiB stream ends with NL_EOF. */
    while ((n = nl_tcp_recv(r->t, buf, sizeof buf, 10000)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            if ((unsigned char)buf[i] != pattern(r->total + (size_t)i) && r->bad_at == SIZE_MAX)
                r->bad_at = r->total + (size_t)i;
        r->total += (size_t)n;
    }
    r->end = (int)n;
    return NULL;
}

static void send_all_4mib(void **state)
{
    const size_t len = 4u << 20;
    struct reader r = {0};
    unsigned char *data = malloc(len);
    nl_tcp *c = NULL, *s = NULL;
    pthread_t th;
    size_t sent = 1;

    (void)state;
    assert_non_null(data);
    for (size_t i = 0; i < len; i++)
        data[i] = pattern(i);
    tcp_pair(NL_AF_INET6, &c, &s);
    r.t = s;
    assert_int_equal(pthread_create(&th, NULL, read_all, &r), 0);
    assert_int_equal(nl_tcp_send_all(c, data, len, &sent, 20000), 0);
    assert_int_equal(sent, len);
    assert_int_equal(nl_tcp_shutdown(c, NL_SHUT_WR), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(r.end, NL_EOF);
    assert_int_equal(r.total, len);
    assert_int_equal(r.bad_at, SIZE_MAX);
    free(data);
    nl_tcp_close(c);
    nl_tcp_close(s);
}

/* Nobody reads: send_all must stop at its deadline and say exactly how much went out, which
 * the peer then finds, byte for byte, and not one byte more. */
static void send_all_counts_bytes_on_timeout(void **state)
{
    const size_t len = 64u << 20;
    unsigned char *data = malloc(len), *in = malloc(len);
    nl_tcp *c = NULL, *s = NULL;
    size_t sent = 0, sent0 = 0, got = 0;
    int64_t t0, dt;
    ssize_t n;

    (void)state;
    assert_non_null(data);
    assert_non_null(in);
    for (size_t i = 0; i < len; i++)
        data[i] = pattern(i);
    tcp_pair(NL_AF_INET, &c, &s);

    t0 = tu_now_ns();
    assert_int_equal(nl_tcp_send_all(c, data, len, &sent, 300), NL_ETIMEDOUT);
    dt = tu_now_ns() - t0;
    assert_true(dt >= 300 * MS);
    assert_true(dt < 5000 * MS); /* the timeout covers the whole call, not each write */
    assert_true(sent > 0);
    assert_true(sent < len);

    /* With timeout 0 only what fits now goes (the kernel may have made a little room since),
     * and the call says so with NL_EAGAIN and the count. */
    assert_int_equal(nl_tcp_send_all(c, data + sent, len - sent, &sent0, 0), NL_EAGAIN);
    assert_true(sent0 < len - sent);
    sent += sent0;
    n = nl_tcp_send(c, data + sent, len - sent, 0);
    assert_true(n == NL_EAGAIN || (n > 0 && (size_t)n < len - sent));
    if (n > 0)
        sent += (size_t)n;

    while (got < sent) {
        n = nl_tcp_recv(s, in + got, len - got, 2000);
        if (n <= 0)
            fail_msg("peer read %zu of %zu bytes, then %s", got, sent, nl_err_name((int)n));
        got += (size_t)n;
    }
    assert_int_equal(got, sent);
    assert_memory_equal(in, data, sent);
    assert_int_equal(nl_tcp_recv(s, in, len, 100), NL_ETIMEDOUT);
    free(data);
    free(in);
    nl_tcp_close(c);
    nl_tcp_close(s);
}

static void eof_is_not_no_data(void **state)
{
    nl_tcp *c = NULL, *s = NULL;
    char buf[8];
    int64_t t0;

    (void)state;
    tcp_pair(NL_AF_INET, &c, &s);
    assert_int_equal(nl_tcp_recv(s, buf, sizeof buf, 0), NL_EAGAIN);
    t0 = tu_now_ns();
    assert_int_equal(nl_tcp_recv(s, buf, sizeof buf, 50), NL_ETIMEDOUT);
    assert_true(tu_now_ns() - t0 >= 50 * MS);

    assert_int_equal(nl_tcp_send(c, "x", 1, 1000), 1);
    assert_int_equal(nl_tcp_close(c), 0);
    /* Data sent before the close is still read first; then the end, every time asked. */
    assert_int_equal(nl_tcp_recv(s, buf, sizeof buf, 2000), 1);
    assert_int_equal(buf[0], 'x');
    assert_int_equal(nl_tcp_recv(s, buf, sizeof buf, -1), NL_EOF);
    assert_int_equal(nl_tcp_recv(s, buf, sizeof buf, 0), NL_EOF);
    nl_tcp_close(s);
}

static nl_endpoint dead_port(int family)
{
    nl_endpoint ep;
    nl_tcp *l = listener(family, &ep);

    nl_tcp_close(l);
    return ep;
}

static void connect_refused(void **state)
{
    static const int families[] = {NL_AF_INET, NL_AF_INET6};

    (void)state;
    for (int i = 0; i < 2; i++) {
        nl_endpoint dead = dead_port(families[i]);
        nl_tcp *c = (nl_tcp *)&dead;
        assert_int_equal(nl_tcp_connect(&c, &dead, 2000, NULL), NL_ECONNREFUSED);
        assert_null(c);
    }
}

/* SIGPIPE stays at its default disposition (see main): were the library to raise it, this
 * process would die here instead of failing an assertion. */
static void closed_peer_is_an_error_not_a_signal(void **state)
{
    nl_tcp *c = NULL, *s = NULL;
    char buf[1024] = {0};
    ssize_t n = 0;
    int i;

    (void)state;
    tcp_pair(NL_AF_INET, &c, &s);
    assert_int_equal(nl_tcp_close(s), 0);
    /* The first write may still be accepted (the reset comes back in answer to it). */
    for (i = 0; i < 100; i++) {
        n = nl_tcp_send(c, buf, sizeof buf, 1000);
        if (n < 0)
            break;
        assert_int_equal(n, sizeof buf);
    }
    if (n != NL_EPIPE && n != NL_ECONNRESET)
        fail_msg("send to a closed peer: %s after %d sends", nl_err_name((int)n), i);
    n = nl_tcp_send_all(c, buf, sizeof buf, NULL, 1000);
    assert_true(n == NL_EPIPE || n == NL_ECONNRESET);
    nl_tcp_close(c);
}

static void accept_timeouts(void **state)
{
    nl_endpoint ll, peer;
    nl_tcp *l = listener(NL_AF_INET, &ll), *s = (nl_tcp *)&ll;
    int64_t t0, dt;

    (void)state;
    memset(&peer, 0x7f, sizeof peer);
    assert_int_equal(nl_tcp_accept(l, &s, &peer, 0), NL_EAGAIN);
    assert_null(s);
    t0 = tu_now_ns();
    assert_int_equal(nl_tcp_accept(l, &s, &peer, 50), NL_ETIMEDOUT);
    dt = tu_now_ns() - t0;
    assert_true(dt >= 50 * MS);
    assert_true(dt < 5000 * MS);
    assert_null(s);
    nl_tcp_close(l);
}

/* The server closes first, so its side of the connection sits in TIME_WAIT; a new listener on
 * the same port must still bind at once. */
static void listener_rebinds_after_close(void **state)
{
    nl_endpoint ll;
    nl_tcp *l = listener(NL_AF_INET, &ll), *c = NULL, *s = NULL, *l2 = NULL;
    char buf[4];

    (void)state;
    assert_int_equal(nl_tcp_connect(&c, &ll, 2000, NULL), 0);
    assert_int_equal(nl_tcp_accept(l, &s, NULL, 2000), 0);
    assert_int_equal(nl_tcp_send(s, "bye", 3, 1000), 3);
    assert_int_equal(nl_tcp_close(s), 0);
    recv_exact(c, buf, 3);
    assert_int_equal(nl_tcp_recv(c, buf, sizeof buf, 2000), NL_EOF);
    assert_int_equal(nl_tcp_close(c), 0);
    assert_int_equal(nl_tcp_close(l), 0);

    assert_int_equal(nl_tcp_listen(&l2, &ll, 0, NULL), 0);
    /* And it works: a client gets through. */
    assert_int_equal(nl_tcp_connect(&c, &ll, 2000, NULL), 0);
    assert_int_equal(nl_tcp_accept(l2, &s, NULL, 2000), 0);
    nl_tcp_close(c);
    nl_tcp_close(s);
    nl_tcp_close(l2);
}

static void second_listener_is_in_use(void **state)
{
    nl_endpoint ll;
    nl_tcp *l = listener(NL_AF_INET6, &ll), *l2 = (nl_tcp *)&ll;

    (void)state;
    assert_int_equal(nl_tcp_listen(&l2, &ll, 0, NULL), NL_EADDRINUSE);
    assert_null(l2);
    nl_tcp_close(l);
}

static void shutdown_write_gives_peer_eof(void **state)
{
    nl_tcp *c = NULL, *s = NULL;
    char buf[8];

    (void)state;
    tcp_pair(NL_AF_INET6, &c, &s);
    assert_int_equal(nl_tcp_send(c, "last", 4, 1000), 4);
    assert_int_equal(nl_tcp_shutdown(c, NL_SHUT_WR), 0);
    recv_exact(s, buf, 4);
    assert_memory_equal(buf, "last", 4);
    assert_int_equal(nl_tcp_recv(s, buf, sizeof buf, 2000), NL_EOF);
    /* The other direction still works: a half-close. */
    assert_int_equal(nl_tcp_send(s, "reply", 5, 1000), 5);
    recv_exact(c, buf, 5);
    assert_memory_equal(buf, "reply", 5);
    assert_int_equal(nl_tcp_shutdown(c, 3), NL_EINVAL);
    assert_int_equal(nl_tcp_shutdown(c, -1), NL_EINVAL);
    assert_int_equal(nl_tcp_shutdown(NULL, NL_SHUT_WR), NL_EINVAL);
    nl_tcp_close(c);
    nl_tcp_close(s);
}

static void listener_is_not_a_connection(void **state)
{
    nl_endpoint ll, ep;
    nl_tcp *l = listener(NL_AF_INET, &ll), *c = NULL, *s = NULL, *x = (nl_tcp *)&ll;
    char buf[8];
    size_t sent = 1;

    (void)state;
    assert_int_equal(nl_tcp_recv(l, buf, sizeof buf, 0), NL_EINVAL);
    assert_int_equal(nl_tcp_send(l, "x", 1, 0), NL_EINVAL);
    assert_int_equal(nl_tcp_send_all(l, "x", 1, &sent, 0), NL_EINVAL);
    assert_int_equal(sent, 0);
    assert_int_equal(nl_tcp_set_nodelay(l, 1), NL_EINVAL);
    assert_int_equal(nl_tcp_peer(l, &ep), NL_ENOTCONN);
    /* ... and a connection is not a listener. */
    assert_int_equal(nl_tcp_connect(&c, &ll, 2000, NULL), 0);
    assert_int_equal(nl_tcp_accept(c, &x, NULL, 0), NL_EINVAL);
    assert_null(x);
    assert_int_equal(nl_tcp_accept(l, &s, NULL, 2000), 0);
    nl_tcp_close(c);
    nl_tcp_close(s);
    nl_tcp_close(l);
}

static void bad_arguments(void **state)
{
    nl_endpoint ll, unset = {0};
    nl_tcp *l = listener(NL_AF_INET, &ll), *c = NULL, *s = NULL, *x = (nl_tcp *)&ll;
    char buf[8];
    size_t sent = 1;

    (void)state;
    assert_int_equal(nl_tcp_listen(NULL, &ll, 0, NULL), NL_EINVAL);
    assert_int_equal(nl_tcp_listen(&x, NULL, 0, NULL), NL_EINVAL);
    assert_null(x);
    x = (nl_tcp *)&ll;
    assert_int_equal(nl_tcp_listen(&x, &unset, 0, NULL), NL_EINVAL);
    assert_null(x);
    x = (nl_tcp *)&ll;
    assert_int_equal(nl_tcp_connect(&x, &unset, 0, NULL), NL_EINVAL);
    assert_null(x);
    assert_int_equal(nl_tcp_connect(NULL, &ll, 0, NULL), NL_EINVAL);
    assert_int_equal(nl_tcp_accept(NULL, &x, NULL, 0), NL_EINVAL);
    assert_int_equal(nl_tcp_accept(l, NULL, NULL, 0), NL_EINVAL);

    assert_int_equal(nl_tcp_connect(&c, &ll, 2000, NULL), 0);
    assert_int_equal(nl_tcp_accept(l, &s, NULL, 2000), 0);
    assert_int_equal(nl_tcp_send(NULL, "x", 1, 0), NL_EINVAL);
    assert_int_equal(nl_tcp_send(c, NULL, 1, 0), NL_EINVAL);
    assert_int_equal(nl_tcp_send(c, NULL, 0, 0), 0);
    assert_int_equal(nl_tcp_send_all(NULL, "x", 1, &sent, 0), NL_EINVAL);
    assert_int_equal(sent, 0);
    assert_int_equal(nl_tcp_send_all(c, NULL, 1, NULL, 0), NL_EINVAL);
    assert_int_equal(nl_tcp_send_all(c, "", 0, &sent, 0), 0);
    assert_int_equal(nl_tcp_recv(NULL, buf, sizeof buf, 0), NL_EINVAL);
    assert_int_equal(nl_tcp_recv(s, NULL, sizeof buf, 0), NL_EINVAL);
    assert_int_equal(nl_tcp_recv(s, buf, 0, 0), NL_EINVAL);
    assert_int_equal(nl_tcp_local(NULL, &ll), NL_EINVAL);
    assert_int_equal(nl_tcp_local(c, NULL), NL_EINVAL);
    assert_int_equal(nl_tcp_peer(NULL, &ll), NL_EINVAL);
    assert_int_equal(nl_tcp_peer(c, NULL), NL_EINVAL);
    assert_int_equal(nl_tcp_fd(NULL), TU_FD_EINVAL);
    assert_int_equal(nl_tcp_set_nodelay(NULL, 1), NL_EINVAL);
    assert_int_equal(nl_tcp_close(NULL), 0);
    nl_tcp_close(c);
    nl_tcp_close(s);
    nl_tcp_close(l);
}

static void nodelay_is_set(void **state)
{
    nl_tcp *c = NULL, *s = NULL;
    socklen_t len = sizeof(int);
    int v = 0;

    (void)state;
    tcp_pair(NL_AF_INET, &c, &s);
    assert_int_equal(nl_tcp_set_nodelay(c, 1), 0);
    assert_int_equal(getsockopt(nl_tcp_fd(c), IPPROTO_TCP, TCP_NODELAY, (void *)&v, &len), 0);
    assert_true(v != 0);
    assert_int_equal(nl_tcp_set_nodelay(c, 0), 0);
    v = -1;
    assert_int_equal(getsockopt(nl_tcp_fd(c), IPPROTO_TCP, TCP_NODELAY, (void *)&v, &len), 0);
    /* Windows answers with one byte (a BOOLEAN) and says so in len. */
    assert_int_equal(len == 1 ? (v & 0xff) : v, 0);
    nl_tcp_close(c);
    nl_tcp_close(s);
}

static void descriptors_are_cloexec(void **state)
{
    nl_endpoint ll;
    nl_tcp *l = listener(NL_AF_INET, &ll), *c = NULL, *s = NULL;

    (void)state;
    assert_int_equal(nl_tcp_connect(&c, &ll, 2000, NULL), 0);
    assert_int_equal(nl_tcp_accept(l, &s, NULL, 2000), 0);
    assert_int_equal(tu_inherited(nl_tcp_fd(l)), 0);
    assert_int_equal(tu_inherited(nl_tcp_fd(c)), 0);
    assert_int_equal(tu_inherited(nl_tcp_fd(s)), 0);
#ifndef _WIN32 /* Winsock cannot tell a socket's blocking mode */
    /* Connections are left blocking (timeouts use MSG_DONTWAIT), as documented in tcp.c. */
    assert_int_equal(fcntl(nl_tcp_fd(c), F_GETFL) & O_NONBLOCK, 0);
    assert_int_equal(fcntl(nl_tcp_fd(s), F_GETFL) & O_NONBLOCK, 0);
#endif
    nl_tcp_close(c);
    nl_tcp_close(s);
    nl_tcp_close(l);
}

#ifndef _WIN32
/* A program started with its standard input closed: the sockets must not take descriptor 0,
 * or the program would read its input from the network (issue 11). Nor 1 or 2, likewise.
 * POSIX only: a Winsock SOCKET is a handle, never the number of a C runtime descriptor. */
static void descriptors_avoid_stdio_numbers(void **state)
{
    nl_endpoint ll;
    nl_tcp *l = NULL, *c = NULL, *s = NULL;
    nl_udp *u = NULL;
    int saved = dup(0), l_fd, c_fd, s_fd, u_fd, zero_closed;

    (void)state;
    assert_true(saved > 2);
    close(0);
    l = listener(NL_AF_INET, &ll);
    if (nl_tcp_connect(&c, &ll, 2000, NULL) == 0)
        nl_tcp_accept(l, &s, NULL, 2000);
    nl_udp_open(&u, NL_AF_INET, NULL);
    l_fd = nl_tcp_fd(l);
    c_fd = nl_tcp_fd(c);
    s_fd = nl_tcp_fd(s);
    u_fd = nl_udp_fd(u);
    zero_closed = fcntl(0, F_GETFD) < 0; /* left as the program left it */
    dup2(saved, 0);
    close(saved);
    assert_true(l_fd > 2 && c_fd > 2 && s_fd > 2 && u_fd > 2);
    assert_true(zero_closed);
    assert_true(fcntl(c_fd, F_GETFD) & FD_CLOEXEC);
    assert_true(fcntl(s_fd, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(nl_tcp_send(c, "x", 1, 1000), 1); /* and they work */
    nl_udp_close(u);
    nl_tcp_close(c);
    nl_tcp_close(s);
    nl_tcp_close(l);
}

#endif /* !_WIN32 */

struct calls {
    int accept_ok, recv_ok, other_fd;
    int listen_fd, conn_fd;
};

static void count_calls(const nl_trace_event *ev, void *user)
{
    struct calls *k = user;

    if (strcmp(ev->call, "accept") == 0 && ev->result >= 0 && ev->fd == k->listen_fd)
        k->accept_ok++;
    if (strcmp(ev->call, "recv") == 0 && ev->result == 2 && ev->fd == k->conn_fd)
        k->recv_ok++;
}

/* Accepted connections inherit the listener's trace callback. */
static void accepted_connection_inherits_trace(void **state)
{
    struct calls k = {0};
    nl_opts opts = {.trace = count_calls, .trace_user = &k};
    nl_endpoint ep = tu_loopback(NL_AF_INET, 0), ll;
    nl_tcp *l = NULL, *c = NULL, *s = NULL;
    char buf[4];

    (void)state;
    assert_int_equal(nl_tcp_listen(&l, &ep, 0, &opts), 0);
    assert_int_equal(nl_tcp_local(l, &ll), 0);
    k.listen_fd = nl_tcp_fd(l);
    assert_int_equal(nl_tcp_connect(&c, &ll, 2000, NULL), 0);
    assert_int_equal(nl_tcp_accept(l, &s, NULL, 2000), 0);
    k.conn_fd = nl_tcp_fd(s);
    assert_int_equal(nl_tcp_send(c, "hi", 2, 1000), 2);
    assert_int_equal(nl_tcp_recv(s, buf, sizeof buf, 2000), 2);
    assert_int_equal(k.accept_ok, 1);
    assert_int_equal(k.recv_ok, 1);
    nl_tcp_close(c);
    nl_tcp_close(s);
    nl_tcp_close(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(echo_ipv4),
#ifndef _WIN32
        cmocka_unit_test(descriptors_avoid_stdio_numbers),
#endif
        cmocka_unit_test(echo_ipv6),
        cmocka_unit_test(dual_stack_listener_reports_ipv4),
        cmocka_unit_test(send_all_4mib),
        cmocka_unit_test(send_all_counts_bytes_on_timeout),
        cmocka_unit_test(eof_is_not_no_data),
        cmocka_unit_test(connect_refused),
        cmocka_unit_test(closed_peer_is_an_error_not_a_signal),
        cmocka_unit_test(accept_timeouts),
        cmocka_unit_test(listener_rebinds_after_close),
        cmocka_unit_test(second_listener_is_in_use),
        cmocka_unit_test(shutdown_write_gives_peer_eof),
        cmocka_unit_test(listener_is_not_a_connection),
        cmocka_unit_test(bad_arguments),
        cmocka_unit_test(nodelay_is_set),
        cmocka_unit_test(descriptors_are_cloexec),
        cmocka_unit_test(accepted_connection_inherits_trace),
    };

    /* Whatever the test runner left, SIGPIPE is at its default, fatal disposition: the
     * library must never raise it (see closed_peer_is_an_error_not_a_signal). */
#ifdef SIGPIPE /* Windows has none: a send to a closed peer is only an error there */
    signal(SIGPIPE, SIG_DFL);
#endif
    return cmocka_run_group_tests_name("tcp", tests, NULL, NULL);
}
