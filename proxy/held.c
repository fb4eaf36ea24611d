/*
 * held.c - the daemon's worker for held sends (SPEC §7): it forwards the
 * approved ones exactly once and expires the undecided.
 *
 * Every SC_HELD_POLL_MS (jittered) each instance leases the next approved
 * held send (store_held_take: one instance gets it), opens its sealed body
 * and its upstream's real key in memory, and forwards it through the
 * upstream's libcurl multi with `Idempotency-Key: sendcap-held-<held id>`.
 * If this process dies between forwarding and recording, the lease runs
 * out and another instance forwards it again with the same key: Resend
 * replays its first answer instead of sending twice.  The outcome settles
 * like any send (store_held_done: sent, or failed with the reservation
 * given back when Resend clearly refused it; no answer: retried, at most
 * SC_HELD_ATTEMPTS_MAX times) and each attempt is a call-log record naming
 * the approver.  The same tick expires held sends past their --hold-ttl
 * (store_held_expire: one ZRANGEBYSCORE when none is due), recording each.
 * Nothing here blocks.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"
#include "proxy.h"
#include "store/held.h"
#include "store/upstreams.h"

#define EXPIRE_BATCH 100

struct fwd {
    struct proxy_held *ph;
    char id[STORE_HELD_ID_MAX], key_id[40], request_id[40], route[32];
    char from_domain[512], decided_by[256], agent_run_id[STORE_KEY_TEXT_MAX];
    char *plain; /* the opened send (wiped when freed) */
    const char *path, *body;
    size_t blen;
    int64_t sends, attempt, t_wall;
};

struct proxy_held {
    struct proxy *px;
    struct event *poll;
    int taking, expiring, stopped;
    struct fwd *busy; /* one forward at a time per instance */
};

static void poll_again(struct proxy_held *ph, int64_t ms);

static void
fwd_free(struct fwd *f)
{
    if (f == NULL)
        return;
    if (f->ph != NULL && f->ph->busy == f)
        f->ph->busy = NULL;
    store_secret_free(f->plain);
    free(f);
}

/* A decision or attempt of a held send, in the call log: the approver (or
 * "sweep") is its client (README: the call log). */
static void
held_record(struct proxy *px, const char *key_id, const char *route, int64_t sends,
            const char *from_domain, const char *decision, const char *reason, long status,
            long ust, const char *ids, const char *client, const char *run, int64_t t_wall)
{
    struct store_audit_rec rec;
    char rid[32];

    memset(&rec, 0, sizeof(rec));
    proxy_request_id(rid, sizeof(rid));
    store_audit_set_i64(&rec, STORE_AUDIT_TIME, t_wall);
    store_audit_set(&rec, STORE_AUDIT_REQUEST_ID, rid);
    store_audit_set(&rec, STORE_AUDIT_KEY_ID, key_id);
    store_audit_set(&rec, STORE_AUDIT_AGENT_RUN_ID, run);
    store_audit_set(&rec, STORE_AUDIT_METHOD, "POST");
    store_audit_set(&rec, STORE_AUDIT_PATH,
                    strcmp(route, "emails.batch") == 0 ? "/emails/batch" : "/emails");
    store_audit_set(&rec, STORE_AUDIT_ROUTE, route);
    store_audit_set_i64(&rec, STORE_AUDIT_RECIPIENTS, sends);
    store_audit_set(&rec, STORE_AUDIT_FROM_DOMAIN, from_domain);
    store_audit_set(&rec, STORE_AUDIT_DECISION, decision);
    store_audit_set(&rec, STORE_AUDIT_REASON, reason);
    if (status > 0)
        store_audit_set_i64(&rec, STORE_AUDIT_STATUS, status);
    if (ust > 0)
        store_audit_set_i64(&rec, STORE_AUDIT_UPSTREAM_STATUS, ust);
    store_audit_set(&rec, STORE_AUDIT_EMAIL_IDS, ids);
    store_audit_set_i64(&rec, STORE_AUDIT_LATENCY_MS, sc_now_ms() - t_wall);
    store_audit_set(&rec, STORE_AUDIT_CLIENT, client);
    store_audit_set(&rec, STORE_AUDIT_USER_AGENT, "sendcapd held-send forwarder");
    store_audit_log_write(px->audit, &rec, NULL, NULL);
}

/* Resend's id(s) from a 2xx answer, comma-joined into out. */
static void
ids_of(const struct proxy_upstream_result *res, char *out, size_t len)
{
    json_t *root = json_loadb(res->body, res->body_len, 0, NULL), *el;
    size_t i;

    out[0] = '\0';
    if (json_is_string(json_object_get(root, "id")))
        sc_strlcpy(out, json_string_value(json_object_get(root, "id")), len);
    json_array_foreach(json_object_get(root, "data"), i, el)
    {
        const char *id = json_string_value(json_object_get(el, "id"));
        if (id != NULL && strlen(out) + strlen(id) + 2 < len)
            sc_cat(out + strlen(out), len - strlen(out), out[0] ? "," : "", id, NULL);
    }
    json_decref(root);
}

static void
outcome_wait(struct fwd *f, enum store_held_outcome o, const char *email, int refund,
             const char *why, int64_t wait_ms)
{
    const char *errstr = NULL;

    if (store_held_done(f->ph->px->redis, f->id, o, email, refund, why,
                        f->ph->px->cfg.log_retention_ms, wait_ms, &errstr) != 0)
        sc_warn("held %s: outcome not recorded (%s); the lease ends and it is retried with "
                "the same Idempotency-Key",
                f->id, errstr);
}

static void
outcome(struct fwd *f, enum store_held_outcome o, const char *email, int refund, const char *why)
{
    outcome_wait(f, o, email, refund, why, 0);
}

/* How long Resend asked to wait (Retry-After in seconds), kept between
 * SC_HELD_WAIT_MIN_MS and SC_HELD_WAIT_MAX_MS; the least without one. */
static int64_t
retry_after_ms(const struct proxy_upstream_result *res)
{
    int64_t ms = SC_HELD_WAIT_MIN_MS;

    for (int i = 0; i < res->nhdr; i++) {
        int64_t s;
        if (policy_header_name_eq(res->hdr[i].name, "Retry-After") &&
            sc_parse_i64(res->hdr[i].value, 0, 86400, &s) == 0)
            ms = s * 1000;
    }
    if (ms < SC_HELD_WAIT_MIN_MS)
        ms = SC_HELD_WAIT_MIN_MS;
    return ms > SC_HELD_WAIT_MAX_MS ? SC_HELD_WAIT_MAX_MS : ms;
}

static void
forwarded(const struct proxy_upstream_result *res, void *arg)
{
    struct fwd *f = arg;
    struct proxy_held *ph = f->ph;
    char ids[1024] = "", rec_ids[1100];
    long st = res->outcome == PROXY_UPSTREAM_ANSWERED ? res->status : 0;

    if (ph == NULL) { /* shutting down: the lease ends, another retries it */
        fwd_free(f);
        return;
    }
    if (st >= 200 && st < 300) {
        ids_of(res, ids, sizeof(ids));
        outcome(f, STORE_HELD_SENT, ids, 0, NULL);
    } else if (st == 429) {
        /* Resend's rate limit (per team, 2 requests/s by default): it did
         * not take the send; a person approved it, so it waits its turn
         * rather than failing. */
        sc_info("held %s: Resend rate-limited the forward; trying again later", f->id);
        outcome_wait(f, STORE_HELD_WAIT, NULL, 0, NULL, retry_after_ms(res));
    } else if (st >= 400 && st < 500 && st != 409) {
        char why[64];
        snprintf(why, sizeof(why), "Resend answered %ld", st);
        outcome(f, STORE_HELD_FAILED, NULL, 1, why);
    } else {
        /* 5xx, no answer: it may have gone; the same Idempotency-Key makes
         * the retry safe.  409: an earlier attempt under this held id's key
         * (cut off by a timeout or a crash) is still in progress at Resend,
         * and may yet send: never a refusal to give the reservation back
         * for. */
        sc_warn("held %s: attempt %lld got no usable answer (%s); retrying", f->id,
                (long long)f->attempt,
                st == 409    ? "409, an earlier attempt in progress"
                : st         ? "5xx"
                : res->error ? res->error
                             : "?");
        outcome(f, STORE_HELD_RETRY, NULL, 0, NULL);
    }
    sc_cat(rec_ids, sizeof(rec_ids), f->id, ids[0] ? "," : "", ids, NULL);
    held_record(ph->px, f->key_id, f->route, f->sends, f->from_domain,
                st >= 200 && st < 300 ? "allowed" : "error",
                st >= 200 && st < 300 ? "sent" : "upstream_error", st ? st : 502, st, rec_ids,
                f->decided_by, f->agent_run_id, f->t_wall);
    fwd_free(f);
    poll_again(ph, 0);
}

static void
forward(struct proxy_held *ph, const struct store_held_job *j)
{
    struct fwd *f = calloc(1, sizeof(*f));
    char aad[128], err[256], line[128];
    struct curl_slist *h = NULL;
    size_t klen = 0;
    char *real = NULL;

    if (f == NULL)
        return; /* the lease ends and it falls due again */
    f->ph = ph;
    ph->busy = f;
    sc_strlcpy(f->id, j->id, sizeof(f->id));
    sc_strlcpy(f->key_id, j->key_id, sizeof(f->key_id));
    sc_strlcpy(f->request_id, j->request_id, sizeof(f->request_id));
    sc_strlcpy(f->route, j->route, sizeof(f->route));
    sc_strlcpy(f->from_domain, j->from_domain, sizeof(f->from_domain));
    sc_strlcpy(f->decided_by, j->decided_by, sizeof(f->decided_by));
    sc_strlcpy(f->agent_run_id, j->agent_run_id, sizeof(f->agent_run_id));
    f->sends = j->sends;
    f->attempt = j->attempt;
    f->t_wall = sc_now_ms();
    f->plain = store_held_open(ph->px->master_key, j->id, j->sealed, &f->path, &f->body, &f->blen,
                               err, sizeof(err));
    if (f->plain == NULL) {
        sc_error("held %s: the sealed send does not open (%s); nothing was sent", j->id, err);
        outcome(f, STORE_HELD_FAILED, NULL, 1, "the sealed send does not open");
        goto fail;
    }
    store_upstreams_aad(j->upstream, aad, sizeof(aad));
    if (j->upstream_sealed[0] == '\0' ||
        (real = store_secret_open(ph->px->master_key, aad, j->upstream_sealed, &klen, err,
                                  sizeof(err))) == NULL) {
        sc_error("held %s: upstream %s is gone or its key does not open; nothing was sent", j->id,
                 j->upstream);
        outcome(f, STORE_HELD_FAILED, NULL, 1, "the key's upstream is gone");
        goto fail;
    }
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "User-Agent: sendcap/0.1");
    h = curl_slist_append(h, "Expect:");
    store_held_idempotency_key(j->id, line + 17, sizeof(line) - 17);
    memcpy(line, "Idempotency-Key: ", 17);
    h = curl_slist_append(h, line);
    {
        size_t n = klen + 32;
        char *auth = malloc(n);
        if (auth != NULL) {
            sc_cat(auth, n, "Authorization: Bearer ", real, NULL);
            h = curl_slist_append(h, auth);
            store_secret_wipe(auth, n);
            free(auth);
        }
    }
    store_secret_free(real);
    /* proxy_upstream_start takes h over (and wipes it) whatever happens. */
    if (proxy_upstream_start(ph->px->upstream, "POST", f->path, h, f->body, f->blen, forwarded,
                             f) != 0) {
        outcome(f, STORE_HELD_RETRY, NULL, 0, NULL);
        goto fail;
    }
    return;
fail:
    fwd_free(f);
}

static void
taken(const struct store_held_job *j, const char *errstr, void *arg)
{
    struct proxy_held *ph = arg;

    ph->taking = 0;
    if (errstr != NULL)
        sc_debug("held: take failed: %s", errstr);
    if (j != NULL && !ph->stopped) {
        forward(ph, j);
        if (ph->busy != NULL)
            return; /* the next poll follows its answer */
    }
    poll_again(ph, SC_HELD_POLL_MS);
}

static void
expired(const struct store_held_expired *v, size_t n, const char *errstr, void *arg)
{
    struct proxy_held *ph = arg;

    ph->expiring = 0;
    if (errstr != NULL)
        sc_debug("held: expiry failed: %s", errstr);
    for (size_t i = 0; i < n; i++) {
        char ids[64];
        sc_strlcpy(ids, v[i].id, sizeof(ids));
        held_record(ph->px, v[i].key_id, v[i].route, v[i].sends, v[i].from_domain, "denied",
                    "expired", 0, 0, ids, "sweep", "", sc_now_ms());
    }
    if (n > 0)
        sc_info("held: %zu held sends expired, their sends given back", n);
}

static void
poll_cb(evutil_socket_t fd, short what, void *arg)
{
    struct proxy_held *ph = arg;
    const char *errstr = NULL;

    (void)fd;
    (void)what;
    if (ph->stopped)
        return;
    if (!store_redis_async_ready(ph->px->redis)) {
        poll_again(ph, SC_HELD_POLL_MS);
        return;
    }
    if (!ph->expiring) {
        ph->expiring = 1;
        if (store_held_expire(ph->px->redis, EXPIRE_BATCH, expired, ph, &errstr) != 0)
            ph->expiring = 0;
    }
    if (ph->busy != NULL || ph->taking)
        return;
    ph->taking = 1;
    if (store_held_take(ph->px->redis, ph->px->cfg.upstream_timeout_ms + SC_HELD_LEASE_MS, taken,
                        ph, &errstr) != 0) {
        ph->taking = 0;
        poll_again(ph, SC_HELD_POLL_MS);
    }
}

static void
poll_again(struct proxy_held *ph, int64_t ms)
{
    struct timeval tv = sc_tv_ms(sc_jitter_ms(ms, 10));

    if (!ph->stopped)
        evtimer_add(ph->poll, &tv);
}

struct proxy_held *
proxy_held_new(struct proxy *px)
{
    struct proxy_held *ph = calloc(1, sizeof(*ph));

    if (ph == NULL)
        return NULL;
    ph->px = px;
    if ((ph->poll = evtimer_new(px->base, poll_cb, ph)) == NULL) {
        free(ph);
        return NULL;
    }
    poll_again(ph, SC_HELD_POLL_MS);
    return ph;
}

void
proxy_held_stop(struct proxy_held *ph)
{
    if (ph == NULL)
        return;
    ph->stopped = 1;
    evtimer_del(ph->poll);
}

void
proxy_held_free(struct proxy_held *ph)
{
    if (ph == NULL)
        return;
    proxy_held_stop(ph);
    /* A forward cut short keeps its lease: another instance retries it,
     * with the same Idempotency-Key, when the lease ends. */
    if (ph->busy != NULL)
        ph->busy->ph = NULL;
    event_free(ph->poll);
    free(ph);
}
