/*
 * test_call_reply.c - call.lua's reply, read into a typed result
 * (store_call_reply_parse), from data: tests/data/store/call_replies.jsonl.
 * Each case gives a reply as JSON (arrays, strings, integers, null), which
 * is turned into RESP and read by hiredis's own reader, so the parser sees
 * the replies Redis would give; then the expected kind and fields.
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

#include "store/call_int.h"

/* JSON -> RESP, appended to out (large enough for the test data). */
static void
resp(const json_t *v, char *out, size_t len)
{
    size_t o = strlen(out), i;
    json_t *el;

    if (json_is_array(v)) {
        snprintf(out + o, len - o, "*%zu\r\n", json_array_size(v));
        json_array_foreach(v, i, el) resp(el, out, len);
    } else if (json_is_string(v)) {
        snprintf(out + o, len - o, "$%zu\r\n%s\r\n", json_string_length(v), json_string_value(v));
    } else if (json_is_integer(v)) {
        snprintf(out + o, len - o, ":%lld\r\n", (long long)json_integer_value(v));
    } else {
        snprintf(out + o, len - o, "$-1\r\n");
    }
}

static const char *
kind_name(enum store_call_kind k)
{
    static const char *const names[] = {"ok",         "stale",       "unknown", "revoked",
                                        "expired",    "no_upstream", "not_own", "cap",
                                        "bad_record", "bad_reply",   "mcap",    "rcap",
                                        "rate",       "dup",         "who",     "held"};

    return (size_t)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

static void
expect_str(const json_t *c, const char *field, const char *got, const char *name)
{
    const json_t *v = json_object_get(c, field);

    if (v != NULL && strcmp(json_string_value(v), got) != 0)
        fail_msg("%s: %s is \"%s\", expected \"%s\"", name, field, got, json_string_value(v));
}

static void
expect_i64(const json_t *c, const char *field, int64_t got, const char *name)
{
    const json_t *v = json_object_get(c, field);

    if (v != NULL && json_integer_value(v) != got)
        fail_msg("%s: %s is %lld, expected %lld", name, field, (long long)got,
                 (long long)json_integer_value(v));
}

static void
test_replies(void **state)
{
    json_t *all = test_jsonl("store/call_replies.jsonl"), *c;
    struct store_key *key = malloc(sizeof(*key));
    size_t i, nstale = 0;

    (void)state;
    assert_non_null(key);
    assert_true(json_array_size(all) >= 20);
    json_array_foreach(all, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        char wire[8192] = "";
        redisReader *rd = redisReaderCreate();
        void *reply = NULL;
        struct store_call_result res;

        resp(json_object_get(c, "reply"), wire, sizeof(wire));
        assert_int_equal(redisReaderFeed(rd, wire, strlen(wire)), REDIS_OK);
        assert_int_equal(redisReaderGetReply(rd, &reply), REDIS_OK);
        assert_non_null(reply);
        memset(key, 0x5a, sizeof(*key));
        store_call_reply_parse(reply, "00ff", &res, key);
        if (strcmp(kind_name(res.kind), json_string_value(json_object_get(c, "kind"))) != 0)
            fail_msg("%s: kind %s, expected %s", name, kind_name(res.kind),
                     json_string_value(json_object_get(c, "kind")));
        expect_str(c, "key_id", res.key_id, name);
        expect_i64(c, "now_ms", res.now_ms, name);
        expect_i64(c, "at_ms", res.at_ms, name);
        expect_str(c, "counter_key", res.counter_key, name);
        expect_i64(c, "used", res.used, name);
        expect_i64(c, "cap", res.cap, name);
        expect_str(c, "cap_event", res.cap_event, name);
        expect_str(c, "idem_key", res.idem_key, name);
        expect_str(c, "idem_value", res.idem_value, name);
        expect_str(c, "monthly_key", res.monthly_key, name);
        expect_i64(c, "remaining", res.remaining, name);
        expect_str(c, "rcpt_prefix", res.rcpt_prefix, name);
        expect_str(c, "dedupe_prefix", res.dedupe_prefix, name);
        expect_i64(c, "reset_ms", res.reset_ms, name);
        expect_i64(c, "window_ms", res.window_ms, name);
        expect_i64(c, "position", res.position, name);
        expect_i64(c, "earlier_msg", res.earlier_msg, name);
        expect_str(c, "earlier", res.earlier, name);
        expect_i64(c, "who_monthly_cap", res.who.monthly_cap, name);
        expect_i64(c, "who_rate_limit", res.who.rate_limit, name);
        expect_i64(c, "who_rate_used", res.who.rate_used, name);
        expect_str(c, "who_name", res.who.name, name);
        expect_str(c, "cap_event", res.cap_event, name);
        if (res.kind == STORE_CALL_STALE) {
            nstale++;
            assert_ptr_equal(res.key, key);
            assert_string_equal(res.key->hash, "00ff"); /* the record does not name it */
            expect_str(c, "upstream_ver", res.upstream_ver, name);
            expect_str(c, "sealed", res.sealed, name);
            assert_int_equal(res.sealed_len, strlen(res.sealed));
            expect_str(c, "rec_id", res.key->id, name);
            expect_str(c, "rec_upstream", res.key->upstream, name);
            expect_str(c, "rec_gen", res.key->gen, name);
            expect_str(c, "rec_scope", res.key->scope, name);
            expect_i64(c, "rec_daily_cap", res.key->daily_cap, name);
        } else {
            assert_null(res.key); /* only a stale reply carries a record */
            assert_null(res.sealed);
        }
        freeReplyObject(reply);
        redisReaderFree(rd);
    }
    assert_true(nstale >= 1);
    free(key);
    json_decref(all);
}

/* store_call_key_view: the cached record's fields in call.lua's layout
 * (ARGV[21]), "" for a control the key lacks; refused when a text field
 * holds the separator or the buffer is short. */
static void
test_key_view(void **state)
{
    static const struct {
        const char *id, *upstream, *family, *scope, *oversight;
        int64_t cap, mcap, pcap, rate, rwin, ddw;
        size_t len;
        const char *want; /* NULL: refused */
    } cases[] = {
        {"key_a", "prod", "key_f", "full", "gated", 10, 100, 3, 5, 60000, 0, 512,
         "key_a|prod|key_f|10|full|100|3|5|60000|0|gated|"},
        {"key_b", "prod", "key_b", "sending", "auto", -1, -1, -1, -1, 0, 600000, 512,
         "key_b|prod|key_b||sending|||||600000|auto|"},
        {"key_c", "eu.main-2", "key_c", "sending", "monitored", 0, -1, -1, 1000, 1000, 1, 512,
         "key_c|eu.main-2|key_c|0|sending|||1000|1000|1|monitored|"},
        {"key_d", "pr|od", "key_d", "sending", "auto", -1, -1, -1, -1, 0, 0, 512, NULL},
        {"key_e", "prod", "key_e", "sending", "auto", -1, -1, -1, -1, 0, 0, 10, NULL},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct store_key rec;
        char out[512];
        memset(&rec, 0, sizeof(rec));
        snprintf(rec.id, sizeof(rec.id), "%s", cases[i].id);
        snprintf(rec.upstream, sizeof(rec.upstream), "%s", cases[i].upstream);
        snprintf(rec.family, sizeof(rec.family), "%s", cases[i].family);
        snprintf(rec.scope, sizeof(rec.scope), "%s", cases[i].scope);
        snprintf(rec.oversight, sizeof(rec.oversight), "%s", cases[i].oversight);
        rec.daily_cap = cases[i].cap;
        rec.monthly_cap = cases[i].mcap;
        rec.per_recipient_cap = cases[i].pcap;
        rec.rate_limit = cases[i].rate;
        rec.rate_window_ms = cases[i].rwin;
        rec.dedupe_window_ms = cases[i].ddw;
        if (cases[i].want == NULL) {
            assert_int_equal(store_call_key_view(&rec, out, cases[i].len), -1);
        } else {
            assert_int_equal(store_call_key_view(&rec, out, cases[i].len), 0);
            assert_string_equal(out, cases[i].want);
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replies),
        cmocka_unit_test(test_key_view),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
