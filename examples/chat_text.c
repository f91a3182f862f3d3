/* chat_text: a peer's text made safe for a terminal (see chat_text.h). */
#include "chat_text.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

size_t chat_text_utf8_decode(const unsigned char *p, size_t n, uint32_t *cp)
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

/* The safe form of the character at p into out (room for 8 bytes and a NUL): c is its code
 * point and n its length, 0 when p[0] starts no valid sequence. Returns the form's length. */
static size_t safe_char(char out[9], const unsigned char *p, size_t n, uint32_t c)
{
    if (n == 0)
        return (size_t)snprintf(out, 9, "\\x%02X", p[0]);
    if (c == '\t') {
        out[0] = ' ';
        return 1;
    }
    if (c < 0x20 || c == 0x7f) {
        out[0] = '^';
        out[1] = c == 0x7f ? '?' : (char)(c + 0x40);
        return 2;
    }
    if ((c >= 0x80 && c <= 0x9f) || is_bidi_control(c))
        return (size_t)snprintf(out, 9, "<U+%04X>", (unsigned)c); /* c < 0x10000 */
    memcpy(out, p, n);
    return n;
}

/* Walks the safe form of text: each piece goes to put(piece, length, ctx). */
static int safe_walk(const char *text, size_t len, int (*put)(const char *, size_t, void *),
                     void *ctx)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t i = 0;

    if (len > 0 && p[len - 1] == '\r')
        len--;
    while (i < len) {
        uint32_t c = 0;
        size_t n = chat_text_utf8_decode(p + i, len - i, &c);
        char piece[9];

        if (put(piece, safe_char(piece, p + i, n, c), ctx) != 0)
            return -1;
        i += n == 0 ? 1 : n;
    }
    return 0;
}

static int put_file(const char *piece, size_t n, void *ctx)
{
    return fwrite(piece, 1, n, ctx) == n ? 0 : -1;
}

int chat_text_put_safe(FILE *f, const char *text, size_t len)
{
    safe_walk(text, len, put_file, f);
    return ferror(f) ? EOF : 0;
}

struct safe_buf {
    char *out;
    size_t cap, kept, len;
    int full;
};

static int put_buf(const char *piece, size_t n, void *ctx)
{
    struct safe_buf *b = ctx;

    /* Whole pieces only: a cut never falls inside a character or a placeholder. */
    if (!b->full && b->kept + n < b->cap) {
        memcpy(b->out + b->kept, piece, n);
        b->kept += n;
    } else {
        b->full = 1;
    }
    b->len += n;
    return 0;
}

size_t chat_text_safe(char *out, size_t cap, const char *text, size_t len)
{
    struct safe_buf b = {out, cap, 0, 0, 0};

    safe_walk(text, len, put_buf, &b);
    if (cap > 0)
        out[b.kept] = '\0';
    return b.len;
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

int chat_out_message(const char *who, const char *text, size_t len, int safe)
{
    int bad;

    errno = 0;
    if (who != NULL) {
        chat_text_put_safe(stdout, who, strlen(who));
        fputs(": ", stdout);
    }
    if (safe)
        bad = chat_text_put_safe(stdout, text, len) != 0;
    else
        bad = fwrite(text, 1, len, stdout) != len;
    if (!bad && fputc('\n', stdout) != EOF && fflush(stdout) != EOF)
        return 0;
    fprintf(stderr,
            "netlab-chat: cannot write a received message to standard output (%s): "
            "leaving\n",
            strerror(errno != 0 ? errno : EIO));
    return -1;
}
