/*
 * test_util.c - bounded number, duration and time parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/util.h"

static void
test_durations(void **state)
{
    int64_t ms;

    (void)state;
    assert_int_equal(sc_parse_duration_ms("30s", &ms), 0);
    assert_int_equal(ms, 30000);
    assert_int_equal(sc_parse_duration_ms("15m", &ms), 0);
    assert_int_equal(ms, 900000);
    assert_int_equal(sc_parse_duration_ms("4h", &ms), 0);
    assert_int_equal(ms, 14400000);
    assert_int_equal(sc_parse_duration_ms("7d", &ms), 0);
    assert_int_equal(ms, 604800000);
    assert_int_equal(sc_parse_duration_ms("250ms", &ms), 0);
    assert_int_equal(ms, 250);
    static const char *bad[] = {
        "", "s", "7", "-1s", "1.5h", "7 d", "7D", "1w", "99999999999999d", "1s ", " 1s"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(sc_parse_duration_ms(bad[i], &ms), -1);
}

static void
test_rfc3339(void **state)
{
    int64_t ms;
    char buf[40];

    (void)state;
    assert_int_equal(sc_parse_rfc3339_ms("2026-11-23T13:30:15Z", &ms), 0);
    assert_int_equal(ms, 1795440615000LL);
    assert_int_equal(sc_parse_rfc3339_ms("2026-11-23T14:30:15.5+01:00", &ms), 0);
    assert_int_equal(ms, 1795440615500LL);
    sc_format_time_ms(1795440615500LL, buf, sizeof(buf));
    assert_string_equal(buf, "2026-11-23T13:30:15.500Z");
    static const char *bad[] = {"2026-11-23",
                                "2026-11-23T13:30:15",
                                "2026-13-01T00:00:00Z",
                                "2026-11-23T25:00:00Z",
                                "2026-11-23T13:30:15Zjunk",
                                "2026-11-23T13:30:15+0100",
                                "yesterday"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(sc_parse_rfc3339_ms(bad[i], &ms), -1);
}

static void
test_numbers(void **state)
{
    int64_t v;
    char b[4];

    (void)state;
    assert_int_equal(sc_parse_i64("42", 0, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(sc_parse_i64("101", 0, 100, &v), -1);
    assert_int_equal(sc_parse_i64("4x", 0, 100, &v), -1);
    assert_int_equal(sc_parse_i64(" 4", 0, 100, &v), -1);
    assert_int_equal(sc_parse_i64("", 0, 100, &v), -1);
    assert_int_equal(sc_parse_i64("99999999999999999999", 0, INT64_MAX, &v), -1);
    assert_int_equal(sc_strlcpy(b, "abcdef", sizeof(b)), 6);
    assert_string_equal(b, "abc");
}

/* sc_fmt_i64 against printf, at the edges of int64. */
static void
test_fmt_i64(void **state)
{
    const int64_t v[] = {0,         1,         -1,           9, 10, -10, 1234567890123LL,
                         INT64_MAX, INT64_MIN, INT64_MIN + 1};
    char got[24], want[24];

    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        snprintf(want, sizeof(want), "%lld", (long long)v[i]);
        assert_string_equal(sc_fmt_i64(got, v[i]), want);
    }
}

/* sc_put_u64 against printf at every digit count and its edges (9, 10,
 * 99, 100, ...: where the two-digit steps and the odd leading digit meet),
 * and that it writes exactly the digits, nothing past its returned end. */
static void
test_put_u64(void **state)
{
    char got[32], want[32];
    uint64_t p = 1;

    (void)state;
    for (int d = 0; d < 20; d++, p *= 10) {
        const uint64_t v[] = {p - 1, p, p + 1, p * 2 - 1, p * 5 + 7};
        for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
            memset(got, 'x', sizeof(got));
            char *end = sc_put_u64(got, v[i]);
            int n = snprintf(want, sizeof(want), "%llu", (unsigned long long)v[i]);
            assert_int_equal(end - got, n);
            assert_memory_equal(got, want, (size_t)n);
            assert_int_equal(got[n], 'x');
        }
    }
    assert_int_equal(sc_put_u64(got, UINT64_MAX) - got, 20);
    assert_memory_equal(got, "18446744073709551615", 20);
}

/* sc_cat: whole, cut at every capacity (always NUL-terminated, a prefix of
 * the whole), and its return value is the whole length, as strlcpy's. */
static void
test_cat(void **state)
{
    const char *whole = "Authorization: Bearer re_x";
    char buf[64];

    (void)state;
    assert_int_equal(sc_cat(buf, sizeof(buf), "Authorization", ": ", "Bearer ", "re_x", NULL),
                     strlen(whole));
    assert_string_equal(buf, whole);
    for (size_t cap = 1; cap <= strlen(whole) + 1; cap++) {
        memset(buf, 'Z', sizeof(buf));
        assert_int_equal(sc_cat(buf, cap, "Authorization", ": ", "Bearer ", "re_x", NULL),
                         strlen(whole));
        assert_int_equal(strlen(buf), cap - 1);
        assert_memory_equal(buf, whole, cap - 1);
        assert_int_equal(buf[cap], 'Z'); /* nothing written past cap */
    }
    assert_int_equal(sc_cat(buf, sizeof(buf), NULL), 0);
    assert_string_equal(buf, "");
    assert_int_equal(sc_cat(buf, sizeof(buf), "", "a", "", NULL), 1);
    assert_string_equal(buf, "a");
}

/* sc_tv_ms: whole seconds, the millisecond remainder as microseconds,
 * and a negative time as zero (a timer that fires at once). */
static void
test_tv_ms(void **state)
{
    static const struct {
        int64_t ms;
        long sec, usec;
    } cases[] = {{0, 0, 0},        {1, 0, 1000},
                 {999, 0, 999000}, {1000, 1, 0},
                 {1001, 1, 1000},  {30000, 30, 0},
                 {-1, 0, 0},       {-5000, 0, 0},
                 {250, 0, 250000}, {86400123, 86400, 123000}};

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct timeval tv = sc_tv_ms(cases[i].ms);

        assert_int_equal(tv.tv_sec, cases[i].sec);
        assert_int_equal(tv.tv_usec, cases[i].usec);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations), cmocka_unit_test(test_rfc3339),
        cmocka_unit_test(test_numbers),   cmocka_unit_test(test_fmt_i64),
        cmocka_unit_test(test_put_u64),   cmocka_unit_test(test_cat),
        cmocka_unit_test(test_tv_ms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
