/* CMocka tests of the wire (lib/capture.c): the pure decoder on crafted IPv4 and IPv6 packets
 * (every truncation refused), the connection tracker on a crafted exchange (handshake steps,
 * relative numbers across the 2^32 wrap, window scaling, which ACK answers which segment), the
 * formats, argument checks, and one live capture on loopback when the process may capture. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

/* Live capture is built with Linux's own calls only (lib/platform.h: NL__LINUX). Elsewhere, and
 * in a NETLAB_FORCE_PORTABLE_POSIX build (tests/CMakeLists.txt defines NL_PORTABLE_POSIX here
 * too), opening one fails with NL_ENOTSUP and only the decoder is tested. */
#if defined(__linux__) && !defined(NL_PORTABLE_POSIX)
#define LIVE 1
#include <signal.h>
#include <sys/time.h>
#endif

#define PORT  9000
#define CPORT 50000

static void put16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static void put32(unsigned char *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v & 0xffff);
}

/* An IPv4 TCP segment 127.0.0.1:CPORT <-> 127.0.0.2:PORT; to_server picks the direction.
 * wscale >= 0 adds the option (with a no-op before it). Returns the packet's length. */
static size_t tcp4(unsigned char *b, int to_server, unsigned flags, uint32_t seq, uint32_t ack,
                   unsigned win, int wscale, size_t datalen)
{
    size_t opt = wscale >= 0 ? 4 : 0, hl = 20 + opt, tot = 20 + hl + datalen;
    memset(b, 0, tot);
    b[0] = 0x45;
    put16(b + 2, (unsigned)tot);
    b[8] = 64;
    b[9] = 6;
    const unsigned char cli[4] = {127, 0, 0, 1}, srv[4] = {127, 0, 0, 2};
    memcpy(b + 12, to_server ? cli : srv, 4);
    memcpy(b + 16, to_server ? srv : cli, 4);
    unsigned char *t = b + 20;
    put16(t, to_server ? CPORT : PORT);
    put16(t + 2, to_server ? PORT : CPORT);
    put32(t + 4, seq);
    put32(t + 8, ack);
    t[12] = (unsigned char)((hl / 4) << 4);
    t[13] = (unsigned char)flags;
    put16(t + 14, win);
    if (wscale >= 0) {
        t[20] = 1;
        t[21] = 3;
        t[22] = 3;
        t[23] = (unsigned char)wscale;
    }
    memset(t + hl, 'x', datalen);
    return tot;
}

/* An IPv6 UDP datagram [::1]:CPORT -> [::1]:PORT with datalen bytes. */
static size_t udp6(unsigned char *b, size_t datalen)
{
    memset(b, 0, 48 + datalen);
    b[0] = 0x60;
    put16(b + 4, (unsigned)(8 + datalen));
    b[6] = 17;
    b[7] = 64;
    b[23] = 1;
    b[39] = 1;
    put16(b + 40, CPORT);
    put16(b + 42, PORT);
    put16(b + 44, (unsigned)(8 + datalen));
    memset(b + 48, 'u', datalen);
    return 48 + datalen;
}

static void decode_tcp_syn(void **state)
{
    unsigned char b[128];
    nl_capture_packet p;
    size_t n = tcp4(b, 1, NL_CAPTURE_SYN, 1000, 0, 65495, 7, 0);
    (void)state;

    assert_int_equal(nl_capture_decode(b, n, PORT, &p), 1);
    assert_int_equal(p.proto, NL_CAPTURE_TCP);
    assert_int_equal(p.to_server, 1);
    assert_int_equal(p.src.family, NL_AF_INET);
    assert_int_equal(p.src.port, CPORT);
    assert_int_equal(p.dst.port, PORT);
    assert_int_equal(p.dst.addr[3], 2);
    assert_int_equal(p.flags, NL_CAPTURE_SYN);
    assert_int_equal(p.seq, 1000);
    assert_int_equal(p.window, 65495);
    assert_int_equal(p.wscale, 7);
    assert_int_equal(p.len, 0);
    assert_int_equal(p.step, NL_CAPTURE_STEP_SYN);
    assert_int_equal(p.index, 0);

    /* The same packet seen from a capture of another port is not for it. */
    assert_int_equal(nl_capture_decode(b, n, 1234, &p), 0);
    /* Every truncation is refused, never read past. */
    for (size_t k = 0; k < n; k++)
        assert_int_equal(nl_capture_decode(b, k, PORT, &p), NL_EPROTO);
    /* A later fragment carries no TCP header: not decoded. */
    put16(b + 6, 0x0010);
    assert_int_equal(nl_capture_decode(b, n, PORT, &p), 0);
    /* ICMP is not ours. */
    put16(b + 6, 0);
    b[9] = 1;
    assert_int_equal(nl_capture_decode(b, n, PORT, &p), 0);
    /* A data offset below 20 bytes is malformed. */
    b[9] = 6;
    b[20 + 12] = 4 << 4;
    assert_int_equal(nl_capture_decode(b, n, PORT, &p), NL_EPROTO);
    assert_int_equal(nl_capture_decode(NULL, n, PORT, &p), NL_EINVAL);
    assert_int_equal(nl_capture_decode(b, n, PORT, NULL), NL_EINVAL);
}

static void decode_udp6(void **state)
{
    unsigned char b[128];
    nl_capture_packet p;
    size_t n = udp6(b, 5);
    (void)state;

    assert_int_equal(nl_capture_decode(b, n, PORT, &p), 1);
    assert_int_equal(p.proto, NL_CAPTURE_UDP);
    assert_int_equal(p.src.family, NL_AF_INET6);
    assert_int_equal(p.src.addr[15], 1);
    assert_int_equal(p.to_server, 1);
    assert_int_equal(p.udp_len, 13);
    assert_int_equal(p.len, 5);
    assert_int_equal(p.step, NL_CAPTURE_STEP_UDP);
    for (size_t k = 0; k < n; k++)
        assert_int_equal(nl_capture_decode(b, k, PORT, &p), NL_EPROTO);
    put16(b + 44, 7); /* a UDP length below its own header */
    assert_int_equal(nl_capture_decode(b, n, PORT, &p), NL_EPROTO);
    b[0] = 0x50; /* neither IPv4 nor IPv6 */
    assert_int_equal(nl_capture_decode(b, n, PORT, &p), NL_EPROTO);
}

/* Feed one crafted segment through an offline capture; the packet must be decoded. */
static nl_capture_packet feed(nl_capture *c, int to_server, unsigned flags, uint32_t seq,
                              uint32_t ack, unsigned win, int wscale, size_t datalen)
{
    unsigned char b[2048];
    nl_capture_packet p;
    size_t n = tcp4(b, to_server, flags, seq, ack, win, wscale, datalen);
    assert_int_equal(nl_capture_feed(c, b, n, &p), 1);
    return p;
}

#define SYN NL_CAPTURE_SYN
#define ACK NL_CAPTURE_ACK
#define FIN NL_CAPTURE_FIN
#define PSH NL_CAPTURE_PSH

static void track_exchange(void **state)
{
    nl_capture *c;
    nl_capture_packet p;
    nl_capture_counts st;
    /* The client's ISN just below 2^32, so its relative numbers cross the wrap. */
    const uint32_t ci = 0xfffffff0u, si = 777;
    (void)state;

    assert_int_equal(nl_capture_open(&c, NULL, PORT, NL_CAPTURE_OFFLINE), 0);
    assert_int_equal(nl_capture_fd(c), NL_EINVAL);
    p = feed(c, 1, SYN, ci, 0, 65495, 7, 0);
    assert_int_equal(p.index, 1);
    assert_int_equal(p.step, NL_CAPTURE_STEP_SYN);
    assert_int_equal(p.rel_seq, 0);
    assert_int_equal(p.window, 65495); /* never scaled in a SYN */
    p = feed(c, 0, SYN | ACK, si, ci + 1, 65483, 7, 0);
    assert_int_equal(p.step, NL_CAPTURE_STEP_SYN_ACK);
    assert_int_equal(p.rel_seq, 0);
    assert_int_equal(p.rel_ack, 1);
    assert_int_equal(p.answers, 1);
    p = feed(c, 1, ACK, ci + 1, si + 1, 512, -1, 0);
    assert_int_equal(p.step, NL_CAPTURE_STEP_HS_ACK);
    assert_int_equal(p.rel_ack, 1);
    assert_int_equal(p.answers, 2);
    assert_int_equal(p.window, 512 << 7);
    assert_int_equal(p.window_scaled, 1);
    /* Two data segments across the wrap; each ACK names the segment it covers in full. */
    p = feed(c, 1, PSH | ACK, ci + 1, si + 1, 512, -1, 100);
    assert_int_equal(p.step, NL_CAPTURE_STEP_DATA);
    assert_int_equal(p.index, 4);
    p = feed(c, 1, PSH | ACK, ci + 101, si + 1, 512, -1, 50);
    assert_int_equal(p.rel_seq, 101);
    assert_int_equal(p.index, 5);
    p = feed(c, 0, ACK, si + 1, ci + 51, 500, -1, 0); /* covers #4 only */
    assert_int_equal(p.step, NL_CAPTURE_STEP_OTHER);  /* acknowledges nothing in full */
    p = feed(c, 0, ACK, si + 1, ci + 101, 500, -1, 0);
    assert_int_equal(p.step, NL_CAPTURE_STEP_ACK);
    assert_int_equal(p.answers, 4);
    assert_int_equal(p.window, 500 << 7);
    p = feed(c, 0, ACK, si + 1, ci + 151, 500, -1, 0);
    assert_int_equal(p.answers, 5);
    assert_int_equal(p.rel_ack, 151);
    /* A repeated ACK answers nothing new. */
    p = feed(c, 0, ACK, si + 1, ci + 151, 500, -1, 0);
    assert_int_equal(p.step, NL_CAPTURE_STEP_OTHER);
    assert_int_equal(p.answers, 0);
    /* The close: FIN, FIN+ACK (answering the FIN), ACK. */
    p = feed(c, 1, FIN | ACK, ci + 151, si + 1, 512, -1, 0);
    assert_int_equal(p.step, NL_CAPTURE_STEP_FIN);
    uint64_t fin = p.index;
    p = feed(c, 0, FIN | ACK, si + 1, ci + 152, 500, -1, 0);
    assert_int_equal(p.step, NL_CAPTURE_STEP_FIN);
    assert_int_equal(p.answers, fin);
    p = feed(c, 1, ACK, ci + 152, si + 2, 512, -1, 0);
    assert_int_equal(p.step, NL_CAPTURE_STEP_ACK);
    assert_int_equal(p.answers, fin + 1);

    /* A new connection from the same client port starts afresh: no scale on this one. */
    p = feed(c, 1, SYN, 5, 0, 1000, -1, 0);
    assert_int_equal(p.rel_seq, 0);
    p = feed(c, 0, SYN | ACK, 9, 6, 1000, 7, 0);
    p = feed(c, 1, ACK, 6, 10, 1000, -1, 0);
    assert_int_equal(p.step, NL_CAPTURE_STEP_HS_ACK);
    assert_int_equal(p.window, 1000); /* one side without the option: no scaling */
    assert_int_equal(p.window_scaled, 1);

    /* Not for the port, or malformed: ignored and counted. */
    unsigned char b[64];
    size_t n = tcp4(b, 1, SYN, 1, 0, 1, -1, 0);
    assert_int_equal(nl_capture_feed(c, b, n - 1, &p), 0);
    assert_int_equal(nl_capture_stats(c, &st), 0);
    assert_int_equal(st.decoded, 15);
    assert_int_equal(st.ignored, 1);
    assert_int_equal(st.drops, 0);
    assert_int_equal(nl_capture_feed(NULL, b, n, &p), NL_EINVAL);
    assert_int_equal(nl_capture_read(c, &p, 1, 0), NL_EINVAL); /* offline: nothing to read */
    nl_capture_close(c);
    nl_capture_close(NULL);
}

/* Joining mid-connection: numbers count from the first packet seen, windows unscaled. */
static void track_midstream(void **state)
{
    nl_capture *c;
    nl_capture_packet p;
    (void)state;

    assert_int_equal(nl_capture_open(&c, NULL, PORT, NL_CAPTURE_OFFLINE), 0);
    p = feed(c, 1, PSH | ACK, 1000, 5000, 300, -1, 10);
    assert_int_equal(p.rel_seq, 0);
    assert_int_equal(p.rel_ack, 0);
    assert_int_equal(p.window, 300);
    assert_int_equal(p.window_scaled, 0);
    p = feed(c, 0, ACK, 5000, 1010, 300, -1, 0);
    assert_int_equal(p.step, NL_CAPTURE_STEP_ACK);
    assert_int_equal(p.answers, 1);
    assert_int_equal(p.rel_ack, 10);
    nl_capture_close(c);
}

static void format_lines(void **state)
{
    nl_capture *c;
    nl_capture_packet p;
    char line[512];
    unsigned char b[128];
    (void)state;

    assert_int_equal(nl_capture_open(&c, NULL, PORT, NL_CAPTURE_OFFLINE), 0);
    p = feed(c, 1, SYN, 1, 0, 65495, 7, 0);
    int n = nl_capture_format(&p, NL_CAPTURE_TEXT, line, sizeof line);
    assert_int_equal(n, (int)strlen(line));
    assert_non_null(strstr(line, "client -> server"));
    assert_non_null(strstr(line, "客户端给服务器发送请求连接包"));
    assert_non_null(strstr(line, "the client asks to connect"));
    p = feed(c, 0, SYN | ACK, 1, 2, 65483, 7, 0);
    nl_capture_format(&p, NL_CAPTURE_TEXT, line, sizeof line);
    assert_non_null(strstr(line, "服务器给客户端发送回应+请求连接包"));
    assert_non_null(strstr(line, "SYN,ACK"));
    p = feed(c, 1, ACK, 2, 2, 512, -1, 0);
    nl_capture_format(&p, NL_CAPTURE_TEXT, line, sizeof line);
    assert_non_null(strstr(line, "客户端给服务器发送回应连接包"));
    nl_capture_format(&p, NL_CAPTURE_JSON, line, sizeof line);
    assert_string_equal(line,
                        "{\"i\":3,\"proto\":\"tcp\",\"dir\":\"c2s\",\"step\":\"handshake-ack\","
                        "\"src\":\"127.0.0.1:50000\",\"dst\":\"127.0.0.2:9000\","
                        "\"flags\":\"ACK\",\"seq\":1,\"ack\":1,\"len\":0,\"segs\":1,"
                        "\"win\":65536,\"win_scaled\":true,\"answers\":2}");
    p = feed(c, 1, PSH | ACK, 2, 2, 512, -1, 5);
    p = feed(c, 0, ACK, 2, 7, 512, -1, 0);
    nl_capture_format(&p, NL_CAPTURE_TEXT, line, sizeof line);
    assert_non_null(strstr(line, "acknowledges #4"));
    /* Cut to fit, NUL-terminated, the full length returned. */
    char small[10];
    n = nl_capture_format(&p, NL_CAPTURE_TEXT, small, sizeof small);
    assert_true(n >= (int)sizeof small);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_int_equal(nl_capture_format(&p, NL_CAPTURE_TEXT, NULL, 0), n);
    assert_int_equal(nl_capture_format(&p, 7, line, sizeof line), NL_EINVAL);
    assert_int_equal(nl_capture_format(NULL, NL_CAPTURE_TEXT, line, sizeof line), NL_EINVAL);

    size_t len = udp6(b, 3);
    assert_int_equal(nl_capture_feed(c, b, len, &p), 1);
    nl_capture_format(&p, NL_CAPTURE_JSON, line, sizeof line);
    assert_string_equal(line, "{\"i\":6,\"proto\":\"udp\",\"dir\":\"c2s\",\"step\":\"udp\","
                              "\"src\":\"[::1]:50000\",\"dst\":\"[::1]:9000\",\"len\":3,"
                              "\"udp_len\":11}");
    nl_capture_format(&p, NL_CAPTURE_TEXT, line, sizeof line);
    assert_non_null(strstr(line, "无握手、无回应"));
    nl_capture_close(c);

    assert_string_equal(nl_capture_step_name(NL_CAPTURE_STEP_SYN_ACK), "syn-ack");
    assert_string_equal(nl_capture_step_name(-1), "other");
    assert_string_equal(nl_capture_step_name(99), "other");
}

static void open_arguments(void **state)
{
    nl_capture *c = (nl_capture *)1;
    (void)state;

    assert_int_equal(nl_capture_open(NULL, "lo", PORT, 0), NL_EINVAL);
    assert_int_equal(nl_capture_open(&c, "lo", 0, 0), NL_EINVAL);
    assert_null(c);
    assert_int_equal(nl_capture_open(&c, "lo", PORT, 4), NL_EINVAL);
    int fds = tu_count_fds();
    int rc = nl_capture_open(&c, "lo", PORT, 0);
#ifndef LIVE
    nl_endpoint ep = tu_loopback(NL_AF_INET, PORT);
    char name[16];
    assert_int_equal(rc, NL_ENOTSUP);
    assert_null(c);
    assert_int_equal(nl_capture_open_for(&c, &ep), NL_ENOTSUP);
    assert_null(c);
    assert_int_equal(nl_capture_interface(&ep, name, sizeof name), NL_ENOTSUP);
    assert_int_equal(nl_capture_interface(NULL, name, sizeof name), NL_EINVAL);
    /* The decoder's handles still open, without a socket to read. */
    nl_capture_packet p;
    assert_int_equal(nl_capture_open(&c, "lo", PORT, NL_CAPTURE_OFFLINE), 0);
    assert_int_equal(nl_capture_fd(c), NL_EINVAL);
    assert_int_equal(nl_capture_read(c, &p, 1, 0), NL_EINVAL);
    nl_capture_close(c);
    assert_int_equal(tu_count_fds(), fds);
    return;
#endif
    if (rc == NL_EPERM) {
        skip(); /* no CAP_NET_RAW here: the live tests run as root and in a namespace */
    }
    assert_int_equal(rc, 0);
    assert_true(nl_capture_fd(c) > 2);
    nl_capture_close(c);
    assert_int_equal(nl_capture_open(&c, "no-such-if0", PORT, 0), NL_EINVAL);
    assert_int_equal(nl_capture_open(&c, "an-interface-name-far-too-long", PORT, 0), NL_EINVAL);
    assert_int_equal(tu_count_fds(), fds); /* failures leak no descriptor */
}

#ifdef LIVE
/* A real exchange on loopback, read after it ran: SYN, SYN+ACK, handshake ACK, data, the ACK
 * answering it, in this order; the outgoing copies on lo are not reported. */
static void live_loopback(void **state)
{
    nl_capture *c;
    nl_tcp *l, *cl, *conn;
    nl_endpoint ep = tu_loopback(NL_AF_INET, 0);
    nl_capture_packet p[16];
    nl_capture_counts st;
    char buf[8];
    (void)state;

    assert_int_equal(nl_tcp_listen(&l, &ep, 0, NULL), 0);
    assert_int_equal(nl_tcp_local(l, &ep), 0);
    int rc = nl_capture_open(&c, "lo", ep.port, 0);
    if (rc == NL_EPERM) {
        nl_tcp_close(l);
        skip();
    }
    assert_int_equal(rc, 0);
    assert_int_equal(nl_capture_read(c, p, 16, 0), NL_EAGAIN);
    assert_int_equal(nl_capture_read(c, p, 16, 10), NL_ETIMEDOUT);
    assert_int_equal(nl_tcp_connect(&cl, &ep, 5000, NULL), 0);
    assert_int_equal(nl_tcp_accept(l, &conn, NULL, 5000), 0);
    assert_int_equal(nl_tcp_send_all(cl, "hello", 5, NULL, 5000), 0);
    assert_int_equal(nl_tcp_recv(conn, buf, sizeof buf, 5000), 5);
    int n = 0;
    static const nl_capture_step want[] = {NL_CAPTURE_STEP_SYN, NL_CAPTURE_STEP_SYN_ACK,
                                           NL_CAPTURE_STEP_HS_ACK, NL_CAPTURE_STEP_DATA,
                                           NL_CAPTURE_STEP_ACK};
    while (n < 5) { /* the ACK may be delayed a little: wait for it */
        rc = nl_capture_read(c, p + n, 16 - n, 5000);
        assert_true(rc > 0);
        n += rc;
    }
    assert_int_equal(n, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(p[i].step, want[i]);
        assert_int_equal(p[i].index, (uint64_t)i + 1);
    }
    assert_int_equal(p[4].answers, 4);
    assert_int_equal(p[3].len, 5);
    assert_int_equal(p[3].segs, 1);
    assert_int_equal(nl_capture_stats(c, &st), 0);
    assert_int_equal(st.received, 5);
    assert_int_equal(st.drops, 0);
    assert_int_equal(nl_capture_read(NULL, p, 1, 0), NL_EINVAL);
    assert_int_equal(nl_capture_read(c, p, 0, 0), NL_EINVAL);
    nl_tcp_close(conn);
    nl_tcp_close(cl);
    nl_tcp_close(l);
    nl_capture_close(c);
}

static void count_packet(const nl_capture_packet *p, const char *line, void *user)
{
    int *steps = user;
    steps[p->index - 1] = p->step;
    assert_int_equal(line[0], '{'); /* asked for as JSON */
}

/* The interface of one's own traffic: loopback for this machine's addresses and the wildcard.
 * (A route through another interface is not tested: the tests touch no other address.) */
static void interface_for(void **state)
{
    char name[16];
    nl_endpoint ep;
    (void)state;

    ep = tu_loopback(NL_AF_INET, 9000);
    assert_int_equal(nl_capture_interface(&ep, name, sizeof name), 0);
    assert_string_equal(name, "lo");
    ep = tu_loopback(NL_AF_INET6, 9000);
    assert_int_equal(nl_capture_interface(&ep, name, sizeof name), 0);
    assert_string_equal(name, "lo");
    assert_int_equal(nl_endpoint_parse(&ep, "0.0.0.0", 9000), 0);
    assert_int_equal(nl_capture_interface(&ep, name, sizeof name), 0);
    assert_string_equal(name, "lo");
    assert_int_equal(nl_endpoint_parse(&ep, "127.0.0.2", 9000), 0); /* all of 127/8 is local */
    assert_int_equal(nl_capture_interface(&ep, name, sizeof name), 0);
    assert_string_equal(name, "lo");
    assert_int_equal(nl_capture_interface(&ep, name, 2), NL_ENOSPC);
    assert_int_equal(nl_capture_interface(NULL, name, sizeof name), NL_EINVAL);
    assert_int_equal(nl_capture_interface(&ep, NULL, sizeof name), NL_EINVAL);
    ep.family = 0;
    assert_int_equal(nl_capture_interface(&ep, name, sizeof name), NL_EINVAL);
    nl_capture *c = (nl_capture *)1;
    assert_int_equal(nl_capture_open_for(&c, NULL), NL_EINVAL);
    assert_null(c);
    assert_int_equal(nl_capture_open_for(NULL, &ep), NL_EINVAL);
}

/* nl_capture_open_for() + nl_capture_drain(): a program's view of its own connection. */
static void drain_own_traffic(void **state)
{
    nl_capture *c;
    nl_tcp *l, *cl, *conn;
    nl_endpoint ep = tu_loopback(NL_AF_INET, 0);
    int steps[16] = {0};
    (void)state;

    assert_int_equal(nl_capture_open(&c, NULL, PORT, NL_CAPTURE_OFFLINE), 0);
    /* Offline: no socket to read. */
    assert_int_equal(nl_capture_drain(c, 10, 100, NL_CAPTURE_TEXT, NULL, NULL), NL_EINVAL);
    nl_capture_close(c);
    assert_int_equal(nl_tcp_listen(&l, &ep, 0, NULL), 0);
    assert_int_equal(nl_tcp_local(l, &ep), 0);
    int rc = nl_capture_open_for(&c, &ep);
    if (rc == NL_EPERM) {
        nl_tcp_close(l);
        skip();
    }
    assert_int_equal(rc, 0);
    assert_int_equal(nl_capture_drain(c, 0, 100, NL_CAPTURE_TEXT, NULL, NULL), NL_EINVAL);
    assert_int_equal(nl_capture_drain(c, 100, 50, NL_CAPTURE_TEXT, NULL, NULL), NL_EINVAL);
    assert_int_equal(nl_capture_drain(c, 10, 50, 7, NULL, NULL), NL_EINVAL);
    assert_int_equal(nl_capture_drain(c, 10, 50, NL_CAPTURE_TEXT, NULL, NULL), 0); /* quiet */
    assert_int_equal(nl_tcp_connect(&cl, &ep, 5000, NULL), 0);
    assert_int_equal(nl_tcp_accept(l, &conn, NULL, 5000), 0);
    /* The handshake: three packets. A loaded machine may deliver them to the capture with
     * gaps longer than the quiet time, so drain until all three came (5 s at most). */
    int n = 0;
    for (int round = 0; n < 3 && round < 50; round++) {
        rc = nl_capture_drain(c, 100, 100, NL_CAPTURE_JSON, count_packet, steps);
        assert_true(rc >= 0);
        n += rc;
    }
    assert_int_equal(n, 3);
    assert_int_equal(steps[0], NL_CAPTURE_STEP_SYN);
    assert_int_equal(steps[1], NL_CAPTURE_STEP_SYN_ACK);
    assert_int_equal(steps[2], NL_CAPTURE_STEP_HS_ACK);
    nl_tcp_close(conn);
    nl_tcp_close(cl);
    nl_tcp_close(l);
    nl_capture_close(c);
}

static void on_alarm(int sig)
{
    (void)sig;
}

/* A signal while nl_capture_read() waits: NL_CAPTURE_RETURN_EINTR ends the read with NL_EINTR
 * (nl_opts.return_eintr, as the socket handles have it); without it the read is retried and
 * times out as asked. One SIGALRM, 50 ms into a 3 s wait, into a handler without SA_RESTART. */
static void read_return_eintr(void **state)
{
    struct sigaction sa, old;
    struct itimerval it = {{0, 0}, {0, 50000}};
    nl_capture_packet p[4];
    nl_capture *c;
    (void)state;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
    for (int ret = 0; ret < 2; ret++) {
        int rc = nl_capture_open(&c, "lo", PORT, ret ? NL_CAPTURE_RETURN_EINTR : 0);
        if (rc == NL_EPERM)
            skip();
        assert_int_equal(rc, 0);
        assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
        rc = nl_capture_read(c, p, 4, ret ? 3000 : 300);
        assert_int_equal(rc, ret ? NL_EINTR : NL_ETIMEDOUT);
        nl_capture_close(c);
    }
    assert_int_equal(sigaction(SIGALRM, &old, NULL), 0);
}
#endif /* LIVE */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decode_tcp_syn),    cmocka_unit_test(decode_udp6),
        cmocka_unit_test(track_exchange),    cmocka_unit_test(track_midstream),
        cmocka_unit_test(format_lines),      cmocka_unit_test(open_arguments),
#ifdef LIVE
        cmocka_unit_test(live_loopback),     cmocka_unit_test(interface_for),
        cmocka_unit_test(drain_own_traffic), cmocka_unit_test(read_return_eintr),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
