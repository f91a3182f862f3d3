/* libFuzzer target for the wire's pure part (lib/capture.c): the IP packet decoder and the
 * connection tracker behind nl_capture_feed(), with both formats.
 *
 * Input: two bytes of port (0 is taken as 9000), then packets, each a one-byte length (0-255)
 * and that many bytes (a short last one is fed as it is). Each packet goes through
 * nl_capture_decode() and through an offline capture's nl_capture_feed(), so a sequence of
 * packets drives the tracker's state (handshakes, pending segments, flow slots).
 * Invariants, any violation aborts: decode and feed agree on whether a packet is for the port;
 * a decoded packet has one of the port's ports, a known protocol and a length within the
 * packet; indexes count up by one; an ACK never answers a later packet than itself; both
 * formats fit the documented 512 bytes; the counters add up. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <netlab.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nl_capture *c;
    nl_capture_packet p, q;
    nl_capture_counts st;
    uint64_t fed = 0, decoded = 0;
    char line[512];

    if (size < 2)
        return 0;
    uint16_t port = (uint16_t)(data[0] << 8 | data[1]);
    if (port == 0)
        port = 9000;
    if (nl_capture_open(&c, NULL, port, NL_CAPTURE_OFFLINE) != 0)
        abort();
    for (size_t i = 2; i < size;) {
        size_t len = data[i++];
        if (len > size - i)
            len = size - i;
        const uint8_t *pkt = data + i;
        i += len;
        int d = nl_capture_decode(pkt, len, port, &q);
        int f = nl_capture_feed(c, pkt, len, &p);
        fed++;
        if (d < 0 && d != NL_EPROTO)
            abort();
        if ((d == 1) != (f == 1) || f < 0)
            abort();
        if (f != 1)
            continue;
        decoded++;
        if (p.index != decoded || p.answers >= p.index)
            abort();
        if (p.src.port != port && p.dst.port != port)
            abort();
        if (p.proto != NL_CAPTURE_TCP && p.proto != NL_CAPTURE_UDP)
            abort();
        if (p.len > len || p.seq != q.seq || p.flags != q.flags)
            abort();
        for (int style = NL_CAPTURE_TEXT; style <= NL_CAPTURE_JSON; style++) {
            int n = nl_capture_format(&p, style, line, sizeof line);
            if (n < 0 || n >= (int)sizeof line || strlen(line) != (size_t)n)
                abort();
        }
    }
    if (nl_capture_stats(c, &st) != 0 || st.decoded != decoded || st.decoded + st.ignored != fed ||
        st.drops != 0)
        abort();
    nl_capture_close(c);
    return 0;
}
