/*
 * test_event_summary.c - the one line `event list` and `key show` print
 * for an event (store_event_summary), from data:
 * tests/data/store/event_summaries.jsonl (type, data as stored, want).
 * Data that does not parse, or is not an object, still gets a line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "tests/unit/jsonl.h"

#include "store/event_read.h"

static void
test_summaries(void **state)
{
    json_t *all = test_jsonl("store/event_summaries.jsonl"), *c;
    size_t i;

    (void)state;
    assert_true(json_array_size(all) >= 10);
    json_array_foreach(all, i, c)
    {
        char buf[256];
        const char *want = json_string_value(json_object_get(c, "want"));

        store_event_summary(json_string_value(json_object_get(c, "type")),
                            json_string_value(json_object_get(c, "data")), buf, sizeof(buf));
        if (strcmp(buf, want) != 0)
            fail_msg("case %zu: \"%s\", want \"%s\"", i + 1, buf, want);
    }
    /* A buffer too small is cut, never overrun. */
    {
        char small[8];
        store_event_summary("key.denied", "{\"count\":12345,\"reason\":\"to_domain\"}", small,
                            sizeof(small));
        assert_string_equal(small, "12345 r");
    }
    json_decref(all);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_summaries),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
