/* netlab-tcp-client: the course's TCP client (TCP应用流程, 客户端).
 * Connects to HOST:PORT (default 127.0.0.1:9000), sends each line typed, prints the echo.
 * Build it on its own: cc netlab-tcp-client.c $(pkg-config --cflags --libs netlab) */
#define _POSIX_C_SOURCE 200809L /* getline, isatty */
#include <netlab.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define USAGE "usage: netlab-tcp-client [--trace] [HOST [PORT]]"

static void print_trace(const nl_trace_event *ev, void *user)
{
    char line[256];
    (void)user;
    nl_trace_format(ev, line, sizeof line);
    fprintf(stderr, "[trace] %s\n", line);
}

/* TCP is a byte stream: one recv() may return part of the echo. Read until all of it is back. */
static int print_echo(nl_tcp *sd, size_t len)
{
    char buf[1024];
    while (len > 0) {
        long n = nl_tcp_recv(sd, buf, len < sizeof buf ? len : sizeof buf, 10000);
        if (n < 0)
            return (int)n;
        fwrite(buf, 1, (size_t)n, stdout);
        len -= (size_t)n;
    }
    putchar('\n');
    return fflush(stdout) == 0 ? 0 : NL_EIO;
}

int main(int argc, char **argv)
{
    const char *args[2] = {"127.0.0.1", "9000"};
    nl_opts opts = {0};
    int nargs = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--trace") == 0) {
            opts.trace = print_trace;
        } else if (strcmp(argv[i], "--help") == 0) {
            puts(USAGE);
            return 0;
        } else if (argv[i][0] == '-' || nargs == 2) {
            fprintf(stderr, "netlab-tcp-client: bad argument '%s'; " USAGE "\n", argv[i]);
            return 2;
        } else {
            args[nargs++] = argv[i];
        }
    }
    nl_endpoint server;
    int rc = nl_endpoint_from_host(&server, args[0], nl_endpoint_parse_port(args[1]), 0);
    if (rc == 0 && server.port == 0) /* nobody listens on port 0: a typo, found by fuzzing */
        rc = NL_EBADPORT;
    if (rc < 0) {
        fprintf(stderr, "netlab-tcp-client: '%s' port '%s': %s\n", args[0], args[1], nl_strerror(rc));
        return 2;
    }
    nl_tcp *sd; /* sd = socket.socket(); sd.connect(...): the three-way handshake, 5 s at most */
    if ((rc = nl_tcp_connect(&sd, &server, 5000, &opts)) < 0) {
        fprintf(stderr, "netlab-tcp-client: connect %s port %s: %s\n", args[0], args[1], nl_strerror(rc));
        return 1;
    }
    char *data = NULL;
    size_t cap = 0;
    for (rc = 0; rc == 0;) {
        if (isatty(STDIN_FILENO)) {
            fputs("请输入发送数据: ", stdout);
            fflush(stdout);
        }
        if (getline(&data, &cap, stdin) < 0)
            break;
        data[strcspn(data, "\r\n")] = '\0';
        if (strcmp(data, "q") == 0)
            break;
        rc = nl_tcp_send_all(sd, data, strlen(data), NULL, 10000); /* sd.send(data.encode()) */
        if (rc == 0)
            rc = print_echo(sd, strlen(data)); /* print(sd.recv(1024).decode()) */
    }
    if (rc < 0)
        fprintf(stderr, "netlab-tcp-client: %s\n", nl_strerror(rc));
    free(data);
    nl_tcp_close(sd);
    return rc < 0 ? 1 : 0;
}
