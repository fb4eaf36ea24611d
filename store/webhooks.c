/*
 * webhooks.c - webhook records, secrets, signatures and the delivery
 * queue's scripts.  See webhooks.h.
 *
 * Never logs or returns a secret in an error; the clear secret exists only
 * in the caller's buffer (the CLI prints it once) and, while an attempt is
 * signed, in the daemon's memory.
 */
#include "webhooks.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "common/limits.h"
#include "common/util.h"

#define SECRET_BYTES 32

void
store_webhooks_aad(const char *id, char *buf, size_t len)
{
    snprintf(buf, len, "sendcap/webhook/%s", id);
}

/* Is host (as written in a URL: "[::1]" bracketed) a loopback literal or
 * localhost?  Names other than localhost are refused at add: their answer
 * could change (delivery checks the address it connects to anyway). */
static int
loopback_host(const char *host, size_t n)
{
    char buf[64];
    struct in_addr a4;
    struct in6_addr a6;

    if (n == 0 || n >= sizeof(buf))
        return 0;
    if (host[0] == '[') {
        if (n < 3 || host[n - 1] != ']')
            return 0;
        memcpy(buf, host + 1, n - 2);
        buf[n - 2] = '\0';
        return inet_pton(AF_INET6, buf, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
    }
    memcpy(buf, host, n);
    buf[n] = '\0';
    if (strcasecmp(buf, "localhost") == 0)
        return 1;
    return inet_pton(AF_INET, buf, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

int
store_webhooks_url_check(const char *url, char *err, size_t errlen)
{
    const char *auth, *end, *host_end;
    int https;

    if (strlen(url) >= STORE_WEBHOOK_URL_MAX) {
        snprintf(err, errlen, "the URL is longer than %d characters", STORE_WEBHOOK_URL_MAX - 1);
        return -1;
    }
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f) {
            snprintf(err, errlen, "the URL holds a space, a control or a non-ASCII byte");
            return -1;
        }
    if (strncasecmp(url, "https://", 8) == 0) {
        https = 1;
        auth = url + 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        https = 0;
        auth = url + 7;
    } else {
        snprintf(err, errlen, "the URL must start with https:// (or http:// to loopback)");
        return -1;
    }
    end = auth + strcspn(auth, "/?#");
    if (strchr(url, '#') != NULL) {
        snprintf(err, errlen, "the URL must not carry a #fragment");
        return -1;
    }
    if (memchr(auth, '@', (size_t)(end - auth)) != NULL) {
        snprintf(err, errlen, "the URL must not carry user:password@");
        return -1;
    }
    if (auth[0] == '[') {
        const char *rb = memchr(auth, ']', (size_t)(end - auth));
        if (rb == NULL) {
            snprintf(err, errlen, "the URL's host is not valid");
            return -1;
        }
        host_end = rb + 1;
    } else {
        host_end = memchr(auth, ':', (size_t)(end - auth));
        if (host_end == NULL)
            host_end = end;
    }
    if (host_end == auth) {
        snprintf(err, errlen, "the URL has no host");
        return -1;
    }
    if (host_end < end) {
        int64_t port;
        char pb[8];
        size_t pl = (size_t)(end - host_end - 1);
        if (*host_end != ':' || pl == 0 || pl >= sizeof(pb)) {
            snprintf(err, errlen, "the URL's port is not valid");
            return -1;
        }
        memcpy(pb, host_end + 1, pl);
        pb[pl] = '\0';
        if (sc_parse_i64(pb, 1, 65535, &port) != 0) {
            snprintf(err, errlen, "the URL's port is not valid");
            return -1;
        }
    }
    if (!https && !loopback_host(auth, (size_t)(host_end - auth))) {
        snprintf(err, errlen,
                 "the URL must be https:// (plain http is allowed only to 127.0.0.0/8, [::1] or "
                 "localhost)");
        return -1;
    }
    return 0;
}

int
store_webhooks_sign(const char *secret, const char *msg_id, int64_t ts, const char *body,
                    size_t body_len, char out[STORE_WEBHOOK_SIG_MAX])
{
    unsigned char key[64], mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    char tsb[24], *msg;
    size_t il = strlen(msg_id), tl, ml;
    long klen;
    char *b64;
    int ret = -1;

    if (strncmp(secret, "whsec_", 6) != 0 ||
        (klen = store_secret_b64_decode(secret + 6, key, sizeof(key))) <= 0)
        return -1;
    sc_fmt_i64(tsb, ts);
    tl = strlen(tsb);
    ml = il + 1 + tl + 1 + body_len;
    /* The signed content is exactly msg_id "." timestamp "." body. */
    if ((msg = malloc(ml)) == NULL)
        goto done;
    memcpy(msg, msg_id, il);
    msg[il] = '.';
    memcpy(msg + il + 1, tsb, tl);
    msg[il + 1 + tl] = '.';
    memcpy(msg + il + tl + 2, body, body_len);
    if (HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, ml, mac, &maclen) == NULL) {
        free(msg);
        goto done;
    }
    free(msg);
    if ((b64 = store_secret_b64_encode(mac, maclen)) == NULL)
        goto done;
    if (strlen(b64) + 4 <= STORE_WEBHOOK_SIG_MAX) {
        snprintf(out, STORE_WEBHOOK_SIG_MAX, "v1,%s", b64);
        ret = 0;
    }
    free(b64);
done:
    store_secret_wipe(key, sizeof(key));
    return ret;
}

int
store_webhooks_add(struct store_conn *c, const unsigned char mk[SC_MASTER_KEY_LEN], const char *url,
                   const char *events, const char *key_id, char id[STORE_WEBHOOK_ID_MAX],
                   char secret[STORE_WEBHOOK_SECRET_MAX], char *err, size_t errlen)
{
    unsigned char raw[SECRET_BYTES];
    char aad[128], *b64 = NULL, *sealed = NULL;
    const char *args[5];
    redisReply *r;
    int ret = STORE_ERR_FAIL;

    if (store_webhooks_url_check(url, err, errlen) != 0)
        return STORE_ERR_FAIL;
    memcpy(id, "wh_", 3);
    if (store_secret_random_base62(id + 3, 16) != 0 || RAND_bytes(raw, sizeof(raw)) != 1 ||
        (b64 = store_secret_b64_encode(raw, sizeof(raw))) == NULL) {
        snprintf(err, errlen, "no randomness or out of memory");
        goto done;
    }
    snprintf(secret, STORE_WEBHOOK_SECRET_MAX, "whsec_%s", b64);
    store_webhooks_aad(id, aad, sizeof(aad));
    sealed = store_secret_seal(mk, aad, (const unsigned char *)secret, strlen(secret), err, errlen);
    if (sealed == NULL)
        goto done;
    args[0] = id;
    args[1] = url;
    args[2] = events;
    args[3] = key_id;
    args[4] = sealed;
    r = store_redis_eval(c, STORE_SCRIPT_WEBHOOK_ADD, 0, 5, args, err, errlen);
    if (r == NULL) {
        if (strstr(err, "ERR_NO_KEY")) {
            snprintf(err, errlen, "no key with id %s", key_id);
            ret = STORE_ERR_NOT_FOUND;
        }
        goto done;
    }
    freeReplyObject(r);
    ret = 0;
done:
    if (ret != 0)
        store_secret_wipe(secret, STORE_WEBHOOK_SECRET_MAX);
    store_secret_wipe(raw, sizeof(raw));
    if (b64 != NULL)
        store_secret_wipe(b64, strlen(b64));
    free(b64);
    free(sealed);
    return ret;
}

/* An id as the scripts accept it: "wh_" + base62, so it cannot reach into
 * another key name. */
static int
id_valid(const char *id)
{
    size_t n = strlen(id);

    if (n < 4 || n >= STORE_WEBHOOK_ID_MAX || strncmp(id, "wh_", 3) != 0)
        return 0;
    for (const char *p = id + 3; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            return 0;
    return 1;
}

static int
by_id(struct store_conn *c, enum store_script_id script, const char *id, redisReply **out,
      char *err, size_t errlen)
{
    const char *args[1] = {id};

    if (!id_valid(id) || (*out = store_redis_eval(c, script, 0, 1, args, err, errlen)) == NULL) {
        if (!id_valid(id) || strstr(err, "ERR_NO_WEBHOOK")) {
            snprintf(err, errlen, "no webhook with id %s", id_valid(id) ? id : "(malformed)");
            return STORE_ERR_NOT_FOUND;
        }
        return STORE_ERR_FAIL;
    }
    return 0;
}

int
store_webhooks_remove(struct store_conn *c, const char *id, char *err, size_t errlen)
{
    redisReply *r;
    int ret = by_id(c, STORE_SCRIPT_WEBHOOK_REMOVE, id, &r, err, errlen);

    if (ret == 0)
        freeReplyObject(r);
    return ret;
}

int
store_webhooks_test(struct store_conn *c, const char *id, char eid[STORE_EVENT_ID_MAX], char *err,
                    size_t errlen)
{
    redisReply *r;
    int ret = by_id(c, STORE_SCRIPT_WEBHOOK_TEST, id, &r, err, errlen);

    if (ret != 0)
        return ret;
    if (r->type != REDIS_REPLY_STRING || r->len >= STORE_EVENT_ID_MAX) {
        snprintf(err, errlen, "redis: unexpected reply from webhook_test");
        ret = STORE_ERR_FAIL;
    } else {
        sc_strlcpy(eid, r->str, STORE_EVENT_ID_MAX);
    }
    freeReplyObject(r);
    return ret;
}

int
store_webhooks_each(struct store_conn *c, int (*fn)(const struct store_webhook *, void *),
                    void *arg, char *err, size_t errlen)
{
    redisReply *ids = store_redis_cmd(c, err, errlen, "SORT sc:webhooks ALPHA");
    int ret = -1;

    if (ids == NULL)
        return -1;
    for (size_t i = 0; i < ids->elements; i++) {
        struct store_webhook w;
        redisReply *r = store_redis_cmd(c, err, errlen, "HMGET sc:wh:%s url events key created_at",
                                        ids->element[i]->str);
        if (r == NULL)
            goto fail;
        memset(&w, 0, sizeof(w));
        sc_strlcpy(w.id, ids->element[i]->str, sizeof(w.id));
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 4 &&
            r->element[0]->type == REDIS_REPLY_STRING) {
            sc_strlcpy(w.url, r->element[0]->str, sizeof(w.url));
            if (r->element[1]->type == REDIS_REPLY_STRING)
                sc_strlcpy(w.events, r->element[1]->str, sizeof(w.events));
            if (r->element[2]->type == REDIS_REPLY_STRING)
                sc_strlcpy(w.key, r->element[2]->str, sizeof(w.key));
            if (r->element[3]->type == REDIS_REPLY_STRING)
                sc_parse_i64(r->element[3]->str, 0, INT64_MAX, &w.created_at);
        }
        freeReplyObject(r);
        if (w.url[0] != '\0' && fn(&w, arg) != 0)
            break;
    }
    ret = 0;
fail:
    freeReplyObject(ids);
    return ret;
}

int
store_webhooks_state(struct store_conn *c, const char *eid, const char *target,
                     struct store_delivery *out, char *err, size_t errlen)
{
    redisReply *r = store_redis_cmd(c, err, errlen, "HGET sc:evs:%s %s", eid, target);
    int ret = 0;

    if (r == NULL)
        return -1;
    if (r->type == REDIS_REPLY_STRING) {
        if (store_delivery_parse(r->str, out) != 0) {
            snprintf(err, errlen, "the delivery state in Redis is malformed");
            ret = -1;
        } else {
            ret = 1;
        }
    }
    freeReplyObject(r);
    return ret;
}

/* ---- async ---- */

/* One lib/webhooks.lua delivery: {member, event id, target, lease, type,
 * key, at, data, url, sealed, owner, state}. */
static int
job_parse(const redisReply *e, struct store_webhook_job *j)
{
    int64_t lease = 0, at = 0;

    memset(j, 0, sizeof(*j));
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 12)
        return -1;
    for (size_t i = 0; i < 12; i++)
        if (e->element[i]->type != REDIS_REPLY_STRING)
            return -1;
    if (e->element[1]->len >= sizeof(j->ev.id) || e->element[4]->len >= sizeof(j->ev.type) ||
        e->element[5]->len >= sizeof(j->ev.key) ||
        sc_parse_i64(e->element[3]->str, 0, INT64_MAX, &lease) != 0 ||
        sc_parse_i64(e->element[6]->str, 0, INT64_MAX, &at) != 0 ||
        store_delivery_parse(e->element[11]->str, &j->state) != 0)
        return -1;
    j->member = e->element[0]->str;
    sc_strlcpy(j->ev.id, e->element[1]->str, sizeof(j->ev.id));
    j->target = e->element[2]->str;
    j->lease = lease;
    sc_strlcpy(j->ev.type, e->element[4]->str, sizeof(j->ev.type));
    sc_strlcpy(j->ev.key, e->element[5]->str, sizeof(j->ev.key));
    j->ev.at = at;
    j->ev.data = e->element[7]->str; /* borrowed from the reply */
    j->url = e->element[8]->str;
    j->sealed = e->element[9]->str;
    j->owner = e->element[10]->str;
    return 0;
}

long
store_webhooks_jobs_parse(const redisReply *r, struct store_webhook_job *jobs, size_t max)
{
    size_t n = 0;

    if (r == NULL || r->type != REDIS_REPLY_ARRAY)
        return -1;
    for (size_t i = 0; i < r->elements && n < max; i++)
        if (job_parse(r->element[i], &jobs[n]) == 0)
            n++;
    return (long)n;
}

struct jobs_pending {
    store_webhooks_jobs_cb *cb;
    void *arg;
};

#define JOBS_MAX 64 /* a take's most; more waits for the next poll */

static void
jobs_replied(redisReply *r, const char *errstr, void *arg)
{
    struct jobs_pending *p = arg;
    struct store_webhook_job jobs[JOBS_MAX];
    long n = r != NULL ? store_webhooks_jobs_parse(r, jobs, JOBS_MAX) : -1;

    if (n < 0)
        p->cb(NULL, 0, errstr != NULL ? errstr : "unexpected reply from a webhook script", p->arg);
    else
        p->cb(jobs, (size_t)n, NULL, p->arg);
    free(p);
}

static int
jobs_eval(struct store_async *as, enum store_script_id id, int argc, const char **argv,
          store_webhooks_jobs_cb *cb, void *arg, const char **errstr)
{
    struct jobs_pending *p = malloc(sizeof(*p));

    if (p == NULL) {
        *errstr = "out of memory";
        return -1;
    }
    p->cb = cb;
    p->arg = arg;
    if (store_redis_async_eval(as, id, 0, argc, argv, NULL, jobs_replied, p, errstr) != 0) {
        free(p);
        return -1;
    }
    return 0;
}

int
store_webhooks_take(struct store_async *as, int64_t lease_ms, int max, const char *notice_upstream,
                    store_webhooks_jobs_cb *cb, void *arg, const char **errstr)
{
    char lease[24], most[24];
    const char *argv[3];

    argv[0] = sc_fmt_i64(lease, lease_ms);
    argv[1] = sc_fmt_i64(most, max < JOBS_MAX ? max : JOBS_MAX);
    argv[2] = notice_upstream != NULL ? notice_upstream : "";
    return jobs_eval(as, STORE_SCRIPT_WEBHOOK_TAKE, 3, argv, cb, arg, errstr);
}

int
store_webhooks_claim(struct store_async *as, const char *eid, int64_t lease_ms,
                     const char *notice_upstream, store_webhooks_jobs_cb *cb, void *arg,
                     const char **errstr)
{
    char lease[24];
    const char *argv[3];

    argv[0] = eid;
    argv[1] = sc_fmt_i64(lease, lease_ms);
    argv[2] = notice_upstream != NULL ? notice_upstream : "";
    return jobs_eval(as, STORE_SCRIPT_WEBHOOK_CLAIM, 3, argv, cb, arg, errstr);
}

struct done_pending {
    void (*cb)(int, void *);
    void *arg;
};

static void
done_replied(redisReply *r, const char *errstr, void *arg)
{
    struct done_pending *p = arg;

    (void)errstr;
    if (p->cb != NULL)
        p->cb(r == NULL ? -1 : r->type == REDIS_REPLY_INTEGER && r->integer == 1, p->arg);
    free(p);
}

int
store_webhooks_done(struct store_async *as, const char *member, int64_t lease,
                    const struct store_webhook_outcome *o, void (*cb)(int, void *), void *arg,
                    const char **errstr)
{
    char b[6][24];
    const char *argv[8];
    struct done_pending *p = malloc(sizeof(*p));

    if (p == NULL) {
        *errstr = "out of memory";
        return -1;
    }
    p->cb = cb;
    p->arg = arg;
    argv[0] = member;
    argv[1] = sc_fmt_i64(b[0], lease);
    argv[2] = o->delivered ? "1" : "0";
    argv[3] = o->status > 0 ? sc_fmt_i64(b[1], o->status) : "";
    argv[4] = sc_fmt_i64(b[2], o->retry_base_ms);
    argv[5] = sc_fmt_i64(b[3], o->jitter_permille);
    argv[6] = sc_fmt_i64(b[4], SC_WEBHOOK_RETRY_MAX_MS);
    argv[7] = sc_fmt_i64(b[5], SC_WEBHOOK_GIVE_UP_MS);
    if (store_redis_async_eval(as, STORE_SCRIPT_WEBHOOK_DONE, 0, 8, argv, NULL, done_replied, p,
                               errstr) != 0) {
        free(p);
        return -1;
    }
    return 0;
}
