/*
 * test_webhooks.c - webhook signing (the Standard Webhooks test vector,
 * and a changed byte anywhere changes the signature), the URL rule at add,
 * and take/claim's reply read into jobs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/webhooks.h"

/* The example of the Standard Webhooks specification (and its libraries'
 * tests): secret, id, timestamp and payload give this signature. */
static void
sign_vector(void **state)
{
    char sig[STORE_WEBHOOK_SIG_MAX];
    const char *body = "{\"test\": 2432232314}";

    (void)state;
    assert_int_equal(store_webhooks_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                         "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body,
                                         strlen(body), sig),
                     0);
    assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

static void
sign_changes(void **state)
{
    const char *secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", *body = "{\"a\":1}";
    char base[STORE_WEBHOOK_SIG_MAX], sig[STORE_WEBHOOK_SIG_MAX];

    (void)state;
    assert_int_equal(store_webhooks_sign(secret, "evt_1-0", 100, body, strlen(body), base), 0);
    assert_int_equal(store_webhooks_sign(secret, "evt_1-1", 100, body, strlen(body), sig), 0);
    assert_string_not_equal(sig, base);
    assert_int_equal(store_webhooks_sign(secret, "evt_1-0", 101, body, strlen(body), sig), 0);
    assert_string_not_equal(sig, base);
    assert_int_equal(store_webhooks_sign(secret, "evt_1-0", 100, "{\"a\":2}", 7, sig), 0);
    assert_string_not_equal(sig, base);
    assert_int_equal(store_webhooks_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSX", "evt_1-0", 100,
                                         body, strlen(body), sig),
                     0);
    assert_string_not_equal(sig, base);
    /* Not a secret of the scheme. */
    assert_int_equal(store_webhooks_sign("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "e", 1, body, 7, sig),
                     -1);
    assert_int_equal(store_webhooks_sign("whsec_", "e", 1, body, 7, sig), -1);
}

static void
url_rules(void **state)
{
    static const struct {
        const char *url;
        int ok;
    } c[] = {
        {"https://hooks.example.com/x", 1},
        {"https://hooks.example.com:8443/x?y=1", 1},
        {"HTTPS://hooks.example.com", 1},
        {"http://127.0.0.1:9/hook", 1},
        {"http://127.9.9.9/hook", 1},
        {"http://[::1]:8080/hook", 1},
        {"http://localhost:3000/hook", 1},
        {"http://hooks.example.com/x", 0},      /* plain http off the machine */
        {"http://127.0.0.1.evil.example/x", 0}, /* a name, not a literal */
        {"http://10.0.0.1/x", 0},
        {"http://[::2]/x", 0},
        {"ftp://example.com/x", 0},
        {"file:///etc/passwd", 0},
        {"gopher://127.0.0.1/x", 0},
        {"https://user:pw@example.com/x", 0},
        {"http://x@127.0.0.1/x", 0},
        {"https://example.com/x#frag", 0},
        {"https:///x", 0},
        {"https://example.com:0/x", 0},
        {"https://example.com:99999/x", 0},
        {"https://example.com:/x", 0},
        {"https://exa mple.com/x", 0},
        {"https://example.com/\x01", 0},
        {"127.0.0.1/hook", 0},
        {"", 0},
    };
    char err[256];

    (void)state;
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        int r = store_webhooks_url_check(c[i].url, err, sizeof(err));
        if ((r == 0) != c[i].ok)
            fail_msg("%s: expected %s, got %s (%s)", c[i].url, c[i].ok ? "ok" : "refused",
                     r == 0 ? "ok" : "refused", err);
    }
}

static redisReply *
str(const char *s)
{
    redisReply *r = calloc(1, sizeof(*r));
    r->type = REDIS_REPLY_STRING;
    r->str = strdup(s);
    r->len = strlen(s);
    return r;
}

static void
jobs_parse(void **state)
{
    const char *good[12] = {"1-0|wh_a",
                            "1-0",
                            "wh_a",
                            "1764633615000",
                            "key.revoked",
                            "key_x",
                            "1764633600000",
                            "{\"key_id\":\"key_x\"}",
                            "http://127.0.0.1:1/h",
                            "v1.abc",
                            "",
                            "pending|2|1764633610000|503|1764633605000|1764633600000"};
    redisReply top = {0}, el[3];
    redisReply *els[3] = {&el[0], &el[1], &el[2]};
    struct store_webhook_job jobs[4];

    (void)state;
    memset(el, 0, sizeof(el));
    for (int k = 0; k < 3; k++) {
        el[k].type = REDIS_REPLY_ARRAY;
        el[k].elements = 12;
        el[k].element = calloc(12, sizeof(redisReply *));
        for (int i = 0; i < 12; i++)
            el[k].element[i] = str(good[i]);
    }
    /* The second is malformed (lease not a number) and skipped; the third
     * lacks an element. */
    free(el[1].element[3]->str);
    el[1].element[3]->str = strdup("soon");
    el[2].elements = 11;
    top.type = REDIS_REPLY_ARRAY;
    top.elements = 3;
    top.element = els;
    assert_int_equal(store_webhooks_jobs_parse(&top, jobs, 4), 1);
    assert_string_equal(jobs[0].member, "1-0|wh_a");
    assert_string_equal(jobs[0].target, "wh_a");
    assert_int_equal(jobs[0].lease, 1764633615000);
    assert_string_equal(jobs[0].ev.type, "key.revoked");
    assert_string_equal(jobs[0].ev.id, "1-0");
    assert_int_equal(jobs[0].ev.at, 1764633600000);
    assert_int_equal(jobs[0].state.attempts, 2);
    assert_int_equal(jobs[0].state.last_status, 503);
    assert_int_equal(store_webhooks_jobs_parse(&el[0], jobs, 4), 0); /* an array of strings */
    top.type = REDIS_REPLY_NIL;
    assert_int_equal(store_webhooks_jobs_parse(&top, jobs, 4), -1);
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < 12; i++) {
            free(el[k].element[i]->str);
            free(el[k].element[i]);
        }
        free(el[k].element);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sign_vector),
        cmocka_unit_test(sign_changes),
        cmocka_unit_test(url_rules),
        cmocka_unit_test(jobs_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
