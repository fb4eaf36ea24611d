/*
 * send.c - the facts of a send, read from its JSON body.
 *
 * What is forwarded is exactly what was checked: the body is parsed here
 * with duplicate keys refused (two "to" keys could be read one way here and
 * another way by Resend), unknown top-level fields refused (a future field
 * could carry recipients), and custom headers that name an address refused
 * (a "Bcc" header would add recipients the checks never saw).  Every
 * address is parsed with the narrow grammar of addr.c.
 *
 * Field names in refusals follow the body: "to", "cc[2]",
 * "batch[57].bcc[0]", "headers.Bcc".
 *
 * The body is read by json.c (jansson's acceptance, a flat node array);
 * values are node indexes into it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "policy.h"

static const char *const known_fields[] = {
    "from", "to",   "cc",          "bcc",          "reply_to", "subject",  "html",
    "text", "tags", "attachments", "scheduled_at", "headers",  "template", "topic_id",
};

/* out = a b c (c may be NULL), cut at size - 1 bytes as snprintf would,
 * then back to a UTF-8 character boundary: a field path that long only
 * comes from a long header name, and the message still points at it.  The
 * send path builds a path per body key and per address, so this is not a
 * printf. */
static void
join(char *out, size_t size, const char *a, const char *b, const char *c)
{
    const char *parts[3] = {a, b, c};
    size_t n = 0;

    for (int i = 0; i < 3 && parts[i] != NULL; i++)
        for (const char *p = parts[i]; *p != '\0' && n < size - 1; p++)
            out[n++] = *p;
    out[n] = '\0';
    policy_utf8_cut(out, n);
}

/* "[i]" */
static const char *
index_suffix(char out[24], size_t i)
{
    char d[21];
    size_t n = 0, o = 0;

    do
        d[n++] = (char)('0' + i % 10);
    while ((i /= 10) != 0);
    out[o++] = '[';
    while (n > 0)
        out[o++] = d[--n];
    out[o++] = ']';
    out[o] = '\0';
    return out;
}

#define FIELD(out, a, b, c) join((out), POLICY_FIELD_MAX, (a), (b), (c))

static int
refuse(struct policy_send *s, const char *field, const char *fmt, const char *arg)
{
    /* Both quote the body; a cut through a character would make them text
     * that is not UTF-8. */
    join(s->field, sizeof(s->field), field, NULL, NULL);
    snprintf(s->error, sizeof(s->error), fmt, arg ? arg : "");
    policy_utf8_cut(s->error, strlen(s->error));
    return -1;
}

static int
add_rcpt(struct policy_send *s, enum policy_addr_kind kind, const char *field,
         const struct policy_addr *a)
{
    struct policy_rcpt *r;

    if (s->naddr % 64 == 0) {
        struct policy_rcpt *n = realloc(s->addr, (s->naddr + 64) * sizeof(*n));
        if (n == NULL)
            return refuse(s, field, "out of memory%s", NULL);
        s->addr = n;
    }
    r = &s->addr[s->naddr++];
    r->kind = kind;
    join(r->field, sizeof(r->field), field, NULL, NULL);
    join(r->domain, sizeof(r->domain), a->domain, NULL, NULL);
    join(r->address, sizeof(r->address), a->local, "@", a->domain);
    return 0;
}

static int
one_addr(struct policy_send *s, const struct policy_json_node *v, const char *field,
         struct policy_addr *a)
{
    const char *why = NULL;

    if (v->type != POLICY_JSON_STRING)
        return refuse(s, field, "%s must be a string", field);
    if (policy_addr_parse(v->s, v->len, a, &why) != 0) {
        char msg[200];
        snprintf(msg, sizeof(msg), "%s is not an address sendcap accepts: %s", field, why);
        policy_utf8_cut(msg, strlen(msg));
        return refuse(s, field, "%s", msg);
    }
    return 0;
}

/* A string or an array of strings: every address is checked and kept. */
static int
read_list(struct policy_send *s, const struct policy_json *doc, size_t v, const char *prefix,
          const char *name, enum policy_addr_kind kind, size_t max, long *count)
{
    const struct policy_json_node *n = &doc->node[v];
    char field[POLICY_FIELD_MAX];
    struct policy_addr a;
    size_t e = v + 1;

    FIELD(field, prefix, name, NULL);
    if (n->type == POLICY_JSON_STRING) {
        if (one_addr(s, n, field, &a) != 0 || add_rcpt(s, kind, field, &a) != 0)
            return -1;
        *count = 1;
        return 0;
    }
    if (n->type != POLICY_JSON_ARRAY)
        return refuse(s, field, "%s must be a string or an array of strings", field);
    if (n->len > max) {
        char msg[120];
        snprintf(msg, sizeof(msg), "%s lists %u addresses; at most %zu are allowed", field,
                 (unsigned)n->len, max);
        return refuse(s, field, "%s", msg);
    }
    for (size_t i = 0; i < n->len; i++, e = doc->node[e].end) {
        char ef[POLICY_FIELD_MAX], ix[24];
        FIELD(ef, field, index_suffix(ix, i), NULL);
        if (one_addr(s, &doc->node[e], ef, &a) != 0 || add_rcpt(s, kind, ef, &a) != 0)
            return -1;
    }
    *count = (long)n->len;
    return 0;
}

/* RFC 5322 §3.6 address fields and their kin: a custom header naming one
 * would add or redirect recipients behind the checks' back. */
static int
address_header(const char *name)
{
    static const char *const exact[] = {"To", "Cc", "Bcc", "From", "Sender", "Return-Path"};
    size_t n = strlen(name);

    for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
        if (strcasecmp(name, exact[i]) == 0)
            return 1;
    if (strncasecmp(name, "Resent-", 7) == 0)
        return 1;
    /* In-Reply-To (like References) holds message ids, not addresses (RFC
     * 5322 §3.6.4): a reply must be able to thread. */
    if (strcasecmp(name, "In-Reply-To") == 0)
        return 0;
    /* Reply-To, Disposition-Notification-To, Return-Receipt-To, Errors-To,
     * Mail-Followup-To, Delivered-To, ... */
    return n >= 3 && strcasecmp(name + n - 3, "-To") == 0;
}

/* A control character in a header value: C0 but HT (RFC 5322 §2.2 allows
 * only WSP and printable text), DEL, C1 (NEL, U+0085, breaks lines for some
 * libraries), and U+2028/U+2029 (line and paragraph separators, which some
 * JavaScript and Unicode-aware code treat as line ends).  Any of them could
 * let one header be read as two somewhere between here and the recipient.
 * The value is UTF-8 (json.c checked it). */
static int
header_value_control(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p != '\0'; p++) {
        if ((*p < 0x20 && *p != '\t') || *p == 0x7F)
            return 1;
        if (p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F)
            return 1;
        if (p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9))
            return 1;
    }
    return 0;
}

static int
read_headers(struct policy_send *s, const struct policy_json *doc, size_t v, const char *prefix)
{
    char field[POLICY_FIELD_MAX];
    size_t k = v + 1;

    FIELD(field, prefix, "headers", NULL);
    if (doc->node[v].type != POLICY_JSON_OBJECT)
        return refuse(s, field, "%s must be an object", field);
    for (uint32_t i = 0; i < doc->node[v].len; i++, k = doc->node[k + 1].end) {
        const char *name = doc->node[k].s;
        const struct policy_json_node *val = &doc->node[k + 1];
        char hf[POLICY_FIELD_MAX];
        FIELD(hf, field, ".", name);
        if (*name == '\0')
            return refuse(s, hf, "%s has an empty header name", field);
        for (const char *p = name; *p; p++)
            if (*p <= ' ' || *p >= 0x7f || *p == ':')
                return refuse(s, hf, "header name %s is not a token", hf);
        /* An address header, a line break or a control character is a rule
         * the agent broke (SPEC §6's key.denied), not a malformed body. */
        s->header_rule = 1;
        if (address_header(name))
            return refuse(s, hf,
                          "%s names an address header; recipients and sender go in from, to, "
                          "cc, bcc and reply_to only",
                          hf);
        s->header_rule = val->type == POLICY_JSON_STRING;
        if (val->type != POLICY_JSON_STRING)
            return refuse(s, hf, "%s must be a string", hf);
        if (strpbrk(val->s, "\r\n") != NULL || strlen(val->s) != val->len)
            return refuse(s, hf, "%s holds a line break or NUL", hf);
        if (header_value_control(val->s))
            return refuse(s, hf, "%s holds a control character or a line separator", hf);
        s->header_rule = 0;
    }
    return 0;
}

static int
read_msg(struct policy_send *s, const struct policy_json *doc, size_t obj, const char *prefix,
         struct policy_send_msg *m)
{
    long n;
    int has_to = 0;
    size_t k = obj + 1;

    if (doc->node[obj].type != POLICY_JSON_OBJECT) {
        char f[POLICY_FIELD_MAX];
        snprintf(f, sizeof(f), "%s", *prefix ? prefix : "body");
        if (f[strlen(f) - 1] == '.')
            f[strlen(f) - 1] = '\0';
        return refuse(s, f, "%s must be a JSON object", f);
    }
    for (uint32_t i = 0; i < doc->node[obj].len; i++, k = doc->node[k + 1].end) {
        const char *key = doc->node[k].s;
        size_t v = k + 1;
        const struct policy_json_node *vn = &doc->node[v];
        char field[POLICY_FIELD_MAX];
        int known = 0;

        /* An empty key still needs a name people can find in a refusal. */
        FIELD(field, prefix, *key ? key : "\"\"", NULL);
        for (size_t f = 0; f < sizeof(known_fields) / sizeof(known_fields[0]); f++)
            if (strcmp(key, known_fields[f]) == 0)
                known = 1;
        if (!known)
            return refuse(s, field, "%s is not a field of a Resend send", field);
        if (vn->type == POLICY_JSON_NULL && strcmp(key, "to") != 0)
            continue; /* an absent optional field */
        if (strcmp(key, "from") == 0) {
            struct policy_addr a;
            if (one_addr(s, vn, field, &a) != 0)
                return -1;
            m->has_from = 1;
            join(m->from_field, sizeof(m->from_field), field, NULL, NULL);
            join(m->from_domain, sizeof(m->from_domain), a.domain, NULL, NULL);
        } else if (strcmp(key, "to") == 0) {
            if (read_list(s, doc, v, prefix, key, POLICY_ADDR_TO, POLICY_TO_MAX, &n) != 0)
                return -1;
            if (n == 0)
                return refuse(s, field, "%s must list at least one address", field);
            m->recipients += n;
            has_to = 1;
        } else if (strcmp(key, "cc") == 0 || strcmp(key, "bcc") == 0) {
            if (read_list(s, doc, v, prefix, key, key[0] == 'c' ? POLICY_ADDR_CC : POLICY_ADDR_BCC,
                          POLICY_LIST_MAX, &n) != 0)
                return -1;
            m->recipients += n;
        } else if (strcmp(key, "reply_to") == 0) {
            if (read_list(s, doc, v, prefix, key, POLICY_ADDR_REPLY_TO, POLICY_LIST_MAX, &n) != 0)
                return -1;
        } else if (strcmp(key, "headers") == 0) {
            if (read_headers(s, doc, v, prefix) != 0)
                return -1;
        } else if (strcmp(key, "tags") == 0 || strcmp(key, "attachments") == 0) {
            if (vn->type != POLICY_JSON_ARRAY)
                return refuse(s, field, "%s must be an array", field);
        } else if (strcmp(key, "template") == 0) {
            if (vn->type != POLICY_JSON_OBJECT)
                return refuse(s, field, "%s must be an object", field);
        } else if (vn->type !=
                   POLICY_JSON_STRING) { /* subject, html, text, scheduled_at, topic_id */
            return refuse(s, field, "%s must be a string", field);
        }
    }
    if (!has_to) {
        char f[POLICY_FIELD_MAX];
        FIELD(f, prefix, "to", NULL);
        return refuse(s, f, "%s is required", f);
    }
    return 0;
}

/* read_msg, then the message's address range and canonical facts. */
static int
read_one(struct policy_send *s, const struct policy_json *doc, size_t obj, const char *prefix,
         struct policy_send_msg *m)
{
    m->addr_first = s->naddr;
    if (read_msg(s, doc, obj, prefix, m) != 0)
        return -1;
    m->addr_end = s->naddr;
    if (policy_send_canon(doc, obj, s->addr + m->addr_first, m->addr_end - m->addr_first, &m->canon,
                          &m->canon_len) != 0)
        return refuse(s, "body", "out of memory%s", NULL);
    return 0;
}

int
policy_send_parse(const char *body, size_t len, int batch, struct policy_send *out)
{
    struct policy_json doc;
    char jerr[160];
    int line, rc, ret = -1;

    memset(out, 0, sizeof(*out));
    out->batch = batch;
    rc = policy_json_parse(&doc, body, len, jerr, sizeof(jerr), &line);
    if (rc != POLICY_JSON_OK) {
        char msg[256];
        if (rc == POLICY_JSON_DUPLICATE)
            snprintf(msg, sizeof(msg), "the body repeats an object key (%s)", jerr);
        else if (rc == POLICY_JSON_NOMEM)
            snprintf(msg, sizeof(msg), "out of memory");
        else if (rc == POLICY_JSON_TOO_MANY)
            snprintf(msg, sizeof(msg), "the body holds %s; no send needs that many", jerr);
        else
            snprintf(msg, sizeof(msg), "the body is not valid JSON: %s (line %d)", jerr, line);
        refuse(out, "body", "%s", msg);
        goto done;
    }
    if (!batch) {
        out->msg = calloc(1, sizeof(*out->msg));
        if (out->msg == NULL) {
            refuse(out, "body", "out of memory%s", NULL);
            goto done;
        }
        out->nmsg = 1;
        if (read_one(out, &doc, 0, "", &out->msg[0]) != 0)
            goto done;
    } else {
        size_t n = doc.node[0].len, e = 1;
        if (doc.node[0].type != POLICY_JSON_ARRAY) {
            refuse(out, "body", "a batch must be a JSON array of emails%s", NULL);
            goto done;
        }
        if (n == 0 || n > POLICY_BATCH_MAX) {
            char msg[96];
            snprintf(msg, sizeof(msg), "a batch holds 1 to %d emails; this one holds %zu",
                     POLICY_BATCH_MAX, n);
            refuse(out, "body", "%s", msg);
            goto done;
        }
        out->msg = calloc(n, sizeof(*out->msg));
        if (out->msg == NULL) {
            refuse(out, "body", "out of memory%s", NULL);
            goto done;
        }
        out->nmsg = n;
        for (size_t i = 0; i < n; i++, e = doc.node[e].end) {
            char prefix[24];
            snprintf(prefix, sizeof(prefix), "batch[%zu].", i);
            if (read_one(out, &doc, e, prefix, &out->msg[i]) != 0)
                goto done;
        }
    }
    for (size_t i = 0; i < out->nmsg; i++)
        out->recipients += out->msg[i].recipients;
    ret = 0;
done:
    policy_json_free(&doc);
    return ret;
}

void
policy_send_free(struct policy_send *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->nmsg && s->msg != NULL; i++)
        free(s->msg[i].canon);
    free(s->msg);
    free(s->addr);
    s->msg = NULL;
    s->addr = NULL;
    s->nmsg = s->naddr = 0;
}
