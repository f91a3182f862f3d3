/* The smallest real libnetlab program: one UDP datagram to itself over loopback. Built
 * out-of-tree against an installed libnetlab by run.sh, with pkg-config and with CMake.
 * Exit 0 and one line on stdout when everything worked. */
#include <stdio.h>
#include <string.h>

#include <netlab.h>

int main(void)
{
    nl_endpoint lo, local, from;
    char text[NL_ENDPOINT_STRLEN], buf[16];
    nl_udp *u = NULL;
    ssize_t n;
    int rc;

    if ((rc = nl_endpoint_parse(&lo, "127.0.0.1", 0)) < 0 ||
        (rc = nl_udp_open_bound(&u, &lo, NULL)) < 0 || (rc = nl_udp_local(u, &local)) < 0 ||
        (rc = (int)nl_udp_send_to(u, "hi", 2, &local, 1000)) < 0) {
        fprintf(stderr, "hello: %s (%s)\n", nl_strerror(rc), nl_err_name(rc));
        nl_udp_close(u);
        return 1;
    }
    n = nl_udp_recv_from(u, buf, sizeof buf, &from, 1000);
    if (n != 2 || memcmp(buf, "hi", 2) != 0 || nl_endpoint_compare(&from, &local) != 0) {
        fprintf(stderr, "hello: got %zd (%s)\n", n, nl_err_name((int)n));
        nl_udp_close(u);
        return 1;
    }
    nl_endpoint_format(&from, text, sizeof text);
    printf("libnetlab %s: 2 bytes from %s\n", nl_version(), text);
    return nl_udp_close(u) == 0 ? 0 : 1;
}
