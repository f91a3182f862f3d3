/* Chat throughput and message latency in reliable mode: a sender keeps an nl_chat_session's
 * send queue full of small messages (or keeps a fixed number in flight), a receiver session
 * in a forked child takes them in, and each message carries the CLOCK_MONOTONIC time at which
 * it was handed to nl_chat_session_send(), so the receiver measures the latency of each one.
 *
 *   chat_bench --size BYTES --count N [--seconds S] [--window W] [--cpu-send C] [--cpu-recv C]
 *
 * --window 0 (the default) sends whenever nl_chat_session_send_room() has room for another
 * message: the queue is kept full, as a fast producer would, and the latency includes the time
 * a message waits in the queue. --window W keeps at most W messages not yet delivered (W = 1:
 * one message at a time, the latency of the protocol itself).
 *
 * The sender stops at N messages or after S seconds; should nothing have been delivered by
 * then (a loaded machine), it goes on until the first delivery, for at most 30 s more, so the
 * run always measures something without depending on timing. It then leaves (BYE), which the
 * receiver sees after the last message. The rate is measured at the receiver: messages
 * received divided by the time from the first message's send time to the last one's arrival.
 * Prints {"impl":"chat",..,"received":..,"mps":..,"p50_us":..,"p99_us":..,"cpu_ns":..} where
 * cpu_ns is receiver CPU per message. */
#include "common.h"

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <netlab.h>

#define EVENTS 64
#define EXTRA_NS 30000000000LL /* the bounded extension when nothing was delivered yet */

struct result {
    uint64_t received;
    int64_t span_ns, cpu_ns, p50_ns, p99_ns;
};

static int check(int rc, const char *what)
{
    if (rc < 0) {
        fprintf(stderr, "chat_bench: %s: %s\n", what, nl_strerror(rc));
        exit(1);
    }
    return rc;
}

/* The child: take messages until the peer leaves (or a hard bound), then report. */
static void receiver(nl_chat_session *rx, uint64_t count, double max_s, int wfd)
{
    nl_chat_event ev[EVENTS];
    struct result r = {0};
    int64_t *lat = malloc(sizeof *lat * (count ? count : 1));
    int64_t first_sent = 0, last_arrival = 0, cpu0 = 0, now;
    /* Hard bound: the sender's window, its bounded extension and its leave, with margin. */
    int64_t deadline = nlb_now_ns() + (int64_t)(max_s * 1e9) + EXTRA_NS + 20000000000LL;
    int done = 0;

    if (lat == NULL)
        NLB_DIE("malloc");
    while (!done && nlb_now_ns() < deadline) {
        int n = check(nl_chat_session_step(rx, ev, EVENTS, 100), "receiver step");
        now = nlb_now_ns();
        for (int i = 0; i < n; i++) {
            if (ev[i].type == NL_CHAT_EV_MESSAGE && ev[i].len >= sizeof(int64_t)) {
                int64_t sent;
                memcpy(&sent, ev[i].data, sizeof sent);
                if (r.received == 0) {
                    first_sent = sent;
                    cpu0 = nlb_cpu_ns();
                }
                if (r.received < count)
                    lat[r.received] = now - sent;
                r.received++;
                last_arrival = now;
            } else if (ev[i].type == NL_CHAT_EV_PEER_LOST || ev[i].type == NL_CHAT_EV_CLOSED) {
                done = 1;
            }
        }
    }
    if (r.received > 0) {
        size_t n = r.received < count ? r.received : count;
        r.cpu_ns = nlb_cpu_ns() - cpu0;
        r.span_ns = last_arrival - first_sent;
        r.p50_ns = nlb_pct(lat, n, 50);
        r.p99_ns = nlb_pct(lat, n, 99);
    }
    if (write(wfd, &r, sizeof r) != (ssize_t)sizeof r)
        NLB_DIE("write");
    /* Stepped until CLOSED: after the sender's BYE the receiver sends its own, and the
     * sender waits for it (docs/protocol.md, "Leaving"). */
    nl_chat_session_close(rx);
    free(lat);
}

int main(int argc, char **argv)
{
    size_t size = (size_t)nlb_argl(argc, argv, "--size", 64);
    uint64_t count = (uint64_t)nlb_argl(argc, argv, "--count", 100000);
    double max_s = atof(nlb_arg(argc, argv, "--seconds", "3"));
    uint64_t window = (uint64_t)nlb_argl(argc, argv, "--window", 0);
    int cpu_send = (int)nlb_argl(argc, argv, "--cpu-send", -1);
    int cpu_recv = (int)nlb_argl(argc, argv, "--cpu-recv", -1);
    nl_chat_opts o = {0};
    nl_chat_session *rx, *tx;
    nl_chat_event ev[EVENTS];
    nl_chat_stats st;
    struct result r;
    char *msg;
    uint64_t sent = 0, delivered = 0;
    int64_t deadline, hard;
    int p[2], closed = 0;
    pid_t pid;
    struct pollfd pfd;

    if (size < sizeof(int64_t) || size > NL_CHAT_MSG_MAX || count == 0)
        return fprintf(stderr, "chat_bench: --size 8..%d, --count >= 1\n", NL_CHAT_MSG_MAX), 2;
    msg = calloc(1, size);
    if (msg == NULL)
        NLB_DIE("calloc");
    memset(msg, 'c', size);
    check(nl_endpoint_parse(&o.bind, "127.0.0.1:0", 0), "parse");
    /* Timers long enough that a loaded machine does not end the session under us. */
    o.peer_lost_ms = 30000;
    o.leave_timeout_ms = 5000;
    check(nl_chat_session_open(&rx, &o), "open receiver");
    check(nl_chat_session_local(rx, &o.peer), "local");
    if (pipe(p) < 0)
        NLB_DIE("pipe");
    pid = fork();
    if (pid < 0)
        NLB_DIE("fork");
    if (pid == 0) {
        close(p[0]);
        nlb_pin(cpu_recv);
        receiver(rx, count, max_s, p[1]);
        _exit(0);
    }
    close(p[1]);
    /* The parent's copy of the receiver: freed and its descriptor closed, nothing sent. */
    nl_chat_session_close(rx);
    nlb_pin(cpu_send);
    check(nl_endpoint_parse(&o.bind, "127.0.0.1:0", 0), "parse");
    check(nl_chat_session_open(&tx, &o), "open sender");

    deadline = nlb_now_ns() + (int64_t)(max_s * 1e9);
    hard = deadline + EXTRA_NS;
    for (;;) {
        int64_t now = nlb_now_ns();
        int n;
        if (sent >= count || now >= hard || (now >= deadline && delivered > 0))
            break;
        while (sent < count && nl_chat_session_send_room(tx) >= size &&
               (window == 0 || sent - delivered < window)) {
            int64_t t = nlb_now_ns(), id;
            memcpy(msg, &t, sizeof t);
            id = nl_chat_session_send(tx, msg, size);
            if (id < 0)
                check((int)id, "send");
            sent++;
        }
        n = check(nl_chat_session_step(tx, ev, EVENTS, 100), "sender step");
        for (int i = 0; i < n; i++) {
            if (ev[i].type == NL_CHAT_EV_DELIVERED)
                delivered++;
            else if (ev[i].type == NL_CHAT_EV_CLOSED || ev[i].type == NL_CHAT_EV_PEER_LOST ||
                     ev[i].type == NL_CHAT_EV_ERROR)
                fprintf(stderr, "chat_bench: sender: %s (%s)\n", nl_chat_event_name(ev[i].type),
                        nl_strerror(ev[i].code)), exit(1);
        }
    }
    /* Leave: the BYE follows the queued messages; step until the session closes (bounded by
     * the leave timeout, and here by a count too). */
    nl_chat_session_leave(tx);
    for (int k = 0; k < 100000 && !closed; k++) {
        int n = nl_chat_session_step(tx, ev, EVENTS, 100);
        if (n < 0)
            break;
        for (int i = 0; i < n; i++) {
            if (ev[i].type == NL_CHAT_EV_DELIVERED)
                delivered++;
            closed |= ev[i].type == NL_CHAT_EV_CLOSED;
        }
        if (nlb_now_ns() > hard + 10000000000LL)
            break;
    }
    nl_chat_session_stats(tx, &st);
    nl_chat_session_close(tx);
    pfd = (struct pollfd){.fd = p[0], .events = POLLIN};
    if (poll(&pfd, 1, 30000) != 1 || read(p[0], &r, sizeof r) != (ssize_t)sizeof r) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        fprintf(stderr, "chat_bench: no report from the receiver\n");
        return 1;
    }
    waitpid(pid, NULL, 0);
    if (r.received == 0 || r.span_ns <= 0) {
        fprintf(stderr, "chat_bench: nothing received\n");
        return 1;
    }
    printf("{\"impl\":\"chat\",\"size\":%zu,\"window\":%llu,\"sent\":%llu,\"delivered\":%llu,"
           "\"received\":%llu,\"mps\":%.1f,\"p50_us\":%.2f,\"p99_us\":%.2f,\"cpu_ns\":%.1f,"
           "\"datagrams_out\":%llu,\"datagrams_in\":%llu,\"retransmits\":%llu}\n",
           size, (unsigned long long)window, (unsigned long long)sent,
           (unsigned long long)delivered, (unsigned long long)r.received,
           (double)r.received / ((double)r.span_ns / 1e9), (double)r.p50_ns / 1e3,
           (double)r.p99_ns / 1e3, (double)r.cpu_ns / (double)r.received,
           (unsigned long long)st.datagrams_out, (unsigned long long)st.datagrams_in,
           (unsigned long long)st.retransmits);
    free(msg);
    return 0;
}
