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

/* The UTC month of ms since the epoch as YYYYMM (e.g. 202611), the suffix of
 * the monthly counter's name. */
int store_usage_month(int64_t ms);

#endif
