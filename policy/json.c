/*
 * json.c - the JSON reader of the send path.  See json.h.
 *
 * Recursive descent over the buffer, as jansson's load.c, with the same
 * acceptance rule by rule: the byte classes of its lexer, its UTF-8 checks
 * (utf8_check_first/utf8_check_full), its escape and surrogate rules, its
 * number grammar and range checks, its depth count (every value, scalars
 * included), and the duplicate check made as each key is read.  What
 * differs is the work: no per-byte stream calls, no per-value allocation,
 * no hash table per object.
 */
#include "json.h"
#include "policy.h"
#include "policy_int.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct reader {
    struct policy_json *d;
    const unsigned char *p, *end;
    int line;
    int depth;
    char *err;
    size_t errlen;
};

static int __attribute__((format(printf, 3, 4)))
fail(struct reader *r, int rc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->err, r->errlen, fmt, ap);
    va_end(ap);
    return rc;
}

/* node_new said no: out of memory, or too many values. */
static int
node_fail(struct reader *r, long rc)
{
    if (rc == -2)
        return fail(r, POLICY_JSON_TOO_MANY, "more than %u values", POLICY_JSON_MAX_NODES);
    return fail(r, POLICY_JSON_NOMEM, "out of memory");
}

static void
skip_ws(struct reader *r)
{
    while (r->p < r->end) {
        if (*r->p == '\n')
            r->line++;
        else if (*r->p != ' ' && *r->p != '\t' && *r->p != '\r')
            break;
        r->p++;
    }
}

/* A node of this type; its index, -1 when out of memory, -2 past
 * POLICY_JSON_MAX_NODES. */
static long
node_new(struct reader *r, int type)
{
    struct policy_json *d = r->d;
    struct policy_json_node *x;

    if (d->n == d->cap) {
        size_t cap = d->cap * 2;
        if (d->n >= POLICY_JSON_MAX_NODES)
            return -2;
        if (cap > POLICY_JSON_MAX_NODES)
            cap = POLICY_JSON_MAX_NODES;
        struct policy_json_node *n = realloc(d->node, cap * sizeof(*n));
        if (n == NULL)
            return -1;
        d->node = n;
        d->cap = cap;
    }
    x = &d->node[d->n];
    x->type = (uint8_t)type;
    x->end = (uint32_t)d->n + 1;
    x->len = 0;
    x->s = NULL;
    return (long)d->n++;
}

static int
hex4(const unsigned char *p, const unsigned char *end, uint32_t *out)
{
    uint32_t v = 0;

    if (end - p < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static char *
put_utf8(char *o, uint32_t v)
{
    if (v < 0x80) {
        *o++ = (char)v;
    } else if (v < 0x800) {
        *o++ = (char)(0xC0 | (v >> 6));
        *o++ = (char)(0x80 | (v & 0x3F));
    } else if (v < 0x10000) {
        *o++ = (char)(0xE0 | (v >> 12));
        *o++ = (char)(0x80 | ((v >> 6) & 0x3F));
        *o++ = (char)(0x80 | (v & 0x3F));
    } else {
        *o++ = (char)(0xF0 | (v >> 18));
        *o++ = (char)(0x80 | ((v >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((v >> 6) & 0x3F));
        *o++ = (char)(0x80 | (v & 0x3F));
    }
    return o;
}

/* Bytes a string holds as they are: printable ASCII but '"' and '\\'. */
static const unsigned char plain[256] = {
    [0x20] = 1,
    [0x21] = 1,
    [0x23 ... 0x5B] = 1,
    [0x5D ... 0x7F] = 1,
};

/* At '"': decode into the arena (a string's decoded bytes and its NUL
 * never outgrow its quoted source, so the arena of len + 1 holds all). */
static int
read_string(struct reader *r, long *idx)
{
    struct policy_json *d = r->d;
    const unsigned char *p = r->p + 1, *end = r->end;
    char *start = d->arena + d->used, *o = start;
    uint32_t v, v2;
    size_t n;

    for (;;) {
        const unsigned char *run = p;

        while (p < end && plain[*p])
            p++;
        memcpy(o, run, (size_t)(p - run));
        o += p - run;
        if (p >= end)
            return fail(r, POLICY_JSON_INVALID, "premature end of input");
        if (*p == '"')
            break;
        if (*p == '\n')
            return fail(r, POLICY_JSON_INVALID, "unexpected newline");
        if (*p < 0x20)
            return fail(r, POLICY_JSON_INVALID, "control character 0x%x", *p);
        if (*p >= 0x80) {
            /* Held to what jansson decodes (the fuzzer compares the
             * two); *p >= 0x80 here, so 1 is never its answer. */
            if ((n = policy_utf8_decode(p, (size_t)(end - p), NULL)) == 0)
                return fail(r, POLICY_JSON_INVALID, "unable to decode byte 0x%x", *p);
            memcpy(o, p, n);
            o += n;
            p += n;
            continue;
        }
        /* a backslash */
        if (end - p < 2)
            return fail(r, POLICY_JSON_INVALID, "premature end of input");
        switch (p[1]) {
        case '"':
        case '\\':
        case '/':
            *o++ = (char)p[1];
            break;
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 't':
            *o++ = '\t';
            break;
        case 'u':
            if (hex4(p + 2, end, &v) != 0)
                return fail(r, POLICY_JSON_INVALID, "invalid escape");
            p += 6;
            if (v >= 0xD800 && v <= 0xDBFF) {
                if (end - p < 2 || p[0] != '\\' || p[1] != 'u')
                    return fail(r, POLICY_JSON_INVALID, "invalid Unicode '\\u%04X'", v);
                if (hex4(p + 2, end, &v2) != 0)
                    return fail(r, POLICY_JSON_INVALID, "invalid escape");
                if (v2 < 0xDC00 || v2 > 0xDFFF)
                    return fail(r, POLICY_JSON_INVALID, "invalid Unicode '\\u%04X\\u%04X'", v, v2);
                v = ((v - 0xD800) << 10) + (v2 - 0xDC00) + 0x10000;
                p += 6;
            } else if (v >= 0xDC00 && v <= 0xDFFF) {
                return fail(r, POLICY_JSON_INVALID, "invalid Unicode '\\u%04X'", v);
            } else if (v == 0) {
                return fail(r, POLICY_JSON_INVALID, "\\u0000 is not allowed");
            }
            o = put_utf8(o, v);
            continue;
        default:
            return fail(r, POLICY_JSON_INVALID, "invalid escape");
        }
        p += 2;
    }
    *o = '\0';
    if ((*idx = node_new(r, POLICY_JSON_STRING)) < 0)
        return node_fail(r, *idx);
    d->node[*idx].s = start;
    d->node[*idx].len = (uint32_t)(o - start);
    d->used += (size_t)(o - start) + 1;
    r->p = p + 1;
    return 0;
}

static int
is_digit(const unsigned char *p, const unsigned char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

static int
read_number(struct reader *r)
{
    const unsigned char *p = r->p, *end = r->end, *digits;
    int neg = 0, real = 0;
    long idx;

    if (*p == '-')
        neg = 1, p++;
    digits = p;
    if (p < end && *p == '0') {
        p++;
        if (is_digit(p, end))
            return fail(r, POLICY_JSON_INVALID, "invalid token");
    } else if (is_digit(p, end)) {
        while (is_digit(p, end))
            p++;
    } else {
        return fail(r, POLICY_JSON_INVALID, "invalid token");
    }
    if (p < end && *p == '.') {
        real = 1;
        if (!is_digit(++p, end))
            return fail(r, POLICY_JSON_INVALID, "invalid token");
        while (is_digit(p, end))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        real = 1;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (!is_digit(p, end))
            return fail(r, POLICY_JSON_INVALID, "invalid token");
        while (is_digit(p, end))
            p++;
    }
    if (!real) {
        /* strtoll's ERANGE, without a copy: more digits than int64 has, or
         * as many and above its limit. */
        size_t nd = (size_t)(p - digits);
        if (nd > 19 ||
            (nd == 19 &&
             memcmp(digits, neg ? "9223372036854775808" : "9223372036854775807", 19) > 0))
            return fail(r, POLICY_JSON_INVALID, "too big %sinteger", neg ? "negative " : "");
    } else {
        size_t n = (size_t)(p - r->p);
        char small[64], *text = n < sizeof(small) ? small : malloc(n + 1);
        double v;
        int overflow;

        if (text == NULL)
            return fail(r, POLICY_JSON_NOMEM, "out of memory");
        memcpy(text, r->p, n);
        text[n] = '\0';
        errno = 0;
        v = strtod(text, NULL);
        overflow = (v == HUGE_VAL || v == -HUGE_VAL) && errno == ERANGE;
        if (text != small)
            free(text);
        if (overflow)
            return fail(r, POLICY_JSON_INVALID, "real number overflow");
    }
    if ((idx = node_new(r, POLICY_JSON_NUMBER)) < 0)
        return node_fail(r, idx);
    r->d->node[idx].s = (const char *)r->p;
    r->d->node[idx].len = (uint32_t)(p - r->p);
    r->p = p;
    return 0;
}

static uint32_t
key_hash(uint32_t obj, const char *s, size_t n)
{
    uint32_t h = 2166136261u ^ (obj * 2654435761u);

    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* Adds key node k of object obj to the seen set; 1 if obj already has it. */
static int
seen_add(struct reader *r, uint32_t obj, uint32_t k)
{
    struct policy_json *d = r->d;
    const struct policy_json_node *kn = &d->node[k];
    size_t mask, i;

    if ((d->seen_n + 1) * 2 > d->seen_cap) {
        size_t cap = d->seen_cap ? d->seen_cap * 2 : 64;
        uint32_t *t = calloc(cap * 2, sizeof(*t)), *old = d->seen;

        if (t == NULL)
            return -1;
        for (size_t j = 0; j < d->seen_cap; j++) {
            if (old[2 * j + 1] == 0)
                continue;
            const struct policy_json_node *o = &d->node[old[2 * j + 1]];
            i = key_hash(old[2 * j], o->s, o->len) & (cap - 1);
            while (t[2 * i + 1] != 0)
                i = (i + 1) & (cap - 1);
            t[2 * i] = old[2 * j];
            t[2 * i + 1] = old[2 * j + 1];
        }
        free(old);
        d->seen = t;
        d->seen_cap = cap;
    }
    mask = d->seen_cap - 1;
    for (i = key_hash(obj, kn->s, kn->len) & mask; d->seen[2 * i + 1] != 0; i = (i + 1) & mask) {
        const struct policy_json_node *o = &d->node[d->seen[2 * i + 1]];
        if (d->seen[2 * i] == obj && o->len == kn->len && memcmp(o->s, kn->s, kn->len) == 0)
            return 1;
    }
    d->seen[2 * i] = obj;
    d->seen[2 * i + 1] = k; /* never 0: node 0 is the top value */
    d->seen_n++;
    return 0;
}

static int read_value(struct reader *r);

/* Past '{' or '[' (open) or a member or element: 1 when another follows
 * (after a comma, or after the opening when it is not closed at once), 0
 * at the closing byte (consumed), or jansson's "'}' expected". */
static int
more(struct reader *r, int open, unsigned char close)
{
    skip_ws(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
        return 0;
    }
    if (open)
        return 1;
    if (r->p < r->end && *r->p == ',') {
        r->p++;
        skip_ws(r);
        return 1;
    }
    return fail(r, POLICY_JSON_INVALID, "'%c' expected", close);
}

/* At '{' or '[': the members or elements, then the extent and count. */
static int
read_container(struct reader *r, int type)
{
    long c = node_new(r, type), k;
    unsigned char close = type == POLICY_JSON_OBJECT ? '}' : ']';
    uint32_t count = 0;
    int rc;

    if (c < 0)
        return node_fail(r, c);
    r->p++;
    for (rc = more(r, 1, close); rc == 1; rc = more(r, 0, close)) {
        if (type == POLICY_JSON_OBJECT) {
            if (r->p >= r->end || *r->p != '"')
                return fail(r, POLICY_JSON_INVALID, "string or '}' expected");
            if ((rc = read_string(r, &k)) != 0)
                return rc;
            if ((rc = seen_add(r, (uint32_t)c, (uint32_t)k)) != 0)
                return rc < 0 ? fail(r, POLICY_JSON_NOMEM, "out of memory")
                              : fail(r, POLICY_JSON_DUPLICATE, "duplicate object key '%.*s'",
                                     (int)policy_utf8_fit(r->d->node[k].s,
                                                          strnlen(r->d->node[k].s, 40)),
                                     r->d->node[k].s);
            skip_ws(r);
            if (r->p >= r->end || *r->p != ':')
                return fail(r, POLICY_JSON_INVALID, "':' expected");
            r->p++;
            skip_ws(r);
        }
        if ((rc = read_value(r)) != 0)
            return rc;
        count++;
    }
    if (rc != 0)
        return rc;
    r->d->node[c].len = count;
    r->d->node[c].end = (uint32_t)r->d->n;
    return 0;
}

static int
is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* One value at r->p (whitespace skipped).  Like jansson, every value
 * counts towards the depth, scalars too. */
static int
read_value(struct reader *r)
{
    const unsigned char *p = r->p;
    int rc;

    if (++r->depth > POLICY_JSON_MAX_DEPTH)
        return fail(r, POLICY_JSON_INVALID, "maximum parsing depth reached");
    if (p >= r->end)
        return fail(r, POLICY_JSON_INVALID, "unexpected end of input");
    if (*p == '{') {
        rc = read_container(r, POLICY_JSON_OBJECT);
    } else if (*p == '[') {
        rc = read_container(r, POLICY_JSON_ARRAY);
    } else if (*p == '"') {
        long k;
        rc = read_string(r, &k);
    } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
        rc = read_number(r);
    } else if (is_alpha(*p)) {
        const unsigned char *q = p;
        size_t n;
        int type = -1;

        while (q < r->end && is_alpha(*q))
            q++;
        n = (size_t)(q - p);
        if (n == 4 && memcmp(p, "true", 4) == 0)
            type = POLICY_JSON_TRUE;
        else if (n == 5 && memcmp(p, "false", 5) == 0)
            type = POLICY_JSON_FALSE;
        else if (n == 4 && memcmp(p, "null", 4) == 0)
            type = POLICY_JSON_NULL;
        if (type < 0)
            return fail(r, POLICY_JSON_INVALID, "invalid token");
        long x = node_new(r, type);
        if (x < 0)
            return node_fail(r, x);
        r->p = q;
        rc = 0;
    } else {
        if (*p == ',' || *p == ':' || *p == ']' || *p == '}')
            return fail(r, POLICY_JSON_INVALID, "unexpected token");
        return fail(r, POLICY_JSON_INVALID, "invalid token");
    }
    r->depth--;
    return rc;
}

int
policy_json_parse(struct policy_json *doc, const char *buf, size_t len, char *err, size_t errlen,
                  int *line)
{
    struct reader r = {
        doc, (const unsigned char *)buf, (const unsigned char *)buf + len, 1, 0, err, errlen};
    int rc;

    memset(doc, 0, sizeof(*doc));
    err[0] = '\0';
    /* Grown by doubling; a body that is mostly one long string (an
     * attachment) needs few nodes, so start small. */
    doc->cap = len / 16 + 16 < 4096 ? len / 16 + 16 : 4096;
    doc->node = malloc(doc->cap * sizeof(*doc->node));
    doc->arena = malloc(len + 1);
    if (doc->node == NULL || doc->arena == NULL) {
        rc = fail(&r, POLICY_JSON_NOMEM, "out of memory");
        goto out;
    }
    skip_ws(&r);
    if (r.p >= r.end || (*r.p != '{' && *r.p != '[')) {
        rc = fail(&r, POLICY_JSON_INVALID, "'[' or '{' expected");
        goto out;
    }
    if ((rc = read_value(&r)) != 0)
        goto out;
    skip_ws(&r);
    if (r.p != r.end)
        rc = fail(&r, POLICY_JSON_INVALID, "end of file expected");
out:
    *line = r.line;
    return rc;
}

void
policy_json_free(struct policy_json *doc)
{
    free(doc->node);
    free(doc->arena);
    free(doc->seen);
    memset(doc, 0, sizeof(*doc));
}
