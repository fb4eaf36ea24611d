/*
 * route.c - the table of Resend endpoints and what each vault key scope may
 * call.
 *
 * Sources: resend/openapi.yaml (spec 1.5.0) for every documented endpoint,
 * plus the routes the Node SDK calls that the spec leaves out (Inboxes,
 * /usage, webhook events, legacy audience contacts).  An endpoint not in the
 * table is not forwarded (404): sendcap does not guess what an unknown
 * endpoint does with a key.
 *
 * Scope (SPEC §2): `sending` may call the five email routes; `full` may call
 * everything except /api-keys…; blind sends (mail to recipients the body does
 * not list, now or later) are refused to keys with a daily cap, a to-domain
 * list or a from-domain list (SPEC §3).  POST /broadcasts is a blind send
 * because `send: true` sends it at once; updating or duplicating a broadcast
 * and creating, updating or duplicating an automation set mail up to be
 * sent later (a scheduled broadcast, an automation's send steps).
 */
#include <string.h>

#include "policy.h"

#define S POLICY_ROUTE_SEND
#define O POLICY_ROUTE_OWN_EMAIL
#define F POLICY_ROUTE_FULL
#define B POLICY_ROUTE_BLIND_SEND
#define X POLICY_ROUTE_FORBIDDEN

static const struct policy_route table[] = {
    /* sendcap's own (SPEC §5): the key's policy and usage, for any scope */
    {"GET", "/sendcap/v1/whoami", "sendcap.whoami", POLICY_ROUTE_WHOAMI},
    /* emails */
    {"POST", "/emails", "emails.send", S},
    {"POST", "/emails/batch", "emails.batch", S},
    {"GET", "/emails", "emails.list", F},
    {"GET", "/emails/metrics", "emails.metrics", F},
    {"GET", "/emails/{}", "emails.get", O},
    {"PATCH", "/emails/{}", "emails.update", O},
    {"POST", "/emails/{}/cancel", "emails.cancel", O},
    {"POST", "/emails/{}/share", "emails.share", F},
    {"GET", "/emails/{}/attachments", "emails.attachments.list", F},
    {"GET", "/emails/{}/attachments/{}", "emails.attachments.get", F},
    {"GET", "/emails/receiving", "emails.receiving.list", F},
    {"GET", "/emails/receiving/{}", "emails.receiving.get", F},
    {"GET", "/emails/receiving/{}/attachments", "emails.receiving.attachments.list", F},
    {"GET", "/emails/receiving/{}/attachments/{}", "emails.receiving.attachments.get", F},
    /* api keys: never */
    {"GET", "/api-keys", "api_keys.list", X},
    {"POST", "/api-keys", "api_keys.create", X},
    {"PATCH", "/api-keys/{}", "api_keys.update", X},
    {"DELETE", "/api-keys/{}", "api_keys.remove", X},
    /* audiences (legacy) */
    {"GET", "/audiences", "audiences.list", F},
    {"POST", "/audiences", "audiences.create", F},
    {"GET", "/audiences/{}", "audiences.get", F},
    {"DELETE", "/audiences/{}", "audiences.remove", F},
    {"GET", "/audiences/{}/contacts", "audiences.contacts.list", F},
    {"POST", "/audiences/{}/contacts", "audiences.contacts.create", F},
    {"GET", "/audiences/{}/contacts/{}", "audiences.contacts.get", F},
    {"PATCH", "/audiences/{}/contacts/{}", "audiences.contacts.update", F},
    {"DELETE", "/audiences/{}/contacts/{}", "audiences.contacts.remove", F},
    /* automations */
    {"GET", "/automations", "automations.list", F},
    {"POST", "/automations", "automations.create", B},
    {"GET", "/automations/{}", "automations.get", F},
    {"PATCH", "/automations/{}", "automations.update", B},
    {"DELETE", "/automations/{}", "automations.remove", F},
    {"POST", "/automations/{}/duplicate", "automations.duplicate", B},
    {"POST", "/automations/{}/stop", "automations.stop", F},
    {"GET", "/automations/{}/runs", "automations.runs.list", F},
    {"GET", "/automations/{}/runs/{}", "automations.runs.get", F},
    /* broadcasts */
    {"GET", "/broadcasts", "broadcasts.list", F},
    {"POST", "/broadcasts", "broadcasts.create", B},
    {"GET", "/broadcasts/{}", "broadcasts.get", F},
    {"PATCH", "/broadcasts/{}", "broadcasts.update", B},
    {"DELETE", "/broadcasts/{}", "broadcasts.remove", F},
    {"POST", "/broadcasts/{}/send", "broadcasts.send", B},
    {"POST", "/broadcasts/{}/cancel", "broadcasts.cancel", F},
    {"POST", "/broadcasts/{}/duplicate", "broadcasts.duplicate", B},
    {"GET", "/broadcasts/{}/clicked-links", "broadcasts.clicked_links", F},
    {"GET", "/broadcasts/{}/recipients", "broadcasts.recipients", F},
    /* contact properties */
    {"GET", "/contact-properties", "contact_properties.list", F},
    {"POST", "/contact-properties", "contact_properties.create", F},
    {"GET", "/contact-properties/{}", "contact_properties.get", F},
    {"PATCH", "/contact-properties/{}", "contact_properties.update", F},
    {"DELETE", "/contact-properties/{}", "contact_properties.remove", F},
    /* contacts */
    {"GET", "/contacts", "contacts.list", F},
    {"POST", "/contacts", "contacts.create", F},
    {"GET", "/contacts/imports", "contacts.imports.list", F},
    {"POST", "/contacts/imports", "contacts.imports.create", F},
    {"GET", "/contacts/imports/{}", "contacts.imports.get", F},
    {"GET", "/contacts/{}", "contacts.get", F},
    {"PATCH", "/contacts/{}", "contacts.update", F},
    {"DELETE", "/contacts/{}", "contacts.remove", F},
    {"GET", "/contacts/{}/segments", "contacts.segments.list", F},
    {"POST", "/contacts/{}/segments/{}", "contacts.segments.add", F},
    {"DELETE", "/contacts/{}/segments/{}", "contacts.segments.remove", F},
    {"GET", "/contacts/{}/topics", "contacts.topics.list", F},
    {"PATCH", "/contacts/{}/topics", "contacts.topics.update", F},
    /* domains */
    {"GET", "/domains", "domains.list", F},
    {"POST", "/domains", "domains.create", F},
    {"POST", "/domains/claim", "domains.claim", F},
    {"GET", "/domains/{}", "domains.get", F},
    {"PATCH", "/domains/{}", "domains.update", F},
    {"DELETE", "/domains/{}", "domains.remove", F},
    {"POST", "/domains/{}/verify", "domains.verify", F},
    {"GET", "/domains/{}/claim", "domains.claim.get", F},
    {"POST", "/domains/{}/claim/verify", "domains.claim.verify", F},
    /* events */
    {"GET", "/events", "events.list", F},
    {"POST", "/events", "events.create", F},
    {"POST", "/events/send", "events.send", B},
    {"GET", "/events/{}", "events.get", F},
    {"PATCH", "/events/{}", "events.update", F},
    {"DELETE", "/events/{}", "events.remove", F},
    /* inboxes (Node SDK; not in the OpenAPI spec) */
    {"GET", "/inboxes", "inboxes.list", F},
    {"POST", "/inboxes", "inboxes.create", F},
    {"GET", "/inboxes/{}", "inboxes.get", F},
    {"PATCH", "/inboxes/{}", "inboxes.update", F},
    {"DELETE", "/inboxes/{}", "inboxes.remove", F},
    {"GET", "/inboxes/{}/agent", "inboxes.agent.get", F},
    {"PATCH", "/inboxes/{}/agent", "inboxes.agent.update", F},
    {"GET", "/inboxes/{}/drafts", "inboxes.drafts.list", F},
    {"POST", "/inboxes/{}/drafts", "inboxes.drafts.create", F},
    {"GET", "/inboxes/{}/drafts/{}", "inboxes.drafts.get", F},
    {"PATCH", "/inboxes/{}/drafts/{}", "inboxes.drafts.update", F},
    {"DELETE", "/inboxes/{}/drafts/{}", "inboxes.drafts.remove", F},
    {"POST", "/inboxes/{}/drafts/{}/send", "inboxes.drafts.send", B},
    {"GET", "/inboxes/{}/labels", "inboxes.labels.list", F},
    {"POST", "/inboxes/{}/labels", "inboxes.labels.create", F},
    {"PATCH", "/inboxes/{}/labels/{}", "inboxes.labels.update", F},
    {"DELETE", "/inboxes/{}/labels/{}", "inboxes.labels.remove", F},
    {"GET", "/inboxes/{}/threads", "inboxes.threads.list", F},
    {"GET", "/inboxes/{}/threads/search", "inboxes.threads.search", F},
    {"GET", "/inboxes/{}/threads/{}", "inboxes.threads.get", F},
    {"PATCH", "/inboxes/{}/threads/{}", "inboxes.threads.update", F},
    {"DELETE", "/inboxes/{}/threads/{}", "inboxes.threads.remove", F},
    {"GET", "/inboxes/{}/threads/{}/emails", "inboxes.threads.emails.list", F},
    {"GET", "/inboxes/{}/threads/{}/emails/{}", "inboxes.threads.emails.get", F},
    {"POST", "/inboxes/{}/threads/{}/emails/{}/reply", "inboxes.threads.emails.reply", B},
    {"POST", "/inboxes/{}/threads/{}/emails/{}/forward", "inboxes.threads.emails.forward", B},
    {"POST", "/inboxes/{}/threads/{}/labels", "inboxes.threads.labels.add", F},
    {"PUT", "/inboxes/{}/threads/{}/labels", "inboxes.threads.labels.set", F},
    {"DELETE", "/inboxes/{}/threads/{}/labels/{}", "inboxes.threads.labels.remove", F},
    /* logs */
    {"GET", "/logs", "logs.list", F},
    {"GET", "/logs/{}", "logs.get", F},
    /* oauth grants */
    {"GET", "/oauth/grants", "oauth.grants.list", F},
    {"DELETE", "/oauth/grants/{}", "oauth.grants.remove", F},
    /* segments */
    {"GET", "/segments", "segments.list", F},
    {"POST", "/segments", "segments.create", F},
    {"GET", "/segments/{}", "segments.get", F},
    {"DELETE", "/segments/{}", "segments.remove", F},
    {"GET", "/segments/{}/contacts", "segments.contacts.list", F},
    /* suppressions */
    {"GET", "/suppressions", "suppressions.list", F},
    {"POST", "/suppressions", "suppressions.create", F},
    {"POST", "/suppressions/batch/add", "suppressions.batch.add", F},
    {"POST", "/suppressions/batch/remove", "suppressions.batch.remove", F},
    {"GET", "/suppressions/{}", "suppressions.get", F},
    {"DELETE", "/suppressions/{}", "suppressions.remove", F},
    /* templates */
    {"GET", "/templates", "templates.list", F},
    {"POST", "/templates", "templates.create", F},
    {"GET", "/templates/{}", "templates.get", F},
    {"PATCH", "/templates/{}", "templates.update", F},
    {"DELETE", "/templates/{}", "templates.remove", F},
    {"POST", "/templates/{}/duplicate", "templates.duplicate", F},
    {"POST", "/templates/{}/publish", "templates.publish", F},
    /* topics */
    {"GET", "/topics", "topics.list", F},
    {"POST", "/topics", "topics.create", F},
    {"GET", "/topics/{}", "topics.get", F},
    {"PATCH", "/topics/{}", "topics.update", F},
    {"DELETE", "/topics/{}", "topics.remove", F},
    /* usage (Node SDK) */
    {"GET", "/usage", "usage.get", F},
    /* webhooks */
    {"GET", "/webhooks", "webhooks.list", F},
    {"POST", "/webhooks", "webhooks.create", F},
    {"GET", "/webhooks/{}", "webhooks.get", F},
    {"PATCH", "/webhooks/{}", "webhooks.update", F},
    {"DELETE", "/webhooks/{}", "webhooks.remove", F},
    {"POST", "/webhooks/{}/signing-secret/rotate", "webhooks.signing_secret.rotate", F},
    {"GET", "/webhooks/{}/events", "webhooks.events.list", F},
    {"GET", "/webhooks/{}/events/{}", "webhooks.events.get", F},
    {"GET", "/webhooks/{}/events/{}/attempts", "webhooks.events.attempts", F},
    {"POST", "/webhooks/{}/events/{}/replay", "webhooks.events.replay", F},
};

/* A route used for any path under /api-keys that the table does not name. */
static const struct policy_route api_keys_any = {"*", "/api-keys/...", "api_keys.other", X};

const struct policy_route *
policy_route_table(size_t *n)
{
    *n = sizeof(table) / sizeof(table[0]);
    return table;
}

/*
 * Does pattern match path?  Returns -1 if not, else a specificity score:
 * literal segments count more the earlier they stand, so /emails/batch beats
 * /emails/{} and /contacts/imports/{} beats /contacts/{}/... .
 */
static int
match(const char *pattern, const char *path)
{
    const char *p = pattern, *q = path;
    int score = 0, weight = 1 << 12;

    while (*p == '/' && *q == '/') {
        const char *pe, *qe;
        size_t pl, ql;

        p++;
        q++;
        pe = strchr(p, '/');
        qe = strchr(q, '/');
        pl = pe ? (size_t)(pe - p) : strlen(p);
        ql = qe ? (size_t)(qe - q) : strlen(q);
        if (ql == 0)
            return -1;
        if (pl == 2 && memcmp(p, "{}", 2) == 0) {
            /* one segment of anything */
        } else if (pl == ql && memcmp(p, q, pl) == 0) {
            score += weight;
        } else {
            return -1;
        }
        weight >>= 1;
        p += pl;
        q += ql;
    }
    return (*p == '\0' && *q == '\0') ? score : -1;
}

enum policy_route_result
policy_route_match(const char *method, const char *path, const struct policy_route **out)
{
    const struct policy_route *best = NULL;
    int best_score = -1, path_known = 0;
    /* The path's first segment, "/emails" of "/emails/batch": a pattern
     * whose first segment is another literal cannot match, and one memcmp
     * says so (every pattern but a "/{}..." one, which match() still sees). */
    size_t first = strcspn(path + (*path == '/'), "/") + (*path == '/');

    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        const char *pat = table[i].pattern;
        int s;

        if (memcmp(pat, "/{}", 3) != 0 &&
            (strncmp(pat, path, first) != 0 || (pat[first] != '/' && pat[first] != '\0')))
            continue;
        if ((s = match(pat, path)) < 0)
            continue;
        path_known = 1;
        if (strcmp(table[i].method, method) == 0 && s > best_score) {
            best = &table[i];
            best_score = s;
        }
    }
    /* Nothing under /api-keys is ever forwarded, whatever the method. */
    if (strncmp(path, "/api-keys", 9) == 0 && (path[9] == '\0' || path[9] == '/')) {
        *out = best ? best : &api_keys_any;
        return POLICY_ROUTE_OK;
    }
    if (best != NULL) {
        *out = best;
        return POLICY_ROUTE_OK;
    }
    return path_known ? POLICY_ROUTE_BAD_METHOD : POLICY_ROUTE_NOT_FOUND;
}

int
policy_route_allowed(const struct policy_route *r, enum policy_scope scope, int has_cap,
                     int has_to_list)
{
    switch (r->cls) {
    case POLICY_ROUTE_SEND:
    case POLICY_ROUTE_OWN_EMAIL:
    case POLICY_ROUTE_WHOAMI:
        return 1;
    case POLICY_ROUTE_FULL:
        return scope == POLICY_SCOPE_FULL;
    case POLICY_ROUTE_BLIND_SEND:
        return scope == POLICY_SCOPE_FULL && !has_cap && !has_to_list;
    case POLICY_ROUTE_FORBIDDEN:
        return 0;
    }
    return 0;
}
