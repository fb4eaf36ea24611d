/*
 * webhook.c - the daemon's delivery worker (SPEC §6): webhooks and owner
 * notices, on the loop, through the upstream's libcurl multi handle.
 *
 * A poll timer (about a second, jittered so instances do not take in step)
 * leases due deliveries from Redis (store_webhooks_take); each becomes one
 * HTTP attempt, and its outcome is recorded by store_webhooks_done, which
 * schedules the retry.  Nothing here blocks: secrets are opened in memory,
 * DNS is libcurl's asynchronous resolver, and a send never waits on a
 * delivery except the one it asks for (proxy_webhook_hold: the cap's 429
 * waits for its key.cap_reached, bounded by the attempt's timeout).
 *
 * URL rules at delivery (the record was checked at add, but a name's
 * answer can change): http and https only, no redirects, no proxy from the
 * environment, plain http only when the address libcurl actually connects
 * to is loopback (checked in the pre-request callback, on the resolved
 * address), the answer read up to SC_WEBHOOK_MAX_RESPONSE bytes, the whole
 * attempt within cfg->webhook_timeout_ms.
 *
 * Owner notices go through proxy_upstream_start (the upstream's own URL,
 * CA and egress rules) with the notice upstream's real key, and carry an
 * Idempotency-Key derived from the event id, so a notice retried after a
 * lost lease is one email at Resend.  Each is recorded in the call log as
 * the proxy's own call; no key's counters are touched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <jansson.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"
#include "proxy.h"
#include "store/upstreams.h"
#include "store/webhooks.h"

#define POLL_MS 1000
#define MAX_INFLIGHT 32 /* attempts at once per instance; more wait for a poll */

/* A cap's 429 waiting for its event's deliveries.  refs: one while not
 * fired, one while the claim is asked, one per attached delivery. */
struct hold {
    struct proxy_webhook *wh;
    proxy_webhook_hold_cb *cb;
    void *arg;
    int refs, pending, fired;
    struct event *timer;
};

struct dlv {
    struct proxy_upstream_xfer x; /* first: CURLOPT_PRIVATE */
    struct proxy_webhook *wh;
    struct dlv *prev, *next;
    CURL *easy; /* NULL for a notice (the upstream's own call) */
    struct curl_slist *headers;
    char *member, *body, *url;
    char eid[STORE_EVENT_ID_MAX], type[STORE_EVENT_TYPE_MAX], key[40];
    char target[STORE_WEBHOOK_ID_MAX];
    char owner[STORE_KEY_TEXT_MAX];
    int64_t lease;
    int http_loopback_only; /* plain http: the peer must be loopback */
    int refused;            /* the pre-request check refused the peer */
    size_t got;             /* answer bytes seen (read up to the cap) */
    struct hold *hold;
    int64_t t0, t_wall;
    char errbuf[CURL_ERROR_SIZE];
};

struct proxy_webhook {
    struct proxy *px;
    struct event *poll;
    int taking, stopped;
    int inflight;
    struct dlv *list;
};

static void poll_again(struct proxy_webhook *wh);

static const char *
notice_upstream(const struct proxy_webhook *wh)
{
    const struct sc_config *cfg = &wh->px->cfg;

    return cfg->notice_from != NULL && cfg->notice_upstream != NULL ? cfg->notice_upstream : NULL;
}

/* How long a taken delivery stays ours: the longest attempt it can be,
 * and a margin.  A notice is the upstream's own call, bounded by
 * --upstream-timeout, so an instance that may take notices leases for the
 * longer of the two: a lease that ran out mid-attempt would let another
 * instance send the notice again. */
static int64_t
lease_ms(const struct proxy_webhook *wh)
{
    const struct sc_config *cfg = &wh->px->cfg;
    int64_t t = cfg->webhook_timeout_ms;

    if (notice_upstream(wh) != NULL && cfg->upstream_timeout_ms > t)
        t = cfg->upstream_timeout_ms;
    return t + SC_WEBHOOK_LEASE_MARGIN_MS;
}

static void
hold_unref(struct hold *h)
{
    if (--h->refs > 0)
        return;
    if (h->timer != NULL)
        event_free(h->timer);
    free(h);
}

static void
hold_fire(struct hold *h)
{
    if (h->fired)
        return;
    h->fired = 1;
    evtimer_del(h->timer);
    h->cb(h->arg);
    hold_unref(h);
}

static void
hold_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    hold_fire(arg);
}

static void
dlv_free(struct dlv *d)
{
    struct proxy_webhook *wh = d->wh;

    if (d->prev != NULL)
        d->prev->next = d->next;
    else if (wh->list == d)
        wh->list = d->next;
    if (d->next != NULL)
        d->next->prev = d->prev;
    wh->inflight--;
    if (d->easy != NULL)
        curl_easy_cleanup(d->easy);
    curl_slist_free_all(d->headers);
    free(d->member);
    free(d->body);
    free(d->url);
    if (d->hold != NULL) {
        if (--d->hold->pending == 0)
            hold_fire(d->hold); /* the last attached attempt ended */
        hold_unref(d->hold);
    }
    free(d);
}

/* The outcome of one attempt: record it (the retry is the script's), log
 * it, release what waits on it. */
static void
attempt_end(struct dlv *d, int status, const char *why)
{
    struct proxy_webhook *wh = d->wh;
    struct store_webhook_outcome o;
    const char *errstr = NULL;

    o.delivered = status >= 200 && status < 300;
    o.status = status;
    o.retry_base_ms = wh->px->cfg.webhook_retry_base_ms;
    o.jitter_permille = 800 + (int)(random() % 401); /* ±20 % */
    if (store_webhooks_done(wh->px->redis, d->member, d->lease, &o, NULL, NULL, &errstr) != 0)
        sc_warn("webhook: cannot record the attempt of event %s for %s (%s); it is retried when "
                "its lease ends",
                d->eid, d->target, errstr);
    if (o.delivered)
        sc_info("webhook: delivered %s event %s to %s (HTTP %d, %lld ms)", d->type, d->eid,
                d->target, status, (long long)(sc_mono_ms() - d->t0));
    else
        sc_warn("webhook: %s event %s to %s not delivered: %s%s%d", d->type, d->eid, d->target,
                why ? why : "", why ? "; status " : "HTTP ", status);
    dlv_free(d);
}

static void
xfer_done(struct proxy_upstream_xfer *x, CURL *easy, CURLcode rc)
{
    struct dlv *d = (struct dlv *)x;
    long status = 0;

    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    /* An answer larger than the cap still gave its status: judged by it. */
    if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && status > 0))
        attempt_end(d, 0,
                    d->refused     ? "plain http to an address that is not loopback"
                    : d->errbuf[0] ? d->errbuf
                                   : curl_easy_strerror(rc));
    else
        attempt_end(d, (int)status, NULL);
}

static int
loopback_ip(const char *ip)
{
    struct in_addr a4;
    struct in6_addr a6;

    if (inet_pton(AF_INET, ip, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, ip, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
    return 0;
}

/* Right before the request goes out, on the address connected to: plain
 * http may carry the event only to loopback (SPEC §6, decided on the
 * resolved address, so a name that answers differently now cannot move it). */
static int
prereq_cb(void *arg, char *primary_ip, char *local_ip, int primary_port, int local_port)
{
    struct dlv *d = arg;

    (void)local_ip;
    (void)primary_port;
    (void)local_port;
    if (d->http_loopback_only && !loopback_ip(primary_ip)) {
        d->refused = 1;
        return CURL_PREREQFUNC_ABORT;
    }
    return CURL_PREREQFUNC_OK;
}

static size_t
discard_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct dlv *d = arg;
    size_t n = size * nmemb;

    (void)ptr;
    if (d->got + n > SC_WEBHOOK_MAX_RESPONSE)
        return 0; /* stop reading; the status decides */
    d->got += n;
    return n;
}

static int
start_webhook(struct dlv *d, const struct store_webhook_job *j)
{
    struct proxy_webhook *wh = d->wh;
    char aad[128], err[256], sig[STORE_WEBHOOK_SIG_MAX], line[160], msg_id[80], ts[24];
    size_t slen = 0;
    char *secret;
    int64_t now_s = (int64_t)time(NULL);

    d->url = strdup(j->url);
    d->body = store_event_body(&j->ev);
    if (d->url == NULL || d->body == NULL)
        return -1;
    store_webhooks_aad(j->target, aad, sizeof(aad));
    secret = store_secret_open(wh->px->master_key, aad, j->sealed, &slen, err, sizeof(err));
    if (secret == NULL) {
        sc_error("webhook %s: its secret does not open (%s)", j->target, err);
        return -1;
    }
    sc_cat(msg_id, sizeof(msg_id), "evt_", j->ev.id, NULL);
    if (store_webhooks_sign(secret, msg_id, now_s, d->body, strlen(d->body), sig) != 0) {
        store_secret_free(secret);
        return -1;
    }
    store_secret_free(secret);
    d->http_loopback_only = strncasecmp(d->url, "http://", 7) == 0;
    struct curl_slist *h = NULL;
    const char *lines[] = {"Content-Type: application/json", "User-Agent: sendcap-webhook/0.1",
                           "Expect:"};
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        h = curl_slist_append(h, lines[i]);
    sc_cat(line, sizeof(line), "webhook-id: ", msg_id, NULL);
    h = curl_slist_append(h, line);
    sc_cat(line, sizeof(line), "webhook-timestamp: ", sc_fmt_i64(ts, now_s), NULL);
    h = curl_slist_append(h, line);
    sc_cat(line, sizeof(line), "webhook-signature: ", sig, NULL);
    d->headers = curl_slist_append(h, line);
    if (d->headers == NULL || (d->easy = curl_easy_init()) == NULL)
        return -1;
    CURL *e = d->easy;
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_URL, d->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOPROXY, "");
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)wh->px->cfg.webhook_timeout_ms);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, d->headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, d->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(d->body));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, d);
    curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, prereq_cb);
    curl_easy_setopt(e, CURLOPT_PREREQDATA, d);
    curl_easy_setopt(e, CURLOPT_PRIVATE, d);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, d->errbuf);
    /* One connection per attempt: a receiver's keep-alive is not worth a
     * socket per webhook held open between events. */
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
#if LIBCURL_VERSION_NUM >= 0x075700
    /* A receiver whose DNS does not answer: when the attempt ends (its
     * timeout, or shutdown) while the threaded resolver still waits in
     * getaddrinfo, libcurl would join that thread on this loop and stall
     * every send until the lookup gives up.  Quick exit leaves the thread
     * to end on its own. */
    curl_easy_setopt(e, CURLOPT_QUICK_EXIT, 1L);
#endif
    d->x.done = xfer_done;
    return proxy_upstream_xfer_add(wh->px->upstream, e);
}

/* ---- owner notices ---- */

static const struct {
    const char *type, *subject, *what, *todo;
} notices[] = {
    {"key.issued", "A sendcap key was issued to you",
     "A new sendcap vault key was issued with you as its owner.",
     "If you did not expect it, ask your sendcap admin to revoke it (sendcap key revoke)."},
    {"key.rotated", "Your sendcap key was rotated",
     "Your sendcap vault key was rotated: a new key value replaces the old one, which stops "
     "working when its grace period ends.",
     "Make sure every agent that uses the key has the new value."},
    {"key.revoked", "Your sendcap key was revoked",
     "Your sendcap vault key was revoked: every call made with it is now refused.",
     "If an agent still needs to send email, ask your sendcap admin for a new key."},
    {"key.expiring", "Your sendcap key expires soon",
     "Your sendcap vault key will expire soon; after that every call made with it is refused.",
     "Ask your sendcap admin to extend it (sendcap key update --expires-in) or issue a new one."},
    {"key.cap_reached", "Your sendcap key reached its sending cap",
     "Your sendcap vault key reached its sending cap: further sends are refused until the cap "
     "resets.",
     "Check the agent for a loop or a runaway job; if the volume is expected, ask your sendcap "
     "admin to raise the cap (sendcap key update)."},
    {"key.rotation_due", "Your sendcap key is due for rotation",
     "Your sendcap vault key is older than its rotation period.",
     "Ask your sendcap admin to rotate it (sendcap key rotate) and give agents the new value."},
};

/* The notice mail as Resend's POST /emails body: a new string, or NULL.
 * Only the event's type, time, key id and name are used: never a key. */
static char *
notice_body(const struct sc_config *cfg, const struct store_webhook_job *j)
{
    json_t *data = json_loads(j->ev.data ? j->ev.data : "{}", 0, NULL);
    const char *name = data ? json_string_value(json_object_get(data, "name")) : NULL;
    char when[40], *text, *out = NULL;
    size_t i, n = sizeof(notices) / sizeof(notices[0]);

    for (i = 0; i < n && strcmp(notices[i].type, j->ev.type) != 0; i++)
        ;
    sc_format_time_ms(j->ev.at, when, sizeof(when));
    if (i < n &&
        asprintf(&text,
                 "What happened: %s\n\nWhen: %s\nKey: %s%s%s%s\nEvent: %s\n\nWhat to do: %s\n\n"
                 "-- sendcap, on behalf of your sendcap admin\n",
                 notices[i].what, when, j->ev.key, name && *name ? " (" : "", name ? name : "",
                 name && *name ? ")" : "", j->ev.type, notices[i].todo) >= 0) {
        json_t *o = json_pack("{s:s, s:[s], s:s, s:s}", "from", cfg->notice_from, "to", j->owner,
                              "subject", notices[i].subject, "text", text);
        if (o != NULL)
            out = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        free(text);
    }
    json_decref(data);
    return out;
}

/* The notice's call record: the proxy's own call, no key's. */
static void
notice_record(struct dlv *d, const struct proxy_upstream_result *res)
{
    struct store_audit_rec rec;
    char rid[32];
    const char *at = strrchr(d->owner, '@');

    memset(&rec, 0, sizeof(rec));
    proxy_request_id(rid, sizeof(rid));
    store_audit_set_i64(&rec, STORE_AUDIT_TIME, d->t_wall);
    store_audit_set(&rec, STORE_AUDIT_REQUEST_ID, rid);
    store_audit_set(&rec, STORE_AUDIT_METHOD, "POST");
    store_audit_set(&rec, STORE_AUDIT_PATH, "/emails");
    store_audit_set(&rec, STORE_AUDIT_ROUTE, "notice.send");
    store_audit_set_i64(&rec, STORE_AUDIT_RECIPIENTS, 1);
    store_audit_set(&rec, STORE_AUDIT_FROM_DOMAIN,
                    strrchr(d->wh->px->cfg.notice_from, '@')
                        ? strrchr(d->wh->px->cfg.notice_from, '@') + 1
                        : "");
    store_audit_set(&rec, STORE_AUDIT_RECIPIENT_DOMAINS, at ? at + 1 : "");
    store_audit_set(&rec, STORE_AUDIT_RECIPIENT_ADDRESSES, d->owner);
    store_audit_set(&rec, STORE_AUDIT_DECISION,
                    res->outcome == PROXY_UPSTREAM_ANSWERED && res->status < 300 ? "allowed"
                                                                                 : "error");
    store_audit_set(&rec, STORE_AUDIT_REASON, "owner_notice");
    if (res->outcome == PROXY_UPSTREAM_ANSWERED) {
        store_audit_set_i64(&rec, STORE_AUDIT_STATUS, res->status);
        store_audit_set_i64(&rec, STORE_AUDIT_UPSTREAM_STATUS, res->status);
    } else {
        store_audit_set_i64(&rec, STORE_AUDIT_STATUS, 502);
    }
    store_audit_set_i64(&rec, STORE_AUDIT_LATENCY_MS, res->latency_ms);
    store_audit_set_i64(&rec, STORE_AUDIT_UPSTREAM_LATENCY_MS, res->latency_ms);
    store_audit_set(&rec, STORE_AUDIT_CLIENT, "sendcapd");
    store_audit_set(&rec, STORE_AUDIT_USER_AGENT, d->eid); /* which event it told of */
    store_audit_log_write(d->wh->px->audit, &rec, NULL, NULL);
}

static void
notice_done(const struct proxy_upstream_result *res, void *arg)
{
    struct dlv *d = arg;

    notice_record(d, res);
    attempt_end(d, res->outcome == PROXY_UPSTREAM_ANSWERED ? (int)res->status : 0,
                res->outcome == PROXY_UPSTREAM_ANSWERED ? NULL : res->error);
}

static int
start_notice(struct dlv *d, const struct store_webhook_job *j)
{
    struct proxy_webhook *wh = d->wh;
    char aad[128], err[256], line[160];
    struct curl_slist *h = NULL;
    size_t klen = 0;
    char *real;

    sc_strlcpy(d->owner, j->owner, sizeof(d->owner));
    if ((d->body = notice_body(&wh->px->cfg, j)) == NULL)
        return -1;
    store_upstreams_aad(wh->px->cfg.notice_upstream, aad, sizeof(aad));
    real = store_secret_open(wh->px->master_key, aad, j->sealed, &klen, err, sizeof(err));
    if (real == NULL) {
        sc_error("notice: upstream %s's key does not open (%s)", wh->px->cfg.notice_upstream, err);
        return -1;
    }
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "User-Agent: sendcap-notice/0.1");
    sc_cat(line, sizeof(line), "Idempotency-Key: sendcap-notice-", j->ev.id, NULL);
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
    return proxy_upstream_start(wh->px->upstream, "POST", "/emails", h, d->body, strlen(d->body),
                                notice_done, d);
}

/* Start one leased delivery; hold (may be NULL) waits for it. */
static void
start(struct proxy_webhook *wh, const struct store_webhook_job *j, struct hold *hold)
{
    struct dlv *d = calloc(1, sizeof(*d));
    int notice = strcmp(j->target, "notice") == 0, rc;

    if (d == NULL || (d->member = strdup(j->member)) == NULL) {
        free(d);
        return; /* the lease runs out and it falls due again */
    }
    d->wh = wh;
    d->lease = j->lease;
    d->t0 = sc_mono_ms();
    d->t_wall = sc_now_ms();
    sc_strlcpy(d->eid, j->ev.id, sizeof(d->eid));
    sc_strlcpy(d->type, j->ev.type, sizeof(d->type));
    sc_strlcpy(d->target, j->target, sizeof(d->target));
    d->next = wh->list;
    if (wh->list != NULL)
        wh->list->prev = d;
    wh->list = d;
    wh->inflight++;
    if (hold != NULL && !hold->fired) {
        d->hold = hold;
        hold->refs++;
        hold->pending++;
    }
    rc = notice ? start_notice(d, j) : start_webhook(d, j);
    if (rc != 0) /* nothing was sent: a failed attempt, retried as any */
        attempt_end(d, 0, "could not start the attempt");
}

static void
taken(const struct store_webhook_job *jobs, size_t n, const char *errstr, void *arg)
{
    struct proxy_webhook *wh = arg;

    wh->taking = 0;
    if (errstr != NULL)
        sc_debug("webhook: take failed: %s", errstr);
    for (size_t i = 0; i < n && !wh->stopped; i++)
        start(wh, &jobs[i], NULL);
    poll_again(wh);
}

static void
poll_cb(evutil_socket_t fd, short what, void *arg)
{
    struct proxy_webhook *wh = arg;
    const char *errstr = NULL;

    (void)fd;
    (void)what;
    if (wh->stopped || wh->taking)
        return;
    if (!store_redis_async_ready(wh->px->redis) || wh->inflight >= MAX_INFLIGHT) {
        poll_again(wh);
        return;
    }
    wh->taking = 1;
    if (store_webhooks_take(wh->px->redis, lease_ms(wh), MAX_INFLIGHT - wh->inflight,
                            notice_upstream(wh), taken, wh, &errstr) != 0) {
        wh->taking = 0;
        poll_again(wh);
    }
}

static void
poll_again(struct proxy_webhook *wh)
{
    struct timeval tv = sc_tv_ms(sc_jitter_ms(POLL_MS, 10));

    if (!wh->stopped)
        evtimer_add(wh->poll, &tv);
}

struct proxy_webhook *
proxy_webhook_new(struct proxy *px)
{
    struct proxy_webhook *wh = calloc(1, sizeof(*wh));

    if (wh == NULL)
        return NULL;
    wh->px = px;
    if ((wh->poll = evtimer_new(px->base, poll_cb, wh)) == NULL) {
        free(wh);
        return NULL;
    }
    poll_again(wh);
    return wh;
}

void
proxy_webhook_stop(struct proxy_webhook *wh)
{
    if (wh == NULL)
        return;
    wh->stopped = 1;
    evtimer_del(wh->poll);
}

void
proxy_webhook_free(struct proxy_webhook *wh)
{
    if (wh == NULL)
        return;
    proxy_webhook_stop(wh);
    /* Attempts cut short keep their leases: another instance retries them
     * when the leases end. */
    while (wh->list != NULL) {
        struct dlv *d = wh->list;
        if (d->easy != NULL)
            proxy_upstream_xfer_cancel(wh->px->upstream, d->easy);
        dlv_free(d); /* a hold waiting on it is answered now */
    }
    event_free(wh->poll);
    free(wh);
}

/* ---- the cap's hold ---- */

static void
claimed(const struct store_webhook_job *jobs, size_t n, const char *errstr, void *arg)
{
    struct hold *h = arg;

    if (errstr != NULL)
        sc_warn("webhook: cannot claim the cap event's deliveries: %s", errstr);
    for (size_t i = 0; i < n; i++)
        start(h->wh, &jobs[i], h);
    if (h->pending == 0)
        hold_fire(h); /* nothing (left) to wait for */
    hold_unref(h);
}

int
proxy_webhook_hold(struct proxy_webhook *wh, const char *eid, proxy_webhook_hold_cb *cb, void *arg)
{
    struct hold *h;
    struct timeval tv;
    const char *errstr = NULL;

    if (wh == NULL || eid == NULL || eid[0] == '\0' || (h = calloc(1, sizeof(*h))) == NULL)
        return -1;
    h->wh = wh;
    h->cb = cb;
    h->arg = arg;
    h->refs = 2; /* not fired; the claim */
    /* Bounded: the attempt's own timeout and a little for Redis. */
    tv = sc_tv_ms(wh->px->cfg.webhook_timeout_ms + SC_REDIS_COMMAND_TIMEOUT_MS);
    if ((h->timer = evtimer_new(wh->px->base, hold_timeout, h)) == NULL ||
        store_webhooks_claim(wh->px->redis, eid, lease_ms(wh), notice_upstream(wh), claimed, h,
                             &errstr) != 0) {
        if (h->timer != NULL)
            event_free(h->timer);
        free(h);
        return -1;
    }
    evtimer_add(h->timer, &tv);
    return 0;
}
