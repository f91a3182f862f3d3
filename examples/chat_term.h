/* chat_term: netlab-chat's interactive terminal, shared by the point-to-point chat
 * (netlab-chat.c) and room mode (chat_room_cli.c). Part of netlab-chat, not of libnetlab.
 *
 * A prompt and a line editor (libedit's native wide-character API, driven one key command at a
 * time from the program's own poll loop), incoming lines printed above the prompt, what the
 * screen shows being what Enter sends, long pasted lines, typed lines waiting in order for room
 * in the network's queue, the peer's control characters shown as placeholders (chat_text.h).
 * Waiting, signals and standard input go through chat_io (chat_io.h). Not thread-safe: one terminal
 * per program.
 *
 *   chat_term.c      POSIX: libedit.
 *   chat_term_win.c  Windows: a console, edited with chat_line.h through chat_io. */
#ifndef NETLAB_CHAT_TERM_H
#define NETLAB_CHAT_TERM_H

#include <stddef.h>

#include <netlab.h>

#include "chat_io.h"

typedef struct chat_term chat_term;

/* What the chat program does for the terminal. Every function gets `user`. */
typedef struct chat_term_hooks {
    void *user;
    /* A line to send (UTF-8, no newline, at most the line limit, never "q"). retry 0: just
     * typed; retry 1: it waited in the queue of typed lines (chat_term_flush()). Returns 1 when
     * the line is done with (sent, or refused and said why), 0 when it must wait: it is then
     * kept, in order, and offered again by chat_term_flush(). */
    int (*send)(void *user, const char *text, size_t len, int retry);
    /* The user leaves: q, Ctrl-D on an empty line, the terminal gone. The editor is already
     * off the screen. */
    void (*leave)(void *user);
    /* While a key command waits for its next key (after ESC, in a search, ...), the network
     * must keep running: the socket to wait for besides the terminal, or CHAT_IO_NO_SOCKET (not
     * now), and in *timeout_ms the longest wait (-1: none). net_pump is then called to do the
     * work. */
    nl_socket_t (*net_wait)(void *user, int *timeout_ms);
    void (*net_pump)(void *user);
    /* After each key command (NULL: nothing to do). */
    void (*command_done)(void *user);
    /* Nonzero once the chat is over: a key command waiting for a key gives up. */
    int (*ended)(void *user);
} chat_term_hooks;

/* ---- the editor -------------------------------------------------------------------------- */

/* A terminal (not yet on the screen): lines up to line_max bytes, keys and waits through io
 * (which must outlive it; a request to leave stays pending in io for the program's loop). NULL
 * when out of memory. hooks is copied. */
chat_term *chat_term_new(const chat_term_hooks *hooks, size_t line_max, chat_io *io);

/* Set up libedit and draw the prompt. Returns 0, or -1 (say so and do not use the editor). */
int chat_term_open(chat_term *t);

/* The prompt is on the screen (opened, not stopped). t may be NULL. */
int chat_term_editing(const chat_term *t);

/* Read what the terminal sent and act on it, one key command at a time. Call when standard
 * input is readable. */
void chat_term_input(chat_term *t);

/* Whether standard input should be polled: editing, and not too many typed lines waiting. */
int chat_term_wants_input(const chat_term *t);

/* Offer the typed lines waiting for room to hooks->send again, in order. */
void chat_term_flush(chat_term *t);

/* Typed lines waiting for room (hooks->send answered 0). */
unsigned long chat_term_waiting(const chat_term *t);

/* Typed lines never sent: still waiting, or counted with chat_term_refused(). */
unsigned long chat_term_unsent(const chat_term *t);

/* Count a typed line that hooks->send refused for good because nobody takes it any more. */
void chat_term_refused(chat_term *t);

/* Call from the loop with resized nonzero when chat_io_wait said CHAT_IO_RESIZE: redraws when
 * the terminal changed size (also when a key command's wait saw it). t may be NULL. */
void chat_term_winch(chat_term *t, int resized);

/* Take the prompt off the screen for good, so that what follows starts at the left margin.
 * show_unsent: show a half-typed line as "(not sent) ...". */
void chat_term_stop(chat_term *t, int show_unsent);

/* Stop, restore the terminal (what was typed meanwhile is discarded) and free. NULL: no-op. */
void chat_term_free(chat_term *t);

/* ---- output ------------------------------------------------------------------------------ */

/* One line of the chat's log above the prompt: "[HH:MM:SS] who: text". who (may be NULL) is
 * made safe; text too unless safe_text. During a key command it is kept and printed when the
 * command ends. */
void chat_term_log(chat_term *t, const char *who, const char *text, size_t len, int safe_text);

/* A status line in the log: pre and post are ours, name (may be NULL) is made safe. */
void chat_term_status(chat_term *t, const char *pre, const char *name, const char *post);

/* --trace's callback (user: a chat_term, or NULL): seconds since start and the event, in the
 * log when the prompt is on the screen, on standard error otherwise. */
void chat_term_trace(const nl_trace_event *ev, void *user);

#endif
