/* netlab-chat's room mode (--room NAME hosts, --join HOST:PORT joins), over nl_chat_room.
 *
 * On a terminal (standard input and output both terminals) it is interactive like the
 * point-to-point chat, with the same terminal (chat_term.c): a prompt, line editing, messages
 * and *** status lines printed above the line being typed, the others' control characters
 * shown as placeholders; q, Ctrl-D, Ctrl-C or closing the terminal leave. Otherwise (pipes) a
 * line of input is a message and "q" (or the end of input, SIGINT, SIGTERM, SIGHUP) leaves;
 * messages go to standard output as "NAME: TEXT", one line each; joins, leaves and the end are
 * "*** ..." lines on standard error. Names and text from the network never carry control
 * characters out (chat_text.h: they could forge lines, or steer a terminal). The host's leaving
 * ends the room for everyone.
 *
 * Exit status: 0 after a clean end (the host ended the room, or we left), 3 when the host
 * vanished, 4 when no host answered, 1 on other errors (also: standard output unwritable). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifndef _WIN32
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#endif

#include <netlab.h>

#include "chat_room_cli.h"
#include "chat_term.h"
#include "chat_text.h"

#define IN_MAX (NL_CHAT_MSG_MAX + 1)
#define TEXT_MAX NL_CHAT_ROOM_TEXT_MAX /* nl_chat_room_send()'s limit: 65,450 bytes */

typedef struct room_app {
    const chat_room_cli *cli;
    nl_chat_room *r;
    chat_term *term;     /* interactive mode, else NULL                                */
    int leaving;         /* nl_chat_room_leave() was called                            */
    int in_open;         /* pipe mode: standard input may still give lines             */
    int closed;          /* the room closed for us (CLOSED, or a failed step)          */
    int code;            /* how: CLOSED's code, or the step's error                    */
    int out_failed;      /* writing a message to standard output failed: exit 1        */
    int discarding;      /* pipe mode: skipping the rest of an over-long line          */
    int entered;         /* member: the host counted us in (or we host)                */
    char in[IN_MAX + 1]; /* pipe mode: input not yet sent                          */
    size_t have;
} room_app;

/* ---- output -------------------------------------------------------------------------------- */

/* A status line: "*** " pre NAME mid NAME2 post, where the names (NULL: none) come from the
 * network and are made safe. On a terminal in the log above the prompt, else on stderr. */
static void status(room_app *a, const char *pre, const char *name, const char *mid,
                   const char *name2, size_t len2, const char *post)
{
    size_t nlen = name != NULL ? strlen(name) : 0, n;
    size_t cap = strlen(pre) + strlen(mid) + strlen(post) + 4 * (nlen + len2) + 8;
    char *buf = malloc(cap);

    if (buf == NULL)
        return;
    n = (size_t)snprintf(buf, cap, "*** %s", pre);
    if (name != NULL)
        n += chat_text_safe(buf + n, cap - n, name, nlen);
    n += (size_t)snprintf(buf + n, cap - n, "%s", mid);
    if (name2 != NULL)
        n += chat_text_safe(buf + n, cap - n, name2, len2);
    n += (size_t)snprintf(buf + n, cap - n, "%s", post);
    if (a->term != NULL)
        chat_term_log(a->term, NULL, buf, n, 1);
    else
        fprintf(stderr, "%s\n", buf);
    free(buf);
}

/* Said at once, not only at the give-up time: nobody answers, or the keys differ. */
static void warning(room_app *a, const nl_chat_room_event *ev)
{
    int ms = a->cli->call_timeout_ms ? a->cli->call_timeout_ms : 60000;
    char later[96] = "; still calling";

    if (ms > 0)
        snprintf(later, sizeof later, "; still calling (giving up after %g s)%s", ms / 1000.0,
                 a->cli->key != NULL ? ": a room with another key does not answer" : "");
    if (ev->code == NL_EBADFRAME)
        status(a, "warning: frames that fail authentication reach the room: someone's key differs "
                  "(or only one side has --key-file)",
               NULL, "", NULL, 0, "");
    else if (ev->code == NL_ECONNREFUSED)
        status(a, "nobody hosts a room at ", ev->name, " yet (port unreachable)", NULL, 0, later);
    else if (ev->code == NL_ETIMEDOUT)
        status(a, "no answer from ", ev->name, " yet", NULL, 0, later);
    else
        status(a, "warning: ", NULL, nl_strerror(ev->code), NULL, 0, "");
}

static void leave(room_app *a)
{
    if (a->leaving)
        return;
    chat_term_stop(a->term, 1);
    a->leaving = 1;
    a->in_open = 0;
    nl_chat_room_leave(a->r);
}

static void on_event(room_app *a, const nl_chat_room_event *ev)
{
    const char *want_name = a->cli->name;

    switch (ev->type) {
    case NL_CHAT_ROOM_EV_ENTERED:
        if (a->leaving)
            break; /* we left before the host let us in (and said so): it lets us go now */
        a->entered = 1;
        /* The host makes names unique: say so when ours became "ann#2". */
        if (want_name != NULL && strcmp(want_name, ev->data) != 0)
            status(a, "in the room of ", ev->name, " as ", ev->data, ev->len,
                   want_name[0] != '\0' ? " (the name was taken)" : "");
        else
            status(a, "in the room of ", ev->name, "", NULL, 0, "");
        break;
    case NL_CHAT_ROOM_EV_JOINED:
        status(a, "", ev->name, " joined", NULL, 0, "");
        break;
    case NL_CHAT_ROOM_EV_MESSAGE:
        if (a->term != NULL) {
            chat_term_log(a->term, ev->name, ev->data, ev->len, 0);
        } else if (!a->out_failed && chat_out_message(ev->name, ev->data, ev->len, 1) < 0) {
            a->out_failed = 1; /* chat_out_message() said why */
            leave(a);
        }
        break;
    case NL_CHAT_ROOM_EV_LEFT:
        status(a, "", ev->name, " left", NULL, 0, "");
        break;
    case NL_CHAT_ROOM_EV_LOST:
        status(a, "", ev->name, " lost", NULL, 0, "");
        break;
    case NL_CHAT_ROOM_EV_DROPPED:
        status(a, "", ev->name, " dropped: too slow to keep up with the room", NULL, 0, "");
        break;
    case NL_CHAT_ROOM_EV_ROOM_CLOSED:
        status(a, "room closed by ", ev->name, "", NULL, 0, "");
        a->in_open = 0;
        break;
    case NL_CHAT_ROOM_EV_WARNING:
        warning(a, ev);
        break;
    default:
        break;
    }
}

/* A room bound to 0.0.0.0 or [::] is reached at any of the machine's addresses: name them
 * (loopback last), since "--join 0.0.0.0:9000" would lead nowhere from another machine. */
static void say_join_any(const char *room, const nl_endpoint *bound)
{
    int said = 0;

    if (bound->port == NL_CHAT_ROOM_PORT)
        fprintf(stderr, "*** room %s open on port %d: join with --join any, or --join with one of",
                room, bound->port);
    else
        fprintf(stderr,
                "*** room %s open on port %d: join with --join any:%d, or --join with one of", room,
                bound->port, bound->port);
#ifndef _WIN32 /* Windows: GetAdaptersAddresses would do; not done yet */
    char addr[NL_ENDPOINT_STRLEN];
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

/* The room's end for us (the CLOSED event's code): the exit status, said when not 0 or 3.
 * Called once the terminal is restored, so that the line starts at the left margin. */
static int closed_status(const room_app *a, int code)
{
    if (code == 0)
        return 0;
    if (code == NL_EPEERLOST)
        return 3;
    if (code == NL_ETIMEDOUT || code == NL_ECONNREFUSED) {
        fprintf(stderr, "netlab-chat: no room answered at %s: gave up\n",
                a->cli->host_text != NULL ? a->cli->host_text : "?");
        return 4;
    }
    fprintf(stderr, "netlab-chat: %s\n", nl_strerror(code));
    return 1;
}

/* Do the room's work (without waiting) and act on its events. */
static void room_pump(room_app *a)
{
    nl_chat_room_event ev[32];
    int n = nl_chat_room_step(a->r, ev, sizeof ev / sizeof ev[0], 0);

    if (n < 0 && !a->closed) {
        a->closed = 1;
        a->code = n;
    }
    for (int i = 0; i < n; i++) {
        if (ev[i].type == NL_CHAT_ROOM_EV_CLOSED) {
            a->closed = 1;
            a->code = ev[i].code;
        } else {
            on_event(a, &ev[i]);
        }
    }
}

/* Say something to the room. Returns 1 when done with (sent, or refused and said why), 0 when
 * the queue to the host is full (try again after a step). */
static int room_send(room_app *a, const char *text, size_t len)
{
    int rc = nl_chat_room_send(a->r, text, len);
    char msg[160];

    if (rc == NL_ENOBUFS)
        return 0;
    if (rc < 0 && rc != NL_ESHUTDOWN && rc != NL_ECLOSED) {
        snprintf(msg, sizeof msg, "message not sent: %s", nl_strerror(rc));
        if (a->term != NULL)
            chat_term_log(a->term, NULL, msg, strlen(msg), 1);
        else
            fprintf(stderr, "netlab-chat: %s\n", msg);
    }
    return 1;
}

/* ---- the terminal's hooks (chat_term.h) ---------------------------------------------------- */

static int term_line(void *user, const char *text, size_t len, int retry)
{
    room_app *a = user;

    if (a->leaving || a->closed) {
        if (retry)
            return 0; /* it stays, counted as never sent */
        static const char msg[] = "*** not sent: the room has ended (q, Ctrl-D or Ctrl-C to leave)";

        chat_term_refused(a->term);
        chat_term_log(a->term, NULL, msg, sizeof msg - 1, 1);
        return 1;
    }
    if (!retry && chat_term_waiting(a->term) > 0)
        return 0; /* in order, behind the lines still waiting */
    return room_send(a, text, len);
}

static void term_leave(void *user)
{
    leave(user);
}

static nl_socket_t term_net_wait(void *user, int *timeout_ms)
{
    room_app *a = user;

    *timeout_ms = nl_chat_room_next_timeout_ms(a->r);
    return nl_chat_room_fd(a->r);
}

static void term_net_pump(void *user)
{
    room_pump(user);
}

static int term_ended(void *user)
{
    return ((room_app *)user)->closed;
}

/* ---- pipe mode ----------------------------------------------------------------------------- */

/* Whole lines become messages; "q" leaves. A line longer than any message (a full buffer
 * without a newline) is refused whole, not sent in pieces. Stops when the queue to the host is
 * full. */
static void pipe_lines(room_app *a)
{
    while (!a->leaving && a->have > 0) {
        char *nl = memchr(a->in, '\n', a->have);
        size_t len = nl != NULL ? (size_t)(nl - a->in) : a->have;

        if (nl == NULL && a->in_open && a->have < IN_MAX)
            break;
        if (a->discarding || (nl == NULL && a->in_open)) {
            if (!a->discarding)
                fprintf(stderr, "netlab-chat: a line is longer than %d bytes: not sent\n",
                        TEXT_MAX);
            a->discarding = nl == NULL;
            len = nl != NULL ? len + 1 : a->have;
            memmove(a->in, a->in + len, a->have - len);
            a->have -= len;
            continue;
        }
        if (len > 0 && a->in[len - 1] == '\r')
            len--;
        if (len == 1 && a->in[0] == 'q') {
            leave(a);
            break;
        }
        if (!room_send(a, a->in, len))
            break; /* this line waits */
        len = nl != NULL ? (size_t)(nl - a->in) + 1 : a->have;
        memmove(a->in, a->in + len, a->have - len);
        a->have -= len;
    }
    if (!a->in_open && a->have == 0 && !a->leaving) {
        if (!a->entered)
            fputs("netlab-chat: the input ended before the room let us in: leaving\n", stderr);
        leave(a);
    }
}

static void pipe_read(room_app *a)
{
    long got = chat_io_read(a->cli->io, a->in + a->have, IN_MAX - a->have);

    if (got > 0)
        a->have += (size_t)got;
    else if (got == 0)
        a->in_open = 0;
}

/* ---- the loop ------------------------------------------------------------------------------ */

static void print_room_stats(nl_chat_room *r)
{
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

static void room_loop(room_app *a)
{
    chat_io *io = a->cli->io;

    while (!a->closed) {
        int want = 0, got = chat_io_wait(io, CHAT_IO_NO_SOCKET, 0, 0);

        /* A request to leave is reported until taken (chat_io_stop_reason). */
        if (got > 0 && (got & CHAT_IO_STOP) && chat_io_stop_reason(io) != 0)
            leave(a);
        chat_term_winch(a->term, got > 0 && (got & CHAT_IO_RESIZE));
        if (a->term != NULL)
            chat_term_flush(a->term);
        else
            pipe_lines(a);
        if (!a->leaving &&
            (a->term != NULL ? chat_term_wants_input(a->term) : a->in_open && a->have < IN_MAX))
            want = 1;
        got = chat_io_wait(io, nl_chat_room_fd(a->r), want, nl_chat_room_next_timeout_ms(a->r));
        if (got < 0 && errno != EINTR) {
            a->closed = 1;
            a->code = NL_EIO;
            break;
        }
        chat_term_winch(a->term, got > 0 && (got & CHAT_IO_RESIZE)); /* a stop: next turn */
        if (want && got > 0 && (got & CHAT_IO_INPUT)) {
            if (a->term != NULL)
                chat_term_input(a->term);
            else
                pipe_read(a);
        }
        room_pump(a);
    }
}

int chat_room_main(const chat_room_cli *cli)
{
    static room_app app; /* the input buffer is large: not on the stack */
    room_app *a = &app;
    nl_chat_room_opts o = {0};
    char addr[NL_ENDPOINT_STRLEN];
    nl_endpoint ep;
    int rc;

    a->cli = cli;
    a->in_open = 1;
    a->entered = cli->room != NULL;
    if (chat_io_is_console(cli->io) && isatty(1)) {
        chat_term_hooks h = {a,    term_line, term_leave, term_net_wait, term_net_pump,
                             NULL, term_ended};

        a->term = chat_term_new(&h, TEXT_MAX, cli->io);
        if (a->term == NULL) {
            fprintf(stderr, "netlab-chat: out of memory\n");
            return 1;
        }
    }
    o.bind = cli->bind;
    o.host = cli->host;
    o.room = cli->room;
    o.name = cli->name;
    o.key = cli->key;
    o.peer_lost_ms = cli->peer_lost_ms;
    o.call_timeout_ms = cli->call_timeout_ms;
    if (cli->trace)
        o.trace = chat_term_trace;
    o.trace_user = a->term;
    rc = nl_chat_room_open(&a->r, &o);
    if (rc < 0) {
        fprintf(stderr, "netlab-chat: cannot start on %s: %s\n", cli->bind_text, nl_strerror(rc));
        chat_term_free(a->term);
        return 1;
    }
    if (cli->closed_std & 2)
        fprintf(stderr, "netlab-chat: warning: standard output was closed: received messages "
                        "go to /dev/null\n");
    if (cli->room != NULL && nl_chat_room_local(a->r, &ep) == 0 &&
        nl_endpoint_format(&ep, addr, sizeof addr) >= 0) {
        if (nl_endpoint_is_any(&ep))
            say_join_any(cli->room, &ep);
        else
            fprintf(stderr, "*** room %s open: join with --join %s\n", cli->room, addr);
    }
    fflush(stderr);
    if (a->term != NULL && chat_term_open(a->term) < 0) {
        fprintf(stderr, "netlab-chat: cannot set up the line editor\n");
        chat_term_free(a->term);
        nl_chat_room_close(a->r);
        return 1;
    }
    room_loop(a);
    if (a->term != NULL) {
        unsigned long unsent = chat_term_unsent(a->term);

        chat_term_free(a->term); /* the prompt goes before anything more is printed */
        if (unsent > 0)
            fprintf(stderr,
                    "netlab-chat: warning: %lu typed line%s never sent (the room ended first)\n",
                    unsent, unsent == 1 ? " was" : "s were");
    }
    rc = closed_status(a, a->code);
    if (cli->stats)
        print_room_stats(a->r);
    nl_chat_room_close(a->r);
    return a->out_failed ? 1 : rc;
}
