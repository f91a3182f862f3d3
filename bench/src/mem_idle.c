/* Server memory per idle connection: the server's anonymous resident memory (RssAnon: heap,
 * stacks, no code or files) before and after N clients have connected, each done one 1-byte
 * echo round trip (so the server has surely accepted it and set it up), and gone quiet.
 *
 *   mem_idle --port P --conns N --server-pid PID
 *
 * Before the count, one client connects, echoes and leaves, so that buffers every server
 * allocates once are already there. Prints {"conns":..,"bytes_per_conn":..,"rss_kb_before":..,
 * "rss_kb_after":..}. */
#include "common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static long rss_anon_kb(long pid)
{
    char path[64], line[256];
    long kb = -1;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    if ((f = fopen(path, "r")) == NULL)
        NLB_DIE("open %s", path);
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "RssAnon: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static int echo_client(const struct sockaddr_in *sa)
{
    char b = 'm';
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0 || connect(fd, (const struct sockaddr *)sa, sizeof *sa) < 0)
        NLB_DIE("connect");
    if (write(fd, &b, 1) != 1 || read(fd, &b, 1) != 1)
        NLB_DIE("echo");
    return fd;
}

int main(int argc, char **argv)
{
    int port = (int)nlb_argl(argc, argv, "--port", 0);
    int n = (int)nlb_argl(argc, argv, "--conns", 1000), i;
    long pid = nlb_argl(argc, argv, "--server-pid", 0), before, after;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    struct timespec pause = {0, 200000000};
    int *fds = calloc((size_t)n, sizeof *fds);

    nlb_raise_nofile();
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    close(echo_client(&sa));
    nanosleep(&pause, NULL); /* let the server see the close: no event to wait for from here */
    before = rss_anon_kb(pid);
    for (i = 0; i < n; i++)
        fds[i] = echo_client(&sa);
    after = rss_anon_kb(pid);
    printf("{\"conns\":%d,\"bytes_per_conn\":%.1f,\"rss_kb_before\":%ld,\"rss_kb_after\":%ld}\n",
           n, (double)(after - before) * 1024.0 / n, before, after);
    for (i = 0; i < n; i++)
        close(fds[i]);
    return 0;
}
