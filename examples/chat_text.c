/* chat_text: a peer's text made safe for a terminal (see chat_text.h). */
#include "chat_text.h"

#include <stdint.h>
#include <string.h>

/* Decode one UTF-8 sequence at p (n bytes available). Returns its length and the code point in
 * *cp, or 0 when the bytes are not a valid, shortest-form sequence of a scalar value. */
static size_t utf8_decode(const unsigned char *p, size_t n, uint32_t *cp)
{
    size_t len, i;
    uint32_t c, min;

    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        len = 2, c = p[0] & 0x1f, min = 0x80;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        len = 3, c = p[0] & 0x0f, min = 0x800;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        len = 4, c = p[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

/* Code points that reorder or hide the text around them (bidirectional embeddings, overrides
 * and isolates): a peer could make its text read differently from what was sent. */
static int is_bidi_control(uint32_t c)
{
    return (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) || c == 0x200e ||
           c == 0x200f || c == 0x061c;
}

int chat_text_put_safe(FILE *f, const char *text, size_t len)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t i = 0;

    if (len > 0 && p[len - 1] == '\r')
        len--;
    while (i < len) {
        uint32_t c;
        size_t n = utf8_decode(p + i, len - i, &c);

        if (n == 0) {
            fprintf(f, "\\x%02X", p[i]);
            i++;
            continue;
        }
        if (c == '\t')
            fputc(' ', f);
        else if (c < 0x20)
            fprintf(f, "^%c", (int)(c + 0x40));
        else if (c == 0x7f)
            fputs("^?", f);
        else if ((c >= 0x80 && c <= 0x9f) || is_bidi_control(c))
            fprintf(f, "<U+%04X>", (unsigned)c);
        else
            fwrite(p + i, 1, n, f);
        i += n;
    }
    return ferror(f) ? EOF : 0;
}

size_t chat_text_utf8_prefix(const char *s, size_t max)
{
    size_t len = strlen(s);

    if (len <= max)
        return len;
    /* Step back over continuation bytes: the cut then falls before a lead byte. */
    len = max;
    while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
        len--;
    return len;
}
