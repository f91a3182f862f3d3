/* netlab-udp-client: the course's UDP client (UDP应用流程, 客户端).
 * Sends each line typed as one datagram to HOST:PORT (default 127.0.0.1:9000); q quits.
 * Build it on its own: cc netlab-udp-client.c $(pkg-config --cflags --libs netlab) */
#define _POSIX_C_SOURCE 200809L /* getline, isatty */
#include <netlab.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define USAGE "usage: netlab-udp-client [--trace] [HOST [PORT]]"

static void print_trace(const nl_trace_event *ev, void *user)
{
    char line[256];
    (void)user;
    nl_trace_format(ev, line, sizeof line);
    fprintf(stderr, "[trace] %s\n", line);
}

int main(int argc, char **argv)
{
    const char *args[2] = {"127.0.0.1", "9000"}; /* the notes use a LAN address; we loopback */
    nl_opts opts = {0};
    int nargs = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--trace") == 0) {
            opts.trace = print_trace;
        } else if (strcmp(argv[i], "--help") == 0) {
            puts(USAGE);
            return 0;
        } else if (argv[i][0] == '-' || nargs == 2) {
            fprintf(stderr, "netlab-udp-client: bad argument '%s'; " USAGE "\n", argv[i]);
            return 2;
        } else {
            args[nargs++] = argv[i];
        }
    }
    nl_endpoint server; /* checked before reading any input: a typo is reported at once */
    int rc = nl_endpoint_from_host(&server, args[0], nl_endpoint_parse_port(args[1]), 0);
    if (rc < 0) {
        fprintf(stderr, "netlab-udp-client: '%s' port '%s': %s\n", args[0], args[1], nl_strerror(rc));
        return 2;
    }
    nl_udp *sd; /* sd = socket.socket(type=socket.SOCK_DGRAM) */
    if ((rc = nl_udp_open(&sd, server.family, &opts)) < 0) {
        fprintf(stderr, "netlab-udp-client: socket: %s\n", nl_strerror(rc));
        return 1;
    }
    char *data = NULL;
    size_t cap = 0;
    for (;;) {
        if (isatty(STDIN_FILENO)) { /* data = input("请输入发送数据: ") */
            fputs("请输入发送数据: ", stdout);
            fflush(stdout);
        }
        ssize_t len = getline(&data, &cap, stdin);
        if (len < 0) /* end of input quits, like q */
            break;
        data[strcspn(data, "\r\n")] = '\0';
        if (strcmp(data, "q") == 0)
            break;
        rc = (int)nl_udp_send_to(sd, data, strlen(data), &server, -1); /* sd.sendto(...) */
        if (rc < 0)
            fprintf(stderr, "netlab-udp-client: sendto: %s\n", nl_strerror(rc));
    }
    free(data);
    nl_udp_close(sd); /* sd.close() */
    return 0;
}
