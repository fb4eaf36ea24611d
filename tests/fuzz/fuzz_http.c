/*
 * fuzz_http.c - libFuzzer target for the HTTP request parser
 * (proxy/http_parse.c).
 *
 * The first byte seeds the split points; the rest is what a client sent.
 * Invariants, beyond "no crash":
 *  a. every input is refused (400/413, with a message), or parsed into
 *     exactly one method, target, header list and body with the offset where
 *     the request ends, or is incomplete (every byte used, asking for more);
 *     events come in order (HEAD once, BODY slices, DONE) and a parsed head
 *     obeys the rules (one Host on HTTP/1.1, token names, trimmed values);
 *  b. re-serialising what would be forwarded (request line, headers without
 *     Transfer-Encoding/Content-Length, the de-chunked body with a
 *     Content-Length) parses to the same method, target, headers and body,
 *     ending exactly at its end;
 *  c. feeding the input whole, byte by byte, and in splits chosen by the
 *     first byte gives the same result and the same end offset;
 *  d. on accepted inputs an independent strict reader (find CRLFCRLF, read
 *     Content-Length or walk the chunks) agrees on the end offset and body.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proxy/http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Small, so that 413 for a body is reachable within -max_len. */
#define FUZZ_MAX_BODY 1000

#define check(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_http: invariant failed: %s (line %d)\n", #cond, __LINE__);       \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

struct result {
    enum proxy_http_parse_event ev; /* DONE, ERROR, or MORE: incomplete */
    int head;                       /* HEAD was seen */
    int status;
    char msg[200];
    char *method, *target;
    int minor;
    int nh;
    char *name[128], *value[128];
    enum proxy_http_framing framing;
    int64_t length;
    char *body;
    size_t blen, bcap;
    size_t end; /* bytes used, through DONE */
};

static char *
dup(const char *s)
{
    char *d = s ? strdup(s) : NULL;

    if (s != NULL && d == NULL)
        abort();
    return d;
}

static void
result_free(struct result *r)
{
    free(r->method);
    free(r->target);
    for (int i = 0; i < r->nh; i++) {
        free(r->name[i]);
        free(r->value[i]);
    }
    free(r->body);
}

static void
body_add(struct result *r, const char *p, size_t n)
{
    if (n == 0)
        return;
    if (r->blen + n > r->bcap) {
        r->bcap = (r->blen + n) * 2;
        if ((r->body = realloc(r->body, r->bcap)) == NULL)
            abort();
    }
    memcpy(r->body + r->blen, p, n);
    r->blen += n;
}

static void
snapshot_head(struct result *r, const struct proxy_http_parser *p)
{
    const char *n, *v;

    r->head = 1;
    r->method = dup(proxy_http_parse_method(p));
    r->target = dup(proxy_http_parse_target(p));
    r->minor = proxy_http_parse_minor(p);
    r->framing = proxy_http_parse_framing(p);
    r->length = proxy_http_parse_length(p);
    r->nh = proxy_http_parse_nheaders(p);
    check(r->nh >= 0 && r->nh <= 128);
    for (int i = 0; i < r->nh; i++) {
        check(proxy_http_parse_header_at(p, i, &n, &v) == 0);
        r->name[i] = dup(n);
        r->value[i] = dup(v);
    }
    check(proxy_http_parse_header_at(p, r->nh, &n, &v) == -1);
}

/* Next split length from a xorshift state: 0 (an empty feed) up to 63. */
static size_t
next_split(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s % 64;
}

/*
 * Parse in pieces: mode 0 whole, 1 byte by byte, 2 random lengths seeded
 * by seed.  Checks the event-order invariants as it goes.
 */
static void
run(const char *in, size_t n, int mode, uint32_t seed, struct result *r)
{
    struct proxy_http_parser *p = proxy_http_parse_new(FUZZ_MAX_BODY);
    struct proxy_http_parse_out o;
    size_t off = 0;
    uint32_t s = seed | 1;

    memset(r, 0, sizeof(*r));
    if (p == NULL)
        abort();
    r->ev = PROXY_HTTP_PARSE_MORE;
    while (r->ev == PROXY_HTTP_PARSE_MORE) {
        size_t piece = mode == 0 ? n - off : mode == 1 ? (off < n) : next_split(&s);
        size_t pos = 0;

        if (piece > n - off)
            piece = n - off;
        for (;;) {
            enum proxy_http_parse_event ev =
                proxy_http_parse_feed(p, in + off + pos, piece - pos, &o);

            check(o.used <= piece - pos);
            pos += o.used;
            if (ev == PROXY_HTTP_PARSE_MORE) {
                check(pos == piece); /* MORE means every byte was used */
                break;
            }
            if (ev == PROXY_HTTP_PARSE_HEAD) {
                check(!r->head);
                snapshot_head(r, p);
                continue;
            }
            if (ev == PROXY_HTTP_PARSE_BODY) {
                check(r->head && r->framing != PROXY_HTTP_FRAMING_NONE);
                check(o.body_len > 0 && o.body_off + o.body_len == o.used);
                body_add(r, in + off + pos - o.body_len, o.body_len);
                continue;
            }
            r->ev = ev;
            if (ev == PROXY_HTTP_PARSE_DONE) {
                check(r->head);
                r->end = off + pos;
                /* DONE sticks, and uses nothing more */
                check(proxy_http_parse_feed(p, in + r->end, n - r->end, &o) ==
                      PROXY_HTTP_PARSE_DONE);
                check(o.used == 0);
            } else {
                check(ev == PROXY_HTTP_PARSE_ERROR);
                r->status = proxy_http_parse_status(p);
                snprintf(r->msg, sizeof(r->msg), "%s", proxy_http_parse_message(p));
                check(r->status == 400 || r->status == 413);
                check(r->msg[0] != '\0');
                check(proxy_http_parse_feed(p, NULL, 0, &o) == PROXY_HTTP_PARSE_ERROR);
            }
            break;
        }
        off += pos;
        if (r->ev == PROXY_HTTP_PARSE_MORE && off == n)
            break; /* incomplete */
    }
    proxy_http_parse_free(p);
}

static int
eq_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* c: the same outcome, whatever the split. */
static void
same(const struct result *a, const struct result *b)
{
    check(a->ev == b->ev);
    check(a->head == b->head);
    check(a->blen == b->blen && (a->blen == 0 || memcmp(a->body, b->body, a->blen) == 0));
    if (a->ev == PROXY_HTTP_PARSE_ERROR) {
        check(a->status == b->status);
        check(strcmp(a->msg, b->msg) == 0);
    }
    if (a->ev == PROXY_HTTP_PARSE_DONE)
        check(a->end == b->end);
    if (!a->head)
        return;
    check(eq_str(a->method, b->method) && eq_str(a->target, b->target));
    check(a->minor == b->minor && a->framing == b->framing && a->length == b->length);
    check(a->nh == b->nh);
    for (int i = 0; i < a->nh; i++)
        check(strcmp(a->name[i], b->name[i]) == 0 && strcmp(a->value[i], b->value[i]) == 0);
}

static int
is_framing_header(const char *name)
{
    return strcasecmp(name, "Content-Length") == 0 || strcasecmp(name, "Transfer-Encoding") == 0;
}

/* a: what a parsed request must look like. */
static void
well_formed(const struct result *r, size_t n)
{
    int nhost = 0;

    check(r->end <= n);
    check(r->method != NULL && r->method[0] != '\0');
    check(r->target != NULL && r->target[0] != '\0');
    check(r->minor == 0 || r->minor == 1);
    for (const char *c = r->target; *c; c++)
        check((unsigned char)*c > 0x20 && (unsigned char)*c < 0x7f);
    for (int i = 0; i < r->nh; i++) {
        const char *v = r->value[i];
        size_t vl = strlen(v);

        check(r->name[i][0] != '\0');
        for (const char *c = r->name[i]; *c; c++)
            check(isalnum((unsigned char)*c) || strchr("!#$%&'*+-.^_`|~", *c) != NULL);
        for (const char *c = v; *c; c++)
            check((unsigned char)*c >= 0x20 ? *c != 0x7f : *c == '\t');
        check(vl == 0 || (v[0] != ' ' && v[0] != '\t' && v[vl - 1] != ' ' && v[vl - 1] != '\t'));
        nhost += strcasecmp(r->name[i], "Host") == 0;
    }
    check(nhost <= 1 && (r->minor == 0 || nhost == 1));
    if (r->framing == PROXY_HTTP_FRAMING_NONE)
        check(r->blen == 0);
    if (r->framing == PROXY_HTTP_FRAMING_LENGTH)
        check((int64_t)r->blen == r->length);
    check(r->blen <= FUZZ_MAX_BODY);
}

/* b: what would be forwarded parses to the same request. */
static void
reserialise(const struct result *r)
{
    size_t cap = 64 + strlen(r->method) + strlen(r->target) + r->blen, len = 0;
    struct result again;
    char *out;
    int k = 0;

    for (int i = 0; i < r->nh; i++)
        cap += strlen(r->name[i]) + strlen(r->value[i]) + 3;
    if ((out = malloc(cap)) == NULL)
        abort();
    /* "Name:value", no blank: never longer than the line it came from, so
     * the header block's limit holds for the copy too. */
    len += (size_t)snprintf(out + len, cap - len, "%s %s HTTP/1.%d\r\n", r->method, r->target,
                            r->minor);
    for (int i = 0; i < r->nh; i++)
        if (!is_framing_header(r->name[i]))
            len += (size_t)snprintf(out + len, cap - len, "%s:%s\r\n", r->name[i], r->value[i]);
    if (r->framing != PROXY_HTTP_FRAMING_NONE)
        len += (size_t)snprintf(out + len, cap - len, "Content-Length:%zu\r\n", r->blen);
    len += (size_t)snprintf(out + len, cap - len, "\r\n");
    check(len + r->blen <= cap);
    if (r->blen > 0)
        memcpy(out + len, r->body, r->blen);
    len += r->blen;

    run(out, len, 0, 0, &again);
    check(again.ev == PROXY_HTTP_PARSE_DONE);
    check(again.end == len);
    check(strcmp(again.method, r->method) == 0 && strcmp(again.target, r->target) == 0);
    check(again.minor == r->minor);
    check(again.blen == r->blen && (r->blen == 0 || memcmp(again.body, r->body, r->blen) == 0));
    for (int i = 0; i < r->nh; i++) {
        if (is_framing_header(r->name[i]))
            continue;
        check(k < again.nh);
        check(strcmp(again.name[k], r->name[i]) == 0 && strcmp(again.value[k], r->value[i]) == 0);
        k++;
    }
    check(k + (r->framing != PROXY_HTTP_FRAMING_NONE) == again.nh);
    result_free(&again);
    free(out);
}

static const char *
find(const char *s, size_t n, size_t from, const char *needle)
{
    size_t nl = strlen(needle);

    for (size_t i = from; i + nl <= n; i++)
        if (memcmp(s + i, needle, nl) == 0)
            return s + i;
    return NULL;
}

/*
 * d: an independent reader of where an accepted request ends, written from
 * RFC 9112 alone (§2.2 blank lines, §6.3 Content-Length, §7.1 chunks), with
 * none of the parser's code.  Returns the end offset; the body goes to body.
 */
static size_t
oracle(const char *s, size_t n, struct result *body)
{
    size_t pos = 0, head_end, line;
    const char *e;
    long long cl = 0;
    int chunked = 0;

    while (pos + 1 < n && s[pos] == '\r' && s[pos + 1] == '\n')
        pos += 2;
    e = find(s, n, pos, "\r\n\r\n");
    check(e != NULL);
    head_end = (size_t)(e - s) + 4;
    line = (size_t)(find(s, n, pos, "\r\n") - s) + 2; /* the first header line */
    while (line < head_end - 2) {
        size_t le = (size_t)(find(s, n, line, "\r\n") - s);
        const char *colon = memchr(s + line, ':', le - line);
        size_t nl = (size_t)(colon - (s + line));
        const char *v = colon + 1;

        while (*v == ' ' || *v == '\t')
            v++;
        if (nl == 14 && strncasecmp(s + line, "Content-Length", 14) == 0)
            cl = strtoll(v, NULL, 10);
        if (nl == 17 && strncasecmp(s + line, "Transfer-Encoding", 17) == 0)
            chunked = 1;
        line = le + 2;
    }
    if (!chunked) {
        body_add(body, s + head_end, (size_t)cl);
        return head_end + (size_t)cl;
    }
    pos = head_end;
    for (;;) {
        size_t le = (size_t)(find(s, n, pos, "\r\n") - s);
        unsigned long long sz = strtoull(s + pos, NULL, 16);

        pos = le + 2;
        if (sz == 0)
            break;
        body_add(body, s + pos, (size_t)sz);
        pos += (size_t)sz + 2;
    }
    for (;;) { /* trailer lines, to the empty one */
        size_t le = (size_t)(find(s, n, pos, "\r\n") - s);

        if (le == pos)
            return pos + 2;
        pos = le + 2;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct result whole, bytes, split, ora;
    const char *in = (const char *)data + 1;
    size_t n;

    if (size < 1)
        return 0;
    n = size - 1;
    run(in, n, 0, 0, &whole);
    run(in, n, 1, 0, &bytes);
    run(in, n, 2, (uint32_t)data[0] * 2654435761u, &split);
    same(&whole, &bytes);
    same(&whole, &split);
    if (whole.ev == PROXY_HTTP_PARSE_DONE) {
        well_formed(&whole, n);
        reserialise(&whole);
        memset(&ora, 0, sizeof(ora));
        check(oracle(in, n, &ora) == whole.end);
        check(ora.blen == whole.blen &&
              (ora.blen == 0 || memcmp(ora.body, whole.body, ora.blen) == 0));
        result_free(&ora);
    }
    result_free(&whole);
    result_free(&bytes);
    result_free(&split);
    return 0;
}
