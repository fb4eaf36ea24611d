/*
 * admin.h - the admin trail (SPEC §7): one tamper-evident record per change
 * an operator makes (key issue/update/rotate/revoke, upstream add/rotate/
 * remove, webhook add/remove, approval decisions): who, when, what, and the
 * changed fields with their old and new values.
 *
 * Not the call log (store/audit.h), whose MAC it reuses: the trail is
 * written by short-lived CLI processes, rarely, so it is one chain shared by
 * every writer rather than one per writer.  Never holds a vault key, a real
 * key or a webhook secret: callers pass fingerprints, never the secret.
 *
 * Storage (Redis):
 *   sc:admin        a stream, never trimmed; one entry per change with the
 *                   fields time (Redis's clock, ms), action, target,
 *                   changes, actor, seq, prev, mac, in that order
 *   sc:admin:head   "<seq> <mac>" of the newest record
 * Chain: record n has seq n, prev = mac of record n-1 ("genesis" for n = 1)
 * and mac = store_audit_mac(K, prev, every field but mac), K the call log's
 * key (store_audit_key).  admin_write.lua appends only if the head is still
 * the one the record was sealed after; otherwise the writer reads the new
 * head and seals again, so concurrent CLI processes keep one chain.
 */
#ifndef SC_STORE_ADMIN_H
#define SC_STORE_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include "redis.h"
#include "secret.h"

/* One change.  Borrowed strings. */
struct store_admin_entry {
    const char *action;              /* "key.update", "upstream.rotate", "approval.approve", ... */
    const char *target;              /* key id, upstream name, webhook id, held id */
    const char *changes;             /* a JSON object {"field":{"old":…,"new":…}}, "" when none;
                                      * never a secret (fingerprints are fine) */
    const char *actor;               /* `--actor`, else "<OS user>@<host>" (cli_actor) */
    const unsigned char *master_key; /* SC_MASTER_KEY_LEN bytes: the MAC key's source */
};

/* Append e to the trail, at Redis's time, as the chain's next record
 * (re-sealing after a concurrent writer, up to SC_ADMIN_RETRY_MAX times).
 * Synchronous: the CLI only.  0, or -1 with err. */
int store_admin_record(struct store_conn *c, const struct store_admin_entry *e, char *err,
                       size_t errlen);

/* One record as read back.  Borrowed strings, valid during the callback. */
struct store_admin_row {
    const char *id; /* stream id */
    const char *time, *action, *target, *changes, *actor, *seq;
};

/* Call fn for each record with since_ms <= time <= until_ms (0: open), the
 * newest limit of them (0: all), oldest first.  0, or -1 with err. */
int store_admin_query(struct store_conn *c, int64_t since_ms, int64_t until_ms, long limit,
                      void (*fn)(const struct store_admin_row *, void *), void *arg, char *err,
                      size_t errlen);

struct store_admin_verify {
    long records;      /* records checked */
    char problem[512]; /* "" if none: the first problem found, naming the record */
};

/* Check every record's MAC from since_ms (0: all), that each follows the
 * one before it (seq and prev: nothing deleted from the middle, inserted or
 * reordered), that the newest is the head's (nothing cut off the end) and
 * that nothing was ever deleted from the stream.  0 (ran; see problem) or -1. */
int store_admin_verify_trail(struct store_conn *c, const unsigned char mk[SC_MASTER_KEY_LEN],
                             int64_t since_ms, struct store_admin_verify *out, char *err,
                             size_t errlen);

/* A webhook URL as the trail shows it: scheme and authority, and "/…" in
 * place of any path, query or fragment (a chat webhook's path is often its
 * credential).  Writes at most len bytes (NUL included).  Pure. */
void store_admin_url_text(const char *url, char *out, size_t len);

#endif
