/* chat_io on POSIX systems (see chat_io.h): ppoll() with our signals unblocked only while it
 * waits; pselect() where there is no ppoll() (macOS), and in the forced portable POSIX build,
 * which tests that path on Linux (CHAT_IO_NO_PPOLL). */
#include "chat_io.h"

#include <errno.h>
#include <poll.h>
#include <sys/select.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct chat_io {
    int fd;            /* the input */
    int console;       /* isatty(fd) */
    int caught;        /* the signal handlers are ours */
    sigset_t waitmask; /* the mask while waiting: our signals unblocked */
};

static volatile sig_atomic_t g_stop, g_winch;

static void on_signal(int sig)
{
    if (sig == SIGWINCH)
        g_winch = 1;
    else
        g_stop = sig;
}

int chat_io_open(chat_io **out, intptr_t input, int catch_signals)
{
    static const int leave[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    chat_io *io = calloc(1, sizeof *io);
    struct sigaction sa;
    sigset_t ours;

    if (io == NULL)
        return -1;
    io->fd = input == CHAT_IO_STDIN ? 0 : (int)input;
    io->console = isatty(io->fd);
    sigemptyset(&ours);
    sigprocmask(SIG_BLOCK, NULL, &io->waitmask);
    if (catch_signals) {
        io->caught = 1;
        signal(SIGPIPE, SIG_IGN);
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        for (size_t i = 0; i < sizeof leave / sizeof leave[0]; i++) {
            sigaction(leave[i], &sa, NULL);
            sigaddset(&ours, leave[i]);
        }
        if (io->console) {
            sigaction(SIGWINCH, &sa, NULL);
            sigaddset(&ours, SIGWINCH);
            /* Suspended, the chat could not answer its peer, which would count it lost. */
            signal(SIGTSTP, SIG_IGN);
        }
        /* Blocked except in ppoll: none is missed between a check of the flags and the wait. */
        sigprocmask(SIG_BLOCK, &ours, &io->waitmask);
        for (size_t i = 0; i < sizeof leave / sizeof leave[0]; i++)
            sigdelset(&io->waitmask, leave[i]);
        sigdelset(&io->waitmask, SIGWINCH);
    }
    *out = io;
    return 0;
}

void chat_io_close(chat_io *io)
{
    free(io);
}

int chat_io_is_console(const chat_io *io)
{
    return io->console;
}

static int pending(void)
{
    return (g_stop ? CHAT_IO_STOP : 0) | (g_winch ? CHAT_IO_RESIZE : 0);
}

#if defined(__APPLE__) && !defined(CHAT_IO_NO_PPOLL)
#define CHAT_IO_NO_PPOLL
#endif

#ifdef CHAT_IO_NO_PPOLL
/* ppoll() on pselect(): readable (data, end of file or an error) becomes POLLIN. The chat's
 * descriptors are few and small, far below FD_SETSIZE. */
static int wait_fds(struct pollfd *p, nfds_t n, const struct timespec *ts, const sigset_t *mask)
{
    fd_set rd;
    int top = -1, rc;

    FD_ZERO(&rd);
    for (nfds_t i = 0; i < n; i++) {
        if (p[i].fd < 0 || p[i].fd >= FD_SETSIZE) {
            errno = EINVAL;
            return -1;
        }
        FD_SET(p[i].fd, &rd);
        top = p[i].fd > top ? p[i].fd : top;
    }
    rc = pselect(top + 1, &rd, NULL, NULL, ts, mask);
    for (nfds_t i = 0; i < n; i++)
        p[i].revents = rc > 0 && FD_ISSET(p[i].fd, &rd) ? POLLIN : 0;
    return rc;
}
#else
static int wait_fds(struct pollfd *p, nfds_t n, const struct timespec *ts, const sigset_t *mask)
{
    return ppoll(p, n, ts, mask);
}
#endif

int chat_io_wait(chat_io *io, nl_socket_t sock, int want_input, int timeout_ms)
{
    struct pollfd p[2];
    struct timespec ts;
    nfds_t n = 0;
    int rc, got = pending(), in = -1, so = -1;

    g_winch = 0;
    if (got != 0)
        return got;
    if (sock != CHAT_IO_NO_SOCKET) {
        so = (int)n;
        p[n++] = (struct pollfd){.fd = sock, .events = POLLIN};
    }
    if (want_input) {
        in = (int)n;
        p[n++] = (struct pollfd){.fd = io->fd, .events = POLLIN};
    }
    ts.tv_sec = timeout_ms / 1000;
    ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
    rc = wait_fds(p, n, timeout_ms < 0 ? NULL : &ts, &io->waitmask);
    if (rc < 0 && errno != EINTR)
        return -1;
    got = pending();
    g_winch = 0;
    if (rc > 0 && so >= 0 && p[so].revents != 0)
        got |= CHAT_IO_SOCKET;
    if (rc > 0 && in >= 0 && p[in].revents != 0)
        got |= CHAT_IO_INPUT;
    return got;
}

int chat_io_stop_reason(chat_io *io)
{
    int sig = g_stop;

    (void)io;
    g_stop = 0;
    return sig;
}

long chat_io_read(chat_io *io, char *buf, size_t cap)
{
    struct pollfd p = {.fd = io->fd, .events = POLLIN};
    ssize_t n;

    if (poll(&p, 1, 0) <= 0)
        return -1;
    do
        n = read(io->fd, buf, cap);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN)
        return -1;
    return n < 0 ? 0 : (long)n;
}

int chat_io_console_step(chat_io *io, char *line, size_t cap)
{
    (void)io;
    if (cap > 0)
        line[0] = '\0';
    return CHAT_IO_KEYS_DONE; /* a terminal is libedit's */
}

void chat_io_console_setup(chat_io *io, const char *prompt, size_t max_line)
{
    (void)io, (void)prompt, (void)max_line;
}

void chat_io_console_end(chat_io *io)
{
    (void)io; /* a terminal is libedit's */
}

int chat_io_print(chat_io *io, const char *text, size_t len)
{
    (void)io;
    if (fwrite(text, 1, len, stdout) != len || putchar('\n') == EOF || fflush(stdout) != 0)
        return -1;
    return 0;
}
