/*
 * test_dynbuf.c - the bounded buffer: adds up to exactly max succeed, one
 * byte more fails and leaves the contents as they were, NUL bytes are
 * kept, and the result is NUL-terminated.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/dynbuf.h"

/* Each row: a max, then adds in order, each with its expected result and
 * the contents after it. */
static const struct {
    size_t max;
    struct {
        const char *add; /* NULL ends the row */
        int rc;
        const char *after;
    } ops[6];
} rows[] = {
    {5,
     {{"ab", SC_DYNBUF_OK, "ab"},
      {"cde", SC_DYNBUF_OK, "abcde"},
      {"f", SC_DYNBUF_TOO_LARGE, "abcde"},
      {"", SC_DYNBUF_OK, "abcde"},
      {NULL, 0, NULL}}},
    {5, {{"abcdef", SC_DYNBUF_TOO_LARGE, ""}, {"abcde", SC_DYNBUF_OK, "abcde"}, {NULL, 0, NULL}}},
    {0, {{"", SC_DYNBUF_OK, ""}, {"a", SC_DYNBUF_TOO_LARGE, ""}, {NULL, 0, NULL}}},
    {1000, {{"x", SC_DYNBUF_OK, "x"}, {"yy", SC_DYNBUF_OK, "xyy"}, {NULL, 0, NULL}}},
};

static void
test_rows(void **state)
{
    (void)state;
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        struct sc_dynbuf b;

        sc_dynbuf_init(&b, rows[r].max);
        assert_string_equal(sc_dynbuf_ptr(&b), "");
        for (size_t k = 0; rows[r].ops[k].add != NULL; k++) {
            const char *a = rows[r].ops[k].add;
            assert_int_equal(sc_dynbuf_add(&b, a, strlen(a)), rows[r].ops[k].rc);
            assert_int_equal(sc_dynbuf_len(&b), strlen(rows[r].ops[k].after));
            assert_string_equal(sc_dynbuf_ptr(&b), rows[r].ops[k].after);
        }
        sc_dynbuf_free(&b);
        assert_int_equal(sc_dynbuf_len(&b), 0);
    }
}

/* Growth across many reallocations keeps every byte, NULs included. */
static void
test_growth_and_nul(void **state)
{
    struct sc_dynbuf b;
    char chunk[3] = {'a', '\0', 'b'};

    (void)state;
    sc_dynbuf_init(&b, 3 * 10000);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(sc_dynbuf_add(&b, chunk, 3), SC_DYNBUF_OK);
    assert_int_equal(sc_dynbuf_len(&b), 30000);
    for (size_t i = 0; i < 30000; i++)
        assert_int_equal(sc_dynbuf_ptr(&b)[i], chunk[i % 3]);
    assert_int_equal(sc_dynbuf_ptr(&b)[30000], '\0');
    assert_int_equal(sc_dynbuf_add(&b, "z", 1), SC_DYNBUF_TOO_LARGE);
    sc_dynbuf_reset(&b);
    assert_int_equal(sc_dynbuf_len(&b), 0);
    assert_string_equal(sc_dynbuf_ptr(&b), "");
    assert_int_equal(sc_dynbuf_add(&b, "q", 1), SC_DYNBUF_OK);
    assert_string_equal(sc_dynbuf_ptr(&b), "q");
    sc_dynbuf_free(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_growth_and_nul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
