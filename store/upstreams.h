/*
 * upstreams.h - upstreams: named real Resend keys, sealed at rest.
 *
 * Schema: sc:up:<name> hash {name, sealed, fingerprint, created_at,
 * rotated_at, ver}; sc:upstreams set of names; sc:meta hash {master_check,
 * schema}.  The real key exists in clear only in the CLI while it seals it
 * and in the daemon's memory; the AAD binding it to its upstream is
 * "sendcap/upstream/<name>".
 */
#ifndef SC_STORE_UPSTREAMS_H
#define SC_STORE_UPSTREAMS_H

#include <stddef.h>
#include <stdint.h>

#include "redis.h"
#include "secret.h"

struct store_upstream {
    char name[64 + 1];
    char fingerprint[32];
    int64_t created_at, rotated_at;
    long keys; /* vault keys issued on it that are not revoked */
};

/* Is name a valid upstream name ([A-Za-z0-9._-], 1..64)? */
int store_upstreams_name_valid(const char *name);

/* The AAD for an upstream's sealed key (buf >= 96). */
void store_upstreams_aad(const char *name, char *buf, size_t len);

/* Seal real_key under mk and add (or, with rotate, replace) the upstream.
 * Refuses a master key other than the one this Redis was set up with.
 * 0, or a negative enum store_err with err (STORE_ERR_NOT_FOUND: rotate of
 * an upstream that does not exist). */
int store_upstreams_put(struct store_conn *c, const unsigned char mk[SC_MASTER_KEY_LEN],
                        const char *name, const char *real_key, int rotate, char *err,
                        size_t errlen);

/* Remove.  Without force, refuses while live keys use it (*live set, returns
 * 1).  With force, revokes them first (*live = how many).  0, 1, or a
 * negative enum store_err with err (STORE_ERR_NOT_FOUND: no such upstream). */
int store_upstreams_remove(struct store_conn *c, const char *name, int force, long *live, char *err,
                           size_t errlen);

/* Call fn for each upstream, by name.  0 or -1 with err. */
int store_upstreams_each(struct store_conn *c, int (*fn)(const struct store_upstream *, void *),
                         void *arg, char *err, size_t errlen);

/* Is mk the master key this Redis's upstreams were sealed with (sc:meta)?
 * 0: yes, or nothing is sealed yet; 1: another key; -1 with err. */
int store_upstreams_master_check(struct store_conn *c, const unsigned char mk[SC_MASTER_KEY_LEN],
                                 char *err, size_t errlen);

/* Open an upstream's sealed real key (for `sendcap doctor`).  Returns a new
 * string (caller releases it with store_secret_free), or NULL with err: no
 * such upstream, or a key that does not open under mk. */
char *store_upstreams_open(struct store_conn *c, const unsigned char mk[SC_MASTER_KEY_LEN],
                           const char *name, char *err, size_t errlen);

#endif
