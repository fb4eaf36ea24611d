/*
 * admin.c - the admin trail: sealing a change as the one chain's next
 * record (admin_write.lua appends it only after the head it was sealed
 * after), reading it back, and verifying the chain.  See admin.h for the
 * storage and the chain.  The MAC and its key are the call log's
 * (store/audit.c); only the chain's shape differs.  CLI only: synchronous.
 */
#include "admin.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "common/limits.h"
#include "common/util.h"

/* The sealed fields, in stored order; mac follows them. */
#define NSEALED 7
static const char *const sealed_names[NSEALED] = {"time",  "action", "target", "changes",
                                                  "actor", "seq",    "prev"};
enum { F_TIME, F_ACTION, F_TARGET, F_CHANGES, F_ACTOR, F_SEQ, F_PREV };

/* Parse a head "<seq> <mac>".  0 or -1. */
static int
head_parse(const char *s, unsigned long long *seq, char mac[65])
{
    const char *sp = strchr(s, ' ');
    char num[24];
    int64_t v;

    if (sp == NULL || (size_t)(sp - s) >= sizeof(num) || strlen(sp + 1) != 64)
        return -1;
    memcpy(num, s, (size_t)(sp - s));
    num[sp - s] = '\0';
    if (sc_parse_i64(num, 1, INT64_MAX, &v) != 0)
        return -1;
    *seq = (unsigned long long)v;
    memcpy(mac, sp + 1, 65);
    return 0;
}

/* The head as stored ("" when there is none yet) into buf.  0 or -1. */
static int
head_get(struct store_conn *c, char *buf, size_t len, char *err, size_t errlen)
{
    redisReply *r = store_redis_cmd(c, err, errlen, "GET sc:admin:head");

    if (r == NULL)
        return -1;
    buf[0] = '\0';
    if (r->type == REDIS_REPLY_STRING) {
        if (r->len >= len) {
            freeReplyObject(r);
            snprintf(err, errlen, "the admin trail's head (sc:admin:head) is malformed");
            return -1;
        }
        memcpy(buf, r->str, r->len);
        buf[r->len] = '\0';
    }
    freeReplyObject(r);
    return 0;
}

int
store_admin_record(struct store_conn *c, const struct store_admin_entry *e, char *err,
                   size_t errlen)
{
    unsigned char key[32];
    int ret = -1;

    if (e->action == NULL || e->action[0] == '\0' || e->target == NULL || e->actor == NULL ||
        e->actor[0] == '\0' || e->master_key == NULL ||
        (e->changes != NULL && strlen(e->changes) > SC_ADMIN_CHANGES_MAX)) {
        snprintf(err, errlen, "an admin record needs an action, a target and an actor");
        return -1;
    }
    store_audit_key(e->master_key, key);
    for (int attempt = 0; attempt < SC_ADMIN_RETRY_MAX; attempt++) {
        char head[128], prev[65] = "genesis", seq[24], t[24], mac[65], next[96];
        const char *vals[NSEALED], *args[4 + 2 * (NSEALED + 1)];
        unsigned long long n = 0;
        int64_t now;
        int a = 0;
        redisReply *r;

        if (head_get(c, head, sizeof(head), err, errlen) != 0)
            goto done;
        if (head[0] != '\0' && head_parse(head, &n, prev) != 0) {
            snprintf(err, errlen, "the admin trail's head (sc:admin:head) is malformed");
            goto done;
        }
        if (store_redis_time(c, &now, err, errlen) != 0)
            goto done;
        sc_fmt_i64(t, now);
        sc_fmt_i64(seq, (int64_t)(n + 1));
        vals[F_TIME] = t;
        vals[F_ACTION] = e->action;
        vals[F_TARGET] = e->target;
        vals[F_CHANGES] = e->changes ? e->changes : "";
        vals[F_ACTOR] = e->actor;
        vals[F_SEQ] = seq;
        vals[F_PREV] = prev;
        store_audit_mac(key, prev, NSEALED, sealed_names, vals, NULL, mac);
        snprintf(next, sizeof(next), "%s %s", seq, mac);
        args[a++] = "sc:admin";
        args[a++] = "sc:admin:head";
        args[a++] = head;
        args[a++] = next;
        for (int i = 0; i < NSEALED; i++) {
            args[a++] = sealed_names[i];
            args[a++] = vals[i];
        }
        args[a++] = "mac";
        args[a++] = mac;
        r = store_redis_eval(c, STORE_SCRIPT_ADMIN_WRITE, 2, a, args, err, errlen);
        if (r != NULL) {
            freeReplyObject(r);
            ret = 0;
            goto done;
        }
        if (strstr(err, "ERR_ADMIN_RACE") == NULL)
            goto done;
        /* Another CLI appended first: a short, random pause so two that
         * keep meeting drift apart, then seal after its record. */
        {
            struct timespec ts = {0, (long)(1 + (unsigned)now % 7) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    snprintf(err, errlen, "the admin trail kept moving on (%d concurrent changes); try again",
             SC_ADMIN_RETRY_MAX);
done:
    store_secret_wipe(key, sizeof(key));
    return ret;
}

/* The value of field name in a stream entry's field list, or NULL. */
static const redisReply *
field(const redisReply *kv, const char *name)
{
    for (size_t i = 0; i + 1 < kv->elements; i += 2)
        if (strcmp(kv->element[i]->str, name) == 0)
            return kv->element[i + 1];
    return NULL;
}

/* A stream entry [id, [f, v, ...]] as a row.  0, or -1 if it lacks a field. */
static int
row_of(const redisReply *e, struct store_admin_row *row)
{
    const redisReply *kv, *v[NSEALED];

    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[1]->type != REDIS_REPLY_ARRAY)
        return -1;
    kv = e->element[1];
    for (int i = 0; i < NSEALED; i++)
        if ((v[i] = field(kv, sealed_names[i])) == NULL || v[i]->type != REDIS_REPLY_STRING)
            return -1;
    row->id = e->element[0]->str;
    row->time = v[F_TIME]->str;
    row->action = v[F_ACTION]->str;
    row->target = v[F_TARGET]->str;
    row->changes = v[F_CHANGES]->str;
    row->actor = v[F_ACTOR]->str;
    row->seq = v[F_SEQ]->str;
    return 0;
}

#define PAGE 500

int
store_admin_query(struct store_conn *c, int64_t since_ms, int64_t until_ms, long limit,
                  void (*fn)(const struct store_admin_row *, void *), void *arg, char *err,
                  size_t errlen)
{
    redisReply **pages = NULL;
    size_t npages = 0;
    struct store_admin_row *rows = NULL;
    size_t nrows = 0, cap = 0, from;
    char start[48], end[48];
    int ret = -1;

    /* Stream ids are Redis's time at the append, a moment after the
     * record's own time: the id range is a minute wider, the time field
     * decides. */
    snprintf(start, sizeof(start), "%lld", (long long)(since_ms > 60000 ? since_ms - 60000 : 0));
    if (until_ms > 0)
        snprintf(end, sizeof(end), "%lld", (long long)until_ms + 60000);
    else
        sc_strlcpy(end, "+", sizeof(end));
    for (;;) {
        redisReply *r =
            store_redis_cmd(c, err, errlen, "XRANGE sc:admin %s %s COUNT %d", start, end, PAGE);
        redisReply **np;
        size_t n;

        if (r == NULL)
            goto done;
        if ((np = realloc(pages, (npages + 1) * sizeof(*np))) == NULL) {
            freeReplyObject(r);
            goto oom;
        }
        pages = np;
        pages[npages++] = r;
        n = r->elements;
        for (size_t i = 0; i < n; i++) {
            struct store_admin_row row;
            int64_t t;

            if (row_of(r->element[i], &row) != 0 || sc_parse_i64(row.time, 0, INT64_MAX, &t) != 0 ||
                t < since_ms || (until_ms != 0 && t > until_ms))
                continue;
            if (nrows == cap) {
                size_t ncap = cap ? cap * 2 : 64;
                struct store_admin_row *nr = realloc(rows, ncap * sizeof(*nr));
                if (nr == NULL)
                    goto oom;
                rows = nr;
                cap = ncap;
            }
            rows[nrows++] = row;
        }
        if (n < PAGE)
            break;
        snprintf(start, sizeof(start), "(%s", r->element[n - 1]->element[0]->str);
    }
    from = limit > 0 && nrows > (size_t)limit ? nrows - (size_t)limit : 0;
    for (size_t i = from; i < nrows; i++)
        fn(&rows[i], arg);
    ret = 0;
    goto done;
oom:
    snprintf(err, errlen, "out of memory");
done:
    for (size_t i = 0; i < npages; i++)
        freeReplyObject(pages[i]);
    free(pages);
    free(rows);
    return ret;
}

/* Record the first problem only. */
static void problem(struct store_admin_verify *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
problem(struct store_admin_verify *out, const char *fmt, ...)
{
    va_list ap;

    if (out->problem[0] != '\0')
        return;
    va_start(ap, fmt);
    vsnprintf(out->problem, sizeof(out->problem), fmt, ap);
    va_end(ap);
}

int
store_admin_verify_trail(struct store_conn *c, const unsigned char mk[SC_MASTER_KEY_LEN],
                         int64_t since_ms, struct store_admin_verify *out, char *err, size_t errlen)
{
    unsigned char key[32];
    char head[128], start[48] = "-", last_mac[65] = "genesis", last_id[48] = "", gap[512] = "";
    unsigned long long last_seq = 0, head_seq = 0;
    long long added = -1, length = -1;
    int ret = -1;
    redisReply *r;

    memset(out, 0, sizeof(*out));
    if (head_get(c, head, sizeof(head), err, errlen) != 0)
        return -1;
    r = store_redis_cmd(c, err, errlen, "XINFO STREAM sc:admin");
    if (r == NULL) {
        if (strstr(err, "no such key") == NULL)
            return -1;
        err[0] = '\0';
        if (head[0] != '\0')
            problem(out, "the admin trail (sc:admin) is gone, but its head says records were "
                         "written: deleted");
        return 0;
    }
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        if (strcmp(r->element[i]->str, "length") == 0)
            length = r->element[i + 1]->integer;
        else if (strcmp(r->element[i]->str, "entries-added") == 0)
            added = r->element[i + 1]->integer;
    }
    freeReplyObject(r);
    store_audit_key(mk, key);
    for (;;) {
        size_t n;

        if ((r = store_redis_cmd(c, err, errlen, "XRANGE sc:admin %s + COUNT %d", start, PAGE)) ==
            NULL)
            goto done;
        n = r->elements;
        for (size_t i = 0; i < n; i++) {
            const redisReply *e = r->element[i], *kv = e->element[1], *mac;
            const char *names[16], *vals[16], *id = e->element[0]->str;
            size_t lens[16];
            struct store_admin_row row;
            unsigned long long seq;
            int64_t t = 0;
            int nf = 0;
            char want[65];

            if (row_of(e, &row) != 0 || (mac = field(kv, "mac")) == NULL ||
                mac->type != REDIS_REPLY_STRING || mac->len != 64 || kv->elements > 32) {
                problem(out, "admin record %s is not a sendcap admin record: inserted", id);
                continue;
            }
            seq = strtoull(row.seq, NULL, 10);
            sc_parse_i64(row.time, 0, INT64_MAX, &t);
            if (since_ms == 0 || t >= since_ms) {
                const char *prev = field(kv, "prev")->str;

                out->records++;
                for (size_t k = 0; k + 1 < kv->elements; k += 2) {
                    if (strcmp(kv->element[k]->str, "mac") == 0)
                        continue;
                    names[nf] = kv->element[k]->str;
                    vals[nf] = kv->element[k + 1]->str;
                    lens[nf++] = kv->element[k + 1]->len;
                }
                store_audit_mac(key, prev, nf, names, vals, lens, want);
                if (strcmp(want, mac->str) != 0)
                    problem(out,
                            "admin record %s (seq %s, %.64s %.64s) does not match its MAC: "
                            "modified or forged",
                            id, row.seq, row.action, row.target);
                else if (seq > last_seq + 1 && (last_seq > 0 || since_ms == 0)) {
                    /* Said only at the end: a later record with a seq in
                     * the gap makes it a reordering, named by that record. */
                    if (gap[0] == '\0')
                        snprintf(gap, sizeof(gap),
                                 "admin records %llu to %llu (before %s) are missing: deleted "
                                 "from the trail",
                                 last_seq + 1, seq - 1, id);
                } else if (seq <= last_seq)
                    problem(out,
                            "admin record %s (seq %llu) comes after seq %llu (%s): reordered or "
                            "inserted",
                            id, seq, last_seq, last_id);
                else if ((last_seq > 0 || since_ms == 0) && strcmp(prev, last_mac) != 0)
                    problem(out,
                            "admin record %s (seq %llu) does not follow record %s: the chain is "
                            "broken (replaced or reordered)",
                            id, seq, last_id[0] ? last_id : "genesis");
            }
            last_seq = seq;
            memcpy(last_mac, mac->str, 65);
            sc_strlcpy(last_id, id, sizeof(last_id));
        }
        if (n > 0)
            snprintf(start, sizeof(start), "(%s", r->element[n - 1]->element[0]->str);
        freeReplyObject(r);
        if (n < PAGE)
            break;
    }
    {
        char head_mac[65];

        if (head[0] != '\0' && head_parse(head, &head_seq, head_mac) != 0)
            problem(out, "the admin trail's head (sc:admin:head) is malformed");
        else if (head_seq > last_seq)
            problem(out,
                    "admin records %llu to %llu, after the newest left (%s), are missing: "
                    "deleted from the trail",
                    last_seq + 1, head_seq, last_id[0] ? last_id : "none");
        else if (head_seq < last_seq || (head_seq > 0 && strcmp(head_mac, last_mac) != 0))
            problem(out,
                    "the newest admin record %s is not the one the trail's head names: "
                    "appended outside sendcap",
                    last_id);
    }
    if (gap[0] != '\0')
        problem(out, "%s", gap);
    if (added > length)
        problem(out, "%lld admin record(s) were deleted from the trail, which is never trimmed",
                added - length);
    ret = 0;
done:
    store_secret_wipe(key, sizeof(key));
    return ret;
}

void
store_admin_url_text(const char *url, char *out, size_t len)
{
    const char *p = strstr(url, "://"), *rest;
    size_t n;

    if (len == 0)
        return;
    if (p == NULL) {
        snprintf(out, len, "%s", "…");
        return;
    }
    rest = p + 3 + strcspn(p + 3, "/?#");
    n = (size_t)(rest - url);
    /* "/" alone says nothing secret: keep it */
    if (rest[0] == '\0' || strcmp(rest, "/") == 0)
        snprintf(out, len, "%.*s%s", (int)n, url, rest);
    else
        snprintf(out, len, "%.*s/…", (int)n, url);
}
