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
    case STORE_CALL_WHOAMI:
        return "whoami";
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

/* {"who", id, now_ms, name, expires_at, daily_cap, daily_used, monthly_cap,
 *  monthly_used, month_reset_ms, per_recipient_cap, rate_limit,
 *  rate_window_ms, rate_used, rate_reset_ms, dedupe_window_ms, alert_at};
 * "" (no such control) reads as -1. */
static void
who(const redisReply *r, struct store_call_result *out)
{
    struct store_call_usage *u = &out->who;
    int64_t *num[] = {&u->daily_cap,     &u->daily_used,      &u->monthly_cap,
                      &u->monthly_used,  &u->month_reset_ms,  &u->per_recipient_cap,
                      &u->rate_limit,    &u->rate_window_ms,  &u->rate_used,
                      &u->rate_reset_ms, &u->dedupe_window_ms};

    out->kind = STORE_CALL_USAGE;
    i64_el(r, 2, 0, INT64_MAX, &out->now_ms);
    str_el(r, 3, u->name, sizeof(u->name));
    i64_el(r, 4, 0, INT64_MAX, &u->expires_at);
    for (size_t i = 0; i < sizeof(num) / sizeof(num[0]); i++) {
        *num[i] = -1;
        i64_el(r, 5 + i, 0, INT64_MAX, num[i]);
    }
    str_el(r, 16, u->alert_at, sizeof(u->alert_at));
}

void
store_call_reply_parse(const redisReply *r, const char *key_hash, struct store_call_result *out,
                       struct store_key *key)
{
    char kind[16];
    redisReply el[16], *elp[16], flat;

    memset(out, 0, sizeof(*out));
    out->kind = STORE_CALL_BAD_REPLY;
    out->remaining = -1;
    if (r != NULL && r->type == REDIS_REPLY_STRING) {
        /* "ok" and "held" come as one string, their elements joined by
         * newlines (none holds one): Redis builds a table reply element
         * by element, a string at once.  Read as the array it stands for. */
        const char *p = r->str, *end = r->str + r->len;
        memset(&flat, 0, sizeof(flat));
        flat.type = REDIS_REPLY_ARRAY;
        flat.element = elp;
        for (;;) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            if (flat.elements == sizeof(el) / sizeof(el[0]))
                return;
            memset(&el[flat.elements], 0, sizeof(el[0]));
            el[flat.elements].type = REDIS_REPLY_STRING;
            el[flat.elements].str = (char *)p;
            el[flat.elements].len = (size_t)((nl ? nl : end) - p);
            elp[flat.elements] = &el[flat.elements];
            flat.elements++;
            if (nl == NULL)
                break;
            p = nl + 1;
        }
        /* Only the full shape of those two: anything else is not ours. */
        if (flat.elements != 11 ||
            (memcmp(r->str, "ok\n", 3) != 0 && memcmp(r->str, "held\n", 5) != 0))
            return;
        r = &flat;
    }
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
    if (strcmp(kind, "ok") == 0 || strcmp(kind, "held") == 0) {
        /* {"ok", id, now_ms, counter_key, used_after, idem_key, idem_value} */
        out->kind = kind[0] == 'o' ? STORE_CALL_OK : STORE_CALL_HELD;
        i64_el(r, 2, 0, INT64_MAX, &out->now_ms);
        str_el(r, 3, out->counter_key, sizeof(out->counter_key));
        i64_el(r, 4, INT64_MIN, INT64_MAX, &out->used);
        str_el(r, 5, out->idem_key, sizeof(out->idem_key));
        str_el(r, 6, out->idem_value, sizeof(out->idem_value));
        /* ..., monthly_key, remaining, rcpt_prefix, dedupe_prefix} */
        str_el(r, 7, out->monthly_key, sizeof(out->monthly_key));
        i64_el(r, 8, 0, INT64_MAX, &out->remaining);
        str_el(r, 9, out->rcpt_prefix, sizeof(out->rcpt_prefix));
        str_el(r, 10, out->dedupe_prefix, sizeof(out->dedupe_prefix));
    } else if (strcmp(kind, "mcap") == 0) {
        /* {"mcap", id, used, cap, now_ms, reset_ms, event_id} */
        out->kind = STORE_CALL_MONTHLY_CAP;
        i64_el(r, 2, INT64_MIN, INT64_MAX, &out->used);
        i64_el(r, 3, INT64_MIN, INT64_MAX, &out->cap);
        i64_el(r, 4, 0, INT64_MAX, &out->now_ms);
        i64_el(r, 5, 0, INT64_MAX, &out->reset_ms);
        str_el(r, 6, out->cap_event, sizeof(out->cap_event));
    } else if (strcmp(kind, "rcap") == 0) {
        /* {"rcap", id, position (1-based), used, cap, now_ms} */
        out->kind = STORE_CALL_RCPT_CAP;
        i64_el(r, 2, 1, INT64_MAX, &out->position);
        out->position--;
        i64_el(r, 3, INT64_MIN, INT64_MAX, &out->used);
        i64_el(r, 4, INT64_MIN, INT64_MAX, &out->cap);
        i64_el(r, 5, 0, INT64_MAX, &out->now_ms);
    } else if (strcmp(kind, "rate") == 0) {
        /* {"rate", id, limit, window_ms, used, reset_ms, now_ms} */
        out->kind = STORE_CALL_RATE;
        i64_el(r, 2, 0, INT64_MAX, &out->cap);
        i64_el(r, 3, 0, INT64_MAX, &out->window_ms);
        i64_el(r, 4, 0, INT64_MAX, &out->used);
        i64_el(r, 5, 0, INT64_MAX, &out->reset_ms);
        i64_el(r, 6, 0, INT64_MAX, &out->now_ms);
    } else if (strcmp(kind, "dup") == 0) {
        /* {"dup", id, message, earlier value, earlier message or -1} */
        out->kind = STORE_CALL_DUPLICATE;
        out->earlier_msg = -1;
        i64_el(r, 2, 0, INT64_MAX, &out->position);
        str_el(r, 3, out->earlier, sizeof(out->earlier));
        i64_el(r, 4, -1, INT64_MAX, &out->earlier_msg);
    } else if (strcmp(kind, "heldget") == 0) {
        /* {"heldget", id, now_ms, status, email_id, error} */
        out->kind = STORE_CALL_HELD_STATUS;
        i64_el(r, 2, 0, INT64_MAX, &out->now_ms);
        str_el(r, 3, out->held_status, sizeof(out->held_status));
        str_el(r, 4, out->held_email, sizeof(out->held_email));
        str_el(r, 5, out->held_error, sizeof(out->held_error));
    } else if (strcmp(kind, "who") == 0) {
        who(r, out);
    } else if (strcmp(kind, "revoked") == 0 || strcmp(kind, "expired") == 0) {
        /* {kind, id, at_ms, now_ms} */
        out->kind = kind[0] == 'r' ? STORE_CALL_REVOKED : STORE_CALL_EXPIRED;
        i64_el(r, 2, 0, INT64_MAX, &out->at_ms);
        i64_el(r, 3, 0, INT64_MAX, &out->now_ms);
    } else if (strcmp(kind, "no_upstream") == 0) {
        out->kind = STORE_CALL_NO_UPSTREAM; /* {kind, id, upstream} */
    } else if (strcmp(kind, "heldfull") == 0) {
        /* {"heldfull", id, waiting, bytes, now_ms} */
        out->kind = STORE_CALL_HELD_FULL;
        i64_el(r, 2, 0, INT64_MAX, &out->used);
        i64_el(r, 3, 0, INT64_MAX, &out->cap);
        i64_el(r, 4, 0, INT64_MAX, &out->now_ms);
    } else if (strcmp(kind, "not_own") == 0) {
        out->kind = STORE_CALL_NOT_OWN; /* {kind, id} */
    } else if (strcmp(kind, "cap") == 0) {
        /* {"cap", id, used, cap, now_ms, event_id} */
        out->kind = STORE_CALL_CAP;
        i64_el(r, 2, INT64_MIN, INT64_MAX, &out->used);
        i64_el(r, 3, INT64_MIN, INT64_MAX, &out->cap);
        i64_el(r, 4, 0, INT64_MAX, &out->now_ms);
        str_el(r, 5, out->cap_event, sizeof(out->cap_event));
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

/* The messages as call.lua's ARGV[11..12]: facts hashes back to back, and
 * the address hashes back to back (two arguments whatever the batch: a
 * script takes at most STORE_REDIS_MAX_ARGS).  New strings in out[0..1]
 * (caller frees), or -1. */
static int
pack_msgs(const struct store_call_req *req, char *out[2])
{
    size_t nrcpt = 0, h = SC_KEY_HASH_HEX - 1, of = 0, orc = 0;

    for (size_t i = 0; i < req->nmsg; i++)
        nrcpt += req->msgs[i].nrcpt;
    out[0] = malloc(req->nmsg * h + 1);
    out[1] = malloc(nrcpt * h + 1);
    if (out[0] == NULL || out[1] == NULL)
        return -1;
    for (size_t i = 0; i < req->nmsg; i++) {
        if (req->msgs[i].facts_hash != NULL) { /* none: the key has no dedupe window */
            memcpy(out[0] + of, req->msgs[i].facts_hash, h);
            of += h;
        }
        for (size_t j = 0; j < req->msgs[i].nrcpt; j++, orc += h)
            memcpy(out[1] + orc, req->msgs[i].rcpt_hashes[j], h);
    }
    out[0][of] = out[1][orc] = '\0';
    return 0;
}

static const char *
opt_i64(char buf[24], int64_t v)
{
    if (v < 0)
        return "";
    return sc_fmt_i64(buf, v);
}

int
store_call_key_view(const struct store_key *rec, char *out, size_t len)
{
    char cap[24], mcap[24], pcap[24], rate[24], rwin[24], ddw[24];
    const char *text[] = {rec->id, rec->upstream, rec->family, rec->scope, rec->oversight};
    int n;

    for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++)
        if (strchr(text[i], '|') != NULL)
            return -1;
    /* call.lua's order: id, upstream, family, daily_cap, scope,
     * monthly_cap, per_recipient_cap, rate_limit, rate_window_ms,
     * dedupe_window_ms, oversight; "" for a control the key lacks. */
    n = snprintf(out, len, "%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|", rec->id, rec->upstream, rec->family,
                 opt_i64(cap, rec->daily_cap), rec->scope, opt_i64(mcap, rec->monthly_cap),
                 opt_i64(pcap, rec->per_recipient_cap), opt_i64(rate, rec->rate_limit),
                 rec->rate_limit >= 0 ? sc_fmt_i64(rwin, rec->rate_window_ms) : "",
                 sc_fmt_i64(ddw, rec->dedupe_window_ms), rec->oversight);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

int
store_call_check(struct store_async *as, const struct store_call_req *req, store_call_cb *cb,
                 void *arg, const char **errstr)
{
    char key[80], sends[24], ttl[24] = "", hold[24];
    char hmax[24], hbytes[24];
    const char *argv[22];
    char *msgs[2] = {NULL, NULL};
    int intent = req->intent != NULL && req->intent[0] != '\0', ret = -1;
    struct pending *p = malloc(sizeof(*p));

    if (p == NULL || pack_msgs(req, msgs) != 0) {
        *errstr = "out of memory";
        goto done;
    }
    p->cb = cb;
    p->arg = arg;
    sc_strlcpy(p->hash, req->key_hash, sizeof(p->hash));
    sc_cat(key, sizeof(key), "sc:vk:", req->key_hash, NULL);
    if (intent)
        sc_fmt_i64(ttl, req->intent_ttl_s);
    argv[0] = key;
    argv[1] = req->gen ? req->gen : "";
    argv[2] = req->upstream_ver ? req->upstream_ver : "";
    argv[3] = mode_name(req->mode);
    argv[4] = sc_fmt_i64(sends, req->sends);
    argv[5] = req->email_id ? req->email_id : "";
    /* The request id names the call's rate slot in every mode. */
    argv[6] = req->request_id ? req->request_id : "";
    argv[7] = ttl;
    argv[8] = intent ? req->intent : "";
    argv[9] = req->idem_hash ? req->idem_hash : "";
    argv[10] = req->body_hash ? req->body_hash : "";
    argv[11] = msgs[0];
    argv[12] = msgs[1];
    argv[13] = req->mode == STORE_CALL_DENY && req->deny_reason ? req->deny_reason : "";
    argv[14] = sc_fmt_i64(hold, req->hold_ms);
    argv[15] = req->held_id ? req->held_id : "";
    argv[16] = req->held_sealed ? req->held_sealed : "";
    argv[17] = req->from_domain ? req->from_domain : "";
    argv[18] = req->route ? req->route : "";
    argv[19] = sc_fmt_i64(hmax, SC_HELD_FAMILY_MAX);
    argv[20] = sc_fmt_i64(hbytes, SC_HELD_FAMILY_BYTES);
    argv[21] = req->key_view ? req->key_view : "";
    if (store_redis_async_eval(as, STORE_SCRIPT_CALL, 1, 22, argv, NULL, replied, p, errstr) == 0) {
        p = NULL; /* replied() frees it */
        ret = 0;
    }
done:
    free(msgs[0]);
    free(msgs[1]);
    free(p);
    return ret;
}
