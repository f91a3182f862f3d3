/* netlab-wire: watch the packets of one local port, as they happen (the wire under the notes).
 * Every TCP segment and UDP datagram to or from PORT is printed on one line: its direction,
 * flags, relative sequence and acknowledgement numbers, data length and window, labelled with
 * the step of the exchange (the three-way handshake in the notes' words, data, the ACK that
 * answers it, FIN). --json prints one JSON object a line instead, for tests and tools.
 * Runs until interrupted (Ctrl-C) or until --count packets; then it says how many packets the
 * kernel had to drop (missed), and exits 1 if any were.
 * Capture needs CAP_NET_RAW: root, or a namespace of one's own (unshare -rn).
 * Build it on its own: cc netlab-wire.c $(pkg-config --cflags --libs netlab) */
#define _POSIX_C_SOURCE 200809L /* sigaction */
#include <errno.h>
#include <netlab.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME  "netlab-wire"
#define USAGE "usage: " NAME " [--json] [--interface IF] [--count N] PORT"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* A usage error: one line on stderr, exit status 2. */
static int usage_error(const char *what, const char *arg, const char *why)
{
    fprintf(stderr, NAME ": %s '%s'%s%s; " USAGE "\n", what, arg, *why ? ": " : "", why);
    return 2;
}

int main(int argc, char **argv)
{
    const char *ifname = "lo", *port_text = NULL;
    int style = NL_CAPTURE_TEXT;
    unsigned long long count = 0; /* 0: no limit */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            style = NL_CAPTURE_JSON;
        } else if (strcmp(argv[i], "--interface") == 0 && i + 1 < argc) {
            ifname = argv[++i];
        } else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
            char *end;
            errno = 0;
            count = strtoull(argv[++i], &end, 10);
            if (errno || *end || end == argv[i] || argv[i][0] == '-' || count == 0)
                return usage_error("bad count", argv[i], "expected a number above 0");
        } else if (strcmp(argv[i], "--help") == 0) {
            if (puts(USAGE) >= 0 && fflush(stdout) == 0)
                return 0;
            perror(NAME ": standard output");
            return 1;
        } else if (argv[i][0] != '-' && !port_text) {
            port_text = argv[i];
        } else {
            return usage_error("bad argument", argv[i], "");
        }
    }
    if (!port_text) {
        fprintf(stderr, NAME ": which port? " USAGE "\n");
        return 2;
    }
    int port = nl_endpoint_parse_port(port_text);
    if (port <= 0)
        return usage_error("bad port", port_text, "expected a number from 1 to 65535");

    nl_capture *cap;
    int rc = nl_capture_open(&cap, ifname, (uint16_t)port, 0);
    if (rc == NL_EPERM) {
        fprintf(stderr, NAME ": capture needs CAP_NET_RAW: run it as root, or inside a user and "
                             "network namespace of your own (unshare -rn)\n");
        return 1;
    } else if (rc == NL_ENOTSUP) {
        fprintf(stderr, NAME ": packet capture is not available here: it needs Linux's packet "
                             "sockets (this libnetlab was built without them)\n");
        return 1;
    } else if (rc < 0) {
        fprintf(stderr, NAME ": capture on %s: %s\n", ifname, nl_strerror(rc));
        return 1;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_signal; /* no SA_RESTART: the wait returns, the loop sees stop */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (style == NL_CAPTURE_JSON)
        printf("{\"watching\":%d,\"interface\":\"%s\"}\n", port, ifname);
    else
        printf("watching port %d on %s (Ctrl-C to stop)\n", port, ifname);

    unsigned long long seen = 0;
    int failed = 0;
    while (!stop && (count == 0 || seen < count) && !ferror(stdout)) {
        nl_capture_packet pkts[64];
        int max = count && count - seen < 64 ? (int)(count - seen) : 64;
        int n = nl_capture_read(cap, pkts, max, 200);
        if (n == NL_ETIMEDOUT || n == NL_EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, NAME ": read: %s\n", nl_strerror(n));
            failed = 1;
            break;
        }
        for (int i = 0; i < n; i++) {
            char line[512];
            nl_capture_format(&pkts[i], style, line, sizeof line);
            puts(line);
        }
        seen += (unsigned long long)n;
    }
    nl_capture_counts st = {0};
    nl_capture_stats(cap, &st);
    nl_capture_close(cap);
    if (style == NL_CAPTURE_JSON)
        printf("{\"stats\":{\"received\":%llu,\"drops\":%llu,\"decoded\":%llu,\"ignored\":%llu}}\n",
               (unsigned long long)st.received, (unsigned long long)st.drops,
               (unsigned long long)st.decoded, (unsigned long long)st.ignored);
    else
        printf("%llu packets; %llu missed (dropped by the kernel: the reader was too slow)\n",
               (unsigned long long)st.decoded, (unsigned long long)st.drops);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, NAME ": standard output: %s\n", strerror(errno ? errno : EIO));
        return 1;
    }
    if (st.drops)
        fprintf(stderr, NAME ": %llu packets were missed\n", (unsigned long long)st.drops);
    return failed || st.drops ? 1 : 0;
}
