/*
 * decide.c - what a vault key may do with a call, from data alone.
 *
 * Order of checks, first failure wins: scope (and /api-keys, and blind
 * sends), the body's validity, a from address where the key has a
 * from-domain list, the from domain, then every to/cc/bcc/reply_to domain
 * in body order.  The cap is decided atomically by call.lua in Redis, where
 * the counter is.
 */
#include <stdio.h>
#include <string.h>

#include "policy.h"

static void
deny(struct policy_decision *out, enum policy_reason r, const char *field, const char *domain)
{
    out->reason = r;
    out->sends = 0;
    snprintf(out->field, sizeof(out->field), "%s", field ? field : "");
    snprintf(out->domain, sizeof(out->domain), "%s", domain ? domain : "");
}

void
policy_decide(const struct policy_key *key, const struct policy_route *route,
              const struct policy_send *send, struct policy_decision *out)
{
    memset(out, 0, sizeof(*out));
    if (!policy_route_allowed(route, key->scope, key->daily_cap >= 0 || key->holds,
                              key->to_domains[0] != '\0' || key->from_domains[0] != '\0')) {
        if (route->cls == POLICY_ROUTE_FORBIDDEN)
            deny(out, POLICY_DENY_FORBIDDEN, NULL, NULL);
        else if (route->cls == POLICY_ROUTE_BLIND_SEND && key->scope == POLICY_SCOPE_FULL)
            deny(out, POLICY_DENY_BLIND_SEND, NULL, NULL);
        else
            deny(out, POLICY_DENY_SCOPE, NULL, NULL);
        return;
    }
    if (route->cls != POLICY_ROUTE_SEND || send == NULL)
        return;
    if (send->error[0] != '\0') {
        deny(out, POLICY_DENY_INVALID_BODY, send->field, NULL);
        return;
    }
    for (size_t i = 0; i < send->nmsg; i++) {
        const struct policy_send_msg *m = &send->msg[i];

        if (key->from_domains[0] == '\0')
            continue;
        if (!m->has_from) {
            char f[POLICY_FIELD_MAX];
            snprintf(f, sizeof(f), send->batch ? "batch[%zu].from" : "from", i);
            deny(out, POLICY_DENY_FROM_REQUIRED, f, NULL);
            return;
        }
        if (!policy_domain_list_match(key->from_domains, m->from_domain)) {
            deny(out, POLICY_DENY_FROM_DOMAIN, m->from_field, m->from_domain);
            return;
        }
    }
    for (size_t i = 0; i < send->naddr; i++) {
        if (!policy_domain_list_match(key->to_domains, send->addr[i].domain)) {
            deny(out, POLICY_DENY_TO_DOMAIN, send->addr[i].field, send->addr[i].domain);
            return;
        }
    }
    out->sends = send->recipients;
}

int64_t
policy_cap_day_end_ms(int64_t now_ms)
{
    int64_t day_ms = 86400LL * 1000;

    return (now_ms / day_ms + 1) * day_ms;
}
