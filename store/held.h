/*
 * held.h - held sends (SPEC §7): sends of gated keys that wait for a person.
 *
 * Schema (Redis):
 *   sc:held:<held id>  hash: key, family, status (pending | approved | sent |
 *                      failed | rejected | expired), created_at, expires_at
 *                      (ms), request_id (the agent's call), route, sends,
 *                      from_domain, what call.lua reserved for the refund
 *                      (ck, mk: day and month counters; rp + rcpts: the
 *                      per-recipient prefix and the address hashes; dp +
 *                      facts: dedupe prefix and facts hashes), upstream,
 *                      sealed (the body, until decided), decided_by,
 *                      decided_at, note, attempts, email_id, error.  Kept
 *                      SC_HELD_KEEP_S after a decision, for GET.
 *   sc:held:pending    zset: pending held ids by expires_at (the sweep)
 *   sc:held:q          zset: approved held ids by when a forwarder may take
 *                      them (now, or the end of a forwarder's lease)
 *   sc:rcpts:<family>  zset: sha256 of each lower-cased address the family
 *                      sent to, by last ms, kept the call log's retention
 *                      (gated-new-recipients)
 * No address or body is in clear: the body is sealed with AES-256-GCM under
 * a key derived from the master key, aad "sendcap/held/<held id>", so a
 * sealed body moved to another record does not open.
 *
 * call.lua writes a held send (the agent's one round trip); held_decide.lua
 * decides it, held_take.lua / held_done.lua forward an approved one once,
 * held_expire.lua expires the undecided (all in store/lua/).
 */
#ifndef SC_STORE_HELD_H
#define SC_STORE_HELD_H

#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "redis.h"
#include "secret.h"

#define STORE_HELD_ID_MAX 48 /* "held_" + SC_HELD_ID_CHARS base62 + NUL */
#define STORE_HELD_ID_CHARS 24

/* A new held id into buf (>= STORE_HELD_ID_MAX).  0 or -1. */
int store_held_new_id(char *buf, size_t len);
/* Does s have the shape of a held id? */
int store_held_id_valid(const char *s);

/* Seal a send (its path and exact body) under held id.  A new string
 * (caller frees), or NULL with err. */
char *store_held_seal(const unsigned char mk[SC_MASTER_KEY_LEN], const char *held_id,
                      const char *path, const char *body, size_t blen, char *err, size_t errlen);
/* Open one: *path and *body point into the returned plaintext (caller
 * releases it with store_secret_free), or NULL with err. */
char *store_held_open(const unsigned char mk[SC_MASTER_KEY_LEN], const char *held_id,
                      const char *sealed, const char **path, const char **body, size_t *blen,
                      char *err, size_t errlen);

/* The Idempotency-Key an approved send is forwarded with: derived from the
 * held id only, so every retry of it is one email at Resend. */
void store_held_idempotency_key(const char *held_id, char *out, size_t len);

/* ---- CLI (sync) ---- */

struct store_held {
    char id[STORE_HELD_ID_MAX];
    char key_id[40], family[40], status[16], request_id[40], route[32];
    char from_domain[512], email_id[128], decided_by[256], note[512], error[160];
    char upstream[256];
    int64_t created_at, expires_at, decided_at, sends;
    char *sealed; /* the sealed body, or NULL once decided (store_held_clear frees) */
};
void store_held_clear(struct store_held *h);

/* Read one.  0, 1 if there is none, -1 with err. */
int store_held_get(struct store_conn *c, const char *id, struct store_held *out, char *err,
                   size_t errlen);
/* Call fn for each pending or approved-not-yet-sent held send (of key_id's
 * family when key_id is not NULL), oldest first.  0 or -1 with err. */
int store_held_each(struct store_conn *c, const char *key_id,
                    int (*fn)(const struct store_held *, void *), void *arg, char *err,
                    size_t errlen);
/* Approve (approve = 1) or reject a pending held send, recording who and
 * the note or reason.  The new status goes to status (approved, rejected,
 * expired if its --hold-ttl had passed, or revoked: an approval found its
 * key revoked, and the send is rejected instead).  0; 1 if there is no such held
 * send; 2 if it is not pending (its status in status); -1 with err. */
int store_held_decide(struct store_conn *c, const char *id, int approve, const char *actor,
                      const char *text, char *status, size_t slen, char *err, size_t errlen);
/* Write one call-log record (a chain of its own, as a writer: log verify
 * checks it like a daemon's).  rec is cleared.  0 or -1 with err. */
int store_held_log(struct store_conn *c, const unsigned char mk[SC_MASTER_KEY_LEN],
                   int64_t retention_ms, struct store_audit_rec *rec, char *err, size_t errlen);

/* ---- daemon (async; callbacks run exactly once, never before the call
 * returns; strings borrowed for the callback) ---- */

struct store_held_job {
    const char *id, *key_id, *family, *sealed, *upstream, *upstream_sealed, *request_id;
    const char *route, *decided_by, *from_domain, *agent_run_id;
    int64_t sends, attempt;
};
/* job NULL: nothing due, or errstr. */
typedef void store_held_job_cb(const struct store_held_job *job, const char *errstr, void *arg);
/* Lease the next approved held send for lease_ms.  0 or -1 (*errstr). */
int store_held_take(struct store_async *as, int64_t lease_ms, store_held_job_cb *cb, void *arg,
                    const char **errstr);

enum store_held_outcome {
    STORE_HELD_SENT,
    STORE_HELD_FAILED,
    STORE_HELD_RETRY, /* no usable answer: retried soon, an attempt used */
    STORE_HELD_WAIT,  /* Resend's rate limit: retried after wait_ms, no attempt used */
};
/* Record a forward's outcome (held_done.lua); fire and forget.  refund:
 * FAILED with Resend clearly not accepting it.  wait_ms: for WAIT. */
int store_held_done(struct store_async *as, const char *id, enum store_held_outcome o,
                    const char *email_id, int refund, const char *why, int64_t keep_ms,
                    int64_t wait_ms, const char **errstr);

struct store_held_expired {
    const char *id, *key_id, *request_id, *from_domain, *route;
    int64_t sends;
};
typedef void store_held_expired_cb(const struct store_held_expired *v, size_t n, const char *errstr,
                                   void *arg);
/* Expire up to max held sends whose --hold-ttl passed.  0 or -1. */
int store_held_expire(struct store_async *as, int max, store_held_expired_cb *cb, void *arg,
                      const char **errstr);

#endif
