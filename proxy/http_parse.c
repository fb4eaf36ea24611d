/*
 * http_parse.c - request head and chunked-body parser (see http_parse.h).
 *
 * Bytes are read one state at a time: head lines, then a Content-Length
 * body or chunk-size lines, chunk data, the CRLF after each chunk and the
 * trailer.  Every line is checked byte by byte as it arrives (CRLF line ends
 * only, no NUL, bounded length), so a refusal and its reason never depend
 * on where the input was split.  This file does no I/O and links libc only.
 */
#include "http_parse.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/limits.h"
#include "policy/policy.h"

enum pstate {
    P_HEAD,
    P_BODY,
    P_CHUNK_SIZE,
    P_CHUNK_DATA,
    P_CHUNK_CRLF,
    P_TRAILER,
    P_END,
    P_DONE,
    P_ERROR
};

struct hdr {
    char *name; /* owns the line; value points into it */
    char *value;
};

struct proxy_http_parser {
    enum pstate state;
    int64_t max_body;
    /* the line being read */
    char *line;
    size_t llen, lcap;
    size_t line_bytes; /* bytes of this line so far, CRLF included */
    int cr;            /* the last byte was a CR */
    size_t head_bytes; /* head (and trailer) bytes so far, against the header limit */
    /* the head */
    char *reqline;
    const char *method, *target;
    int minor;
    struct hdr hdr[SC_HTTP_MAX_HEADERS];
    int nhdr;
    enum proxy_http_framing framing;
    int64_t length;
    /* the body */
    int64_t left;  /* bytes of the Content-Length body, or of this chunk, still to come */
    int64_t total; /* de-chunked body bytes announced so far */
    int status;
    char msg[160];
};

struct proxy_http_parser *
proxy_http_parse_new(int64_t max_body)
{
    struct proxy_http_parser *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return NULL;
    p->max_body = max_body;
    p->minor = 1;
    return p;
}

void
proxy_http_parse_free(struct proxy_http_parser *p)
{
    if (p == NULL)
        return;
    free(p->line);
    free(p->reqline);
    for (int i = 0; i < p->nhdr; i++)
        free(p->hdr[i].name);
    free(p);
}

static void
fail(struct proxy_http_parser *p, int status, const char *msg)
{
    p->state = P_ERROR;
    p->status = status;
    snprintf(p->msg, sizeof(p->msg), "%s", msg);
}

static void
body_too_large(struct proxy_http_parser *p)
{
    fail(p, 413, "");
    snprintf(p->msg, sizeof(p->msg), "the request body is larger than the %lld bytes allowed",
             (long long)p->max_body);
}

static int
is_tchar(int ch)
{
    return isalnum(ch) || (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

enum lres { L_MORE, L_LINE, L_BAD, L_LONG, L_NOMEM };

/*
 * Read bytes of one CRLF-terminated line from buf[*i..len).  RFC 9112 §2.2
 * lets a recipient take a bare LF as a line end, and one that does reads
 * such a request differently from one that does not, so a proxy that checks
 * what it forwards accepts CRLF only: a CR not followed by LF, a LF not
 * preceded by CR, or a NUL is L_BAD.  Each byte (CRLF included) counts
 * against cap, and *count with it (the head counts across its lines).  The
 * line is kept (NUL-terminated, without CRLF) only when keep is set.
 */
static enum lres
take_line(struct proxy_http_parser *p, const char *buf, size_t len, size_t *i, size_t cap,
          size_t *count, int keep)
{
    while (*i < len) {
        const char *s = buf + *i, *cr, *bad;
        size_t n = len - *i, k;

        if (*count >= cap) {
            ++*i;
            ++*count;
            return L_LONG;
        }
        if (p->cr) {
            ++*i;
            ++*count;
            p->cr = 0;
            if (*s != '\n')
                return L_BAD;
            if (keep) {
                if (p->line == NULL && (p->line = malloc(p->lcap = 64)) == NULL)
                    return L_NOMEM;
                p->line[p->llen] = '\0';
            }
            return L_LINE;
        }
        /* The run of text up to the next CR (within the cap) in one go:
         * scanning and copying byte by byte was most of the head's cost. */
        if (n > cap - *count)
            n = cap - *count;
        cr = memchr(s, '\r', n);
        k = cr != NULL ? (size_t)(cr - s) : n;
        bad = memchr(s, '\n', k);
        if ((cr = memchr(s, '\0', bad != NULL ? (size_t)(bad - s) : k)) != NULL)
            bad = cr;
        if (bad != NULL) {
            *i += (size_t)(bad - s) + 1;
            *count += (size_t)(bad - s) + 1;
            return L_BAD;
        }
        if (keep && k > 0) {
            if (p->llen + k + 1 > p->lcap) {
                size_t ncap = p->lcap ? p->lcap : 64;
                char *nl;

                while (ncap < p->llen + k + 1)
                    ncap *= 2;
                if ((nl = realloc(p->line, ncap)) == NULL)
                    return L_NOMEM;
                p->line = nl;
                p->lcap = ncap;
            }
            memcpy(p->line + p->llen, s, k);
        }
        p->llen += k;
        *i += k;
        *count += k;
        if (k < n) { /* stopped at a CR */
            ++*i;
            ++*count;
            p->cr = 1;
        }
    }
    return L_MORE;
}

/* The line is complete: hand its storage to the caller and start a new one. */
static char *
line_take(struct proxy_http_parser *p)
{
    char *l = p->line;

    p->line = NULL;
    p->llen = p->lcap = 0;
    p->line_bytes = 0;
    return l;
}

static void
line_reset(struct proxy_http_parser *p)
{
    p->llen = 0;
    p->line_bytes = 0;
}

/* "METHOD SP target SP HTTP/1.x"; line is taken over on success. */
static int
parse_request_line(struct proxy_http_parser *p, char *line)
{
    char *sp1 = strchr(line, ' '), *sp2;

    if (sp1 == NULL)
        return -1;
    sp2 = strchr(sp1 + 1, ' ');
    if (sp2 == NULL || strchr(sp2 + 1, ' ') != NULL)
        return -1;
    *sp1 = *sp2 = '\0';
    for (char *c = line; *c; c++)
        if (!is_tchar((unsigned char)*c))
            return -1;
    if (*line == '\0' || sp1[1] == '\0')
        return -1;
    for (char *c = sp1 + 1; *c; c++)
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
            return -1;
    if (strcmp(sp2 + 1, "HTTP/1.1") == 0)
        p->minor = 1;
    else if (strcmp(sp2 + 1, "HTTP/1.0") == 0)
        p->minor = 0;
    else
        return -1;
    p->reqline = line;
    p->method = line;
    p->target = sp1 + 1;
    return 0;
}

/* Parse "Name: value"; line is taken over on success.  0, -1 bad, -2 too many. */
static int
parse_header(struct proxy_http_parser *p, char *line)
{
    char *colon = strchr(line, ':'), *v, *e;

    if (p->nhdr >= SC_HTTP_MAX_HEADERS)
        return -2;
    if (colon == NULL || colon == line || line[0] == ' ' || line[0] == '\t')
        return -1; /* includes obs-fold, which RFC 9112 §5.2 lets a server reject */
    for (char *c = line; c < colon; c++)
        if (!is_tchar((unsigned char)*c))
            return -1;
    *colon = '\0';
    v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    e = v + strlen(v);
    while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
        *--e = '\0';
    for (char *c = v; *c; c++)
        if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
            return -1;
    p->hdr[p->nhdr].name = line;
    p->hdr[p->nhdr].value = v;
    p->nhdr++;
    return 0;
}

int
proxy_http_parse_header_count(const struct proxy_http_parser *p, const char *name)
{
    int n = 0;

    for (int i = 0; i < p->nhdr; i++)
        n += policy_header_name_eq(p->hdr[i].name, name);
    return n;
}

int
proxy_http_parse_connection_has(const struct proxy_http_parser *p, const char *token)
{
    for (int i = 0; i < p->nhdr; i++)
        if (policy_header_name_eq(p->hdr[i].name, "Connection") &&
            policy_header_has_token(p->hdr[i].value, token))
            return 1;
    return 0;
}

/*
 * Does a Connection header name a field that decides how the request is
 * framed or authorised?  A hop that honours Connection removes the fields it
 * names, so the upstream would read a different request (its body type,
 * length or key) from the one checked here (SPEC §3).
 */
static int
connection_names_framing(const struct proxy_http_parser *p)
{
    static const char *const framing_fields[] = {"Content-Type", "Content-Length",
                                                 "Transfer-Encoding", "Authorization", "Host"};

    for (size_t k = 0; k < sizeof(framing_fields) / sizeof(framing_fields[0]); k++)
        if (proxy_http_parse_connection_has(p, framing_fields[k]))
            return 1;
    return 0;
}

/* All headers are in: decide the framing (RFC 9112 §6).  0, or -1 refused. */
static int
decide_framing(struct proxy_http_parser *p)
{
    const char *te = NULL, *cl = NULL;
    int nte = 0, ncl = 0, nhost = proxy_http_parse_header_count(p, "Host");
    int64_t len = 0;

    for (int i = 0; i < p->nhdr; i++) {
        if (strcasecmp(p->hdr[i].name, "Transfer-Encoding") == 0) {
            te = p->hdr[i].value;
            nte++;
        } else if (strcasecmp(p->hdr[i].name, "Content-Length") == 0) {
            cl = p->hdr[i].value;
            ncl++;
        }
    }
    if (nte > 0 && ncl > 0) {
        fail(p, 400, "the request has both Transfer-Encoding and Content-Length");
        return -1;
    }
    /* RFC 9112 §3.2: an HTTP/1.1 request without Host, or any request with
     * more than one, gets 400. */
    if (nhost > 1 || (nhost == 0 && p->minor == 1)) {
        fail(p, 400, "an HTTP/1.1 request carries exactly one Host header");
        return -1;
    }
    if (connection_names_framing(p)) {
        fail(p, 400,
             "the Connection header may not name Content-Type, Content-Length, "
             "Transfer-Encoding, Authorization or Host");
        return -1;
    }
    if (ncl > 1) {
        fail(p, 400, "the request has more than one Content-Length");
        return -1;
    }
    if (nte > 1 || (te != NULL && (p->minor == 0 || strcasecmp(te, "chunked") != 0))) {
        fail(p, 400, "only Transfer-Encoding: chunked is accepted");
        return -1;
    }
    if (cl != NULL) {
        /* 1*DIGIT, at most 18 of them (no sign, no blank, no overflow). */
        size_t n = strlen(cl);

        if (n == 0 || n > 18 || strspn(cl, "0123456789") != n) {
            fail(p, 400, "Content-Length is not a number");
            return -1;
        }
        for (size_t k = 0; k < n; k++)
            len = len * 10 + (cl[k] - '0');
        if (len > p->max_body) {
            body_too_large(p);
            return -1;
        }
    }
    p->length = len;
    p->framing = te != NULL   ? PROXY_HTTP_FRAMING_CHUNKED
                 : cl != NULL ? PROXY_HTTP_FRAMING_LENGTH
                              : PROXY_HTTP_FRAMING_NONE;
    if (p->framing == PROXY_HTTP_FRAMING_CHUNKED)
        p->state = P_CHUNK_SIZE;
    else if (len > 0)
        p->state = P_BODY;
    else
        p->state = P_END;
    p->left = len;
    return 0;
}

/* A head line is complete.  1: the head is complete; 0: go on; -1 refused. */
static int
head_line(struct proxy_http_parser *p)
{
    char *line;

    if (p->method == NULL) {
        if (p->llen == 0 && p->head_bytes <= 8) { /* RFC 9112 §2.2: skip a blank line */
            line_reset(p);
            return 0;
        }
        line = line_take(p);
        if (parse_request_line(p, line) != 0) {
            free(line);
            fail(p, 400, "malformed request line");
            return -1;
        }
        return 0;
    }
    if (p->llen == 0) {
        line_reset(p);
        return decide_framing(p) == 0 ? 1 : -1;
    }
    line = line_take(p);
    switch (parse_header(p, line)) {
    case 0:
        return 0;
    case -2:
        free(line);
        fail(p, 413, "the request has too many header fields");
        return -1;
    default:
        free(line);
        fail(p, 400, "malformed header field");
        return -1;
    }
}

/* chunk-size = 1*HEXDIG (at most 15), then optional BWS and chunk-ext (RFC
 * 9112 §7.1): no sign, no "0x", nothing else.  -1 when malformed. */
static int64_t
chunk_size(const char *line)
{
    const char *c = line, *ext;
    int64_t sz = 0;

    /* 15 digits at most are read, so sz stays below 2^60: a 16th digit
     * is refused before it could overflow (found by fuzz_http). */
    for (; isxdigit((unsigned char)*c) && c - line < 15; c++)
        sz = sz * 16 +
             (isdigit((unsigned char)*c) ? *c - '0' : tolower((unsigned char)*c) - 'a' + 10);
    ext = c + strspn(c, " \t");
    if (c == line || isxdigit((unsigned char)*c) || (*ext != '\0' && *ext != ';') ||
        (ext != c && *ext == '\0'))
        return -1;
    return sz;
}

enum proxy_http_parse_event
proxy_http_parse_feed(struct proxy_http_parser *p, const char *buf, size_t len,
                      struct proxy_http_parse_out *out)
{
    size_t i = 0;
    enum lres lr;

    out->used = out->body_off = out->body_len = 0;
    for (;;) {
        switch (p->state) {
        case P_HEAD:
            lr = take_line(p, buf, len, &i, SC_HTTP_MAX_HEADER_BYTES, &p->head_bytes, 1);
            if (lr == L_MORE)
                goto more;
            if (lr == L_LONG)
                fail(p, 413, "the request header block is too large");
            else if (lr == L_BAD)
                fail(p, 400,
                     "the request head holds a NUL byte, or a CR or LF outside a CRLF line end");
            else if (lr == L_NOMEM)
                fail(p, 503, "out of memory");
            else {
                int r = head_line(p);

                if (r == 0)
                    break;
                if (r == 1) {
                    out->used = i;
                    return PROXY_HTTP_PARSE_HEAD;
                }
            }
            out->used = i;
            return PROXY_HTTP_PARSE_ERROR;
        case P_BODY:
        case P_CHUNK_DATA: {
            size_t take = len - i;

            if (take == 0)
                goto more;
            if ((int64_t)take > p->left)
                take = (size_t)p->left;
            out->body_off = i;
            out->body_len = take;
            i += take;
            p->left -= (int64_t)take;
            if (p->left == 0)
                p->state = p->state == P_BODY ? P_END : P_CHUNK_CRLF;
            out->used = i;
            return PROXY_HTTP_PARSE_BODY;
        }
        case P_CHUNK_SIZE: {
            int64_t sz;

            lr = take_line(p, buf, len, &i, SC_HTTP_MAX_CHUNK_LINE, &p->line_bytes, 1);
            if (lr == L_MORE)
                goto more;
            if (lr != L_LINE) {
                fail(p, lr == L_NOMEM ? 503 : 400,
                     lr == L_NOMEM ? "out of memory" : "malformed chunked body");
                out->used = i;
                return PROXY_HTTP_PARSE_ERROR;
            }
            sz = chunk_size(p->line);
            line_reset(p);
            if (sz < 0) {
                fail(p, 400, "malformed chunk size");
                out->used = i;
                return PROXY_HTTP_PARSE_ERROR;
            }
            if (sz > p->max_body - p->total) {
                body_too_large(p);
                out->used = i;
                return PROXY_HTTP_PARSE_ERROR;
            }
            p->total += sz;
            p->left = sz;
            p->state = sz == 0 ? P_TRAILER : P_CHUNK_DATA;
            break;
        }
        case P_CHUNK_CRLF:
            /* exactly CRLF after the chunk's data: a line of cap 2 */
            lr = take_line(p, buf, len, &i, 2, &p->line_bytes, 0);
            if (lr == L_MORE)
                goto more;
            line_reset(p);
            if (lr != L_LINE) {
                fail(p, 400, "malformed chunked body");
                out->used = i;
                return PROXY_HTTP_PARSE_ERROR;
            }
            p->state = P_CHUNK_SIZE;
            break;
        case P_TRAILER:
            /* Trailer fields are read and dropped: nothing after the body
             * may change what was checked.  They count against the header
             * block's limit. */
            lr = take_line(p, buf, len, &i, SC_HTTP_MAX_HEADER_BYTES, &p->head_bytes, 0);
            if (lr == L_MORE)
                goto more;
            if (lr != L_LINE) {
                if (lr == L_LONG)
                    fail(p, 413, "the request trailer is too large");
                else
                    fail(p, 400, "malformed chunked body");
                out->used = i;
                return PROXY_HTTP_PARSE_ERROR;
            }
            if (p->llen == 0)
                p->state = P_END;
            line_reset(p);
            break;
        case P_END:
            p->state = P_DONE;
            out->used = i;
            return PROXY_HTTP_PARSE_DONE;
        case P_DONE:
            out->used = i;
            return PROXY_HTTP_PARSE_DONE;
        case P_ERROR:
            out->used = i;
            return PROXY_HTTP_PARSE_ERROR;
        }
    }
more:
    out->used = i;
    return PROXY_HTTP_PARSE_MORE;
}

const char *
proxy_http_parse_method(const struct proxy_http_parser *p)
{
    return p->method;
}

const char *
proxy_http_parse_target(const struct proxy_http_parser *p)
{
    return p->target;
}

int
proxy_http_parse_minor(const struct proxy_http_parser *p)
{
    return p->minor;
}

int
proxy_http_parse_nheaders(const struct proxy_http_parser *p)
{
    return p->nhdr;
}

int
proxy_http_parse_header_at(const struct proxy_http_parser *p, int i, const char **name,
                           const char **value)
{
    if (i < 0 || i >= p->nhdr)
        return -1;
    *name = p->hdr[i].name;
    *value = p->hdr[i].value;
    return 0;
}

enum proxy_http_framing
proxy_http_parse_framing(const struct proxy_http_parser *p)
{
    return p->framing;
}

int64_t
proxy_http_parse_length(const struct proxy_http_parser *p)
{
    return p->length;
}

int
proxy_http_parse_status(const struct proxy_http_parser *p)
{
    return p->status;
}

const char *
proxy_http_parse_message(const struct proxy_http_parser *p)
{
    return p->msg;
}
