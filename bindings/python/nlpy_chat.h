/* The C side of netlab.ChatSession: a chat session (nl_chat_session) as Python sees it.
 *
 * Not part of libnetlab's API; netlab.i wraps it, netlab/chat.py builds the class on top.
 *
 * Why a box around the session: nl_chat_session is for one thread at a time, but a Python
 * program naturally has one thread waiting for events while another sends (the notes' chat
 * exercise is written that way). So every call on the session holds the box's mutex, and the
 * waiting is done outside it: nlpy_chat_step() polls the session's descriptor and a wake-up
 * pipe without the lock and then steps with timeout 0 under it. send() and leave() write to
 * the pipe so that a thread waiting for events recomputes its timers at once. Like nlpy_sock,
 * the box counts the calls in flight so that close() from one thread wakes the others and the
 * session is freed exactly once, after the last one has left.
 *
 * Every function runs without the GIL (SWIG -threads). Return values: >= 0 success (or a
 * count), a negative NL_E* code on error.
 */
#ifndef NLPY_CHAT_H
#define NLPY_CHAT_H

#include <stddef.h>
#include <stdint.h>

#include "nlpy.h"

/** A chat session box. Owned by its Python wrapper; freed by nlpy_chat_free(). */
typedef struct nlpy_chat nlpy_chat;

/** Events returned by one nlpy_chat_step() call at most. */
#define NLPY_CHAT_EVENTS 16

/** One event, copied out of the session (whose pointers die at the next step). */
typedef struct nlpy_chat_ev {
    int type;       /* nl_chat_event_type                             */
    int code;       /* NL_E* code or 0                                */
    uint64_t msg_id;
    const char *data; /* into nlpy_chat_events.store; NULL for none     */
    size_t len;
    nl_endpoint peer; /* family 0 when unknown                          */
} nlpy_chat_ev;

/** What one step returned, owned by the caller: nlpy_chat_events_free() releases it. */
typedef struct nlpy_chat_events {
    int n;
    int sock_family; /* to show the peers' addresses as the stdlib would */
    nlpy_chat_ev ev[NLPY_CHAT_EVENTS];
    char *store; /* one allocation holding every event's data           */
} nlpy_chat_events;

/** The drop counters of nl_chat_stats, by name, for the Python dict (X-macro). */
#define NLPY_CHAT_STATS(X)                                                                 \
    X(wrong_source) X(bad_length) X(bad_magic) X(bad_version) X(bad_header) X(auth_failed) \
    X(bad_session) X(replayed) X(out_of_window) X(duplicates) X(unexpected)               \
    X(budget_stops) X(datagrams_in) X(datagrams_out) X(retransmits) X(messages_in)        \
    X(messages_out) X(messages_acked)

/** Open a session bound to bind_host:bind_port; with peer_host (not NULL) it calls that peer.
 *  Addresses are made for family (NL_AF_INET or NL_AF_INET6) as nlpy_endpoint() makes them.
 *  key: NULL/0 or NL_CHAT_KEY_BYTES bytes. A millisecond option of 0 takes the library's
 *  default. @return 0 or the errors of nlpy_endpoint() and nl_chat_session_open(). */
nlpy_rc nlpy_chat_open(nlpy_chat **out, int family, int plain, const char *bind_host,
                       int bind_port, unsigned bind_scope, const char *peer_host, int peer_port,
                       unsigned peer_scope, const void *key, size_t key_len, const char *name,
                       int keepalive_ms, int peer_lost_ms, int leave_timeout_ms);

/** Free the box and the session if close() was never called. Destructor only. */
void nlpy_chat_free(nlpy_chat *c);

/** Close the session without telling the peer; wakes threads waiting in step (they get
 *  NL_EBADF). A second close is a no-op. @return 0. */
nlpy_rc nlpy_chat_close(nlpy_chat *c);

/** Wait at most timeout_ms (-1: no limit, 0: not at all) for events, then copy up to
 *  NLPY_CHAT_EVENTS of them into out (data included). Returns early, with 0 events, when a
 *  signal interrupts the wait, so that Python can run its handlers.
 *  @return the number of events; 0 when none came in time; NL_ECLOSED once the CLOSED event
 *  has been returned; NL_EBADF after close(); NL_ENOMEM. */
nlpy_count nlpy_chat_step(nlpy_chat *c, nlpy_chat_events *out, int timeout_ms);
/** Release what nlpy_chat_step() put into out. */
void nlpy_chat_events_free(nlpy_chat_events *out);

/** nl_chat_session_send(), then wake a waiting stepper. @return the message id (0 in plain
 *  mode) or the send's error. */
nlpy_count nlpy_chat_send(nlpy_chat *c, const void *buf, size_t len);
/** nl_chat_session_leave(), then wake a waiting stepper. */
nlpy_rc nlpy_chat_leave(nlpy_chat *c);
/** The status as nl_chat_session_status() gives it (NL_EAGAIN while open), in *status; the
 *  return value is 0 or NL_EBADF after close(). */
nlpy_rc nlpy_chat_status(nlpy_chat *c, int *status);
/** The counters. */
nlpy_rc nlpy_chat_stats(nlpy_chat *c, nl_chat_stats *out);
/** Local endpoint; peer endpoint (NL_ENOTCONN while none is known). */
nlpy_rc nlpy_chat_local(nlpy_chat *c, nlpy_addr *out);
nlpy_rc nlpy_chat_peer(nlpy_chat *c, nlpy_addr *out);
/** Milliseconds until the next timer, -1 for none (see nl_chat_session_next_timeout_ms()). */
int nlpy_chat_next_timeout(nlpy_chat *c);
/** The session's descriptor, -1 once closed. */
int nlpy_chat_fileno(nlpy_chat *c);

#endif /* NLPY_CHAT_H */
