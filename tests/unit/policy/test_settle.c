/*
 * test_settle.c - the refund rule (policy_settle_refund), from
 * tests/data/policy/refunds.jsonl: the outcome and status of the upstream
 * call, the reserved count, each batch element's recipients and the
 * indexes Resend listed under "errors" -> what is given back, and which
 * messages (given[]) the per-message controls give back with it.
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

static enum policy_outcome
outcome(const char *s)
{
    if (strcmp(s, "answered") == 0)
        return POLICY_OUTCOME_ANSWERED;
    if (strcmp(s, "not_sent") == 0)
        return POLICY_OUTCOME_NOT_SENT;
    if (strcmp(s, "failed") == 0)
        return POLICY_OUTCOME_FAILED;
    assert_string_equal(s, "timeout");
    return POLICY_OUTCOME_TIMEOUT;
}

static void
test_refunds(void **state)
{
    json_t *all = test_jsonl("policy/refunds.jsonl"), *c;
    size_t ci;
    int n = 0;

    (void)state;
    json_array_foreach(all, ci, c)
    {
        json_t *v;
        struct policy_send_msg msg[POLICY_BATCH_MAX];
        struct policy_send s;
        int64_t errs[16], got, want;
        size_t nerr = 0, i;
        unsigned char given[POLICY_BATCH_MAX], want_given[POLICY_BATCH_MAX];
        const char *why = json_string_value(json_object_get(c, "why"));

        memset(&s, 0, sizeof(s));
        memset(msg, 0, sizeof(msg));
        s.batch = json_is_true(json_object_get(c, "batch"));
        s.msg = msg;
        json_array_foreach(json_object_get(c, "recipients"), i, v)
        {
            msg[s.nmsg++].recipients = (long)json_integer_value(v);
        }
        json_array_foreach(json_object_get(c, "errors"), i, v)
        {
            errs[nerr++] = json_integer_value(v);
        }
        got = policy_settle_refund(&s, outcome(json_string_value(json_object_get(c, "outcome"))),
                                   (long)json_integer_value(json_object_get(c, "status")),
                                   json_integer_value(json_object_get(c, "reserved")), errs, nerr,
                                   memset(given, 0, sizeof(given)));
        want = json_integer_value(json_object_get(c, "refund"));
        if (got != want)
            fail_msg("%s: refund %lld, expected %lld", why, (long long)got, (long long)want);
        /* Every case names the messages given back; none beyond nmsg. */
        if (!json_is_array(json_object_get(c, "given")))
            fail_msg("%s: no \"given\" in the case", why);
        memset(want_given, 0, sizeof(want_given));
        json_array_foreach(json_object_get(c, "given"), i, v)
        {
            want_given[json_integer_value(v)] = 1;
        }
        for (i = 0; i < POLICY_BATCH_MAX; i++)
            if (given[i] != want_given[i])
                fail_msg("%s: message %zu given %d, expected %d", why, i, given[i], want_given[i]);
        n++;
    }
    json_decref(all);
    assert_true(n >= 20);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refunds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
