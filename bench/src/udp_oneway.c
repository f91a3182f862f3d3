/* UDP one-way throughput: a sender blasts datagrams at a receiver (forked child) as fast as
 * it can; the receiver counts what arrives and its own CPU time.
 *
 *   udp_oneway --impl raw|raw-batch|nl|nl-batch --size BYTES --count N [--seconds S]
 *              [--cpu-send C] [--cpu-recv C]
 *
 * Both sides use the same implementation. The rate is measured at the receiver, from its
 * first to its last datagram; the receiver stops at N datagrams, after 200 ms of silence, or
 * at S seconds. Prints {"impl":..,"size":..,"received":..,"sent":..,"dps":..,"cpu_ns":..}
 * where cpu_ns is receiver CPU (user + system) per datagram received. */
#include "common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <netlab.h>

#define BATCH 32

struct result {
    uint64_t received;
    int64_t first_ns, last_ns, cpu_ns;
};

static void receiver(const char *impl, int fd, nl_udp *u, size_t size, uint64_t count,
                     double max_s, int wfd)
{
    static char bufs[BATCH][2048];
    struct result r = {0};
    int64_t cpu0 = 0, deadline;
    int batch = strstr(impl, "batch") != NULL, isnl = strncmp(impl, "nl", 2) == 0;
    struct mmsghdr mm[BATCH];
    struct iovec iov[BATCH];
    nl_udp_msg msgs[BATCH];
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int i;

    (void)size;
    for (i = 0; i < BATCH; i++) {
        iov[i] = (struct iovec){bufs[i], sizeof bufs[i]};
        memset(&mm[i], 0, sizeof mm[i]);
        mm[i].msg_hdr.msg_iov = &iov[i];
        mm[i].msg_hdr.msg_iovlen = 1;
        msgs[i] = (nl_udp_msg){.buf = bufs[i], .cap = sizeof bufs[i]};
    }
    /* Wait for the first datagram, outside the measured window. */
    if (poll(&pfd, 1, 10000) != 1)
        NLB_DIE("receiver: nothing arrived");
    deadline = nlb_now_ns() + (int64_t)(max_s * 1e9);
    cpu0 = nlb_cpu_ns();
    r.first_ns = nlb_now_ns();
    /* Blocking receives, as a plain program would do. A zero-length datagram means "stop":
     * the sender repeats it until we answer, since any single one may be dropped. */
    while (r.received < count && nlb_now_ns() < deadline) {
        long n, k, stop = 0;
        if (isnl && batch) {
            n = nl_udp_recv_batch(u, msgs, BATCH, -1);
            for (k = 0; k < n; k++)
                stop |= msgs[k].len == 0;
        } else if (isnl) {
            n = nl_udp_recv_from(u, bufs[0], sizeof bufs[0], NULL, -1);
            stop = n == 0;
            n = n >= 0 ? 1 : -1;
        } else if (batch) {
            n = recvmmsg(fd, mm, BATCH, MSG_WAITFORONE, NULL);
            for (k = 0; k < n; k++)
                stop |= mm[k].msg_len == 0;
        } else {
            n = recvfrom(fd, bufs[0], sizeof bufs[0], 0, NULL, NULL);
            stop = n == 0;
            n = n >= 0 ? 1 : -1;
        }
        if (n < 0)
            NLB_DIE("receive");
        if (stop)
            break; /* the datagrams of the batch before the marker are not counted: a few */
        r.received += (uint64_t)n;
        r.last_ns = nlb_now_ns();
    }
    r.cpu_ns = nlb_cpu_ns() - cpu0;
    if (write(wfd, &r, sizeof r) != sizeof r)
        NLB_DIE("pipe");
    _exit(0);
}

int main(int argc, char **argv)
{
    const char *impl = nlb_arg(argc, argv, "--impl", "raw");
    size_t size = (size_t)nlb_argl(argc, argv, "--size", 64);
    uint64_t count = (uint64_t)nlb_argl(argc, argv, "--count", 1000000);
    double max_s = (double)nlb_argl(argc, argv, "--seconds", 10);
    int batch = strstr(impl, "batch") != NULL, isnl = strncmp(impl, "nl", 2) == 0;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t salen = sizeof sa;
    static char payload[2048];
    struct result r;
    nl_udp *ru = NULL, *su = NULL;
    nl_endpoint rep;
    int rfd, sfd, fds[2], status, rcvbuf = 4 << 20;
    uint64_t sent = 0;
    int64_t deadline;
    pid_t pid;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (pipe(fds) < 0)
        NLB_DIE("pipe");
    if (isnl) {
        nl_endpoint any;
        nl_endpoint_parse(&any, "127.0.0.1:0", 0);
        if (nl_udp_open_bound(&ru, &any, NULL) < 0 || nl_udp_open(&su, NL_AF_INET, NULL) < 0)
            NLB_DIE("nl_udp_open");
        rfd = nl_udp_fd(ru);
        sfd = nl_udp_fd(su);
        nl_udp_local(ru, &rep);
    } else {
        rfd = socket(AF_INET, SOCK_DGRAM, 0);
        sfd = socket(AF_INET, SOCK_DGRAM, 0);
        if (rfd < 0 || sfd < 0 || bind(rfd, (struct sockaddr *)&sa, sizeof sa) < 0)
            NLB_DIE("socket");
    }
    /* The same (large) receive buffer for every implementation, so bursts are absorbed. */
    setsockopt(rfd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (getsockname(rfd, (struct sockaddr *)&sa, &salen) < 0)
        NLB_DIE("getsockname");
    pid = fork();
    if (pid < 0)
        NLB_DIE("fork");
    if (pid == 0) {
        nlb_pin((int)nlb_argl(argc, argv, "--cpu-recv", -1));
        receiver(impl, rfd, ru, size, count, max_s, fds[1]);
    }
    nlb_pin((int)nlb_argl(argc, argv, "--cpu-send", -1));
    memset(payload, 'u', sizeof payload);
    deadline = nlb_now_ns() + (int64_t)(max_s * 1e9);
    {
        struct mmsghdr mm[BATCH];
        struct iovec iov = {payload, size};
        nl_udp_msg msgs[BATCH];
        int i;
        for (i = 0; i < BATCH; i++) {
            memset(&mm[i], 0, sizeof mm[i]);
            mm[i].msg_hdr.msg_name = &sa;
            mm[i].msg_hdr.msg_namelen = sizeof sa;
            mm[i].msg_hdr.msg_iov = &iov;
            mm[i].msg_hdr.msg_iovlen = 1;
            msgs[i] = (nl_udp_msg){.buf = payload, .len = size, .peer = rep};
        }
        while (sent < count && (sent & 1023 || nlb_now_ns() < deadline)) {
            long n;
            if (isnl && batch)
                n = nl_udp_send_batch(su, msgs, BATCH, -1);
            else if (isnl)
                n = nl_udp_send_to(su, payload, size, &rep, -1) >= 0 ? 1 : -1;
            else if (batch)
                n = sendmmsg(sfd, mm, BATCH, 0);
            else
                n = sendto(sfd, payload, size, 0, (struct sockaddr *)&sa, sizeof sa) >= 0 ? 1
                                                                                          : -1;
            if (n < 0)
                NLB_DIE("send");
            sent += (uint64_t)n;
        }
    }
    /* Stop markers until the receiver reports (bounded: 200 x 50 ms). */
    {
        struct pollfd pp = {.fd = fds[0], .events = POLLIN};
        int k;
        for (k = 0; k < 200; k++) {
            sendto(sfd, payload, 0, 0, (struct sockaddr *)&sa, sizeof sa);
            if (poll(&pp, 1, 50) == 1)
                break;
        }
    }
    if (read(fds[0], &r, sizeof r) != sizeof r)
        NLB_DIE("pipe read");
    waitpid(pid, &status, 0);
    if (r.received == 0)
        return 1;
    printf("{\"impl\":\"%s\",\"size\":%zu,\"sent\":%llu,\"received\":%llu,\"dps\":%.0f,"
           "\"cpu_ns\":%.1f}\n",
           impl, size, (unsigned long long)sent, (unsigned long long)r.received,
           (double)r.received / ((double)(r.last_ns - r.first_ns) / 1e9),
           (double)r.cpu_ns / (double)r.received);
    return 0;
}
