/*
 * header.c - which headers cross the proxy, one owner for every rule.
 *
 * A request header the upstream would read differently from the proxy,
 * or that belongs to this hop, never goes upstream (SPEC §3); a response
 * header that belongs to the hop between Resend and the proxy never comes
 * back.  The proxy adds its own framing, credentials and X-Request-Id.
 * No I/O: the caller holds the headers and writes them.
 */
#include <string.h>
#include <strings.h>

#include "policy.h"

int
policy_header_name_eq(const char *a, const char *b)
{
    /* Bit 0x20 is the ASCII case bit: equal letters agree once it is set,
     * and so do equal non-letters, so no pair strcasecmp calls equal is
     * turned away here. */
    if ((*a | 0x20) != (*b | 0x20))
        return 0;
    return strcasecmp(a, b) == 0;
}

static int
listed(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (policy_header_name_eq(name, list[i]))
            return 1;
    return 0;
}

int
policy_header_has_token(const char *value, const char *token)
{
    size_t tl = strlen(token);

    while (*value != '\0') {
        size_t n;

        value += strspn(value, " \t,");
        n = strcspn(value, " \t,");
        if (n == tl && strncasecmp(value, token, n) == 0)
            return 1;
        value += n;
    }
    return 0;
}

int
policy_header_request_dropped(const char *name, int named_in_connection)
{
    /* Hop-by-hop (RFC 9110 §7.6.1), the client's credentials, framing
     * libcurl sets itself, and ours. */
    static const char *const hop[] = {
        "Host",
        "Authorization",
        "Connection",
        "Keep-Alive",
        "Proxy-Connection",
        "Proxy-Authorization",
        "Proxy-Authenticate",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
        "Content-Length",
        "Expect",
        "X-Agent-Run-Id",
        "Accept-Encoding",
    };
    /* Method and URL overrides: the upstream would route what the proxy
     * did not. */
    static const char *const override[] = {
        "X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override",
        "X-Original-URL",         "X-Rewrite-URL",
    };

    if (listed(name, hop, sizeof(hop) / sizeof(hop[0])) ||
        listed(name, override, sizeof(override) / sizeof(override[0])))
        return 1;
    /* Fields the client named in any Connection header are hop-by-hop
     * too. */
    if (named_in_connection)
        return 1;
    /* Servers that map '_' to '-' would read it as an Idempotency-Key
     * outside the family's namespace: drop it rather than guess. */
    return policy_request_idempotency_name(name) && strchr(name, '_') != NULL;
}

int
policy_header_response_dropped(const char *name)
{
    /* Hop-by-hop and framing of the upstream connection, and Resend's
     * X-Request-Id, which comes back as X-Upstream-Request-Id beside ours. */
    static const char *const drop[] = {
        "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade",
        "Trailer",    "TE",         "Content-Length",   "X-Request-Id",
    };

    return listed(name, drop, sizeof(drop) / sizeof(drop[0]));
}
