/*
 * test_target.c - request-target normalisation (policy/request.c), from
 * tests/data/policy/targets.jsonl: each target with a prefix gives a path
 * and query, a refusal whose reason contains "why", or "not ours" (404).
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
test_targets(void **state)
{
    json_t *all = test_jsonl("policy/targets.jsonl"), *c;
    size_t ci;
    int n = 0;

    (void)state;
    json_array_foreach(all, ci, c)
    {
        const char *target, *prefix, *want_path, *want_why, *query = NULL, *why = NULL;
        char *path = NULL;
        int rc;

        target = json_string_value(json_object_get(c, "target"));
        prefix = json_string_value(json_object_get(c, "prefix"));
        want_path = json_string_value(json_object_get(c, "path"));
        want_why = json_string_value(json_object_get(c, "why"));
        rc = policy_request_target_normalise(target, prefix, &path, &query, &why);
        if (want_path != NULL) {
            if (rc != 0)
                fail_msg("'%s' (prefix '%s') refused: %s", target, prefix, why ? why : "not ours");
            if (strcmp(path, want_path) != 0 ||
                strcmp(query, json_string_value(json_object_get(c, "query"))) != 0)
                fail_msg("'%s' (prefix '%s'): path '%s' query '%s'", target, prefix, path, query);
        } else {
            if (rc == 0)
                fail_msg("'%s' (prefix '%s') accepted as '%s'", target, prefix, path);
            assert_null(path);
            if (json_is_true(json_object_get(c, "not_ours"))
                    ? why != NULL
                    : why == NULL || strstr(why, want_why) == NULL)
                fail_msg("'%s' (prefix '%s'): reason '%s'", target, prefix,
                         why ? why : "(not ours)");
        }
        free(path);
        n++;
    }
    json_decref(all);
    assert_true(n >= 40);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_targets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
