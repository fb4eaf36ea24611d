/*
 * keys.c - vault key records: issue, read, list, update, revoke.  See keys.h.
 *
 * Everything that must be atomic (issuing a key with its indexes, revoking
 * by Redis's clock, changing a policy and bumping gen) is one Lua script, the
 * same scripts the daemon loads.  This file owns the record's field names
 * and their stored forms (store/keys.h); the daemon reads records only
 * through store_keys_from_reply.
 */
#include "keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/limits.h"
#include "common/util.h"

static int
copy_field(char *dst, size_t cap, const redisReply *v)
{
    if (v->type != REDIS_REPLY_STRING || v->len >= cap)
        return -1;
    memcpy(dst, v->str, v->len);
    dst[v->len] = '\0';
    return 0;
}

static int
int_field(int64_t *dst, const redisReply *v, int64_t empty)
{
    char buf[32];

    if (v->type != REDIS_REPLY_STRING || v->len >= sizeof(buf))
        return -1;
    if (v->len == 0) {
        *dst = empty;
        return 0;
    }
    memcpy(buf, v->str, v->len);
    buf[v->len] = '\0';
    return sc_parse_i64(buf, INT64_MIN, INT64_MAX, dst);
}

int
store_keys_from_reply(const redisReply *r, struct store_key *rec)
{
    memset(rec, 0, sizeof(*rec));
    rec->daily_cap = rec->monthly_cap = rec->per_recipient_cap = rec->rate_limit = -1;
    rec->dedupe_window_ms = STORE_KEY_DEDUPE_DEFAULT_MS;
    sc_strlcpy(rec->alert_at, STORE_KEY_ALERT_DEFAULT, sizeof(rec->alert_at));
    rec->rotate_after_ms = SC_KEY_ROTATE_AFTER_DEFAULT_MS;
    sc_strlcpy(rec->oversight, "auto", sizeof(rec->oversight));
    rec->hold_ttl_ms = SC_HELD_TTL_DEFAULT_MS;
    sc_strlcpy(rec->scope, "sending", sizeof(rec->scope));
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0)
        return -1;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *f = r->element[i], *v = r->element[i + 1];
        int bad = 0;

        if (f->type != REDIS_REPLY_STRING)
            return -1;
#define IS(s) (f->len == sizeof(s) - 1 && memcmp(f->str, s, f->len) == 0)
        if (IS("id"))
            bad = copy_field(rec->id, sizeof(rec->id), v);
        else if (IS("family"))
            bad = copy_field(rec->family, sizeof(rec->family), v);
        else if (IS("hash"))
            bad = copy_field(rec->hash, sizeof(rec->hash), v);
        else if (IS("name"))
            bad = copy_field(rec->name, sizeof(rec->name), v);
        else if (IS("owner"))
            bad = copy_field(rec->owner, sizeof(rec->owner), v);
        else if (IS("agent_run_id"))
            bad = copy_field(rec->agent_run_id, sizeof(rec->agent_run_id), v);
        else if (IS("upstream"))
            bad = copy_field(rec->upstream, sizeof(rec->upstream), v);
        else if (IS("scope"))
            bad = copy_field(rec->scope, sizeof(rec->scope), v);
        else if (IS("from_domains"))
            bad = copy_field(rec->from_domains, sizeof(rec->from_domains), v);
        else if (IS("to_domains"))
            bad = copy_field(rec->to_domains, sizeof(rec->to_domains), v);
        else if (IS("gen"))
            bad = copy_field(rec->gen, sizeof(rec->gen), v);
        else if (IS("daily_cap"))
            bad = int_field(&rec->daily_cap, v, -1);
        else if (IS("created_at"))
            bad = int_field(&rec->created_at, v, 0);
        else if (IS("expires_at"))
            bad = int_field(&rec->expires_at, v, 0);
        else if (IS("revoked_at"))
            bad = int_field(&rec->revoked_at, v, 0);
        else if (IS("last_used_at"))
            bad = int_field(&rec->last_used_at, v, 0);
        else if (IS("monthly_cap"))
            bad = int_field(&rec->monthly_cap, v, -1);
        else if (IS("per_recipient_cap"))
            bad = int_field(&rec->per_recipient_cap, v, -1);
        else if (IS("rate_limit"))
            bad = int_field(&rec->rate_limit, v, -1);
        else if (IS("rate_window_ms"))
            bad = int_field(&rec->rate_window_ms, v, 0);
        else if (IS("dedupe_window_ms"))
            bad = int_field(&rec->dedupe_window_ms, v, STORE_KEY_DEDUPE_DEFAULT_MS);
        else if (IS("alert_at"))
            bad = copy_field(rec->alert_at, sizeof(rec->alert_at), v);
        else if (IS("rotate_after_ms"))
            bad = int_field(&rec->rotate_after_ms, v, SC_KEY_ROTATE_AFTER_DEFAULT_MS);
        else if (IS("oversight"))
            bad = copy_field(rec->oversight, sizeof(rec->oversight), v);
        else if (IS("hold_ttl_ms"))
            bad = int_field(&rec->hold_ttl_ms, v, SC_HELD_TTL_DEFAULT_MS);
#undef IS
        if (bad)
            return -1;
    }
    if (rec->id[0] == '\0')
        return -1;
    if (rec->family[0] == '\0')
        sc_strlcpy(rec->family, rec->id, sizeof(rec->family));
    if (rec->rate_limit < 0)
        rec->rate_window_ms = 0;
    return 0;
}

void
store_keys_spec_init(struct store_key_spec *spec)
{
    memset(spec, 0, sizeof(*spec));
    spec->name = spec->owner = spec->agent_run_id = "";
    spec->from_domains = spec->to_domains = "";
    spec->scope = "sending";
    spec->daily_cap = spec->monthly_cap = spec->per_recipient_cap = spec->rate_limit = -1;
    spec->dedupe_window_ms = STORE_KEY_DEDUPE_DEFAULT_MS;
    spec->rotate_after_ms = SC_KEY_ROTATE_AFTER_DEFAULT_MS;
    spec->oversight = "auto";
    spec->hold_ttl_ms = SC_HELD_TTL_DEFAULT_MS;
}

int
store_keys_rate_parse(const char *s, int64_t *limit, int64_t *window_ms)
{
    char num[16];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : 0;
    int64_t v;

    if (slash == NULL || n == 0 || n >= sizeof(num) || s[0] == '-')
        return -1;
    memcpy(num, s, n);
    num[n] = '\0';
    if (sc_parse_i64(num, 1, SC_KEY_RATE_MAX, &v) != 0)
        return -1;
    if (strcmp(slash, "/s") == 0)
        *window_ms = 1000;
    else if (strcmp(slash, "/m") == 0)
        *window_ms = 60000;
    else if (strcmp(slash, "/h") == 0)
        *window_ms = 3600000;
    else
        return -1;
    *limit = v;
    return 0;
}

int
store_keys_alert_parse(const char *s, char *out, size_t outlen)
{
    unsigned char seen[101] = {0};
    size_t count = 0, o = 0;

    for (const char *p = s;;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char num[8];
        int64_t v;

        if (n == 0 || n >= sizeof(num) || p[0] == '-')
            return -1;
        memcpy(num, p, n);
        num[n] = '\0';
        if (sc_parse_i64(num, 1, 100, &v) != 0)
            return -1;
        if (!seen[v] && ++count > SC_KEY_ALERT_AT_MAX)
            return -1;
        seen[v] = 1;
        if (e == NULL)
            break;
        p = e + 1;
    }
    for (int v = 1; v <= 100; v++) {
        int w;

        if (!seen[v])
            continue;
        w = snprintf(out + o, outlen - o, "%s%d", o ? "," : "", v);
        if (w < 0 || (size_t)w >= outlen - o)
            return -1;
        o += (size_t)w;
    }
    return 0;
}

/* A duration from 1s to max, or the word `off` meaning 0.  0 or -1. */
static int
duration_or_off(const char *s, const char *off, int64_t max, int64_t *ms)
{
    int64_t v;

    if (strcmp(s, off) == 0) {
        *ms = 0;
        return 0;
    }
    if (sc_parse_duration_ms(s, &v) != 0 || v < 1000 || v > max)
        return -1;
    *ms = v;
    return 0;
}

int
store_keys_dedupe_parse(const char *s, int64_t *ms)
{
    return duration_or_off(s, "0", SC_KEY_DEDUPE_WINDOW_MAX_MS, ms);
}

int
store_keys_rotate_after_parse(const char *s, int64_t *ms)
{
    return duration_or_off(s, "none", SC_KEY_ROTATE_AFTER_MAX_MS, ms);
}

int
store_keys_oversight_parse(const char *s, const char **out)
{
    static const char *const modes[] = {"auto", "gated", "gated-new-recipients", "monitored"};

    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
        if (strcmp(s, modes[i]) == 0) {
            *out = modes[i];
            return 0;
        }
    return -1;
}

int
store_keys_hold_ttl_parse(const char *s, int64_t *ms)
{
    return duration_or_off(s, "", SC_HELD_TTL_MAX_MS, ms) != 0 || *ms == 0 ? -1 : 0;
}

/* The record's field/value pairs for what spec->set names, appended to
 * args (from *n; room for 32 more), with numbers formatted into nums.  A
 * rate of none leaves rate_window_ms out: its name goes to *del (or NULL),
 * for key_update.lua to remove. */
struct spec_nums {
    char v[8][24];
};

static void
num_or_empty(char *buf, size_t len, int64_t v)
{
    if (v >= 0)
        snprintf(buf, len, "%lld", (long long)v);
    else
        buf[0] = '\0';
}

static void
spec_fields(const struct store_key_spec *spec, struct spec_nums *nums, const char **args, int *n,
            const char **del)
{
    unsigned set = spec->set;
    int i = *n;

    *del = NULL;
#define PAIR(f, v)                                                                                 \
    do {                                                                                           \
        args[i++] = f;                                                                             \
        args[i++] = v;                                                                             \
    } while (0)
    if (set & STORE_KEY_SET_NAME)
        PAIR("name", spec->name);
    if (set & STORE_KEY_SET_OWNER)
        PAIR("owner", spec->owner);
    if (set & STORE_KEY_SET_AGENT_RUN_ID)
        PAIR("agent_run_id", spec->agent_run_id);
    if (set & STORE_KEY_SET_SCOPE)
        PAIR("scope", spec->scope);
    if (set & STORE_KEY_SET_DAILY_CAP) {
        num_or_empty(nums->v[0], sizeof(nums->v[0]), spec->daily_cap);
        PAIR("daily_cap", nums->v[0]);
    }
    if (set & STORE_KEY_SET_MONTHLY_CAP) {
        num_or_empty(nums->v[1], sizeof(nums->v[1]), spec->monthly_cap);
        PAIR("monthly_cap", nums->v[1]);
    }
    if (set & STORE_KEY_SET_PER_RECIPIENT_CAP) {
        num_or_empty(nums->v[2], sizeof(nums->v[2]), spec->per_recipient_cap);
        PAIR("per_recipient_cap", nums->v[2]);
    }
    if (set & STORE_KEY_SET_RATE) {
        num_or_empty(nums->v[3], sizeof(nums->v[3]), spec->rate_limit);
        PAIR("rate_limit", nums->v[3]);
        if (spec->rate_limit >= 0) {
            num_or_empty(nums->v[4], sizeof(nums->v[4]), spec->rate_window_ms);
            PAIR("rate_window_ms", nums->v[4]);
        } else {
            *del = "rate_window_ms";
        }
    }
    if (set & STORE_KEY_SET_DEDUPE) {
        num_or_empty(nums->v[5], sizeof(nums->v[5]), spec->dedupe_window_ms);
        PAIR("dedupe_window_ms", nums->v[5]);
    }
    if (set & STORE_KEY_SET_ALERT_AT)
        PAIR("alert_at", spec->alert_at);
    if (set & STORE_KEY_SET_ROTATE_AFTER) {
        snprintf(nums->v[6], sizeof(nums->v[6]), "%lld", (long long)spec->rotate_after_ms);
        PAIR("rotate_after_ms", nums->v[6]);
    }
    if (set & STORE_KEY_SET_OVERSIGHT)
        PAIR("oversight", spec->oversight);
    if (set & STORE_KEY_SET_HOLD_TTL) {
        snprintf(nums->v[7], sizeof(nums->v[7]), "%lld", (long long)spec->hold_ttl_ms);
        PAIR("hold_ttl_ms", nums->v[7]);
    }
    if (set & STORE_KEY_SET_FROM_DOMAINS)
        PAIR("from_domains", spec->from_domains);
    if (set & STORE_KEY_SET_TO_DOMAINS)
        PAIR("to_domains", spec->to_domains);
#undef PAIR
    *n = i;
}

/* Oversight fields are written only when given: a key without them is
 * auto, with the default hold TTL (store/keys.h). */
#define OPTIONAL_SETS (STORE_KEY_SET_OVERSIGHT | STORE_KEY_SET_HOLD_TTL)

int
store_keys_issue(struct store_conn *c, const struct store_key_spec *spec, char *vault_key,
                 size_t vklen, struct store_key *out, char *err, size_t errlen)
{
    char id[STORE_KEY_ID_MAX], hash[SC_KEY_HASH_HEX], k_up[128], k_vk[128], k_id[128];
    char exp_at[24], exp_in[24];
    const char *args[48], *del;
    struct store_key_spec all = *spec;
    struct spec_nums nums;
    int n = 0, ret = -1;
    redisReply *r = NULL;

    memcpy(id, "key_", 4);
    if (store_secret_random_base62(id + 4, SC_KEY_ID_CHARS) != 0 ||
        store_secret_vault_key_new(vault_key, vklen) != 0) {
        snprintf(err, errlen, "the system random generator failed");
        return -1;
    }
    store_secret_key_hash(vault_key, strlen(vault_key), hash);
    snprintf(k_up, sizeof(k_up), "sc:up:%s", spec->upstream);
    snprintf(k_vk, sizeof(k_vk), "sc:vk:%s", hash);
    snprintf(k_id, sizeof(k_id), "sc:id:%s", id);
    snprintf(exp_at, sizeof(exp_at), "%lld", (long long)spec->expires_at_ms);
    snprintf(exp_in, sizeof(exp_in), "%lld", (long long)spec->expires_in_ms);

    args[n++] = k_up;
    args[n++] = k_vk;
    args[n++] = k_id;
    args[n++] = id;
    args[n++] = hash;
    args[n++] = spec->upstream;
    args[n++] = exp_at;
    args[n++] = exp_in;
    args[n++] = "hash";
    args[n++] = hash;
    /* Every policy field is written; the dedupe window, the alert percents
     * and rotate-after only when given, so a key without them follows the
     * defaults (store/keys.h). */
    all.set = ~(unsigned)(STORE_KEY_SET_DEDUPE | STORE_KEY_SET_ALERT_AT |
                          STORE_KEY_SET_ROTATE_AFTER | STORE_KEY_SET_EXPIRY | OPTIONAL_SETS) |
              (spec->set & (STORE_KEY_SET_DEDUPE | STORE_KEY_SET_ALERT_AT |
                            STORE_KEY_SET_ROTATE_AFTER | OPTIONAL_SETS));
    spec_fields(&all, &nums, args, &n, &del);
    (void)del; /* a new record has no window to remove */

    r = store_redis_eval(c, STORE_SCRIPT_KEY_ISSUE, 3, n, args, err, errlen);
    if (r == NULL) {
        if (strstr(err, "ERR_NO_UPSTREAM") != NULL) {
            snprintf(err, errlen, "no upstream named '%s' (add it with 'sendcap upstream add')",
                     spec->upstream);
            ret = STORE_ERR_NOT_FOUND;
        }
        goto fail;
    }
    freeReplyObject(r);
    r = NULL;
    if (store_keys_get(c, id, out, err, errlen) != 0) {
        if (err[0] == '\0')
            snprintf(err, errlen, "the new key %s could not be read back", id);
        goto fail;
    }
    ret = 0;
fail:
    if (ret != 0)
        store_secret_wipe(vault_key, vklen);
    store_secret_wipe(hash, sizeof(hash));
    return ret;
}

int
store_keys_get(struct store_conn *c, const char *id, struct store_key *out, char *err,
               size_t errlen)
{
    redisReply *r;
    char hash[SC_KEY_HASH_HEX];

    err[0] = '\0';
    if (strlen(id) >= STORE_KEY_ID_MAX || strncmp(id, "key_", 4) != 0)
        return 1;
    r = store_redis_cmd(c, err, errlen, "GET sc:id:%s", id);
    if (r == NULL)
        return -1;
    if (r->type != REDIS_REPLY_STRING || r->len != 64) {
        freeReplyObject(r);
        return 1;
    }
    memcpy(hash, r->str, 64);
    hash[64] = '\0';
    freeReplyObject(r);
    r = store_redis_cmd(c, err, errlen, "HGETALL sc:vk:%s", hash);
    if (r == NULL)
        return -1;
    if (r->elements == 0) {
        freeReplyObject(r);
        return 1;
    }
    if (store_keys_from_reply(r, out) != 0) {
        freeReplyObject(r);
        snprintf(err, errlen, "key record %s is malformed", id);
        return -1;
    }
    freeReplyObject(r);
    return 0;
}

int
store_keys_each(struct store_conn *c, int (*fn)(const struct store_key *, void *), void *arg,
                char *err, size_t errlen)
{
    redisReply *ids = store_redis_cmd(c, err, errlen, "ZRANGE sc:keys 0 -1");
    struct store_key *rec = malloc(sizeof(*rec));
    int ret = -1;

    if (ids == NULL || rec == NULL) {
        if (rec == NULL)
            snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < ids->elements; i++) {
        int r = store_keys_get(c, ids->element[i]->str, rec, err, errlen);
        if (r < 0)
            goto fail;
        if (r == 0 && fn(rec, arg) != 0)
            break;
    }
    ret = 0;
fail:
    if (ids != NULL)
        freeReplyObject(ids);
    free(rec);
    return ret;
}

int
store_keys_revoke(struct store_conn *c, const char *id, int64_t *revoked_at, int *already,
                  char *err, size_t errlen)
{
    struct store_key rec;
    char k_vk[128];
    const char *args[1];
    redisReply *r;
    int g = store_keys_get(c, id, &rec, err, errlen);

    if (g != 0)
        return g;
    snprintf(k_vk, sizeof(k_vk), "sc:vk:%s", rec.hash);
    args[0] = k_vk;
    r = store_redis_eval(c, STORE_SCRIPT_KEY_REVOKE, 1, 1, args, err, errlen);
    if (r == NULL)
        return strstr(err, "ERR_NO_KEY") != NULL ? 1 : -1;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[1]->type != REDIS_REPLY_STRING ||
        sc_parse_i64(r->element[1]->str, 0, INT64_MAX, revoked_at) != 0) {
        freeReplyObject(r);
        snprintf(err, errlen, "redis: unexpected reply from key_revoke");
        return -1;
    }
    *already = r->element[0]->integer == 0;
    freeReplyObject(r);
    return 0;
}

int
store_keys_update(struct store_conn *c, const char *id, const struct store_key_spec *spec,
                  struct store_key *before, struct store_key *after, char *err, size_t errlen)
{
    char k_vk[128], exp_at[24] = "", exp_in[24] = "0";
    const char *args[48], *del;
    struct spec_nums nums;
    redisReply *r;
    int n = 0, ret = store_keys_get(c, id, before, err, errlen);

    if (ret != 0)
        return ret;
    snprintf(k_vk, sizeof(k_vk), "sc:vk:%s", before->hash);
    if (spec->set & STORE_KEY_SET_EXPIRY) {
        if (spec->expires_in_ms > 0)
            snprintf(exp_in, sizeof(exp_in), "%lld", (long long)spec->expires_in_ms);
        else
            snprintf(exp_at, sizeof(exp_at), "%lld", (long long)spec->expires_at_ms);
    }
    args[n++] = k_vk;
    args[n++] = exp_at;
    args[n++] = exp_in;
    args[n++] = ""; /* fields to remove: set below */
    spec_fields(spec, &nums, args, &n, &del);
    if (del != NULL)
        args[3] = del;
    r = store_redis_eval(c, STORE_SCRIPT_KEY_UPDATE, 1, n, args, err, errlen);
    if (r == NULL) {
        if (strstr(err, "ERR_NO_KEY"))
            return 1;
        if (strstr(err, "ERR_REVOKED"))
            snprintf(err, errlen, "key %s is revoked; a revoked key cannot be changed", id);
        else if (strstr(err, "ERR_EXPIRED"))
            snprintf(err, errlen, "key %s has expired; issue a new key instead", id);
        return -1;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        store_keys_from_reply(r->element[0], before) != 0 ||
        store_keys_from_reply(r->element[1], after) != 0) {
        freeReplyObject(r);
        snprintf(err, errlen, "redis: unexpected reply from key_update");
        return -1;
    }
    freeReplyObject(r);
    return 0;
}

const char *
store_keys_status(const struct store_key *k, int64_t now_ms)
{
    if (k->revoked_at > 0)
        return "revoked";
    if (k->expires_at > 0 && now_ms >= k->expires_at)
        return "expired";
    return "active";
}

int
store_keys_rotate(struct store_conn *c, const char *id, int64_t grace_ms, char *vault_key,
                  size_t vklen, struct store_key *out, int64_t *old_expires, char *err,
                  size_t errlen)
{
    struct store_key old;
    char nid[STORE_KEY_ID_MAX], hash[SC_KEY_HASH_HEX], k_old[128], k_new[128], k_id[128], g[24];
    const char *args[6];
    redisReply *r;
    int ret = store_keys_get(c, id, &old, err, errlen);

    if (ret != 0)
        return ret;
    memcpy(nid, "key_", 4);
    if (store_secret_random_base62(nid + 4, SC_KEY_ID_CHARS) != 0 ||
        store_secret_vault_key_new(vault_key, vklen) != 0) {
        snprintf(err, errlen, "the system random generator failed");
        return -1;
    }
    store_secret_key_hash(vault_key, strlen(vault_key), hash);
    snprintf(k_old, sizeof(k_old), "sc:vk:%s", old.hash);
    snprintf(k_new, sizeof(k_new), "sc:vk:%s", hash);
    snprintf(k_id, sizeof(k_id), "sc:id:%s", nid);
    snprintf(g, sizeof(g), "%lld", (long long)grace_ms);
    args[0] = k_old;
    args[1] = k_new;
    args[2] = k_id;
    args[3] = nid;
    args[4] = hash;
    args[5] = g;
    r = store_redis_eval(c, STORE_SCRIPT_KEY_ROTATE, 3, 6, args, err, errlen);
    if (r == NULL) {
        store_secret_wipe(vault_key, vklen);
        if (strstr(err, "ERR_REVOKED"))
            snprintf(err, errlen, "key %s is revoked; issue a new key instead", id);
        else if (strstr(err, "ERR_EXPIRED"))
            snprintf(err, errlen, "key %s has expired; issue a new key instead", id);
        return strstr(err, "ERR_NO_KEY") ? 1 : -1;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        sc_parse_i64(r->element[1]->str, 0, INT64_MAX, old_expires) != 0) {
        freeReplyObject(r);
        store_secret_wipe(vault_key, vklen);
        snprintf(err, errlen, "redis: unexpected reply from key_rotate");
        return -1;
    }
    freeReplyObject(r);
    if (store_keys_get(c, nid, out, err, errlen) != 0) {
        if (err[0] == '\0')
            snprintf(err, errlen, "the new key %s could not be read back", nid);
        return -1;
    }
    return 0;
}
