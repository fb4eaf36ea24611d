/*
 * upstreams.c - add, rotate, remove and list upstreams.  See upstreams.h.
 */
#include "upstreams.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/limits.h"
#include "common/util.h"

int
store_upstreams_name_valid(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > SC_UPSTREAM_NAME_MAX)
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            return 0;
    return 1;
}

void
store_upstreams_aad(const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "sendcap/upstream/%s", name);
}

int
store_upstreams_put(struct store_conn *c, const unsigned char mk[SC_MASTER_KEY_LEN],
                    const char *name, const char *real_key, int rotate, char *err, size_t errlen)
{
    char aad[128], key[128], fp[32], check[17];
    const char *args[5];
    char *sealed;
    redisReply *r;

    if (!store_upstreams_name_valid(name)) {
        snprintf(err, errlen, "upstream name must be 1-64 of [A-Za-z0-9._-]");
        return -1;
    }
    store_upstreams_aad(name, aad, sizeof(aad));
    sealed =
        store_secret_seal(mk, aad, (const unsigned char *)real_key, strlen(real_key), err, errlen);
    if (sealed == NULL)
        return -1;
    store_secret_real_fingerprint(real_key, fp, sizeof(fp));
    store_secret_master_check(mk, check);
    snprintf(key, sizeof(key), "sc:up:%s", name);
    args[0] = key;
    args[1] = name;
    args[2] = sealed;
    args[3] = fp;
    args[4] = check;
    r = store_redis_eval(c, rotate ? STORE_SCRIPT_UPSTREAM_ROTATE : STORE_SCRIPT_UPSTREAM_ADD, 1, 5,
                         args, err, errlen);
    free(sealed);
    if (r == NULL) {
        /* Turn the scripts' error codes into sentences for people. */
        if (strstr(err, "ERR_EXISTS"))
            snprintf(err, errlen, "upstream '%s' already exists (use 'sendcap upstream rotate')",
                     name);
        else if (strstr(err, "ERR_NO_UPSTREAM")) {
            snprintf(err, errlen, "no upstream named '%s'", name);
            return STORE_ERR_NOT_FOUND;
        } else if (strstr(err, "ERR_MASTER_MISMATCH"))
            snprintf(err, errlen, "this master key is not the one this Redis was set up with");
        return STORE_ERR_FAIL;
    }
    freeReplyObject(r);
    return 0;
}

int
store_upstreams_remove(struct store_conn *c, const char *name, int force, long *live, char *err,
                       size_t errlen)
{
    char k1[128], k2[128];
    const char *args[4];
    redisReply *r;
    int ret;

    if (!store_upstreams_name_valid(name)) {
        snprintf(err, errlen, "no upstream named '%s'", name);
        return STORE_ERR_NOT_FOUND;
    }
    snprintf(k1, sizeof(k1), "sc:up:%s", name);
    snprintf(k2, sizeof(k2), "sc:upkeys:%s", name);
    args[0] = k1;
    args[1] = k2;
    args[2] = name;
    args[3] = force ? "1" : "0";
    r = store_redis_eval(c, STORE_SCRIPT_UPSTREAM_REMOVE, 2, 4, args, err, errlen);
    if (r == NULL) {
        if (strstr(err, "ERR_NO_UPSTREAM")) {
            snprintf(err, errlen, "no upstream named '%s'", name);
            return STORE_ERR_NOT_FOUND;
        }
        return STORE_ERR_FAIL;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        freeReplyObject(r);
        snprintf(err, errlen, "redis: unexpected reply from upstream_remove");
        return -1;
    }
    ret = r->element[0]->integer == 1 ? 0 : 1;
    *live = (long)r->element[1]->integer;
    freeReplyObject(r);
    return ret;
}

static long
live_keys(struct store_conn *c, const char *name, char *err, size_t errlen)
{
    redisReply *ids = store_redis_cmd(c, err, errlen, "SMEMBERS sc:upkeys:%s", name);
    long n = 0;

    if (ids == NULL)
        return -1;
    for (size_t i = 0; i < ids->elements; i++) {
        redisReply *h = store_redis_cmd(c, err, errlen, "GET sc:id:%s", ids->element[i]->str);
        redisReply *rv;
        int64_t at = 0;

        if (h == NULL) {
            freeReplyObject(ids);
            return -1;
        }
        if (h->type == REDIS_REPLY_STRING) {
            rv = store_redis_cmd(c, err, errlen, "HGET sc:vk:%s revoked_at", h->str);
            if (rv == NULL) {
                freeReplyObject(h);
                freeReplyObject(ids);
                return -1;
            }
            if (rv->type == REDIS_REPLY_STRING && sc_parse_i64(rv->str, 0, INT64_MAX, &at) == 0 &&
                at == 0)
                n++;
            freeReplyObject(rv);
        }
        freeReplyObject(h);
    }
    freeReplyObject(ids);
    return n;
}

int
store_upstreams_each(struct store_conn *c, int (*fn)(const struct store_upstream *, void *),
                     void *arg, char *err, size_t errlen)
{
    redisReply *names = store_redis_cmd(c, err, errlen, "SORT sc:upstreams ALPHA");
    int ret = -1;

    if (names == NULL)
        return -1;
    for (size_t i = 0; i < names->elements; i++) {
        struct store_upstream u;
        redisReply *r =
            store_redis_cmd(c, err, errlen, "HMGET sc:up:%s fingerprint created_at rotated_at",
                            names->element[i]->str);
        if (r == NULL)
            goto fail;
        memset(&u, 0, sizeof(u));
        sc_strlcpy(u.name, names->element[i]->str, sizeof(u.name));
        if (r->elements == 3 && r->element[0]->type == REDIS_REPLY_STRING) {
            sc_strlcpy(u.fingerprint, r->element[0]->str, sizeof(u.fingerprint));
            if (r->element[1]->type == REDIS_REPLY_STRING)
                sc_parse_i64(r->element[1]->str, 0, INT64_MAX, &u.created_at);
            if (r->element[2]->type == REDIS_REPLY_STRING)
                sc_parse_i64(r->element[2]->str, 0, INT64_MAX, &u.rotated_at);
        }
        freeReplyObject(r);
        if ((u.keys = live_keys(c, u.name, err, errlen)) < 0)
            goto fail;
        if (fn(&u, arg) != 0)
            break;
    }
    ret = 0;
fail:
    freeReplyObject(names);
    return ret;
}

int
store_upstreams_master_check(struct store_conn *c, const unsigned char mk[SC_MASTER_KEY_LEN],
                             char *err, size_t errlen)
{
    char check[17];
    redisReply *r = store_redis_cmd(c, err, errlen, "HGET sc:meta master_check");
    int ret = 0;

    if (r == NULL)
        return -1;
    store_secret_master_check(mk, check);
    if (r->type == REDIS_REPLY_STRING && strcmp(r->str, check) != 0)
        ret = 1;
    freeReplyObject(r);
    return ret;
}

char *
store_upstreams_open(struct store_conn *c, const unsigned char mk[SC_MASTER_KEY_LEN],
                     const char *name, char *err, size_t errlen)
{
    char aad[96], *real = NULL;
    size_t len;
    redisReply *r = store_redis_cmd(c, err, errlen, "HGET sc:up:%s sealed", name);

    if (r == NULL)
        return NULL;
    if (r->type != REDIS_REPLY_STRING) {
        snprintf(err, errlen, "no upstream named '%s'", name);
    } else {
        store_upstreams_aad(name, aad, sizeof(aad));
        real = store_secret_open(mk, aad, r->str, &len, err, errlen);
    }
    freeReplyObject(r);
    return real;
}
