/* chat_line: console line editing and UTF-16 <-> UTF-8 (see chat_line.h). */
#include "chat_line.h"

#include "chat_text.h"

#include <string.h>

#define REPLACEMENT 0xfffdu

void chat_line_init(chat_line *l, size_t max)
{
    memset(l, 0, sizeof *l);
    l->max = max == 0 || max > CHAT_LINE_CAP ? CHAT_LINE_CAP : max;
}

/* The UTF-8 form of the scalar value c in out (4 bytes); returns its length. */
static size_t utf8_encode(uint32_t c, char out[4])
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xc0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xe0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        out[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
    out[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

static int is_high(uint32_t u)
{
    return u >= 0xd800 && u <= 0xdbff;
}

static int is_low(uint32_t u)
{
    return u >= 0xdc00 && u <= 0xdfff;
}

static int add_char(chat_line *l, uint32_t c)
{
    char b[4];
    size_t n;

    if (c == '\t')
        c = ' ';
    if (c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f))
        return CHAT_LINE_NONE; /* a control: never part of a line */
    n = utf8_encode(c, b);
    if (l->len + n > l->max) {
        l->dropped++;
        return CHAT_LINE_FULL;
    }
    memcpy(l->text + l->len, b, n);
    l->len += n;
    l->text[l->len] = '\0';
    return CHAT_LINE_CHANGED;
}

int chat_line_feed(chat_line *l, uint16_t unit)
{
    int rc = CHAT_LINE_NONE;

    if (l->high != 0) {
        uint16_t high = l->high;

        l->high = 0;
        if (is_low(unit))
            return add_char(l, 0x10000u + (((uint32_t)high - 0xd800u) << 10) +
                                   ((uint32_t)unit - 0xdc00u));
        rc = add_char(l, REPLACEMENT); /* a high half without its low half */
    }
    if (is_high(unit)) {
        l->high = unit;
        return rc;
    }
    switch (unit) {
    case 0:
        return rc;
    case 8:
    case 0x7f: /* some consoles send DEL for Backspace */
        if (l->len == 0)
            return rc;
        do
            l->len--;
        while (l->len > 0 && ((unsigned char)l->text[l->len] & 0xc0) == 0x80);
        l->text[l->len] = '\0';
        return CHAT_LINE_CHANGED;
    case 21:
        l->len = 0;
        l->text[0] = '\0';
        return CHAT_LINE_CHANGED;
    case 13:
    case 10:
        return CHAT_LINE_ENTER;
    case 3:
        return CHAT_LINE_INTERRUPT;
    case 4:
    case 26:
        return l->len == 0 ? CHAT_LINE_EOF : rc;
    default:
        break;
    }
    {
        int added = add_char(l, is_low(unit) ? REPLACEMENT : unit);

        return added != CHAT_LINE_NONE ? added : rc;
    }
}

size_t chat_line_take(chat_line *l, char *out, size_t cap)
{
    size_t n = l->len, len = l->len;

    if (cap == 0)
        n = 0;
    else if (n > cap - 1) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)l->text[n] & 0xc0) == 0x80)
            n--;
    }
    if (cap > 0) {
        memcpy(out, l->text, n);
        out[n] = '\0';
    }
    l->len = 0;
    l->high = 0;
    l->text[0] = '\0';
    return len;
}

size_t chat_utf16_to_utf8(const uint16_t *in, size_t n, char *out, size_t cap)
{
    size_t i = 0, o = 0;

    while (i < n) {
        uint32_t c = in[i];
        size_t used = 1, k;
        char b[4];

        if (is_high(c) && i + 1 < n && is_low(in[i + 1])) {
            c = 0x10000u + ((c - 0xd800u) << 10) + ((uint32_t)in[i + 1] - 0xdc00u);
            used = 2;
        } else if (is_high(c) || is_low(c)) {
            c = REPLACEMENT;
        }
        k = utf8_encode(c, b);
        if (o + k > cap)
            break;
        memcpy(out + o, b, k);
        o += k;
        i += used;
    }
    return o;
}

size_t chat_utf8_to_utf16(const char *in, size_t n, uint16_t *out, size_t cap)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t i = 0, o = 0;

    while (i < n) {
        uint32_t c;
        size_t k = chat_text_utf8_decode(p + i, n - i, &c);

        if (k == 0) {
            c = REPLACEMENT;
            k = 1;
        }
        if (c >= 0x10000) {
            if (o + 2 > cap)
                break;
            out[o++] = (uint16_t)(0xd800u + ((c - 0x10000u) >> 10));
            out[o++] = (uint16_t)(0xdc00u + ((c - 0x10000u) & 0x3ff));
        } else {
            if (o + 1 > cap)
                break;
            out[o++] = (uint16_t)c;
        }
        i += k;
    }
    return o;
}
