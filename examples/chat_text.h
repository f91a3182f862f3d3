/* chat_text: showing a peer's text on a terminal without letting it control the terminal.
 * Part of netlab-chat (examples/), not of libnetlab. */
#ifndef NETLAB_CHAT_TEXT_H
#define NETLAB_CHAT_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Write len bytes of untrusted text to f so that a terminal displays it and cannot be
 * steered by it: valid UTF-8 (Chinese included) passes unchanged; C0 controls and DEL are
 * shown in caret notation (ESC as "^[", so an escape sequence arrives as harmless text), C1
 * controls and bidirectional overrides as "<U+XXXX>", bytes that are not UTF-8 as "\xNN", and
 * a tab as a space. One CR at the very end (a Windows peer's CRLF line end) is left out.
 * Returns 0, or EOF if writing to f failed. */
int chat_text_put_safe(FILE *f, const char *p, size_t len);

/* The same safe form as chat_text_put_safe, into out: at most cap - 1 bytes and a NUL (cap 0:
 * nothing written), cut only between characters or placeholders. Returns the length of the
 * whole safe form (like snprintf): 4 * len + 1 bytes always suffice. For a console without
 * stdio streams behind it (Windows), and anywhere open_memstream is missing. */
size_t chat_text_safe(char *out, size_t cap, const char *text, size_t len);

/* Decode one UTF-8 sequence at p (n >= 1 bytes available). Returns its length and the code
 * point in *cp, or 0 when the bytes are not a valid, shortest-form sequence of a scalar value. */
size_t chat_text_utf8_decode(const unsigned char *p, size_t n, uint32_t *cp);

/* The length of the longest prefix of the NUL-terminated s that is at most max bytes and does
 * not cut a UTF-8 sequence in two (used to shorten a default name). */
size_t chat_text_utf8_prefix(const char *s, size_t max);

/* Pipe mode: one received message on standard output, "who: text" (who may be NULL), made safe
 * (chat_text_put_safe()) when safe is nonzero, verbatim otherwise. Returns 0; -1 when writing
 * failed: then it has said so on standard error ("... standard output (reason): leaving"), and
 * the caller leaves and exits with status 1. */
int chat_out_message(const char *who, const char *text, size_t len, int safe);

#endif
