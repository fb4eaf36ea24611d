/*
 * sweep.h - one batch of the sweep for time-based events (SPEC §6), typed.
 *
 * store/ owns sweep.lua's arguments and reply; proxy/sweep.c decides when
 * to sweep.  The script keeps the lease sc:lease:sweep (one sweeping
 * instance at a time) and writes each event with its marker in one step,
 * so an event fires once per key and threshold even when the lease moves
 * between instances in the middle of a sweep (see store/lua/sweep.lua for
 * the events, their markers and what re-arms them).
 */
#ifndef SC_STORE_SWEEP_H
#define SC_STORE_SWEEP_H

#include <stdint.h>

#include "redis.h"

enum store_sweep_status {
    STORE_SWEEP_OK = 0, /* swept the batch */
    STORE_SWEEP_BUSY,   /* another instance holds the lease (a new sweep only) */
    STORE_SWEEP_LOST,   /* the lease moved to another instance: stop */
};

struct store_sweep_result {
    enum store_sweep_status status;
    int64_t next;  /* rank of the next batch's first key, 0: the sweep is done */
    int64_t fired; /* events this batch emitted */
};

/* Runs exactly once per accepted batch, never before store_sweep_batch
 * returns; res is borrowed (valid during the callback) and NULL exactly
 * when errstr is not. */
typedef void store_sweep_cb(const struct store_sweep_result *res, const char *errstr, void *arg);

/* Sweep `count` keys from rank `first` of sc:keys (0: start a sweep,
 * taking the lease if it is free or token's), holding the lease for
 * lease_ms more.  token names the holder (unique per process).  0 (cb
 * will run), or -1 with *errstr set to a static reason and cb never runs. */
int store_sweep_batch(struct store_async *as, const char *token, int64_t lease_ms, int64_t first,
                      int count, store_sweep_cb *cb, void *arg, const char **errstr);

#endif
