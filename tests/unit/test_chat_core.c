/* CMocka tests of the sans-I/O chat core (lib/chat_core.h) in virtual time.
 *
 * Two cores talk through a small deterministic network simulator: every datagram a core gives
 * out is dropped, duplicated or delayed (which reorders) by a seeded generator, and the clock
 * is a number the test advances straight to the next thing that happens (a datagram arriving
 * or a core's deadline). Minutes of protocol time take milliseconds, nothing depends on the
 * machine's load, and each side's clock can be made to jump. What must hold in every run:
 * each message is delivered exactly once, whole and in order; each DELIVERED once; the cores
 * never ask to be woken in the past (a busy loop); and the chat ends as the protocol says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chat_core.h"

int sodium_init(void); /* libsodium, which the keyed frames need initialised */

#define SIM_PKTS  4096 /* datagrams in flight at most (more are a loss)             */
#define SIM_STEPS 5000000

typedef struct pkt {
    int64_t at;
    int to; /* 0: A, 1: B */
    size_t len;
    uint8_t data[NL__FRAME_MAX];
} pkt;

typedef struct side {
    nl__chat_core *c;
    nl_endpoint addr;
    int64_t off; /* this side's clock minus the network's: a jump changes it       */
    int joined, left, lost, closed, status;
    int64_t joined_at, lost_at, closed_at, last_heard;
    uint64_t nmsg;      /* messages received, each checked                          */
    uint64_t want_send; /* messages to send in all                                  */
    uint64_t nsent;     /* accepted by send()                                       */
    uint64_t ndelivered, last_delivered;
    size_t big;    /* every big-th message is long (several fragments); 0: none */
    uint64_t out;  /* datagrams given out                                      */
    uint64_t hash; /* of everything given out, in order                        */
} side;

typedef struct sim {
    side s[2];
    pkt *q;
    size_t nq;
    uint64_t rng;
    int loss, dup, dmin, dmax; /* percentages; delay range in ms                     */
    int cut;                   /* drop everything                                   */
    int64_t now;
    uint32_t drop_to_a;                  /* frame types (bit 1 << type) never delivered to A    */
    int drop_once_to_a[NL__FT_LAST + 1]; /* drop the first n frames of a type to A */
} sim;

static uint64_t rnd(sim *m)
{
    m->rng ^= m->rng << 13;
    m->rng ^= m->rng >> 7;
    m->rng ^= m->rng << 17;
    return m->rng;
}

static int pct(sim *m, int p)
{
    return p > 0 && (int)(rnd(m) % 100) < p;
}

/* The text of side w's message k: its number first, so that a misplaced one is obvious. */
static size_t gen(const sim *m, int w, uint64_t k, char *buf, size_t cap)
{
    size_t len = (size_t)snprintf(buf, cap, "%c%llu:", w ? 'B' : 'A', (unsigned long long)k);
    size_t want = m->s[w].big && k % m->s[w].big == 0 ? 3000 + (size_t)(k % 7) * 500 : 20;

    while (len < want && len + 1 < cap) {
        buf[len] = (char)('a' + (k + len) % 26);
        len++;
    }
    return len;
}

static int64_t side_now(const sim *m, int w)
{
    return m->now + m->s[w].off;
}

static void put(sim *m, int to, const uint8_t *d, size_t len)
{
    pkt *p;

    if (m->nq == SIM_PKTS)
        return;
    p = &m->q[m->nq++];
    p->to = to;
    p->len = len;
    memcpy(p->data, d, len);
    p->at = m->now + m->dmin +
            (m->dmax > m->dmin ? (int64_t)(rnd(m) % (uint64_t)(m->dmax - m->dmin + 1)) : 0);
}

/* Take what side w gives out into the network; datagrams addressed elsewhere vanish. */
static void drain_out(sim *m, int w)
{
    const nl__chat_dgram *d;
    side *x = &m->s[w];

    while (nl__chat_core_pop_datagram(x->c, &d)) {
        const nl_endpoint *to = d->has_to ? &d->to : &x->c->peer;
        x->out++;
        for (size_t i = 0; i < d->len; i++)
            x->hash = (x->hash ^ d->data[i]) * 0x100000001b3ull;
        if (nl_endpoint_compare(to, &m->s[!w].addr) != 0 || m->cut || pct(m, m->loss))
            continue;
        if (w == 1 && d->len > 3 && d->data[3] <= NL__FT_LAST) {
            int type = d->data[3];
            if (m->drop_to_a & (1u << type))
                continue;
            if (m->drop_once_to_a[type] > 0) {
                m->drop_once_to_a[type]--;
                continue;
            }
        }
        put(m, !w, d->data, d->len);
        if (pct(m, m->dup))
            put(m, !w, d->data, d->len);
    }
}

static void drain_events(sim *m, int w)
{
    side *x = &m->s[w];
    nl_chat_event ev[8];
    char want[8192];
    int n;

    while ((n = nl__chat_core_events(x->c, ev, 8)) > 0) {
        for (int i = 0; i < n; i++) {
            switch (ev[i].type) {
            case NL_CHAT_EV_PEER_JOINED:
                assert_int_equal(x->joined, 0);
                x->joined = 1;
                x->joined_at = m->now;
                break;
            case NL_CHAT_EV_MESSAGE: {
                size_t len = gen(m, !w, x->nmsg + 1, want, sizeof want);
                /* Exactly the next one: not a copy, not one out of order, not cut. */
                assert_int_equal(ev[i].msg_id, x->nmsg + 1);
                assert_int_equal(ev[i].len, len);
                assert_memory_equal(ev[i].data, want, len);
                x->nmsg++;
                break;
            }
            case NL_CHAT_EV_DELIVERED:
                assert_int_equal(ev[i].msg_id, x->last_delivered + 1);
                x->last_delivered = ev[i].msg_id;
                x->ndelivered++;
                break;
            case NL_CHAT_EV_PEER_LEFT:
                x->left++;
                break;
            case NL_CHAT_EV_PEER_LOST:
                x->lost++;
                x->lost_at = m->now;
                break;
            case NL_CHAT_EV_CLOSED:
                assert_int_equal(x->closed, 0);
                x->closed = 1;
                x->status = ev[i].code;
                x->closed_at = m->now;
                break;
            default:
                break;
            }
        }
    }
    if (n != NL_ECLOSED)
        assert_true(n == 0);
}

/* Feed side w the messages it still has to send, as far as its queue allows. */
static void feed(sim *m, int w)
{
    side *x = &m->s[w];
    char buf[8192];

    while (x->nsent < x->want_send && x->c->state >= NL__ST_OPEN && x->c->state != NL__ST_CLOSED) {
        size_t len = gen(m, w, x->nsent + 1, buf, sizeof buf);
        int64_t id;
        if (nl__chat_core_room(x->c) < len)
            return;
        id = nl__chat_core_send(x->c, buf, len, side_now(m, w));
        if (id == NL_ESHUTDOWN)
            return;
        assert_int_equal(id, (int64_t)x->nsent + 1);
        x->nsent++;
        drain_out(m, w);
    }
}

static void settle(sim *m)
{
    for (int w = 0; w < 2; w++) {
        feed(m, w);
        drain_out(m, w);
        drain_events(m, w);
    }
}

typedef int (*sim_done)(const sim *m);

/* Run until done() or until the network's clock reaches until. Each round jumps the clock to
 * the next arrival or deadline: a deadline in the past after the timers ran would be a core
 * asking to be woken again and again without time passing. */
static void run(sim *m, int64_t until, sim_done done)
{
    for (long step = 0; step < SIM_STEPS; step++) {
        int64_t next = 0;
        int have = 0;

        settle(m);
        if (done != NULL && done(m))
            return;
        for (int w = 0; w < 2; w++) {
            int64_t d = nl__chat_core_deadline(m->s[w].c);
            if (d >= 0) {
                d -= m->s[w].off; /* on the network's clock: may be long past */
                if (!have || d < next)
                    next = d;
                have = 1;
            }
        }
        for (size_t i = 0; i < m->nq; i++) {
            if (!have || m->q[i].at < next)
                next = m->q[i].at;
            have = 1;
        }
        if (!have || next > until) {
            m->now = until;
            settle(m);
            return;
        }
        if (next > m->now)
            m->now = next;
        /* Arrivals due now, earliest first (equal times in the order they were sent). */
        for (;;) {
            size_t best = m->nq;
            for (size_t i = 0; i < m->nq; i++)
                if (m->q[i].at <= m->now && (best == m->nq || m->q[i].at < m->q[best].at))
                    best = i;
            if (best == m->nq)
                break;
            pkt p = m->q[best];
            memmove(&m->q[best], &m->q[best + 1], (m->nq - best - 1) * sizeof *m->q);
            m->nq--;
            nl__chat_core_input(m->s[p.to].c, p.data, p.len, &m->s[!p.to].addr, side_now(m, p.to));
            m->s[p.to].last_heard = m->now;
            drain_out(m, p.to);
        }
        for (int w = 0; w < 2; w++) {
            int64_t d = nl__chat_core_deadline(m->s[w].c);
            if (d >= 0 && d <= side_now(m, w)) {
                nl__chat_core_timers(m->s[w].c, side_now(m, w));
                drain_out(m, w);
                drain_events(m, w);
                d = nl__chat_core_deadline(m->s[w].c);
                /* After its timers ran, a core wants to be woken later, or is over. */
                assert_true(d < 0 || d > side_now(m, w) || d == 0);
            }
        }
    }
    fail_msg("the simulation did not finish in %d steps", SIM_STEPS);
}

/* A waits (the responder); B calls A. */
static void sim_open(sim *m, uint64_t seed, const unsigned char *key)
{
    nl__chat_core_cfg cfg = {0};
    nl__chat_core_seed sd = {0};

    memset(m, 0, sizeof *m);
    m->q = calloc(SIM_PKTS, sizeof *m->q);
    assert_non_null(m->q);
    m->rng = seed * 0x9e3779b97f4a7c15ull | 1;
    assert_int_equal(nl_endpoint_parse(&m->s[0].addr, "127.0.0.1", 7001), 0);
    assert_int_equal(nl_endpoint_parse(&m->s[1].addr, "127.0.0.1", 7002), 0);
    cfg.mode = NL_CHAT_RELIABLE;
    cfg.key = key;
    cfg.keepalive_ms = 1000;
    cfg.lost_ms = 5000;
    cfg.leave_ms = 4000;
    cfg.call_ms = 60000;
    cfg.trace_fd = -1;
    cfg.name = "alice";
    sd.me = rnd(m);
    sd.half = (uint32_t)rnd(m);
    memset(sd.cookie_key, 0x5a, sizeof sd.cookie_key);
    assert_int_equal(nl__chat_core_new(&m->s[0].c, &cfg, &sd, 0), 0);
    cfg.name = "bob";
    cfg.peer = m->s[0].addr;
    sd.me = rnd(m);
    sd.half = (uint32_t)rnd(m);
    memset(sd.cookie_key, 0xa5, sizeof sd.cookie_key);
    assert_int_equal(nl__chat_core_new(&m->s[1].c, &cfg, &sd, 0), 0);
}

static void sim_close(sim *m)
{
    nl__chat_core_free(m->s[0].c);
    nl__chat_core_free(m->s[1].c);
    free(m->q);
}

static int both_joined(const sim *m)
{
    return m->s[0].joined && m->s[1].joined;
}

static int all_delivered(const sim *m)
{
    return m->s[0].nmsg == m->s[1].want_send && m->s[1].nmsg == m->s[0].want_send &&
           m->s[0].ndelivered == m->s[0].want_send && m->s[1].ndelivered == m->s[1].want_send;
}

static int both_closed(const sim *m)
{
    return m->s[0].closed && m->s[1].closed;
}

static int one_closed(const sim *m)
{
    return m->s[0].closed || m->s[1].closed;
}

/* Messages both ways, then A leaves: everything arrives once and in order, both end with 0. */
static void exchange(uint64_t seed, int loss, int dup, int dmin, int dmax, uint64_t n, size_t big,
                     const unsigned char *key)
{
    sim m;
    int64_t t0;

    sim_open(&m, seed, key);
    m.loss = loss;
    m.dup = dup;
    m.dmin = dmin;
    m.dmax = dmax;
    m.s[0].want_send = m.s[1].want_send = n;
    m.s[0].big = m.s[1].big = big;
    run(&m, 600000, all_delivered);
    assert_true(all_delivered(&m));
    /* The faults happened: losses repaired by retransmission, copies recognised. */
    if (loss > 0)
        assert_true(m.s[0].c->st.retransmits > 0 && m.s[1].c->st.retransmits > 0);
    if (dup > 0)
        assert_true(m.s[0].c->st.duplicates > 0 && m.s[1].c->st.duplicates > 0);
    fprintf(
        stderr,
        "seed %llu: delivered %llu each way by %lld ms, retransmits %llu/%llu, "
        "copies %llu/%llu\n",
        (unsigned long long)seed, (unsigned long long)n, (long long)m.now,
        (unsigned long long)m.s[0].c->st.retransmits, (unsigned long long)m.s[1].c->st.retransmits,
        (unsigned long long)m.s[0].c->st.duplicates, (unsigned long long)m.s[1].c->st.duplicates);
    t0 = m.now;
    nl__chat_core_leave(m.s[0].c, side_now(&m, 0));
    run(&m, t0 + 60000, both_closed);
    assert_true(both_closed(&m));
    assert_int_equal(m.s[0].status, 0);
    assert_int_equal(m.s[1].status, 0);
    assert_int_equal(m.s[1].left, 1);
    assert_int_equal(m.s[0].lost + m.s[1].lost, 0);
    /* Nothing outlives the end: no datagram, no event, no timer. */
    assert_int_equal(nl__chat_core_deadline(m.s[0].c), -1);
    assert_int_equal(nl__chat_core_deadline(m.s[1].c), -1);
    sim_close(&m);
}

/* A leaves while none of its messages, nor its BYE, have been acknowledged to it (every ACK to
 * A lost, and the first BYE-ACK and BYE-DONE too). B has everything, answers A's BYE with its
 * own, and is told by A that its BYE arrived. B must not vanish then: A still waits for the
 * BYE-ACK that proves its messages arrived. B lingers, repeating it, and both end with 0. Before
 * the fix B went at once, and A, hearing nothing more, ended with "peer lost" and its messages
 * counted as undelivered although B had them all (seen at 30% loss in integration.chat_lossy). */
static void test_leaver_unconfirmed_when_peer_is_done(void **state)
{
    sim m;

    (void)state;
    sim_open(&m, 11, NULL);
    run(&m, 60000, both_joined);
    assert_true(both_joined(&m));
    m.drop_to_a = 1u << NL__FT_ACK;
    m.drop_once_to_a[NL__FT_BYE_ACK] = 1;
    m.drop_once_to_a[NL__FT_BYE_DONE] = 1;
    m.s[0].want_send = 5;
    settle(&m);
    assert_int_equal(m.s[0].nsent, 5);
    nl__chat_core_leave(m.s[0].c, side_now(&m, 0));
    run(&m, m.now + 60000, both_closed);
    assert_true(both_closed(&m));
    assert_int_equal(m.s[1].nmsg, 5);
    assert_int_equal(m.s[1].status, 0);
    assert_int_equal(m.s[0].status, 0);
    assert_int_equal(m.s[0].c->st.messages_acked, 5);
    sim_close(&m);
}

/* A leaves; B follows. lose_done: B's first BYE-DONE to A is lost. A closes within bound ms
 * of its leave(), both with 0 (the simulator has no ICMP to end a linger early). */
static void linger_end(uint64_t seed, int lose_done, int64_t bound)
{
    sim m;
    int64_t t0;

    sim_open(&m, seed, NULL);
    run(&m, 60000, both_joined);
    run(&m, m.now + 50, NULL); /* the handshake's last ACK through */
    m.drop_once_to_a[NL__FT_BYE_DONE] = lose_done;
    t0 = m.now;
    nl__chat_core_leave(m.s[0].c, side_now(&m, 0));
    run(&m, t0 + 60000, both_closed);
    assert_true(both_closed(&m));
    assert_int_equal(m.drop_once_to_a[NL__FT_BYE_DONE], 0); /* it was lost, if asked */
    assert_int_equal(m.s[0].status, 0);
    assert_int_equal(m.s[1].status, 0);
    assert_true(m.s[0].closed_at - t0 < bound);
    assert_true(m.s[1].closed_at - t0 < NL__CHAT_LINGER_MS);
    sim_close(&m);
}

/* The ordinary end: the side that lingers is told that the other is done, and goes at once
 * instead of lingering out its time. */
static void test_linger_ends_when_both_are_done(void **state)
{
    (void)state;
    linger_end(12, 0, NL__CHAT_LINGER_MS);
}

/* A lost BYE-DONE: the side that lingers repeats its BYE-ACK, and the other (lingering too)
 * answers the copy with its BYE-DONE again, so the first goes at once rather than at its
 * linger's end (1.5 s: a room member's exit after the host's end, room-mem). */
static void test_lost_bye_done_is_repeated(void **state)
{
    (void)state;
    linger_end(13, 1, NL__CHAT_LINGER_MS / 2);
}

static void test_clean(void **state)
{
    (void)state;
    exchange(1, 0, 0, 1, 1, 200, 0, NULL);
}

static void test_loss_reorder_duplication(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 8; seed++)
        exchange(seed, 30, 20, 1, 120, 150, 9, NULL);
}

static void test_keyed_under_loss(void **state)
{
    static const unsigned char key[NL_CHAT_KEY_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8};

    (void)state;
    assert_true(sodium_init() >= 0);
    exchange(42, 20, 10, 5, 60, 100, 5, key);
}

static void test_long_delay(void **state)
{
    (void)state;
    /* 400 to 900 ms one way: longer than the first retransmission timeout, so every
     * fragment is sent again before its ACK can come: copies everywhere, none delivered twice. */
    exchange(7, 5, 0, 400, 900, 60, 4, NULL);
}

/* Ten minutes of silence at 20% loss: keepalives keep the chat up, at a bounded rate, and
 * messages still flow afterwards. */
static void test_minutes_idle(void **state)
{
    sim m;

    (void)state;
    sim_open(&m, 3, NULL);
    m.loss = 20;
    m.dmin = 1;
    m.dmax = 30;
    run(&m, 60000, both_joined);
    assert_true(both_joined(&m));
    run(&m, m.now + 10 * 60 * 1000, NULL);
    assert_int_equal(m.s[0].lost + m.s[1].lost, 0);
    assert_int_equal(m.s[0].closed + m.s[1].closed, 0);
    /* One PING per half keepalive at most, and its PONG: about 4 a second, both ways. */
    assert_true(m.s[0].out + m.s[1].out < 10 * 60 * 5);
    m.s[0].want_send = m.s[1].want_send = 20;
    run(&m, m.now + 60000, all_delivered);
    assert_true(all_delivered(&m));
    sim_close(&m);
}

/* The network goes dead: both report the peer lost exactly at the bound after they last heard
 * from it, and close with NL_EPEERLOST. */
static void test_peer_lost_bound(void **state)
{
    sim m;

    (void)state;
    sim_open(&m, 4, NULL);
    m.dmin = m.dmax = 2;
    m.s[0].want_send = m.s[1].want_send = 10;
    run(&m, 60000, all_delivered);
    m.cut = 1;
    run(&m, m.now + 60000, both_closed);
    for (int w = 0; w < 2; w++) {
        assert_int_equal(m.s[w].lost, 1);
        assert_int_equal(m.s[w].status, NL_EPEERLOST);
        assert_true(m.s[w].lost_at - m.s[w].last_heard >= 5000);
        assert_true(m.s[w].lost_at - m.s[w].last_heard <= 5000 + 2);
    }
    sim_close(&m);
}

/* Clocks that jump, forward and back, on either side, in the middle of a lossy exchange: no
 * timer fires in a loop, nothing is delivered twice or out of order, the chat ends cleanly. */
static void test_clock_jumps(void **state)
{
    sim m;

    (void)state;
    sim_open(&m, 5, NULL);
    m.loss = 10;
    m.dup = 5;
    m.dmin = 1;
    m.dmax = 50;
    m.s[0].want_send = m.s[1].want_send = 300;
    m.s[1].big = 11;
    run(&m, 1500, NULL);
    m.s[0].off += 3000; /* A's clock leaps 3 s ahead (less than the peer-lost bound)  */
    run(&m, m.now + 700, NULL);
    m.s[1].off -= 2000; /* B's goes back 2 s                                          */
    run(&m, m.now + 700, NULL);
    m.s[0].off -= 60000; /* A's goes back a minute: its timers fire late, never twice */
    run(&m, m.now + 200000, all_delivered);
    assert_true(all_delivered(&m));
    nl__chat_core_leave(m.s[1].c, side_now(&m, 1));
    run(&m, m.now + 120000, both_closed);
    assert_int_equal(m.s[0].status, 0);
    assert_int_equal(m.s[1].status, 0);
    sim_close(&m);
}

static int quiet(const sim *m)
{
    return both_joined(m) && m->nq == 0;
}

/* A clock leaping past the peer-lost bound is, to that side, that much silence: with nothing
 * from the peer on the way, it reports the peer lost at once (a datagram read before the
 * timers run would instead show that the peer is alive). */
static void test_clock_leap_past_bound(void **state)
{
    sim m;

    (void)state;
    sim_open(&m, 6, NULL);
    m.dmin = m.dmax = 3;
    run(&m, 60000, quiet);
    assert_true(quiet(&m));
    m.s[1].off += 3600 * 1000;
    run(&m, m.now + 60000, one_closed);
    assert_int_equal(m.s[1].lost, 1);
    assert_int_equal(m.s[1].status, NL_EPEERLOST);
    assert_true(m.s[1].closed_at - m.s[1].joined_at < 100);
    sim_close(&m);
}

/* Half of all datagrams lost: the handshake still completes, well inside the call time-out. */
static void test_handshake_at_half_loss(void **state)
{
    (void)state;
    for (uint64_t seed = 10; seed < 20; seed++) {
        sim m;
        sim_open(&m, seed, NULL);
        m.loss = 50;
        m.dmin = 1;
        m.dmax = 20;
        run(&m, 60000, both_joined);
        assert_true(both_joined(&m));
        assert_int_equal(m.s[0].closed + m.s[1].closed, 0);
        sim_close(&m);
    }
}

/* The core has no randomness or clock of its own: the same seeds and the same inputs give
 * the same datagrams, byte for byte. */
static void test_deterministic(void **state)
{
    uint64_t h[2][2];

    (void)state;
    for (int r = 0; r < 2; r++) {
        sim m;
        sim_open(&m, 9, NULL);
        m.loss = 25;
        m.dup = 10;
        m.dmin = 1;
        m.dmax = 80;
        m.s[0].want_send = m.s[1].want_send = 50;
        run(&m, 600000, all_delivered);
        h[r][0] = m.s[0].hash;
        h[r][1] = m.s[1].hash;
        assert_true(m.s[0].out > 100);
        sim_close(&m);
    }
    assert_true(h[0][0] == h[1][0] && h[0][1] == h[1][1]);
}

/* A full queue refuses more (NL_ENOBUFS) instead of growing, and drains as ACKs come. */
static void test_queue_cap(void **state)
{
    static char big[NL_CHAT_MSG_MAX];
    sim m;
    int64_t rc = 0;
    int n = 0;

    (void)state;
    sim_open(&m, 8, NULL);
    m.dmin = m.dmax = 5;
    run(&m, 60000, both_joined);
    memset(big, 'x', sizeof big);
    while (n < 100 && (rc = nl__chat_core_send(m.s[1].c, big, sizeof big, side_now(&m, 1))) > 0) {
        n++;
        while (nl__chat_core_pop_datagram(m.s[1].c, &(const nl__chat_dgram *){0}))
            ;
    }
    assert_int_equal(rc, NL_ENOBUFS);
    assert_true(m.s[1].c->queued <= NL__CHAT_QUEUE_MAX);
    assert_true(n >= 10 && n < 100);
    sim_close(&m);
}

/* A room's end (chat_room.c sets hurry on each member's core): a message the driver's exit
 * waits for is repeated at least every NL__CHAT_RTO_BYE_MAX ms, not backed off to
 * NL__CHAT_RTO_MAX: with everything lost, 8 repeats in 3.3 s (doubling to 1 s: 4). At 30%
 * loss that takes the chance of a member still lacking the end after 3 s from 0.3^5 to
 * 0.3^9. */
static void test_hurry_caps_backoff(void **state)
{
    sim m;
    int64_t t0;

    (void)state;
    sim_open(&m, 9, NULL);
    m.dmin = m.dmax = 1;
    run(&m, 60000, both_joined);
    run(&m, m.now + 50, NULL); /* the handshake's last ACK through */
    m.cut = 1;
    t0 = m.now;
    m.s[1].c->hurry = 1;
    assert_true(nl__chat_core_send(m.s[1].c, "E", 1, side_now(&m, 1)) > 0);
    drain_out(&m, 1);
    run(&m, t0 + 3300, NULL);
    assert_true(m.s[1].c->st.retransmits >= 8);
    sim_close(&m);
}

/* Allocation hook: counts what the core asks for, by kind, and refuses the kinds in fail. */
enum { AK_RWIN, AK_MSG, AK_SEEN, AK_OTHER, AK_N };
static unsigned long alloc_count[AK_N];
static unsigned alloc_fail; /* bit (1 << kind): refuse */

static int alloc_kind(size_t n)
{
    if (n == NL__CHAT_RWIN * sizeof(nl__in_slot))
        return AK_RWIN;
    if (n == NL__FRAME_MSG_MAX + 1)
        return AK_MSG;
    if (n == NL__CHAT_SEEN * sizeof(nl__hello_seen))
        return AK_SEEN;
    return AK_OTHER;
}

static void *counting_alloc(size_t n)
{
    int k = alloc_kind(n);

    alloc_count[k]++;
    return alloc_fail & (1u << k) ? NULL : malloc(n);
}

static void hook_on(unsigned fail)
{
    memset(alloc_count, 0, sizeof alloc_count);
    alloc_fail = fail;
    nl__chat_core_alloc_hook = counting_alloc;
}

/* An idle core is small (room-mem: the host pays one per member): after a lossy, reordering
 * exchange of long messages (the receive window and the reassembly buffer made and freed
 * again and again), both cores, idle, hold under 10 KB; before, 240 KB each (the window of
 * 128 x 1,208 B, the 65,537-byte reassembly buffer and the datagram ring, always there). */
static void test_idle_core_is_lean(void **state)
{
    sim m;

    (void)state;
    hook_on(0);
    sim_open(&m, 21, NULL);
    m.loss = 5;
    m.dup = 5;
    m.dmin = 1;
    m.dmax = 40;
    m.s[0].want_send = m.s[1].want_send = 60;
    m.s[0].big = m.s[1].big = 3;
    run(&m, 600000, all_delivered);
    assert_true(all_delivered(&m));
    fprintf(stderr, "allocations: window %lu, reassembly %lu\n", alloc_count[AK_RWIN],
            alloc_count[AK_MSG]);
    /* Out of order, drained, made again: the window came and went many times. */
    assert_true(alloc_count[AK_RWIN] >= 4);
    assert_true(alloc_count[AK_MSG] >= 4);
    m.loss = m.dup = 0;
    run(&m, m.now + 10000, NULL); /* idle: keepalives only */
    for (int w = 0; w < 2; w++) {
        size_t fp = nl__chat_core_footprint(m.s[w].c);
        fprintf(stderr, "idle core %d: %zu bytes\n", w, fp);
        assert_null(m.s[w].c->rwin);
        assert_null(m.s[w].c->msg);
        assert_null(m.s[w].c->seen);
        assert_true(fp < 10 * 1024);
    }
    /* And it works as before afterwards. */
    m.s[0].want_send = m.s[1].want_send = 90;
    m.loss = 20;
    run(&m, m.now + 600000, all_delivered);
    assert_true(all_delivered(&m));
    nl__chat_core_alloc_hook = NULL;
    sim_close(&m);
}

/* No memory for the receive window (fragments out of order) or for reassembly (a long
 * message): the receiver ends with NL_ENOMEM, as the core reports any allocation failure;
 * never a crash, and every message it did deliver is whole and in order (drain_events). The
 * fragment it could not hold is not acknowledged, so the sender never counts it delivered.
 * No memory for HELLO names: the HELLO goes unanswered and the caller repeats it. */
static void test_alloc_failure(void **state)
{
    static const struct {
        unsigned fail;
        int dmax;
        size_t big;
    } cases[] = {{1u << AK_RWIN, 60, 0}, {1u << AK_MSG, 1, 3}};
    sim m;

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sim_open(&m, 31 + i, NULL);
        run(&m, 60000, both_joined);
        assert_true(both_joined(&m));
        hook_on(cases[i].fail);
        m.dmin = 1;
        m.dmax = cases[i].dmax;
        m.s[1].want_send = 200;
        m.s[1].big = cases[i].big;
        run(&m, m.now + 600000, one_closed);
        assert_true(m.s[0].closed);
        assert_int_equal(m.s[0].status, NL_ENOMEM);
        assert_true(alloc_count[cases[i].dmax > 1 ? AK_RWIN : AK_MSG] >= 1);
        assert_true(m.s[0].nmsg < 200);
        assert_true(m.s[1].ndelivered <= m.s[0].nmsg);
        nl__chat_core_alloc_hook = NULL;
        sim_close(&m);
    }
    /* HELLO names: unanswered while refused, then the handshake completes. */
    hook_on(1u << AK_SEEN);
    sim_open(&m, 41, NULL);
    run(&m, 3000, both_joined);
    assert_false(both_joined(&m));
    assert_true(alloc_count[AK_SEEN] >= 2);
    alloc_fail = 0;
    run(&m, 60000, both_joined);
    assert_true(both_joined(&m));
    nl__chat_core_alloc_hook = NULL;
    sim_close(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean),
        cmocka_unit_test(test_loss_reorder_duplication),
        cmocka_unit_test(test_keyed_under_loss),
        cmocka_unit_test(test_long_delay),
        cmocka_unit_test(test_minutes_idle),
        cmocka_unit_test(test_peer_lost_bound),
        cmocka_unit_test(test_clock_jumps),
        cmocka_unit_test(test_clock_leap_past_bound),
        cmocka_unit_test(test_handshake_at_half_loss),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_queue_cap),
        cmocka_unit_test(test_hurry_caps_backoff),
        cmocka_unit_test(test_leaver_unconfirmed_when_peer_is_done),
        cmocka_unit_test(test_linger_ends_when_both_are_done),
        cmocka_unit_test(test_lost_bye_done_is_repeated),
        cmocka_unit_test(test_idle_core_is_lean),
        cmocka_unit_test(test_alloc_failure),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
