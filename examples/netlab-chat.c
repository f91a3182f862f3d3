/* netlab-chat: the course's point-to-point chat (实时收发, 同步退出, 防干扰) on nl_chat_session.
 *
 *   netlab-chat --bind HOST:PORT [--peer HOST:PORT] [--plain] [--key-file PATH] [--name NAME]
 *               [--peer-lost MS] [--give-up MS] [--stats] [--trace]
 *
 * On a terminal it is an interactive chat: incoming messages appear above the line being
 * typed (libedit's callback interface redraws it), with the peer's name and the time; `q`,
 * Ctrl-D or Ctrl-C leave. Otherwise (pipes) each input line is one message and each message
 * received is written to stdout verbatim on a line of its own; status lines go to stderr.
 *
 * Exit codes: 0 the chat ended in agreement (either side left and both know it), and every
 *               message we accepted was delivered;
 *             1 an error (socket, key file, ...); 2 usage error;
 *             3 the peer was lost: it stopped answering, or never confirmed our leaving, or
 *               stopped taking our messages (the warning says how many were not delivered);
 *             4 nothing lost, but not everything sent: nobody answered our call before the
 *               give-up time, or the peer left before all our input was sent.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <editline/readline.h>

#include "netlab.h"

#define EXIT_LOST     3
#define EXIT_NOT_SENT 4
#define INBUF_MAX (2 * NL_CHAT_MSG_MAX + 2)

typedef struct chat_app {
    nl_chat_session *s;
    int terminal; /* interactive mode (stdin and stdout are terminals)        */
    int plain;
    int stats, trace;
    size_t msg_max; /* the mode's message size limit                            */
    char peer_name[NL_CHAT_NAME_MAX + 1];
    char peer_addr[NL_ENDPOINT_STRLEN];
    int joined;        /* the peer joined                                          */
    int peer_left;     /* the peer left: what we had not sent yet stays unsent     */
    const char *peer_text; /* --peer as given, for messages                        */
    int give_up_ms;        /* --give-up (-1: never)                                */
    int leave_pending; /* pipe mode: leave once the peer has joined                */
    int left;          /* leave has been called                                    */
    int eof;           /* no more input                                            */
    int discarding;    /* pipe mode: skipping the rest of an over-long line        */
    unsigned long line_no;
    char *inbuf; /* pipe mode: input not yet sent                            */
    size_t in_len;
} chat_app;

static chat_app *g_app;              /* for libedit's line callback, which has no user pointer */
static volatile sig_atomic_t g_stop; /* set by SIGINT/SIGTERM                                  */

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "netlab-chat: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (try --help)\n");
    exit(2);
}

static void print_help(void)
{
    puts("usage: netlab-chat --bind HOST:PORT [--peer HOST:PORT] [--plain] [--key-file PATH]\n"
         "                   [--name NAME] [--peer-lost MS] [--give-up MS] [--stats] [--trace]\n"
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
         "  --name NAME        your name, shown to the peer (default: $USER)\n"
         "  --peer-lost MS     silence after which the peer counts as lost (200 to 3600000,\n"
         "                     default 5000)\n"
         "  --give-up MS       with --peer: stop calling a peer that never answers after MS\n"
         "                     milliseconds (default 60000; 0: never)\n"
         "  --stats            print the drop counters to stderr at exit\n"
         "  --trace            print every socket call and frame to stderr\n"
         "  --help             this text\n"
         "\n"
         "Type q, Ctrl-D or Ctrl-C to leave. Without a terminal each input line is a message\n"
         "and each received message is printed on its own line.\n"
         "Exit status: 0 chat ended in agreement, everything delivered; 1 error; 2 usage;\n"
         "3 peer lost (vanished, or never confirmed our leaving or our messages: how many\n"
         "were not delivered is printed); 4 nobody answered before the give-up time, or the\n"
         "peer left before all the input was sent.");
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A key file holds the 32 key bytes raw, or as 64 hex digits with optional white space
 * around them. Anything else is refused rather than guessed at. */
static int read_key(const char *path, unsigned char key[NL_CHAT_KEY_BYTES])
{
    unsigned char buf[256];
    struct stat st;
    size_t n, i, j = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        fprintf(stderr, "netlab-chat: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) == 0 && (st.st_mode & 077) != 0)
        fprintf(stderr, "netlab-chat: warning: %s is readable by others (chmod 600 it)\n", path);
    n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, sizeof buf - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n == sizeof buf)
            break;
    }
    close(fd);
    if (n == NL_CHAT_KEY_BYTES) {
        memcpy(key, buf, NL_CHAT_KEY_BYTES);
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t')
            continue;
        if (j == 2 * NL_CHAT_KEY_BYTES || hexval(buf[i]) < 0)
            break;
        if (j % 2 == 0)
            key[j / 2] = (unsigned char)(hexval(buf[i]) << 4);
        else
            key[j / 2] |= (unsigned char)hexval(buf[i]);
        j++;
    }
    if (i == n && j == 2 * NL_CHAT_KEY_BYTES)
        return 0;
    fprintf(stderr, "netlab-chat: %s: expected 32 raw bytes or 64 hex digits\n", path);
    return -1;
}

static double mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Trace lines carry the seconds since start, so retransmission timing can be read off them. */
static void on_trace(const nl_trace_event *ev, void *user)
{
    static double t0;
    char line[256];

    (void)user;
    if (t0 == 0)
        t0 = mono_s();
    nl_trace_format(ev, line, sizeof line);
    fprintf(stderr, "trace: [%8.3f] %s\n", mono_s() - t0, line);
}

/* On a terminal, the peer's text must not be able to move the cursor or change colours:
 * control characters are shown as '?'. Pipes get the text verbatim. */
static void put_sanitized(FILE *f, const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        fputc(c < 0x20 || c == 0x7f ? (c == '\t' ? ' ' : '?') : c, f);
    }
}

/* Print a line above the prompt without disturbing what is being typed: clear the prompt's
 * row, print, and let libedit draw prompt and half-typed line again. */
static void term_line(chat_app *a, const char *who, const char *text, size_t len)
{
    char stamp[16];
    time_t now = time(NULL);
    struct tm tm;

    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
    fputs("\r\033[K", stdout);
    printf("[%s] ", stamp);
    if (who != NULL) {
        put_sanitized(stdout, who, strlen(who));
        fputs(": ", stdout);
    }
    put_sanitized(stdout, text, len);
    fputs("\n", stdout);
    fflush(stdout);
    if (!a->left)
        rl_forced_update_display();
}

static void status_line(chat_app *a, const char *text)
{
    if (a->terminal)
        term_line(a, NULL, text, strlen(text));
    else
        fprintf(stderr, "netlab-chat: %s\n", text);
}

static void do_leave(chat_app *a)
{
    if (a->left)
        return;
    a->left = 1;
    if (a->terminal)
        rl_callback_handler_remove();
    nl_chat_session_leave(a->s);
}

static void send_text(chat_app *a, const char *text, size_t len)
{
    int64_t rc;
    char msg[160];

    if (len > a->msg_max) {
        snprintf(msg, sizeof msg, "message of %zu bytes not sent: the limit is %zu", len,
                 a->msg_max);
        status_line(a, msg);
        return;
    }
    rc = nl_chat_session_send(a->s, text, len);
    if (rc < 0 && rc != NL_ENOBUFS) {
        snprintf(msg, sizeof msg, "message not sent: %s", nl_strerror((int)rc));
        status_line(a, msg);
    }
}

/* libedit hands over a finished line (NULL at Ctrl-D). */
static void on_line(char *line)
{
    chat_app *a = g_app;

    if (line == NULL || strcmp(line, "q") == 0) {
        if (line == NULL)
            fputs("\n", stdout);
        free(line);
        do_leave(a);
        return;
    }
    if (*line != '\0') {
        add_history(line);
        send_text(a, line, strlen(line));
    }
    free(line);
}

/* Pipe mode: send the complete lines in inbuf; stop when the session's queue is full (the
 * rest goes when there is room again). */
static void pump_lines(chat_app *a)
{
    size_t start = 0;

    while (!a->left && start < a->in_len) {
        char *p = a->inbuf + start, *nl = memchr(p, '\n', a->in_len - start);
        size_t len;

        if (nl == NULL) {
            if (!a->eof && a->in_len - start <= a->msg_max)
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
        if (a->discarding) {
            a->discarding = nl == NULL;
            start += len + (nl != NULL);
            a->line_no++;
            continue;
        }
        if (len == 1 && p[0] == 'q') {
            if (a->trace)
                fprintf(stderr, "trace: [q read]\n");
            start += len + (nl != NULL);
            a->eof = 1;
            break;
        }
        if (len > a->msg_max) {
            fprintf(stderr, "netlab-chat: line %lu is %zu bytes, over the %zu limit: not sent\n",
                    a->line_no + 1, len, a->msg_max);
        } else if (nl_chat_session_send_room(a->s) < len) {
            break;
        } else {
            send_text(a, p, len);
        }
        a->line_no++;
        start += len + (nl != NULL);
    }
    memmove(a->inbuf, a->inbuf + start, a->in_len - start);
    a->in_len -= start;
    if (a->eof && a->in_len == 0 && !a->left) {
        if (a->joined || a->plain)
            do_leave(a);
        else
            a->leave_pending = 1; /* deliver what was typed before quitting */
    }
}

static int on_input(nl_chat_session *s, void *user)
{
    chat_app *a = user;
    ssize_t n;

    (void)s;
    if (a->left || (a->peer_left && !a->terminal))
        return -1; /* nobody to send to any more: the rest of the input stays unread */
    if (a->terminal) {
        rl_callback_read_char();
        return a->left ? -1 : 0;
    }
    if (a->in_len >= INBUF_MAX - 1)
        return 0; /* lines wait for room in the session; on_tick sends them */
    n = read(0, a->inbuf + a->in_len, INBUF_MAX - a->in_len);
    if (n < 0 && errno == EINTR)
        return 0;
    if (n <= 0) {
        a->eof = 1;
        pump_lines(a);
        return -1;
    }
    a->in_len += (size_t)n;
    pump_lines(a);
    return 0;
}

static void on_tick(nl_chat_session *s, void *user)
{
    chat_app *a = user;

    (void)s;
    if (g_stop) {
        g_stop = 0;
        if (a->terminal)
            fputs("\n", stdout);
        do_leave(a);
    }
    if (!a->terminal && a->in_len > 0 && !a->peer_left)
        pump_lines(a);
}

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

static void on_event(nl_chat_session *s, const nl_chat_event *ev, void *user)
{
    chat_app *a = user;
    char line[256];

    (void)s;
    switch (ev->type) {
    case NL_CHAT_EV_PEER_JOINED:
        a->joined = 1;
        nl_endpoint_format(&ev->peer, a->peer_addr, sizeof a->peer_addr);
        snprintf(a->peer_name, sizeof a->peer_name, "%s", ev->len ? ev->data : a->peer_addr);
        snprintf(line, sizeof line, "*** %s joined from %s", a->peer_name, a->peer_addr);
        status_line(a, line);
        if (a->leave_pending)
            do_leave(a);
        break;
    case NL_CHAT_EV_MESSAGE:
        if (a->terminal) {
            term_line(a, a->peer_name, ev->data, ev->len);
        } else if (fwrite(ev->data, 1, ev->len, stdout) != ev->len || fputc('\n', stdout) == EOF ||
                   fflush(stdout) == EOF) {
            do_leave(a); /* nobody reads our output any more */
        }
        break;
    case NL_CHAT_EV_PEER_LEFT:
        a->peer_left = 1;
        if (!a->left) {
            snprintf(line, sizeof line, "*** %s left the chat", a->peer_name);
            status_line(a, line);
        }
        break;
    case NL_CHAT_EV_WARNING:
        warning_line(a, ev->code);
        break;
    case NL_CHAT_EV_PEER_LOST:
        snprintf(line, sizeof line, "*** %s stopped answering: peer lost", a->peer_name);
        status_line(a, line);
        break;
    case NL_CHAT_EV_ERROR:
        snprintf(line, sizeof line, "error: %s", nl_strerror(ev->code));
        status_line(a, line);
        break;
    default:
        break;
    }
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
    struct pollfd p = {.fd = 0, .events = POLLIN};
    unsigned long n = 0;
    size_t total = 0;
    int partial;

    for (size_t i = 0; i < a->in_len; i++)
        n += a->inbuf[i] == '\n';
    partial = a->in_len > 0 && a->inbuf[a->in_len - 1] != '\n';
    *more = 0;
    /* What is readable now, up to 64 MiB: counting it must not wait for a slow writer. */
    while (!a->eof && total < ((size_t)64 << 20) && poll(&p, 1, 0) > 0) {
        ssize_t r = read(0, a->inbuf, INBUF_MAX);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        for (ssize_t i = 0; i < r; i++)
            n += a->inbuf[i] == '\n';
        partial = a->inbuf[r - 1] != '\n';
        total += (size_t)r;
    }
    if (!a->eof && poll(&p, 1, 0) == 0)
        *more = 1; /* the writer is still there: more may come, unread */
    return n + (unsigned long)partial;
}

/* The exit status, and a line saying what went wrong when something did: how the session
 * ended (rc), whether everything we accepted was acknowledged, whether input was left. */
static int finish(chat_app *a, int rc, const nl_chat_stats *st)
{
    unsigned long long lost = a->plain ? 0 : st->messages_out - st->messages_acked;
    unsigned long unsent = 0;
    int more = 0;
    const char *who = a->joined ? a->peer_name : a->peer_text;

    if (!a->terminal && a->peer_left && !a->left && a->inbuf != NULL)
        unsent = unsent_lines(a, &more);
    free(a->inbuf);
    if (rc == 0 && unsent == 0)
        return 0;
    if (rc == 0) {
        fprintf(stderr,
                "netlab-chat: warning: %s left before %s%lu line%s of input were sent: "
                "not sent\n",
                who, more ? "at least " : "", unsent, unsent == 1 ? "" : "s");
        return EXIT_NOT_SENT;
    }
    if (!a->joined && (rc == NL_ETIMEDOUT || rc == NL_ECONNREFUSED || rc == NL_ENOTCONN)) {
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
        return EXIT_NOT_SENT;
    }
    if (rc == NL_EPEERLOST || rc == NL_ETIMEDOUT) {
        if (rc == NL_ETIMEDOUT)
            fprintf(stderr,
                    "netlab-chat: warning: leaving timed out: %s still answers, but "
                    "nothing was acknowledged or delivered for the leave time-out\n",
                    who);
        else
            fprintf(stderr, "netlab-chat: warning: the peer stopped answering%s\n",
                    a->left ? " before the goodbye was complete" : "");
        if (lost > 0)
            fprintf(stderr,
                    "netlab-chat: warning: %llu of %llu messages sent were not "
                    "confirmed delivered\n",
                    lost, (unsigned long long)st->messages_out);
        return EXIT_LOST;
    }
    fprintf(stderr, "netlab-chat: %s\n", nl_strerror(rc));
    return 1;
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
                                             {NULL, 0, NULL, 0}};
    const char *bind_text = NULL, *peer_text = NULL, *key_path = NULL, *name = NULL;
    unsigned char key[NL_CHAT_KEY_BYTES];
    chat_app app = {0};
    nl_chat_opts o = {0};
    nl_chat_run_hooks hooks = {0};
    nl_chat_stats st;
    struct sigaction sa;
    char local[NL_ENDPOINT_STRLEN];
    nl_endpoint ep;
    int c, rc;

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
    if ((rc = nl_endpoint_resolve(&o.bind, bind_text, 0, NL_RESOLVE_ANY)) < 0)
        usage_error("--bind: bad address '%s'", bind_text);
    if (peer_text != NULL) {
        if ((rc = nl_endpoint_resolve(&o.peer, peer_text, 0, NL_RESOLVE_ANY)) < 0 ||
            o.peer.port == 0)
            usage_error("--peer: bad address '%s' (HOST:PORT with a port from 1 to 65535)",
                        peer_text);
        /* An IPv6 socket reaches IPv4 peers through mapped addresses; not the reverse. */
        if (o.peer.family != o.bind.family && o.bind.family != NL_AF_INET6)
            usage_error("--peer '%s' is not of the --bind address's family", peer_text);
    }
    if (key_path != NULL && app.plain)
        usage_error("%s", "--key-file needs the reliable mode (drop --plain)");
    if (name == NULL)
        name = getenv("USER");
    if (name != NULL && strlen(name) > NL_CHAT_NAME_MAX)
        usage_error("--name: at most 64 bytes, '%s' is longer", name);
    if (key_path != NULL) {
        if (read_key(key_path, key) < 0)
            return 1;
        o.key = key;
    }
    o.mode = app.plain ? NL_CHAT_PLAIN : NL_CHAT_RELIABLE;
    app.peer_text = peer_text;
    app.give_up_ms = o.call_timeout_ms ? o.call_timeout_ms : 60000;
    o.name = name;
    if (app.trace)
        o.trace = on_trace;
    app.msg_max = app.plain ? NL_CHAT_PLAIN_MAX : NL_CHAT_MSG_MAX;
    app.terminal = isatty(0) && isatty(1);

    /* A reader that goes away must not kill us before we say goodbye to the peer. */
    signal(SIGPIPE, SIG_IGN);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    rc = nl_chat_session_open(&app.s, &o);
    memset(key, 0, sizeof key);
    if (rc < 0) {
        fprintf(stderr, "netlab-chat: cannot start on %s: %s\n", bind_text, nl_strerror(rc));
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

    g_app = &app;
    if (app.terminal) {
        /* Signals are ours: libedit would otherwise swap its own handlers in and out around
         * every character it reads, and a Ctrl-C at the wrong moment would kill us without
         * a goodbye to the peer. */
        rl_catch_signals = 0;
        rl_callback_handler_install("> ", on_line);
    } else {
        app.inbuf = malloc(INBUF_MAX);
        if (app.inbuf == NULL) {
            fprintf(stderr, "netlab-chat: out of memory\n");
            return 1;
        }
    }
    hooks.input_fd = 0;
    hooks.on_input = on_input;
    hooks.on_event = on_event;
    hooks.on_tick = on_tick;
    hooks.user = &app;
    rc = nl_chat_session_run(app.s, &hooks);
    if (app.terminal && !app.left)
        rl_callback_handler_remove();

    nl_chat_session_stats(app.s, &st);
    if (app.stats)
        print_stats(&st);
    nl_chat_session_close(app.s);
    return finish(&app, rc, &st);
}
