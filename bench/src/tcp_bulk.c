/* TCP bulk throughput over loopback: one sender, one receiver (a forked child).
 *
 *   tcp_bulk --mode raw|nl --write BYTES --bytes TOTAL [--seconds S] [--cpu-send C]
 *            [--cpu-recv C]
 *
 * raw: write() in --write-byte pieces. nl: nl_tcp_send_all() of --write-byte buffers (the
 * library picks the system-call sizes). Stops at TOTAL bytes or S seconds, whichever is first.
 * Prints one JSON object: {"mode":..,"write":..,"bytes":..,"seconds":..,"mbps":..}. */
#include "common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <netlab.h>

static void receiver(int lfd, int pipe_w, int cpu)
{
    static char buf[1 << 20];
    uint64_t total = 0;
    ssize_t n;
    int fd;

    nlb_pin(cpu);
    fd = accept(lfd, NULL, NULL);
    if (fd < 0)
        NLB_DIE("accept");
    while ((n = read(fd, buf, sizeof buf)) > 0)
        total += (uint64_t)n;
    if (write(pipe_w, &total, sizeof total) != sizeof total)
        NLB_DIE("pipe");
    _exit(0);
}

int main(int argc, char **argv)
{
    const char *mode = nlb_arg(argc, argv, "--mode", "raw");
    size_t wsize = (size_t)nlb_argl(argc, argv, "--write", 65536);
    uint64_t want = (uint64_t)nlb_argl(argc, argv, "--bytes", 1L << 30);
    double max_s = (double)nlb_argl(argc, argv, "--seconds", 10);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t salen = sizeof sa;
    uint64_t sent = 0, got = 0;
    int64_t t0, t1, deadline;
    int lfd, fds[2], status;
    char *buf;
    pid_t pid;

    signal(SIGPIPE, SIG_IGN);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 1) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &salen) < 0 || pipe(fds) < 0)
        NLB_DIE("setup");
    pid = fork();
    if (pid < 0)
        NLB_DIE("fork");
    if (pid == 0)
        receiver(lfd, fds[1], (int)nlb_argl(argc, argv, "--cpu-recv", -1));
    close(lfd);
    nlb_pin((int)nlb_argl(argc, argv, "--cpu-send", -1));
    buf = malloc(wsize);
    memset(buf, 'x', wsize);
    t0 = nlb_now_ns();
    deadline = t0 + (int64_t)(max_s * 1e9);
    if (strcmp(mode, "nl") == 0) {
        nl_endpoint ep;
        nl_tcp *t;
        size_t n;
        nl_endpoint_parse(&ep, "127.0.0.1", ntohs(sa.sin_port));
        if (nl_tcp_connect(&t, &ep, 5000, NULL) < 0)
            NLB_DIE("nl_tcp_connect");
        t0 = nlb_now_ns();
        while (sent < want && nlb_now_ns() < deadline) {
            if (nl_tcp_send_all(t, buf, wsize, &n, -1) < 0)
                NLB_DIE("send_all");
            sent += n;
        }
        nl_tcp_shutdown(t, NL_SHUT_WR);
        if (read(fds[0], &got, sizeof got) != sizeof got)
            NLB_DIE("pipe");
        t1 = nlb_now_ns();
        nl_tcp_close(t);
    } else {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
            NLB_DIE("connect");
        t0 = nlb_now_ns();
        /* mss mode: each buffer goes out as its whole segments in one write, then the
         * tail, the MSS asked for each time (an experiment for nl_tcp_send_all). */
        int mss_mode = strcmp(mode, "mss") == 0, align_mode = strcmp(mode, "align") == 0;
        uint64_t pos = 0;
        while (sent < want && nlb_now_ns() < deadline) {
            size_t off = 0;
            while (off < wsize) {
                size_t len = wsize - off;
                if (mss_mode || align_mode) {
                    int mss = 0;
                    socklen_t ml = sizeof mss;
                    getsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, &ml);
                    if (mss_mode && mss > 0 && len > (size_t)mss)
                        len = len / (size_t)mss * (size_t)mss;
                    if (align_mode && mss > 0) {
                        size_t chunk = 65536 / (size_t)mss * (size_t)mss;
                        size_t fill = (size_t)mss - (size_t)(pos % (size_t)mss);
                        if (fill != (size_t)mss && fill < len)
                            len = fill; /* complete the partial segment first */
                        else if (len > chunk)
                            len = chunk;
                    }
                }
                ssize_t n = write(fd, buf + off, len);
                if (n < 0)
                    NLB_DIE("write");
                off += (size_t)n;
                sent += (uint64_t)n;
                pos += (uint64_t)n;
            }
        }
        {
            int mss = 0;
            socklen_t ml = sizeof mss;
            getsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, &ml);
            fprintf(stderr, "tcp_bulk: TCP_MAXSEG after the transfer: %d\n", mss);
        }
        shutdown(fd, SHUT_WR);
        if (read(fds[0], &got, sizeof got) != sizeof got)
            NLB_DIE("pipe");
        t1 = nlb_now_ns();
        close(fd);
    }
    waitpid(pid, &status, 0);
    if (got != sent) {
        fprintf(stderr, "tcp_bulk: sent %llu, received %llu\n", (unsigned long long)sent,
                (unsigned long long)got);
        return 1;
    }
    printf("{\"mode\":\"%s\",\"write\":%zu,\"bytes\":%llu,\"seconds\":%.4f,\"mbps\":%.1f}\n", mode,
           wsize, (unsigned long long)got, (double)(t1 - t0) / 1e9,
           (double)got / 1e6 / ((double)(t1 - t0) / 1e9));
    return 0;
}
