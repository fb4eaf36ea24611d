/*
 * event_read.h - reading events (SPEC §6) for the CLI: `event list` and
 * `key show`.  Synchronous; never used on the daemon's loop.  The schema
 * is in events.h; events are written only by lib/events.lua.
 */
#ifndef SC_STORE_EVENT_READ_H
#define SC_STORE_EVENT_READ_H

#include <stddef.h>
#include <stdint.h>

#include "events.h"
#include "redis.h"

/* One target of an event (a webhook id, or "notice") and its state. */
struct store_event_target {
    char target[48];
    struct store_delivery d;
    int bad; /* the stored state did not parse (d is zero) */
};

struct store_event_query {
    int64_t since_ms;   /* 0: the whole stream */
    const char *type;   /* NULL or "": any */
    const char *key_id; /* NULL or "": any */
    size_t limit;       /* the newest this many matches */
};

/* Called once per match, oldest first; t: its targets sorted by name
 * (borrowed for the call). */
typedef void store_event_row_cb(const struct store_event *ev, const struct store_event_target *t,
                                size_t nt, void *arg);

/* The newest q->limit events matching q among the newest SC_EVENT_SCAN_MAX
 * entries of the stream (read with XREVRANGE, a page at a time), each with
 * the states in sc:evs:<id>.  *more is set when matches were left out (the
 * limit, or the scan bound).  0, or -1 with err. */
int store_events_query(struct store_conn *c, const struct store_event_query *q,
                       store_event_row_cb *cb, void *arg, int *more, char *err, size_t errlen);

/* One line for people saying what an event says ("80% of the daily cap:
 * 8 of 10"), from its type and data (JSON text).  Pure; never fails: an
 * event it does not know, or data that does not parse, gets a plain line. */
void store_event_summary(const char *type, const char *data, char *buf, size_t len);

#endif
