/*
 * test_util.c - bounded number, duration and time parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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
    static const char *bad[] = {"", "s", "7", "-1s", "1.5h", "7 d", "7D", "1w", "99999999999999d",
                                "1s ", " 1s"};
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
    static const char *bad[] = {"2026-11-23", "2026-11-23T13:30:15", "2026-13-01T00:00:00Z",
                                "2026-11-23T25:00:00Z", "2026-11-23T13:30:15Zjunk",
                                "2026-11-23T13:30:15+0100", "yesterday"};
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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_rfc3339),
        cmocka_unit_test(test_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
