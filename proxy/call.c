/*
 * call.c - the life of one proxied call.
 *
 *   target check -> route -> vault key -> policy (on the cached record) ->
 *   call.lua (one Redis round trip: exists, revoked, expired, cache current)
 *   -> forward through libcurl -> relay the answer.
 *
 * A cold or outdated cache makes call.lua answer "stale" with the current
 * record and sealed real key instead; the record is cached, policy runs
 * again and call.lua is asked again (at most STALE_RETRIES times).  Nothing
 * here blocks: Redis and the upstream are asynchronous on the same loop.
 *
 * Fail closed: Redis down or late, a record that does not parse, a real key
 * that does not decrypt -> 503 and nothing forwarded.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "common/log.h"
#include "common/util.h"
#include "proxy.h"
#include "store/upstreams.h"

#define STALE_RETRIES 2

struct call {
    struct proxy *px;
    struct http_request *req;
    char id[32];
    char *path;       /* normalised path, prefix stripped */
    const char *query;/* "?..." or "" (points into target) */
    const struct policy_route *route;
    char hash[SC_KEY_HASH_HEX];
    char key_id[40];
    int stale_tries;
    int64_t t0;
};

static void call_free(struct call *c)
{
    if (c == NULL)
        return;
    free(c->path);
    free(c);
}

static void
fail(struct call *c, int status, const char *name, const char *msg)
{
    proxy_reply_error(c->req, c->id, status, name, "%s", msg);
    call_free(c);
}

/*
 * Check and normalise the request target (SPEC §3): origin-form only; no
 * percent-encoding, no "." or ".." segments in the path; runs of "/" fold
 * to one (a base URL's trailing slash gives "//emails"); a trailing "/" is
 * dropped; the configured prefix is stripped.  Returns 0, or -1 with msg.
 */
static int
normalise(struct call *c, const char *target, const char **msg)
{
    const char *q = strchr(target, '?');
    size_t n = q ? (size_t)(q - target) : strlen(target);
    const char *prefix = c->px->cfg.path_prefix;
    char *p, *o;

    if (target[0] != '/') {
        *msg = "the request target must be a path (absolute-form and authority-form are refused)";
        return -1;
    }
    if (memchr(target, '%', n) != NULL) {
        *msg = "percent-encoded request paths are refused";
        return -1;
    }
    if (memchr(target, '#', strlen(target)) != NULL) {
        *msg = "the request target must not carry a fragment";
        return -1;
    }
    c->query = q ? q : "";
    p = malloc(n + 2);
    if (p == NULL) {
        *msg = "out of memory";
        return -1;
    }
    o = p;
    for (size_t i = 0; i < n; i++) {
        if (target[i] == '/' && o > p && o[-1] == '/')
            continue;
        *o++ = target[i];
    }
    if (o - p > 1 && o[-1] == '/')
        o--;
    *o = '\0';
    /* dot segments */
    for (char *s = p; s != NULL && *s; s = strchr(s + 1, '/')) {
        if (strncmp(s, "/.", 2) == 0 &&
            (s[2] == '/' || s[2] == '\0' || (s[2] == '.' && (s[3] == '/' || s[3] == '\0')))) {
            free(p);
            *msg = "dot segments (. and ..) in the request path are refused";
            return -1;
        }
    }
    if (c->px->prefix_len > 0) {
        size_t pl = c->px->prefix_len;
        if (strncmp(p, prefix, pl) != 0 || (p[pl] != '/' && p[pl] != '\0')) {
            free(p);
            *msg = NULL; /* not ours: 404 */
            return -1;
        }
        memmove(p, p + pl, strlen(p + pl) + 1);
        if (*p == '\0') {
            p[0] = '/';
            p[1] = '\0';
        }
    }
    c->path = p;
    return 0;
}

/* Headers never forwarded upstream: hop-by-hop (RFC 9110 §7.6.1), the
 * client's credentials, framing that libcurl sets itself, and ours. */
static int
dropped_request_header(const char *name, const char *connection)
{
    static const char *const drop[] = {
        "Host", "Authorization", "Connection", "Keep-Alive", "Proxy-Connection",
        "Proxy-Authorization", "Proxy-Authenticate", "TE", "Trailer", "Transfer-Encoding",
        "Upgrade", "Content-Length", "Expect", "X-Agent-Run-Id", "Accept-Encoding",
    };

    for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
        if (strcasecmp(name, drop[i]) == 0)
            return 1;
    /* Fields the client named in Connection are hop-by-hop too. */
    if (connection != NULL) {
        size_t nl = strlen(name);
        for (const char *p = connection; *p;) {
            while (*p == ' ' || *p == ',' || *p == '\t')
                p++;
            const char *e = p;
            while (*e && *e != ',' && *e != ' ' && *e != '\t')
                e++;
            if ((size_t)(e - p) == nl && strncasecmp(p, name, nl) == 0)
                return 1;
            p = e;
        }
    }
    return 0;
}

static int
dropped_response_header(const char *name)
{
    static const char *const drop[] = {
        "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade",
        "Trailer", "TE", "Content-Length", "X-Request-Id",
    };

    for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
        if (strcasecmp(name, drop[i]) == 0)
            return 1;
    return 0;
}

static void
upstream_done(const struct upstream_result *res, void *arg)
{
    struct call *c = arg;
    struct http_request *req = c->req;

    switch (res->outcome) {
    case UPSTREAM_ANSWERED:
        break;
    case UPSTREAM_TIMEOUT:
        sc_warn("%s upstream timed out (%s)", c->id, res->error);
        fail(c, 504, "application_error",
             "Resend did not answer in time; the email may or may not have been sent. "
             "Check before retrying.");
        return;
    case UPSTREAM_NOT_SENT:
        sc_warn("%s upstream unreachable: %s", c->id, res->error);
        fail(c, 502, "application_error",
             "sendcap could not reach Resend; nothing was sent. Retry later.");
        return;
    case UPSTREAM_FAILED:
        sc_warn("%s upstream failed after sending: %s", c->id, res->error);
        fail(c, 502, "application_error",
             "the connection to Resend failed after the request was sent; the email may or may "
             "not have been sent. Check before retrying.");
        return;
    }
    for (int i = 0; i < res->nhdr; i++) {
        if (dropped_response_header(res->hdr[i].name))
            continue;
        proxy_http_add_header(req, res->hdr[i].name, res->hdr[i].value);
    }
    for (int i = 0; i < res->nhdr; i++)
        if (strcasecmp(res->hdr[i].name, "X-Request-Id") == 0)
            proxy_http_add_header(req, "X-Upstream-Request-Id", res->hdr[i].value);
    proxy_http_add_header(req, "X-Request-Id", c->id);
    sc_debug("%s %s %s -> %ld (%lld ms upstream)", c->id, proxy_http_method(req),
             c->route->name, res->status, (long long)res->latency_ms);
    proxy_http_respond(req, (int)res->status, res->body, res->body_len);
    call_free(c);
}

static void
forward(struct call *c, const struct kc_entry *e)
{
    struct http_request *req = c->req;
    struct curl_slist *h = NULL, *t;
    const char *connection = proxy_http_header(req, "Connection");
    const char *name, *value;
    struct evbuffer *body = proxy_http_body(req);
    size_t blen = evbuffer_get_length(body);
    const void *bptr = blen ? evbuffer_pullup(body, -1) : NULL;
    char *pq;
    size_t pql;
    int has_ua = 0;
    char line[1024];

    for (int i = 0; proxy_http_header_at(req, i, &name, &value) == 0; i++) {
        size_t need = strlen(name) + strlen(value) + 3;
        char *l;

        if (dropped_request_header(name, connection))
            continue;
        if (strcasecmp(name, "User-Agent") == 0) {
            if (*value == '\0')
                continue; /* an empty one is replaced by ours */
            has_ua = 1;
        }
        l = need <= sizeof(line) ? line : malloc(need);
        if (l == NULL)
            goto nomem;
        /* "Name;" is curl's way to send a header with an empty value. */
        if (*value == '\0')
            snprintf(l, need, "%s;", name);
        else
            snprintf(l, need, "%s: %s", name, value);
        t = curl_slist_append(h, l);
        if (l != line)
            free(l);
        if (t == NULL)
            goto nomem;
        h = t;
    }
    if (!has_ua && (t = curl_slist_append(h, "User-Agent: sendcap/0.1")) != NULL)
        h = t;
    if ((t = curl_slist_append(h, "Expect:")) != NULL) /* no 100-continue round trip */
        h = t;
    {
        size_t al = strlen(e->real_key) + 24;
        char *auth = malloc(al);
        if (auth == NULL)
            goto nomem;
        snprintf(auth, al, "Authorization: Bearer %s", e->real_key);
        t = curl_slist_append(h, auth);
        store_secret_wipe(auth, al);
        free(auth);
        if (t == NULL)
            goto nomem;
        h = t;
    }
    pql = strlen(c->path) + strlen(c->query) + 1;
    pq = malloc(pql);
    if (pq == NULL)
        goto nomem;
    snprintf(pq, pql, "%s%s", c->path, c->query);
    if (proxy_upstream_start(c->px->upstream, proxy_http_method(req), pq, h, bptr, blen,
                             upstream_done, c) != 0) {
        free(pq);
        fail(c, 503, "service_unavailable", "sendcap could not start the upstream call; retry");
        return;
    }
    free(pq);
    return;
nomem:
    for (struct curl_slist *p = h; p != NULL; p = p->next)
        store_secret_wipe(p->data, strlen(p->data));
    curl_slist_free_all(h);
    fail(c, 503, "service_unavailable", "sendcap is out of memory; retry");
}

static void run_script(struct call *c, const struct kc_entry *e);

/* Policy on a (possibly cached) record.  Returns 1 if the call may go on. */
static int
check_policy(struct call *c, const struct kc_entry *e)
{
    char msg[512];

    if (!policy_route_allowed(c->route, e->scope, e->daily_cap >= 0, e->to_domains[0] != '\0')) {
        if (c->route->cls == POLICY_ROUTE_FORBIDDEN)
            snprintf(msg, sizeof(msg),
                     "vault key %s cannot call %s: no vault key may reach /api-keys", e->id,
                     c->route->name);
        else if (c->route->cls == POLICY_ROUTE_BLIND_SEND && e->scope == POLICY_SCOPE_FULL)
            snprintf(msg, sizeof(msg),
                     "vault key %s cannot call %s: it sends to recipients sendcap cannot count "
                     "or check, and this key has a daily cap or a to-domain list",
                     e->id, c->route->name);
        else
            snprintf(msg, sizeof(msg),
                     "vault key %s has the sending scope and cannot call %s; issue a key with "
                     "--scope full for it",
                     e->id, c->route->name);
        fail(c, 401, "restricted_api_key", msg);
        return 0;
    }
    return 1;
}

static int
str_el(const redisReply *r, size_t i, char *buf, size_t len)
{
    if (r->type != REDIS_REPLY_ARRAY || i >= r->elements ||
        r->element[i]->type != REDIS_REPLY_STRING || r->element[i]->len >= len)
        return -1;
    memcpy(buf, r->element[i]->str, r->element[i]->len);
    buf[r->element[i]->len] = '\0';
    return 0;
}

/* call.lua answered "stale": cache the fresh record and key, then retry. */
static void
refresh(struct call *c, const redisReply *r)
{
    struct store_key *rec = malloc(sizeof(*rec));
    const redisReply *up;
    char upver[24], aad[128], err[256];
    char *real = NULL;
    size_t rl;
    struct kc_entry *e;

    if (rec == NULL) {
        fail(c, 503, "service_unavailable", "sendcap is out of memory; retry");
        return;
    }
    if (r->elements != 3 || store_keys_from_reply(r->element[1], rec) != 0 ||
        (up = r->element[2])->type != REDIS_REPLY_ARRAY || up->elements != 2 ||
        str_el(up, 0, upver, sizeof(upver)) != 0 || up->element[1]->type != REDIS_REPLY_STRING) {
        free(rec);
        sc_error("%s key record in Redis is malformed", c->id);
        fail(c, 503, "service_unavailable",
             "the vault key's record in Redis is malformed; tell the sendcap admin");
        return;
    }
    sc_strlcpy(rec->hash, c->hash, sizeof(rec->hash));
    store_upstreams_aad(rec->upstream, aad, sizeof(aad));
    real = store_secret_open(c->px->master_key, aad, up->element[1]->str, &rl, err, sizeof(err));
    if (real == NULL) {
        sc_error("%s real key of upstream %s: %s", c->id, rec->upstream, err);
        proxy_reply_error(c->req, c->id, 503, "service_unavailable",
                          "the real key of upstream %s cannot be decrypted with this daemon's "
                          "master key; nothing was sent. Tell the sendcap admin.",
                          rec->upstream);
        free(rec);
        call_free(c);
        return;
    }
    e = proxy_keycache_put(c->px->keys, rec, upver, real);
    store_secret_free(real);
    free(rec);
    if (e == NULL) {
        fail(c, 503, "service_unavailable", "sendcap is out of memory; retry");
        return;
    }
    if (++c->stale_tries > STALE_RETRIES) {
        fail(c, 503, "service_unavailable",
             "the vault key's record kept changing while it was read; retry");
        return;
    }
    if (!check_policy(c, e))
        return;
    run_script(c, e);
}

static void
script_done(redisReply *r, const char *errstr, void *arg)
{
    struct call *c = arg;
    char kind[16], t[32];
    int64_t at = 0;
    struct kc_entry *e;

    if (r == NULL) {
        sc_warn("%s redis: %s", c->id, errstr);
        fail(c, 503, "service_unavailable",
             "sendcap cannot reach its Redis, so it cannot check this vault key; nothing was "
             "sent. Retry shortly.");
        return;
    }
    if (str_el(r, 0, kind, sizeof(kind)) != 0) {
        fail(c, 503, "service_unavailable", "unexpected answer from Redis; nothing was sent");
        return;
    }
    if (strcmp(kind, "ok") == 0) {
        e = proxy_keycache_get(c->px->keys, c->hash);
        if (e == NULL) { /* evicted meanwhile: fetch again */
            run_script(c, NULL);
            return;
        }
        forward(c, e);
        return;
    }
    if (strcmp(kind, "stale") == 0) {
        refresh(c, r);
        return;
    }
    proxy_keycache_drop(c->px->keys, c->hash);
    if (strcmp(kind, "unknown") == 0) {
        fail(c, 403, "invalid_api_key",
             "this vault key is not known to sendcap; ask your sendcap admin for a key");
        return;
    }
    str_el(r, 1, c->key_id, sizeof(c->key_id));
    if (strcmp(kind, "revoked") == 0 || strcmp(kind, "expired") == 0) {
        char when[32];
        if (str_el(r, 2, when, sizeof(when)) == 0)
            sc_parse_i64(when, 0, INT64_MAX, &at);
        sc_format_time_ms(at, t, sizeof(t));
        if (kind[0] == 'r')
            proxy_reply_error(c->req, c->id, 403, "vault_key_revoked",
                              "vault key %s was revoked at %s; ask your sendcap admin for a new "
                              "key",
                              c->key_id, t);
        else
            proxy_reply_error(c->req, c->id, 403, "vault_key_expired",
                              "vault key %s expired at %s; ask your sendcap admin for a new key",
                              c->key_id, t);
        call_free(c);
        return;
    }
    if (strcmp(kind, "no_upstream") == 0) {
        proxy_reply_error(c->req, c->id, 503, "service_unavailable",
                          "the upstream of vault key %s has been removed; nothing was sent. "
                          "Tell the sendcap admin.",
                          c->key_id);
        call_free(c);
        return;
    }
    fail(c, 503, "service_unavailable", "unexpected answer from Redis; nothing was sent");
}

static void
run_script(struct call *c, const struct kc_entry *e)
{
    char key[80];
    const char *argv[3];
    const char *errstr = NULL;

    snprintf(key, sizeof(key), "sc:vk:%s", c->hash);
    argv[0] = key;
    argv[1] = e ? e->gen : "";
    argv[2] = e ? e->upver : "";
    if (store_redis_async_eval(c->px->redis, STORE_SCRIPT_CALL, 1, 3, argv, NULL, script_done, c,
                               &errstr) != 0) {
        sc_warn("%s redis: %s", c->id, errstr);
        fail(c, 503, "service_unavailable",
             "sendcap cannot reach its Redis, so it cannot check this vault key; nothing was "
             "sent. Retry shortly.");
    }
}

/* Take the vault key from "Authorization: Bearer vk_…".  On success the
 * key's hash is in c->hash; the key itself is not kept. */
static int
authenticate(struct call *c)
{
    const char *auth = proxy_http_header(c->req, "Authorization");
    const char *tok;

    if (proxy_http_header_count(c->req, "Authorization") > 1) {
        fail(c, 400, "validation_error", "the request carries more than one Authorization header");
        return -1;
    }
    if (auth == NULL || auth[0] == '\0') {
        fail(c, 401, "missing_api_key",
             "missing API key: send your sendcap vault key as 'Authorization: Bearer vk_…'");
        return -1;
    }
    if (strncasecmp(auth, "Bearer", 6) != 0 || (auth[6] != ' ' && auth[6] != '\t')) {
        fail(c, 401, "missing_api_key",
             "the Authorization header must be 'Bearer vk_…' with your sendcap vault key");
        return -1;
    }
    tok = auth + 7;
    while (*tok == ' ' || *tok == '\t')
        tok++;
    if (*tok == '\0') {
        fail(c, 401, "missing_api_key",
             "missing API key: send your sendcap vault key as 'Authorization: Bearer vk_…'");
        return -1;
    }
    if (strncmp(tok, "re_", 3) == 0) {
        fail(c, 403, "invalid_api_key",
             "a real Resend key was sent to sendcap; use your sendcap vault key (vk_…) instead, "
             "and tell your admin: that real key may be exposed");
        return -1;
    }
    if (!store_secret_vault_key_valid(tok)) {
        fail(c, 403, "invalid_api_key",
             "this is not a sendcap vault key; ask your sendcap admin for a key");
        return -1;
    }
    store_secret_key_hash(tok, strlen(tok), c->hash);
    return 0;
}

void
proxy_call_handle(struct http_request *req, void *arg)
{
    struct proxy *px = arg;
    struct call *c = calloc(1, sizeof(*c));
    const char *msg = NULL;
    struct kc_entry *e;

    if (c == NULL) {
        proxy_reply_error(req, "req_unavailable", 503, "service_unavailable",
                          "sendcap is out of memory; retry");
        return;
    }
    c->px = px;
    c->req = req;
    c->t0 = sc_mono_ms();
    proxy_request_id(c->id, sizeof(c->id));

    if (normalise(c, proxy_http_target(req), &msg) != 0) {
        if (msg == NULL)
            fail(c, 404, "not_found", "no such endpoint under this sendcap's path prefix");
        else
            fail(c, 400, "validation_error", msg);
        return;
    }
    switch (policy_route_match(proxy_http_method(req), c->path, &c->route)) {
    case POLICY_ROUTE_OK:
        break;
    case POLICY_ROUTE_BAD_METHOD:
        proxy_reply_error(req, c->id, 405, "method_not_allowed",
                          "%s is not allowed on %s", proxy_http_method(req), c->path);
        call_free(c);
        return;
    case POLICY_ROUTE_NOT_FOUND:
        proxy_reply_error(req, c->id, 404, "not_found",
                          "sendcap does not know the endpoint %s %s", proxy_http_method(req),
                          c->path);
        call_free(c);
        return;
    }
    if (authenticate(c) != 0)
        return;
    e = proxy_keycache_get(px->keys, c->hash);
    if (e != NULL && !check_policy(c, e))
        return;
    run_script(c, e);
}

void
proxy_call_refused(struct http_request *req, int status, const char *message, void *arg)
{
    char id[32];

    (void)arg;
    proxy_request_id(id, sizeof(id));
    proxy_reply_error(req, id, status, "validation_error", "%s", message);
}
