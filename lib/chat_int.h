/* The chat session's private state, shared by chat.c (API, events, runner, plain mode) and
 * chat_proto.c (the reliable protocol). Not installed. */
#ifndef NETLAB_CHAT_INT_H
#define NETLAB_CHAT_INT_H

#include <stdint.h>

#include "frame.h"
#include "internal.h"
#include "netlab/chat.h"

#define NL__CHAT_RWIN         128       /* receive window, in fragments                       */
#define NL__CHAT_SWIN         64        /* fragments in flight at most (<= NL__CHAT_RWIN)     */
#define NL__CHAT_QUEUE_MAX    (1 << 20) /* queue cost (text + bookkeeping) allowed at most    */
#define NL__CHAT_FRAG_COST    64        /* what a queued fragment costs on top of its text    */
#define NL__CHAT_BUDGET       64        /* datagrams read per step at most                    */
#define NL__CHAT_RTO_INIT     200       /* first retransmission timeout, ms                   */
#define NL__CHAT_RTO_MAX      1000      /* the backoff stops doubling here                    */
#define NL__CHAT_RTO_BYE_MAX  400       /* BYE is repeated more often: the exit is timed      */
#define NL__CHAT_LINGER_MS    1500      /* after the peer's BYE: keep answering it this long  */
#define NL__CHAT_BYEACK_MS    150       /* BYE-ACK repeat interval while lingering            */
#define NL__CHAT_NOANSWER_MS  2000      /* calling: warn that nobody answers after this long  */
#define NL__CHAT_AUTH_WARN    3         /* auth failures from the peer before warning         */
#define NL__CHAT_SEEN         4         /* names of HELLOs answered while waiting, kept       */

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

struct nl_chat_session {
    nl_udp *udp;
    int mode, state, status;
    int closed_reported; /* the CLOSED event has been handed out                        */
    nl_endpoint peer;
    int peer_known; /* peer is set (given, or locked onto)                          */
    int peer_fixed; /* the peer was given in the options                           */
    int connected;  /* the socket is connect()ed to the peer                       */
    int joined;     /* PEER_JOINED has been reported                               */
    int has_key;
    uint8_t key[NL_CHAT_KEY_BYTES];
    char name[NL_CHAT_NAME_MAX + 1];
    size_t name_len;
    char peer_name[NL_CHAT_NAME_MAX + 1];
    size_t peer_name_len;
    int keepalive_ms, lost_ms, leave_ms, call_ms;
    int refused;         /* an ICMP port unreachable arrived in this step                 */
    unsigned warned;     /* NL__WARN_* already reported                                   */
    unsigned auth_fails; /* authentication failures from the expected peer, unjoined  */
    int refused_last;    /* calling: the last sign from the peer's port was ICMP      */
    int64_t call_start;  /* calling: since when (or since the last sign of the peer)  */
    nl_trace_fn trace;
    void *trace_user;

    /* Handshake and identity. */
    uint32_t half;     /* our initiator half of the session id                        */
    uint64_t sid;      /* the agreed session id                                       */
    uint64_t me, them; /* sender ids                                                  */
    int initiator;     /* we sent the HELLO that made the session                     */
    int confirmed;     /* initiator: the responder has shown that it opened too       */
    int64_t hs_due;
    int hs_rto;
    uint8_t cookie_key[16]; /* responder: keys the half it answers each HELLO with    */
    nl__hello_seen seen[NL__CHAT_SEEN];

    /* Packet numbers: ours, and the replay window over the peer's. */
    uint32_t pn_out, pn_max;
    uint64_t pn_bits;

    /* Sending. */
    nl__out_frag *head, *tail;
    size_t queued; /* cost of the queue: text, and NL__CHAT_FRAG_COST per fragment  */
    uint32_t seq_next;
    uint64_t msg_next;

    /* Receiving. */
    nl__in_slot *rwin;
    uint32_t rnext; /* next sequence number to deliver                             */
    uint8_t *msg;   /* the message being reassembled                               */
    size_t msg_len;
    uint16_t msg_index, msg_count;
    uint64_t msgs_in;

    /* Leaving, both ways. Each direction ends with a BYE in its sequence space; the session
     * is over when ours is acknowledged and the peer's delivered. */
    int bye_sent, bye_acked, peer_left;
    int leave_asked; /* leave() before the handshake, with messages queued             */
    uint32_t bye_seq, peer_bye_seq;
    int64_t progress; /* while leaving: last time something was acknowledged or delivered */
    int64_t linger_deadline, byeack_due;

    /* Liveness. */
    int64_t last_rx, ping_due;

    nl_chat_stats st;

    /* Events: a queue, and the data of the ones handed out by the last step. */
    nl__chat_ev *evq;
    size_t ev_head, ev_count, ev_cap;
    char **lent;
    size_t lent_count, lent_cap;

    uint8_t txbuf[NL__FRAME_MAX];
    uint8_t pay[NL__FRAME_PAYLOAD_MAX];
    uint8_t rxbuf[NL_UDP_MAX_DATAGRAM + 1];
};

/* chat.c */
int64_t nl__chat_now(void);
int nl__chat_push(nl_chat_session *s, nl_chat_event_type type, int code, uint64_t id,
                  const void *data, size_t len);
void nl__chat_finish(nl_chat_session *s, int status);
int nl__chat_sendraw(nl_chat_session *s, const void *buf, size_t len, const nl_endpoint *to);
void nl__chat_lock_peer(nl_chat_session *s);
void nl__chat_ftrace(nl_chat_session *s, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* chat_proto.c: the reliable protocol. */
int nl__chat_proto_start(nl_chat_session *s, int64_t now);
void nl__chat_proto_input(nl_chat_session *s, const uint8_t *buf, size_t len,
                          const nl_endpoint *from, int64_t now);
void nl__chat_proto_timers(nl_chat_session *s, int64_t now);
int64_t nl__chat_proto_deadline(const nl_chat_session *s);
void nl__chat_proto_pump(nl_chat_session *s, int64_t now);
void nl__chat_proto_leave(nl_chat_session *s, int64_t now);
void nl__chat_proto_refused(nl_chat_session *s, int64_t now);
int64_t nl__chat_proto_send(nl_chat_session *s, const void *text, size_t len, int64_t now);
size_t nl__chat_proto_room(const nl_chat_session *s);
void nl__chat_proto_free(nl_chat_session *s);
uint64_t nl__chat_siphash(const uint8_t key[16], const uint8_t *m, size_t len);
int nl__chat_random(void *buf, size_t len);

#endif /* NETLAB_CHAT_INT_H */
