/* chat_line: the line being typed on a console without libedit (Windows), and the UTF-16 <->
 * UTF-8 conversions a Windows console needs. Pure code, no console calls: tested on every
 * platform (tests/unit/test_chat_line.c). Part of netlab-chat (examples/), not of libnetlab. */
#ifndef NETLAB_CHAT_LINE_H
#define NETLAB_CHAT_LINE_H

#include <stddef.h>
#include <stdint.h>

/* Room for the longest line, in UTF-8 bytes: a chat message's most (NL_CHAT_MSG_MAX). */
#define CHAT_LINE_CAP 65536

/* What one UTF-16 unit of input did (chat_line_feed). */
enum {
    CHAT_LINE_NONE = 0,  /* nothing visible changed (a key without a character, half a pair) */
    CHAT_LINE_CHANGED,   /* the text changed: redraw it */
    CHAT_LINE_FULL,      /* a character did not fit (max bytes): refused, counted in dropped */
    CHAT_LINE_ENTER,     /* Enter: the line is complete, take it with chat_line_take */
    CHAT_LINE_EOF,       /* Ctrl-D or Ctrl-Z on an empty line: end of input */
    CHAT_LINE_INTERRUPT, /* Ctrl-C: the user asks to leave */
};

/* The line being typed: UTF-8 text, always valid and without control characters. */
typedef struct chat_line {
    char text[CHAT_LINE_CAP + 1]; /* NUL-terminated */
    size_t len;                   /* bytes in text */
    size_t max;                   /* the most bytes a line may have (<= CHAT_LINE_CAP) */
    uint16_t high;                /* a high surrogate waiting for its low half, or 0 */
    unsigned long dropped;        /* characters refused because the line was full */
} chat_line;

/* An empty line that takes at most max bytes (capped at CHAT_LINE_CAP; 0 means the cap). */
void chat_line_init(chat_line *l, size_t max);

/* One UTF-16 unit typed (a console key event's character; 0 for keys without one). Printable
 * characters are added (a surrogate pair once both halves arrived; a lone half becomes U+FFFD;
 * a tab becomes a space; other controls are ignored); Backspace (8) removes the last
 * character; Ctrl-U (21) clears the line; Enter (13 or 10) completes it; Ctrl-C (3) is an
 * interrupt; Ctrl-D (4) and Ctrl-Z (26) are the end of input on an empty line and ignored
 * elsewhere. Returns one of CHAT_LINE_*. */
int chat_line_feed(chat_line *l, uint16_t unit);

/* Copies the line (NUL-terminated, at most cap - 1 bytes, never half a character) to out and
 * empties it. Returns the line's length in bytes. */
size_t chat_line_take(chat_line *l, char *out, size_t cap);

/* UTF-16 (n units) to UTF-8 in out (cap bytes; 3 * n always suffice). A lone surrogate becomes
 * U+FFFD. Stops before a character that does not fit. Returns the bytes written. */
size_t chat_utf16_to_utf8(const uint16_t *in, size_t n, char *out, size_t cap);

/* UTF-8 (n bytes) to UTF-16 in out (cap units; n always suffice). A byte that starts no valid
 * sequence becomes U+FFFD. Stops before a character that does not fit. Returns the units
 * written. */
size_t chat_utf8_to_utf16(const char *in, size_t n, uint16_t *out, size_t cap);

#endif
