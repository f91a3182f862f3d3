/* netlab-chat's console line editor and UTF-16 <-> UTF-8 conversion (examples/chat_line.c), and
 * the buffer form of its safe text (examples/chat_text.c): the pure parts of the Windows
 * console input, run natively and under wine (a console cannot be driven there). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "chat_line.h"
#include "chat_text.h"

static int feed_all(chat_line *l, const uint16_t *u, size_t n)
{
    int last = CHAT_LINE_NONE;

    for (size_t i = 0; i < n; i++)
        last = chat_line_feed(l, u[i]);
    return last;
}

/* Printable characters, Chinese (BMP) and an emoji (a surrogate pair) become UTF-8. */
static void test_line_typing(void **state)
{
    /* "a中" U+1F600 "b" */
    const uint16_t keys[] = {'a', 0x4e2d, 0xd83d, 0xde00, 'b'};
    chat_line l;
    char out[64];

    (void)state;
    chat_line_init(&l, 0);
    assert_int_equal(chat_line_feed(&l, keys[0]), CHAT_LINE_CHANGED);
    assert_int_equal(chat_line_feed(&l, keys[1]), CHAT_LINE_CHANGED);
    assert_int_equal(chat_line_feed(&l, keys[2]), CHAT_LINE_NONE); /* half a pair: nothing yet */
    assert_int_equal(chat_line_feed(&l, keys[3]), CHAT_LINE_CHANGED);
    assert_int_equal(chat_line_feed(&l, keys[4]), CHAT_LINE_CHANGED);
    assert_string_equal(l.text, "a\xe4\xb8\xad\xf0\x9f\x98\x80"
                                "b");
    assert_int_equal(chat_line_feed(&l, 13), CHAT_LINE_ENTER);
    assert_int_equal(chat_line_take(&l, out, sizeof out), 9);
    assert_string_equal(out, "a\xe4\xb8\xad\xf0\x9f\x98\x80"
                             "b");
    assert_int_equal(l.len, 0); /* taken: empty again */
}

/* Backspace takes whole characters off, a 4-byte one included; on an empty line it does
 * nothing. Ctrl-U clears. */
static void test_line_backspace(void **state)
{
    const uint16_t keys[] = {'x', 0x4e2d, 0xd83d, 0xde00};
    chat_line l;

    (void)state;
    chat_line_init(&l, 0);
    feed_all(&l, keys, 4);
    assert_int_equal(chat_line_feed(&l, 8), CHAT_LINE_CHANGED);
    assert_string_equal(l.text, "x\xe4\xb8\xad");
    assert_int_equal(chat_line_feed(&l, 8), CHAT_LINE_CHANGED);
    assert_string_equal(l.text, "x");
    assert_int_equal(chat_line_feed(&l, 0x7f), CHAT_LINE_CHANGED);
    assert_string_equal(l.text, "");
    assert_int_equal(chat_line_feed(&l, 8), CHAT_LINE_NONE);
    feed_all(&l, keys, 2);
    assert_int_equal(chat_line_feed(&l, 21), CHAT_LINE_CHANGED);
    assert_int_equal(l.len, 0);
}

/* Ctrl-D and Ctrl-Z end the input on an empty line only; Ctrl-C interrupts anywhere. */
static void test_line_control_keys(void **state)
{
    chat_line l;

    (void)state;
    chat_line_init(&l, 0);
    assert_int_equal(chat_line_feed(&l, 4), CHAT_LINE_EOF);
    assert_int_equal(chat_line_feed(&l, 26), CHAT_LINE_EOF);
    chat_line_feed(&l, 'a');
    assert_int_equal(chat_line_feed(&l, 4), CHAT_LINE_NONE);
    assert_int_equal(chat_line_feed(&l, 26), CHAT_LINE_NONE);
    assert_string_equal(l.text, "a");
    assert_int_equal(chat_line_feed(&l, 3), CHAT_LINE_INTERRUPT);
    /* Other controls (ESC, BEL, C1) never enter the line; a tab is a space. */
    assert_int_equal(chat_line_feed(&l, 0x1b), CHAT_LINE_NONE);
    assert_int_equal(chat_line_feed(&l, 7), CHAT_LINE_NONE);
    assert_int_equal(chat_line_feed(&l, 0x85), CHAT_LINE_NONE);
    assert_int_equal(chat_line_feed(&l, '\t'), CHAT_LINE_CHANGED);
    assert_string_equal(l.text, "a ");
    assert_int_equal(chat_line_feed(&l, 10), CHAT_LINE_ENTER);
}

/* Lone surrogates: a low half alone, a high half followed by a non-surrogate or by another
 * high half, become U+FFFD and the unit that follows still counts. */
static void test_line_lone_surrogates(void **state)
{
    chat_line l;

    (void)state;
    chat_line_init(&l, 0);
    assert_int_equal(chat_line_feed(&l, 0xdc00), CHAT_LINE_CHANGED);
    assert_int_equal(chat_line_feed(&l, 0xd800), CHAT_LINE_NONE);
    assert_int_equal(chat_line_feed(&l, 'z'), CHAT_LINE_CHANGED);
    assert_int_equal(chat_line_feed(&l, 0xd800), CHAT_LINE_NONE);
    assert_int_equal(chat_line_feed(&l, 0xd801), CHAT_LINE_CHANGED); /* the first: U+FFFD */
    assert_int_equal(chat_line_feed(&l, 13), CHAT_LINE_ENTER);       /* the second, too */
    assert_string_equal(l.text, "\xef\xbf\xbd\xef\xbf\xbdz\xef\xbf\xbd\xef\xbf\xbd");
}

/* A full line refuses characters that do not fit whole, and counts them. */
static void test_line_full(void **state)
{
    chat_line l;
    char out[4];

    (void)state;
    chat_line_init(&l, 4);
    assert_int_equal(chat_line_feed(&l, 'a'), CHAT_LINE_CHANGED);
    assert_int_equal(chat_line_feed(&l, 0x4e2d), CHAT_LINE_CHANGED); /* 4 bytes now */
    assert_int_equal(chat_line_feed(&l, 'b'), CHAT_LINE_FULL);
    assert_int_equal(chat_line_feed(&l, 8), CHAT_LINE_CHANGED);
    assert_int_equal(chat_line_feed(&l, 0xd83d), CHAT_LINE_NONE);
    assert_int_equal(chat_line_feed(&l, 0xde00), CHAT_LINE_FULL); /* 1 + 4 > 4 */
    assert_int_equal(l.dropped, 2);
    assert_string_equal(l.text, "a");
    chat_line_feed(&l, 0x4e2d);
    /* take into a small buffer: cut before the Chinese character, not inside it */
    assert_int_equal(chat_line_take(&l, out, 3), 4);
    assert_string_equal(out, "a");
    chat_line_init(&l, 100000);
    assert_int_equal(l.max, CHAT_LINE_CAP);
}

/* A console line holds a whole message: 10,000 Chinese characters typed or pasted (30,000
 * bytes) fit, as they do in libedit on POSIX; the console line once stopped at 4,096 bytes
 * and dropped the rest of a paste. */
static void test_line_holds_a_message(void **state)
{
    static chat_line l;
    static char out[CHAT_LINE_CAP + 1];

    (void)state;
    chat_line_init(&l, 65450);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(chat_line_feed(&l, 0x4e2d), CHAT_LINE_CHANGED);
    assert_int_equal(l.dropped, 0);
    assert_int_equal(chat_line_feed(&l, '\r'), CHAT_LINE_ENTER);
    assert_int_equal(chat_line_take(&l, out, sizeof out), 30000);
    assert_int_equal(strlen(out), 30000);
}

static void test_utf16_to_utf8(void **state)
{
    /* "中文" U+1F600, a lone high half at the end */
    const uint16_t in[] = {0x4e2d, 0x6587, 0xd83d, 0xde00, 'A', 0xdc01, 'B', 0xd83d};
    char out[64];
    size_t n;

    (void)state;
    n = chat_utf16_to_utf8(in, 8, out, sizeof out);
    assert_int_equal(n, 3 + 3 + 4 + 1 + 3 + 1 + 3);
    assert_memory_equal(out,
                        "\xe4\xb8\xad\xe6\x96\x87\xf0\x9f\x98\x80"
                        "A\xef\xbf\xbd"
                        "B\xef\xbf\xbd",
                        n);
    /* No room for the pair: stops before it, never writes half. */
    assert_int_equal(chat_utf16_to_utf8(in, 8, out, 9), 6);
    assert_int_equal(chat_utf16_to_utf8(in, 0, out, sizeof out), 0);
}

static void test_utf8_to_utf16(void **state)
{
    /* "中" U+1F600, a stray continuation byte, an overlong '/', a truncated sequence */
    const char in[] = "\xe4\xb8\xad\xf0\x9f\x98\x80\x80\xc0\xaf"
                      "x\xe4\xb8";
    uint16_t out[32];
    const uint16_t want[] = {0x4e2d, 0xd83d, 0xde00, 0xfffd, 0xfffd, 0xfffd, 'x', 0xfffd, 0xfffd};
    size_t n;

    (void)state;
    n = chat_utf8_to_utf16(in, sizeof in - 1, out, 32);
    assert_int_equal(n, sizeof want / sizeof want[0]);
    assert_memory_equal(out, want, sizeof want);
    assert_int_equal(chat_utf8_to_utf16(in, sizeof in - 1, out, 2), 1); /* not half a pair */
    /* Round trip of Chinese text. */
    {
        const char zh[] = "你好，世界";
        char back[32];

        n = chat_utf8_to_utf16(zh, strlen(zh), out, 32);
        assert_int_equal(n, 5);
        assert_int_equal(chat_utf16_to_utf8(out, n, back, sizeof back), strlen(zh));
        assert_memory_equal(back, zh, strlen(zh));
    }
}

/* chat_text_safe: the same placeholders as chat_text_put_safe, whole pieces only. */
static void test_text_safe_buffer(void **state)
{
    const char in[] = "\x1b[2J\xe4\xb8\xad\xc2\x85\xff\t\r";
    char out[64];

    (void)state;
    assert_int_equal(chat_text_safe(out, sizeof out, in, sizeof in - 1), 21);
    assert_string_equal(out, "^[[2J\xe4\xb8\xad<U+0085>\\xFF ");
    /* Room for "^[[2J" but not for the Chinese character and the NUL: cut before it. */
    assert_int_equal(chat_text_safe(out, 8, in, sizeof in - 1), 21);
    assert_string_equal(out, "^[[2J");
    assert_int_equal(chat_text_safe(out, 9, in, sizeof in - 1), 21);
    assert_string_equal(out, "^[[2J\xe4\xb8\xad");
    /* Room for the placeholder's first bytes only: none of it. */
    assert_int_equal(chat_text_safe(out, 12, in, sizeof in - 1), 21);
    assert_string_equal(out, "^[[2J\xe4\xb8\xad");
    assert_int_equal(chat_text_safe(NULL, 0, in, sizeof in - 1), 21);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_typing),       cmocka_unit_test(test_line_backspace),
        cmocka_unit_test(test_line_control_keys), cmocka_unit_test(test_line_lone_surrogates),
        cmocka_unit_test(test_line_full),         cmocka_unit_test(test_line_holds_a_message),
        cmocka_unit_test(test_utf16_to_utf8),
        cmocka_unit_test(test_utf8_to_utf16),     cmocka_unit_test(test_text_safe_buffer),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
