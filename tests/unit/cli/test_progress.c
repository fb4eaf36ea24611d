/*
 * test_progress.c - the progress line of long call-log reads
 * (cli/progress.c, cli_progress_format): records, rate and time left.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/* Part of the sendcap program, built here from its source. */
#include "cli/progress.c"

static void
lines(void **state)
{
    static const struct {
        long done, total;
        int64_t ms;
        const char *want;
    } c[] = {
        {1000, 50000, 500, "v: 1000 of 50000 records, 2000/s, about 25s left"},
        {1000, 1001, 500, "v: 1000 of 1001 records, 2000/s, about 1s left"}, /* rounded up */
        {50000, 50000, 2000, "v: 50000 of 50000 records, 25000/s, about 0s left"},
        {1000, -1, 250, "v: 1000 records, 4000/s"},    /* total unknown */
        {1200, 1000, 1000, "v: 1200 records, 1200/s"}, /* a log that grew: no ETA */
        {12, 12, 0, "v: 12 of 12 records"},            /* no time yet: no rate */
    };
    char buf[160];

    (void)state;
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        cli_progress_format(buf, sizeof(buf), "v", c[i].done, c[i].total, c[i].ms);
        assert_string_equal(buf, c[i].want);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(lines)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
