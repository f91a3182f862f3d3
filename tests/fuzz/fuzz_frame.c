/* libFuzzer target for the chat's frame decoder. Any byte string must be either refused with
 * a reason or decoded into a frame that encodes back to exactly the same bytes (the format
 * has one encoding per frame, and the AEAD nonce is derived from the header, so sealed frames
 * round-trip too). The first input byte chooses keyed or unkeyed decoding. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t fuzz_key[NL__FRAME_KEY] = "netlab-fuzz-key-0123456789abcdef";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t payload[NL__FRAME_PAYLOAD_MAX], again[NL__FRAME_MAX];
    const uint8_t *key;
    nl__frame_hdr h;
    int n, m, reason = -1;

    if (size == 0)
        return 0;
    key = (data[0] & 1) ? fuzz_key : NULL;
    data++;
    size--;
    n = nl__frame_decode(&h, payload, data, size, key, &reason);
    if (n < 0) {
        if (n != NL_EBADFRAME || reason < NL__FR_LENGTH || reason > NL__FR_AUTH)
            abort();
        return 0;
    }
    if (reason != NL__FR_OK || (size_t)n > NL__FRAME_PAYLOAD_MAX || n != h.len)
        abort();
    m = nl__frame_encode(again, sizeof again, &h, payload, (size_t)n, key);
    if (m < 0 || (size_t)m != size || memcmp(again, data, size) != 0)
        abort();
    return 0;
}
