/*
 * psl.c - the Public Suffix List (publicsuffix.org), read from its text and
 * asked one question: does a wildcard domain rule range over a public
 * suffix?  "*.co.uk" would let a key mail every company in the UK; the
 * admin almost certainly meant "*.example.co.uk".
 *
 * Pure: the caller reads the file (cli/) and passes its bytes; nothing here
 * does I/O.  Rules are kept as strings in the form domains take here
 * (lower-case ASCII, IDN labels as xn-- Punycode), sorted, and looked up
 * by the list's own algorithm (https://publicsuffix.org/list/, "Formal
 * algorithm"): exception rules ("!") first, then the longest normal or
 * wildcard ("*.") rule, and "*" (any TLD) when none matches.  Both the
 * ICANN and the private sections count: "*.github.io" spans every user.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "policy_int.h"

struct policy_psl {
    char **rule;
    size_t n, cap;
};

static char
digit(uint32_t d)
{
    return (char)(d < 26 ? 'a' + d : '0' + d - 26);
}

/* One UTF-8 label (len bytes) as "xn--" Punycode (RFC 3492 §6.3) into out,
 * or copied lower-cased if it is ASCII.  Returns the length, or 0 if it is
 * not UTF-8 or would pass 63 characters (no valid label can match it). */
static size_t
label_ascii(const unsigned char *s, size_t len, char out[64])
{
    uint32_t cp[64], n = 128, delta = 0, bias = 72, h, b = 0, q;
    size_t ncp = 0, o = 0;

    for (size_t i = 0; i < len;) {
        /* Strict, as for bodies: an overlong form must not turn into an
         * ASCII rule the list never had. */
        size_t k = ncp < 64 ? policy_utf8_decode(s + i, len - i, &cp[ncp]) : 0;

        if (k == 0)
            return 0;
        ncp++;
        i += k;
    }
    for (size_t i = 0; i < ncp; i++)
        if (cp[i] < 0x80)
            b++;
    if (b == ncp) {
        if (ncp > 63)
            return 0;
        for (size_t i = 0; i < ncp; i++)
            out[i] = (char)tolower((int)cp[i]);
        out[ncp] = '\0';
        return ncp;
    }
    memcpy(out, "xn--", 4);
    o = 4;
    for (size_t i = 0; i < ncp; i++)
        if (cp[i] < 0x80)
            out[o++] = (char)tolower((int)cp[i]);
    if (b > 0)
        out[o++] = '-';
    for (h = b; h < ncp;) {
        uint32_t m = UINT32_MAX;
        for (size_t i = 0; i < ncp; i++)
            if (cp[i] >= n && cp[i] < m)
                m = cp[i];
        delta += (m - n) * (h + 1); /* at most 0x10FFFF * 64: no overflow */
        n = m;
        for (size_t i = 0; i < ncp; i++) {
            if (cp[i] < n)
                delta++;
            if (cp[i] != n)
                continue;
            q = delta;
            for (uint32_t k = 36;; k += 36) {
                uint32_t t = k <= bias ? 1 : k >= bias + 26 ? 26 : k - bias;
                if (q < t)
                    break;
                if (o >= 63)
                    return 0;
                out[o++] = digit(t + (q - t) % (36 - t));
                q = (q - t) / (36 - t);
            }
            if (o >= 63)
                return 0;
            out[o++] = digit(q);
            bias = policy_punycode_adapt(delta, h + 1, h == b);
            delta = 0;
            h++;
        }
        delta++;
        n++;
    }
    out[o] = '\0';
    return o;
}

static int
cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One rule of the list's text (up to the first white space) in domain
 * form; 0, or -1 to skip it. */
static int
rule_ascii(const char *s, size_t len, char *out, size_t cap)
{
    size_t o = 0;

    if (len > 0 && s[0] == '!') {
        out[o++] = '!';
        s++, len--;
    }
    while (len > 0) {
        const char *dot = memchr(s, '.', len);
        size_t l = dot ? (size_t)(dot - s) : len, al;
        char lab[64];

        if (l == 0 || (al = label_ascii((const unsigned char *)s, l, lab)) == 0 || o + al + 2 > cap)
            return -1;
        memcpy(out + o, lab, al);
        o += al;
        if (dot == NULL)
            break;
        out[o++] = '.';
        s += l + 1, len -= l + 1;
    }
    out[o] = '\0';
    return o > 0 ? 0 : -1;
}

struct policy_psl *
policy_psl_parse(const char *text, size_t len)
{
    struct policy_psl *p = calloc(1, sizeof(*p));
    const char *s = text, *end = text + len;

    if (p == NULL)
        return NULL;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *e = nl ? nl : end;
        size_t l = 0;
        char r[POLICY_DOMAIN_MAX + 2];

        while (s + l < e && !isspace((unsigned char)s[l]))
            l++;
        if (l > 0 && !(l >= 2 && s[0] == '/' && s[1] == '/') &&
            rule_ascii(s, l, r, sizeof(r)) == 0) {
            if (p->n == p->cap) {
                size_t cap = p->cap ? p->cap * 2 : 1024;
                char **n = realloc(p->rule, cap * sizeof(*n));
                if (n == NULL)
                    goto fail;
                p->rule = n, p->cap = cap;
            }
            if ((p->rule[p->n] = strdup(r)) == NULL)
                goto fail;
            p->n++;
        }
        s = nl ? nl + 1 : end;
    }
    if (p->n > 0) /* qsort and bsearch want a real array */
        qsort(p->rule, p->n, sizeof(*p->rule), cmp);
    return p;
fail:
    policy_psl_free(p);
    return NULL;
}

size_t
policy_psl_count(const struct policy_psl *p)
{
    return p->n;
}

void
policy_psl_free(struct policy_psl *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n; i++)
        free(p->rule[i]);
    free(p->rule);
    free(p);
}

/* Is prefix + s a rule? */
static int
has(const struct policy_psl *p, const char *prefix, const char *s)
{
    char key[POLICY_DOMAIN_MAX + 8];
    const char *k = key;
    size_t pl = strlen(prefix), sl = strlen(s);

    if (p->n == 0 || pl + sl + 1 > sizeof(key))
        return 0;
    memcpy(key, prefix, pl);
    memcpy(key + pl, s, sl + 1);
    return bsearch(&k, p->rule, p->n, sizeof(*p->rule), cmp) != NULL;
}

/* Is domain (lower-case, xn-- form) itself a public suffix: are its
 * public-suffix labels all of its labels? */
static int
is_suffix(const struct policy_psl *p, const char *d)
{
    size_t labels = 1, best = 1, k = 1;
    const char *suffix[128];

    /* suffix[k - 1]: the rightmost k labels of d */
    suffix[0] = d + strlen(d);
    for (const char *c = suffix[0]; c > d; c--)
        if (c[-1] == '.' && labels < 128)
            suffix[labels++] = c;
    if (labels < 128)
        suffix[labels++] = d;
    labels--; /* suffix[0] is the empty string */
    for (k = labels; k >= 1; k--)
        if (has(p, "!", suffix[k]))
            return k - 1 == labels;
    for (k = 1; k <= labels; k++)
        if (has(p, "", suffix[k]) || (k >= 2 && has(p, "*.", suffix[k - 1])))
            best = k;
    return best == labels;
}

int
policy_psl_wildcard_over_suffix(const struct policy_psl *p, const char *rule)
{
    char probe[POLICY_DOMAIN_MAX + 4];
    const char *base;
    size_t n;

    if (strncmp(rule, "*.", 2) != 0)
        return 0;
    base = rule + 2;
    n = strlen(base);
    if (n + 3 > sizeof(probe))
        return 1;
    /* "-" is no label of any rule, so "-.base" is a public suffix only
     * when a "*.base" rule makes every child of base one. */
    memcpy(probe, "-.", 2);
    memcpy(probe + 2, base, n + 1);
    return is_suffix(p, base) || is_suffix(p, probe);
}
