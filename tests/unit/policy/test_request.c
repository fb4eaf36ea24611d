/*
 * test_request.c - the request rules of policy/request.c, as tables of
 * cases: target bytes, a send's media type, dropped and idempotency header
 * names, and the sender facts of template/broadcast bodies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "policy/policy.h"

static void
test_target(void **state)
{
    static const struct {
        const char *target;
        int ok;
    } cases[] = {
        {"/emails", 1},
        {"/emails/abc-123_x.y~z", 1},
        {"/contacts/a:b@c/segments/!$&'()*+,;=", 1},
        {"/domains?limit=10&after=a\"b<c>", 1}, /* the query goes as sent */
        {"/contacts/a/segments/b\\..\\..\\api-keys", 0},
        {"/emails/a\"b", 0},
        {"/emails/a<b", 0},
        {"/emails/a>b", 0},
        {"/emails/{x}", 0},
        {"/emails/a|b", 0},
        {"/emails/a^b", 0},
        {"/emails/a`b", 0},
        {"/emails/a b", 0},
        {"/emails/a\tb", 0},
        {"/emails/a\x7f", 0},
        {"/emails/\xc3\xa9", 0},
        {"/emails/a[0]", 0},
        {"/emails?a b", 0},
        {"/emails?a\x01", 0},
        {"/emails?a\x80", 0},
        {"/emails?a#b", 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *why = NULL;
        int rc = policy_request_target_check(cases[i].target, &why);
        if ((rc == 0) != cases[i].ok)
            fail_msg("target %zu '%s': got %d", i, cases[i].target, rc);
        if (rc != 0 && why == NULL)
            fail_msg("target %zu: refused without a reason", i);
    }
}

static void
test_media(void **state)
{
    static const struct {
        const char *type, *encoding;
        int ok;
    } cases[] = {
        {NULL, NULL, 1},
        {"application/json", NULL, 1},
        {"Application/JSON", NULL, 1},
        {"application/json; charset=utf-8", NULL, 1},
        {" application/json ;charset=UTF-8", NULL, 1},
        {"application/json", "identity", 1},
        {"application/json", "IDENTITY ", 1},
        {"application/jsonx", NULL, 0},
        {"application/json+x", NULL, 0},
        {"application/x-www-form-urlencoded", NULL, 0},
        {"text/plain", NULL, 0},
        {"multipart/form-data; boundary=x", NULL, 0},
        {"", NULL, 0},
        {"application/json, text/plain", NULL, 0},
        {"application/json", "gzip", 0},
        {"application/json", "identity, gzip", 0},
        {"application/json", "", 0},
        {NULL, "br", 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *why = NULL;
        int rc = policy_request_media_check(cases[i].type, cases[i].encoding, &why);
        if ((rc == 0) != cases[i].ok)
            fail_msg("media %zu '%s' '%s': got %d", i, cases[i].type ? cases[i].type : "(none)",
                     cases[i].encoding ? cases[i].encoding : "(none)", rc);
    }
}

static void
test_headers(void **state)
{
    static const struct {
        const char *name;
        int dropped, idempotency;
    } cases[] = {
        {"X-HTTP-Method-Override", 1, 0},  {"x-http-method", 1, 0},   {"X-Method-Override", 1, 0},
        {"X-ORIGINAL-URL", 1, 0},          {"x-rewrite-url", 1, 0},   {"Idempotency-Key", 0, 1},
        {"idempotency-key", 0, 1},         {"Idempotency_Key", 1, 1}, {"IDEMPOTENCY_KEY", 1, 1},
        {"Idempotency-Keys", 0, 0},        {"Idempotency", 0, 0},     {"Idempotency-Kex", 0, 0},
        {"X-HTTP-Method-Overrides", 0, 0}, {"Content-Type", 0, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (policy_header_request_dropped(cases[i].name, 0) != cases[i].dropped)
            fail_msg("header '%s': dropped should be %d", cases[i].name, cases[i].dropped);
        if (policy_request_idempotency_name(cases[i].name) != cases[i].idempotency)
            fail_msg("header '%s': idempotency should be %d", cases[i].name, cases[i].idempotency);
    }
}

static void
test_sender(void **state)
{
    static const struct {
        const char *body, *from_list, *to_list;
        enum policy_reason want; /* POLICY_DENY_INVALID_BODY: parse refuses */
        const char *field;
    } cases[] = {
        {"{\"name\":\"t\",\"html\":\"x\"}", "ok.com", "ok.com", POLICY_ALLOW, ""},
        {"{\"from\":\"CEO <ceo@ok.com>\",\"reply_to\":[\"a@ok.com\"]}", "ok.com", "ok.com",
         POLICY_ALLOW, ""},
        {"{\"from\":\"CEO <ceo@evil.com>\"}", "ok.com", "", POLICY_DENY_FROM_DOMAIN, "from"},
        {"{\"from\":\"ceo@sub.ok.com\"}", "ok.com", "", POLICY_DENY_FROM_DOMAIN, "from"},
        {"{\"from\":\"ceo@evil.com\"}", "", "ok.com", POLICY_ALLOW, ""},
        {"{\"from\":null}", "ok.com", "", POLICY_ALLOW, ""},
        {"{\"reply_to\":\"x@evil.com\"}", "", "ok.com", POLICY_DENY_TO_DOMAIN, "reply_to"},
        {"{\"reply_to\":[\"a@ok.com\",\"x@evil.com\"]}", "", "ok.com", POLICY_DENY_TO_DOMAIN,
         "reply_to[1]"},
        {"{\"from\":\"a@ok.com\",\"from\":\"b@evil.com\"}", "ok.com", "", POLICY_DENY_INVALID_BODY,
         "body"},
        {"{\"from\":\"\\\"x\\\"@ok.com\"}", "ok.com", "", POLICY_DENY_INVALID_BODY, "from"},
        {"{\"from\":7}", "ok.com", "", POLICY_DENY_INVALID_BODY, "from"},
        {"{\"reply_to\":{\"a\":1}}", "", "", POLICY_DENY_INVALID_BODY, "reply_to"},
        {"[{\"from\":\"a@evil.com\"}]", "ok.com", "", POLICY_DENY_INVALID_BODY, "body"},
        {"not json", "ok.com", "", POLICY_DENY_INVALID_BODY, "body"},
        {"", "ok.com", "", POLICY_DENY_INVALID_BODY, "body"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        static struct policy_sender s;
        struct policy_key k = {POLICY_SCOPE_FULL, -1, cases[i].from_list, cases[i].to_list, 0};
        struct policy_decision d;
        enum policy_reason got;
        const char *field;

        memset(&d, 0, sizeof(d));
        if (policy_request_sender_parse(cases[i].body, strlen(cases[i].body), &s) != 0) {
            got = POLICY_DENY_INVALID_BODY;
            field = s.field;
        } else {
            policy_request_sender_decide(&k, &s, &d);
            got = d.reason;
            field = d.field;
        }
        if (got != cases[i].want || strcmp(field, cases[i].field) != 0)
            fail_msg("sender %zu %s: got %s '%s'", i, cases[i].body, policy_reason_name(got),
                     field);
    }
}

static void
test_sender_routes(void **state)
{
    size_t n;
    const struct policy_route *t = policy_route_table(&n);
    int named = 0;

    (void)state;
    for (size_t i = 0; i < n; i++) {
        int want = strcmp(t[i].name, "templates.create") == 0 ||
                   strcmp(t[i].name, "templates.update") == 0 ||
                   strcmp(t[i].name, "broadcasts.create") == 0 ||
                   strcmp(t[i].name, "broadcasts.update") == 0 ||
                   strcmp(t[i].name, "automations.create") == 0 ||
                   strcmp(t[i].name, "automations.update") == 0;
        if (policy_request_names_sender(&t[i]) != want)
            fail_msg("route %s: names_sender should be %d", t[i].name, want);
        named += want;
    }
    assert_int_equal(named, 6);
}

/* A from-domain list closes the blind-send routes like a cap or a to-list,
 * and so does a gated key's hold (SPEC §7: they would send with none). */
static void
test_blind_from_list(void **state)
{
    static const char *const blind[] = {
        "broadcasts.create",  "broadcasts.update",  "broadcasts.send",       "broadcasts.duplicate",
        "automations.create", "automations.update", "automations.duplicate", "events.send"};
    size_t n;
    const struct policy_route *t = policy_route_table(&n);
    struct policy_key listed = {POLICY_SCOPE_FULL, -1, "ok.com", "", 0};
    struct policy_key open = {POLICY_SCOPE_FULL, -1, "", "", 0};
    struct policy_key gated = {POLICY_SCOPE_FULL, -1, "", "", 1};
    struct policy_decision d;

    (void)state;
    for (size_t b = 0; b < sizeof(blind) / sizeof(blind[0]); b++) {
        size_t i = 0;
        while (i < n && strcmp(t[i].name, blind[b]) != 0)
            i++;
        assert_true(i < n);
        policy_decide(&listed, &t[i], NULL, &d);
        if (d.reason != POLICY_DENY_BLIND_SEND)
            fail_msg("%s reachable by a from-listed key", blind[b]);
        policy_decide(&gated, &t[i], NULL, &d);
        if (d.reason != POLICY_DENY_BLIND_SEND)
            fail_msg("%s reachable by a gated key", blind[b]);
        policy_decide(&open, &t[i], NULL, &d);
        assert_int_equal(d.reason, POLICY_ALLOW);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_target),        cmocka_unit_test(test_media),
        cmocka_unit_test(test_headers),       cmocka_unit_test(test_sender),
        cmocka_unit_test(test_sender_routes), cmocka_unit_test(test_blind_from_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
