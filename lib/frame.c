/* The chat's frame codec. Pure: it reads and writes only the buffers it is given, so it can be
 * unit tested exhaustively and fuzzed. Validation is strict on purpose: every field that has
 * only one legal value for a frame type is checked, so that a random or forged datagram is
 * refused here, before the session state machine ever looks at it. */
#include <string.h>

#include "frame.h"
#include "internal.h"

#ifdef NETLAB_HAVE_SODIUM
#include <sodium.h>
#endif

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) << 32 | get32(p + 4);
}

const char *nl__frame_type_name(int type)
{
    static const char *const names[] = {"?",    "HELLO", "HELLO-ACK", "DATA",    "ACK",
                                        "PING", "PONG",  "BYE",       "BYE-ACK", "BYE-DONE"};

    return type >= 1 && type <= NL__FT_LAST ? names[type] : names[0];
}

/* The rules each type's fields must follow. The session id is two random halves, the
 * initiator's (high) and the responder's (low); only HELLO travels before the low half is
 * known. */
static int check_fields(const nl__frame_hdr *h)
{
    uint32_t hi = (uint32_t)(h->sid >> 32), lo = (uint32_t)h->sid;
    int no_frag = h->frag_index == 0 && h->frag_count == 0;

    if (h->type < 1 || h->type > NL__FT_LAST || (h->flags & ~NL__FRAME_SEALED) != 0)
        return NL__FR_HEADER;
    if (h->len > NL__FRAME_PAYLOAD_MAX)
        return NL__FR_LENGTH;
    if (hi == 0 || h->sender == 0 || h->pn == 0)
        return NL__FR_HEADER;
    switch (h->type) {
    case NL__FT_HELLO:
        if (lo != 0 || h->seq != 0 || !no_frag)
            return NL__FR_HEADER;
        return h->len > NL__FRAME_NAME_MAX ? NL__FR_LENGTH : NL__FR_OK;
    case NL__FT_HELLO_ACK:
        if (lo == 0 || h->seq != 0 || !no_frag)
            return NL__FR_HEADER;
        return h->len > NL__FRAME_NAME_MAX ? NL__FR_LENGTH : NL__FR_OK;
    case NL__FT_DATA:
        if (lo == 0 || h->seq == 0 || h->frag_count == 0 || h->frag_count > NL__FRAME_FRAGS_MAX ||
            h->frag_index >= h->frag_count)
            return NL__FR_HEADER;
        /* Every fragment but the last is full, so a message's size follows from its
         * fragment count and the last fragment, and can never exceed NL__FRAME_MSG_MAX. */
        if (h->frag_index + 1 < h->frag_count && h->len != NL__FRAME_PAYLOAD_MAX)
            return NL__FR_LENGTH;
        if (h->frag_index + 1 == h->frag_count &&
            (size_t)(h->frag_count - 1) * NL__FRAME_PAYLOAD_MAX + h->len > NL__FRAME_MSG_MAX)
            return NL__FR_LENGTH;
        return NL__FR_OK;
    case NL__FT_BYE:
        if (lo == 0 || h->seq == 0 || !no_frag)
            return NL__FR_HEADER;
        return h->len != 0 ? NL__FR_LENGTH : NL__FR_OK;
    case NL__FT_ACK:
        if (lo == 0 || !no_frag)
            return NL__FR_HEADER;
        return h->len != NL__FRAME_ACK_LEN ? NL__FR_LENGTH : NL__FR_OK;
    default: /* PING, PONG, BYE-ACK, BYE-DONE: no payload, no fragments */
        if (lo == 0 || !no_frag || (h->type != NL__FT_BYE_ACK && h->seq != 0))
            return NL__FR_HEADER;
        return h->len != 0 ? NL__FR_LENGTH : NL__FR_OK;
    }
}

static void write_header(uint8_t *out, const nl__frame_hdr *h)
{
    out[0] = 'N';
    out[1] = 'L';
    out[2] = NL__FRAME_VERSION;
    out[3] = h->type;
    out[4] = h->flags;
    out[5] = 0;
    put16(out + 6, h->len);
    put64(out + 8, h->sid);
    put64(out + 16, h->sender);
    put32(out + 24, h->seq);
    put32(out + 28, h->pn);
    put16(out + 32, h->frag_index);
    put16(out + 34, h->frag_count);
}

#ifdef NETLAB_HAVE_SODIUM
/* The nonce is the session id, the sender id and the packet number. A session never sends two
 * frames with one packet number, and its ids are fresh random numbers, so with one long-lived
 * key a nonce is never used twice (short of a 2^-64 coincidence of random ids). */
static void make_nonce(uint8_t nonce[24], const nl__frame_hdr *h)
{
    put64(nonce, h->sid);
    put64(nonce + 8, h->sender);
    put64(nonce + 16, h->pn);
}
#endif

int nl__frame_encode(uint8_t *out, size_t cap, nl__frame_hdr *h, const void *payload, size_t len,
                     const uint8_t *key)
{
    size_t total;

    if (out == NULL || h == NULL || (payload == NULL && len > 0) || len > NL__FRAME_PAYLOAD_MAX)
        return NL_EINVAL;
    h->len = (uint16_t)len;
    h->flags = key != NULL ? NL__FRAME_SEALED : 0;
    if (check_fields(h) != NL__FR_OK)
        return NL_EINVAL;
    total = NL__FRAME_HDR + len + (key != NULL ? NL__FRAME_TAG : 0);
    if (cap < total)
        return NL_ENOSPC;
    write_header(out, h);
    if (key == NULL) {
        if (len > 0)
            memcpy(out + NL__FRAME_HDR, payload, len);
        return (int)total;
    }
#ifdef NETLAB_HAVE_SODIUM
    {
        uint8_t nonce[24];
        unsigned long long clen;

        make_nonce(nonce, h);
        crypto_aead_xchacha20poly1305_ietf_encrypt(out + NL__FRAME_HDR, &clen, payload, len, out,
                                                   NL__FRAME_HDR, NULL, nonce, key);
        return (int)(NL__FRAME_HDR + clen);
    }
#else
    return NL_ENOTSUP;
#endif
}

int nl__frame_decode(nl__frame_hdr *h, uint8_t *payload, const uint8_t *buf, size_t len,
                     const uint8_t *key, int *reason)
{
    int dummy, r;
    size_t body;

    if (reason == NULL)
        reason = &dummy;
    *reason = NL__FR_LENGTH;
    if (h == NULL || payload == NULL || buf == NULL || len < NL__FRAME_HDR)
        return NL_EBADFRAME;
    *reason = NL__FR_MAGIC;
    if (buf[0] != 'N' || buf[1] != 'L')
        return NL_EBADFRAME;
    *reason = NL__FR_VERSION;
    if (buf[2] != NL__FRAME_VERSION)
        return NL_EBADFRAME;
    *reason = NL__FR_HEADER;
    if (buf[5] != 0)
        return NL_EBADFRAME;
    h->type = buf[3];
    h->flags = buf[4];
    h->len = get16(buf + 6);
    h->sid = get64(buf + 8);
    h->sender = get64(buf + 16);
    h->seq = get32(buf + 24);
    h->pn = get32(buf + 28);
    h->frag_index = get16(buf + 32);
    h->frag_count = get16(buf + 34);
    if ((r = check_fields(h)) != NL__FR_OK) {
        *reason = r;
        return NL_EBADFRAME;
    }
    body = len - NL__FRAME_HDR;
    if (body != (size_t)h->len + ((h->flags & NL__FRAME_SEALED) ? NL__FRAME_TAG : 0)) {
        *reason = NL__FR_LENGTH;
        return NL_EBADFRAME;
    }
    /* A keyed session accepts only sealed frames and an unkeyed one only plain frames: a
     * frame that does not match is as unauthenticated as one whose tag fails. */
    *reason = NL__FR_AUTH;
    if ((key != NULL) != ((h->flags & NL__FRAME_SEALED) != 0))
        return NL_EBADFRAME;
    if (key == NULL) {
        memcpy(payload, buf + NL__FRAME_HDR, h->len);
        *reason = NL__FR_OK;
        return h->len;
    }
#ifdef NETLAB_HAVE_SODIUM
    {
        uint8_t nonce[24];
        unsigned long long plen;

        make_nonce(nonce, h);
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(payload, &plen, NULL, buf + NL__FRAME_HDR,
                                                       body, buf, NL__FRAME_HDR, nonce, key) != 0)
            return NL_EBADFRAME;
        *reason = NL__FR_OK;
        return (int)plen;
    }
#else
    return NL_EBADFRAME;
#endif
}
