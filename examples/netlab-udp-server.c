/* netlab-udp-server: the course's UDP server (UDP应用流程, 服务端).
 * Binds 0.0.0.0:9000 and prints each datagram as the notes' Python does: ('IP', PORT): TEXT
 * Build it on its own: cc netlab-udp-server.c $(pkg-config --cflags --libs netlab) */
#include <netlab.h>
#include <stdio.h>
#include <string.h>

#define USAGE "usage: netlab-udp-server [--host H] [--port P] [--trace]"

static void print_trace(const nl_trace_event *ev, void *user)
{
    char line[256];
    (void)user;
    nl_trace_format(ev, line, sizeof line);
    fprintf(stderr, "[trace] %s\n", line);
}

int main(int argc, char **argv)
{
    const char *host = "0.0.0.0", *port = "9000";
    nl_opts opts = {0};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) {
            host = argv[++i];
        } else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            port = argv[++i];
        } else if (strcmp(argv[i], "--trace") == 0) {
            opts.trace = print_trace; /* watch every system call the library makes */
        } else if (strcmp(argv[i], "--help") == 0) {
            puts(USAGE);
            return 0;
        } else {
            fprintf(stderr, "netlab-udp-server: bad argument '%s'; " USAGE "\n", argv[i]);
            return 2;
        }
    }
    nl_endpoint local; /* a bad host or port is a usage error: say which, exit 2 */
    int rc = nl_endpoint_from_host(&local, host, nl_endpoint_parse_port(port), NL_RESOLVE_ANY);
    if (rc < 0) {
        fprintf(stderr, "netlab-udp-server: '%s' port '%s': %s\n", host, port, nl_strerror(rc));
        return 2;
    }
    nl_udp *sd; /* sd = socket.socket(type=socket.SOCK_DGRAM); sd.bind(('0.0.0.0', 9000)) */
    if ((rc = nl_udp_open_bound(&sd, &local, &opts)) < 0) {
        fprintf(stderr, "netlab-udp-server: bind %s port %s: %s\n", host, port, nl_strerror(rc));
        return 1;
    }
    for (;;) {
        char data[1024], ip[NL_ENDPOINT_STRLEN];
        nl_endpoint addr; /* data, addr = sd.recvfrom(1024) */
        long n = nl_udp_recv_from(sd, data, sizeof data, &addr, -1);
        if (n == NL_ETRUNC) { /* Python would silently drop the rest: we say so */
            fprintf(stderr, "netlab-udp-server: datagram over %zu bytes was cut\n", sizeof data);
            n = sizeof data;
        } else if (n < 0) {
            fprintf(stderr, "netlab-udp-server: recvfrom: %s\n", nl_strerror((int)n));
            nl_udp_close(sd);
            return 1;
        }
        nl_endpoint_format_addr(&addr, ip, sizeof ip); /* print("%s: %s" % (addr, data)) */
        if (addr.family == NL_AF_INET6)
            printf("('%s', %u, 0, %u): ", ip, addr.port, (unsigned)addr.scope_id);
        else
            printf("('%s', %u): ", ip, addr.port);
        fwrite(data, 1, (size_t)n, stdout); /* verbatim, even a NUL byte */
        putchar('\n');
        fflush(stdout);
    }
}
