/*
 * test_utf8.c - refusal text cut on character boundaries, and quoted into
 * JSON so that building an error reply cannot fail on what it quotes
 * (issue #10 item 9).  jansson is the independent judge of the result.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "policy/policy.h"

/* Is "<quoted>" a JSON string jansson reads, and what does it read? */
static char *
reread(const char *quoted)
{
    char doc[8192];
    json_error_t e;
    json_t *v;
    char *s;

    snprintf(doc, sizeof(doc), "\"%s\"", quoted);
    v = json_loads(doc, JSON_DECODE_ANY, &e);
    if (v == NULL)
        fail_msg("not JSON: %s (%s)", doc, e.text);
    s = strdup(json_string_value(v));
    json_decref(v);
    return s;
}

static void
test_fit(void **state)
{
    const char *e = "aa\xC3\xA9";            /* "aaé" */
    const char *euro = "a\xE2\x82\xAC";      /* "a€" */
    const char *emoji = "a\xF0\x9F\x98\x80"; /* "a😀" */

    (void)state;
    assert_int_equal(policy_utf8_fit(e, 4), 4);
    assert_int_equal(policy_utf8_fit(e, 3), 2);
    assert_int_equal(policy_utf8_fit(e, 2), 2);
    assert_int_equal(policy_utf8_fit(euro, 4), 4);
    assert_int_equal(policy_utf8_fit(euro, 3), 1);
    assert_int_equal(policy_utf8_fit(euro, 2), 1);
    for (size_t n = 2; n < 5; n++)
        assert_int_equal(policy_utf8_fit(emoji, n), 1);
    assert_int_equal(policy_utf8_fit(emoji, 5), 5);
    assert_int_equal(policy_utf8_fit("", 0), 0);
    assert_int_equal(policy_utf8_fit("abc", 3), 3);
    /* Bytes that are not UTF-8 are left for the quoting to replace. */
    assert_int_equal(policy_utf8_fit("a\x80\x80\x80\x80", 5), 5);
    assert_int_equal(policy_utf8_fit("a\xFF", 2), 2);
}

static void
test_cut(void **state)
{
    char buf[64];

    (void)state;
    /* 39 'a' and 'é' cut at 40 bytes, as "%.40s" did. */
    memset(buf, 'a', 39);
    memcpy(buf + 39, "\xC3\xA9", 3);
    buf[40] = '\0';
    policy_utf8_cut(buf, 40);
    assert_int_equal(strlen(buf), 39);
}

static void
test_json_any_bytes(void **state)
{
    char out[1024];
    char in[257];
    char *back;

    (void)state;
    policy_utf8_json(out, sizeof(out), "say \"hi\"\\ \n\t\x7f");
    back = reread(out);
    assert_string_equal(back, "say \"hi\"\\ \n\t\x7f");
    free(back);

    policy_utf8_json(out, sizeof(out), "caf\xC3\xA9 \xE2\x82 \xC3 \xED\xA0\x80 \xC0\xAF \xFF");
    back = reread(out);
    assert_string_equal(back, "caf\xC3\xA9 \xEF\xBF\xBD\xEF\xBF\xBD \xEF\xBF\xBD "
                              "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD "
                              "\xEF\xBF\xBD");
    free(back);

    /* Every byte value, and every cut of the output buffer, is JSON. */
    for (int i = 0; i < 256; i++)
        in[i] = (char)(i == 0 ? 1 : i);
    in[256] = '\0';
    for (size_t cap = 1; cap < sizeof(out); cap += 7) {
        size_t n = policy_utf8_json(out, cap, in);
        assert_true(n < cap);
        assert_int_equal(strlen(out), n);
        free(reread(out));
    }
}

/* The refusals of issue #10 item 9, straight from the send parser. */
static void
test_send_refusals_are_utf8(void **state)
{
    char body[512], key[64];
    struct policy_send s;

    (void)state;
    for (size_t n = 30; n < 60; n++) {
        memset(key, 'a', n);
        memcpy(key + n, "\xC3\xA9", 3);
        snprintf(body, sizeof(body), "{\"%s\":1,\"%s\":2}", key, key);
        assert_int_equal(policy_send_parse(body, strlen(body), 0, &s), -1);
        assert_non_null(strstr(s.error, "repeats an object key"));
        free(reread(s.error));
        free(reread(s.field));
        policy_send_free(&s);
        snprintf(body, sizeof(body), "{\"from\":\"a@b.com\",\"to\":\"a@b.com\",\"%s\":1}", key);
        assert_int_equal(policy_send_parse(body, strlen(body), 0, &s), -1);
        assert_non_null(strstr(s.error, "is not a field"));
        free(reread(s.error));
        free(reread(s.field));
        policy_send_free(&s);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fit),
        cmocka_unit_test(test_cut),
        cmocka_unit_test(test_json_any_bytes),
        cmocka_unit_test(test_send_refusals_are_utf8),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
