/* netlab.h and libnl-3's netlink.h in one translation unit. This does not compile today:
 * libnetlab's error.h defines the enumerator NL_OK, which libnl's netlink/handlers.h already
 * owns (enum nl_cb_action). The house style asks every public name to carry an area for exactly
 * this reason. The ctest that builds this file is registered DISABLED until the name changes. */
#include <netdb.h>
#include <sys/socket.h>

#include <netlab.h>
#include <netlink/netlink.h>

int main(void)
{
    return nl_version() == NULL;
}
