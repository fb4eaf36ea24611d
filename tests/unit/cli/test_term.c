/*
 * test_term.c - cli_term_text (cli/term.c): what `approval show` prints of
 * an agent's text.  Every control a terminal acts on comes out as an
 * escape, printable text (UTF-8 included) unchanged; line breaks kept only
 * in a body, each followed by its prefix.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Part of the sendcap program, not of a library: built here from source. */
#include "cli/term.c"

static const struct {
    const char *in, *nl, *want;
} cases[] = {
    {"plain text", NULL, "plain text"},
    {"", NULL, ""},
    {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", NULL,
     "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
    /* CSI, OSC 52 (clipboard) ended by BEL, DEL, CR */
    {"a\x1b[8mb", NULL, "a\\x1b[8mb"},
    {"\x1b]52;c;ZXZpbA==\x07", NULL, "\\x1b]52;c;ZXZpbA==\\x07"},
    {"x\x7fy\rz", NULL, "x\\x7fy\\x0dz"},
    /* one line: a line break or tab is shown */
    {"Invoice\nto  boss", NULL, "Invoice\\x0ato  boss"},
    {"a\tb", NULL, "a\\x09b"},
    /* a body: kept, each break followed by the prefix */
    {"l1\nl2\n", "| ", "l1\n| l2\n| "},
    {"a\tb\x1b", "| ", "a\tb\\x1b"},
    /* C1 controls as UTF-8 (U+009B is CSI), the bidi controls */
    {"\xc2\x9b"
     "31m",
     NULL, "\\u009b31m"},
    {"\xc2\x80\xc2\x9f\xc2\xa0", NULL, "\\u0080\\u009f\xc2\xa0"},
    {"\xe2\x80\xae"
     "dlrow",
     NULL, "\\u202edlrow"},
    {"\xe2\x80\xaa\xe2\x81\xa6\xe2\x81\xa9\xe2\x80\xa9", NULL, "\\u202a\\u2066\\u2069\xe2\x80\xa9"},
    /* bytes that start no UTF-8 character: a raw C1 byte, a cut sequence */
    {"\x9b"
     "31m",
     NULL, "\\x9b31m"},
    {"\xe2\x80", NULL, "\\xe2\\x80"},
    {"\xc0\x9b", NULL, "\\xc0\\x9b"},
    {"\xff", NULL, "\\xff"},
};

static void
term_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = cli_term_text(cases[i].in, cases[i].nl);
        assert_non_null(got);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu: got \"%s\", want \"%s\"", i, got, cases[i].want);
        free(got);
    }
}

/* The worst case of every escape fills the buffer exactly as sized. */
static void
term_worst_case(void **state)
{
    char in[301], *got;

    (void)state;
    memset(in, '\x1b', 300);
    in[300] = '\0';
    got = cli_term_text(in, NULL);
    assert_non_null(got);
    assert_int_equal(strlen(got), 1200);
    free(got);
    memset(in, '\n', 300);
    got = cli_term_text(in, "| ");
    assert_int_equal(strlen(got), 900);
    free(got);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(term_cases),
        cmocka_unit_test(term_worst_case),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
