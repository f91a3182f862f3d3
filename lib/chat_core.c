/* The chat's protocol core, without I/O (chat_core.h says how a driver uses it): handshake,
 * acknowledgements, retransmission, in-order reassembly, keepalive, the BYE exchange, plain
 * mode's input, and the event queue. docs/protocol.md has the state machine and the
 * sequence diagrams; the comments here say why each rule is the way it is.
 *
 * Every datagram passes the same gauntlet, cheapest check first, and each refusal has its own
 * counter: source address, frame format (frame.c), authentication (with a key), session and
 * sender ids, replay window over packet numbers, then the sequence window. Nothing that fails
 * a check is ever answered, so a forger learns nothing and cannot use us as an amplifier. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "chat_core.h"
#include "internal.h"

#ifdef NETLAB_HAVE_SODIUM
#include <sodium.h>
#endif

#define HI(sid) ((uint32_t)((sid) >> 32))
#define LO(sid) ((uint32_t)(sid))

static void queue_bye(nl__chat_core *s, int64_t now);
static void core_pump(nl__chat_core *s, int64_t now);
static int push(nl__chat_core *s, nl_chat_event_type type, int code, uint64_t id, const void *data,
                size_t len);
static void finish(nl__chat_core *s, int status);

static int min_int(int a, int b)
{
    return a < b ? a : b;
}

static const uint8_t *key_of(const nl__chat_core *s)
{
    return s->has_key ? s->key : NULL;
}

void *(*nl__chat_core_alloc_hook)(size_t n);

/* Every buffer the core makes on demand (the receive window, the reassembly buffer, the
 * datagram ring, the HELLO names) comes from here: the tests' hook can refuse it. */
static void *core_alloc(size_t n)
{
    return nl__chat_core_alloc_hook != NULL ? nl__chat_core_alloc_hook(n) : malloc(n);
}

/* What an idle core holds between calls is freed at the next call: the datagram ring once
 * drained (a datagram handed out stays valid until then), the HELLO names once a session is
 * made (the room moves them to its next listener first). */
static void trim(nl__chat_core *s)
{
    if (s->out_count == 0 && s->out != NULL) {
        free(s->out);
        s->out = NULL;
        s->out_cap = 0;
        s->out_head = 0;
    }
    if (s->state != NL__ST_WAITING && s->seen != NULL) {
        free(s->seen);
        s->seen = NULL;
    }
}

/* The next free slot of the datagram ring (not yet counted), growing it up to
 * NL__CHAT_OUT_MAX; NULL when full or out of memory. */
static nl__chat_dgram *out_slot(nl__chat_core *s)
{
    if (s->out_count == s->out_cap) {
        /* Small at first (an idle core sends one datagram at a time: a PING, a PONG, an
         * ACK), quickly large for a burst; freed once drained (trim). */
        size_t cap = s->out_cap ? s->out_cap * 4 : 2;
        nl__chat_dgram *o;
        if (cap > NL__CHAT_OUT_MAX)
            cap = NL__CHAT_OUT_MAX;
        if (s->out_cap == NL__CHAT_OUT_MAX || (o = core_alloc(cap * sizeof *o)) == NULL) {
            s->out_dropped++;
            return NULL;
        }
        /* Unroll the ring into the new array. */
        for (size_t i = 0; i < s->out_count; i++)
            o[i] = s->out[(s->out_head + i) % s->out_cap];
        free(s->out);
        s->out = o;
        s->out_head = 0;
        s->out_cap = cap;
    }
    return &s->out[(s->out_head + s->out_count) % s->out_cap];
}

int nl__chat_core_pop_datagram(nl__chat_core *s, const nl__chat_dgram **d)
{
    if (s->out_count == 0)
        return 0;
    *d = &s->out[s->out_head];
    s->out_head = (s->out_head + 1) % s->out_cap;
    s->out_count--;
    return 1;
}

/* Encode one frame with the next packet number and queue it for the driver: to the peer, or
 * (to is not NULL) to the address of a HELLO being answered. */
static int send_frame_to(nl__chat_core *s, const nl_endpoint *to, int type, uint64_t sid,
                         uint32_t seq, uint16_t index, uint16_t count, const void *payload,
                         size_t len)
{
    nl__frame_hdr h = {0};
    nl__chat_dgram *d;
    int n;

    if (s->pn_out == UINT32_MAX) {
        /* Never reached in practice (four billion frames); but a packet number must not
         * repeat under one key, so the session ends rather than wrap. */
        finish(s, NL_EPROTO);
        return NL_EPROTO;
    }
    h.type = (uint8_t)type;
    h.sid = sid;
    h.sender = s->me;
    h.seq = seq;
    h.pn = ++s->pn_out;
    h.frag_index = index;
    h.frag_count = count;
    if ((d = out_slot(s)) == NULL)
        return NL_ENOBUFS; /* a loss like any other: the protocol repeats what matters */
    n = nl__frame_encode(d->data, sizeof d->data, &h, payload, len, key_of(s));
    if (n < 0)
        return n;
    d->len = (size_t)n;
    d->has_to = to != NULL;
    if (to != NULL)
        d->to = *to;
    s->out_count++;
    nl__chat_ftrace(s, "frame-out", "%s seq %u pn %u frag %u/%u, %zu bytes",
                    nl__frame_type_name(type), seq, h.pn, index, count, len);
    return 0;
}

static int send_frame(nl__chat_core *s, int type, uint64_t sid, uint32_t seq, uint16_t index,
                      uint16_t count, const void *payload, size_t len)
{
    return send_frame_to(s, NULL, type, sid, seq, index, count, payload, len);
}

static void send_hello(nl__chat_core *s)
{
    send_frame(s, NL__FT_HELLO, (uint64_t)s->half << 32, 0, 0, 0, s->name, s->name_len);
}

static void send_ctl(nl__chat_core *s, int type, uint32_t seq)
{
    send_frame(s, type, s->sid, seq, 0, 0, NULL, 0);
}

/* An ACK names the fragment that arrived and carries the next sequence number expected:
 * at high loss, any one ACK that gets through settles all the earlier ones. */
static void send_ack(nl__chat_core *s, uint32_t seq)
{
    uint8_t cum[NL__FRAME_ACK_LEN] = {(uint8_t)(s->rnext >> 24), (uint8_t)(s->rnext >> 16),
                                      (uint8_t)(s->rnext >> 8), (uint8_t)s->rnext};

    send_frame(s, NL__FT_ACK, s->sid, seq, 0, 0, cum, sizeof cum);
}

int nl__chat_core_new(nl__chat_core **out, const nl__chat_core_cfg *cfg,
                      const nl__chat_core_seed *seed, int64_t now)
{
    nl__chat_core *s;
    size_t name_len = 0;

    if (out == NULL)
        return NL_EINVAL;
    *out = NULL;
    if (cfg == NULL || seed == NULL ||
        (cfg->mode != NL_CHAT_RELIABLE && cfg->mode != NL_CHAT_PLAIN) ||
        (cfg->name != NULL && (name_len = strlen(cfg->name)) > NL_CHAT_NAME_MAX) ||
        cfg->keepalive_ms <= 0 || cfg->lost_ms <= 0 || cfg->leave_ms <= 0 || cfg->call_ms < -1)
        return NL_EINVAL;
    if ((s = calloc(1, sizeof *s)) == NULL)
        return NL_ENOMEM;
    s->mode = cfg->mode;
    s->status = NL_EAGAIN;
    s->state = NL__ST_WAITING;
    s->trace = cfg->trace;
    s->trace_user = cfg->trace_user;
    s->trace_fd = cfg->trace_fd;
    s->keepalive_ms = cfg->keepalive_ms;
    s->lost_ms = cfg->lost_ms;
    s->leave_ms = cfg->leave_ms;
    s->call_ms = cfg->call_ms > 0 ? cfg->call_ms : 0; /* -1: never give up */
    s->queue_max = cfg->queue_max > 0 && cfg->queue_max < NL__CHAT_QUEUE_MAX ? cfg->queue_max
                                                                             : NL__CHAT_QUEUE_MAX;
    if (cfg->name != NULL)
        memcpy(s->name, cfg->name, name_len);
    s->name_len = name_len;
    if (cfg->key != NULL) {
        memcpy(s->key, cfg->key, NL_CHAT_KEY_BYTES);
        s->has_key = 1;
    }
    if (cfg->peer.family != 0) {
        s->peer = cfg->peer;
        s->peer_fixed = 1;
        s->peer_known = 1;
        if (s->mode == NL_CHAT_PLAIN)
            s->state = NL__ST_OPEN;
    }
    *out = s;
    if (s->mode == NL_CHAT_PLAIN)
        return 0;
    /* The receive window and the reassembly buffer are made when needed (see
     * on_sequenced and deliver_frag): an idle session holds neither. */
    /* Zero means "not set" in the frame format. */
    s->me = seed->me != 0 ? seed->me : 1;
    s->half = seed->half != 0 ? seed->half : 1;
    memcpy(s->cookie_key, seed->cookie_key, sizeof s->cookie_key);
    s->call_start = now;
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

/* Wipe a secret so that it does not outlive the core in freed memory. */
static void wipe(void *p, size_t n)
{
#ifdef NETLAB_HAVE_SODIUM
    sodium_memzero(p, n);
#else
    volatile uint8_t *v = p;
    while (n-- > 0)
        *v++ = 0;
#endif
}

static void release_lent(nl__chat_core *s)
{
    for (size_t i = 0; i < s->lent_count; i++)
        free(s->lent[i]);
    s->lent_count = 0;
}

void nl__chat_core_free(nl__chat_core *s)
{
    nl__out_frag *f, *next;

    if (s == NULL)
        return;
    for (f = s->head; f != NULL; f = next) {
        next = f->next;
        free(f);
    }
    free(s->rwin);
    free(s->msg);
    free(s->seen);
    release_lent(s);
    free(s->lent);
    for (size_t i = 0; i < s->ev_count; i++)
        free(s->evq[s->ev_head + i].own);
    free(s->evq);
    free(s->out);
    wipe(s->key, sizeof s->key);
    wipe(s->cookie_key, sizeof s->cookie_key);
    free(s);
}

/* The replay window over the peer's packet numbers (as in IPsec): the highest number seen and
 * a bitmap of the 64 below it. Every frame a peer sends has a new number, retransmissions
 * included, so a number seen twice is a copy: a network duplicate or a replay. */
static void replay_init(nl__chat_core *s, uint32_t pn)
{
    s->pn_max = pn;
    s->pn_bits = 1;
}

static int replay_check(nl__chat_core *s, uint32_t pn)
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

static void set_peer_name(nl__chat_core *s, const uint8_t *p, size_t len)
{
    memcpy(s->peer_name, p, len);
    s->peer_name[len] = '\0';
    s->peer_name_len = len;
}

static void become_open(nl__chat_core *s, int64_t now)
{
    s->state = NL__ST_OPEN;
    s->peer_known = 1; /* the driver connect()s its socket to the peer */
    s->last_rx = now;
    s->ping_due = now + s->keepalive_ms;
    if (!s->joined) {
        s->joined = 1;
        push(s, NL_CHAT_EV_PEER_JOINED, 0, 0, s->peer_name, s->peer_name_len);
    }
    if (s->leave_asked)
        queue_bye(s, now);
    else
        core_pump(s, now);
}

/* SipHash-2-4 (Aumasson and Bernstein, 2012), a keyed hash made for short inputs: the
 * responder's half of a session id is a MAC of the HELLO it answers, under a key that never
 * leaves this session. */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void sip_round(uint64_t v[4])
{
    v[0] += v[1];
    v[1] = ROTL(v[1], 13) ^ v[0];
    v[0] = ROTL(v[0], 32);
    v[2] += v[3];
    v[3] = ROTL(v[3], 16) ^ v[2];
    v[0] += v[3];
    v[3] = ROTL(v[3], 21) ^ v[0];
    v[2] += v[1];
    v[1] = ROTL(v[1], 17) ^ v[2];
    v[2] = ROTL(v[2], 32);
}

uint64_t nl__chat_siphash(const uint8_t key[16], const uint8_t *m, size_t len)
{
    uint64_t k0 = le64(key), k1 = le64(key + 8), last = (uint64_t)len << 56;
    uint64_t v[4] = {k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull,
                     k0 ^ 0x6c7967656e657261ull, k1 ^ 0x7465646279746573ull};
    size_t i;

    for (i = 0; i + 8 <= len; i += 8) {
        uint64_t w = le64(m + i);
        v[3] ^= w;
        sip_round(v);
        sip_round(v);
        v[0] ^= w;
    }
    for (size_t j = 0; i + j < len; j++)
        last |= (uint64_t)m[i + j] << (8 * j);
    v[3] ^= last;
    sip_round(v);
    sip_round(v);
    v[0] ^= last;
    v[2] ^= 0xff;
    for (int r = 0; r < 4; r++)
        sip_round(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* The half we answer a HELLO with: a function of who sent it (address, initiator half, sender
 * id) that only we can compute. The handshake completes when a frame carrying it comes back
 * from that address, so answering a HELLO costs no state and commits us to nothing: a
 * squatter's HELLOs, at any rate, cannot keep the real peer out. */
static uint32_t cookie(const nl__chat_core *s, const nl_endpoint *from, uint32_t hi,
                       uint64_t sender)
{
    uint8_t m[12 + NL_ENDPOINT_STRLEN];
    size_t n = 12;
    uint32_t c;

    for (int i = 0; i < 4; i++)
        m[i] = (uint8_t)(hi >> (24 - 8 * i));
    for (int i = 0; i < 8; i++)
        m[4 + i] = (uint8_t)(sender >> (56 - 8 * i));
    if (nl_endpoint_format(from, (char *)m + n, sizeof m - n) >= 0)
        n += strlen((char *)m + n);
    c = (uint32_t)nl__chat_siphash(s->cookie_key, m, n);
    return c != 0 ? c : 1; /* 0 would mean "no responder half" */
}

/* Remember the name of a HELLO answered while waiting, one slot per address. Returns 0
 * when there is no memory for the names (the HELLO then goes unanswered). */
static int remember_hello(nl__chat_core *s, const nl__frame_hdr *h, const uint8_t *p, size_t len,
                          const nl_endpoint *from, int64_t now)
{
    nl__hello_seen *slot;

    if (s->seen == NULL) {
        if ((s->seen = core_alloc(NL__CHAT_SEEN * sizeof *s->seen)) == NULL)
            return 0; /* not answered: the caller repeats its HELLO */
        memset(s->seen, 0, NL__CHAT_SEEN * sizeof *s->seen);
    }
    slot = &s->seen[0];
    for (int i = 0; i < NL__CHAT_SEEN; i++) {
        if (s->seen[i].at != 0 && nl_endpoint_compare(&s->seen[i].from, from) == 0) {
            slot = &s->seen[i];
            break;
        }
        if (s->seen[i].at < slot->at)
            slot = &s->seen[i];
    }
    slot->from = *from;
    slot->half = HI(h->sid);
    slot->sender = h->sender;
    slot->at = now;
    slot->name_len = len;
    memcpy(slot->name, p, len);
    return 1;
}

/* Answer a HELLO without taking any state: HELLO-ACK with the whole id, our half a cookie. */
static void answer_hello(nl__chat_core *s, const nl__frame_hdr *h, const uint8_t *p, size_t len,
                         const nl_endpoint *from, int64_t now)
{
    uint64_t sid = h->sid | cookie(s, from, HI(h->sid), h->sender);
    uint32_t pn = s->pn_out;

    if (!remember_hello(s, h, p, len, from, now))
        return;
    /* While waiting, every answer has packet number 1: a HELLO flood must not use up the
     * session's numbers. An answer to the same HELLO is the same frame (same id, name and
     * number, hence the same nonce and plaintext), so nothing is revealed by repeating it. */
    if (s->state == NL__ST_WAITING)
        s->pn_out = 0;
    send_frame_to(s, s->peer_known ? NULL : from, NL__FT_HELLO_ACK, sid, 0, 0, 0, s->name,
                  s->name_len);
    if (s->state == NL__ST_WAITING)
        s->pn_out = pn > 1 ? pn : 1;
}

/* A frame with a whole session id while we have no session: the end of a handshake we
 * answered, if its half is the cookie for its sender. Then that sender is the peer. */
static int complete_handshake(nl__chat_core *s, const nl__frame_hdr *h, const nl_endpoint *from,
                              int64_t now)
{
    if (HI(h->sid) == s->half || LO(h->sid) != cookie(s, from, HI(h->sid), h->sender))
        return 0;
    s->sid = h->sid;
    s->them = h->sender;
    s->peer = *from;
    s->pn_max = h->pn - 1; /* this frame's number passes the replay check next */
    s->pn_bits = 0;
    s->peer_name_len = 0;
    s->peer_name[0] = '\0';
    for (int i = 0; s->seen != NULL && i < NL__CHAT_SEEN; i++) {
        const nl__hello_seen *k = &s->seen[i];
        if (k->at != 0 && k->half == HI(h->sid) && k->sender == h->sender &&
            nl_endpoint_compare(&k->from, from) == 0)
            set_peer_name(s, (const uint8_t *)k->name, k->name_len);
    }
    become_open(s, now);
    /* Tell the initiator that we are open (it repeats its ACK until it hears from us). */
    send_ctl(s, NL__FT_PONG, 0);
    return 1;
}

static void on_hello(nl__chat_core *s, const nl__frame_hdr *h, const uint8_t *p, size_t len,
                     const nl_endpoint *from, int64_t now)
{
    switch (s->state) {
    case NL__ST_WAITING:
        answer_hello(s, h, p, len, from, now);
        return;
    case NL__ST_HELLO_SENT:
        /* Both sides were given each other's address and both said HELLO. The one with
         * the larger sender id stays the initiator; the other answers. Either way the peer
         * is there: calling it is not in vain. */
        s->call_start = now;
        s->refused_last = 0;
        if (h->sender > s->me)
            answer_hello(s, h, p, len, from, now);
        else
            s->st.unexpected++;
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

static void on_hello_ack(nl__chat_core *s, const nl__frame_hdr *h, const uint8_t *p, size_t len,
                         int64_t now)
{
    if (s->state == NL__ST_HELLO_SENT && HI(h->sid) == s->half && h->sender != s->me) {
        s->sid = h->sid;
        s->them = h->sender;
        replay_init(s, h->pn);
        set_peer_name(s, p, len);
        s->initiator = 1;
        s->hs_rto = NL__CHAT_RTO_INIT;
        s->hs_due = now + s->hs_rto;
        send_ack(s, 0);
        become_open(s, now);
        return;
    }
    if (s->state >= NL__ST_OPEN && h->sid == s->sid && h->sender == s->them && s->initiator) {
        /* An answer to one of our repeated HELLOs: our ACK may be lost too. */
        if (!replay_check(s, h->pn)) {
            s->st.replayed++;
            return;
        }
        s->st.duplicates++;
        s->last_rx = now;
        if (!s->confirmed)
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
static size_t proto_room(const nl__chat_core *s)
{
    size_t avail = s->queued >= s->queue_max ? 0 : s->queue_max - s->queued;
    size_t full = avail / frag_cost(NL__FRAME_PAYLOAD_MAX);
    size_t rest = avail % frag_cost(NL__FRAME_PAYLOAD_MAX);

    if (avail < msg_cost(0))
        return 0;
    rest = rest > NL__CHAT_FRAG_COST ? rest - NL__CHAT_FRAG_COST : 0;
    return full * NL__FRAME_PAYLOAD_MAX + rest;
}

/* The head of the queue is acknowledged: drop it; a message is delivered when its last
 * fragment goes, since fragments leave the queue in order. */
static void pop_acked(nl__chat_core *s)
{
    nl__out_frag *f;

    while ((f = s->head) != NULL && f->acked) {
        s->head = f->next;
        if (s->head == NULL)
            s->tail = NULL;
        if (f->type == NL__FT_DATA)
            s->queued -= frag_cost(f->len);
        if (f->type == NL__FT_DATA && f->index + 1 == f->count) {
            s->st.messages_acked++;
            push(s, NL_CHAT_EV_DELIVERED, 0, f->msg_id, NULL, 0);
        }
        free(f);
    }
}

static void on_ack(nl__chat_core *s, uint32_t seq, const uint8_t *p, int64_t now)
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
        if ((f->seq == seq || (int32_t)(f->seq - cum) < 0) && !f->acked) {
            f->acked = 1;
            s->progress = now;
        }
    }
    pop_acked(s);
}

/* Put our BYE behind everything queued: it takes the next sequence number, so the peer
 * delivers it after all our messages, and its BYE-ACK acknowledges them all at once. */
static void queue_bye(nl__chat_core *s, int64_t now)
{
    nl__out_frag *bye = calloc(1, sizeof *bye);

    if (bye == NULL) {
        finish(s, NL_ENOMEM);
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
    s->progress = now;
    core_pump(s, now);
}

/* The peer's BYE is delivered: its messages are all in. We answer, and follow it out: our BYE
 * goes behind what we still have queued, so the peer (which keeps reading until our BYE comes)
 * receives every message we accepted before we learnt that it leaves. */
/* Both BYEs are delivered, but the peer may still lack our BYE-ACK, without which it cannot
 * know that its messages arrived: stay a little, repeating it (timers), until the peer says
 * it is done (BYE-DONE), its port is closed (ICMP), or the linger time is up. */
static void linger(nl__chat_core *s, int64_t now)
{
    s->state = NL__ST_LINGER;
    s->linger_deadline = now + NL__CHAT_LINGER_MS;
    s->byeack_due = now + NL__CHAT_BYEACK_MS;
}

/* We end the exchange: tell the peer, which may be lingering for us, so that it goes too. */
static void send_done(nl__chat_core *s)
{
    if (!s->done_sent) {
        s->done_sent = 1;
        send_ctl(s, NL__FT_BYE_DONE, 0);
    }
}

static void peer_bye(nl__chat_core *s, uint32_t seq, int64_t now)
{
    s->peer_left = 1;
    s->peer_bye_seq = seq;
    send_ctl(s, NL__FT_BYE_ACK, seq);
    /* News only when the peer left of its own accord: after our BYE was confirmed, its BYE
     * just ends what it still had for us. */
    if (!s->bye_acked)
        push(s, NL_CHAT_EV_PEER_LEFT, 0, 0, NULL, 0);
    if (s->state == NL__ST_OPEN) {
        queue_bye(s, now);
    } else if (s->state == NL__ST_LEAVING && s->bye_acked) {
        /* Both done. The peer may not have our BYE-ACK yet: stay a little to repeat it. */
        linger(s, now);
    }
}

/* Our BYE is delivered, and with it everything we sent before it. */
static void bye_confirmed(nl__chat_core *s, int64_t now)
{
    for (nl__out_frag *f = s->head; f != NULL; f = f->next)
        f->acked = 1;
    pop_acked(s);
    s->bye_acked = 1;
    s->progress = now;
}

/* No message is being reassembled: its buffer goes (it is made again for the next one). */
static void msg_reset(nl__chat_core *s)
{
    s->msg_count = 0;
    free(s->msg);
    s->msg = NULL;
}

/* Deliver the fragment (or BYE) with the next sequence number: a fragment joins the message
 * being reassembled (a message of one fragment needs no reassembly buffer); the BYE comes
 * after everything the peer sent before it. Returns 0 when there is no memory to reassemble
 * (the session is then over with NL_ENOMEM, and the fragment not acknowledged). */
static int deliver_frag(nl__chat_core *s, int type, uint16_t index, uint16_t count,
                        const uint8_t *data, size_t len, int64_t now)
{
    uint32_t seq = s->rnext;

    if (type != NL__FT_BYE && index == 0 && count > 1 && s->msg == NULL &&
        (s->msg = core_alloc(NL__FRAME_MSG_MAX + 1)) == NULL) {
        finish(s, NL_ENOMEM);
        return 0;
    }
    s->rnext++;
    s->progress = now;
    if (type == NL__FT_BYE) {
        peer_bye(s, seq, now);
        return 1;
    }
    if (index == 0) {
        if (s->msg_count != 0)
            s->st.unexpected++; /* a message cut short: the peer is broken */
        if (count <= 1) {       /* (never 0: the frame decoder refuses it) */
            if (s->msg_count != 0)
                msg_reset(s);
            s->st.messages_in++;
            push(s, NL_CHAT_EV_MESSAGE, 0, ++s->msgs_in, data, len);
            return 1;
        }
        s->msg_len = 0;
        s->msg_count = count;
        s->msg_index = 0;
    } else if (index != s->msg_index || count != s->msg_count || s->msg == NULL) {
        s->st.unexpected++; /* (msg is never NULL while msg_count is set) */
        msg_reset(s);
        return 1;
    }
    memcpy(s->msg + s->msg_len, data, len);
    s->msg_len += len;
    s->msg_index++;
    if (s->msg_index == s->msg_count) {
        s->st.messages_in++;
        push(s, NL_CHAT_EV_MESSAGE, 0, ++s->msgs_in, s->msg, s->msg_len);
        msg_reset(s);
    }
    return 1;
}

/* Deliver in order what the receive window holds, then free the window once it is empty:
 * it exists only while fragments are out of order. */
static void deliver(nl__chat_core *s, int64_t now)
{
    nl__in_slot *sl;

    while (s->rwin != NULL && s->state != NL__ST_CLOSED &&
           (sl = &s->rwin[s->rnext % NL__CHAT_RWIN])->present) {
        if (!deliver_frag(s, sl->type, sl->index, sl->count, sl->data, sl->len, now))
            return;
        sl->present = 0;
        s->rwin_used--;
    }
    if (s->rwin != NULL && s->rwin_used == 0) {
        free(s->rwin);
        s->rwin = NULL;
    }
}

/* DATA and BYE share the sequence space. Anything inside the window is acknowledged (again,
 * if it is a copy), so the sender stops retransmitting; anything beyond it is dropped without
 * an answer, since an honest peer never sends that far ahead. */
static void on_sequenced(nl__chat_core *s, const nl__frame_hdr *h, const uint8_t *p, size_t len,
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
    if (ahead == 0) {
        /* In order: delivered at once, then whatever waited behind it. */
        if (!deliver_frag(s, h->type, h->frag_index, h->frag_count, p, len, now))
            return;
        deliver(s, now);
        if (h->type == NL__FT_DATA && s->state != NL__ST_CLOSED)
            send_ack(s, h->seq);
        return;
    }
    /* Out of order: held in the receive window, made now if there is none. */
    if (s->rwin == NULL) {
        if ((s->rwin = core_alloc(NL__CHAT_RWIN * sizeof *s->rwin)) == NULL) {
            finish(s, NL_ENOMEM); /* not acknowledged: nothing the peer thinks arrived */
            return;
        }
        for (int i = 0; i < NL__CHAT_RWIN; i++)
            s->rwin[i].present = 0;
    }
    sl = &s->rwin[h->seq % NL__CHAT_RWIN];
    if (sl->present) {
        s->st.duplicates++;
    } else {
        sl->present = 1;
        s->rwin_used++;
        sl->type = h->type;
        sl->index = h->frag_index;
        sl->count = h->frag_count;
        sl->len = (uint16_t)len;
        memcpy(sl->data, p, len);
    }
    /* A BYE is acknowledged only once it is delivered, i.e. in deliver(). */
    if (h->type == NL__FT_DATA)
        send_ack(s, h->seq);
}

static void count_reason(nl__chat_core *s, int reason)
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

static void warn_once(nl__chat_core *s, unsigned what, int code)
{
    if (s->warned & what)
        return;
    s->warned |= what;
    push(s, NL_CHAT_EV_WARNING, code, 0, NULL, 0);
}

/* A frame that fails authentication before any peer joined, from the peer's address (or a
 * HELLO, while waiting for anyone): a few of them, and nothing valid, mean the two sides
 * almost certainly hold different keys (or only one has a key). Silence would leave both
 * users waiting forever, so the session says so, once. After joining, the same failure is
 * a forgery, not a mistake, and is only counted. */
static void auth_failed(nl__chat_core *s, const uint8_t *buf)
{
    if (s->joined || (!s->peer_known && buf[3] != NL__FT_HELLO))
        return;
    if (++s->auth_fails >= NL__CHAT_AUTH_WARN)
        warn_once(s, NL__WARN_AUTH, NL_EBADFRAME);
}

static void proto_input(nl__chat_core *s, const uint8_t *buf, size_t len, const nl_endpoint *from,
                        int64_t now)
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
        if (reason == NL__FR_AUTH)
            auth_failed(s, buf);
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
    if (s->state < NL__ST_OPEN && !complete_handshake(s, &h, from, now)) {
        s->st.bad_session++;
        return;
    }
    if (h.sid != s->sid || h.sender != s->them) {
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
    s->confirmed = 1; /* initiator: a frame other than HELLO-ACK shows the responder is open */
    switch (h.type) {
    case NL__FT_ACK:
        if (h.seq == 0 && !s->initiator)
            send_ctl(s, NL__FT_PONG, 0); /* the initiator repeats it until it hears from us */
        on_ack(s, h.seq, s->pay, now);
        core_pump(s, now);
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
        if (!s->bye_sent || h.seq != s->bye_seq) {
            s->st.unexpected++;
        } else if (s->bye_acked) {
            s->st.duplicates++;
            /* The peer lingers, repeating its BYE-ACK: our BYE-DONE was lost. Say it again
             * (once per BYE-ACK), so that it goes now rather than at its linger's end. */
            if (s->state == NL__ST_LINGER && s->done_sent)
                send_ctl(s, NL__FT_BYE_DONE, 0);
        } else {
            bye_confirmed(s, now);
            if (s->peer_left) {
                /* The peer's BYE came first: tell it that we are done. Our BYE-ACK for its
                 * BYE may have been lost, and then the peer still waits to learn that its
                 * messages arrived: linger to repeat it, until it says it is done. */
                send_done(s);
                linger(s, now);
            }
            /* Otherwise the peer is still sending what it had queued: its BYE follows. */
        }
        break;
    case NL__FT_BYE_DONE:
        /* The peer has our BYE and its own is acknowledged: it goes. It can only have sent
         * this after delivering our BYE, so our messages are all delivered too. */
        if (s->state == NL__ST_LINGER) {
            send_done(s);
            finish(s, 0);
        } else if (s->state == NL__ST_LEAVING && s->peer_left) {
            bye_confirmed(s, now);
            send_done(s);
            finish(s, 0);
        } else {
            s->st.unexpected++;
        }
        break;
    default:
        s->st.unexpected++;
        break;
    }
}

/* Send what the window allows: new fragments at once, old ones when their timeout is up,
 * each time with a doubled timeout. While leaving (or in a hurry: a room's end), the backoff
 * stops doubling sooner: the user waits for the exit, and the exit has a deadline. */
static void core_pump(nl__chat_core *s, int64_t now)
{
    int cap = s->state == NL__ST_LEAVING || s->hurry ? NL__CHAT_RTO_BYE_MAX : NL__CHAT_RTO_MAX;
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

static int64_t proto_send(nl__chat_core *s, const void *text, size_t len, int64_t now)
{
    const uint8_t *p = text;
    size_t count = len == 0 ? 1 : (len + NL__FRAME_PAYLOAD_MAX - 1) / NL__FRAME_PAYLOAD_MAX;
    nl__out_frag *first = NULL, *last = NULL, *f;
    uint64_t id;

    if (s->queued + msg_cost(len) > s->queue_max)
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
    core_pump(s, now);
    return (int64_t)id;
}

static void proto_leave(nl__chat_core *s, int64_t now)
{
    switch (s->state) {
    case NL__ST_OPEN:
        /* The BYE goes into the queue behind the messages, without waiting for their
         * acknowledgements: the peer delivers it only after them, and its BYE-ACK then
         * acknowledges everything at once, which is what makes the exit quick at high loss. */
        queue_bye(s, now);
        break;
    case NL__ST_LEAVING:
    case NL__ST_LINGER:
        break; /* leaving already */
    case NL__ST_HELLO_SENT:
        /* Messages wait for the handshake: leave once they are out (the caller's give-up
         * time bounds the wait). Without any, there is nobody to say goodbye to. */
        if (s->head != NULL)
            s->leave_asked = 1;
        else
            finish(s, 0);
        break;
    default:
        /* Nobody to say goodbye to; queued messages can go nowhere, and the status says so. */
        finish(s, s->head != NULL ? NL_ENOTCONN : 0);
        break;
    }
}

/* Messages accepted by send() but not acknowledged: what a premature end loses. */
static uint64_t undelivered(const nl__chat_core *s)
{
    return s->st.messages_out - s->st.messages_acked;
}

/* Leaving ends without the full exchange: say why. When the peer's BYE was delivered and all
 * our messages were acknowledged, nothing was lost and only the goodbye went unconfirmed. */
static int leave_outcome(const nl__chat_core *s, int64_t now)
{
    if ((s->bye_acked || undelivered(s) == 0) && s->peer_left)
        return 0;
    return now - s->last_rx >= s->leave_ms ? NL_EPEERLOST : NL_ETIMEDOUT;
}

/* An ICMP "port unreachable": after the peer's BYE it means the peer is gone, which is what
 * we were waiting for. While calling, it means nobody listens there yet: worth telling the
 * user, not a reason to stop. Otherwise it is no proof of anything (ICMP can be forged): the
 * timers decide. */
static void proto_refused(nl__chat_core *s, int64_t now)
{
    (void)now;
    if (s->state == NL__ST_HELLO_SENT) {
        /* Calling a port where nothing listens: say so once, and keep calling (the peer
         * may start later); the give-up time bounds the wait. */
        s->refused_last = 1;
        warn_once(s, NL__WARN_REFUSED, NL_ECONNREFUSED);
    } else if (s->state == NL__ST_LINGER) {
        finish(s, 0);
    } else if (s->state == NL__ST_LEAVING && s->peer_left) {
        finish(s, undelivered(s) == 0 ? 0 : NL_EPEERLOST);
    } else if (s->state == NL__ST_LEAVING && s->bye_acked) {
        /* The peer confirmed our BYE, then closed without sending its own: what it had not
         * sent yet will not come, and waiting for the time-out changes nothing. */
        finish(s, NL_EPEERLOST);
    }
}

static void proto_timers(nl__chat_core *s, int64_t now)
{
    switch (s->state) {
    case NL__ST_HELLO_SENT:
        if (s->call_ms > 0 && now >= s->call_start + s->call_ms) {
            finish(s, s->refused_last ? NL_ECONNREFUSED : NL_ETIMEDOUT);
            return;
        }
        if (now >= s->call_start + NL__CHAT_NOANSWER_MS && !(s->warned & NL__WARN_REFUSED))
            warn_once(s, NL__WARN_NOANSWER, NL_ETIMEDOUT);
        if (now >= s->hs_due) {
            s->hs_rto = min_int(s->hs_rto * 2, NL__CHAT_RTO_MAX);
            s->hs_due = now + s->hs_rto;
            s->st.retransmits++;
            send_hello(s);
        }
        return;
    case NL__ST_LINGER:
        if (now >= s->linger_deadline) {
            finish(s, 0);
        } else if (now >= s->byeack_due) {
            /* The leaver may not have our BYE-ACK: repeating it unasked makes the exit
             * reliable at high loss without making the leaver wait longer. */
            s->byeack_due = now + NL__CHAT_BYEACK_MS;
            send_ctl(s, NL__FT_BYE_ACK, s->peer_bye_seq);
        }
        return;
    case NL__ST_LEAVING:
        /* The deadline counts from the last progress, not from leave(): a slow but working
         * exchange (high loss, much queued) finishes; one where nothing moves gives up. */
        if (now >= s->progress + s->leave_ms) {
            finish(s, leave_outcome(s, now));
            return;
        }
        break;
    case NL__ST_OPEN:
        break;
    default:
        return;
    }
    /* OPEN and LEAVING: the end of the handshake, liveness, then retransmissions. */
    if (s->initiator && !s->confirmed && now >= s->hs_due) {
        s->hs_rto = min_int(s->hs_rto * 2, NL__CHAT_RTO_MAX);
        s->hs_due = now + s->hs_rto;
        s->st.retransmits++;
        send_ack(s, 0);
    }
    if (now - s->last_rx >= s->lost_ms) {
        push(s, NL_CHAT_EV_PEER_LOST, NL_EPEERLOST, 0, NULL, 0);
        finish(s, NL_EPEERLOST);
        return;
    }
    if (now >= s->ping_due) {
        s->ping_due = now + (s->keepalive_ms / 2 > 50 ? s->keepalive_ms / 2 : 50);
        send_ctl(s, NL__FT_PING, 0);
    }
    core_pump(s, now);
}

static int64_t proto_deadline(const nl__chat_core *s)
{
    int64_t d = -1;
    const nl__out_frag *f;
    int n = 0;

#define EARLIER(t) (d = (d < 0 || (t) < d) ? (t) : d)
    switch (s->state) {
    case NL__ST_HELLO_SENT:
        EARLIER(s->hs_due);
        if (s->call_ms > 0)
            EARLIER(s->call_start + s->call_ms);
        if (!(s->warned & (NL__WARN_REFUSED | NL__WARN_NOANSWER)))
            EARLIER(s->call_start + NL__CHAT_NOANSWER_MS);
        return d;
    case NL__ST_LINGER:
        EARLIER(s->byeack_due);
        EARLIER(s->linger_deadline);
        return d;
    case NL__ST_LEAVING:
        EARLIER(s->progress + s->leave_ms);
        /* fall through */
    case NL__ST_OPEN:
        if (s->initiator && !s->confirmed)
            EARLIER(s->hs_due);
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

/* ---- The core's surface: events, plain mode, and the commands with their checks. ---- */

void nl__chat_ftrace(nl__chat_core *s, const char *what, const char *fmt, ...)
{
    char args[NL__TRACE_ARGS];
    nl_trace_event ev;
    va_list ap;

    if (s->trace == NULL)
        return;
    va_start(ap, fmt);
    nl__trace_event(&ev, args, what, s->trace_fd, 0, 0, fmt, ap);
    va_end(ap);
    s->trace(&ev, s->trace_user);
}

/* Queue an event; its data is copied and NUL-terminated. An event that cannot be queued
 * would be a message silently lost, so running out of memory (or room: the driver is not
 * taking events) ends the session instead (its CLOSED event needs no memory). */
static int push_event(nl__chat_core *s, nl_chat_event_type type, int code, uint64_t id,
                      const void *data, size_t len)
{
    nl__chat_ev *it;
    char *own = NULL;

    if (s->ev_head + s->ev_count == s->ev_cap) {
        if (s->ev_head > 0) {
            memmove(s->evq, s->evq + s->ev_head, s->ev_count * sizeof *s->evq);
            s->ev_head = 0;
        } else {
            size_t cap = s->ev_cap ? s->ev_cap * 2 : 16;
            nl__chat_ev *q;
            if (cap > NL__CHAT_EVQ_MAX || (q = realloc(s->evq, cap * sizeof *q)) == NULL)
                return NL_ENOMEM;
            s->evq = q;
            s->ev_cap = cap;
        }
    }
    if (data != NULL) {
        own = malloc(len + 1);
        if (own == NULL)
            return NL_ENOMEM;
        memcpy(own, data, len);
        own[len] = '\0';
    }
    it = &s->evq[s->ev_head + s->ev_count++];
    memset(it, 0, sizeof *it);
    it->ev.type = type;
    it->ev.code = code;
    it->ev.msg_id = id;
    it->ev.data = own != NULL ? own : "";
    it->ev.len = own != NULL ? len : 0;
    it->ev.peer = s->peer;
    it->own = own;
    return 0;
}

static int push(nl__chat_core *s, nl_chat_event_type type, int code, uint64_t id, const void *data,
                size_t len)
{
    int rc = push_event(s, type, code, id, data, len);

    if (rc < 0)
        finish(s, rc);
    return rc;
}

/* End the session. The CLOSED event is not queued (that could fail for want of memory):
 * nl__chat_core_events() makes it once every other event has been handed out. */
static void finish(nl__chat_core *s, int status)
{
    if (s->state == NL__ST_CLOSED)
        return;
    s->state = NL__ST_CLOSED;
    s->status = status;
    nl__chat_ftrace(s, "chat-closed", "%s", nl_err_name(status));
}

int nl__chat_core_events(nl__chat_core *s, nl_chat_event *events, size_t max)
{
    size_t n = 0;

    release_lent(s);
    if (s->closed_reported)
        return NL_ECLOSED;
    if (s->lent_cap < max) {
        char **l = realloc(s->lent, max * sizeof *l);
        if (l == NULL)
            return NL_ENOMEM;
        s->lent = l;
        s->lent_cap = max;
    }
    while (n < max && s->ev_count > 0) {
        nl__chat_ev *it = &s->evq[s->ev_head];
        events[n++] = it->ev;
        if (it->own != NULL)
            s->lent[s->lent_count++] = it->own;
        s->ev_head++;
        s->ev_count--;
    }
    if (s->ev_count == 0)
        s->ev_head = 0;
    if (n < max && s->ev_count == 0 && s->state == NL__ST_CLOSED && !s->closed_reported) {
        memset(&events[n], 0, sizeof events[n]);
        events[n].type = NL_CHAT_EV_CLOSED;
        events[n].code = s->status;
        events[n].data = "";
        events[n].peer = s->peer;
        s->closed_reported = 1;
        n++;
    }
    return (int)n;
}

/* Plain mode: every datagram from the peer is a message, except "q", which ends the chat.
 * One trailing newline (as socat and nc send lines) is not part of the text. */
static void plain_input(nl__chat_core *s, const uint8_t *buf, size_t len, const nl_endpoint *from)
{
    s->st.datagrams_in++;
    if (s->peer_known && nl_endpoint_compare(from, &s->peer) != 0) {
        s->st.wrong_source++;
        nl__chat_ftrace(s, "drop", "wrong source, %zu bytes", len);
        return;
    }
    if (!s->peer_known) {
        s->peer = *from;
        s->peer_known = 1;
        s->state = NL__ST_OPEN;
    }
    if (!s->joined) {
        s->joined = 1;
        push(s, NL_CHAT_EV_PEER_JOINED, 0, 0, "", 0);
    }
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    if (len == 1 && buf[0] == 'q') {
        push(s, NL_CHAT_EV_PEER_LEFT, 0, 0, NULL, 0);
        finish(s, 0);
        return;
    }
    s->st.messages_in++;
    push(s, NL_CHAT_EV_MESSAGE, 0, ++s->msgs_in, buf, len);
}

void nl__chat_core_input(nl__chat_core *s, const uint8_t *buf, size_t len, const nl_endpoint *from,
                         int64_t now)
{
    trim(s);
    if (s->state == NL__ST_CLOSED)
        return;
    if (s->mode == NL_CHAT_PLAIN)
        plain_input(s, buf, len, from);
    else
        proto_input(s, buf, len, from, now);
}

void nl__chat_core_timers(nl__chat_core *s, int64_t now)
{
    trim(s);
    if (s->mode == NL_CHAT_RELIABLE && s->state != NL__ST_CLOSED)
        proto_timers(s, now);
}

void nl__chat_core_refused(nl__chat_core *s, int64_t now)
{
    trim(s);
    if (s->mode == NL_CHAT_RELIABLE && s->state != NL__ST_CLOSED)
        proto_refused(s, now);
}

int64_t nl__chat_core_deadline(const nl__chat_core *s)
{
    if (s->ev_count > 0 || (s->state == NL__ST_CLOSED && !s->closed_reported))
        return 0;
    if (s->state == NL__ST_CLOSED || s->mode == NL_CHAT_PLAIN)
        return -1;
    return proto_deadline(s);
}

int64_t nl__chat_core_send(nl__chat_core *s, const void *text, size_t len, int64_t now)
{
    if (text == NULL && len > 0)
        return NL_EINVAL;
    trim(s);
    if (s->state == NL__ST_CLOSED)
        return NL_ECLOSED;
    if (s->state == NL__ST_LEAVING || s->state == NL__ST_LINGER)
        return NL_ESHUTDOWN;
    if (s->mode != NL_CHAT_RELIABLE)
        return NL_EINVAL; /* plain mode has no protocol: the driver sends the text itself */
    if (len > NL_CHAT_MSG_MAX)
        return NL_EMSGSIZE;
    return proto_send(s, text, len, now);
}

void nl__chat_core_leave(nl__chat_core *s, int64_t now)
{
    trim(s);
    if (s->state == NL__ST_CLOSED || s->state == NL__ST_LEAVING)
        return;
    if (s->mode == NL_CHAT_PLAIN) {
        /* The notes' programs end on "q"; telling the peer is the plain-mode BYE. */
        nl__chat_dgram *d;
        if (s->peer_known && (d = out_slot(s)) != NULL) {
            d->has_to = 0;
            d->len = 1;
            d->data[0] = 'q';
            s->out_count++;
        }
        finish(s, 0);
        return;
    }
    proto_leave(s, now);
}

void nl__chat_core_fail(nl__chat_core *s, int err)
{
    trim(s);
    push(s, NL_CHAT_EV_ERROR, err, 0, NULL, 0);
    finish(s, err);
}

void nl__chat_core_move_seen(nl__chat_core *to, nl__chat_core *from)
{
    free(to->seen);
    to->seen = from->seen;
    from->seen = NULL;
}

size_t nl__chat_core_footprint(const nl__chat_core *s)
{
    size_t n = sizeof *s + s->queued;

    n += s->rwin != NULL ? NL__CHAT_RWIN * sizeof *s->rwin : 0;
    n += s->msg != NULL ? NL__FRAME_MSG_MAX + 1 : 0;
    n += s->seen != NULL ? NL__CHAT_SEEN * sizeof *s->seen : 0;
    n += s->out_cap * sizeof *s->out + s->ev_cap * sizeof *s->evq + s->lent_cap * sizeof *s->lent;
    return n;
}

size_t nl__chat_core_room(const nl__chat_core *s)
{
    if (s->state == NL__ST_CLOSED)
        return 0;
    if (s->mode == NL_CHAT_PLAIN)
        return NL__CHAT_QUEUE_MAX;
    return proto_room(s);
}

int nl__chat_core_status(const nl__chat_core *s)
{
    return s->state == NL__ST_CLOSED ? s->status : NL_EAGAIN;
}
