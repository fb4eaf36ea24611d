/*
 * test_addr.c - the address grammar and domain matching, from data:
 * tests/data/policy/addresses.jsonl (valid and refused addresses, suffix
 * tricks, IDN, quotes, comments, %, NUL, over-long parts),
 * domain_match.jsonl and domain_list_match.jsonl.  Every accepted address
 * must format to its canonical form and parse back to itself.
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

#include "tests/unit/jsonl.h"

#include "policy/policy.h"

static void
test_addresses(void **state)
{
    json_t *all = test_jsonl("policy/addresses.jsonl"), *c;
    size_t i, nok = 0, nbad = 0, nwrong = 0;

    (void)state;
    json_array_foreach(all, i, c)
    {
        json_t *in = json_object_get(c, "in");
        const char *s = json_string_value(in);
        size_t len = json_string_length(in);
        struct policy_addr a, b;
        const char *why = NULL;
        char buf[1024];
        int r = policy_addr_parse(s, len, &a, &why);

        if (json_is_true(json_object_get(c, "ok"))) {
            nok++;
            if (r != 0)
                fail_msg("refused '%s': %s", s, why);
            assert_string_equal(a.domain, json_string_value(json_object_get(c, "domain")));
            assert_true(policy_addr_format(&a, buf, sizeof(buf)) > 0);
            assert_string_equal(buf, json_string_value(json_object_get(c, "canonical")));
            assert_int_equal(policy_addr_parse(buf, strlen(buf), &b, &why), 0);
            assert_memory_equal(&a, &b, sizeof(a));
        } else {
            nbad++;
            /* Name every address wrongly accepted, not only the first. */
            if (r == 0) {
                print_error("accepted '%s' (%s)\n", s,
                            json_string_value(json_object_get(c, "why")));
                nwrong++;
                continue;
            }
            assert_non_null(why);
        }
    }
    assert_int_equal(nwrong, 0);
    assert_true(nok >= 20 && nbad >= 40);
    json_decref(all);
}

static void
test_domain_match(void **state)
{
    json_t *all = test_jsonl("policy/domain_match.jsonl"), *c;
    size_t i;

    (void)state;
    json_array_foreach(all, i, c)
    {
        const char *rule = json_string_value(json_object_get(c, "rule"));
        const char *dom = json_string_value(json_object_get(c, "domain"));
        int want = json_is_true(json_object_get(c, "match"));
        if (policy_domain_match(rule, dom) != want)
            fail_msg("rule %s, domain %s: expected %d", rule, dom, want);
    }
    json_decref(all);
    all = test_jsonl("policy/domain_list_match.jsonl");
    json_array_foreach(all, i, c)
    {
        const char *list = json_string_value(json_object_get(c, "list"));
        const char *dom = json_string_value(json_object_get(c, "domain"));
        int want = json_is_true(json_object_get(c, "match"));
        if (policy_domain_list_match(list, dom) != want)
            fail_msg("list '%s', domain %s: expected %d", list, dom, want);
    }
    json_decref(all);
}

static void
test_format_buffer(void **state)
{
    struct policy_addr a;
    const char *why;
    char small[8];

    (void)state;
    assert_int_equal(policy_addr_parse("a@example.com", 13, &a, &why), 0);
    assert_int_equal(policy_addr_format(&a, small, sizeof(small)), -1);
    /* length is what counts, not a NUL: an embedded NUL is refused */
    assert_int_equal(policy_addr_parse("a@example.com\0x", 15, &a, &why), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_domain_match),
        cmocka_unit_test(test_format_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
