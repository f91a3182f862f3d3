/* The chat protocol without I/O (sans-I/O, as h11, quiche and ngtcp2 are built): a core that
 * holds only protocol state. Datagrams (with their source address), user commands (send,
 * leave) and the current time go in; datagrams to send, events and the next deadline come out.
 * It makes no system call, reads no clock and draws no random number: the random ids and the
 * cookie key are given when it is made. nl_chat_session (chat.c) is a driver over it that owns
 * the socket and the clock; the unit tests (tests/unit/test_chat_core.c) and the fuzzer
 * (tests/fuzz/fuzz_chat_core.c) drive it in virtual time. Not installed.
 *
 * The calling rule: after every call that takes input (input, send, leave, refused, timers,
 * fail), the driver takes the datagrams with nl__chat_core_pop_datagram() and sends them (a
 * datagram without an address goes to the peer), then hands out events with
 * nl__chat_core_events(). Times are milliseconds on any clock that never goes back; a time
 * that does go back only makes timers fire late, never twice. */
#ifndef NETLAB_CHAT_CORE_H
#define NETLAB_CHAT_CORE_H

#include <stdint.h>

#include "frame.h"
#include "netlab/chat.h"
#include "netlab/error.h"

#define NL__CHAT_RWIN        128       /* receive window, in fragments                       */
#define NL__CHAT_SWIN        64        /* fragments in flight at most (<= NL__CHAT_RWIN)     */
#define NL__CHAT_QUEUE_MAX   (1 << 20) /* queue cost (text + bookkeeping) allowed at most    */
#define NL__CHAT_FRAG_COST   64        /* what a queued fragment costs on top of its text    */
#define NL__CHAT_BUDGET      64        /* datagrams read per step at most                    */
#define NL__CHAT_RTO_INIT    200       /* first retransmission timeout, ms                   */
#define NL__CHAT_RTO_MAX     1000      /* the backoff stops doubling here                    */
#define NL__CHAT_RTO_BYE_MAX 400       /* BYE is repeated more often: the exit is timed      */
#define NL__CHAT_LINGER_MS   1500      /* after the peer's BYE: keep answering it this long  */
#define NL__CHAT_BYEACK_MS   150       /* BYE-ACK repeat interval while lingering            */
#define NL__CHAT_NOANSWER_MS 2000      /* calling: warn that nobody answers after this long  */
#define NL__CHAT_AUTH_WARN   3         /* auth failures from the peer before warning         */
#define NL__CHAT_SEEN                                                                              \
    64 /* names of HELLOs answered while waiting, kept (a                                          \
        * room host answers many at once)                   */
#define NL__CHAT_OUT_MAX                                                                           \
    256                            /* datagrams waiting for the driver, at most: one call          \
                                    * makes at most NL__CHAT_SWIN + a few               */
#define NL__CHAT_EVQ_MAX (1 << 16) /* events waiting for the driver, at most             */

#define NL__WARN_AUTH     1u
#define NL__WARN_REFUSED  2u
#define NL__WARN_NOANSWER 4u

enum nl__chat_state {
    NL__ST_WAITING,    /* no peer yet: answering HELLOs until one handshake completes
                        * (plain: waiting for a datagram)                              */
    NL__ST_HELLO_SENT, /* initiator: HELLO sent, waiting for HELLO-ACK                 */
    NL__ST_OPEN,       /* chatting                                                     */
    NL__ST_LEAVING,    /* our BYE is queued (we left, or the peer did and we follow):
                        * our messages go out, the peer's still come in, until our BYE
                        * is acknowledged and the peer's delivered                     */
    NL__ST_LINGER,     /* both BYEs done, ours first: answering the peer's a little    */
    NL__ST_CLOSED      /* over; status tells how                                       */
};

/* A fragment (or the BYE) waiting to be sent or acknowledged. */
typedef struct nl__out_frag {
    struct nl__out_frag *next;
    uint64_t msg_id; /* the message it belongs to                                  */
    uint32_t seq;
    uint16_t index, count, len;
    uint8_t type; /* NL__FT_DATA, or NL__FT_BYE, which is queued after the data
                   * so that its BYE-ACK acknowledges everything before it      */
    uint8_t sent, acked;
    int rto;     /* current retransmission timeout, ms                          */
    int64_t due; /* when to send it again                                       */
    uint8_t data[];
} nl__out_frag;

/* A received fragment held until the ones before it have arrived. */
typedef struct nl__in_slot {
    uint8_t present;
    uint8_t type; /* DATA or BYE                                                 */
    uint16_t index, count, len;
    uint8_t data[NL__FRAME_PAYLOAD_MAX];
} nl__in_slot;

/* A HELLO answered while waiting: only its name is kept (the responder's half is a cookie
 * and needs no memory), in a few slots, one per address, the oldest replaced. */
typedef struct nl__hello_seen {
    nl_endpoint from;
    uint32_t half;
    uint64_t sender;
    int64_t at; /* 0: free                                                      */
    size_t name_len;
    char name[NL_CHAT_NAME_MAX];
} nl__hello_seen;

typedef struct nl__chat_ev {
    nl_chat_event ev;
    char *own; /* the event's data, owned by the queue until handed out       */
} nl__chat_ev;

/* A datagram the core wants sent. */
typedef struct nl__chat_dgram {
    int has_to;     /* 0: to the peer                                          */
    nl_endpoint to; /* has_to: where                                           */
    size_t len;
    uint8_t data[NL__FRAME_MAX];
} nl__chat_dgram;

/* What the core is made with: the session's options, checked by the driver. */
typedef struct nl__chat_core_cfg {
    int mode;                 /* NL_CHAT_RELIABLE or NL_CHAT_PLAIN                    */
    nl_endpoint peer;         /* family 0: wait for one                               */
    const unsigned char *key; /* NULL or NL_CHAT_KEY_BYTES; copied                    */
    const char *name;         /* NULL or at most NL_CHAT_NAME_MAX bytes; copied       */
    int keepalive_ms, lost_ms, leave_ms, call_ms; /* resolved: no zeros meaning "default" */
    size_t queue_max;  /* cap on the send queue's cost; 0: NL__CHAT_QUEUE_MAX  */
    nl_trace_fn trace; /* protocol trace lines (frame-in, frame-out, drop)     */
    void *trace_user;
    int trace_fd; /* the fd shown in trace lines                           */
} nl__chat_core_cfg;

/* The randomness a core needs, drawn by the driver (the kernel's CSPRNG) or a test. Zero ids
 * mean "not set" on the wire: the core turns them into 1. */
typedef struct nl__chat_core_seed {
    uint64_t me;            /* our sender id                                          */
    uint32_t half;          /* our initiator half of the session id                   */
    uint8_t cookie_key[16]; /* keys the responder's cookie                            */
} nl__chat_core_seed;

typedef struct nl__chat_core {
    int mode, state, status;
    int closed_reported; /* the CLOSED event has been handed out                        */
    nl_endpoint peer;
    int peer_known; /* peer is set (given, or locked onto): the driver may connect()   */
    int peer_fixed; /* the peer was given in the options                           */
    int joined;     /* PEER_JOINED has been reported                               */
    int has_key;
    uint8_t key[NL_CHAT_KEY_BYTES];
    char name[NL_CHAT_NAME_MAX + 1];
    size_t name_len;
    char peer_name[NL_CHAT_NAME_MAX + 1];
    size_t peer_name_len;
    int keepalive_ms, lost_ms, leave_ms, call_ms;
    unsigned warned;     /* NL__WARN_* already reported                                   */
    unsigned auth_fails; /* authentication failures from the expected peer, unjoined  */
    int refused_last;    /* calling: the last sign from the peer's port was ICMP      */
    int64_t call_start;  /* calling: since when (or since the last sign of the peer)  */
    nl_trace_fn trace;
    void *trace_user;
    int trace_fd;

    /* Handshake and identity. */
    uint32_t half;     /* our initiator half of the session id                        */
    uint64_t sid;      /* the agreed session id                                       */
    uint64_t me, them; /* sender ids                                                  */
    int initiator;     /* we sent the HELLO that made the session                     */
    int confirmed;     /* initiator: the responder has shown that it opened too       */
    int64_t hs_due;
    int hs_rto;
    uint8_t cookie_key[16]; /* responder: keys the half it answers each HELLO with    */
    nl__hello_seen *seen;   /* NL__CHAT_SEEN names, made at the first HELLO answered and
                             * freed once a session is made: a member holds none       */

    /* Packet numbers: ours, and the replay window over the peer's. */
    uint32_t pn_out, pn_max;
    uint64_t pn_bits;

    /* Sending. */
    nl__out_frag *head, *tail;
    size_t queued;    /* cost of the queue: text, and NL__CHAT_FRAG_COST per fragment  */
    size_t queue_max; /* what queued may reach                                      */
    uint32_t seq_next;
    uint64_t msg_next;

    /* Receiving. The window and the reassembly buffer exist only while needed: an idle
     * session (or a room's idle member) holds neither. */
    nl__in_slot *rwin;  /* NL__CHAT_RWIN slots while fragments are out of order, else NULL */
    unsigned rwin_used; /* slots present in rwin                                    */
    uint32_t rnext;     /* next sequence number to deliver                             */
    uint8_t *msg;       /* the message being reassembled (of 2 fragments or more), else NULL */
    size_t msg_len;
    uint16_t msg_index, msg_count;
    uint64_t msgs_in;

    /* Leaving, both ways. Each direction ends with a BYE in its sequence space; the session
     * is over when ours is acknowledged and the peer's delivered. */
    int bye_sent, bye_acked, peer_left;
    int done_sent;   /* BYE-DONE sent: the peer need not linger for us any more        */
    int leave_asked; /* leave() before the handshake, with messages queued             */
    uint32_t bye_seq, peer_bye_seq;
    int64_t progress; /* while leaving: last time something was acknowledged or delivered */
    int hurry;        /* set by the driver: an exit waits for what is queued (a room's
                       * end), so the backoff stops at NL__CHAT_RTO_BYE_MAX as while leaving */
    int64_t linger_deadline, byeack_due;

    /* Liveness. */
    int64_t last_rx, ping_due;

    nl_chat_stats st;
    uint64_t out_dropped; /* datagrams not queued for the driver (queue full): losses   */

    /* Events: a queue, and the data of the ones handed out by the last call. */
    nl__chat_ev *evq;
    size_t ev_head, ev_count, ev_cap;
    char **lent;
    size_t lent_count, lent_cap;

    /* Datagrams for the driver: a ring. */
    nl__chat_dgram *out;
    size_t out_head, out_count, out_cap;

    uint8_t pay[NL__FRAME_PAYLOAD_MAX];
} nl__chat_core;

/* Make a core. Reliable mode with a peer given sends its HELLO at once (a datagram to pop).
 * Returns 0, NL_EINVAL, NL_ENOMEM. */
int nl__chat_core_new(nl__chat_core **out, const nl__chat_core_cfg *cfg,
                      const nl__chat_core_seed *seed, int64_t now);
/* Free a core and everything it holds; NULL is a no-op. */
void nl__chat_core_free(nl__chat_core *s);

/* A datagram arrived from from (normalized). Plain mode: the text of a message. */
void nl__chat_core_input(nl__chat_core *s, const uint8_t *buf, size_t len, const nl_endpoint *from,
                         int64_t now);
/* Timers: retransmissions, keepalive, liveness, give-up times. Call at the deadline or later. */
void nl__chat_core_timers(nl__chat_core *s, int64_t now);
/* The absolute time of the next thing to do: 0 when events wait, -1 for none. */
int64_t nl__chat_core_deadline(const nl__chat_core *s);
/* Queue a message (reliable mode). Returns its id (>= 1), NL_ECLOSED, NL_ESHUTDOWN,
 * NL_EMSGSIZE, NL_ENOBUFS, NL_ENOMEM. */
int64_t nl__chat_core_send(nl__chat_core *s, const void *text, size_t len, int64_t now);
/* Leave (reliable mode: the BYE exchange; plain mode: a "q" to the peer, then closed). */
void nl__chat_core_leave(nl__chat_core *s, int64_t now);
/* An ICMP "port unreachable" was reported for something we sent. */
void nl__chat_core_refused(nl__chat_core *s, int64_t now);
/* The driver hit an error it cannot absorb (err < 0): an ERROR event, then closed. */
void nl__chat_core_fail(nl__chat_core *s, int err);
/* The longest message send() accepts now (0 when closed). */
size_t nl__chat_core_room(const nl__chat_core *s);

/* Take the oldest datagram to send: 1 (d points into the core, valid until the next call
 * into it), or 0 when there is none. */
int nl__chat_core_pop_datagram(nl__chat_core *s, const nl__chat_dgram **d);
/* Hand out up to max events; their data stays valid until the next call of this function
 * (or free). The CLOSED event comes last, once. Returns the count, NL_ECLOSED after CLOSED
 * was handed out, NL_ENOMEM. */
int nl__chat_core_events(nl__chat_core *s, nl_chat_event *events, size_t max);
/* The outcome: NL_EAGAIN while running, else the status. */
int nl__chat_core_status(const nl__chat_core *s);

/* Hand the names of HELLOs answered (the core's, if any) from one core to another: the room
 * gives a new listener what the one that became a member had seen. */
void nl__chat_core_move_seen(nl__chat_core *to, nl__chat_core *from);
/* The bytes the core holds now: its state, its buffers and its send queue's cost (what a room
 * pays per member; the unit tests check an idle core's). */
size_t nl__chat_core_footprint(const nl__chat_core *s);
/* Tests only: when set, every buffer the core makes on demand (receive window, reassembly
 * buffer, datagram ring, HELLO names) is asked of this function instead of malloc(), which can
 * refuse (NULL) to test the NL_ENOMEM paths. Not thread-safe: set it before any core runs. */
extern void *(*nl__chat_core_alloc_hook)(size_t n);

/* Helpers shared with the driver. */
uint64_t nl__chat_siphash(const uint8_t key[16], const uint8_t *m, size_t len);
void nl__chat_ftrace(nl__chat_core *s, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* NETLAB_CHAT_CORE_H */
