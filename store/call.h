/*
 * call.h - the daemon's one Redis round trip per call (call.lua), typed.
 *
 * store/ owns call.lua's wire layout: its keys, its positional arguments
 * and its reply are built and parsed here only, so the proxy passes and
 * gets named fields (a new script argument is a new field, not an index)
 * and never sees a hiredis reply.  The counters the script shares with
 * the CLI are read by store/usage.c (their names: store/keys.h).
 *
 * What the script checks, in order, by Redis's clock: the key exists, is
 * not revoked, has not expired; the caller's cached record and sealed real
 * key are current; ownership of the email a call touches; then the daily
 * counter of the key's family is increased by the sends only if it stays
 * within the cap, with the audit intent written in the same step.  See
 * store/lua/call.lua for the exact rules.
 */
#ifndef SC_STORE_CALL_H
#define SC_STORE_CALL_H

#include <stddef.h>
#include <stdint.h>

#include "events.h"
#include "keys.h"
#include "redis.h"
#include "secret.h"

enum store_call_mode {
    STORE_CALL_FORWARD = 0, /* a call that is not a send (or a look-up: gen "") */
    STORE_CALL_SEND,        /* reserve `sends` against the daily cap */
    STORE_CALL_DENY,        /* the proxy will refuse the call: check the key only */
    STORE_CALL_WHOAMI,      /* GET /sendcap/v1/whoami: a rate slot, and the usage */
};

/* One message of a send (a batch element), for the controls of SPEC §5. */
struct store_call_msg {
    const char *facts_hash;         /* sha256 hex of its canonical send facts;
                                     * NULL: the key has no dedupe window */
    size_t nrcpt;                   /* its to/cc/bcc addresses (0 without a
                                     * per-recipient cap) */
    const char *const *rcpt_hashes; /* sha256 hex of each, lower-cased */
};

/* What the proxy asks.  Strings are borrowed for the call of
 * store_call_check only (they are copied into the command). */
/* The cached key record's fields call.lua reads on every call, in its
 * layout (store_call_key_view): with a current gen the script takes them
 * from here and reads only the fields that can change without a new gen
 * (revoked_at, expires_at, last_used_at) from Redis. */
#define STORE_CALL_VIEW_MAX 512

struct store_call_req {
    const char *key_hash;     /* sha256 hex of the vault key */
    const char *gen;          /* generation of the cached key record, "" if none */
    const char *key_view;     /* that record's store_call_key_view, "" if none */
    const char *upstream_ver; /* version of the cached upstream record, "" if none */
    enum store_call_mode mode;
    int64_t sends;        /* recipients to reserve (to + cc + bcc), for SEND */
    const char *email_id; /* the email the call reads or changes, "" if none */
    /* For SEND only: */
    const char *request_id;            /* the call's request id */
    const char *intent;                /* its packed record (store/audit.h), NULL or "": none */
    int64_t intent_ttl_s;              /* how long the intent may wait for its final record */
    const char *idem_hash;             /* sha256 hex of the Idempotency-Key, "" if none */
    const char *body_hash;             /* sha256 hex of the body forwarded */
    const struct store_call_msg *msgs; /* the send's messages, in body order */
    size_t nmsg;
    /* For DENY: the rule refused (key.denied's reason: "from_domain",
     * "to_domain", "scope", ...), NULL or "" for none (a malformed body). */
    const char *deny_reason;
    /* How long a key.cap_reached this call emits stays leased to the
     * caller (ms), which delivers it before its 429 (SPEC §6). */
    int64_t hold_ms;
    /* SEND of a gated or gated-new-recipients key (SPEC §7): the held id
     * and the sealed send (store_held_seal), NULL: the key holds nothing;
     * the from domain(s) and route name, for its events. */
    const char *held_id, *held_sealed;
    const char *from_domain, *route;
};

enum store_call_kind {
    STORE_CALL_OK = 0,      /* go on (for SEND: reserved, or an idempotent replay) */
    STORE_CALL_STALE,       /* the cache is cold or outdated: key and sealed below */
    STORE_CALL_UNKNOWN,     /* no such key */
    STORE_CALL_REVOKED,     /* at_ms: when */
    STORE_CALL_EXPIRED,     /* at_ms: when */
    STORE_CALL_NO_UPSTREAM, /* the key's upstream was removed */
    STORE_CALL_NOT_OWN,     /* the email is not the key family's */
    STORE_CALL_CAP,         /* the sends do not fit: used, cap; nothing reserved */
    STORE_CALL_BAD_RECORD,  /* "stale", but the record or upstream did not parse
                             * (the key exists: it is live) */
    STORE_CALL_BAD_REPLY,   /* an answer call.lua does not give */
    STORE_CALL_MONTHLY_CAP, /* ... in the month: used, cap, reset_ms */
    STORE_CALL_RCPT_CAP,    /* ... for one address: position, used, cap */
    STORE_CALL_RATE,        /* over --rate: cap (limit), window_ms, used, reset_ms */
    STORE_CALL_DUPLICATE,   /* a message repeats one in the dedupe window */
    STORE_CALL_USAGE,       /* whoami answered: who */
    STORE_CALL_HELD,        /* SEND reserved and held (fields as OK): answer 202 */
    STORE_CALL_HELD_STATUS, /* GET of a held_ id of the family: held_* below */
    STORE_CALL_HELD_FULL,   /* would be held, but too many wait: used (sends
                             * waiting), cap (bytes); nothing reserved */
};

/* What Redis answered.  Borrowed: valid during the callback only. */
struct store_call_result {
    enum store_call_kind kind;
    char key_id[STORE_KEY_ID_MAX]; /* "" when the reply did not carry it */
    int64_t now_ms;                /* Redis's clock (OK, REVOKED, EXPIRED, CAP) */
    int64_t at_ms;                 /* REVOKED: revoked_at; EXPIRED: expires_at */
    /* OK after SEND: */
    char counter_key[160];   /* where the sends were reserved ("": a replay) */
    int64_t used;            /* OK: the counter after; CAP: before */
    int64_t cap;             /* CAP */
    char idem_key[160];      /* the replay record this call set ("" if none) */
    char idem_value[128];    /* ... and the value it holds */
    char monthly_key[160];   /* the month's counter reserved on ("": a replay) */
    int64_t remaining;       /* tightest of daily and monthly after the send; -1: no cap */
    char rcpt_prefix[160];   /* per-recipient counters taken: prefix + address hash */
    char dedupe_prefix[160]; /* dedupe records set: prefix + facts hash */
    /* MONTHLY_CAP, RATE: when the window frees (Redis ms) */
    int64_t reset_ms;
    int64_t window_ms; /* RATE */
    /* RCPT_CAP: 0-based among the address hashes sent; DUPLICATE: the message */
    int64_t position;
    int64_t earlier_msg; /* DUPLICATE: the element of this batch it repeats, -1 */
    char earlier[200];   /* DUPLICATE: "<request id>[:<email id>]", "" */
    /* CAP, MONTHLY_CAP: the key.cap_reached event this call emitted, "" if
     * none (its deliveries are leased to this caller for hold_ms: SPEC §6's
     * delivery before the 429, proxy_webhook_hold) */
    char cap_event[STORE_EVENT_ID_MAX];
    /* WHOAMI (-1: the key has no such control) */
    struct store_call_usage {
        char name[STORE_KEY_TEXT_MAX];
        int64_t expires_at;
        int64_t daily_cap, daily_used, monthly_cap, monthly_used, month_reset_ms;
        int64_t per_recipient_cap, rate_limit, rate_window_ms, rate_used, rate_reset_ms;
        int64_t dedupe_window_ms;
        char alert_at[64];
    } who;
    /* HELD_STATUS: pending|approved|sent|failed|rejected|expired, the
     * Resend id once sent, and why a send failed */
    char held_status[16];
    char held_email[128];
    char held_error[128];
    /* STALE: */
    const struct store_key *key; /* the current record (hash filled in) */
    char upstream_ver[24];       /* the current upstream version */
    const char *sealed;          /* the upstream's sealed real key */
    size_t sealed_len;
};

/* Runs exactly once, never before store_call_check returns.  res is NULL
 * exactly when errstr is not (Redis did not run the script: not connected,
 * timed out, an error reply such as OOM); both are borrowed. */
typedef void store_call_cb(const struct store_call_result *res, const char *errstr, void *arg);

/* Write rec's fields call.lua reads (id, upstream, family, caps, scope,
 * rate, dedupe window, oversight) to out in the script's layout.  Returns
 * 0, or -1 if they do not fit or a text field holds the separator (a
 * record no CLI writes: the key is then used without a view, so every
 * call answers "stale" and is refused).  Pure. */
int store_call_key_view(const struct store_key *rec, char *out, size_t len);

/* Queue call.lua for req on the daemon's connection.  0 (cb will run
 * exactly once), or -1 with *errstr set to a static reason and cb never
 * runs.  Never blocks. */
int store_call_check(struct store_async *as, const struct store_call_req *req, store_call_cb *cb,
                     void *arg, const char **errstr);

#endif
