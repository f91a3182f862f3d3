/* Room fan-out: a host (this process) and N members (a forked child driving N nl_chat_rooms on
 * one poll loop) on loopback. The host says COUNT messages of 64 bytes, each carrying the
 * CLOCK_MONOTONIC time at which it was handed to nl_chat_room_send(); every member measures the
 * latency of each delivery. Also the host's memory per idle member: resident memory of the host
 * before the members join and after, all idle.
 *
 *   room_bench --members N --count COUNT [--burst B]
 *
 * The host sends up to B messages per loop turn (default 8), and only while every member's
 * backlog has room (nl_chat_room_send_room()), so no member is dropped (the run checks it).
 * Throughput is deliveries to all members per second, from the first send to the last arrival; host
 * CPU is per delivered message (deliveries = N x COUNT). Prints
 * {"impl":"room","members":..,"deliveries":..,"mps":..,"p50_us":..,"p99_us":..,
 *  "host_cpu_ns":..,"rss_per_member":..,"dropped":..}. */
#include "common.h"

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <netlab.h>

#define MAXM 512

static int check(int rc, const char *what)
{
    if (rc < 0) {
        fprintf(stderr, "room_bench: %s: %s\n", what, nl_strerror(rc));
        exit(1);
    }
    return rc;
}

static long rss_bytes(void)
{
    long pages = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f == NULL)
        return -1;
    if (fscanf(f, "%ld %ld", &pages, &res) != 2)
        res = -1;
    fclose(f);
    return res < 0 ? -1 : res * sysconf(_SC_PAGESIZE);
}

struct result {
    int64_t p50_ns, p99_ns, first_sent, last_arrival;
    uint64_t delivered;
};

/* The child: n members; each takes count messages; then report and leave. */
static void members(const nl_endpoint *host, int n, uint64_t count, int wfd)
{
    static nl_chat_room *m[MAXM];
    static uint64_t got[MAXM];
    static struct pollfd p[MAXM];
    int64_t *lat = malloc(sizeof *lat * (size_t)n * count);
    struct result r = {0};
    int64_t deadline = nlb_now_ns() + 120000000000LL;
    int done = 0;

    if (lat == NULL)
        NLB_DIE("malloc");
    for (int i = 0; i < n; i++) {
        nl_chat_room_opts o = {0};
        char name[16];
        snprintf(name, sizeof name, "m%d", i);
        check(nl_endpoint_parse(&o.bind, "127.0.0.1", 0), "parse");
        o.host = *host;
        o.name = name;
        check(nl_chat_room_open(&m[i], &o), "member open");
    }
    while (done < n && nlb_now_ns() < deadline) {
        int t = 100;
        for (int i = 0; i < n; i++) {
            int x = nl_chat_room_next_timeout_ms(m[i]);
            if (x >= 0 && x < t)
                t = x;
            p[i].fd = nl_chat_room_fd(m[i]);
            p[i].events = POLLIN;
        }
        poll(p, (nfds_t)n, t);
        for (int i = 0; i < n; i++) {
            nl_chat_room_event ev[64];
            int k = nl_chat_room_step(m[i], ev, 64, 0);
            int64_t now = nlb_now_ns();
            for (int e = 0; e < k; e++) {
                int64_t sent;
                if (ev[e].type != NL_CHAT_ROOM_EV_MESSAGE || ev[e].len < sizeof sent)
                    continue;
                memcpy(&sent, ev[e].data, sizeof sent);
                if (r.first_sent == 0 || sent < r.first_sent)
                    r.first_sent = sent;
                r.last_arrival = now;
                lat[r.delivered++] = now - sent;
                if (++got[i] == count)
                    done++;
            }
        }
    }
    if (r.delivered > 0) {
        r.p50_ns = nlb_pct(lat, r.delivered, 0.50);
        r.p99_ns = nlb_pct(lat, r.delivered, 0.99);
    }
    if (write(wfd, &r, sizeof r) != (ssize_t)sizeof r)
        NLB_DIE("write");
    for (int i = 0; i < n; i++)
        nl_chat_room_close(m[i]);
    free(lat);
    _exit(0);
}

int main(int argc, char **argv)
{
    int n = (int)nlb_argl(argc, argv, "--members", 8);
    uint64_t count = (uint64_t)nlb_argl(argc, argv, "--count", 2000);
    int burst = (int)nlb_argl(argc, argv, "--burst", 8);
    nl_chat_room_opts o = {0};
    nl_chat_room *h;
    nl_chat_room_counters c;
    nl_endpoint ep;
    struct result r;
    int fds[2], joined = 0, status;
    uint64_t sent = 0;
    long rss0, rss1;
    int64_t cpu0, cpu1, end;
    pid_t pid;
    char msg[64];

    if (n < 1 || n > MAXM || count < 1)
        NLB_DIE("usage: room_bench --members 1..512 --count N [--burst B]");
    nlb_raise_nofile();
    check(nl_endpoint_parse(&o.bind, "127.0.0.1", 0), "parse");
    o.name = "host";
    o.max_members = n;
    check(nl_chat_room_open(&h, &o), "host open");
    check(nl_chat_room_local(h, &ep), "local");
    rss0 = rss_bytes();
    if (pipe(fds) < 0)
        NLB_DIE("pipe");
    pid = fork();
    if (pid < 0)
        NLB_DIE("fork");
    if (pid == 0) {
        close(fds[0]);
        members(&ep, n, count, fds[1]);
    }
    close(fds[1]);
    end = nlb_now_ns() + 60000000000LL;
    while (joined < n && nlb_now_ns() < end) {
        nl_chat_room_event ev[64];
        int k = check(nl_chat_room_step(h, ev, 64, 100), "host step");
        for (int e = 0; e < k; e++)
            joined += ev[e].type == NL_CHAT_ROOM_EV_JOINED;
    }
    if (joined < n)
        NLB_DIE("only %d of %d members joined", joined, n);
    /* Idle for a moment (keepalives only), then the memory a member costs. */
    end = nlb_now_ns() + 300000000LL;
    while (nlb_now_ns() < end) {
        nl_chat_room_event ev[64];
        check(nl_chat_room_step(h, ev, 64, 50), "host step");
    }
    rss1 = rss_bytes();
    cpu0 = nlb_cpu_ns();
    memset(msg, 'x', sizeof msg);
    end = nlb_now_ns() + 120000000000LL;
    for (;;) {
        nl_chat_room_event ev[64];
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        /* Closed loop: never more than the slowest member's backlog can take. */
        for (int b = 0; b < burst && sent < count && nl_chat_room_send_room(h) >= 1024;
             b++, sent++) {
            int64_t now = nlb_now_ns();
            memcpy(msg, &now, sizeof now);
            check(nl_chat_room_send(h, msg, sizeof msg), "send");
        }
        /* A turn of the loop between bursts: acknowledgements come in, the backlog drains. */
        check(nl_chat_room_step(h, ev, 64, sent < count ? 1 : 10), "host step");
        if (poll(&p, 1, 0) > 0 || nlb_now_ns() > end)
            break;
    }
    cpu1 = nlb_cpu_ns();
    if (read(fds[0], &r, sizeof r) != (ssize_t)sizeof r)
        NLB_DIE("no result from the members");
    waitpid(pid, &status, 0);
    nl_chat_room_stats(h, &c);
    nl_chat_room_close(h);
    printf("{\"impl\":\"room\",\"members\":%d,\"deliveries\":%llu,\"mps\":%.0f,\"p50_us\":%.1f,"
           "\"p99_us\":%.1f,\"host_cpu_ns\":%.0f,\"rss_per_member\":%ld,\"dropped\":%llu}\n",
           n, (unsigned long long)r.delivered,
           r.last_arrival > r.first_sent ? r.delivered / ((r.last_arrival - r.first_sent) / 1e9)
                                         : 0.0,
           r.p50_ns / 1e3, r.p99_ns / 1e3,
           r.delivered ? (double)(cpu1 - cpu0) / (double)r.delivered : 0.0,
           rss0 >= 0 && rss1 >= 0 ? (rss1 - rss0) / n : -1L, (unsigned long long)c.dropped_slow);
    return r.delivered == (uint64_t)n * count ? 0 : 1;
}
