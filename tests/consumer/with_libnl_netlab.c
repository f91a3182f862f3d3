/* The libnetlab half of with_libnl.c. */
#include <stdio.h>

#include <netlab.h>

int netlab_side(const char *addr, char *out, size_t size);

int netlab_side(const char *addr, char *out, size_t size)
{
    nl_endpoint ep;
    nl_udp *u = NULL;
    int rc;

    if ((rc = nl_endpoint_parse(&ep, addr, 9000)) < 0 ||
        (rc = nl_endpoint_format(&ep, out, size)) < 0 ||
        (rc = nl_udp_open(&u, NL_AF_INET, NULL)) < 0) {
        fprintf(stderr, "with_libnl: %s (%s)\n", nl_strerror(rc), nl_err_name(rc));
        return 1;
    }
    return nl_udp_close(u) == 0 ? 0 : 1;
}
