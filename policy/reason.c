/*
 * reason.c - the one vocabulary of audit reasons (README "The call log").
 *
 * A call's record names why it ended as it did.  Both ways a refusal is
 * made map here: a policy decision (enum policy_reason, which tests check)
 * and an error the proxy answers by its Resend-style name (which
 * production records).  One table holds both, so a decision and the error
 * it is answered with cannot name two different reasons.
 */
#include <string.h>

#include "policy.h"

/*
 * decision: the enum policy_reason of the row, or -1 for an error no
 * decision makes (a missing key, a store failure...).  name and status:
 * the error the proxy answers with (status 0: at any status).  The first
 * row matching an error wins, so a status-specific row comes before the
 * catch-all of its name.  proxy: the enum policy_proxy_reason of the row,
 * or 0 (left out) for a reason only a decision or an error names.
 */
static const struct {
    int decision;
    const char *name;
    int status;
    const char *reason;
    int proxy;
} rows[] = {
    {POLICY_ALLOW, NULL, 0, "ok", POLICY_PROXY_OK},
    {POLICY_DENY_SCOPE, "restricted_api_key", 0, "scope", 0},
    {POLICY_DENY_FORBIDDEN, "restricted_api_key", 0, "scope", 0},
    {POLICY_DENY_BLIND_SEND, "restricted_api_key", 0, "scope", 0},
    {POLICY_DENY_INVALID_BODY, "validation_error", 422, "invalid_body", 0},
    /* Answered 422 like any body the proxy refuses (SPEC §3's error table:
     * "missing from where required"); the from-domain list is the cause,
     * the body the fault. */
    {POLICY_DENY_FROM_REQUIRED, "validation_error", 422, "invalid_body", 0},
    {POLICY_DENY_FROM_DOMAIN, "invalid_from_address", 0, "from_domain", 0},
    {POLICY_DENY_TO_DOMAIN, "invalid_to_address", 0, "to_domain", 0},
    {POLICY_DENY_CAP, "daily_quota_exceeded", 0, "daily_cap", 0},
    /* SPEC §5's controls, decided by call.lua */
    {-1, "monthly_quota_exceeded", 0, "monthly_cap", 0},
    {-1, "recipient_quota_exceeded", 0, "recipient_cap", 0},
    {-1, "rate_limit_exceeded", 0, "rate_limit", 0},
    {-1, "duplicate_send", 0, "duplicate", 0},
    {-1, "missing_api_key", 0, "missing_key", 0},
    {-1, "invalid_api_key", 0, "unknown_key", 0},
    {-1, "vault_key_revoked", 0, "revoked", 0},
    {-1, "vault_key_expired", 0, "expired", 0},
    {-1, "not_found", 0, "not_found", 0},
    {-1, "method_not_allowed", 0, "method", 0},
    {-1, "service_unavailable", 0, "store_unavailable", 0},
    {-1, "application_error", 504, "upstream_timeout", POLICY_PROXY_UPSTREAM_TIMEOUT},
    {-1, "application_error", 0, "upstream_error", POLICY_PROXY_UPSTREAM_ERROR},
    /* Recorded by the proxy itself, answered with an error of another name
     * (decrypt_failed and no_upstream: 503 service_unavailable) or none. */
    {-1, NULL, 0, "decrypt_failed", POLICY_PROXY_DECRYPT_FAILED},
    {-1, NULL, 0, "not_own_email", POLICY_PROXY_NOT_OWN_EMAIL},
    {-1, NULL, 0, "no_upstream", POLICY_PROXY_NO_UPSTREAM},
    {-1, NULL, 0, "outcome_unknown", POLICY_PROXY_OUTCOME_UNKNOWN},
    {-1, NULL, 0, "unauthenticated_flood", POLICY_PROXY_UNAUTHENTICATED_FLOOD},
    {-1, NULL, 0, "held_queue_full", POLICY_PROXY_HELD_QUEUE_FULL},
    {-1, NULL, 0, "held", POLICY_PROXY_HELD},
};

const char *
policy_reason_name(enum policy_reason r)
{
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        if (rows[i].decision == (int)r)
            return rows[i].reason;
    return "unknown";
}

const char *
policy_proxy_reason(enum policy_proxy_reason r)
{
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        if (rows[i].proxy == (int)r)
            return rows[i].reason;
    return "unknown";
}

const char *
policy_reason_of_error(int status, const char *name)
{
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        if (rows[i].name != NULL && strcmp(rows[i].name, name) == 0 &&
            (rows[i].status == 0 || rows[i].status == status))
            return rows[i].reason;
    /* Any other refusal of the request itself: a body (422) or the rest. */
    return status == 422 ? "invalid_body" : "invalid_request";
}
