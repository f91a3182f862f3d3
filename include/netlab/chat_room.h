/** @file
 * libnetlab: a chat room for a whole class, on the point-to-point chat's protocol.
 *
 * One host (the teacher) opens a room; members join it by address. Every member runs one
 * reliable chat session (the same frames, handshake, acknowledgements and BYE as
 * nl_chat_session, see docs/protocol.md) with the host, and the host runs one per member on
 * a single socket. The host puts every message in one order (it gives each a room sequence
 * number) and relays it to every other member over that member's session, so:
 *
 *   - 实时收发: every member sees every other member's message exactly once, in the same
 *     order as every other member; joins and leaves are events in that same order.
 *   - 同步退出: the host's leave ends the room: every member gets a ROOM_CLOSED event with the
 *     host's name, then CLOSED with status 0. A member's leave ends only its own membership.
 *     A member that vanishes is reported LOST to the others after the peer-lost bound; a host
 *     that vanishes closes every member with NL_EPEERLOST.
 *   - 防干扰: a datagram from an address that is not a member goes to the handshake only
 *     (stateless cookies: joining needs a completed handshake, nobody can hold a place), and
 *     is dropped and counted otherwise. The host names every relayed message after the
 *     session it came in on, so a member cannot speak as another; with a key, frames forged
 *     even from a member's own address fail authentication.
 *   - Bounds: at most max_members members; each member's backlog on the host is capped
 *     (member_queue_max); a member too slow to take it is dropped (a DROPPED event to everyone
 *     else) instead of stalling the room.
 *
 * The room is event-driven like nl_chat_session: poll nl_chat_room_fd(), wake up after
 * nl_chat_room_next_timeout_ms() at the latest, call nl_chat_room_step().
 *
 * Thread-safety: a room must be used by one thread at a time. The library never prints and
 * never raises signals.
 */
#ifndef NETLAB_CHAT_ROOM_H
#define NETLAB_CHAT_ROOM_H

#include <stddef.h>
#include <stdint.h>

#include "netlab/chat.h"
#include "netlab/endpoint.h"
#include "netlab/trace.h"
#include "netlab/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A chat room, host or member side. Opaque; nl_chat_room_open(), nl_chat_room_close(). */
typedef struct nl_chat_room nl_chat_room;

#define NL_CHAT_ROOM_MEMBERS_DEFAULT 256    /**< max_members when 0 is given          */
#define NL_CHAT_ROOM_QUEUE_DEFAULT   262144 /**< member_queue_max when 0 is given, bytes */
/** The longest text nl_chat_room_send() takes: a chat message less the room's header (10 bytes)
 *  and the longest name the host may put on it (a name made unique, "name#12345"): 65,450. */
#define NL_CHAT_ROOM_TEXT_MAX (NL_CHAT_MSG_MAX - 10 - (NL_CHAT_NAME_MAX + 12))
#define NL_CHAT_ROOM_END_MS                                                                        \
    5000 /**< the host waits at most this long for                                                 \
          *   members to confirm the room's end   */

/** Options for nl_chat_room_open(). Zero-initialise, then set what you need. */
typedef struct nl_chat_room_opts {
    nl_endpoint bind;         /**< local endpoint (port 0 picks a free port); required     */
    nl_endpoint host;         /**< member: the host to join; unset (family 0): we host     */
    const char *room;         /**< host: the room's name (NULL: none); copied              */
    const char *name;         /**< our name, shown to the others; NULL for none; copied.
                               *   The host makes members' names unique (name#2, ...) and
                               *   names a nameless member after its address             */
    const unsigned char *key; /**< NULL, or NL_CHAT_KEY_BYTES of pre-shared key; copied    */
    int peer_lost_ms;         /**< as nl_chat_opts: 0 = 5000, at least NL_CHAT_PEER_LOST_MIN */
    int call_timeout_ms;      /**< member: how long to call a host that never answers;
                               *   0 = 60000, -1 = never give up                         */
    int max_members;          /**< host: members at most (0 = NL_CHAT_ROOM_MEMBERS_DEFAULT);
                               *   a HELLO beyond it is not answered                     */
    size_t member_queue_max;  /**< host: backlog per member, in queue cost as in
                               *   nl_chat_session_send_room() (0 = 256 KiB); a member
                               *   whose backlog would pass it is dropped               */
    nl_trace_fn trace;        /**< protocol and system-call trace, NULL for none           */
    void *trace_user;         /**< passed to trace                                         */
} nl_chat_room_opts;

/** What nl_chat_room_step() reports. */
typedef enum nl_chat_room_event_type {
    NL_CHAT_ROOM_EV_ENTERED = 1, /**< member: the host counts us in; name: the host's
                                  *   name, data: our name in the room (the host makes
                                  *   names unique: "ann#2"); seq: our join's number,
                                  *   every later event reaches us                      */
    NL_CHAT_ROOM_EV_JOINED,      /**< name joined the room                              */
    NL_CHAT_ROOM_EV_MESSAGE,     /**< name said data (len bytes)                        */
    NL_CHAT_ROOM_EV_LEFT,        /**< name left the room                                */
    NL_CHAT_ROOM_EV_LOST,        /**< name stopped answering (after the peer-lost bound);
                                  *   on a member, name may be the host's: CLOSED follows */
    NL_CHAT_ROOM_EV_DROPPED,     /**< name was too slow to keep up and was dropped       */
    NL_CHAT_ROOM_EV_ROOM_CLOSED, /**< member: the host (name) ended the room             */
    NL_CHAT_ROOM_EV_CLOSED,      /**< over for us; code: 0, or an NL_E* code (NL_EPEERLOST:
                                  *   the host vanished); no more events follow          */
    NL_CHAT_ROOM_EV_WARNING      /**< something looks wrong, the room goes on; code says
                                  *   what (each at most once per session; the host's
                                  *   once per room), name is the
                                  *   host's address (member) or "" (host):
                                  *   NL_EBADFRAME: frames fail authentication, the keys
                                  *   probably differ (host: a would-be member's; a member
                                  *   with another key hears nothing back, so it gets
                                  *   NL_ETIMEDOUT);
                                  *   NL_ECONNREFUSED: member, calling: an ICMP "port
                                  *   unreachable" came back, nothing listens there (yet);
                                  *   NL_ETIMEDOUT: member, calling: no answer for 2 s   */
} nl_chat_room_event_type;

/** One room event. Pointers stay valid until the next call of step (or close). */
typedef struct nl_chat_room_event {
    nl_chat_room_event_type type; /**< what happened                                    */
    int code;                     /**< CLOSED: the outcome                              */
    uint64_t seq;                 /**< the room's sequence number (same on every member), 0 for
                                   *   events that are not in the room's order (CLOSED, and on the
                                   *   host, which makes the order, its own view)                 */
    const char *name; /**< who; NUL-terminated                                         */
    const char *data; /**< MESSAGE: the text, NUL-terminated (may hold NULs itself)    */
    size_t len;       /**< bytes in data                                               */
} nl_chat_room_event;

/** Room counters. */
typedef struct nl_chat_room_counters {
    uint64_t members;      /**< host: members now                                    */
    uint64_t joined;       /**< host: members that ever joined                       */
    uint64_t non_member;   /**< host: datagrams from non-members that were refused
                            *   (not a handshake step, or a failed one)            */
    uint64_t refused_full; /**< host: HELLOs not answered because the room was full  */
    uint64_t dropped_slow; /**< host: members dropped for a backlog over the cap     */
    uint64_t relayed;      /**< host: messages queued to members (one per member)    */
    uint64_t probes;       /**< host: discovery probes answered                      */
    uint64_t messages_in;  /**< messages received (host: from members)               */
    uint64_t messages_out; /**< messages we sent                                     */
    nl_chat_stats frames;  /**< the sessions' counters, summed                       */
} nl_chat_room_counters;

/**
 * Open a room (host: no host endpoint given) or join one (member: opts->host set). Binds a
 * UDP socket; a member starts its handshake with the host at once. Does not block.
 *
 * @param out   receives the room; NULL on failure (never half-built).
 * @param opts  options; bind is required. Copied.
 * @return 0; NL_EINVAL (NULL arguments, unset bind, a name or room name over
 *         NL_CHAT_NAME_MAX, peer_lost_ms below NL_CHAT_PEER_LOST_MIN, negative counts);
 *         NL_EAFNOSUPPORT (host and bind of different families); NL_ENOTSUP (a key without
 *         libsodium); NL_ENOMEM; NL_EIO (no random numbers); or the errors of
 *         nl_udp_open_bound(). The caller owns the room.
 */
NL_EXTERN int nl_chat_room_open(nl_chat_room **out, const nl_chat_room_opts *opts);

/**
 * Free the room and close its socket without telling anyone (nl_chat_room_leave() first for
 * a synchronized end). NULL is a no-op.
 * @param r  the room, or NULL.
 */
NL_EXTERN void nl_chat_room_close(nl_chat_room *r);

/**
 * The socket's descriptor, to poll for POLLIN. Owned by the room.
 * @param r  the room.
 * @return the descriptor (a SOCKET on Windows), or NL_EINVAL for NULL (INVALID_SOCKET on
 *         Windows).
 */
NL_EXTERN nl_socket_t nl_chat_room_fd(const nl_chat_room *r);

/**
 * Milliseconds until the room's next timer: the longest a caller may sleep before step.
 * @param r  the room.
 * @return milliseconds; 0 when events wait; -1 when nothing is pending or r is NULL.
 */
NL_EXTERN int nl_chat_room_next_timeout_ms(const nl_chat_room *r);

/**
 * Do the room's work: wait up to timeout_ms for a datagram or a timer, read a bounded number
 * of datagrams, run the timers of every session, relay, and return events.
 *
 * @param r           the room.
 * @param events      receives up to max events; pointers valid until the next step.
 * @param max         size of events (>= 1).
 * @param timeout_ms  how long to wait when nothing is due (0: not at all, -1: no limit).
 * @return the number of events (0 when nothing happened); NL_EINVAL; NL_ECLOSED after the
 *         CLOSED event was handed out; NL_ENOMEM.
 */
NL_EXTERN int nl_chat_room_step(nl_chat_room *r, nl_chat_room_event *events, size_t max,
                                int timeout_ms);

/**
 * Say something to the room. Host: it takes the next room sequence number and is queued to
 * every member. Member: it goes to the host, which relays it to the others. Does not block.
 *
 * @param r     the room.
 * @param text  the message, copied; NULL when len is 0.
 * @param len   at most NL_CHAT_ROOM_TEXT_MAX bytes.
 * A member's message sent before the handshake with the host is done waits for it.
 * @return 0; NL_EMSGSIZE; NL_ENOBUFS (member: the queue to the host is full, try after a
 *         step); NL_ESHUTDOWN (leaving); NL_ECLOSED; NL_EINVAL.
 */
NL_EXTERN int nl_chat_room_send(nl_chat_room *r, const void *text, size_t len);

/**
 * How much a send can take now without dropping anyone. Host: the least room left in any
 * member's backlog (a message longer than that drops that member as too slow); member: the
 * room in the queue to the host. In bytes of text, as nl_chat_session_send_room().
 * @param r  the room.
 * @return bytes; 0 when closed, ending or for NULL; NL_CHAT_MSG_MAX when the host has no
 *         members.
 */
NL_EXTERN size_t nl_chat_room_send_room(const nl_chat_room *r);

/**
 * Leave. Host: end the room: every member is told (ROOM_CLOSED with our name), and the room
 * closes (status 0) once all have confirmed it and finished their goodbye (so that they can
 * exit at once), or after NL_CHAT_ROOM_END_MS. Member: leave
 * the room with the chat's BYE exchange (what we sent before still reaches the others).
 * Keep calling step until CLOSED. Calling it again is harmless.
 * @param r  the room.
 * @return 0, or NL_EINVAL for NULL.
 */
NL_EXTERN int nl_chat_room_leave(nl_chat_room *r);

/**
 * Copy the room's counters.
 * @param r    the room.
 * @param out  receives them.
 * @return 0, or NL_EINVAL for NULL.
 */
NL_EXTERN int nl_chat_room_stats(const nl_chat_room *r, nl_chat_room_counters *out);

/**
 * The local endpoint (useful after binding port 0): the address members join.
 * @param r    the room.
 * @param out  receives the endpoint.
 * @return 0 or the errors of nl_udp_local().
 */
NL_EXTERN int nl_chat_room_local(const nl_chat_room *r, nl_endpoint *out);

#define NL_CHAT_ROOM_PORT 9000 /**< the port `--join any` looks for rooms on by default  */

/** A room found by nl_chat_room_discover(). */
typedef struct nl_chat_room_found {
    nl_endpoint host;                /**< the address to join                             */
    char room[NL_CHAT_NAME_MAX + 1]; /**< the room's name                                 */
    char name[NL_CHAT_NAME_MAX + 1]; /**< the host's name                                 */
} nl_chat_room_found;

/**
 * Look for rooms on the local network: send a probe to the broadcast address of every IPv4
 * interface that has one (and to 127.0.0.1) on the given port, and collect the hosts' answers
 * for wait_ms. A host answers a probe (with its room's and its own name) while its room runs;
 * an answer is never longer than the probe, so hosts cannot be used to amplify traffic.
 * Blocks for wait_ms.
 *
 * @param bind     local IPv4 address to send from (its port is ignored: a free one is used).
 * @param port     the hosts' port (NL_CHAT_ROOM_PORT by default).
 * @param wait_ms  how long to collect answers (> 0).
 * @param found    receives up to max rooms, each host once.
 * @param max      size of found.
 * @return the number of rooms found (may be more than max: only max are written);
 *         NL_EINVAL; NL_EAFNOSUPPORT (bind not IPv4); the errors of nl_udp_open_bound().
 */
NL_EXTERN int nl_chat_room_discover(const nl_endpoint *bind, int port, int wait_ms,
                                    nl_chat_room_found *found, size_t max);

/**
 * The name of a room event type ("JOINED", ...), for logs. Never NULL ("?" if unknown).
 * @param type  an nl_chat_room_event_type.
 * @return a static string.
 */
NL_EXTERN const char *nl_chat_room_event_name(int type);

#ifdef __cplusplus
}
#endif

#endif /* NETLAB_CHAT_ROOM_H */
