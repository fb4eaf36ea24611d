/*
 * test_events.c - the C side of the event schema (store/events.h): the
 * stored delivery state read and written back, refused when malformed,
 * and the body a webhook receives built from a stream entry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/events.h"

static void
delivery_round_trip(void **state)
{
    static const struct {
        const char *in;
        enum store_delivery_status st;
        int attempts, last_status;
        int64_t next_at, last_at, first_at;
    } c[] = {
        {"pending|0|1764633600000||0|1764633600000", STORE_DELIVERY_PENDING, 0, 0, 1764633600000, 0,
         1764633600000},
        {"pending|3|1764633607000|503|1764633603000|1764633600000", STORE_DELIVERY_PENDING, 3, 503,
         1764633607000, 1764633603000, 1764633600000},
        {"delivered|1|0|204|1764633600100|1764633600000", STORE_DELIVERY_DELIVERED, 1, 204, 0,
         1764633600100, 1764633600000},
        {"failed|40|0||1764720000000|1764633600000", STORE_DELIVERY_FAILED, 40, 0, 0, 1764720000000,
         1764633600000},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        struct store_delivery d;
        char buf[128];
        assert_int_equal(store_delivery_parse(c[i].in, &d), 0);
        assert_int_equal(d.status, c[i].st);
        assert_int_equal(d.attempts, c[i].attempts);
        assert_int_equal(d.last_status, c[i].last_status);
        assert_true(d.next_at == c[i].next_at && d.last_at == c[i].last_at &&
                    d.first_at == c[i].first_at);
        assert_true(store_delivery_format(&d, buf, sizeof(buf)) > 0);
        assert_string_equal(buf, c[i].in);
    }
}

static void
delivery_malformed(void **state)
{
    static const char *const bad[] = {
        "",
        "pending",
        "sent|0|0||0|0",
        "pending|0|0||0",
        "pending|x|0||0|0",
        "pending|0|0||0|0|9",
        "pending|-1|0||0|0",
        "pending|0|0|1000|0|0",
        "pending|0|99999999999999999999||0|0",
    };
    struct store_delivery d;
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(store_delivery_parse(bad[i], &d), -1);
}

static void
event_body(void **state)
{
    struct store_event ev = {.id = "1764633600000-0", .type = "key.revoked", .at = 1764633600123};
    (void)state;
    ev.data = strdup("{\"key_id\":\"key_a\",\"name\":\"n\"}");
    char *b = store_event_body(&ev);
    assert_non_null(b);
    assert_string_equal(b, "{\"type\":\"key.revoked\",\"created_at\":"
                           "\"2025-12-02T00:00:00.123Z\",\"data\":{\"key_id\":\"key_a\","
                           "\"name\":\"n\"}}");
    free(b);
    store_event_clear(&ev);
    assert_null(ev.data);

    /* Data that is not one JSON object makes no body. */
    static const char *const bad[] = {"[]", "\"x\"", "{\"a\":1,\"a\":2}", "{", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ev.data = strdup(bad[i]);
        assert_null(store_event_body(&ev));
        store_event_clear(&ev);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(delivery_round_trip),
        cmocka_unit_test(delivery_malformed),
        cmocka_unit_test(event_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
