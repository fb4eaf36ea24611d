/*
 * sweep.c - builds sweep.lua's arguments and parses its reply (sweep.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweep.h"

struct pending {
    store_sweep_cb *cb;
    void *arg;
};

static int
is_str(const redisReply *r, size_t i, const char *s)
{
    return r->elements > i && r->element[i]->type == REDIS_REPLY_STRING &&
           strcmp(r->element[i]->str, s) == 0;
}

static void
replied(redisReply *r, const char *errstr, void *arg)
{
    struct pending *p = arg;
    struct store_sweep_result res = {STORE_SWEEP_OK, 0, 0};

    if (r == NULL) {
        p->cb(NULL, errstr, p->arg);
    } else if (r->type != REDIS_REPLY_ARRAY) {
        p->cb(NULL, "sweep.lua answered in an unexpected shape", p->arg);
    } else if (is_str(r, 0, "busy") || is_str(r, 0, "lost")) {
        res.status = is_str(r, 0, "busy") ? STORE_SWEEP_BUSY : STORE_SWEEP_LOST;
        p->cb(&res, NULL, p->arg);
    } else if (is_str(r, 0, "ok") && r->elements == 3 &&
               r->element[1]->type == REDIS_REPLY_INTEGER &&
               r->element[2]->type == REDIS_REPLY_INTEGER) {
        res.next = r->element[1]->integer;
        res.fired = r->element[2]->integer;
        p->cb(&res, NULL, p->arg);
    } else {
        p->cb(NULL, "sweep.lua answered in an unexpected shape", p->arg);
    }
    free(p);
}

int
store_sweep_batch(struct store_async *as, const char *token, int64_t lease_ms, int64_t first,
                  int count, store_sweep_cb *cb, void *arg, const char **errstr)
{
    char lease[24], from[24], n[16];
    const char *argv[4] = {token, lease, from, n};
    struct pending *p = malloc(sizeof(*p));

    if (p == NULL) {
        *errstr = "out of memory";
        return -1;
    }
    p->cb = cb;
    p->arg = arg;
    snprintf(lease, sizeof(lease), "%lld", (long long)lease_ms);
    snprintf(from, sizeof(from), "%lld", (long long)first);
    snprintf(n, sizeof(n), "%d", count);
    if (store_redis_async_eval(as, STORE_SCRIPT_SWEEP, 0, 4, argv, NULL, replied, p, errstr) != 0) {
        free(p);
        return -1;
    }
    return 0;
}
