/* CMocka tests of nl_chat_session, driven through a deterministic fault-injecting relay.
 *
 * Session A calls the relay's socket X; session B waits and locks onto the relay's socket Y.
 * The relay forwards between them and, from a seeded generator, drops, duplicates and reorders
 * datagrams and injects foreign ones: from an intruder socket (another address), and forged
 * ones from X or Y themselves, which is exactly what an attacker spoofing the peer's address
 * achieves. Outcomes (what is delivered, the counters, how the session ends) must hold for the
 * seed; the timing is real, so the retransmission and keepalive paths run as in production. */
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "chat_int.h"
#include "frame.h"
#include "internal.h"

#define MAXLOG 128

typedef struct side {
    nl_chat_session *s;
    nl_endpoint addr;
    int joined, left, lost, closed, status;
    char peer_name[NL_CHAT_NAME_MAX + 1];
    int nmsg, ndelivered;
    int nwarn, warn[8];
    char *msg[MAXLOG];
    size_t msg_len[MAXLOG];
    uint64_t delivered[MAXLOG];
} side;

typedef struct relay {
    nl_udp *x, *y, *intruder;
    nl_endpoint xa, ya;
    uint64_t rng;
    int drop, dup, reorder; /* percentages                                   */
    int blackhole;          /* drop everything                               */
    int block_to_a;         /* drop everything B sends                       */
    uint8_t held[NL_UDP_MAX_DATAGRAM];
    size_t held_len;
    int held_to_b, have_held;
    uint8_t last_a[NL__FRAME_MAX]; /* the last datagram A sent, for replays    */
    size_t last_a_len;
    int forwarded;
    int pace_ms;   /* > 0: A's datagrams pass one per pace_ms (a slow link)  */
    int64_t paced; /* when the last one passed                              */
} relay;

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* xorshift64*: small, seeded, the same sequence on every machine. */
static uint32_t rnd(relay *r)
{
    r->rng ^= r->rng >> 12;
    r->rng ^= r->rng << 25;
    r->rng ^= r->rng >> 27;
    return (uint32_t)((r->rng * 0x2545F4914F6CDD1Dull) >> 32);
}

static nl_endpoint loopback0(void)
{
    nl_endpoint ep;

    assert_int_equal(nl_endpoint_parse(&ep, "127.0.0.1:0", 0), 0);
    return ep;
}

static void relay_open(relay *r, uint64_t seed)
{
    nl_endpoint any = loopback0();

    memset(r, 0, sizeof *r);
    r->rng = seed;
    assert_int_equal(nl_udp_open_bound(&r->x, &any, NULL), 0);
    assert_int_equal(nl_udp_open_bound(&r->y, &any, NULL), 0);
    assert_int_equal(nl_udp_open_bound(&r->intruder, &any, NULL), 0);
    assert_int_equal(nl_udp_local(r->x, &r->xa), 0);
    assert_int_equal(nl_udp_local(r->y, &r->ya), 0);
}

static void relay_close(relay *r)
{
    nl_udp_close(r->x);
    nl_udp_close(r->y);
    nl_udp_close(r->intruder);
}

static int g_leave_ms = 1500;

static void side_open(side *sd, nl_chat_mode mode, const nl_endpoint *peer, const char *name,
                      const unsigned char *key, int lost_ms)
{
    nl_chat_opts o = {0};

    memset(sd, 0, sizeof *sd);
    o.mode = mode;
    o.bind = loopback0();
    if (peer != NULL)
        o.peer = *peer;
    o.name = name;
    o.key = key;
    o.peer_lost_ms = lost_ms;
    o.leave_timeout_ms = g_leave_ms;
    assert_int_equal(nl_chat_session_open(&sd->s, &o), 0);
    assert_int_equal(nl_chat_session_local(sd->s, &sd->addr), 0);
    sd->status = NL_EAGAIN;
}

static void side_close(side *sd)
{
    for (int i = 0; i < sd->nmsg; i++)
        free(sd->msg[i]);
    nl_chat_session_close(sd->s);
}

static void side_step(side *sd)
{
    nl_chat_event ev[8];
    int n;

    if (sd->closed)
        return;
    n = nl_chat_session_step(sd->s, ev, 8, 0);
    assert_true(n >= 0);
    for (int i = 0; i < n; i++) {
        switch (ev[i].type) {
        case NL_CHAT_EV_PEER_JOINED:
            sd->joined++;
            snprintf(sd->peer_name, sizeof sd->peer_name, "%s", ev[i].data);
            break;
        case NL_CHAT_EV_MESSAGE:
            assert_true(sd->nmsg < MAXLOG);
            assert_int_equal(ev[i].msg_id, (uint64_t)sd->nmsg + 1);
            assert_int_equal(ev[i].data[ev[i].len], '\0');
            sd->msg[sd->nmsg] = malloc(ev[i].len + 1);
            memcpy(sd->msg[sd->nmsg], ev[i].data, ev[i].len + 1);
            sd->msg_len[sd->nmsg++] = ev[i].len;
            break;
        case NL_CHAT_EV_DELIVERED:
            sd->delivered[sd->ndelivered++] = ev[i].msg_id;
            break;
        case NL_CHAT_EV_PEER_LEFT:
            sd->left++;
            break;
        case NL_CHAT_EV_PEER_LOST:
            sd->lost++;
            break;
        case NL_CHAT_EV_CLOSED:
            sd->closed = 1;
            sd->status = ev[i].code;
            break;
        case NL_CHAT_EV_WARNING:
            assert_true(sd->nwarn < 8);
            sd->warn[sd->nwarn++] = ev[i].code;
            break;
        default:
            break;
        }
    }
}

static void forward(relay *r, const uint8_t *buf, size_t len, int to_b, side *a, side *b)
{
    nl_udp *out = to_b ? r->y : r->x;
    const nl_endpoint *dst = to_b ? &b->addr : &a->addr;
    int copies = 1;

    if (r->blackhole || (!to_b && r->block_to_a) || (int)(rnd(r) % 100) < r->drop)
        return;
    if ((int)(rnd(r) % 100) < r->dup)
        copies = 2;
    if (!r->have_held && (int)(rnd(r) % 100) < r->reorder) {
        memcpy(r->held, buf, len); /* overtaken by the next datagram */
        r->held_len = len;
        r->held_to_b = to_b;
        r->have_held = 1;
        return;
    }
    while (copies-- > 0)
        nl_udp_send_to(out, buf, len, dst, 0);
    r->forwarded++;
    if (r->have_held) {
        r->have_held = 0;
        nl_udp_send_to(r->held_to_b ? r->y : r->x, r->held, r->held_len,
                       r->held_to_b ? &b->addr : &a->addr, 0);
    }
}

static void relay_pump(relay *r, side *a, side *b)
{
    uint8_t buf[NL_UDP_MAX_DATAGRAM];
    nl_endpoint from;
    ssize_t n;

    while ((r->pace_ms == 0 || now_ms() - r->paced >= r->pace_ms) &&
           (n = nl_udp_recv_from(r->x, buf, sizeof buf, &from, 0)) >= 0) {
        r->paced = now_ms();
        if ((size_t)n <= sizeof r->last_a) {
            memcpy(r->last_a, buf, (size_t)n);
            r->last_a_len = (size_t)n;
        }
        forward(r, buf, (size_t)n, 1, a, b);
    }
    while ((n = nl_udp_recv_from(r->y, buf, sizeof buf, &from, 0)) >= 0)
        forward(r, buf, (size_t)n, 0, a, b);
}

/* Run both sessions and the relay until cond holds or the time is up. */
typedef int (*cond_fn)(side *a, side *b);

static int run(relay *r, side *a, side *b, cond_fn cond, int limit_ms)
{
    int64_t end = now_ms() + limit_ms;

    while (!cond(a, b)) {
        struct pollfd p[4];
        int t = 20, ta, tb;

        if (now_ms() >= end)
            return 0;
        ta = a->closed ? -1 : nl_chat_session_next_timeout_ms(a->s);
        tb = b->closed ? -1 : nl_chat_session_next_timeout_ms(b->s);
        if (ta >= 0 && ta < t)
            t = ta;
        if (tb >= 0 && tb < t)
            t = tb;
        p[0] = (struct pollfd){.fd = nl_chat_session_fd(a->s), .events = POLLIN};
        p[1] = (struct pollfd){.fd = nl_chat_session_fd(b->s), .events = POLLIN};
        p[2] = (struct pollfd){.fd = r->pace_ms ? -1 : nl_udp_fd(r->x), .events = POLLIN};
        if (r->pace_ms && t > r->pace_ms)
            t = r->pace_ms;
        p[3] = (struct pollfd){.fd = nl_udp_fd(r->y), .events = POLLIN};
        poll(p, 4, t);
        relay_pump(r, a, b);
        side_step(a);
        side_step(b);
    }
    return 1;
}

static int both_joined(side *a, side *b)
{
    return a->joined && b->joined;
}

static int both_closed(side *a, side *b)
{
    return a->closed && b->closed;
}

static int g_want;
static int all_received(side *a, side *b)
{
    return a->nmsg >= g_want && b->nmsg >= g_want && a->ndelivered >= g_want &&
           b->ndelivered >= g_want;
}

static char *make_msg(int who, int i, size_t *len)
{
    size_t n = i == 3 ? NL_CHAT_MSG_MAX : i == 5 ? 0 : i == 6 ? 10000 : 20;
    char *m = malloc(n + 1);

    for (size_t k = 0; k < n; k++)
        m[k] = (char)('a' + (k * 7 + (size_t)i * 3 + (size_t)who) % 26);
    if (n >= 8) {
        char tag[16];
        snprintf(tag, sizeof tag, "%c%05d", who ? 'B' : 'A', i % 100000);
        memcpy(m, tag, 6);
    }
    m[n] = '\0';
    *len = n;
    return m;
}

/* Exchange n messages each way through the relay; check once, in order, intact. */
static void exchange(relay *r, side *a, side *b, int n, int limit_ms)
{
    for (int i = 0; i < n; i++) {
        size_t la, lb;
        char *ma = make_msg(0, i, &la), *mb = make_msg(1, i, &lb);
        assert_int_equal(nl_chat_session_send(a->s, ma, la), i + 1);
        assert_int_equal(nl_chat_session_send(b->s, mb, lb), i + 1);
        free(ma);
        free(mb);
    }
    g_want = n;
    assert_true(run(r, a, b, all_received, limit_ms));
    for (int i = 0; i < n; i++) {
        size_t la, lb;
        char *ma = make_msg(0, i, &la), *mb = make_msg(1, i, &lb);
        assert_int_equal(b->msg_len[i], la);
        assert_memory_equal(b->msg[i], ma, la);
        assert_int_equal(a->msg_len[i], lb);
        assert_memory_equal(a->msg[i], mb, lb);
        assert_int_equal(a->delivered[i], (uint64_t)i + 1);
        assert_int_equal(b->delivered[i], (uint64_t)i + 1);
        free(ma);
        free(mb);
    }
    assert_int_equal(a->nmsg, n);
    assert_int_equal(b->nmsg, n);
}

static void setup_pair(relay *r, side *a, side *b, uint64_t seed, const unsigned char *key)
{
    relay_open(r, seed);
    side_open(b, NL_CHAT_RELIABLE, NULL, "bob", key, 0);
    side_open(a, NL_CHAT_RELIABLE, &r->xa, "alice", key, 0);
    /* B learns its peer from the first HELLO: the relay's Y socket. Until it speaks, the relay
     * sends A's datagrams there. */
}

static void leave_and_check(relay *r, side *a, side *b, int limit_ms)
{
    assert_int_equal(nl_chat_session_leave(a->s), 0);
    assert_int_equal(nl_chat_session_send(a->s, "x", 1), NL_ESHUTDOWN);
    assert_true(run(r, a, b, both_closed, limit_ms));
    assert_int_equal(a->status, 0);
    assert_int_equal(b->status, 0);
    assert_int_equal(b->left, 1);
    assert_int_equal(nl_chat_session_status(a->s), 0);
    assert_int_equal(nl_chat_session_step(a->s, (nl_chat_event[1]){{0}}, 1, 0), NL_ECLOSED);
}

static void test_clean(void **state)
{
    relay r;
    side a, b;
    nl_chat_stats st;

    (void)state;
    setup_pair(&r, &a, &b, 1, NULL);
    assert_true(run(&r, &a, &b, both_joined, 3000));
    assert_string_equal(a.peer_name, "bob");
    assert_string_equal(b.peer_name, "alice");
    exchange(&r, &a, &b, 10, 5000);
    nl_chat_session_stats(a.s, &st);
    assert_int_equal(st.retransmits, 0);
    assert_int_equal(st.messages_in, 10);
    assert_int_equal(st.messages_out, 10);
    leave_and_check(&r, &a, &b, 1000);
    side_close(&a);
    side_close(&b);
    relay_close(&r);
}

static void lossy(uint64_t seed)
{
    relay r;
    side a, b;
    nl_chat_stats sa, sb;

    setup_pair(&r, &a, &b, seed, NULL);
    r.drop = 30;
    r.dup = 10;
    r.reorder = 20;
    assert_true(run(&r, &a, &b, both_joined, 8000));
    exchange(&r, &a, &b, 20, 30000);
    /* Messages still in flight when A leaves are delivered before the BYE, all of them. */
    for (int i = 0; i < 5; i++) {
        size_t l;
        char *m = make_msg(0, 20 + i, &l);
        assert_true(nl_chat_session_send(a.s, m, l) > 0);
        free(m);
    }
    leave_and_check(&r, &a, &b, 5000);
    assert_int_equal(b.nmsg, 25);
    for (int i = 0; i < 5; i++) {
        size_t l;
        char *m = make_msg(0, 20 + i, &l);
        assert_int_equal(b.msg_len[20 + i], l);
        assert_memory_equal(b.msg[20 + i], m, l);
        free(m);
    }
    assert_int_equal(a.ndelivered, 25); /* the BYE-ACK confirmed them too */
    nl_chat_session_stats(a.s, &sa);
    nl_chat_session_stats(b.s, &sb);
    assert_true(sa.retransmits > 0 && sb.retransmits > 0);
    assert_true(sa.duplicates + sb.duplicates > 0);
    assert_true(sa.replayed + sb.replayed > 0); /* network duplicates: same packet number */
    side_close(&a);
    side_close(&b);
    relay_close(&r);
}

static void test_lossy_seed1(void **state)
{
    (void)state;
    lossy(0x9e3779b97f4a7c15ull);
}

static void test_lossy_seed2(void **state)
{
    (void)state;
    lossy(42);
}

/* Forged traffic at both layers: a third address (while B is still unconnected), and frames
 * from the peer's own address with a wrong session id, garbage, and a replay. */
static void interference(const unsigned char *key)
{
    relay r;
    side a, b;
    nl_chat_stats st;
    uint8_t buf[NL__FRAME_MAX];
    nl__frame_hdr h = {0};
    int n;

    setup_pair(&r, &a, &b, 7, key);
    /* The intruder speaks to B before anyone: a non-HELLO frame from an unknown address. */
    h.type = NL__FT_DATA;
    h.sid = 0x0101010102020202ull;
    h.sender = 5;
    h.seq = 1;
    h.pn = 1;
    h.frag_count = 1;
    n = nl__frame_encode(buf, sizeof buf, &h, "intruder", 8, key);
    assert_true(n > 0);
    nl_udp_send_to(r.intruder, buf, (size_t)n, &b.addr, 0);
    assert_true(run(&r, &a, &b, both_joined, 3000));
    exchange(&r, &a, &b, 2, 3000);
    /* Spoofing the peer's address: relay socket X is A's peer. */
    nl_udp_send_to(r.x, "plain text", 10, &a.addr, 0);
    nl_udp_send_to(r.x, buf, (size_t)n, &a.addr, 0);         /* another session's frame */
    nl_udp_send_to(r.y, r.last_a, r.last_a_len, &b.addr, 0); /* a replay of A's last frame */
    if (key != NULL) {
        /* The right ids, but sealed with another key: a forged message and a forged BYE. */
        static const unsigned char wrong[NL_CHAT_KEY_BYTES] = {9};
        nl__frame_hdr f;
        uint8_t p[NL__FRAME_PAYLOAD_MAX];
        assert_true(nl__frame_decode(&f, p, r.last_a, r.last_a_len, key, NULL) >= 0);
        f.type = NL__FT_BYE;
        f.seq = 100;
        f.pn += 1000;
        n = nl__frame_encode(buf, sizeof buf, &f, NULL, 0, wrong);
        nl_udp_send_to(r.y, buf, (size_t)n, &b.addr, 0);
    }
    {
        size_t l;
        char *m = make_msg(0, 9, &l);
        assert_int_equal(nl_chat_session_send(a.s, m, l), 3);
        g_want = 3;
        assert_int_equal(nl_chat_session_send(b.s, m, l), 3);
        assert_true(run(&r, &a, &b, all_received, 3000));
        free(m);
    }
    assert_int_equal(b.nmsg, 3); /* nothing forged was delivered */
    assert_int_equal(a.nmsg, 3);
    assert_int_equal(b.left, 0);
    nl_chat_session_stats(a.s, &st);
    assert_true(st.bad_length >= 1);  /* "plain text": shorter than a header */
    assert_true(st.bad_session >= 1); /* another session's frame */
    nl_chat_session_stats(b.s, &st);
    assert_true(st.bad_session >= 1); /* the intruder's frame, before B had a peer */
    assert_true(st.replayed >= 1);
    if (key != NULL)
        assert_true(st.auth_failed >= 1); /* the BYE forged with the wrong key */
    leave_and_check(&r, &a, &b, 1000);
    side_close(&a);
    side_close(&b);
    relay_close(&r);
}

static void test_interference(void **state)
{
    (void)state;
    interference(NULL);
}

static void test_interference_keyed(void **state)
{
    static const unsigned char key[NL_CHAT_KEY_BYTES] = {1, 2, 3};
    (void)state;
    interference(key);
}

/* The squatter: a HELLO to B from the intruder's socket, with a fresh packet number. */
static void squat(relay *r, const side *b, int n)
{
    static uint32_t pn;
    uint8_t buf[NL__FRAME_MAX], junk[NL_UDP_MAX_DATAGRAM];
    nl__frame_hdr h = {0};
    nl_endpoint from;
    int len;

    h.type = NL__FT_HELLO;
    h.sid = (uint64_t)0x51575154u << 32;
    h.sender = 77;
    for (int i = 0; i < n; i++) {
        h.pn = ++pn;
        len = nl__frame_encode(buf, sizeof buf, &h, "squatter", 8, NULL);
        assert_true(len > 0);
        nl_udp_send_to(r->intruder, buf, (size_t)len, &b->addr, 0);
    }
    while (nl_udp_recv_from(r->intruder, junk, sizeof junk, &from, 0) >= 0)
        r->forwarded += 0; /* the HELLO-ACKs it provokes: read and forgotten */
}

/* Issue 10, point 15: a local process sending HELLOs to a waiting side, before the real peer
 * comes and all the while, at any rate, does not capture it: the real peer's first HELLO is
 * answered, and the handshake completes in one round, with the real peer. */
static void squatted(int per_round)
{
    relay r;
    side a, b;
    nl_chat_stats st;
    nl_endpoint peer;
    int64_t t0;

    relay_open(&r, 29);
    side_open(&b, NL_CHAT_RELIABLE, NULL, "bob", NULL, 0);
    for (int i = 0; i < 10; i++) { /* the squatter is there first */
        squat(&r, &b, per_round);
        poll(NULL, 0, 10);
        side_step(&b);
    }
    /* Answering costs no packet numbers: a long HELLO flood cannot use them up. */
    assert_true(b.s->core->pn_out <= 1);
    side_open(&a, NL_CHAT_RELIABLE, &r.xa, "alice", NULL, 0);
    t0 = now_ms();
    while (!both_joined(&a, &b) && now_ms() - t0 < 3000) {
        squat(&r, &b, per_round);
        run(&r, &a, &b, both_joined, 5);
    }
    assert_true(both_joined(&a, &b));
    nl_chat_session_stats(a.s, &st);
    assert_true(st.retransmits <= 1); /* at most one handshake round lost to the squatter */
    assert_int_equal(nl_chat_session_peer(b.s, &peer), 0);
    assert_int_equal(nl_endpoint_compare(&peer, &r.ya), 0); /* the real peer, not the squatter */
    assert_string_equal(b.peer_name, "alice");
    squat(&r, &b, per_round); /* once the peer is locked, the kernel drops the squatter's */
    exchange(&r, &a, &b, 2, 3000);
    leave_and_check(&r, &a, &b, 1000);
    side_close(&a);
    side_close(&b);
    relay_close(&r);
}

static void test_squatter_slow(void **state)
{
    (void)state;
    squatted(1);
}

static void test_squatter_flood(void **state)
{
    (void)state;
    squatted(50);
}

static void test_key_mismatch_never_joins(void **state)
{
    static const unsigned char k1[NL_CHAT_KEY_BYTES] = {1}, k2[NL_CHAT_KEY_BYTES] = {2};
    relay r;
    side a, b;
    nl_chat_stats st;

    (void)state;
    relay_open(&r, 3);
    side_open(&b, NL_CHAT_RELIABLE, NULL, "bob", k1, 0);
    side_open(&a, NL_CHAT_RELIABLE, &r.xa, "alice", k2, 0);
    assert_false(run(&r, &a, &b, both_joined, 1500));
    nl_chat_session_stats(b.s, &st);
    assert_true(st.auth_failed >= 3); /* the HELLO and its retransmissions */
    /* Issue 10, point 16: the waiting side says, once, that the keys probably differ. */
    assert_int_equal(b.nwarn, 1);
    assert_int_equal(b.warn[0], NL_EBADFRAME);
    side_close(&a);
    side_close(&b);
    relay_close(&r);
}

static void test_limits_and_errors(void **state)
{
    relay r;
    side a, b;
    nl_chat_stats st;
    char *big = calloc(1, NL_CHAT_MSG_MAX + 1);
    nl_chat_session *s;
    nl_chat_opts o = {0};

    (void)state;
    setup_pair(&r, &a, &b, 5, NULL);
    assert_true(run(&r, &a, &b, both_joined, 3000));
    nl_chat_session_stats(a.s, &st);
    assert_int_equal(nl_chat_session_send(a.s, big, NL_CHAT_MSG_MAX + 1), NL_EMSGSIZE);
    {
        nl_chat_stats st2;
        nl_chat_session_stats(a.s, &st2);
        assert_int_equal(st2.datagrams_out, st.datagrams_out); /* nothing was sent */
    }
    assert_int_equal(nl_chat_session_send(NULL, "x", 1), NL_EINVAL);
    assert_int_equal(nl_chat_session_send(a.s, NULL, 1), NL_EINVAL);
    assert_int_equal(nl_chat_session_step(a.s, NULL, 1, 0), NL_EINVAL);
    assert_int_equal(nl_chat_session_fd(NULL), NL_EINVAL);
    assert_int_equal(nl_chat_session_next_timeout_ms(NULL), -1);
    assert_int_equal(nl_chat_session_status(a.s), NL_EAGAIN);
    assert_int_equal(nl_chat_session_send_room(NULL), 0);
    assert_string_equal(nl_chat_event_name(NL_CHAT_EV_MESSAGE), "MESSAGE");
    assert_string_equal(nl_chat_event_name(0), "?");
    assert_string_equal(nl_chat_event_name(99), "?");
    /* Fill the queue: the queue refuses rather than grows without bound. */
    {
        int64_t rc = 0;
        int k;
        for (k = 0; k < 100 && rc >= 0; k++)
            rc = nl_chat_session_send(a.s, big, NL_CHAT_MSG_MAX);
        assert_int_equal(rc, NL_ENOBUFS);
        assert_true(nl_chat_session_send_room(a.s) < NL_CHAT_MSG_MAX);
    }
    nl_chat_session_close(NULL);
    assert_int_equal(nl_chat_session_open(NULL, &o), NL_EINVAL);
    assert_int_equal(nl_chat_session_open(&s, &o), NL_EINVAL); /* no bind */
    assert_null(s);
    o.bind = loopback0();
    o.mode = NL_CHAT_PLAIN;
    o.key = (const unsigned char *)"0123456789abcdef0123456789abcdef";
    assert_int_equal(nl_chat_session_open(&s, &o), NL_EINVAL); /* no key in plain mode */
    o.key = NULL;
    o.name = "a name far longer than sixty-four bytes, which the handshake cannot carry...";
    assert_int_equal(nl_chat_session_open(&s, &o), NL_EINVAL);
    free(big);
    side_close(&a);
    side_close(&b);
    relay_close(&r);
}

static void test_peer_lost(void **state)
{
    relay r;
    side a, b;
    int64_t t0;

    (void)state;
    relay_open(&r, 11);
    side_open(&b, NL_CHAT_RELIABLE, NULL, "bob", NULL, 400);
    side_open(&a, NL_CHAT_RELIABLE, &r.xa, "alice", NULL, 400);
    assert_true(run(&r, &a, &b, both_joined, 3000));
    r.blackhole = 1; /* B vanishes, as far as A can tell */
    t0 = now_ms();
    assert_true(run(&r, &a, &b, both_closed, 2000));
    assert_true(now_ms() - t0 >= 350);
    assert_int_equal(a.lost, 1);
    assert_int_equal(a.status, NL_EPEERLOST);
    assert_int_equal(b.status, NL_EPEERLOST);
    side_close(&a);
    side_close(&b);
    relay_close(&r);
}

static int a_has_some(side *a, side *b)
{
    (void)b;
    return a->nmsg >= 3 && a->ndelivered >= 1; /* and our BYE confirmed with our message */
}

static int a_closed(side *a, side *b)
{
    (void)b;
    return a->closed;
}

static void test_leave_unconfirmed(void **state)
{
    relay r;
    side a, b;
    int64_t t0;

    (void)state;
    setup_pair(&r, &a, &b, 13, NULL);
    assert_true(run(&r, &a, &b, both_joined, 3000));
    r.blackhole = 1;
    t0 = now_ms();
    nl_chat_session_leave(a.s);
    assert_true(run(&r, &a, &b, a_closed, 3000));
    assert_int_equal(a.status, NL_EPEERLOST);
    assert_true(now_ms() - t0 >= 1400 && now_ms() - t0 < 2500); /* leave_timeout_ms 1500 */
    side_close(&a);
    side_close(&b);
    relay_close(&r);
}

/* Both sides call each other at once: the larger sender id stays initiator, one session. */
static void test_simultaneous_open(void **state)
{
    relay r;
    side a, b;
    nl_chat_opts oa = {0}, ob = {0};
    nl_udp *pa, *pb;
    nl_endpoint ea, eb;

    (void)state;
    relay_open(&r, 17);
    /* Learn two free ports, then free them for the sessions. */
    oa.bind = ob.bind = loopback0();
    assert_int_equal(nl_udp_open_bound(&pa, &oa.bind, NULL), 0);
    assert_int_equal(nl_udp_open_bound(&pb, &ob.bind, NULL), 0);
    nl_udp_local(pa, &ea);
    nl_udp_local(pb, &eb);
    nl_udp_close(pa);
    nl_udp_close(pb);
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    oa.bind = ea;
    oa.peer = eb;
    ob.bind = eb;
    ob.peer = ea;
    assert_int_equal(nl_chat_session_open(&a.s, &oa), 0);
    assert_int_equal(nl_chat_session_open(&b.s, &ob), 0);
    a.status = b.status = NL_EAGAIN;
    assert_true(run(&r, &a, &b, both_joined, 3000));
    exchange(&r, &a, &b, 3, 3000);
    leave_and_check(&r, &a, &b, 1000);
    side_close(&a);
    side_close(&b);
    relay_close(&r);
}

static int b_has_msg(side *a, side *b)
{
    (void)a;
    return b->nmsg >= 1;
}

static void test_plain(void **state)
{
    relay r;
    side a, b;
    nl_chat_stats st;

    (void)state;
    relay_open(&r, 19);
    side_open(&b, NL_CHAT_PLAIN, NULL, NULL, NULL, 0);
    side_open(&a, NL_CHAT_PLAIN, &b.addr, NULL, NULL, 0);
    assert_int_equal(nl_chat_session_send(b.s, "x", 1), NL_ENOTCONN); /* no peer yet */
    assert_int_equal(nl_chat_session_send(a.s, "你好\n", strlen("你好\n")), 0);
    assert_true(run(&r, &a, &b, b_has_msg, 2000));
    assert_int_equal(b.nmsg, 1);
    assert_string_equal(b.msg[0], "你好"); /* one trailing newline is not part of the text */
    assert_int_equal(b.joined, 1);
    /* A third address is refused once the peer is known. */
    nl_udp_send_to(r.intruder, "intruder", 8, &b.addr, 0);
    assert_int_equal(nl_chat_session_send(b.s, "back", 4), 0);
    nl_chat_session_leave(b.s); /* sends "q" */
    assert_true(run(&r, &a, &b, both_closed, 2000));
    assert_int_equal(a.nmsg, 1);
    assert_string_equal(a.msg[0], "back");
    assert_int_equal(a.left, 1);
    assert_int_equal(a.status, 0);
    assert_int_equal(b.status, 0);
    nl_chat_session_stats(b.s, &st);
    assert_int_equal(b.nmsg, 1); /* the intruder's datagram was not delivered */
    assert_int_equal(st.messages_in, 1);
    side_close(&a);
    side_close(&b);
    relay_close(&r);
}

/* A flood from the peer's address: each step reads a bounded number of datagrams, so the
 * timers still run, and the legitimate message still arrives. */
static void test_flood_bounded(void **state)
{
    relay r;
    side a, b;
    nl_chat_stats st;
    int steps = 0;

    (void)state;
    setup_pair(&r, &a, &b, 23, NULL);
    assert_true(run(&r, &a, &b, both_joined, 3000));
    for (int i = 0; i < 300; i++)
        nl_udp_send_to(r.x, "flood flood flood", 17, &a.addr, 0);
    nl_chat_session_send(b.s, "legit", 5);
    relay_pump(&r, &a, &b);
    while (a.nmsg < 1 && steps < 100) {
        poll(NULL, 0, 2);
        relay_pump(&r, &a, &b);
        side_step(&a);
        side_step(&b);
        steps++;
    }
    assert_int_equal(a.nmsg, 1);
    assert_string_equal(a.msg[0], "legit");
    nl_chat_session_stats(a.s, &st);
    assert_true(st.budget_stops >= 1);
    assert_true(st.bad_length >= 64); /* 17 bytes: shorter than any frame */
    side_close(&a);
    side_close(&b);
    relay_close(&r);
}

static int g_ticks;
static void count_tick(nl_chat_session *s, void *user)
{
    (void)s;
    (void)user;
    g_ticks++;
}

static void on_alarm(int sig)
{
    (void)sig;
}

/* Issue 10, point 9: every call on a session that is over answers at once. run() used to poll
 * with no timer at all and block until a signal came; an alarm in 1 s bounds the test. */
static void test_calls_after_close(void **state)
{
    nl_chat_session *s;
    nl_chat_opts o = {0};
    nl_chat_event ev[4];
    nl_chat_run_hooks hooks = {.input_fd = -1, .on_tick = count_tick};
    struct sigaction sa = {0}, old;
    int n;

    (void)state;
    o.bind = loopback0();
    assert_int_equal(nl_chat_session_open(&s, &o), 0);
    assert_int_equal(nl_chat_session_leave(s), 0); /* no peer yet: over at once */
    n = nl_chat_session_step(s, ev, 4, 0);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].type, NL_CHAT_EV_CLOSED);
    assert_int_equal(nl_chat_session_step(s, ev, 4, -1), NL_ECLOSED);
    assert_int_equal(nl_chat_session_send(s, "x", 1), NL_ECLOSED);
    assert_int_equal(nl_chat_session_send_room(s), 0);
    assert_int_equal(nl_chat_session_leave(s), 0);
    assert_int_equal(nl_chat_session_status(s), 0);
    assert_int_equal(nl_chat_session_next_timeout_ms(s), -1);
    sa.sa_handler = on_alarm; /* no SA_RESTART: the alarm interrupts a blocked poll() */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, &old);
    g_ticks = 0;
    alarm(1);
    assert_int_equal(nl_chat_session_run(s, &hooks), 0);
    alarm(1);
    assert_int_equal(nl_chat_session_run(s, NULL), 0);
    alarm(0);
    sigaction(SIGALRM, &old, NULL);
    assert_int_equal(g_ticks, 0); /* returned without waiting for anything */
    nl_chat_session_close(s);
}

static int any_closed(side *a, side *b)
{
    return a->closed || b->closed;
}

/* Issue 10, point 10: a peer-lost bound the protocol cannot honour is refused, and one it
 * can is honoured: the keepalive follows it, so two idle, healthy peers stay together. */
static void test_peer_lost_bound(void **state)
{
    relay r;
    side a, b;
    nl_chat_session *s = NULL;
    nl_chat_opts o = {0};

    (void)state;
    o.bind = loopback0();
    o.peer_lost_ms = NL_CHAT_PEER_LOST_MIN - 1;
    assert_int_equal(nl_chat_session_open(&s, &o), NL_EINVAL);
    o.peer_lost_ms = 500;
    o.keepalive_ms = 300; /* more than half of it */
    assert_int_equal(nl_chat_session_open(&s, &o), NL_EINVAL);
    o.peer_lost_ms = 0;
    o.keepalive_ms = 3000; /* more than half of the default 5000 */
    assert_int_equal(nl_chat_session_open(&s, &o), NL_EINVAL);
    assert_null(s);

    relay_open(&r, 31);
    side_open(&b, NL_CHAT_RELIABLE, NULL, "bob", NULL, 500);
    side_open(&a, NL_CHAT_RELIABLE, &r.xa, "alice", NULL, 500);
    assert_true(run(&r, &a, &b, both_joined, 3000));
    assert_false(run(&r, &a, &b, any_closed, 1500)); /* three times the bound, idle */
    exchange(&r, &a, &b, 2, 3000);
    leave_and_check(&r, &a, &b, 1000);
    side_close(&a);
    side_close(&b);
    relay_close(&r);
}

/* Issue 10, point 14: every message counts against the queue's bound, empty ones too. */
static void test_empty_messages_count(void **state)
{
    nl_chat_session *s;
    nl_chat_opts o = {0};
    size_t room0, room1;
    int64_t rc = 0;
    int k;

    (void)state;
    o.bind = loopback0();
    assert_int_equal(nl_chat_session_open(&s, &o), 0); /* no peer: everything stays queued */
    room0 = nl_chat_session_send_room(s);
    assert_true(room0 >= NL_CHAT_MSG_MAX);
    assert_int_equal(nl_chat_session_send(s, "", 0), 1);
    room1 = nl_chat_session_send_room(s);
    assert_true(room1 < room0);
    for (k = 0; k < 200000 && rc >= 0; k++)
        rc = nl_chat_session_send(s, NULL, 0);
    assert_int_equal(rc, NL_ENOBUFS);
    assert_true(k <= NL__CHAT_QUEUE_MAX / NL__CHAT_FRAG_COST);
    assert_int_equal(nl_chat_session_send_room(s), 0);
    nl_chat_session_close(s);
}

/* Issue 10, point 12: A leaves while B still has much queued for it. B follows A out behind
 * its queue, and A keeps reading until B's BYE: every message B accepted arrives, and both
 * end with status 0. */
static void test_drain_on_peer_bye(void **state)
{
    relay r;
    side a, b;
    nl_chat_stats st;
    char *m = malloc(8192);

    (void)state;
    setup_pair(&r, &a, &b, 37, NULL);
    assert_true(run(&r, &a, &b, both_joined, 3000));
    for (int i = 0; i < 30; i++) {
        memset(m, 'a' + i % 26, 8192);
        assert_int_equal(nl_chat_session_send(b.s, m, 8192), i + 1);
    }
    assert_int_equal(nl_chat_session_send(a.s, "bye now", 7), 1);
    assert_int_equal(nl_chat_session_leave(a.s), 0); /* before B's messages got anywhere */
    assert_true(run(&r, &a, &b, both_closed, 10000));
    assert_int_equal(a.status, 0);
    assert_int_equal(b.status, 0);
    assert_int_equal(b.nmsg, 1);
    assert_int_equal(b.left, 1);
    assert_int_equal(a.nmsg, 30);
    for (int i = 0; i < 30; i++) {
        memset(m, 'a' + i % 26, 8192);
        assert_int_equal(a.msg_len[i], 8192);
        assert_memory_equal(a.msg[i], m, 8192);
    }
    nl_chat_session_stats(b.s, &st);
    assert_int_equal(st.messages_out, 30);
    assert_int_equal(st.messages_acked, 30);
    assert_int_equal(b.ndelivered, 30);
    assert_int_equal(nl_chat_session_send(b.s, "late", 4), NL_ECLOSED);
    free(m);
    side_close(&a);
    side_close(&b);
    relay_close(&r);
}

/* Issue 10, point 13: over a slow link, leaving takes longer than the leave timeout, but
 * something is acknowledged all the time: the timeout counts from the last progress, and the
 * exit completes with everything delivered. */
static void test_leave_deadline_counts_from_progress(void **state)
{
    relay r;
    side a, b;
    size_t len = 40000;
    char *m = malloc(len);

    (void)state;
    g_leave_ms = 500;
    setup_pair(&r, &a, &b, 41, NULL);
    g_leave_ms = 1500;
    assert_true(run(&r, &a, &b, both_joined, 3000));
    r.pace_ms = 20; /* 68 fragments: 1.4 s at least, the leave timeout is 0.5 s */
    for (size_t k = 0; k < len; k++)
        m[k] = (char)('A' + k % 23);
    assert_int_equal(nl_chat_session_send(a.s, m, len), 1);
    assert_int_equal(nl_chat_session_send(a.s, m, len), 2);
    assert_int_equal(nl_chat_session_leave(a.s), 0);
    assert_true(run(&r, &a, &b, both_closed, 20000));
    assert_int_equal(a.status, 0);
    assert_int_equal(b.nmsg, 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(b.msg_len[i], len);
        assert_memory_equal(b.msg[i], m, len);
    }
    assert_int_equal(a.ndelivered, 2);
    free(m);
    side_close(&a);
    side_close(&b);
    relay_close(&r);
}

/* Issue 10, point 17: calling a port where nothing listens says so (the ICMP error on the
 * connected socket), keeps calling, and gives up after the call timeout. A silent address
 * (no ICMP) gives the "no answer yet" warning instead, then times out. */
static void test_call_nobody(void **state)
{
    nl_chat_opts o = {0};
    nl_udp *u;
    nl_endpoint gone;
    side c;
    int64_t t0;

    (void)state;
    o.bind = loopback0();
    assert_int_equal(nl_udp_open_bound(&u, &o.bind, NULL), 0);
    assert_int_equal(nl_udp_local(u, &gone), 0);
    nl_udp_close(u); /* a port where nothing listens */
    memset(&c, 0, sizeof c);
    o.peer = gone;
    o.call_timeout_ms = 800;
    assert_int_equal(nl_chat_session_open(&c.s, &o), 0);
    t0 = now_ms();
    while (!c.closed && now_ms() - t0 < 5000) {
        poll(NULL, 0, 10);
        side_step(&c);
    }
    assert_true(c.closed);
    assert_true(now_ms() - t0 >= 700);
    assert_int_equal(c.status, NL_ECONNREFUSED);
    assert_int_equal(c.nwarn, 1);
    assert_int_equal(c.warn[0], NL_ECONNREFUSED);
    side_close(&c);

    /* A socket that never answers: no ICMP, so the warning is the time-out one. */
    assert_int_equal(nl_udp_open_bound(&u, &o.bind, NULL), 0);
    assert_int_equal(nl_udp_local(u, &o.peer), 0);
    o.call_timeout_ms = 2500;
    memset(&c, 0, sizeof c);
    assert_int_equal(nl_chat_session_open(&c.s, &o), 0);
    t0 = now_ms();
    while (!c.closed && now_ms() - t0 < 6000) {
        poll(NULL, 0, 20);
        side_step(&c);
    }
    assert_true(c.closed);
    assert_int_equal(c.status, NL_ETIMEDOUT);
    assert_int_equal(c.nwarn, 1);
    assert_int_equal(c.warn[0], NL_ETIMEDOUT);
    side_close(&c);
    nl_udp_close(u);
    o.call_timeout_ms = -2;
    assert_int_equal(nl_chat_session_open(&c.s, &o), NL_EINVAL);
}

/* The peer is killed while it drains its queue to us after our BYE: our BYE was confirmed,
 * its BYE never comes. Leaving gives up when nothing moves, says the peer was lost, and the
 * counters show that everything of ours was delivered. */
static void test_peer_killed_while_draining(void **state)
{
    relay r;
    side a, b;
    nl_chat_stats st;
    char *m = calloc(1, 8192);
    int64_t t0;

    (void)state;
    g_leave_ms = 600;
    setup_pair(&r, &a, &b, 43, NULL);
    g_leave_ms = 1500;
    assert_true(run(&r, &a, &b, both_joined, 3000));
    for (int i = 0; i < 30; i++)
        assert_true(nl_chat_session_send(b.s, m, 8192) > 0);
    assert_int_equal(nl_chat_session_send(a.s, "x", 1), 1);
    assert_int_equal(nl_chat_session_leave(a.s), 0);
    assert_true(run(&r, &a, &b, a_has_some, 5000));
    r.blackhole = 1; /* B is gone (kill -9): no more frames, and no ICMP through the relay */
    b.closed = 1;
    t0 = now_ms();
    assert_true(run(&r, &a, &b, a_closed, 5000));
    assert_int_equal(a.status, NL_EPEERLOST);
    assert_true(now_ms() - t0 >= 500);
    assert_true(a.nmsg >= 3 && a.nmsg < 30);
    nl_chat_session_stats(a.s, &st);
    assert_int_equal(st.messages_out, 1);
    assert_int_equal(st.messages_acked, 1); /* ours arrived; only the peer's rest is lost */
    free(m);
    side_close(&a);
    side_close(&b);
    relay_close(&r);
}

/* Frames with a whole session id at a waiting side, from anywhere, are refused unless their
 * half is the cookie of their own sender and address: a replay of another session's handshake
 * end, or a guess, opens nothing. */
static void test_forged_handshake_end_is_refused(void **state)
{
    relay r;
    side a, b, c;
    nl_chat_stats st;

    (void)state;
    setup_pair(&r, &a, &b, 47, NULL);
    assert_true(run(&r, &a, &b, both_joined, 3000));
    /* r.last_a is a frame of A's session with B (whole id, B's cookie for the relay's X). */
    side_open(&c, NL_CHAT_RELIABLE, NULL, "carol", NULL, 0);
    nl_udp_send_to(r.x, r.last_a, r.last_a_len, &c.addr, 0);        /* same address, replayed */
    nl_udp_send_to(r.intruder, r.last_a, r.last_a_len, &c.addr, 0); /* another address */
    for (int i = 0; i < 20 && !c.joined; i++) {
        poll(NULL, 0, 5);
        side_step(&c);
    }
    assert_int_equal(c.joined, 0);
    nl_chat_session_stats(c.s, &st);
    assert_int_equal(st.bad_session, 2);
    side_close(&c);
    leave_and_check(&r, &a, &b, 1000);
    side_close(&a);
    side_close(&b);
    relay_close(&r);
}

/* The peer confirms our BYE, then closes its session without leaving (an application that
 * stops at PEER_LEFT): the ICMP port unreachable for our next frame ends our wait at once,
 * instead of after the leave time-out. Direct sockets: the relay would hide the ICMP. */
static void test_peer_closes_after_our_bye(void **state)
{
    side a, b;
    char *m = calloc(1, 8192);
    int64_t t0;

    (void)state;
    g_leave_ms = 10000;
    side_open(&b, NL_CHAT_RELIABLE, NULL, "bob", NULL, 0);
    side_open(&a, NL_CHAT_RELIABLE, &b.addr, "alice", NULL, 20000);
    g_leave_ms = 1500;
    for (int i = 0; i < 300 && !(a.joined && b.joined); i++) {
        poll(NULL, 0, 5);
        side_step(&a);
        side_step(&b);
    }
    assert_true(a.joined && b.joined);
    for (int i = 0; i < 30; i++)
        assert_true(nl_chat_session_send(b.s, m, 8192) > 0);
    assert_int_equal(nl_chat_session_leave(a.s), 0);
    for (int i = 0; i < 300 && !b.left; i++) {
        poll(NULL, 0, 2);
        side_step(&b);
    }
    assert_int_equal(b.left, 1);
    nl_chat_session_close(b.s); /* gone without its BYE; its queue never goes out */
    b.s = NULL;
    t0 = now_ms();
    while (!a.closed && now_ms() - t0 < 8000) {
        poll(NULL, 0, 5);
        side_step(&a);
    }
    assert_true(a.closed);
    assert_int_equal(a.status, NL_EPEERLOST);
    assert_true(now_ms() - t0 < 5000); /* the ICMP, not the 10 s leave time-out */
    free(m);
    side_close(&a);
    side_close(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean),
        cmocka_unit_test(test_lossy_seed1),
        cmocka_unit_test(test_lossy_seed2),
        cmocka_unit_test(test_interference),
        cmocka_unit_test(test_interference_keyed),
        cmocka_unit_test(test_squatter_slow),
        cmocka_unit_test(test_squatter_flood),
        cmocka_unit_test(test_key_mismatch_never_joins),
        cmocka_unit_test(test_limits_and_errors),
        cmocka_unit_test(test_peer_lost),
        cmocka_unit_test(test_leave_unconfirmed),
        cmocka_unit_test(test_simultaneous_open),
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_flood_bounded),
        cmocka_unit_test(test_calls_after_close),
        cmocka_unit_test(test_peer_lost_bound),
        cmocka_unit_test(test_empty_messages_count),
        cmocka_unit_test(test_drain_on_peer_bye),
        cmocka_unit_test(test_leave_deadline_counts_from_progress),
        cmocka_unit_test(test_call_nobody),
        cmocka_unit_test(test_peer_killed_while_draining),
        cmocka_unit_test(test_forged_handshake_end_is_refused),
        cmocka_unit_test(test_peer_closes_after_our_bye),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
