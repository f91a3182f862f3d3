/* Unit tests for the step-by-step TCP calls: nl_tcp_open, nl_tcp_bind, nl_tcp_listen_on and
 * nl_tcp_connect_on (what Python's socket() / bind() / listen() / connect() sit on).
 *
 * Loopback only, ephemeral ports only. listen() is wrapped (-Wl,--wrap=listen) so that its
 * failure can be injected deterministically. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "netlab.h"

/* ---- listen() failure injection ---- */

int __real_listen(int fd, int backlog);
int __wrap_listen(int fd, int backlog);

static int listen_fail_errno; /* 0: call the real listen() */

int __wrap_listen(int fd, int backlog)
{
    if (listen_fail_errno != 0) {
        errno = listen_fail_errno;
        return -1;
    }
    return __real_listen(fd, backlog);
}

/* ---- helpers ---- */

static nl_endpoint ep(const char *text)
{
    nl_endpoint e;

    assert_int_equal(nl_endpoint_parse(&e, text, 0), 0);
    return e;
}

/* A listener on 127.0.0.1 at a free port, made step by step; its endpoint in *where. */
static nl_tcp *listener(nl_endpoint *where)
{
    nl_endpoint local = ep("127.0.0.1:0");
    nl_tcp *l = NULL;

    assert_int_equal(nl_tcp_open(&l, NL_AF_INET, NULL), 0);
    assert_int_equal(nl_tcp_bind(l, &local), 0);
    assert_int_equal(nl_tcp_listen_on(l, 8), 0);
    assert_int_equal(nl_tcp_local(l, where), 0);
    assert_int_not_equal(where->port, 0);
    return l;
}

/* A port where nobody listens: bound by a listener, then closed. */
static nl_endpoint dead_port(void)
{
    nl_endpoint where;
    nl_tcp *l = listener(&where);

    nl_tcp_close(l);
    return where;
}

/* ---- tests ---- */

static void open_rejects_bad_arguments(void **state)
{
    nl_tcp *t = (nl_tcp *)&t; /* must be reset to NULL on failure */

    (void)state;
    assert_int_equal(nl_tcp_open(NULL, NL_AF_INET, NULL), NL_EINVAL);
    assert_int_equal(nl_tcp_open(&t, 99, NULL), NL_EAFNOSUPPORT);
    assert_null(t);
    assert_int_equal(nl_tcp_bind(NULL, NULL), NL_EINVAL);
    assert_int_equal(nl_tcp_listen_on(NULL, 1), NL_EINVAL);
    assert_int_equal(nl_tcp_connect_on(NULL, NULL, 0), NL_EINVAL);
}

static void open_has_descriptor_and_address_before_bind(void **state)
{
    nl_endpoint local;
    nl_tcp *t = NULL;
    int reuse = -1;
    socklen_t len = sizeof reuse;

    (void)state;
    assert_int_equal(nl_tcp_open(&t, NL_AF_INET, NULL), 0);
    assert_true(nl_tcp_fd(t) >= 0);
    assert_int_equal(nl_tcp_local(t, &local), 0);
    assert_int_equal(local.family, NL_AF_INET);
    assert_int_equal(local.port, 0);
    assert_true(nl_endpoint_is_any(&local));
    /* Nothing behind the caller's back: no SO_REUSEADDR unless asked for. */
    assert_int_equal(getsockopt(nl_tcp_fd(t), SOL_SOCKET, SO_REUSEADDR, &reuse, &len), 0);
    assert_int_equal(reuse, 0);
    /* Blocking, and close-on-exec like every other netlab descriptor. */
    assert_int_equal(fcntl(nl_tcp_fd(t), F_GETFL) & O_NONBLOCK, 0);
    assert_true(fcntl(nl_tcp_fd(t), F_GETFD) & FD_CLOEXEC);
    assert_int_equal(nl_tcp_close(t), 0);
}

static void step_by_step_round_trip(void **state)
{
    nl_endpoint where, client_local, peer, server_side_peer;
    nl_tcp *l, *c = NULL, *conn = NULL;
    char buf[16];

    (void)state;
    l = listener(&where);
    assert_true(fcntl(nl_tcp_fd(l), F_GETFL) & O_NONBLOCK); /* listeners are non-blocking */
    assert_int_equal(nl_tcp_open(&c, NL_AF_INET, NULL), 0);
    assert_int_equal(nl_tcp_connect_on(c, &where, 2000), 0);
    assert_int_equal(fcntl(nl_tcp_fd(c), F_GETFL) & O_NONBLOCK, 0); /* blocking again */
    assert_int_equal(nl_tcp_accept(l, &conn, &server_side_peer, 2000), 0);
    assert_int_equal(nl_tcp_local(c, &client_local), 0);
    assert_int_equal(nl_endpoint_compare(&client_local, &server_side_peer), 0);
    assert_int_equal(nl_tcp_peer(c, &peer), 0);
    assert_int_equal(nl_endpoint_compare(&peer, &where), 0);

    assert_int_equal(nl_tcp_send(c, "ping", 4, 1000), 4);
    assert_int_equal(nl_tcp_recv(conn, buf, sizeof buf, 1000), 4);
    assert_memory_equal(buf, "ping", 4);
    nl_tcp_close(c);
    assert_int_equal(nl_tcp_recv(conn, buf, sizeof buf, 1000), NL_EOF);
    nl_tcp_close(conn);
    nl_tcp_close(l);
}

static void listen_on_without_bind_picks_a_port(void **state)
{
    nl_endpoint local;
    nl_tcp *l = NULL;

    (void)state;
    assert_int_equal(nl_tcp_open(&l, NL_AF_INET, NULL), 0);
    assert_int_equal(nl_tcp_listen_on(l, 0), 0);
    assert_int_equal(nl_tcp_local(l, &local), 0);
    assert_int_not_equal(local.port, 0);
    /* Again: only the backlog changes, the listener keeps working. */
    assert_int_equal(nl_tcp_listen_on(l, 4), 0);
    nl_tcp_close(l);
}

static void connect_on_refused_keeps_the_handle(void **state)
{
    nl_endpoint nobody = dead_port();
    nl_tcp *c = NULL;

    (void)state;
    assert_int_equal(nl_tcp_open(&c, NL_AF_INET, NULL), 0);
    assert_int_equal(nl_tcp_connect_on(c, &nobody, 2000), NL_ECONNREFUSED);
    assert_true(nl_tcp_fd(c) >= 0);
    assert_int_equal(nl_tcp_close(c), 0);
}

static void connect_on_with_timeout_zero_goes_on(void **state)
{
    nl_endpoint where;
    nl_tcp *l, *c = NULL, *conn = NULL;
    struct pollfd pfd;
    int rc, err = -1;
    socklen_t len = sizeof err;

    (void)state;
    l = listener(&where);
    assert_int_equal(nl_tcp_open(&c, NL_AF_INET, NULL), 0);
    rc = nl_tcp_connect_on(c, &where, 0);
    /* On loopback the handshake may already be done when connect_on looks. */
    assert_true(rc == 0 || rc == NL_EINPROGRESS);
    if (rc == NL_EINPROGRESS) {
        pfd.fd = nl_tcp_fd(c);
        pfd.events = POLLOUT;
        assert_int_equal(poll(&pfd, 1, 2000), 1);
        assert_int_equal(getsockopt(nl_tcp_fd(c), SOL_SOCKET, SO_ERROR, &err, &len), 0);
        assert_int_equal(err, 0);
    }
    /* Connected now. As with connect(2), a handshake that finished in the background is
     * collected by one more connect (0); from then on connecting again is an error. */
    rc = nl_tcp_connect_on(c, &where, 1000);
    assert_true(rc == 0 || rc == NL_EISCONN);
    assert_int_equal(nl_tcp_connect_on(c, &where, 1000), NL_EISCONN);
    assert_int_equal(nl_tcp_accept(l, &conn, NULL, 2000), 0);
    nl_tcp_close(conn);
    nl_tcp_close(c);
    nl_tcp_close(l);
}

static void bind_errors(void **state)
{
    nl_endpoint v6 = ep("::1"), unset, local = ep("127.0.0.1:0");
    nl_tcp *t = NULL;

    (void)state;
    memset(&unset, 0, sizeof unset);
    assert_int_equal(nl_tcp_open(&t, NL_AF_INET, NULL), 0);
    assert_int_equal(nl_tcp_bind(t, NULL), NL_EINVAL);
    assert_int_equal(nl_tcp_bind(t, &unset), NL_EINVAL);
    assert_int_equal(nl_tcp_bind(t, &v6), NL_EAFNOSUPPORT);
    assert_int_equal(nl_tcp_bind(t, &local), 0);
    assert_int_equal(nl_tcp_bind(t, &local), NL_EINVAL); /* already bound */
    nl_tcp_close(t);
}

static void listen_on_failure_leaves_a_plain_socket(void **state)
{
    nl_endpoint where;
    nl_tcp *l, *c = NULL, *conn = NULL;

    (void)state;
    l = listener(&where);
    assert_int_equal(nl_tcp_open(&c, NL_AF_INET, NULL), 0);
    listen_fail_errno = EADDRINUSE;
    assert_int_equal(nl_tcp_listen_on(c, 1), NL_EADDRINUSE);
    listen_fail_errno = 0;
    /* Still blocking, still not a listener: it can connect. */
    assert_int_equal(fcntl(nl_tcp_fd(c), F_GETFL) & O_NONBLOCK, 0);
    assert_int_equal(nl_tcp_connect_on(c, &where, 2000), 0);
    assert_int_equal(nl_tcp_accept(l, &conn, NULL, 2000), 0);
    nl_tcp_close(conn);
    nl_tcp_close(c);
    nl_tcp_close(l);
}

/* A trace callback is user code: it may change errno (by printing, say). */
static void clobber_errno(const nl_trace_event *ev, void *user)
{
    (void)ev;
    (void)user;
    errno = EPERM;
}

static void listen_on_error_survives_the_trace_callback(void **state)
{
    nl_opts opts = {.trace = clobber_errno};
    nl_tcp *t = NULL;

    (void)state;
    assert_int_equal(nl_tcp_open(&t, NL_AF_INET, &opts), 0);
    listen_fail_errno = EADDRINUSE;
    assert_int_equal(nl_tcp_listen_on(t, 1), NL_EADDRINUSE);
    listen_fail_errno = 0;
    nl_tcp_close(t);
}

static void unconnected_socket_reports_kernel_errors(void **state)
{
    nl_tcp *t = NULL, *conn = NULL;
    char buf[4];

    (void)state;
    assert_int_equal(nl_tcp_open(&t, NL_AF_INET, NULL), 0);
    assert_int_equal(nl_tcp_recv(t, buf, sizeof buf, 0), NL_ENOTCONN);
    assert_int_equal(nl_tcp_accept(t, &conn, NULL, 0), NL_EINVAL); /* not a listener */
    assert_null(conn);
    nl_tcp_close(t);
}

static void dual_stack_listener_reports_ipv4_peers(void **state)
{
    nl_endpoint any6 = ep("[::]:0"), local, to, peer;
    nl_tcp *l = NULL, *c = NULL, *conn = NULL;

    (void)state;
    assert_int_equal(nl_tcp_open(&l, NL_AF_INET6, NULL), 0);
    assert_int_equal(nl_tcp_bind(l, &any6), 0);
    assert_int_equal(nl_tcp_listen_on(l, 0), 0);
    assert_int_equal(nl_tcp_local(l, &local), 0);
    to = ep("127.0.0.1");
    to.port = local.port;
    assert_int_equal(nl_tcp_open(&c, NL_AF_INET, NULL), 0);
    assert_int_equal(nl_tcp_connect_on(c, &to, 2000), 0);
    assert_int_equal(nl_tcp_accept(l, &conn, &peer, 2000), 0);
    assert_int_equal(peer.family, NL_AF_INET);
    nl_tcp_close(conn);
    nl_tcp_close(c);
    nl_tcp_close(l);
}

/* ---- trace ---- */

struct seen {
    char calls[16][16];
    int n;
};

static void record(const nl_trace_event *ev, void *user)
{
    struct seen *s = user;

    if (s->n < 16) {
        strncpy(s->calls[s->n], ev->call, sizeof s->calls[0] - 1);
        s->n++;
    }
}

static int saw(const struct seen *s, const char *call)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->calls[i], call) == 0)
            return 1;
    return 0;
}

static void calls_are_traced(void **state)
{
    struct seen server = {0}, client = {0};
    nl_opts so = {.trace = record, .trace_user = &server};
    nl_opts co = {.trace = record, .trace_user = &client};
    nl_endpoint local = ep("127.0.0.1:0"), where;
    nl_tcp *l = NULL, *c = NULL, *conn = NULL;

    (void)state;
    assert_int_equal(nl_tcp_open(&l, NL_AF_INET, &so), 0);
    assert_int_equal(nl_tcp_bind(l, &local), 0);
    assert_int_equal(nl_tcp_listen_on(l, 1), 0);
    assert_int_equal(nl_tcp_local(l, &where), 0);
    assert_int_equal(nl_tcp_open(&c, NL_AF_INET, &co), 0);
    assert_int_equal(nl_tcp_connect_on(c, &where, 2000), 0);
    assert_int_equal(nl_tcp_accept(l, &conn, NULL, 2000), 0);
    assert_true(saw(&server, "socket"));
    assert_true(saw(&server, "bind"));
    assert_true(saw(&server, "listen"));
    assert_true(saw(&server, "accept"));
    assert_true(saw(&client, "socket"));
    assert_true(saw(&client, "connect"));
    assert_false(saw(&client, "listen"));
    nl_tcp_close(conn);
    nl_tcp_close(c);
    nl_tcp_close(l);
}

/* Every test starts with the real listen(), even when the one before failed mid-way. */
static int reset_injection(void **state)
{
    (void)state;
    listen_fail_errno = 0;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(open_rejects_bad_arguments, reset_injection),
        cmocka_unit_test_setup(open_has_descriptor_and_address_before_bind, reset_injection),
        cmocka_unit_test_setup(step_by_step_round_trip, reset_injection),
        cmocka_unit_test_setup(listen_on_without_bind_picks_a_port, reset_injection),
        cmocka_unit_test_setup(connect_on_refused_keeps_the_handle, reset_injection),
        cmocka_unit_test_setup(connect_on_with_timeout_zero_goes_on, reset_injection),
        cmocka_unit_test_setup(bind_errors, reset_injection),
        cmocka_unit_test_setup(listen_on_failure_leaves_a_plain_socket, reset_injection),
        cmocka_unit_test_setup(listen_on_error_survives_the_trace_callback, reset_injection),
        cmocka_unit_test_setup(unconnected_socket_reports_kernel_errors, reset_injection),
        cmocka_unit_test_setup(dual_stack_listener_reports_ipv4_peers, reset_injection),
        cmocka_unit_test_setup(calls_are_traced, reset_injection),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
