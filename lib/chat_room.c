/* nl_chat_room: a second driver over the sans-I/O chat core (chat_core.h). The host runs one
 * core per member on one socket, plus a listener core that answers HELLOs statelessly and
 * becomes a member's core once a handshake completes; a member runs one core with the host.
 * The host sequences: every message, join and leave gets the next room sequence number and
 * goes to every member over that member's reliable session, so all see one order.
 *
 * Room payloads ride inside the core's messages (docs/protocol.md, "The room"):
 *   host -> member: type (1 byte: M J L D X E W), room seq (8, big-endian), name length (1),
 *                   name, then the text (M only)
 *   member -> host: 'M', then the text. The host names it after the session it came on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_int.h"
#include "netlab/chat_room.h"
#include "platform.h"

#ifdef NETLAB_HAVE_SODIUM
#include <sodium.h>
#endif

#define ROOM_HDR      10                      /* type, seq, name length             */
#define ROOM_NAME_MAX (NL_CHAT_NAME_MAX + 12) /* a name made unique: name#12345     */
#define ROOM_TEXT_MAX NL_CHAT_ROOM_TEXT_MAX /* a message less ROOM_HDR and ROOM_NAME_MAX */
#define ROOM_BUDGET   256  /* datagrams read per step at most (a host hears many)    */
#define ROOM_LINGER   1500 /* member: after the room's end, finish the goodbye this long */
#define ROOM_ENDED    1024 /* host: ids of ended member sessions remembered            */

enum { RS_RUNNING, RS_ENDING, RS_CLOSED };

static int probe(nl_chat_room *r, const uint8_t *buf, size_t len, const nl_endpoint *from);

typedef struct member {
    nl__chat_core *c;
    char name[ROOM_NAME_MAX + 1];
    uint64_t end_id; /* host ending: the id of the end message to this member        */
    int joined;      /* named and announced                                          */
    int gone;        /* left, lost, dropped or has the end: announced, to be freed    */
    int64_t free_at; /* gone: free the core then, or once it has closed: a member that
                      * says goodbye gets its BYE answered (see reap)                  */
    int drop;        /* over its backlog cap: to be dropped                           */
} member;

typedef struct room_ev {
    nl_chat_room_event ev;
    char *own; /* name and data in one block                                       */
} room_ev;

struct nl_chat_room {
    nl_udp *udp;
    int is_host, state, status, closed_reported, connected, refused;
    int entered;           /* member: the host's welcome arrived                           */
    int warned;            /* host: the listeners' authentication warning was given (once) */
    nl__chat_core_cfg cfg; /* the template for every core                         */
    char name[NL_CHAT_NAME_MAX + 1];
    unsigned char key[NL_CHAT_KEY_BYTES];
    nl__chat_core_seed seed; /* host: shared by every listener (see new_listener) */
    int max_members;
    char room[NL_CHAT_NAME_MAX + 1];
    nl__chat_core *listener; /* host: answers HELLOs                                */
    member *m;
    size_t nm, mcap;
    nl__chat_core *up; /* member: the session with the host                       */
    char host_name[NL_CHAT_NAME_MAX + 1];
    uint64_t seq;         /* host: the last room sequence number given           */
    int64_t end_deadline; /* host ending / member lingering                       */
    room_ev *evq;
    size_t ev_head, ev_count, ev_cap;
    char **lent;
    size_t lent_count, lent_cap;
    uint64_t ended[ROOM_ENDED]; /* host: session ids that are over, the newest replacing
                                 * the oldest: their late frames (a BYE-DONE, a copy, a
                                 * replay) carry a valid cookie and would otherwise
                                 * complete a new handshake, a member back from the dead */
    size_t ended_next;
    nl_chat_room_counters st;
    nl_chat_stats gone_frames; /* counters of cores already freed                   */
    uint8_t rxbuf[NL_UDP_MAX_DATAGRAM + 1];
    uint8_t enc[NL_CHAT_MSG_MAX];
};

const char *nl_chat_room_event_name(int type)
{
    static const char *const names[] = {"?",       "ENTERED",     "JOINED", "MESSAGE",
                                        "LEFT",    "LOST",        "DROPPED", "ROOM_CLOSED",
                                        "CLOSED",  "WARNING"};

    return type >= NL_CHAT_ROOM_EV_ENTERED && type <= NL_CHAT_ROOM_EV_WARNING ? names[type]
                                                                              : names[0];
}

/* ---- Events ---- */

/* Queue a room event (name and data copied). No memory: the room ends with NL_ENOMEM rather
 * than lose an event silently; its CLOSED event needs none. Returns the event, or NULL. */
static room_ev *room_push(nl_chat_room *r, nl_chat_room_event_type type, uint64_t seq,
                          const char *name, const void *data, size_t len)
{
    size_t nlen = strlen(name);
    room_ev *it;
    char *own;

    if (r->ev_head + r->ev_count == r->ev_cap) {
        if (r->ev_head > 0) {
            memmove(r->evq, r->evq + r->ev_head, r->ev_count * sizeof *r->evq);
            r->ev_head = 0;
        } else {
            size_t cap = r->ev_cap ? r->ev_cap * 2 : 16;
            room_ev *q = realloc(r->evq, cap * sizeof *q);
            if (q == NULL)
                goto nomem;
            r->evq = q;
            r->ev_cap = cap;
        }
    }
    if ((own = malloc(nlen + 1 + len + 1)) == NULL)
        goto nomem;
    memcpy(own, name, nlen + 1);
    if (len > 0)
        memcpy(own + nlen + 1, data, len);
    own[nlen + 1 + len] = '\0';
    it = &r->evq[r->ev_head + r->ev_count++];
    memset(it, 0, sizeof *it);
    it->ev.type = type;
    it->ev.seq = seq;
    it->ev.name = own;
    it->ev.data = own + nlen + 1;
    it->ev.len = len;
    it->own = own;
    return it;
nomem:
    if (r->state != RS_CLOSED) {
        r->state = RS_CLOSED;
        r->status = NL_ENOMEM;
    }
    return NULL;
}

/* A WARNING event: what a core found wrong (its code), about name. */
static void room_warn(nl_chat_room *r, int code, const char *name)
{
    room_ev *it = room_push(r, NL_CHAT_ROOM_EV_WARNING, 0, name, NULL, 0);

    if (it != NULL)
        it->ev.code = code;
}

static void room_finish(nl_chat_room *r, int status)
{
    if (r->state == RS_CLOSED)
        return;
    r->state = RS_CLOSED;
    r->status = status;
}

/* ---- Sending what the cores give out ---- */

static void add_stats(nl_chat_stats *to, const nl_chat_stats *from)
{
    const uint64_t *f = (const uint64_t *)from;
    uint64_t *t = (uint64_t *)to;

    for (size_t i = 0; i < sizeof *from / sizeof(uint64_t); i++)
        t[i] += f[i];
}

static void flush(nl_chat_room *r, nl__chat_core *c)
{
    const nl__chat_dgram *d;

    while (nl__chat_core_pop_datagram(c, &d)) {
        const nl_endpoint *to = d->has_to ? &d->to : &c->peer;
        ssize_t n;
        if (r->connected && nl_endpoint_compare(to, &c->peer) == 0)
            to = NULL;
        n = nl_udp_send_to(r->udp, d->data, d->len, to, 0);
        if (n >= 0)
            c->st.datagrams_out++;
        else if (n == NL_ECONNREFUSED)
            r->refused = 1;
        /* Every other error is, for UDP and this protocol, a loss: the cores repeat what
         * matters, and a host must not end the room for one member's unreachable address. */
    }
}

/* ---- Host ---- */

static size_t encode(nl_chat_room *r, int type, uint64_t seq, const char *name, const void *text,
                     size_t len)
{
    size_t nlen = strlen(name);

    r->enc[0] = (uint8_t)type;
    for (int i = 0; i < 8; i++)
        r->enc[1 + i] = (uint8_t)(seq >> (56 - 8 * i));
    r->enc[9] = (uint8_t)nlen;
    memcpy(r->enc + ROOM_HDR, name, nlen);
    if (len > 0)
        memcpy(r->enc + ROOM_HDR + nlen, text, len);
    return ROOM_HDR + nlen + len;
}

/* Give the next sequence number to something that happened and tell every member but one
 * (skip, or -1). A member whose backlog is over its cap is marked for dropping. */
static uint64_t broadcast(nl_chat_room *r, int type, const char *name, const void *text, size_t len,
                          long skip, int64_t now)
{
    uint64_t seq = ++r->seq;
    size_t n = encode(r, type, seq, name, text, len);

    for (size_t i = 0; i < r->nm; i++) {
        member *m = &r->m[i];
        int64_t id;
        if ((long)i == skip || !m->joined || m->gone || m->drop)
            continue;
        id = nl__chat_core_send(m->c, r->enc, n, now);
        if (id == NL_ENOBUFS || id == NL_ENOMEM)
            m->drop = 1;
        else if (id > 0)
            r->st.relayed++;
        if (type == 'E' && id > 0)
            m->end_id = (uint64_t)id;
        flush(r, m->c);
    }
    return seq;
}

static int name_taken(const nl_chat_room *r, const char *name)
{
    if (strcmp(name, r->name) == 0)
        return 1;
    for (size_t i = 0; i < r->nm; i++)
        if (r->m[i].joined && !r->m[i].gone && strcmp(r->m[i].name, name) == 0)
            return 1;
    return 0;
}

/* A member's name, unique in the room: its own, or its address when it has none, with #2,
 * #3, ... when taken. Names are how members tell each other apart: no two may share one. */
static void unique_name(const nl_chat_room *r, member *m, const char *want, size_t len)
{
    char base[ROOM_NAME_MAX + 1];

    if (len == 0) {
        if (nl_endpoint_format(&m->c->peer, base, sizeof base) < 0)
            (void)snprintf(base, sizeof base, "member");
    } else {
        memcpy(base, want, len);
        base[len] = '\0';
    }
    (void)snprintf(m->name, sizeof m->name, "%s", base);
    for (unsigned k = 2; name_taken(r, m->name); k++)
        (void)snprintf(m->name, sizeof m->name, "%.64s#%u", base, k);
}

/* Member m is out of the room. A member that leaves (or has the end) still finishes its
 * goodbye with its core, up to keep_ms: freeing the core at once would leave the member's BYE
 * unanswered and make it wait out its linger (ROOM_LINGER) before it can exit. */
static void member_done(member *m, int keep_ms, int64_t now)
{
    m->gone = 1;
    m->free_at = now + keep_ms;
}

static void member_gone(nl_chat_room *r, size_t i, int type, int64_t now)
{
    member *m = &r->m[i];
    nl_chat_room_event_type et = type == 'L'   ? NL_CHAT_ROOM_EV_LEFT
                                 : type == 'D' ? NL_CHAT_ROOM_EV_LOST
                                               : NL_CHAT_ROOM_EV_DROPPED;
    uint64_t seq;

    if (m->gone)
        return;
    member_done(m, type == 'L' ? ROOM_LINGER : 0, now);
    if (!m->joined || r->state != RS_RUNNING)
        return;
    seq = broadcast(r, type, m->name, NULL, 0, (long)i, now);
    room_push(r, et, seq, m->name, NULL, 0);
}

/* Act on what member i's core reports. */
static void member_events(nl_chat_room *r, size_t i, int64_t now)
{
    nl_chat_event ev[16];
    uint64_t seq;
    size_t welcome;
    int n;

    while ((n = nl__chat_core_events(r->m[i].c, ev, 16)) > 0) {
        for (int k = 0; k < n; k++) {
            member *m = &r->m[i]; /* broadcast never moves the array */
            switch (ev[k].type) {
            case NL_CHAT_EV_PEER_JOINED:
                if (r->state != RS_RUNNING)
                    break;
                unique_name(r, m, ev[k].data, ev[k].len);
                m->joined = 1;
                r->st.joined++;
                seq = broadcast(r, 'J', m->name, NULL, 0, (long)i, now);
                room_push(r, NL_CHAT_ROOM_EV_JOINED, seq, m->name, NULL, 0);
                /* The newcomer's welcome: it is in from this sequence number on, under this
                 * name. Everything relayed from now on goes to it too; it says "entered" only
                 * now, not at the handshake, which we may not have seen complete yet. */
                welcome = encode(r, 'W', seq, m->name, NULL, 0);
                if (nl__chat_core_send(m->c, r->enc, welcome, now) < 0)
                    m->drop = 1;
                flush(r, m->c);
                break;
            case NL_CHAT_EV_MESSAGE:
                if (ev[k].len < 1 || ev[k].data[0] != 'M' || !m->joined || m->gone) {
                    m->c->st.unexpected++;
                    break;
                }
                r->st.messages_in++;
                if (r->state != RS_RUNNING)
                    break; /* the room is over: nobody is listening any more */
                room_push(r, NL_CHAT_ROOM_EV_MESSAGE,
                          broadcast(r, 'M', m->name, ev[k].data + 1, ev[k].len - 1, (long)i, now),
                          m->name, ev[k].data + 1, ev[k].len - 1);
                break;
            case NL_CHAT_EV_DELIVERED:
                if (r->state == RS_ENDING && m->end_id != 0 && ev[k].msg_id == m->end_id)
                    member_done(m, ROOM_LINGER, now); /* it has the end: done */
                break;
            case NL_CHAT_EV_PEER_LEFT:
                member_gone(r, i, 'L', now);
                break;
            case NL_CHAT_EV_PEER_LOST:
                member_gone(r, i, 'D', now);
                break;
            case NL_CHAT_EV_CLOSED:
                member_gone(r, i, ev[k].code == NL_EPEERLOST ? 'D' : 'L', now);
                break;
            default:
                break;
            }
        }
    }
}

/* Free the members that are gone or to be dropped; dropping is announced, which can mark
 * more (their backlogs grow too), so this repeats until nothing changes. */
static void reap(nl_chat_room *r, int64_t now)
{
    int again = 1;

    while (again) {
        again = 0;
        for (size_t i = 0; i < r->nm; i++) {
            if (r->m[i].drop && !r->m[i].gone) {
                r->st.dropped_slow++;
                member_gone(r, i, 'X', now);
                again = 1;
            }
        }
    }
    for (size_t i = 0; i < r->nm;) {
        member *m = &r->m[i];
        if (m->gone && (now >= m->free_at || nl__chat_core_status(m->c) != NL_EAGAIN)) {
            r->ended[r->ended_next++ % ROOM_ENDED] = r->m[i].c->sid;
            add_stats(&r->gone_frames, &r->m[i].c->st);
            nl__chat_core_free(r->m[i].c);
            r->m[i] = r->m[--r->nm];
        } else {
            i++;
        }
    }
}

/* Every listener is the same responder to the members: same sender id, same cookie key. A
 * HELLO answered by one listener may complete on the next (the first was promoted to another
 * member's core meanwhile), and the member already holds our sender id from the HELLO-ACK.
 * Session ids differ per member (the initiator's half is random), so with a key no nonce
 * repeats. */
static int new_listener(nl_chat_room *r, int64_t now)
{
    return nl__chat_core_new(&r->listener, &r->cfg, &r->seed, now);
}

static uint64_t drops(const nl_chat_stats *s)
{
    return s->wrong_source + s->bad_length + s->bad_magic + s->bad_version + s->bad_header +
           s->auth_failed + s->bad_session + s->replayed + s->out_of_window + s->unexpected;
}

static int session_ended(const nl_chat_room *r, uint64_t sid)
{
    for (size_t i = 0; i < ROOM_ENDED && i < r->ended_next; i++)
        if (r->ended[i] == sid)
            return 1;
    return 0;
}

static void host_input(nl_chat_room *r, const uint8_t *buf, size_t len, const nl_endpoint *from,
                       int64_t now)
{
    nl__chat_core *l = r->listener;
    uint64_t before;

    for (size_t i = 0; i < r->nm; i++) {
        if (nl_endpoint_compare(from, &r->m[i].c->peer) == 0) {
            nl__chat_core_input(r->m[i].c, buf, len, from, now);
            flush(r, r->m[i].c);
            member_events(r, i, now);
            return;
        }
    }
    if (probe(r, buf, len, from))
        return;
    /* Not a member: only the handshake may use it, and only while there is room. */
    if (r->state != RS_RUNNING || l == NULL) {
        r->st.non_member++;
        return;
    }
    if (r->nm >= (size_t)r->max_members) {
        r->st.refused_full++;
        r->st.non_member++;
        return;
    }
    before = drops(&l->st);
    nl__chat_core_input(l, buf, len, from, now);
    flush(r, l);
    if (drops(&l->st) != before)
        r->st.non_member++;
    if (l->state >= NL__ST_OPEN && l->state != NL__ST_CLOSED && session_ended(r, l->sid)) {
        /* A frame of a session that is over: no join. A fresh listener takes over. */
        r->st.non_member++;
        r->listener = NULL;
        if (new_listener(r, now) < 0)
            r->listener = NULL;
        else
            nl__chat_core_move_seen(r->listener, l);
        nl__chat_core_free(l);
        return;
    }
    if (l->state >= NL__ST_OPEN && l->state != NL__ST_CLOSED) {
        /* A handshake completed: the listener is this member's core from now on. */
        member *m;
        if (r->nm == r->mcap) {
            size_t cap = r->mcap ? r->mcap * 2 : 8;
            member *a = realloc(r->m, cap * sizeof *a);
            if (a == NULL)
                return; /* the listener stays; the member's next frame tries again */
            r->m = a;
            r->mcap = cap;
        }
        m = &r->m[r->nm++];
        memset(m, 0, sizeof *m);
        m->c = l;
        r->listener = NULL;
        if (new_listener(r, now) < 0)
            r->listener = NULL; /* no more joins; the room goes on */
        else                    /* the names of HELLOs answered but not yet completed */
            nl__chat_core_move_seen(r->listener, l);
        member_events(r, r->nm - 1, now);
    } else {
        nl_chat_event ev[4];
        int n;
        /* The listener's own events concern nobody yet, but for its warning that HELLOs fail
         * authentication: a student's key differs from ours, which the host must hear of. */
        while ((n = nl__chat_core_events(l, ev, 4)) > 0)
            for (int k = 0; k < n; k++)
                if (ev[k].type == NL_CHAT_EV_WARNING && ev[k].code == NL_EBADFRAME &&
                    !r->warned) {
                    r->warned = 1; /* once for the room: every join makes a fresh listener */
                    room_warn(r, ev[k].code, "");
                }
    }
}

/* ---- Discovery ---- */

#define PROBE_LEN 160 /* a probe: "NLR?" and padding; no answer is longer */

/* A probe from anyone: answer with "NLR!", the room's name and ours, no longer than it. */
static int probe(nl_chat_room *r, const uint8_t *buf, size_t len, const nl_endpoint *from)
{
    uint8_t ans[PROBE_LEN];
    size_t rl = strlen(r->room), nl = strlen(r->name);

    if (len != PROBE_LEN || memcmp(buf, "NLR?", 4) != 0)
        return 0;
    if (r->state == RS_RUNNING) {
        static const uint8_t magic[4] = {'N', 'L', 'R', '!'};
        memcpy(ans, magic, sizeof magic);
        ans[4] = (uint8_t)rl;
        memcpy(ans + 5, r->room, rl);
        ans[5 + rl] = (uint8_t)nl;
        memcpy(ans + 6 + rl, r->name, nl);
        nl_udp_send_to(r->udp, ans, 6 + rl + nl, from, 0);
        r->st.probes++;
    }
    return 1;
}

/* A probe on its way: the socket, the port, the datagram. */
struct probe_out {
    nl_udp *u;
    int port;
    const uint8_t *buf;
};

static void probe_to(const uint8_t addr[4], void *arg)
{
    const struct probe_out *p = arg;
    nl_endpoint to;

    memset(&to, 0, sizeof to);
    to.family = NL_AF_INET;
    memcpy(to.addr, addr, 4);
    to.port = (uint16_t)p->port;
    nl_udp_send_to(p->u, p->buf, PROBE_LEN, &to, 0);
}

/* One probe to 127.0.0.1 and to every local network's broadcast address (the seam's list). */
static void send_probes(nl_udp *u, int port)
{
    static const uint8_t magic[4] = {'N', 'L', 'R', '?'}, loopback[4] = {127, 0, 0, 1};
    uint8_t buf[PROBE_LEN];
    struct probe_out p = {u, port, buf};

    memset(buf, 0, sizeof buf);
    memcpy(buf, magic, sizeof magic);
    probe_to(loopback, &p);
    nl__ipv4_broadcasts(probe_to, &p);
}

int nl_chat_room_discover(const nl_endpoint *bind, int port, int wait_ms, nl_chat_room_found *found,
                          size_t max)
{
    uint8_t buf[PROBE_LEN + 1];
    nl_endpoint local, from;
    nl_udp *u;
    int on = 1, rc, count = 0;
    int64_t end;

    if (bind == NULL || port <= 0 || port > 65535 || wait_ms <= 0 || (found == NULL && max > 0))
        return NL_EINVAL;
    if (bind->family != NL_AF_INET)
        return NL_EAFNOSUPPORT;
    local = *bind;
    local.port = 0;
    if ((rc = nl_udp_open_bound(&u, &local, NULL)) < 0)
        return rc;
    (void)nl__setsockopt(nl_udp_fd(u), SOL_SOCKET, SO_BROADCAST, &on, sizeof on);
    /* A probe or its answer may be lost: probe again every 250 ms while waiting. */
    end = nl__chat_now() + wait_ms;
    for (int64_t next = 0;;) {
        int64_t left = end - nl__chat_now();
        if (nl__chat_now() >= next) {
            send_probes(u, port);
            next = nl__chat_now() + 250;
        }
        if (left > next - nl__chat_now())
            left = next - nl__chat_now();
        struct pollfd p = {.fd = nl_udp_fd(u), .events = POLLIN};
        ssize_t n;
        size_t rl, nl;
        int dup = 0;
        if (end - nl__chat_now() <= 0)
            break;
        if (nl__poll(&p, 1, (int)(left > 0 ? left : 0)) <= 0)
            continue;
        n = nl_udp_recv_from(u, buf, sizeof buf, &from, 0);
        if (n < 6 || memcmp(buf, "NLR!", 4) != 0)
            continue;
        rl = buf[4];
        if ((size_t)n < 6 + rl || (nl = buf[5 + rl]) + 6 + rl != (size_t)n ||
            rl > NL_CHAT_NAME_MAX || nl > NL_CHAT_NAME_MAX)
            continue;
        nl_endpoint_normalize(&from);
        for (int k = 0; k < count && (size_t)k < max; k++)
            dup |= nl_endpoint_compare(&found[k].host, &from) == 0;
        if (dup)
            continue;
        if ((size_t)count < max) {
            found[count].host = from;
            memcpy(found[count].room, buf + 5, rl);
            found[count].room[rl] = '\0';
            memcpy(found[count].name, buf + 6 + rl, nl);
            found[count].name[nl] = '\0';
        }
        count++;
    }
    nl_udp_close(u);
    return count;
}

/* ---- Member ---- */

static void member_up_events(nl_chat_room *r, int64_t now)
{
    nl_chat_event ev[16];
    int n;

    while ((n = nl__chat_core_events(r->up, ev, 16)) > 0) {
        for (int k = 0; k < n; k++) {
            const uint8_t *p = (const uint8_t *)ev[k].data;
            char name[ROOM_NAME_MAX + 1];
            uint64_t seq = 0;
            size_t nlen;
            switch (ev[k].type) {
            case NL_CHAT_EV_PEER_JOINED:
                /* The handshake is done; we are in the room once the host's welcome says so
                 * (it may not have seen our half of the handshake yet). */
                (void)snprintf(r->host_name, sizeof r->host_name, "%s", ev[k].data);
                break;
            case NL_CHAT_EV_MESSAGE:
                if (ev[k].len < ROOM_HDR || (nlen = p[9]) > ROOM_NAME_MAX ||
                    ROOM_HDR + nlen > ev[k].len || r->state == RS_CLOSED) {
                    r->up->st.unexpected++;
                    break;
                }
                for (int i = 0; i < 8; i++)
                    seq = seq << 8 | p[1 + i];
                memcpy(name, p + ROOM_HDR, nlen);
                name[nlen] = '\0';
                switch (p[0]) {
                case 'M':
                    r->st.messages_in++;
                    room_push(r, NL_CHAT_ROOM_EV_MESSAGE, seq, name, p + ROOM_HDR + nlen,
                              ev[k].len - ROOM_HDR - nlen);
                    break;
                case 'W':
                    if (r->entered) {
                        r->up->st.unexpected++;
                        break;
                    }
                    r->entered = 1;
                    room_push(r, NL_CHAT_ROOM_EV_ENTERED, seq, r->host_name, name, nlen);
                    break;
                case 'J':
                    room_push(r, NL_CHAT_ROOM_EV_JOINED, seq, name, NULL, 0);
                    break;
                case 'L':
                    room_push(r, NL_CHAT_ROOM_EV_LEFT, seq, name, NULL, 0);
                    break;
                case 'D':
                    room_push(r, NL_CHAT_ROOM_EV_LOST, seq, name, NULL, 0);
                    break;
                case 'X':
                    room_push(r, NL_CHAT_ROOM_EV_DROPPED, seq, name, NULL, 0);
                    break;
                case 'E':
                    /* The room is over. Say goodbye (one BYE, so that the host need not wait
                     * for us), and close once it is through or a little later. */
                    if (r->state != RS_RUNNING && r->state != RS_ENDING)
                        break;
                    room_push(r, NL_CHAT_ROOM_EV_ROOM_CLOSED, seq, name, NULL, 0);
                    r->state = RS_ENDING;
                    r->status = 0;
                    r->end_deadline = now + ROOM_LINGER;
                    nl__chat_core_leave(r->up, now);
                    flush(r, r->up);
                    break;
                default:
                    r->up->st.unexpected++;
                    break;
                }
                break;
            case NL_CHAT_EV_PEER_LEFT:
                /* The host's BYE without the room's end before it: it ended too. */
                if (r->state == RS_RUNNING) {
                    room_push(r, NL_CHAT_ROOM_EV_ROOM_CLOSED, 0, r->host_name, NULL, 0);
                    r->state = RS_ENDING;
                    r->status = 0;
                    r->end_deadline = now + ROOM_LINGER;
                }
                break;
            case NL_CHAT_EV_PEER_LOST:
                if (r->state == RS_RUNNING)
                    room_push(r, NL_CHAT_ROOM_EV_LOST, 0, r->host_name, NULL, 0);
                break;
            case NL_CHAT_EV_WARNING: {
                /* Calling and nobody answers, or the answers fail authentication: say so
                 * now rather than only at the give-up time. */
                char at[NL_ENDPOINT_STRLEN];
                if (nl_endpoint_format(&r->up->peer, at, sizeof at) < 0)
                    at[0] = '\0';
                room_warn(r, ev[k].code, at);
                break;
            }
            case NL_CHAT_EV_CLOSED:
                room_finish(r, r->state == RS_ENDING ? 0 : ev[k].code);
                break;
            default:
                break;
            }
        }
    }
}

/* ---- Driving ---- */

static void input(nl_chat_room *r, const uint8_t *buf, size_t len, const nl_endpoint *from,
                  int64_t now)
{
    if (r->is_host) {
        host_input(r, buf, len, from, now);
        reap(r, now);
    } else {
        nl__chat_core_input(r->up, buf, len, from, now);
        flush(r, r->up);
        member_up_events(r, now);
    }
}

/* Every member is gone and its core freed (reap): its goodbye is complete or given up. */
static int all_gone(const nl_chat_room *r)
{
    return r->nm == 0;
}

static void core_timers(nl_chat_room *r, nl__chat_core *c, int64_t now)
{
    int64_t d = nl__chat_core_deadline(c);

    if (d >= 0 && d <= now) {
        nl__chat_core_timers(c, now);
        flush(r, c);
    }
}

static void timers(nl_chat_room *r, int64_t now)
{
    if (r->is_host) {
        if (r->listener != NULL)
            core_timers(r, r->listener, now);
        for (size_t i = 0; i < r->nm; i++) {
            core_timers(r, r->m[i].c, now);
            member_events(r, i, now);
        }
        reap(r, now);
        if (r->state == RS_ENDING && (all_gone(r) || now >= r->end_deadline))
            room_finish(r, 0);
        return;
    }
    if (r->refused)
        nl__chat_core_refused(r->up, now);
    r->refused = 0;
    core_timers(r, r->up, now);
    member_up_events(r, now);
    if (r->state == RS_ENDING && now >= r->end_deadline)
        room_finish(r, r->status);
}

static int64_t deadline(const nl_chat_room *r)
{
    int64_t d = -1, x;

#define EARLIER(t) (d = (d < 0 || (t) < d) ? (t) : d)
    if (r->ev_count > 0 || (r->state == RS_CLOSED && !r->closed_reported))
        return 0;
    if (r->state == RS_CLOSED)
        return -1;
    if (r->state == RS_ENDING)
        EARLIER(r->end_deadline);
    if (r->is_host) {
        if (r->listener != NULL && (x = nl__chat_core_deadline(r->listener)) >= 0)
            EARLIER(x);
        for (size_t i = 0; i < r->nm; i++) {
            if ((x = nl__chat_core_deadline(r->m[i].c)) >= 0)
                EARLIER(x);
            if (r->m[i].gone)
                EARLIER(r->m[i].free_at);
        }
    } else if ((x = nl__chat_core_deadline(r->up)) >= 0) {
        EARLIER(x);
    }
    return d;
#undef EARLIER
}

int nl_chat_room_open(nl_chat_room **out, const nl_chat_room_opts *o)
{
    nl_chat_room *r;
    nl_opts uo = {0};
    int rc, lost_ms;
    int64_t now = nl__chat_now();

    if (out == NULL)
        return NL_EINVAL;
    *out = NULL;
    if (o == NULL || o->bind.family == 0 || o->peer_lost_ms < 0 || o->max_members < 0 ||
        o->call_timeout_ms < -1 || (o->name != NULL && strlen(o->name) > NL_CHAT_NAME_MAX) ||
        (o->room != NULL && strlen(o->room) > NL_CHAT_NAME_MAX))
        return NL_EINVAL;
    lost_ms = o->peer_lost_ms ? o->peer_lost_ms : NL_CHAT_PEER_LOST_DEFAULT;
    if (lost_ms < NL_CHAT_PEER_LOST_MIN)
        return NL_EINVAL;
    if (o->host.family != 0 && o->host.family != o->bind.family && o->bind.family != NL_AF_INET6)
        return NL_EAFNOSUPPORT;
#ifndef NETLAB_HAVE_SODIUM
    if (o->key != NULL)
        return NL_ENOTSUP;
#else
    if (o->key != NULL && sodium_init() < 0)
        return NL_EIO;
#endif
    if ((r = calloc(1, sizeof *r)) == NULL)
        return NL_ENOMEM;
    uo.trace = o->trace;
    uo.trace_user = o->trace_user;
    if ((rc = nl_udp_open_bound(&r->udp, &o->bind, &uo)) < 0)
        goto fail;
    r->is_host = o->host.family == 0;
    r->status = NL_EAGAIN;
    r->max_members = o->max_members ? o->max_members : NL_CHAT_ROOM_MEMBERS_DEFAULT;
    if (o->name != NULL)
        (void)snprintf(r->name, sizeof r->name, "%s", o->name);
    if (o->room != NULL)
        (void)snprintf(r->room, sizeof r->room, "%s", o->room);
    if (o->key != NULL)
        memcpy(r->key, o->key, sizeof r->key);
    r->cfg.mode = NL_CHAT_RELIABLE;
    r->cfg.key = o->key != NULL ? r->key : NULL;
    r->cfg.name = r->name;
    r->cfg.lost_ms = lost_ms;
    r->cfg.keepalive_ms = lost_ms / 4 < 1000 ? lost_ms / 4 : 1000;
    r->cfg.leave_ms = 4000;
    r->cfg.call_ms = o->call_timeout_ms ? o->call_timeout_ms : 60000;
    r->cfg.queue_max =
        r->is_host ? (o->member_queue_max ? o->member_queue_max : NL_CHAT_ROOM_QUEUE_DEFAULT) : 0;
    r->cfg.trace = o->trace;
    r->cfg.trace_user = o->trace_user;
    r->cfg.trace_fd = nl_udp_fd(r->udp);
    if (r->is_host) {
        if ((rc = nl__chat_random(&r->seed, sizeof r->seed)) < 0 || (rc = new_listener(r, now)) < 0)
            goto fail;
    } else {
        nl__chat_core_seed seed = {0};
        r->cfg.peer = o->host;
        nl_endpoint_normalize(&r->cfg.peer);
        if ((rc = nl_udp_connect(r->udp, &r->cfg.peer)) < 0)
            goto fail;
        r->connected = 1;
        if ((rc = nl__chat_random(&seed.me, sizeof seed.me)) < 0 ||
            (rc = nl__chat_random(&seed.half, sizeof seed.half)) < 0 ||
            (rc = nl__chat_core_new(&r->up, &r->cfg, &seed, now)) < 0)
            goto fail;
        r->cfg.peer = (nl_endpoint){0};
        flush(r, r->up);
    }
    r->cfg.name = r->name;
    *out = r;
    return 0;
fail:
    nl_chat_room_close(r);
    return rc;
}

void nl_chat_room_close(nl_chat_room *r)
{
    if (r == NULL)
        return;
    nl__chat_core_free(r->listener);
    nl__chat_core_free(r->up);
    for (size_t i = 0; i < r->nm; i++)
        nl__chat_core_free(r->m[i].c);
    free(r->m);
    for (size_t i = 0; i < r->ev_count; i++)
        free(r->evq[r->ev_head + i].own);
    free(r->evq);
    for (size_t i = 0; i < r->lent_count; i++)
        free(r->lent[i]);
    free(r->lent);
#ifdef NETLAB_HAVE_SODIUM
    sodium_memzero(r->key, sizeof r->key);
    sodium_memzero(&r->seed, sizeof r->seed);
#endif
    nl_udp_close(r->udp);
    free(r);
}

nl_socket_t nl_chat_room_fd(const nl_chat_room *r)
{
    return r == NULL ? (nl_socket_t)NL__FD_EINVAL : nl_udp_fd(r->udp);
}

int nl_chat_room_next_timeout_ms(const nl_chat_room *r)
{
    int64_t d, left;

    if (r == NULL || (d = deadline(r)) < 0)
        return -1;
    if (d == 0)
        return 0;
    left = d - nl__chat_now();
    return left <= 0 ? 0 : left > 0x7fffffff ? 0x7fffffff : (int)left;
}

static void read_datagrams(nl_chat_room *r)
{
    nl_endpoint from;
    ssize_t n;
    int i;

    for (i = 0; i < ROOM_BUDGET && r->state != RS_CLOSED; i++) {
        n = nl_udp_recv_from(r->udp, r->rxbuf, sizeof r->rxbuf, &from, 0);
        if (n == NL_EAGAIN)
            return;
        if (n == NL_ECONNREFUSED) {
            r->refused = 1;
            continue;
        }
        if (n < 0) {
            r->st.frames.bad_length++; /* truncated, or an error that a datagram caused */
            continue;
        }
        nl_endpoint_normalize(&from);
        input(r, r->rxbuf, (size_t)n, &from, nl__chat_now());
    }
}

int nl_chat_room_step(nl_chat_room *r, nl_chat_room_event *events, size_t max, int timeout_ms)
{
    size_t n = 0;

    if (r == NULL || events == NULL || max == 0)
        return NL_EINVAL;
    for (size_t i = 0; i < r->lent_count; i++)
        free(r->lent[i]);
    r->lent_count = 0;
    if (r->closed_reported)
        return NL_ECLOSED;
    if (r->ev_count == 0 && r->state != RS_CLOSED) {
        struct pollfd pfd = {.fd = nl_udp_fd(r->udp), .events = POLLIN};
        int64_t d = deadline(r);
        int wait = timeout_ms;
        if (d >= 0) {
            int64_t left = d - nl__chat_now();
            int t = left <= 0 ? 0 : left > 0x7fffffff ? 0x7fffffff : (int)left;
            if (wait < 0 || t < wait)
                wait = t;
        }
        if (nl__poll(&pfd, 1, wait) > 0)
            read_datagrams(r);
        timers(r, nl__chat_now());
    }
    if (r->lent_cap < max) {
        char **l = realloc(r->lent, max * sizeof *l);
        if (l == NULL)
            return NL_ENOMEM;
        r->lent = l;
        r->lent_cap = max;
    }
    while (n < max && r->ev_count > 0) {
        room_ev *it = &r->evq[r->ev_head++];
        r->ev_count--;
        events[n++] = it->ev;
        r->lent[r->lent_count++] = it->own;
    }
    if (r->ev_count == 0)
        r->ev_head = 0;
    if (n < max && r->ev_count == 0 && r->state == RS_CLOSED) {
        memset(&events[n], 0, sizeof events[n]);
        events[n].type = NL_CHAT_ROOM_EV_CLOSED;
        events[n].code = r->status;
        events[n].name = r->name;
        events[n].data = "";
        r->closed_reported = 1;
        n++;
    }
    return (int)n;
}

int nl_chat_room_send(nl_chat_room *r, const void *text, size_t len)
{
    int64_t now = nl__chat_now(), id;

    if (r == NULL || (text == NULL && len > 0))
        return NL_EINVAL;
    if (r->state == RS_CLOSED)
        return NL_ECLOSED;
    if (r->state == RS_ENDING)
        return NL_ESHUTDOWN;
    if (len > ROOM_TEXT_MAX)
        return NL_EMSGSIZE;
    if (r->is_host) {
        broadcast(r, 'M', r->name, text, len, -1, now);
        reap(r, now);
        r->st.messages_out++;
        return 0;
    }
    r->enc[0] = 'M';
    if (len > 0)
        memcpy(r->enc + 1, text, len);
    id = nl__chat_core_send(r->up, r->enc, len + 1, now);
    flush(r, r->up);
    if (id < 0)
        return (int)id;
    r->st.messages_out++;
    return 0;
}

size_t nl_chat_room_send_room(const nl_chat_room *r)
{
    size_t least = NL_CHAT_MSG_MAX, room;

    if (r == NULL || r->state != RS_RUNNING)
        return 0;
    if (!r->is_host)
        return nl__chat_core_room(r->up);
    for (size_t i = 0; i < r->nm; i++) {
        if (r->m[i].gone || !r->m[i].joined)
            continue;
        room = nl__chat_core_room(r->m[i].c);
        least = room < least ? room : least;
    }
    return least;
}

int nl_chat_room_leave(nl_chat_room *r)
{
    int64_t now = nl__chat_now();

    if (r == NULL)
        return NL_EINVAL;
    if (r->state != RS_RUNNING)
        return 0;
    if (r->is_host) {
        /* The end is the room's last event: every member has everything before it. */
        r->state = RS_ENDING;
        r->end_deadline = now + NL_CHAT_ROOM_END_MS;
        nl__chat_core_free(r->listener);
        r->listener = NULL;
        r->seq++;
        {
            size_t n = encode(r, 'E', r->seq, r->name, NULL, 0);
            for (size_t i = 0; i < r->nm; i++) {
                member *m = &r->m[i];
                int64_t id;
                if (m->gone || !m->joined) {
                    if (!m->gone)
                        member_done(m, 0, now);
                    continue;
                }
                /* The members' exits are timed (5 s at 30% loss): the end, and what is
                 * still unacknowledged before it, is repeated at least every 400 ms. */
                m->c->hurry = 1;
                id = nl__chat_core_send(m->c, r->enc, n, now);
                if (id > 0)
                    m->end_id = (uint64_t)id;
                else
                    member_done(m, 0, now); /* its backlog is full: no end in time */
                flush(r, m->c);
            }
        }
        reap(r, now);
        if (all_gone(r))
            room_finish(r, 0);
        return 0;
    }
    r->state = RS_ENDING;
    r->status = 0;
    r->end_deadline = now + r->cfg.leave_ms + 1000;
    nl__chat_core_leave(r->up, now);
    flush(r, r->up);
    member_up_events(r, now);
    return 0;
}

int nl_chat_room_stats(const nl_chat_room *r, nl_chat_room_counters *out)
{
    if (r == NULL || out == NULL)
        return NL_EINVAL;
    *out = r->st;
    add_stats(&out->frames, &r->gone_frames);
    out->members = 0;
    if (r->listener != NULL)
        add_stats(&out->frames, &r->listener->st);
    if (r->up != NULL)
        add_stats(&out->frames, &r->up->st);
    for (size_t i = 0; i < r->nm; i++) {
        add_stats(&out->frames, &r->m[i].c->st);
        out->members += r->m[i].joined && !r->m[i].gone;
    }
    return 0;
}

int nl_chat_room_local(const nl_chat_room *r, nl_endpoint *out)
{
    return r == NULL ? NL_EINVAL : nl_udp_local(r->udp, out);
}
