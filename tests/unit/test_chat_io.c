/* netlab-chat's wait and input layer (examples/chat_io.h; chat_io_posix.c natively,
 * chat_io_win.c under wine): the timeout, the socket and input wake-ups, the end of input,
 * input arriving faster than it is read (more than the Windows reader queues), and a request
 * to leave. Input is a pipe this test writes to from a thread; the real standard input (a file,
 * a pipe) is driven by tests/unit/chat_io_input.sh. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chat_io.h"
#include <netlab.h>

#ifdef _WIN32
#include <windows.h>
typedef HANDLE pipe_end;
static void make_pipe(pipe_end p[2])
{
    assert_true(CreatePipe(&p[0], &p[1], NULL, 0));
}
static void put(pipe_end w, const void *data, size_t n)
{
    DWORD wrote;

    while (n > 0) {
        assert_true(WriteFile(w, data, (DWORD)n, &wrote, NULL));
        data = (const char *)data + wrote;
        n -= wrote;
    }
}
static void shut(pipe_end e)
{
    CloseHandle(e);
}
#define AS_INPUT(e) ((intptr_t)(e))
#else
#include <unistd.h>
typedef int pipe_end;
static void make_pipe(pipe_end p[2])
{
    assert_int_equal(pipe(p), 0);
}
static void put(pipe_end w, const void *data, size_t n)
{
    while (n > 0) {
        ssize_t k = write(w, data, n);

        assert_true(k > 0);
        data = (const char *)data + k;
        n -= (size_t)k;
    }
}
static void shut(pipe_end e)
{
    close(e);
}
#define AS_INPUT(e) ((intptr_t)(e))
#endif

typedef struct {
    pipe_end p[2];
    int w_open; /* p[1] not closed yet */
    chat_io *io;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);

    assert_non_null(f);
    make_pipe(f->p);
    f->w_open = 1;
    assert_int_equal(chat_io_open(&f->io, AS_INPUT(f->p[0]), 0), 0);
    assert_int_equal(chat_io_is_console(f->io), 0);
    *state = f;
    return 0;
}

static void close_writer(fixture *f)
{
    if (f->w_open)
        shut(f->p[1]);
    f->w_open = 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    close_writer(f); /* the reader ends first: then the read end may go */
    chat_io_close(f->io);
    shut(f->p[0]);
    free(f);
    return 0;
}

/* Nothing happens: the wait ends by its timeout, with or without interest in input. */
static void test_timeout(void **state)
{
    fixture *f = *state;
    char b[4];

    assert_int_equal(chat_io_wait(f->io, CHAT_IO_NO_SOCKET, 1, 30), 0);
    assert_int_equal(chat_io_wait(f->io, CHAT_IO_NO_SOCKET, 0, 30), 0);
    assert_int_equal(chat_io_wait(f->io, CHAT_IO_NO_SOCKET, 1, 0), 0);
    assert_int_equal(chat_io_read(f->io, b, sizeof b), -1); /* nothing yet, and no wait */
}

/* Reads exactly n bytes, waiting for each piece (at most 10 s a piece). */
static void read_exactly(chat_io *io, char *b, size_t n)
{
    size_t got = 0;

    while (got < n) {
        long k;

        assert_true(chat_io_wait(io, CHAT_IO_NO_SOCKET, 1, 10000) & CHAT_IO_INPUT);
        k = chat_io_read(io, b + got, n - got);
        assert_true(k > 0);
        got += (size_t)k;
    }
}

/* A datagram on the chat's socket ends the wait; input not wanted does not. */
static void test_socket_wakes(void **state)
{
    fixture *f = *state;
    nl_endpoint ep;
    nl_udp *u;
    char b[8];

    assert_int_equal(nl_endpoint_parse(&ep, "127.0.0.1:0", 0), 0);
    assert_int_equal(nl_udp_open_bound(&u, &ep, NULL), 0);
    assert_int_equal(nl_udp_local(u, &ep), 0);
    assert_int_equal(chat_io_wait(f->io, nl_udp_fd(u), 1, 30), 0);
    put(f->p[1], "x", 1);
    read_exactly(f->io, b, 1); /* the reader has it now */
    put(f->p[1], "y", 1);
    assert_true(chat_io_wait(f->io, CHAT_IO_NO_SOCKET, 1, 10000) & CHAT_IO_INPUT);
    /* Input is there but not wanted: only the timeout ends this wait. */
    assert_int_equal(chat_io_wait(f->io, nl_udp_fd(u), 0, 100), 0);
    assert_int_equal(nl_udp_send_to(u, "ping", 4, &ep, 0), 4);
    assert_int_equal(chat_io_wait(f->io, nl_udp_fd(u), 0, 10000), CHAT_IO_SOCKET);
    /* Both at once. */
    assert_int_equal(chat_io_wait(f->io, nl_udp_fd(u), 1, 10000), CHAT_IO_SOCKET | CHAT_IO_INPUT);
    assert_int_equal(nl_udp_recv_from(u, b, sizeof b, NULL, 0), 4);
    assert_int_equal(chat_io_read(f->io, b, sizeof b), 1);
    assert_int_equal(b[0], 'y');
    nl_udp_close(u);
}

typedef struct {
    pipe_end w;
    size_t n;
} writer_job;

static unsigned char pattern(size_t i)
{
    return (unsigned char)(i * 7 % 251);
}

/* Writes n bytes of the pattern in pieces. */
static void *writer(void *arg)
{
    writer_job *j = arg;
    unsigned char piece[4096];
    size_t i = 0;

    while (i < j->n) {
        size_t k = j->n - i < sizeof piece ? j->n - i : sizeof piece;

        for (size_t x = 0; x < k; x++)
            piece[x] = pattern(i + x);
        put(j->w, piece, k);
        i += k;
    }
    return NULL;
}

/* Input from another thread wakes a wait with no time limit; the end of input is reported
 * (as input) and read as 0, again and again. */
static void test_input_wakes_and_ends(void **state)
{
    fixture *f = *state;
    writer_job j = {f->p[1], 5};
    pthread_t t;
    char b[16];

    assert_int_equal(pthread_create(&t, NULL, writer, &j), 0);
    assert_int_equal(chat_io_wait(f->io, CHAT_IO_NO_SOCKET, 1, -1), CHAT_IO_INPUT);
    pthread_join(t, NULL);
    read_exactly(f->io, b, 5);
    assert_memory_equal(b, "\0\7\16\25\34", 5); /* a NUL passes */
    assert_int_equal(chat_io_read(f->io, b, sizeof b), -1);
    close_writer(f);
    assert_int_equal(chat_io_wait(f->io, CHAT_IO_NO_SOCKET, 1, -1), CHAT_IO_INPUT);
    assert_int_equal(chat_io_read(f->io, b, sizeof b), 0);
    assert_int_equal(chat_io_wait(f->io, CHAT_IO_NO_SOCKET, 1, -1), CHAT_IO_INPUT);
    assert_int_equal(chat_io_read(f->io, b, sizeof b), 0);
}

/* 3 MiB written while the reader takes it in small reads: more than the Windows reader
 * queues (256 KiB), so it must wait for room; every byte arrives, in order. */
static void test_much_input(void **state)
{
    fixture *f = *state;
    writer_job j = {f->p[1], (size_t)3 << 20};
    pthread_t t;
    size_t got = 0;
    char b[1000];

    assert_int_equal(pthread_create(&t, NULL, writer, &j), 0);
    while (got < j.n) {
        long n;

        assert_true(chat_io_wait(f->io, CHAT_IO_NO_SOCKET, 1, 10000) & CHAT_IO_INPUT);
        n = chat_io_read(f->io, b, sizeof b);
        assert_true(n > 0);
        for (long i = 0; i < n; i++)
            if ((unsigned char)b[i] != pattern(got + (size_t)i))
                fail_msg("byte %zu: %u, want %u", got + (size_t)i, (unsigned char)b[i],
                         pattern(got + (size_t)i));
        got += (size_t)n;
    }
    pthread_join(t, NULL);
    close_writer(f);
    assert_int_equal(chat_io_wait(f->io, CHAT_IO_NO_SOCKET, 1, 10000), CHAT_IO_INPUT);
    assert_int_equal(chat_io_read(f->io, b, sizeof b), 0);
}

/* A request to leave (POSIX: SIGINT; Windows: Ctrl-C to the console's process group) ends the
 * wait with CHAT_IO_STOP until it is taken. */
static void test_stop_request(void **state)
{
    chat_io *io;
    pipe_end p[2];
    int want;

    (void)state;
    make_pipe(p);
    assert_int_equal(chat_io_open(&io, AS_INPUT(p[0]), 1), 0);
    assert_int_equal(chat_io_wait(io, CHAT_IO_NO_SOCKET, 1, 0), 0);
#ifdef _WIN32
    /* Without a console (ctest's pipes under wine) there is nobody to send the event to. */
    if (!GenerateConsoleCtrlEvent(CTRL_C_EVENT, 0)) {
        chat_io_close(io);
        shut(p[1]);
        shut(p[0]);
        skip();
    }
    want = CTRL_C_EVENT + 1;
#else
    raise(SIGINT); /* blocked until the wait: pending, not lost */
    want = SIGINT;
#endif
    assert_int_equal(chat_io_wait(io, CHAT_IO_NO_SOCKET, 1, 10000), CHAT_IO_STOP);
    assert_int_equal(chat_io_wait(io, CHAT_IO_NO_SOCKET, 1, 0), CHAT_IO_STOP);
    assert_int_equal(chat_io_stop_reason(io), want);
    assert_int_equal(chat_io_stop_reason(io), 0);
    assert_int_equal(chat_io_wait(io, CHAT_IO_NO_SOCKET, 1, 0), 0);
    shut(p[1]);
    chat_io_close(io);
    shut(p[0]);
}

#ifdef _WIN32
BOOL WINAPI chat_io__on_ctrl(DWORD type);

static void *ctrl_event(void *arg)
{
    return (void *)(intptr_t)chat_io__on_ctrl((DWORD)(intptr_t)arg);
}

/* The control handler itself, on a thread as Windows runs it: Ctrl-Break wakes the wait; a
 * closing console holds the handler (Windows ends the process when it returns) until
 * chat_io_close says the chat has finished. */
static void test_ctrl_handler(void **state)
{
    chat_io *io;
    pipe_end p[2];
    pthread_t t;
    void *rv;

    (void)state;
    make_pipe(p);
    assert_int_equal(chat_io_open(&io, AS_INPUT(p[0]), 1), 0);
    assert_int_equal(pthread_create(&t, NULL, ctrl_event, (void *)(intptr_t)CTRL_BREAK_EVENT), 0);
    assert_int_equal(chat_io_wait(io, CHAT_IO_NO_SOCKET, 1, -1), CHAT_IO_STOP);
    pthread_join(t, &rv);
    assert_true(rv != NULL); /* handled: TRUE */
    assert_int_equal(chat_io_stop_reason(io), CTRL_BREAK_EVENT + 1);
    assert_int_equal(pthread_create(&t, NULL, ctrl_event, (void *)(intptr_t)CTRL_CLOSE_EVENT), 0);
    assert_int_equal(chat_io_wait(io, CHAT_IO_NO_SOCKET, 1, -1), CHAT_IO_STOP);
    assert_int_equal(chat_io_stop_reason(io), CTRL_CLOSE_EVENT + 1);
    shut(p[1]);
    chat_io_close(io); /* lets the handler return */
    pthread_join(t, &rv);
    assert_true(rv != NULL);
    shut(p[0]);
    /* No chat_io catching: the handler passes the event on (FALSE). */
    assert_false(chat_io__on_ctrl(CTRL_C_EVENT));
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_wakes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_wakes_and_ends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_much_input, setup, teardown),
        cmocka_unit_test(test_stop_request),
#ifdef _WIN32
        cmocka_unit_test(test_ctrl_handler),
#endif
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
