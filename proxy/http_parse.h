/*
 * http_parse.h - the HTTP/1.1 request parser of sendcapd, without I/O.
 *
 * It reads one request (head and body) from bytes handed to it in any
 * split, and says what it found; it never reads a socket, keeps no timers
 * and knows nothing of libevent, so a fuzzer and unit tests drive it with
 * plain byte arrays (proxy/http.c feeds it from its bufferevents).  The
 * rules it enforces are listed in proxy/http.h; the limits are those of
 * common/limits.h (header block, header count, chunk line) and max_body.
 *
 * Invariant: the result (the events, the head, the de-chunked body, the
 * refusal, and the number of bytes the request used) depends only on the
 * bytes, never on how they were split between calls.  The parser never
 * consumes a byte past the end of its request, so a pipelined request's
 * bytes are left to the caller.
 */
#ifndef SC_PROXY_HTTP_PARSE_H
#define SC_PROXY_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

struct proxy_http_parser;

enum proxy_http_parse_event {
    PROXY_HTTP_PARSE_MORE,  /* every byte handed over was used; send more */
    PROXY_HTTP_PARSE_HEAD,  /* the head is complete: the accessors below work */
    PROXY_HTTP_PARSE_BODY,  /* body bytes (de-chunked) at buf + body_off, body_len long */
    PROXY_HTTP_PARSE_DONE,  /* the request is complete; further calls return DONE, using 0 */
    PROXY_HTTP_PARSE_ERROR, /* refused: proxy_http_parse_status/_message; further calls too */
};

enum proxy_http_framing {
    PROXY_HTTP_FRAMING_NONE,    /* no body */
    PROXY_HTTP_FRAMING_LENGTH,  /* Content-Length (possibly 0) */
    PROXY_HTTP_FRAMING_CHUNKED, /* Transfer-Encoding: chunked */
};

struct proxy_http_parse_out {
    size_t used;     /* bytes of buf this call consumed */
    size_t body_off; /* PROXY_HTTP_PARSE_BODY: where the body bytes start in buf */
    size_t body_len; /* ... and how many there are (at least 1) */
};

/* Returns a new parser for one request (caller frees), or NULL.  A body
 * larger than max_body is refused (413). */
struct proxy_http_parser *proxy_http_parse_new(int64_t max_body);
void proxy_http_parse_free(struct proxy_http_parser *p);

/*
 * Consume bytes from buf (len may be 0; buf may then be NULL) until one
 * event: the head is complete, some body bytes are there, the request is
 * complete, it is refused, or buf is used up (MORE).  out->used says how
 * many bytes were consumed; drop them before the next call.  After HEAD,
 * call again (with the bytes that follow) to read the body.
 */
enum proxy_http_parse_event proxy_http_parse_feed(struct proxy_http_parser *p, const char *buf,
                                                  size_t len, struct proxy_http_parse_out *out);

/* ---- results: borrowed pointers, valid until proxy_http_parse_free ---- */

/* The method and target once the request line was read (before HEAD too,
 * for a refusal's record), else NULL. */
const char *proxy_http_parse_method(const struct proxy_http_parser *p);
const char *proxy_http_parse_target(const struct proxy_http_parser *p);
/* HTTP/1.minor; 1 until the request line was read. */
int proxy_http_parse_minor(const struct proxy_http_parser *p);
/* Header fields read so far, in order; values have their outer blanks trimmed. */
int proxy_http_parse_nheaders(const struct proxy_http_parser *p);
int proxy_http_parse_header_at(const struct proxy_http_parser *p, int i, const char **name,
                               const char **value);
/* How many header fields of that name (case-insensitive) were read. */
int proxy_http_parse_header_count(const struct proxy_http_parser *p, const char *name);
/* After HEAD: how the body is framed, and Content-Length's value (0 otherwise). */
enum proxy_http_framing proxy_http_parse_framing(const struct proxy_http_parser *p);
int64_t proxy_http_parse_length(const struct proxy_http_parser *p);
/* Does a Connection header carry this token (case-insensitive, whole
 * comma-separated tokens: "close" is not found in "x-closed")?  1 or 0. */
int proxy_http_parse_connection_has(const struct proxy_http_parser *p, const char *token);
/* After ERROR: 400, 413 (or 503 when memory ran out) and why, in words
 * that can go to the client. */
int proxy_http_parse_status(const struct proxy_http_parser *p);
const char *proxy_http_parse_message(const struct proxy_http_parser *p);

#endif
