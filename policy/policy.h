/*
 * policy.h - sendcap's pure decisions.
 *
 * Nothing in policy/ does I/O or reads a clock: time, key records and
 * requests come in as arguments and a verdict comes out, so every decision
 * is unit-testable from data (relayd's habit).  It links libc and jansson
 * only.  The HTTP layer turns verdicts into statuses and error names.
 */
#ifndef SC_POLICY_H
#define SC_POLICY_H

#include <stddef.h>

/* ---- routes (route.c) ---- */

enum policy_route_class {
    POLICY_ROUTE_SEND,       /* POST /emails, /emails/batch: recipients in the body */
    POLICY_ROUTE_OWN_EMAIL,  /* GET/PATCH /emails/{id}, POST /emails/{id}/cancel */
    POLICY_ROUTE_FULL,       /* every other Resend endpoint */
    POLICY_ROUTE_BLIND_SEND, /* sends mail to recipients the body does not list */
    POLICY_ROUTE_FORBIDDEN,  /* /api-keys...: would mint unguarded real keys */
};

struct policy_route {
    const char *method;
    const char *pattern; /* "/emails/{}"; "{}" is one non-empty segment */
    const char *name;    /* "emails.send" */
    enum policy_route_class cls;
};

enum policy_route_result {
    POLICY_ROUTE_OK = 0,
    POLICY_ROUTE_NOT_FOUND, /* no endpoint has this path */
    POLICY_ROUTE_BAD_METHOD /* the path exists, not with this method */
};

/*
 * Classify METHOD PATH (path without query, already normalised: starts with
 * "/", no empty, "." or ".." segments).  Any path under /api-keys, known or
 * not, is POLICY_ROUTE_FORBIDDEN.  *out is a borrowed pointer into a static
 * table, set only on POLICY_ROUTE_OK.
 */
enum policy_route_result policy_route_match(const char *method, const char *path,
                                            const struct policy_route **out);

/* The static route table, for tests: *n receives its length. */
const struct policy_route *policy_route_table(size_t *n);

enum policy_scope { POLICY_SCOPE_SENDING = 0, POLICY_SCOPE_FULL };

/*
 * May a key of this scope call this route?  has_cap / has_to_list say
 * whether the key has a daily cap or a to-domain list: blind sends are
 * refused to such keys because the proxy cannot count or check their
 * recipients.  Returns 1 (allowed) or 0.
 */
int policy_route_allowed(const struct policy_route *r, enum policy_scope scope, int has_cap,
                         int has_to_list);

/* ---- domains (domain.c) ---- */

/*
 * Validate a domain rule ("example.com" or "*.example.com": LDH labels of
 * 1-63 characters, no leading or trailing hyphen, at least two labels, 253
 * characters at most) and write it lower-cased to out.  0 or -1.
 */
int policy_domain_rule_normalize(const char *in, char *out, size_t outlen);

#endif
