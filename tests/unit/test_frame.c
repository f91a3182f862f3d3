/* CMocka tests of the chat's frame codec (lib/frame.c): round trips, every validation rule,
 * and the AEAD: tampering with any header or payload byte, a wrong key, or a frame sealed
 * against an unkeyed session is refused with the right reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "frame.h"
#ifdef _WIN32
/* memmem() is a glibc and BSD extension; the Windows C runtime has none. */
static void *memmem(const void *hay, size_t n, const void *needle, size_t m)
{
    for (size_t i = 0; m <= n && i <= n - m; i++)
        if (memcmp((const char *)hay + i, needle, m) == 0)
            return (char *)hay + i;
    return NULL;
}
#endif
#include "internal.h"

static const uint8_t key[NL__FRAME_KEY] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                           12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                           23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static nl__frame_hdr hdr(int type)
{
    nl__frame_hdr h = {0};

    h.type = (uint8_t)type;
    h.sid = 0x1122334455667788ull;
    h.sender = 0x0102030405060708ull;
    h.pn = 7;
    switch (type) {
    case NL__FT_HELLO:
        h.sid = 0x1122334400000000ull;
        break;
    case NL__FT_DATA:
        h.seq = 3;
        h.frag_count = 1;
        break;
    case NL__FT_BYE:
        h.seq = 9;
        break;
    default:
        break;
    }
    return h;
}

static size_t payload_len(int type)
{
    return type == NL__FT_ACK ? NL__FRAME_ACK_LEN
           : type == NL__FT_DATA || type == NL__FT_HELLO || type == NL__FT_HELLO_ACK ? 5
                                                                                     : 0;
}

static void roundtrip(const uint8_t *k)
{
    uint8_t buf[NL__FRAME_MAX], pay[NL__FRAME_PAYLOAD_MAX];
    for (int t = 1; t <= NL__FT_LAST; t++) {
        nl__frame_hdr h = hdr(t), d;
        size_t len = payload_len(t);
        int reason, n = nl__frame_encode(buf, sizeof buf, &h, "hello", len, k);

        assert_int_equal(n, NL__FRAME_HDR + len + (k ? NL__FRAME_TAG : 0));
        assert_int_equal(nl__frame_decode(&d, pay, buf, (size_t)n, k, &reason), (int)len);
        assert_int_equal(reason, NL__FR_OK);
        assert_int_equal(d.type, t);
        assert_true(d.sid == h.sid && d.sender == h.sender && d.seq == h.seq && d.pn == h.pn);
        assert_int_equal(d.frag_index, h.frag_index);
        assert_int_equal(d.frag_count, h.frag_count);
        assert_int_equal(d.flags, k ? NL__FRAME_SEALED : 0);
        assert_memory_equal(pay, "hello", len);
        if (k != NULL && len > 0) /* the payload travels encrypted */
            assert_null(memmem(buf, (size_t)n, "hello", len));
    }
}

static void test_roundtrip_plain(void **state)
{
    (void)state;
    roundtrip(NULL);
}

static void test_roundtrip_sealed(void **state)
{
    (void)state;
    roundtrip(key);
}

static void test_wire_layout(void **state)
{
    uint8_t buf[NL__FRAME_MAX];
    nl__frame_hdr h = hdr(NL__FT_DATA);
    static const uint8_t want[NL__FRAME_HDR] = {
        'N', 'L', 1, 3, 0, 0, 0, 2, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 1, 2,
        3,   4,   5, 6, 7, 8, 0, 0, 0,    3,    0,    0,    0,    7,    0,    0,    0, 1};

    (void)state;
    assert_int_equal(nl__frame_encode(buf, sizeof buf, &h, "hi", 2, NULL), NL__FRAME_HDR + 2);
    assert_memory_equal(buf, want, sizeof want);
}

static int decode_reason(const uint8_t *buf, size_t len, const uint8_t *k)
{
    uint8_t pay[NL__FRAME_PAYLOAD_MAX];
    nl__frame_hdr d;
    int reason = -1;

    if (nl__frame_decode(&d, pay, buf, len, k, &reason) >= 0)
        return NL__FR_OK;
    return reason;
}

static void test_validation(void **state)
{
    uint8_t buf[NL__FRAME_MAX], bad[NL__FRAME_MAX];
    nl__frame_hdr h = hdr(NL__FT_DATA);
    int n;

    (void)state;
    n = nl__frame_encode(buf, sizeof buf, &h, "hello", 5, NULL);
    assert_int_equal(decode_reason(buf, (size_t)n, NULL), NL__FR_OK);
    assert_int_equal(decode_reason(buf, NL__FRAME_HDR - 1, NULL), NL__FR_LENGTH);
    assert_int_equal(decode_reason(buf, (size_t)n - 1, NULL), NL__FR_LENGTH);
    memcpy(bad, buf, (size_t)n);
    bad[n] = 0;
    assert_int_equal(decode_reason(bad, (size_t)n + 1, NULL), NL__FR_LENGTH);

#define MUTATE(off, val, want)                                                                     \
    do {                                                                                           \
        memcpy(bad, buf, (size_t)n);                                                               \
        bad[off] = (uint8_t)(val);                                                                 \
        assert_int_equal(decode_reason(bad, (size_t)n, NULL), want);                               \
    } while (0)
    MUTATE(0, 'X', NL__FR_MAGIC);
    MUTATE(1, 'X', NL__FR_MAGIC);
    MUTATE(2, 2, NL__FR_VERSION);
    MUTATE(3, 0, NL__FR_HEADER);                /* type 0 */
    MUTATE(3, NL__FT_LAST + 1, NL__FR_HEADER);  /* unknown type */
    MUTATE(4, 0x02, NL__FR_HEADER);             /* unknown flag */
    MUTATE(4, NL__FRAME_SEALED, NL__FR_LENGTH); /* sealed: no room for the tag */
    MUTATE(5, 1, NL__FR_HEADER);                /* reserved */
    MUTATE(7, 6, NL__FR_LENGTH);                /* length field disagrees */
    MUTATE(8, 0, NL__FR_OK);                    /* sid high byte 0x11 -> 0: still non-zero */
    MUTATE(27, 0, NL__FR_HEADER);               /* seq 0 in DATA */
    MUTATE(31, 0, NL__FR_HEADER);               /* pn 0 */
    MUTATE(35, 0, NL__FR_HEADER);               /* fragment count 0 */
    MUTATE(33, 1, NL__FR_HEADER);               /* index 1 of 1 */
    MUTATE(35, NL__FRAME_FRAGS_MAX + 1, NL__FR_HEADER);
    MUTATE(35, 2, NL__FR_LENGTH); /* index 0 of 2 must be full */
#undef MUTATE
    /* A sealed frame against an unkeyed session, and the reverse. */
    n = nl__frame_encode(buf, sizeof buf, &h, "hello", 5, key);
    assert_int_equal(decode_reason(buf, (size_t)n, NULL), NL__FR_AUTH);
    n = nl__frame_encode(buf, sizeof buf, &h, "hello", 5, NULL);
    assert_int_equal(decode_reason(buf, (size_t)n, key), NL__FR_AUTH);
}

static void test_type_rules(void **state)
{
    uint8_t buf[NL__FRAME_MAX], big[NL__FRAME_PAYLOAD_MAX + 1] = {0};
    nl__frame_hdr h;

    (void)state;
    h = hdr(NL__FT_HELLO);
    h.sid |= 1; /* a HELLO carries only the initiator's half */
    assert_int_equal(nl__frame_encode(buf, sizeof buf, &h, NULL, 0, NULL), NL_EINVAL);
    h = hdr(NL__FT_HELLO);
    assert_int_equal(nl__frame_encode(buf, sizeof buf, &h, big, NL__FRAME_NAME_MAX + 1, NULL),
                     NL_EINVAL);
    h = hdr(NL__FT_HELLO_ACK);
    h.sid &= ~0xffffffffull; /* a HELLO-ACK completes it */
    assert_int_equal(nl__frame_encode(buf, sizeof buf, &h, NULL, 0, NULL), NL_EINVAL);
    h = hdr(NL__FT_PING);
    h.sender = 0;
    assert_int_equal(nl__frame_encode(buf, sizeof buf, &h, NULL, 0, NULL), NL_EINVAL);
    h = hdr(NL__FT_PING);
    assert_int_equal(nl__frame_encode(buf, sizeof buf, &h, "x", 1, NULL), NL_EINVAL);
    h = hdr(NL__FT_ACK);
    assert_int_equal(nl__frame_encode(buf, sizeof buf, &h, "xy", 2, NULL), NL_EINVAL);
    h = hdr(NL__FT_BYE);
    h.seq = 0;
    assert_int_equal(nl__frame_encode(buf, sizeof buf, &h, NULL, 0, NULL), NL_EINVAL);
    h = hdr(NL__FT_DATA);
    assert_int_equal(nl__frame_encode(buf, sizeof buf, &h, big, sizeof big, NULL), NL_EINVAL);
    assert_int_equal(nl__frame_encode(buf, NL__FRAME_HDR, &h, "x", 1, NULL), NL_ENOSPC);
    assert_int_equal(nl__frame_encode(NULL, sizeof buf, &h, "x", 1, NULL), NL_EINVAL);
    /* The largest message: 55 fragments, the last one 736 bytes; one byte more is refused. */
    h.frag_count = NL__FRAME_FRAGS_MAX;
    h.frag_index = NL__FRAME_FRAGS_MAX - 1;
    assert_true(nl__frame_encode(buf, sizeof buf, &h, big, 736, NULL) > 0);
    assert_int_equal(nl__frame_encode(buf, sizeof buf, &h, big, 737, NULL), NL_EINVAL);
    h.frag_index = 0;
    assert_true(nl__frame_encode(buf, sizeof buf, &h, big, NL__FRAME_PAYLOAD_MAX, NULL) > 0);
    assert_string_equal(nl__frame_type_name(NL__FT_BYE_ACK), "BYE-ACK");
    assert_string_equal(nl__frame_type_name(0), "?");
    assert_string_equal(nl__frame_type_name(99), "?");
}

static void test_aead(void **state)
{
    uint8_t buf[NL__FRAME_MAX], bad[NL__FRAME_MAX], other[NL__FRAME_KEY];
    nl__frame_hdr h = hdr(NL__FT_DATA), h2 = hdr(NL__FT_DATA);
    int n, n2;

    (void)state;
    n = nl__frame_encode(buf, sizeof buf, &h, "hello", 5, key);
    assert_int_equal(n, NL__FRAME_HDR + 5 + NL__FRAME_TAG);
    /* Every single byte matters: header (associated data), ciphertext and tag. Changing the
     * magic, version, flags, ... is caught earlier by the format checks; all others by the tag. */
    for (int i = 0; i < n; i++) {
        memcpy(bad, buf, (size_t)n);
        bad[i] ^= 0x01;
        assert_int_not_equal(decode_reason(bad, (size_t)n, key), NL__FR_OK);
        if (i >= 8)
            assert_int_equal(decode_reason(bad, (size_t)n, key),
                             i >= 24 && i < 36 &&
                                     decode_reason(bad, (size_t)n, NULL) == NL__FR_HEADER
                                 ? NL__FR_HEADER
                                 : NL__FR_AUTH);
    }
    memcpy(other, key, sizeof other);
    other[0] ^= 0x80;
    assert_int_equal(decode_reason(buf, (size_t)n, other), NL__FR_AUTH);
    /* The nonce includes the packet number: the same text never encrypts the same way. */
    h2.pn = 8;
    n2 = nl__frame_encode(bad, sizeof bad, &h2, "hello", 5, key);
    assert_int_equal(n, n2);
    assert_memory_not_equal(buf + NL__FRAME_HDR, bad + NL__FRAME_HDR, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_plain), cmocka_unit_test(test_roundtrip_sealed),
        cmocka_unit_test(test_wire_layout),     cmocka_unit_test(test_validation),
        cmocka_unit_test(test_type_rules),      cmocka_unit_test(test_aead),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
