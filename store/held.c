/*
 * held.c - held sends (SPEC §7): sealing, and the scripts that decide,
 * forward and expire them, typed.  See held.h for the schema.
 *
 * The only place that knows held_*.lua's arguments and replies.  The body
 * is sealed before it reaches Redis and opened only in memory (the
 * forwarder, `approval show`); plaintexts are wiped when released.
 */
#include "held.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/limits.h"
#include "common/util.h"

int
store_held_new_id(char *buf, size_t len)
{
    if (len < STORE_HELD_ID_MAX)
        return -1;
    memcpy(buf, "held_", 5);
    return store_secret_random_base62(buf + 5, STORE_HELD_ID_CHARS);
}

int
store_held_id_valid(const char *s)
{
    size_t n = strlen(s);

    if (strncmp(s, "held_", 5) != 0 || n != 5 + STORE_HELD_ID_CHARS)
        return 0;
    for (s += 5; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
            return 0;
    return 1;
}

static void
aad_of(const char *held_id, char *out, size_t len)
{
    sc_cat(out, len, "sendcap/held/", held_id, NULL);
}

/* Plaintext: "v1\n<path>\n<body>". */
char *
store_held_seal(const unsigned char mk[SC_MASTER_KEY_LEN], const char *held_id, const char *path,
                const char *body, size_t blen, char *err, size_t errlen)
{
    char aad[96];
    size_t pl = strlen(path), n = 3 + pl + 1 + blen;
    unsigned char *pt = malloc(n ? n : 1);
    char *out;

    if (pt == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    memcpy(pt, "v1\n", 3);
    memcpy(pt + 3, path, pl);
    pt[3 + pl] = '\n';
    if (blen)
        memcpy(pt + 4 + pl, body, blen);
    aad_of(held_id, aad, sizeof(aad));
    out = store_secret_seal_data(mk, aad, pt, n, err, errlen);
    store_secret_wipe(pt, n);
    free(pt);
    return out;
}

char *
store_held_open(const unsigned char mk[SC_MASTER_KEY_LEN], const char *held_id, const char *sealed,
                const char **path, const char **body, size_t *blen, char *err, size_t errlen)
{
    char aad[96], *pt, *nl;
    size_t n = 0;

    aad_of(held_id, aad, sizeof(aad));
    if ((pt = store_secret_open_data(mk, aad, sealed, &n, err, errlen)) == NULL)
        return NULL;
    if (n < 4 || memcmp(pt, "v1\n", 3) != 0 || (nl = memchr(pt + 3, '\n', n - 3)) == NULL) {
        snprintf(err, errlen, "the held send has an unknown format");
        store_secret_free(pt);
        return NULL;
    }
    *nl = '\0';
    *path = pt + 3;
    *body = nl + 1;
    *blen = n - (size_t)(nl + 1 - pt);
    return pt;
}

void
store_held_idempotency_key(const char *held_id, char *out, size_t len)
{
    sc_cat(out, len, "sendcap-held-", held_id, NULL);
}

/* ---- CLI ---- */

void
store_held_clear(struct store_held *h)
{
    free(h->sealed);
    h->sealed = NULL;
}

static void
copy(char *dst, size_t len, const redisReply *v)
{
    size_t n = v->len < len ? v->len : len - 1;

    memcpy(dst, v->str, n);
    dst[n] = '\0';
}

static void
num(int64_t *dst, const redisReply *v)
{
    char b[32];

    copy(b, sizeof(b), v);
    sc_parse_i64(b, INT64_MIN, INT64_MAX, dst);
}

int
store_held_get(struct store_conn *c, const char *id, struct store_held *out, char *err,
               size_t errlen)
{
    redisReply *r;

    memset(out, 0, sizeof(*out));
    if (!store_held_id_valid(id))
        return 1;
    r = store_redis_cmd(c, err, errlen, "HGETALL sc:held:%s", id);
    if (r == NULL)
        return -1;
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
        freeReplyObject(r);
        return 1;
    }
    sc_strlcpy(out->id, id, sizeof(out->id));
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *f = r->element[i], *v = r->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
#define IS(s) (f->len == sizeof(s) - 1 && memcmp(f->str, s, f->len) == 0)
        if (IS("key"))
            copy(out->key_id, sizeof(out->key_id), v);
        else if (IS("family"))
            copy(out->family, sizeof(out->family), v);
        else if (IS("status"))
            copy(out->status, sizeof(out->status), v);
        else if (IS("request_id"))
            copy(out->request_id, sizeof(out->request_id), v);
        else if (IS("route"))
            copy(out->route, sizeof(out->route), v);
        else if (IS("from_domain"))
            copy(out->from_domain, sizeof(out->from_domain), v);
        else if (IS("email_id"))
            copy(out->email_id, sizeof(out->email_id), v);
        else if (IS("decided_by"))
            copy(out->decided_by, sizeof(out->decided_by), v);
        else if (IS("note"))
            copy(out->note, sizeof(out->note), v);
        else if (IS("error"))
            copy(out->error, sizeof(out->error), v);
        else if (IS("upstream"))
            copy(out->upstream, sizeof(out->upstream), v);
        else if (IS("created_at"))
            num(&out->created_at, v);
        else if (IS("expires_at"))
            num(&out->expires_at, v);
        else if (IS("decided_at"))
            num(&out->decided_at, v);
        else if (IS("sends"))
            num(&out->sends, v);
        else if (IS("sealed"))
            out->sealed = strndup(v->str, v->len);
#undef IS
    }
    freeReplyObject(r);
    return 0;
}

/* The ids of one zset, oldest first. */
static int
each_of(struct store_conn *c, const char *zset, const char *family,
        int (*fn)(const struct store_held *, void *), void *arg, char *err, size_t errlen)
{
    redisReply *r = store_redis_cmd(c, err, errlen, "ZRANGE %s 0 -1", zset);
    int ret = 0;

    if (r == NULL)
        return -1;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements && ret == 0; i++) {
        struct store_held h;
        int g;

        if (r->element[i]->type != REDIS_REPLY_STRING)
            continue;
        g = store_held_get(c, r->element[i]->str, &h, err, errlen);
        if (g < 0)
            ret = -1;
        else if (g == 0 && (family == NULL || strcmp(h.family, family) == 0) &&
                 (strcmp(h.status, "pending") == 0 || strcmp(h.status, "approved") == 0))
            ret = fn(&h, arg) != 0 ? 1 : 0;
        store_held_clear(&h);
    }
    freeReplyObject(r);
    return ret < 0 ? -1 : 0;
}

int
store_held_each(struct store_conn *c, const char *key_id,
                int (*fn)(const struct store_held *, void *), void *arg, char *err, size_t errlen)
{
    char family[64] = "";

    if (key_id != NULL) {
        redisReply *r = store_redis_cmd(c, err, errlen, "GET sc:id:%s", key_id);
        redisReply *f = NULL;

        if (r == NULL)
            return -1;
        if (r->type == REDIS_REPLY_STRING)
            f = store_redis_cmd(c, err, errlen, "HGET sc:vk:%s family", r->str);
        sc_strlcpy(family, key_id, sizeof(family));
        if (f != NULL && f->type == REDIS_REPLY_STRING)
            copy(family, sizeof(family), f);
        freeReplyObject(f);
        freeReplyObject(r);
    }
    if (each_of(c, "sc:held:pending", key_id ? family : NULL, fn, arg, err, errlen) != 0)
        return -1;
    return each_of(c, "sc:held:q", key_id ? family : NULL, fn, arg, err, errlen);
}

int
store_held_decide(struct store_conn *c, const char *id, int approve, const char *actor,
                  const char *text, char *status, size_t slen, char *err, size_t errlen)
{
    char key[80];
    const char *args[5];
    redisReply *r;

    if (!store_held_id_valid(id))
        return 1;
    sc_cat(key, sizeof(key), "sc:held:", id, NULL);
    args[0] = key;
    args[1] = id;
    args[2] = approve ? "approve" : "reject";
    args[3] = actor;
    args[4] = text;
    r = store_redis_eval(c, STORE_SCRIPT_HELD_DECIDE, 1, 5, args, err, errlen);
    if (r == NULL) {
        const char *st = strstr(err, "ERR_STATE ");
        if (strstr(err, "ERR_NO_HELD") != NULL)
            return 1;
        if (st != NULL) {
            sc_strlcpy(status, st + 10, slen);
            status[strcspn(status, " \r\n")] = '\0';
            return 2;
        }
        return -1;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
        r->element[0]->type == REDIS_REPLY_STRING)
        copy(status, slen, r->element[0]);
    freeReplyObject(r);
    return 0;
}

int
store_held_log(struct store_conn *c, const unsigned char mk[SC_MASTER_KEY_LEN],
               int64_t retention_ms, struct store_audit_rec *rec, char *err, size_t errlen)
{
    struct store_audit_chain ch;
    char **argv;
    int argc = 0, ret = -1;
    redisReply *r;

    if (store_audit_chain_init(&ch, mk, retention_ms) != 0 ||
        (argv = store_audit_chain_seal(&ch, rec, NULL, NULL, &argc)) == NULL) {
        snprintf(err, errlen, "cannot seal the call-log record");
        store_secret_wipe(&ch, sizeof(ch));
        store_audit_clear(rec);
        return -1;
    }
    r = store_redis_eval(c, STORE_SCRIPT_LOG_WRITE, 1, argc, (const char **)argv, err, errlen);
    if (r != NULL)
        ret = 0;
    freeReplyObject(r);
    store_audit_argv_free(argv, argc);
    store_secret_wipe(&ch, sizeof(ch));
    store_audit_clear(rec);
    return ret;
}

/* ---- daemon ---- */

struct pending {
    store_held_job_cb *job_cb;
    store_held_expired_cb *exp_cb;
    void *arg;
};

static const char *
el(const redisReply *r, size_t i)
{
    return i < r->elements && r->element[i]->type == REDIS_REPLY_STRING ? r->element[i]->str : "";
}

static int64_t
el_i64(const redisReply *r, size_t i)
{
    int64_t v = 0;

    sc_parse_i64(el(r, i), 0, INT64_MAX, &v);
    return v;
}

static void
taken(redisReply *r, const char *errstr, void *arg)
{
    struct pending *p = arg;
    struct store_held_job j;

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 13) {
        p->job_cb(NULL, r == NULL ? errstr : NULL, p->arg);
        free(p);
        return;
    }
    j.id = el(r, 0);
    j.key_id = el(r, 1);
    j.family = el(r, 2);
    j.sealed = el(r, 3);
    j.upstream = el(r, 4);
    j.upstream_sealed = el(r, 5);
    j.request_id = el(r, 6);
    j.route = el(r, 7);
    j.sends = el_i64(r, 8);
    j.decided_by = el(r, 9);
    j.from_domain = el(r, 10);
    j.agent_run_id = el(r, 11);
    j.attempt = el_i64(r, 12);
    p->job_cb(&j, NULL, p->arg);
    free(p);
}

int
store_held_take(struct store_async *as, int64_t lease_ms, store_held_job_cb *cb, void *arg,
                const char **errstr)
{
    char lease[24], most[24];
    const char *argv[2];
    struct pending *p = calloc(1, sizeof(*p));

    if (p == NULL) {
        *errstr = "out of memory";
        return -1;
    }
    p->job_cb = cb;
    p->arg = arg;
    argv[0] = sc_fmt_i64(lease, lease_ms);
    argv[1] = sc_fmt_i64(most, SC_HELD_ATTEMPTS_MAX);
    if (store_redis_async_eval(as, STORE_SCRIPT_HELD_TAKE, 0, 2, argv, NULL, taken, p, errstr) !=
        0) {
        free(p);
        return -1;
    }
    return 0;
}

/* held_done.lua's answer: a failure leaves the send approved and leased,
 * so it is retried with the same Idempotency-Key; said on stderr. */
static void
ignored(redisReply *r, const char *errstr, void *arg)
{
    (void)arg;
    if (r == NULL || r->type == REDIS_REPLY_ERROR)
        fprintf(stderr, "sendcapd: held_done: %s\n", r != NULL ? r->str : errstr);
}

int
store_held_done(struct store_async *as, const char *id, enum store_held_outcome o,
                const char *email_id, int refund, const char *why, int64_t keep_ms, int64_t wait_ms,
                const char **errstr)
{
    static const char *const names[] = {
        [STORE_HELD_SENT] = "sent",
        [STORE_HELD_FAILED] = "failed",
        [STORE_HELD_RETRY] = "retry",
        [STORE_HELD_WAIT] = "wait",
    };
    char key[80], ttl[24], keep[24], wait[24], giveup[24];
    const char *argv[10];

    sc_cat(key, sizeof(key), "sc:held:", id, NULL);
    argv[0] = key;
    argv[1] = id;
    argv[2] = names[o];
    argv[3] = email_id ? email_id : "";
    argv[4] = refund ? "1" : "0";
    argv[5] = why ? why : "";
    argv[6] = sc_fmt_i64(ttl, SC_EMAIL_OWNER_TTL_S);
    argv[7] = sc_fmt_i64(keep, keep_ms);
    argv[8] = sc_fmt_i64(wait, wait_ms);
    argv[9] = sc_fmt_i64(giveup, SC_HELD_WAIT_GIVE_UP_MS);
    return store_redis_async_eval(as, STORE_SCRIPT_HELD_DONE, 1, 10, argv, NULL, ignored, NULL,
                                  errstr);
}

static void
expired(redisReply *r, const char *errstr, void *arg)
{
    struct pending *p = arg;
    struct store_held_expired *v = NULL;
    size_t n = 0;

    if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
        (v = calloc(r->elements, sizeof(*v))) != NULL) {
        for (size_t i = 0; i < r->elements; i++) {
            const redisReply *e = r->element[i];
            if (e->type != REDIS_REPLY_ARRAY || e->elements < 6)
                continue;
            v[n].id = el(e, 0);
            v[n].key_id = el(e, 1);
            v[n].request_id = el(e, 2);
            v[n].sends = el_i64(e, 3);
            v[n].from_domain = el(e, 4);
            v[n].route = el(e, 5);
            n++;
        }
    }
    p->exp_cb(v, n, r == NULL ? errstr : NULL, p->arg);
    free(v);
    free(p);
}

int
store_held_expire(struct store_async *as, int max, store_held_expired_cb *cb, void *arg,
                  const char **errstr)
{
    char most[24];
    const char *argv[1];
    struct pending *p = calloc(1, sizeof(*p));

    if (p == NULL) {
        *errstr = "out of memory";
        return -1;
    }
    p->exp_cb = cb;
    p->arg = arg;
    argv[0] = sc_fmt_i64(most, max);
    if (store_redis_async_eval(as, STORE_SCRIPT_HELD_EXPIRE, 0, 1, argv, NULL, expired, p,
                               errstr) != 0) {
        free(p);
        return -1;
    }
    return 0;
}
