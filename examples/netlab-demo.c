/* netlab-demo: the course's flows, run on loopback in one process, with a readable transcript.
 *
 *   UDP: a server bound like the notes' (127.0.0.1 here, any free port) and a client that
 *        sends three lines, one of them Chinese; the server prints them as the notes do.
 *   TCP: the three-way handshake (connect/accept), then an echo of three lines.
 *   Chat: two nl_chat_session peers (the notes' exercise): a stranger's datagram is dropped,
 *        messages go both ways, then one side leaves and both see the chat end (同步退出).
 *
 * One thread is enough: a UDP datagram waits in the server's queue until it is read, and the
 * kernel completes a TCP handshake before accept() is called. Every wait has a timeout, so the
 * demo can never hang. Exit 0 when every step checked out, 1 otherwise.
 *
 * --wire shows the packets of the UDP and TCP flows beside the transcript (see netlab-wire):
 * after each step the demo waits until the packets of that step have been acknowledged, so the
 * timeline is always the same (each data segment, then the ACK that answers it). Capturing
 * needs CAP_NET_RAW: without it the demo makes a user and network namespace of its own, where
 * it has the capability, and runs there on its own loopback. Where neither works it says why
 * and shows the TCP_INFO counters (segments out and in, bytes acknowledged) instead. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* unshare() */
#endif
#include <errno.h>
#include <netlab.h>
#include <stdio.h>
#include <string.h>
#ifdef _WIN32
#include <winsock2.h> /* Windows has poll() for sockets as WSAPoll() */
#include <windows.h>  /* SetConsoleCP */
#define poll(fds, n, timeout) WSAPoll((fds), (n), (timeout))
#else
#include <poll.h>
#endif
#ifdef __linux__ /* --wire: a namespace of its own, TCP_INFO */
#include <fcntl.h>
#include <linux/tcp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

#define NAME "netlab-demo"
#define USAGE "usage: " NAME " [--trace] [--wire[=json]]"
#define T 5000 /* ms: every blocking call gives up after 5 s */

/* ---- the wire ------------------------------------------------------------------------------ */

typedef struct wire {
    int on;            /* --wire given */
    int style;         /* NL_CAPTURE_TEXT or NL_CAPTURE_JSON */
    int counters;      /* capture impossible: show TCP_INFO counters instead */
    nl_capture *cap;   /* the capture of the flow running now */
    uint32_t acked[2]; /* highest relative ACK seen for data sent [0] to, [1] by the server */
    int datagrams;     /* UDP datagrams seen */
} wire;

#ifdef __linux__
static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC), ok;
    if (fd < 0)
        return -1;
    ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
    close(fd);
    return ok ? 0 : -1;
}

/* Become root of a new user namespace with a network namespace of its own, and bring its
 * loopback up: there the demo may capture. On failure `why` says what did not work. */
static int enter_namespace(char *why, size_t size)
{
    char map[64];
    unsigned uid = (unsigned)getuid(), gid = (unsigned)getgid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0) {
        int err = errno;
        snprintf(why, size, "unshare(CLONE_NEWUSER|CLONE_NEWNET): %s%s", strerror(err),
                 err == ENOSPC  ? ": user namespaces are off or at their limit "
                                  "(/proc/sys/user/max_user_namespaces)"
                 : err == EPERM ? ": this system does not let users make namespaces"
                                : "");
        return -1;
    }
    /* Map ourselves to root inside; setgroups must be denied before gid_map is written. */
    snprintf(map, sizeof map, "0 %u 1", uid);
    if (write_file("/proc/self/uid_map", map) < 0 ||
        write_file("/proc/self/setgroups", "deny") < 0 ||
        (snprintf(map, sizeof map, "0 %u 1", gid), write_file("/proc/self/gid_map", map)) < 0) {
        snprintf(why, size, "user namespace id maps: %s", strerror(errno));
        return -1;
    }
    struct ifreq ifr = {0};
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = -1;
    strcpy(ifr.ifr_name, "lo");
    if (fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
        ifr.ifr_flags |= IFF_UP;
        rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
    }
    if (rc < 0)
        snprintf(why, size, "bringing up lo in the new namespace: %s", strerror(errno));
    if (fd >= 0)
        close(fd);
    return rc;
}
#endif

/* Find out how the demo can capture: here, in a namespace of its own, or not at all. */
static void wire_setup(wire *w)
{
    nl_capture *probe;
    char why[160];
    int rc = nl_capture_open(&probe, "lo", 9, 0);

    nl_capture_close(probe);
    if (rc == 0) {
        printf("wire: capturing on lo (privileged: CAP_NET_RAW)\n");
        return;
    }
    if (rc == NL_ENOTSUP) { /* Windows, or a build without Linux's calls */
        printf("wire: packet capture is not available on this system (it needs Linux's packet "
               "sockets); going on without it\n");
        w->on = 0;
        return;
    }
#ifdef __linux__
    if (rc == NL_EPERM) {
        if (enter_namespace(why, sizeof why) == 0 &&
            (rc = nl_capture_open(&probe, "lo", 9, 0)) == 0) {
            nl_capture_close(probe);
            printf("wire: not privileged, so the flows run in a user and network namespace of "
                   "their own, where capturing is allowed (unshare)\n");
            return;
        }
        if (rc != 0 && rc != NL_EPERM)
            snprintf(why, sizeof why, "capture in the new namespace: %s", nl_strerror(rc));
    } else
#endif
    {
        snprintf(why, sizeof why, "capture on lo: %s", nl_strerror(rc));
    }
    printf("wire: cannot capture packets (%s); showing TCP_INFO counters instead\n", why);
    w->counters = 1;
}

static void wire_open(wire *w, const nl_endpoint *server)
{
    int rc;
    memset(w->acked, 0, sizeof w->acked);
    w->datagrams = 0;
    if (!w->on || w->counters)
        return;
    if ((rc = nl_capture_open(&w->cap, "lo", server->port, 0)) < 0) {
        printf("wire: capture on lo: %s; showing TCP_INFO counters instead\n", nl_strerror(rc));
        w->counters = 1;
    }
}

/* Print captured packets until `done` holds (or 2 s pass, which the transcript then says). */
static void wire_until(wire *w, int dir, uint32_t acked, int datagrams)
{
    if (!w->cap)
        return;
    for (;;) {
        if (dir >= 0 ? w->acked[dir] >= acked : w->datagrams >= datagrams)
            return;
        nl_capture_packet p[16];
        int n = nl_capture_read(w->cap, p, 16, 2000);
        if (n < 0) {
            printf("    [wire] (no packet within 2 s: %s)\n", nl_strerror(n));
            return;
        }
        for (int i = 0; i < n; i++) {
            char line[512];
            nl_capture_format(&p[i], w->style, line, sizeof line);
            printf("    [wire] %s\n", line);
            if (p[i].proto == NL_CAPTURE_UDP)
                w->datagrams++;
            else if ((p[i].flags & NL_CAPTURE_ACK) && p[i].rel_ack > w->acked[p[i].to_server])
                w->acked[p[i].to_server] = p[i].rel_ack; /* to the server: acks its data */
        }
    }
}

/* Without a capture: what the kernel counted for this connection. */
static void wire_counters(const wire *w, const char *who, const nl_tcp *t)
{
#ifdef __linux__
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    if (!w->on || !w->counters)
        return;
    memset(&ti, 0, sizeof ti);
    if (getsockopt(nl_tcp_fd(t), IPPROTO_TCP, TCP_INFO, &ti, &len) < 0) {
        printf("    [tcp_info] %s: %s\n", who, strerror(errno));
        return;
    }
    printf("    [tcp_info] %s: segments out %u, in %u; bytes acknowledged %llu\n", who,
           ti.tcpi_segs_out, ti.tcpi_segs_in, (unsigned long long)ti.tcpi_bytes_acked);
#else
    (void)w, (void)who, (void)t; /* only Linux has TCP_INFO; wire_setup() turned --wire off */
#endif
}

static void wire_close(wire *w, nl_capture_counts *st)
{
    memset(st, 0, sizeof *st);
    if (!w->cap)
        return;
    nl_capture_stats(w->cap, st);
    if (w->style == NL_CAPTURE_JSON)
        printf("    [wire] {\"stats\":{\"received\":%llu,\"drops\":%llu}}\n",
               (unsigned long long)st->received, (unsigned long long)st->drops);
    else
        printf("    [wire] %llu packets, %llu missed\n", (unsigned long long)st->decoded,
               (unsigned long long)st->drops);
    nl_capture_close(w->cap);
    w->cap = NULL;
}

static const char *lines[] = {"hello", "你好，世界", "q is just text here"};

static void print_trace(const nl_trace_event *ev, void *user)
{
    char line[256];
    (void)user;
    nl_trace_format(ev, line, sizeof line);
    printf("    [trace] %s\n", line);
}

static int fail(const char *what, long rc)
{
    printf("FAILED: %s: %s (%s)\n", what, nl_strerror((int)rc), nl_err_name((int)rc));
    return 1;
}

static int udp_flow(const nl_opts *opts, wire *w)
{
    nl_endpoint local, from;
    nl_udp *server = NULL, *client = NULL;
    char buf[1024], text[NL_ENDPOINT_STRLEN];
    long rc;

    printf("== UDP: server binds, client sends, server recvfrom ==\n");
    nl_endpoint_parse(&local, "127.0.0.1", 0);
    if ((rc = nl_udp_open_bound(&server, &local, opts)) < 0 || (rc = nl_udp_local(server, &local)))
        return fail("server bind", rc);
    nl_endpoint_format(&local, text, sizeof text);
    printf("server: bound to %s, waiting in recvfrom(1024)\n", text);
    wire_open(w, &local);
    if ((rc = nl_udp_open(&client, NL_AF_INET, opts)) < 0) {
        nl_udp_close(server);
        return fail("client socket", rc);
    }
    for (size_t i = 0; i < sizeof lines / sizeof *lines && rc >= 0; i++) {
        size_t len = strlen(lines[i]);
        printf("client: sendto %s \"%s\"\n", text, lines[i]);
        if ((rc = nl_udp_send_to(client, lines[i], len, &local, T)) < 0)
            break;
        wire_until(w, -1, 0, (int)i + 1);
        if ((rc = nl_udp_recv_from(server, buf, sizeof buf, &from, T)) < 0)
            break;
        char ip[NL_ENDPOINT_STRLEN];
        nl_endpoint_format_addr(&from, ip, sizeof ip);
        printf("server: ('%s', %u): %.*s\n", ip, from.port, (int)rc, buf);
        if ((size_t)rc != len || memcmp(buf, lines[i], len) != 0)
            rc = NL_EPROTO; /* what arrived is not what was sent */
    }
    nl_udp_close(client);
    nl_udp_close(server);
    nl_capture_counts st;
    if (w->cap)
        printf("UDP on the wire: one datagram per sendto, no handshake, nothing acknowledged\n");
    wire_close(w, &st);
    if (rc >= 0 && st.drops)
        rc = NL_EPROTO; /* a missed packet is never silent */
    return rc < 0 ? fail("udp exchange", rc) : 0;
}

static int tcp_flow(const nl_opts *opts, wire *w)
{
    nl_endpoint local, peer;
    nl_tcp *listener = NULL, *client = NULL, *conn = NULL;
    char buf[1024], text[NL_ENDPOINT_STRLEN];
    long rc;

    printf("== TCP: listen, connect (three-way handshake), accept, echo ==\n");
    nl_endpoint_parse(&local, "127.0.0.1", 0);
    if ((rc = nl_tcp_listen(&listener, &local, 0, opts)) < 0 || (rc = nl_tcp_local(listener, &local)))
        return fail("listen", rc);
    nl_endpoint_format(&local, text, sizeof text);
    printf("server: listening on %s\n", text);
    wire_open(w, &local);
    if ((rc = nl_tcp_connect(&client, &local, T, opts)) == 0)
        rc = nl_tcp_accept(listener, &conn, &peer, T);
    if (rc < 0) {
        nl_tcp_close(client);
        nl_tcp_close(listener);
        return fail("connect/accept", rc);
    }
    nl_endpoint_format(&peer, text, sizeof text);
    printf("client: connected (SYN, SYN+ACK, ACK done); server: accepted %s\n", text);
    wire_until(w, 1, 1, 0); /* the server's SYN acknowledged: the handshake's third packet */
    wire_counters(w, "client after connect", client);
    uint32_t sent = 0; /* bytes each way (the echo sends back what came) */
    for (size_t i = 0; i < sizeof lines / sizeof *lines && rc >= 0; i++) {
        size_t len = strlen(lines[i]), got = 0;
        printf("client: send \"%s\"\n", lines[i]);
        if ((rc = nl_tcp_send_all(client, lines[i], len, NULL, T)) < 0)
            break;
        sent += (uint32_t)len;
        wire_until(w, 0, 1 + sent, 0);
        while (got < len && (rc = nl_tcp_recv(conn, buf + got, len - got, T)) > 0)
            got += (size_t)rc; /* a byte stream: the line may come in pieces */
        if (rc < 0 || (rc = nl_tcp_send_all(conn, buf, got, NULL, T)) < 0)
            break;
        printf("server: recv %zu bytes, send them back\n", got);
        wire_until(w, 1, 1 + sent, 0);
        for (got = 0; got < len && (rc = nl_tcp_recv(client, buf + got, len - got, T)) > 0;)
            got += (size_t)rc;
        if (rc < 0)
            break;
        printf("client: echo \"%.*s\"\n", (int)got, buf);
        if (memcmp(buf, lines[i], len) != 0)
            rc = NL_EPROTO;
    }
    wire_counters(w, "client after the echoes", client);
    if (rc >= 0 && (rc = nl_tcp_shutdown(client, NL_SHUT_WR)) == 0 &&
        (rc = nl_tcp_recv(conn, buf, sizeof buf, T)) == NL_EOF) {
        printf("client: shutdown(SHUT_WR); server: recv sees end of stream, closes\n");
        wire_until(w, 0, 2 + sent, 0); /* the client's FIN acknowledged */
        rc = 0;
    } else if (rc >= 0) {
        rc = NL_EPROTO;
    }
    nl_tcp_close(conn);
    if (rc == 0) {
        wire_until(w, 1, 2 + sent, 0); /* the server's FIN acknowledged */
        wire_counters(w, "client after the close", client);
    }
    nl_tcp_close(client);
    nl_tcp_close(listener);
    nl_capture_counts st;
    wire_close(w, &st);
    if (rc >= 0 && st.drops)
        rc = NL_EPROTO;
    return rc < 0 ? fail("tcp exchange", rc) : 0;
}

/* Step one chat session without waiting and print what happened. Returns 1 once it closed
 * with a synchronized end, -1 if it closed any other way, 0 while it is open. */
static int chat_step(nl_chat_session *s, const char *who, int *delivered)
{
    nl_chat_event ev[8];
    int n = nl_chat_session_step(s, ev, 8, 0), done = 0;

    for (int i = 0; i < n; i++) {
        switch (ev[i].type) {
        case NL_CHAT_EV_PEER_JOINED:
            printf("%s: peer joined (handshake done)\n", who);
            break;
        case NL_CHAT_EV_MESSAGE:
            printf("%s: got \"%.*s\"\n", who, (int)ev[i].len, ev[i].data);
            break;
        case NL_CHAT_EV_DELIVERED:
            ++*delivered;
            break;
        case NL_CHAT_EV_PEER_LEFT:
            printf("%s: peer left\n", who);
            break;
        case NL_CHAT_EV_CLOSED:
            printf("%s: session closed: %s\n", who, nl_strerror(ev[i].code));
            done = ev[i].code == 0 ? 1 : -1;
            break;
        default:
            printf("%s: %s %s\n", who, nl_chat_event_name(ev[i].type), nl_strerror(ev[i].code));
        }
    }
    return n < 0 ? -1 : done;
}

/* Run both sessions until each has had `want` messages delivered (want 0: until both have
 * closed), waiting on either socket; about 5 s at most. */
static int chat_pump(nl_chat_session *a, nl_chat_session *b, int *da, int *db, int want,
                     int *closed_a, int *closed_b)
{
    for (int round = 0; round < 500; round++) {
        if (!*closed_a)
            *closed_a = chat_step(a, "alice", da);
        if (!*closed_b)
            *closed_b = chat_step(b, "bob  ", db);
        if (*closed_a < 0 || *closed_b < 0)
            return NL_EPROTO;
        if (want == 0 ? (*closed_a && *closed_b) : (*da >= want && *db >= want))
            return 0;
        /* Sleep until either socket has a datagram or a timer is due (10 ms at most). */
        int ta = nl_chat_session_next_timeout_ms(a), tb = nl_chat_session_next_timeout_ms(b);
        int t = ta < 0 || (tb >= 0 && tb < ta) ? tb : ta;
        struct pollfd p[2] = {{nl_chat_session_fd(a), POLLIN, 0}, {nl_chat_session_fd(b), POLLIN, 0}};
        poll(p, 2, t < 0 || t > 10 ? 10 : t);
    }
    return NL_ETIMEDOUT;
}

#define STRANGER "hello alice, I am a stranger: let me in"

static int chat_flow(const nl_opts *opts)
{
    nl_chat_opts ao = {0}, bo = {0};
    nl_chat_session *alice = NULL, *bob = NULL;
    nl_chat_stats st;
    nl_udp *stranger = NULL;
    char text[NL_ENDPOINT_STRLEN];
    int rc, da = 0, db = 0, ca = 0, cb = 0;

    printf("== Chat: real-time, synchronized exit, anti-interference (实时收发 同步退出 防干扰) ==\n");
    ao.trace = bo.trace = opts->trace;
    nl_endpoint_parse(&ao.bind, "127.0.0.1", 0);
    ao.name = "alice";
    if ((rc = nl_chat_session_open(&alice, &ao)) < 0)
        return fail("alice open", rc);
    nl_chat_session_local(alice, &bo.peer);
    nl_endpoint_format(&bo.peer, text, sizeof text);
    printf("alice: waiting at %s for a peer\n", text);

    /* A stranger gets there first: not our protocol, so it is dropped and counted. */
    if ((rc = nl_udp_open(&stranger, NL_AF_INET, opts)) == 0)
        rc = (int)nl_udp_send_to(stranger, STRANGER, strlen(STRANGER), &bo.peer, T);
    nl_udp_close(stranger);
    if (rc < 0 || nl_chat_session_step(alice, (nl_chat_event[1]){0}, 1, T) < 0) {
        nl_chat_session_close(alice);
        return fail("stranger", rc < 0 ? rc : NL_EPROTO);
    }
    nl_chat_session_stats(alice, &st);
    printf("stranger: sends \"%s\"\n", STRANGER);
    printf("alice: drops it, not our protocol (drop counter bad_magic = %llu)\n",
           (unsigned long long)st.bad_magic);
    if (st.bad_magic != 1) {
        nl_chat_session_close(alice);
        return fail("stranger's datagram was not dropped", NL_EPROTO);
    }

    nl_endpoint_parse(&bo.bind, "127.0.0.1", 0);
    bo.name = "bob";
    if ((rc = nl_chat_session_open(&bob, &bo)) < 0) {
        nl_chat_session_close(alice);
        return fail("bob open", rc);
    }
    printf("bob  : says hello to %s\n", text);
    nl_chat_session_send(bob, "你好, alice", strlen("你好, alice"));
    nl_chat_session_send(alice, "hi bob, 你好", strlen("hi bob, 你好"));
    rc = chat_pump(alice, bob, &da, &db, 1, &ca, &cb);
    if (rc == 0) {
        printf("both : each message acknowledged (delivered once, in order)\n");
        printf("alice: q (leaves: BYE, waits for BYE-ACK)\n");
        nl_chat_session_leave(alice);
        rc = chat_pump(alice, bob, &da, &db, 0, &ca, &cb);
    }
    nl_chat_session_close(alice);
    nl_chat_session_close(bob);
    return rc < 0 ? fail("chat", rc) : 0;
}

/* The transcript is the demo's whole point: if it cannot be written (a reader that went
 * away, a full disk), say so on stderr and stop, rather than run on unseen. */
static int stdout_ok(void)
{
    if (fflush(stdout) == 0 && !ferror(stdout))
        return 1;
    fprintf(stderr, NAME ": standard output: %s\n", strerror(errno ? errno : EIO));
    return 0;
}

int main(int argc, char **argv)
{
    nl_opts opts = {0};
    wire w = {0};
#ifdef _WIN32
    /* The text on the wire is UTF-8: the Windows console shows and types it as such too. */
    SetConsoleOutputCP(CP_UTF8);
    SetConsoleCP(CP_UTF8);
#endif
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--trace") == 0) {
            opts.trace = print_trace;
        } else if (strcmp(argv[i], "--wire") == 0 || strcmp(argv[i], "--wire=text") == 0) {
            w.on = 1;
        } else if (strcmp(argv[i], "--wire=json") == 0) {
            w.on = 1;
            w.style = NL_CAPTURE_JSON;
        } else if (strcmp(argv[i], "--help") == 0) {
            puts(USAGE);
            return stdout_ok() ? 0 : 1;
        } else {
            fprintf(stderr, NAME ": bad argument '%s'; " USAGE "\n", argv[i]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("libnetlab %s demo: the course notes' flows on loopback\n\n", nl_version());
    if (w.on)
        wire_setup(&w);
    if (!stdout_ok())
        return 1;
    int failed = udp_flow(&opts, &w);
    printf("\n");
    if (!stdout_ok())
        return 1;
    failed |= tcp_flow(&opts, &w);
    printf("\n");
    if (!stdout_ok())
        return 1;
    failed |= chat_flow(&opts);
    printf("\n%s\n", failed ? "demo FAILED" : "demo finished: every flow worked");
    return stdout_ok() ? failed : 1;
}
