/*
 * event_read.c - the events' readers, for the CLI (event_read.h).
 */
#include "event_read.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/limits.h"
#include "common/util.h"

#define PAGE 500

/* Element i of an array reply as a string, or NULL. */
static const char *
el(const redisReply *r, size_t i)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || i >= r->elements ||
        r->element[i]->type != REDIS_REPLY_STRING)
        return NULL;
    return r->element[i]->str;
}

/* An XRANGE entry [id, [field, value, ...]] into ev (data a new string).
 * 0, or -1 when it is not an event's shape. */
static int
entry(const redisReply *e, struct store_event *ev)
{
    const redisReply *f;

    memset(ev, 0, sizeof(*ev));
    if (el(e, 0) == NULL || e->elements != 2 || (f = e->element[1])->type != REDIS_REPLY_ARRAY)
        return -1;
    sc_strlcpy(ev->id, el(e, 0), sizeof(ev->id));
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const char *k = el(f, i), *v = el(f, i + 1);

        if (k == NULL || v == NULL)
            return -1;
        if (strcmp(k, "type") == 0)
            sc_strlcpy(ev->type, v, sizeof(ev->type));
        else if (strcmp(k, "key") == 0)
            sc_strlcpy(ev->key, v, sizeof(ev->key));
        else if (strcmp(k, "family") == 0)
            sc_strlcpy(ev->family, v, sizeof(ev->family));
        else if (strcmp(k, "at") == 0)
            sc_parse_i64(v, 0, INT64_MAX, &ev->at);
        else if (strcmp(k, "data") == 0 && ev->data == NULL)
            ev->data = strdup(v);
    }
    return ev->type[0] != '\0' && ev->data != NULL ? 0 : -1;
}

/* The stream id just before id ("<ms>-<seq>"), for the next page of an
 * XREVRANGE (an exclusive bound without Redis 6.2's "(" syntax); 0, or -1
 * at the stream's very start. */
static int
before(const char *id, char *out, size_t len)
{
    unsigned long long ms, seq;

    if (sscanf(id, "%llu-%llu", &ms, &seq) != 2)
        return -1;
    if (seq > 0)
        snprintf(out, len, "%llu-%llu", ms, seq - 1);
    else if (ms > 0)
        snprintf(out, len, "%llu-18446744073709551615", ms - 1);
    else
        return -1;
    return 0;
}

static int
target_cmp(const void *a, const void *b)
{
    return strcmp(((const struct store_event_target *)a)->target,
                  ((const struct store_event_target *)b)->target);
}

/* The targets of one event, sorted; a new array (caller frees) in *out. */
static int
targets(struct store_conn *c, const char *id, struct store_event_target **out, size_t *n, char *err,
        size_t errlen)
{
    redisReply *r = store_redis_cmd(c, err, errlen, "HGETALL sc:evs:%s", id);

    *out = NULL;
    *n = 0;
    if (r == NULL)
        return -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2) {
        *out = calloc(r->elements / 2, sizeof(**out));
        if (*out == NULL) {
            freeReplyObject(r);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
            struct store_event_target *t = &(*out)[*n];

            if (el(r, i) == NULL || el(r, i + 1) == NULL)
                continue;
            sc_strlcpy(t->target, el(r, i), sizeof(t->target));
            t->bad = store_delivery_parse(el(r, i + 1), &t->d) != 0;
            (*n)++;
        }
        qsort(*out, *n, sizeof(**out), target_cmp);
    }
    freeReplyObject(r);
    return 0;
}

int
store_events_query(struct store_conn *c, const struct store_event_query *q, store_event_row_cb *cb,
                   void *arg, int *more, char *err, size_t errlen)
{
    struct store_event *hits = calloc(q->limit ? q->limit : 1, sizeof(*hits));
    char end[64] = "+", start[32] = "-";
    size_t nhits = 0, scanned = 0;
    int ret = -1, done = 0;

    *more = 0;
    if (hits == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (q->since_ms > 0)
        snprintf(start, sizeof(start), "%" PRId64, q->since_ms);
    while (!done && nhits < q->limit) {
        redisReply *r =
            store_redis_cmd(c, err, errlen, "XREVRANGE sc:events %s %s COUNT %d", end, start, PAGE);
        if (r == NULL)
            goto out;
        if (r->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(r);
            snprintf(err, errlen, "unexpected answer from Redis to XREVRANGE");
            goto out;
        }
        done = r->elements < PAGE;
        for (size_t i = 0; i < r->elements; i++) {
            struct store_event ev;

            if (++scanned > SC_EVENT_SCAN_MAX) {
                *more = 1;
                done = 1;
                break;
            }
            if (entry(r->element[i], &ev) != 0) {
                store_event_clear(&ev);
                continue;
            }
            if ((q->type && q->type[0] && strcmp(ev.type, q->type) != 0) ||
                (q->key_id && q->key_id[0] && strcmp(ev.key, q->key_id) != 0)) {
                store_event_clear(&ev);
                continue;
            }
            if (nhits == q->limit) {
                *more = 1;
                store_event_clear(&ev);
                done = 1;
                break;
            }
            hits[nhits++] = ev;
        }
        /* The next page ends just before this one's last (oldest) entry. */
        if (!done && (r->elements == 0 || el(r->element[r->elements - 1], 0) == NULL ||
                      before(el(r->element[r->elements - 1], 0), end, sizeof(end)) != 0))
            done = 1;
        freeReplyObject(r);
    }
    for (size_t i = nhits; i-- > 0;) {
        struct store_event_target *t;
        size_t nt;

        if (targets(c, hits[i].id, &t, &nt, err, errlen) != 0)
            goto out;
        cb(&hits[i], t, nt, arg);
        free(t);
    }
    ret = 0;
out:
    for (size_t i = 0; i < nhits; i++)
        store_event_clear(&hits[i]);
    free(hits);
    return ret;
}

/* data's member as an integer (-1 if absent) or a string ("" if absent). */
static long long
num(const json_t *d, const char *k)
{
    const json_t *v = json_object_get(d, k);

    return json_is_number(v) ? (long long)json_number_value(v) : -1;
}

static const char *
str(const json_t *d, const char *k)
{
    const char *s = json_string_value(json_object_get(d, k));

    return s ? s : "";
}

void
store_event_summary(const char *type, const char *data, char *buf, size_t len)
{
    json_t *d = json_loads(data ? data : "", JSON_REJECT_DUPLICATES, NULL);
    const char *win = str(d, "window");
    const char *cap = strcmp(win, "month") == 0 ? "monthly" : "daily";

    if (!json_is_object(d)) {
        snprintf(buf, len, "%s", type);
    } else if (strcmp(type, "key.usage_threshold") == 0) {
        snprintf(buf, len, "%lld%% of the %s cap: %lld of %lld", num(d, "percent"), cap,
                 num(d, "used"), num(d, "cap"));
    } else if (strcmp(type, "key.cap_reached") == 0) {
        snprintf(buf, len, "%s cap reached: %lld of %lld used, %lld more refused; resets %s", cap,
                 num(d, "used"), num(d, "cap"), num(d, "requested"), str(d, "resets_at"));
    } else if (strcmp(type, "key.rate_limited") == 0) {
        snprintf(buf, len, "%lld refused over the rate of %lld per %llds", num(d, "count"),
                 num(d, "limit"), num(d, "window_ms") / 1000);
    } else if (strcmp(type, "key.denied") == 0) {
        snprintf(buf, len, "%lld refused (%s)", num(d, "count"), str(d, "reason"));
    } else if (strcmp(type, "key.updated") == 0 && json_is_object(json_object_get(d, "changed"))) {
        const char *k;
        json_t *v;
        size_t o = (size_t)snprintf(buf, len, "changed:");

        json_object_foreach(json_object_get(d, "changed"), k, v)
        {
            if (o < len)
                o += (size_t)snprintf(buf + o, len - o, " %s", k);
        }
    } else if (str(d, "name")[0] != '\0') {
        snprintf(buf, len, "%s", str(d, "name"));
    } else {
        snprintf(buf, len, "-");
    }
    json_decref(d);
}
