/*
 * audit_read.c - the call log's readers, for the CLI: unpacking records,
 * queries over the indexes and the stream, tail, and verifying every
 * writer's chain.  Synchronous; never used on the daemon's loop.  The writer
 * (records, chains, the async queue) is store/audit.c; both follow the
 * layout in audit.h.
 */
#include "audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

int
store_audit_row_unpack(const char *p, size_t n, struct store_audit_row *row)
{
    const char *end = p + n;
    char *o;

    if (n < 2 || memcmp(p, "v1", 2) != 0 || (row->buf = malloc(n + STORE_AUDIT_NFIELDS)) == NULL)
        return -1;
    p += 2;
    o = row->buf;
    for (int i = 0; i < STORE_AUDIT_NFIELDS; i++) {
        size_t len = 0;
        int digits = 0;
        if (i >= STORE_AUDIT_NREQUIRED && p == end) { /* absent optional field */
            *o = '\0';
            row->v[i] = o++;
            continue;
        }
        while (p < end && *p >= '0' && *p <= '9' && digits < 9) {
            len = len * 10 + (size_t)(*p++ - '0');
            digits++;
        }
        if (digits == 0 || p >= end || *p++ != ':' || len > (size_t)(end - p)) {
            free(row->buf);
            row->buf = NULL;
            return -1;
        }
        memcpy(o, p, len);
        o[len] = '\0';
        row->v[i] = o;
        o += len + 1;
        p += len;
    }
    return p == end ? 0 : (free(row->buf), row->buf = NULL, -1);
}

/* ---- reading ---- */

static void (*progress_fn)(long, long, void *);
static void *progress_arg;

void
store_audit_progress_set(void (*fn)(long done, long total, void *arg), void *arg)
{
    progress_fn = fn;
    progress_arg = arg;
}

static void
progress(long done, long total)
{
    if (progress_fn != NULL)
        progress_fn(done, total, progress_arg);
}

/* An integer reply of fmt (up to three %s; extra arguments are unused), or
 * -1: for a progress total only. */
static long
count_of(struct store_conn *c, const char *fmt, const char *a, const char *b, const char *d)
{
    char err[128];
    long n = -1;
    redisReply *r;

    if (progress_fn == NULL)
        return -1;
    r = store_redis_cmd(c, err, sizeof(err), fmt, a, b, d);
    if (r != NULL && r->type == REDIS_REPLY_INTEGER)
        n = (long)r->integer;
    if (r != NULL)
        freeReplyObject(r);
    return n;
}

/* Fill a row from a stream entry [id, [f, v, f, v, ...]]. */
static int
row_from_entry(const redisReply *e, struct store_audit_row *row)
{
    const redisReply *kv;

    memset(row, 0, sizeof(*row));
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[1]->type != REDIS_REPLY_ARRAY)
        return -1;
    row->stream_id = e->element[0]->str;
    kv = e->element[1];
    for (size_t i = 0; i + 1 < kv->elements; i += 2)
        if (strcmp(kv->element[i]->str, "r") == 0)
            return store_audit_row_unpack(kv->element[i + 1]->str, kv->element[i + 1]->len, row);
    return -1;
}

/* An intent: the packed record call.lua stored before forwarding. */
static int
row_from_intent(const char *packed, size_t len, struct store_audit_row *row)
{
    memset(row, 0, sizeof(*row));
    if (packed == NULL || store_audit_row_unpack(packed, len, row) != 0)
        return -1;
    row->stream_id = "";
    row->unknown_outcome = 1;
    return 0;
}

/* Does a row match the query's filters (for tail)? */
static int
store_audit_row_matches(const struct store_audit_query *q, const struct store_audit_row *r)
{
    int64_t t = 0;

    if (q->key_id && strcmp(r->v[STORE_AUDIT_KEY_ID], q->key_id) != 0)
        return 0;
    if (q->agent_run_id && strcmp(r->v[STORE_AUDIT_AGENT_RUN_ID], q->agent_run_id) != 0 &&
        strcmp(r->v[STORE_AUDIT_CLAIMED_RUN_ID], q->agent_run_id) != 0)
        return 0;
    if (q->decision && strcmp(r->v[STORE_AUDIT_DECISION], q->decision) != 0)
        return 0;
    sc_parse_i64(r->v[STORE_AUDIT_TIME], 0, INT64_MAX, &t);
    if (q->since_ms && t < q->since_ms)
        return 0;
    if (q->until_ms && t > q->until_ms)
        return 0;
    return 1;
}

/* Collected rows: replies are kept alive until the rows are printed. */
struct rows {
    struct store_audit_row *r;
    size_t n, cap;
    redisReply **keep;
    size_t nkeep, capkeep;
};

static int
rows_add(struct rows *rs, const struct store_audit_row *row)
{
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 256;
        struct store_audit_row *n = realloc(rs->r, cap * sizeof(*n));
        if (n == NULL)
            return -1;
        rs->r = n;
        rs->cap = cap;
    }
    rs->r[rs->n++] = *row;
    return 0;
}

static int
keep(struct rows *rs, redisReply *r)
{
    if (rs->nkeep == rs->capkeep) {
        size_t cap = rs->capkeep ? rs->capkeep * 2 : 64;
        redisReply **n = realloc(rs->keep, cap * sizeof(*n));
        if (n == NULL)
            return -1;
        rs->keep = n;
        rs->capkeep = cap;
    }
    rs->keep[rs->nkeep++] = r;
    return 0;
}

static void
rows_free(struct rows *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        free(rs->r[i].buf);
    for (size_t i = 0; i < rs->nkeep; i++)
        freeReplyObject(rs->keep[i]);
    free(rs->keep);
    free(rs->r);
}

static int
cmp_time(const void *a, const void *b)
{
    const struct store_audit_row *x = a, *y = b;
    int64_t tx = 0, ty = 0;

    sc_parse_i64(x->v[STORE_AUDIT_TIME], 0, INT64_MAX, &tx);
    sc_parse_i64(y->v[STORE_AUDIT_TIME], 0, INT64_MAX, &ty);
    if (tx != ty)
        return tx < ty ? -1 : 1;
    return strcmp(x->stream_id, y->stream_id);
}

#define PAGE 500

/* Newest-first walk of an index zset: fetch entries by id, pipelined. */
static int
walk_index(struct store_conn *c, const char *zkey, const struct store_audit_query *q,
           struct rows *rs, char *err, size_t errlen)
{
    redisContext *ctx = store_redis_ctx(c);
    char max[32], min[32];
    long offset = 0, found = 0, total;

    snprintf(max, sizeof(max), "%lld", q->until_ms ? (long long)q->until_ms : (long long)INT64_MAX);
    snprintf(min, sizeof(min), "%lld", (long long)q->since_ms);
    total = count_of(c, "ZCOUNT %s %s %s", zkey, min, max);
    for (;;) {
        redisReply *ids = store_redis_cmd(c, err, errlen, "ZREVRANGEBYSCORE %s %s %s LIMIT %ld %d",
                                          zkey, max, min, offset, PAGE);
        if (ids == NULL)
            return -1;
        if (ids->elements == 0) {
            freeReplyObject(ids);
            return 0;
        }
        for (size_t i = 0; i < ids->elements; i++)
            redisAppendCommand(ctx, "XRANGE sc:log %s %s", ids->element[i]->str,
                               ids->element[i]->str);
        for (size_t i = 0; i < ids->elements; i++) {
            redisReply *r = NULL;
            struct store_audit_row row;
            if (redisGetReply(ctx, (void **)&r) != REDIS_OK || r == NULL) {
                snprintf(err, errlen, "redis: %s", ctx->errstr);
                freeReplyObject(ids);
                return -1;
            }
            if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
                row_from_entry(r->element[0], &row) == 0) {
                if (store_audit_row_matches(q, &row) && rows_add(rs, &row) == 0) {
                    keep(rs, r); /* the row's stream id points into it */
                    found++;
                    continue;
                }
                free(row.buf);
            }
            freeReplyObject(r);
        }
        offset += (long)ids->elements;
        freeReplyObject(ids);
        progress(offset, total);
        if (q->limit > 0 && found >= q->limit)
            return 0;
    }
}

/* Newest-first walk of the whole stream between since and until. */
static int
walk_stream(struct store_conn *c, const struct store_audit_query *q, struct rows *rs, char *err,
            size_t errlen)
{
    char end[48], start[32];
    long found = 0, read = 0;
    /* the whole stream's length is the total only when nothing bounds it */
    long total = q->since_ms || q->until_ms ? -1 : count_of(c, "XLEN %s", "sc:log", NULL, NULL);

    if (q->until_ms)
        snprintf(end, sizeof(end), "%lld", (long long)q->until_ms + 60000); /* ids are Redis time */
    else
        sc_strlcpy(end, "+", sizeof(end));
    snprintf(start, sizeof(start), "%lld",
             (long long)(q->since_ms > 60000 ? q->since_ms - 60000 : 0));
    for (;;) {
        redisReply *r =
            store_redis_cmd(c, err, errlen, "XREVRANGE sc:log %s %s COUNT %d", end, start, PAGE);
        size_t n;
        if (r == NULL)
            return -1;
        n = r->elements;
        if (n == 0) {
            freeReplyObject(r);
            return 0;
        }
        keep(rs, r);
        read += (long)n;
        progress(read, total);
        for (size_t i = 0; i < n; i++) {
            struct store_audit_row row;
            if (row_from_entry(r->element[i], &row) != 0)
                continue;
            if (store_audit_row_matches(q, &row) && rows_add(rs, &row) == 0)
                found++;
            else
                free(row.buf);
        }
        if (q->limit > 0 && found >= q->limit)
            return 0;
        /* next page: strictly before the oldest id seen */
        snprintf(end, sizeof(end), "(%s", r->element[n - 1]->element[0]->str);
        if (n < PAGE)
            return 0;
    }
}

int
store_audit_query(struct store_conn *c, const struct store_audit_query *q,
                  void (*fn)(const struct store_audit_row *, void *), void *arg, char *err,
                  size_t errlen)
{
    struct rows rs = {0};
    redisReply *ints = NULL;
    char zkey[600], max[32], min[32];
    size_t from;
    int ret = -1;

    if (q->agent_run_id) {
        snprintf(zkey, sizeof(zkey), "sc:lr:%s", q->agent_run_id);
        if (walk_index(c, zkey, q, &rs, err, errlen) != 0)
            goto done;
    } else if (q->key_id) {
        snprintf(zkey, sizeof(zkey), "sc:lk:%s", q->key_id);
        if (walk_index(c, zkey, q, &rs, err, errlen) != 0)
            goto done;
    } else if (walk_stream(c, q, &rs, err, errlen) != 0) {
        goto done;
    }
    /* Intents with no final record: the outcome of those calls is unknown. */
    snprintf(max, sizeof(max), "%lld",
             q->until_ms ? (long long)q->until_ms + 60000 : (long long)INT64_MAX);
    snprintf(min, sizeof(min), "%lld", (long long)(q->since_ms > 60000 ? q->since_ms - 60000 : 0));
    ints = store_redis_cmd(c, err, errlen, "ZRANGEBYSCORE sc:intents %s %s", min, max);
    if (ints == NULL)
        goto done;
    for (size_t i = 0; i < ints->elements; i++) {
        const redisReply *m = ints->element[i];
        redisReply *h = NULL;
        struct store_audit_row row;
        int ok;
        if (m->type != REDIS_REPLY_STRING)
            continue;
        if (m->len >= 2 && memcmp(m->str, "v1", 2) == 0) {
            ok = row_from_intent(m->str, m->len, &row); /* the member is the record */
        } else {
            /* An intent written before members held the record: its string. */
            h = store_redis_cmd(c, err, errlen, "GET sc:intent:%s", m->str);
            if (h == NULL)
                goto done;
            ok = row_from_intent(h->type == REDIS_REPLY_STRING ? h->str : NULL,
                                 h->type == REDIS_REPLY_STRING ? h->len : 0, &row);
        }
        if (ok == 0 && store_audit_row_matches(q, &row) && rows_add(&rs, &row) == 0)
            row.buf = NULL; /* owned by rs now */
        free(row.buf);
        if (h)
            freeReplyObject(h);
    }
    if (rs.n > 1)
        qsort(rs.r, rs.n, sizeof(rs.r[0]), cmp_time);
    from = (q->limit > 0 && rs.n > (size_t)q->limit) ? rs.n - (size_t)q->limit : 0;
    progress(-1, -1);
    for (size_t i = from; i < rs.n; i++)
        fn(&rs.r[i], arg);
    ret = 0;
done:
    if (ints)
        freeReplyObject(ints);
    rows_free(&rs);
    return ret;
}

int
store_audit_tail(struct store_conn *c, const struct store_audit_query *q,
                 void (*fn)(const struct store_audit_row *, void *), void *arg, volatile int *stop,
                 char *err, size_t errlen)
{
    char last[64] = "$";

    while (!*stop) {
        redisReply *r =
            store_redis_cmd(c, err, errlen, "XREAD COUNT 200 BLOCK 500 STREAMS sc:log %s", last);
        if (r == NULL)
            return *stop ? 0 : -1;
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
            const redisReply *entries = r->element[0]->element[1];
            for (size_t i = 0; i < entries->elements; i++) {
                struct store_audit_row row;
                if (row_from_entry(entries->element[i], &row) == 0) {
                    if (store_audit_row_matches(q, &row))
                        fn(&row, arg);
                    free(row.buf);
                }
                sc_strlcpy(last, entries->element[i]->element[0]->str, sizeof(last));
            }
        }
        freeReplyObject(r);
    }
    return 0;
}

/* ---- verifying ---- */

struct vrec {
    unsigned writer;
    unsigned long long seq;
    unsigned char prev[32], mac[32];
    int genesis;
    char id[32];
};

static int
unhex(const char *s, unsigned char out[32])
{
    if (strlen(s) != 64)
        return -1;
    for (int i = 0; i < 32; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char ch = s[2 * i + k];
            v <<= 4;
            if (ch >= '0' && ch <= '9')
                v |= (unsigned)(ch - '0');
            else if (ch >= 'a' && ch <= 'f')
                v |= (unsigned)(ch - 'a' + 10);
            else
                return -1;
        }
        out[i] = (unsigned char)v;
    }
    return 0;
}

static int
cmp_vrec(const void *a, const void *b)
{
    const struct vrec *x = a, *y = b;

    if (x->writer != y->writer)
        return x->writer < y->writer ? -1 : 1;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return 0;
}

int
store_audit_verify_log(struct store_conn *c, const unsigned char mk[SC_MASTER_KEY_LEN],
                       int64_t since_ms, int64_t retention_ms, int64_t now_ms,
                       struct store_audit_verify *out, char *err, size_t errlen)
{
    unsigned char key[32];
    struct vrec *v = NULL;
    size_t nv = 0, capv = 0;
    char **writers = NULL;
    size_t nw = 0;
    char start[48];
    long long added = -1, length = -1, maxdel = 0;
    int ret = -1;
    redisReply *info, *r = NULL;

    memset(out, 0, sizeof(*out));
    store_audit_key(mk, key);

    /* Redis 7 counts every entry ever added and the newest id ever removed
     * (by trimming or XDEL): a recent removal is a deleted record. */
    info = store_redis_cmd(c, err, errlen, "XINFO STREAM sc:log");
    if (info == NULL) {
        if (strstr(err, "no such key") != NULL) {
            err[0] = '\0';
            return 0; /* an empty log verifies */
        }
        return -1;
    }
    for (size_t i = 0; i + 1 < info->elements; i += 2) {
        const char *k = info->element[i]->str;
        const redisReply *val = info->element[i + 1];
        if (strcmp(k, "length") == 0)
            length = val->integer;
        else if (strcmp(k, "entries-added") == 0)
            added = val->integer;
        else if (strcmp(k, "max-deleted-entry-id") == 0 && val->type == REDIS_REPLY_STRING)
            maxdel = strtoll(val->str, NULL, 10);
    }
    freeReplyObject(info);
    if (since_ms == 0 && retention_ms > 0 && maxdel > 0 &&
        maxdel > now_ms - retention_ms + 3600000) {
        char t[32];
        sc_format_time_ms(maxdel, t, sizeof(t));
        snprintf(out->problem, sizeof(out->problem),
                 "a record written at %s, younger than the retention period, was deleted from the "
                 "log",
                 t);
    }

    snprintf(start, sizeof(start), "%lld", (long long)since_ms);
    for (;;) {
        size_t n;

        r = store_redis_cmd(c, err, errlen, "XRANGE sc:log %s + COUNT 1000", start);
        if (r == NULL)
            goto done;
        n = r->elements;
        for (size_t i = 0; i < n; i++) {
            const redisReply *e = r->element[i], *kv = e->element[1];
            const char *names[64], *vals[64];
            size_t lens[64];
            const char *w = NULL, *seq = NULL, *prev = NULL, *mac = NULL;
            char want[65];
            int nf = 0;
            struct vrec rec;

            memset(&rec, 0, sizeof(rec));
            sc_strlcpy(rec.id, e->element[0]->str, sizeof(rec.id));
            for (size_t k = 0; k + 1 < kv->elements && nf < 64; k += 2) {
                const char *name = kv->element[k]->str;
                if (strcmp(name, "mac") == 0) {
                    mac = kv->element[k + 1]->str;
                    continue;
                }
                if (strcmp(name, "w") == 0)
                    w = kv->element[k + 1]->str;
                else if (strcmp(name, "seq") == 0)
                    seq = kv->element[k + 1]->str;
                else if (strcmp(name, "prev") == 0)
                    prev = kv->element[k + 1]->str;
                names[nf] = name;
                vals[nf] = kv->element[k + 1]->str;
                lens[nf++] = kv->element[k + 1]->len;
            }
            out->records++;
            if (w == NULL || seq == NULL || prev == NULL || mac == NULL) {
                if (out->problem[0] == '\0')
                    snprintf(out->problem, sizeof(out->problem),
                             "record %s is not a sendcap record (no writer chain): inserted",
                             rec.id);
                continue;
            }
            store_audit_mac(key, prev, nf, names, vals, lens, want);
            if (strcmp(want, mac) != 0) {
                if (out->problem[0] == '\0')
                    snprintf(out->problem, sizeof(out->problem),
                             "record %s (writer %s, seq %s) does not match its MAC: modified or "
                             "forged",
                             rec.id, w, seq);
                continue;
            }
            rec.seq = strtoull(seq, NULL, 10);
            rec.genesis = strcmp(prev, "genesis") == 0;
            if (!rec.genesis)
                unhex(prev, rec.prev);
            unhex(mac, rec.mac);
            {
                size_t k;
                for (k = 0; k < nw && strcmp(writers[k], w) != 0; k++)
                    ;
                if (k == nw) {
                    char **nwp = realloc(writers, (nw + 1) * sizeof(*nwp));
                    if (nwp == NULL)
                        goto oom;
                    writers = nwp;
                    if ((writers[nw] = strdup(w)) == NULL)
                        goto oom;
                    nw++;
                }
                rec.writer = (unsigned)k;
            }
            if (nv == capv) {
                size_t cap = capv ? capv * 2 : 4096;
                struct vrec *nvp = realloc(v, cap * sizeof(*nvp));
                if (nvp == NULL)
                    goto oom;
                v = nvp;
                capv = cap;
            }
            v[nv++] = rec;
        }
        if (n > 0)
            snprintf(start, sizeof(start), "(%s", r->element[n - 1]->element[0]->str);
        freeReplyObject(r);
        r = NULL;
        progress(out->records, since_ms == 0 ? (long)length : -1);
        if (n < 1000)
            break;
    }
    out->writers = (long)nw;
    if (nv > 1)
        qsort(v, nv, sizeof(v[0]), cmp_vrec);
    for (size_t i = 0; i < nv && out->problem[0] == '\0'; i++) {
        const struct vrec *cur = &v[i];
        const struct vrec *p = (i > 0 && v[i - 1].writer == cur->writer) ? &v[i - 1] : NULL;

        if (p == NULL) {
            /* The first record of a writer in range. */
            if (since_ms == 0 && cur->seq != 1 && added == length)
                snprintf(out->problem, sizeof(out->problem),
                         "records 1 to %llu of writer %s are missing: deleted (nothing was ever "
                         "trimmed from this log)",
                         cur->seq - 1, writers[cur->writer]);
            else if (cur->seq == 1 && !cur->genesis)
                snprintf(out->problem, sizeof(out->problem),
                         "record %s claims to start writer %s's chain but does not: inserted",
                         cur->id, writers[cur->writer]);
            continue;
        }
        if (cur->seq == p->seq)
            snprintf(out->problem, sizeof(out->problem),
                     "records %s and %s of writer %s share seq %llu: one was inserted", p->id,
                     cur->id, writers[cur->writer], cur->seq);
        else if (cur->seq != p->seq + 1)
            snprintf(out->problem, sizeof(out->problem),
                     "records %llu to %llu of writer %s (between %s and %s) are missing: deleted",
                     p->seq + 1, cur->seq - 1, writers[cur->writer], p->id, cur->id);
        else if (cur->genesis || memcmp(cur->prev, p->mac, 32) != 0)
            snprintf(out->problem, sizeof(out->problem),
                     "record %s (writer %s, seq %llu) does not follow record %s: the chain is "
                     "broken (replaced or reordered)",
                     cur->id, writers[cur->writer], cur->seq, p->id);
    }
    ret = 0;
    goto done;
oom:
    snprintf(err, errlen, "out of memory");
done:
    if (r != NULL)
        freeReplyObject(r); /* left by out of memory mid-page */
    for (size_t k = 0; k < nw; k++)
        free(writers[k]);
    free(writers);
    free(v);
    store_secret_wipe(key, sizeof(key));
    return ret;
}
