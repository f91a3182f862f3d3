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
#define NL__CHAT_TENTATIVE_MS 5000      /* a responder waits this long for the handshake end  */

enum nl__chat_state {
    NL__ST_WAITING,    /* no peer yet: waiting for a HELLO (plain: for a datagram)     */
    NL__ST_HELLO_SENT, /* initiator: HELLO sent, waiting for HELLO-ACK                 */
    NL__ST_ACCEPTING,  /* responder: HELLO-ACK sent, waiting for the first frame back  */
    NL__ST_OPEN,       /* chatting                                                     */
    NL__ST_LEAVING,    /* we leave: flushing messages, then BYE until BYE-ACK          */
    NL__ST_LINGER,     /* the peer left: answering its BYE a little longer             */
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

typedef struct nl__chat_ev {
    nl_chat_event ev;
    char *own; /* the event's data, owned by the queue until handed out       */
} nl__chat_ev;

struct nl_chat_session {
    nl_udp *udp;
    int mode, state, status;
    int closed_reported; /* the CLOSED event has been handed out                        */
    nl_endpoint peer;
    int peer_known; /* peer is set (given, locked, or tentative while ACCEPTING)   */
    int peer_fixed; /* the peer was given in the options                           */
    int connected;  /* the socket is connect()ed to the peer                       */
    int joined;     /* PEER_JOINED has been reported                               */
    int has_key;
    uint8_t key[NL_CHAT_KEY_BYTES];
    char name[NL_CHAT_NAME_MAX + 1];
    size_t name_len;
    char peer_name[NL_CHAT_NAME_MAX + 1];
    size_t peer_name_len;
    int keepalive_ms, lost_ms, leave_ms;
    nl_trace_fn trace;
    void *trace_user;

    /* Handshake and identity. */
    uint32_t half;     /* our initiator half of the session id                        */
    uint64_t sid;      /* the agreed session id                                       */
    uint64_t me, them; /* sender ids                                                  */
    int64_t hs_due, hs_deadline;
    int hs_rto;

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

    /* Leaving, both ways. */
    int bye_sent, peer_left;
    uint32_t bye_seq, peer_bye_seq;
    int64_t leave_deadline, linger_deadline, byeack_due;

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
int nl__chat_sendraw(nl_chat_session *s, const void *buf, size_t len);
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
void nl__chat_proto_refused(nl_chat_session *s);
int64_t nl__chat_proto_send(nl_chat_session *s, const void *text, size_t len, int64_t now);
size_t nl__chat_proto_room(const nl_chat_session *s);
void nl__chat_proto_free(nl_chat_session *s);
int nl__chat_random(void *buf, size_t len);

#endif /* NETLAB_CHAT_INT_H */
