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
 * catch-all of its name.
 */
static const struct {
    int decision;
    const char *name;
    int status;
    const char *reason;
} rows[] = {
    {POLICY_ALLOW, NULL, 0, "ok"},
    {POLICY_DENY_SCOPE, "restricted_api_key", 0, "scope"},
    {POLICY_DENY_FORBIDDEN, "restricted_api_key", 0, "scope"},
    {POLICY_DENY_BLIND_SEND, "restricted_api_key", 0, "scope"},
    {POLICY_DENY_INVALID_BODY, "validation_error", 422, "invalid_body"},
    /* Answered 422 like any body the proxy refuses (SPEC §3's error table:
     * "missing from where required"); the from-domain list is the cause,
     * the body the fault. */
    {POLICY_DENY_FROM_REQUIRED, "validation_error", 422, "invalid_body"},
    {POLICY_DENY_FROM_DOMAIN, "invalid_from_address", 0, "from_domain"},
    {POLICY_DENY_TO_DOMAIN, "invalid_to_address", 0, "to_domain"},
    {POLICY_DENY_CAP, "daily_quota_exceeded", 0, "daily_cap"},
    /* SPEC §5's controls, decided by call.lua */
    {-1, "monthly_quota_exceeded", 0, "monthly_cap"},
    {-1, "recipient_quota_exceeded", 0, "recipient_cap"},
    {-1, "rate_limit_exceeded", 0, "rate_limit"},
    {-1, "duplicate_send", 0, "duplicate"},
    {-1, "missing_api_key", 0, "missing_key"},
    {-1, "invalid_api_key", 0, "unknown_key"},
    {-1, "vault_key_revoked", 0, "revoked"},
    {-1, "vault_key_expired", 0, "expired"},
    {-1, "not_found", 0, "not_found"},
    {-1, "method_not_allowed", 0, "method"},
    {-1, "service_unavailable", 0, "store_unavailable"},
    {-1, "application_error", 504, "upstream_timeout"},
    {-1, "application_error", 0, "upstream_error"},
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
policy_reason_of_error(int status, const char *name)
{
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        if (rows[i].name != NULL && strcmp(rows[i].name, name) == 0 &&
            (rows[i].status == 0 || rows[i].status == status))
            return rows[i].reason;
    /* Any other refusal of the request itself: a body (422) or the rest. */
    return status == 422 ? "invalid_body" : "invalid_request";
}
