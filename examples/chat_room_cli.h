/* netlab-chat's room mode: what main() parsed, and the loop that runs it (chat_room_cli.c). */
#ifndef NETLAB_CHAT_ROOM_CLI_H
#define NETLAB_CHAT_ROOM_CLI_H

#include <netlab.h>

#include "chat_io.h"

typedef struct chat_room_cli {
    nl_endpoint bind, host;   /* host.family 0: we host the room                        */
    const char *bind_text;    /* as given, for messages                                 */
    const char *host_text;    /* --join as given                                        */
    const char *room;         /* --room NAME (host), else NULL                          */
    const char *name;         /* --name                                                 */
    const unsigned char *key; /* --key-file's key, or NULL                              */
    int peer_lost_ms, call_timeout_ms, stats, trace;
    int closed_std; /* bit 1 set: standard output was closed (now /dev/null)  */
    chat_io *io;    /* the wait, signals and standard input (chat_io.h)       */
} chat_room_cli;

/* Run the room until it ends; returns the exit status (0, 1, 3 or 4). */
int chat_room_main(const chat_room_cli *cli);

#endif
