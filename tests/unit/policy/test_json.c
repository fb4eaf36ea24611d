/*
 * test_json.c - policy/json.c at jansson's edges: each input is read by
 * both (tests/fuzz/json_diff.h) and must agree, and its expected outcome
 * is stated here too, so an edge both got wrong would still fail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/fuzz/json_diff.h"

struct edge {
    const char *name;
    const char *in;
    size_t len; /* 0: strlen(in) */
    int rc;     /* policy_json_parse's code */
};

static const struct edge edges[] = {
    {"empty object", "{}", 0, POLICY_JSON_OK},
    {"empty input", "", 0, POLICY_JSON_INVALID},
    {"scalar at the top", "\"x\"", 0, POLICY_JSON_INVALID},
    {"whitespace around", " \t\r\n[ ]\n ", 0, POLICY_JSON_OK},
    {"trailing garbage", "{} x", 0, POLICY_JSON_INVALID},
    {"trailing comma in object", "{\"a\":1,}", 0, POLICY_JSON_INVALID},
    {"trailing comma in array", "[1,]", 0, POLICY_JSON_INVALID},
    {"literals", "[true,false,null]", 0, POLICY_JSON_OK},
    {"literal run", "[truex]", 0, POLICY_JSON_INVALID},
    {"capital literal", "[True]", 0, POLICY_JSON_INVALID},
    {"int64 max", "[9223372036854775807]", 0, POLICY_JSON_OK},
    {"int64 max + 1", "[9223372036854775808]", 0, POLICY_JSON_INVALID},
    {"int64 min", "[-9223372036854775808]", 0, POLICY_JSON_OK},
    {"int64 min - 1", "[-9223372036854775809]", 0, POLICY_JSON_INVALID},
    {"20 digits", "[10000000000000000000]", 0, POLICY_JSON_INVALID},
    {"leading zero", "[01]", 0, POLICY_JSON_INVALID},
    {"minus zero", "[-0,-0.0,0e0,0E+1,1e-1]", 0, POLICY_JSON_OK},
    {"bare minus", "[-]", 0, POLICY_JSON_INVALID},
    {"dot without digits", "[1.]", 0, POLICY_JSON_INVALID},
    {"exponent without digits", "[1e+]", 0, POLICY_JSON_INVALID},
    {"real overflow", "[1e309]", 0, POLICY_JSON_INVALID},
    {"negative real overflow", "[-1e309]", 0, POLICY_JSON_INVALID},
    {"real underflow is fine", "[1e-400]", 0, POLICY_JSON_OK},
    {"escapes", "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20AC\"]", 0, POLICY_JSON_OK},
    {"bad escape", "[\"\\x\"]", 0, POLICY_JSON_INVALID},
    {"short \\u", "[\"\\u12\"]", 0, POLICY_JSON_INVALID},
    {"surrogate pair", "[\"\\ud83d\\ude00\"]", 0, POLICY_JSON_OK},
    {"lone high surrogate", "[\"\\ud83d\"]", 0, POLICY_JSON_INVALID},
    {"high surrogate then \\n", "[\"\\ud83d\\n\"]", 0, POLICY_JSON_INVALID},
    {"lone low surrogate", "[\"\\ude00\"]", 0, POLICY_JSON_INVALID},
    {"two high surrogates", "[\"\\ud83d\\ud83d\"]", 0, POLICY_JSON_INVALID},
    {"\\u0000", "[\"a\\u0000b\"]", 0, POLICY_JSON_INVALID},
    {"\\u0000 in a key", "{\"\\u0000\":1}", 0, POLICY_JSON_INVALID},
    {"raw newline in string", "[\"a\nb\"]", 0, POLICY_JSON_INVALID},
    {"raw tab in string", "[\"a\tb\"]", 0, POLICY_JSON_INVALID},
    {"DEL in string", "[\"a\x7f\"]", 0, POLICY_JSON_OK},
    {"utf-8 2/3/4 bytes", "[\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"]", 0, POLICY_JSON_OK},
    {"overlong 2 bytes", "[\"\xc0\xaf\"]", 0, POLICY_JSON_INVALID},
    {"overlong 3 bytes", "[\"\xe0\x80\xaf\"]", 0, POLICY_JSON_INVALID},
    {"utf-8 surrogate", "[\"\xed\xa0\x80\"]", 0, POLICY_JSON_INVALID},
    {"above U+10FFFF", "[\"\xf4\x90\x80\x80\"]", 0, POLICY_JSON_INVALID},
    {"F5 lead byte", "[\"\xf5\x80\x80\x80\"]", 0, POLICY_JSON_INVALID},
    {"lone continuation", "[\"\x80\"]", 0, POLICY_JSON_INVALID},
    {"cut sequence", "[\"\xe2\x82", 0, POLICY_JSON_INVALID},
    {"unterminated string", "[\"abc", 0, POLICY_JSON_INVALID},
    {"duplicate key", "{\"to\":1,\"to\":2}", 0, POLICY_JSON_DUPLICATE},
    {"duplicate through an escape", "{\"to\":1,\"\\u0074o\":2}", 0, POLICY_JSON_DUPLICATE},
    {"duplicate deep down", "[{\"a\":{\"b\":1,\"b\":1}}]", 0, POLICY_JSON_DUPLICATE},
    {"same key in sibling objects", "[{\"a\":1},{\"a\":1}]", 0, POLICY_JSON_OK},
    {"same key in nested objects", "{\"a\":{\"a\":{\"a\":1}}}", 0, POLICY_JSON_OK},
    {"duplicate before a syntax error", "{\"a\":1,\"a\":2 x", 0, POLICY_JSON_DUPLICATE},
    {"syntax error before a duplicate", "{\"a\":1 x,\"a\":2}", 0, POLICY_JSON_INVALID},
    {"keys differing by case", "{\"To\":1,\"to\":2}", 0, POLICY_JSON_OK},
    {"NUL after a number", "[0\0]", 4, POLICY_JSON_INVALID},
    {"NUL after a literal", "{\"a\":true\0}", 11, POLICY_JSON_INVALID},
    {"NUL at the top", "\0{}", 3, POLICY_JSON_INVALID},
    {"non-string key", "{1:2}", 0, POLICY_JSON_INVALID},
    {"missing colon", "{\"a\" 1}", 0, POLICY_JSON_INVALID},
};

static void
test_edges(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
        const struct edge *e = &edges[i];
        size_t len = e->len ? e->len : strlen(e->in);
        struct policy_json doc;
        char err[160];
        int line, rc = policy_json_parse(&doc, e->in, len, err, sizeof(err), &line);
        const char *why = json_diff(e->in, len);

        policy_json_free(&doc);
        if (rc != e->rc || why != NULL)
            fail_msg("%s: policy_json %d (%s), expected %d; against jansson: %s", e->name, rc, err,
                     e->rc, why ? why : "agree");
    }
}

/* jansson counts every value, scalars too, up to 2048. */
static void
test_depth(void **state)
{
    const int depths[] = {2047, 2048, 2049};

    (void)state;
    for (size_t i = 0; i < sizeof(depths) / sizeof(depths[0]); i++) {
        for (int scalar = 0; scalar <= 1; scalar++) {
            int d = depths[i];
            char *buf = malloc(2 * (size_t)d + 2);
            size_t n = 0;
            struct policy_json doc;
            char err[160];
            int line, rc, want;

            /* d nested arrays, innermost empty ([[]]) or holding 0 ([[0]]) */
            for (int k = 0; k < d; k++)
                buf[n++] = '[';
            if (scalar)
                buf[n++] = '0';
            for (int k = 0; k < d; k++)
                buf[n++] = ']';
            rc = policy_json_parse(&doc, buf, n, err, sizeof(err), &line);
            policy_json_free(&doc);
            want = d + scalar <= POLICY_JSON_MAX_DEPTH ? POLICY_JSON_OK : POLICY_JSON_INVALID;
            if (rc != want || json_diff(buf, n) != NULL)
                fail_msg("depth %d%s: %d, expected %d; against jansson: %s", d,
                         scalar ? " + scalar" : "", rc, want,
                         json_diff(buf, n) ? json_diff(buf, n) : "agree");
            free(buf);
        }
    }
}

/* Many keys in one object: the duplicate set grows past its first size. */
static void
test_wide_object(void **state)
{
    size_t cap = 20 * 5000 + 16, n = 0;
    char *buf = malloc(cap);
    struct policy_json doc;
    char err[160];
    int line;

    (void)state;
    buf[n++] = '{';
    for (int k = 0; k < 5000; k++)
        n += (size_t)snprintf(buf + n, cap - n, "%s\"k%d\":%d", k ? "," : "", k, k);
    buf[n++] = '}';
    assert_int_equal(policy_json_parse(&doc, buf, n, err, sizeof(err), &line), POLICY_JSON_OK);
    assert_int_equal(doc.node[0].len, 5000);
    policy_json_free(&doc);
    assert_null(json_diff(buf, n));
    /* the last key repeats the first */
    n--;
    n += (size_t)snprintf(buf + n, cap - n, ",\"k0\":1}");
    assert_int_equal(policy_json_parse(&doc, buf, n, err, sizeof(err), &line),
                     POLICY_JSON_DUPLICATE);
    policy_json_free(&doc);
    assert_null(json_diff(buf, n));
    free(buf);
}

/* Values are bounded (POLICY_JSON_MAX_NODES): the top array counts as one,
 * so MAX - 1 zeros fit and one more does not.  Before the bound a body of
 * zeros cost 12 to 24 times its size in nodes. */
static void
test_node_bound(void **state)
{
    size_t zeros = POLICY_JSON_MAX_NODES - 1, cap = zeros * 2 + 8, n = 0;
    char *buf = malloc(cap), err[160];
    struct policy_json doc;
    int line;

    (void)state;
    assert_non_null(buf);
    buf[n++] = '[';
    for (size_t k = 0; k < zeros; k++) {
        buf[n++] = '0';
        buf[n++] = ',';
    }
    buf[n - 1] = ']';
    assert_int_equal(policy_json_parse(&doc, buf, n, err, sizeof(err), &line), POLICY_JSON_OK);
    assert_int_equal(doc.n, POLICY_JSON_MAX_NODES);
    assert_true(doc.cap <= POLICY_JSON_MAX_NODES);
    policy_json_free(&doc);
    memcpy(buf + n - 1, ",0]", 3);
    n += 2;
    assert_int_equal(policy_json_parse(&doc, buf, n, err, sizeof(err), &line),
                     POLICY_JSON_TOO_MANY);
    assert_non_null(strstr(err, "values"));
    policy_json_free(&doc);
    free(buf);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_wide_object),
        cmocka_unit_test(test_node_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
