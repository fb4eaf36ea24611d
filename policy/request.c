/*
 * request.c - pure rules about the request around a body: its target (bytes
 * and normalisation), the media type of a send, the Idempotency-Key's
 * spellings and namespaced value, and the sender a non-send body names
 * (templates, broadcasts).  Which headers are forwarded: header.c.
 *
 * Each rule closes a way for the upstream to read a request differently
 * from the proxy (SPEC §3): a path spelling the proxy did not route, a body
 * the proxy did not read as JSON, an Idempotency-Key outside the family
 * namespace, a template whose from the
 * key's lists were never held against.  No I/O; the caller picks statuses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "policy.h"

/* RFC 3986 §3.3: pchar = unreserved / pct-encoded / sub-delims / ":" / "@".
 * pct-encoded is refused before this (SPEC §3), so '%' is not here. */
static int
path_byte(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
        return 1;
    return ch != 0 && strchr("-._~!$&'()*+,;=:@/", ch) != NULL;
}

int
policy_request_target_check(const char *target, const char **why)
{
    const char *p = target;

    for (; *p && *p != '?'; p++) {
        if (!path_byte((unsigned char)*p)) {
            *why = "the request path holds a byte outside RFC 3986 pchar (a backslash, quote, "
                   "space, <>{}|^`, control or non-ASCII byte)";
            return -1;
        }
    }
    /* The query goes upstream as sent: only what the request line admits
     * (RFC 9112 §3.2: visible ASCII), and no fragment. */
    for (; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch <= 0x20 || ch >= 0x7f || ch == '#') {
            *why = "the query string holds a byte outside visible ASCII";
            return -1;
        }
    }
    return 0;
}

/*
 * The path is compared with routes and prefix byte for byte after this, so
 * every spelling that could mean another path is refused or folded here:
 * origin-form only (RFC 9112 §3.2.1), no percent-encoding and no dot
 * segments (SPEC §3: refused, not decoded), pchar bytes only; runs of "/"
 * fold to one (a base URL's trailing slash gives "//emails") and a
 * trailing "/" is dropped; then the prefix is stripped on a segment
 * boundary.
 */
int
policy_request_target_normalise(const char *target, const char *prefix, char **path,
                                const char **query, const char **why)
{
    const char *q = strchr(target, '?');
    size_t n = q ? (size_t)(q - target) : strlen(target), pl = strlen(prefix);
    char *p, *o;

    *path = NULL;
    if (target[0] != '/') {
        *why = "the request target must be a path (absolute-form and authority-form are refused)";
        return -1;
    }
    if (memchr(target, '%', n) != NULL) {
        *why = "percent-encoded request paths are refused";
        return -1;
    }
    if (strchr(target, '#') != NULL) {
        *why = "the request target must not carry a fragment";
        return -1;
    }
    if (policy_request_target_check(target, why) != 0)
        return -1;
    if ((p = malloc(n + 2)) == NULL) {
        *why = "out of memory";
        return -1;
    }
    o = p;
    for (size_t i = 0; i < n; i++) {
        if (target[i] == '/' && o > p && o[-1] == '/')
            continue;
        *o++ = target[i];
    }
    if (o - p > 1 && o[-1] == '/')
        o--;
    *o = '\0';
    for (char *s = p; s != NULL && *s; s = strchr(s + 1, '/')) {
        if (strncmp(s, "/.", 2) == 0 &&
            (s[2] == '/' || s[2] == '\0' || (s[2] == '.' && (s[3] == '/' || s[3] == '\0')))) {
            free(p);
            *why = "dot segments (. and ..) in the request path are refused";
            return -1;
        }
    }
    if (pl > 0) {
        if (strncmp(p, prefix, pl) != 0 || (p[pl] != '/' && p[pl] != '\0')) {
            free(p);
            *why = NULL; /* not ours: 404 */
            return -1;
        }
        memmove(p, p + pl, strlen(p + pl) + 1);
        if (*p == '\0') {
            p[0] = '/';
            p[1] = '\0';
        }
    }
    *query = q ? q : "";
    *path = p;
    return 0;
}

static const char *
skip_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

int
policy_request_media_check(const char *content_type, const char *content_encoding, const char **why)
{
    static const char json[] = "application/json";

    if (content_type != NULL) {
        /* media-type = type "/" subtype *( OWS ";" OWS parameter ) (RFC 9110 §8.3.1) */
        const char *p = skip_ows(content_type);
        if (strncasecmp(p, json, sizeof(json) - 1) != 0 ||
            (*(p = skip_ows(p + sizeof(json) - 1)) != '\0' && *p != ';')) {
            *why = "a send's body must be sent as Content-Type: application/json";
            return -1;
        }
    }
    if (content_encoding != NULL) {
        const char *p = skip_ows(content_encoding), *e = p + strlen(p);
        while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((size_t)(e - p) != 8 || strncasecmp(p, "identity", 8) != 0) {
            *why = "a send's body must not carry a Content-Encoding: sendcap reads it as sent";
            return -1;
        }
    }
    return 0;
}

/* Equal, case-insensitively, with '_' and '-' taken as the same. */
static int
same_name(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a == '_' ? '-' : *a, y = *b == '_' ? '-' : *b;
        if (x != y && !((x | 0x20) == (y | 0x20) && (x | 0x20) >= 'a' && (x | 0x20) <= 'z'))
            return 0;
    }
    return *a == *b;
}

int
policy_request_idempotency_name(const char *name)
{
    return same_name(name, "Idempotency-Key");
}

/*
 * Two agents behind one real key must never share an idempotency space, and
 * one agent's retry must still replay (SPEC §3): the family prefixes the
 * value.  Past max (Resend's 256 characters) once prefixed, the value's
 * hash stands in for it, deterministically, so a retry still matches.
 */
int
policy_request_idempotency_value(const char *family, const char *value, size_t max,
                                 void (*hash)(const char *s, size_t n, char *hex), char *out,
                                 size_t len)
{
    size_t fl = strlen(family), vl = strlen(value);
    char hex[POLICY_SHA256_HEX];
    int n;

    if (fl + 1 + vl <= max)
        n = snprintf(out, len, "%s:%s", family, value);
    else {
        hash(value, vl, hex);
        n = snprintf(out, len, "%s:sha256:%s", family, hex);
    }
    return n >= 0 && (size_t)n < len ? 0 : -1;
}

/* ---- senders outside sends ---- */

int
policy_request_names_sender(const struct policy_route *r)
{
    static const char *const names[] = {
        "templates.create",  "templates.update",   "broadcasts.create",
        "broadcasts.update", "automations.create", "automations.update",
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(r->name, names[i]) == 0)
            return 1;
    return 0;
}

static int
refuse(struct policy_sender *s, const char *field, const char *msg)
{
    snprintf(s->field, sizeof(s->field), "%s", field);
    snprintf(s->error, sizeof(s->error), "%s", msg);
    return -1;
}

static int
addr_domain(struct policy_sender *s, const struct policy_json_node *v, const char *field,
            char *domain, size_t len)
{
    struct policy_addr a;
    const char *why = NULL;
    char msg[200];

    if (v->type != POLICY_JSON_STRING) {
        snprintf(msg, sizeof(msg), "%s must be a string", field);
        return refuse(s, field, msg);
    }
    if (policy_addr_parse(v->s, v->len, &a, &why) != 0) {
        snprintf(msg, sizeof(msg), "%s is not an address sendcap accepts: %s", field, why);
        return refuse(s, field, msg);
    }
    snprintf(domain, len, "%s", a.domain);
    return 0;
}

static int
reply_to(struct policy_sender *s, const struct policy_json *doc, size_t v)
{
    const struct policy_json_node *n = &doc->node[v];
    char field[POLICY_FIELD_MAX];

    if (n->type == POLICY_JSON_STRING) {
        snprintf(s->reply[0].field, sizeof(s->reply[0].field), "reply_to");
        s->nreply = 1;
        return addr_domain(s, n, "reply_to", s->reply[0].domain, sizeof(s->reply[0].domain));
    }
    if (n->type != POLICY_JSON_ARRAY)
        return refuse(s, "reply_to", "reply_to must be a string or an array of strings");
    if (n->len > POLICY_SENDER_REPLY_MAX)
        return refuse(s, "reply_to", "reply_to lists more than 50 addresses");
    for (size_t i = 0, e = v + 1; i < n->len; i++, e = doc->node[e].end) {
        struct policy_sender_addr *r = &s->reply[s->nreply];
        snprintf(field, sizeof(field), "reply_to[%zu]", i);
        if (addr_domain(s, &doc->node[e], field, r->domain, sizeof(r->domain)) != 0)
            return -1;
        snprintf(r->field, sizeof(r->field), "%s", field);
        s->nreply++;
    }
    return 0;
}

int
policy_request_sender_parse(const char *body, size_t len, struct policy_sender *out)
{
    struct policy_json doc;
    char jerr[160], msg[256];
    int line = 0, rc = -1;

    memset(out, 0, sizeof(*out));
    if (policy_json_parse(&doc, body, len, jerr, sizeof(jerr), &line) != POLICY_JSON_OK) {
        snprintf(msg, sizeof(msg), "the body is not JSON sendcap accepts: %s (line %d)", jerr,
                 line);
        refuse(out, "body", msg);
        goto done;
    }
    if (doc.n == 0 || doc.node[0].type != POLICY_JSON_OBJECT) {
        refuse(out, "body", "the body must be a JSON object");
        goto done;
    }
    for (size_t k = 1; k < doc.node[0].end; k = doc.node[k + 1].end) {
        const struct policy_json_node *key = &doc.node[k], *val = &doc.node[k + 1];

        if (val->type == POLICY_JSON_NULL)
            continue; /* null counts as absent, as in a send */
        if (strcmp(key->s, "from") == 0) {
            if (addr_domain(out, val, "from", out->from_domain, sizeof(out->from_domain)) != 0)
                goto done;
            out->has_from = 1;
        } else if (strcmp(key->s, "reply_to") == 0) {
            if (reply_to(out, &doc, k + 1) != 0)
                goto done;
        }
    }
    rc = 0;
done:
    policy_json_free(&doc);
    return rc;
}

static void
deny(struct policy_decision *out, enum policy_reason r, const char *field, const char *domain)
{
    memset(out, 0, sizeof(*out));
    out->reason = r;
    snprintf(out->field, sizeof(out->field), "%s", field);
    snprintf(out->domain, sizeof(out->domain), "%s", domain);
}

void
policy_request_sender_decide(const struct policy_key *key, const struct policy_sender *s,
                             struct policy_decision *out)
{
    if (s->has_from && !policy_domain_list_match(key->from_domains, s->from_domain)) {
        deny(out, POLICY_DENY_FROM_DOMAIN, "from", s->from_domain);
        return;
    }
    for (size_t i = 0; i < s->nreply; i++) {
        if (!policy_domain_list_match(key->to_domains, s->reply[i].domain)) {
            deny(out, POLICY_DENY_TO_DOMAIN, s->reply[i].field, s->reply[i].domain);
            return;
        }
    }
}
