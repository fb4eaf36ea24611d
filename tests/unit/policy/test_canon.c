/*
 * test_canon.c - the canonical send facts (policy_send_canon, through
 * policy_send_parse), from tests/data/policy/canon.jsonl: pairs of send
 * bodies that are or are not the same send for the dedupe window.  Each
 * body is also sent as a batch element, which must give the same facts.
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

/* The facts of body as a send and as element 1 of a batch; they must agree. */
static char *
facts(json_t *body, size_t *len)
{
    char *s = json_dumps(body, JSON_COMPACT);
    json_t *arr = json_pack("[{s:s,s:s}, O]", "from", "z@z.com", "to", "z@z.com", body);
    char *bs = json_dumps(arr, JSON_COMPACT);
    struct policy_send one, batch;
    char *out;

    assert_non_null(s);
    assert_non_null(bs);
    if (policy_send_parse(s, strlen(s), 0, &one) != 0)
        fail_msg("%s: %s", s, one.error);
    if (policy_send_parse(bs, strlen(bs), 1, &batch) != 0)
        fail_msg("%s: %s", bs, batch.error);
    assert_int_equal(batch.nmsg, 2);
    if (one.msg[0].canon_len != batch.msg[1].canon_len)
        fail_msg("%s: %.*s != %.*s", s, (int)one.msg[0].canon_len, one.msg[0].canon,
                 (int)batch.msg[1].canon_len, batch.msg[1].canon);
    assert_memory_equal(one.msg[0].canon, batch.msg[1].canon, one.msg[0].canon_len);
    *len = one.msg[0].canon_len;
    out = malloc(*len);
    assert_non_null(out);
    memcpy(out, one.msg[0].canon, *len);
    policy_send_free(&one);
    policy_send_free(&batch);
    json_decref(arr);
    free(s);
    free(bs);
    return out;
}

static void
test_canon(void **state)
{
    json_t *all = test_jsonl("policy/canon.jsonl"), *c;
    size_t ci;
    int n = 0;

    (void)state;
    json_array_foreach(all, ci, c)
    {
        size_t la, lb;
        char *a, *b;
        int same;

        a = facts(json_object_get(c, "a"), &la);
        b = facts(json_object_get(c, "b"), &lb);
        same = la == lb && memcmp(a, b, la) == 0;
        if (same != json_is_true(json_object_get(c, "same")))
            fail_msg("canon.jsonl line %d (%s): the facts are %s", n + 1,
                     json_string_value(json_object_get(c, "why")), same ? "equal" : "different");
        free(a);
        free(b);
        n++;
    }
    json_decref(all);
    assert_true(n >= 20);
}

/* Each message's addresses are its own range of the send's list. */
static void
test_addr_ranges(void **state)
{
    const char *body =
        "[{\"from\":\"a@x.com\",\"to\":[\"b@y.com\",\"c@y.com\"],\"reply_to\":"
        "\"r@y.com\"},{\"from\":\"a@x.com\",\"to\":\"d@y.com\",\"bcc\":\"e@y.com\"}]";
    struct policy_send s;

    (void)state;
    assert_int_equal(policy_send_parse(body, strlen(body), 1, &s), 0);
    assert_int_equal(s.msg[0].addr_first, 0);
    assert_int_equal(s.msg[0].addr_end, 3);
    assert_int_equal(s.msg[1].addr_first, 3);
    assert_int_equal(s.msg[1].addr_end, 5);
    assert_string_equal(s.addr[4].address, "e@y.com");
    policy_send_free(&s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canon),
        cmocka_unit_test(test_addr_ranges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
