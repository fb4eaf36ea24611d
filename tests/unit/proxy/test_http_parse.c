/*
 * test_http_parse.c - the HTTP request parser, from bytes to result.
 *
 * Each case is a request as a client sends it and what the parser must make
 * of it: refused with a status and a message, or complete with the method,
 * target, header count, body and the offset where the request ends.  The
 * framing cases of tests/integration/it_http_framing.mjs and
 * it_attack_http.mjs are here as bytes; every case is also fed byte by byte
 * and must give the same result.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proxy/http_parse.h"

#define MAX_BODY 4096 /* the integration tests' --max-body */

struct pcase {
    const char *name;
    const char *in;
    int status;         /* 0: complete; else the refusal's status */
    const char *expect; /* complete: the de-chunked body; refused: part of the message */
    size_t extra;       /* complete: bytes after the request's end (pipelined) */
};

#define H "Host: x\r\nAuthorization: Bearer vk_a\r\n"
#define POST "POST /emails HTTP/1.1\r\n" H "Content-Type: application/json\r\n"
#define BODY "{\"from\":\"a@example.com\"}"
#define BAD_HEAD "a NUL byte, or a CR or LF outside a CRLF"

static const struct pcase cases[] = {
    /* accepted */
    {"get", "GET /emails/e1 HTTP/1.1\r\n" H "\r\n", 0, "", 0},
    {"http10 without Host", "GET /emails/e1 HTTP/1.0\r\nAuthorization: Bearer vk_a\r\n\r\n", 0, "",
     0},
    {"content-length", POST "Content-Length: 24\r\n\r\n" BODY, 0, BODY, 0},
    {"content-length 0", POST "Content-Length: 0\r\n\r\n", 0, "", 0},
    {"chunked with ext, BWS and trailer",
     POST
     "Transfer-Encoding: chunked\r\n\r\nc;ext=1\r\n{\"from\":\"a@e\r\nC \t;x\r\nxample.com\"}\r\n"
     "0\r\nX-Trailer: dropped\r\n\r\n",
     0, BODY, 0},
    {"chunked upper-case TE value", POST "Transfer-Encoding: CHUNKED\r\n\r\n0\r\n\r\n", 0, "", 0},
    {"pipelined pair",
     POST "Content-Length: 24\r\n\r\n" BODY "GET /emails/e2 HTTP/1.1\r\n" H
          "Connection: close\r\n\r\n",
     0, BODY, sizeof("GET /emails/e2 HTTP/1.1\r\n" H "Connection: close\r\n\r\n") - 1},
    {"leading blank lines", "\r\n\r\nGET / HTTP/1.1\r\n" H "\r\n", 0, "", 0},
    {"Connection naming other headers",
     POST "Content-Length: 24\r\nConnection: close, X-Foo\r\n\r\n" BODY, 0, BODY, 0},
    {"15 hex digits of zeros",
     POST "Transfer-Encoding: chunked\r\n\r\n000000000000002\r\nab\r\n0\r\n\r\n", 0, "ab", 0},
    /* conflicting or unknown framing */
    {"CL and TE", POST "Content-Length: 24\r\nTransfer-Encoding: chunked\r\n\r\n" BODY, 400,
     "both Transfer-Encoding and Content-Length", 0},
    {"two CL", POST "Content-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef", 400,
     "more than one Content-Length", 0},
    {"TE gzip, chunked", POST "Transfer-Encoding: gzip, chunked\r\n\r\n", 400,
     "only Transfer-Encoding: chunked", 0},
    {"two TE", POST "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
     "only Transfer-Encoding: chunked", 0},
    {"TE on HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
     "only Transfer-Encoding: chunked", 0},
    {"CL -1", POST "Content-Length: -1\r\n\r\n", 400, "not a number", 0},
    {"CL +1", POST "Content-Length: +1\r\n\r\na", 400, "not a number", 0},
    {"CL 19 digits", POST "Content-Length: 0000000000000000001\r\n\r\na", 400, "not a number", 0},
    {"CL with a blank inside", POST "Content-Length: 1 2\r\n\r\n", 400, "not a number", 0},
    {"obs-fold", POST "X-Folded: a\r\n b\r\n\r\n", 400, "malformed header field", 0},
    {"garbage line", "GARBAGE\r\n\r\n", 400, "malformed request line", 0},
    {"HTTP/2.0", "GET /emails/x HTTP/2.0\r\n\r\n", 400, "malformed request line", 0},
    {"fifth blank line", "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n" H "\r\n", 400,
     "malformed request line", 0},
    /* Host and Connection */
    {"1.1 without Host", "GET /emails/e1 HTTP/1.1\r\nAuthorization: Bearer vk_a\r\n\r\n", 400,
     "exactly one Host", 0},
    {"two Hosts", "GET /emails/e1 HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "exactly one Host",
     0},
    {"Host and host", "GET /emails/e1 HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 400,
     "exactly one Host", 0},
    {"Connection: Content-Type", POST "Content-Length: 24\r\nConnection: Content-Type\r\n\r\n" BODY,
     400, "Connection header may not name", 0},
    {"Connection: content-length",
     POST "Content-Length: 24\r\nConnection: content-length\r\n\r\n" BODY, 400,
     "Connection header may not name", 0},
    {"Connection: Transfer-Encoding",
     POST "Content-Length: 24\r\nConnection: Transfer-Encoding\r\n\r\n" BODY, 400,
     "Connection header may not name", 0},
    {"Connection: keep-alive, Content-Type",
     POST "Content-Length: 24\r\nConnection: keep-alive, Content-Type\r\n\r\n" BODY, 400,
     "Connection header may not name", 0},
    {"Connection: close,authorization",
     POST "Content-Length: 24\r\nConnection: close,authorization\r\n\r\n" BODY, 400,
     "Connection header may not name", 0},
    {"Connection: Host", POST "Content-Length: 24\r\nConnection: Host\r\n\r\n" BODY, 400,
     "Connection header may not name", 0},
    /* chunk sizes */
    {"chunk 0x", POST "Transfer-Encoding: chunked\r\n\r\n0x18\r\n" BODY "\r\n0\r\n\r\n", 400,
     "malformed chunk size", 0},
    {"chunk 0X", POST "Transfer-Encoding: chunked\r\n\r\n0X18\r\n" BODY "\r\n0\r\n\r\n", 400,
     "malformed chunk size", 0},
    {"chunk non-hex", POST "Transfer-Encoding: chunked\r\n\r\n18g\r\n" BODY "\r\n0\r\n\r\n", 400,
     "malformed chunk size", 0},
    {"chunk +", POST "Transfer-Encoding: chunked\r\n\r\n+18\r\n" BODY "\r\n0\r\n\r\n", 400,
     "malformed chunk size", 0},
    {"chunk leading blank", POST "Transfer-Encoding: chunked\r\n\r\n 18\r\n" BODY "\r\n0\r\n\r\n",
     400, "malformed chunk size", 0},
    {"chunk trailing blank", POST "Transfer-Encoding: chunked\r\n\r\n18 \r\n" BODY "\r\n0\r\n\r\n",
     400, "malformed chunk size", 0},
    {"chunk 16 hex digits", POST "Transfer-Encoding: chunked\r\n\r\nEEEEEEEEEEEEEEEE\r\n", 400,
     "malformed chunk size", 0},
    {"chunk data without CRLF", POST "Transfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", 400,
     "malformed chunked body", 0},
    /* bare LF, CR, NUL */
    {"LF after request line", "POST /emails HTTP/1.1\nHost: x\r\nContent-Length: 24\r\n\r\n" BODY,
     400, BAD_HEAD, 0},
    {"LF after a header", "POST /emails HTTP/1.1\r\nHost: x\nContent-Length: 24\r\n\r\n" BODY, 400,
     BAD_HEAD, 0},
    {"LF as the blank line", POST "Content-Length: 24\r\n\n" BODY, 400, BAD_HEAD, 0},
    {"CR inside a value", POST "X-A: a\rb\r\n\r\n", 400, BAD_HEAD, 0},
    {"NUL inside a value", POST "X-A: a\0b\r\n\r\n", 400, BAD_HEAD, 0},
    {"LF after chunk size", POST "Transfer-Encoding: chunked\r\n\r\n18\n" BODY "\r\n0\r\n\r\n", 400,
     "malformed chunked body", 0},
    {"LF after chunk data", POST "Transfer-Encoding: chunked\r\n\r\n18\r\n" BODY "\n0\r\n\r\n", 400,
     "malformed chunked body", 0},
    {"LF after last chunk", POST "Transfer-Encoding: chunked\r\n\r\n18\r\n" BODY "\r\n0\n\r\n", 400,
     "malformed chunked body", 0},
    {"LF as the trailer end", POST "Transfer-Encoding: chunked\r\n\r\n18\r\n" BODY "\r\n0\r\n\n",
     400, "malformed chunked body", 0},
    {"LF after a trailer",
     POST "Transfer-Encoding: chunked\r\n\r\n18\r\n" BODY "\r\n0\r\nX-T: 1\n\r\n", 400,
     "malformed chunked body", 0},
    /* limits */
    {"declared body over max", POST "Content-Length: 5000\r\n\r\n", 413, "4096 bytes", 0},
};

struct outcome {
    enum proxy_http_parse_event ev;
    int status;
    char msg[200];
    char method[32];
    int nh;
    char body[8192];
    size_t blen, end;
};

/* Feed in pieces of step bytes (0: whole). */
static void
parse(const char *in, size_t n, size_t step, int64_t max_body, struct outcome *o)
{
    struct proxy_http_parser *p = proxy_http_parse_new(max_body);
    struct proxy_http_parse_out out;
    size_t off = 0;

    assert_non_null(p);
    memset(o, 0, sizeof(*o));
    for (;;) {
        size_t piece = step == 0 || n - off < step ? n - off : step;
        enum proxy_http_parse_event ev = proxy_http_parse_feed(p, in + off, piece, &out);

        off += out.used;
        if (ev == PROXY_HTTP_PARSE_MORE) {
            if (off == n)
                break;
            continue;
        }
        if (ev == PROXY_HTTP_PARSE_HEAD) {
            snprintf(o->method, sizeof(o->method), "%s", proxy_http_parse_method(p));
            o->nh = proxy_http_parse_nheaders(p);
            continue;
        }
        if (ev == PROXY_HTTP_PARSE_BODY) {
            assert_true(o->blen + out.body_len <= sizeof(o->body));
            memcpy(o->body + o->blen, in + off - out.body_len, out.body_len);
            o->blen += out.body_len;
            continue;
        }
        o->ev = ev;
        o->end = off;
        if (ev == PROXY_HTTP_PARSE_ERROR) {
            o->status = proxy_http_parse_status(p);
            snprintf(o->msg, sizeof(o->msg), "%s", proxy_http_parse_message(p));
        }
        break;
    }
    proxy_http_parse_free(p);
}

static size_t
case_len(const struct pcase *c)
{
    /* the NUL case holds a NUL of its own: measure to the last CRLFCRLF */
    if (strcmp(c->name, "NUL inside a value") == 0)
        return sizeof(POST "X-A: a\0b\r\n\r\n") - 1;
    return strlen(c->in);
}

static void
test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct pcase *c = &cases[i];
        size_t n = case_len(c);
        struct outcome whole, bytes;

        parse(c->in, n, 0, MAX_BODY, &whole);
        parse(c->in, n, 1, MAX_BODY, &bytes);
        if (c->status == 0) {
            if (whole.ev != PROXY_HTTP_PARSE_DONE)
                fail_msg("%s: not complete (%d %s)", c->name, whole.status, whole.msg);
            assert_int_equal(whole.end, n - c->extra);
            assert_int_equal(whole.blen, strlen(c->expect));
            assert_memory_equal(whole.body, c->expect, whole.blen);
        } else {
            if (whole.ev != PROXY_HTTP_PARSE_ERROR || whole.status != c->status)
                fail_msg("%s: expected %d, got event %d status %d", c->name, c->status, whole.ev,
                         whole.status);
            if (strstr(whole.msg, c->expect) == NULL)
                fail_msg("%s: message '%s' lacks '%s'", c->name, whole.msg, c->expect);
        }
        /* the same, byte by byte */
        assert_int_equal(bytes.ev, whole.ev);
        assert_int_equal(bytes.status, whole.status);
        assert_string_equal(bytes.msg, whole.msg);
        assert_int_equal(bytes.blen, whole.blen);
        assert_memory_equal(bytes.body, whole.body, whole.blen);
        if (whole.ev == PROXY_HTTP_PARSE_DONE)
            assert_int_equal(bytes.end, whole.end);
    }
}

/* 3000 + 3000 bytes of chunks against 4096: 413 once the second size is read. */
static void
test_chunks_over_max_body(void **state)
{
    static char in[8000];
    struct outcome o;
    char chunk[3001];
    int n;

    (void)state;
    memset(chunk, 'a', 3000);
    chunk[3000] = '\0';
    n = snprintf(in, sizeof(in),
                 POST "Transfer-Encoding: chunked\r\n\r\nbb8\r\n%s\r\nbb8\r\n%s\r\n0\r\n\r\n",
                 chunk, chunk);
    parse(in, (size_t)n, 0, MAX_BODY, &o);
    assert_int_equal(o.ev, PROXY_HTTP_PARSE_ERROR);
    assert_int_equal(o.status, 413);
    assert_non_null(strstr(o.msg, "larger than the 4096 bytes allowed"));
    assert_int_equal(o.blen, 3000); /* the first chunk was within the limit */
}

static void
test_header_limits(void **state)
{
    static char in[64 * 1024];
    struct outcome o;
    int n;

    (void)state;
    /* header block over SC_HTTP_MAX_HEADER_BYTES */
    n = snprintf(in, sizeof(in), "GET /emails/x HTTP/1.1\r\n" H "X-Big: ");
    memset(in + n, 'a', 40000);
    n += 40000;
    n += snprintf(in + n, sizeof(in) - (size_t)n, "\r\n\r\n");
    parse(in, (size_t)n, 0, MAX_BODY, &o);
    assert_int_equal(o.status, 413);
    assert_string_equal(o.msg, "the request header block is too large");
    /* more than SC_HTTP_MAX_HEADERS fields */
    n = snprintf(in, sizeof(in), "GET /emails/x HTTP/1.1\r\n" H);
    for (int i = 0; i < 120; i++)
        n += snprintf(in + n, sizeof(in) - (size_t)n, "X-H%d: v\r\n", i);
    n += snprintf(in + n, sizeof(in) - (size_t)n, "\r\n");
    parse(in, (size_t)n, 7, MAX_BODY, &o);
    assert_int_equal(o.status, 413);
    assert_string_equal(o.msg, "the request has too many header fields");
    /* a chunk-size line over SC_HTTP_MAX_CHUNK_LINE (a long extension) */
    n = snprintf(in, sizeof(in), POST "Transfer-Encoding: chunked\r\n\r\n1;");
    memset(in + n, 'e', 1100);
    n += 1100;
    n += snprintf(in + n, sizeof(in) - (size_t)n, "\r\na\r\n0\r\n\r\n");
    parse(in, (size_t)n, 0, MAX_BODY, &o);
    assert_int_equal(o.status, 400);
    assert_string_equal(o.msg, "malformed chunked body");
}

/* The head is available at HEAD, and the body is read only when asked:
 * the parser never uses a byte past its request. */
static void
test_head_then_body(void **state)
{
    static const char in[] = POST "Content-Length: 24\r\n\r\n" BODY "NEXT";
    struct proxy_http_parser *p = proxy_http_parse_new(MAX_BODY);
    struct proxy_http_parse_out o;
    const char *name, *value;
    size_t head = strlen(in) - 24 - 4;

    (void)state;
    assert_int_equal(proxy_http_parse_feed(p, in, sizeof(in) - 1, &o), PROXY_HTTP_PARSE_HEAD);
    assert_int_equal(o.used, head);
    assert_string_equal(proxy_http_parse_method(p), "POST");
    assert_string_equal(proxy_http_parse_target(p), "/emails");
    assert_int_equal(proxy_http_parse_minor(p), 1);
    assert_int_equal(proxy_http_parse_framing(p), PROXY_HTTP_FRAMING_LENGTH);
    assert_int_equal(proxy_http_parse_length(p), 24);
    assert_int_equal(proxy_http_parse_header_at(p, 1, &name, &value), 0);
    assert_string_equal(name, "Authorization");
    assert_string_equal(value, "Bearer vk_a");
    assert_int_equal(proxy_http_parse_feed(p, in + head, sizeof(in) - 1 - head, &o),
                     PROXY_HTTP_PARSE_BODY);
    assert_int_equal(o.body_off, 0);
    assert_int_equal(o.body_len, 24);
    assert_int_equal(o.used, 24);
    assert_int_equal(proxy_http_parse_feed(p, in + head + 24, 4, &o), PROXY_HTTP_PARSE_DONE);
    assert_int_equal(o.used, 0);
    proxy_http_parse_free(p);
}

/* Connection tokens are whole comma-separated tokens: "x-closed" does not
 * close a connection, "not-keep-alive" does not keep one (HTTP/1.0). */
static void
test_connection_tokens(void **state)
{
    static const struct {
        const char *value, *token;
        int has;
    } t[] = {
        {"close", "close", 1},
        {"Keep-Alive, CLOSE", "close", 1},
        {"x-closed", "close", 0},
        {"closed", "close", 0},
        {"not-keep-alive", "keep-alive", 0},
        {"te,\tkeep-alive", "keep-alive", 1},
        {"upgrade", "close", 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char in[256];
        struct proxy_http_parser *p = proxy_http_parse_new(MAX_BODY);
        struct proxy_http_parse_out out;
        int n = snprintf(in, sizeof(in), "GET / HTTP/1.1\r\nHost: x\r\nConnection: %s\r\n\r\n",
                         t[i].value);

        assert_non_null(p);
        assert_int_equal(proxy_http_parse_feed(p, in, (size_t)n, &out), PROXY_HTTP_PARSE_HEAD);
        if (proxy_http_parse_connection_has(p, t[i].token) != t[i].has)
            fail_msg("Connection: %s, token %s: expected %d", t[i].value, t[i].token, t[i].has);
        proxy_http_parse_free(p);
    }
}

/* Header names count case-insensitively and whole: "X-Host" is not "Host". */
static void
test_header_count(void **state)
{
    static const struct {
        const char *headers, *name;
        int count;
    } t[] = {
        {"Host: x\r\n", "Host", 1},
        {"host: x\r\n", "HOST", 1},
        {"Host: x\r\nX-A: 1\r\nx-a: 2\r\nX-A: 3\r\n", "X-A", 3},
        {"Host: x\r\nX-Host: y\r\n", "Host", 1},
        {"Host: x\r\n", "Hos", 0},
        {"Host: x\r\n", "Idempotency-Key", 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char in[256];
        struct proxy_http_parser *p = proxy_http_parse_new(MAX_BODY);
        struct proxy_http_parse_out out;
        int n = snprintf(in, sizeof(in), "GET / HTTP/1.1\r\n%s\r\n", t[i].headers);

        assert_non_null(p);
        assert_int_equal(proxy_http_parse_feed(p, in, (size_t)n, &out), PROXY_HTTP_PARSE_HEAD);
        if (proxy_http_parse_header_count(p, t[i].name) != t[i].count)
            fail_msg("case %zu, %s: expected %d", i, t[i].name, t[i].count);
        proxy_http_parse_free(p);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_chunks_over_max_body),
        cmocka_unit_test(test_header_limits),
        cmocka_unit_test(test_head_then_body),
        cmocka_unit_test(test_connection_tokens),
        cmocka_unit_test(test_header_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
