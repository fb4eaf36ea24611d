/*
 * usage.h - what a key family has used of its controls, read for the CLI
 * (`key list`, `key show`).
 *
 * The counters are written by call.lua in the daemon; this is the one place
 * the CLI reads them, under the names of store/keys.h:
 *   sc:cnt:<family>:<UTC day number>    emails reserved that UTC day
 *   sc:mcnt:<family>:<YYYYMM>           emails reserved that UTC month
 *   sc:rate:<family>                    zset of requests, scored by Redis ms
 * Reading never writes: a window's old rate entries are skipped, not removed.
 */
#ifndef SC_STORE_USAGE_H
#define SC_STORE_USAGE_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "redis.h"

struct store_usage {
    long long daily;   /* emails today (UTC day of now_ms) */
    long long monthly; /* emails this UTC calendar month */
    long long rate;    /* requests in the key's rate window ending at now_ms (0 without a rate) */
};

/* The family's usage at now_ms (Redis's clock, which picks the day and the
 * month), in one round trip (key_usage.lua).  0, or -1 with err. */
int store_usage_get(struct store_conn *c, const struct store_key *k, int64_t now_ms,
                    struct store_usage *u, char *err, size_t errlen);

/*
 * The call log's per-hour counts (README "Usage"), written by log_write.lua
 * with each record: sc:uht:<hour> for every call, sc:uhk:<key id>:<hour>
 * for a key's, <hour> = ms since the epoch / 3600000 (the record's time).
 * Fields: "sent" (emails a send's counter kept) and "<decision>:<reason>"
 * (calls).  Hashes live as long as the call log's retention.
 */
#define STORE_USAGE_MAX_OUTCOMES 48
struct store_usage_hour {
    int64_t hour; /* hours since the epoch */
    long long sent;
    int n; /* outcomes below; those past STORE_USAGE_MAX_OUTCOMES are dropped */
    struct {
        char what[64]; /* "<decision>:<reason>" */
        long long calls;
    } o[STORE_USAGE_MAX_OUTCOMES];
};

/* Read the hours from_hour..to_hour (inclusive, at most SC_USAGE_MAX_HOURS)
 * for key_id (NULL: every call) into out[0..to-from], in one pipelined
 * round trip of HGETALLs: never a scan of the log.  0, or -1 with err. */
int store_usage_hours(struct store_conn *c, const char *key_id, int64_t from_hour, int64_t to_hour,
                      struct store_usage_hour *out, char *err, size_t errlen);

/* The UTC month of ms since the epoch as YYYYMM (e.g. 202611), the suffix of
 * the monthly counter's name. */
int store_usage_month(int64_t ms);

#endif
