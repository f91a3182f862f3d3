/* chat_io_cat: copies standard input to standard output through netlab-chat's input layer
 * (examples/chat_io.h), byte for byte, until the end of input; says on stderr what kind of
 * input it was and how many bytes. Driven by tests/unit/chat_io_input.sh, natively and under
 * wine, with standard input a file and a pipe. Exit 0, or 1 on a failure. */
#include <stdio.h>

#include "chat_io.h"

#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#include <windows.h>
#endif

int main(void)
{
    static char buf[3000]; /* smaller than a 10,000-byte line: it arrives in pieces */
    unsigned long long total = 0;
    const char *kind = "fd";
    chat_io *io;

#ifdef _WIN32
    DWORD t = GetFileType(GetStdHandle(STD_INPUT_HANDLE));

    kind = t == FILE_TYPE_PIPE ? "pipe" : t == FILE_TYPE_DISK ? "file" : "other";
    _setmode(_fileno(stdout), _O_BINARY);
#endif
    if (chat_io_open(&io, CHAT_IO_STDIN, 1) != 0) {
        perror("chat_io_cat: chat_io_open");
        return 1;
    }
    for (;;) {
        int got = chat_io_wait(io, CHAT_IO_NO_SOCKET, 1, 30000);
        long n;

        if (got < 0 || got == 0 || (got & CHAT_IO_STOP)) {
            fprintf(stderr, "chat_io_cat: wait: %d\n", got);
            chat_io_close(io);
            return 1;
        }
        n = chat_io_read(io, buf, sizeof buf);
        if (n == 0)
            break;
        if (n > 0 && fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) {
            chat_io_close(io);
            return 1;
        }
        if (n > 0)
            total += (unsigned long long)n;
    }
    chat_io_close(io);
    fprintf(stderr, "chat_io_cat: %s input, %llu bytes\n", kind, total);
    return fflush(stdout) == 0 ? 0 : 1;
}
