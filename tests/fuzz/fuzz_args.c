/* libFuzzer target for the programs' argument parsing. The examples stay short, copyable files
 * with their parsing inline in main(), so each is compiled into this harness unchanged, with
 * main renamed (-Dmain=<program>_main) and two more renames that make running it in-process
 * safe and repeatable:
 *
 *   exit -> fuzz_exit   netlab-chat's usage errors call exit(2); here that jumps back to the
 *                       harness with the code, so the fuzzer process lives on.
 *   open -> fuzz_open   any file the input names would be opened; here every path fails
 *                       with ENOENT except "good.key" and "raw.key", served from memory.
 *
 * The --key-file reader (chat_key_read, examples/chat_key.c) is wrapped at link time for the
 * same reason: "good.key" and "raw.key" go to the real reader as a memory file
 * (/proc/self/fd/N), every other path fails as a missing file would.
 *
 * The programs' first network call (nl_udp_open, nl_udp_open_bound, nl_tcp_listen,
 * nl_tcp_connect, nl_chat_session_open, nl_tcp_server_open, nl_capture_open[_for]) is
 * wrapped at link time (-Wl,--wrap): the wrapper checks what validation let through and fails
 * with NL_EACCES, so a server never reaches its endless loop and nothing is sent anywhere.
 * getaddrinfo() is wrapped to add AI_NUMERICHOST, so a host name in the input is "not found"
 * instead of a DNS query. Everything before the first socket, i.e. all parsing and
 * validation, runs for real. Standard input is /dev/null.
 *
 * Input: first byte picks the program, the rest is split at NUL bytes into at most 16
 * arguments. Checked invariants (abort on violation):
 *   - exit code 0 (--help), 1 (the refused socket call or an unreadable key file) or 2 (usage);
 *   - code 2 only before any socket call; code 1 from the socket step only after it;
 *   - an endpoint reaching a socket call is valid (IPv4 or IPv6), a peer has a port;
 *   - the chat never names itself with more than 64 bytes. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <getopt.h>
#include <netlab.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);
int udp_server_main(int argc, char **argv);
int udp_client_main(int argc, char **argv);
int tcp_server_main(int argc, char **argv);
int tcp_client_main(int argc, char **argv);
int chat_main(int argc, char **argv);
int demo_main(int argc, char **argv);
int echo_server_main(int argc, char **argv);
int wire_main(int argc, char **argv);
_Noreturn void fuzz_exit(int code);
int fuzz_open(const char *path, int flags, ...);
int __real_chat_key_read(const char *path, unsigned char *key, char *msg, size_t msg_cap);
int __wrap_chat_key_read(const char *path, unsigned char *key, char *msg, size_t msg_cap);

int __real_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                       struct addrinfo **res);
int __wrap_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                       struct addrinfo **res);
int __wrap_nl_udp_open(nl_udp **out, int family, const nl_opts *opts);
int __wrap_nl_udp_open_bound(nl_udp **out, const nl_endpoint *local, const nl_opts *opts);
int __wrap_nl_tcp_listen(nl_tcp **out, const nl_endpoint *local, int backlog,
                         const nl_opts *opts);
int __wrap_nl_tcp_connect(nl_tcp **out, const nl_endpoint *remote, int timeout_ms,
                          const nl_opts *opts);
int __wrap_nl_chat_session_open(nl_chat_session **out, const nl_chat_opts *opts);
int __wrap_nl_capture_open(nl_capture **out, const char *ifname, uint16_t port, int flags);
int __wrap_nl_capture_open_for(nl_capture **out, const nl_endpoint *addr);
int __wrap_nl_tcp_server_open(nl_tcp_server **out, const nl_endpoint *local,
                              const nl_tcp_server_config *cfg);

static const struct {
    const char *name;
    int (*main)(int, char **);
} programs[] = {
    {"netlab-udp-server", udp_server_main}, {"netlab-udp-client", udp_client_main},
    {"netlab-tcp-server", tcp_server_main}, {"netlab-tcp-client", tcp_client_main},
    {"netlab-chat", chat_main},             {"netlab-demo", demo_main},
    {"netlab-echo-server", echo_server_main}, {"netlab-wire", wire_main},
};

static jmp_buf exit_jump;
static int socket_calls; /* socket-step calls the current run made */

_Noreturn void fuzz_exit(int code)
{
    longjmp(exit_jump, code + 1000); /* + 1000: longjmp cannot carry 0 */
}

static int valid_ep(const nl_endpoint *ep)
{
    return ep != NULL && (ep->family == NL_AF_INET || ep->family == NL_AF_INET6);
}

static int refuse(int ok)
{
    if (!ok)
        abort(); /* validation let an invalid endpoint through to a socket call */
    socket_calls++;
    return NL_EACCES;
}

int __wrap_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                       struct addrinfo **res)
{
    struct addrinfo h;

    memset(&h, 0, sizeof h);
    if (hints != NULL)
        h = *hints;
    h.ai_flags |= AI_NUMERICHOST;
    return __real_getaddrinfo(node, service, &h, res);
}

int __wrap_nl_udp_open(nl_udp **out, int family, const nl_opts *opts)
{
    (void)opts;
    *out = NULL;
    return refuse(family == NL_AF_INET || family == NL_AF_INET6);
}

int __wrap_nl_udp_open_bound(nl_udp **out, const nl_endpoint *local, const nl_opts *opts)
{
    (void)opts;
    *out = NULL;
    return refuse(valid_ep(local));
}

int __wrap_nl_tcp_listen(nl_tcp **out, const nl_endpoint *local, int backlog, const nl_opts *opts)
{
    (void)opts;
    *out = NULL;
    return refuse(valid_ep(local) && backlog >= 0);
}

int __wrap_nl_tcp_connect(nl_tcp **out, const nl_endpoint *remote, int timeout_ms,
                          const nl_opts *opts)
{
    (void)opts;
    *out = NULL;
    return refuse(valid_ep(remote) && remote->port != 0 && timeout_ms != 0);
}

/* netlab-wire's capture and the demo's --wire probe: refused too (NL_EACCES, not NL_EPERM,
 * so the demo falls back to counters and never makes a namespace inside the fuzzer). */
int __wrap_nl_capture_open(nl_capture **out, const char *ifname, uint16_t port, int flags)
{
    *out = NULL;
    return refuse(ifname != NULL && port != 0 && flags == 0);
}

/* The course programs' --wire: their own traffic, to or from a valid endpoint with a port. */
int __wrap_nl_capture_open_for(nl_capture **out, const nl_endpoint *addr)
{
    *out = NULL;
    return refuse(valid_ep(addr) && addr->port != 0);
}

int __wrap_nl_chat_session_open(nl_chat_session **out, const nl_chat_opts *opts)
{
    int ok = opts != NULL && valid_ep(&opts->bind) &&
             (opts->peer.family == 0 || (valid_ep(&opts->peer) && opts->peer.port != 0)) &&
             (opts->name == NULL || strlen(opts->name) <= NL_CHAT_NAME_MAX);
    *out = NULL;
    return refuse(ok);
}

int __wrap_nl_tcp_server_open(nl_tcp_server **out, const nl_endpoint *local,
                              const nl_tcp_server_config *cfg)
{
    int ok = cfg != NULL && valid_ep(local) && cfg->idle_timeout_ms >= 0 &&
             cfg->max_queued <= ((size_t)1 << 30);
    *out = NULL;
    return refuse(ok);
}

/* Key files from memory: a valid hex key, a valid raw key; any other path does not exist. */
int fuzz_open(const char *path, int flags, ...)
{
    static const char hex[] =
        "  00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF\n";
    int fd;

    (void)flags;
    if (strcmp(path, "good.key") != 0 && strcmp(path, "raw.key") != 0) {
        errno = ENOENT;
        return -1;
    }
    fd = memfd_create("fuzz-key", MFD_CLOEXEC);
    if (fd < 0)
        abort();
    if (path[0] == 'g') {
        if (write(fd, hex, sizeof hex - 1) != (ssize_t)(sizeof hex - 1))
            abort();
    } else if (write(fd, hex, 32) != 32) {
        abort();
    }
    lseek(fd, 0, SEEK_SET);
    return fd;
}

int __wrap_chat_key_read(const char *path, unsigned char *key, char *msg, size_t msg_cap)
{
    char mem[64];
    int fd = fuzz_open(path, O_RDONLY), rc;

    if (fd < 0) {
        snprintf(msg, msg_cap, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (fchmod(fd, 0600) != 0)
        abort();
    snprintf(mem, sizeof mem, "/proc/self/fd/%d", fd);
    rc = __real_chat_key_read(mem, key, msg, msg_cap);
    close(fd);
    return rc;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    int fd = open("/dev/null", O_RDWR);

    (void)argc;
    (void)argv;
    /* The programs read standard input only after their socket call, but never let them
     * wait on a terminal. Their output goes to stdout/stderr: run with -close_fd_mask=3. */
    if (fd < 0 || dup2(fd, 0) < 0)
        abort();
    close(fd);
    /* netlab-chat falls back to $USER for its name; keep runs independent of who runs them. */
    unsetenv("USER");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum { MAX_ARGS = 16, MAX_TEXT = 512 };
    char text[MAX_TEXT + 1], *argv[MAX_ARGS + 2];
    volatile int code;
    int argc = 1, j;
    size_t i, n;

    if (size == 0)
        return 0;
    j = data[0] % (int)(sizeof programs / sizeof programs[0]);
    n = size - 1 < MAX_TEXT ? size - 1 : MAX_TEXT;
    memcpy(text, data + 1, n);
    text[n] = '\0';
    argv[0] = (char *)programs[j].name;
    /* Every NUL-separated piece is one argument; an empty piece is an empty argument. */
    for (i = 0; i <= n && argc <= MAX_ARGS; argc++) {
        argv[argc] = text + i;
        i += strlen(text + i) + 1;
    }
    if (n == 0)
        argc = 1;
    argv[argc] = NULL;

    socket_calls = 0;
    optind = 0; /* GNU getopt: 0 re-initialises it completely for netlab-chat */
    code = setjmp(exit_jump);
    if (code == 0)
        code = programs[j].main(argc, argv);
    else
        code -= 1000;
    fflush(stdout);

    if (code != 0 && code != 1 && code != 2)
        abort();
    if (code == 2 && socket_calls != 0)
        abort(); /* a usage error after the program already went to the network */
    if (socket_calls > 0 && code != 1 && j != 5)
        abort(); /* a refused socket must make the program fail (the demo reports it) */
    return 0;
}
