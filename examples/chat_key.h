/* chat_key: reading netlab-chat's --key-file, portably (POSIX and Windows). Part of
 * netlab-chat (examples/), not of libnetlab. */
#ifndef NETLAB_CHAT_KEY_H
#define NETLAB_CHAT_KEY_H

#include <stddef.h>

#define CHAT_KEY_BYTES 32 /* NL_CHAT_KEY_BYTES */

/* Reads the key in the file at path: 32 raw bytes, or 64 hex digits with optional white space
 * (spaces, tabs, CR, LF) around and between them. Anything else is refused rather than guessed
 * at. On POSIX a file that its group or others may read is used but reported in msg as a
 * warning (as netlab-chat always did); Windows has no such mode bits, so nothing is checked.
 * msg (msg_cap bytes, NUL-terminated) gets one line without a newline: the warning, or why the
 * file was refused, naming path. Returns 0 (key filled, msg empty), 1 (key filled, warning in
 * msg) or -1 (refused: missing, unreadable, a directory, not a key; key untouched). The bytes
 * read are wiped from the stack before returning. */
int chat_key_read(const char *path, unsigned char key[CHAT_KEY_BYTES], char *msg, size_t msg_cap);

/* Zeroes n bytes at p through a volatile pointer, so that the compiler cannot drop it as a dead
 * store (a memset() just before a return may be). */
void chat_key_wipe(void *p, size_t n);

#endif
