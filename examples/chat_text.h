/* chat_text: showing a peer's text on a terminal without letting it control the terminal.
 * Part of netlab-chat (examples/), not of libnetlab. */
#ifndef NETLAB_CHAT_TEXT_H
#define NETLAB_CHAT_TEXT_H

#include <stddef.h>
#include <stdio.h>

/* Write len bytes of untrusted text to f so that a terminal displays it and cannot be
 * steered by it: valid UTF-8 (Chinese included) passes unchanged; C0 controls and DEL are
 * shown in caret notation (ESC as "^[", so an escape sequence arrives as harmless text), C1
 * controls and bidirectional overrides as "<U+XXXX>", bytes that are not UTF-8 as "\xNN", and
 * a tab as a space. One CR at the very end (a Windows peer's CRLF line end) is left out.
 * Returns 0, or EOF if writing to f failed. */
int chat_text_put_safe(FILE *f, const char *p, size_t len);

/* The length of the longest prefix of the NUL-terminated s that is at most max bytes and does
 * not cut a UTF-8 sequence in two (used to shorten a default name). */
size_t chat_text_utf8_prefix(const char *s, size_t max);

#endif
