/* CMocka tests of nl_chat_room on loopback, all rooms in one process driven by one loop:
 * every member gets every other member's messages exactly once and in the same order; the
 * host's leave ends every member with status 0; a member's leave ends only it; names are made
 * unique (nobody can take another's); a member that vanishes is reported lost; a vanished host
 * closes the members with NL_EPEERLOST; datagrams from non-members are dropped and counted. */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <netlab.h>

#define MAXM  40
#define MAXEV 4096

typedef struct who {
    nl_chat_room *r;
    char name[32];
    int entered, room_closed, closed, status;
    char closer[32];
    int nev;
    uint64_t seq[MAXEV]; /* room sequence numbers of MESSAGE events, in arrival order */
    char *text[MAXEV];
    int joined, left, lost;
    char last_lost[32];
    int warning;         /* the first WARNING's code, 0 for none */
    int warnings;        /* how many WARNINGs                    */
    char warned_of[64];  /* ... and its name                     */
} who;

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void take(who *w)
{
    nl_chat_room_event ev[32];
    int n;

    if (w->r == NULL || w->closed)
        return;
    n = nl_chat_room_step(w->r, ev, 32, 0);
    for (int i = 0; i < n; i++) {
        if (getenv("ROOM_DEBUG"))
            fprintf(stderr, "%s: %s %s seq %llu\n", w->name, nl_chat_room_event_name(ev[i].type),
                    ev[i].name, (unsigned long long)ev[i].seq);
        switch (ev[i].type) {
        case NL_CHAT_ROOM_EV_ENTERED:
            w->entered = 1;
            break;
        case NL_CHAT_ROOM_EV_MESSAGE:
            assert_true(w->nev < MAXEV);
            w->seq[w->nev] = ev[i].seq;
            w->text[w->nev] = strdup(ev[i].data);
            w->nev++;
            break;
        case NL_CHAT_ROOM_EV_JOINED:
            w->joined++;
            break;
        case NL_CHAT_ROOM_EV_LEFT:
            w->left++;
            break;
        case NL_CHAT_ROOM_EV_LOST:
            w->lost++;
            snprintf(w->last_lost, sizeof w->last_lost, "%s", ev[i].name);
            break;
        case NL_CHAT_ROOM_EV_ROOM_CLOSED:
            w->room_closed = 1;
            snprintf(w->closer, sizeof w->closer, "%s", ev[i].name);
            break;
        case NL_CHAT_ROOM_EV_WARNING:
            w->warnings++;
            if (w->warning == 0) {
                w->warning = ev[i].code;
                snprintf(w->warned_of, sizeof w->warned_of, "%s", ev[i].name);
            }
            break;
        case NL_CHAT_ROOM_EV_CLOSED:
            w->closed = 1;
            w->status = ev[i].code;
            break;
        default:
            break;
        }
    }
}

/* Drive everyone for at most ms, or until done() says so. */
static void spin(who *w, int n, int ms, int (*done)(who *, int))
{
    int64_t end = now_ms() + ms;

    while (now_ms() < end) {
        struct pollfd p[MAXM + 1];
        int np = 0, t = 20;
        for (int i = 0; i < n; i++) {
            if (w[i].r == NULL || w[i].closed)
                continue;
            int x = nl_chat_room_next_timeout_ms(w[i].r);
            if (x >= 0 && x < t)
                t = x;
            p[np].fd = nl_chat_room_fd(w[i].r);
            p[np].events = POLLIN;
            np++;
        }
        poll(p, (nfds_t)np, t);
        for (int i = 0; i < n; i++)
            take(&w[i]);
        if (done != NULL && done(w, n))
            return;
    }
}

static nl_endpoint host_open(who *h, const char *name, const unsigned char *key)
{
    nl_chat_room_opts o = {0};
    nl_endpoint ep;

    assert_int_equal(nl_endpoint_parse(&o.bind, "127.0.0.1", 0), 0);
    o.name = name;
    o.room = "class";
    o.key = key;
    o.peer_lost_ms = 1000;
    snprintf(h->name, sizeof h->name, "%s", name);
    assert_int_equal(nl_chat_room_open(&h->r, &o), 0);
    assert_int_equal(nl_chat_room_local(h->r, &ep), 0);
    return ep;
}

static void member_open(who *m, const nl_endpoint *host, const char *name, const unsigned char *key)
{
    nl_chat_room_opts o = {0};

    assert_int_equal(nl_endpoint_parse(&o.bind, "127.0.0.1", 0), 0);
    o.host = *host;
    o.name = name;
    o.key = key;
    o.peer_lost_ms = 1000;
    snprintf(m->name, sizeof m->name, "%s", name);
    assert_int_equal(nl_chat_room_open(&m->r, &o), 0);
}

static void free_all(who *w, int n)
{
    for (int i = 0; i < n; i++) {
        nl_chat_room_close(w[i].r);
        for (int k = 0; k < w[i].nev; k++)
            free(w[i].text[k]);
    }
}

static int all_entered(who *w, int n)
{
    for (int i = 1; i < n; i++)
        if (!w[i].entered)
            return 0;
    return w[0].joined == n - 1;
}

static int g_expect;

static int all_have(who *w, int n)
{
    for (int i = 1; i < n; i++)
        if (w[i].nev < g_expect)
            return 0;
    return 1;
}

static int all_closed(who *w, int n)
{
    for (int i = 0; i < n; i++)
        if (w[i].r != NULL && !w[i].closed)
            return 0;
    return 1;
}

/* n - 1 members and the host each say per messages; every member sees all the others' once,
 * and all members see them in one order (the host's sequence); then the host ends the room. */
static void room_round(int n, int per, const unsigned char *key)
{
    who *w = calloc((size_t)n, sizeof *w);
    nl_endpoint h;
    char name[32], text[64];

    assert_non_null(w);
    h = host_open(&w[0], "teacher", key);
    for (int i = 1; i < n; i++) {
        snprintf(name, sizeof name, "s%02d", i);
        member_open(&w[i], &h, name, key);
    }
    spin(w, n, 10000, all_entered);
    assert_true(all_entered(w, n));
    for (int k = 0; k < per; k++) {
        for (int i = 0; i < n; i++) {
            snprintf(text, sizeof text, "%s-%d", w[i].name, k);
            assert_int_equal(nl_chat_room_send(w[i].r, text, strlen(text)), 0);
        }
        spin(w, n, 5, NULL);
    }
    g_expect = (n - 1) * per; /* the others': n - 2 members and the host */
    spin(w, n, 20000, all_have);
    for (int i = 1; i < n; i++) {
        int mine = 0;
        assert_int_equal(w[i].nev, g_expect);
        for (int k = 0; k < w[i].nev; k++) {
            /* Never its own, in increasing room order, each once. */
            assert_true(strncmp(w[i].text[k], w[i].name, strlen(w[i].name)) != 0 ||
                        w[i].text[k][strlen(w[i].name)] != '-');
            if (k > 0)
                assert_true(w[i].seq[k] > w[i].seq[k - 1]);
            for (int j = 0; j < k; j++)
                assert_string_not_equal(w[i].text[j], w[i].text[k]);
            (void)mine;
        }
        /* Same order everywhere: for two members, the messages both saw come in the same
         * sequence with the same text. */
        if (i > 1) {
            int a = 0, b = 0;
            while (a < w[1].nev && b < w[i].nev) {
                if (w[1].seq[a] < w[i].seq[b]) {
                    a++;
                } else if (w[1].seq[a] > w[i].seq[b]) {
                    b++;
                } else {
                    assert_string_equal(w[1].text[a], w[i].text[b]);
                    a++;
                    b++;
                }
            }
        }
    }
    assert_int_equal(w[0].nev, (n - 1) * per); /* the host hears every member */
    assert_int_equal(nl_chat_room_leave(w[0].r), 0);
    spin(w, n, 8000, all_closed);
    for (int i = 0; i < n; i++) {
        assert_int_equal(w[i].closed, 1);
        assert_int_equal(w[i].status, 0);
        if (i > 0) {
            assert_int_equal(w[i].room_closed, 1);
            assert_string_equal(w[i].closer, "teacher");
        }
    }
    free_all(w, n);
    free(w);
}

static void test_room_order_and_end(void **state)
{
    (void)state;
    room_round(12, 10, NULL);
}

static void test_room_keyed(void **state)
{
    static const unsigned char key[NL_CHAT_KEY_BYTES] = {9, 8, 7};

    (void)state;
    room_round(5, 5, key);
}

static int bob_has_one(who *w, int n)
{
    (void)n;
    return w[2].nev >= 1;
}

static int closed_1(who *w, int n)
{
    (void)n;
    return w[1].closed && w[2].left > 0 && w[0].left > 0;
}

static int lost_seen(who *w, int n)
{
    (void)n;
    return w[2].lost > 0 && w[0].lost > 0;
}

/* A member's leave ends only it; a member that vanishes is reported lost; a duplicate name
 * gets a suffix instead of impersonating. */
static void test_member_leave_lost_names(void **state)
{
    who w[4] = {0};
    nl_endpoint h;

    (void)state;
    h = host_open(&w[0], "teacher", NULL);
    member_open(&w[1], &h, "ann", NULL);
    member_open(&w[2], &h, "bob", NULL);
    spin(w, 3, 10000, all_entered);
    member_open(&w[3], &h, "ann", NULL); /* wants ann's name, once ann has it */
    spin(w, 4, 10000, all_entered);
    assert_true(all_entered(w, 4));
    assert_int_equal(nl_chat_room_send(w[3].r, "hi", 2), 0);
    spin(w, 4, 5000, bob_has_one);
    /* bob sees the second ann as ann#2: names come from the host, per session. */
    assert_int_equal(w[2].nev, 1);
    assert_int_equal(nl_chat_room_leave(w[1].r), 0);
    spin(w, 4, 8000, closed_1);
    assert_int_equal(w[1].status, 0);
    assert_int_equal(w[2].closed, 0);
    assert_int_equal(w[0].closed, 0);
    /* ann#2 vanishes without a word. */
    nl_chat_room_close(w[3].r);
    w[3].r = NULL;
    spin(w, 4, 5000, lost_seen);
    assert_int_equal(w[2].lost, 1);
    assert_string_equal(w[2].last_lost, "ann#2");
    assert_int_equal(w[0].closed + w[2].closed, 0);
    free_all(w, 4);
}

static int member_closed(who *w, int n)
{
    (void)n;
    return w[1].closed;
}

/* The host vanishes: the member closes with NL_EPEERLOST. */
static void test_host_vanishes(void **state)
{
    who w[2] = {0};
    nl_endpoint h;

    (void)state;
    h = host_open(&w[0], "teacher", NULL);
    member_open(&w[1], &h, "ann", NULL);
    spin(w, 2, 10000, all_entered);
    nl_chat_room_close(w[0].r);
    w[0].r = NULL;
    spin(w, 2, 5000, member_closed);
    assert_int_equal(w[1].closed, 1);
    assert_int_equal(w[1].status, NL_EPEERLOST);
    assert_int_equal(w[1].room_closed, 0);
    free_all(w, 2);
}

static int both_warned(who *w, int n)
{
    (void)n;
    return w[0].warning != 0 && w[1].warning != 0;
}

static int third_entered(who *w, int n)
{
    (void)n;
    return w[2].entered;
}

static int member_warned(who *w, int n)
{
    (void)n;
    return w[1].warning != 0;
}

/* A member whose key differs from the host's is never let in, and both sides say so at once
 * instead of the member calling silently until its give-up time: the host that would-be
 * members' frames fail authentication, the member that no answer comes (the host answers
 * nothing it cannot authenticate). */
static void test_keys_differ_warns_both(void **state)
{
    static const unsigned char ka[NL_CHAT_KEY_BYTES] = {1, 2, 3}, kb[NL_CHAT_KEY_BYTES] = {4, 5};
    who w[3] = {0};
    nl_endpoint h;
    char at[NL_ENDPOINT_STRLEN];

    (void)state;
    h = host_open(&w[0], "teacher", ka);
    member_open(&w[1], &h, "ann", kb);
    spin(w, 2, 8000, both_warned);
    /* A member with the right key joins (the host's listener is a fresh one from then on)
     * while ann goes on calling: the host said it once, it does not say it again. */
    member_open(&w[2], &h, "bob", ka);
    spin(w, 3, 8000, third_entered);
    assert_int_equal(w[2].entered, 1);
    spin(w, 3, 2500, NULL);
    assert_int_equal(w[0].warnings, 1);
    assert_int_equal(w[0].warning, NL_EBADFRAME);
    assert_string_equal(w[0].warned_of, "");
    assert_int_equal(w[1].warning, NL_ETIMEDOUT);
    assert_int_equal(nl_endpoint_format(&h, at, sizeof at) > 0, 1);
    assert_string_equal(w[1].warned_of, at);
    assert_int_equal(w[1].entered, 0);
    assert_int_equal(w[0].joined, 1); /* bob only */
    free_all(w, 3);
}

/* Calling a port where no room listens: ICMP port-unreachable comes back on loopback, and the
 * member says so while it goes on calling. */
static void test_nobody_hosts_warns(void **state)
{
    who w[2] = {0};
    nl_endpoint h;

    (void)state;
    h = host_open(&w[0], "teacher", NULL);
    nl_chat_room_close(w[0].r); /* the port is free again: nothing listens there */
    w[0].r = NULL;
    member_open(&w[1], &h, "ann", NULL);
    spin(w, 2, 5000, member_warned);
    assert_true(w[1].warning == NL_ECONNREFUSED || w[1].warning == NL_ETIMEDOUT);
    assert_int_equal(w[1].closed, 0); /* still calling */
    free_all(w, 2);
}

/* A stranger's datagrams, garbage and frames alike, are dropped and counted, and cost the
 * members nothing: they still chat. */
static void test_non_member_flood(void **state)
{
    who w[3] = {0};
    nl_endpoint h, any;
    nl_udp *u;
    nl_chat_room_counters c;
    char junk[300];

    (void)state;
    h = host_open(&w[0], "teacher", NULL);
    member_open(&w[1], &h, "ann", NULL);
    member_open(&w[2], &h, "bob", NULL);
    spin(w, 3, 10000, all_entered);
    assert_int_equal(nl_endpoint_parse(&any, "127.0.0.1", 0), 0);
    assert_int_equal(nl_udp_open_bound(&u, &any, NULL), 0);
    for (int i = 0; i < 2000; i++) {
        memset(junk, i & 0xff, sizeof junk);
        junk[0] = 'N';
        junk[1] = 'L';
        nl_udp_send_to(u, junk, sizeof junk, &h, 0);
        if (i % 100 == 0)
            spin(w, 3, 1, NULL);
    }
    assert_int_equal(nl_chat_room_send(w[1].r, "still here", 10), 0);
    spin(w, 3, 5000, bob_has_one);
    spin(w, 3, 300, NULL);
    assert_int_equal(w[2].nev, 1);
    assert_string_equal(w[2].text[0], "still here");
    assert_int_equal(nl_chat_room_stats(w[0].r, &c), 0);
    assert_true(c.non_member >= 1000);
    assert_int_equal(c.members, 2);
    nl_udp_close(u);
    free_all(w, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_room_order_and_end),      cmocka_unit_test(test_room_keyed),
        cmocka_unit_test(test_member_leave_lost_names), cmocka_unit_test(test_host_vanishes),
        cmocka_unit_test(test_non_member_flood),        cmocka_unit_test(test_keys_differ_warns_both),
        cmocka_unit_test(test_nobody_hosts_warns),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
