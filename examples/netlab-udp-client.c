/* netlab-udp-client: the course's UDP client (UDP应用流程, 客户端).
 * Sends each line typed as one datagram to HOST:PORT (default 127.0.0.1:9000); q quits.
 * A line is every byte up to the newline, sent as it is (a \r or NUL inside included); only
 * the \r of a CRLF line ending is dropped, like the newline itself.
 * Exit status: 0 when every line went out, 1 when one could not be sent or input/output
 * failed, 2 for a usage error.
 * Build it on its own: cc netlab-udp-client.c $(pkg-config --cflags --libs netlab) */
#define _POSIX_C_SOURCE 200809L /* isatty */
#include <errno.h>
#include <netlab.h>
#ifdef _WIN32
#include <windows.h> /* SetConsoleCP */
#endif
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define NAME     "netlab-udp-client"
#define USAGE    "usage: " NAME " [--trace] [--wire[=json]] [HOST [PORT]]"
#define MAX_LINE 65535 /* no datagram holds more (IPv4 takes at most 65507 of it) */

static void print_trace(const nl_trace_event *ev, void *user)
{
    char line[256];
    (void)user;
    nl_trace_format(ev, line, sizeof line);
    fprintf(stderr, "[trace] %s\n", line);
}

/* --wire: the datagrams on stderr, like the trace, after each one is sent (netlab-wire). */
static void print_packet(const nl_capture_packet *p, const char *line, void *user)
{
    (void)p, (void)user;
    fprintf(stderr, "[wire] %s\n", line);
}

/* A usage error: one line on stderr, exit status 2. */
static int usage_error(const char *what, const char *arg, const char *why)
{
    fprintf(stderr, NAME ": %s '%s'%s%s; " USAGE "\n", what, arg, *why ? ": " : "", why);
    return 2;
}

/* Read one line into buf (at most cap bytes, the newline and a CRLF's \r left out). Returns
 * its length, -1 at the end of input, or cap + 1 for a longer line, whose rest is skipped. */
static long read_line(char *buf, size_t cap)
{
    size_t n = 0;
    int c;
    while ((c = getchar()) != EOF && c != '\n') {
        if (n < cap)
            buf[n] = (char)c;
        n += n <= cap;
    }
    if (c == EOF && n == 0)
        return -1;
    if (c == '\n' && n > 0 && n <= cap && buf[n - 1] == '\r')
        n--;
    return (long)n;
}

int main(int argc, char **argv)
{
#ifdef _WIN32
    /* The text on the wire is UTF-8: the Windows console shows and types it as such too. */
    SetConsoleOutputCP(CP_UTF8);
    SetConsoleCP(CP_UTF8);
#endif
    const char *args[2] = {"127.0.0.1", "9000"}; /* the notes use a LAN address; we loopback */
    nl_opts opts = {0};
    int wire_style = -1; /* --wire: -1 off; NL_CAPTURE_TEXT or NL_CAPTURE_JSON */
    nl_capture *wire = NULL;
    int nargs = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--trace") == 0) {
            opts.trace = print_trace;
        } else if (strcmp(argv[i], "--wire") == 0 || strcmp(argv[i], "--wire=json") == 0) {
            wire_style = argv[i][6] ? NL_CAPTURE_JSON : NL_CAPTURE_TEXT;
        } else if (strcmp(argv[i], "--help") == 0) {
            if (puts(USAGE) < 0 || fflush(stdout) != 0) {
                fprintf(stderr, NAME ": standard output: %s\n", strerror(errno));
                return 1;
            }
            return 0;
        } else if (argv[i][0] == '-' || nargs == 2) {
            return usage_error("bad argument", argv[i], "");
        } else {
            args[nargs++] = argv[i];
        }
    }
    /* Checked before reading any input: a typo is reported at once. Port 0 means "any port"
     * to bind(); as a destination it reaches nobody, and sendto() refuses it. */
    nl_endpoint server; /* "" would mean 0.0.0.0, "all addresses": a bind's, not a destination */
    int rc = *args[0] ? nl_endpoint_from_host(&server, args[0], nl_endpoint_parse_port(args[1]), 0)
                      : NL_EBADADDR;
    if (rc == NL_EBADPORT || (rc == 0 && server.port == 0))
        return usage_error("bad port", args[1],
                           "expected a number from 1 to 65535 "
                           "(port 0 cannot be sent to)");
    if (rc < 0)
        return usage_error("bad host", args[0], nl_strerror(rc));
    if (wire_style >= 0 && (rc = nl_capture_open_for(&wire, &server)) < 0)
        fprintf(stderr, NAME ": --wire: %s%s; going on without it\n", nl_strerror(rc),
                rc == NL_EPERM     ? " (capturing needs CAP_NET_RAW: root, or unshare -rn)"
                : rc == NL_ENOTSUP ? " (packet capture exists on Linux only)"
                                   : "");
    nl_udp *sd; /* sd = socket.socket(type=socket.SOCK_DGRAM) */
    if ((rc = nl_udp_open(&sd, server.family, &opts)) < 0) {
        fprintf(stderr, NAME ": socket: %s\n", nl_strerror(rc));
        nl_capture_close(wire);
        return 1;
    }
    static char data[MAX_LINE];
    int tty = isatty(STDIN_FILENO), status = 0;
    for (unsigned long lineno = 1;; lineno++) {
        /* data = input("请输入发送数据: ") */
        if (tty && (fputs("请输入发送数据: ", stdout) == EOF || fflush(stdout) != 0)) {
            fprintf(stderr, NAME ": standard output: %s\n", strerror(errno));
            status = 1;
            break;
        }
        long len = read_line(data, sizeof data);
        if (len < 0) { /* end of input quits, like q */
            if (ferror(stdin)) {
                fprintf(stderr, NAME ": standard input: %s\n", strerror(errno));
                status = 1;
            } else if (tty && (putchar('\n') == EOF || fflush(stdout) != 0)) {
                status = 1; /* Ctrl-D: end the prompt's line, so the shell's starts afresh */
            }
            break;
        }
        if (len == 1 && data[0] == 'q')
            break;
        if ((size_t)len > sizeof data) {
            fprintf(stderr,
                    NAME ": line %lu: longer than %zu bytes, more than one datagram "
                         "holds: not sent\n",
                    lineno, sizeof data);
            status = 1;
            continue;
        }
        long n = nl_udp_send_to(sd, data, (size_t)len, &server, -1); /* sd.sendto(...) */
        if (n < 0) {
            fprintf(stderr, NAME ": line %lu: sendto: %s\n", lineno, nl_strerror((int)n));
            status = 1;
        }
        nl_capture_drain(wire, 50, 500, wire_style, print_packet, NULL); /* nothing comes back */
    }
    nl_udp_close(sd); /* sd.close() */
    nl_capture_counts st;
    if (wire && nl_capture_stats(wire, &st) == 0) { /* whether anything was missed */
        fprintf(stderr, "[wire] %llu packets, %llu missed\n", (unsigned long long)st.decoded,
                (unsigned long long)st.drops);
        status = st.drops ? 1 : status;
    }
    nl_capture_close(wire);
    return status;
}
