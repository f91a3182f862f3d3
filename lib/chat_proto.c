/* The chat's reliable protocol: handshake, acknowledgements, retransmission, in-order
 * reassembly, keepalive and the BYE exchange. docs/protocol.md has the state machine and the
 * sequence diagrams; the comments here say why each rule is the way it is.
 *
 * Every datagram passes the same gauntlet, cheapest check first, and each refusal has its own
 * counter: source address, frame format (frame.c), authentication (with a key), session and
 * sender ids, replay window over packet numbers, then the sequence window. Nothing that fails
 * a check is ever answered, so a forger learns nothing and cannot use us as an amplifier. */
#include <stdlib.h>
#include <string.h>

#include "chat_int.h"

#define HI(sid) ((uint32_t)((sid) >> 32))
#define LO(sid) ((uint32_t)(sid))

static int min_int(int a, int b)
{
    return a < b ? a : b;
}

static const uint8_t *key_of(const nl_chat_session *s)
{
    return s->has_key ? s->key : NULL;
}

/* Encode and send one frame with the next packet number. */
static int send_frame(nl_chat_session *s, int type, uint64_t sid, uint32_t seq, uint16_t index,
                      uint16_t count, const void *payload, size_t len)
{
    nl__frame_hdr h = {0};
    int n;

    if (s->pn_out == UINT32_MAX) {
        /* Never reached in practice (four billion frames); but a packet number must not
         * repeat under one key, so the session ends rather than wrap. */
        nl__chat_finish(s, NL_EPROTO);
        return NL_EPROTO;
    }
    h.type = (uint8_t)type;
    h.sid = sid;
    h.sender = s->me;
    h.seq = seq;
    h.pn = ++s->pn_out;
    h.frag_index = index;
    h.frag_count = count;
    n = nl__frame_encode(s->txbuf, sizeof s->txbuf, &h, payload, len, key_of(s));
    if (n < 0)
        return n;
    nl__chat_ftrace(s, "frame-out", "%s seq %u pn %u frag %u/%u, %zu bytes",
                    nl__frame_type_name(type), seq, h.pn, index, count, len);
    return nl__chat_sendraw(s, s->txbuf, (size_t)n);
}

static void send_hello(nl_chat_session *s)
{
    send_frame(s, NL__FT_HELLO, (uint64_t)s->half << 32, 0, 0, 0, s->name, s->name_len);
}

static void send_hello_ack(nl_chat_session *s)
{
    send_frame(s, NL__FT_HELLO_ACK, s->sid, 0, 0, 0, s->name, s->name_len);
}

static void send_ctl(nl_chat_session *s, int type, uint32_t seq)
{
    send_frame(s, type, s->sid, seq, 0, 0, NULL, 0);
}

/* An ACK names the fragment that arrived and carries the next sequence number expected:
 * at high loss, any one ACK that gets through settles all the earlier ones. */
static void send_ack(nl_chat_session *s, uint32_t seq)
{
    uint8_t cum[NL__FRAME_ACK_LEN] = {(uint8_t)(s->rnext >> 24), (uint8_t)(s->rnext >> 16),
                                      (uint8_t)(s->rnext >> 8), (uint8_t)s->rnext};

    send_frame(s, NL__FT_ACK, s->sid, seq, 0, 0, cum, sizeof cum);
}

/* A random non-zero number of len bytes (4 or 8): zero means "not set" in the frame format. */
static int fresh(void *out, size_t len)
{
    static const uint8_t zero[8];
    int rc;

    do {
        if ((rc = nl__chat_random(out, len)) < 0)
            return rc;
    } while (memcmp(out, zero, len) == 0);
    return 0;
}

int nl__chat_proto_start(nl_chat_session *s, int64_t now)
{
    int rc;

    s->rwin = calloc(NL__CHAT_RWIN, sizeof *s->rwin);
    s->msg = malloc(NL__FRAME_MSG_MAX + 1);
    if (s->rwin == NULL || s->msg == NULL)
        return NL_ENOMEM;
    if ((rc = fresh(&s->me, sizeof s->me)) < 0 || (rc = fresh(&s->half, sizeof s->half)) < 0)
        return rc;
    s->seq_next = 1;
    s->rnext = 1;
    s->msg_next = 1;
    if (s->peer_fixed) {
        s->state = NL__ST_HELLO_SENT;
        s->hs_rto = NL__CHAT_RTO_INIT;
        s->hs_due = now + s->hs_rto;
        send_hello(s);
    }
    return 0;
}

void nl__chat_proto_free(nl_chat_session *s)
{
    nl__out_frag *f = s->head, *next;

    for (; f != NULL; f = next) {
        next = f->next;
        free(f);
    }
    s->head = s->tail = NULL;
    free(s->rwin);
    free(s->msg);
}

/* The replay window over the peer's packet numbers (as in IPsec): the highest number seen and
 * a bitmap of the 64 below it. Every frame a peer sends has a new number, retransmissions
 * included, so a number seen twice is a copy: a network duplicate or a replay. */
static void replay_init(nl_chat_session *s, uint32_t pn)
{
    s->pn_max = pn;
    s->pn_bits = 1;
}

static int replay_check(nl_chat_session *s, uint32_t pn)
{
    uint32_t off;

    if (pn > s->pn_max) {
        off = pn - s->pn_max;
        s->pn_bits = off >= 64 ? 1 : s->pn_bits << off | 1;
        s->pn_max = pn;
        return 1;
    }
    off = s->pn_max - pn;
    if (off >= 64 || (s->pn_bits >> off & 1))
        return 0;
    s->pn_bits |= (uint64_t)1 << off;
    return 1;
}

static void set_peer_name(nl_chat_session *s, const uint8_t *p, size_t len)
{
    memcpy(s->peer_name, p, len);
    s->peer_name[len] = '\0';
    s->peer_name_len = len;
}

static void become_open(nl_chat_session *s, int64_t now)
{
    s->state = NL__ST_OPEN;
    nl__chat_lock_peer(s);
    s->last_rx = now;
    s->ping_due = now + s->keepalive_ms;
    if (!s->joined) {
        s->joined = 1;
        nl__chat_push(s, NL_CHAT_EV_PEER_JOINED, 0, 0, s->peer_name, s->peer_name_len);
    }
    nl__chat_proto_pump(s, now);
}

/* Take the responder's part for this HELLO: complete the session id with a fresh half of our
 * own, so that frames recorded from an earlier session can never match this one. */
static void accept_hello(nl_chat_session *s, const nl__frame_hdr *h, const uint8_t *p, size_t len,
                         const nl_endpoint *from, int64_t now)
{
    uint32_t lo;

    if (fresh(&lo, sizeof lo) < 0)
        return;
    if (!s->peer_known)
        s->peer = *from;
    s->peer_known = 1;
    s->sid = h->sid | lo;
    s->them = h->sender;
    replay_init(s, h->pn);
    set_peer_name(s, p, len);
    s->state = NL__ST_ACCEPTING;
    s->hs_rto = NL__CHAT_RTO_INIT;
    s->hs_due = now + s->hs_rto;
    s->hs_deadline = now + NL__CHAT_TENTATIVE_MS;
    send_hello_ack(s);
}

static void on_hello(nl_chat_session *s, const nl__frame_hdr *h, const uint8_t *p, size_t len,
                     const nl_endpoint *from, int64_t now)
{
    switch (s->state) {
    case NL__ST_WAITING:
        accept_hello(s, h, p, len, from, now);
        return;
    case NL__ST_HELLO_SENT:
        /* Both sides were given each other's address and both said HELLO. The one with
         * the larger sender id stays the initiator; the other answers. */
        if (h->sender > s->me)
            accept_hello(s, h, p, len, from, now);
        else
            s->st.unexpected++;
        return;
    case NL__ST_ACCEPTING:
        /* Our HELLO-ACK was lost and the initiator tries again: answer again. */
        if (h->sender == s->them && HI(h->sid) == HI(s->sid)) {
            if (!replay_check(s, h->pn)) {
                s->st.replayed++;
                return;
            }
            send_hello_ack(s);
            s->st.duplicates++;
            return;
        }
        s->st.bad_session++;
        return;
    default:
        /* A HELLO of this session is a late copy; of another one, a restarted peer or a
         * forgery. Neither may disturb a running chat. */
        if (h->sender == s->them && HI(h->sid) == HI(s->sid))
            s->st.duplicates++;
        else
            s->st.bad_session++;
        return;
    }
}

static void on_hello_ack(nl_chat_session *s, const nl__frame_hdr *h, const uint8_t *p, size_t len,
                         int64_t now)
{
    if (s->state == NL__ST_HELLO_SENT && HI(h->sid) == s->half && h->sender != s->me) {
        s->sid = h->sid;
        s->them = h->sender;
        replay_init(s, h->pn);
        set_peer_name(s, p, len);
        send_ack(s, 0);
        become_open(s, now);
        return;
    }
    if (s->state >= NL__ST_OPEN && h->sid == s->sid && h->sender == s->them &&
        HI(s->sid) == s->half) {
        /* Our ACK of it was lost; the responder asks again. */
        if (!replay_check(s, h->pn)) {
            s->st.replayed++;
            return;
        }
        s->st.duplicates++;
        s->last_rx = now;
        send_ack(s, 0);
        return;
    }
    s->st.bad_session++;
}

/* What a fragment costs against NL__CHAT_QUEUE_MAX: its text (an empty one counts as one
 * byte) and its bookkeeping. Every message costs something, so even empty messages cannot
 * grow the queue without bound. */
static size_t frag_cost(size_t len)
{
    return (len > 0 ? len : 1) + NL__CHAT_FRAG_COST;
}

static size_t msg_cost(size_t len)
{
    size_t full = len / NL__FRAME_PAYLOAD_MAX, rest = len % NL__FRAME_PAYLOAD_MAX;

    if (len > 0 && rest == 0)
        return full * frag_cost(NL__FRAME_PAYLOAD_MAX);
    return full * frag_cost(NL__FRAME_PAYLOAD_MAX) + frag_cost(rest);
}

/* The longest message whose cost still fits: whole fragments first, then what is left over
 * after one more fragment's bookkeeping. 0 when not even an empty message fits. */
size_t nl__chat_proto_room(const nl_chat_session *s)
{
    size_t avail = s->queued >= NL__CHAT_QUEUE_MAX ? 0 : NL__CHAT_QUEUE_MAX - s->queued;
    size_t full = avail / frag_cost(NL__FRAME_PAYLOAD_MAX);
    size_t rest = avail % frag_cost(NL__FRAME_PAYLOAD_MAX);

    if (avail < msg_cost(0))
        return 0;
    rest = rest > NL__CHAT_FRAG_COST ? rest - NL__CHAT_FRAG_COST : 0;
    return full * NL__FRAME_PAYLOAD_MAX + rest;
}

/* The head of the queue is acknowledged: drop it; a message is delivered when its last
 * fragment goes, since fragments leave the queue in order. */
static void pop_acked(nl_chat_session *s)
{
    nl__out_frag *f;

    while ((f = s->head) != NULL && f->acked) {
        s->head = f->next;
        if (s->head == NULL)
            s->tail = NULL;
        if (f->type == NL__FT_DATA)
            s->queued -= frag_cost(f->len);
        if (f->type == NL__FT_DATA && f->index + 1 == f->count)
            nl__chat_push(s, NL_CHAT_EV_DELIVERED, 0, f->msg_id, NULL, 0);
        free(f);
    }
}

static void on_ack(nl_chat_session *s, uint32_t seq, const uint8_t *p)
{
    uint32_t cum = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    nl__out_frag *f;
    int n = 0;

    /* Acks of what was never sent come from a broken or lying peer: ignore the frame. */
    if ((int32_t)(seq - s->seq_next) >= 0 || (int32_t)(cum - s->seq_next) > 0) {
        s->st.unexpected++;
        return;
    }
    for (f = s->head; f != NULL && n < NL__CHAT_SWIN; f = f->next, n++) {
        if (!f->sent || f->type != NL__FT_DATA)
            continue;
        if (f->seq == seq && f->acked)
            s->st.duplicates++;
        if (f->seq == seq || (int32_t)(f->seq - cum) < 0)
            f->acked = 1;
    }
    pop_acked(s);
}

/* Deliver in order what has arrived: fragments join the message being reassembled; the BYE
 * comes after everything the peer sent before it. */
static void deliver(nl_chat_session *s, int64_t now)
{
    nl__in_slot *sl;

    while ((sl = &s->rwin[s->rnext % NL__CHAT_RWIN])->present) {
        uint32_t seq = s->rnext++;
        sl->present = 0;
        if (sl->type == NL__FT_BYE) {
            s->peer_left = 1;
            s->peer_bye_seq = seq;
            send_ctl(s, NL__FT_BYE_ACK, seq);
            nl__chat_push(s, NL_CHAT_EV_PEER_LEFT, 0, 0, NULL, 0);
            if (s->state == NL__ST_OPEN) {
                s->state = NL__ST_LINGER;
                s->linger_deadline = now + NL__CHAT_LINGER_MS;
                s->byeack_due = now + NL__CHAT_BYEACK_MS;
            }
            continue;
        }
        if (sl->index == 0) {
            if (s->msg_count != 0)
                s->st.unexpected++; /* a message cut short: the peer is broken */
            s->msg_len = 0;
            s->msg_count = sl->count;
            s->msg_index = 0;
        } else if (sl->index != s->msg_index || sl->count != s->msg_count) {
            s->st.unexpected++;
            s->msg_count = 0;
            continue;
        }
        memcpy(s->msg + s->msg_len, sl->data, sl->len);
        s->msg_len += sl->len;
        s->msg_index++;
        if (s->msg_index == s->msg_count) {
            s->msg_count = 0;
            s->st.messages_in++;
            nl__chat_push(s, NL_CHAT_EV_MESSAGE, 0, ++s->msgs_in, s->msg, s->msg_len);
        }
    }
}

/* DATA and BYE share the sequence space. Anything inside the window is acknowledged (again,
 * if it is a copy), so the sender stops retransmitting; anything beyond it is dropped without
 * an answer, since an honest peer never sends that far ahead. */
static void on_sequenced(nl_chat_session *s, const nl__frame_hdr *h, const uint8_t *p, size_t len,
                         int64_t now)
{
    int32_t ahead = (int32_t)(h->seq - s->rnext);
    nl__in_slot *sl;
    int ack = h->type == NL__FT_BYE ? NL__FT_BYE_ACK : NL__FT_ACK;

    if (ahead < 0) {
        s->st.duplicates++;
        /* A BYE already delivered is answered with BYE-ACK, data with ACK. */
        if (h->type == NL__FT_BYE && !(s->peer_left && h->seq == s->peer_bye_seq)) {
            s->st.unexpected++;
            return;
        }
        if (ack == NL__FT_ACK)
            send_ack(s, h->seq);
        else
            send_ctl(s, ack, h->seq);
        return;
    }
    if (ahead >= NL__CHAT_RWIN || (s->peer_left && h->type == NL__FT_DATA)) {
        s->st.out_of_window++;
        return;
    }
    sl = &s->rwin[h->seq % NL__CHAT_RWIN];
    if (sl->present) {
        s->st.duplicates++;
    } else {
        sl->present = 1;
        sl->type = h->type;
        sl->index = h->frag_index;
        sl->count = h->frag_count;
        sl->len = (uint16_t)len;
        memcpy(sl->data, p, len);
    }
    deliver(s, now);
    /* A BYE is acknowledged only once it is delivered, i.e. in deliver(). */
    if (h->type == NL__FT_DATA)
        send_ack(s, h->seq);
}

static void count_reason(nl_chat_session *s, int reason)
{
    switch (reason) {
    case NL__FR_MAGIC:
        s->st.bad_magic++;
        break;
    case NL__FR_VERSION:
        s->st.bad_version++;
        break;
    case NL__FR_HEADER:
        s->st.bad_header++;
        break;
    case NL__FR_AUTH:
        s->st.auth_failed++;
        break;
    default:
        s->st.bad_length++;
        break;
    }
}

void nl__chat_proto_input(nl_chat_session *s, const uint8_t *buf, size_t len,
                          const nl_endpoint *from, int64_t now)
{
    nl__frame_hdr h;
    int n, reason;

    s->st.datagrams_in++;
    if (s->peer_known && nl_endpoint_compare(from, &s->peer) != 0) {
        s->st.wrong_source++;
        nl__chat_ftrace(s, "drop", "wrong source, %zu bytes", len);
        return;
    }
    n = nl__frame_decode(&h, s->pay, buf, len, key_of(s), &reason);
    if (n < 0) {
        count_reason(s, reason);
        nl__chat_ftrace(s, "drop", "bad frame (reason %d), %zu bytes", reason, len);
        return;
    }
    nl__chat_ftrace(s, "frame-in", "%s seq %u pn %u frag %u/%u, %d bytes",
                    nl__frame_type_name(h.type), h.seq, h.pn, h.frag_index, h.frag_count, n);
    if (h.type == NL__FT_HELLO) {
        on_hello(s, &h, s->pay, (size_t)n, from, now);
        return;
    }
    if (h.type == NL__FT_HELLO_ACK) {
        on_hello_ack(s, &h, s->pay, (size_t)n, now);
        return;
    }
    if (s->state < NL__ST_ACCEPTING || h.sid != s->sid || h.sender != s->them) {
        s->st.bad_session++;
        return;
    }
    if (!replay_check(s, h.pn)) {
        s->st.replayed++;
        return;
    }
    if (s->state == NL__ST_CLOSED)
        return;
    s->last_rx = now;
    s->ping_due = now + s->keepalive_ms;
    if (s->state == NL__ST_ACCEPTING)
        become_open(s, now); /* any frame of the session proves the initiator has it */
    switch (h.type) {
    case NL__FT_ACK:
        on_ack(s, h.seq, s->pay);
        nl__chat_proto_pump(s, now);
        break;
    case NL__FT_DATA:
    case NL__FT_BYE:
        on_sequenced(s, &h, s->pay, (size_t)n, now);
        break;
    case NL__FT_PING:
        send_ctl(s, NL__FT_PONG, 0);
        break;
    case NL__FT_PONG:
        break;
    case NL__FT_BYE_ACK:
        if (s->state == NL__ST_LEAVING && s->bye_sent && h.seq == s->bye_seq) {
            /* The BYE was delivered, so was everything queued before it. */
            for (nl__out_frag *f = s->head; f != NULL; f = f->next)
                f->acked = 1;
            pop_acked(s);
            send_ctl(s, NL__FT_BYE_DONE, 0);
            nl__chat_finish(s, 0);
        } else {
            s->st.unexpected++;
        }
        break;
    case NL__FT_BYE_DONE:
        if (s->state == NL__ST_LINGER)
            nl__chat_finish(s, 0);
        else if (!(s->state == NL__ST_LEAVING && s->peer_left))
            s->st.unexpected++;
        break;
    default:
        s->st.unexpected++;
        break;
    }
}

/* Send what the window allows: new fragments at once, old ones when their timeout is up,
 * each time with a doubled timeout. While leaving, the backoff stops doubling sooner: the
 * user waits for the exit, and the exit has a deadline. */
void nl__chat_proto_pump(nl_chat_session *s, int64_t now)
{
    int cap = s->state == NL__ST_LEAVING ? NL__CHAT_RTO_BYE_MAX : NL__CHAT_RTO_MAX;
    nl__out_frag *f;
    int n = 0;

    if (s->state != NL__ST_OPEN && s->state != NL__ST_LEAVING)
        return;
    for (f = s->head; f != NULL && n < NL__CHAT_SWIN; f = f->next, n++) {
        if (f->acked || (f->sent && now < f->due))
            continue;
        if (f->sent) {
            s->st.retransmits++;
            f->rto = min_int(f->rto * 2, cap);
        }
        f->rto = min_int(f->rto, cap);
        f->sent = 1;
        f->due = now + f->rto;
        if (f->type == NL__FT_BYE)
            send_frame(s, NL__FT_BYE, s->sid, f->seq, 0, 0, NULL, 0);
        else
            send_frame(s, NL__FT_DATA, s->sid, f->seq, f->index, f->count, f->data, f->len);
        if (s->state == NL__ST_CLOSED)
            return;
    }
}

int64_t nl__chat_proto_send(nl_chat_session *s, const void *text, size_t len, int64_t now)
{
    const uint8_t *p = text;
    size_t count = len == 0 ? 1 : (len + NL__FRAME_PAYLOAD_MAX - 1) / NL__FRAME_PAYLOAD_MAX;
    nl__out_frag *first = NULL, *last = NULL, *f;
    uint64_t id;

    if (s->queued + msg_cost(len) > NL__CHAT_QUEUE_MAX)
        return NL_ENOBUFS;
    /* Build the whole chain first, so that a failed allocation leaves the queue untouched. */
    for (size_t i = 0; i < count; i++) {
        size_t flen = len - i * NL__FRAME_PAYLOAD_MAX;
        if (flen > NL__FRAME_PAYLOAD_MAX)
            flen = NL__FRAME_PAYLOAD_MAX;
        f = calloc(1, sizeof *f + flen);
        if (f == NULL) {
            while (first != NULL) {
                f = first->next;
                free(first);
                first = f;
            }
            return NL_ENOMEM;
        }
        f->type = NL__FT_DATA;
        f->index = (uint16_t)i;
        f->count = (uint16_t)count;
        f->len = (uint16_t)flen;
        f->rto = NL__CHAT_RTO_INIT;
        if (flen > 0)
            memcpy(f->data, p + i * NL__FRAME_PAYLOAD_MAX, flen);
        if (last != NULL)
            last->next = f;
        else
            first = f;
        last = f;
    }
    id = s->msg_next++;
    for (f = first; f != NULL; f = f->next) {
        f->msg_id = id;
        f->seq = s->seq_next++;
    }
    if (s->tail != NULL)
        s->tail->next = first;
    else
        s->head = first;
    s->tail = last;
    s->queued += msg_cost(len);
    s->st.messages_out++;
    nl__chat_proto_pump(s, now);
    return (int64_t)id;
}

void nl__chat_proto_leave(nl_chat_session *s, int64_t now)
{
    switch (s->state) {
    case NL__ST_OPEN: {
        /* The BYE goes into the queue behind the messages, without waiting for their
         * acknowledgements: the peer delivers it only after them, and its BYE-ACK then
         * acknowledges everything at once, which is what makes the exit quick at high loss. */
        nl__out_frag *bye = calloc(1, sizeof *bye);
        if (bye == NULL) {
            nl__chat_finish(s, NL_ENOMEM);
            return;
        }
        bye->type = NL__FT_BYE;
        bye->rto = NL__CHAT_RTO_INIT;
        bye->seq = s->bye_seq = s->seq_next++;
        if (s->tail != NULL)
            s->tail->next = bye;
        else
            s->head = bye;
        s->tail = bye;
        s->bye_sent = 1;
        s->state = NL__ST_LEAVING;
        s->leave_deadline = now + s->leave_ms;
        nl__chat_proto_pump(s, now);
        break;
    }
    case NL__ST_LINGER:
        nl__chat_finish(s, 0); /* the peer has left already; nobody to wait for */
        break;
    default:
        /* No chat yet: there is nobody to say goodbye to. An initiator that got our
         * HELLO-ACK will find us gone through its keepalive. */
        nl__chat_finish(s, 0);
        break;
    }
}

/* An ICMP "port unreachable": after the peer's BYE it means the peer is gone, which is what
 * we were waiting for. Otherwise it is no proof of anything (ICMP is easy to forge, and the
 * peer may not have started yet): the timers decide. */
void nl__chat_proto_refused(nl_chat_session *s)
{
    if (s->state == NL__ST_LINGER || (s->state == NL__ST_LEAVING && s->peer_left))
        nl__chat_finish(s, 0);
}

void nl__chat_proto_timers(nl_chat_session *s, int64_t now)
{
    switch (s->state) {
    case NL__ST_HELLO_SENT:
        if (now >= s->hs_due) {
            s->hs_rto = min_int(s->hs_rto * 2, NL__CHAT_RTO_MAX);
            s->hs_due = now + s->hs_rto;
            s->st.retransmits++;
            send_hello(s);
        }
        return;
    case NL__ST_ACCEPTING:
        if (now >= s->hs_deadline) {
            /* The initiator never finished: forget it and wait (or call) again. */
            if (s->peer_fixed) {
                s->state = NL__ST_HELLO_SENT;
                s->hs_rto = NL__CHAT_RTO_INIT;
                s->hs_due = now;
            } else {
                s->state = NL__ST_WAITING;
                s->peer_known = 0;
            }
            return;
        }
        if (now >= s->hs_due) {
            s->hs_rto = min_int(s->hs_rto * 2, NL__CHAT_RTO_MAX);
            s->hs_due = now + s->hs_rto;
            s->st.retransmits++;
            send_hello_ack(s);
        }
        return;
    case NL__ST_LINGER:
        if (now >= s->linger_deadline) {
            nl__chat_finish(s, 0);
        } else if (now >= s->byeack_due) {
            /* The leaver may not have our BYE-ACK: repeating it unasked makes the exit
             * reliable at high loss without making the leaver wait longer. */
            s->byeack_due = now + NL__CHAT_BYEACK_MS;
            send_ctl(s, NL__FT_BYE_ACK, s->peer_bye_seq);
        }
        return;
    case NL__ST_LEAVING:
        if (now >= s->leave_deadline) {
            nl__chat_finish(s, s->peer_left ? 0 : NL_EPEERLOST);
            return;
        }
        break;
    case NL__ST_OPEN:
        break;
    default:
        return;
    }
    /* OPEN and LEAVING: liveness, then retransmissions. */
    if (now - s->last_rx >= s->lost_ms) {
        nl__chat_push(s, NL_CHAT_EV_PEER_LOST, NL_EPEERLOST, 0, NULL, 0);
        nl__chat_finish(s, NL_EPEERLOST);
        return;
    }
    if (now >= s->ping_due) {
        s->ping_due = now + (s->keepalive_ms / 2 > 50 ? s->keepalive_ms / 2 : 50);
        send_ctl(s, NL__FT_PING, 0);
    }
    nl__chat_proto_pump(s, now);
}

int64_t nl__chat_proto_deadline(const nl_chat_session *s)
{
    int64_t d = -1;
    const nl__out_frag *f;
    int n = 0;

#define EARLIER(t) (d = (d < 0 || (t) < d) ? (t) : d)
    switch (s->state) {
    case NL__ST_HELLO_SENT:
        EARLIER(s->hs_due);
        return d;
    case NL__ST_ACCEPTING:
        EARLIER(s->hs_due);
        EARLIER(s->hs_deadline);
        return d;
    case NL__ST_LINGER:
        EARLIER(s->byeack_due);
        EARLIER(s->linger_deadline);
        return d;
    case NL__ST_LEAVING:
        EARLIER(s->leave_deadline);
        /* fall through */
    case NL__ST_OPEN:
        EARLIER(s->last_rx + s->lost_ms);
        EARLIER(s->ping_due);
        for (f = s->head; f != NULL && n < NL__CHAT_SWIN; f = f->next, n++)
            if (!f->acked)
                EARLIER(f->sent ? f->due : 1); /* 1: long past, i.e. at once */
        return d;
    default:
        return -1;
    }
#undef EARLIER
}
