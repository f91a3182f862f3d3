/* netlab-udp-server: the course's UDP server (UDP应用流程, 服务端).
 * Binds 0.0.0.0:9000 and prints each datagram as the notes' Python does: ('IP', PORT): TEXT
 * With --port 0 the system picks a free port; the server then says which on stderr.
 * Exit status: 1 when the socket or standard output fails, 2 for a usage error.
 * Build it on its own: cc netlab-udp-server.c $(pkg-config --cflags --libs netlab) */
#include <errno.h>
#include <netlab.h>
#ifdef _WIN32
#include <windows.h> /* SetConsoleCP */
#endif
#include <stdio.h>
#include <string.h>

#define NAME  "netlab-udp-server"
#define USAGE "usage: " NAME " [--host H] [--port P] [--trace] [--wire[=json]]"

static void print_trace(const nl_trace_event *ev, void *user)
{
    char line[256];
    (void)user;
    nl_trace_format(ev, line, sizeof line);
    fprintf(stderr, "[trace] %s\n", line);
}

/* --wire: the datagrams on stderr, like the trace, as each one is received (netlab-wire). */
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

int main(int argc, char **argv)
{
    const char *host = "0.0.0.0", *port_text = "9000";
    nl_opts opts = {0};
    int wire_style = -1; /* --wire: -1 off; NL_CAPTURE_TEXT or NL_CAPTURE_JSON */
    nl_capture *wire = NULL;
#ifdef _WIN32
    /* The text on the wire is UTF-8: the Windows console shows and types it as such too. */
    SetConsoleOutputCP(CP_UTF8);
    SetConsoleCP(CP_UTF8);
#endif
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) {
            host = argv[++i];
        } else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            port_text = argv[++i];
        } else if (strcmp(argv[i], "--trace") == 0) {
            opts.trace = print_trace; /* watch every system call the library makes */
        } else if (strcmp(argv[i], "--wire") == 0 || strcmp(argv[i], "--wire=json") == 0) {
            wire_style = argv[i][6] ? NL_CAPTURE_JSON : NL_CAPTURE_TEXT;
        } else if (strcmp(argv[i], "--help") == 0) {
            if (puts(USAGE) >= 0 && fflush(stdout) == 0)
                return 0;
            perror(NAME ": standard output");
            return 1;
        } else {
            return usage_error("bad argument", argv[i], "");
        }
    }
    int port = nl_endpoint_parse_port(port_text); /* 0: the system picks a free port */
    if (port < 0)
        return usage_error("bad port", port_text, "expected a number from 0 to 65535");
    nl_endpoint local; /* a bad host is a usage error too: say which, exit 2 */
    int rc = nl_endpoint_from_host(&local, host, port, NL_RESOLVE_ANY);
    if (rc < 0)
        return usage_error("bad host", host, nl_strerror(rc));
    char text[NL_ENDPOINT_STRLEN];
    nl_udp *sd; /* sd = socket.socket(type=socket.SOCK_DGRAM); sd.bind(('0.0.0.0', 9000)) */
    if ((rc = nl_udp_open_bound(&sd, &local, &opts)) < 0) {
        nl_endpoint_format(&local, text, sizeof text);
        fprintf(stderr, NAME ": bind %s: %s\n", text, nl_strerror(rc));
        return 1;
    }
    if (port == 0 && nl_udp_local(sd, &local) == 0) { /* sd.getsockname(): the chosen port */
        nl_endpoint_format(&local, text, sizeof text);
        fprintf(stderr, NAME ": listening on %s\n", text);
    }
    if (wire_style >= 0 && (rc = nl_capture_open_for(&wire, &local)) < 0)
        fprintf(stderr, NAME ": --wire: %s%s; going on without it\n", nl_strerror(rc),
                rc == NL_EPERM     ? " (capturing needs CAP_NET_RAW: root, or unshare -rn)"
                : rc == NL_ENOTSUP ? " (packet capture exists on Linux only)"
                                   : "");
    for (;;) {
        char data[1024], ip[NL_ENDPOINT_STRLEN];
        nl_endpoint addr; /* data, addr = sd.recvfrom(1024) */
        long n = nl_udp_recv_from(sd, data, sizeof data, &addr, -1);
        if (n == NL_ETRUNC) { /* Python would silently drop the rest: we say so */
            fprintf(stderr, NAME ": datagram over %zu bytes was cut\n", sizeof data);
            n = sizeof data;
        } else if (n < 0) {
            fprintf(stderr, NAME ": recvfrom: %s\n", nl_strerror((int)n));
            nl_udp_close(sd);
            return 1;
        }
        nl_capture_drain(wire, 20, 200, wire_style, print_packet, NULL); /* nothing answers */
        /* print("%s: %s" % (addr, data)): Python puts an IPv6 zone in the tuple only,
         * ('fe80::1', 9000, 0, 2), never inside the address text. */
        uint32_t scope = addr.scope_id;
        addr.scope_id = 0;
        nl_endpoint_format_addr(&addr, ip, sizeof ip);
        if (addr.family == NL_AF_INET6)
            rc = printf("('%s', %u, 0, %u): ", ip, addr.port, (unsigned)scope);
        else
            rc = printf("('%s', %u): ", ip, addr.port);
        /* The datagram verbatim, even a NUL byte; then one line per datagram, flushed. A
         * reader that went away (EPIPE), a full disk (ENOSPC): stop, do not print into void. */
        if (rc < 0 || fwrite(data, 1, (size_t)n, stdout) != (size_t)n || putchar('\n') == EOF ||
            fflush(stdout) != 0) {
            perror(NAME ": standard output"); /* first, while errno still tells why */
            nl_udp_close(sd);
            return 1;
        }
    }
}
