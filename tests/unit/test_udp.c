/* UDP handles on loopback, IPv4 and IPv6, ephemeral ports: datagrams both ways with the right
 * sender, empty datagrams, truncation, timeouts, connected sockets, ICMP refusal, dual stack,
 * bad arguments, the trace hook and close-on-exec. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

/* Open a UDP socket bound to loopback port 0 and return its real local endpoint. */
static nl_udp *bound(int family, const nl_opts *opts, nl_endpoint *local)
{
    nl_endpoint ep = tu_loopback(family, 0);
    nl_udp *u = NULL;

    assert_int_equal(nl_udp_open_bound(&u, &ep, opts), 0);
    assert_non_null(u);
    assert_int_equal(nl_udp_local(u, local), 0);
    assert_int_equal(local->family, family);
    assert_true(local->port != 0);
    return u;
}

static void exchange(int family)
{
    nl_endpoint la, lb, from;
    nl_udp *a = bound(family, NULL, &la), *b = bound(family, NULL, &lb);
    char buf[64];

    assert_int_equal(nl_udp_send_to(a, "hello", 5, &lb, 1000), 5);
    memset(&from, 0, sizeof from);
    assert_int_equal(nl_udp_recv_from(b, buf, sizeof buf, &from, 1000), 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(nl_endpoint_compare(&from, &la), 0);

    /* And back to the sender it reported, as the course's echo does. */
    assert_int_equal(nl_udp_send_to(b, "world!", 6, &from, -1), 6);
    assert_int_equal(nl_udp_recv_from(a, buf, sizeof buf, &from, -1), 6);
    assert_memory_equal(buf, "world!", 6);
    assert_int_equal(nl_endpoint_compare(&from, &lb), 0);

    assert_int_equal(nl_udp_family(a), family);
    assert_int_equal(nl_udp_close(a), 0);
    assert_int_equal(nl_udp_close(b), 0);
}

static void exchange_ipv4(void **state)
{
    (void)state;
    exchange(NL_AF_INET);
}

static void exchange_ipv6(void **state)
{
    (void)state;
    exchange(NL_AF_INET6);
}

static void empty_datagram_is_delivered(void **state)
{
    nl_endpoint la, lb, from;
    nl_udp *a = bound(NL_AF_INET, NULL, &la), *b = bound(NL_AF_INET, NULL, &lb);
    char buf[16];

    (void)state;
    assert_int_equal(nl_udp_send_to(a, NULL, 0, &lb, 1000), 0);
    assert_int_equal(nl_udp_send_to(a, "", 0, &lb, 1000), 0);
    assert_int_equal(nl_udp_recv_from(b, buf, sizeof buf, &from, 1000), 0);
    assert_int_equal(nl_endpoint_compare(&from, &la), 0);
    /* No buffer at all is fine for an empty datagram. */
    assert_int_equal(nl_udp_recv_from(b, NULL, 0, &from, 1000), 0);
    assert_int_equal(nl_udp_recv_from(b, buf, sizeof buf, NULL, 0), NL_EAGAIN);
    nl_udp_close(a);
    nl_udp_close(b);
}

static void long_datagram_is_truncated_not_cut(void **state)
{
    nl_endpoint la, lb, from;
    nl_udp *a = bound(NL_AF_INET6, NULL, &la), *b = bound(NL_AF_INET6, NULL, &lb);
    char out[100], in[100];

    (void)state;
    for (size_t i = 0; i < sizeof out; i++)
        out[i] = (char)('a' + i % 26);
    memset(in, 0, sizeof in);
    assert_int_equal(nl_udp_send_to(a, out, sizeof out, &lb, 1000), sizeof out);
    assert_int_equal(nl_udp_recv_from(b, in, 10, &from, 1000), NL_ETRUNC);
    assert_memory_equal(in, out, 10);
    assert_int_equal(in[10], 0); /* nothing written past cap */
    assert_int_equal(nl_endpoint_compare(&from, &la), 0);
    /* The rest of that datagram is gone, not delivered as a second one. */
    assert_int_equal(nl_udp_recv_from(b, in, sizeof in, &from, 0), NL_EAGAIN);

    /* A zero-capacity receive of a non-empty datagram is truncation too. */
    assert_int_equal(nl_udp_send_to(a, out, 1, &lb, 1000), 1);
    assert_int_equal(nl_udp_recv_from(b, NULL, 0, NULL, 1000), NL_ETRUNC);
    nl_udp_close(a);
    nl_udp_close(b);
}

static void largest_datagram_fits(void **state)
{
    static char out[NL_UDP_MAX_DATAGRAM + 1], in[NL_UDP_MAX_DATAGRAM + 1];
    nl_endpoint la, lb;
    nl_udp *a = bound(NL_AF_INET, NULL, &la), *b = bound(NL_AF_INET, NULL, &lb);

    (void)state;
    for (size_t i = 0; i < sizeof out; i++)
        out[i] = (char)(i * 7);
    assert_int_equal(nl_udp_send_to(a, out, NL_UDP_MAX_DATAGRAM, &lb, 1000), NL_UDP_MAX_DATAGRAM);
    assert_int_equal(nl_udp_recv_from(b, in, sizeof in, NULL, 1000), NL_UDP_MAX_DATAGRAM);
    assert_memory_equal(in, out, NL_UDP_MAX_DATAGRAM);
    assert_int_equal(nl_udp_send_to(a, out, NL_UDP_MAX_DATAGRAM + 1, &lb, 1000), NL_EMSGSIZE);
    nl_udp_close(a);
    nl_udp_close(b);
}

static void timeouts(void **state)
{
    nl_endpoint la;
    nl_udp *a = bound(NL_AF_INET, NULL, &la);
    char buf[8];
    int64_t t0, dt;

    (void)state;
    t0 = tu_now_ns();
    assert_int_equal(nl_udp_recv_from(a, buf, sizeof buf, NULL, 0), NL_EAGAIN);
    assert_true(tu_now_ns() - t0 < 500 * 1000000LL);

    /* Several rounds, because a deadline kept in whole milliseconds can end up to 1 ms early
     * depending on where in the millisecond the call started. */
    for (int i = 0; i < 5; i++) {
        t0 = tu_now_ns();
        assert_int_equal(nl_udp_recv_from(a, buf, sizeof buf, NULL, 50), NL_ETIMEDOUT);
        dt = tu_now_ns() - t0;
        if (dt < 50 * 1000000LL)
            fail_msg("timeout 50 ms returned after %lld us", (long long)(dt / 1000));
        assert_true(dt < 5000 * 1000000LL);
    }
    nl_udp_close(a);
}

/* shutdown(SHUT_RD) is how one thread wakes another blocked in recvfrom. Afterwards a UDP
 * socket polls readable while a non-blocking recvfrom() says EAGAIN: the library must end the
 * call with NL_EOF, not spin until its timeout (or forever). */
static void read_shutdown_ends_the_wait(void **state)
{
    static const int timeouts[] = {2000, -1};
    char buf[16];
    int64_t t0;
    nl_endpoint local;
    nl_udp *u = bound(NL_AF_INET, NULL, &local);

    (void)state;
    (void)shutdown(nl_udp_fd(u), SHUT_RD); /* Linux says ENOTCONN but shuts down all the same */
    for (size_t i = 0; i < sizeof timeouts / sizeof *timeouts; i++) {
        int timeout = timeouts[i];
        t0 = tu_now_ns();
        assert_int_equal(nl_udp_recv_from(u, buf, sizeof buf, NULL, timeout), NL_EOF);
        assert_true(tu_now_ns() - t0 < 1000 * 1000000LL); /* at once, not after the timeout */
    }
    nl_udp_close(u);
}

/* The same for a batch receive: NL_EOF, not a batch of empty datagrams from nobody (the
 * one-call-per-datagram path of every system but Linux once returned all of them). */
static void read_shutdown_ends_a_batch(void **state)
{
    char b0[16], b1[16];
    nl_udp_msg m[2] = {{.buf = b0, .cap = sizeof b0}, {.buf = b1, .cap = sizeof b1}};
    nl_endpoint local;
    nl_udp *u = bound(NL_AF_INET, NULL, &local);

    (void)state;
    (void)shutdown(nl_udp_fd(u), SHUT_RD);
    assert_int_equal(nl_udp_recv_batch(u, m, 2, 2000), NL_EOF);
    assert_int_equal(nl_udp_recv_batch(u, m, 2, -1), NL_EOF);
    nl_udp_close(u);
}

#ifndef _WIN32
/* POSIX only: Winsock (wine at least) does not wake a select() that waits on a socket another
 * thread shuts down, so on Windows the reader waits out its time-out (NL_ETIMEDOUT). */
static void *blocked_reader(void *arg)
{
    char buf[16];
    static long rc;

    rc = nl_udp_recv_from(arg, buf, sizeof buf, NULL, 5000);
    return &rc;
}

static void read_shutdown_wakes_a_blocked_reader(void **state)
{
    nl_endpoint local;
    nl_udp *u = bound(NL_AF_INET6, NULL, &local);
    pthread_t t;
    void *res;
    int64_t t0 = tu_now_ns();

    (void)state;
    assert_int_equal(pthread_create(&t, NULL, blocked_reader, u), 0);
    usleep(100 * 1000); /* let it block; if it has not yet, it finds the shutdown at once */
    (void)shutdown(nl_udp_fd(u), SHUT_RD);
    assert_int_equal(pthread_join(t, &res), 0);
    assert_int_equal(*(long *)res, NL_EOF);
    assert_true(tu_now_ns() - t0 < 3000 * 1000000LL); /* woken, not timed out after 5 s */
    nl_udp_close(u);
}
#endif

static void connected_socket_filters_senders(void **state)
{
    nl_endpoint lu, la, lb, from;
    nl_udp *u = bound(NL_AF_INET, NULL, &lu);
    nl_udp *a = bound(NL_AF_INET, NULL, &la), *b = bound(NL_AF_INET, NULL, &lb);
    char buf[8];

    (void)state;
    assert_int_equal(nl_udp_connect(u, &la), 0);
    assert_int_equal(nl_udp_send_to(b, "B", 1, &lu, 1000), 1);
    assert_int_equal(nl_udp_send_to(a, "A", 1, &lu, 1000), 1);
    assert_int_equal(nl_udp_recv_from(u, buf, sizeof buf, &from, 1000), 1);
    assert_int_equal(buf[0], 'A');
    assert_int_equal(nl_endpoint_compare(&from, &la), 0);
    assert_int_equal(nl_udp_recv_from(u, buf, sizeof buf, &from, 0), NL_EAGAIN);

    /* A connected socket sends without a destination; an unconnected one cannot. */
    assert_int_equal(nl_udp_send_to(u, "C", 1, NULL, 1000), 1);
    assert_int_equal(nl_udp_recv_from(a, buf, sizeof buf, &from, 1000), 1);
    assert_int_equal(buf[0], 'C');
    assert_int_equal(nl_endpoint_compare(&from, &lu), 0);
    assert_int_equal(nl_udp_send_to(b, "D", 1, NULL, 1000), NL_EDESTADDRREQ);
    nl_udp_close(u);
    nl_udp_close(a);
    nl_udp_close(b);
}

#ifndef _WIN32
/* Not under wine: it never reports the ICMP port unreachable (real Windows says WSAECONNRESET,
 * which lib/win.c turns into ECONNREFUSED): test_platform injects that error instead. */
/* A loopback port nobody listens on: bind port 0, note the port, close. */
static nl_endpoint dead_port(int family)
{
    nl_endpoint ep;
    nl_udp *u = bound(family, NULL, &ep);

    nl_udp_close(u);
    return ep;
}

static void icmp_refusal_on_connected_socket(int family)
{
    nl_endpoint dead = dead_port(family), lc;
    nl_udp *c = bound(family, NULL, &lc);
    char buf[8];
    ssize_t rc;

    assert_int_equal(nl_udp_connect(c, &dead), 0);
    /* The first send goes out; the ICMP "port unreachable" it provokes is reported by the next
     * call on the socket. */
    assert_int_equal(nl_udp_send_to(c, "x", 1, NULL, 1000), 1);
    rc = nl_udp_recv_from(c, buf, sizeof buf, NULL, 2000);
    if (rc != NL_ECONNREFUSED)
        fail_msg("recv after ICMP unreachable = %s", nl_err_name((int)rc));
    nl_udp_close(c);
}

static void icmp_refusal_ipv4(void **state)
{
    (void)state;
    icmp_refusal_on_connected_socket(NL_AF_INET);
}

static void icmp_refusal_ipv6(void **state)
{
    (void)state;
    icmp_refusal_on_connected_socket(NL_AF_INET6);
}
#endif

/* An IPv6 socket (v6only off, the default) receives from IPv4 peers and reports them as plain
 * IPv4, so `('127.0.0.1', port)` reads the same as on an IPv4 server. */
static void dual_stack_reports_plain_ipv4(void **state)
{
    nl_endpoint any6, l6, l4, from, to;
    nl_udp *s6 = NULL, *c4 = bound(NL_AF_INET, NULL, &l4);
    char buf[8];

    (void)state;
    assert_int_equal(nl_endpoint_parse(&any6, "::", 0), 0);
    assert_int_equal(nl_udp_open_bound(&s6, &any6, NULL), 0);
    assert_int_equal(nl_udp_local(s6, &l6), 0);
    assert_int_equal(nl_endpoint_parse(&to, "127.0.0.1", l6.port), 0);

    assert_int_equal(nl_udp_send_to(c4, "v4", 2, &to, 1000), 2);
    assert_int_equal(nl_udp_recv_from(s6, buf, sizeof buf, &from, 1000), 2);
    assert_int_equal(from.family, NL_AF_INET);
    assert_int_equal(from.scope_id, 0);
    assert_int_equal(nl_endpoint_compare(&from, &l4), 0);
    assert_memory_equal(&from, &l4, sizeof from);

    /* And the reply goes back through the mapped address. */
    assert_int_equal(nl_udp_send_to(s6, "ok", 2, &from, 1000), 2);
    assert_int_equal(nl_udp_recv_from(c4, buf, sizeof buf, &from, 1000), 2);
    assert_memory_equal(buf, "ok", 2);
    nl_udp_close(s6);
    nl_udp_close(c4);
}

/* v6only decides whether [::]:P also takes IPv4's P: with it, an IPv4 socket can bind P too;
 * without it (the default), that port is taken for both families. */
static void v6only_leaves_ipv4_port_free(void **state)
{
    nl_opts only = {.v6only = 1};
    nl_endpoint any6, l6, v4;
    nl_udp *s6 = NULL, *s4 = NULL;

    (void)state;
    assert_int_equal(nl_endpoint_parse(&any6, "::", 0), 0);
    assert_int_equal(nl_udp_open_bound(&s6, &any6, &only), 0);
    assert_int_equal(nl_udp_local(s6, &l6), 0);
    assert_int_equal(nl_endpoint_parse(&v4, "127.0.0.1", l6.port), 0);
    assert_int_equal(nl_udp_open_bound(&s4, &v4, NULL), 0);
    nl_udp_close(s4);
    nl_udp_close(s6);

    assert_int_equal(nl_udp_open_bound(&s6, &any6, NULL), 0);
    assert_int_equal(nl_udp_local(s6, &l6), 0);
    assert_int_equal(nl_endpoint_parse(&v4, "127.0.0.1", l6.port), 0);
    assert_int_equal(nl_udp_open_bound(&s4, &v4, NULL), NL_EADDRINUSE);
    assert_null(s4);
    nl_udp_close(s6);
}

/* An IPv4 endpoint given to an IPv6 socket means its IPv4-mapped form, and the socket then
 * reports it as plain IPv4 again. */
static void ipv4_endpoint_on_ipv6_socket(void **state)
{
    nl_endpoint lo4 = tu_loopback(NL_AF_INET, 0), local, l4, from;
    nl_udp *s6 = NULL, *c4 = bound(NL_AF_INET, NULL, &l4);
    char buf[4];

    (void)state;
    assert_int_equal(nl_udp_open(&s6, NL_AF_INET6, NULL), 0);
    assert_int_equal(nl_udp_bind(s6, &lo4), 0);
    assert_int_equal(nl_udp_local(s6, &local), 0);
    assert_int_equal(local.family, NL_AF_INET);
    assert_true(local.port != 0);
    assert_int_equal(nl_udp_send_to(c4, "m", 1, &local, 1000), 1);
    assert_int_equal(nl_udp_recv_from(s6, buf, sizeof buf, &from, 1000), 1);
    assert_memory_equal(&from, &l4, sizeof from);
    nl_udp_close(s6);
    nl_udp_close(c4);
}

static void bad_arguments(void **state)
{
    nl_endpoint l4, l6, unset = {0};
    nl_udp *u = bound(NL_AF_INET, NULL, &l4), *out = (nl_udp *)&l4;
    char buf[8];

    (void)state;
    l6 = tu_loopback(NL_AF_INET6, 9);
    assert_int_equal(nl_udp_open(NULL, NL_AF_INET, NULL), NL_EINVAL);
    assert_int_equal(nl_udp_open(&out, 12345, NULL), NL_EAFNOSUPPORT);
    assert_null(out);
    out = (nl_udp *)&l4;
    assert_int_equal(nl_udp_open(&out, NL_AF_UNSPEC, NULL), NL_EAFNOSUPPORT);
    assert_null(out);
    out = (nl_udp *)&l4;
    assert_int_equal(nl_udp_open_bound(&out, &unset, NULL), NL_EINVAL);
    assert_null(out);
    out = (nl_udp *)&l4;
    assert_int_equal(nl_udp_open_bound(&out, NULL, NULL), NL_EINVAL);
    assert_null(out);
    assert_int_equal(nl_udp_open_bound(NULL, &l4, NULL), NL_EINVAL);

    assert_int_equal(nl_udp_bind(NULL, &l4), NL_EINVAL);
    assert_int_equal(nl_udp_bind(u, NULL), NL_EINVAL);
    assert_int_equal(nl_udp_bind(u, &unset), NL_EINVAL);
    assert_int_equal(nl_udp_connect(NULL, &l4), NL_EINVAL);
    assert_int_equal(nl_udp_connect(u, NULL), NL_EINVAL);
    assert_int_equal(nl_udp_connect(u, &l6), NL_EAFNOSUPPORT);

    assert_int_equal(nl_udp_send_to(NULL, "x", 1, &l4, 0), NL_EINVAL);
    assert_int_equal(nl_udp_send_to(u, NULL, 1, &l4, 0), NL_EINVAL);
    assert_int_equal(nl_udp_send_to(u, "x", 1, &unset, 0), NL_EINVAL);
    assert_int_equal(nl_udp_send_to(u, "x", 1, &l6, 0), NL_EAFNOSUPPORT);
    assert_int_equal(nl_udp_recv_from(NULL, buf, sizeof buf, NULL, 0), NL_EINVAL);
    assert_int_equal(nl_udp_recv_from(u, NULL, 8, NULL, 0), NL_EINVAL);

    assert_int_equal(nl_udp_local(NULL, &l4), NL_EINVAL);
    assert_int_equal(nl_udp_local(u, NULL), NL_EINVAL);
    assert_int_equal(nl_udp_fd(NULL), TU_FD_EINVAL);
    assert_int_equal(nl_udp_family(NULL), NL_EINVAL);
    assert_int_equal(nl_udp_close(NULL), 0);
    nl_udp_close(u);
}

static void port_in_use(void **state)
{
    nl_endpoint la;
    nl_udp *a = bound(NL_AF_INET, NULL, &la), *b = NULL;

    (void)state;
    assert_int_equal(nl_udp_open_bound(&b, &la, NULL), NL_EADDRINUSE);
    assert_null(b);
    nl_udp_close(a);
}

static void descriptors_are_cloexec(void **state)
{
    nl_endpoint la;
    nl_udp *a = bound(NL_AF_INET, NULL, &la), *b = NULL;
    int fd;

    (void)state;
    assert_int_equal(nl_udp_open(&b, NL_AF_INET6, NULL), 0);
    fd = nl_udp_fd(a);
    assert_true(fd >= 0);
    assert_int_equal(tu_inherited(fd), 0);
    assert_int_equal(tu_inherited(nl_udp_fd(b)), 0);
    nl_udp_close(a);
    nl_udp_close(b);
}

/* What the trace callback saw, copied: the event's strings live only during the callback. */
struct seen {
    int n;
    struct {
        char call[16];
        char args[160];
        int fd;
        long result;
        int err;
    } ev[32];
};

static void record(const nl_trace_event *ev, void *user)
{
    struct seen *s = user;

    if (s->n >= (int)(sizeof s->ev / sizeof s->ev[0]))
        return;
    snprintf(s->ev[s->n].call, sizeof s->ev[0].call, "%s", ev->call);
    snprintf(s->ev[s->n].args, sizeof s->ev[0].args, "%s", ev->args ? ev->args : "");
    s->ev[s->n].fd = ev->fd;
    s->ev[s->n].result = ev->result;
    s->ev[s->n].err = ev->err;
    s->n++;
}

static int find_call(const struct seen *s, const char *call, int from)
{
    for (int i = from; i < s->n; i++)
        if (strcmp(s->ev[i].call, call) == 0)
            return i;
    return -1;
}

static void trace_sees_the_calls(void **state)
{
    struct seen seen = {0};
    nl_opts opts = {.trace = record, .trace_user = &seen};
    nl_endpoint la, lb, any = tu_loopback(NL_AF_INET, 0);
    nl_udp *a = NULL, *b = bound(NL_AF_INET, NULL, &lb);
    char buf[16], line[256];
    int i, fd;

    (void)state;
    assert_int_equal(nl_udp_open_bound(&a, &any, &opts), 0);
    assert_int_equal(nl_udp_local(a, &la), 0);
    fd = nl_udp_fd(a);
    assert_int_equal(nl_udp_send_to(a, "ping", 4, &lb, 1000), 4);
    assert_int_equal(nl_udp_recv_from(b, buf, sizeof buf, NULL, 1000), 4);
    assert_int_equal(nl_udp_send_to(b, "pong!", 5, &la, 1000), 5);
    assert_int_equal(nl_udp_recv_from(a, buf, sizeof buf, NULL, 1000), 5);
    assert_int_equal(nl_udp_recv_from(a, buf, sizeof buf, NULL, 0), NL_EAGAIN);

    /* socket first, before its descriptor exists */
    assert_int_equal(find_call(&seen, "socket", 0), 0);
    assert_int_equal(seen.ev[0].fd, -1);
    assert_int_equal(seen.ev[0].result, fd);
    assert_int_equal(seen.ev[0].err, 0);
    i = find_call(&seen, "bind", 1);
    assert_true(i > 0);
    assert_int_equal(seen.ev[i].fd, fd);
    assert_int_equal(seen.ev[i].result, 0);
    /* The address bound, as getsockname() reports it: the port the system chose, not 0. */
    nl_endpoint_format(&la, line, sizeof line);
    assert_string_equal(seen.ev[i].args, line);
    assert_int_not_equal(la.port, 0);
    i = find_call(&seen, "sendto", i);
    assert_true(i > 0);
    assert_int_equal(seen.ev[i].result, 4);
    nl_endpoint_format(&lb, line, sizeof line);
    assert_non_null(strstr(seen.ev[i].args, line));
    i = find_call(&seen, "recvfrom", i);
    assert_true(i > 0);
    assert_int_equal(seen.ev[i].result, 5);
    assert_int_equal(seen.ev[i].err, 0);
    nl_endpoint_format(&lb, line, sizeof line);
    assert_non_null(strstr(seen.ev[i].args, line));
    /* the poll for timeout 0 fails with EAGAIN, and says so */
    i = find_call(&seen, "recvfrom", i + 1);
    assert_true(i > 0);
    assert_int_equal(seen.ev[i].result, -1);
    assert_int_equal(seen.ev[i].err, EAGAIN);

    /* b has no callback: nothing of b's shows up. */
    for (i = 0; i < seen.n; i++)
        assert_int_equal(seen.ev[i].fd == (int)nl_udp_fd(b), 0);

    i = seen.n;
    nl_udp_close(a);
    assert_int_equal(find_call(&seen, "close", i), i);
    assert_int_equal(seen.ev[i].fd, fd);
    nl_udp_close(b);
}

static void trace_format_lines(void **state)
{
    nl_trace_event ok = {"recvfrom", 3, "1024 <- 127.0.0.1:50000", 5, 0};
    nl_trace_event bad = {"connect", 4, "127.0.0.1:1", -1, ECONNREFUSED};
    char buf[128], small[8];
    int n;

    (void)state;
    n = nl_trace_format(&ok, buf, sizeof buf);

    assert_string_equal(buf, "recvfrom(3, 1024 <- 127.0.0.1:50000) = 5");
    assert_int_equal(n, (int)strlen(buf));
    assert_true(nl_trace_format(&bad, buf, sizeof buf) > 0);
    assert_non_null(strstr(buf, "connect(4, 127.0.0.1:1) = -1 ECONNREFUSED"));
    assert_int_equal(nl_trace_format(&ok, small, sizeof small), 7);
    assert_string_equal(small, "recvfro");
    assert_int_equal(nl_trace_format(NULL, buf, sizeof buf), NL_EINVAL);
    assert_int_equal(nl_trace_format(&ok, NULL, 0), NL_EINVAL);
}

/* Different handles may be used from different threads at once (udp.h): four threads, each
 * with its own pair of sockets, exchange datagrams; every one must arrive intact. */
struct worker {
    int family;
    int ok; /* datagrams that came back right */
};

static void *ping_pong(void *arg)
{
    struct worker *w = arg;
    nl_endpoint lo = tu_loopback(w->family, 0), la, lb, from;
    nl_udp *a = NULL, *b = NULL;
    char out[32], in[32];

    if (nl_udp_open_bound(&a, &lo, NULL) != 0 || nl_udp_open_bound(&b, &lo, NULL) != 0 ||
        nl_udp_local(a, &la) != 0 || nl_udp_local(b, &lb) != 0)
        goto out;
    for (int i = 0; i < 200; i++) {
        int len = snprintf(out, sizeof out, "%p %d", (void *)w, i);
        if (nl_udp_send_to(a, out, (size_t)len, &lb, 2000) != len ||
            nl_udp_recv_from(b, in, sizeof in, &from, 2000) != len ||
            memcmp(in, out, (size_t)len) != 0 || nl_endpoint_compare(&from, &la) != 0)
            break;
        w->ok++;
    }
out:
    nl_udp_close(a);
    nl_udp_close(b);
    return NULL;
}

static void handles_in_parallel_threads(void **state)
{
    struct worker w[4];
    pthread_t th[4];

    (void)state;
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){i % 2 ? NL_AF_INET6 : NL_AF_INET, 0};
        assert_int_equal(pthread_create(&th[i], NULL, ping_pong, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].ok, 200);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exchange_ipv4),
        cmocka_unit_test(exchange_ipv6),
        cmocka_unit_test(empty_datagram_is_delivered),
        cmocka_unit_test(long_datagram_is_truncated_not_cut),
        cmocka_unit_test(largest_datagram_fits),
        cmocka_unit_test(timeouts),
        cmocka_unit_test(read_shutdown_ends_the_wait),
        cmocka_unit_test(read_shutdown_ends_a_batch),
#ifndef _WIN32
        cmocka_unit_test(read_shutdown_wakes_a_blocked_reader),
#endif
        cmocka_unit_test(connected_socket_filters_senders),
#ifndef _WIN32
        cmocka_unit_test(icmp_refusal_ipv4),
        cmocka_unit_test(icmp_refusal_ipv6),
#endif
        cmocka_unit_test(dual_stack_reports_plain_ipv4),
        cmocka_unit_test(v6only_leaves_ipv4_port_free),
        cmocka_unit_test(ipv4_endpoint_on_ipv6_socket),
        cmocka_unit_test(bad_arguments),
        cmocka_unit_test(port_in_use),
        cmocka_unit_test(descriptors_are_cloexec),
        cmocka_unit_test(trace_sees_the_calls),
        cmocka_unit_test(trace_format_lines),
        cmocka_unit_test(handles_in_parallel_threads),
    };

    return cmocka_run_group_tests_name("udp", tests, NULL, NULL);
}
