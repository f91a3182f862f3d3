/* Error codes: every code in the X-macro tables has its own name and a message; unknown codes
 * get non-NULL fallbacks; codes from the system keep their errno value. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <netlab.h>

/* Every code the library defines, with the name it must report, built from the same tables
 * the library uses so a code added there is tested here without editing this file. */
struct code {
    int value;
    const char *name;
    int is_errno; /* 1 when it mirrors a system errno */
    int sys;      /* that errno, else 0 */
};

static const struct code codes[] = {
#define ERRNO_ROW(name, msg) {NL_##name, "NL_" #name, 1, name},
    NL_ERRNO_MAP(ERRNO_ROW)
#undef ERRNO_ROW
#define OWN_ROW(name, value, msg) {NL_##name, "NL_" #name, 0, 0},
        NL_OWN_ERR_MAP(OWN_ROW)
#undef OWN_ROW
};
#define NCODES (sizeof codes / sizeof codes[0])

static void every_code_has_name_and_message(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCODES; i++) {
        const char *name = nl_err_name(codes[i].value);
        const char *msg = nl_strerror(codes[i].value);

        assert_true(codes[i].value < 0);
        assert_non_null(name);
        assert_string_equal(name, codes[i].name);
        assert_non_null(msg);
        assert_true(strlen(msg) > 0);
        assert_string_not_equal(msg, "unknown error");
        assert_string_not_equal(msg, "success");
    }
}

static void codes_are_distinct(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCODES; i++)
        for (size_t j = i + 1; j < NCODES; j++) {
            assert_int_not_equal(codes[i].value, codes[j].value);
            assert_string_not_equal(codes[i].name, codes[j].name);
        }
}

static void errno_values_are_preserved(void **state)
{
    (void)state;
    /* The named examples of the issue, spelled out, then the whole table. */
    assert_int_equal(NL_ECONNREFUSED, -ECONNREFUSED);
    assert_int_equal(NL_EPIPE, -EPIPE);
    assert_int_equal(NL_ECONNRESET, -ECONNRESET);
    assert_int_equal(NL_EAGAIN, -EAGAIN);
    assert_int_equal(NL_EMFILE, -EMFILE);
    assert_int_equal(NL_ETIMEDOUT, -ETIMEDOUT);
    assert_int_equal(NL_EINVAL, -EINVAL);
    for (size_t i = 0; i < NCODES; i++) {
        if (codes[i].is_errno) {
            assert_int_equal(codes[i].value, -codes[i].sys);
        }
    }
}

/* The library's own codes must never be mistaken for an errno (Linux's go up to ~133). */
static void own_codes_live_outside_errno_range(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCODES; i++)
        if (!codes[i].is_errno)
            assert_true(codes[i].value <= -3000);
    assert_true(NL_EOF <= -3000);
    assert_true(NL_ETRUNC <= -3000);
}

static void success_has_its_own_text(void **state)
{
    (void)state;
    assert_string_equal(nl_strerror(0), "success");
    assert_string_equal(nl_err_name(0), "NL_SUCCESS");
    assert_int_equal(NL_SUCCESS, 0);
}

static void unknown_codes_give_fallbacks(void **state)
{
    static const int unknown[] = {1, 5, 4095, -1000, -2999, -4096, -ENOTDIR, INT_MIN, INT_MAX};

    (void)state;
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *msg = nl_strerror(unknown[i]);
        const char *name = nl_err_name(unknown[i]);
        assert_non_null(msg);
        assert_non_null(name);
        assert_string_equal(msg, "unknown error");
        assert_string_equal(name, "NL_UNKNOWN");
    }
}

/* Resolver failures get their own messages, so "no such host" is never a vague EINVAL. */
static void resolver_codes_say_resolver(void **state)
{
    static const int eai[] = {NL_EAI_NONAME,  NL_EAI_AGAIN,  NL_EAI_FAIL,
                              NL_EAI_FAMILY,  NL_EAI_NODATA, NL_EAI_MEMORY,
                              NL_EAI_SERVICE, NL_EAI_SYSTEM, NL_EAI_OTHER};

    (void)state;
    for (size_t i = 0; i < sizeof eai / sizeof eai[0]; i++) {
        assert_non_null(strstr(nl_strerror(eai[i]), "resolver"));
        assert_memory_equal(nl_err_name(eai[i]), "NL_EAI_", 7);
    }
}

static void version_matches_header(void **state)
{
    (void)state;
    assert_non_null(nl_version());
    assert_string_equal(nl_version(), NL_VERSION_STRING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_code_has_name_and_message),
        cmocka_unit_test(codes_are_distinct),
        cmocka_unit_test(errno_values_are_preserved),
        cmocka_unit_test(own_codes_live_outside_errno_range),
        cmocka_unit_test(success_has_its_own_text),
        cmocka_unit_test(unknown_codes_give_fallbacks),
        cmocka_unit_test(resolver_codes_say_resolver),
        cmocka_unit_test(version_matches_header),
    };

    return cmocka_run_group_tests_name("error", tests, NULL, NULL);
}
