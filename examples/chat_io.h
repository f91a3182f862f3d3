/* chat_io: netlab-chat's wait and standard input, one interface over two platforms.
 *
 * One call waits for whichever comes first: the chat's socket readable, input to read, a
 * timeout, or a request to leave (POSIX: SIGINT, SIGTERM, SIGHUP, SIGQUIT; Windows: Ctrl-C,
 * Ctrl-Break, the console closed, logoff, shutdown). It slots into netlab-chat's poll loop in
 * place of ppoll().
 *
 *   chat_io_posix.c  ppoll() on the socket and standard input, with our signals blocked
 *                    except during the wait (so none is missed between a check and the wait).
 *                    A terminal is libedit's (chat_io_is_console says 0 there).
 *   chat_io_win.c    A reader thread per input (an anonymous pipe cannot be waited for, a
 *                    console cannot be select()ed): it reads standard input (ReadFile from a
 *                    pipe or file; ReadConsoleInputW key events from a console) into a queue
 *                    and wakes the wait by a datagram on a loopback UDP socket pair, so that
 *                    the wait is one select() over the chat's socket and the wake-up socket.
 *                    A console gets the line editor of chat_line.h and output in UTF-16
 *                    (WriteConsoleW), so Chinese shows whatever the console's code page.
 *
 * Not thread-safe: one thread uses a chat_io (the reader thread is internal). At most one
 * chat_io catches signals at a time. Part of netlab-chat (examples/), not of libnetlab. */
#ifndef NETLAB_CHAT_IO_H
#define NETLAB_CHAT_IO_H

#include <netlab/version.h> /* nl_socket_t */
#include <stddef.h>
#include <stdint.h>

typedef struct chat_io chat_io;

/* The input chat_io_open reads when given this: standard input. */
#define CHAT_IO_STDIN ((intptr_t)-1)
/* A chat_io_wait without a socket. */
#define CHAT_IO_NO_SOCKET ((nl_socket_t)-1)

/* What chat_io_wait found (any combination; 0 is the timeout). */
enum {
    CHAT_IO_SOCKET = 1, /* the socket is readable */
    CHAT_IO_INPUT = 2,  /* input: bytes or end of input (chat_io_read), console keys
                         * (chat_io_console_step), or a POSIX terminal readable (libedit) */
    CHAT_IO_STOP = 4,   /* a request to leave arrived (chat_io_stop_reason says which) */
    CHAT_IO_RESIZE = 8, /* POSIX: the terminal was resized (SIGWINCH) */
};

/* Starts reading input: CHAT_IO_STDIN, or (for tests) a file descriptor on POSIX, a HANDLE
 * cast to intptr_t on Windows, which the chat_io does not close. catch_signals: install the
 * handlers for the requests to leave (POSIX: also SIGPIPE ignored, and SIGTSTP ignored and
 * SIGWINCH caught when the input is a terminal; they stay installed after chat_io_close).
 * Returns 0 and *out, or -1 (out of memory, no thread, no loopback socket; errno set). */
int chat_io_open(chat_io **out, intptr_t input, int catch_signals);

/* Stops the reader (a blocked console read is abandoned, not joined), restores the console's
 * mode, frees io. NULL is a no-op. */
void chat_io_close(chat_io *io);

/* 1 when input is an interactive console or terminal (Windows: key events, see
 * chat_io_console_step; POSIX: a terminal for libedit), 0 for a pipe or a file. */
int chat_io_is_console(const chat_io *io);

/* Waits up to timeout_ms (negative: no limit) until sock (CHAT_IO_NO_SOCKET: none) is
 * readable, input is there (only when want_input), or a request to leave arrives. Returns the
 * CHAT_IO_* bits found, 0 on timeout, -1 on a failure of the wait itself (errno set). A
 * request to leave is reported by every call until chat_io_stop_reason takes it. */
int chat_io_wait(chat_io *io, nl_socket_t sock, int want_input, int timeout_ms);

/* Takes the pending request to leave: 0 none; POSIX: the signal number; Windows: the
 * CTRL_*_EVENT number + 1. */
int chat_io_stop_reason(chat_io *io);

/* Pipe or file input: copies up to cap bytes that have arrived to buf, never waiting. Returns
 * the count, 0 at the end of input (a read error counts as the end, as on POSIX), or -1 when
 * nothing is there yet. Bytes pass unchanged (CRLF, NUL, any encoding). */
long chat_io_read(chat_io *io, char *buf, size_t cap);

/* What chat_io_console_step did. */
enum {
    CHAT_IO_KEYS_DONE = 0, /* no more keys queued */
    CHAT_IO_LINE,          /* Enter: the typed line is in line (UTF-8, NUL-terminated) */
    CHAT_IO_EOF,           /* Ctrl-D or Ctrl-Z on an empty line */
    CHAT_IO_INTERRUPT,     /* Ctrl-C */
};

/* Windows console input: runs the queued keys through the line editor (echoing the typed
 * line below the prompt) until a line is complete, the end of input or an interrupt is typed,
 * or no key is left. line gets up to cap - 1 bytes (a longer line is cut between characters).
 * Returns CHAT_IO_*; anywhere else always CHAT_IO_KEYS_DONE. */
int chat_io_console_step(chat_io *io, char *line, size_t cap);

/* The prompt shown before the typed line on a Windows console (copied; default "> "), and the
 * most bytes a typed line may take (further characters are refused). */
void chat_io_console_setup(chat_io *io, const char *prompt, size_t max_line);

/* Windows console: takes the prompt and the typed line off the screen for good (the chat is
 * ending); chat_io_print then no longer draws them again, and chat_io_console_step reads no
 * more keys. Anywhere else nothing. */
void chat_io_console_end(chat_io *io);

/* Writes one line of output (UTF-8 text without its newline, made safe by the caller with
 * chat_text_safe) to standard output. On a Windows console it goes above the line being typed,
 * which is drawn again below it, and is written as UTF-16; elsewhere it is written as bytes.
 * Returns 0, or -1 if writing failed. */
int chat_io_print(chat_io *io, const char *text, size_t len);

#endif
