/*
 * canon.c - the canonical send facts of one message (SPEC §5, the dedupe
 * window).
 *
 * Two sends are "the same send" when their sender, recipient set, subject,
 * html, text, template and attachments are identical; tags, headers,
 * scheduled_at and topic_id do not make a send different.  The facts are
 * written as one byte string that the daemon hashes (SHA-256), so only a
 * hash ever reaches Redis.  Every value is length-prefixed and tagged, so
 * no two different sets of facts can write the same bytes.  Pure: no I/O,
 * libc only.
 */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "policy.h"

struct canon {
    char *p;
    size_t n, cap;
    int nomem;
};

static void
put(struct canon *c, const void *b, size_t n)
{
    if (c->nomem)
        return;
    if (c->n + n + 1 > c->cap) {
        size_t cap = c->cap ? c->cap : 256;
        char *p;
        while (cap < c->n + n + 1)
            cap *= 2;
        if ((p = realloc(c->p, cap)) == NULL) {
            c->nomem = 1;
            return;
        }
        c->p = p;
        c->cap = cap;
    }
    memcpy(c->p + c->n, b, n);
    c->n += n;
    c->p[c->n] = '\0';
}

/* "<len>:<bytes>" */
static void
put_value(struct canon *c, const char *s, size_t n)
{
    char d[24];
    size_t k = sizeof(d);
    size_t v = n;

    d[--k] = ':';
    do
        d[--k] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    put(c, d + k, sizeof(d) - k);
    put(c, s, n);
}

/* A JSON subtree as tagged, length-prefixed values (object members in body
 * order).  Returns the index just past it. */
static size_t
put_node(struct canon *c, const struct policy_json *doc, size_t i)
{
    const struct policy_json_node *n = &doc->node[i];
    static const char tag[] = "nftdsao"; /* by enum policy_json_type */
    size_t e = i + 1;

    put(c, &tag[n->type], 1);
    switch (n->type) {
    case POLICY_JSON_NUMBER: /* its text, as written (len bytes, not NUL-ended) */
    case POLICY_JSON_STRING:
        put_value(c, n->s, n->len);
        break;
    case POLICY_JSON_ARRAY:
    case POLICY_JSON_OBJECT: {
        char len[24];
        size_t k = sizeof(len), v = n->len;
        len[--k] = ':';
        do
            len[--k] = (char)('0' + v % 10);
        while ((v /= 10) != 0);
        put(c, len + k, sizeof(len) - k);
        while (e < n->end)
            e = put_node(c, doc, e);
        break;
    }
    default:
        break;
    }
    return n->end;
}

/* The value node of member name in object obj, or 0 (none, or null). */
static size_t
member(const struct policy_json *doc, size_t obj, const char *name)
{
    size_t k = obj + 1;

    for (uint32_t i = 0; i < doc->node[obj].len; i++, k = doc->node[k + 1].end)
        if (strcmp(doc->node[k].s, name) == 0)
            return doc->node[k + 1].type == POLICY_JSON_NULL ? 0 : k + 1;
    return 0;
}

char *
policy_send_addr_lower(const char *a, char *out, size_t len)
{
    size_t i = 0;

    for (; a[i] != '\0' && i + 1 < len; i++)
        out[i] = (a[i] >= 'A' && a[i] <= 'Z') ? (char)(a[i] - 'A' + 'a') : a[i];
    out[i] = '\0';
    return out;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int
policy_send_canon(const struct policy_json *doc, size_t obj, const struct policy_rcpt *addr,
                  size_t naddr, char **out, size_t *outlen)
{
    static const char *const facts[] = {"subject", "html", "text", "template", "attachments"};
    struct canon c = {0};
    char **low = calloc(naddr ? naddr : 1, sizeof(*low));
    size_t nlow = 0, v;

    *out = NULL;
    *outlen = 0;
    if (low == NULL)
        return -1;
    put(&c, "sendcap-facts-v1\n", 17);
    /* The sender: its address as written, display name included. */
    put(&c, "F", 1);
    if ((v = member(doc, obj, "from")) != 0 && doc->node[v].type == POLICY_JSON_STRING) {
        char *f = malloc(doc->node[v].len + 1);
        if (f == NULL) {
            c.nomem = 1;
        } else {
            policy_send_addr_lower(doc->node[v].s, f, doc->node[v].len + 1);
            put_value(&c, f, strlen(f));
            free(f);
        }
    } else {
        put(&c, "-", 1);
    }
    /* The recipients as a set: lower-cased, sorted, each once. */
    for (size_t i = 0; i < naddr; i++) {
        size_t n;
        if (addr[i].kind == POLICY_ADDR_REPLY_TO)
            continue;
        n = strlen(addr[i].address) + 1;
        if ((low[nlow] = malloc(n)) == NULL) {
            c.nomem = 1;
            break;
        }
        policy_send_addr_lower(addr[i].address, low[nlow++], n);
    }
    qsort(low, nlow, sizeof(*low), cmp_str);
    put(&c, "R", 1);
    for (size_t i = 0; i < nlow; i++)
        if (i == 0 || strcmp(low[i], low[i - 1]) != 0)
            put_value(&c, low[i], strlen(low[i]));
    put(&c, ".", 1);
    for (size_t i = 0; i < nlow; i++)
        free(low[i]);
    free(low);
    for (size_t f = 0; f < sizeof(facts) / sizeof(facts[0]); f++) {
        put(&c, &"shtma"[f], 1);
        if ((v = member(doc, obj, facts[f])) != 0)
            put_node(&c, doc, v);
        else
            put(&c, "-", 1);
    }
    if (c.nomem) {
        free(c.p);
        return -1;
    }
    *out = c.p;
    *outlen = c.n;
    return 0;
}
