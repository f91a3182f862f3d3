/* chat_term: netlab-chat's interactive terminal (see chat_term.h).
 *
 * The line editor is libedit's native API (el_*), driven one command at a time from our own
 * poll loop: libedit's readline emulation corrupts the heap once a line passes 1 KiB (see
 * docs/reliability.md, "netlab-chat terminal and lifecycle"). */
#include "chat_term.h"

#include <errno.h>
#include <histedit.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>
#include <wctype.h>

#include "chat_text.h"

#define TERM_READ    4096          /* bytes read from the terminal at a time                 */
#define LOG_MAX      (1024 * 1024) /* bytes of log held while a key command is half typed    */
#define OUTBOX_MAX   (1024 * 1024) /* typed lines waiting for room in the network's queue    */
#define ESC_ALONE_MS 300           /* a lone ESC is given up after this long without a key   */
#define ESC_STEP_MS  50
#define HIDE_KEY                                                                                   \
    0x9b /* U+009B (CSI): bound to our "hide the line" function; no                                \
          * keyboard sends it, and a meta prefix leaves it unchanged */

/* A log line kept during a key command, or a typed line waiting for room in the queue. */
typedef struct term_item {
    struct term_item *next;
    size_t len;
    char text[];
} term_item;

struct chat_term {
    chat_term_hooks h;
    size_t line_max; /* the longest line a message takes, in bytes               */
    EditLine *el;
    HistoryW *hist;
    int editing;       /* the prompt and the line being typed are on the screen    */
    int hiding;        /* the prompt is empty while a message is printed above it   */
    int in_wgets;      /* inside el_wgets() for a key command                      */
    int in_cmd;        /* acting on the line a key command left                    */
    int cmd_start;     /* the next character read starts a key command             */
    int dry;           /* the command ended because no input was there             */
    int eof;           /* no more input: q, Ctrl-D, the terminal gone              */
    wchar_t last_char; /* the last character handed to libedit                     */
    int esc_wait_ms;   /* how long we waited for the key after an ESC              */
    size_t dropped;    /* characters refused because the line was full             */
    unsigned char tbuf[TERM_READ + 8]; /* bytes read from the terminal, not yet edited */
    size_t t_len;
    wchar_t *saved; /* the line, while hidden                                    */
    size_t saved_len, saved_cap;
    int saved_cur;
    term_item *log, **log_tail; /* log lines that came during a half-typed command      */
    size_t log_bytes;
    term_item *outbox, **outbox_tail; /* typed lines waiting for room in the queue     */
    size_t outbox_bytes;
    unsigned long refused; /* typed lines refused for good                            */
    chat_io *io;           /* the wait and standard input                              */
    int winch;             /* a resize came while a key command waited                 */
};

/* A request to leave is pending in the chat_io (the program's loop takes it). A resize seen
 * on the way is kept for chat_term_winch. */
static int stop_pending(chat_term *t)
{
    int rc = chat_io_wait(t->io, CHAT_IO_NO_SOCKET, 0, 0);

    if (rc > 0 && (rc & CHAT_IO_RESIZE))
        t->winch = 1;
    return rc > 0 && (rc & CHAT_IO_STOP);
}

/* ---- output ------------------------------------------------------------------------------ */

static void term_hide(chat_term *t);
static void term_restore(chat_term *t);

static term_item *item_new(const char *text, size_t len)
{
    term_item *it = malloc(sizeof *it + len + 1);

    if (it == NULL)
        return NULL;
    it->next = NULL;
    memcpy(it->text, text, len);
    it->text[len] = '\0';
    it->len = len;
    return it;
}

static void free_items(term_item *it)
{
    while (it != NULL) {
        term_item *next = it->next;

        free(it);
        it = next;
    }
}

/* The log line, as it will be printed (without its line end). */
static char *log_line(const char *who, const char *text, size_t len, int safe_text, size_t *n)
{
    char stamp[16], *buf = NULL;
    time_t now = time(NULL);
    struct tm tm;
    FILE *m = open_memstream(&buf, n);

    if (m == NULL)
        return NULL;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
    fprintf(m, "[%s] ", stamp);
    if (who != NULL) {
        chat_text_put_safe(m, who, strlen(who));
        fputs(": ", m);
    }
    if (safe_text)
        fwrite(text, 1, len, m);
    else
        chat_text_put_safe(m, text, len);
    if (fclose(m) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Interactive mode: print one line of the chat's log above the prompt. The line being typed is
 * taken off the screen first (libedit itself clears the rows it drew), and drawn again below.
 * Inside el_wgets() (a key command waiting for its next key) that cannot be done: the line is
 * kept and printed when the command ends. */
void chat_term_log(chat_term *t, const char *who, const char *text, size_t len, int safe_text)
{
    size_t n;
    char *line = log_line(who, text, len, safe_text, &n);

    if (line == NULL)
        return;
    if (t->in_wgets) {
        term_item *it = item_new(line, n);

        if (it != NULL) {
            *t->log_tail = it;
            t->log_tail = &it->next;
            t->log_bytes += sizeof *it + n;
            free(line);
            return;
        }
    }
    term_hide(t);
    fwrite(line, 1, n, stdout);
    fputs("\r\n", stdout); /* the terminal may be raw: no newline translation */
    fflush(stdout);
    term_restore(t);
    free(line);
}

static void log_flush(chat_term *t)
{
    term_item *it = t->log;

    t->log = NULL;
    t->log_tail = &t->log;
    t->log_bytes = 0;
    if (it == NULL)
        return;
    term_hide(t);
    for (term_item *i = it; i != NULL; i = i->next) {
        fwrite(i->text, 1, i->len, stdout);
        fputs("\r\n", stdout);
    }
    fflush(stdout);
    term_restore(t);
    free_items(it);
}

void chat_term_status(chat_term *t, const char *pre, const char *name, const char *post)
{
    /* Build the line with the name already made safe, then log it as our own text. */
    char *buf = NULL;
    size_t blen = 0;
    FILE *m = open_memstream(&buf, &blen);

    if (m == NULL)
        return;
    fputs(pre, m);
    if (name != NULL)
        chat_text_put_safe(m, name, strlen(name));
    fputs(post, m);
    fclose(m);
    chat_term_log(t, NULL, buf, blen, 1);
    free(buf);
}

static double mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Trace lines carry the seconds since start, so retransmission timing can be read off them. On
 * an interactive terminal they go into the chat's log like any status line, so that they do not
 * cut through the line being typed (inside a key command they cannot: stderr then). */
void chat_term_trace(const nl_trace_event *ev, void *user)
{
    static double t0;
    chat_term *t = user;
    char line[256], out[300];
    int n;

    if (t0 == 0)
        t0 = mono_s();
    nl_trace_format(ev, line, sizeof line);
    n = snprintf(out, sizeof out, "trace: [%8.3f] %s", mono_s() - t0, line);
    if (t != NULL && t->editing && !t->in_wgets && !t->in_cmd && n > 0)
        chat_term_log(t, NULL, out, strlen(out), 1);
    else
        fprintf(stderr, "%s\n", out);
}

/* ---- the line editor --------------------------------------------------------------------- */

static chat_term *el_term(EditLine *el)
{
    void *p = NULL;

    el_get(el, EL_CLIENTDATA, &p);
    return p;
}

static wchar_t *prompt_fn(EditLine *el)
{
    static wchar_t normal[] = L"> ", none[] = L"";

    return el_term(el)->hiding ? none : normal;
}

/* Bound to HIDE_KEY, which only term_hide() pushes: keep a copy of the line, empty it, and let
 * libedit clear every row it had drawn (CC_REDISPLAY), leaving the cursor where the prompt
 * began. Anything else that sends the key gets a beep. */
static unsigned char hide_fn(EditLine *el, int ch)
{
    chat_term *t = el_term(el);
    const LineInfoW *li = el_wline(el);
    size_t n = (size_t)(li->lastchar - li->buffer);

    (void)ch;
    if (!t->hiding)
        return CC_ERROR;
    if (n + 1 > t->saved_cap) {
        wchar_t *p = realloc(t->saved, (n + 1) * sizeof *p);

        if (p == NULL)
            return CC_ERROR; /* the line stays; the message is printed below it */
        t->saved = p;
        t->saved_cap = n + 1;
    }
    wmemcpy(t->saved, li->buffer, n);
    t->saved[n] = L'\0';
    t->saved_len = n;
    t->saved_cur = (int)(li->cursor - li->buffer);
    el_cursor(el, (int)n);
    if (n > 0)
        el_wdeletestr(el, (int)n);
    return CC_REDISPLAY;
}

static void term_hide(chat_term *t)
{
    static const wchar_t key[] = {HIDE_KEY, 0};
    int n;

    if (!t->editing || t->hiding || t->in_wgets)
        return; /* inside el_wgets() (only on a failed allocation): print below the line */
    t->hiding = 1;
    t->saved_len = 0;
    t->cmd_start = 0;
    el_wpush(t->el, key);
    el_wgets(t->el, &n); /* runs hide_fn: the key comes from the push, not the terminal */
    fflush(stdout);
}

static void term_restore(chat_term *t)
{
    if (!t->hiding)
        return;
    t->hiding = 0;
    if (t->saved_len > 0) {
        el_winsertstr(t->el, t->saved);
        el_cursor(t->el, t->saved_cur - (int)t->saved_len);
    }
    el_set(t->el, EL_REFRESH); /* prompt and line, from the cursor's row down */
    fflush(stdout);
}

/* The line's characters in the locale's encoding (u has room for wlen * MB_CUR_MAX bytes). A
 * character the locale cannot encode (a C locale and Chinese, say) becomes '?': visible, where
 * dropping it would send or show something else than what was typed. Returns the length. */
static size_t wide_to_text(const wchar_t *w, size_t wlen, char *u)
{
    size_t n = 0;

    for (size_t i = 0; i < wlen; i++) {
        mbstate_t st;
        size_t r;

        memset(&st, 0, sizeof st);
        r = wcrtomb(u + n, w[i], &st);
        if (r == (size_t)-1)
            u[n++] = '?';
        else
            n += r;
    }
    return n;
}

/* Editing is over (we leave, or the chat ended): take the prompt off the screen so that what
 * follows (status lines, --stats, the shell's prompt) starts at the left margin. A half-typed
 * line is shown, not silently dropped. The terminal stays in libedit's mode (no echo) until
 * el_end() restores it and discards what was typed meanwhile: keys pressed while the leave
 * completes must neither clutter the screen nor reach the shell as a command. */
void chat_term_stop(chat_term *t, int show_unsent)
{
    if (t == NULL || !t->editing)
        return;
    log_flush(t);
    term_hide(t);
    t->editing = 0;
    t->hiding = 0;
    if (show_unsent && t->saved_len > 0) {
        size_t cap = t->saved_len * MB_CUR_MAX + 1, n;
        char *u = malloc(cap);

        if (u != NULL) {
            n = wide_to_text(t->saved, t->saved_len, u);
            fputs("(not sent) ", stdout);
            chat_text_put_safe(stdout, u, n); /* a ^V ESC typed must not act either */
            fputs("\r\n", stdout);
        }
        free(u);
    }
    t->saved_len = 0;
    fflush(stdout);
}

static int line_full(chat_term *t)
{
    const LineInfoW *li = el_wline(t->el);

    return (size_t)(li->lastchar - li->buffer) >= t->line_max;
}

static void term_read(chat_term *t)
{
    ssize_t n;

    if (t->t_len >= TERM_READ)
        return;
    n = read(0, t->tbuf + t->t_len, TERM_READ - t->t_len);
    if (n > 0)
        t->t_len += (size_t)n;
    else if (n == 0 || (errno != EINTR && errno != EAGAIN))
        t->eof = 1; /* Ctrl-D is a key here; 0 or EIO means the terminal has gone */
}

/* libedit wants the next character. At the start of a key command, only what was already read
 * is handed out ("dry" otherwise, and the command never starts). In the middle of one (after
 * ESC, in a search, ...) we wait for the keyboard, and the network keeps running meanwhile so
 * that the peers do not count us as lost; what it logs is kept for afterwards. */
static int term_getc(EditLine *el, wchar_t *wc)
{
    chat_term *t = el_term(el);

    for (;;) {
        if (t->t_len > 0) {
            mbstate_t st;
            size_t r;

            memset(&st, 0, sizeof st);
            r = mbrtowc(wc, (const char *)t->tbuf, t->t_len, &st);
            if (r == (size_t)-2 && t->t_len < MB_CUR_MAX && !t->eof) {
                /* the rest of the character is still on its way */
            } else {
                size_t used = (r == (size_t)-1 || r == (size_t)-2) ? 1 : r == 0 ? 1 : r;
                int bad = r == (size_t)-1 || r == (size_t)-2;

                memmove(t->tbuf, t->tbuf + used, t->t_len - used);
                t->t_len -= used;
                if (bad)
                    continue; /* not a character in this locale: dropped, as libedit does */
                if (t->cmd_start && iswprint((wint_t)*wc) && line_full(t)) {
                    t->dropped++;
                    continue;
                }
                t->cmd_start = 0;
                t->last_char = *wc;
                t->esc_wait_ms = 0;
                return 1;
            }
        }
        if (t->cmd_start || stop_pending(t) || t->eof || t->h.ended(t->h.user) || !t->editing) {
            t->dry = 1;
            *wc = L'\0';
            return 0;
        }
        if (t->last_char == 0x1b && t->esc_wait_ms >= ESC_ALONE_MS) {
            /* A lone ESC: nothing follows, so it was not the start of a key's sequence. Give
             * up the sequence (libedit then ends the command without effect), so that a stray
             * ESC does not hold back the peers' messages until two more keys are pressed. */
            t->dry = 1;
            *wc = L'\0';
            return 0;
        }
        {
            int wait = -1, rc;
            nl_socket_t fd =
                t->log_bytes >= LOG_MAX ? CHAT_IO_NO_SOCKET : t->h.net_wait(t->h.user, &wait);

            if (fd == CHAT_IO_NO_SOCKET)
                wait = -1; /* then the network waits for us */
            if (t->last_char == 0x1b && (wait < 0 || wait > ESC_STEP_MS))
                wait = ESC_STEP_MS;
            if (t->last_char == 0x1b)
                t->esc_wait_ms += wait;
            rc = chat_io_wait(t->io, fd, 1, wait);
            if (rc > 0 && (rc & CHAT_IO_RESIZE))
                t->winch = 1;
            if (rc > 0 && (rc & CHAT_IO_INPUT))
                term_read(t);
            if (fd != CHAT_IO_NO_SOCKET)
                t->h.net_pump(t->h.user);
        }
    }
}

chat_term *chat_term_new(const chat_term_hooks *hooks, size_t line_max, chat_io *io)
{
    chat_term *t = calloc(1, sizeof *t);

    if (t == NULL)
        return NULL;
    t->h = *hooks;
    t->line_max = line_max;
    t->io = io;
    t->log_tail = &t->log;
    t->outbox_tail = &t->outbox;
    return t;
}

int chat_term_open(chat_term *t)
{
    HistEventW ev;

    t->el = el_init("netlab-chat", stdin, stdout, stderr);
    t->hist = history_winit();
    if (t->el == NULL || t->hist == NULL)
        return -1;
    history_w(t->hist, &ev, H_SETSIZE, 500);
    el_wset(t->el, EL_CLIENTDATA, (void *)t);
    el_wset(t->el, EL_EDITOR, L"emacs");
    el_wset(t->el, EL_SIGNAL, 0); /* the signals are ours (chat_io_open()) */
    el_wset(t->el, EL_HIST, history_w, t->hist);
    el_wset(t->el, EL_PROMPT, prompt_fn);
    el_wset(t->el, EL_GETCFN, term_getc);
    el_wset(t->el, EL_ADDFN, L"nl-hide", L"netlab-chat: take the line off the screen", hide_fn);
    {
        static const wchar_t key[] = {HIDE_KEY, 0};

        el_wset(t->el, EL_BIND, key, L"nl-hide", NULL);
    }
    /* Ctrl-S (alone or in a paste) would stop the terminal's output, and the chat with it,
     * until a Ctrl-Q nobody thinks of: flow control is off while editing, and both keys do
     * nothing. */
    el_wset(t->el, EL_SETTY, L"-d", L"-ixon", NULL);
    el_wset(t->el, EL_BIND, L"^S", L"ed-unassigned", NULL);
    el_wset(t->el, EL_BIND, L"^Q", L"ed-unassigned", NULL);
    t->editing = 1;
    el_set(t->el, EL_UNBUFFERED, 1); /* raw mode, and the prompt appears */
    fflush(stdout);
    return 0;
}

int chat_term_editing(const chat_term *t)
{
    return t != NULL && t->editing;
}

void chat_term_free(chat_term *t)
{
    if (t == NULL)
        return;
    chat_term_stop(t, 1);
    if (t->el != NULL)
        el_end(t->el);
    if (t->hist != NULL)
        history_wend(t->hist);
    free(t->saved);
    free_items(t->log);
    free_items(t->outbox);
    free(t);
}

void chat_term_winch(chat_term *t, int resized)
{
    if (t == NULL || !(resized || t->winch))
        return;
    t->winch = 0;
    if (t->editing) {
        term_hide(t);
        el_resize(t->el);
        term_restore(t);
    }
}

/* ---- typed lines --------------------------------------------------------------------------- */

void chat_term_flush(chat_term *t)
{
    while (t->outbox != NULL) {
        term_item *it = t->outbox;

        if (!t->h.send(t->h.user, it->text, it->len, 1))
            return;
        t->outbox = it->next;
        if (t->outbox == NULL)
            t->outbox_tail = &t->outbox;
        t->outbox_bytes -= it->len;
        free(it);
    }
}

/* A typed line is sent in order behind the ones still waiting for room. */
static void term_send(chat_term *t, const char *text, size_t len)
{
    term_item *it;

    if (t->h.send(t->h.user, text, len, 0))
        return;
    it = item_new(text, len);
    if (it == NULL) {
        static const char msg[] = "message not sent: out of memory";

        chat_term_log(t, NULL, msg, sizeof msg - 1, 1);
        return;
    }
    *t->outbox_tail = it;
    t->outbox_tail = &it->next;
    t->outbox_bytes += len;
}

int chat_term_wants_input(const chat_term *t)
{
    return t->editing && !t->eof && t->outbox_bytes < OUTBOX_MAX;
}

unsigned long chat_term_waiting(const chat_term *t)
{
    unsigned long n = 0;

    for (const term_item *it = t->outbox; it != NULL; it = it->next)
        n++;
    return n;
}

unsigned long chat_term_unsent(const chat_term *t)
{
    return t->refused + chat_term_waiting(t);
}

void chat_term_refused(chat_term *t)
{
    t->refused++;
}

/* The user leaves: the prompt goes, then the program is told. */
static void term_leave(chat_term *t, int show_unsent)
{
    t->eof = 1;
    chat_term_stop(t, show_unsent);
    t->h.leave(t->h.user);
}

/* Enter was pressed: the line (without its newline) is what the screen shows after the prompt. */
static void term_enter(chat_term *t, const wchar_t *w, size_t wlen)
{
    HistEventW ev;
    size_t cap = wlen * MB_CUR_MAX + 1, n = 0;
    char *u = malloc(cap);
    wchar_t *copy;

    if (u == NULL)
        return;
    n = wide_to_text(w, wlen, u);
    if (n == 1 && u[0] == 'q') {
        free(u);
        term_leave(t, 0);
        return;
    }
    if (n > t->line_max) {
        char msg[200];

        /* Nothing is lost: the line comes back for editing, without its newline. */
        el_cursor(t->el, INT_MAX / 2);
        el_wdeletestr(t->el, 1);
        snprintf(msg, sizeof msg,
                 "*** this line is %zu bytes, over the %zu limit of a message: not sent "
                 "(shorten it)",
                 n, t->line_max);
        chat_term_log(t, NULL, msg, strlen(msg), 1);
        free(u);
        return;
    }
    if (n > 0) {
        copy = malloc((wlen + 1) * sizeof *copy);
        if (copy != NULL) {
            wmemcpy(copy, w, wlen);
            copy[wlen] = L'\0';
            history_w(t->hist, &ev, H_ENTER, copy);
            free(copy);
        }
        term_send(t, u, n);
    }
    free(u);
    /* A fresh line: libedit resets its line, history position and undo state and draws the
     * prompt on the row below the line just sent. */
    el_set(t->el, EL_UNBUFFERED, 0);
    el_set(t->el, EL_UNBUFFERED, 1);
    fflush(stdout);
}

/* What the key command just done left in the line: a finished line, or end of input. */
static void term_after_command(chat_term *t)
{
    const LineInfoW *li = el_wline(t->el);
    size_t n = (size_t)(li->lastchar - li->buffer);

    if (n > 0 && li->lastchar[-1] == L'\n') {
        term_enter(t, li->buffer, n - 1);
    } else if (n > 0 && li->lastchar[-1] == 4) {
        /* libedit's end of file (Ctrl-D on an empty line) is a ^D at the end of the line */
        if (n == 1 || t->eof || stop_pending(t)) {
            term_leave(t, n > 1);
        } else {
            el_cursor(t->el, INT_MAX / 2);
            el_wdeletestr(t->el, 1);
            el_set(t->el, EL_REFRESH);
        }
    }
}

/* Edit with what the terminal sent: one libedit key command per el_wgets() call. */
static void term_process(chat_term *t)
{
    while (t->editing && !t->h.ended(t->h.user) && t->t_len > 0 && !stop_pending(t)) {
        int n;

        t->cmd_start = 1;
        t->dry = 0;
        t->in_wgets = 1;
        el_wgets(t->el, &n);
        t->in_wgets = 0;
        t->cmd_start = 0;
        fflush(stdout);
        t->in_cmd = 1; /* trace lines of the sends it makes go to stderr, not the log */
        term_after_command(t);
        t->in_cmd = 0;
        if (t->dropped > 0 && t->t_len == 0) {
            char msg[160];

            snprintf(msg, sizeof msg,
                     "*** the line is full (%zu characters, the most a message takes): "
                     "%zu more were not taken",
                     t->line_max, t->dropped);
            t->dropped = 0;
            chat_term_log(t, NULL, msg, strlen(msg), 1);
        }
        if (t->editing)
            log_flush(t);
        if (t->h.command_done != NULL)
            t->h.command_done(t->h.user);
        if (t->dry)
            break; /* only part of a character is there */
    }
    if (t->eof && t->editing)
        term_leave(t, 1);
}

void chat_term_input(chat_term *t)
{
    term_read(t);
    term_process(t);
}
