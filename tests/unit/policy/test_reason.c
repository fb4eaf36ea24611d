/*
 * test_reason.c - one audit vocabulary (policy/reason.c): every error the
 * proxy answers maps to the reason README "The call log" lists, and every
 * decision names the same reason as the error it is answered with
 * (proxy/call.c deny_reply), so tests and production cannot disagree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "policy/policy.h"

/* The reasons README "The call log" lists. */
static const char *const documented[] = {
    "ok",
    "daily_cap",
    "from_domain",
    "to_domain",
    "expired",
    "revoked",
    "unknown_key",
    "missing_key",
    "scope",
    "not_own_email",
    "invalid_body",
    "invalid_request",
    "not_found",
    "method",
    "store_unavailable",
    "decrypt_failed",
    "no_upstream",
    "upstream_error",
    "upstream_timeout",
    "unauthenticated_flood",
    "outcome_unknown",
};

static int
is_documented(const char *r)
{
    for (size_t i = 0; i < sizeof(documented) / sizeof(documented[0]); i++)
        if (strcmp(documented[i], r) == 0)
            return 1;
    return 0;
}

static void
test_errors(void **state)
{
    static const struct {
        int status;
        const char *name, *reason;
    } cases[] = {
        {401, "missing_api_key", "missing_key"},
        {403, "invalid_api_key", "unknown_key"},
        {403, "vault_key_revoked", "revoked"},
        {403, "vault_key_expired", "expired"},
        {401, "restricted_api_key", "scope"},
        {403, "invalid_from_address", "from_domain"},
        {403, "invalid_to_address", "to_domain"},
        {429, "daily_quota_exceeded", "daily_cap"},
        {404, "not_found", "not_found"},
        {405, "method_not_allowed", "method"},
        {503, "service_unavailable", "store_unavailable"},
        {504, "application_error", "upstream_timeout"},
        {502, "application_error", "upstream_error"},
        {422, "validation_error", "invalid_body"},
        {400, "validation_error", "invalid_request"},
        {413, "validation_error", "invalid_request"},
        {415, "validation_error", "invalid_request"},
        {422, "some_new_name", "invalid_body"},
        {400, "some_new_name", "invalid_request"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = policy_reason_of_error(cases[i].status, cases[i].name);
        if (strcmp(got, cases[i].reason) != 0)
            fail_msg("%d %s: %s, expected %s", cases[i].status, cases[i].name, got,
                     cases[i].reason);
        assert_true(is_documented(got));
    }
}

/* Each decision, the error deny_reply answers it with, and its reason. */
static void
test_decisions(void **state)
{
    static const struct {
        enum policy_reason r;
        int status;
        const char *name, *reason;
    } cases[] = {
        {POLICY_DENY_SCOPE, 401, "restricted_api_key", "scope"},
        {POLICY_DENY_FORBIDDEN, 401, "restricted_api_key", "scope"},
        {POLICY_DENY_BLIND_SEND, 401, "restricted_api_key", "scope"},
        {POLICY_DENY_INVALID_BODY, 422, "validation_error", "invalid_body"},
        {POLICY_DENY_FROM_REQUIRED, 422, "validation_error", "invalid_body"},
        {POLICY_DENY_FROM_DOMAIN, 403, "invalid_from_address", "from_domain"},
        {POLICY_DENY_TO_DOMAIN, 403, "invalid_to_address", "to_domain"},
        {POLICY_DENY_CAP, 429, "daily_quota_exceeded", "daily_cap"},
    };

    (void)state;
    assert_string_equal(policy_reason_name(POLICY_ALLOW), "ok");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *name = policy_reason_name(cases[i].r);
        const char *err = policy_reason_of_error(cases[i].status, cases[i].name);
        if (strcmp(name, cases[i].reason) != 0 || strcmp(err, name) != 0)
            fail_msg("decision %d: %s, its error %d %s: %s; expected %s", (int)cases[i].r, name,
                     cases[i].status, cases[i].name, err, cases[i].reason);
        assert_true(is_documented(name));
    }
}

/* The proxy's own reasons: the exact strings production has recorded
 * (audit output stays byte-identical), each once in the table. */
static void
test_proxy_reasons(void **state)
{
    static const struct {
        enum policy_proxy_reason r;
        const char *reason;
    } cases[] = {
        {POLICY_PROXY_OK, "ok"},
        {POLICY_PROXY_DECRYPT_FAILED, "decrypt_failed"},
        {POLICY_PROXY_NOT_OWN_EMAIL, "not_own_email"},
        {POLICY_PROXY_NO_UPSTREAM, "no_upstream"},
        {POLICY_PROXY_UPSTREAM_ERROR, "upstream_error"},
        {POLICY_PROXY_UPSTREAM_TIMEOUT, "upstream_timeout"},
        {POLICY_PROXY_OUTCOME_UNKNOWN, "outcome_unknown"},
        {POLICY_PROXY_UNAUTHENTICATED_FLOOD, "unauthenticated_flood"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = policy_proxy_reason(cases[i].r);
        if (strcmp(got, cases[i].reason) != 0)
            fail_msg("proxy reason %d: %s, expected %s", (int)cases[i].r, got, cases[i].reason);
        assert_true(is_documented(got));
    }
    /* the same reason as the error or decision that also names it */
    assert_string_equal(policy_proxy_reason(POLICY_PROXY_OK), policy_reason_name(POLICY_ALLOW));
    assert_string_equal(policy_proxy_reason(POLICY_PROXY_UPSTREAM_TIMEOUT),
                        policy_reason_of_error(504, "application_error"));
    assert_string_equal(policy_proxy_reason(POLICY_PROXY_UPSTREAM_ERROR),
                        policy_reason_of_error(502, "application_error"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_decisions),
        cmocka_unit_test(test_proxy_reasons),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
