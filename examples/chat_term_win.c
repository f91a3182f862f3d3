/* chat_term on Windows (see chat_term.h): a console without libedit. The keys are edited by
 * chat_line.h inside chat_io (chat_io_console_step): printable characters, Backspace, Ctrl-U,
 * Enter; Ctrl-D or Ctrl-Z on an empty line and Ctrl-C leave. The log goes above the typed line
 * through chat_io_print (UTF-16 on the console, whatever its code page). No history, no
 * cursor movement inside the line, no key commands that wait for a next key: the network never
 * waits for the keyboard here. */
#include "chat_term.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <windows.h>

#include "chat_line.h"
#include "chat_text.h"

#define OUTBOX_MAX (1024 * 1024) /* typed lines waiting for room in the network's queue */

/* A typed line waiting for room in the queue. */
typedef struct term_item {
    struct term_item *next;
    size_t len;
    char text[];
} term_item;

struct chat_term {
    chat_term_hooks h;
    size_t line_max;
    chat_io *io;
    int editing; /* the prompt is on the screen (chat_io draws it)  */
    int eof;     /* the user left                                   */
    term_item *outbox, **outbox_tail;
    size_t outbox_bytes;
    unsigned long refused;
};

chat_term *chat_term_new(const chat_term_hooks *hooks, size_t line_max, chat_io *io)
{
    chat_term *t = calloc(1, sizeof *t);

    if (t == NULL)
        return NULL;
    t->h = *hooks;
    t->line_max = line_max;
    t->io = io;
    t->outbox_tail = &t->outbox;
    return t;
}

int chat_term_open(chat_term *t)
{
    chat_io_console_setup(t->io, "> ", t->line_max);
    t->editing = 1;
    chat_term_input(t); /* draws the prompt (and takes keys typed before) */
    return 0;
}

int chat_term_editing(const chat_term *t)
{
    return t != NULL && t->editing;
}

void chat_term_stop(chat_term *t, int show_unsent)
{
    (void)show_unsent; /* a half-typed line goes with the prompt */
    if (t == NULL || !t->editing)
        return;
    t->editing = 0;
    chat_io_console_end(t->io);
}

static void term_leave(chat_term *t)
{
    t->eof = 1;
    chat_term_stop(t, 1);
    t->h.leave(t->h.user);
}

/* A typed line is sent in order behind the ones still waiting for room. */
static void term_send(chat_term *t, const char *text, size_t len)
{
    term_item *it;

    if (t->h.send(t->h.user, text, len, 0))
        return;
    it = malloc(sizeof *it + len + 1);
    if (it == NULL) {
        static const char msg[] = "message not sent: out of memory";

        chat_term_log(t, NULL, msg, sizeof msg - 1, 1);
        return;
    }
    it->next = NULL;
    it->len = len;
    memcpy(it->text, text, len);
    it->text[len] = '\0';
    *t->outbox_tail = it;
    t->outbox_tail = &it->next;
    t->outbox_bytes += len;
}

void chat_term_input(chat_term *t)
{
    static char line[CHAT_LINE_CAP + 1];

    while (t->editing && !t->eof && !t->h.ended(t->h.user)) {
        int r = chat_io_console_step(t->io, line, sizeof line);
        size_t n = strlen(line);

        if (r == CHAT_IO_KEYS_DONE)
            break;
        if (r == CHAT_IO_EOF || r == CHAT_IO_INTERRUPT ||
            (r == CHAT_IO_LINE && n == 1 && line[0] == 'q')) {
            term_leave(t);
            break;
        }
        if (n > 0)
            term_send(t, line, n);
        if (t->h.command_done != NULL)
            t->h.command_done(t->h.user);
    }
}

int chat_term_wants_input(const chat_term *t)
{
    return t->editing && !t->eof && t->outbox_bytes < OUTBOX_MAX;
}

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

void chat_term_winch(chat_term *t, int resized)
{
    (void)t, (void)resized; /* the console reflows what it shows itself */
}

void chat_term_free(chat_term *t)
{
    if (t == NULL)
        return;
    chat_term_stop(t, 1);
    while (t->outbox != NULL) {
        term_item *next = t->outbox->next;

        free(t->outbox);
        t->outbox = next;
    }
    free(t);
}

/* ---- output ------------------------------------------------------------------------------ */

void chat_term_log(chat_term *t, const char *who, const char *text, size_t len, int safe_text)
{
    size_t wlen = who != NULL ? strlen(who) : 0, n;
    size_t cap = 16 + 4 * wlen + 2 + 4 * len + 1;
    char *buf = malloc(cap);
    time_t now = time(NULL);
    struct tm *tm = localtime(&now);

    if (buf == NULL)
        return;
    n = tm != NULL ? strftime(buf, cap, "[%H:%M:%S] ", tm) : 0;
    if (who != NULL) {
        n += chat_text_safe(buf + n, cap - n, who, wlen);
        n += (size_t)snprintf(buf + n, cap - n, ": ");
    }
    if (safe_text) {
        memcpy(buf + n, text, len);
        n += len;
    } else {
        n += chat_text_safe(buf + n, cap - n, text, len);
    }
    chat_io_print(t->io, buf, n);
    free(buf);
}

void chat_term_status(chat_term *t, const char *pre, const char *name, const char *post)
{
    size_t nlen = name != NULL ? strlen(name) : 0, n;
    size_t cap = strlen(pre) + 4 * nlen + strlen(post) + 1;
    char *buf = malloc(cap);

    if (buf == NULL)
        return;
    n = (size_t)snprintf(buf, cap, "%s", pre);
    if (name != NULL)
        n += chat_text_safe(buf + n, cap - n, name, nlen);
    n += (size_t)snprintf(buf + n, cap - n, "%s", post);
    chat_term_log(t, NULL, buf, n, 1);
    free(buf);
}

void chat_term_trace(const nl_trace_event *ev, void *user)
{
    static ULONGLONG t0;
    chat_term *t = user;
    char line[256], out[300];
    int n;

    if (t0 == 0)
        t0 = GetTickCount64();
    nl_trace_format(ev, line, sizeof line);
    n = snprintf(out, sizeof out, "trace: [%8.3f] %s", (GetTickCount64() - t0) / 1000.0, line);
    if (t != NULL && t->editing && n > 0)
        chat_term_log(t, NULL, out, strlen(out), 1);
    else
        fprintf(stderr, "%s\n", out);
}
