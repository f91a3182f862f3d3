/* netlab-chat's --key-file reader (examples/chat_key.c), natively and under wine: raw and hex
 * keys, wrong sizes and contents, a directory, a missing file, and (POSIX) a key file others
 * may read. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "chat_key.h"

#ifdef _WIN32
#include <direct.h>
#include <process.h>
#define make_dir(p) _mkdir(p)
#define rmdir(p)    _rmdir(p)
#define getpid      _getpid
#else
#include <unistd.h>
#define make_dir(p) mkdir(p, 0700)
#endif

static char g_path[64];

/* A key file named for this process in the current directory, holding n bytes of data. */
static const char *key_file(const void *data, size_t n)
{
    FILE *f;

    snprintf(g_path, sizeof g_path, "chat_key_%d.key", (int)getpid());
    f = fopen(g_path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
#ifndef _WIN32
    chmod(g_path, 0600);
#endif
    return g_path;
}

static const char HEX[] = "000102030405060708090a0b0c0d0e0f"
                          "101112131415161718191A1B1C1D1E1F";

static void expect_key_0_to_31(const unsigned char *key)
{
    for (int i = 0; i < CHAT_KEY_BYTES; i++)
        assert_int_equal(key[i], i);
}

static void test_raw_key(void **state)
{
    unsigned char raw[CHAT_KEY_BYTES], key[CHAT_KEY_BYTES];
    char msg[256];

    (void)state;
    for (int i = 0; i < CHAT_KEY_BYTES; i++)
        raw[i] = (unsigned char)i;
    raw[10] = '\n'; /* raw bytes may be anything, white space and NUL included */
    raw[0] = 0;
    assert_int_equal(chat_key_read(key_file(raw, sizeof raw), key, msg, sizeof msg), 0);
    assert_memory_equal(key, raw, sizeof raw);
    assert_string_equal(msg, "");
    remove(g_path);
}

static void test_hex_key(void **state)
{
    unsigned char key[CHAT_KEY_BYTES];
    char text[200], msg[256];

    (void)state;
    assert_int_equal(chat_key_read(key_file(HEX, 64), key, msg, sizeof msg), 0);
    expect_key_0_to_31(key);
    snprintf(text, sizeof text, "%s\n", HEX);
    assert_int_equal(chat_key_read(key_file(text, strlen(text)), key, msg, sizeof msg), 0);
    expect_key_0_to_31(key);
    snprintf(text, sizeof text, "  %.32s\r\n\t%s\r\n", HEX, HEX + 32); /* Windows line ends */
    assert_int_equal(chat_key_read(key_file(text, strlen(text)), key, msg, sizeof msg), 0);
    expect_key_0_to_31(key);
    remove(g_path);
}

static void expect_refused(const void *data, size_t n, const char *why)
{
    unsigned char key[CHAT_KEY_BYTES];
    char msg[256];

    memset(key, 0xaa, sizeof key);
    assert_int_equal(chat_key_read(key_file(data, n), key, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, g_path));
    assert_non_null(strstr(msg, why));
    for (int i = 0; i < CHAT_KEY_BYTES; i++)
        assert_int_equal(key[i], 0xaa); /* untouched */
    remove(g_path);
}

static void test_wrong_keys(void **state)
{
    char big[400];
    const char *want = "expected 32 raw bytes or 64 hex digits";

    (void)state;
    expect_refused("", 0, want);
    expect_refused(HEX, 31, want); /* 31 bytes */
    expect_refused(HEX, 33, want); /* 33 bytes, hex digits but odd */
    expect_refused(HEX, 62, want); /* 62 hex digits */
    expect_refused("00"
                   "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20",
                   66, want); /* 66 hex digits */
    expect_refused("zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 64,
                   want); /* not hex */
    /* 64 hex digits, then more than a key file holds: refused whole, not read in part. */
    memcpy(big, HEX, 64);
    memset(big + 64, ' ', sizeof big - 65);
    big[sizeof big - 1] = 'x';
    expect_refused(big, sizeof big, want);
}

static void test_not_a_file(void **state)
{
    unsigned char key[CHAT_KEY_BYTES];
    char dir[64], msg[256];

    (void)state;
    snprintf(dir, sizeof dir, "chat_key_dir_%d", (int)getpid());
    assert_int_equal(make_dir(dir), 0);
    assert_int_equal(chat_key_read(dir, key, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "is a directory"));
    rmdir(dir);
    assert_int_equal(chat_key_read("no-such-dir/no.key", key, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "no-such-dir/no.key: "));
    assert_non_null(strstr(msg, strerror(ENOENT)));
    /* A short message buffer: cut, NUL-terminated. */
    assert_int_equal(chat_key_read("no-such-dir/no.key", key, msg, 5), -1);
    assert_string_equal(msg, "no-s");
}

#ifndef _WIN32
/* A key others may read is used, with the warning netlab-chat always gave. */
static void test_readable_by_others(void **state)
{
    unsigned char key[CHAT_KEY_BYTES];
    char msg[256];

    (void)state;
    key_file(HEX, 64);
    chmod(g_path, 0640);
    assert_int_equal(chat_key_read(g_path, key, msg, sizeof msg), 1);
    expect_key_0_to_31(key);
    assert_non_null(strstr(msg, "warning: "));
    assert_non_null(strstr(msg, "is readable by others (chmod 600 it)"));
    chmod(g_path, 0604);
    assert_int_equal(chat_key_read(g_path, key, msg, sizeof msg), 1);
    chmod(g_path, 0600);
    assert_int_equal(chat_key_read(g_path, key, msg, sizeof msg), 0);
    assert_string_equal(msg, "");
    remove(g_path);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw_key),
        cmocka_unit_test(test_hex_key),
        cmocka_unit_test(test_wrong_keys),
        cmocka_unit_test(test_not_a_file),
#ifndef _WIN32
        cmocka_unit_test(test_readable_by_others),
#endif
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
