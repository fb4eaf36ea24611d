/*
 * reply.c - the errors sendcapd makes, in Resend's shape (SPEC §3):
 * {"statusCode":N,"message":"…","name":"…"}, HTTP status = statusCode,
 * Content-Type: application/json, and X-Request-Id on every response.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy.h"

/* Request ids need to be unique, not secret: a random per-process prefix
 * (8 base62, drawn once) and a counter (12 base62) — no system call per
 * request. */
void
proxy_request_id(char *buf, size_t len)
{
    static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    static char prefix[9];
    static unsigned long long counter;
    unsigned long long n = ++counter;

    if (len < 25) {
        snprintf(buf, len, "req_");
        return;
    }
    if (prefix[0] == '\0' && store_secret_random_base62(prefix, 8) != 0)
        memcpy(prefix, "00000000", 9);
    memcpy(buf, "req_", 4);
    memcpy(buf + 4, prefix, 8);
    for (int i = 23; i >= 12; i--) {
        buf[i] = b62[n % 62];
        n /= 62;
    }
    buf[24] = '\0';
}

/* The body is built here, not by jansson: json_pack refuses a string that
 * is not UTF-8, and a refusal that quotes what an agent sent (cut to a
 * buffer, or not UTF-8 to begin with) then became 503 "out of memory".
 * policy_utf8_json escapes any bytes, so building the reply cannot fail on
 * its message's content, and it allocates nothing. */
void
proxy_reply_error(struct proxy_http_request *req, const char *request_id, int status,
                  const char *name, const char *fmt, ...)
{
    char msg[1024], qmsg[6 * sizeof(msg)], qname[64], body[sizeof(qmsg) + sizeof(qname) + 64];
    va_list ap;
    int n;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    policy_utf8_cut(msg, strlen(msg)); /* vsnprintf may have cut a character */
    policy_utf8_json(qmsg, sizeof(qmsg), msg);
    policy_utf8_json(qname, sizeof(qname), name);
    n = snprintf(body, sizeof(body), "{\"statusCode\":%d,\"message\":\"%s\",\"name\":\"%s\"}",
                 status, qmsg, qname);
    proxy_http_add_header(req, "Content-Type", "application/json");
    proxy_http_add_header(req, "X-Request-Id", request_id);
    if (status == 503)
        proxy_http_add_header(req, "Retry-After", "1");
    proxy_http_respond(req, status, body, (size_t)n);
}
