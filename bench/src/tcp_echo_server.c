/* TCP echo servers for the benchmark, one process each, one thread:
 *
 *   tcp_echo_server --impl raw|uv|nl
 *
 * raw: epoll, level-triggered, one shared buffer, per-connection state none at all (the
 *      descriptor is the connection); a write that would block is simply retried on the next
 *      read event (fine for request/response echo, which never fills a socket buffer).
 * uv:  libuv: uv_tcp_t per connection, a shared read buffer, uv_try_write with a uv_write
 *      fallback (copying the unsent tail), as a careful libuv user writes it.
 * nl:  nl_tcp_server with the built-in echo service.
 * Listens on 127.0.0.1, port chosen by the system, prints "PORT\n", serves until SIGTERM. */
#include "common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <netlab.h>

static char g_buf[16384];

static int listen_any(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t salen = sizeof sa;
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 4096) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &salen) < 0)
        NLB_DIE("listen");
    printf("%d\n", ntohs(sa.sin_port));
    fflush(stdout);
    return fd;
}

static volatile sig_atomic_t g_stop;
static nl_tcp_server *g_nl;

static void on_term(int sig)
{
    (void)sig;
    g_stop = 1;
    if (g_nl)
        nl_tcp_server_stop(g_nl);
}

static void run_raw(void)
{
    struct epoll_event ev, evs[256];
    int lfd = listen_any(), ep = epoll_create1(0), n, i, one = 1;

    ev.events = EPOLLIN;
    ev.data.fd = lfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    while (!g_stop) {
        n = epoll_wait(ep, evs, 256, -1);
        for (i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                int c;
                while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    ev.events = EPOLLIN;
                    ev.data.fd = c;
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
                }
                continue;
            }
            ssize_t k = read(fd, g_buf, sizeof g_buf);
            if (k > 0) {
                if (write(fd, g_buf, (size_t)k) < 0 && errno != EAGAIN)
                    close(fd);
            } else if (k == 0 || errno != EAGAIN) {
                close(fd);
            }
        }
    }
}

/* ---- libuv --------------------------------------------------------------------------- */

typedef struct uv_wreq {
    uv_write_t req;
    char data[];
} uv_wreq;

static void uv_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    (void)h;
    (void)sz;
    *b = uv_buf_init(g_buf, sizeof g_buf);
}

static void uv_on_close(uv_handle_t *h)
{
    free(h);
}

static void uv_written(uv_write_t *req, int status)
{
    (void)status;
    free(req);
}

static void uv_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    if (n < 0) {
        uv_close((uv_handle_t *)s, uv_on_close);
        return;
    }
    if (n == 0)
        return;
    uv_buf_t out = uv_buf_init(b->base, (unsigned)n);
    int w = uv_try_write(s, &out, 1);
    if (w == n)
        return;
    if (w < 0)
        w = 0;
    uv_wreq *r = malloc(sizeof *r + (size_t)(n - w));
    memcpy(r->data, b->base + w, (size_t)(n - w));
    out = uv_buf_init(r->data, (unsigned)(n - w));
    uv_write(&r->req, s, &out, 1, uv_written);
}

static void uv_on_conn(uv_stream_t *server, int status)
{
    uv_tcp_t *c;
    if (status < 0)
        return;
    c = malloc(sizeof *c);
    uv_tcp_init(server->loop, c);
    if (uv_accept(server, (uv_stream_t *)c) == 0) {
        uv_tcp_nodelay(c, 1);
        uv_read_start((uv_stream_t *)c, uv_alloc, uv_on_read);
    } else {
        uv_close((uv_handle_t *)c, uv_on_close);
    }
}

static uv_signal_t g_uvsig;

static void uv_on_sig(uv_signal_t *h, int sig)
{
    (void)sig;
    uv_stop(h->loop);
}

static void run_uv(void)
{
    uv_loop_t *loop = uv_default_loop();
    uv_tcp_t server;
    int lfd = listen_any();

    uv_tcp_init(loop, &server);
    if (uv_tcp_open(&server, lfd) < 0 || uv_listen((uv_stream_t *)&server, 4096, uv_on_conn) < 0)
        NLB_DIE("uv_listen");
    uv_signal_init(loop, &g_uvsig);
    uv_signal_start(&g_uvsig, uv_on_sig, SIGTERM);
    uv_run(loop, UV_RUN_DEFAULT);
}

static void run_nl(void)
{
    nl_tcp_server_config cfg = {.backlog = 4096};
    nl_endpoint ep;

    nl_endpoint_parse(&ep, "127.0.0.1:0", 0);
    if (nl_tcp_server_open(&g_nl, &ep, &cfg) < 0)
        NLB_DIE("nl_tcp_server_open");
    nl_tcp_server_local(g_nl, &ep);
    printf("%d\n", ep.port);
    fflush(stdout);
    nl_tcp_server_run(g_nl);
}

int main(int argc, char **argv)
{
    const char *impl = nlb_arg(argc, argv, "--impl", "raw");
    struct sigaction sa;

    nlb_raise_nofile();
    signal(SIGPIPE, SIG_IGN);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    if (strcmp(impl, "uv") == 0)
        run_uv();
    else if (strcmp(impl, "nl") == 0)
        run_nl();
    else
        run_raw();
    return 0;
}
