/*
 * redis.h - every Redis connection sendcap makes goes through here.
 *
 * Two paths over one address parser and one script table:
 *  - sync (the CLI): hiredis blocking context with connect and command
 *    timeouts;
 *  - async (the daemon): hiredis on the daemon's libevent loop.  hiredis 0.14
 *    has no async timeouts, so every command and every connect attempt gets
 *    its own libevent timer.  A command that misses its deadline fails, and
 *    the connection is dropped and re-made with backoff, so one hung Redis
 *    cannot queue requests without bound.  Scripts are loaded on every new
 *    connection before anything else is sent on it, so EVALSHA after that
 *    cannot meet NOSCRIPT unless someone runs SCRIPT FLUSH; if that happens
 *    the call fails closed and the scripts are loaded again.
 */
#ifndef SC_STORE_REDIS_H
#define SC_STORE_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

struct event_base;

/* How a store call that says so in its header failed: the CLI maps the kind
 * to its exit code, so the words of err can change without changing it. */
enum store_err {
    STORE_ERR_FAIL = -1,      /* Redis, a script, the master key: could not */
    STORE_ERR_NOT_FOUND = -2, /* no such upstream (or key) */
};

/* A parsed SENDCAP_REDIS_URL. */
struct store_redis_addr {
    int is_unix;
    char host[256]; /* numeric after store_redis_addr_resolve */
    int port;
    char path[512];
    char user[128];
    char password[256];
    int db;
    /* Redis Sentinel: when nsentinels > 0, host and port above are found by
     * asking the sentinels for master_name (and again after every lost
     * connection), and the server found must say ROLE master. */
    int nsentinels;
    struct {
        char host[64];
        int port;
    } sentinel[8];
    char master_name[128];
};

/* Parse redis://[[user]:password@]host[:port][/db] or unix:///path[?db=N].
 * 0, or -1 with err.  The password never appears in err. */
int store_redis_addr_parse(const char *url, struct store_redis_addr *out, char *err, size_t errlen);

/* Add SENDCAP_REDIS_SENTINELS ("host:port,host:port", at most 8) and
 * SENDCAP_REDIS_MASTER to a.  0, or -1 with err. */
int store_redis_addr_sentinels(struct store_redis_addr *a, const char *list, const char *master,
                               char *err, size_t errlen);

/* Replace a host name by its first IPv4/IPv6 address, so the daemon's
 * reconnects never block on DNS.  Blocking: start-up only.  0 or -1. */
int store_redis_addr_resolve(struct store_redis_addr *a, char *err, size_t errlen);

/* The Lua scripts, embedded at build time from store/lua/NAME.lua. */
struct store_script {
    const char *name;
    const char *body;
    char sha[41];
};
enum store_script_id {
    STORE_SCRIPT_CALL = 0, /* proxy: check key, revocation, expiry; reserve sends */
    STORE_SCRIPT_KEY_ISSUE,
    STORE_SCRIPT_KEY_REVOKE,
    STORE_SCRIPT_KEY_ROTATE,
    STORE_SCRIPT_KEY_UPDATE, /* cli: change a key's policy in place */
    STORE_SCRIPT_KEY_USAGE,  /* cli: a family's counters, read-only */
    STORE_SCRIPT_UPSTREAM_ADD,
    STORE_SCRIPT_UPSTREAM_ROTATE,
    STORE_SCRIPT_UPSTREAM_REMOVE,
    STORE_SCRIPT_LOG_WRITE,   /* proxy: append a call record, settle its send */
    STORE_SCRIPT_SWEEP,       /* proxy: one batch of the time-based events' sweep */
    STORE_SCRIPT_WEBHOOK_ADD, /* webhooks and their deliveries (store/webhooks.h) */
    STORE_SCRIPT_WEBHOOK_REMOVE,
    STORE_SCRIPT_WEBHOOK_TEST,
    STORE_SCRIPT_WEBHOOK_TAKE,
    STORE_SCRIPT_WEBHOOK_CLAIM,
    STORE_SCRIPT_WEBHOOK_DONE,
    STORE_SCRIPT_ADMIN_WRITE, /* cli: append an admin record to the one chain (store/admin.h) */
    STORE_SCRIPT_HELD_DECIDE, /* held sends (store/held.h) */
    STORE_SCRIPT_HELD_EXPIRE,
    STORE_SCRIPT_HELD_TAKE,
    STORE_SCRIPT_HELD_DONE,
    STORE_SCRIPT_COUNT
};
/* Borrowed pointer into a static table; SHA-1s are computed on first use. */
const struct store_script *store_redis_script(enum store_script_id id);

/* ---- sync ---- */

struct store_conn;

/* Connect, AUTH and SELECT with deadlines.  Returns a new connection (caller
 * closes), or NULL with err. */
struct store_conn *store_redis_connect(const struct store_redis_addr *a, char *err, size_t errlen);
void store_redis_free(struct store_conn *c);

/*
 * Run one command.  Returns a new reply (caller frees with freeReplyObject),
 * or NULL with err on I/O failure, timeout or an error reply (err then holds
 * Redis's message).
 */
redisReply *store_redis_cmd(struct store_conn *c, char *err, size_t errlen, const char *fmt, ...);

/* The hiredis context, for pipelining (redisAppendCommand/redisGetReply).
 * Borrowed, valid until store_redis_free. */
redisContext *store_redis_ctx(struct store_conn *c);

/* EVALSHA the script with keys and args, loading it on NOSCRIPT.  As
 * store_redis_cmd for the result. */
redisReply *store_redis_eval(struct store_conn *c, enum store_script_id id, int nkeys, int nargs,
                             const char **args, char *err, size_t errlen);

/* Redis's clock (TIME), ms since the epoch: the clock expiry, revocation
 * and the daily counter are judged by.  0 or -1 with err. */
int store_redis_time(struct store_conn *c, int64_t *now_ms, char *err, size_t errlen);

/* ---- async ---- */

struct store_async;

/* Reply callback: runs exactly once per accepted command, never before the
 * call that queued it returns.  reply is borrowed (valid during the callback
 * only) and NULL exactly when errstr is not. */
typedef void store_reply_cb(redisReply *reply, const char *errstr, void *arg);

/* Start connecting (and keep reconnecting) to a on base.  Returns a new
 * handle (caller frees), never blocks. */
struct store_async *store_redis_async_new(struct event_base *base,
                                          const struct store_redis_addr *a);
/* Drop the connection; pending callbacks run with an error. */
void store_redis_async_free(struct store_async *as);

/* Is the connection up and are the scripts loaded? */
int store_redis_async_ready(const struct store_async *as);

/* The loop the connection runs on. */
struct event_base *store_redis_async_base(const struct store_async *as);

/* Write what is queued now instead of at the end of the loop turn (see the
 * adapter in redis.c): for a caller that must have its commands on Redis's
 * socket before it does something else. */
void store_redis_async_push(struct store_async *as);

/* Most keys and arguments one store_redis_async_eval may carry. */
#define STORE_REDIS_MAX_ARGS 253

/* Queue EVALSHA of a script.  argv holds nkeys keys then the arguments.
 * Returns 0 (cb will run exactly once) or -1 with *errstr set to a static
 * reason (not connected, too many pending) and cb never runs. */
int store_redis_async_eval(struct store_async *as, enum store_script_id id, int nkeys, int argc,
                           const char **argv, const size_t *argvlen, store_reply_cb *cb, void *arg,
                           const char **errstr);

#endif
