/*
 * webhooks.h - webhooks (SPEC §6): the records, their signing secrets, the
 * Standard Webhooks signature, and the delivery queue's scripts.
 *
 * Schema: store/events.h.  A webhook's signing secret is "whsec_" + base64
 * of 32 random bytes; it is printed once by `webhook add` and stored only
 * sealed under the master key with the AAD "sendcap/webhook/<id>", like a
 * real key.  store/ owns webhook_*.lua: their arguments and replies are
 * built and parsed here only.
 *
 * Delivery is a lease queue (store/lua/lib/webhooks.lua): take or claim
 * re-scores a due delivery to now + lease, so exactly one instance attempts
 * it at a time; done records the attempt only while the lease is still
 * the caller's; a taker that dies lets its lease run out.
 */
#ifndef SC_STORE_WEBHOOKS_H
#define SC_STORE_WEBHOOKS_H

#include <stddef.h>
#include <stdint.h>

#include "events.h"
#include "redis.h"
#include "secret.h"

#define STORE_WEBHOOK_ID_MAX 40     /* "wh_" + 16 base62 and room */
#define STORE_WEBHOOK_SECRET_MAX 64 /* "whsec_" + 44 base64 + NUL */
#define STORE_WEBHOOK_SIG_MAX 64    /* "v1," + 44 base64 + NUL */
#define STORE_WEBHOOK_URL_MAX 2048
#define STORE_WEBHOOK_EVENTS_MAX 512 /* comma-joined types */

struct store_webhook {
    char id[STORE_WEBHOOK_ID_MAX];
    char url[STORE_WEBHOOK_URL_MAX];
    char events[STORE_WEBHOOK_EVENTS_MAX]; /* "" = every type */
    char key[STORE_WEBHOOK_ID_MAX];        /* "" = every key */
    int64_t created_at;
};

/*
 * May a webhook be added with this URL?  https://, or http:// only to a
 * loopback literal (127.0.0.0/8, [::1]) or localhost; no user:password@,
 * no fragment.  Pure.  0, or -1 with a sentence in err.  (Delivery checks
 * again on the address it connects to: proxy/webhook.c.)
 */
int store_webhooks_url_check(const char *url, char *err, size_t errlen);

/* The Standard Webhooks signature of one attempt:
 * "v1," + base64(HMAC-SHA256(base64-decoded secret after "whsec_",
 * msg_id "." timestamp "." body)).  0, or -1 (a malformed secret). */
int store_webhooks_sign(const char *secret, const char *msg_id, int64_t ts, const char *body,
                        size_t body_len, char out[STORE_WEBHOOK_SIG_MAX]);

/* The AAD of a webhook's sealed secret (buf >= 96). */
void store_webhooks_aad(const char *id, char *buf, size_t len);

/* ---- sync (the CLI) ---- */

/*
 * Add a webhook for url (checked as above), event types (comma-joined, ""
 * = all) and key_id ("" = all keys; else that key's family).  Fills id
 * and the new secret (the caller prints it once and wipes it).  0, or a
 * negative enum store_err with err (STORE_ERR_NOT_FOUND: no such key).
 */
int store_webhooks_add(struct store_conn *c, const unsigned char mk[SC_MASTER_KEY_LEN],
                       const char *url, const char *events, const char *key_id,
                       char id[STORE_WEBHOOK_ID_MAX], char secret[STORE_WEBHOOK_SECRET_MAX],
                       char *err, size_t errlen);

/* Remove a webhook (its queued deliveries are dropped).  0, or a negative
 * enum store_err with err. */
int store_webhooks_remove(struct store_conn *c, const char *id, char *err, size_t errlen);

/* Call fn for each webhook, by id.  0 or -1 with err. */
int store_webhooks_each(struct store_conn *c, int (*fn)(const struct store_webhook *, void *),
                        void *arg, char *err, size_t errlen);

/* Emit a webhook.test event queued for webhook id only; its event id in
 * eid.  0, or a negative enum store_err with err. */
int store_webhooks_test(struct store_conn *c, const char *id, char eid[STORE_EVENT_ID_MAX],
                        char *err, size_t errlen);

/* The delivery state of eid for target.  1 found, 0 none, -1 with err. */
int store_webhooks_state(struct store_conn *c, const char *eid, const char *target,
                         struct store_delivery *out, char *err, size_t errlen);

/* ---- async (the daemon's worker) ---- */

/* One leased delivery.  Strings are borrowed (valid during the callback). */
struct store_webhook_job {
    const char *member; /* "<event id>|<target>": the queue entry */
    const char *target; /* a webhook id, or "notice" */
    int64_t lease;      /* the lease score: the token done must present */
    struct store_event ev;
    const char *url;    /* the webhook's URL; "" for a notice */
    const char *sealed; /* the webhook's sealed secret, or (notice) the
                         * notice upstream's sealed real key */
    const char *owner;  /* notice: the address it goes to */
    struct store_delivery state;
};

/* Runs exactly once, never before the call returns: jobs[0..n-1], borrowed
 * (copy what outlives the callback); errstr set (n 0) when Redis failed. */
typedef void store_webhooks_jobs_cb(const struct store_webhook_job *jobs, size_t n,
                                    const char *errstr, void *arg);

/* Lease up to max due deliveries for lease_ms.  notice_upstream: the
 * upstream that sends owner notices, NULL when this instance sends none
 * (it then never takes a notice).  0, or -1 with *errstr (cb never runs). */
int store_webhooks_take(struct store_async *as, int64_t lease_ms, int max,
                        const char *notice_upstream, store_webhooks_jobs_cb *cb, void *arg,
                        const char **errstr);

/* Lease event eid's queued deliveries now, due or not (the cap's hold). */
int store_webhooks_claim(struct store_async *as, const char *eid, int64_t lease_ms,
                         const char *notice_upstream, store_webhooks_jobs_cb *cb, void *arg,
                         const char **errstr);

/* How an attempt ended, for store_webhooks_done. */
struct store_webhook_outcome {
    int delivered;         /* a 2xx answer */
    int status;            /* HTTP status, 0: none */
    int64_t retry_base_ms; /* first retry delay */
    int jitter_permille;   /* 800..1200 */
};

/* Record the attempt of member under lease.  cb (may be NULL) gets 1
 * recorded, 0 lease lost, -1 Redis failed.  0, or -1 with *errstr. */
int store_webhooks_done(struct store_async *as, const char *member, int64_t lease,
                        const struct store_webhook_outcome *o, void (*cb)(int, void *), void *arg,
                        const char **errstr);

/* Parse take/claim's reply into jobs (at most max; returns how many, or -1
 * when the reply is not one the scripts give).  Pure: for unit tests. */
long store_webhooks_jobs_parse(const redisReply *r, struct store_webhook_job *jobs, size_t max);

#endif
