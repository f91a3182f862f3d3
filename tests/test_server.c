/* nl_tcp_server: echo with many clients, backpressure, idle timeout, stop from another
 * thread and from a signal, EMFILE without a busy loop. Loopback, ephemeral ports. The
 * server runs in a thread (or, for EMFILE, in a child process with a low descriptor limit). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#endif
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <netlab.h>

typedef struct running {
    nl_tcp_server *srv;
    pthread_t thread;
    int rc;
    nl_endpoint ep;
} running;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *run_thread(void *arg)
{
    running *r = arg;
    r->rc = nl_tcp_server_run(r->srv);
    return NULL;
}

static void start(running *r, const nl_tcp_server_config *cfg)
{
    nl_endpoint local;

    memset(r, 0, sizeof *r);
    assert_int_equal(nl_endpoint_parse(&local, "127.0.0.1:0", 0), 0);
    assert_int_equal(nl_tcp_server_open(&r->srv, &local, cfg), 0);
    assert_int_equal(nl_tcp_server_local(r->srv, &r->ep), 0);
    assert_int_not_equal(r->ep.port, 0);
    r->rc = 1;
    assert_int_equal(pthread_create(&r->thread, NULL, run_thread, r), 0);
}

/* Stop the server and wait (bounded) for its thread. */
static void stop(running *r)
{
    struct timespec ts;

    assert_int_equal(nl_tcp_server_stop(r->srv), 0);
#ifdef _WIN32 /* winpthreads has no timed join: ctest's time-out bounds the wait */
    (void)ts;
    assert_int_equal(pthread_join(r->thread, NULL), 0);
#else
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    assert_int_equal(pthread_timedjoin_np(r->thread, NULL, &ts), 0);
#endif
    assert_int_equal(r->rc, 0);
}

static nl_tcp *client(const running *r)
{
    nl_tcp *t = NULL;
    assert_int_equal(nl_tcp_connect(&t, &r->ep, 5000, NULL), 0);
    return t;
}

/* Receive exactly len bytes within the timeout. */
static void recv_exact(nl_tcp *t, char *buf, size_t len)
{
    int64_t deadline = now_ms() + 5000;
    size_t got = 0;

    while (got < len) {
        int left = (int)(deadline - now_ms());
        ssize_t n = nl_tcp_recv(t, buf + got, len - got, left > 0 ? left : 0);
        assert_true(n > 0);
        got += (size_t)n;
    }
}

static void echo_once(nl_tcp *t, const char *msg)
{
    char buf[256];
    size_t len = strlen(msg);

    assert_int_equal(nl_tcp_send_all(t, msg, len, NULL, 5000), 0);
    recv_exact(t, buf, len);
    assert_memory_equal(buf, msg, len);
}

/* 200 clients, interleaved: all send, then all read back their own distinct message. */
static void test_echo_many_clients(void **state)
{
    enum { N = 200, ROUNDS = 3 };
    static nl_tcp *c[N];
    nl_tcp_server_stats st;
    char msg[64], buf[64];
    running r;
    int i, k;

    (void)state;
    start(&r, NULL);
    for (i = 0; i < N; i++)
        c[i] = client(&r);
    for (k = 0; k < ROUNDS; k++) {
        for (i = 0; i < N; i++) {
            snprintf(msg, sizeof msg, "client %d round %d", i, k);
            assert_int_equal(nl_tcp_send_all(c[i], msg, strlen(msg), NULL, 5000), 0);
        }
        for (i = 0; i < N; i++) {
            snprintf(msg, sizeof msg, "client %d round %d", i, k);
            recv_exact(c[i], buf, strlen(msg));
            assert_memory_equal(buf, msg, strlen(msg));
        }
    }
    for (i = 0; i < N; i++)
        nl_tcp_close(c[i]);
    stop(&r);
    assert_int_equal(nl_tcp_server_stats_get(r.srv, &st), 0);
    assert_int_equal(st.accepted, N);
    assert_int_equal(st.queued_bytes, 0);
    nl_tcp_server_close(r.srv);
}

/* A half-closing client still gets everything echoed before the server closes. */
static void test_echo_large_then_half_close(void **state)
{
    enum { LEN = 4 << 20 };
    char *out = malloc(LEN), *in = malloc(LEN);
    size_t got = 0, sent = 0;
    running r;
    nl_tcp *t;
    ssize_t n;
    int i;

    (void)state;
    for (i = 0; i < LEN; i++)
        out[i] = (char)(i * 7 + i / 251);
    start(&r, NULL);
    t = client(&r);
    /* Interleave sending and receiving: the server pauses reading when its queue is full, so
     * sending everything first would deadlock against our own unread input. */
    while (got < LEN) {
        if (sent < LEN) {
            n = nl_tcp_send(t, out + sent, LEN - sent, 0);
            if (n > 0)
                sent += (size_t)n;
            else
                assert_int_equal(n, NL_EAGAIN);
            if (sent == LEN)
                assert_int_equal(nl_tcp_shutdown(t, NL_SHUT_WR), 0);
        }
        n = nl_tcp_recv(t, in + got, LEN - got, sent < LEN ? 10 : 5000);
        if (n > 0)
            got += (size_t)n;
        else
            assert_true(n == NL_ETIMEDOUT);
    }
    assert_memory_equal(in, out, LEN);
    assert_int_equal(nl_tcp_recv(t, in, 1, 5000), NL_EOF);
    nl_tcp_close(t);
    stop(&r);
    nl_tcp_server_close(r.srv);
    free(out);
    free(in);
}

/* A client that never reads: the server stops reading from it at the cap instead of growing
 * its queue, and another client is served all the while. */
static void test_backpressure(void **state)
{
    enum { CAP = 65536 };
    nl_tcp_server_config cfg = {.max_queued = CAP};
    static char junk[1 << 16];
    nl_tcp_server_stats st;
    size_t total = 0;
    int64_t end;
    running r;
    nl_tcp *hog, *ok;
    int i;

    (void)state;
    start(&r, &cfg);
    hog = client(&r);
    ok = client(&r);
    /* Fill until the hog's sends block for 300 ms: its own socket buffers, the server's
     * queue and the server's receive buffer are then all full. Bounded by 256 MiB / 20 s. */
    end = now_ms() + 20000;
    while (total < (256u << 20) && now_ms() < end) {
        ssize_t n = nl_tcp_send(hog, junk, sizeof junk, 300);
        if (n == NL_ETIMEDOUT)
            break;
        assert_true(n > 0);
        total += (size_t)n;
    }
    assert_true(now_ms() < end);
    assert_true(total < (256u << 20));
    for (i = 0; i < 20; i++)
        echo_once(ok, "still served while another client hogs");
    stop(&r);
    assert_int_equal(nl_tcp_server_stats_get(r.srv, &st), 0);
    assert_true(st.paused >= 1);
    assert_true(st.max_queue_seen <= CAP);
    assert_true(st.queued_bytes <= CAP);
    assert_int_equal(st.connections, 2);
    /* Serving again after a stop works, and the hog is still paused, not dropped. */
    assert_int_equal(pthread_create(&r.thread, NULL, run_thread, &r), 0);
    echo_once(ok, "after a restart of the loop");
    stop(&r);
    nl_tcp_close(hog);
    nl_tcp_close(ok);
    nl_tcp_server_close(r.srv);
}

typedef struct closes {
    int count;
    int reason;
} closes;

static void count_close(nl_tcp_server *srv, int conn, int reason, void *user)
{
    closes *c = user;
    (void)srv;
    (void)conn;
    c->count++;
    c->reason = reason;
}

static void test_idle_timeout(void **state)
{
    closes cl = {0, 1};
    nl_tcp_server_config cfg = {.idle_timeout_ms = 200, .on_close = count_close, .user = &cl};
    nl_tcp_server_stats st;
    int64_t t0, closed_at = -1;
    running r;
    nl_tcp *idle, *busy;
    char b;
    int i;

    (void)state;
    start(&r, &cfg);
    idle = client(&r);
    busy = client(&r);
    t0 = now_ms();
    /* The busy client talks every ~50 ms for 600 ms and must survive; the idle one must be
     * closed after 200 ms (within the 1.25x sweep slack plus scheduling). */
    for (i = 0; i < 12; i++) {
        ssize_t n;
        echo_once(busy, "x");
        n = nl_tcp_recv(idle, &b, 1, 50);
        if (n == NL_EOF && closed_at < 0)
            closed_at = now_ms() - t0;
        else if (n != NL_EOF)
            assert_int_equal(n, NL_ETIMEDOUT);
    }
    if (closed_at < 0) {
        assert_int_equal(nl_tcp_recv(idle, &b, 1, 5000), NL_EOF);
        closed_at = now_ms() - t0;
    }
    assert_true(closed_at >= 190);
    assert_true(closed_at < 3000);
    echo_once(busy, "the busy one is still served");
    stop(&r);
    assert_int_equal(nl_tcp_server_stats_get(r.srv, &st), 0);
    assert_int_equal(st.closed_idle, 1);
    assert_int_equal(cl.count, 1);
    assert_int_equal(cl.reason, NL_ETIMEDOUT);
    nl_tcp_close(idle);
    nl_tcp_close(busy);
    nl_tcp_server_close(r.srv);
}

static void test_stop_before_run_and_close_reasons(void **state)
{
    closes cl = {0, 1};
    nl_tcp_server_config cfg = {.on_close = count_close, .user = &cl};
    nl_tcp_server *srv;
    nl_endpoint local;

    (void)state;
    assert_int_equal(nl_endpoint_parse(&local, "127.0.0.1:0", 0), 0);
    assert_int_equal(nl_tcp_server_open(&srv, &local, &cfg), 0);
    assert_int_equal(nl_tcp_server_stop(srv), 0);
    assert_int_equal(nl_tcp_server_run(srv), 0); /* returns at once */
    nl_tcp_server_close(srv);
    assert_int_equal(cl.count, 0);
    nl_tcp_server_close(NULL);
    assert_int_equal(nl_tcp_server_stop(NULL), NL_EINVAL);
    assert_int_equal(nl_tcp_server_run(NULL), NL_EINVAL);
    assert_int_equal(nl_tcp_server_open(NULL, &local, NULL), NL_EINVAL);
    assert_int_equal(nl_tcp_server_open(&srv, NULL, NULL), NL_EINVAL);
    assert_null(srv);
    cfg.max_queued = (size_t)2 << 30;
    assert_int_equal(nl_tcp_server_open(&srv, &local, &cfg), NL_EINVAL);
}

static void test_close_cancels_open_connections(void **state)
{
    closes cl = {0, 1};
    nl_tcp_server_config cfg = {.on_close = count_close, .user = &cl};
    running r;
    nl_tcp *t;
    char b;

    (void)state;
    start(&r, &cfg);
    t = client(&r);
    echo_once(t, "hello");
    stop(&r);
    nl_tcp_server_close(r.srv);
    assert_int_equal(cl.count, 1);
    assert_int_equal(cl.reason, NL_ECANCELED);
    assert_int_equal(nl_tcp_recv(t, &b, 1, 5000), NL_EOF);
    nl_tcp_close(t);
}

/* A custom service: refuse the second client, answer "bye" and disconnect on "quit". */
static int refuse_second(nl_tcp_server *srv, int conn, const nl_endpoint *peer, void *user)
{
    int *n = user;
    (void)srv;
    (void)conn;
    assert_int_equal(peer->family, NL_AF_INET);
    return ++*n == 2 ? -1 : 0;
}

static void quit_service(nl_tcp_server *srv, int conn, const void *data, size_t len, void *user)
{
    (void)user;
    if (len >= 4 && memcmp(data, "quit", 4) == 0) {
        assert_int_equal(nl_tcp_server_send(srv, conn, "bye", 3), 0);
        assert_int_equal(nl_tcp_server_disconnect(srv, conn), 0);
        /* Still known until the callback returns; closing is deferred. */
        return;
    }
    nl_tcp_server_echo(srv, conn, data, len, NULL);
}

static void test_callbacks(void **state)
{
    int accepted = 0;
    nl_tcp_server_config cfg = {
        .on_connect = refuse_second, .on_data = quit_service, .user = &accepted};
    running r;
    nl_tcp *a, *b;
    char buf[8];

    (void)state;
    start(&r, &cfg);
    a = client(&r);
    echo_once(a, "ping");
    b = client(&r);
    assert_int_equal(nl_tcp_recv(b, buf, 1, 5000), NL_EOF); /* refused */
    assert_int_equal(nl_tcp_send_all(a, "quit", 4, NULL, 5000), 0);
    recv_exact(a, buf, 3);
    assert_memory_equal(buf, "bye", 3);
    assert_int_equal(nl_tcp_recv(a, buf, 1, 5000), NL_EOF);
    stop(&r);
    assert_int_equal(nl_tcp_server_send(r.srv, 12345, "x", 1), NL_EINVAL);
    assert_int_equal(nl_tcp_server_disconnect(r.srv, -1), NL_EINVAL);
    nl_tcp_close(a);
    nl_tcp_close(b);
    nl_tcp_server_close(r.srv);
}

/* A service that answers each byte with 16 MiB: with a 4 KiB cap the queue overflows, and the
 * connection is closed with NL_ENOBUFS rather than growing. */
static int g_flood_rc[2];
static atomic_int g_flood_done;

static void flood_service(nl_tcp_server *srv, int conn, const void *data, size_t len, void *user)
{
    static char big[16 << 20];
    (void)data;
    (void)len;
    (void)user;
    /* Results are checked on the main thread: cmocka asserts must not fire on this one. */
    g_flood_rc[0] = nl_tcp_server_send(srv, conn, big, sizeof big);
    g_flood_rc[1] = nl_tcp_server_send(srv, conn, "x", 1);
    atomic_store(&g_flood_done, 1);
}

static void test_queue_cap_overflow_closes(void **state)
{
    closes cl = {0, 1};
    nl_tcp_server_config cfg = {
        .max_queued = 4096, .on_data = flood_service, .on_close = count_close, .user = &cl};
    nl_tcp_server_stats st;
    static char sink[1 << 16];
    size_t total;
    running r;
    nl_tcp *t;
    ssize_t n;
    int i;

    (void)state;
    start(&r, &cfg);
    t = client(&r);
    assert_int_equal(nl_tcp_send_all(t, "?", 1, NULL, 5000), 0);
    /* Read nothing until the service has made both sends: a client that drains the socket
     * meanwhile could let the kernel take all 16 MiB, and then nothing overflows. Unread, the
     * kernel's buffers hold a few MiB at most. */
    for (i = 0; i < 10000 && !atomic_load(&g_flood_done); i++)
        usleep(1000); /* bounded: 10 s; the flag has no descriptor to wait on */
    assert_true(atomic_load(&g_flood_done));
    /* Whatever part of the 16 MiB the kernel took arrives, then the connection ends. The loop
     * is bounded by bytes, not by calls: under load recv() returns small pieces. */
    for (total = 0; total <= sizeof sink * 256 + 1;) {
        n = nl_tcp_recv(t, sink, sizeof sink, 10000);
        if (n <= 0)
            break;
        total += (size_t)n;
    }
    if (n != NL_EOF && n != NL_ECONNRESET)
        fail_msg("after %zu bytes: %s", total, nl_err_name((int)n));
    stop(&r);
    assert_int_equal(g_flood_rc[0], NL_ENOBUFS);
    assert_int_equal(g_flood_rc[1], NL_ECLOSED);
    assert_int_equal(nl_tcp_server_stats_get(r.srv, &st), 0);
    assert_true(st.max_queue_seen <= 4096);
    assert_int_equal(st.connections, 0);
    assert_int_equal(cl.count, 1);
    assert_int_equal(cl.reason, NL_ENOBUFS);
    nl_tcp_close(t);
    nl_tcp_server_close(r.srv);
}

#ifndef _WIN32
/* POSIX only from here to main(): Windows has no signals to stop a server from, no fork() and
 * no descriptor limit (RLIMIT_NOFILE) to provoke EMFILE with. */
static nl_tcp_server *g_sig_server;

static void on_usr1(int sig)
{
    (void)sig;
    nl_tcp_server_stop(g_sig_server);
}

static void test_stop_from_signal(void **state)
{
    struct sigaction sa;
    struct timespec ts;
    running r;
    nl_tcp *t;

    (void)state;
    start(&r, NULL);
    g_sig_server = r.srv;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &sa, NULL), 0);
    t = client(&r);
    echo_once(t, "before the signal");
    assert_int_equal(pthread_kill(r.thread, SIGUSR1), 0);
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    assert_int_equal(pthread_timedjoin_np(r.thread, NULL, &ts), 0);
    assert_int_equal(r.rc, 0);
    signal(SIGUSR1, SIG_DFL);
    nl_tcp_close(t);
    nl_tcp_server_close(r.srv);
}

/* ---- EMFILE, in a child process with a low descriptor limit ----------------------------- */

static nl_tcp_server *g_child_server;

static void child_term(int sig)
{
    (void)sig;
    nl_tcp_server_stop(g_child_server);
}

/* The child: limit descriptors to 16, serve, report the port on the pipe. */
static void emfile_child(int wfd)
{
    struct rlimit rl = {16, 16};
    struct sigaction sa;
    nl_endpoint local;
    int rc;

    /* Never outlive the test process, even when one of its checks fails. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* Only stdio and the pipe stay open, so the 16 descriptors leave the same room for
     * clients whatever the test process (ctest, the sanitizer runtime, earlier tests) had. */
    for (int fd = 3; fd < 1024; fd++)
        if (fd != wfd)
            (void)close(fd);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = child_term;
    sigemptyset(&sa.sa_mask);
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || nl_endpoint_parse(&local, "127.0.0.1:0", 0) < 0 ||
        nl_tcp_server_open(&g_child_server, &local, NULL) < 0 ||
        nl_tcp_server_local(g_child_server, &local) < 0)
        _exit(3);
    sigaction(SIGTERM, &sa, NULL);
    if (write(wfd, &local.port, sizeof local.port) != sizeof local.port)
        _exit(4);
    close(wfd);
    rc = nl_tcp_server_run(g_child_server);
    nl_tcp_server_close(g_child_server);
    _exit(rc == 0 ? 0 : 5);
}

/* utime + stime of a process, in clock ticks. */
static long cpu_ticks(pid_t pid)
{
    char path[64], buf[1024], *p;
    unsigned long ut = 0, st = 0;
    FILE *f;
    int i;

    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(buf, sizeof buf, f));
    fclose(f);
    p = strrchr(buf, ')');
    assert_non_null(p);
    /* After ") ": state is field 3; utime and stime are fields 14 and 15. */
    for (i = 3, p += 2; i < 14 && p; i++)
        p = strchr(p, ' ') ? strchr(p, ' ') + 1 : NULL;
    assert_non_null(p);
    assert_int_equal(sscanf(p, "%lu %lu", &ut, &st), 2);
    return (long)(ut + st);
}

static void test_emfile_no_busy_loop(void **state)
{
    enum { EXTRA = 30 };
    static nl_tcp *kept[32], *extra[EXTRA];
    int fds[2], status, nkept = 0, i, dropped = 0;
    nl_endpoint ep;
    uint16_t port;
    long t0, used;
    pid_t pid;
    char b;

    (void)state;
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        emfile_child(fds[1]);
    }
    close(fds[1]);
    assert_int_equal(read(fds[0], &port, sizeof port), (ssize_t)sizeof port);
    close(fds[0]);
    assert_int_equal(nl_endpoint_parse(&ep, "127.0.0.1", port), 0);
    /* Connect until the server starts dropping: 16 descriptors minus stdio, listener, epoll,
     * eventfd and the spare leave about 9 for clients. Each client proves it is served. */
    for (i = 0; i < 32 && nkept < 32; i++) {
        nl_tcp *t;
        ssize_t n;
        assert_int_equal(nl_tcp_connect(&t, &ep, 5000, NULL), 0);
        /* Served (echo), or dropped by the server (end of stream or reset): nothing else.
         * A send can fail on a dropped client too, hence the recv either way. */
        (void)nl_tcp_send_all(t, "a", 1, NULL, 5000);
        n = nl_tcp_recv(t, &b, 1, 10000);
        if (n == 1) {
            kept[nkept++] = t;
        } else {
            nl_tcp_close(t);
            if (n != NL_EOF && n != NL_ECONNRESET)
                fail_msg("client %d: neither served nor dropped: %s", i, nl_err_name((int)n));
            break;
        }
    }
    assert_true(nkept >= 5);
    assert_true(nkept < 16);
    /* Now everyone else is dropped, without the server spinning on the listener. */
    for (i = 0; i < EXTRA; i++) {
        assert_int_equal(nl_tcp_connect(&extra[i], &ep, 5000, NULL), 0);
        ssize_t n = nl_tcp_recv(extra[i], &b, 1, 5000);
        assert_true(n == NL_EOF || n == NL_ECONNRESET);
        dropped++;
    }
    t0 = cpu_ticks(pid);
    /* A 1-second window with 10 more clients knocking: a busy loop would burn ~100 ticks. */
    for (i = 0; i < 10; i++) {
        nl_tcp *t;
        assert_int_equal(nl_tcp_connect(&t, &ep, 5000, NULL), 0);
        ssize_t n = nl_tcp_recv(t, &b, 1, 5000);
        assert_true(n == NL_EOF || n == NL_ECONNRESET);
        nl_tcp_close(t);
        usleep(100000);
    }
    used = cpu_ticks(pid) - t0;
    assert_true(used <= 10); /* <= 0.1 s of CPU in > 1 s */
    for (i = 0; i < nkept; i++)
        echo_once(kept[i], "existing clients are still served");
    assert_int_equal(kill(pid, SIGTERM), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    for (i = 0; i < nkept; i++)
        nl_tcp_close(kept[i]);
    for (i = 0; i < EXTRA; i++)
        nl_tcp_close(extra[i]);
    assert_int_equal(dropped, EXTRA);
}
#endif /* !_WIN32 */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_many_clients),
        cmocka_unit_test(test_echo_large_then_half_close),
        cmocka_unit_test(test_backpressure),
        cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_stop_before_run_and_close_reasons),
        cmocka_unit_test(test_close_cancels_open_connections),
        cmocka_unit_test(test_callbacks),
        cmocka_unit_test(test_queue_cap_overflow_closes),
#ifndef _WIN32
        cmocka_unit_test(test_stop_from_signal),
        cmocka_unit_test(test_emfile_no_busy_loop),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
