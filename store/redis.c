/*
 * redis.c - sync and async Redis access with deadlines.  See redis.h.
 */
#include "redis.h"

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <openssl/sha.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"
#include "lua_scripts.h"
#include "secret.h"

/* ---- address ---- */

int
store_redis_addr_parse(const char *url, struct store_redis_addr *out, char *err, size_t errlen)
{
    const char *p, *at, *slash, *hostend;
    char tmp[16];
    int64_t n;

    memset(out, 0, sizeof(*out));
    out->port = 6379;
    if (strncmp(url, "unix://", 7) == 0) {
        const char *q = strchr(url + 7, '?');
        size_t len = q ? (size_t)(q - (url + 7)) : strlen(url + 7);

        if (len == 0 || len >= sizeof(out->path) || url[7] != '/') {
            snprintf(err, errlen, "redis URL: unix:// needs an absolute socket path");
            return -1;
        }
        out->is_unix = 1;
        memcpy(out->path, url + 7, len);
        if (q != NULL) {
            if (strncmp(q, "?db=", 4) != 0 || sc_parse_i64(q + 4, 0, 1000, &n) != 0) {
                snprintf(err, errlen, "redis URL: only ?db=N may follow a unix socket path");
                return -1;
            }
            out->db = (int)n;
        }
        return 0;
    }
    if (strncmp(url, "redis://", 8) != 0) {
        snprintf(err, errlen, "redis URL must start with redis:// or unix://");
        return -1;
    }
    p = url + 8;
    slash = strchr(p, '/');
    at = strchr(p, '@');
    if (at != NULL && (slash == NULL || at < slash)) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        size_t ul, pl;

        if (colon == NULL) {
            snprintf(err, errlen, "redis URL: credentials must be [user]:password@");
            return -1;
        }
        ul = (size_t)(colon - p);
        pl = (size_t)(at - colon - 1);
        if (ul >= sizeof(out->user) || pl >= sizeof(out->password)) {
            snprintf(err, errlen, "redis URL: user or password too long");
            return -1;
        }
        memcpy(out->user, p, ul);
        memcpy(out->password, colon + 1, pl);
        p = at + 1;
    }
    slash = strchr(p, '/');
    hostend = slash ? slash : p + strlen(p);
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(hostend - p));
        if (rb == NULL || (size_t)(rb - p - 1) >= sizeof(out->host)) {
            snprintf(err, errlen, "redis URL: bad IPv6 host");
            return -1;
        }
        memcpy(out->host, p + 1, (size_t)(rb - p - 1));
        p = rb + 1;
    } else {
        const char *colon = memchr(p, ':', (size_t)(hostend - p));
        const char *e = colon ? colon : hostend;
        if (e == p || (size_t)(e - p) >= sizeof(out->host)) {
            snprintf(err, errlen, "redis URL: missing or too long host");
            return -1;
        }
        memcpy(out->host, p, (size_t)(e - p));
        p = e;
    }
    if (*p == ':') {
        size_t pl = (size_t)(hostend - p - 1);
        if (pl == 0 || pl >= sizeof(tmp)) {
            snprintf(err, errlen, "redis URL: bad port");
            return -1;
        }
        memcpy(tmp, p + 1, pl);
        tmp[pl] = '\0';
        if (sc_parse_i64(tmp, 1, 65535, &n) != 0) {
            snprintf(err, errlen, "redis URL: bad port '%s'", tmp);
            return -1;
        }
        out->port = (int)n;
    } else if (p != hostend) {
        snprintf(err, errlen, "redis URL: junk after host");
        return -1;
    }
    if (slash != NULL && slash[1] != '\0') {
        if (sc_parse_i64(slash + 1, 0, 1000, &n) != 0) {
            snprintf(err, errlen, "redis URL: database must be a number");
            return -1;
        }
        out->db = (int)n;
    }
    return 0;
}

int
store_redis_addr_sentinels(struct store_redis_addr *a, const char *list, const char *master,
                           char *err, size_t errlen)
{
    const char *p = list;

    a->nsentinels = 0;
    if (list == NULL || *list == '\0')
        return 0;
    if (master == NULL || *master == '\0' || strlen(master) >= sizeof(a->master_name)) {
        snprintf(err, errlen,
                 "SENDCAP_REDIS_SENTINELS needs SENDCAP_REDIS_MASTER (the master's name)");
        return -1;
    }
    sc_strlcpy(a->master_name, master, sizeof(a->master_name));
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char one[96], *colon;
        int64_t port;

        if (a->nsentinels == 8 || n == 0 || n >= sizeof(one)) {
            snprintf(err, errlen, "SENDCAP_REDIS_SENTINELS: at most 8 host:port entries");
            return -1;
        }
        memcpy(one, p, n);
        one[n] = '\0';
        colon = strrchr(one, ':');
        if (colon == NULL || sc_parse_i64(colon + 1, 1, 65535, &port) != 0 ||
            (size_t)(colon - one) >= sizeof(a->sentinel[0].host) || colon == one) {
            snprintf(err, errlen, "SENDCAP_REDIS_SENTINELS: expected host:port, got '%s'", one);
            return -1;
        }
        *colon = '\0';
        sc_strlcpy(a->sentinel[a->nsentinels].host, one, sizeof(a->sentinel[0].host));
        a->sentinel[a->nsentinels].port = (int)port;
        a->nsentinels++;
        p += n + (e ? 1 : 0);
    }
    return 0;
}

/* Replace host (a name or a numeric address) by its first address, in
 * numeric form; what names it in err ("redis host ", or "" for a sentinel,
 * the words the messages always had).  Blocking: start-up only. */
static int
resolve_host(char *host, size_t len, const char *what, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    char buf[INET6_ADDRSTRLEN];
    int r;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    r = getaddrinfo(host, NULL, &hints, &res);
    if (r != 0 || res == NULL) {
        snprintf(err, errlen, "cannot resolve %s%s: %s", what, host, gai_strerror(r));
        return -1;
    }
    if (res->ai_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, buf, sizeof(buf));
    else
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr, buf, sizeof(buf));
    freeaddrinfo(res);
    sc_strlcpy(host, buf, len);
    return 0;
}

int
store_redis_addr_resolve(struct store_redis_addr *a, char *err, size_t errlen)
{
    for (int i = 0; i < a->nsentinels; i++)
        if (resolve_host(a->sentinel[i].host, sizeof(a->sentinel[i].host), "", err, errlen) != 0)
            return -1;
    if (a->nsentinels > 0 || a->is_unix)
        return 0;
    return resolve_host(a->host, sizeof(a->host), "redis host ", err, errlen);
}

/* ---- scripts ---- */

static struct store_script scripts[STORE_SCRIPT_COUNT] = {
    [STORE_SCRIPT_CALL] = {"call", store_lua_call, ""},
    [STORE_SCRIPT_KEY_ISSUE] = {"key_issue", store_lua_key_issue, ""},
    [STORE_SCRIPT_KEY_REVOKE] = {"key_revoke", store_lua_key_revoke, ""},
    [STORE_SCRIPT_KEY_ROTATE] = {"key_rotate", store_lua_key_rotate, ""},
    [STORE_SCRIPT_KEY_UPDATE] = {"key_update", store_lua_key_update, ""},
    [STORE_SCRIPT_KEY_USAGE] = {"key_usage", store_lua_key_usage, ""},
    [STORE_SCRIPT_UPSTREAM_ADD] = {"upstream_add", store_lua_upstream_add, ""},
    [STORE_SCRIPT_UPSTREAM_ROTATE] = {"upstream_rotate", store_lua_upstream_rotate, ""},
    [STORE_SCRIPT_UPSTREAM_REMOVE] = {"upstream_remove", store_lua_upstream_remove, ""},
    [STORE_SCRIPT_LOG_WRITE] = {"log_write", store_lua_log_write, ""},
    [STORE_SCRIPT_SWEEP] = {"sweep", store_lua_sweep, ""},
    [STORE_SCRIPT_WEBHOOK_ADD] = {"webhook_add", store_lua_webhook_add, ""},
    [STORE_SCRIPT_WEBHOOK_REMOVE] = {"webhook_remove", store_lua_webhook_remove, ""},
    [STORE_SCRIPT_WEBHOOK_TEST] = {"webhook_test", store_lua_webhook_test, ""},
    [STORE_SCRIPT_WEBHOOK_TAKE] = {"webhook_take", store_lua_webhook_take, ""},
    [STORE_SCRIPT_WEBHOOK_CLAIM] = {"webhook_claim", store_lua_webhook_claim, ""},
    [STORE_SCRIPT_WEBHOOK_DONE] = {"webhook_done", store_lua_webhook_done, ""},
    [STORE_SCRIPT_ADMIN_WRITE] = {"admin_write", store_lua_admin_write, ""},
    [STORE_SCRIPT_HELD_DECIDE] = {"held_decide", store_lua_held_decide, ""},
    [STORE_SCRIPT_HELD_EXPIRE] = {"held_expire", store_lua_held_expire, ""},
    [STORE_SCRIPT_HELD_TAKE] = {"held_take", store_lua_held_take, ""},
    [STORE_SCRIPT_HELD_DONE] = {"held_done", store_lua_held_done, ""},
};

const struct store_script *
store_redis_script(enum store_script_id id)
{
    struct store_script *s = &scripts[id];

    if (s->sha[0] == '\0') {
        unsigned char d[SHA_DIGEST_LENGTH];
        SHA1((const unsigned char *)s->body, strlen(s->body), d);
        for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
            snprintf(s->sha + 2 * i, 3, "%02x", d[i]);
    }
    return s;
}

/* ---- sync ---- */

struct store_conn {
    redisContext *ctx;
};

static void
reply_err(redisContext *ctx, redisReply *r, char *err, size_t errlen)
{
    if (r == NULL)
        snprintf(err, errlen, "redis: %s", ctx->errstr[0] ? ctx->errstr : "no reply");
    else
        snprintf(err, errlen, "redis: %.*s", (int)r->len, r->str);
}

static redisReply *
check(struct store_conn *c, redisReply *r, char *err, size_t errlen)
{
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        reply_err(c->ctx, r, err, errlen);
        if (r != NULL)
            freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* Ask the sentinels, in order, where the master is; connect there and
 * check that it says it is the master. */
static struct store_conn *
connect_via_sentinels(const struct store_redis_addr *a, char *err, size_t errlen)
{
    struct timeval ct = sc_tv_ms(SC_REDIS_CONNECT_TIMEOUT_MS);
    struct store_redis_addr m;

    snprintf(err, errlen, "no sentinel answered for master '%s'", a->master_name);
    for (int i = 0; i < a->nsentinels; i++) {
        redisContext *sc = redisConnectWithTimeout(a->sentinel[i].host, a->sentinel[i].port, ct);
        redisReply *r;
        struct store_conn *c;

        if (sc == NULL || sc->err) {
            if (sc)
                redisFree(sc);
            continue;
        }
        redisSetTimeout(sc, ct);
        r = redisCommand(sc, "SENTINEL get-master-addr-by-name %s", a->master_name);
        redisFree(sc);
        if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            if (r)
                freeReplyObject(r);
            continue;
        }
        {
            int64_t port;
            m = *a;
            m.nsentinels = 0;
            m.is_unix = 0;
            sc_strlcpy(m.host, r->element[0]->str, sizeof(m.host));
            if (sc_parse_i64(r->element[1]->str, 1, 65535, &port) != 0) {
                freeReplyObject(r);
                continue;
            }
            m.port = (int)port;
        }
        freeReplyObject(r);
        c = store_redis_connect(&m, err, errlen);
        store_secret_wipe(m.password, sizeof(m.password));
        if (c == NULL)
            continue;
        r = store_redis_cmd(c, err, errlen, "ROLE");
        if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
            strcmp(r->element[0]->str, "master") == 0) {
            freeReplyObject(r);
            return c;
        }
        if (r)
            freeReplyObject(r);
        snprintf(err, errlen, "the server sentinels named for '%s' is not a master",
                 a->master_name);
        store_redis_free(c);
    }
    return NULL;
}

struct store_conn *
store_redis_connect(const struct store_redis_addr *a, char *err, size_t errlen)
{
    struct timeval ct = sc_tv_ms(SC_REDIS_CONNECT_TIMEOUT_MS);
    struct timeval cmd = sc_tv_ms(SC_REDIS_COMMAND_TIMEOUT_MS);
    struct store_conn *c;
    redisReply *r;

    if (a->nsentinels > 0)
        return connect_via_sentinels(a, err, errlen);
    if ((c = calloc(1, sizeof(*c))) == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (a->is_unix)
        c->ctx = redisConnectUnixWithTimeout(a->path, ct);
    else
        c->ctx = redisConnectWithTimeout(a->host, a->port, ct);
    if (c->ctx == NULL || c->ctx->err) {
        if (a->is_unix)
            snprintf(err, errlen, "cannot reach redis at unix:%s: %s", a->path,
                     c->ctx ? c->ctx->errstr : "out of memory");
        else
            snprintf(err, errlen, "cannot reach redis at %s:%d: %s", a->host, a->port,
                     c->ctx ? c->ctx->errstr : "out of memory");
        goto fail;
    }
    redisSetTimeout(c->ctx, cmd);
    if (a->password[0] != '\0') {
        if (a->user[0] != '\0')
            r = redisCommand(c->ctx, "AUTH %s %s", a->user, a->password);
        else
            r = redisCommand(c->ctx, "AUTH %s", a->password);
        if ((r = check(c, r, err, errlen)) == NULL)
            goto fail;
        freeReplyObject(r);
    }
    if (a->db != 0) {
        r = redisCommand(c->ctx, "SELECT %d", a->db);
        if ((r = check(c, r, err, errlen)) == NULL)
            goto fail;
        freeReplyObject(r);
    }
    return c;
fail:
    store_redis_free(c);
    return NULL;
}

void
store_redis_free(struct store_conn *c)
{
    if (c == NULL)
        return;
    if (c->ctx != NULL)
        redisFree(c->ctx);
    free(c);
}

redisContext *
store_redis_ctx(struct store_conn *c)
{
    return c->ctx;
}

redisReply *
store_redis_cmd(struct store_conn *c, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;

    va_start(ap, fmt);
    r = redisvCommand(c->ctx, fmt, ap);
    va_end(ap);
    return check(c, r, err, errlen);
}

redisReply *
store_redis_eval(struct store_conn *c, enum store_script_id id, int nkeys, int nargs,
                 const char **args, char *err, size_t errlen)
{
    const struct store_script *s = store_redis_script(id);
    const char *argv[64];
    char nk[16];
    redisReply *r;

    if (nargs + 3 > 64) { /* sync callers pass few arguments */
        snprintf(err, errlen, "too many script arguments");
        return NULL;
    }
    snprintf(nk, sizeof(nk), "%d", nkeys);
    argv[0] = "EVALSHA";
    argv[1] = s->sha;
    argv[2] = nk;
    for (int i = 0; i < nargs; i++)
        argv[3 + i] = args[i];
    r = redisCommandArgv(c->ctx, nargs + 3, argv, NULL);
    if (r != NULL && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(r);
        argv[0] = "EVAL";
        argv[1] = s->body;
        r = redisCommandArgv(c->ctx, nargs + 3, argv, NULL);
    }
    return check(c, r, err, errlen);
}

int
store_redis_time(struct store_conn *c, int64_t *now_ms, char *err, size_t errlen)
{
    redisReply *r = store_redis_cmd(c, err, errlen, "TIME");
    int64_t s, us;
    int ret = -1;

    if (r == NULL)
        return -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        sc_parse_i64(r->element[0]->str, 0, INT64_MAX / 1000, &s) == 0 &&
        sc_parse_i64(r->element[1]->str, 0, 999999, &us) == 0) {
        *now_ms = s * 1000 + us / 1000;
        ret = 0;
    } else {
        snprintf(err, errlen, "redis: unexpected TIME reply");
    }
    freeReplyObject(r);
    return ret;
}

/* ---- async ---- */

/*
 * hiredis's own libevent adapter (0.14) uses one-shot events, so every
 * reply costs an epoll DEL and ADD, and every command an epoll MOD, a wake-up
 * and another MOD.  This one keeps a persistent read event, and writes what
 * hiredis has buffered from a deferred callback at the end of the current
 * loop iteration, so every command queued in one iteration goes out in one
 * write(2) with no epoll change; only a full socket buffer arms a real write
 * event.  Before the connection is up, writes wait for writability as usual.
 */
struct ev_adapter {
    redisAsyncContext *ac;
    struct event *rev, *wev, *flush;
    int reading, writing, flush_pending, in_flush;
};

static void
ad_read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct ev_adapter *e = arg;

    (void)fd;
    (void)what;
    redisAsyncHandleRead(e->ac);
}

static void
ad_write_cb(evutil_socket_t fd, short what, void *arg)
{
    struct ev_adapter *e = arg;

    (void)fd;
    (void)what;
    redisAsyncHandleWrite(e->ac);
}

static void
ad_flush_cb(evutil_socket_t fd, short what, void *arg)
{
    struct ev_adapter *e = arg;

    (void)fd;
    (void)what;
    e->flush_pending = 0;
    e->in_flush = 1;
    redisAsyncHandleWrite(e->ac); /* may free the context: touch e only if it stays */
}

static void
ad_add_read(void *p)
{
    struct ev_adapter *e = p;

    if (!e->reading) {
        e->reading = 1;
        event_add(e->rev, NULL);
    }
}

static void
ad_del_read(void *p)
{
    struct ev_adapter *e = p;

    if (e->reading) {
        e->reading = 0;
        event_del(e->rev);
    }
}

static void
ad_add_write(void *p)
{
    struct ev_adapter *e = p;

    if (e->writing)
        return;
    if ((e->ac->c.flags & REDIS_CONNECTED) && !e->in_flush) {
        if (!e->flush_pending) {
            e->flush_pending = 1;
            event_active(e->flush, EV_WRITE, 1);
        }
        return;
    }
    /* Not connected yet, or the socket buffer is full: wait for it. */
    e->writing = 1;
    event_add(e->wev, NULL);
}

static void
ad_del_write(void *p)
{
    struct ev_adapter *e = p;

    e->in_flush = 0;
    if (e->writing) {
        e->writing = 0;
        event_del(e->wev);
    }
}

static void
ad_cleanup(void *p)
{
    struct ev_adapter *e = p;

    event_free(e->rev);
    event_free(e->wev);
    event_free(e->flush);
    free(e);
}

static int
ad_attach(redisAsyncContext *ac, struct event_base *base)
{
    struct ev_adapter *e = calloc(1, sizeof(*e));

    if (e == NULL)
        return -1;
    e->ac = ac;
    e->rev = event_new(base, ac->c.fd, EV_READ | EV_PERSIST, ad_read_cb, e);
    e->wev = event_new(base, ac->c.fd, EV_WRITE | EV_PERSIST, ad_write_cb, e);
    e->flush = event_new(base, -1, 0, ad_flush_cb, e);
    if (e->rev == NULL || e->wev == NULL || e->flush == NULL) {
        if (e->rev)
            event_free(e->rev);
        if (e->wev)
            event_free(e->wev);
        if (e->flush)
            event_free(e->flush);
        free(e);
        return -1;
    }
    ac->ev.addRead = ad_add_read;
    ac->ev.delRead = ad_del_read;
    ac->ev.addWrite = ad_add_write;
    ac->ev.delWrite = ad_del_write;
    ac->ev.cleanup = ad_cleanup;
    ac->ev.data = e;
    ad_add_read(e);
    ad_add_write(e);
    return 0;
}

enum astate { A_DOWN, A_CONNECTING, A_READY };

struct store_async {
    struct event_base *base;
    struct store_redis_addr addr;
    redisAsyncContext *ac;
    redisAsyncContext *sac; /* a sentinel, while asking it for the master */
    int sidx;               /* the sentinel to ask next */
    int stried;             /* sentinels asked in this round */
    int discovered;         /* addr.host/port hold the master sentinels named */
    enum astate state;
    struct event *retry;   /* reconnect timer */
    struct event *conn_dl; /* connect deadline */
    int backoff_ms;
    int setup_pending; /* AUTH/SELECT/SCRIPT LOAD replies still to come */
    int setup_failed;
    long pending;
    int freeing;
    /* Commands sent and not yet answered, oldest first, with one timer for
     * all of them: a timer per command cost an event_new/add/free per
     * EVALSHA. Replies come in order, so the timer only has to wake at the
     * earliest deadline in the queue; it is not moved when a reply comes
     * (the wake-up finds the head answered and sleeps until the new head's). */
    struct pending *qhead, *qtail;
    struct event *qdeadline;
    char *fmt; /* reused EVALSHA buffer (hiredis copies what it is given) */
    size_t fmtcap;
};

struct pending {
    struct store_async *as;
    store_reply_cb *cb;
    void *arg;
    struct pending *prev, *next; /* in as's queue */
    int64_t due_us;              /* when its deadline passes */
    int extended;                /* the deadline was moved once for a late loop */
    int done;                    /* cb already ran (deadline passed) */
};

static void start_connect(struct store_async *as);
static void drop(struct store_async *as, const char *why);
static void queue_deadline_cb(evutil_socket_t fd, short what, void *arg);

static void
schedule_retry(struct store_async *as)
{
    struct timeval tv = sc_tv_ms(as->backoff_ms);

    if (as->freeing)
        return;
    evtimer_add(as->retry, &tv);
    as->backoff_ms *= 2;
    if (as->backoff_ms > SC_REDIS_RECONNECT_MAX_MS)
        as->backoff_ms = SC_REDIS_RECONNECT_MAX_MS;
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    start_connect(arg);
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
    struct store_async *as = ac->data;

    (void)status;
    if (as == NULL || as->ac != ac)
        return;
    as->ac = NULL;
    if (as->state == A_READY)
        sc_warn("redis: connection lost: %s", ac->errstr[0] ? ac->errstr : "closed");
    as->state = A_DOWN;
    as->discovered = 0; /* a lost master may have failed over: ask again */
    evtimer_del(as->conn_dl);
    schedule_retry(as);
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
    struct store_async *as = ac->data;

    if (as == NULL || as->ac != ac)
        return;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback. */
        sc_debug("redis: connect failed: %s", ac->errstr);
        as->ac = NULL;
        as->state = A_DOWN;
        as->discovered = 0;
        evtimer_del(as->conn_dl);
        schedule_retry(as);
    }
}

/* One set-up command (AUTH, SELECT, ROLE, SCRIPT LOAD) has answered; when
 * the last has, the connection is ready, or dropped if any failed. */
static void
setup_step(struct store_async *as, const char *failure)
{
    if (failure != NULL) {
        if (!as->setup_failed)
            sc_error("redis: connection set-up failed: %s", failure);
        as->setup_failed = 1;
    }
    if (--as->setup_pending == 0 && as->state == A_CONNECTING) {
        if (as->setup_failed) {
            drop(as, NULL);
            return;
        }
        evtimer_del(as->conn_dl);
        as->state = A_READY;
        as->backoff_ms = SC_REDIS_RECONNECT_MIN_MS;
        if (as->addr.is_unix)
            sc_info("redis: connected to %s and scripts loaded", as->addr.path);
        else
            sc_info("redis: connected to %s:%d and scripts loaded", as->addr.host, as->addr.port);
    }
}

static void
setup_reply(redisAsyncContext *ac, void *r, void *priv)
{
    struct store_async *as = ac->data;
    redisReply *reply = r;

    (void)priv;
    if (as == NULL || as->ac != ac)
        return;
    if (reply == NULL || reply->type == REDIS_REPLY_ERROR)
        setup_step(as, reply ? reply->str : (ac->errstr[0] ? ac->errstr : "no reply"));
    else
        setup_step(as, NULL);
}

/* ROLE, in the set-up of a connection found through sentinels: a server
 * that is not (or no longer) the master is dropped and the sentinels asked
 * again. */
static void
role_reply(redisAsyncContext *ac, void *r, void *priv)
{
    struct store_async *as = ac->data;
    redisReply *reply = r;

    (void)priv;
    if (as == NULL || as->ac != ac)
        return;
    if (reply != NULL && reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 &&
        reply->element[0]->type == REDIS_REPLY_STRING &&
        strcmp(reply->element[0]->str, "master") == 0)
        setup_step(as, NULL);
    else
        setup_step(as, "the server the sentinels named is not a master");
}

static void
conn_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    struct store_async *as = arg;

    (void)fd;
    (void)what;
    if (as->state == A_CONNECTING)
        drop(as, as->ac == NULL && as->sac != NULL ? "sentinel did not answer in time"
                                                   : "connect timed out");
}

/* Tear the connection down now: every queued callback runs with an error
 * (hiredis calls them from redisAsyncFree), then a reconnect is scheduled. */
static void
drop(struct store_async *as, const char *why)
{
    redisAsyncContext *ac = as->ac;

    if (why != NULL)
        sc_warn("redis: dropping connection: %s", why);
    as->state = A_DOWN;
    as->discovered = 0;
    evtimer_del(as->conn_dl);
    if (as->sac != NULL) {
        redisAsyncContext *sac = as->sac;
        as->sac = NULL;
        sac->data = NULL;
        redisAsyncFree(sac);
    }
    if (ac != NULL) {
        as->ac = NULL;
        ac->data = NULL;
        redisAsyncFree(ac);
    }
    schedule_retry(as);
}

static void start_master(struct store_async *as);
static void ask_sentinel(struct store_async *as);

/* A sentinel could not say where the master is: the next one, or, after a
 * whole round, the usual backoff. */
static void
sentinel_failed(struct store_async *as, const char *why)
{
    sc_debug("redis: sentinel %s:%d: %s", as->addr.sentinel[as->sidx].host,
             as->addr.sentinel[as->sidx].port, why);
    as->sidx = (as->sidx + 1) % as->addr.nsentinels;
    if (++as->stried >= as->addr.nsentinels) {
        sc_warn("redis: no sentinel named a master for '%s'", as->addr.master_name);
        as->state = A_DOWN;
        evtimer_del(as->conn_dl);
        schedule_retry(as);
        return;
    }
    ask_sentinel(as);
}

static void
sentinel_reply(redisAsyncContext *sac, void *r, void *priv)
{
    struct store_async *as = sac->data;
    redisReply *reply = r;
    int64_t port;

    (void)priv;
    if (as == NULL || as->sac != sac)
        return;
    as->sac = NULL;
    sac->data = NULL;
    redisAsyncDisconnect(sac); /* freed by hiredis once this callback returns */
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[0]->len >= sizeof(as->addr.host) ||
        sc_parse_i64(reply->element[1]->str, 1, 65535, &port) != 0) {
        sentinel_failed(as, reply && reply->type == REDIS_REPLY_ERROR ? reply->str : "no master");
        return;
    }
    sc_strlcpy(as->addr.host, reply->element[0]->str, sizeof(as->addr.host));
    as->addr.port = (int)port;
    as->addr.is_unix = 0;
    as->discovered = 1;
    as->state = A_DOWN;
    start_master(as);
}

static void
sentinel_connected(const redisAsyncContext *sac, int status)
{
    struct store_async *as = sac->data;

    if (as == NULL || as->sac != sac || status == REDIS_OK)
        return;
    as->sac = NULL; /* hiredis frees it after this callback */
    sentinel_failed(as, "cannot connect");
}

static void
ask_sentinel(struct store_async *as)
{
    redisAsyncContext *sac =
        redisAsyncConnect(as->addr.sentinel[as->sidx].host, as->addr.sentinel[as->sidx].port);

    if (sac == NULL || sac->err || ad_attach(sac, as->base) != 0) {
        if (sac != NULL)
            redisAsyncFree(sac);
        sentinel_failed(as, "cannot connect");
        return;
    }
    sac->data = as;
    as->sac = sac;
    redisAsyncSetConnectCallback(sac, sentinel_connected);
    redisAsyncCommand(sac, sentinel_reply, NULL, "SENTINEL get-master-addr-by-name %s",
                      as->addr.master_name);
}

static void
start_connect(struct store_async *as)
{
    struct timeval dl = sc_tv_ms(SC_REDIS_CONNECT_TIMEOUT_MS);

    if (as->freeing || as->state != A_DOWN)
        return;
    if (as->addr.nsentinels > 0 && !as->discovered) {
        /* Where is the master now?  The whole discovery runs under the
         * connect deadline. */
        as->state = A_CONNECTING;
        as->stried = 0;
        evtimer_add(as->conn_dl, &dl);
        ask_sentinel(as);
        return;
    }
    start_master(as);
}

static void
start_master(struct store_async *as)
{
    struct timeval dl = sc_tv_ms(SC_REDIS_CONNECT_TIMEOUT_MS);
    redisAsyncContext *ac;

    if (as->addr.is_unix)
        ac = redisAsyncConnectUnix(as->addr.path);
    else
        ac = redisAsyncConnect(as->addr.host, as->addr.port);
    if (ac == NULL || ac->err) {
        sc_debug("redis: connect failed: %s", ac ? ac->errstr : "out of memory");
        if (ac != NULL)
            redisAsyncFree(ac);
        as->state = A_DOWN;
        as->discovered = 0;
        schedule_retry(as);
        return;
    }
    ac->data = as;
    as->ac = ac;
    as->state = A_CONNECTING;
    as->setup_pending = 0;
    as->setup_failed = 0;
    if (ad_attach(ac, as->base) != 0) {
        ac->data = NULL;
        redisAsyncFree(ac);
        as->ac = NULL;
        as->state = A_DOWN;
        schedule_retry(as);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    evtimer_add(as->conn_dl, &dl);
    if (as->addr.nsentinels > 0) {
        redisAsyncCommand(ac, role_reply, NULL, "ROLE");
        as->setup_pending++;
    }

    /* Commands are answered in order: everything queued after these runs
     * authenticated, on the right database, with the scripts loaded. */
    if (as->addr.password[0] != '\0') {
        if (as->addr.user[0] != '\0')
            redisAsyncCommand(ac, setup_reply, NULL, "AUTH %s %s", as->addr.user,
                              as->addr.password);
        else
            redisAsyncCommand(ac, setup_reply, NULL, "AUTH %s", as->addr.password);
        as->setup_pending++;
    }
    if (as->addr.db != 0) {
        redisAsyncCommand(ac, setup_reply, NULL, "SELECT %d", as->addr.db);
        as->setup_pending++;
    }
    for (int i = 0; i < STORE_SCRIPT_COUNT; i++) {
        redisAsyncCommand(ac, setup_reply, NULL, "SCRIPT LOAD %s",
                          store_redis_script((enum store_script_id)i)->body);
        as->setup_pending++;
    }
}

struct store_async *
store_redis_async_new(struct event_base *base, const struct store_redis_addr *a)
{
    struct store_async *as = calloc(1, sizeof(*as));

    if (as == NULL)
        return NULL;
    as->base = base;
    as->addr = *a;
    as->backoff_ms = SC_REDIS_RECONNECT_MIN_MS;
    as->retry = evtimer_new(base, retry_cb, as);
    as->conn_dl = evtimer_new(base, conn_deadline_cb, as);
    as->qdeadline = evtimer_new(base, queue_deadline_cb, as);
    if (as->retry == NULL || as->conn_dl == NULL || as->qdeadline == NULL) {
        store_redis_async_free(as);
        return NULL;
    }
    start_connect(as);
    return as;
}

void
store_redis_async_free(struct store_async *as)
{
    if (as == NULL)
        return;
    as->freeing = 1;
    if (as->sac != NULL) {
        redisAsyncContext *sac = as->sac;
        as->sac = NULL;
        sac->data = NULL;
        redisAsyncFree(sac);
    }
    if (as->ac != NULL) {
        redisAsyncContext *ac = as->ac;
        as->ac = NULL;
        ac->data = NULL;
        redisAsyncFree(ac);
    }
    if (as->retry)
        event_free(as->retry);
    if (as->conn_dl)
        event_free(as->conn_dl);
    if (as->qdeadline)
        event_free(as->qdeadline);
    free(as->fmt);
    store_secret_wipe(as->addr.password, sizeof(as->addr.password));
    free(as);
}

int
store_redis_async_ready(const struct store_async *as)
{
    return as->state == A_READY;
}

static void
queue_unlink(struct store_async *as, struct pending *p)
{
    if (p->prev != NULL)
        p->prev->next = p->next;
    else
        as->qhead = p->next;
    if (p->next != NULL)
        p->next->prev = p->prev;
    else
        as->qtail = p->prev;
    p->prev = p->next = NULL;
}

static void
queue_arm(struct store_async *as, int64_t due_us, int64_t now_us)
{
    int64_t us = due_us > now_us ? due_us - now_us : 0;
    struct timeval tv = {.tv_sec = (time_t)(us / 1000000), .tv_usec = (suseconds_t)(us % 1000000)};

    evtimer_add(as->qdeadline, &tv);
}

/*
 * The queue's timer: every command whose deadline has passed either gets
 * its time once more (the loop, not Redis, was late) or fails, and the
 * connection with it; then the timer sleeps until the earliest deadline
 * left. Per command this is what a timer of its own did.
 */
static void
queue_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    struct store_async *as = arg;
    struct pending *p, *next;
    int64_t now, first = 0;

    (void)fd;
    (void)what;
    /* A reply may be waiting in the socket, unread because the loop was
     * busy: read it before calling Redis late. It may answer (and unlink)
     * any part of the queue, or drop the connection and empty it. */
    if (as->qhead != NULL && as->ac != NULL)
        redisAsyncHandleRead(as->ac);
    now = sc_mono_us();
    for (p = as->qhead; p != NULL; p = next) {
        next = p->next;
        if (p->done)
            continue;
        if (p->due_us > now) {
            if (first == 0 || p->due_us < first)
                first = p->due_us;
            continue;
        }
        /* The deadline measures Redis, not this process: when the loop
         * itself ran late (a long turn can keep a command from being
         * written at all until after its deadline), the command gets its
         * time once more instead of failing, with every call queued
         * behind it. */
        if (!p->extended && now - p->due_us > SC_REDIS_LOOP_SLACK_MS * 1000) {
            p->extended = 1;
            p->due_us = now + SC_REDIS_COMMAND_TIMEOUT_MS * 1000LL;
            if (first == 0 || p->due_us < first)
                first = p->due_us;
            continue;
        }
        p->done = 1;
        p->cb(NULL, "redis command timed out", p->arg);
        /* The connection is stuck behind this command: fail everything
         * queued on it now and reconnect, rather than let requests pile
         * up. hiredis answers the whole queue (p included) from
         * redisAsyncFree, which unlinks and frees each; the callback may
         * have changed the queue too, so the walk ends here. */
        if (as->ac != NULL)
            drop(as, "a command passed its deadline");
        return;
    }
    if (first != 0)
        queue_arm(as, first, now);
}

static void
pending_reply(redisAsyncContext *ac, void *r, void *priv)
{
    struct pending *p = priv;
    redisReply *reply = r;
    struct store_async *as = p->as;

    (void)ac;
    if (as != NULL) {
        as->pending--;
        queue_unlink(as, p);
    }
    if (!p->done) {
        if (reply == NULL) {
            p->cb(NULL, "redis connection lost", p->arg);
        } else if (reply->type == REDIS_REPLY_ERROR) {
            char msg[256];
            snprintf(msg, sizeof(msg), "redis: %.*s", (int)(reply->len > 200 ? 200 : reply->len),
                     reply->str);
            if (strncmp(reply->str, "NOSCRIPT", 8) == 0 && as != NULL && as->ac == ac)
                drop(as, "scripts were flushed; reloading");
            else if (strncmp(reply->str, "READONLY", 8) == 0 && as != NULL && as->ac == ac)
                drop(as, "the server became a replica (failover); asking the sentinels again");
            p->cb(NULL, msg, p->arg);
        } else {
            p->cb(reply, NULL, p->arg);
        }
    }
    free(p);
}

/* Write "$<len>\r\n<data>\r\n" (a RESP bulk string) at o; returns the end. */
static char *
put_bulk(char *o, const char *data, size_t len)
{
    *o++ = '$';
    o = sc_put_u64(o, len);
    *o++ = '\r';
    *o++ = '\n';
    memcpy(o, data, len);
    o += len;
    *o++ = '\r';
    *o++ = '\n';
    return o;
}

struct event_base *
store_redis_async_base(const struct store_async *as)
{
    return as->base;
}

void
store_redis_async_push(struct store_async *as)
{
    struct ev_adapter *e;

    if (as->ac == NULL || as->state != A_READY || (e = as->ac->ev.data) == NULL ||
        !e->flush_pending)
        return;
    event_del(e->flush); /* out of the active queue: it is done here */
    ad_flush_cb(-1, 0, e);
}

/*
 * EVALSHA as one preformatted RESP buffer: hiredis's own formatter
 * (sdscatfmt per argument) cost more than the script call itself on the
 * send path, so the buffer is built here, in one the connection keeps.
 */
int
store_redis_async_eval(struct store_async *as, enum store_script_id id, int nkeys, int argc,
                       const char **argv, const size_t *argvlen, store_reply_cb *cb, void *arg,
                       const char **errstr)
{
    const struct store_script *s = store_redis_script(id);
    char nk[16], *buf, *o;
    size_t lens[STORE_REDIS_MAX_ARGS], total, nkl;
    struct pending *p;
    int64_t now;

    if (as->state != A_READY || as->ac == NULL) {
        *errstr = "redis is not connected";
        return -1;
    }
    if (as->pending >= SC_REDIS_MAX_PENDING || argc > STORE_REDIS_MAX_ARGS) {
        *errstr = argc > STORE_REDIS_MAX_ARGS ? "too many script arguments"
                                              : "too many redis commands pending";
        return -1;
    }
    nkl = (size_t)(sc_put_u64(nk, (uint64_t)nkeys) - nk);
    total = 16 + (7 + 24) + (40 + 24) + (nkl + 24);
    for (int i = 0; i < argc; i++) {
        lens[i] = argvlen ? argvlen[i] : strlen(argv[i]);
        total += lens[i] + 24 + 2;
    }
    /* One buffer per connection, grown to the largest command and kept
     * up to SC_REDIS_FMT_KEEP_MAX: a send's commands are the same few
     * sizes every time. */
    if (total > as->fmtcap) {
        char *nb = realloc(as->fmt, total);
        if (nb == NULL) {
            *errstr = "out of memory";
            return -1;
        }
        as->fmt = nb;
        as->fmtcap = total;
    }
    buf = as->fmt;
    if ((p = calloc(1, sizeof(*p))) == NULL) {
        *errstr = "out of memory";
        return -1;
    }
    p->as = as;
    p->cb = cb;
    p->arg = arg;
    o = buf;
    *o++ = '*';
    o = sc_put_u64(o, (uint64_t)(argc + 3));
    *o++ = '\r';
    *o++ = '\n';
    o = put_bulk(o, "EVALSHA", 7);
    o = put_bulk(o, s->sha, 40);
    o = put_bulk(o, nk, nkl);
    for (int i = 0; i < argc; i++)
        o = put_bulk(o, argv[i], lens[i]);
    if (redisAsyncFormattedCommand(as->ac, pending_reply, p, buf, (size_t)(o - buf)) != REDIS_OK) {
        free(p);
        *errstr = "redis connection is closing";
        return -1;
    }
    if (as->fmtcap > SC_REDIS_FMT_KEEP_MAX) { /* hiredis has its copy */
        free(as->fmt);
        as->fmt = NULL;
        as->fmtcap = 0;
    }
    as->pending++;
    now = sc_mono_us();
    p->due_us = now + SC_REDIS_COMMAND_TIMEOUT_MS * 1000LL;
    p->prev = as->qtail;
    if (as->qtail != NULL)
        as->qtail->next = p;
    else
        as->qhead = p;
    as->qtail = p;
    /* Every earlier command's deadline is no later than this one's (same
     * timeout, earlier start; a moved one was moved to now + timeout at an
     * earlier now), so an armed timer already wakes in time. */
    if (!evtimer_pending(as->qdeadline, NULL))
        queue_arm(as, p->due_us, now);
    return 0;
}
