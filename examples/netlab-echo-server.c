/* netlab-echo-server: the course's echo server, serving every client at once.
 *
 *   netlab-echo-server [--host ADDR] [--port N] [--idle-timeout MS] [--max-queued BYTES]
 *                      [--trace] [--help]
 *
 * Prints "listening on HOST:PORT" once it listens (so --port 0 is usable from scripts), then
 * echoes until SIGINT, SIGTERM or SIGHUP, and prints the server's counters on the way out.
 * Exit status: 0 after a clean stop, 1 when the server or standard output fails, 2 for a usage
 * error. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netlab.h>
#ifdef _WIN32
#include <windows.h> /* SetConsoleCP */
#endif

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

#define NAME "netlab-echo-server"
#define USAGE                                                                                      \
    "usage: " NAME " [--host ADDR] [--port N] [--idle-timeout MS] [--max-queued BYTES] "           \
    "[--trace] [--help]"

/* A usage error: one line on stderr, exit status 2, the same shape in every program. */
static int usage_error(const char *what, const char *arg, const char *why)
{
    fprintf(stderr, NAME ": %s '%s'%s%s; " USAGE "\n", what, arg, *why ? ": " : "", why);
    return 2;
}

static int help(void)
{
    printf(USAGE "\n"
                 "  --host ADDR         address to listen on (default 127.0.0.1; :: for IPv6)\n"
                 "  --port N            port (default 9000; 0 picks a free one)\n"
                 "  --idle-timeout MS   close clients idle this long (default 0: never)\n"
                 "  --max-queued BYTES  per-client output cap before reading pauses (64 KiB)\n"
                 "  --trace             print every system call on stderr\n");
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, NAME ": standard output: %s\n", strerror(errno));
        return 1;
    }
    return 0;
}

/* A whole-string non-negative number no larger than max, or -1. Decimal digits only, as the
 * course programs take their ports: strtol() alone would also take " 80", "+80" and "-0". */
static long number(const char *s, long max)
{
    char *end;
    long v;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max)
        return -1;
    return v;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    nl_tcp_server_config cfg = {0};
    nl_tcp_server_stats st;
#ifdef _WIN32
    /* The text on the wire is UTF-8: the Windows console shows and types it as such too. */
    SetConsoleOutputCP(CP_UTF8);
    SetConsoleCP(CP_UTF8);
#endif
#ifndef _WIN32
    struct sigaction sa;
#endif
    char text[NL_ENDPOINT_STRLEN];
    nl_endpoint ep;
    long port = 9000, v;
    int i, rc;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            return help();
        } else if (strcmp(a, "--trace") == 0) {
            cfg.opts.trace = trace_line;
        } else if (val != NULL && strcmp(a, "--host") == 0) {
            host = val;
            i++;
        } else if (val != NULL && strcmp(a, "--port") == 0) {
            if ((port = nl_endpoint_parse_port(val)) < 0) /* as every course program reads it */
                return usage_error("bad port", val, "expected a number from 0 to 65535");
            i++;
        } else if (val != NULL && strcmp(a, "--idle-timeout") == 0) {
            if ((v = number(val, 0x7fffffff)) < 0)
                return usage_error("bad timeout", val,
                                   "expected milliseconds from 0 to 2147483647");
            cfg.idle_timeout_ms = (int)v;
            i++;
        } else if (val != NULL && strcmp(a, "--max-queued") == 0) {
            if ((v = number(val, 1L << 30)) < 1)
                return usage_error("bad size", val, "expected bytes from 1 to 1073741824");
            cfg.max_queued = (size_t)v;
            i++;
        } else {
            return usage_error("bad argument", a, "");
        }
    }
    if ((rc = nl_endpoint_from_host(&ep, host, (int)port, NL_RESOLVE_ANY)) < 0)
        return usage_error("bad host", host, nl_strerror(rc));
    if ((rc = nl_tcp_server_open(&g_server, &ep, &cfg)) < 0) {
        nl_endpoint_format(&ep, text, sizeof text); /* the address tried, for the reader */
        fprintf(stderr, NAME ": listen %s: %s\n", text, nl_strerror(rc));
        return 1;
    }
#ifdef _WIN32
    /* Windows: Ctrl-C and Ctrl-Break arrive as SIGINT and SIGBREAK, on a thread of their own. */
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGBREAK, on_signal);
#else
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL); /* the terminal closed: stop as cleanly as on Ctrl-C */
#endif
    nl_tcp_server_local(g_server, &ep);
    nl_endpoint_format(&ep, text, sizeof text);
    if (printf("listening on %s\n", text) < 0 || fflush(stdout) != 0) {
        fprintf(stderr, NAME ": standard output: %s\n", strerror(errno));
        nl_tcp_server_close(g_server);
        return 1;
    }
    rc = nl_tcp_server_run(g_server);
    nl_tcp_server_stats_get(g_server, &st);
    fprintf(stderr,
            "netlab-echo-server: stopped: %llu accepted, %llu dropped, %llu idle-closed, "
            "%llu paused, %zu open\n",
            (unsigned long long)st.accepted, (unsigned long long)st.dropped,
            (unsigned long long)st.closed_idle, (unsigned long long)st.paused, st.connections);
    nl_tcp_server_close(g_server);
    if (rc < 0) {
        fprintf(stderr, NAME ": %s\n", nl_strerror(rc));
        return 1;
    }
    return 0;
}
