/* chat_io on Windows (see chat_io.h).
 *
 * Why a reader thread and a loopback socket: the chat's socket can be waited for with select()
 * (as libnetlab's seam does), but an anonymous pipe cannot be waited for at all, and a console
 * handle only with WaitForMultipleObjects, which in turn needs WSAEventSelect on the chat's
 * socket (that makes the socket non-blocking behind the library's back and records FD_READ
 * only once until the next recv). A thread blocked in ReadFile or ReadConsoleInputW instead
 * queues what it reads and sends one byte to a connected UDP socket pair on 127.0.0.1; the
 * wait is then a single select() over the chat's socket and that pair, for every kind of
 * input and for the console control handler alike. */
#include "chat_io.h"

#include "chat_line.h"

#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INBUF_CAP ((size_t)256 * 1024) /* pipe bytes queued before the reader waits */
#define KEYQ_CAP  8192                 /* console UTF-16 units queued */

struct chat_io {
    HANDLE in;                  /* the input */
    int console;                /* in is a console: key events */
    int mode_set;               /* old_mode is to be restored */
    DWORD old_mode;             /* the console's input mode before us */
    HANDLE out;                 /* standard output */
    int out_console;            /* out is a console: WriteConsoleW */
    SOCKET wake_rx, wake_tx;    /* the wake-up pair: tx sends, the wait selects rx */
    HANDLE thread;              /* the reader, or NULL (no input at all) */
    CRITICAL_SECTION lock;      /* guards what follows, shared with the reader */
    CONDITION_VARIABLE room;    /* the reader waits here for room in buf or keys */
    char *buf;                  /* pipe bytes not read yet */
    size_t len;                 /* bytes in buf */
    uint16_t keys[KEYQ_CAP];    /* console: typed UTF-16 units, a ring */
    size_t key_head, key_count; /* the ring's first unit and length */
    int full_said;              /* console: the line-full notice was given for this line */
    int eof;                    /* the reader saw the end of input (or a read error) */
    int closing;                /* chat_io_close: the reader should stop */
    chat_line line;             /* console: the line being typed */
    char prompt[64];            /* console: drawn before it */
    int drawn;                  /* the prompt and line are on the screen */
    int ended;                  /* chat_io_console_end: no prompt any more */
    size_t drawn_len;           /* bytes of line.text on the screen */
    SHORT start_x;              /* column where the prompt starts */
    int rows;                   /* line wraps in what is drawn */
    SHORT last_x;               /* the cursor's column after the last character drawn */
    int caught;                 /* the control handler is ours */
    UINT old_cp;                /* the console output code page before us, or 0 */
};

static chat_io *g_io;          /* the chat_io the control handler wakes (under g_io_lock) */
static SRWLOCK g_io_lock = SRWLOCK_INIT; /* chat_io_close cannot free it under the handler */
static volatile LONG g_stop;   /* CTRL_*_EVENT + 1 of a request to leave, or 0 */
static HANDLE g_done;          /* set by chat_io_close: a closing console may go */

static void wake(chat_io *io)
{
    send(io->wake_tx, "w", 1, 0); /* non-blocking: a full pair already holds a wake-up */
}

/* The end of input after a ReadFile that succeeded with 0 bytes: always for a file. A pipe
 * does that also when the writer wrote 0 bytes (Windows), or at its end (wine, for a Unix
 * pipe): it ended when PeekNamedPipe says it is broken. */
static int ended(HANDLE h, int is_pipe)
{
    DWORD avail = 0;

    return !is_pipe || !PeekNamedPipe(h, NULL, 0, NULL, &avail, NULL);
}

/* The pipe or file reader. */
static DWORD WINAPI pipe_reader(void *arg)
{
    chat_io *io = arg;
    int is_pipe = GetFileType(io->in) == FILE_TYPE_PIPE;
    char tmp[64 * 1024]; /* a thread's stack is 1 MiB */

    for (;;) {
        DWORD got = 0;
        BOOL ok = ReadFile(io->in, tmp, sizeof tmp, &got, NULL);
        size_t done = 0;
        int stop;

        if (ok && got == 0 && !ended(io->in, is_pipe))
            continue;
        EnterCriticalSection(&io->lock);
        if (!ok || got == 0) {
            io->eof = 1;
            LeaveCriticalSection(&io->lock);
            wake(io);
            return 0;
        }
        while (done < got && !io->closing) {
            size_t k = got - done;

            while (io->len == INBUF_CAP && !io->closing)
                SleepConditionVariableCS(&io->room, &io->lock, INFINITE);
            if (k > INBUF_CAP - io->len)
                k = INBUF_CAP - io->len;
            memcpy(io->buf + io->len, tmp + done, k);
            io->len += k;
            done += k;
            LeaveCriticalSection(&io->lock);
            wake(io);
            EnterCriticalSection(&io->lock);
        }
        stop = io->closing;
        LeaveCriticalSection(&io->lock);
        if (stop)
            return 0;
    }
}

/* The console reader: the characters of key presses (an IME's Chinese arrives as key events
 * carrying UTF-16 units, VK_PACKET; an Alt+numpad character on the release of Alt). */
static DWORD WINAPI console_reader(void *arg)
{
    chat_io *io = arg;
    INPUT_RECORD r[64];

    for (;;) {
        DWORD n = 0;
        int stop;

        if (!ReadConsoleInputW(io->in, r, 64, &n)) {
            EnterCriticalSection(&io->lock);
            io->eof = 1;
            LeaveCriticalSection(&io->lock);
            wake(io);
            return 0;
        }
        EnterCriticalSection(&io->lock);
        for (DWORD i = 0; i < n; i++) {
            const KEY_EVENT_RECORD *k = &r[i].Event.KeyEvent;
            WORD rep;

            if (r[i].EventType != KEY_EVENT || k->uChar.UnicodeChar == 0)
                continue;
            if (!k->bKeyDown && k->wVirtualKeyCode != VK_MENU)
                continue;
            for (rep = 0; rep < (k->wRepeatCount ? k->wRepeatCount : 1); rep++) {
                /* A paste faster than the loop takes it: wait for room (after making sure
                 * the loop knows there are keys to take), as the pipe reader does; no key is
                 * ever dropped, an Enter least of all. */
                while (io->key_count == KEYQ_CAP && !io->closing) {
                    wake(io);
                    SleepConditionVariableCS(&io->room, &io->lock, INFINITE);
                }
                if (io->closing)
                    break;
                io->keys[(io->key_head + io->key_count) % KEYQ_CAP] = k->uChar.UnicodeChar;
                io->key_count++;
            }
        }
        stop = io->closing;
        LeaveCriticalSection(&io->lock);
        wake(io);
        if (stop)
            return 0;
    }
}

/* The console control handler (Windows runs it on a thread of its own). Not static: the tests
 * call it directly, since wine without a console cannot send control events. */
BOOL WINAPI chat_io__on_ctrl(DWORD type);

BOOL WINAPI chat_io__on_ctrl(DWORD type)
{
    chat_io *io;

    AcquireSRWLockShared(&g_io_lock);
    io = g_io;
    if (io != NULL) {
        InterlockedExchange(&g_stop, (LONG)type + 1);
        wake(io);
    }
    ReleaseSRWLockShared(&g_io_lock);
    if (io == NULL)
        return FALSE;
    /* Windows ends the process when this returns (after at most 5 s): give the chat the time
     * to say goodbye to its peer. */
    if (type == CTRL_CLOSE_EVENT || type == CTRL_LOGOFF_EVENT || type == CTRL_SHUTDOWN_EVENT)
        WaitForSingleObject(g_done, 4500);
    return TRUE;
}

/* A UDP socket pair on 127.0.0.1, each connected to the other (so nobody else's datagram gets
 * in), both non-blocking. */
static int wake_pair(chat_io *io)
{
    struct sockaddr_in a;
    int alen = sizeof a;
    u_long on = 1;

    io->wake_rx = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    io->wake_tx = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    if (io->wake_rx == INVALID_SOCKET || io->wake_tx == INVALID_SOCKET)
        return -1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(io->wake_rx, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(io->wake_rx, (struct sockaddr *)&a, &alen) != 0 ||
        connect(io->wake_tx, (struct sockaddr *)&a, sizeof a) != 0)
        return -1;
    alen = sizeof a;
    if (getsockname(io->wake_tx, (struct sockaddr *)&a, &alen) != 0 ||
        connect(io->wake_rx, (struct sockaddr *)&a, sizeof a) != 0)
        return -1;
    if (ioctlsocket(io->wake_rx, FIONBIO, &on) != 0 || ioctlsocket(io->wake_tx, FIONBIO, &on) != 0)
        return -1;
    return 0;
}

static void free_io(chat_io *io)
{
    if (io->wake_rx != INVALID_SOCKET)
        closesocket(io->wake_rx);
    if (io->wake_tx != INVALID_SOCKET)
        closesocket(io->wake_tx);
    DeleteCriticalSection(&io->lock);
    free(io->buf);
    free(io);
    WSACleanup();
}

int chat_io_open(chat_io **out, intptr_t input, int catch_signals)
{
    WSADATA wd;
    chat_io *io;
    DWORD mode;

    if (WSAStartup(MAKEWORD(2, 2), &wd) != 0) {
        errno = EIO;
        return -1;
    }
    io = calloc(1, sizeof *io);
    if (io == NULL) {
        WSACleanup();
        errno = ENOMEM;
        return -1;
    }
    InitializeCriticalSection(&io->lock);
    InitializeConditionVariable(&io->room);
    io->wake_rx = io->wake_tx = INVALID_SOCKET;
    io->in = input == CHAT_IO_STDIN ? GetStdHandle(STD_INPUT_HANDLE) : (HANDLE)input;
    io->out = GetStdHandle(STD_OUTPUT_HANDLE);
    io->out_console =
        io->out != NULL && io->out != INVALID_HANDLE_VALUE && GetConsoleMode(io->out, &mode);
    chat_line_init(&io->line, 0);
    strcpy(io->prompt, "> ");
    io->buf = malloc(INBUF_CAP);
    if (io->buf == NULL || wake_pair(io) != 0) {
        int e = io->buf == NULL ? ENOMEM : EIO;

        free_io(io);
        errno = e;
        return -1;
    }
    if (io->in == NULL || io->in == INVALID_HANDLE_VALUE) {
        io->eof = 1; /* no standard input at all: it ended */
    } else {
        io->console = GetConsoleMode(io->in, &io->old_mode) != 0;
        if (io->console) {
            /* Keys one by one, without the console's echo; Ctrl-C as a key (Ctrl-Break and
             * closing the console still go to the control handler). */
            io->mode_set =
                SetConsoleMode(io->in,
                               io->old_mode & ~(DWORD)(ENABLE_LINE_INPUT | ENABLE_ECHO_INPUT |
                                                       ENABLE_PROCESSED_INPUT | ENABLE_MOUSE_INPUT |
                                                       ENABLE_WINDOW_INPUT)) != 0;
        }
        io->thread = CreateThread(NULL, 0, io->console ? console_reader : pipe_reader, io, 0, NULL);
        if (io->thread == NULL) {
            if (io->mode_set)
                SetConsoleMode(io->in, io->old_mode);
            free_io(io);
            errno = EAGAIN;
            return -1;
        }
    }
    /* UTF-8 for what reaches the console through stdio (status lines on stderr): a Chinese
     * Windows console is in code page 936 otherwise. chat_io_print writes UTF-16 anyway. */
    if (io->out_console || GetConsoleMode(GetStdHandle(STD_ERROR_HANDLE), &mode)) {
        io->old_cp = GetConsoleOutputCP();
        if (io->old_cp == CP_UTF8 || !SetConsoleOutputCP(CP_UTF8))
            io->old_cp = 0;
    }
    if (catch_signals) {
        if (g_done == NULL)
            g_done = CreateEventW(NULL, TRUE, FALSE, NULL);
        ResetEvent(g_done);
        io->caught = 1;
        AcquireSRWLockExclusive(&g_io_lock);
        g_io = io;
        ReleaseSRWLockExclusive(&g_io_lock);
        SetConsoleCtrlHandler(chat_io__on_ctrl, TRUE);
    }
    *out = io;
    return 0;
}

static void hide(chat_io *io);

void chat_io_close(chat_io *io)
{
    int gone = 1;

    if (io == NULL)
        return;
    if (io->console && io->out_console)
        hide(io);
    if (io->mode_set)
        SetConsoleMode(io->in, io->old_mode);
    if (io->old_cp != 0)
        SetConsoleOutputCP(io->old_cp);
    EnterCriticalSection(&io->lock);
    io->closing = 1;
    WakeConditionVariable(&io->room);
    LeaveCriticalSection(&io->lock);
    if (io->thread != NULL) {
        /* A reader blocked in ReadFile or ReadConsoleInputW may not come back: abandoned (its
         * memory is left to the process's exit) rather than waited for. A pipe's read can be
         * cancelled; a console's waits for a key, so it is not waited for at all. */
        CancelSynchronousIo(io->thread);
        gone = WaitForSingleObject(io->thread, io->console ? 0 : 200) == WAIT_OBJECT_0;
        CloseHandle(io->thread);
    }
    if (io->caught) {
        AcquireSRWLockExclusive(&g_io_lock); /* a handler running now is done with io after */
        g_io = NULL;
        ReleaseSRWLockExclusive(&g_io_lock);
        SetEvent(g_done);
    }
    if (gone)
        free_io(io);
}

int chat_io_is_console(const chat_io *io)
{
    return io->console;
}

static int input_ready(chat_io *io)
{
    int ready;

    EnterCriticalSection(&io->lock);
    ready = io->len > 0 || io->key_count > 0 || io->eof;
    LeaveCriticalSection(&io->lock);
    return ready;
}

int chat_io_wait(chat_io *io, nl_socket_t sock, int want_input, int timeout_ms)
{
    ULONGLONG deadline = GetTickCount64() + (ULONGLONG)(timeout_ms < 0 ? 0 : timeout_ms);

    for (;;) {
        char drain[64];
        int got = 0, rc;
        fd_set rd;
        struct timeval tv = {0, 0};
        ULONGLONG now;

        /* Drained before the checks: a wake-up sent after them stays for select(). */
        while (recv(io->wake_rx, drain, sizeof drain, 0) > 0)
            ;
        if (io->caught && g_stop != 0)
            got |= CHAT_IO_STOP;
        if (want_input && input_ready(io))
            got |= CHAT_IO_INPUT;
        FD_ZERO(&rd);
        FD_SET(io->wake_rx, &rd);
        if (sock != CHAT_IO_NO_SOCKET)
            FD_SET((SOCKET)sock, &rd);
        now = GetTickCount64();
        if (got == 0 && timeout_ms >= 0) {
            ULONGLONG left = deadline > now ? deadline - now : 0;

            tv.tv_sec = (long)(left / 1000);
            tv.tv_usec = (long)(left % 1000) * 1000;
        }
        rc = select(0, &rd, NULL, NULL, got == 0 && timeout_ms < 0 ? NULL : &tv);
        if (rc == SOCKET_ERROR) {
            errno = EIO;
            return -1;
        }
        if (sock != CHAT_IO_NO_SOCKET && FD_ISSET((SOCKET)sock, &rd))
            got |= CHAT_IO_SOCKET;
        if (got != 0)
            return got;
        if (rc == 0 && timeout_ms >= 0 && GetTickCount64() >= deadline)
            return 0;
        /* A wake-up for input not wanted now, or select() came back early: wait on. */
    }
}

int chat_io_stop_reason(chat_io *io)
{
    (void)io;
    return (int)InterlockedExchange(&g_stop, 0);
}

long chat_io_read(chat_io *io, char *buf, size_t cap)
{
    long n;

    EnterCriticalSection(&io->lock);
    if (io->len == 0) {
        n = io->eof ? 0 : -1;
    } else {
        size_t k = io->len < cap ? io->len : cap;

        memcpy(buf, io->buf, k);
        memmove(io->buf, io->buf + k, io->len - k);
        io->len -= k;
        n = (long)k;
        WakeConditionVariable(&io->room);
    }
    LeaveCriticalSection(&io->lock);
    return n;
}

/* ---- console output ---------------------------------------------------------------------- */

/* UTF-8 to the console as UTF-16, in pieces. */
static int put_console(chat_io *io, const char *s, size_t n)
{
    uint16_t w[512];

    while (n > 0) {
        size_t take = n < 512 ? n : 512, units;
        DWORD wrote;

        /* Never cut a character: back up to a lead byte. */
        while (take < n && take > 0 && ((unsigned char)s[take] & 0xc0) == 0x80)
            take--;
        if (take == 0) /* no character starts in the first 512 bytes (not UTF-8): go on */
            take = n < 512 ? n : 512;
        units = chat_utf8_to_utf16(s, take, w, 512);
        if (!WriteConsoleW(io->out, w, (DWORD)units, &wrote, NULL))
            return -1;
        s += take;
        n -= take;
    }
    return 0;
}

/* Draws UTF-8 text one character at a time, counting the rows it wraps onto: the cursor's
 * column going back means a new row, whether or not the screen scrolled (which moves where
 * the line started), and double-width (Chinese) characters need no width table. */
static void draw_text(chat_io *io, const char *s, size_t n)
{
    CONSOLE_SCREEN_BUFFER_INFO bi;
    size_t i = 0;

    while (i < n) {
        size_t k = 1;

        while (i + k < n && ((unsigned char)s[i + k] & 0xc0) == 0x80)
            k++;
        put_console(io, s + i, k);
        if (GetConsoleScreenBufferInfo(io->out, &bi)) {
            if (bi.dwCursorPosition.X < io->last_x)
                io->rows++;
            io->last_x = bi.dwCursorPosition.X;
        }
        i += k;
    }
}

static void draw(chat_io *io)
{
    CONSOLE_SCREEN_BUFFER_INFO bi;

    if (!GetConsoleScreenBufferInfo(io->out, &bi))
        return;
    io->start_x = io->last_x = bi.dwCursorPosition.X;
    io->rows = 0;
    draw_text(io, io->prompt, strlen(io->prompt));
    draw_text(io, io->line.text, io->line.len);
    io->drawn_len = io->line.len;
    io->drawn = 1;
}

/* Takes the prompt and the typed line off the screen; the cursor goes where they started. */
static void hide(chat_io *io)
{
    CONSOLE_SCREEN_BUFFER_INFO bi;
    COORD start;
    DWORD cells, wrote;

    if (!io->drawn || !GetConsoleScreenBufferInfo(io->out, &bi))
        return;
    start.X = io->start_x;
    start.Y = (SHORT)(bi.dwCursorPosition.Y - io->rows < 0 ? 0 : bi.dwCursorPosition.Y - io->rows);
    cells =
        (DWORD)((bi.dwCursorPosition.Y - start.Y) * bi.dwSize.X + bi.dwCursorPosition.X - start.X);
    if ((LONG)cells > 0)
        FillConsoleOutputCharacterW(io->out, L' ', cells, start, &wrote);
    SetConsoleCursorPosition(io->out, start);
    io->drawn = 0;
}

void chat_io_console_setup(chat_io *io, const char *prompt, size_t max_line)
{
    snprintf(io->prompt, sizeof io->prompt, "%s", prompt);
    io->line.max = max_line == 0 || max_line > CHAT_LINE_CAP ? CHAT_LINE_CAP : max_line;
}

int chat_io_console_step(chat_io *io, char *line, size_t cap)
{
    int shrunk = 0, rc = CHAT_IO_KEYS_DONE;

    if (cap > 0)
        line[0] = '\0';
    if (!io->console || io->ended)
        return CHAT_IO_KEYS_DONE;
    for (;;) {
        uint16_t u = 0;
        int r, eof, have = 0;

        EnterCriticalSection(&io->lock);
        eof = io->eof && io->key_count == 0;
        if (io->key_count > 0) {
            have = 1;
            u = io->keys[io->key_head];
            io->key_head = (io->key_head + 1) % KEYQ_CAP;
            io->key_count--;
            WakeConditionVariable(&io->room); /* a reader waiting for room */
        }
        LeaveCriticalSection(&io->lock);
        if (eof) {
            rc = CHAT_IO_EOF; /* the console went away */
            break;
        }
        if (!have)
            break;
        r = chat_line_feed(&io->line, u);
        if (r == CHAT_LINE_FULL && !io->full_said) {
            /* Said once per line, never silently cut: the rest of a paste is not taken. */
            char msg[128];
            int n = snprintf(msg, sizeof msg,
                             "*** the line is full (%zu bytes, a message's most): the rest of "
                             "what you type or paste is not taken",
                             io->line.max);
            io->full_said = 1;
            chat_io_print(io, msg, (size_t)n);
        }
        if (r == CHAT_LINE_CHANGED && io->line.len <= io->drawn_len)
            shrunk = 1; /* a backspace and a new character: same length, other text */
        if (r == CHAT_LINE_ENTER) {
            chat_line_take(&io->line, line, cap);
            io->full_said = 0;
            rc = CHAT_IO_LINE;
            shrunk = 1;
            break;
        }
        if (r == CHAT_LINE_EOF) {
            rc = CHAT_IO_EOF;
            break;
        }
        if (r == CHAT_LINE_INTERRUPT) {
            rc = CHAT_IO_INTERRUPT;
            break;
        }
    }
    if (!io->out_console)
        return rc;
    /* Drawn once per batch of keys (a paste is one batch): new characters at the end are
     * added, anything else redraws the line. */
    if (!io->drawn || shrunk) {
        hide(io);
        draw(io);
    } else if (io->line.len > io->drawn_len) {
        draw_text(io, io->line.text + io->drawn_len, io->line.len - io->drawn_len);
        io->drawn_len = io->line.len;
    }
    return rc;
}

int chat_io_print(chat_io *io, const char *text, size_t len)
{
    if (!io->out_console) {
        if (fwrite(text, 1, len, stdout) != len || putchar('\n') == EOF || fflush(stdout) != 0)
            return -1;
        return 0;
    }
    hide(io);
    if (put_console(io, text, len) != 0 || put_console(io, "\r\n", 2) != 0)
        return -1;
    if (io->console && !io->ended)
        draw(io);
    return 0;
}

void chat_io_console_end(chat_io *io)
{
    if (io->console && io->out_console)
        hide(io);
    io->ended = 1;
}
