/* netlab-echo-server: the course's echo server, serving every client at once.
 *
 *   netlab-echo-server [--host ADDR] [--port N] [--idle-timeout MS] [--max-queued BYTES]
 *                      [--trace] [--help]
 *
 * Prints "listening on HOST:PORT" once it listens (so --port 0 is usable from scripts), then
 * echoes until SIGINT or SIGTERM, and prints the server's counters on the way out.
 * Exit status: 0 after a clean stop, 1 when the server fails, 2 for a usage error. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netlab.h>

static nl_tcp_server *g_server; /* for the signal handler only */

static void on_signal(int sig)
{
    (void)sig;
    nl_tcp_server_stop(g_server); /* async-signal-safe */
}

static void trace_line(const nl_trace_event *ev, void *user)
{
    char line[256];

    (void)user;
    if (nl_trace_format(ev, line, sizeof line) >= 0)
        fprintf(stderr, "trace: %s\n", line);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: netlab-echo-server [--host ADDR] [--port N] [--idle-timeout MS]\n"
               "                          [--max-queued BYTES] [--trace] [--help]\n"
               "  --host ADDR         address to listen on (default 127.0.0.1; :: for IPv6)\n"
               "  --port N            port (default 9000; 0 picks a free one)\n"
               "  --idle-timeout MS   close clients idle this long (default 0: never)\n"
               "  --max-queued BYTES  per-client output cap before reading pauses (64 KiB)\n"
               "  --trace             print every system call on stderr\n");
}

/* A whole-string non-negative number no larger than max, or -1. */
static long number(const char *s, long max)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0 || v > max)
        return -1;
    return v;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    nl_tcp_server_config cfg = {0};
    nl_tcp_server_stats st;
    struct sigaction sa;
    char text[NL_ENDPOINT_STRLEN];
    nl_endpoint ep;
    long port = 9000, v;
    int i, rc;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--trace") == 0) {
            cfg.opts.trace = trace_line;
        } else if (val != NULL && strcmp(a, "--host") == 0) {
            host = val;
            i++;
        } else if (val != NULL && strcmp(a, "--port") == 0) {
            if ((port = number(val, 65535)) < 0) {
                fprintf(stderr, "netlab-echo-server: bad port '%s'\n", val);
                return 2;
            }
            i++;
        } else if (val != NULL && strcmp(a, "--idle-timeout") == 0) {
            if ((v = number(val, 0x7fffffff)) < 0) {
                fprintf(stderr, "netlab-echo-server: bad timeout '%s'\n", val);
                return 2;
            }
            cfg.idle_timeout_ms = (int)v;
            i++;
        } else if (val != NULL && strcmp(a, "--max-queued") == 0) {
            if ((v = number(val, 1L << 30)) < 1) {
                fprintf(stderr, "netlab-echo-server: bad size '%s'\n", val);
                return 2;
            }
            cfg.max_queued = (size_t)v;
            i++;
        } else {
            fprintf(stderr, "netlab-echo-server: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if ((rc = nl_endpoint_from_host(&ep, host, (int)port, NL_RESOLVE_ANY)) < 0) {
        fprintf(stderr, "netlab-echo-server: %s: %s\n", host, nl_strerror(rc));
        return 2;
    }
    if ((rc = nl_tcp_server_open(&g_server, &ep, &cfg)) < 0) {
        fprintf(stderr, "netlab-echo-server: listen: %s\n", nl_strerror(rc));
        return 1;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    nl_tcp_server_local(g_server, &ep);
    nl_endpoint_format(&ep, text, sizeof text);
    printf("listening on %s\n", text);
    fflush(stdout);
    rc = nl_tcp_server_run(g_server);
    nl_tcp_server_stats_get(g_server, &st);
    fprintf(stderr,
            "netlab-echo-server: stopped: %llu accepted, %llu dropped, %llu idle-closed, "
            "%llu paused, %zu open\n",
            (unsigned long long)st.accepted, (unsigned long long)st.dropped,
            (unsigned long long)st.closed_idle, (unsigned long long)st.paused, st.connections);
    nl_tcp_server_close(g_server);
    if (rc < 0) {
        fprintf(stderr, "netlab-echo-server: %s\n", nl_strerror(rc));
        return 1;
    }
    return 0;
}
