/*
 * audit.h - the call log: one tamper-evident record per call, in Redis.
 *
 * Not diagnostics (common/log): this is the auditor's product.  Never holds a
 * vault key, a real key or an email body.
 *
 * Storage (Redis):
 *   sc:log                a stream; one entry per finished call with the
 *                         fields r (the record, packed: "v1" then, for each
 *                         of STORE_AUDIT_FIELDS in order, <len>:<value>),
 *                         w, seq, prev, mac; trimmed to the retention by MINID
 *   sc:lk:<key id>        zset of stream ids by time: the index by key
 *   sc:lr:<agent_run_id>  zset of stream ids by time: the index by run id
 *                         (the key's and any claimed X-Agent-Run-Id)
 *   sc:intents            zset by time of the intents: each member is an
 *                         allowed send's packed record ("v1…", unique by its
 *                         request id), written by call.lua in the same
 *                         atomic step as its reservation, before it is
 *                         forwarded; removed (ZREM of the same bytes) when
 *                         its final record is written.  One write each way
 *                         (an intent used to be a string key plus a member
 *                         naming it: two).  Members that are request ids
 *                         name an sc:intent:<request> string (written
 *                         before this layout; read, never written)
 *   sc:logbits:<writer>   bitmap of the seqs a writer has written (makes a
 *                         re-sent record a no-op)
 * A crash between forward and final record leaves the intent, which queries
 * show with outcome "unknown": never a send without a record.
 *
 * Tamper evidence: each daemon process is a writer with a random id and its
 * own chain: record n carries seq n, prev = mac of record n-1 ("genesis" for
 * n = 1) and mac = HMAC-SHA256(K, prev, every field), K derived from the
 * master key.  `sendcap log verify` recomputes every chain.
 */
#ifndef SC_STORE_AUDIT_H
#define SC_STORE_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "redis.h"
#include "secret.h"

/* The record's fields, in stored order. */
#define STORE_AUDIT_NFIELDS 23
/* The fields every packed record has, so readers older than a later field
 * still read it: fields after these are optional, packed only up to the
 * last non-empty one, and read back as "" when absent. */
#define STORE_AUDIT_NREQUIRED 22
extern const char *const store_audit_fields[STORE_AUDIT_NFIELDS];
enum store_audit_field {
    STORE_AUDIT_TIME = 0, /* UTC ms */
    STORE_AUDIT_REQUEST_ID,
    STORE_AUDIT_KEY_ID,         /* key_…, or fp:<12 hex> of an unknown key's hash, or "" */
    STORE_AUDIT_AGENT_RUN_ID,   /* the key's */
    STORE_AUDIT_CLAIMED_RUN_ID, /* X-Agent-Run-Id as sent */
    STORE_AUDIT_METHOD,
    STORE_AUDIT_PATH,
    STORE_AUDIT_ROUTE,
    STORE_AUDIT_RECIPIENTS, /* count: to + cc + bcc */
    STORE_AUDIT_FROM_DOMAIN,
    STORE_AUDIT_RECIPIENT_DOMAINS,   /* comma-joined, de-duplicated */
    STORE_AUDIT_RECIPIENT_ADDRESSES, /* comma-joined */
    STORE_AUDIT_DECISION,            /* allowed | denied | error */
    STORE_AUDIT_REASON,
    STORE_AUDIT_STATUS,          /* returned to the agent */
    STORE_AUDIT_UPSTREAM_STATUS, /* "" if not forwarded */
    STORE_AUDIT_EMAIL_IDS,       /* comma-joined */
    STORE_AUDIT_LATENCY_MS,
    STORE_AUDIT_UPSTREAM_LATENCY_MS,
    STORE_AUDIT_CLIENT,
    STORE_AUDIT_USER_AGENT,
    STORE_AUDIT_CLIENT_GONE, /* "1" if the agent hung up before the answer */
    STORE_AUDIT_COUNT,       /* calls this record stands for: "" for one; N for an
                              * unauthenticated_flood summary.  Optional (see
                              * STORE_AUDIT_NREQUIRED) */
};

/* A record under construction: values are copied (new strings). */
struct store_audit_rec {
    char *v[STORE_AUDIT_NFIELDS];
};

void store_audit_set(struct store_audit_rec *r, enum store_audit_field f, const char *value);
void store_audit_set_i64(struct store_audit_rec *r, enum store_audit_field f, int64_t v);
void store_audit_setf(struct store_audit_rec *r, enum store_audit_field f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void store_audit_clear(struct store_audit_rec *r);

/* The packed form of a record (see above): a new string (caller frees), or
 * NULL.  Unset fields pack as "". */
char *store_audit_pack(const struct store_audit_rec *r);

/* The chain's key, derived from the master key. */
void store_audit_key(const unsigned char mk[SC_MASTER_KEY_LEN], unsigned char out[32]);

/* HMAC-SHA256 hex over prev and the fields (names and values, length-
 * prefixed so no two field lists give the same input). */
void store_audit_mac(const unsigned char key[32], const char *prev, int n, const char *const *names,
                     const char *const *values, const size_t *lens, char out[65]);

/* What a finished send settles along with its record (settle in the same
 * step as the record: one script after the answer, not two). */
struct store_audit_settle {
    const char *counter_key; /* where call.lua reserved, "" if nothing to refund */
    long long refund;        /* sends to give back */
    const char *family;      /* the key family that sent */
    long long owner_ttl_s;   /* how long to remember each email's family */
    const char *const *ids;  /* Resend email ids returned */
    size_t nids;
    const char *idem_key;   /* the replay record the send set, or NULL */
    const char *idem_value; /* ... changed only if it still holds this */
    int idem_kept;          /* 1: the send kept its reservation: the record now
                             * lets a repeat replay; 0: all was given back:
                             * the record goes, and a repeat reserves anew */
    /* The controls of SPEC §5 (NULL or "": nothing to do).  Everything the
     * send took is given back with it: */
    const char *monthly_key;   /* the month's counter: refund sends off it too */
    const char *rcpt_prefix;   /* per-recipient counters: prefix + address hash */
    const char *rcpt_given;    /* the refunded addresses' sha256 hex, back to back
                                * (an address twice is there twice: -1 each) */
    const char *dedupe_prefix; /* dedupe records: prefix + facts hash */
    const char *dedupe_ops;    /* comma-joined, per message: "<facts hash>" to
                                * delete (it was not sent, a retry may go) or
                                * "<facts hash>:<email id>" to name the email */
    const char *request_id;    /* ... each changed only if it still holds this */
};

/* ---- a writer's chain ---- */

struct store_audit_chain {
    unsigned char key[32];
    char writer[24];        /* "w_" + 12 base62 */
    unsigned long long seq; /* of the last record sealed */
    char prev[65];          /* its mac, or "genesis" */
    int64_t retention_ms;
};

/* Start a new writer's chain.  0 or -1. */
int store_audit_chain_init(struct store_audit_chain *ch, const unsigned char mk[SC_MASTER_KEY_LEN],
                           int64_t retention_ms);

/* Seal rec as the chain's next record and return the arguments of one
 * log_write.lua call (KEYS[1] first): *argc strings in one allocation
 * (free with store_audit_argv_free), or NULL on allocation failure
 * (the chain does not advance).  Empty fields of rec are set to "". */
char **store_audit_chain_seal(struct store_audit_chain *ch, struct store_audit_rec *rec,
                              const char *intent, const struct store_audit_settle *settle,
                              int *argc);
void store_audit_argv_free(char **argv, int argc);

/* ---- daemon: writing (async) ---- */

struct store_audit_log;

/* A writer on the daemon's async connection.  retention_ms trims the log.
 * Returns a new writer (caller frees), or NULL. */
struct store_audit_log *store_audit_log_new(struct store_async *as,
                                            const unsigned char mk[SC_MASTER_KEY_LEN],
                                            int64_t retention_ms);
void store_audit_log_free(struct store_audit_log *l);
const char *store_audit_log_writer(const struct store_audit_log *l);

/*
 * Seal rec (next seq of this writer's chain) and queue it for Redis; the
 * record is taken over (cleared).  Never blocks.  Records wait in order in
 * memory while Redis is away (at most SC_LOG_QUEUE_MAX; past that the
 * oldest unsent are dropped and counted, and a MAC'd "lost" record states
 * the gap when Redis returns).  intent, if not NULL, is the intent
 * (packed record) this record completes (removed in the same step); settle, if not
 * NULL, is applied in the same step too (refund, email owners).
 */
void store_audit_log_write(struct store_audit_log *l, struct store_audit_rec *rec,
                           const char *intent, const struct store_audit_settle *settle);

/* Try to send what waits (call when Redis is back; cheap when idle). */
void store_audit_log_flush(struct store_audit_log *l);

/* Records queued and not yet acknowledged by Redis. */
long store_audit_log_pending(const struct store_audit_log *l);

/* ---- CLI: reading and verifying (sync) ---- */

struct store_audit_query {
    const char *key_id;         /* NULL: any */
    const char *agent_run_id;   /* NULL: any */
    int64_t since_ms, until_ms; /* 0: open */
    const char *decision;       /* NULL: any */
    long limit;                 /* newest N, printed oldest first; 0: no limit */
};

/* One row: a final record, or an intent without one (outcome unknown).
 * Borrowed strings, valid during the callback. */
struct store_audit_row {
    const char *v[STORE_AUDIT_NFIELDS];
    const char *stream_id; /* "" for an intent */
    int unknown_outcome;
    char *buf; /* owns the unpacked values (internal) */
};

/* Unpack a packed record (STORE_AUDIT_NREQUIRED up to STORE_AUDIT_NFIELDS
 * fields; missing optional ones read as "") into
 * row->v: values are copied NUL-terminated into a new row->buf (caller
 * frees).  0, or -1 for anything malformed (an edited record), leaving
 * row->buf NULL. */
int store_audit_row_unpack(const char *p, size_t n, struct store_audit_row *row);

/* Progress of the long readers below (query, verify), for a terminal:
 * fn(done, total, arg) after each page read, total -1 when not known
 * cheaply; done -1 when the reading is over and rows are about to be
 * handed out (a terminal line can be erased before they print).  NULL
 * turns it off (the default); the totals cost one command only while it
 * is on.  CLI only (one thread). */
void store_audit_progress_set(void (*fn)(long done, long total, void *arg), void *arg);

/* Run a query; fn is called once per row, oldest first.  0 or -1 (err). */
int store_audit_query(struct store_conn *c, const struct store_audit_query *q,
                      void (*fn)(const struct store_audit_row *, void *), void *arg, char *err,
                      size_t errlen);

/* Follow new final records from now on, calling fn for each matching row,
 * until *stop becomes nonzero.  0 or -1 (err). */
int store_audit_tail(struct store_conn *c, const struct store_audit_query *q,
                     void (*fn)(const struct store_audit_row *, void *), void *arg,
                     volatile int *stop, char *err, size_t errlen);

struct store_audit_verify {
    long records; /* records checked */
    long writers;
    char problem[512]; /* "" if none: the first problem found */
};

/* Verify every writer's chain (from since_ms, 0 = all), and that no record
 * younger than the retention was deleted.  0 (ran; see problem) or -1. */
int store_audit_verify_log(struct store_conn *c, const unsigned char mk[SC_MASTER_KEY_LEN],
                           int64_t since_ms, int64_t retention_ms, int64_t now_ms,
                           struct store_audit_verify *out, char *err, size_t errlen);

#endif
