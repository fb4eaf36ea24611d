/*
 * usage.c - a key family's counters, for the CLI.  See usage.h.
 *
 * The names are built here and only here on the CLI side; call.lua builds
 * the same names when it counts.  One round trip per key: key_usage.lua
 * reads the day, the month and the rate window together, all at the caller's
 * now_ms (one Redis TIME), not at a second TIME of the script's own.
 */
#include "usage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/limits.h"

int
store_usage_month(int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL)
        return 0;
    return (tm.tm_year + 1900) * 100 + tm.tm_mon + 1;
}

int
store_usage_get(struct store_conn *c, const struct store_key *k, int64_t now_ms,
                struct store_usage *u, char *err, size_t errlen)
{
    char k_day[128], k_month[128], k_rate[128], win[24], now[24];
    const char *args[5] = {k_day, k_month, k_rate, win, now};
    redisReply *r;

    memset(u, 0, sizeof(*u));
    snprintf(k_day, sizeof(k_day), "sc:cnt:%s:%lld", k->family, (long long)(now_ms / 86400000));
    snprintf(k_month, sizeof(k_month), "sc:mcnt:%s:%d", k->family, store_usage_month(now_ms));
    snprintf(k_rate, sizeof(k_rate), "sc:rate:%s", k->family);
    snprintf(win, sizeof(win), "%lld", (long long)(k->rate_limit >= 0 ? k->rate_window_ms : 0));
    snprintf(now, sizeof(now), "%lld", (long long)now_ms);
    r = store_redis_eval(c, STORE_SCRIPT_KEY_USAGE, 3, 5, args, err, errlen);
    if (r == NULL)
        return -1;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_INTEGER ||
        r->element[2]->type != REDIS_REPLY_INTEGER) {
        freeReplyObject(r);
        snprintf(err, errlen, "redis: unexpected reply from key_usage");
        return -1;
    }
    u->daily = r->element[0]->integer;
    u->monthly = r->element[1]->integer;
    u->rate = r->element[2]->integer;
    freeReplyObject(r);
    return 0;
}

int
store_usage_hours(struct store_conn *c, const char *key_id, int64_t from_hour, int64_t to_hour,
                  struct store_usage_hour *out, char *err, size_t errlen)
{
    redisContext *ctx = store_redis_ctx(c);
    int64_t n = to_hour - from_hour + 1;

    if (n <= 0 || n > SC_USAGE_MAX_HOURS) {
        snprintf(err, errlen, "usage: %lld hours asked, at most %d", (long long)n,
                 SC_USAGE_MAX_HOURS);
        return -1;
    }
    for (int64_t h = from_hour; h <= to_hour; h++) {
        if (key_id != NULL)
            redisAppendCommand(ctx, "HGETALL sc:uhk:%s:%lld", key_id, (long long)h);
        else
            redisAppendCommand(ctx, "HGETALL sc:uht:%lld", (long long)h);
    }
    for (int64_t i = 0; i < n; i++) {
        struct store_usage_hour *u = &out[i];
        redisReply *r = NULL;

        memset(u, 0, sizeof(*u));
        u->hour = from_hour + i;
        if (redisGetReply(ctx, (void **)&r) != REDIS_OK || r == NULL) {
            snprintf(err, errlen, "redis: %s", ctx->errstr[0] ? ctx->errstr : "no reply");
            return -1; /* the connection is unusable now, as after any I/O error */
        }
        if (r->type == REDIS_REPLY_ARRAY) {
            for (size_t k = 0; k + 1 < r->elements; k += 2) {
                const char *f = r->element[k]->str;
                long long v = strtoll(r->element[k + 1]->str, NULL, 10);
                if (strcmp(f, "sent") == 0) {
                    u->sent = v;
                } else if (u->n < STORE_USAGE_MAX_OUTCOMES) {
                    snprintf(u->o[u->n].what, sizeof(u->o[u->n].what), "%s", f);
                    u->o[u->n++].calls = v;
                }
            }
        }
        freeReplyObject(r);
    }
    return 0;
}
