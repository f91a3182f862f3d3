/* nl_chat_session's private state: a driver (chat.c) over the sans-I/O protocol core
 * (chat_core.h). The driver owns the socket, the clock and the randomness; the core owns
 * every protocol decision. Not installed. */
#ifndef NETLAB_CHAT_INT_H
#define NETLAB_CHAT_INT_H

#include <stdint.h>

#include "chat_core.h"
#include "internal.h"
#include "netlab/chat.h"

struct nl_chat_session {
    nl_udp *udp;
    nl__chat_core *core;
    int connected; /* the socket is connect()ed to the core's peer                  */
    int refused;   /* an ICMP port unreachable arrived since the last step          */
    uint8_t rxbuf[NL_UDP_MAX_DATAGRAM + 1];
};

int64_t nl__chat_now(void);
int nl__chat_random(void *buf, size_t len);

#endif /* NETLAB_CHAT_INT_H */
