/*
 * policy.h - sendcap's pure decisions.
 *
 * Nothing in policy/ does I/O or reads a clock: time, key records and
 * requests come in as arguments and a verdict comes out, so every decision
 * is unit-testable from data (relayd's habit).  It links libc only (send
 * bodies are read by json.c).  The HTTP layer turns verdicts into statuses
 * and error names.
 */
#ifndef SC_POLICY_H
#define SC_POLICY_H

#include <stddef.h>
#include <stdint.h>

/* ---- routes (route.c) ---- */

enum policy_route_class {
    POLICY_ROUTE_SEND,       /* POST /emails, /emails/batch: recipients in the body */
    POLICY_ROUTE_OWN_EMAIL,  /* GET/PATCH /emails/{id}, POST /emails/{id}/cancel */
    POLICY_ROUTE_FULL,       /* every other Resend endpoint */
    POLICY_ROUTE_BLIND_SEND, /* sends mail to recipients the body does not list */
    POLICY_ROUTE_FORBIDDEN,  /* /api-keys...: would mint unguarded real keys */
    POLICY_ROUTE_WHOAMI,     /* GET /sendcap/v1/whoami: sendcap's own, never forwarded */
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
 * whether the key has a daily cap, or a to-domain or from-domain list
 * (policy_decide passes either list as has_to_list, and a gated key's hold
 * as has_cap): blind sends are refused to such keys because the proxy
 * cannot count, check or hold their recipients or sender.  Returns 1
 * (allowed) or 0.
 */
int policy_route_allowed(const struct policy_route *r, enum policy_scope scope, int has_cap,
                         int has_to_list);

/* ---- the request around a body (request.c) ---- */

/*
 * Check a request target's bytes (SPEC §3): every path byte must be an
 * RFC 3986 pchar (unreserved, sub-delims, ':' '@') or '/', so no spelling
 * of a path (a backslash, a quote, "<>{}|^`", a space, a control byte, a
 * byte >= 0x80) can reach a route at the upstream that was not checked;
 * the query, forwarded as sent, may hold visible ASCII only (what the
 * request line admits) and no fragment.  '%' is refused by the caller with
 * its own message first.  Returns 0, or -1 with *why a static reason.
 */
int policy_request_target_check(const char *target, const char **why);

/*
 * Check and normalise a request target (SPEC §3): origin-form only, no
 * percent-encoding, no fragment, policy_request_target_check's bytes, no
 * "." or ".." segment; runs of "/" fold to one, a trailing "/" is dropped,
 * and prefix ("" for none; "/resend/v1") is stripped on a segment boundary.
 * Returns 0 with *path a new string (caller frees) and *query borrowed from
 * target ("?..." or ""), or -1 with *why a static reason (answered 400),
 * or *why NULL when the path is outside the prefix (not ours: 404).
 */
int policy_request_target_normalise(const char *target, const char *prefix, char **path,
                                    const char **query, const char **why);

/*
 * A send's media type (SPEC §3): Content-Type, when present (NULL if not),
 * must be application/json, parameters aside, case-insensitive; a
 * Content-Encoding other than "identity" is refused.  Returns 0, or -1 with
 * *why a static reason (answered 415).
 */
int policy_request_media_check(const char *content_type, const char *content_encoding,
                               const char **why);

/* Is this header name an Idempotency-Key in any spelling ('_' for '-',
 * any case)?  1 or 0. */
int policy_request_idempotency_name(const char *name);

#define POLICY_SHA256_HEX 65 /* 64 hex digits + NUL */

/*
 * The Idempotency-Key value forwarded for a key family (SPEC §3):
 * "<family>:<value>", or "<family>:sha256:<hex of value>" when that would be
 * longer than max characters.  hash writes the SHA-256 of s[0..n) as
 * POLICY_SHA256_HEX bytes of lower-case hex (policy/ links libc only, so the
 * caller brings it).  Writes out (len bytes); 0, or -1 if out is too small.
 */
int policy_request_idempotency_value(const char *family, const char *value, size_t max,
                                     void (*hash)(const char *s, size_t n, char *hex), char *out,
                                     size_t len);

/* ---- headers (header.c) ---- */

/*
 * Is this request header never forwarded upstream (SPEC §3)?  Hop-by-hop
 * headers (RFC 9110 §7.6.1) and any a Connection header of the request
 * names (named_in_connection: the caller asks every Connection header, e.g.
 * with policy_header_has_token), the client's credentials, framing
 * libcurl sets itself, X-Agent-Run-Id, Accept-Encoding; method and URL
 * overrides (X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override,
 * X-Original-URL, X-Rewrite-URL); an Idempotency-Key spelled with '_' (only
 * the exact spelling is namespaced by key family).  1 or 0.
 */
int policy_header_request_dropped(const char *name, int named_in_connection);

/* Is token one of the comma-, space- or tab-separated tokens of a header
 * value such as Connection's ("close" is not in "x-closed")?
 * Case-insensitive.  1 or 0.  The one reader of such lists: the HTTP
 * parser's keep-alive and framing rules use it too. */
int policy_header_has_token(const char *value, const char *token);

/* Are two header names the same field (ASCII case-insensitive, RFC 9110
 * §5.1)?  1 or 0.  strcasecmp's answer, with the first byte compared
 * inline: most names checked against a list differ there, and the call
 * itself was most of the cost. */
int policy_header_name_eq(const char *a, const char *b);

/* Is this upstream response header not relayed to the client (hop-by-hop,
 * framing, Resend's X-Request-Id)?  1 or 0. */
int policy_header_response_dropped(const char *name);

/* ---- domains (domain.c) ---- */

#define POLICY_DOMAIN_MAX 253

/*
 * Is in[0..len) a domain sendcap accepts?  ASCII LDH labels of 1-63
 * characters, no leading or trailing hyphen, at least two labels, at most
 * 253 characters, and a last label that is not all digits (so no IPv4
 * literal passes as a domain).  1 or 0.
 */
int policy_domain_valid(const char *in, size_t len);

/*
 * Validate a domain rule ("example.com" or "*.example.com") and write it
 * lower-cased to out.  0 or -1.
 */
int policy_domain_rule_normalize(const char *in, char *out, size_t outlen);

/*
 * Does a lower-case domain match a rule?  "example.com" matches exactly
 * that domain; "*.example.com" matches its subdomains only (whole labels:
 * "a.example.com" yes, "example.com" and "badexample.com" no).  1 or 0.
 */
int policy_domain_match(const char *rule, const char *domain);

/* Does domain match any rule of a comma-joined list?  "" (no list) means
 * any domain: 1. */
int policy_domain_list_match(const char *list, const char *domain);

/* ---- addresses (addr.c) ---- */

#define POLICY_LOCAL_MAX 64
#define POLICY_NAME_MAX 256
#define POLICY_ADDR_INPUT_MAX 512

struct policy_addr {
    char name[POLICY_NAME_MAX + 1];     /* display name, "" if none */
    char local[POLICY_LOCAL_MAX + 1];   /* as written */
    char domain[POLICY_DOMAIN_MAX + 1]; /* lower-cased */
};

/*
 * Parse one address of SPEC §3's narrow grammar: "local@domain" or
 * "Display Name <local@domain>".  ASCII only; exactly one "@"; the local
 * part is dot-atom text (RFC 5322 §3.2.3) without "!" and "%"; the domain
 * as policy_domain_valid; the display name has no quotes, comments, angle
 * brackets, "@", "," ";" ":" "\" "[" "]" and no encoded words ("=?").
 * Surrounding spaces are dropped.  Anything else is refused, never guessed.
 * Returns 0, or -1 with *why set to a static reason.
 */
int policy_addr_parse(const char *s, size_t len, struct policy_addr *out, const char **why);

/* Write the canonical form ("local@domain" or "name <local@domain>"), which
 * parses back to the same address.  Returns the length, or -1 if buf is too
 * small. */
int policy_addr_format(const struct policy_addr *a, char *buf, size_t len);

/* ---- send facts (send.c) ---- */

#define POLICY_BATCH_MAX 100 /* elements of POST /emails/batch */
#define POLICY_TO_MAX 50     /* addresses in "to" (Resend's limit) */
#define POLICY_LIST_MAX 50   /* addresses in cc, bcc or reply_to */
#define POLICY_FIELD_MAX 48  /* "batch[99].reply_to[49]" fits */

enum policy_addr_kind { POLICY_ADDR_TO, POLICY_ADDR_CC, POLICY_ADDR_BCC, POLICY_ADDR_REPLY_TO };

struct policy_rcpt {
    enum policy_addr_kind kind;
    char field[POLICY_FIELD_MAX]; /* "to", "cc[2]", "batch[57].bcc[0]" */
    char domain[POLICY_DOMAIN_MAX + 1];
    char address[POLICY_LOCAL_MAX + 1 + POLICY_DOMAIN_MAX + 1]; /* local@domain */
};

struct policy_send_msg {
    int has_from;
    char from_field[POLICY_FIELD_MAX];
    char from_domain[POLICY_DOMAIN_MAX + 1];
    long recipients; /* to + cc + bcc */
    /* This message's addresses are addr[addr_first .. addr_end) of its send. */
    size_t addr_first, addr_end;
    /* Its canonical send facts (canon.c): what the dedupe window compares.
     * Owned by the send (policy_send_free); NULL when the body was refused. */
    char *canon;
    size_t canon_len;
};

struct policy_send {
    int batch;
    size_t nmsg;
    struct policy_send_msg *msg;
    size_t naddr;
    struct policy_rcpt *addr; /* every to, cc, bcc and reply_to address */
    long recipients;          /* sum over messages: what the daily cap counts */
    /* set when the body is refused */
    char field[POLICY_FIELD_MAX];
    char error[256];
    int header_rule; /* ... by a header rule (an address header, a line break or
                      * control character in a value), not for its shape */
};

/*
 * Read the send facts of a POST /emails (batch = 0) or POST /emails/batch
 * (batch = 1) body.  Refuses (returns -1, out->field and out->error set):
 * not JSON, duplicate object keys, trailing data, a body of the wrong shape,
 * a field other than from, to, cc, bcc, reply_to, subject, html, text, tags,
 * attachments, scheduled_at, headers, template, topic_id, a field of the
 * wrong type, a bad address, no "to", more than POLICY_TO_MAX "to" or
 * POLICY_LIST_MAX of another list, custom headers naming an address header
 * or holding CR/LF, an empty batch or one of more than POLICY_BATCH_MAX.
 * Returns 0 when every fact is read.  out is filled either way; release it
 * with policy_send_free.
 */
int policy_send_parse(const char *body, size_t len, int batch, struct policy_send *out);
void policy_send_free(struct policy_send *s);

/*
 * The canonical send facts of one message (SPEC §5, --dedupe-window): the
 * byte string two sends share exactly when their sender, recipient set
 * (to, cc and bcc together, lower-cased, sorted, each address once),
 * subject, html, text, template and attachments are the same.  Each fact is
 * a tag byte and a length-prefixed value ("<len>:<bytes>", "-" when absent),
 * so no value can run into the next.  The recipients are taken from
 * addr[0..naddr) (reply_to skipped); values are JSON nodes of the body,
 * template and attachments serialised from their node trees (object members
 * in body order).  Writes a new string (caller frees) to *out; 0 or -1
 * (out of memory).  Pure.
 */
struct policy_json;
int policy_send_canon(const struct policy_json *doc, size_t obj, const struct policy_rcpt *addr,
                      size_t naddr, char **out, size_t *outlen);

/* Lower-case an address (local@domain, both parts: the per-recipient cap and
 * the dedupe window compare addresses case-insensitively) into out (len
 * bytes, at least strlen(a) + 1).  Returns out. */
char *policy_send_addr_lower(const char *a, char *out, size_t len);

/* ---- settling a send (settle.c) ---- */

/* How the upstream call of a send ended (proxy/upstream.h's outcomes). */
enum policy_outcome {
    POLICY_OUTCOME_ANSWERED = 0, /* a complete answer, any status */
    POLICY_OUTCOME_NOT_SENT,     /* no byte of the request left */
    POLICY_OUTCOME_FAILED,       /* lost or garbled after sending */
    POLICY_OUTCOME_TIMEOUT,
};

/*
 * How many of the reserved sends to give back (SPEC §3): all of them on a
 * 4xx answer or a request never sent; none on a 5xx, a failure after
 * sending or a timeout (the email may have gone out); on a 2xx answer to a
 * batch (s->batch), the recipients of each element whose index Resend
 * listed under "errors" (errors[0..nerrors), any values: each valid index
 * counts once), at most reserved.  s is the send's facts.  given has
 * s->nmsg entries, zeroed by the caller: given[i] is set to 1 for each
 * message given back (every one on a full refund), so the per-message
 * controls of SPEC §5 give back exactly what the refund counted.
 */
int64_t policy_settle_refund(const struct policy_send *s, enum policy_outcome o, long status,
                             int64_t reserved, const int64_t *errors, size_t nerrors,
                             unsigned char *given);

/* ---- decisions and caps (decide.c) ---- */

/* What the policy needs of a vault key. */
struct policy_key {
    enum policy_scope scope;
    int64_t daily_cap;        /* -1: no cap */
    const char *from_domains; /* comma-joined, "" = any */
    const char *to_domains;
    int holds; /* gated or gated-new-recipients (SPEC §7): its sends wait for a
                * person, so, like a cap, it closes the blind-send routes */
};

enum policy_reason {
    POLICY_ALLOW = 0,
    POLICY_DENY_SCOPE,         /* route outside the key's scope */
    POLICY_DENY_FORBIDDEN,     /* /api-keys... */
    POLICY_DENY_BLIND_SEND,    /* unlisted recipients on a capped or listed key */
    POLICY_DENY_INVALID_BODY,  /* 422 */
    POLICY_DENY_FROM_REQUIRED, /* from-domain list and no from */
    POLICY_DENY_FROM_DOMAIN,
    POLICY_DENY_TO_DOMAIN,
    POLICY_DENY_CAP, /* decided by the reservation, named here */
};

struct policy_decision {
    enum policy_reason reason;
    int64_t sends;                      /* when allowed: emails to reserve */
    char field[POLICY_FIELD_MAX];       /* the offending field, if any */
    char domain[POLICY_DOMAIN_MAX + 1]; /* the offending domain, if any */
};

/*
 * Decide a call from the key, its route and (for send routes) the facts of
 * its body; send must be NULL for other routes and non-NULL for send routes.
 * Revocation, expiry, email ownership and the cap need Redis's clock and
 * counters and are decided by the reservation script; this decides the rest.
 */
void policy_decide(const struct policy_key *key, const struct policy_route *route,
                   const struct policy_send *send, struct policy_decision *out);

/* The audit reason (README "The call log") of a decision: "scope",
 * "invalid_body", "from_domain", "daily_cap", "ok" for POLICY_ALLOW...
 * A static string (reason.c's table). */
const char *policy_reason_name(enum policy_reason r);

/* The audit reason of an error the proxy answers with this status and
 * Resend-style name ("validation_error", "invalid_api_key"...), from the
 * same table: a decision and its error never name two reasons.  Static. */
const char *policy_reason_of_error(int status, const char *name);

/* Reasons the proxy records that neither a decision nor an error name
 * maps to (README "The call log"), from the same table. */
enum policy_proxy_reason {
    POLICY_PROXY_OK = 1,                /* forwarded and answered below 500, or whoami */
    POLICY_PROXY_DECRYPT_FAILED,        /* the real key did not open */
    POLICY_PROXY_NOT_OWN_EMAIL,         /* GET /emails/{id} of another key's email */
    POLICY_PROXY_NO_UPSTREAM,           /* the key's upstream is gone */
    POLICY_PROXY_UPSTREAM_ERROR,        /* Resend answered 5xx */
    POLICY_PROXY_UPSTREAM_TIMEOUT,      /* Resend did not answer in time */
    POLICY_PROXY_OUTCOME_UNKNOWN,       /* the record written before forwarding */
    POLICY_PROXY_UNAUTHENTICATED_FLOOD, /* the sampled record of a refused flood */
    POLICY_PROXY_HELD_QUEUE_FULL,       /* too many held sends wait for a person */
    POLICY_PROXY_HELD,                  /* a send held for a person (202) */
};

/* The audit reason of r.  A static string. */
const char *policy_proxy_reason(enum policy_proxy_reason r);

/* The next 00:00 UTC after now_ms, in ms since the epoch: when a day's
 * counters (daily cap, per-recipient cap) reset.  now_ms >= 0. */
int64_t policy_cap_day_end_ms(int64_t now_ms);

/* ---- senders outside sends (request.c) ---- */

#define POLICY_SENDER_REPLY_MAX 50

/* The sender facts of a body that names one (templates, broadcasts). */
struct policy_sender {
    int has_from;
    char from_domain[POLICY_DOMAIN_MAX + 1];
    size_t nreply;
    struct policy_sender_addr {
        char field[POLICY_FIELD_MAX];
        char domain[POLICY_DOMAIN_MAX + 1];
    } reply[POLICY_SENDER_REPLY_MAX];
    char field[POLICY_FIELD_MAX]; /* set when the body is refused */
    char error[256];
};

/* Does this route's body name a sender (from, reply_to)?  1 or 0. */
int policy_request_names_sender(const struct policy_route *r);

/*
 * Read "from" and "reply_to" (a string or an array of strings) of a JSON
 * object body, duplicate keys refused, addresses by policy_addr_parse;
 * other members are left to Resend.  Returns 0, or -1 with out->field and
 * out->error set (answered 422).
 */
int policy_request_sender_parse(const char *body, size_t len, struct policy_sender *out);

/*
 * Hold a key's lists on a sender-naming body: the from domain against the
 * from-domain list (POLICY_DENY_FROM_DOMAIN), every reply_to domain against
 * the to-domain list (POLICY_DENY_TO_DOMAIN).  A body without from passes:
 * nothing is sent by it, and the send that uses it names its own from.
 * Leaves *out alone when everything passes.
 */
void policy_request_sender_decide(const struct policy_key *key, const struct policy_sender *s,
                                  struct policy_decision *out);

/* ---- the Public Suffix List (psl.c) ---- */

struct policy_psl;

/* Read the list's text (public_suffix_list.dat: UTF-8, "//" comments, "*."
 * wildcard and "!" exception rules).  Returns a new list (caller frees with
 * policy_psl_free), or NULL when out of memory.  Rules it cannot use (not
 * UTF-8, too long) are skipped. */
struct policy_psl *policy_psl_parse(const char *text, size_t len);
void policy_psl_free(struct policy_psl *p);

/* How many rules were read: 0 means the text was not the list. */
size_t policy_psl_count(const struct policy_psl *p);

/* Is rule (normalized by policy_domain_rule_normalize) a wildcard whose
 * base is a public suffix ("*.co.uk", "*.github.io", "*.com"), or whose
 * every child is one ("*.kawasaki.jp" over "*.kawasaki.jp")?  1 or 0; an
 * exact rule is always 0: it matches one domain. */
int policy_psl_wildcard_over_suffix(const struct policy_psl *p, const char *rule);

/* ---- refusal text (utf8.c) ---- */

/* The length of the longest prefix of s[0..len) that does not end inside a
 * multibyte UTF-8 character: where to cut text that quotes a body. */
size_t policy_utf8_fit(const char *s, size_t len);

/* Cut the NUL-terminated s, whose first len bytes are kept by a bounded
 * copy, back to a character boundary (s[policy_utf8_fit(s, len)] = 0). */
void policy_utf8_cut(char *s, size_t len);

/* Write s as the inside of a JSON string (no quotes) to out, cut on a
 * character boundary to at most cap - 1 bytes, NUL-terminated; returns its
 * length.  Never fails: '"', '\\' and control bytes are escaped, and every
 * byte that is not part of well-formed UTF-8 becomes U+FFFD. */
size_t policy_utf8_json(char *out, size_t cap, const char *s);

#endif
