/* libnetlab and libnl-3 linked into one program, each called for real. libnl owns bare names
 * such as nl_addr, nl_connect, nl_close, nl_send and nl_recv; libnetlab's always carry an area
 * (nl_udp_*, ...), so the two link together and every call lands in its own library.
 *
 * This file sees only libnl's headers and with_libnl_netlab.c only libnetlab's, as two libraries'
 * callers usually do; both_headers.c checks that the headers also share one translation unit.
 * Exit 0 when both libraries answered. */
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <netlink/addr.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

/* with_libnl_netlab.c: parse text with libnetlab, format it back, open and close a socket. */
int netlab_side(const char *addr, char *out, size_t size);

int main(void)
{
    struct nl_addr *a = NULL;
    struct nl_sock *sk;
    char s1[64], s2[64];

    if (nl_addr_parse("127.0.0.1", AF_INET, &a) < 0)
        return 1;
    nl_addr2str(a, s1, sizeof s1);
    nl_addr_put(a);
    sk = nl_socket_alloc();
    if (sk == NULL)
        return 1;
    nl_socket_free(sk);

    if (netlab_side(s1, s2, sizeof s2) != 0)
        return 1;
    if (strcmp(s1, "127.0.0.1") != 0 || strcmp(s2, "127.0.0.1:9000") != 0)
        return 1;
    printf("libnl-3 says %s (%s), libnetlab says %s\n", s1, nl_geterror(0), s2);
    return 0;
}
