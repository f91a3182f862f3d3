/* netlab-tcp-client: the course's TCP client (TCP应用流程, 客户端).
 * Connects to HOST:PORT (default 127.0.0.1:9000), sends each line typed, prints the echo.
 * A line is every byte up to the newline, sent as it is (a \r or NUL inside included); only
 * the \r of a CRLF line ending is dropped, like the newline itself. A line may be of any
 * length: it goes out in pieces while the echo is read back, so neither side waits on a full
 * buffer, and memory stays bounded. 10 s without progress either way is a time-out.
 * Exit status: 0 at the end of input or q, 1 when the connection, input or output fails,
 * 2 for a usage error.
 * Build it on its own: cc netlab-tcp-client.c $(pkg-config --cflags --libs netlab) */
#define _POSIX_C_SOURCE 200809L /* isatty */
#include <errno.h>
#include <netlab.h>
#ifdef _WIN32
#include <winsock2.h> /* Windows has poll() for sockets as WSAPoll() */
#include <windows.h>  /* SetConsoleCP */
#define poll(fds, n, timeout) WSAPoll((fds), (n), (timeout))
#else
#include <poll.h>
#endif
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define NAME    "netlab-tcp-client"
#define USAGE   "usage: " NAME " [--trace] [--wire[=json]] [HOST [PORT]]"
#define CHUNK   65536 /* a line is read and sent this much at a time */
#define WAIT_MS 10000 /* no progress for this long: give up */

static void print_trace(const nl_trace_event *ev, void *user)
{
    char line[256];
    (void)user;
    nl_trace_format(ev, line, sizeof line);
    fprintf(stderr, "[trace] %s\n", line);
}

/* --wire: the connection's packets on stderr, like the trace, after each step (netlab-wire). */
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

/* Input or output that fails (EIO, EPIPE, ENOSPC...) is reported, never silently dropped. */
static int io_failed(const char *which)
{
    fprintf(stderr, NAME ": standard %s: %s\n", which, strerror(errno));
    return NL_EIO;
}

/* One piece of a line: up to cap bytes of it. *ended is set once the line is complete (its
 * newline read, or the end of input). The \r of a CRLF is dropped even across pieces, by
 * looking at the byte after a full piece. Returns the piece's length, or -1 when the input
 * ended before a new line began. */
static long read_piece(char *buf, size_t cap, int *ended)
{
    size_t n = 0;
    int c = 0;
    while (n < cap && (c = getchar()) != EOF && c != '\n')
        buf[n++] = (char)c;
    if (n == cap && (c = getchar()) != EOF && c != '\n')
        ungetc(c, stdin);
    *ended = c == EOF || c == '\n';
    if (c == EOF && n == 0)
        return -1;
    if (c == '\n' && n > 0 && buf[n - 1] == '\r')
        n--;
    return (long)n;
}

/* Send one line that begins with buf[0..len) and read its echo back at the same time, printing
 * it as it comes. Waiting on both directions at once is what keeps a long line from
 * deadlocking: a server that echoes as it reads stops reading when its replies are not read.
 * Returns 0, NL_EOF at the end of input, or an error (reported here). */
static int exchange(nl_tcp *sd, char *buf, long len, int ended)
{
    char echo[CHUNK];
    unsigned long long sent = 0, back = 0; /* bytes of this line sent, and echoed */
    size_t off = 0;
    for (;;) {
        if (off == (size_t)len && !ended) { /* the next piece of a long line */
            off = 0;
            if ((len = read_piece(buf, CHUNK, &ended)) < 0) {
                if (ferror(stdin))
                    return io_failed("input");
                len = 0; /* the input ended inside the line: that ends the line */
                ended = 1;
            }
        }
        if (off == (size_t)len && ended && back == sent)
            break;
        struct pollfd p = {nl_tcp_fd(sd), (short)(back < sent ? POLLIN : 0), 0};
        if (off < (size_t)len)
            p.events |= POLLOUT;
        int ready = poll(&p, 1, WAIT_MS);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready < 0) {
            fprintf(stderr, NAME ": poll: %s\n", strerror(errno));
            return NL_EIO;
        }
        if (ready == 0) {
            if (back < sent)
                fprintf(stderr,
                        NAME ": timed out: no echo from the server for %d s "
                             "(%llu of the %llu bytes sent came back)\n",
                        WAIT_MS / 1000, back, sent);
            else
                fprintf(stderr,
                        NAME ": timed out: the server took no data for %d s "
                             "(%llu bytes of the line sent)\n",
                        WAIT_MS / 1000, sent);
            return NL_ETIMEDOUT;
        }
        if (back < sent) { /* print(sd.recv(1024).decode()), as much as has come */
            size_t want = sent - back < sizeof echo ? (size_t)(sent - back) : sizeof echo;
            long n = nl_tcp_recv(sd, echo, want, 0);
            if (n == NL_EOF) {
                fprintf(stderr,
                        NAME ": the server closed the connection with %llu bytes of "
                             "the echo still due\n",
                        sent - back);
                return NL_EOF;
            }
            if (n < 0 && n != NL_EAGAIN) {
                fprintf(stderr, NAME ": recv: %s\n", nl_strerror((int)n));
                return (int)n;
            }
            if (n > 0 && fwrite(echo, 1, (size_t)n, stdout) != (size_t)n)
                return io_failed("output");
            back += n > 0 ? (unsigned long long)n : 0;
        }
        if (off < (size_t)len) { /* sd.send(data.encode()), as much as fits now */
            long n = nl_tcp_send(sd, buf + off, (size_t)len - off, 0);
            if (n < 0 && n != NL_EAGAIN) {
                fprintf(stderr, NAME ": send: %s\n", nl_strerror((int)n));
                return (int)n;
            }
            off += n > 0 ? (size_t)n : 0;
            sent += n > 0 ? (unsigned long long)n : 0;
        }
    }
    if (putchar('\n') == EOF || fflush(stdout) != 0)
        return io_failed("output");
    return 0;
}

int main(int argc, char **argv)
{
    const char *args[2] = {"127.0.0.1", "9000"};
    nl_opts opts = {0};
    int wire_style = -1; /* --wire: -1 off; NL_CAPTURE_TEXT or NL_CAPTURE_JSON */
    nl_capture *wire = NULL;
    int nargs = 0;
#ifdef _WIN32
    /* The text on the wire is UTF-8: the Windows console shows and types it as such too. */
    SetConsoleOutputCP(CP_UTF8);
    SetConsoleCP(CP_UTF8);
#endif
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--trace") == 0) {
            opts.trace = print_trace;
        } else if (strcmp(argv[i], "--wire") == 0 || strcmp(argv[i], "--wire=json") == 0) {
            wire_style = argv[i][6] ? NL_CAPTURE_JSON : NL_CAPTURE_TEXT;
        } else if (strcmp(argv[i], "--help") == 0) {
            if (puts(USAGE) < 0 || fflush(stdout) != 0)
                return io_failed("output") < 0; /* exit 1 */
            return 0;
        } else if (argv[i][0] == '-' || nargs == 2) {
            return usage_error("bad argument", argv[i], "");
        } else {
            args[nargs++] = argv[i];
        }
    }
    int port = nl_endpoint_parse_port(args[1]);
    if (port <= 0) /* found by fuzzing: nobody listens on port 0, connect() cannot reach it */
        return usage_error("bad port", args[1],
                           "expected a number from 1 to 65535 "
                           "(nobody listens on port 0)");
    nl_endpoint server; /* "" is no host: the library would read it as 0.0.0.0, for binding */
    int rc = *args[0] == '\0' ? NL_EBADADDR : nl_endpoint_from_host(&server, args[0], port, 0);
    if (rc < 0)
        return usage_error("bad host", args[0], nl_strerror(rc));
    if (wire_style >= 0 && (rc = nl_capture_open_for(&wire, &server)) < 0)
        fprintf(stderr, NAME ": --wire: %s%s; going on without it\n", nl_strerror(rc),
                rc == NL_EPERM     ? " (capturing needs CAP_NET_RAW: root, or unshare -rn)"
                : rc == NL_ENOTSUP ? " (packet capture exists on Linux only)"
                                   : "");
    nl_tcp *sd; /* sd = socket.socket(); sd.connect(...): the three-way handshake, 5 s at most */
    if ((rc = nl_tcp_connect(&sd, &server, 5000, &opts)) < 0) {
        char text[NL_ENDPOINT_STRLEN];
        nl_endpoint_format(&server, text, sizeof text);
        fprintf(stderr, NAME ": connect %s: %s\n", text, nl_strerror(rc));
        nl_capture_drain(wire, 100, 1000, wire_style, print_packet, NULL); /* SYN, RST */
        nl_capture_close(wire);
        return 1;
    }
    nl_capture_drain(wire, 100, 1000, wire_style, print_packet, NULL); /* the handshake */
    static char data[CHUNK];
    int tty = isatty(STDIN_FILENO), ended;
    for (rc = 0; rc == 0;) {
        if (tty && (fputs("请输入发送数据: ", stdout) == EOF || fflush(stdout) != 0)) {
            rc = io_failed("output");
            break;
        }
        long len = read_piece(data, sizeof data, &ended);
        if (len < 0) { /* end of input quits, like q */
            if (ferror(stdin))
                rc = io_failed("input");
            else if (tty && (putchar('\n') == EOF || fflush(stdout) != 0))
                rc = io_failed("output"); /* Ctrl-D: the shell's prompt on a new line */
            break;
        }
        if (len == 1 && ended && data[0] == 'q')
            break;
        rc = exchange(sd, data, len, ended);
        nl_capture_drain(wire, 100, 1000, wire_style, print_packet, NULL); /* data, ACKs */
    }
    nl_tcp_close(sd);
    nl_capture_counts st;
    if (wire && nl_capture_drain(wire, 100, 1000, wire_style, print_packet, NULL) >= 0 &&
        nl_capture_stats(wire, &st) == 0) { /* the close, and whether anything was missed */
        fprintf(stderr, "[wire] %llu packets, %llu missed\n", (unsigned long long)st.decoded,
                (unsigned long long)st.drops);
        rc = st.drops ? NL_EIO : rc;
    }
    nl_capture_close(wire);
    return rc < 0 ? 1 : 0;
}
