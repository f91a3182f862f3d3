/* UDP round trip latency, 64-byte datagrams: a client sends, an echo server (forked child)
 * sends back, one datagram in flight.
 *
 *   udp_rtt --impl raw|nl|uv [--size 64] [--count N] [--seconds S] [--cpu-server C]
 *           [--cpu-client C]
 *
 * Both sides use the implementation: raw recvfrom/sendto, netlab nl_udp_*, or a libuv loop
 * (uv_udp_recv_start + uv_udp_try_send). Prints {"impl":..,"n":..,"p50_us":..,"p99_us":..}. */
#include "common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <netlab.h>

#define WARMUP 1000

static char g_buf[2048];

/* ---- libuv: server and client ------------------------------------------------------------ */

static void uv_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    (void)h;
    (void)sz;
    *b = uv_buf_init(g_buf, sizeof g_buf);
}

static void uv_echo_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *b, const struct sockaddr *a,
                         unsigned flags)
{
    (void)flags;
    if (n > 0 && a != NULL) {
        uv_buf_t out = uv_buf_init(b->base, (unsigned)n);
        uv_udp_try_send(h, &out, 1, a);
    }
}

struct uv_client {
    uv_udp_t h;
    struct sockaddr_in peer;
    size_t size;
    long done, want;
    int64_t t_send, deadline;
    int64_t *samples;
};

static void uv_client_send(struct uv_client *c)
{
    uv_buf_t out = uv_buf_init(g_buf, (unsigned)c->size);
    c->t_send = nlb_now_ns();
    if (uv_udp_try_send(&c->h, &out, 1, (const struct sockaddr *)&c->peer) < 0)
        NLB_DIE("uv_udp_try_send");
}

static void uv_client_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *b, const struct sockaddr *a,
                           unsigned flags)
{
    struct uv_client *c = (struct uv_client *)h;
    (void)b;
    (void)a;
    (void)flags;
    if (n <= 0)
        return;
    if (c->done >= WARMUP)
        c->samples[c->done - WARMUP] = nlb_now_ns() - c->t_send;
    c->done++;
    if (c->done >= c->want + WARMUP || nlb_now_ns() > c->deadline) {
        uv_udp_recv_stop(h);
        return;
    }
    uv_client_send(c);
}

/* ---- main -------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    const char *impl = nlb_arg(argc, argv, "--impl", "raw");
    size_t size = (size_t)nlb_argl(argc, argv, "--size", 64);
    long want = nlb_argl(argc, argv, "--count", 100000);
    double max_s = (double)nlb_argl(argc, argv, "--seconds", 10);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t salen = sizeof sa;
    int64_t *samples = calloc((size_t)want + 1, sizeof *samples), deadline;
    long n = 0, i;
    int sfd, status;
    pid_t pid;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sfd = socket(AF_INET, SOCK_DGRAM, 0);
    if (sfd < 0 || bind(sfd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        getsockname(sfd, (struct sockaddr *)&sa, &salen) < 0)
        NLB_DIE("server socket");
    pid = fork();
    if (pid < 0)
        NLB_DIE("fork");
    if (pid == 0) {
        nlb_pin((int)nlb_argl(argc, argv, "--cpu-server", -1));
        if (strcmp(impl, "uv") == 0) {
            uv_loop_t *loop = uv_default_loop();
            uv_udp_t h;
            uv_udp_init(loop, &h);
            if (uv_udp_open(&h, sfd) < 0)
                NLB_DIE("uv_udp_open");
            uv_udp_recv_start(&h, uv_alloc, uv_echo_recv);
            uv_run(loop, UV_RUN_DEFAULT);
        } else if (strcmp(impl, "nl") == 0) {
            /* netlab has no "adopt a descriptor" call: open its own socket on a new port and
             * tell the parent through the old one. */
            nl_endpoint any, from;
            nl_udp *u;
            nl_endpoint_parse(&any, "127.0.0.1:0", 0);
            if (nl_udp_open_bound(&u, &any, NULL) < 0)
                NLB_DIE("nl_udp_open_bound");
            nl_udp_local(u, &any);
            {
                struct sockaddr_in to;
                socklen_t tl = sizeof to;
                uint16_t port = any.port;
                if (recvfrom(sfd, g_buf, sizeof g_buf, 0, (struct sockaddr *)&to, &tl) < 0 ||
                    sendto(sfd, &port, sizeof port, 0, (struct sockaddr *)&to, tl) < 0)
                    NLB_DIE("handover");
            }
            for (;;) {
                ssize_t k = nl_udp_recv_from(u, g_buf, sizeof g_buf, &from, -1);
                if (k >= 0)
                    nl_udp_send_to(u, g_buf, (size_t)k, &from, -1);
            }
        } else {
            struct sockaddr_in from;
            for (;;) {
                socklen_t fl = sizeof from;
                ssize_t k = recvfrom(sfd, g_buf, sizeof g_buf, 0, (struct sockaddr *)&from, &fl);
                if (k >= 0)
                    sendto(sfd, g_buf, (size_t)k, 0, (struct sockaddr *)&from, fl);
            }
        }
        _exit(0);
    }
    nlb_pin((int)nlb_argl(argc, argv, "--cpu-client", -1));
    deadline = nlb_now_ns() + (int64_t)(max_s * 1e9);
    memset(g_buf, 'r', sizeof g_buf);
    if (strcmp(impl, "uv") == 0) {
        struct uv_client c = {.size = size, .want = want, .samples = samples, .peer = sa};
        uv_loop_t *loop = uv_default_loop();
        c.deadline = deadline;
        uv_udp_init(loop, &c.h);
        uv_udp_recv_start(&c.h, uv_alloc, uv_client_recv);
        uv_client_send(&c);
        uv_run(loop, UV_RUN_DEFAULT);
        n = c.done > WARMUP ? c.done - WARMUP : 0;
    } else if (strcmp(impl, "nl") == 0) {
        nl_endpoint peer, any;
        nl_udp *u;
        uint16_t port = 0;
        int cfd = socket(AF_INET, SOCK_DGRAM, 0);
        /* Learn the netlab server's port (see the child). */
        if (sendto(cfd, "?", 1, 0, (struct sockaddr *)&sa, sizeof sa) < 0 ||
            recv(cfd, &port, sizeof port, 0) != sizeof port)
            NLB_DIE("handover");
        close(cfd);
        nl_endpoint_parse(&peer, "127.0.0.1", port);
        nl_endpoint_parse(&any, "127.0.0.1:0", 0);
        if (nl_udp_open_bound(&u, &any, NULL) < 0)
            NLB_DIE("nl_udp_open_bound");
        for (i = 0; i < want + WARMUP && nlb_now_ns() < deadline; i++) {
            int64_t t0 = nlb_now_ns();
            if (nl_udp_send_to(u, g_buf, size, &peer, -1) < 0 ||
                nl_udp_recv_from(u, g_buf, sizeof g_buf, NULL, -1) < 0)
                NLB_DIE("nl round trip");
            if (i >= WARMUP)
                samples[n++] = nlb_now_ns() - t0;
        }
    } else {
        /* Unconnected sendto/recvfrom with the sender's address: the same work as netlab's
         * client does, so the comparison is like for like. */
        struct sockaddr_in from;
        socklen_t fl;
        int cfd = socket(AF_INET, SOCK_DGRAM, 0);
        if (cfd < 0)
            NLB_DIE("client socket");
        for (i = 0; i < want + WARMUP && nlb_now_ns() < deadline; i++) {
            int64_t t0 = nlb_now_ns();
            fl = sizeof from;
            if (sendto(cfd, g_buf, size, 0, (struct sockaddr *)&sa, sizeof sa) < 0 ||
                recvfrom(cfd, g_buf, sizeof g_buf, 0, (struct sockaddr *)&from, &fl) < 0)
                NLB_DIE("raw round trip");
            if (i >= WARMUP)
                samples[n++] = nlb_now_ns() - t0;
        }
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    if (n == 0)
        return 1;
    {
        int64_t p50 = nlb_pct(samples, (size_t)n, 50), p99 = nlb_pct(samples, (size_t)n, 99);
        printf("{\"impl\":\"%s\",\"n\":%ld,\"p50_us\":%.2f,\"p99_us\":%.2f}\n", impl, n,
               (double)p50 / 1e3, (double)p99 / 1e3);
    }
    return 0;
}
