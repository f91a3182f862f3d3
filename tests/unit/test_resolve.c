/* The resolver for every answer (nl_resolve, Python's getaddrinfo) and the names of an endpoint
 * (nl_endpoint_name, getnameinfo), on numeric text, "localhost" and services from
 * /etc/services; plus taking over and giving up descriptors (nl_tcp_adopt, nl_udp_adopt and
 * their detach calls), on loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#ifndef _WIN32
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#else
#include <winsock2.h>
#include <ws2tcpip.h>
#endif

#include <netlab.h>

static const char *fmt(const nl_endpoint *ep, char *buf)
{
    assert_true(nl_endpoint_format(ep, buf, NL_ENDPOINT_STRLEN) > 0);
    return buf;
}

static void resolve_numeric_with_service(void **state)
{
    nl_resolve_hints hints = {NL_AF_INET, SOCK_STREAM, 0, AI_NUMERICHOST};
    nl_resolved r[4];
    char buf[NL_ENDPOINT_STRLEN], canon[64] = "x";

    (void)state;
    assert_int_equal(nl_resolve("127.0.0.1", "80", &hints, r, 4, canon, sizeof canon), 1);
    assert_string_equal(fmt(&r[0].ep, buf), "127.0.0.1:80");
    assert_int_equal(r[0].socktype, SOCK_STREAM);
    assert_int_equal(r[0].protocol, IPPROTO_TCP);
    assert_string_equal(canon, "");
    /* A service name, both socket types when none is asked for. */
    hints = (nl_resolve_hints){NL_AF_INET6, 0, 0, AI_NUMERICHOST};
    int n = nl_resolve("::1", "domain", &hints, r, 4, NULL, 0);
#ifdef _WIN32 /* Windows answers once, with socket type 0 ("any"), where POSIX lists each */
    assert_int_equal(n, 1);
    assert_int_equal(r[0].socktype, 0);
#else
    assert_true(n >= 2);
#endif
    for (int i = 0; i < n && i < 4; i++) {
        assert_string_equal(fmt(&r[i].ep, buf), "[::1]:53");
        assert_true(r[i].socktype == SOCK_STREAM || r[i].socktype == SOCK_DGRAM ||
                    r[i].socktype == SOCK_RAW || (r[i].socktype == 0 && n == 1));
    }
    /* Counting only: out may be NULL with cap 0. */
    assert_int_equal(nl_resolve("::1", "domain", &hints, NULL, 0, NULL, 0), n);
    /* The short IPv4 forms, as getaddrinfo() itself takes them. */
    hints = (nl_resolve_hints){0, SOCK_DGRAM, 0, 0};
    assert_int_equal(nl_resolve("127.1", "9", &hints, r, 4, NULL, 0), 1);
    assert_string_equal(fmt(&r[0].ep, buf), "127.0.0.1:9");
}

static void resolve_passive_and_localhost(void **state)
{
    nl_resolve_hints hints = {NL_AF_INET, SOCK_DGRAM, 0, AI_PASSIVE};
    nl_resolved r[8];
    char buf[NL_ENDPOINT_STRLEN], canon[256];

    (void)state;
    assert_int_equal(nl_resolve(NULL, "9000", &hints, r, 8, NULL, 0), 1);
    assert_string_equal(fmt(&r[0].ep, buf), "0.0.0.0:9000");
    hints = (nl_resolve_hints){NL_AF_INET, SOCK_STREAM, 0, AI_CANONNAME};
    assert_true(nl_resolve("localhost", NULL, &hints, r, 8, canon, sizeof canon) >= 1);
    assert_string_equal(fmt(&r[0].ep, buf), "127.0.0.1:0");
    assert_true(strlen(canon) > 0);
}

static void resolve_reports_failures(void **state)
{
    nl_resolve_hints hints = {NL_AF_INET, SOCK_STREAM, 0, 0};
    nl_resolved r[2];
    int rc;

    (void)state;
    rc = nl_resolve("no-such-host.invalid", "80", &hints, r, 2, NULL, 0);
    assert_true(rc == NL_EAI_NONAME || rc == NL_EAI_AGAIN);
    assert_int_equal(nl_resolve("127.0.0.1", "no-such-service", &hints, r, 2, NULL, 0),
                     NL_EAI_SERVICE);
    assert_int_equal(nl_resolve(NULL, NULL, &hints, r, 2, NULL, 0), NL_EINVAL);
    assert_int_equal(nl_resolve("127.0.0.1", NULL, &hints, NULL, 2, NULL, 0), NL_EINVAL);
    hints.family = 1; /* AF_UNIX */
    assert_int_equal(nl_resolve("127.0.0.1", NULL, &hints, r, 2, NULL, 0), NL_EAI_FAMILY);
#ifndef _WIN32 /* wine hands the host's own EAI_ADDRFAMILY (-9) through: NL_EAI_OTHER */
    hints = (nl_resolve_hints){NL_AF_INET6, 0, 0, AI_NUMERICHOST};
    rc = nl_resolve("127.0.0.1", NULL, &hints, r, 2, NULL, 0);
    if (rc != NL_EAI_NONAME && rc != NL_EAI_NODATA && rc != NL_EAI_FAMILY)
        fail_msg("an IPv4 literal asked as IPv6: %s", nl_err_name(rc));
#endif
}

static void endpoint_name_numeric_and_services(void **state)
{
    char host[NI_MAXHOST], serv[32];
    nl_endpoint ep;

    (void)state;
    assert_int_equal(nl_endpoint_parse(&ep, "127.0.0.1:80", 0), 0);
    assert_int_equal(nl_endpoint_name(&ep, host, sizeof host, serv, sizeof serv,
                                      NI_NUMERICHOST | NI_NUMERICSERV), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_string_equal(serv, "80");
    assert_int_equal(nl_endpoint_name(&ep, NULL, 0, serv, sizeof serv, 0), 0);
    assert_string_equal(serv, "http");
    assert_int_equal(nl_endpoint_parse(&ep, "[::1]:53", 0), 0);
    assert_int_equal(nl_endpoint_name(&ep, host, sizeof host, serv, sizeof serv,
                                      NI_NUMERICHOST | NI_DGRAM), 0);
    assert_string_equal(host, "::1");
    assert_string_equal(serv, "domain");
    /* Bad input. */
    memset(&ep, 0, sizeof ep);
    assert_int_equal(nl_endpoint_name(&ep, host, sizeof host, NULL, 0, 0), NL_EINVAL);
    assert_int_equal(nl_endpoint_name(NULL, host, sizeof host, NULL, 0, 0), NL_EINVAL);
    assert_int_equal(nl_endpoint_parse(&ep, "127.0.0.1:80", 0), 0);
    assert_int_equal(nl_endpoint_name(&ep, NULL, 5, NULL, 0, 0), NL_EINVAL);
}

#ifndef _WIN32
/* POSIX only from here to main(): these make and inspect descriptors with POSIX calls
 * (fcntl, close, socketpair(AF_UNIX), /dev/null); Windows, nl_*_adopt() is not tested. */
/* A UDP descriptor made by the caller: taken over, used, given back, still open. */
static void udp_adopt_and_detach(void **state)
{
    nl_endpoint local, got;
    nl_udp *u = NULL;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(nl_udp_adopt(&u, fd, NULL), 0);
    assert_int_equal(nl_udp_fd(u), fd);
    assert_int_equal(nl_udp_family(u), NL_AF_INET);
    assert_int_equal(nl_endpoint_parse(&local, "127.0.0.1:0", 0), 0);
    assert_int_equal(nl_udp_bind(u, &local), 0);
    assert_int_equal(nl_udp_local(u, &got), 0);
    assert_int_not_equal(got.port, 0);
    assert_int_equal(nl_udp_send_to(u, "x", 1, &got, 1000), 1);
    assert_int_equal(nl_udp_detach(u), fd);
    assert_true(fcntl(fd, F_GETFD) >= 0); /* still open: detach does not close */
    /* The wrong type is refused and the descriptor stays the caller's. */
    assert_int_equal(nl_tcp_adopt(&(nl_tcp *){NULL}, fd, NULL), NL_EINVAL);
    assert_true(fcntl(fd, F_GETFD) >= 0);
    assert_int_equal(nl_udp_adopt(&u, fd, NULL), 0);
    assert_int_equal(nl_udp_close(u), 0);
    assert_true(fcntl(fd, F_GETFD) < 0); /* closed by the handle */
    assert_int_equal(nl_udp_detach(NULL), NL_EINVAL);
}

/* A listener made elsewhere becomes non-blocking and accepts within its timeout; a connection
 * made elsewhere sends and receives. */
static void tcp_adopt_listener_and_connection(void **state)
{
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    socklen_t len = sizeof sa;
    nl_tcp *lst = NULL, *conn = NULL, *cli = NULL;
    nl_endpoint peer, where;
    char buf[4];
    int lfd = socket(AF_INET6, SOCK_STREAM, 0), cfd;

    (void)state;
    assert_true(lfd >= 0);
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(lfd, 4), 0);
    assert_int_equal(nl_tcp_adopt(&lst, lfd, NULL), 0);
    assert_true(fcntl(lfd, F_GETFL) & O_NONBLOCK);
    assert_int_equal(nl_tcp_accept(lst, &conn, &peer, 10), NL_ETIMEDOUT);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
    cfd = socket(AF_INET6, SOCK_STREAM, 0);
    assert_int_equal(connect(cfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(nl_tcp_adopt(&cli, cfd, NULL), 0);
    assert_int_equal(nl_tcp_peer(cli, &where), 0);
    assert_int_equal(where.port, ntohs(sa.sin6_port));
    assert_int_equal(nl_tcp_accept(lst, &conn, &peer, 5000), 0);
    assert_int_equal(nl_tcp_send(cli, "abc", 3, 5000), 3);
    assert_int_equal(nl_tcp_recv(conn, buf, sizeof buf, 5000), 3);
    assert_memory_equal(buf, "abc", 3);
    assert_int_equal(nl_tcp_detach(cli), cfd);
    assert_int_equal(close(cfd), 0);
    nl_tcp_close(conn);
    nl_tcp_close(lst);
}

static void adopt_refuses_what_it_cannot_take(void **state)
{
    nl_tcp *t = (nl_tcp *)state; /* any non-NULL value: must be reset to NULL */
    nl_udp *u = NULL;
    int sv[2], fd = open("/dev/null", O_RDONLY);

    assert_int_equal(nl_tcp_adopt(&t, -1, NULL), NL_EBADF);
    assert_null(t);
    assert_int_equal(nl_udp_adopt(&u, 1 << 20, NULL), NL_EBADF);
    assert_null(u);
    assert_true(fd >= 0);
    assert_int_equal(nl_udp_adopt(&u, fd, NULL), NL_ENOTSOCK);
    close(fd);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(nl_tcp_adopt(&t, sv[0], NULL), NL_EAFNOSUPPORT);
    assert_true(fcntl(sv[0], F_GETFD) >= 0);
    close(sv[0]);
    close(sv[1]);
    assert_int_equal(nl_tcp_adopt(NULL, 0, NULL), NL_EINVAL);
    assert_int_equal(nl_udp_adopt(NULL, 0, NULL), NL_EINVAL);
}
#endif /* !_WIN32 */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(resolve_numeric_with_service),
        cmocka_unit_test(resolve_passive_and_localhost),
        cmocka_unit_test(resolve_reports_failures),
        cmocka_unit_test(endpoint_name_numeric_and_services),
#ifndef _WIN32
        cmocka_unit_test(udp_adopt_and_detach),
        cmocka_unit_test(tcp_adopt_listener_and_connection),
        cmocka_unit_test(adopt_refuses_what_it_cannot_take),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
