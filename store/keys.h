/*
 * keys.h - vault key records in Redis.
 *
 * Schema (all under the "sc:" prefix):
 *   sc:vk:<sha256 hex>   hash: the key record (fields below); the vault key
 *                        itself is never stored
 *   sc:id:<key id>       string: the sha256 hex, so commands can use the id
 *   sc:keys              zset: key ids by created_at
 *   sc:upkeys:<name>     set: ids of the keys issued on an upstream
 * Record fields: id, name, owner, upstream, scope, daily_cap ("" = none),
 * from_domains, to_domains (comma-separated, lower case, "" = any),
 * agent_run_id, created_at, expires_at, revoked_at, last_used_at (ms since
 * the epoch by Redis's clock, 0 = never), gen (bumped on every change that
 * invalidates cached copies), family (the id whose counters the key shares).
 * The agent-safety controls (SPEC §5): monthly_cap, per_recipient_cap,
 * rate_limit ("" or absent = none), rate_window_ms (1000, 60000 or 3600000;
 * absent without a rate), dedupe_window_ms (absent: the default 600000;
 * "0": off), alert_at (comma-joined percents; absent: the default 80,100
 * of SPEC §6; "" = none), rotate_after_ms (absent: the default 90 days;
 * "0": off; SPEC §6's key.rotation_due), oversight (SPEC §7: gated,
 * gated-new-recipients or monitored; absent: auto), hold_ttl_ms (absent:
 * SC_HELD_TTL_DEFAULT_MS).
 * Their counters and windows, per key family (call.lua writes them,
 * log_write.lua gives them back, store/usage.c reads them):
 *   sc:cnt:<family>:<UTC day number>       sends today (EXPIREAT day + 2)
 *   sc:mcnt:<family>:<YYYYMM>              sends this UTC month (EXPIREAT the
 *                                          1st of the month after next)
 *   sc:rcnt:<family>:<day>:<sha256 hex of the lower-cased address>
 *                                          sends to one address today
 *   sc:rate:<family>                       zset: request ids by Redis ms, the
 *                                          sliding-window log of --rate
 *   sc:dd:<family>:<sha256 hex of the canonical send facts>
 *                                          "<request id>[:<email id>]", PX the
 *                                          dedupe window
 * Only hashes: no address or body is stored in a name or a value.
 */
#ifndef SC_STORE_KEYS_H
#define SC_STORE_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "common/limits.h"
#include "redis.h"
#include "secret.h"

#define STORE_KEY_ID_MAX 40
/* Buffer of a record's name, owner, agent_run_id, upstream: what the CLI
 * accepts (SC_KEY_TEXT_MAX) plus headroom; a longer field in Redis makes
 * the record unreadable rather than cut. */
#define STORE_KEY_TEXT_MAX 256
_Static_assert(STORE_KEY_TEXT_MAX > SC_KEY_TEXT_MAX && STORE_KEY_TEXT_MAX > SC_UPSTREAM_NAME_MAX,
               "a key record's text buffers hold what key issue accepts, and its NUL");
#define STORE_KEY_DOMAINS_MAX 4096 /* comma-joined domain list */
#define STORE_KEY_ALERT_MAX 64     /* comma-joined --alert-at percents */
/* The dedupe window of a record without a dedupe_window_ms field. */
#define STORE_KEY_DEDUPE_DEFAULT_MS 600000
/* The --alert-at of a record without an alert_at field (SPEC §6);
 * call.lua has the same default. */
#define STORE_KEY_ALERT_DEFAULT "80,100"

struct store_key {
    char id[STORE_KEY_ID_MAX];
    char family[STORE_KEY_ID_MAX];
    char hash[SC_KEY_HASH_HEX];
    char name[STORE_KEY_TEXT_MAX];
    char owner[STORE_KEY_TEXT_MAX];
    char agent_run_id[STORE_KEY_TEXT_MAX];
    char upstream[STORE_KEY_TEXT_MAX];
    char scope[16];    /* "sending" or "full" */
    int64_t daily_cap; /* -1: no cap */
    char from_domains[STORE_KEY_DOMAINS_MAX];
    char to_domains[STORE_KEY_DOMAINS_MAX];
    int64_t created_at, expires_at, revoked_at, last_used_at;
    char gen[24];
    int64_t monthly_cap;       /* -1: none */
    int64_t per_recipient_cap; /* -1: none */
    int64_t rate_limit;        /* -1: none */
    int64_t rate_window_ms;    /* 1000 | 60000 | 3600000; 0 without a rate */
    int64_t dedupe_window_ms;  /* 0: off */
    char alert_at[STORE_KEY_ALERT_MAX];
    int64_t rotate_after_ms; /* 0: off */
    char oversight[24];      /* auto | gated | gated-new-recipients | monitored */
    int64_t hold_ttl_ms;
};

/* Which fields of a store_key_spec `key update` sets (key issue sets them
 * all, and leaves dedupe_window_ms, alert_at and rotate_after_ms absent
 * from the record unless given, so such keys follow the defaults). */
enum store_key_set {
    STORE_KEY_SET_NAME = 1 << 0,
    STORE_KEY_SET_OWNER = 1 << 1,
    STORE_KEY_SET_AGENT_RUN_ID = 1 << 2,
    STORE_KEY_SET_SCOPE = 1 << 3,
    STORE_KEY_SET_DAILY_CAP = 1 << 4,
    STORE_KEY_SET_MONTHLY_CAP = 1 << 5,
    STORE_KEY_SET_PER_RECIPIENT_CAP = 1 << 6,
    STORE_KEY_SET_RATE = 1 << 7,
    STORE_KEY_SET_DEDUPE = 1 << 8,
    STORE_KEY_SET_ALERT_AT = 1 << 9,
    STORE_KEY_SET_FROM_DOMAINS = 1 << 10,
    STORE_KEY_SET_TO_DOMAINS = 1 << 11,
    STORE_KEY_SET_EXPIRY = 1 << 12,
    STORE_KEY_SET_ROTATE_AFTER = 1 << 13,
    STORE_KEY_SET_OVERSIGHT = 1 << 14,
    STORE_KEY_SET_HOLD_TTL = 1 << 15,
};

/* What `key issue` asks for, or (with set) what `key update` changes. */
struct store_key_spec {
    const char *upstream;
    const char *name, *owner, *agent_run_id;            /* "" if unset */
    const char *scope;                                  /* "sending" | "full" */
    int64_t daily_cap;                                  /* -1: none */
    const char *from_domains, *to_domains;              /* comma-joined, "" = any */
    int64_t expires_at_ms;                              /* absolute, 0 = none */
    int64_t expires_in_ms;                              /* relative to Redis's clock, 0 = none */
    int64_t monthly_cap, per_recipient_cap, rate_limit; /* -1: none */
    int64_t rate_window_ms;                             /* 0 without a rate */
    int64_t dedupe_window_ms;                           /* 0: off */
    char alert_at[STORE_KEY_ALERT_MAX];                 /* "" = none */
    int64_t rotate_after_ms;                            /* 0: off */
    const char *oversight;                              /* "auto", "gated", ... */
    int64_t hold_ttl_ms;
    unsigned set; /* enum store_key_set bits */
};

/* The defaults of a spec: no caps, no rate, the default dedupe window,
 * scope sending, empty texts, nothing set. */
void store_keys_spec_init(struct store_key_spec *spec);

/* Parse a rate "N/s", "N/m" or "N/h" (1 <= N <= SC_KEY_RATE_MAX).  0 or -1. */
int store_keys_rate_parse(const char *s, int64_t *limit, int64_t *window_ms);

/* Parse "PCT[,PCT...]" (each 1..100, at most SC_KEY_ALERT_AT_MAX) into the
 * stored form: ascending, without repeats ("100,80,80" -> "80,100").  0 or -1. */
int store_keys_alert_parse(const char *s, char *out, size_t outlen);

/* Parse a dedupe window: "0" (off) or a DURATION from 1s to
 * SC_KEY_DEDUPE_WINDOW_MAX_MS.  0 or -1. */
int store_keys_dedupe_parse(const char *s, int64_t *ms);

/* Parse --rotate-after: "none" (0, off) or a DURATION from 1s to
 * SC_KEY_ROTATE_AFTER_MAX_MS.  0 or -1. */
int store_keys_rotate_after_parse(const char *s, int64_t *ms);

/* Parse --oversight (auto|gated|gated-new-recipients|monitored) into its
 * stored form (a static string).  0 or -1. */
int store_keys_oversight_parse(const char *s, const char **out);
/* Parse --hold-ttl: a DURATION from 1s to SC_HELD_TTL_MAX_MS.  0 or -1. */
int store_keys_hold_ttl_parse(const char *s, int64_t *ms);

/* Fill rec from an HGETALL-shaped reply (flat field/value array).  0 or -1
 * (missing id, over-long field). */
int store_keys_from_reply(const redisReply *r, struct store_key *rec);

/* Issue a key: writes the record and indexes atomically (key_issue.lua).
 * vault_key receives the new key (>= 48 bytes): the only time it exists
 * outside the agent.  0, or a negative enum store_err with err
 * (STORE_ERR_NOT_FOUND: spec->upstream does not exist). */
int store_keys_issue(struct store_conn *c, const struct store_key_spec *spec, char *vault_key,
                     size_t vklen, struct store_key *out, char *err, size_t errlen);

/* Load a record by public id.  0, 1 if there is no such key, -1 with err. */
int store_keys_get(struct store_conn *c, const char *id, struct store_key *out, char *err,
                   size_t errlen);

/* Call fn for each key, oldest first.  0 or -1 with err. */
int store_keys_each(struct store_conn *c, int (*fn)(const struct store_key *, void *), void *arg,
                    char *err, size_t errlen);

/* Revoke by id.  *already is set when it was revoked before.  0, 1 if no
 * such key, -1 with err. */
int store_keys_revoke(struct store_conn *c, const char *id, int64_t *revoked_at, int *already,
                      char *err, size_t errlen);

/* Rotate by id: a new vault key (written to vault_key, >= 48 bytes, its
 * record to out) with the old one's policy and family, so it shares the
 * daily counter and the emails; the old key stays valid for grace_ms more
 * (never longer than it already was).  *old_expires receives when it stops.
 * 0, 1 if no such key, -1 with err (revoked or expired keys are refused). */
int store_keys_rotate(struct store_conn *c, const char *id, int64_t grace_ms, char *vault_key,
                      size_t vklen, struct store_key *out, int64_t *old_expires, char *err,
                      size_t errlen);

/* Change a key's policy in place (key_update.lua): the fields spec->set
 * names, atomically, bumping gen so every proxy re-reads the record on its
 * next call.  Counters, family, owned emails and the vault key are kept.
 * before and after receive the record as it was and as it is (read in the
 * same step).  0, 1 if no such key, -1 with err (revoked or expired keys
 * are refused). */
int store_keys_update(struct store_conn *c, const char *id, const struct store_key_spec *spec,
                      struct store_key *before, struct store_key *after, char *err, size_t errlen);

/* "active", "revoked" or "expired" at now_ms. */
const char *store_keys_status(const struct store_key *k, int64_t now_ms);

#endif
