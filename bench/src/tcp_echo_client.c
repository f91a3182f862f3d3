/* TCP echo load generator: N connections, one 64-byte request in flight on each, for a
 * bounded time. Measures round trips per second, latency percentiles, and the server's CPU
 * time over the same window (from /proc/PID/stat utime + stime, and /proc/PID/schedstat).
 *
 *   tcp_echo_client --port P --conns N [--size 64] [--seconds S] [--warmup-ms W]
 *                   [--server-pid PID] [--cpu C]
 *
 * Prints {"conns":..,"rts":..,"rps":..,"p50_us":..,"p99_us":..,"server_cpu_us_per_rt":..,
 *         "server_sched_us_per_rt":..}. */
#include "common.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_SAMPLES (4u << 20)

typedef struct conn {
    int64_t t_send;
    size_t got;
} conn;

static long stat_ticks(long pid)
{
    char path[64], buf[2048], *p;
    unsigned long ut, st;
    FILE *f;
    int i;

    if (pid <= 0)
        return 0;
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    if ((f = fopen(path, "r")) == NULL || fgets(buf, sizeof buf, f) == NULL)
        NLB_DIE("read %s", path);
    fclose(f);
    p = strrchr(buf, ')') + 2;
    for (i = 3; i < 14; i++)
        p = strchr(p, ' ') + 1;
    sscanf(p, "%lu %lu", &ut, &st);
    return (long)(ut + st);
}

static int64_t sched_ns(long pid)
{
    char path[64];
    long long ns = 0;
    FILE *f;

    if (pid <= 0)
        return 0;
    snprintf(path, sizeof path, "/proc/%ld/schedstat", pid);
    if ((f = fopen(path, "r")) == NULL)
        return 0;
    if (fscanf(f, "%lld", &ns) != 1)
        ns = 0;
    fclose(f);
    return ns;
}

int main(int argc, char **argv)
{
    int port = (int)nlb_argl(argc, argv, "--port", 0);
    int nconn = (int)nlb_argl(argc, argv, "--conns", 1);
    size_t size = (size_t)nlb_argl(argc, argv, "--size", 64);
    double secs = strtod(nlb_arg(argc, argv, "--seconds", "3"), NULL);
    int64_t warm = nlb_argl(argc, argv, "--warmup-ms", 300) * 1000000;
    long spid = nlb_argl(argc, argv, "--server-pid", 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    struct epoll_event ev, evs[512];
    int64_t *samples = malloc(MAX_SAMPLES * sizeof *samples);
    conn *conns;
    char buf[4096], req[4096];
    int ep, i, one = 1, measuring = 0;
    size_t ns = 0;
    uint64_t rts = 0;
    int64_t t_start = 0, t_end, t_measure = 0, s0 = 0, s1;
    long tick0 = 0, tick1;

    nlb_raise_nofile();
    nlb_pin((int)nlb_argl(argc, argv, "--cpu", -1));
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    memset(req, 'e', sizeof req);
    ep = epoll_create1(0);
    /* The descriptor is the index; allocate for the largest one we may get. */
    conns = calloc((size_t)nconn + 64, sizeof *conns);
    int *fds = calloc((size_t)nconn, sizeof *fds), maxfd = 0;
    for (i = 0; i < nconn; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
            NLB_DIE("connect %d", i);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fcntl(fd, F_SETFL, O_NONBLOCK);
        fds[i] = fd;
        if (fd > maxfd)
            maxfd = fd;
    }
    conns = realloc(conns, ((size_t)maxfd + 1) * sizeof *conns);
    memset(conns, 0, ((size_t)maxfd + 1) * sizeof *conns);
    t_start = nlb_now_ns();
    for (i = 0; i < nconn; i++) {
        ev.events = EPOLLIN;
        ev.data.fd = fds[i];
        epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
        conns[fds[i]].t_send = nlb_now_ns();
        if (write(fds[i], req, size) != (ssize_t)size)
            NLB_DIE("first write");
    }
    t_end = t_start + warm + (int64_t)(secs * 1e9);
    for (;;) {
        int64_t now = nlb_now_ns();
        if (!measuring && now >= t_start + warm) {
            measuring = 1;
            t_measure = now;
            tick0 = stat_ticks(spid);
            s0 = sched_ns(spid);
        }
        /* The window ends on time once a round trip has been counted; on a loaded machine
         * a short (smoke) window may see none, so it may run on, up to 30 s more, for one. */
        if (now >= t_end && (rts > 0 || now >= t_end + 30 * (int64_t)1000000000))
            break;
        int n = epoll_wait(ep, evs, 512, 100);
        for (i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            ssize_t k = read(fd, buf, sizeof buf);
            if (k <= 0) {
                if (k < 0 && errno == EAGAIN)
                    continue;
                NLB_DIE("server closed connection %d", fd);
            }
            conns[fd].got += (size_t)k;
            if (conns[fd].got < size)
                continue;
            conns[fd].got -= size;
            now = nlb_now_ns();
            if (measuring) {
                rts++;
                if (ns < MAX_SAMPLES)
                    samples[ns++] = now - conns[fd].t_send;
            }
            conns[fd].t_send = now;
            if (write(fd, req, size) != (ssize_t)size)
                NLB_DIE("write");
        }
    }
    tick1 = stat_ticks(spid);
    s1 = sched_ns(spid);
    t_end = nlb_now_ns();
    {
        double win = (double)(t_end - t_measure) / 1e9;
        double cpu_us = (double)(tick1 - tick0) * 1e6 / (double)sysconf(_SC_CLK_TCK);
        int64_t p50 = nlb_pct(samples, ns, 50), p99 = nlb_pct(samples, ns, 99);
        printf("{\"conns\":%d,\"rts\":%llu,\"rps\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f,"
               "\"server_cpu_us_per_rt\":%.3f,\"server_sched_us_per_rt\":%.3f}\n",
               nconn, (unsigned long long)rts, (double)rts / win, (double)p50 / 1e3,
               (double)p99 / 1e3, rts ? cpu_us / (double)rts : 0.0,
               rts ? (double)(s1 - s0) / 1e3 / (double)rts : 0.0);
    }
    return 0;
}
