/*
 * call.c - the life of one proxied call.
 *
 *   target check -> route -> vault key -> send facts (policy/, pure) ->
 *   decision on the cached key record -> call.lua (one Redis round trip:
 *   exists, revoked, expired, cache current, own email, reserve the sends
 *   against the daily cap) -> forward through libcurl -> settle (refund a
 *   definite non-send, remember the email ids; queued on Redis before the
 *   answer is written, never waited for) -> relay the answer.
 *
 * A refused call also makes the round trip (mode "deny"), so revocation,
 * expiry and unknown keys take precedence over every other refusal.
 *
 * A cold or outdated cache makes call.lua answer "stale" with the current
 * record and sealed real key instead; the record is cached, policy runs
 * again and call.lua is asked again (at most SC_KEY_STALE_RETRIES times).  Nothing
 * here blocks: Redis and the upstream are asynchronous on the same loop.
 *
 * Fail closed: Redis down or late, a record that does not parse, a real key
 * that does not decrypt -> 503 and nothing forwarded.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"
#include "proxy.h"
#include "store/audit.h"
#include "store/call.h"
#include "store/held.h"
#include "store/upstreams.h"

struct call {
    struct proxy *px;
    struct proxy_http_request *req;
    char id[32];
    char *path;        /* normalised path, prefix stripped */
    const char *query; /* "?..." or "" (points into target) */
    const struct policy_route *route;
    char hash[SC_KEY_HASH_HEX];
    char key_id[40];
    int stale_tries;
    int looking_up; /* head phase: call.lua asked only whether the key is live */
    int live;       /* call.lua found the key live (not unknown, revoked, expired) */
    int64_t t0;
    int64_t t0_us, redis_t0_us;

    int is_send;
    int reads_body;               /* a send, or a body naming a sender: checked as JSON */
    struct policy_send send;      /* facts of a send body */
    struct policy_sender *sender; /* from, reply_to of a template/broadcast body */
    struct policy_decision dec;   /* on the record the script confirms */
    const char *idem_error;       /* a bad Idempotency-Key, refused as 422 */
    int req_status;               /* a refusal of the request itself (415, 422), */
    const char *req_error;        /* answered once the script confirmed the key */
    char email_id[128];           /* the email an own-email route touches */

    /* Copied from the cache entry the script confirmed current: the entry
     * may be replaced while the call waits on Redis or Resend. */
    char family[40];
    char *real_key; /* wiped on free */
    char *from_domains, *to_domains;

    enum policy_scope scope;
    /* SPEC §5: the send's messages for call.lua, hashed once per call: the
     * facts hashes (nmsg), then every to/cc/bcc address's (nrcpt);
     * rcpt_addr maps an address hash's position to its send.addr index. */
    struct store_call_msg *msgs;
    char (*hashes)[SC_KEY_HASH_HEX];
    const char **rcpt_ptrs;
    size_t *rcpt_addr, nrcpt;
    int hashed_facts, hashed_rcpt; /* what c->msgs holds */
    /* What call.lua took besides the daily counter, for the refund. */
    char monthly_key[160], rcpt_prefix[160], dedupe_prefix[160];
    int64_t remaining; /* X-Sendcap-Quota-Remaining, -1: no cap */
    char *rcpt_given, *dedupe_ops;
    char counter_key[160];             /* where the sends were reserved ("": a replay) */
    char idem_key[160], idem_val[128]; /* the replay record call.lua set for us */
    int64_t reserved;
    int64_t refund; /* given back when Resend did not accept */
    char **ids;     /* email ids Resend returned */
    size_t nids;
    int recorded;               /* the call record is queued */
    struct store_audit_rec rec; /* the request's facts, filled once (intent, then final) */
    int rec_filled;

    /* For the call record (store/audit.h), captured while req is alive. */
    int64_t t_wall;
    char *method, *target, *ua, *claimed_run, *agent_run, *client;
    int status, ust, gone;
    char *intent; /* the audit intent call.lua wrote (its sc:intents member), NULL if none */
    int64_t ulat;
    const char *decision, *reason;
    char *email_ids;
    struct store_call_result *held; /* a cap's answer waiting on its event */
    /* SPEC §7: a send of a gated key, sealed once for call.lua, which
     * decides whether it is held. */
    char held_id[STORE_HELD_ID_MAX];
    int holds; /* the key is gated (or gated-new-recipients) */
    char *held_sealed;
};

static void write_record(struct call *c);
static void settle_controls(struct call *c, const unsigned char *given);
static int64_t limit_headers(struct call *c, int64_t limit, int64_t used, int64_t now,
                             int64_t reset_ms);
static void fill_record(const struct call *c, struct store_audit_rec *rec);

/* Frees only: a call is recorded and answered by finish() first. */
static void
call_free(struct call *c)
{
    if (c == NULL)
        return;
    free(c->method);
    free(c->target);
    free(c->ua);
    free(c->claimed_run);
    free(c->agent_run);
    free(c->client);
    free(c->email_ids);
    free(c->msgs);
    free(c->hashes);
    free(c->rcpt_ptrs);
    free(c->rcpt_addr);
    free(c->rcpt_given);
    free(c->dedupe_ops);
    store_audit_clear(&c->rec);
    for (size_t i = 0; i < c->nids; i++)
        free(c->ids[i]);
    free(c->ids);
    free(c->path);
    policy_send_free(&c->send);
    free(c->sender);
    store_secret_free(c->real_key);
    free(c->from_domains);
    free(c->to_domains);
    free(c->held);
    free(c->held_sealed);
    free(c->intent);
    free(c);
}

/*
 * The one way a call ends, whatever ended it (SPEC §4: the record is
 * queued before the answer is written, so the agent's next call finds its
 * email's owner and its refund): fill and queue the call record (with a
 * send's settlement), then answer (the upstream's answer res, or the
 * proxy's own error name and msg), then free the call.  c->status is set.
 */
static void
finish(struct call *c, const struct proxy_upstream_result *res, const char *name, const char *msg)
{
    c->gone = proxy_http_client_gone(c->req);
    write_record(c);
    if (res != NULL)
        proxy_http_respond(c->req, c->status, res->body, res->body_len);
    else /* name and msg are set with res NULL (an optimiser cannot tell) */
        proxy_reply_error(c->req, c->id, c->status, name ? name : "service_unavailable", "%s",
                          msg ? msg : "internal error");
    call_free(c);
}

/* finish() without a call: there was no memory for one, so there is
 * nothing to record either. */
static void
finish_bare(struct proxy_http_request *req, const char *msg)
{
    proxy_reply_error(req, "req_unavailable", 503, "service_unavailable", "%s", msg);
}

/* End the call with an error of the proxy's own (noted for the record). */
static void __attribute__((format(printf, 4, 5)))
fail(struct call *c, int status, const char *name, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    c->status = status;
    if (c->reason == NULL)
        c->reason = policy_reason_of_error(status, name);
    c->decision = status >= 500 ? "error" : "denied";
    finish(c, NULL, name, msg);
}

/* Resend ids are UUIDs; accept the safe characters of any id scheme. */
static int
id_ok(const char *s, size_t n)
{
    if (n == 0 || n >= 128)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '_'))
            return 0;
    return 1;
}

static void
add_id(struct call *c, const char *s, size_t n)
{
    char **ids;

    if (!id_ok(s, n) || c->nids >= POLICY_BATCH_MAX)
        return;
    ids = realloc(c->ids, (c->nids + 1) * sizeof(*ids));
    if (ids == NULL)
        return;
    c->ids = ids;
    if ((c->ids[c->nids] = strndup(s, n)) != NULL)
        c->nids++;
}

static enum policy_outcome
outcome_of(enum proxy_upstream_outcome o)
{
    switch (o) {
    case PROXY_UPSTREAM_ANSWERED:
        return POLICY_OUTCOME_ANSWERED;
    case PROXY_UPSTREAM_NOT_SENT:
        return POLICY_OUTCOME_NOT_SENT;
    case PROXY_UPSTREAM_FAILED:
        return POLICY_OUTCOME_FAILED;
    case PROXY_UPSTREAM_TIMEOUT:
        break;
    }
    return POLICY_OUTCOME_TIMEOUT;
}

/*
 * After Resend answered a send: what to give back of the reservation
 * (policy_settle_refund, from the indexes a permissive batch lists under
 * "errors"), and the ids it returned.  Applied with the call's record by
 * log_write.lua, queued before the answer to the agent is written.
 */
static void
settle(struct call *c, const struct proxy_upstream_result *res)
{
    json_t *root = NULL;
    int64_t *errs = NULL;
    size_t nerr = 0;
    /* One entry per message: a send holds at most POLICY_BATCH_MAX
     * (policy_send_parse refuses more). */
    unsigned char given[POLICY_BATCH_MAX] = {0};

    if (!c->is_send)
        return;
    if (res->outcome == PROXY_UPSTREAM_ANSWERED && res->status >= 200 && res->status < 300 &&
        (root = json_loadb(res->body, res->body_len, 0, NULL)) != NULL) {
        size_t i;
        json_t *el, *errors = json_object_get(root, "errors");

        if (!c->send.batch) {
            json_t *id = json_object_get(root, "id");
            if (json_is_string(id))
                add_id(c, json_string_value(id), json_string_length(id));
        } else {
            json_array_foreach(json_object_get(root, "data"), i, el)
            {
                json_t *id = json_object_get(el, "id");
                if (json_is_string(id))
                    add_id(c, json_string_value(id), json_string_length(id));
            }
            /* Out of memory here gives nothing back: the reservation is
             * kept, which never lets the cap be passed. */
            if (json_array_size(errors) > 0 &&
                (errs = malloc(json_array_size(errors) * sizeof(*errs))) != NULL) {
                json_array_foreach(errors, i, el)
                {
                    json_t *ix = json_object_get(el, "index");
                    errs[nerr++] = json_is_integer(ix) ? json_integer_value(ix) : -1;
                }
            }
        }
    }
    c->refund = policy_settle_refund(&c->send, outcome_of(res->outcome), res->status, c->reserved,
                                     errs, nerr, given);
    if (c->reserved > 0)
        settle_controls(c, given);
    free(errs);
    json_decref(root);
    if (c->nids > 0) { /* comma-joined for the record */
        size_t total = 0, o = 0;
        for (size_t i = 0; i < c->nids; i++)
            total += strlen(c->ids[i]) + 1;
        if ((c->email_ids = malloc(total)) != NULL) {
            for (size_t i = 0; i < c->nids; i++) {
                size_t n = strlen(c->ids[i]);
                memcpy(c->email_ids + o, c->ids[i], n);
                o += n;
                c->email_ids[o++] = ',';
            }
            c->email_ids[o - 1] = '\0';
        }
    }
}

/*
 * What the controls of SPEC §5 give back with the refund: each refunded
 * message's per-recipient counts, and its dedupe record (not sent: a retry
 * may go); a message Resend accepted has its email id added to its dedupe
 * record, so a later duplicate_send names it.  Ids come back in the order
 * of the messages Resend accepted.  Out of memory gives nothing back (the
 * counters may run ahead, never behind).
 */
static void
settle_controls(struct call *c, const unsigned char *given)
{
    const struct policy_send *s = &c->send;
    size_t h = SC_KEY_HASH_HEX - 1, og = 0, od = 0, id = 0;

    if (c->msgs == NULL || (!c->hashed_facts && !c->hashed_rcpt))
        return; /* nothing of these controls to settle */
    c->rcpt_given = malloc(c->nrcpt * h + 1);
    c->dedupe_ops = malloc(s->nmsg * (h + 130) + 1);
    if (c->rcpt_given == NULL || c->dedupe_ops == NULL) { /* give back nothing: never behind */
        free(c->rcpt_given);
        free(c->dedupe_ops);
        c->rcpt_given = c->dedupe_ops = NULL;
        return;
    }
    for (size_t i = 0; i < s->nmsg; i++) {
        const struct store_call_msg *m = &c->msgs[i];

        if (given[i]) {
            for (size_t j = 0; j < m->nrcpt; j++, og += h)
                memcpy(c->rcpt_given + og, m->rcpt_hashes[j], h);
            if (m->facts_hash != NULL)
                od += sc_cat(c->dedupe_ops + od, s->nmsg * (h + 130) + 1 - od, od ? "," : "",
                             m->facts_hash, NULL);
        } else if (id < c->nids && m->facts_hash != NULL) {
            od += sc_cat(c->dedupe_ops + od, s->nmsg * (h + 130) + 1 - od, od ? "," : "",
                         m->facts_hash, ":", c->ids[id++], NULL);
        }
    }
    c->rcpt_given[og] = '\0';
    c->dedupe_ops[od] = '\0';
}

static void
upstream_done(const struct proxy_upstream_result *res, void *arg)
{
    struct call *c = arg;
    struct proxy_http_request *req = c->req;

    settle(c, res);
    c->ulat = res->latency_ms;
    proxy_metrics_upstream(c->px->metrics, res->latency_ms * 1000, res->outcome);
    if (res->outcome == PROXY_UPSTREAM_ANSWERED)
        c->ust = (int)res->status;
    switch (res->outcome) {
    case PROXY_UPSTREAM_ANSWERED:
        break;
    case PROXY_UPSTREAM_TIMEOUT:
        sc_warn("%s upstream timed out (%s)", c->id, res->error);
        fail(c, 504, "application_error",
             "Resend did not answer in time; the email may or may not have been sent. "
             "Check before retrying.");
        return;
    case PROXY_UPSTREAM_NOT_SENT:
        sc_warn("%s upstream unreachable: %s", c->id, res->error);
        fail(c, 502, "application_error",
             "sendcap could not reach Resend; nothing was sent. Retry later.");
        return;
    case PROXY_UPSTREAM_FAILED:
        sc_warn("%s upstream failed after sending: %s", c->id, res->error);
        fail(c, 502, "application_error",
             "the connection to Resend failed after the request was sent; the email may or may "
             "not have been sent. Check before retrying.");
        return;
    }
    for (int i = 0; i < res->nhdr; i++) {
        if (policy_header_response_dropped(res->hdr[i].name))
            continue;
        proxy_http_add_header(req, res->hdr[i].name, res->hdr[i].value);
    }
    for (int i = 0; i < res->nhdr; i++)
        if (strcasecmp(res->hdr[i].name, "X-Request-Id") == 0)
            proxy_http_add_header(req, "X-Upstream-Request-Id", res->hdr[i].value);
    proxy_http_add_header(req, "X-Request-Id", c->id);
    if (c->is_send && c->remaining >= 0) {
        char n[24];
        /* What is left once this send's refund (if any) is given back. */
        proxy_http_add_header(req, "X-Sendcap-Quota-Remaining",
                              sc_fmt_i64(n, c->remaining + c->refund));
    }
    sc_debug("%s %s %s -> %ld (%lld ms upstream)", c->id, proxy_http_method(req), c->route->name,
             res->status, (long long)res->latency_ms);
    c->status = (int)res->status;
    c->decision = res->status >= 500 ? "error" : "allowed";
    c->reason =
        policy_proxy_reason(res->status >= 500 ? POLICY_PROXY_UPSTREAM_ERROR : POLICY_PROXY_OK);
    finish(c, res, NULL, NULL);
}

/* "Idempotency-Key: <family>:…" (policy_request_idempotency_value). */
static int
idempotency_line(const struct call *c, const char *value, char *line, size_t len)
{
    char v[SC_IDEMPOTENCY_KEY_MAX + 1];

    if (policy_request_idempotency_value(c->family, value, SC_IDEMPOTENCY_KEY_MAX,
                                         store_secret_key_hash, v, sizeof(v)) != 0)
        return -1;
    return sc_cat(line, len, "Idempotency-Key: ", v, NULL) < len ? 0 : -1;
}

static void
forward(struct call *c)
{
    struct proxy_http_request *req = c->req;
    struct curl_slist *h = NULL, *t;
    const char *name, *value;
    struct evbuffer *body = proxy_http_body(req);
    size_t blen = evbuffer_get_length(body);
    const void *bptr = blen ? evbuffer_pullup(body, -1) : NULL;
    char *pq;
    size_t pql;
    int has_ua = 0;
    char line[1024];

    for (int i = 0; proxy_http_header_at(req, i, &name, &value) == 0; i++) {
        size_t need = strlen(name) + strlen(value) + 3;
        char *l;

        if (policy_header_request_dropped(name, proxy_http_connection_has(req, name)))
            continue;
        /* A body that was checked goes as the JSON it was read as, whatever
         * it was labelled. */
        if (c->reads_body &&
            (strcasecmp(name, "Content-Type") == 0 || strcasecmp(name, "Content-Encoding") == 0))
            continue;
        if (strcasecmp(name, "User-Agent") == 0) {
            if (*value == '\0')
                continue; /* an empty one is replaced by ours */
            has_ua = 1;
        }
        if (strcasecmp(name, "Idempotency-Key") == 0) {
            if (idempotency_line(c, value, line, sizeof(line)) != 0)
                goto nomem;
            if ((t = curl_slist_append(h, line)) == NULL)
                goto nomem;
            h = t;
            continue;
        }
        l = need <= sizeof(line) ? line : malloc(need);
        if (l == NULL)
            goto nomem;
        /* "Name;" is curl's way to send a header with an empty value. */
        if (*value == '\0')
            sc_cat(l, need, name, ";", NULL);
        else
            sc_cat(l, need, name, ": ", value, NULL);
        t = curl_slist_append(h, l);
        if (l != line)
            free(l);
        if (t == NULL)
            goto nomem;
        h = t;
    }
    if (!has_ua && (t = curl_slist_append(h, "User-Agent: sendcap/0.1")) != NULL)
        h = t;
    if ((t = curl_slist_append(h, "Expect:")) != NULL) /* no 100-continue round trip */
        h = t;
    if (c->reads_body) {
        if ((t = curl_slist_append(h, "Content-Type: application/json")) == NULL)
            goto nomem;
        h = t;
    }
    {
        size_t al = strlen(c->real_key) + 24;
        char *auth = malloc(al);
        if (auth == NULL)
            goto nomem;
        sc_cat(auth, al, "Authorization: Bearer ", c->real_key, NULL);
        t = curl_slist_append(h, auth);
        store_secret_wipe(auth, al);
        free(auth);
        if (t == NULL)
            goto nomem;
        h = t;
    }
    pql = strlen(c->path) + strlen(c->query) + 1;
    pq = malloc(pql);
    if (pq == NULL)
        goto nomem;
    sc_cat(pq, pql, c->path, c->query, NULL);
    if (proxy_upstream_start(c->px->upstream, proxy_http_method(req), pq, h, bptr, blen,
                             upstream_done, c) != 0) {
        struct proxy_upstream_result res;
        free(pq);
        memset(&res, 0, sizeof(res));
        res.outcome = PROXY_UPSTREAM_NOT_SENT;
        settle(c, &res);
        fail(c, 503, "service_unavailable", "sendcap could not start the upstream call; retry");
        return;
    }
    free(pq);
    return;
nomem:
    for (struct curl_slist *p = h; p != NULL; p = p->next)
        store_secret_wipe(p->data, strlen(p->data));
    curl_slist_free_all(h);
    {
        struct proxy_upstream_result res;
        memset(&res, 0, sizeof(res));
        res.outcome = PROXY_UPSTREAM_NOT_SENT;
        settle(c, &res);
    }
    fail(c, 503, "service_unavailable", "sendcap is out of memory; retry");
}

static void run_script(struct call *c, const struct proxy_key_entry *e);
static void read_body(struct call *c);
static int call_start(struct call *c);
static void refuse_key(struct call *c, enum proxy_key_state kind, int64_t at);

/* "a.com,*.b.com" -> "a.com, *.b.com" for people. */
static void
list_text(const char *list, char *out, size_t len)
{
    size_t o = 0;

    for (const char *p = list; *p && o + 3 < len; p++) {
        out[o++] = *p;
        if (*p == ',')
            out[o++] = ' ';
    }
    out[o] = '\0';
}

/* Answer a call the policy refused (the script has confirmed the key is
 * live, so this refusal is the one that counts). */
static void
deny_reply(struct call *c)
{
    const struct policy_decision *d = &c->dec;
    char allowed[600];

    switch (d->reason) {
    case POLICY_DENY_FORBIDDEN:
        fail(c, 401, "restricted_api_key",
             "vault key %s cannot call %s: no vault key may reach /api-keys", c->key_id,
             c->route->name);
        break;
    case POLICY_DENY_BLIND_SEND:
        if (c->holds)
            fail(c, 401, "restricted_api_key",
                 "vault key %s cannot call %s: its sends are held for a person's approval, "
                 "and this call would send without one",
                 c->key_id, c->route->name);
        else
            fail(c, 401, "restricted_api_key",
                 "vault key %s cannot call %s: it sends to recipients sendcap cannot "
                 "count or check, and this key has a daily cap, a to-domain list or a "
                 "from-domain list",
                 c->key_id, c->route->name);
        break;
    case POLICY_DENY_SCOPE:
        fail(c, 401, "restricted_api_key",
             "vault key %s has the sending scope and cannot call %s; issue a key "
             "with --scope full for it",
             c->key_id, c->route->name);
        break;
    case POLICY_DENY_INVALID_BODY:
        if (c->req_status != 0)
            fail(c, c->req_status,
                 c->req_status == 503 ? "service_unavailable" : "validation_error",
                 "%s (vault key %s)", c->req_error, c->key_id);
        else if (c->idem_error != NULL && strcmp(d->field, "Idempotency-Key") == 0)
            fail(c, 422, "validation_error", "%s", c->idem_error);
        else
            fail(c, 422, "validation_error", "%s (vault key %s)", c->send.error, c->key_id);
        break;
    case POLICY_DENY_FROM_REQUIRED:
        list_text(c->from_domains, allowed, sizeof(allowed));
        fail(c, 422, "validation_error", "%s is required: vault key %s may only send from %s",
             d->field, c->key_id, allowed);
        break;
    case POLICY_DENY_FROM_DOMAIN:
        list_text(c->from_domains, allowed, sizeof(allowed));
        fail(c, 403, "invalid_from_address",
             "vault key %s may not send from %s (%s); allowed from-domains: %s", c->key_id,
             d->domain, d->field, allowed);
        break;
    case POLICY_DENY_TO_DOMAIN:
        list_text(c->to_domains, allowed, sizeof(allowed));
        fail(c, 403, "invalid_to_address",
             "vault key %s may not send to %s (%s); allowed to-domains: %s; nothing "
             "in this request was sent",
             c->key_id, d->domain, d->field, allowed);
        break;
    case POLICY_ALLOW:
    case POLICY_DENY_CAP:
        fail(c, 503, "service_unavailable", "internal error");
        break;
    }
}

/* The rule key.denied names for a refusal (SPEC §6: a from, to, scope or
 * header rule, the sign of a confused or prompt-injected agent), or NULL
 * for a refusal that is no such sign (a malformed body). */
static const char *
denied_event_reason(const struct call *c)
{
    switch (c->dec.reason) {
    case POLICY_DENY_SCOPE:
    case POLICY_DENY_FORBIDDEN:
    case POLICY_DENY_BLIND_SEND:
        return "scope";
    case POLICY_DENY_FROM_REQUIRED:
        return "from_required";
    case POLICY_DENY_FROM_DOMAIN:
        return "from_domain";
    case POLICY_DENY_TO_DOMAIN:
        return "to_domain";
    case POLICY_DENY_INVALID_BODY:
        return c->is_send && c->req_status == 0 && c->send.header_rule ? "header" : NULL;
    case POLICY_ALLOW:
    case POLICY_DENY_CAP:
        break;
    }
    return NULL;
}

/* Decide on a (possibly cached) record, and keep what the rest of the call
 * needs from it. */
static int
decide(struct call *c, const struct proxy_key_entry *e)
{
    struct policy_key k = {e->scope, e->daily_cap, e->from_domains, e->to_domains,
                           e->holds != PROXY_HOLD_NONE};

    /* SPEC §7: every send of a gated key waits for a person, so policy
     * refuses it the broadcasts, automations and events.send that would go
     * out with no hold, whatever its scope (deny_reply says why). */
    c->holds = k.holds;
    policy_decide(&k, c->route, c->is_send ? &c->send : NULL, &c->dec);
    if (c->dec.reason == POLICY_ALLOW && c->req_status != 0) {
        c->dec.reason = POLICY_DENY_INVALID_BODY;
        sc_strlcpy(c->dec.field, "(request)", sizeof(c->dec.field));
    }
    if (c->dec.reason == POLICY_ALLOW && c->sender != NULL)
        policy_request_sender_decide(&k, c->sender, &c->dec);
    if (c->dec.reason == POLICY_ALLOW && c->idem_error != NULL) {
        c->dec.reason = POLICY_DENY_INVALID_BODY;
        c->dec.sends = 0;
        sc_strlcpy(c->dec.field, "Idempotency-Key", sizeof(c->dec.field));
    }
    store_secret_free(c->real_key);
    free(c->from_domains);
    free(c->to_domains);
    c->real_key = strdup(e->real_key);
    c->from_domains = strdup(e->from_domains);
    c->to_domains = strdup(e->to_domains);
    sc_strlcpy(c->family, e->family, sizeof(c->family));
    sc_strlcpy(c->key_id, e->id, sizeof(c->key_id));
    c->scope = e->scope;
    free(c->agent_run);
    c->agent_run = strdup(e->agent_run_id);
    if (c->agent_run == NULL)
        return -1;
    return c->real_key && c->from_domains && c->to_domains ? 0 : -1;
}

/* call.lua answered "stale": cache the fresh record and key, then retry. */
static void
refresh(struct call *c, const struct store_call_result *res)
{
    char aad[128], err[256];
    char *real;
    size_t rl;
    struct proxy_key_entry *e;

    store_upstreams_aad(res->key->upstream, aad, sizeof(aad));
    real = store_secret_open(c->px->master_key, aad, res->sealed, &rl, err, sizeof(err));
    if (real == NULL) {
        sc_error("%s real key of upstream %s: %s", c->id, res->key->upstream, err);
        c->reason = policy_proxy_reason(POLICY_PROXY_DECRYPT_FAILED);
        fail(c, 503, "service_unavailable",
             "the real key of upstream %s cannot be decrypted with this daemon's "
             "master key; nothing was sent. Tell the sendcap admin.",
             res->key->upstream);
        return;
    }
    e = proxy_keycache_put(c->px->keys, res->key, res->upstream_ver, real);
    store_secret_free(real);
    if (e == NULL) {
        fail(c, 503, "service_unavailable", "sendcap is out of memory; retry");
        return;
    }
    if (c->looking_up) { /* the head phase's look-up: the key is live, read its body */
        c->looking_up = 0;
        read_body(c);
        return;
    }
    if (++c->stale_tries > SC_KEY_STALE_RETRIES) {
        fail(c, 503, "service_unavailable",
             "the vault key's record kept changing while it was read; retry");
        return;
    }
    run_script(c, e);
}

static void
cap_reply(struct call *c, const struct store_call_result *res)
{
    char when[32];
    int64_t day_end = policy_cap_day_end_ms(res->now_ms);
    int64_t secs = limit_headers(c, res->cap, res->used, res->now_ms, day_end);

    sc_format_time_ms(day_end, when, sizeof(when));
    fail(c, 429, "daily_quota_exceeded",
         "vault key %s has used %lld of its %lld sends today and this request "
         "needs %lld; the cap resets at %s (in %lld s). Nothing was sent.",
         c->key_id, (long long)res->used, (long long)res->cap, (long long)c->dec.sends, when,
         (long long)secs);
}

/* Retry-After and ratelimit-* for a window that frees at reset_ms. */
static int64_t
limit_headers(struct call *c, int64_t limit, int64_t used, int64_t now, int64_t reset_ms)
{
    char num[24];
    int64_t secs = (reset_ms - now + 999) / 1000;

    if (secs < 1) /* whole seconds, at least 1 (SPEC §3) */
        secs = 1;
    proxy_http_add_header(c->req, "Retry-After", sc_fmt_i64(num, secs));
    proxy_http_add_header(c->req, "ratelimit-reset", num);
    proxy_http_add_header(c->req, "ratelimit-limit", sc_fmt_i64(num, limit));
    proxy_http_add_header(c->req, "ratelimit-remaining",
                          sc_fmt_i64(num, used < limit ? limit - used : 0));
    return secs;
}

static void
monthly_reply(struct call *c, const struct store_call_result *res)
{
    char when[32];
    int64_t secs = limit_headers(c, res->cap, res->used, res->now_ms, res->reset_ms);

    sc_format_time_ms(res->reset_ms, when, sizeof(when));
    fail(c, 429, "monthly_quota_exceeded",
         "vault key %s has used %lld of its %lld sends this month and this request needs %lld; "
         "the monthly cap resets at %s (in %lld s). Nothing was sent.",
         c->key_id, (long long)res->used, (long long)res->cap, (long long)c->dec.sends, when,
         (long long)secs);
}

/* The message names the address: the agent sent it, so it knows it. */
static void
rcpt_reply(struct call *c, const struct store_call_result *res)
{
    const struct policy_rcpt *r = NULL;
    int64_t now = res->now_ms, reset = policy_cap_day_end_ms(now), secs;
    char when[32];

    if (res->position >= 0 && (uint64_t)res->position < c->nrcpt)
        r = &c->send.addr[c->rcpt_addr[res->position]];
    secs = limit_headers(c, res->cap, res->used, now, reset);
    sc_format_time_ms(reset, when, sizeof(when));
    fail(c, 429, "recipient_quota_exceeded",
         "vault key %s may send at most %lld emails a day to one address and has sent %lld to "
         "%s (%s) today; its cap resets at %s (in %lld s). Nothing in this request was sent.",
         c->key_id, (long long)res->cap, (long long)res->used, r ? r->address : "a recipient",
         r ? r->field : "?", when, (long long)secs);
}

static void
rate_reply(struct call *c, const struct store_call_result *res)
{
    int64_t secs = limit_headers(c, res->cap, res->used, res->now_ms, res->reset_ms);

    fail(c, 429, "rate_limit_exceeded",
         "vault key %s may make %lld requests per %lld s and has made %lld; retry in %lld s. "
         "Nothing was sent.",
         c->key_id, (long long)res->cap, (long long)(res->window_ms / 1000), (long long)res->used,
         (long long)secs);
}

static void
dup_reply(struct call *c, const struct store_call_result *res)
{
    char el[40] = "this email", rid[64] = "", eid[128] = "(not known yet)";
    const char *colon = strchr(res->earlier, ':');

    if (c->send.batch)
        snprintf(el, sizeof(el), "batch[%lld]", (long long)res->position);
    if (res->earlier_msg >= 0) {
        fail(c, 409, "duplicate_send",
             "%s repeats batch[%lld] of the same request (same sender, recipients, subject and "
             "body); vault key %s does not send the same email twice within its dedupe window. "
             "Nothing in this request was sent.",
             el, (long long)res->earlier_msg, c->key_id);
        return;
    }
    snprintf(rid, sizeof(rid), "%.*s",
             (int)(colon ? (size_t)(colon - res->earlier) : strlen(res->earlier)), res->earlier);
    if (colon != NULL && colon[1] != '\0')
        snprintf(eid, sizeof(eid), "%s", colon + 1);
    fail(c, 409, "duplicate_send",
         "%s is the same send (sender, recipients, subject and body) as request %s, email id %s, "
         "within vault key %s's dedupe window; nothing in this request was sent. Change the "
         "email, or repeat the earlier request's Idempotency-Key to get its answer again.",
         el, rid, eid, c->key_id);
}

/* "1s", "1m", "1h" for the windows --rate takes, else milliseconds. */
static json_t *
window_text(int64_t ms)
{
    char b[32];

    if (ms == 1000 || ms == 60000 || ms == 3600000)
        return json_string(ms == 1000 ? "1s" : ms == 60000 ? "1m" : "1h");
    snprintf(b, sizeof(b), "%lldms", (long long)ms);
    return json_string(b);
}

static json_t *
time_or_null(int64_t ms)
{
    char t[32];

    if (ms <= 0)
        return json_null();
    sc_format_time_ms(ms, t, sizeof(t));
    return json_string(t);
}

/* {"limit","used","remaining","resets_at"}, or null without a limit. */
static json_t *
usage_of(int64_t limit, int64_t used, int64_t resets_at)
{
    if (limit < 0)
        return json_null();
    return json_pack("{s:I,s:I,s:I,s:o}", "limit", (json_int_t)limit, "used", (json_int_t)used,
                     "remaining", (json_int_t)(used < limit ? limit - used : 0), "resets_at",
                     time_or_null(resets_at));
}

static json_t *
domains_of(const char *list)
{
    json_t *a = json_array();
    const char *p = list;

    while (a != NULL && *p != '\0') {
        size_t n = strcspn(p, ",");
        json_array_append_new(a, json_stringn(p, n));
        p += n + (p[n] == ',');
    }
    return a;
}

/* An answer the proxy makes itself, never forwarded (whoami, a held send's
 * 202 and its status): body as given, or doc dumped (and released). */
static void
own_reply(struct call *c, int status, const char *reason, const char *body, json_t *doc)
{
    struct proxy_upstream_result r;
    char *dumped = NULL;

    if (doc != NULL) {
        dumped = json_dumps(doc, JSON_COMPACT);
        json_decref(doc);
        body = dumped;
    }
    if (body == NULL) {
        fail(c, 503, "service_unavailable", "sendcap is out of memory; retry");
        return;
    }
    memset(&r, 0, sizeof(r));
    r.body = body;
    r.body_len = strlen(body);
    proxy_http_add_header(c->req, "Content-Type", "application/json");
    proxy_http_add_header(c->req, "X-Request-Id", c->id);
    c->status = status;
    c->decision = "allowed";
    c->reason = reason;
    finish(c, &r, NULL, NULL);
    free(dumped);
}

/*
 * GET /sendcap/v1/whoami (SPEC §5): the key's own policy and usage, so an
 * agent can plan.  Never forwarded; call.lua counted it for the rate and
 * read the usage in the same round trip.  null for a control the key lacks.
 */
static void
whoami_reply(struct call *c, const struct store_call_result *res)
{
    const struct store_call_usage *u = &res->who;
    int64_t day_end = policy_cap_day_end_ms(res->now_ms);
    json_t *rate = json_null(), *rate_use = json_null(), *doc;

    if (u->rate_limit >= 0) {
        rate = json_pack("{s:I,s:o}", "limit", (json_int_t)u->rate_limit, "window",
                         window_text(u->rate_window_ms));
        rate_use =
            json_pack("{s:I,s:o,s:I,s:I,s:o}", "limit", (json_int_t)u->rate_limit, "window",
                      window_text(u->rate_window_ms), "used", (json_int_t)u->rate_used, "remaining",
                      (json_int_t)(u->rate_used < u->rate_limit ? u->rate_limit - u->rate_used : 0),
                      "resets_at", time_or_null(u->rate_reset_ms));
    }
    doc = json_pack(
        "{s:s,s:s,s:{s:s,s:o,s:o,s:o,s:o,s:I,s:o,s:o,s:o},s:o,s:{s:o,s:o,s:o}}", "id", c->key_id,
        "name", u->name, "policy", "scope", c->scope == POLICY_SCOPE_FULL ? "full" : "sending",
        "daily_cap", u->daily_cap >= 0 ? json_integer(u->daily_cap) : json_null(), "monthly_cap",
        u->monthly_cap >= 0 ? json_integer(u->monthly_cap) : json_null(), "per_recipient_cap",
        u->per_recipient_cap >= 0 ? json_integer(u->per_recipient_cap) : json_null(), "rate", rate,
        "dedupe_window_ms", (json_int_t)(u->dedupe_window_ms >= 0 ? u->dedupe_window_ms : 0),
        "from_domains", domains_of(c->from_domains), "to_domains", domains_of(c->to_domains),
        "alert_at", u->alert_at[0] ? json_string(u->alert_at) : json_null(), "expires_at",
        time_or_null(u->expires_at), "usage", "daily",
        usage_of(u->daily_cap, u->daily_used, day_end), "monthly",
        usage_of(u->monthly_cap, u->monthly_used, u->month_reset_ms), "rate", rate_use);
    if (doc == NULL) {
        fail(c, 503, "service_unavailable", "sendcap is out of memory; retry");
        return;
    }
    own_reply(c, 200, policy_proxy_reason(POLICY_PROXY_OK), NULL, doc);
}

/* Refuse a key Redis said (now, or within SC_KEY_NEG_CACHE_MS) is unknown,
 * revoked or expired; c->key_id is set for the last two. */
static void
refuse_key(struct call *c, enum proxy_key_state kind, int64_t at)
{
    char t[32];

    sc_format_time_ms(at, t, sizeof(t));
    if (kind == PROXY_KEY_UNKNOWN)
        fail(c, 403, "invalid_api_key",
             "this vault key is not known to sendcap; ask your sendcap admin for a key");
    else if (kind == PROXY_KEY_REVOKED)
        fail(c, 403, "vault_key_revoked",
             "vault key %s was revoked at %s; ask your sendcap admin for a new key", c->key_id, t);
    else
        fail(c, 403, "vault_key_expired",
             "vault key %s expired at %s; ask your sendcap admin for a new key", c->key_id, t);
}

/* Redis did not run call.lua: refuse, and say why. */
static void
store_failed(struct call *c, const char *errstr)
{
    if (strstr(errstr, "OOM") != NULL) {
        sc_error("%s redis is out of memory (maxmemory) and refuses writes: %s", c->id, errstr);
        fail(c, 503, "service_unavailable",
             "sendcap's Redis is out of memory and refuses writes, so this call can be neither "
             "checked nor recorded; nothing was sent. Tell the sendcap admin.");
        return;
    }
    sc_warn("%s redis: %s", c->id, errstr);
    fail(c, 503, "service_unavailable",
         "sendcap cannot reach its Redis, so it cannot check this vault key; nothing was "
         "sent. Retry shortly.");
}

/* The cap's event has reached its webhooks (or the hold's bound passed):
 * now the 429. */
static void
cap_released(void *arg)
{
    struct call *c = arg;
    struct store_call_result res = *c->held;

    free(c->held);
    c->held = NULL;
    if (res.kind == STORE_CALL_CAP)
        cap_reply(c, &res);
    else
        monthly_reply(c, &res);
}

/* SPEC §6: key.cap_reached is delivered before the 429 that goes with it.
 * call.lua queued the event's deliveries leased to this instance; deliver
 * them now and answer when they end (bounded by the attempt's timeout).
 * 1 when the answer waits, 0 to answer at once. */
static int
cap_hold(struct call *c, const struct store_call_result *res)
{
    if (res->cap_event[0] == '\0' || (c->held = malloc(sizeof(*res))) == NULL)
        return 0;
    *c->held = *res;
    if (proxy_webhook_hold(c->px->webhook, res->cap_event, cap_released, c) != 0) {
        free(c->held);
        c->held = NULL;
        return 0;
    }
    return 1;
}

/*
 * A held send (SPEC §7): reserved and stored sealed by call.lua, not
 * forwarded.  202 {"id":"held_…","object":"held_email","status":"pending"}
 * (the Node SDK hands it back as data).  Its record keeps the reservation
 * (nothing to refund: the decision settles it) and names the held id.
 */
static void
held_reply(struct call *c)
{
    char body[160], n[24];

    sc_cat(body, sizeof(body), "{\"id\":\"", c->held_id,
           "\",\"object\":\"held_email\",\"status\":\"pending\"}", NULL);
    free(c->email_ids);
    c->email_ids = strdup(c->held_id);
    if (c->remaining >= 0)
        proxy_http_add_header(c->req, "X-Sendcap-Quota-Remaining", sc_fmt_i64(n, c->remaining));
    own_reply(c, 202, policy_proxy_reason(POLICY_PROXY_HELD), body, NULL);
}

/* GET /emails/held_… of the key's family, answered from the held record
 * (never forwarded): pending, approved (with Resend's email_id once it was
 * sent), rejected or expired. */
static void
held_status_reply(struct call *c, const struct store_call_result *res)
{
    const char *st = res->held_status;
    json_t *doc;

    if (strcmp(proxy_http_method(c->req), "GET") != 0) {
        fail(c, 422, "validation_error",
             "%s is a held send waiting for a person's decision; it cannot be changed or "
             "cancelled through the API (ask the sendcap admin to reject it)",
             c->email_id);
        return;
    }
    if (strcmp(st, "sent") == 0 || strcmp(st, "failed") == 0)
        st = "approved";
    doc = json_pack("{s:s,s:s,s:s,s:o}", "object", "held_email", "id", c->email_id, "status", st,
                    "email_id", res->held_email[0] ? json_string(res->held_email) : json_null());
    if (doc == NULL) {
        fail(c, 503, "service_unavailable", "sendcap is out of memory; retry");
        return;
    }
    if (res->held_error[0])
        json_object_set_new(doc, "error", json_string(res->held_error));
    own_reply(c, 200, policy_proxy_reason(POLICY_PROXY_OK), NULL, doc);
}

/* The from domains of a send, comma-joined (the record's, the events'). */
static void
from_domains_of(const struct call *c, char *fd, size_t len)
{
    fd[0] = '\0';
    for (size_t i = 0; i < c->send.nmsg; i++)
        if (c->send.msg[i].has_from && strstr(fd, c->send.msg[i].from_domain) == NULL &&
            strlen(fd) + strlen(c->send.msg[i].from_domain) + 2 < len)
            sc_cat(fd + strlen(fd), len - strlen(fd), fd[0] ? "," : "", c->send.msg[i].from_domain,
                   NULL);
}

/* Seal the send for a possible hold (once per call: a stale retry reuses
 * it): the path and the exact body that would be forwarded.  0 or -1. */
static int
held_prepare(struct call *c)
{
    struct evbuffer *b = proxy_http_body(c->req);
    size_t n = evbuffer_get_length(b);
    char err[160];

    if (c->held_sealed != NULL)
        return 0;
    if (store_held_new_id(c->held_id, sizeof(c->held_id)) != 0)
        return -1;
    c->held_sealed =
        store_held_seal(c->px->master_key, c->held_id, c->path,
                        n ? (const char *)evbuffer_pullup(b, -1) : "", n, err, sizeof(err));
    if (c->held_sealed == NULL)
        sc_error("%s cannot seal a held send: %s", c->id, err);
    return c->held_sealed != NULL ? 0 : -1;
}

/* What call.lua answered (store/call.h), acted on. */
static void
script_done(const struct store_call_result *res, const char *errstr, void *arg)
{
    struct call *c = arg;

    proxy_metrics_redis(c->px->metrics, sc_mono_us() - c->redis_t0_us, res == NULL);
    if (res == NULL) {
        store_failed(c, errstr);
        return;
    }
    c->live = res->kind == STORE_CALL_OK || res->kind == STORE_CALL_STALE ||
              res->kind == STORE_CALL_BAD_RECORD || res->kind == STORE_CALL_CAP ||
              res->kind == STORE_CALL_NOT_OWN || res->kind == STORE_CALL_MONTHLY_CAP ||
              res->kind == STORE_CALL_RCPT_CAP || res->kind == STORE_CALL_RATE ||
              res->kind == STORE_CALL_DUPLICATE || res->kind == STORE_CALL_USAGE ||
              res->kind == STORE_CALL_HELD || res->kind == STORE_CALL_HELD_STATUS ||
              res->kind == STORE_CALL_HELD_FULL;
    switch (res->kind) {
    case STORE_CALL_OK:
        if (c->looking_up) { /* the key is live: its body next */
            c->looking_up = 0;
            read_body(c);
            return;
        }
        if (c->dec.reason != POLICY_ALLOW) {
            deny_reply(c);
            return;
        }
        if (c->is_send) {
            sc_strlcpy(c->counter_key, res->counter_key, sizeof(c->counter_key));
            sc_strlcpy(c->idem_key, res->idem_key, sizeof(c->idem_key));
            sc_strlcpy(c->idem_val, res->idem_value, sizeof(c->idem_val));
            sc_strlcpy(c->monthly_key, res->monthly_key, sizeof(c->monthly_key));
            sc_strlcpy(c->rcpt_prefix, res->rcpt_prefix, sizeof(c->rcpt_prefix));
            sc_strlcpy(c->dedupe_prefix, res->dedupe_prefix, sizeof(c->dedupe_prefix));
            c->remaining = res->remaining;
            c->reserved = c->counter_key[0] != '\0' ? c->dec.sends : 0; /* "": a replay */
        }
        forward(c);
        return;
    case STORE_CALL_HELD:
        if (c->looking_up || c->dec.reason != POLICY_ALLOW || !c->is_send)
            break; /* call.lua holds only a send it was asked to reserve */
        sc_strlcpy(c->counter_key, res->counter_key, sizeof(c->counter_key));
        sc_strlcpy(c->monthly_key, res->monthly_key, sizeof(c->monthly_key));
        c->remaining = res->remaining;
        c->reserved = c->dec.sends;
        held_reply(c);
        return;
    case STORE_CALL_HELD_STATUS:
        held_status_reply(c, res);
        return;
    case STORE_CALL_HELD_FULL:
        /* A person has to catch up: nothing an agent retries soon fixes
         * it, but a decision frees room at once. */
        c->reason = policy_proxy_reason(POLICY_PROXY_HELD_QUEUE_FULL);
        proxy_http_add_header(c->req, "Retry-After", "60");
        fail(c, 429, "rate_limit_exceeded",
             "vault key %s has %lld sends (%lld MiB) waiting for a person's approval, the most "
             "one key may have waiting; approve or reject some (sendcap approval list --key %s). "
             "Nothing was sent.",
             c->key_id, (long long)res->used, (long long)(res->cap / (1024 * 1024)), c->key_id);
        return;
    case STORE_CALL_STALE:
        refresh(c, res);
        return;
    case STORE_CALL_BAD_RECORD:
        sc_error("%s key record in Redis is malformed", c->id);
        fail(c, 503, "service_unavailable",
             "the vault key's record in Redis is malformed; tell the sendcap admin");
        return;
    case STORE_CALL_CAP:
        if (!cap_hold(c, res))
            cap_reply(c, res);
        return;
    case STORE_CALL_MONTHLY_CAP:
        if (!cap_hold(c, res))
            monthly_reply(c, res);
        return;
    case STORE_CALL_RCPT_CAP:
        rcpt_reply(c, res);
        return;
    case STORE_CALL_RATE:
        rate_reply(c, res);
        return;
    case STORE_CALL_DUPLICATE:
        dup_reply(c, res);
        return;
    case STORE_CALL_USAGE:
        whoami_reply(c, res);
        return;
    case STORE_CALL_NOT_OWN:
        c->reason = policy_proxy_reason(POLICY_PROXY_NOT_OWN_EMAIL);
        fail(c, 401, "restricted_api_key",
             "vault key %s can only read and change emails sent with it (or a key "
             "it was rotated from); %s was not",
             c->key_id, c->email_id);
        return;
    case STORE_CALL_UNKNOWN:
        proxy_keycache_drop(c->px->keys, c->hash);
        proxy_keycache_refuse(c->px->keys, c->hash, PROXY_KEY_UNKNOWN, NULL, 0, sc_mono_ms());
        refuse_key(c, PROXY_KEY_UNKNOWN, 0);
        return;
    case STORE_CALL_REVOKED:
    case STORE_CALL_EXPIRED: {
        enum proxy_key_state k =
            res->kind == STORE_CALL_REVOKED ? PROXY_KEY_REVOKED : PROXY_KEY_EXPIRED;

        proxy_keycache_drop(c->px->keys, c->hash);
        if (res->key_id[0] != '\0')
            sc_strlcpy(c->key_id, res->key_id, sizeof(c->key_id));
        proxy_keycache_refuse(c->px->keys, c->hash, k, c->key_id, res->at_ms, sc_mono_ms());
        refuse_key(c, k, res->at_ms);
        return;
    }
    case STORE_CALL_NO_UPSTREAM:
        proxy_keycache_drop(c->px->keys, c->hash);
        if (res->key_id[0] != '\0')
            sc_strlcpy(c->key_id, res->key_id, sizeof(c->key_id));
        c->reason = policy_proxy_reason(POLICY_PROXY_NO_UPSTREAM);
        fail(c, 503, "service_unavailable",
             "the upstream of vault key %s has been removed; nothing was sent. "
             "Tell the sendcap admin.",
             c->key_id);
        return;
    case STORE_CALL_BAD_REPLY:
        break;
    }
    fail(c, 503, "service_unavailable", "unexpected answer from Redis; nothing was sent");
}

/* The hashes call.lua's controls need (SPEC §5), and only those the key's
 * record asks for: each message's canonical facts (a dedupe window) and
 * each to/cc/bcc address, lower-cased (a per-recipient cap), so no address
 * or body reaches Redis and a key without these controls pays for
 * neither.  Computed again if a refreshed record asks for more.  0 or -1
 * (out of memory). */
static int
send_hashes(struct call *c, int facts, int rcpt)
{
    const struct policy_send *s = &c->send;
    size_t nr = 0, p = 0;

    if (c->msgs != NULL && c->hashed_facts == facts && c->hashed_rcpt == rcpt)
        return 0;
    free(c->msgs);
    free(c->hashes);
    free(c->rcpt_ptrs);
    free(c->rcpt_addr);
    c->msgs = NULL;
    c->hashes = NULL;
    c->rcpt_ptrs = NULL;
    c->rcpt_addr = NULL;
    c->hashed_facts = facts;
    c->hashed_rcpt = rcpt;
    for (size_t a = 0; rcpt && a < s->naddr; a++)
        nr += s->addr[a].kind != POLICY_ADDR_REPLY_TO;
    c->hashes = malloc((s->nmsg + nr) * sizeof(*c->hashes));
    c->msgs = calloc(s->nmsg ? s->nmsg : 1, sizeof(*c->msgs));
    c->rcpt_ptrs = malloc((nr ? nr : 1) * sizeof(*c->rcpt_ptrs));
    c->rcpt_addr = malloc((nr ? nr : 1) * sizeof(*c->rcpt_addr));
    if (c->hashes == NULL || c->msgs == NULL || c->rcpt_ptrs == NULL || c->rcpt_addr == NULL)
        return -1;
    for (size_t i = 0; i < s->nmsg; i++) {
        const struct policy_send_msg *m = &s->msg[i];

        if (facts)
            store_secret_key_hash(m->canon, m->canon_len, c->hashes[i]);
        c->msgs[i].facts_hash = facts ? c->hashes[i] : NULL;
        c->msgs[i].rcpt_hashes = c->rcpt_ptrs + p;
        for (size_t a = m->addr_first; rcpt && a < m->addr_end; a++) {
            char low[sizeof(s->addr[a].address)];

            if (s->addr[a].kind == POLICY_ADDR_REPLY_TO)
                continue;
            policy_send_addr_lower(s->addr[a].address, low, sizeof(low));
            store_secret_key_hash(low, strlen(low), c->hashes[s->nmsg + p]);
            c->rcpt_ptrs[p] = c->hashes[s->nmsg + p];
            c->rcpt_addr[p++] = a;
            c->msgs[i].nrcpt++;
        }
    }
    c->nrcpt = p;
    return 0;
}

/* What call.lua needs to tell an idempotent replay (SPEC §3): the hashes
 * of the send's Idempotency-Key (none: "") and of the body forwarded. */
static void
replay_hashes(struct call *c, char idem[SC_KEY_HASH_HEX], char body[SC_KEY_HASH_HEX])
{
    const char *v = proxy_http_header(c->req, "Idempotency-Key");
    struct evbuffer *b = proxy_http_body(c->req);
    size_t n = evbuffer_get_length(b);

    if (v == NULL || c->idem_error != NULL)
        return;
    store_secret_key_hash(v, strlen(v), idem);
    store_secret_key_hash(n ? (const char *)evbuffer_pullup(b, -1) : "", n, body);
}

/* Ask call.lua.  With no cached record (e == NULL) the script can only
 * answer "stale" with the record, or refuse the key. */
static void
run_script(struct call *c, const struct proxy_key_entry *e)
{
    char idem_hash[SC_KEY_HASH_HEX] = "", body_hash[SC_KEY_HASH_HEX] = "";
    char fromd[POLICY_DOMAIN_MAX * 2 + 2];
    char *packed = NULL;
    const char *errstr = NULL;
    struct store_call_req q = {
        .key_hash = c->hash,
        .gen = e ? e->gen : "",
        .key_view = e ? e->view : "",
        .upstream_ver = e ? e->upver : "",
        .mode = STORE_CALL_FORWARD,
        .email_id = c->email_id,
        .request_id = c->id,
        .idem_hash = idem_hash,
        .body_hash = body_hash,
        .hold_ms = c->px->cfg.webhook_timeout_ms + SC_WEBHOOK_LEASE_MARGIN_MS,
    };

    if (e != NULL) {
        if (decide(c, e) != 0) {
            fail(c, 503, "service_unavailable", "sendcap is out of memory; retry");
            return;
        }
        if (c->dec.reason != POLICY_ALLOW) {
            q.mode = STORE_CALL_DENY;
            q.deny_reason = denied_event_reason(c);
        } else if (c->is_send)
            q.mode = STORE_CALL_SEND;
        else if (c->route->cls == POLICY_ROUTE_WHOAMI)
            q.mode = STORE_CALL_WHOAMI;
    }
    q.sends = c->dec.sends;
    if (q.mode == STORE_CALL_SEND) {
        /* A key that may hold needs every address hash (new recipients). */
        if (send_hashes(c, e->dedupe_window_ms > 0,
                        e->per_recipient_cap >= 0 || e->holds != PROXY_HOLD_NONE) != 0 ||
            (e->holds != PROXY_HOLD_NONE && held_prepare(c) != 0)) {
            fail(c, 503, "service_unavailable", "sendcap is out of memory; retry");
            return;
        }
        q.msgs = c->msgs;
        q.nmsg = c->send.nmsg;
        from_domains_of(c, fromd, sizeof(fromd));
        q.from_domain = fromd;
        q.route = c->route->name;
        if (e->holds != PROXY_HOLD_NONE) {
            q.held_id = c->held_id;
            q.held_sealed = c->held_sealed;
        }
    }
    if (q.mode == STORE_CALL_SEND)
        replay_hashes(c, idem_hash, body_hash);
    if (q.mode == STORE_CALL_SEND && c->px->audit != NULL) {
        /* The audit intent, written with the reservation (SPEC §4). */
        if (!c->rec_filled) {
            fill_record(c, &c->rec);
            c->rec_filled = 1;
        }
        store_audit_set(&c->rec, STORE_AUDIT_DECISION, "allowed");
        store_audit_set(&c->rec, STORE_AUDIT_REASON,
                        policy_proxy_reason(POLICY_PROXY_OUTCOME_UNKNOWN));
        packed = store_audit_pack(&c->rec);
        if (packed == NULL) {
            fail(c, 503, "service_unavailable", "sendcap is out of memory; retry");
            return;
        }
        q.intent = packed;
        q.intent_ttl_s = c->px->cfg.log_retention_ms / 1000;
    }
    c->redis_t0_us = sc_mono_us();
    if (store_call_check(c->px->redis, &q, script_done, c, &errstr) != 0) {
        proxy_metrics_redis(c->px->metrics, 0, 1);
        free(packed);
        store_failed(c, errstr);
        return;
    }
    /* If the script runs, the intent is there: kept to be removed, by its
     * exact bytes, with the final record (a call sent again after "stale"
     * replaces the one before, which that reply did not write). */
    free(c->intent);
    c->intent = packed;
}

/* Take the vault key from "Authorization: Bearer vk_…".  On success the
 * key's hash is in c->hash; the key itself is not kept. */
static int
authenticate(struct call *c)
{
    const char *auth = proxy_http_header(c->req, "Authorization");
    const char *tok;

    if (proxy_http_header_count(c->req, "Authorization") > 1) {
        fail(c, 400, "validation_error", "the request carries more than one Authorization header");
        return -1;
    }
    if (auth == NULL || auth[0] == '\0') {
        fail(c, 401, "missing_api_key",
             "missing API key: send your sendcap vault key as 'Authorization: Bearer vk_…'");
        return -1;
    }
    if (strncasecmp(auth, "Bearer", 6) != 0 || (auth[6] != ' ' && auth[6] != '\t')) {
        fail(c, 401, "missing_api_key",
             "the Authorization header must be 'Bearer vk_…' with your sendcap vault key");
        return -1;
    }
    tok = auth + 7;
    while (*tok == ' ' || *tok == '\t')
        tok++;
    if (*tok == '\0') {
        fail(c, 401, "missing_api_key",
             "missing API key: send your sendcap vault key as 'Authorization: Bearer vk_…'");
        return -1;
    }
    if (strncmp(tok, "re_", 3) == 0) {
        fail(c, 403, "invalid_api_key",
             "a real Resend key was sent to sendcap; use your sendcap vault key (vk_…) instead, "
             "and tell your admin: that real key may be exposed");
        return -1;
    }
    if (!store_secret_vault_key_valid(tok)) {
        fail(c, 403, "invalid_api_key",
             "this is not a sendcap vault key; ask your sendcap admin for a key");
        return -1;
    }
    store_secret_key_hash(tok, strlen(tok), c->hash);
    return 0;
}

/* A send's body is read as JSON: refuse (415) one labelled or encoded as
 * anything else, before anything is reserved (SPEC §3).  One header each. */
static int
media_check(struct call *c)
{
    const char *why = NULL;

    if (proxy_http_header_count(c->req, "Content-Type") > 1 ||
        proxy_http_header_count(c->req, "Content-Encoding") > 1)
        why = "a body sendcap checks must carry at most one Content-Type and one "
              "Content-Encoding";
    else if (policy_request_media_check(proxy_http_header(c->req, "Content-Type"),
                                        proxy_http_header(c->req, "Content-Encoding"), &why) == 0)
        return 0;
    c->req_status = 415;
    c->req_error = why;
    return -1;
}

/* Idempotency-Key headers in any spelling ("Idempotency_Key" too): two are
 * refused, whichever spelling, since Resend might read either. */
static int
idempotency_count(struct proxy_http_request *req)
{
    const char *name, *value;
    int n = 0;

    for (int i = 0; proxy_http_header_at(req, i, &name, &value) == 0; i++)
        n += policy_request_idempotency_name(name);
    return n;
}

/* The sender a template or broadcast body names, held to the key's lists
 * like a send's (SPEC §3); a body that cannot be read is refused (422). */
static void
sender_read(struct call *c)
{
    struct evbuffer *b = proxy_http_body(c->req);
    size_t n = evbuffer_get_length(b);

    if ((c->sender = malloc(sizeof(*c->sender))) == NULL) {
        c->req_status = 503;
        c->req_error = "sendcap is out of memory; retry";
        return;
    }
    if (policy_request_sender_parse(n ? (const char *)evbuffer_pullup(b, -1) : "", n, c->sender) !=
        0) {
        c->req_status = 422;
        c->req_error = c->sender->error;
    }
}

/* What the body and headers say, before any key is looked at. */
static void
read_request(struct call *c)
{
    const char *idem = proxy_http_header(c->req, "Idempotency-Key");

    if (c->route->cls == POLICY_ROUTE_SEND) {
        struct evbuffer *b = proxy_http_body(c->req);
        size_t n = evbuffer_get_length(b);
        const char *p = n ? (const char *)evbuffer_pullup(b, -1) : "";

        c->is_send = 1;
        c->reads_body = 1;
        if (media_check(c) == 0)
            policy_send_parse(p, n, strcmp(c->route->name, "emails.batch") == 0, &c->send);
    } else if (c->route->cls == POLICY_ROUTE_OWN_EMAIL) {
        /* "/emails/{id}" or "/emails/{id}/cancel" */
        const char *s = c->path + strlen("/emails/");
        size_t n = strcspn(s, "/");
        if (n < sizeof(c->email_id)) {
            memcpy(c->email_id, s, n);
            c->email_id[n] = '\0';
        } else {
            sc_strlcpy(c->email_id, "(too long)", sizeof(c->email_id));
        }
    }
    if (policy_request_names_sender(c->route)) {
        c->reads_body = 1;
        if (media_check(c) == 0)
            sender_read(c);
    }
    if (idempotency_count(c->req) > 1)
        c->idem_error = "the request carries more than one Idempotency-Key";
    else if (idem != NULL && (*idem == '\0' || strlen(idem) > SC_IDEMPOTENCY_KEY_MAX))
        c->idem_error = "Idempotency-Key must be 1 to 256 characters";
}

/* Comma-joined distinct recipient domains and all recipient addresses. */
static void
recipients_text(const struct call *c, char **domains, char **addrs)
{
    size_t dl = 1, al = 1, od = 0, oa = 0;

    *domains = *addrs = NULL;
    if (!c->is_send || c->send.naddr == 0)
        return;
    for (size_t i = 0; i < c->send.naddr; i++) {
        dl += strlen(c->send.addr[i].domain) + 1;
        al += strlen(c->send.addr[i].address) + 1;
    }
    *domains = calloc(1, dl);
    *addrs = calloc(1, al);
    if (*domains == NULL || *addrs == NULL)
        return;
    for (size_t i = 0; i < c->send.naddr; i++) {
        const struct policy_rcpt *r = &c->send.addr[i];
        int seen = 0;
        if (r->kind == POLICY_ADDR_REPLY_TO)
            continue;
        for (size_t j = 0; j < i && !seen; j++)
            seen = c->send.addr[j].kind != POLICY_ADDR_REPLY_TO &&
                   strcmp(c->send.addr[j].domain, r->domain) == 0;
        if (!seen)
            od += sc_cat(*domains + od, dl - od, od ? "," : "", r->domain, NULL);
        oa += sc_cat(*addrs + oa, al - oa, oa ? "," : "", r->address, NULL);
    }
}

/* The call's record: every field of store/audit.h that is known now. */
static void
fill_record(const struct call *c, struct store_audit_rec *rec)
{
    char *domains, *addrs;
    char key[40] = "";

    if (c->key_id[0])
        sc_strlcpy(key, c->key_id, sizeof(key));
    else if (c->hash[0])
        snprintf(key, sizeof(key), "fp:%.12s", c->hash);
    store_audit_set_i64(rec, STORE_AUDIT_TIME, c->t_wall);
    store_audit_set(rec, STORE_AUDIT_REQUEST_ID, c->id);
    store_audit_set(rec, STORE_AUDIT_KEY_ID, key);
    store_audit_set(rec, STORE_AUDIT_AGENT_RUN_ID, c->agent_run);
    store_audit_set(rec, STORE_AUDIT_CLAIMED_RUN_ID, c->claimed_run);
    store_audit_set(rec, STORE_AUDIT_METHOD, c->method);
    store_audit_set(rec, STORE_AUDIT_PATH, c->path ? c->path : c->target);
    store_audit_set(rec, STORE_AUDIT_ROUTE, c->route ? c->route->name : "");
    if (c->is_send && c->send.error[0] == '\0') {
        char fd[POLICY_DOMAIN_MAX * 2 + 2];

        from_domains_of(c, fd, sizeof(fd));
        store_audit_set_i64(rec, STORE_AUDIT_RECIPIENTS, c->send.recipients);
        store_audit_set(rec, STORE_AUDIT_FROM_DOMAIN, fd);
    }
    recipients_text(c, &domains, &addrs);
    store_audit_set(rec, STORE_AUDIT_RECIPIENT_DOMAINS, domains);
    store_audit_set(rec, STORE_AUDIT_RECIPIENT_ADDRESSES, addrs);
    free(domains);
    free(addrs);
    store_audit_set(rec, STORE_AUDIT_CLIENT, c->client);
    store_audit_set(rec, STORE_AUDIT_USER_AGENT, c->ua);
}

static void
write_record(struct call *c)
{
    struct store_audit_rec *rec = &c->rec;
    struct store_audit_settle st;

    if (c->recorded || c->px == NULL || c->px->audit == NULL)
        return;
    c->recorded = 1;
    proxy_metrics_request(c->px->metrics, c->route ? c->route->name : "none",
                          c->decision ? c->decision : "error", c->reason ? c->reason : "",
                          c->status, sc_mono_us() - c->t0_us);
    /* A caller without a working key (none, unknown, revoked, expired, or
     * refused before Redis confirmed it): bounded per client address
     * (flood.c).  Such a call reserved nothing and has no intent to
     * complete.  A revoked key is the credential most likely to be in an
     * attacker's hands, so it is bounded like an unknown one. */
    if (!c->live && !c->intent && !proxy_flood_admit(c->px->flood, c->client, c->status))
        return;
    if (!c->rec_filled) /* a send's intent already filled it */
        fill_record(c, rec);
    c->rec_filled = 1;
    store_audit_set(rec, STORE_AUDIT_DECISION, c->decision ? c->decision : "error");
    store_audit_set(rec, STORE_AUDIT_REASON, c->reason ? c->reason : "");
    store_audit_set_i64(rec, STORE_AUDIT_STATUS, c->status);
    if (c->ust)
        store_audit_set_i64(rec, STORE_AUDIT_UPSTREAM_STATUS, c->ust);
    store_audit_set(rec, STORE_AUDIT_EMAIL_IDS, c->email_ids);
    store_audit_set_i64(rec, STORE_AUDIT_LATENCY_MS, sc_mono_ms() - c->t0);
    if (c->ulat)
        store_audit_set_i64(rec, STORE_AUDIT_UPSTREAM_LATENCY_MS, c->ulat);
    store_audit_set(rec, STORE_AUDIT_CLIENT_GONE, c->gone ? "1" : "");
    st.counter_key = c->counter_key;
    st.refund = c->refund;
    st.family = c->family;
    st.owner_ttl_s = SC_EMAIL_OWNER_TTL_S;
    st.ids = (const char *const *)c->ids;
    st.nids = c->nids;
    /* Given all back: a repeat of this send must reserve anew. */
    st.idem_key = c->reserved > 0 ? c->idem_key : "";
    st.idem_value = c->idem_val;
    st.idem_kept = c->refund < c->reserved;
    st.monthly_key = c->monthly_key;
    st.rcpt_prefix = c->rcpt_given ? c->rcpt_prefix : "";
    st.rcpt_given = c->rcpt_given;
    st.dedupe_prefix = c->dedupe_ops ? c->dedupe_prefix : "";
    st.dedupe_ops = c->dedupe_ops;
    st.request_id = c->id;
    store_audit_log_write(c->px->audit, rec, c->intent, c->is_send ? &st : NULL);
}

void
proxy_call_flood_summary(const char *addr, long count, int status, void *arg)
{
    struct proxy *px = arg;
    struct store_audit_rec rec;
    char id[32];

    if (px->audit == NULL)
        return;
    memset(&rec, 0, sizeof(rec));
    proxy_request_id(id, sizeof(id));
    store_audit_set_i64(&rec, STORE_AUDIT_TIME, sc_now_ms());
    store_audit_set(&rec, STORE_AUDIT_REQUEST_ID, id);
    store_audit_set(&rec, STORE_AUDIT_DECISION, "denied");
    store_audit_set(&rec, STORE_AUDIT_REASON,
                    policy_proxy_reason(POLICY_PROXY_UNAUTHENTICATED_FLOOD));
    store_audit_set_i64(&rec, STORE_AUDIT_STATUS, status);
    store_audit_set(&rec, STORE_AUDIT_CLIENT, addr);
    store_audit_set_i64(&rec, STORE_AUDIT_COUNT, count);
    sc_warn("%ld calls without a known vault key from %s in the last second were counted, "
            "not recorded one by one",
            count, addr);
    store_audit_log_write(px->audit, &rec, NULL, NULL);
}

static char *
dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

/* Start a call: its id, clocks, and what the record needs of the request. */
static struct call *
call_new(struct proxy *px, struct proxy_http_request *req)
{
    struct call *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->px = px;
    c->req = req;
    c->t0 = sc_mono_ms();
    c->t0_us = sc_mono_us();
    c->t_wall = sc_now_ms();
    c->remaining = -1;
    proxy_request_id(c->id, sizeof(c->id));
    c->method = dup_or_empty(proxy_http_method(req));
    c->target = dup_or_empty(proxy_http_target(req));
    c->ua = dup_or_empty(proxy_http_header(req, "User-Agent"));
    c->claimed_run = dup_or_empty(proxy_http_header(req, "X-Agent-Run-Id"));
    c->agent_run = strdup("");
    c->client = dup_or_empty(proxy_http_peer(req));
    if (c->target != NULL) {
        char *q = strchr(c->target, '?'); /* the record keeps the path only */
        if (q != NULL)
            *q = '\0';
        if (strlen(c->target) > 512)
            c->target[512] = '\0';
    }
    if (strlen(c->claimed_run) > 256)
        c->claimed_run[256] = '\0';
    if (strlen(c->ua) > 256)
        c->ua[256] = '\0';
    return c;
}

/* The body of a call whose key is live, or cached as such. */
static void
read_body(struct call *c)
{
    switch (proxy_http_read_body(c->req)) {
    case 0: /* proxy_call_handle runs once it is in */
        return;
    case -1:
        fail(c, 400, "validation_error", "the client went away before its body was read");
        return;
    default:
        sc_warn("%s refused: --max-pending-body (%lld bytes) would be passed", c->id,
                (long long)c->px->cfg.max_pending_body);
        fail(c, 503, "service_unavailable",
             "sendcap is receiving too many request bodies at once; nothing was sent. Retry "
             "shortly.");
        return;
    }
}

/*
 * The head phase (SPEC §3: callers without a working key cost almost
 * nothing): the target, the route and the key are checked before any body
 * byte is read.  A key remembered as refused is answered at once; a key
 * with a cached record has its body read; any other key is looked up first
 * (call.lua, which answers "stale" with the record of a live key), so an
 * unknown, revoked or expired key never gets its body read or parsed.
 * call.lua still decides every call on the full request afterwards.
 */
void
proxy_call_head(struct proxy_http_request *req, void *arg)
{
    struct proxy *px = arg;
    struct call *c = call_new(px, req);
    const struct proxy_key_refusal *no;
    const struct proxy_key_entry *e;

    if (c == NULL) {
        finish_bare(req, "sendcap is out of memory; retry");
        return;
    }
    proxy_http_set_data(req, c);
    if (call_start(c) != 0)
        return;
    if ((no = proxy_keycache_refusal(px->keys, c->hash, sc_mono_ms())) != NULL) {
        sc_strlcpy(c->key_id, no->id, sizeof(c->key_id));
        refuse_key(c, no->kind, no->at_ms);
        return;
    }
    e = proxy_keycache_get(px->keys, c->hash);
    if (e != NULL) {
        read_body(c);
        return;
    }
    c->looking_up = 1;
    run_script(c, NULL);
}

/* The whole body is in (after proxy_call_head). */
void
proxy_call_handle(struct proxy_http_request *req, void *arg)
{
    struct proxy *px = arg;
    struct call *c = proxy_http_get_data(req);

    if (c == NULL) { /* a server without the head phase */
        finish_bare(req, "internal error: no call for this request");
        return;
    }
    read_request(c);
    run_script(c, proxy_keycache_get(px->keys, c->hash));
}

/* Target, route and key: what is checked before anything else.  0, or -1
 * when the call was answered (and freed). */
static int
call_start(struct call *c)
{
    struct proxy_http_request *req = c->req;
    const char *msg = NULL;

    if (policy_request_target_normalise(proxy_http_target(req), c->px->cfg.path_prefix, &c->path,
                                        &c->query, &msg) != 0) {
        if (msg == NULL)
            fail(c, 404, "not_found", "no such endpoint under this sendcap's path prefix");
        else
            fail(c, 400, "validation_error", "%s", msg);
        return -1;
    }
    switch (policy_route_match(proxy_http_method(req), c->path, &c->route)) {
    case POLICY_ROUTE_OK:
        break;
    case POLICY_ROUTE_BAD_METHOD:
        fail(c, 405, "method_not_allowed", "%s is not allowed on %s", proxy_http_method(req),
             c->path);
        return -1;
    case POLICY_ROUTE_NOT_FOUND:
        fail(c, 404, "not_found", "sendcap does not know the endpoint %s %s",
             proxy_http_method(req), c->path);
        return -1;
    }
    return authenticate(c);
}

void
proxy_call_refused(struct proxy_http_request *req, int status, const char *message, void *arg)
{
    struct call *c = proxy_http_get_data(req); /* set when refused after the head phase */

    if (c == NULL)
        c = call_new(arg, req);

    if (c == NULL) {
        finish_bare(req, "sendcap is out of memory; retry");
        return;
    }
    fail(c, status, status == 503 ? "service_unavailable" : "validation_error", "%s", message);
}
