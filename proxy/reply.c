/*
 * reply.c - the errors sendcapd makes, in Resend's shape (SPEC §3):
 * {"statusCode":N,"message":"…","name":"…"}, HTTP status = statusCode,
 * Content-Type: application/json, and X-Request-Id on every response.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

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

void
proxy_reply_error(struct http_request *req, const char *request_id, int status, const char *name,
                  const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    json_t *o;
    char *body;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    o = json_pack("{s:i, s:s, s:s}", "statusCode", status, "message", msg, "name", name);
    body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    proxy_http_add_header(req, "Content-Type", "application/json");
    proxy_http_add_header(req, "X-Request-Id", request_id);
    if (status == 503)
        proxy_http_add_header(req, "Retry-After", "1");
    if (body == NULL) {
        static const char fallback[] =
            "{\"statusCode\":503,\"message\":\"out of memory\",\"name\":\"service_unavailable\"}";
        proxy_http_respond(req, 503, fallback, sizeof(fallback) - 1);
        return;
    }
    proxy_http_respond(req, status, body, strlen(body));
    free(body);
}
