/* The wire: a pure decoder of IP packets and a small per-connection tracker that labels the
 * steps of the exchange, over the packet socket of lib/linux_capture.c (Linux) or none
 * (lib/capture_none.c). See netlab/capture.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture_int.h"


/* ---- the pure decoder ---------------------------------------------------------------- */

static uint16_t get16(const unsigned char *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The window-scale option of a SYN's options, -1 when absent or malformed. */
static int tcp_wscale(const unsigned char *o, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (o[i] == 0) /* end of options */
            return -1;
        if (o[i] == 1) { /* no-op */
            i++;
            continue;
        }
        if (i + 1 >= n || o[i + 1] < 2 || i + o[i + 1] > n)
            return -1;
        if (o[i] == 3 && o[i + 1] == 3)
            return o[i + 2] > 14 ? 14 : o[i + 2]; /* RFC 7323: larger is taken as 14 */
        i += o[i + 1];
    }
    return -1;
}

static nl_capture_step step_of_flags(const nl_capture_packet *p)
{
    if (p->proto == NL_CAPTURE_UDP)
        return NL_CAPTURE_STEP_UDP;
    if (p->flags & NL_CAPTURE_RST)
        return NL_CAPTURE_STEP_RST;
    if (p->flags & NL_CAPTURE_SYN)
        return p->flags & NL_CAPTURE_ACK ? NL_CAPTURE_STEP_SYN_ACK : NL_CAPTURE_STEP_SYN;
    if (p->flags & NL_CAPTURE_FIN)
        return NL_CAPTURE_STEP_FIN;
    if (p->len > 0)
        return NL_CAPTURE_STEP_DATA;
    return NL_CAPTURE_STEP_OTHER;
}

/* The transport header at l4 (n bytes to the end of the IP payload). */
static int decode_l4(const unsigned char *l4, size_t n, int proto, uint16_t port,
                     nl_capture_packet *out)
{
    if (n < 8)
        return NL_EPROTO;
    out->src.port = get16(l4);
    out->dst.port = get16(l4 + 2);
    if (out->src.port != port && out->dst.port != port)
        return 0;
    out->to_server = out->dst.port == port;
    out->proto = proto;
    if (proto == NL_CAPTURE_UDP) {
        out->udp_len = get16(l4 + 4);
        if (out->udp_len < 8 || out->udp_len > n)
            return NL_EPROTO;
        out->len = out->udp_len - 8u;
    } else {
        size_t hl;
        if (n < 20 || (hl = (size_t)(l4[12] >> 4) * 4) < 20 || hl > n)
            return NL_EPROTO;
        out->seq = out->rel_seq = get32(l4 + 4);
        out->flags = l4[13];
        if (out->flags & NL_CAPTURE_ACK)
            out->ack = out->rel_ack = get32(l4 + 8);
        out->window = get16(l4 + 14);
        out->wscale = out->flags & NL_CAPTURE_SYN ? tcp_wscale(l4 + 20, hl - 20) : -1;
        out->len = (uint32_t)(n - hl);
    }
    out->segs = 1;
    out->step = step_of_flags(out);
    return 1;
}

int nl_capture_decode(const void *pkt, size_t len, uint16_t port, nl_capture_packet *out)
{
    const unsigned char *p = pkt;
    if (!pkt || !out)
        return NL_EINVAL;
    memset(out, 0, sizeof *out);
    out->wscale = -1;
    if (len < 1)
        return NL_EPROTO;
    if (p[0] >> 4 == 4) {
        size_t hl = (size_t)(p[0] & 15) * 4, tot;
        if (len < 20 || hl < 20 || hl > len)
            return NL_EPROTO;
        tot = get16(p + 2);
        if (tot < hl || tot > len)
            return NL_EPROTO;
        if (p[9] != NL_CAPTURE_TCP && p[9] != NL_CAPTURE_UDP)
            return 0;
        if (get16(p + 6) & 0x1fff) /* a later fragment: no transport header */
            return 0;
        out->src.family = out->dst.family = NL_AF_INET;
        memcpy(out->src.addr, p + 12, 4);
        memcpy(out->dst.addr, p + 16, 4);
        return decode_l4(p + hl, tot - hl, p[9], port, out);
    }
    if (p[0] >> 4 == 6) {
        size_t plen;
        if (len < 40)
            return NL_EPROTO;
        plen = get16(p + 4);
        if (plen > len - 40)
            return NL_EPROTO;
        if (p[6] != NL_CAPTURE_TCP && p[6] != NL_CAPTURE_UDP)
            return 0; /* extension headers are not followed */
        out->src.family = out->dst.family = NL_AF_INET6;
        memcpy(out->src.addr, p + 8, 16);
        memcpy(out->dst.addr, p + 24, 16);
        return decode_l4(p + 40, plen, p[6], port, out);
    }
    return NL_EPROTO;
}

/* ---- following connections ------------------------------------------------------------ */

static int same_endpoint(const nl_endpoint *a, const nl_endpoint *b)
{
    return a->family == b->family && a->port == b->port && !memcmp(a->addr, b->addr, 16);
}

static nl__cap_flow *flow_for(nl_capture *c, const nl_capture_packet *p)
{
    const nl_endpoint *client = p->to_server ? &p->src : &p->dst;
    nl__cap_flow *oldest = &c->flows[0];
    int fresh = p->step == NL_CAPTURE_STEP_SYN;

    for (int i = 0; i < NL__CAP_FLOWS; i++) {
        nl__cap_flow *f = &c->flows[i];
        if (f->used && same_endpoint(&f->client, client)) {
            if (!fresh)
                return f;
            oldest = f; /* a new connection from the same client port */
            break;
        }
        if (!f->used || (oldest->used && f->last < oldest->last))
            oldest = f;
    }
    memset(oldest, 0, sizeof *oldest);
    oldest->used = 1;
    oldest->client = *client;
    oldest->d[0].wscale = oldest->d[1].wscale = -1;
    return oldest;
}

static void remember(nl__cap_dir *d, uint64_t index, uint32_t end)
{
    if (d->npend == NL__CAP_PENDING) { /* forget the oldest */
        memmove(d->pend, d->pend + 1, sizeof d->pend[0] * (NL__CAP_PENDING - 1));
        d->npend--;
    }
    d->pend[d->npend++] = (nl__cap_pending){index, end};
}

/* Sequence arithmetic modulo 2^32: a is at or after b. */
static int seq_ge(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) >= 0;
}

static void track(nl_capture *c, nl_capture_packet *p)
{
    nl__cap_flow *f = flow_for(c, p);
    nl__cap_dir *me = &f->d[p->to_server ? 0 : 1], *peer = &f->d[p->to_server ? 1 : 0];
    uint32_t seglen =
        p->len + (p->flags & NL_CAPTURE_SYN ? 1u : 0u) + (p->flags & NL_CAPTURE_FIN ? 1u : 0u);

    f->last = p->index;
    if (p->flags & NL_CAPTURE_SYN) {
        me->based = 1;
        me->base = p->seq;
        me->syn_seen = 1;
        me->wscale = p->wscale;
        me->npend = 0;
    } else if (!me->based) { /* joined mid-connection: count from the first packet seen */
        me->based = 1;
        me->base = p->seq;
    }
    p->rel_seq = p->seq - me->base;
    if (p->flags & NL_CAPTURE_ACK) {
        if (!peer->based) {
            peer->based = 1;
            peer->base = p->ack;
        }
        p->rel_ack = p->ack - peer->base;
        int k = 0;
        while (k < peer->npend && seq_ge(p->ack, peer->pend[k].end))
            p->answers = peer->pend[k++].index;
        memmove(peer->pend, peer->pend + k, sizeof peer->pend[0] * (size_t)(peer->npend - k));
        peer->npend -= k;
    }
    /* SYN segments carry the unscaled window; later ones are scaled only when both sides
     * offered the option (RFC 7323). */
    if (!(p->flags & NL_CAPTURE_SYN) && f->d[0].syn_seen && f->d[1].syn_seen) {
        if (f->d[0].wscale >= 0 && f->d[1].wscale >= 0)
            p->window <<= me->wscale;
        p->window_scaled = 1;
    }
    if (seglen > 0)
        remember(me, p->index, p->seq + seglen);

    if (p->step == NL_CAPTURE_STEP_OTHER && p->to_server && !f->hs_done && f->d[0].syn_seen &&
        f->d[1].syn_seen && (p->flags & NL_CAPTURE_ACK) && p->rel_ack == 1) {
        f->hs_done = 1;
        p->step = NL_CAPTURE_STEP_HS_ACK;
    } else if (p->step == NL_CAPTURE_STEP_OTHER && p->answers) {
        p->step = NL_CAPTURE_STEP_ACK;
    }
}

int nl_capture_feed(nl_capture *c, const void *pkt, size_t len, nl_capture_packet *out)
{
    if (!c || !pkt || !out)
        return NL_EINVAL;
    if (nl_capture_decode(pkt, len, c->port, out) != 1) {
        c->st.ignored++;
        return 0;
    }
    out->index = ++c->index;
    c->st.decoded++;
    if (out->proto == NL_CAPTURE_TCP)
        track(c, out);
    return 1;
}


int nl_capture_open(nl_capture **out, const char *ifname, uint16_t port, int flags)
{
    nl_capture *c;
    int rc = 0;

    if (!out)
        return NL_EINVAL;
    *out = NULL;
    if (port == 0 || (flags & ~(NL_CAPTURE_OFFLINE | NL_CAPTURE_RETURN_EINTR)))
        return NL_EINVAL;
    if (!(c = calloc(1, sizeof *c)))
        return NL_ENOMEM;
    c->fd = -1;
    c->port = port;
    c->return_eintr = (flags & NL_CAPTURE_RETURN_EINTR) != 0;
    if (!(flags & NL_CAPTURE_OFFLINE))
        rc = nl__cap_open_socket(c, ifname ? ifname : "lo");
    if (rc < 0) {
        nl_capture_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

void nl_capture_close(nl_capture *c)
{
    if (!c)
        return;
    nl__cap_close_socket(c);
    free(c);
}

int nl_capture_fd(const nl_capture *c)
{
    return c && c->fd >= 0 ? c->fd : NL_EINVAL;
}


int nl_capture_stats(nl_capture *c, nl_capture_counts *out)
{
    if (!c || !out)
        return NL_EINVAL;
    int rc = nl__cap_kernel_counts(c);
    if (rc < 0)
        return rc;
    *out = c->st;
    return 0;
}

int nl_capture_drain(nl_capture *c, int quiet_ms, int max_ms, int style, nl_capture_fn fn,
                     void *user)
{
    nl_capture_packet p[16] = {{0}}; /* (filled by the read; zeroed for the analyzer) */
    char line[512];
    int total = 0;

    if (!c || c->fd < 0 || quiet_ms <= 0 || max_ms < quiet_ms ||
        (style != NL_CAPTURE_TEXT && style != NL_CAPTURE_JSON))
        return NL_EINVAL;
    int64_t end = nl__deadline(max_ms);
    for (;;) {
        int64_t left = end - nl__deadline(0);
        if (left <= 0)
            return total;
        int n = nl_capture_read(c, p, 16, left < quiet_ms ? (int)left : quiet_ms);
        if (n == NL_ETIMEDOUT)
            return total; /* quiet: the step has settled */
        if (n < 0)
            return n;
        for (int i = 0; i < n && fn; i++) {
            nl_capture_format(&p[i], style, line, sizeof line);
            fn(&p[i], line, user);
        }
        total += n;
    }
}


int nl_capture_open_for(nl_capture **out, const nl_endpoint *addr)
{
    char ifname[64]; /* IFNAMSIZ is 16 */
    int rc;

    if (!out)
        return NL_EINVAL;
    *out = NULL;
    if (!addr)
        return NL_EINVAL;
    if ((rc = nl_capture_interface(addr, ifname, sizeof ifname)) < 0)
        return rc;
    return nl_capture_open(out, ifname, addr->port, 0);
}

/* ---- formatting --------------------------------------------------------------------------- */

const char *nl_capture_step_name(int step)
{
    static const char *const names[] = {"other", "syn", "syn-ack", "handshake-ack", "data", "ack",
                                        "fin",   "rst", "udp"};
    return step >= 0 && step < (int)(sizeof names / sizeof *names) ? names[step] : "other";
}

/* "SYN,ACK" */
static void flag_text(unsigned flags, char *buf, size_t size)
{
    static const char *const names[] = {"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"};
    static const int order[] = {1, 0, 2, 3, 4, 5, 6, 7}; /* SYN first, as people say it */
    size_t n = 0;
    buf[0] = '\0';
    for (int k = 0; k < 8; k++) {
        int i = order[k];
        if (flags & (1u << i))
            n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? "," : "", names[i]);
    }
}

static const char *step_label(const nl_capture_packet *p)
{
    switch (p->step) {
    case NL_CAPTURE_STEP_SYN:
        return "① 客户端给服务器发送请求连接包 (handshake 1: the client asks to connect)";
    case NL_CAPTURE_STEP_SYN_ACK:
        return "② 服务器给客户端发送回应+请求连接包 (handshake 2: the server answers and asks)";
    case NL_CAPTURE_STEP_HS_ACK:
        return "③ 客户端给服务器发送回应连接包 (handshake 3: the client answers; connected)";
    case NL_CAPTURE_STEP_DATA:
        return "数据，必须回应 (data: must be acknowledged)";
    case NL_CAPTURE_STEP_ACK:
        return "回应 (acknowledges";
    case NL_CAPTURE_STEP_FIN:
        return p->len ? "数据+断开 (data, then closes its direction: FIN)"
                      : "断开 (closes its direction: FIN)";
    case NL_CAPTURE_STEP_RST:
        return "重置 (reset: the connection is aborted)";
    case NL_CAPTURE_STEP_UDP:
        return "数据报：无握手、无回应 (datagram: no handshake, no acknowledgement)";
    default:
        return "";
    }
}

int nl_capture_format(const nl_capture_packet *p, int style, char *buf, size_t size)
{
    char flags[40], src[NL_ENDPOINT_STRLEN], dst[NL_ENDPOINT_STRLEN];
    const char *dir = p && p->to_server ? "client -> server" : "server -> client";

    if (!p || (!buf && size > 0) || (style != NL_CAPTURE_TEXT && style != NL_CAPTURE_JSON))
        return NL_EINVAL;
    if (size == 0)
        buf = NULL;
    flag_text(p->flags, flags, sizeof flags);
    if (style == NL_CAPTURE_JSON) {
        nl_endpoint_format(&p->src, src, sizeof src);
        nl_endpoint_format(&p->dst, dst, sizeof dst);
        if (p->proto == NL_CAPTURE_UDP)
            return snprintf(buf, size,
                            "{\"i\":%llu,\"proto\":\"udp\",\"dir\":\"%s\",\"step\":\"udp\","
                            "\"src\":\"%s\",\"dst\":\"%s\",\"len\":%u,\"udp_len\":%u}",
                            (unsigned long long)p->index, p->to_server ? "c2s" : "s2c", src, dst,
                            (unsigned)p->len, (unsigned)p->udp_len);
        return snprintf(buf, size,
                        "{\"i\":%llu,\"proto\":\"tcp\",\"dir\":\"%s\",\"step\":\"%s\","
                        "\"src\":\"%s\",\"dst\":\"%s\",\"flags\":\"%s\",\"seq\":%u,\"ack\":%u,"
                        "\"len\":%u,\"segs\":%u,\"win\":%u,\"win_scaled\":%s,\"answers\":%llu}",
                        (unsigned long long)p->index, p->to_server ? "c2s" : "s2c",
                        nl_capture_step_name(p->step), src, dst, flags, (unsigned)p->rel_seq,
                        (unsigned)p->rel_ack, (unsigned)p->len, (unsigned)p->segs,
                        (unsigned)p->window, p->window_scaled ? "true" : "false",
                        (unsigned long long)p->answers);
    }
    if (p->proto == NL_CAPTURE_UDP)
        return snprintf(buf, size, "#%-3llu %s  UDP        len=%u (%u bytes of data)  %s",
                        (unsigned long long)p->index, dir, (unsigned)p->udp_len, (unsigned)p->len,
                        step_label(p));
    char nums[96];
    int k = snprintf(nums, sizeof nums, "seq=%u", (unsigned)p->rel_seq);
    if (p->flags & NL_CAPTURE_ACK)
        k += snprintf(nums + k, sizeof nums - (size_t)k, " ack=%u", (unsigned)p->rel_ack);
    if (p->len)
        k += snprintf(nums + k, sizeof nums - (size_t)k, " len=%u", (unsigned)p->len);
    if (p->segs > 1) /* one offloaded packet: the interface cuts it into segs segments */
        k += snprintf(nums + k, sizeof nums - (size_t)k, " (%u segs)", (unsigned)p->segs);
    (void)snprintf(nums + k, sizeof nums - (size_t)k, " win=%u", (unsigned)p->window);
    if (p->step == NL_CAPTURE_STEP_ACK)
        return snprintf(buf, size, "#%-3llu %s  %-9s  %-30s  %s #%llu)",
                        (unsigned long long)p->index, dir, flags, nums, step_label(p),
                        (unsigned long long)p->answers);
    if (p->answers && (p->step == NL_CAPTURE_STEP_DATA || p->step == NL_CAPTURE_STEP_FIN))
        return snprintf(buf, size, "#%-3llu %s  %-9s  %-30s  %s; 回应 (acknowledges #%llu)",
                        (unsigned long long)p->index, dir, flags, nums, step_label(p),
                        (unsigned long long)p->answers);
    return snprintf(buf, size, "#%-3llu %s  %-9s  %-30s  %s", (unsigned long long)p->index, dir,
                    flags, nums, step_label(p));
}
