/*
 * test_chart.c - the usage chart (cli/chart.c) from known counts: every
 * rendered line compared, in Unicode and in ASCII, at several widths; no
 * line wider than the width when a bar is drawn; the sparkline's levels;
 * and the locale rule for ASCII.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The chart is part of the sendcap program, not of a library: built here
 * from its source. */
#include "cli/chart.c"

static const struct cli_chart_row three[] = {
    {"13:00", 8, 1, 1, 0},
    {"14:00", 3, 0, 0, 2},
    {"15:00", 0, 12, 0, 0},
};
static const struct cli_chart_row wide[] = {
    {"a", 1000, 0, 0, 0},
    {"b", 1, 0, 0, 0},
};

static const struct {
    const struct cli_chart_row *rows;
    size_t n;
    int width, ascii;
    const char *want;
} cases[] = {
    /* columns take 35: 3 cells of bar at width 40; 8 of 8 fill them, 3 of 8
     * is 9 eighths: one block and one eighth */
    {three, 3, 40, 0,
     "HOUR   SENT  DENIED  CAPPED  ERRORS\n"
     "13:00     8       1       1       0  \u2588\u2588\u2588\n"
     "14:00     3       0       0       2  \u2588\u258F\n"
     "15:00     0      12       0       0\n"},
    {three, 3, 40, 1,
     "HOUR   SENT  DENIED  CAPPED  ERRORS\n"
     "13:00     8       1       1       0  ###\n"
     "14:00     3       0       0       2  #\n"
     "15:00     0      12       0       0\n"},
    /* no room for a bar: the columns alone */
    {three, 3, 30, 0,
     "HOUR   SENT  DENIED  CAPPED  ERRORS\n"
     "13:00     8       1       1       0\n"
     "14:00     3       0       0       2\n"
     "15:00     0      12       0       0\n"},
    /* 1 of 1000 still shows the smallest mark */
    {wide, 2, 46, 0,
     "HOUR  SENT  DENIED  CAPPED  ERRORS\n"
     "a     1000       0       0       0  "
     "\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588\n"
     "b        1       0       0       0  \u258F\n"},
    {wide, 2, 46, 1,
     "HOUR  SENT  DENIED  CAPPED  ERRORS\n"
     "a     1000       0       0       0  ##########\n"
     "b        1       0       0       0  #\n"},
};

/* Display width of a UTF-8 line: characters, one column each here. */
static size_t
columns(const char *s, size_t n)
{
    size_t w = 0;

    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            w++;
    return w;
}

static void
render_cases(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        char *got =
            cli_chart_render(cases[c].rows, cases[c].n, "HOUR", cases[c].width, cases[c].ascii);
        const char *g = got, *w = cases[c].want;
        int line = 1;
        int bars = strstr(cases[c].want, "  #") != NULL || strstr(cases[c].want, "\u258F") != NULL;

        assert_non_null(got);
        /* line by line, so a failure names the line */
        while (*g || *w) {
            size_t gl = strcspn(g, "\n"), wl = strcspn(w, "\n");
            if (gl != wl || memcmp(g, w, gl) != 0)
                fail_msg("case %zu line %d:\n got  '%.*s'\n want '%.*s'", c, line, (int)gl, g,
                         (int)wl, w);
            /* a table without bars may pass a narrow width; with them, never */
            if (bars && columns(g, gl) > (size_t)cases[c].width)
                fail_msg("case %zu line %d is %zu columns, wider than %d", c, line, columns(g, gl),
                         cases[c].width);
            g += gl + (g[gl] == '\n');
            w += wl + (w[wl] == '\n');
            line++;
        }
        free(got);
    }
}

static void
bars_fill_the_width(void **state)
{
    (void)state;
    /* at any width the largest bar ends exactly at the last column */
    for (int width = 38; width <= 120; width++) {
        char *got = cli_chart_render(three, 3, "HOUR", width, 0);
        const char *l2 = strchr(got, '\n') + 1;
        assert_int_equal(columns(l2, strcspn(l2, "\n")), (size_t)width);
        free(got);
    }
}

static void
sparkline_levels(void **state)
{
    static const long long v[] = {0, 1, 2, 3, 4, 5, 8};
    char *u, *a;

    (void)state;
    u = cli_chart_sparkline(v, 7, 0);
    a = cli_chart_sparkline(v, 7, 1);
    assert_string_equal(u, " \u2581\u2582\u2583\u2584\u2585\u2588");
    assert_string_equal(a, " .:-=+@");
    free(u);
    free(a);
    /* all zero: blanks, no division by zero */
    {
        static const long long z[3] = {0, 0, 0};
        char *s = cli_chart_sparkline(z, 3, 0);
        assert_string_equal(s, "   ");
        free(s);
    }
    /* 1 of 1000 rounds up to the lowest mark */
    {
        static const long long t[2] = {1, 1000};
        char *s = cli_chart_sparkline(t, 2, 1);
        assert_string_equal(s, ".@");
        free(s);
    }
}

static void
ascii_by_locale(void **state)
{
    (void)state;
    assert_int_equal(cli_chart_need_ascii(NULL, NULL, "en_US.UTF-8"), 0);
    assert_int_equal(cli_chart_need_ascii(NULL, NULL, "C.utf8"), 0);
    assert_int_equal(cli_chart_need_ascii(NULL, NULL, "C"), 1);
    assert_int_equal(cli_chart_need_ascii(NULL, NULL, NULL), 1);
    assert_int_equal(cli_chart_need_ascii("C", NULL, "en_US.UTF-8"), 1); /* LC_ALL wins */
    assert_int_equal(cli_chart_need_ascii("", "de_DE.UTF-8", "C"), 0);   /* empty is unset */
    assert_int_equal(cli_chart_need_ascii(NULL, "POSIX", "en_US.UTF-8"), 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(render_cases),
        cmocka_unit_test(bars_fill_the_width),
        cmocka_unit_test(sparkline_levels),
        cmocka_unit_test(ascii_by_locale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
