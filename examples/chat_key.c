/* chat_key: the --key-file reader (see chat_key.h). stdio and stat only, so that it is the same
 * code on POSIX and on Windows (mingw-w64's stat). */
#include "chat_key.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* More than any key file holds (64 hex digits with white space): a longer file is refused
 * whole instead of being judged by its beginning. */
#define KEY_FILE_MAX 256

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void chat_key_wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;

    while (n-- > 0)
        *v++ = 0;
}

/* buf (n bytes) as a key: raw, or hex digits with white space. Returns 0 or -1. */
static int parse_key(const unsigned char *buf, size_t n, unsigned char key[CHAT_KEY_BYTES])
{
    unsigned char k[CHAT_KEY_BYTES];
    size_t i, j = 0;

    if (n == CHAT_KEY_BYTES) {
        memcpy(key, buf, CHAT_KEY_BYTES);
        return 0;
    }
    for (i = 0; i < n; i++) {
        int v = hexval(buf[i]);

        if (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t')
            continue;
        if (j == 2 * CHAT_KEY_BYTES || v < 0)
            break;
        if (j % 2 == 0)
            k[j / 2] = (unsigned char)(v << 4);
        else
            k[j / 2] |= (unsigned char)v;
        j++;
    }
    if (i == n && j == 2 * CHAT_KEY_BYTES) {
        memcpy(key, k, CHAT_KEY_BYTES);
        chat_key_wipe(k, sizeof k);
        return 0;
    }
    chat_key_wipe(k, sizeof k);
    return -1;
}

int chat_key_read(const char *path, unsigned char key[CHAT_KEY_BYTES], char *msg, size_t msg_cap)
{
    unsigned char buf[KEY_FILE_MAX + 1];
    struct stat st;
    size_t n;
    int rc = 0, bad;
    FILE *f;

    if (msg_cap > 0)
        msg[0] = '\0';
    /* stat first: Windows cannot open a directory with fopen, and would say only EACCES. */
    if (stat(path, &st) != 0) {
        snprintf(msg, msg_cap, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        snprintf(msg, msg_cap, "%s: is a directory, not a key file", path);
        return -1;
    }
    f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(msg, msg_cap, "%s: %s", path, strerror(errno));
        return -1;
    }
#ifndef _WIN32
    /* Checked on the file opened (a rename between stat and fopen cannot hide it). */
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077) != 0) {
        snprintf(msg, msg_cap, "warning: %s is readable by others (chmod 600 it)", path);
        rc = 1;
    }
#endif
    n = fread(buf, 1, sizeof buf, f);
    bad = ferror(f);
    fclose(f);
    if (bad) {
        snprintf(msg, msg_cap, "%s: read error", path);
        rc = -1;
    } else if (n > KEY_FILE_MAX || parse_key(buf, n, key) != 0) {
        snprintf(msg, msg_cap, "%s: expected 32 raw bytes or 64 hex digits", path);
        rc = -1;
    }
    chat_key_wipe(buf, sizeof buf);
    return rc;
}
