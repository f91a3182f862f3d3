/* netlab-chat: the course's point-to-point chat (实时收发, 同步退出, 防干扰) on nl_chat_session.
 *
 *   netlab-chat --bind HOST:PORT [--peer HOST:PORT] [--plain] [--key-file PATH] [--name NAME]
 *               [--peer-lost MS] [--give-up MS] [--stats] [--trace]
 *
 * On a terminal it is an interactive chat: incoming messages appear above the line being
 * typed, with the peer's name and the time; `q`, Ctrl-D, Ctrl-C or closing the terminal leave.
 * Otherwise (pipes) each input line is one message and each message received is written to
 * stdout on a line of its own (verbatim, unless stdout is a terminal); status lines go to stderr.
 *
 * The terminal (prompt, line editor, incoming lines above the prompt) is chat_term.c's, shared
 * with room mode (chat_room_cli.c).
 *
 * Exit codes: 0 the chat ended in agreement (either side left and both know it) and every
 *               message we accepted was delivered, or the input ended before any peer joined
 *               and nothing was waiting to be sent;
 *             1 an error (socket, key file, standard output unwritable, ...); 2 usage error;
 *             3 the peer was lost: it stopped answering, or never confirmed our leaving, or
 *               stopped taking our messages (the warning says how many were not delivered);
 *             4 nothing lost, but not everything sent: nobody answered our call before the
 *               give-up time, or the peer left before all our input (lines read from a pipe,
 *               or typed) was sent.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat_io.h"
#include "chat_key.h"
#include "chat_room_cli.h"
#include "chat_term.h"
#include "chat_text.h"
#include "netlab.h"

#define EXIT_LOST     3
#define EXIT_NOT_SENT 4
#define INBUF_MAX     (2 * NL_CHAT_MSG_MAX + 2)
#define DEFER_MAX     (1024 * 1024) /* bytes of events held while a key command is half typed */

/* An event kept for later (received while a key command was half typed). */
typedef struct chat_item {
    struct chat_item *next;
    nl_chat_event ev; /* ev.data points at text below */
    size_t len;
    char text[];
} chat_item;

typedef struct chat_app {
    nl_chat_session *s;
    int terminal; /* interactive mode (stdin and stdout are terminals)        */
    int out_tty;  /* stdout is a terminal: peer text is made safe for it      */
    int plain;
    int stats, trace;
    size_t msg_max; /* the mode's message size limit                            */
    char peer_name[NL_CHAT_NAME_MAX + 1];
    char peer_addr[NL_ENDPOINT_STRLEN];
    int joined;            /* the peer joined                                          */
    int peer_left;         /* the peer left: what we had not sent yet stays unsent     */
    const char *peer_text; /* --peer as given, for messages                        */
    int give_up_ms;        /* --give-up (-1: never)                                */
    int leave_pending;     /* pipe mode: leave once the peer has joined                */
    int left;              /* leave has been called                                    */
    int eof;               /* no more input                                            */
    int closed;            /* the CLOSED event came                                    */
    int status;            /* its code                                                 */
    int out_failed;        /* writing to stdout failed: exit 1                          */
    int discarding;        /* pipe mode: skipping the rest of an over-long line        */
    unsigned long line_no;
    uint64_t queued;            /* messages handed to the session                           */
    unsigned long typed_unsent; /* terminal: typed lines never sent (at the end)           */
    char *inbuf;                /* pipe mode: input not yet sent                            */
    size_t in_len;
    chat_io *io;                    /* the wait, signals and standard input          */
    chat_term *term;                /* interactive mode: the terminal                */
    chat_item *defer, **defer_tail; /* events that arrived during a half-typed command */
    size_t defer_bytes;
} chat_app;

#define USAGE                                                                                      \
    "usage: netlab-chat --bind HOST:PORT [--peer HOST:PORT | --room NAME | --join HOST:PORT|any] " \
    "[OPTION]... (--help lists them)"

/* A usage error: one line on stderr, in the course programs' shape, exit status 2. */
static void usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "netlab-chat: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "; " USAGE "\n");
    exit(2);
}

/* Resolves an address option; a usage error that says why (the resolver's own words, or the
 * port) when it cannot be used. need_port: a destination, whose port 0 is refused. */
static void address_arg(nl_endpoint *out, const char *option, const char *text, int need_port)
{
    char msg[160];
    int rc = nl_endpoint_resolve(out, text, 0, NL_RESOLVE_ANY);

    if (rc == 0 && (!need_port || out->port != 0))
        return;
    snprintf(msg, sizeof msg, "%s: bad address '%%s': %s", option,
             rc < 0 ? nl_strerror(rc) : "a destination needs a port from 1 to 65535");
    usage_error(msg, text);
}

static void print_help(void)
{
    puts("usage: netlab-chat --bind HOST:PORT [--peer HOST:PORT] [--plain] [--key-file PATH]\n"
         "                   [--name NAME] [--peer-lost MS] [--give-up MS] [--stats] [--trace]\n"
         "                   [--room NAME | --join HOST:PORT]\n"
         "\n"
         "A point-to-point chat over UDP: messages arrive while you type, both sides exit\n"
         "when either quits, and nobody else's datagrams get in.\n"
         "\n"
         "  --bind HOST:PORT   local address, e.g. 127.0.0.1:9001 or [::1]:9001 (port 0: any)\n"
         "  --peer HOST:PORT   the peer; without it, wait for the first peer and lock onto it\n"
         "  --plain            raw text datagrams (talks to nc -u, socat, the notes' programs);\n"
         "                     the line q ends the chat; only the source address is checked\n"
         "  --key-file PATH    pre-shared key: 32 bytes, raw or as 64 hex digits; frames are\n"
         "                     then encrypted and authenticated (both sides need the key)\n"
         "  --name NAME        your name, shown to the peer, at most 64 bytes (default:\n"
         "                     $USER, shortened to 64 bytes)\n"
         "  --peer-lost MS     silence after which the peer counts as lost (200 to 3600000,\n"
         "                     default 5000)\n"
         "  --give-up MS       with --peer: stop calling a peer that never answers after MS\n"
         "                     milliseconds (default 60000; 0: never)\n"
         "  --room NAME        host a chat room for a class: prints once on stderr the\n"
         "                     address members join; q, Ctrl-D or Ctrl-C (or closing the\n"
         "                     terminal) ends the room for all\n"
         "  --join HOST:PORT   join the room hosted there (any or any:PORT: look for rooms on\n"
         "                     the local network, port 9000 by default; several: list, exit 2);\n"
         "                     every member sees every other\n"
         "                     member's message once, in the same order (NAME: TEXT lines);\n"
         "                     q leaves only you; exit 0 when the host ends the room, 3 when\n"
         "                     the host vanished, 4 when no room answered\n"
         "  --stats            print the drop counters to stderr at exit\n"
         "  --trace            print every socket call and frame to stderr\n"
         "  --help             this text\n"
         "\n"
         "Type q, Ctrl-D or Ctrl-C (or close the terminal) to leave. Without a terminal each\n"
         "input line is a message, each received message is printed on its own line, and\n"
         "the end of input leaves (at once if no peer has joined and nothing was sent).\n"
         "On a terminal the peer's control characters are shown, never obeyed; a room\n"
         "on a terminal has the same prompt and editing as the point-to-point chat.\n"
         "Exit status: 0 chat ended in agreement, everything delivered (or the input ended\n"
         "before any peer joined); 1 error (also: standard output unwritable); 2 usage;\n"
         "3 peer lost (vanished, or never confirmed our leaving or our messages: how many\n"
         "were not delivered is printed); 4 nobody answered before the give-up time, or the\n"
         "peer left before all the input was sent.");
}

/* ---- output -------------------------------------------------------------------------------- */

/* "netlab-chat: " pre name post on stderr; name (may be NULL) may come from the peer and is
 * made safe, pre and post are ours. */
static void stderr3(const char *pre, const char *name, const char *post)
{
    fprintf(stderr, "netlab-chat: %s", pre);
    if (name != NULL)
        chat_text_put_safe(stderr, name, strlen(name));
    fprintf(stderr, "%s\n", post);
    fflush(stderr);
}

/* A status line: "*** bob left the chat". `name` (may be NULL) comes from the peer and is made
 * safe; pre and post are ours. Interactive mode: in the log; otherwise on stderr. */
static void status3(chat_app *a, const char *pre, const char *name, const char *post)
{
    if (a->terminal) {
        chat_term_status(a->term, pre, name, post);
        return;
    }
    stderr3(pre, name, post);
}

static void status_line(chat_app *a, const char *text)
{
    status3(a, text, NULL, "");
}

/* ---- sending --------------------------------------------------------------------------------- */

static void do_leave(chat_app *a)
{
    if (a->left)
        return;
    if (a->terminal)
        chat_term_stop(a->term, 1);
    a->left = 1;
    nl_chat_session_leave(a->s);
}

/* A typed line cannot go because the peer has left (the session is only finishing what it had):
 * say so plainly, and count it for the exit status. */
static void refuse_line(chat_app *a)
{
    chat_term_refused(a->term);
    status3(a, "*** not sent: ", a->peer_name, " has left the chat (q, Ctrl-D or Ctrl-C to leave)");
}

/* Hand a message to the session. Returns 1 when it was taken, 0 when the queue is full (try
 * again later), -1 when it was refused for good (said why), -2 when the peer has left (the
 * session takes nothing more; not said here). */
static int send_text(chat_app *a, const char *text, size_t len)
{
    int64_t rc;
    char msg[160];

    if (a->peer_left)
        return -2;
    if (len > a->msg_max) {
        snprintf(msg, sizeof msg, "message of %zu bytes not sent: the limit is %zu", len,
                 a->msg_max);
        status_line(a, msg);
        return -1;
    }
    rc = nl_chat_session_send(a->s, text, len);
    if (rc == NL_ENOBUFS)
        return 0;
    if ((rc == NL_ESHUTDOWN || rc == NL_ECLOSED) && !a->left)
        return -2; /* the peer's goodbye is in, its event not yet handled (a key command) */
    if (rc < 0) {
        snprintf(msg, sizeof msg, "message not sent: %s", nl_strerror((int)rc));
        status_line(a, msg);
        return -1;
    }
    a->queued++;
    return 1;
}

static void free_items(chat_item *it)
{
    while (it != NULL) {
        chat_item *next = it->next;

        free(it);
        it = next;
    }
}

static chat_item *item_new(const char *text, size_t len)
{
    chat_item *it = malloc(sizeof *it + len + 1);

    if (it == NULL)
        return NULL;
    memset(it, 0, sizeof *it);
    memcpy(it->text, text, len);
    it->text[len] = '\0';
    it->len = len;
    return it;
}

/* The terminal's send hook: a typed line (retry 0), or one that waited for room (retry 1).
 * Returns 1 when done with (sent, or refused and said why), 0 when it must wait. */
static int term_line(void *user, const char *text, size_t len, int retry)
{
    chat_app *a = user;
    int r;

    if (retry) {
        if (a->left || a->peer_left)
            return 0; /* it stays, counted as not sent at the end */
        r = send_text(a, text, len);
        return r != 0 && r != -2;
    }
    if (a->peer_left) {
        refuse_line(a);
        return 1;
    }
    if (chat_term_waiting(a->term) > 0)
        return 0; /* in order, behind the lines still waiting */
    r = send_text(a, text, len);
    if (r == -2) {
        refuse_line(a);
        return 1;
    }
    return r != 0;
}

static void term_leave(void *user)
{
    do_leave(user);
}

/* ---- pipe mode ------------------------------------------------------------------------------- */

/* Send the complete lines in inbuf; stop when the session's queue is full (the rest goes when
 * there is room again). A CR before the newline (a file from Windows) is not part of the text. */
static void pump_lines(chat_app *a)
{
    size_t start = 0;

    while (!a->left && !a->peer_left && start < a->in_len) {
        char *p = a->inbuf + start, *nl = memchr(p, '\n', a->in_len - start);
        size_t len, text_len;
        int sent;

        if (nl == NULL) {
            if (!a->eof && a->in_len - start <= a->msg_max + 1)
                break; /* wait for the rest of the line */
            if (!a->eof) {
                /* Longer than any message can be: refuse it now, skip to its end. */
                a->discarding = 1;
                fprintf(stderr, "netlab-chat: line %lu is longer than %zu bytes: not sent\n",
                        a->line_no + 1, a->msg_max);
                start = a->in_len;
                break;
            }
            len = a->in_len - start;
        } else {
            len = (size_t)(nl - p);
        }
        text_len = len > 0 && p[len - 1] == '\r' ? len - 1 : len;
        if (a->discarding) {
            a->discarding = nl == NULL;
            start += len + (nl != NULL);
            a->line_no++;
            continue;
        }
        if (text_len == 1 && p[0] == 'q') {
            if (a->trace)
                fprintf(stderr, "trace: [q read]\n");
            start += len + (nl != NULL);
            a->eof = 1;
            break;
        }
        if (text_len > a->msg_max) {
            fprintf(stderr, "netlab-chat: line %lu is %zu bytes, over the %zu limit: not sent\n",
                    a->line_no + 1, text_len, a->msg_max);
        } else if ((sent = send_text(a, p, text_len)) == 0 || sent == -2) {
            break; /* -2: the peer left; the line stays, counted as not sent at the end */
        }
        a->line_no++;
        start += len + (nl != NULL);
    }
    memmove(a->inbuf, a->inbuf + start, a->in_len - start);
    a->in_len -= start;
    if (a->eof && a->in_len == 0 && !a->left) {
        if (!a->joined && a->queued == 0)
            status_line(a, "end of input before any peer joined: nothing to send, leaving");
        if (a->joined || a->plain || a->queued == 0)
            do_leave(a); /* plain mode sent its lines at once */
        else
            a->leave_pending = 1; /* deliver what was typed before quitting */
    }
}

static void pipe_read(chat_app *a)
{
    long n = chat_io_read(a->io, a->inbuf + a->in_len, INBUF_MAX - a->in_len);

    if (n < 0)
        return; /* nothing there yet */
    if (n == 0)
        a->eof = 1;
    else
        a->in_len += (size_t)n;
    pump_lines(a);
}

/* ---- session events -------------------------------------------------------------------------- */

/* The session suspects something (each at most once): tell the user, who can fix it. */
static void warning_line(chat_app *a, int code)
{
    const char *who = a->peer_text != NULL ? a->peer_text : "a caller";
    char line[320], later[64] = "";

    if (a->give_up_ms > 0)
        snprintf(later, sizeof later, " (giving up after %g s)", a->give_up_ms / 1000.0);
    if (code == NL_EBADFRAME)
        snprintf(line, sizeof line,
                 "warning: frames from %s fail authentication: the keys "
                 "probably differ (or only one side has --key-file)",
                 who);
    else if (code == NL_ECONNREFUSED)
        snprintf(line, sizeof line,
                 "nobody listens at %s yet (port unreachable, or it chats "
                 "with someone else); still calling%s",
                 who, later);
    else if (code == NL_ETIMEDOUT)
        snprintf(line, sizeof line, "no answer from %s yet; still calling%s", who, later);
    else
        snprintf(line, sizeof line, "warning: %s", nl_strerror(code));
    status_line(a, line);
}

static void handle_event(chat_app *a, const nl_chat_event *ev)
{
    switch (ev->type) {
    case NL_CHAT_EV_PEER_JOINED:
        a->joined = 1;
        nl_endpoint_format(&ev->peer, a->peer_addr, sizeof a->peer_addr);
        snprintf(a->peer_name, sizeof a->peer_name, "%s", ev->len ? ev->data : a->peer_addr);
        {
            char post[NL_ENDPOINT_STRLEN + 16];

            snprintf(post, sizeof post, " joined from %s", a->peer_addr);
            status3(a, "*** ", a->peer_name, post);
        }
        if (a->leave_pending)
            do_leave(a);
        break;
    case NL_CHAT_EV_MESSAGE:
        if (a->terminal)
            chat_term_log(a->term, a->peer_name, ev->data, ev->len, 0);
        else if (!a->out_failed && chat_out_message(NULL, ev->data, ev->len, a->out_tty) < 0) {
            a->out_failed = 1; /* chat_out_message() said why */
            do_leave(a);
        }
        break;
    case NL_CHAT_EV_PEER_LEFT:
        a->peer_left = 1;
        if (!a->left)
            status3(a, "*** ", a->peer_name, " left the chat");
        break;
    case NL_CHAT_EV_WARNING:
        warning_line(a, ev->code);
        break;
    case NL_CHAT_EV_PEER_LOST:
        status3(a, "*** ", a->peer_name, " stopped answering: peer lost");
        break;
    case NL_CHAT_EV_ERROR: {
        char line[160];

        snprintf(line, sizeof line, "error: %s", nl_strerror(ev->code));
        status_line(a, line);
        break;
    }
    case NL_CHAT_EV_CLOSED:
        a->closed = 1;
        a->status = ev->code;
        if (a->terminal)
            chat_term_stop(a->term, 1);
        break;
    default:
        break;
    }
}

/* Events that arrive while a key command is half done wait here (copied: the session reuses
 * its buffers at the next step). */
static void defer_event(chat_app *a, const nl_chat_event *ev)
{
    chat_item *it = item_new(ev->data != NULL ? ev->data : "", ev->data != NULL ? ev->len : 0);

    if (ev->type == NL_CHAT_EV_CLOSED) {
        a->closed = 1;
        a->status = ev->code;
    }
    if (it == NULL) {
        handle_event(a, ev);
        return;
    }
    it->ev = *ev;
    it->ev.data = it->text;
    *a->defer_tail = it;
    a->defer_tail = &it->next;
    a->defer_bytes += it->len + sizeof *it;
}

static void defer_flush(chat_app *a)
{
    chat_item *it = a->defer;

    a->defer = NULL;
    a->defer_tail = &a->defer;
    a->defer_bytes = 0;
    while (it != NULL) {
        chat_item *next = it->next;

        handle_event(a, &it->ev);
        free(it);
        it = next;
    }
}

/* Process what the session has (without waiting), a bounded number of rounds. */
static void session_pump(chat_app *a, int defer)
{
    nl_chat_event ev[16];

    for (int round = 0; round < 8 && !a->closed; round++) {
        int n = nl_chat_session_step(a->s, ev, sizeof ev / sizeof ev[0], 0);

        if (n <= 0) {
            if (n == NL_ECLOSED)
                a->closed = 1;
            return;
        }
        for (int i = 0; i < n; i++) {
            if (defer)
                defer_event(a, &ev[i]);
            else
                handle_event(a, &ev[i]);
        }
    }
}

/* The terminal's hooks while a key command waits for a key: the session keeps running, its
 * events kept for afterwards (when too many wait, the session waits for us). */
static nl_socket_t term_net_wait(void *user, int *timeout_ms)
{
    chat_app *a = user;

    if (a->defer_bytes >= DEFER_MAX)
        return CHAT_IO_NO_SOCKET;
    *timeout_ms = nl_chat_session_next_timeout_ms(a->s);
    return nl_chat_session_fd(a->s);
}

static void term_net_pump(void *user)
{
    session_pump(user, 1);
}

static void term_command_done(void *user)
{
    defer_flush(user);
}

static int term_ended(void *user)
{
    return ((chat_app *)user)->closed;
}

/* ---- the loop -------------------------------------------------------------------------------- */

/* What chat_io_wait found besides the socket and input: a request to leave, a resize. */
static void check_signals(chat_app *a, int got)
{
    if (got > 0 && (got & CHAT_IO_STOP) && chat_io_stop_reason(a->io) != 0) {
        if (!a->left && a->trace)
            fprintf(stderr, "trace: [signal: leaving]\n");
        do_leave(a);
    }
    chat_term_winch(a->term, got > 0 && (got & CHAT_IO_RESIZE));
}

static int chat_loop(chat_app *a)
{
    while (!a->closed) {
        int want = 0, rc;

        /* A request to leave is reported until taken; nothing else is waited for here. */
        check_signals(a, chat_io_wait(a->io, CHAT_IO_NO_SOCKET, 0, 0));
        if (a->terminal)
            chat_term_flush(a->term);
        else if (a->in_len > 0 && !a->peer_left)
            pump_lines(a);
        if (a->closed)
            break;
        /* Once the peer left, nobody takes our lines: the rest of piped input stays unread
         * (finish() counts it). A terminal is still read, so that q and Ctrl-D work. */
        if (!a->eof && !a->left && (a->terminal || !a->peer_left)) {
            if (a->terminal
                    ? chat_term_wants_input(a->term)
                    : a->in_len < INBUF_MAX - 1 && nl_chat_session_send_room(a->s) >= a->msg_max)
                want = 1;
        }
        rc = chat_io_wait(a->io, nl_chat_session_fd(a->s), want,
                          nl_chat_session_next_timeout_ms(a->s));
        if (rc < 0 && errno != EINTR) {
            fprintf(stderr, "netlab-chat: poll: %s\n", strerror(errno));
            return NL_EIO;
        }
        check_signals(a, rc);
        if (rc > 0 && want && (rc & CHAT_IO_INPUT)) {
            if (a->terminal) {
                chat_term_input(a->term);
            } else {
                pipe_read(a);
            }
        }
        session_pump(a, 0);
    }
    return a->status;
}

static void print_stats(const nl_chat_stats *st)
{
    fprintf(stderr,
            "netlab-chat: stats: datagrams in %llu, out %llu, retransmits %llu, messages in %llu, "
            "out %llu, acknowledged %llu\n"
            "netlab-chat: drops: wrong_source %llu, bad_length %llu, bad_magic %llu, "
            "bad_version %llu, bad_header %llu, auth_failed %llu, bad_session %llu, "
            "replayed %llu, out_of_window %llu, duplicates %llu, unexpected %llu, "
            "budget_stops %llu\n",
            (unsigned long long)st->datagrams_in, (unsigned long long)st->datagrams_out,
            (unsigned long long)st->retransmits, (unsigned long long)st->messages_in,
            (unsigned long long)st->messages_out, (unsigned long long)st->messages_acked,
            (unsigned long long)st->wrong_source, (unsigned long long)st->bad_length,
            (unsigned long long)st->bad_magic, (unsigned long long)st->bad_version,
            (unsigned long long)st->bad_header, (unsigned long long)st->auth_failed,
            (unsigned long long)st->bad_session, (unsigned long long)st->replayed,
            (unsigned long long)st->out_of_window, (unsigned long long)st->duplicates,
            (unsigned long long)st->unexpected, (unsigned long long)st->budget_stops);
}

/* Milliseconds from min to 3600000; anything else is a usage error naming the option. */
static int parse_ms(const char *text, const char *option, long min)
{
    char msg[128];
    char *end;
    long v;

    errno = 0;
    v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < min || v > 3600000) {
        snprintf(msg, sizeof msg, "%s wants milliseconds from %ld to 3600000, not '%%s'", option,
                 min);
        usage_error(msg, text);
    }
    return (int)v;
}

/* The peer left before we did: input we read but did not send, and what is waiting on stdin
 * right now, will never be sent. Counted (not kept) so that the user knows how much: lines,
 * a partial last line counting as one; *more is set when input was still arriving. */
static unsigned long unsent_lines(chat_app *a, int *more)
{
    unsigned long n = 0;
    long r = 0;
    size_t total = 0;
    int partial;

    for (size_t i = 0; i < a->in_len; i++)
        n += a->inbuf[i] == '\n';
    partial = a->in_len > 0 && a->inbuf[a->in_len - 1] != '\n';
    *more = 0;
    /* What is readable now, up to 64 MiB: counting it must not wait for a slow writer. */
    while (!a->eof && total < ((size_t)64 << 20) &&
           (r = chat_io_read(a->io, a->inbuf, INBUF_MAX)) > 0) {
        for (long i = 0; i < r; i++)
            n += a->inbuf[i] == '\n';
        partial = a->inbuf[r - 1] != '\n';
        total += (size_t)r;
    }
    if (!a->eof && r < 0)
        *more = 1; /* the writer is still there: more may come, unread */
    return n + (unsigned long)partial;
}

/* The exit status, and a line saying what went wrong when something did: how the session
 * ended (rc), whether everything we accepted was acknowledged, whether input was left, and
 * whether standard output failed (then 1, whatever else happened: it is why we left). */
static int finish(chat_app *a, int rc, const nl_chat_stats *st)
{
    unsigned long long lost = a->plain ? 0 : st->messages_out - st->messages_acked;
    unsigned long unsent = 0;
    int more = 0, status;
    const char *who = a->joined ? a->peer_name : a->peer_text != NULL ? a->peer_text : "the peer";
    char post[160];

    if (a->terminal)
        unsent = a->typed_unsent;
    else if (a->peer_left && !a->left && a->inbuf != NULL)
        unsent = unsent_lines(a, &more);
    free(a->inbuf);
    a->inbuf = NULL;
    if (unsent > 0 && a->peer_left) {
        snprintf(post, sizeof post, " left before %s%lu %sline%s %s sent: not sent",
                 more ? "at least " : "", unsent, a->terminal ? "typed " : "",
                 unsent == 1 ? "" : "s",
                 !a->terminal  ? "of input were"
                 : unsent == 1 ? "was"
                               : "were");
        stderr3("warning: ", who, post);
    } else if (unsent > 0) {
        /* Terminal: we left (or lost the peer) while typed lines waited for room. */
        fprintf(stderr,
                "netlab-chat: warning: %lu typed line%s never sent (the chat ended first)\n",
                unsent, unsent == 1 ? " was" : "s were");
    }
    if (rc == 0) {
        status = unsent > 0 ? EXIT_NOT_SENT : 0;
    } else if (!a->joined && (rc == NL_ETIMEDOUT || rc == NL_ECONNREFUSED || rc == NL_ENOTCONN)) {
        char tail[64] = "";

        if (lost > 0)
            snprintf(tail, sizeof tail, "; %llu message%s not sent", lost, lost == 1 ? "" : "s");
        if (rc == NL_ENOTCONN)
            fprintf(stderr, "netlab-chat: no peer joined%s\n", tail);
        else
            fprintf(stderr, "netlab-chat: nobody answered at %s within %g s%s: gave up%s\n", who,
                    a->give_up_ms / 1000.0,
                    rc == NL_ECONNREFUSED ? " (port unreachable: nothing listens there, or it "
                                            "chats with someone else)"
                                          : "",
                    tail);
        status = EXIT_NOT_SENT;
    } else if (rc == NL_EPEERLOST || rc == NL_ETIMEDOUT) {
        if (rc == NL_ETIMEDOUT)
            stderr3("warning: leaving timed out: ", who,
                    " still answers, but nothing was acknowledged or delivered for the leave "
                    "time-out");
        else
            fprintf(stderr, "netlab-chat: warning: the peer stopped answering%s\n",
                    a->left ? " before the goodbye was complete" : "");
        if (lost > 0)
            fprintf(stderr,
                    "netlab-chat: warning: %llu of %llu messages sent were not "
                    "confirmed delivered\n",
                    lost, (unsigned long long)st->messages_out);
        status = EXIT_LOST;
    } else {
        fprintf(stderr, "netlab-chat: %s\n", nl_strerror(rc));
        status = 1;
    }
    return a->out_failed ? 1 : status;
}

/* Descriptors 0, 1 and 2 must be open before any socket exists: a program started with one of
 * them closed (`<&-`) would otherwise get its UDP socket as "standard input" and read datagrams
 * as keystrokes. A closed one gets /dev/null, as careful daemons do: closed stdin then simply
 * reads as end of input. Returns a bit set of the descriptors that were closed, -1 on failure. */
static int open_std_descriptors(void)
{
    int closed = 0;

#ifndef _WIN32
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
            continue;
        int got = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);

        if (got != fd) {
            if (got >= 0)
                close(got);
            return -1;
        }
        closed |= 1 << fd;
    }
#endif
    /* Windows: a socket is never a C runtime descriptor, so it cannot take their place; a
     * missing standard input reads as its end (chat_io). */
    return closed;
}

/* --join any: a port number from 1 to 65535, or -1. */
static int parse_port_arg(const char *text)
{
    char *end;
    long v = strtol(text, &end, 10);

    return *text != '\0' && *end == '\0' && v >= 1 && v <= 65535 ? (int)v : -1;
}

/* --join any: look for rooms on the local network for a second. One found: join it. None:
 * say so (exit 4). Several: list them (exit 2: the user must choose with --join HOST:PORT). */
static int find_room(const nl_endpoint *bind, int port, nl_endpoint *host)
{
    nl_chat_room_found found[16];
    char addr[NL_ENDPOINT_STRLEN];
    int n = nl_chat_room_discover(bind, port, 1000, found, 16);

    if (n < 0) {
        fprintf(stderr, "netlab-chat: cannot look for rooms: %s\n", nl_strerror(n));
        return n == NL_EAFNOSUPPORT ? 2 : 1;
    }
    if (n == 0) {
        fprintf(stderr, "netlab-chat: no room answered on port %d of the local network\n", port);
        return 4;
    }
    for (int i = 0; i < n && i < 16; i++) {
        /* Names from the network: control characters shown as placeholders (chat_text.h). */
        if (nl_endpoint_format(&found[i].host, addr, sizeof addr) < 0)
            snprintf(addr, sizeof addr, "?");
        fprintf(stderr, "%s room ", n == 1 ? "*** found" : "netlab-chat:");
        chat_text_put_safe(stderr, found[i].room, strlen(found[i].room));
        fputs(" of ", stderr);
        chat_text_put_safe(stderr, found[i].name, strlen(found[i].name));
        fprintf(stderr, " at %s\n", addr);
    }
    if (n > 1) {
        fprintf(stderr, "netlab-chat: %d rooms answered: choose one with --join HOST:PORT\n", n);
        return 2;
    }
    *host = found[0].host;
    return 0;
}

/* Our signals (Windows: console control events) are caught from here on, and blocked except
 * while the loop waits, so none is missed between a check and the wait. Closing the terminal
 * (SIGHUP) leaves like q does. Returns 0, or -1 having said why. */
static int open_io(chat_io **io)
{
    if (chat_io_open(io, CHAT_IO_STDIN, 1) == 0)
        return 0;
    fprintf(stderr, "netlab-chat: cannot read standard input: %s\n", strerror(errno));
    return -1;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"bind", required_argument, NULL, 'b'},
                                             {"peer", required_argument, NULL, 'p'},
                                             {"plain", no_argument, NULL, 'P'},
                                             {"key-file", required_argument, NULL, 'k'},
                                             {"name", required_argument, NULL, 'n'},
                                             {"stats", no_argument, NULL, 's'},
                                             {"trace", no_argument, NULL, 't'},
                                             {"help", no_argument, NULL, 'h'},
                                             {"peer-lost", required_argument, NULL, 'L'},
                                             {"give-up", required_argument, NULL, 'G'},
                                             {"room", required_argument, NULL, 'R'},
                                             {"join", required_argument, NULL, 'J'},
                                             {NULL, 0, NULL, 0}};
    const char *room = NULL, *join = NULL;
    const char *bind_text = NULL, *peer_text = NULL, *key_path = NULL, *name = NULL;
    char default_name[NL_CHAT_NAME_MAX + 1];
    unsigned char key[NL_CHAT_KEY_BYTES];
    chat_app app = {0};
    nl_chat_opts o = {0};
    nl_chat_stats st;
    char local[NL_ENDPOINT_STRLEN];
    nl_endpoint ep;
    int c, rc, closed_std;

    closed_std = open_std_descriptors();
    if (closed_std < 0)
        return 1; /* not even /dev/null: nothing sensible can be done, nor said */
    /* libedit edits characters, not bytes, and needs the locale to know UTF-8 (中文). */
    setlocale(LC_CTYPE, "");
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            bind_text = optarg;
            break;
        case 'p':
            peer_text = optarg;
            break;
        case 'P':
            app.plain = 1;
            break;
        case 'k':
            key_path = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 's':
            app.stats = 1;
            break;
        case 't':
            app.trace = 1;
            break;
        case 'L':
            o.peer_lost_ms = parse_ms(optarg, "--peer-lost", NL_CHAT_PEER_LOST_MIN);
            break;
        case 'G':
            o.call_timeout_ms = parse_ms(optarg, "--give-up", 0);
            if (o.call_timeout_ms == 0)
                o.call_timeout_ms = -1; /* never */
            break;
        case 'R':
            room = optarg;
            break;
        case 'J':
            join = optarg;
            break;
        case 'h':
            print_help();
            return 0;
        default:
            usage_error("bad option or missing argument: %s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        usage_error("unexpected argument: %s", argv[optind]);
    if (bind_text == NULL)
        usage_error("%s", "--bind HOST:PORT is required");
    address_arg(&o.bind, "--bind", bind_text, 0);
    if (peer_text != NULL) {
        address_arg(&o.peer, "--peer", peer_text, 1);
        /* An IPv6 socket reaches IPv4 peers through mapped addresses; not the reverse. */
        if (o.peer.family != o.bind.family && o.bind.family != NL_AF_INET6)
            usage_error("--peer '%s' is not of the --bind address's family", peer_text);
    }
    if (key_path != NULL && app.plain)
        usage_error("%s", "--key-file needs the reliable mode (drop --plain)");
    if (room != NULL && join != NULL)
        usage_error("%s", "--room (host a room) and --join (join one): one or the other");
    if ((room != NULL || join != NULL) && (peer_text != NULL || app.plain))
        usage_error("%s", "--room and --join go without --peer and --plain");
    if (room != NULL && strlen(room) > NL_CHAT_NAME_MAX)
        usage_error("--room: at most 64 bytes, '%s' is longer", room);
    if (name != NULL && strlen(name) > NL_CHAT_NAME_MAX)
        usage_error("--name: at most 64 bytes, '%s' is longer", name);
#ifdef _WIN32
    if (name == NULL && getenv("USER") == NULL)
        name = getenv("USERNAME"); /* Windows' name for it */
#endif
    if (name == NULL && (name = getenv("USER")) != NULL) {
        /* Only a name the user gave can be wrong; the default is shortened to fit. */
        size_t n = chat_text_utf8_prefix(name, NL_CHAT_NAME_MAX);

        memcpy(default_name, name, n);
        default_name[n] = '\0';
        name = default_name;
    }
    if (key_path != NULL) {
        char why[512];
        int k = chat_key_read(key_path, key, why, sizeof why);

        if (k != 0)
            fprintf(stderr, "netlab-chat: %s\n", why);
        if (k < 0)
            return 1;
        o.key = key;
    }
    if (room != NULL || join != NULL) {
        chat_room_cli rc_cli = {0};

        rc_cli.bind = o.bind;
        rc_cli.bind_text = bind_text;
        rc_cli.room = room;
        rc_cli.host_text = join;
        if (join != NULL && (strcmp(join, "any") == 0 || strncmp(join, "any:", 4) == 0)) {
            int port = join[3] == ':' ? parse_port_arg(join + 4) : NL_CHAT_ROOM_PORT;
            if (port <= 0)
                usage_error("--join: bad port in '%s' (any or any:PORT)", join);
            rc = find_room(&o.bind, port, &rc_cli.host);
            if (rc != 0)
                return rc;
        } else if (join != NULL) {
            address_arg(&rc_cli.host, "--join", join, 1);
        }
        if (join != NULL && rc_cli.host.family != o.bind.family && o.bind.family != NL_AF_INET6)
            usage_error("--join '%s' is not of the --bind address's family", join);
        rc_cli.name = name;
        rc_cli.key = o.key;
        rc_cli.peer_lost_ms = o.peer_lost_ms;
        rc_cli.call_timeout_ms = o.call_timeout_ms;
        rc_cli.stats = app.stats;
        rc_cli.trace = app.trace;
        rc_cli.closed_std = closed_std;
        if (open_io(&rc_cli.io) < 0)
            return 1;
        app.io = rc_cli.io;
        rc = chat_room_main(&rc_cli);
        chat_key_wipe(key, sizeof key);
        chat_io_close(app.io);
        return rc;
    }
    if (open_io(&app.io) < 0)
        return 1;
    o.mode = app.plain ? NL_CHAT_PLAIN : NL_CHAT_RELIABLE;
    app.peer_text = peer_text;
    app.give_up_ms = o.call_timeout_ms ? o.call_timeout_ms : 60000;
    o.name = name;
    app.msg_max = app.plain ? NL_CHAT_PLAIN_MAX : NL_CHAT_MSG_MAX;
    app.terminal = chat_io_is_console(app.io) && isatty(1);
    app.out_tty = isatty(1);
    app.defer_tail = &app.defer;
    if (app.terminal) {
        chat_term_hooks h = {&app,          term_line,         term_leave, term_net_wait,
                             term_net_pump, term_command_done, term_ended};

        app.term = chat_term_new(&h, app.msg_max, app.io);
        if (app.term == NULL) {
            fprintf(stderr, "netlab-chat: out of memory\n");
            chat_io_close(app.io);
            return 1;
        }
    }
    if (app.trace)
        o.trace = chat_term_trace;
    o.trace_user = app.term;
    if (closed_std & 2)
        fprintf(stderr, "netlab-chat: warning: standard output was closed: received messages "
                        "go to /dev/null\n");

    rc = nl_chat_session_open(&app.s, &o);
    chat_key_wipe(key, sizeof key);
    if (rc < 0) {
        fprintf(stderr, "netlab-chat: cannot start on %s: %s\n", bind_text, nl_strerror(rc));
        chat_term_free(app.term);
        chat_io_close(app.io);
        return 1;
    }

    nl_chat_session_local(app.s, &ep);
    nl_endpoint_format(&ep, local, sizeof local);
    if (peer_text != NULL)
        fprintf(stderr, "netlab-chat: listening on %s, calling %s (%s mode)\n", local, peer_text,
                app.plain  ? "plain"
                : key_path ? "reliable, keyed"
                           : "reliable");
    else
        fprintf(stderr, "netlab-chat: listening on %s, waiting for a peer (%s mode)\n", local,
                app.plain  ? "plain"
                : key_path ? "reliable, keyed"
                           : "reliable");
    fflush(stderr);

    if (app.terminal) {
        if (chat_term_open(app.term) < 0) {
            fprintf(stderr, "netlab-chat: cannot set up the line editor\n");
            chat_term_free(app.term);
            nl_chat_session_close(app.s);
            chat_io_close(app.io);
            return 1;
        }
    } else {
        app.inbuf = malloc(INBUF_MAX);
        if (app.inbuf == NULL) {
            fprintf(stderr, "netlab-chat: out of memory\n");
            nl_chat_session_close(app.s);
            chat_io_close(app.io);
            return 1;
        }
    }
    rc = chat_loop(&app);
    if (app.terminal) {
        app.typed_unsent = chat_term_unsent(app.term);
        chat_term_free(app.term);
    }
    free_items(app.defer);
    nl_chat_session_stats(app.s, &st);
    if (app.stats)
        print_stats(&st);
    nl_chat_session_close(app.s);
    rc = finish(&app, rc, &st);
    chat_io_close(app.io);
    return rc;
}
