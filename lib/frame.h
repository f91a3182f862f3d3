/* The chat's frame codec: a pure module (no I/O, no clock, no allocation) that turns frame
 * headers and payloads into datagrams and back, and that decides, for every datagram that
 * arrives, whether it is a well-formed frame. It is internal: the wire format is documented in
 * docs/protocol.md, but only nl_chat_session is the public face of the protocol.
 *
 * Layout (all integers big-endian), 36 bytes of header then the payload, then, when the frame
 * is sealed with the pre-shared key, a 16-byte Poly1305 tag:
 *
 *   0  magic "NL"     2  version (1)   3  type     4  flags (bit 0: sealed)   5  reserved (0)
 *   6  payload length (u16, at most NL__FRAME_PAYLOAD_MAX)
 *   8  session id (u64)      16  sender id (u64)     24  seq (u32)     28  packet number (u32)
 *  32  fragment index (u16)  34  fragment count (u16)
 */
#ifndef NETLAB_FRAME_H
#define NETLAB_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define NL__FRAME_VERSION     1
#define NL__FRAME_HDR         36   /* header bytes                                   */
#define NL__FRAME_TAG         16   /* AEAD tag bytes of a sealed frame               */
#define NL__FRAME_PAYLOAD_MAX 1200 /* payload bytes per datagram                     */
#define NL__FRAME_MAX         (NL__FRAME_HDR + NL__FRAME_PAYLOAD_MAX + NL__FRAME_TAG)
#define NL__FRAME_MSG_MAX     65536 /* largest message, split into fragments          */
#define NL__FRAME_FRAGS_MAX   55    /* ceil(NL__FRAME_MSG_MAX / NL__FRAME_PAYLOAD_MAX)  */
#define NL__FRAME_NAME_MAX    64    /* largest name carried by HELLO and HELLO-ACK    */
#define NL__FRAME_KEY         32    /* pre-shared key bytes                           */
#define NL__FRAME_SEALED      0x01  /* flags: payload encrypted, header authenticated */
#define NL__FRAME_ACK_LEN     4     /* payload bytes of an ACK                        */

/* Frame types. The numbers are part of the wire format. */
enum nl__frame_type {
    NL__FT_HELLO = 1,     /* initiator -> responder: half a session id, a name      */
    NL__FT_HELLO_ACK = 2, /* responder -> initiator: the whole session id, a name   */
    NL__FT_DATA = 3,      /* one fragment of a message, numbered by seq             */
    NL__FT_ACK = 4,       /* seq received (seq 0 confirms the HELLO-ACK); payload:
                           * 4 bytes, the receiver's next expected seq, so that one
                           * ACK that gets through acknowledges all before it too  */
    NL__FT_PING = 5,      /* keepalive question                                     */
    NL__FT_PONG = 6,      /* keepalive answer                                       */
    NL__FT_BYE = 7,       /* the sender leaves; it takes the next seq, so it is
                           * delivered after every message sent before it           */
    NL__FT_BYE_ACK = 8,   /* the BYE was delivered                                  */
    NL__FT_BYE_DONE = 9,  /* the BYE-ACK arrived; the receiver may stop lingering   */
    NL__FT_LAST = NL__FT_BYE_DONE
};

/* Why a datagram was refused. Each reason has a drop counter in nl_chat_stats. */
enum nl__frame_reason {
    NL__FR_OK = 0,
    NL__FR_LENGTH,  /* shorter than a header, length field disagrees, too long */
    NL__FR_MAGIC,   /* not "NL": not our protocol at all                       */
    NL__FR_VERSION, /* a version this code does not speak                      */
    NL__FR_HEADER,  /* unknown type or flags, non-zero reserved, bad fields    */
    NL__FR_AUTH     /* sealed when no key is set, unsealed when one is, or the
                     * tag does not verify                                     */
};

typedef struct nl__frame_hdr {
    uint8_t type;        /* enum nl__frame_type                               */
    uint8_t flags;       /* NL__FRAME_SEALED or 0                             */
    uint16_t len;        /* payload bytes (plaintext length)                  */
    uint64_t sid;        /* session id: HELLO carries only the high half      */
    uint64_t sender;     /* the sender's random id for this session           */
    uint32_t seq;        /* DATA/BYE: sequence number; ACK: the seq acked      */
    uint32_t pn;         /* packet number: +1 for every frame a sender sends  */
    uint16_t frag_index; /* DATA: index of this fragment in its message       */
    uint16_t frag_count; /* DATA: fragments in the message                    */
} nl__frame_hdr;

/*
 * Build a datagram from a header and payload. h->len is taken from len; h->flags is set to
 * NL__FRAME_SEALED when key is not NULL, and the payload is then encrypted with
 * XChaCha20-Poly1305 (the header as associated data, the nonce made of sid, sender and pn,
 * which the session never repeats).
 *
 * Returns the datagram's length, NL_EINVAL for a header that nl__frame_decode() would refuse
 * or a payload over NL__FRAME_PAYLOAD_MAX, NL_ENOSPC when cap is too small (NL__FRAME_MAX
 * always suffices), NL_ENOTSUP when a key is given but the library was built without libsodium.
 */
int nl__frame_encode(uint8_t *out, size_t cap, nl__frame_hdr *h, const void *payload, size_t len,
                     const uint8_t *key);

/*
 * Check a datagram and, when it passes, decode its header and copy (or decrypt) its payload.
 *
 * payload must have room for NL__FRAME_PAYLOAD_MAX bytes. key is NULL when the session has
 * none. Returns the payload length, or NL_EBADFRAME with *reason set (reason may be NULL).
 * Nothing but h, payload and *reason is written; on failure their content is unspecified.
 */
int nl__frame_decode(nl__frame_hdr *h, uint8_t *payload, const uint8_t *buf, size_t len,
                     const uint8_t *key, int *reason);

/* The name of a frame type, "HELLO", ... ("?" for others); for traces. */
const char *nl__frame_type_name(int type);

#endif /* NETLAB_FRAME_H */
