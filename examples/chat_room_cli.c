/* netlab-chat's room mode (--room NAME hosts, --join HOST:PORT joins), over nl_chat_room.
 *
 * Input is read a line at a time from standard input (a terminal or a pipe): a line is a
 * message, "q" (or end of input, SIGINT, SIGTERM, SIGHUP) leaves; the host's leaving ends the
 * room for everyone. Messages go to standard output as "NAME: TEXT", one line each; joins,
 * leaves and the end are "*** ..." lines on standard error. Exit status: 0 after a clean end
 * (the host ended the room, or we left), 3 when the host vanished, 4 when no host answered,
 * 1 on other errors. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifndef _WIN32
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#endif

#include <netlab.h>

#include "chat_room_cli.h"

#define IN_MAX (NL_CHAT_MSG_MAX + 1)

static volatile sig_atomic_t g_room_stop;

static void on_room_signal(int sig)
{
    (void)sig;
    g_room_stop = 1;
}

/* Text from the network goes out without terminal control characters: a member must not be
 * able to move another's cursor or clear its screen. */
static void put_clean(FILE *f, const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\t' || c >= 0x20) {
            if (c != 0x7f)
                fputc(c, f);
        } else {
            fputc('?', f);
        }
    }
}

/* --trace: every socket call and frame on stderr, with the seconds since start. */
static void on_room_trace(const nl_trace_event *ev, void *user)
{
    static struct timespec t0;
    struct timespec now;
    char line[256];

    (void)user;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (t0.tv_sec == 0 && t0.tv_nsec == 0)
        t0 = now;
    nl_trace_format(ev, line, sizeof line);
    fprintf(stderr, "trace: [%8.3f] %s\n",
            (double)(now.tv_sec - t0.tv_sec) + (now.tv_nsec - t0.tv_nsec) / 1e9, line);
}

static void status(const char *a, const char *name, const char *b)
{
    fputs("*** ", stderr);
    put_clean(stderr, a, strlen(a));
    put_clean(stderr, name, strlen(name));
    fputs(b, stderr);
    fputc('\n', stderr);
}

static void on_event(const nl_chat_room_event *ev, int is_host, const char *want_name)
{
    switch (ev->type) {
    case NL_CHAT_ROOM_EV_ENTERED:
        /* The host makes names unique: say so when ours became "ann#2". */
        if (want_name != NULL && strcmp(want_name, ev->data) != 0) {
            fputs("*** in the room of ", stderr);
            put_clean(stderr, ev->name, strlen(ev->name));
            fputs(" as ", stderr);
            put_clean(stderr, ev->data, ev->len);
            fputs(want_name[0] != '\0' ? " (the name was taken)\n" : "\n", stderr);
        } else {
            status("in the room of ", ev->name, "");
        }
        break;
    case NL_CHAT_ROOM_EV_JOINED:
        status("", ev->name, " joined");
        break;
    case NL_CHAT_ROOM_EV_MESSAGE:
        put_clean(stdout, ev->name, strlen(ev->name));
        fputs(": ", stdout);
        put_clean(stdout, ev->data, ev->len);
        fputc('\n', stdout);
        fflush(stdout);
        break;
    case NL_CHAT_ROOM_EV_LEFT:
        status("", ev->name, " left");
        break;
    case NL_CHAT_ROOM_EV_LOST:
        status("", ev->name, is_host ? " lost" : " lost");
        break;
    case NL_CHAT_ROOM_EV_DROPPED:
        status("", ev->name, " dropped: too slow to keep up with the room");
        break;
    case NL_CHAT_ROOM_EV_ROOM_CLOSED:
        status("room closed by ", ev->name, "");
        break;
    default:
        break;
    }
}

/* A room bound to 0.0.0.0 or [::] is reached at any of the machine's addresses: name them
 * (loopback last), since "--join 0.0.0.0:9000" would lead nowhere from another machine. */
static void say_join_any(const char *room, const nl_endpoint *bound)
{
    char addr[NL_ENDPOINT_STRLEN];
    int said = 0;

    if (bound->port == NL_CHAT_ROOM_PORT)
        fprintf(stderr, "*** room %s open on port %d: join with --join any, or --join with one of",
                room, bound->port);
    else
        fprintf(stderr,
                "*** room %s open on port %d: join with --join any:%d, or --join with one of",
                room, bound->port, bound->port);
#ifndef _WIN32
    struct ifaddrs *ifs = NULL;

    if (getifaddrs(&ifs) == 0) {
        for (int loopback = 0; loopback < 2; loopback++) {
            for (struct ifaddrs *i = ifs; i != NULL; i = i->ifa_next) {
                nl_endpoint ep = {0};
                if (i->ifa_addr == NULL || (i->ifa_flags & IFF_UP) == 0 ||
                    (!(i->ifa_flags & IFF_LOOPBACK)) == loopback)
                    continue;
                if (i->ifa_addr->sa_family == AF_INET) {
                    const struct sockaddr_in *a = (const struct sockaddr_in *)i->ifa_addr;
                    ep.family = NL_AF_INET;
                    memcpy(ep.addr, &a->sin_addr, 4);
                } else if (i->ifa_addr->sa_family == AF_INET6 && bound->family == NL_AF_INET6) {
                    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)i->ifa_addr;
                    if (IN6_IS_ADDR_LINKLOCAL(&a->sin6_addr))
                        continue; /* its zone is ours: of no use on another machine */
                    ep.family = NL_AF_INET6;
                    memcpy(ep.addr, &a->sin6_addr, 16);
                    ep.scope_id = a->sin6_scope_id;
                } else {
                    continue;
                }
                ep.port = bound->port;
                if (nl_endpoint_format(&ep, addr, sizeof addr) < 0)
                    continue;
                fprintf(stderr, "%s %s", said++ ? "," : "", addr);
            }
        }
        freeifaddrs(ifs);
    }
#endif
    if (said == 0)
        fprintf(stderr, " this machine's addresses, port %d", bound->port);
    fputc('\n', stderr);
}

int chat_room_main(const chat_room_cli *cli)
{
    nl_chat_room_opts o = {0};
    nl_chat_room *r;
    struct sigaction sa;
    static char in[IN_MAX + 1];
    size_t have = 0;
    int in_open = 1, leaving = 0, rc, result = -1;
    char addr[NL_ENDPOINT_STRLEN];
    nl_endpoint ep;

    o.bind = cli->bind;
    o.host = cli->host;
    o.room = cli->room;
    o.name = cli->name;
    o.key = cli->key;
    o.peer_lost_ms = cli->peer_lost_ms;
    o.call_timeout_ms = cli->call_timeout_ms;
    if (cli->trace)
        o.trace = on_room_trace;
    rc = nl_chat_room_open(&r, &o);
    if (rc < 0) {
        fprintf(stderr, "netlab-chat: cannot start on %s: %s\n", cli->bind_text, nl_strerror(rc));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_room_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    if (cli->room != NULL && nl_chat_room_local(r, &ep) == 0 &&
        nl_endpoint_format(&ep, addr, sizeof addr) >= 0) {
        if (nl_endpoint_is_any(&ep))
            say_join_any(cli->room, &ep);
        else
            fprintf(stderr, "*** room %s open: join with --join %s\n", cli->room, addr);
    }
    while (result < 0) {
        struct pollfd p[2] = {{.fd = nl_chat_room_fd(r), .events = POLLIN}, {.fd = 0}};
        nl_chat_room_event ev[32];
        nfds_t np = 1;
        int n;

        if (g_room_stop && !leaving) {
            leaving = 1;
            in_open = 0;
            nl_chat_room_leave(r);
        }
        if (in_open && have < IN_MAX) {
            p[1].events = POLLIN;
            np = 2;
        }
        if (poll(p, np, nl_chat_room_next_timeout_ms(r)) < 0 && errno != EINTR)
            break;
        if (np == 2 && p[1].revents != 0) {
            ssize_t got = read(0, in + have, IN_MAX - have);
            if (got > 0)
                have += (size_t)got;
            else if (got == 0 || (errno != EINTR && errno != EAGAIN))
                in_open = 0;
        }
        /* Whole lines become messages; "q" leaves; a full buffer without a newline is sent
         * as it is (a message cannot be longer). */
        while (!leaving && have > 0) {
            char *nl = memchr(in, '\n', have);
            size_t len = nl != NULL ? (size_t)(nl - in) : have;
            if (nl == NULL && in_open && have < IN_MAX)
                break;
            if (len > 0 && in[len - 1] == '\r')
                len--;
            if (len == 1 && in[0] == 'q') {
                leaving = 1;
                in_open = 0;
                nl_chat_room_leave(r);
                break;
            }
            rc = nl_chat_room_send(r, in, len);
            if (rc == NL_ENOBUFS)
                break; /* the queue to the host is full: this line waits */
            if (rc < 0 && rc != NL_ESHUTDOWN && rc != NL_ECLOSED)
                fprintf(stderr, "netlab-chat: message not sent: %s\n", nl_strerror(rc));
            len = nl != NULL ? (size_t)(nl - in) + 1 : have;
            memmove(in, in + len, have - len);
            have -= len;
        }
        if (!in_open && have == 0 && !leaving) {
            leaving = 1;
            nl_chat_room_leave(r);
        }
        n = nl_chat_room_step(r, ev, sizeof ev / sizeof ev[0], 0);
        if (n < 0)
            result = 1;
        for (int i = 0; i < n; i++) {
            on_event(&ev[i], cli->room != NULL, cli->name);
            if (ev[i].type == NL_CHAT_ROOM_EV_ROOM_CLOSED)
                in_open = 0;
            if (ev[i].type != NL_CHAT_ROOM_EV_CLOSED)
                continue;
            rc = ev[i].code;
            if (rc == 0)
                result = 0;
            else if (rc == NL_EPEERLOST)
                result = 3;
            else if (rc == NL_ETIMEDOUT || rc == NL_ECONNREFUSED) {
                fprintf(stderr, "netlab-chat: no room answered at %s: gave up\n",
                        cli->host_text != NULL ? cli->host_text : "?");
                result = 4;
            } else {
                fprintf(stderr, "netlab-chat: %s\n", nl_strerror(rc));
                result = 1;
            }
        }
    }
    if (cli->stats) {
        nl_chat_room_counters c;
        nl_chat_room_stats(r, &c);
        fprintf(stderr,
                "netlab-chat: room stats: members %llu, joined %llu, non-member datagrams "
                "%llu, dropped slow %llu, relayed %llu, in %llu, out %llu, retransmits %llu, "
                "duplicates %llu, auth failed %llu, replayed %llu\n",
                (unsigned long long)c.members, (unsigned long long)c.joined,
                (unsigned long long)c.non_member, (unsigned long long)c.dropped_slow,
                (unsigned long long)c.relayed, (unsigned long long)c.messages_in,
                (unsigned long long)c.messages_out, (unsigned long long)c.frames.retransmits,
                (unsigned long long)c.frames.duplicates, (unsigned long long)c.frames.auth_failed,
                (unsigned long long)c.frames.replayed);
    }
    nl_chat_room_close(r);
    return result < 0 ? 1 : result;
}
