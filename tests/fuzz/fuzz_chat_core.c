/* libFuzzer target: the chat's state machine, not only its frame decoder. Two sans-I/O cores
 * (lib/chat_core.h), A waiting and B calling A, are driven by a script the fuzzer writes: which
 * datagram in flight arrives, is lost, is copied or (with a key) is corrupted; how far each
 * side's clock moves, forwards or back; who sends what and who leaves; raw datagrams injected
 * from a stranger's address (and, with a key, from the peer's own); ICMP refusals.
 *
 * Invariants checked after every step:
 *   - each message is delivered at most once and in order: the k-th MESSAGE from the real peer
 *     is exactly the peer's k-th sent text (with a key always; without one, while the peer is
 *     the real one: an unkeyed chat cannot tell a forger who learnt its ids from its peer);
 *   - DELIVERED ids are 1, 2, 3, ... and never more than were sent;
 *   - the caps hold: the send queue's cost, datagrams waiting for the driver, events queued;
 *   - after its timers ran, a core's deadline is in the future or gone (no busy loop);
 *   - nothing comes after CLOSED;
 *   - the buffers made on demand (room-mem) exist exactly while needed: the receive window
 *     while it holds fragments (and it holds as many as it counts), the reassembly buffer
 *     while a message of several fragments is being reassembled.
 * The script can make those allocations fail (the core's test hook), by kind: the core must
 * then end with NL_ENOMEM or drop only what will be repeated, never break an invariant above.
 * The script's first byte chooses keyed or not. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "chat_core.h"

#define NET_MAX  64  /* datagrams in flight                                    */
#define SENT_MAX 256 /* messages each side may send in one run                  */

typedef struct pkt {
    int to;
    size_t len;
    uint8_t data[NL__FRAME_MAX];
} pkt;

typedef struct fside {
    nl__chat_core *c;
    nl_endpoint addr;
    int64_t off;
    uint64_t nmsg, nsent, last_delivered;
    uint16_t sent_len[SENT_MAX];
    int closed;
} fside;

static struct {
    fside s[2];
    nl_endpoint stranger;
    pkt net[NET_MAX];
    int nq, keyed;
    unsigned fail; /* allocation kinds refused: 1 window, 2 reassembly, 4 HELLO names, 8 others */
    int refused;   /* an allocation was refused in this run                           */
    int64_t now;
    const uint8_t *in;
    size_t left;
} F;

static void check(int ok)
{
    if (!ok)
        abort();
}

static unsigned byte(void)
{
    if (F.left == 0)
        return 0;
    F.left--;
    return *F.in++;
}

static void *fuzz_alloc(size_t n)
{
    unsigned kind = n == NL__CHAT_RWIN * sizeof(nl__in_slot)      ? 1u
                    : n == NL__FRAME_MSG_MAX + 1                  ? 2u
                    : n == NL__CHAT_SEEN * sizeof(nl__hello_seen) ? 4u
                                                                  : 8u;

    if (F.fail & kind) {
        F.refused = 1;
        return NULL;
    }
    return malloc(n);
}

/* The window holds what it counts, and exists only while it holds something (or the core
 * closed in the middle of delivering from it); the reassembly buffer exists only while a
 * message is being reassembled. */
static void check_lazy(const nl__chat_core *c)
{
    unsigned present = 0;

    if (c->rwin != NULL)
        for (int i = 0; i < NL__CHAT_RWIN; i++)
            present += c->rwin[i].present;
    check(present == c->rwin_used && c->rwin_used <= NL__CHAT_RWIN);
    check(c->rwin != NULL || c->rwin_used == 0);
    check(c->rwin == NULL || c->rwin_used > 0);
    check((c->msg != NULL) == (c->msg_count != 0));
    check(c->status != NL_ENOMEM || F.refused); /* NL_ENOMEM only when memory ran out */
}

static int64_t side_now(int w)
{
    return F.now + F.s[w].off;
}

static size_t gen(int w, uint64_t k, size_t len, char *buf)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (char)('a' + (k * 7 + i + (unsigned)w * 13) % 26);
    if (len >= 8) {
        buf[0] = w ? 'B' : 'A';
        memcpy(buf + 1, &k, 7 < sizeof k ? 7 : sizeof k);
    }
    return len;
}

static void drain(int w)
{
    static char want[NL_CHAT_MSG_MAX];
    fside *x = &F.s[w];
    const nl__chat_dgram *d;
    nl_chat_event ev[4];
    int n;

    check(x->c->out_count <= NL__CHAT_OUT_MAX);
    check(x->c->queued <= x->c->queue_max && x->c->queue_max <= NL__CHAT_QUEUE_MAX);
    check(x->c->ev_count <= NL__CHAT_EVQ_MAX);
    check_lazy(x->c);
    while (nl__chat_core_pop_datagram(x->c, &d)) {
        const nl_endpoint *to = d->has_to ? &d->to : &x->c->peer;
        check(d->len <= NL__FRAME_MAX);
        if (F.nq < NET_MAX && nl_endpoint_compare(to, &F.s[!w].addr) == 0) {
            pkt *p = &F.net[F.nq++];
            p->to = !w;
            p->len = d->len;
            memcpy(p->data, d->data, d->len);
        }
    }
    while ((n = nl__chat_core_events(x->c, ev, 4)) > 0) {
        for (int i = 0; i < n; i++) {
            check(!x->closed);
            switch (ev[i].type) {
            case NL_CHAT_EV_MESSAGE: {
                fside *o = &F.s[!w];
                int real = nl_endpoint_compare(&x->c->peer, &o->addr) == 0;
                check(ev[i].msg_id == x->nmsg + 1);
                x->nmsg++;
                if (real && (F.keyed || x->nmsg <= o->nsent)) {
                    check(x->nmsg <= o->nsent);
                    size_t len = gen(!w, x->nmsg, o->sent_len[x->nmsg - 1], want);
                    check(ev[i].len == len && memcmp(ev[i].data, want, len) == 0);
                }
                break;
            }
            case NL_CHAT_EV_DELIVERED:
                check(ev[i].msg_id == x->last_delivered + 1);
                check(ev[i].msg_id <= x->nsent);
                x->last_delivered = ev[i].msg_id;
                break;
            case NL_CHAT_EV_CLOSED:
                x->closed = 1;
                break;
            default:
                break;
            }
        }
    }
    check(n == 0 || n == NL_ECLOSED);
    check(n != NL_ECLOSED || x->closed);
}

static void timers(int w)
{
    int64_t d = nl__chat_core_deadline(F.s[w].c);

    if (d < 0 || d > side_now(w))
        return;
    nl__chat_core_timers(F.s[w].c, side_now(w));
    drain(w);
    d = nl__chat_core_deadline(F.s[w].c);
    check(d < 0 || d == 0 || d > side_now(w));
}

static void take(int i)
{
    memmove(&F.net[i], &F.net[i + 1], (size_t)(F.nq - i - 1) * sizeof F.net[0]);
    F.nq--;
}

static void deliver(const pkt *p)
{
    nl__chat_core_input(F.s[p->to].c, p->data, p->len, &F.s[!p->to].addr, side_now(p->to));
    drain(p->to);
}

static void send_msg(int w, unsigned l)
{
    static char buf[NL_CHAT_MSG_MAX];
    fside *x = &F.s[w];
    size_t len = (size_t)l * 41; /* up to 10455 bytes: several fragments */
    int64_t id;

    if (x->nsent == SENT_MAX)
        return;
    gen(w, x->nsent + 1, len, buf);
    id = nl__chat_core_send(x->c, buf, len, side_now(w));
    if (id > 0) {
        check((uint64_t)id == x->nsent + 1);
        x->sent_len[x->nsent++] = (uint16_t)len;
    } else {
        check(id == NL_ENOBUFS || id == NL_ESHUTDOWN || id == NL_ECLOSED || id == NL_ENOMEM);
    }
    drain(w);
}

static void inject(void)
{
    uint8_t buf[NL__FRAME_MAX];
    unsigned how = byte();
    int w = how & 1;
    size_t n = byte() * 5;

    if (n > sizeof buf)
        n = sizeof buf;
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)byte();
    /* From the peer's own address only with a key: without one, a forger who knows the ids
     * is the peer, as far as anyone can tell. */
    nl__chat_core_input(F.s[w].c, buf, n, F.keyed && (how & 2) ? &F.s[!w].addr : &F.stranger,
                        side_now(w));
    drain(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned char key[NL_CHAT_KEY_BYTES] = {7, 7, 7};
    nl__chat_core_cfg cfg = {0};
    nl__chat_core_seed seed = {0};

    if (size < 1 || sodium_init() < 0)
        return 0;
    memset(&F, 0, sizeof F);
    nl__chat_core_alloc_hook = fuzz_alloc;
    F.in = data;
    F.left = size;
    F.keyed = byte() & 1;
    nl_endpoint_parse(&F.s[0].addr, "127.0.0.1", 1001);
    nl_endpoint_parse(&F.s[1].addr, "127.0.0.1", 1002);
    nl_endpoint_parse(&F.stranger, "127.0.0.1", 1003);
    cfg.mode = NL_CHAT_RELIABLE;
    cfg.key = F.keyed ? key : NULL;
    cfg.keepalive_ms = 250;
    cfg.lost_ms = 1000;
    cfg.leave_ms = 800;
    cfg.call_ms = 5000;
    cfg.trace_fd = -1;
    cfg.name = "a";
    seed.me = 11;
    seed.half = 12;
    check(nl__chat_core_new(&F.s[0].c, &cfg, &seed, 0) == 0);
    cfg.name = "b";
    cfg.peer = F.s[0].addr;
    seed.me = 21;
    seed.half = 22;
    seed.cookie_key[0] = 1;
    check(nl__chat_core_new(&F.s[1].c, &cfg, &seed, 0) == 0);
    drain(0);
    drain(1);

    for (int steps = 0; F.left > 0 && steps < 4000; steps++) {
        unsigned op = byte() % 16, a;
        int i;
        switch (op) {
        case 0: /* the oldest in flight arrives */
        case 1: /* any one arrives: reordering */
            if (F.nq == 0)
                break;
            i = op == 0 ? 0 : (int)(byte() % (unsigned)F.nq);
            {
                pkt p = F.net[i];
                take(i);
                deliver(&p);
            }
            break;
        case 2: /* lost */
            if (F.nq > 0)
                take((int)(byte() % (unsigned)F.nq));
            break;
        case 3: /* copied: it arrives, and stays in flight */
            if (F.nq > 0) {
                pkt p = F.net[byte() % (unsigned)F.nq];
                deliver(&p);
            }
            break;
        case 4: /* time passes, a little */
            F.now += byte() * 4;
            timers(0);
            timers(1);
            break;
        case 5: /* time passes to the next deadline of either side */
            for (int w = 0; w < 2; w++) {
                int64_t d = nl__chat_core_deadline(F.s[w].c);
                if (d > 0 && d - F.s[w].off > F.now)
                    F.now = d - F.s[w].off;
                timers(w);
            }
            break;
        case 6: /* a clock jumps, either way */
            a = byte();
            F.s[a & 1].off += ((int64_t)(a >> 1) - 64) * 100;
            timers(a & 1);
            break;
        case 7:
        case 8:
            send_msg((int)op - 7, byte());
            break;
        case 9:
            a = byte() & 1;
            nl__chat_core_leave(F.s[a].c, side_now((int)a));
            drain((int)a);
            break;
        case 10:
            inject();
            break;
        case 11: /* corrupted on the way: only a key can tell */
            if (F.keyed && F.nq > 0) {
                pkt *p = &F.net[byte() % (unsigned)F.nq];
                a = byte();
                if (p->len > 0)
                    p->data[a % p->len] ^= (uint8_t)(byte() | 1);
            }
            break;
        case 12:
            a = byte() & 1;
            nl__chat_core_refused(F.s[a].c, side_now((int)a));
            drain((int)a);
            break;
        case 13: /* a round: everything in flight arrives, in order, a few times over */
            a = byte() % 8 + 1;
            for (unsigned r = 0; r < a && F.nq > 0; r++) {
                for (int n = F.nq; n > 0 && F.nq > 0; n--) {
                    pkt p = F.net[0];
                    take(0);
                    deliver(&p);
                }
            }
            break;
        case 14: /* a burst of short messages from one side */
            a = byte();
            for (unsigned k = 0; k < (a >> 1) % 32; k++)
                send_msg((int)(a & 1), k % 3);
            break;
        case 15: /* memory runs out, or comes back (by kind); rarely, so most runs have it */
            a = byte();
            F.fail = (a & 0xf0) == 0xf0 ? a & 15 : 0;
            break;
        }
    }
    nl__chat_core_free(F.s[0].c);
    nl__chat_core_free(F.s[1].c);
    return 0;
}
