/*
 * test_send.c - send facts and decisions from data folders
 * (tests/data/policy/send/<case>/input.json + expected.json, jansson's
 * suite layout), and the cap arithmetic at its boundaries.
 */
#include <dirent.h>
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

static char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void
run_case(const char *dir, const char *name)
{
    char path[1024];
    size_t len;
    char *body;
    json_t *exp, *key;
    json_error_t e;
    struct policy_send s;
    struct policy_decision d;
    struct policy_key k;
    const struct policy_route *route;
    const char *want_reason, *want_field, *contains, *err_reason;

    snprintf(path, sizeof(path), "%s/%s/expected.json", dir, name);
    exp = json_load_file(path, 0, &e);
    if (exp == NULL)
        fail_msg("%s: %s", name, e.text);
    snprintf(path, sizeof(path), "%s/%s/input.json", dir, name);
    body = slurp(path, &len);

    assert_int_equal(policy_route_match("POST",
                                        strcmp(json_string_value(json_object_get(exp, "route")),
                                               "emails.batch") == 0
                                            ? "/emails/batch"
                                            : "/emails",
                                        &route),
                     POLICY_ROUTE_OK);
    key = json_object_get(exp, "key");
    k.scope = strcmp(json_string_value(json_object_get(key, "scope")), "full") == 0
                  ? POLICY_SCOPE_FULL
                  : POLICY_SCOPE_SENDING;
    k.daily_cap = json_integer_value(json_object_get(key, "daily_cap"));
    k.from_domains = json_string_value(json_object_get(key, "from_domains"));
    k.to_domains = json_string_value(json_object_get(key, "to_domains"));

    policy_send_parse(body, len, strcmp(route->name, "emails.batch") == 0, &s);
    policy_decide(&k, route, &s, &d);

    want_reason = json_string_value(json_object_get(exp, "reason"));
    want_field = json_string_value(json_object_get(exp, "field"));
    contains = json_string_value(json_object_get(exp, "error_contains"));
    err_reason = json_string_value(json_object_get(exp, "error_reason"));
    if (strcmp(policy_reason_name(d.reason), want_reason) != 0)
        fail_msg("%s: reason %s (field %s, error '%s'), expected %s", name,
                 policy_reason_name(d.reason), d.field, s.error, want_reason);
    if (d.reason == POLICY_ALLOW) {
        if (d.sends != json_integer_value(json_object_get(exp, "sends")))
            fail_msg("%s: sends %lld, expected %lld", name, (long long)d.sends,
                     (long long)json_integer_value(json_object_get(exp, "sends")));
        assert_int_equal(s.error[0], '\0');
    } else {
        assert_int_equal(d.sends, 0);
        if (want_field != NULL && strcmp(d.field, want_field) != 0)
            fail_msg("%s: field '%s', expected '%s'", name, d.field, want_field);
        if (contains != NULL && strstr(s.error, contains) == NULL)
            fail_msg("%s: error '%s' lacks '%s'", name, s.error, contains);
        if (err_reason != NULL && strcmp(err_reason, "from_required") == 0)
            assert_int_equal(d.reason, POLICY_DENY_FROM_REQUIRED);
    }
    policy_send_free(&s);
    free(body);
    json_decref(exp);
}

static void
test_cases(void **state)
{
    const char *data = getenv("SENDCAP_TEST_DATA");
    char dir[512];
    DIR *d;
    struct dirent *de;
    int n = 0;

    (void)state;
    snprintf(dir, sizeof(dir), "%s/policy/send", data ? data : "tests/data");
    d = opendir(dir);
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        run_case(dir, de->d_name);
        n++;
    }
    closedir(d);
    assert_true(n >= 50);
}

static void
test_cap_day_end(void **state)
{
    /* now -> the next 00:00 UTC (2026-11-23T00:00:00Z is 1795392000000) */
    static const struct {
        int64_t now, end;
    } cases[] = {
        {1795440615000LL, 1795478400000LL},     /* mid-day: the coming midnight */
        {1795392000000LL, 1795478400000LL},     /* exactly midnight: a whole day on */
        {1795392000000LL - 1, 1795392000000LL}, /* the last ms of a day: the next ms */
        {1795392000000LL + 1, 1795478400000LL}, /* the first ms after midnight */
        {0, 86400000LL},                        /* the epoch */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(policy_cap_day_end_ms(cases[i].now), cases[i].end);
}

static void
test_scope_decisions(void **state)
{
    const struct policy_route *r;
    struct policy_key k = {POLICY_SCOPE_SENDING, -1, "", "", 0};
    struct policy_decision d;

    (void)state;
    assert_int_equal(policy_route_match("GET", "/domains", &r), POLICY_ROUTE_OK);
    policy_decide(&k, r, NULL, &d);
    assert_int_equal(d.reason, POLICY_DENY_SCOPE);
    k.scope = POLICY_SCOPE_FULL;
    policy_decide(&k, r, NULL, &d);
    assert_int_equal(d.reason, POLICY_ALLOW);
    assert_int_equal(policy_route_match("POST", "/events/send", &r), POLICY_ROUTE_OK);
    k.daily_cap = 5;
    policy_decide(&k, r, NULL, &d);
    assert_int_equal(d.reason, POLICY_DENY_BLIND_SEND);
    assert_string_equal(policy_reason_name(d.reason), "scope");
    assert_int_equal(policy_route_match("GET", "/api-keys", &r), POLICY_ROUTE_OK);
    policy_decide(&k, r, NULL, &d);
    assert_int_equal(d.reason, POLICY_DENY_FORBIDDEN);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_cap_day_end),
        cmocka_unit_test(test_scope_decisions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
