/* chat_io_peer: the Windows pieces of netlab-chat working together before netlab-chat uses
 * them: a keyed chat (chat_key_read) whose loop waits with chat_io_wait on the session's socket
 * and standard input, sends each input line, prints each message made safe (chat_text_safe,
 * chat_io_print), and leaves at the end of input. Driven against a Linux netlab-chat by
 * tests/windows/chat_io_keyed.sh.
 *   chat_io_peer KEY_FILE PEER     exit 0: the chat ended in agreement with all the input
 *                                  sent; 1 otherwise */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netlab.h>

#include "chat_io.h"
#include "chat_key.h"
#include "chat_text.h"

static char g_in[64 * 1024];
static size_t g_len;
static unsigned long g_unsent; /* lines the session refused (the peer had left) */

/* Sends the complete lines in g_in (all of it at the end of input), CRs at line ends dropped. */
static void send_lines(nl_chat_session *s, int eof)
{
    char *nl;

    while ((nl = memchr(g_in, '\n', g_len)) != NULL || (eof && g_len > 0)) {
        size_t len = nl != NULL ? (size_t)(nl - g_in) : g_len, used = len + (nl != NULL);

        if (len > 0 && g_in[len - 1] == '\r')
            len--;
        if (nl_chat_session_send(s, g_in, len) < 0) {
            fprintf(stderr, "chat_io_peer: a line was not sent\n");
            g_unsent++;
        }
        memmove(g_in, g_in + used, g_len - used);
        g_len -= used;
    }
}

static void show(chat_io *io, const nl_chat_event *ev)
{
    size_t cap = 4 * ev->len + 16;
    char *line = malloc(cap);

    if (line == NULL)
        return;
    memcpy(line, "peer: ", 6);
    chat_text_safe(line + 6, cap - 6, ev->data, ev->len);
    chat_io_print(io, line, strlen(line));
    free(line);
}

int main(int argc, char **argv)
{
    unsigned char key[CHAT_KEY_BYTES];
    char msg[512];
    nl_chat_opts o;
    nl_chat_session *s;
    chat_io *io;
    int eof = 0, left = 0, status = -1, rc;

    if (argc != 3) {
        fprintf(stderr, "usage: chat_io_peer KEY_FILE PEER\n");
        return 2;
    }
    rc = chat_key_read(argv[1], key, msg, sizeof msg);
    if (rc != 0)
        fprintf(stderr, "chat_io_peer: %s\n", msg);
    if (rc < 0)
        return 1;
    memset(&o, 0, sizeof o);
    o.mode = NL_CHAT_RELIABLE;
    o.key = key;
    o.name = "wine";
    if (nl_endpoint_parse(&o.bind, "127.0.0.1:0", 0) != 0 ||
        nl_endpoint_parse(&o.peer, argv[2], 0) != 0 || nl_chat_session_open(&s, &o) != 0) {
        fprintf(stderr, "chat_io_peer: cannot start\n");
        return 1;
    }
    memset(key, 0, sizeof key);
    if (chat_io_open(&io, CHAT_IO_STDIN, 1) != 0) {
        nl_chat_session_close(s);
        return 1;
    }
    while (status < 0) {
        nl_chat_event ev[16];
        int got = chat_io_wait(io, nl_chat_session_fd(s), !eof, nl_chat_session_next_timeout_ms(s));
        int n;

        if (got < 0)
            break;
        if ((got & CHAT_IO_STOP) && !left) {
            chat_io_stop_reason(io);
            nl_chat_session_leave(s);
            left = 1;
        }
        if (got & CHAT_IO_INPUT) {
            long k = chat_io_read(io, g_in + g_len, sizeof g_in - g_len);

            if (k == 0)
                eof = 1;
            else if (k > 0)
                g_len += (size_t)k;
            send_lines(s, eof || g_len == sizeof g_in);
            if (eof && !left) {
                nl_chat_session_leave(s);
                left = 1;
            }
        }
        n = nl_chat_session_step(s, ev, 16, 0);
        for (int i = 0; i < n; i++) {
            if (ev[i].type == NL_CHAT_EV_MESSAGE)
                show(io, &ev[i]);
            else if (ev[i].type == NL_CHAT_EV_PEER_JOINED)
                fprintf(stderr, "chat_io_peer: joined\n");
            else if (ev[i].type == NL_CHAT_EV_CLOSED)
                status = ev[i].code;
        }
        if (n < 0)
            break;
    }
    chat_io_close(io);
    nl_chat_session_close(s);
    fprintf(stderr, "chat_io_peer: closed, status %d\n", status);
    if (!eof || g_len > 0 || g_unsent > 0) {
        /* The peer left before all our input was read (netlab-chat's exit 4): said, not
         * hidden. */
        fprintf(stderr, "chat_io_peer: the chat ended before all the input was sent\n");
        return 1;
    }
    return status == 0 ? 0 : 1;
}
