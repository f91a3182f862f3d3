/* netlab-tcp-server: the course's TCP echo server (TCP应用流程, 服务端).
 * Listens on 0.0.0.0:9000 and sends every byte a client sends straight back.
 * With --port 0 the system picks a free port; the server then says which on stderr.
 * Exit status: 1 when the socket or standard output fails, 2 for a usage error.
 * Build it on its own: cc netlab-tcp-server.c $(pkg-config --cflags --libs netlab) */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <errno.h>
#include <netlab.h>
#ifdef _WIN32
#include <windows.h> /* SetConsoleCP */
#endif
#include <stdio.h>
#include <string.h>
#include <time.h>

#define NAME  "netlab-tcp-server"
#define USAGE "usage: " NAME " [--host H] [--port P] [--trace] [--wire[=json]]"

static void print_trace(const nl_trace_event *ev, void *user)
{
    char line[256];
    (void)user;
    nl_trace_format(ev, line, sizeof line);
    fprintf(stderr, "[trace] %s\n", line);
}

/* --wire: the packets of the port on stderr, like the trace, after each step (netlab-wire). */
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

static int wire_style = -1; /* --wire: -1 off; NL_CAPTURE_TEXT or NL_CAPTURE_JSON */
static nl_capture *wire;     /* its capture, shown after each step of each client */

/* The notes' server calls recv() once per client and never closes the client's socket: the
 * second line a client sends is never answered, and every client leaks a descriptor until the
 * server dies. TCP is a byte stream, not messages, so one recv() is not "one request" either.
 * Here each client is served until it disconnects, then closed, then the next is accepted. */
static void serve(nl_tcp *cli)
{
    char data[1024];
    long n;
    while ((n = nl_tcp_recv(cli, data, sizeof data, -1)) > 0) {   /* data = cli_sd.recv(1024) */
        int rc = nl_tcp_send_all(cli, data, (size_t)n, NULL, -1); /* cli_sd.send(data) */
        if (rc < 0) {
            n = rc;
            break;
        }
        nl_capture_drain(wire, 50, 500, wire_style, print_packet, NULL); /* data, ACKs */
    }
    if (n != NL_EOF) /* NL_EOF is the client closing normally; anything else is worth a word */
        fprintf(stderr, NAME ": client: %s\n", nl_strerror((int)n));
}

int main(int argc, char **argv)
{
    const char *host = "0.0.0.0", *port_text = "9000";
    nl_opts opts = {0};
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
            opts.trace = print_trace;
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
    nl_endpoint local;
    int rc = nl_endpoint_from_host(&local, host, port, NL_RESOLVE_ANY);
    if (rc < 0)
        return usage_error("bad host", host, nl_strerror(rc));
    char who[NL_ENDPOINT_STRLEN];
    nl_tcp *sd; /* socket(), bind(('0.0.0.0', 9000)), listen() in one call */
    if ((rc = nl_tcp_listen(&sd, &local, 0, &opts)) < 0) {
        nl_endpoint_format(&local, who, sizeof who);
        fprintf(stderr, NAME ": listen %s: %s\n", who, nl_strerror(rc));
        return 1;
    }
    if (port == 0 && nl_tcp_local(sd, &local) == 0) { /* sd.getsockname(): the chosen port */
        nl_endpoint_format(&local, who, sizeof who);
        fprintf(stderr, NAME ": listening on %s\n", who);
    }
    if (wire_style >= 0 && (rc = nl_capture_open_for(&wire, &local)) < 0)
        fprintf(stderr, NAME ": --wire: %s%s; going on without it\n", nl_strerror(rc),
                rc == NL_EPERM     ? " (capturing needs CAP_NET_RAW: root, or unshare -rn)"
                : rc == NL_ENOTSUP ? " (packet capture exists on Linux only)"
                                   : "");
    for (;;) {
        nl_tcp *cli; /* cli_sd, addr = sd.accept() */
        nl_endpoint addr;
        if ((rc = nl_tcp_accept(sd, &cli, &addr, -1)) < 0) {
            fprintf(stderr, NAME ": accept: %s\n", nl_strerror(rc));
            /* Out of descriptors, the client stays queued and accept() would fail again at
             * once, forever: pause a moment instead of spinning until one is free again. */
            if (rc == NL_EMFILE || rc == NL_ENFILE)
                nanosleep(&(struct timespec){0, 100 * 1000000}, NULL);
            continue;
        }
        nl_endpoint_format(&addr, who, sizeof who);
        nl_capture_drain(wire, 50, 500, wire_style, print_packet, NULL); /* the handshake */
        /* A reader that went away (EPIPE), a full disk (ENOSPC): stop, do not print into the
         * void. The message first, while errno still tells why. */
        if (printf("%s connected\n", who) < 0 || fflush(stdout) != 0) {
            perror(NAME ": standard output");
            nl_tcp_close(cli);
            nl_tcp_close(sd);
            return 1;
        }
        serve(cli);
        nl_tcp_close(cli);
        nl_capture_drain(wire, 50, 500, wire_style, print_packet, NULL); /* the close */
        if (printf("%s disconnected\n", who) < 0 || fflush(stdout) != 0) {
            perror(NAME ": standard output");
            nl_tcp_close(sd);
            return 1;
        }
    }
}
