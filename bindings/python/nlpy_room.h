/* The C side of netlab.ChatRoom: a chat room (nl_chat_room) as Python sees it.
 *
 * Not part of libnetlab's API; netlab.i wraps it, netlab/room.py builds the class on top.
 * Every call holds the box's mutex, so one thread may wait for events while another sends;
 * the wait itself (poll) is done without the lock, at most 50 ms at a time, so that a send
 * from another thread (which may bring a timer forward) is noticed soon. close() from one
 * thread makes the others' calls return NL_EBADF; the room is freed when the box is.
 *
 * Every function runs without the GIL (SWIG -threads). Return values: >= 0 success (or a
 * count), a negative NL_E* code on error.
 */
#ifndef NLPY_ROOM_H
#define NLPY_ROOM_H

#include <stddef.h>
#include <stdint.h>

#include "nlpy.h"

/** A room box. Owned by its Python wrapper; freed by nlpy_room_free(). */
typedef struct nlpy_room nlpy_room;

/** Events returned by one nlpy_room_step() call at most. */
#define NLPY_ROOM_EVENTS 32

/** One room event, copied out of the room (whose pointers die at the next step). */
typedef struct nlpy_room_ev {
    int type, code;
    uint64_t seq;
    size_t name_off, name_len, data_off, len; /* into nlpy_room_events.store             */
} nlpy_room_ev;

/** What one step returned, owned by the caller: nlpy_room_events_free() releases it. */
typedef struct nlpy_room_events {
    int n;
    nlpy_room_ev ev[NLPY_ROOM_EVENTS];
    char *store;
} nlpy_room_events;

/** Open a room bound to bind_host:bind_port: host one (host_host NULL) or join the one at
 *  host_host:host_port. key: NULL/0 or NL_CHAT_KEY_BYTES bytes; 0 ms takes the default.
 *  @return 0 or the errors of nlpy_endpoint() and nl_chat_room_open(). */
nlpy_rc nlpy_room_open(nlpy_room **out, int family, const char *bind_host, int bind_port,
                       const char *host_host, int host_port, const char *room, const char *name,
                       const void *key, size_t key_len, int peer_lost_ms);
/** Free the box and the room. Destructor only. */
void nlpy_room_free(nlpy_room *r);
/** Close the room without telling anyone; later calls return NL_EBADF. @return 0. */
nlpy_rc nlpy_room_close(nlpy_room *r);
/** Wait at most timeout_ms (-1: no limit) for events and copy up to NLPY_ROOM_EVENTS.
 *  @return the count; 0 when none came in time (or a signal interrupted the wait);
 *  NL_ECLOSED after CLOSED was returned; NL_EBADF after close(); NL_ENOMEM. */
nlpy_count nlpy_room_step(nlpy_room *r, nlpy_room_events *out, int timeout_ms);
/** Release what nlpy_room_step() put into out. */
void nlpy_room_events_free(nlpy_room_events *out);
/** nl_chat_room_send(). */
nlpy_rc nlpy_room_send(nlpy_room *r, const void *buf, size_t len);
/** nl_chat_room_leave(). */
nlpy_rc nlpy_room_leave(nlpy_room *r);
/** The room's counters. */
nlpy_rc nlpy_room_counters(nlpy_room *r, nl_chat_room_counters *out);
/** The local endpoint (the address members join). */
nlpy_rc nlpy_room_local(nlpy_room *r, nlpy_addr *out);
/** The room's descriptor, -1 once closed. */
int nlpy_room_fileno(nlpy_room *r);

#endif /* NLPY_ROOM_H */
