/* netlab-demo: the course's flows, run on loopback in one process, with a readable transcript.
 *
 *   UDP: a server bound like the notes' (127.0.0.1 here, any free port) and a client that
 *        sends three lines, one of them Chinese; the server prints them as the notes do.
 *   TCP: the three-way handshake (connect/accept), then an echo of three lines.
 *
 * One thread is enough: a UDP datagram waits in the server's queue until it is read, and the
 * kernel completes a TCP handshake before accept() is called. Every wait has a timeout, so the
 * demo can never hang. Exit 0 when every step checked out, 1 otherwise. */
#include <netlab.h>
#include <stdio.h>
#include <string.h>

#define USAGE "usage: netlab-demo [--trace]"
#define T 5000 /* ms: every blocking call gives up after 5 s */

static const char *lines[] = {"hello", "你好，世界", "q is just text here"};

static void print_trace(const nl_trace_event *ev, void *user)
{
    char line[256];
    (void)user;
    nl_trace_format(ev, line, sizeof line);
    printf("    [trace] %s\n", line);
}

static int fail(const char *what, long rc)
{
    printf("FAILED: %s: %s (%s)\n", what, nl_strerror((int)rc), nl_err_name((int)rc));
    return 1;
}

static int udp_flow(const nl_opts *opts)
{
    nl_endpoint local, from;
    nl_udp *server = NULL, *client = NULL;
    char buf[1024], text[NL_ENDPOINT_STRLEN];
    long rc;

    printf("== UDP: server binds, client sends, server recvfrom ==\n");
    nl_endpoint_parse(&local, "127.0.0.1", 0);
    if ((rc = nl_udp_open_bound(&server, &local, opts)) < 0 || (rc = nl_udp_local(server, &local)))
        return fail("server bind", rc);
    nl_endpoint_format(&local, text, sizeof text);
    printf("server: bound to %s, waiting in recvfrom(1024)\n", text);
    if ((rc = nl_udp_open(&client, NL_AF_INET, opts)) < 0) {
        nl_udp_close(server);
        return fail("client socket", rc);
    }
    for (size_t i = 0; i < sizeof lines / sizeof *lines && rc >= 0; i++) {
        size_t len = strlen(lines[i]);
        printf("client: sendto %s \"%s\"\n", text, lines[i]);
        if ((rc = nl_udp_send_to(client, lines[i], len, &local, T)) < 0)
            break;
        if ((rc = nl_udp_recv_from(server, buf, sizeof buf, &from, T)) < 0)
            break;
        char ip[NL_ENDPOINT_STRLEN];
        nl_endpoint_format_addr(&from, ip, sizeof ip);
        printf("server: ('%s', %u): %.*s\n", ip, from.port, (int)rc, buf);
        if ((size_t)rc != len || memcmp(buf, lines[i], len) != 0)
            rc = NL_EPROTO; /* what arrived is not what was sent */
    }
    nl_udp_close(client);
    nl_udp_close(server);
    return rc < 0 ? fail("udp exchange", rc) : 0;
}

static int tcp_flow(const nl_opts *opts)
{
    nl_endpoint local, peer;
    nl_tcp *listener = NULL, *client = NULL, *conn = NULL;
    char buf[1024], text[NL_ENDPOINT_STRLEN];
    long rc;

    printf("== TCP: listen, connect (three-way handshake), accept, echo ==\n");
    nl_endpoint_parse(&local, "127.0.0.1", 0);
    if ((rc = nl_tcp_listen(&listener, &local, 0, opts)) < 0 || (rc = nl_tcp_local(listener, &local)))
        return fail("listen", rc);
    nl_endpoint_format(&local, text, sizeof text);
    printf("server: listening on %s\n", text);
    if ((rc = nl_tcp_connect(&client, &local, T, opts)) == 0)
        rc = nl_tcp_accept(listener, &conn, &peer, T);
    if (rc < 0) {
        nl_tcp_close(client);
        nl_tcp_close(listener);
        return fail("connect/accept", rc);
    }
    nl_endpoint_format(&peer, text, sizeof text);
    printf("client: connected (SYN, SYN+ACK, ACK done); server: accepted %s\n", text);
    for (size_t i = 0; i < sizeof lines / sizeof *lines && rc >= 0; i++) {
        size_t len = strlen(lines[i]), got = 0;
        printf("client: send \"%s\"\n", lines[i]);
        if ((rc = nl_tcp_send_all(client, lines[i], len, NULL, T)) < 0)
            break;
        while (got < len && (rc = nl_tcp_recv(conn, buf + got, len - got, T)) > 0)
            got += (size_t)rc; /* a byte stream: the line may come in pieces */
        if (rc < 0 || (rc = nl_tcp_send_all(conn, buf, got, NULL, T)) < 0)
            break;
        printf("server: recv %zu bytes, send them back\n", got);
        for (got = 0; got < len && (rc = nl_tcp_recv(client, buf + got, len - got, T)) > 0;)
            got += (size_t)rc;
        if (rc < 0)
            break;
        printf("client: echo \"%.*s\"\n", (int)got, buf);
        if (memcmp(buf, lines[i], len) != 0)
            rc = NL_EPROTO;
    }
    if (rc >= 0 && (rc = nl_tcp_shutdown(client, NL_SHUT_WR)) == 0 &&
        (rc = nl_tcp_recv(conn, buf, sizeof buf, T)) == NL_EOF) {
        printf("client: shutdown(SHUT_WR); server: recv sees end of stream, closes\n");
        rc = 0;
    } else if (rc >= 0) {
        rc = NL_EPROTO;
    }
    nl_tcp_close(conn);
    nl_tcp_close(client);
    nl_tcp_close(listener);
    return rc < 0 ? fail("tcp exchange", rc) : 0;
}

int main(int argc, char **argv)
{
    nl_opts opts = {0};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--trace") == 0) {
            opts.trace = print_trace;
        } else if (strcmp(argv[i], "--help") == 0) {
            puts(USAGE);
            return 0;
        } else {
            fprintf(stderr, "netlab-demo: bad argument '%s'; " USAGE "\n", argv[i]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("libnetlab %s demo: the course notes' flows on loopback\n\n", nl_version());
    int failed = udp_flow(&opts);
    printf("\n");
    failed |= tcp_flow(&opts);
    printf("\n%s\n", failed ? "demo FAILED" : "demo finished: every flow worked");
    return failed;
}
