/*
 * proxy.h - what the parts of sendcapd share: the daemon's context, the key
 * cache and the error replies.  Internal to proxy/.
 */
#ifndef SC_PROXY_H
#define SC_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "http.h"
#include "policy/policy.h"
#include "store/audit.h"
#include "store/call.h"
#include "store/keys.h"
#include "store/redis.h"
#include "store/secret.h"
#include "upstream.h"

struct proxy_keycache;
struct proxy_flood;
struct proxy_sweep;

struct proxy {
    struct event_base *base;
    struct sc_config cfg;
    struct proxy_http_server *http;
    struct store_async *redis;
    struct proxy_upstream *upstream;
    struct proxy_keycache *keys;
    struct proxy_flood *flood;
    struct store_audit_log *audit;
    struct proxy_metrics *metrics;
    struct proxy_http_server *metrics_http;
    struct proxy_webhook *webhook;
    unsigned char master_key[SC_MASTER_KEY_LEN];
    struct proxy_sweep *sweep;
    struct proxy_held *held;
};

/* ---- key cache (keycache.c) ----
 * Copies of key records with their upstream's decrypted real key, by key
 * hash.  A copy is only ever used together with call.lua's check that its
 * generation and upstream version are still current, so revocation, expiry
 * and rotation are never served from the cache. */

struct proxy_key_entry {
    char hash[SC_KEY_HASH_HEX];
    char *id, *family, *agent_run_id, *upstream;
    char *from_domains, *to_domains; /* comma-joined, "" = any */
    enum policy_scope scope;
    int64_t daily_cap; /* -1: none */
    /* What a send must tell call.lua: address hashes only with a
     * per-recipient cap, facts hashes only with a dedupe window.  The
     * script checks gen first, so it never applies a control to a call
     * prepared on a record that lacked it. */
    int64_t per_recipient_cap; /* -1: none */
    int64_t dedupe_window_ms;  /* 0: off */
    /* SPEC §7: whether a send may be held (the key is gated or
     * gated-new-recipients): such a send is sealed before call.lua, which
     * decides whether to hold it, and then needs every address hash. */
    enum { PROXY_HOLD_NONE = 0, PROXY_HOLD_ALL, PROXY_HOLD_NEW } holds;
    char gen[24];
    char upver[24];
    char view[STORE_CALL_VIEW_MAX]; /* store_call_key_view of the record, "" if none */
    char *real_key;                 /* wiped on free */
};

struct proxy_keycache *proxy_keycache_new(size_t max_entries);
void proxy_keycache_free(struct proxy_keycache *kc);
/* Borrowed; valid until the next put or drop on the cache. */
struct proxy_key_entry *proxy_keycache_get(struct proxy_keycache *kc, const char *hash);
/* Build an entry from a key record, an upstream version and a real key
 * (copied) and store it, replacing any entry for the same hash.  Returns the
 * borrowed entry, or NULL on allocation failure. */
struct proxy_key_entry *proxy_keycache_put(struct proxy_keycache *kc, const struct store_key *rec,
                                           const char *upver, const char *real_key);
void proxy_keycache_drop(struct proxy_keycache *kc, const char *hash);

/* A key Redis refused, remembered for a short while (SC_KEY_NEG_CACHE_MS). */
enum proxy_key_state {
    PROXY_KEY_LIVE = 0,
    PROXY_KEY_UNKNOWN,
    PROXY_KEY_REVOKED,
    PROXY_KEY_EXPIRED
};
struct proxy_key_refusal {
    char hash[SC_KEY_HASH_HEX];
    char id[40]; /* key id, "" for an unknown key */
    enum proxy_key_state kind;
    int64_t at_ms;    /* when it was revoked or expired (Redis's clock) */
    int64_t until_ms; /* remembered until (this process's monotonic clock) */
};
/* The refusal remembered for this hash, or NULL.  Borrowed. */
const struct proxy_key_refusal *proxy_keycache_refusal(struct proxy_keycache *kc, const char *hash,
                                                       int64_t now_ms);
void proxy_keycache_refuse(struct proxy_keycache *kc, const char *hash, enum proxy_key_state kind,
                           const char *id, int64_t at_ms, int64_t now_ms);

/* ---- records of callers without a known key (flood.c) ---- */

/* Called once a second per client address that passed the bound, with the
 * refusals counted past it ("*" for the addresses the table had no room
 * for) and the last one's status. */
typedef void proxy_flood_summary_fn(const char *addr, long count, int status, void *arg);
struct proxy_flood *proxy_flood_new(struct event_base *base, proxy_flood_summary_fn *summary,
                                    void *arg);
/* Freeing summarises what is still counted. */
void proxy_flood_free(struct proxy_flood *f);
/* A refusal of a caller without a known key, from peer ("1.2.3.4:5678"):
 * 1 to record it as usual, 0 when it was counted into the summary. */
int proxy_flood_admit(struct proxy_flood *f, const char *peer, int status);

/* ---- the sweep for time-based events (sweep.c) ---- */

/* Try to sweep every interval_ms (the first try one interval after start),
 * batch keys per script.  Returns a new sweep (caller frees), or NULL. */
struct proxy_sweep *proxy_sweep_new(struct event_base *base, struct store_async *redis,
                                    int64_t interval_ms, int batch);
/* Free it after the Redis connection: a batch in flight calls back. */
void proxy_sweep_free(struct proxy_sweep *s);

/* ---- replies (reply.c) ---- */

/* Answer req with Resend's error shape {"statusCode","message","name"},
 * Content-Type: application/json and X-Request-Id: request_id. */
void proxy_reply_error(struct proxy_http_request *req, const char *request_id, int status,
                       const char *name, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Make a new request id "req_" + 20 base62 (buf >= 32). */
void proxy_request_id(char *buf, size_t len);

/* ---- metrics (metrics.c) ---- */

struct proxy_metrics;
struct proxy_metrics *proxy_metrics_new(void);
void proxy_metrics_free(struct proxy_metrics *m);
/* One finished call (every call ends in exactly one). */
void proxy_metrics_request(struct proxy_metrics *m, const char *route, const char *decision,
                           const char *reason, int status, int64_t total_us);
void proxy_metrics_upstream(struct proxy_metrics *m, int64_t us,
                            enum proxy_upstream_outcome outcome);
void proxy_metrics_redis(struct proxy_metrics *m, int64_t us, int error);
/* The handlers of the --metrics-listen server: /healthz, /readyz, /metrics. */
void proxy_metrics_handle(struct proxy_http_request *req, void *arg);
void proxy_metrics_refused(struct proxy_http_request *req, int status, const char *message,
                           void *arg);

/* ---- held sends (held.c, SPEC §7) ---- */

struct proxy_held;
/* Start the worker that forwards approved held sends and expires undecided
 * ones, on px's loop.  Returns a new worker (proxy_held_free), or NULL. */
struct proxy_held *proxy_held_new(struct proxy *px);
/* Take no more held sends (SIGTERM); a forward in flight goes on. */
void proxy_held_stop(struct proxy_held *ph);
/* Free it after the Redis connection and the upstream (their callbacks
 * find it). */
void proxy_held_free(struct proxy_held *ph);

/* ---- event delivery (webhook.c) ---- */

struct proxy_webhook;
/* Start the delivery worker on px's loop (px->redis, px->upstream and
 * px->audit set).  Returns a new worker (proxy_webhook_free), or NULL. */
struct proxy_webhook *proxy_webhook_new(struct proxy *px);
/* Take no more deliveries from the queue (SIGTERM); those in flight go on,
 * and a cap refused during the drain still holds its 429 (proxy_webhook_hold). */
void proxy_webhook_stop(struct proxy_webhook *wh);
/* Cut what is in flight (its leases run out; another instance retries). */
void proxy_webhook_free(struct proxy_webhook *wh);
/* Deliver event eid's queued deliveries now (sc_emit queued them leased to
 * this instance) and call cb(arg) when they have all ended, or after
 * cfg->webhook_timeout_ms plus a Redis deadline, whichever is first: a
 * cap's 429 waits on its key.cap_reached (SPEC §6).  0: cb runs exactly
 * once, never before this returns; -1: it never runs (answer now). */
typedef void proxy_webhook_hold_cb(void *arg);
int proxy_webhook_hold(struct proxy_webhook *wh, const char *eid, proxy_webhook_hold_cb *cb,
                       void *arg);

/* ---- calls (call.c) ---- */

/* The proxy_http_head_handler, proxy_http_handler and proxy_http_error_handler of the daemon. */
void proxy_call_head(struct proxy_http_request *req, void *arg);
void proxy_call_handle(struct proxy_http_request *req, void *arg);
void proxy_call_refused(struct proxy_http_request *req, int status, const char *message, void *arg);
/* The proxy_flood_summary_fn of the daemon: one unauthenticated_flood record. */
void proxy_call_flood_summary(const char *addr, long count, int status, void *arg);

#endif
