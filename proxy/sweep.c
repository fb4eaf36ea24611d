/*
 * sweep.c - the timer that runs the sweep for time-based events (SPEC §6:
 * key.expiring, key.expired, key.stale, key.rotation_due).
 *
 * Every --sweep-interval each instance tries to start a sweep; the one
 * that takes the Redis lease (store/sweep.h) walks every key in batches of
 * --sweep-batch, one script each, with a short gap between them, and the
 * others find the lease held and wait for their next tick.  What to emit
 * and the markers that make each event fire once are decided in the script
 * (store/lua/sweep.lua), never here, so an instance that dies or stalls
 * mid-sweep costs nothing but time: its lease runs out and the next holder
 * starts over, finding the markers of what was already sent.
 * Nothing here blocks: every step is a timer or a Redis callback.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"
#include "proxy.h"
#include "store/sweep.h"

struct proxy_sweep {
    struct store_async *redis;
    struct event *tick, *next;
    int64_t interval_ms, lease_ms;
    int batch;
    int running;     /* a sweep of ours is under way */
    int64_t first;   /* rank of its next batch */
    int64_t fired;   /* events it emitted so far */
    char token[160]; /* "<host>:<pid>:<random>": names this holder in the lease */
};

static void step(struct proxy_sweep *s);

static void
batch_done(const struct store_sweep_result *res, const char *errstr, void *arg)
{
    struct proxy_sweep *s = arg;
    struct timeval gap = sc_tv_ms(SC_SWEEP_BATCH_GAP_MS);

    if (res == NULL) {
        sc_warn("sweep: stopped after %lld keys: %s; the next one starts over", (long long)s->first,
                errstr);
        s->running = 0;
        return;
    }
    if (res->status == STORE_SWEEP_BUSY) {
        s->running = 0; /* another instance sweeps this interval */
        return;
    }
    if (res->status == STORE_SWEEP_LOST) {
        sc_warn("sweep: the lease moved to another instance after %lld keys and %lld events; "
                "it sweeps on",
                (long long)s->first, (long long)s->fired);
        s->running = 0;
        return;
    }
    s->fired += res->fired;
    if (res->next == 0) {
        if (s->fired > 0)
            sc_info("sweep: done, %lld events", (long long)s->fired);
        else
            sc_debug("sweep: done, no events");
        s->running = 0;
        return;
    }
    s->first = res->next;
    evtimer_add(s->next, &gap);
}

static void
step(struct proxy_sweep *s)
{
    const char *errstr;

    if (store_sweep_batch(s->redis, s->token, s->lease_ms, s->first, s->batch, batch_done, s,
                          &errstr) != 0) {
        sc_warn("sweep: stopped after %lld keys: %s", (long long)s->first, errstr);
        s->running = 0;
    }
}

static void
next_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    step(arg);
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct proxy_sweep *s = arg;

    (void)fd;
    (void)what;
    if (s->running || !store_redis_async_ready(s->redis))
        return;
    s->running = 1;
    s->first = 0;
    s->fired = 0;
    step(s);
}

struct proxy_sweep *
proxy_sweep_new(struct event_base *base, struct store_async *redis, int64_t interval_ms, int batch)
{
    struct proxy_sweep *s = calloc(1, sizeof(*s));
    struct timeval tv = sc_tv_ms(interval_ms);
    char host[64] = "", rnd[9] = "";

    if (s == NULL)
        return NULL;
    s->redis = redis;
    s->interval_ms = interval_ms;
    s->lease_ms = interval_ms * SC_SWEEP_LEASE_PCT / 100;
    s->batch = batch;
    if (gethostname(host, sizeof(host) - 1) != 0)
        sc_strlcpy(host, "?", sizeof(host));
    if (store_secret_random_base62(rnd, 8) != 0)
        goto fail;
    snprintf(s->token, sizeof(s->token), "%s:%ld:%s", host, (long)getpid(), rnd);
    s->tick = event_new(base, -1, EV_PERSIST, tick_cb, s);
    s->next = evtimer_new(base, next_cb, s);
    if (s->tick == NULL || s->next == NULL || event_add(s->tick, &tv) != 0)
        goto fail;
    return s;
fail:
    proxy_sweep_free(s);
    return NULL;
}

void
proxy_sweep_free(struct proxy_sweep *s)
{
    if (s == NULL)
        return;
    if (s->tick != NULL)
        event_free(s->tick);
    if (s->next != NULL)
        event_free(s->next);
    free(s);
}
