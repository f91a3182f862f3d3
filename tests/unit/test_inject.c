/* Syscall failures injected with -Wl,--wrap, as CMocka's chef_wrap example does: EINTR is
 * retried transparently, EAGAIN leads to poll() or NL_EAGAIN, short writes are counted, EMFILE
 * and ECONNRESET are reported without leaking anything.
 *
 * Every wrapped call passes straight through to the real one unless a test armed it: INJECT()
 * queues one outcome with will_return() for the next call on one descriptor, so each sequence
 * is exact, and CMocka fails the test if a queued outcome is never consumed. The library is
 * linked in statically (see tests/CMakeLists.txt) so that its own calls are the wrapped ones. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include <cmocka.h>

#include "testutil.h"

#define MS     1000000LL
#define ANY_FD (-2)

/* Outcomes a test can queue. A negative value -E makes the call fail with errno E without
 * doing anything; PASS calls the real function; the others are per-call, see the wrappers. */
#define PASS                 0x40000000L
#define SHORT(n)             ((long)(n))          /* send/recv: real call limited to n bytes */
#define CONNECT_EINTR        0x40000001L          /* connect: start it, then report EINTR    */
#define POLL_EINTR_AFTER(ms) (0x50000000L + (ms)) /* poll: wait up to ms, then EINTR         */
#define POLL_NOT_READY       0x40000002L          /* poll: wait the whole timeout, report 0  */

struct inj {
    int left; /* queued outcomes not yet taken */
    int fd;   /* descriptor they apply to, or ANY_FD */
};

static struct inj inj_socket, inj_connect, inj_accept4, inj_poll, inj_send, inj_sendto, inj_recv,
    inj_recvfrom;

#define INJECT(fn, fd_, outcome)                                                                   \
    do {                                                                                           \
        inj_##fn.fd = (fd_);                                                                       \
        inj_##fn.left++;                                                                           \
        will_return(__wrap_##fn, (outcome));                                                       \
    } while (0)

/* Whether this call takes a queued outcome. */
static int armed(struct inj *i, int fd)
{
    if (i->left <= 0 || (i->fd != ANY_FD && i->fd != fd))
        return 0;
    i->left--;
    return 1;
}

int __real_socket(int domain, int type, int protocol);
int __real_connect(int fd, const struct sockaddr *sa, socklen_t len);
int __real_accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags);
int __real_poll(struct pollfd *fds, nfds_t n, int timeout);
ssize_t __real_send(int fd, const void *buf, size_t len, int flags);
ssize_t __real_sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *sa,
                      socklen_t salen);
ssize_t __real_recv(int fd, void *buf, size_t len, int flags);
ssize_t __real_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *sa,
                        socklen_t *salen);

int __real_clock_gettime(clockid_t id, struct timespec *ts);
int __wrap_clock_gettime(clockid_t id, struct timespec *ts);
int __wrap_socket(int domain, int type, int protocol);
int __wrap_connect(int fd, const struct sockaddr *sa, socklen_t len);
int __wrap_accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags);
int __wrap_poll(struct pollfd *fds, nfds_t n, int timeout);
ssize_t __wrap_send(int fd, const void *buf, size_t len, int flags);
ssize_t __wrap_sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *sa,
                      socklen_t salen);
ssize_t __wrap_recv(int fd, void *buf, size_t len, int flags);
ssize_t __wrap_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *sa,
                        socklen_t *salen);

static long fail_with(long outcome)
{
    errno = (int)-outcome;
    return -1;
}

static size_t limit(size_t len, long outcome)
{
    return outcome != PASS && (size_t)outcome < len ? (size_t)outcome : len;
}

int __wrap_socket(int domain, int type, int protocol)
{
    long o = armed(&inj_socket, ANY_FD) ? mock_type(long) : PASS;

    return o < 0 ? (int)fail_with(o) : __real_socket(domain, type, protocol);
}

int __wrap_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
    long o = armed(&inj_connect, fd) ? mock_type(long) : PASS;
    int rc;

    if (o < 0)
        return (int)fail_with(o);
    rc = __real_connect(fd, sa, len);
    /* A signal during a real connect() leaves the handshake going on in the kernel. */
    if (o == CONNECT_EINTR && (rc == 0 || errno == EINPROGRESS))
        return (int)fail_with(-EINTR);
    return rc;
}

int __wrap_accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
    long o = armed(&inj_accept4, fd) ? mock_type(long) : PASS;

    return o < 0 ? (int)fail_with(o) : __real_accept4(fd, sa, len, flags);
}

int __wrap_poll(struct pollfd *fds, nfds_t n, int timeout)
{
    long o = armed(&inj_poll, n > 0 ? fds[0].fd : -1) ? mock_type(long) : PASS;

    if (o < 0)
        return (int)fail_with(o);
    if (o == POLL_NOT_READY) {
        struct timespec ts = {timeout / 1000, (long)(timeout % 1000) * 1000000};
        nanosleep(&ts, NULL);
        return 0;
    }
    if (o >= POLL_EINTR_AFTER(0)) {
        /* Wait as a real poll would, but with no event to wake it, then be interrupted. */
        struct timespec ts;
        long ms = o - POLL_EINTR_AFTER(0);
        if (timeout >= 0 && timeout < ms)
            ms = timeout;
        ts.tv_sec = ms / 1000;
        ts.tv_nsec = (ms % 1000) * 1000000;
        nanosleep(&ts, NULL);
        return (int)fail_with(-EINTR);
    }
    return __real_poll(fds, n, timeout);
}

ssize_t __wrap_send(int fd, const void *buf, size_t len, int flags)
{
    long o = armed(&inj_send, fd) ? mock_type(long) : PASS;

    return o < 0 ? fail_with(o) : __real_send(fd, buf, limit(len, o), flags);
}

ssize_t __wrap_sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *sa,
                      socklen_t salen)
{
    long o = armed(&inj_sendto, fd) ? mock_type(long) : PASS;

    return o < 0 ? fail_with(o) : __real_sendto(fd, buf, len, flags, sa, salen);
}

ssize_t __wrap_recv(int fd, void *buf, size_t len, int flags)
{
    long o = armed(&inj_recv, fd) ? mock_type(long) : PASS;

    return o < 0 ? fail_with(o) : __real_recv(fd, buf, limit(len, o), flags);
}

ssize_t __wrap_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *sa,
                        socklen_t *salen)
{
    long o = armed(&inj_recvfrom, fd) ? mock_type(long) : PASS;

    return o < 0 ? fail_with(o) : __real_recvfrom(fd, buf, len, flags, sa, salen);
}

/* The clock is not queued per call: when armed, every CLOCK_MONOTONIC reading is shifted by
 * one fixed amount, chosen at the first reading so that it falls 20 ns before a millisecond
 * boundary. A consistent shift changes no interval, only where the milliseconds begin. */
static int clock_armed;
static int64_t clock_shift = -1;

int __wrap_clock_gettime(clockid_t id, struct timespec *ts)
{
    int64_t t;
    int rc = __real_clock_gettime(id, ts);

    if (rc != 0 || !clock_armed || id != CLOCK_MONOTONIC)
        return rc;
    t = (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
    if (clock_shift < 0)
        clock_shift = (2 * MS - 20 - t % MS) % MS;
    t += clock_shift;
    ts->tv_sec = t / 1000000000;
    ts->tv_nsec = t % 1000000000;
    return rc;
}

/* After each test: every queued outcome was taken, and nothing stays armed for the next. */
static int all_consumed(void **state)
{
    struct inj *all[] = {&inj_socket, &inj_connect, &inj_accept4, &inj_poll,
                         &inj_send,   &inj_sendto,  &inj_recv,    &inj_recvfrom};
    int left = 0;

    (void)state;
    clock_armed = 0;
    clock_shift = -1;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        left += all[i]->left;
        all[i]->left = 0;
        all[i]->fd = ANY_FD;
    }
    return left == 0 ? 0 : -1;
}

/* Trace: count the calls that failed with a given errno, to see the retries happen. */
struct tally {
    int eintr, eagain, total;
};

static void tally(const nl_trace_event *ev, void *user)
{
    struct tally *t = user;

    t->total++;
    t->eintr += ev->result < 0 && ev->err == EINTR;
    t->eagain += ev->result < 0 && ev->err == EAGAIN;
}

static nl_udp *udp_bound(const nl_opts *opts, nl_endpoint *local)
{
    nl_endpoint ep = tu_loopback(NL_AF_INET, 0);
    nl_udp *u = NULL;

    assert_int_equal(nl_udp_open_bound(&u, &ep, opts), 0);
    assert_int_equal(nl_udp_local(u, local), 0);
    return u;
}

static void tcp_pair(const nl_opts *opts, nl_tcp **client, nl_tcp **server)
{
    nl_endpoint ep = tu_loopback(NL_AF_INET, 0), ll;
    nl_tcp *l = NULL;

    assert_int_equal(nl_tcp_listen(&l, &ep, 0, opts), 0);
    assert_int_equal(nl_tcp_local(l, &ll), 0);
    assert_int_equal(nl_tcp_connect(client, &ll, 2000, opts), 0);
    assert_int_equal(nl_tcp_accept(l, server, NULL, 2000), 0);
    nl_tcp_close(l);
}

/* ---- EINTR: retried, never reported ---- */

static void recvfrom_eintr_is_retried(void **state)
{
    struct tally t = {0};
    nl_opts opts = {.trace = tally, .trace_user = &t};
    nl_endpoint la, lb, from;
    nl_udp *a = udp_bound(NULL, &la), *b = udp_bound(&opts, &lb);
    char buf[8];

    (void)state;
    assert_int_equal(nl_udp_send_to(a, "abc", 3, &lb, 1000), 3);
    INJECT(recvfrom, nl_udp_fd(b), -EINTR);
    INJECT(recvfrom, nl_udp_fd(b), -EINTR);
    assert_int_equal(nl_udp_recv_from(b, buf, sizeof buf, &from, -1), 3);
    assert_memory_equal(buf, "abc", 3);
    assert_int_equal(nl_endpoint_compare(&from, &la), 0);
    assert_int_equal(t.eintr, 2);

    /* Also with timeout 0: an interrupted call is not "nothing there". */
    assert_int_equal(nl_udp_send_to(a, "de", 2, &lb, 1000), 2);
    INJECT(recvfrom, nl_udp_fd(b), -EINTR);
    assert_int_equal(nl_udp_recv_from(b, buf, sizeof buf, &from, 0), 2);
    assert_int_equal(t.eintr, 3);
    nl_udp_close(a);
    nl_udp_close(b);
}

static void sendto_eintr_is_retried_once(void **state)
{
    nl_endpoint la, lb;
    nl_udp *a = udp_bound(NULL, &la), *b = udp_bound(NULL, &lb);
    char buf[8];

    (void)state;
    INJECT(sendto, nl_udp_fd(a), -EINTR);
    INJECT(sendto, nl_udp_fd(a), -EINTR);
    assert_int_equal(nl_udp_send_to(a, "one", 3, &lb, -1), 3);
    assert_int_equal(nl_udp_recv_from(b, buf, sizeof buf, NULL, 1000), 3);
    /* Exactly one datagram went: the retries did not duplicate it. */
    assert_int_equal(nl_udp_recv_from(b, buf, sizeof buf, NULL, 0), NL_EAGAIN);
    nl_udp_close(a);
    nl_udp_close(b);
}

static void send_and_recv_eintr_are_retried(void **state)
{
    nl_tcp *c = NULL, *s = NULL;
    char buf[16];

    (void)state;
    tcp_pair(NULL, &c, &s);
    INJECT(send, nl_tcp_fd(c), -EINTR);
    INJECT(send, nl_tcp_fd(c), -EINTR);
    INJECT(send, nl_tcp_fd(c), -EINTR);
    assert_int_equal(nl_tcp_send(c, "hello", 5, 1000), 5);
    INJECT(recv, nl_tcp_fd(s), -EINTR);
    assert_int_equal(nl_tcp_recv(s, buf, sizeof buf, -1), 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(nl_tcp_recv(s, buf, sizeof buf, 0), NL_EAGAIN);

    INJECT(send, nl_tcp_fd(c), -EINTR);
    assert_int_equal(nl_tcp_send_all(c, "world", 5, NULL, -1), 0);
    INJECT(recv, nl_tcp_fd(s), -EINTR);
    assert_int_equal(nl_tcp_recv(s, buf, sizeof buf, 0), 5);
    nl_tcp_close(c);
    nl_tcp_close(s);
}

static void accept_eintr_and_aborted_are_retried(void **state)
{
    nl_endpoint ep = tu_loopback(NL_AF_INET, 0), ll, peer, cl;
    nl_tcp *l = NULL, *c = NULL, *s = NULL;

    (void)state;
    assert_int_equal(nl_tcp_listen(&l, &ep, 0, NULL), 0);
    assert_int_equal(nl_tcp_local(l, &ll), 0);
    assert_int_equal(nl_tcp_connect(&c, &ll, 2000, NULL), 0);
    INJECT(accept4, nl_tcp_fd(l), -EINTR);
    INJECT(accept4, nl_tcp_fd(l), -ECONNABORTED);
    INJECT(accept4, nl_tcp_fd(l), -EPROTO); /* a queued client's network error: skipped */
    INJECT(accept4, nl_tcp_fd(l), -EHOSTUNREACH);
    INJECT(accept4, nl_tcp_fd(l), -EINTR);
    assert_int_equal(nl_tcp_accept(l, &s, &peer, 2000), 0);
    assert_non_null(s);
    assert_int_equal(nl_tcp_local(c, &cl), 0);
    assert_int_equal(nl_endpoint_compare(&peer, &cl), 0);
    nl_tcp_close(c);
    nl_tcp_close(s);
    nl_tcp_close(l);
}

static void poll_eintr_is_retried(void **state)
{
    nl_tcp *c = NULL, *s = NULL;
    char buf[8];

    (void)state;
    tcp_pair(NULL, &c, &s);
    assert_int_equal(nl_tcp_send(c, "data", 4, 1000), 4);
    /* recv finds nothing (as if the data were not there yet), poll is interrupted twice, then
     * the real poll sees the data and the real recv takes it. */
    INJECT(recv, nl_tcp_fd(s), -EAGAIN);
    INJECT(poll, nl_tcp_fd(s), -EINTR);
    INJECT(poll, nl_tcp_fd(s), -EINTR);
    assert_int_equal(nl_tcp_recv(s, buf, sizeof buf, 2000), 4);
    assert_memory_equal(buf, "data", 4);
    nl_tcp_close(c);
    nl_tcp_close(s);
}

/* ---- EINTR reported, when the handle asked for it (nl_opts.return_eintr) ---- */

/* Counts the system calls by name, to see how a call waited. */
struct calls {
    int recvfrom, poll, other;
};

static void count_calls(const nl_trace_event *ev, void *user)
{
    struct calls *c = user;

    if (strcmp(ev->call, "recvfrom") == 0)
        c->recvfrom++;
    else if (strcmp(ev->call, "poll") == 0)
        c->poll++;
    else
        c->other++;
}

/* A blocking receive is one recvfrom() that waits in the kernel; a signal ends it with
 * NL_EINTR (nothing consumed), and the next call gets the datagram. */
static void recvfrom_eintr_is_returned(void **state)
{
    struct calls n = {0};
    nl_opts opts = {.trace = count_calls, .trace_user = &n, .return_eintr = 1};
    nl_endpoint la, lb, from;
    nl_udp *a = udp_bound(NULL, &la), *b = udp_bound(&opts, &lb);
    char buf[8];

    (void)state;
    INJECT(recvfrom, nl_udp_fd(b), -EINTR);
    assert_int_equal(nl_udp_recv_from(b, buf, sizeof buf, &from, -1), NL_EINTR);
    assert_int_equal(n.recvfrom, 1);
    assert_int_equal(n.poll, 0);
    assert_int_equal(nl_udp_send_to(a, "abc", 3, &lb, 1000), 3);
    assert_int_equal(nl_udp_recv_from(b, buf, sizeof buf, &from, -1), 3);
    assert_memory_equal(buf, "abc", 3);
    assert_int_equal(nl_endpoint_compare(&from, &la), 0);
    assert_int_equal(n.recvfrom, 2);
    assert_int_equal(n.poll, 0);

    /* With a timeout the wait is poll(); its interruption is reported too. */
    INJECT(poll, nl_udp_fd(b), -EINTR);
    assert_int_equal(nl_udp_recv_from(b, buf, sizeof buf, NULL, 1000), NL_EINTR);
    INJECT(sendto, nl_udp_fd(b), -EINTR);
    assert_int_equal(nl_udp_send_to(b, "x", 1, &la, -1), NL_EINTR);
    /* Nothing went: the datagram a retry sends is the only one. */
    assert_int_equal(nl_udp_recv_from(a, buf, sizeof buf, NULL, 0), NL_EAGAIN);
    nl_udp_close(a);
    nl_udp_close(b);
}

static void tcp_eintr_is_returned(void **state)
{
    nl_opts opts = {.return_eintr = 1};
    nl_endpoint ep = tu_loopback(NL_AF_INET, 0), ll;
    nl_tcp *l = NULL, *c = NULL, *s = NULL;
    size_t sent = 99;
    char buf[16];

    (void)state;
    assert_int_equal(nl_tcp_listen(&l, &ep, 0, &opts), 0);
    assert_int_equal(nl_tcp_local(l, &ll), 0);
    INJECT(poll, nl_tcp_fd(l), -EINTR);
    assert_int_equal(nl_tcp_accept(l, &s, NULL, -1), NL_EINTR);
    assert_null(s);
    assert_int_equal(nl_tcp_connect(&c, &ll, 2000, &opts), 0);
    assert_int_equal(nl_tcp_accept(l, &s, NULL, 2000), 0);

    /* The accepted connection inherits the choice. */
    INJECT(recv, nl_tcp_fd(s), -EINTR);
    assert_int_equal(nl_tcp_recv(s, buf, sizeof buf, -1), NL_EINTR);
    INJECT(send, nl_tcp_fd(c), -EINTR);
    assert_int_equal(nl_tcp_send(c, "hello", 5, -1), NL_EINTR);
    /* send_all: the first part went, then the signal came; *sent says how much. */
    INJECT(send, nl_tcp_fd(c), SHORT(2));
    INJECT(send, nl_tcp_fd(c), -EINTR);
    assert_int_equal(nl_tcp_send_all(c, "world", 5, &sent, -1), NL_EINTR);
    assert_int_equal(sent, 2);
    assert_int_equal(nl_tcp_recv(s, buf, sizeof buf, 2000), 2);
    assert_memory_equal(buf, "wo", 2);
    nl_tcp_close(c);
    nl_tcp_close(s);

    /* connect: the wait for the handshake is interrupted; the handshake goes on. */
    assert_int_equal(nl_tcp_open(&c, NL_AF_INET, &opts), 0);
    INJECT(connect, ANY_FD, CONNECT_EINTR);
    INJECT(poll, ANY_FD, -EINTR);
    assert_int_equal(nl_tcp_connect_on(c, &ll, 2000), NL_EINTR);
    assert_int_equal(nl_tcp_accept(l, &s, NULL, 2000), 0);
    nl_tcp_close(c);
    nl_tcp_close(s);
    nl_tcp_close(l);
}

/* An interrupted wait goes on towards the same deadline; it does not start the timeout over.
 * Two 200 ms interruptions inside a 300 ms timeout: about 300 ms in all, not 700. */
static void poll_eintr_keeps_the_deadline(void **state)
{
    nl_endpoint la;
    nl_udp *a = udp_bound(NULL, &la);
    char buf[8];
    int64_t t0, dt;

    (void)state;
    INJECT(poll, nl_udp_fd(a), POLL_EINTR_AFTER(200));
    INJECT(poll, nl_udp_fd(a), POLL_EINTR_AFTER(200));
    t0 = tu_now_ns();
    assert_int_equal(nl_udp_recv_from(a, buf, sizeof buf, NULL, 300), NL_ETIMEDOUT);
    dt = tu_now_ns() - t0;
    if (dt < 300 * MS || dt >= 650 * MS)
        fail_msg("timeout 300 with two interrupted polls took %lld ms", (long long)(dt / MS));
    nl_udp_close(a);
}

/* A timeout counts whole milliseconds; starting just before a millisecond boundary must not
 * make it end up to a millisecond early. */
static void timeout_is_never_cut_short(void **state)
{
    nl_endpoint la;
    nl_udp *a = udp_bound(NULL, &la);
    char buf[8];

    (void)state;
    for (int i = 0; i < 5; i++) {
        int64_t t0 = tu_now_ns(), dt;
        clock_shift = -1;
        clock_armed = 1;
        assert_int_equal(nl_udp_recv_from(a, buf, sizeof buf, NULL, 20), NL_ETIMEDOUT);
        clock_armed = 0;
        dt = tu_now_ns() - t0;
        if (dt < 20 * MS)
            fail_msg("timeout 20 ms returned after %lld us", (long long)(dt / 1000));
    }
    nl_udp_close(a);
}

static void connect_eintr_completes(void **state)
{
    nl_endpoint ep = tu_loopback(NL_AF_INET6, 0), ll;
    nl_tcp *l = NULL, *c = NULL, *s = NULL;
    char buf[4];

    (void)state;
    assert_int_equal(nl_tcp_listen(&l, &ep, 0, NULL), 0);
    assert_int_equal(nl_tcp_local(l, &ll), 0);
    INJECT(connect, ANY_FD, CONNECT_EINTR);
    assert_int_equal(nl_tcp_connect(&c, &ll, 2000, NULL), 0);
    assert_int_equal(nl_tcp_accept(l, &s, NULL, 2000), 0);
    assert_int_equal(nl_tcp_send(c, "ok", 2, 1000), 2);
    assert_int_equal(nl_tcp_recv(s, buf, sizeof buf, 2000), 2);
    nl_tcp_close(c);
    nl_tcp_close(s);
    nl_tcp_close(l);
}

/* A handshake that never completes: connect() says EINPROGRESS (without starting anything)
 * and poll() never sees the socket writable. Loopback cannot produce this for real. */
static void connect_times_out(void **state)
{
    nl_endpoint to = tu_loopback(NL_AF_INET, 9);
    nl_tcp *c = (nl_tcp *)&to;
    int fds = tu_count_fds();
    int64_t t0, dt;

    (void)state;
    INJECT(connect, ANY_FD, -EINPROGRESS);
    INJECT(poll, ANY_FD, POLL_NOT_READY);
    t0 = tu_now_ns();
    assert_int_equal(nl_tcp_connect(&c, &to, 50, NULL), NL_ETIMEDOUT);
    dt = tu_now_ns() - t0;
    assert_true(dt >= 50 * MS);
    assert_true(dt < 5000 * MS);
    assert_null(c);
    assert_int_equal(tu_count_fds(), fds);

    /* Timeout 0 gives up at once, with NL_EAGAIN as documented. */
    c = (nl_tcp *)&to;
    INJECT(connect, ANY_FD, -EINPROGRESS);
    INJECT(poll, ANY_FD, POLL_NOT_READY);
    assert_int_equal(nl_tcp_connect(&c, &to, 0, NULL), NL_EAGAIN);
    assert_null(c);
    assert_int_equal(tu_count_fds(), fds);
}

/* ---- EAGAIN: NL_EAGAIN for timeout 0, otherwise wait and try again ---- */

static void udp_eagain_paths(void **state)
{
    struct tally t = {0};
    nl_opts opts = {.trace = tally, .trace_user = &t};
    nl_endpoint la, lb;
    nl_udp *a = udp_bound(&opts, &la), *b = udp_bound(&opts, &lb);
    char buf[8];

    (void)state;
    /* Send buffer "full": timeout 0 reports it and sends nothing ... */
    INJECT(sendto, nl_udp_fd(a), -EAGAIN);
    assert_int_equal(nl_udp_send_to(a, "x", 1, &lb, 0), NL_EAGAIN);
    assert_int_equal(nl_udp_recv_from(b, buf, sizeof buf, NULL, 0), NL_EAGAIN);
    /* ... a timeout waits for room and sends once. */
    INJECT(sendto, nl_udp_fd(a), -EWOULDBLOCK);
    assert_int_equal(nl_udp_send_to(a, "y", 1, &lb, 1000), 1);
    assert_int_equal(nl_udp_recv_from(b, buf, sizeof buf, NULL, 1000), 1);
    assert_int_equal(buf[0], 'y');

    assert_int_equal(nl_udp_send_to(a, "z", 1, &lb, 1000), 1);
    INJECT(recvfrom, nl_udp_fd(b), -EAGAIN);
    assert_int_equal(nl_udp_recv_from(b, buf, sizeof buf, NULL, 0), NL_EAGAIN);
    INJECT(recvfrom, nl_udp_fd(b), -EAGAIN);
    INJECT(recvfrom, nl_udp_fd(b), -EAGAIN);
    assert_int_equal(nl_udp_recv_from(b, buf, sizeof buf, NULL, 1000), 1);
    assert_int_equal(buf[0], 'z');
    assert_true(t.eagain >= 5);
    nl_udp_close(a);
    nl_udp_close(b);
}

static void tcp_eagain_paths(void **state)
{
    nl_endpoint ep = tu_loopback(NL_AF_INET, 0), ll;
    nl_tcp *l = NULL, *c = NULL, *s = NULL;
    char buf[8];

    (void)state;
    assert_int_equal(nl_tcp_listen(&l, &ep, 0, NULL), 0);
    assert_int_equal(nl_tcp_local(l, &ll), 0);
    assert_int_equal(nl_tcp_connect(&c, &ll, 2000, NULL), 0);
    INJECT(accept4, nl_tcp_fd(l), -EAGAIN);
    assert_int_equal(nl_tcp_accept(l, &s, NULL, 0), NL_EAGAIN);
    assert_null(s);
    INJECT(accept4, nl_tcp_fd(l), -EAGAIN);
    assert_int_equal(nl_tcp_accept(l, &s, NULL, 2000), 0);

    INJECT(send, nl_tcp_fd(c), -EAGAIN);
    assert_int_equal(nl_tcp_send(c, "ab", 2, 0), NL_EAGAIN);
    INJECT(send, nl_tcp_fd(c), -EAGAIN);
    assert_int_equal(nl_tcp_send(c, "ab", 2, 1000), 2);
    assert_int_equal(nl_tcp_recv(s, buf, sizeof buf, 2000), 2);
    INJECT(recv, nl_tcp_fd(s), -EAGAIN);
    assert_int_equal(nl_tcp_send(c, "cd", 2, 1000), 2);
    assert_int_equal(nl_tcp_recv(s, buf, 1, 0), NL_EAGAIN);
    assert_int_equal(nl_tcp_recv(s, buf, sizeof buf, 2000), 2);
    nl_tcp_close(c);
    nl_tcp_close(s);
    nl_tcp_close(l);
}

/* ---- short writes: send_all keeps going, and *sent says exactly what moved ---- */

static void read_exactly(nl_tcp *s, char *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = nl_tcp_recv(s, buf + got, len - got, 2000);
        if (n <= 0)
            fail_msg("peer read %zu of %zu, then %s", got, len, nl_err_name((int)n));
        got += (size_t)n;
    }
}

static void short_writes_then_reset(void **state)
{
    char data[1000], in[1000];
    nl_tcp *c = NULL, *s = NULL;
    size_t sent = 0;

    (void)state;
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)(i % 253);
    tcp_pair(NULL, &c, &s);
    INJECT(send, nl_tcp_fd(c), SHORT(100));
    INJECT(send, nl_tcp_fd(c), SHORT(250));
    INJECT(send, nl_tcp_fd(c), -ECONNRESET);
    assert_int_equal(nl_tcp_send_all(c, data, sizeof data, &sent, 2000), NL_ECONNRESET);
    assert_int_equal(sent, 350);
    read_exactly(s, in, 350);
    assert_memory_equal(in, data, 350);
    assert_int_equal(nl_tcp_recv(s, in, sizeof in, 50), NL_ETIMEDOUT);
    nl_tcp_close(c);
    nl_tcp_close(s);
}

static void short_writes_complete(void **state)
{
    char data[1000], in[1000];
    nl_tcp *c = NULL, *s = NULL;
    size_t sent = 0;

    (void)state;
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)(i * 7);
    tcp_pair(NULL, &c, &s);
    INJECT(send, nl_tcp_fd(c), SHORT(1));
    INJECT(send, nl_tcp_fd(c), SHORT(1));
    INJECT(send, nl_tcp_fd(c), -EINTR);
    INJECT(send, nl_tcp_fd(c), SHORT(500));
    assert_int_equal(nl_tcp_send_all(c, data, sizeof data, &sent, 2000), 0);
    assert_int_equal(sent, sizeof data);
    read_exactly(s, in, sizeof in);
    assert_memory_equal(in, data, sizeof data);

    /* A short write, then no room: timeout 0 says NL_EAGAIN and counts the first part. */
    INJECT(send, nl_tcp_fd(c), SHORT(100));
    INJECT(send, nl_tcp_fd(c), -EAGAIN);
    assert_int_equal(nl_tcp_send_all(c, data, sizeof data, &sent, 0), NL_EAGAIN);
    assert_int_equal(sent, 100);
    read_exactly(s, in, 100);

    /* The same with a timeout that runs out while waiting for room. */
    INJECT(send, nl_tcp_fd(c), SHORT(300));
    INJECT(send, nl_tcp_fd(c), -EAGAIN);
    INJECT(poll, nl_tcp_fd(c), POLL_NOT_READY);
    assert_int_equal(nl_tcp_send_all(c, data, sizeof data, &sent, 50), NL_ETIMEDOUT);
    assert_int_equal(sent, 300);
    read_exactly(s, in, 300);
    assert_memory_equal(in, data, 300);
    assert_int_equal(nl_tcp_recv(s, in, sizeof in, 50), NL_ETIMEDOUT);
    nl_tcp_close(c);
    nl_tcp_close(s);
}

/* ---- out of descriptors, and resets ---- */

static void emfile_from_socket(void **state)
{
    nl_endpoint ep4 = tu_loopback(NL_AF_INET, 0), ep6 = tu_loopback(NL_AF_INET6, 0);
    nl_udp *u = (nl_udp *)&ep4;
    nl_tcp *t = (nl_tcp *)&ep4;
    int fds = tu_count_fds();

    (void)state;
    assert_true(fds > 0);
    INJECT(socket, ANY_FD, -EMFILE);
    assert_int_equal(nl_udp_open(&u, NL_AF_INET, NULL), NL_EMFILE);
    assert_null(u);
    u = (nl_udp *)&ep4;
    INJECT(socket, ANY_FD, -EMFILE);
    assert_int_equal(nl_udp_open_bound(&u, &ep6, NULL), NL_EMFILE);
    assert_null(u);
    INJECT(socket, ANY_FD, -EMFILE);
    assert_int_equal(nl_tcp_listen(&t, &ep4, 0, NULL), NL_EMFILE);
    assert_null(t);
    t = (nl_tcp *)&ep4;
    INJECT(socket, ANY_FD, -ENFILE);
    assert_int_equal(nl_tcp_connect(&t, &ep6, 1000, NULL), NL_ENFILE);
    assert_null(t);
    assert_int_equal(tu_count_fds(), fds);
}

static void emfile_from_accept(void **state)
{
    nl_endpoint ep = tu_loopback(NL_AF_INET, 0), ll;
    nl_tcp *l = NULL, *c = NULL, *s = NULL;
    int fds;

    (void)state;
    assert_int_equal(nl_tcp_listen(&l, &ep, 0, NULL), 0);
    assert_int_equal(nl_tcp_local(l, &ll), 0);
    assert_int_equal(nl_tcp_connect(&c, &ll, 2000, NULL), 0);
    fds = tu_count_fds();
    s = c;
    INJECT(accept4, nl_tcp_fd(l), -EMFILE);
    assert_int_equal(nl_tcp_accept(l, &s, NULL, 2000), NL_EMFILE);
    assert_null(s);
    assert_int_equal(tu_count_fds(), fds);
    /* The client stayed queued: once descriptors are available it is accepted. */
    assert_int_equal(nl_tcp_accept(l, &s, NULL, 2000), 0);
    assert_non_null(s);
    nl_tcp_close(c);
    nl_tcp_close(s);
    nl_tcp_close(l);
}

static void reset_from_recv(void **state)
{
    nl_endpoint la, lb;
    nl_udp *a = udp_bound(NULL, &la), *b = udp_bound(NULL, &lb);
    nl_tcp *c = NULL, *s = NULL;
    char buf[8];

    (void)state;
    tcp_pair(NULL, &c, &s);
    INJECT(recv, nl_tcp_fd(s), -ECONNRESET);
    assert_int_equal(nl_tcp_recv(s, buf, sizeof buf, -1), NL_ECONNRESET);
    INJECT(recv, nl_tcp_fd(s), -ECONNRESET);
    assert_int_equal(nl_tcp_recv(s, buf, sizeof buf, 1000), NL_ECONNRESET);
    INJECT(send, nl_tcp_fd(c), -EPIPE);
    assert_int_equal(nl_tcp_send(c, "x", 1, 1000), NL_EPIPE);
    INJECT(recvfrom, nl_udp_fd(b), -ECONNREFUSED);
    assert_int_equal(nl_udp_recv_from(b, buf, sizeof buf, NULL, 1000), NL_ECONNREFUSED);
    nl_tcp_close(c);
    nl_tcp_close(s);
    nl_udp_close(a);
    nl_udp_close(b);
}

/* A trace callback is user code and may change errno (printing does); the error a call
 * returns must be the system call's, not whatever errno the callback left behind. */
static void clobber_errno(const nl_trace_event *ev, void *user)
{
    (void)ev;
    (void)user;
    errno = 0;
}

static void trace_callback_cannot_change_the_error(void **state)
{
    nl_opts opts = {.trace = clobber_errno};
    nl_endpoint la;
    nl_udp *a = udp_bound(&opts, &la);
    char buf[8];

    (void)state;
    INJECT(recvfrom, nl_udp_fd(a), -EAGAIN);
    INJECT(poll, nl_udp_fd(a), -ENOMEM);
    assert_int_equal(nl_udp_recv_from(a, buf, sizeof buf, NULL, 1000), NL_ENOMEM);
    nl_udp_close(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(recvfrom_eintr_is_retried, all_consumed),
        cmocka_unit_test_teardown(sendto_eintr_is_retried_once, all_consumed),
        cmocka_unit_test_teardown(send_and_recv_eintr_are_retried, all_consumed),
        cmocka_unit_test_teardown(accept_eintr_and_aborted_are_retried, all_consumed),
        cmocka_unit_test_teardown(poll_eintr_is_retried, all_consumed),
        cmocka_unit_test_teardown(recvfrom_eintr_is_returned, all_consumed),
        cmocka_unit_test_teardown(tcp_eintr_is_returned, all_consumed),
        cmocka_unit_test_teardown(poll_eintr_keeps_the_deadline, all_consumed),
        cmocka_unit_test_teardown(timeout_is_never_cut_short, all_consumed),
        cmocka_unit_test_teardown(connect_eintr_completes, all_consumed),
        cmocka_unit_test_teardown(connect_times_out, all_consumed),
        cmocka_unit_test_teardown(udp_eagain_paths, all_consumed),
        cmocka_unit_test_teardown(tcp_eagain_paths, all_consumed),
        cmocka_unit_test_teardown(short_writes_then_reset, all_consumed),
        cmocka_unit_test_teardown(short_writes_complete, all_consumed),
        cmocka_unit_test_teardown(emfile_from_socket, all_consumed),
        cmocka_unit_test_teardown(emfile_from_accept, all_consumed),
        cmocka_unit_test_teardown(reset_from_recv, all_consumed),
        cmocka_unit_test_teardown(trace_callback_cannot_change_the_error, all_consumed),
    };

    return cmocka_run_group_tests_name("inject", tests, NULL, NULL);
}
