/*
 * call.c - call.lua, typed: the request struct becomes the script's keys and
 * positional arguments, its reply becomes a result struct.  See call.h.
 *
 * The only place that knows call.lua's argument order and reply layout
 * (both documented at the top of store/lua/call.lua): change them together.
 * Nothing here blocks; the reply is parsed on the loop, in the callback.
 */
#include "call_int.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/* What the reply callback needs: the caller's callback and the key's hash
 * (the record of a "stale" reply does not name its own hash). */
struct pending {
    store_call_cb *cb;
    void *arg;
    char hash[SC_KEY_HASH_HEX];
};

static const char *
mode_name(enum store_call_mode m)
{
    switch (m) {
    case STORE_CALL_SEND:
        return "send";
    case STORE_CALL_DENY:
        return "deny";
    case STORE_CALL_FORWARD:
        break;
    }
    return "forward";
}

/* Element i of an array reply as a string that fits len; 0 or -1 (buf
 * untouched). */
static int
str_el(const redisReply *r, size_t i, char *buf, size_t len)
{
    if (r->type != REDIS_REPLY_ARRAY || i >= r->elements ||
        r->element[i]->type != REDIS_REPLY_STRING || r->element[i]->len >= len)
        return -1;
    memcpy(buf, r->element[i]->str, r->element[i]->len);
    buf[r->element[i]->len] = '\0';
    return 0;
}

/* Element i as a number in [min, max]; *out untouched if it is not one. */
static void
i64_el(const redisReply *r, size_t i, int64_t min, int64_t max, int64_t *out)
{
    char b[32];

    if (str_el(r, i, b, sizeof(b)) == 0)
        sc_parse_i64(b, min, max, out);
}

/* {"stale", {key record as HGETALL}, {upstream ver, sealed}} */
static enum store_call_kind
stale(const redisReply *r, const char *key_hash, struct store_call_result *out,
      struct store_key *key)
{
    const redisReply *up;

    if (r->elements != 3 || store_keys_from_reply(r->element[1], key) != 0 ||
        (up = r->element[2])->type != REDIS_REPLY_ARRAY || up->elements != 2 ||
        str_el(up, 0, out->upstream_ver, sizeof(out->upstream_ver)) != 0 ||
        up->element[1]->type != REDIS_REPLY_STRING)
        return STORE_CALL_BAD_RECORD;
    sc_strlcpy(key->hash, key_hash, sizeof(key->hash));
    sc_strlcpy(out->key_id, key->id, sizeof(out->key_id));
    out->key = key;
    out->sealed = up->element[1]->str;
    out->sealed_len = up->element[1]->len;
    return STORE_CALL_STALE;
}

void
store_call_reply_parse(const redisReply *r, const char *key_hash, struct store_call_result *out,
                       struct store_key *key)
{
    char kind[16];

    memset(out, 0, sizeof(*out));
    out->kind = STORE_CALL_BAD_REPLY;
    if (r == NULL || str_el(r, 0, kind, sizeof(kind)) != 0)
        return;
    if (strcmp(kind, "stale") == 0) {
        out->kind = stale(r, key_hash, out, key);
        return;
    }
    if (strcmp(kind, "unknown") == 0) {
        out->kind = STORE_CALL_UNKNOWN;
        return;
    }
    str_el(r, 1, out->key_id, sizeof(out->key_id));
    if (strcmp(kind, "ok") == 0) {
        /* {"ok", id, now_ms, counter_key, used_after, idem_key, idem_value} */
        out->kind = STORE_CALL_OK;
        i64_el(r, 2, 0, INT64_MAX, &out->now_ms);
        str_el(r, 3, out->counter_key, sizeof(out->counter_key));
        i64_el(r, 4, INT64_MIN, INT64_MAX, &out->used);
        str_el(r, 5, out->idem_key, sizeof(out->idem_key));
        str_el(r, 6, out->idem_value, sizeof(out->idem_value));
    } else if (strcmp(kind, "revoked") == 0 || strcmp(kind, "expired") == 0) {
        /* {kind, id, at_ms, now_ms} */
        out->kind = kind[0] == 'r' ? STORE_CALL_REVOKED : STORE_CALL_EXPIRED;
        i64_el(r, 2, 0, INT64_MAX, &out->at_ms);
        i64_el(r, 3, 0, INT64_MAX, &out->now_ms);
    } else if (strcmp(kind, "no_upstream") == 0) {
        out->kind = STORE_CALL_NO_UPSTREAM; /* {kind, id, upstream} */
    } else if (strcmp(kind, "not_own") == 0) {
        out->kind = STORE_CALL_NOT_OWN; /* {kind, id} */
    } else if (strcmp(kind, "cap") == 0) {
        /* {"cap", id, used, cap, now_ms} */
        out->kind = STORE_CALL_CAP;
        i64_el(r, 2, INT64_MIN, INT64_MAX, &out->used);
        i64_el(r, 3, INT64_MIN, INT64_MAX, &out->cap);
        i64_el(r, 4, 0, INT64_MAX, &out->now_ms);
    }
}

static void
replied(redisReply *r, const char *errstr, void *arg)
{
    struct pending *p = arg;
    struct store_call_result res;
    struct store_key *key = NULL;
    char kind[16];

    if (r == NULL) {
        p->cb(NULL, errstr, p->arg);
        free(p);
        return;
    }
    /* Only a "stale" reply carries a record: no 10 KB buffer per call. */
    if (str_el(r, 0, kind, sizeof(kind)) == 0 && strcmp(kind, "stale") == 0 &&
        (key = malloc(sizeof(*key))) == NULL) {
        p->cb(NULL, "sendcap is out of memory", p->arg);
        free(p);
        return;
    }
    store_call_reply_parse(r, p->hash, &res, key);
    p->cb(&res, NULL, p->arg);
    free(key);
    free(p);
}

int
store_call_check(struct store_async *as, const struct store_call_req *req, store_call_cb *cb,
                 void *arg, const char **errstr)
{
    char key[80], sends[24], ttl[24] = "";
    const char *argv[11];
    int argc = 6;
    struct pending *p = malloc(sizeof(*p));

    if (p == NULL) {
        *errstr = "out of memory";
        return -1;
    }
    p->cb = cb;
    p->arg = arg;
    sc_strlcpy(p->hash, req->key_hash, sizeof(p->hash));
    sc_cat(key, sizeof(key), "sc:vk:", req->key_hash, NULL);
    argv[0] = key;
    argv[1] = req->gen ? req->gen : "";
    argv[2] = req->upstream_ver ? req->upstream_ver : "";
    argv[3] = mode_name(req->mode);
    argv[4] = sc_fmt_i64(sends, req->sends);
    argv[5] = req->email_id ? req->email_id : "";
    if (req->mode == STORE_CALL_SEND) {
        int intent = req->intent != NULL && req->intent[0] != '\0';

        if (intent)
            sc_fmt_i64(ttl, req->intent_ttl_s);
        argv[6] = req->request_id;
        argv[7] = ttl;
        argv[8] = intent ? req->intent : "";
        argv[9] = req->idem_hash ? req->idem_hash : "";
        argv[10] = req->body_hash ? req->body_hash : "";
        argc = 11;
    }
    if (store_redis_async_eval(as, STORE_SCRIPT_CALL, 1, argc, argv, NULL, replied, p, errstr) !=
        0) {
        free(p);
        return -1;
    }
    return 0;
}

int
store_call_used_today(struct store_conn *c, const char *family, int64_t now_ms, long long *used,
                      char *err, size_t errlen)
{
    redisReply *r = store_redis_cmd(c, err, errlen, "GET sc:cnt:%s:%lld", family,
                                    (long long)(now_ms / 86400000));

    *used = 0;
    if (r == NULL)
        return -1;
    if (r->type == REDIS_REPLY_STRING)
        *used = strtoll(r->str, NULL, 10);
    freeReplyObject(r);
    return 0;
}
