/* netlab.h and libnl-3's netlink.h in one translation unit: it compiles only while no public
 * name of ours clashes with libnl's. (libnetlab's success code was once NL_OK, which libnl's
 * netlink/handlers.h owns in enum nl_cb_action; it is NL_SUCCESS now.) */
#include <netdb.h>
#include <sys/socket.h>

#include <netlab.h>
#include <netlink/netlink.h>

int main(void)
{
    return nl_version() == NULL;
}
