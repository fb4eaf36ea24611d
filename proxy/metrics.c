/*
 * metrics.c - what sendcapd counts for Prometheus, and its health and
 * metrics listener (--metrics-listen): /healthz, /readyz, /metrics.
 *
 * Everything is in process memory and lock-free (one thread).  Label sets
 * are bounded: routes come from the static table, decisions and reasons
 * from fixed lists, statuses from what the proxy answers, so the request
 * counter table cannot grow without bound (SC_METRICS_MAX_SERIES caps it
 * anyway; past it, calls are counted under route="other").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/limits.h"
#include "common/util.h"
#include "proxy.h"

#define NBUCKETS 15

static const double bucket_s[NBUCKETS - 1] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                              0.1,    0.25,  0.5,    1,     2.5,  5,     10};

struct hist {
    unsigned long long b[NBUCKETS]; /* cumulative at render time, per bucket here */
    unsigned long long count;
    double sum;
};

struct series {
    char *labels; /* route="…",decision="…",reason="…",status="…" */
    unsigned long long n;
};

struct proxy_metrics {
    struct series s[SC_METRICS_MAX_SERIES];
    size_t ns;
    struct hist total, upstream, redis;
    unsigned long long redis_errors, up_timeout, up_not_sent, up_failed;
    int64_t started;
};

struct proxy_metrics *
proxy_metrics_new(void)
{
    struct proxy_metrics *m = calloc(1, sizeof(*m));

    if (m != NULL)
        m->started = sc_now_ms();
    return m;
}

void
proxy_metrics_free(struct proxy_metrics *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->ns; i++)
        free(m->s[i].labels);
    free(m);
}

static void
observe(struct hist *h, int64_t us)
{
    double s = (double)us / 1e6;
    int i = 0;

    while (i < NBUCKETS - 1 && s > bucket_s[i])
        i++;
    h->b[i]++;
    h->count++;
    h->sum += s;
}

void
proxy_metrics_request(struct proxy_metrics *m, const char *route, const char *decision,
                      const char *reason, int status, int64_t total_us)
{
    char labels[256];
    size_t i;

    if (m == NULL)
        return;
    observe(&m->total, total_us);
    snprintf(labels, sizeof(labels), "route=\"%s\",decision=\"%s\",reason=\"%s\",status=\"%d\"",
             route, decision, reason, status);
    for (i = 0; i < m->ns; i++)
        if (strcmp(m->s[i].labels, labels) == 0)
            break;
    if (i == m->ns) {
        if (m->ns == SC_METRICS_MAX_SERIES) {
            snprintf(labels, sizeof(labels),
                     "route=\"other\",decision=\"%s\",reason=\"other\",status=\"%d\"", decision,
                     status);
            for (i = 0; i < m->ns; i++)
                if (strcmp(m->s[i].labels, labels) == 0)
                    break;
            if (i == m->ns)
                return;
        } else if ((m->s[i].labels = strdup(labels)) == NULL) {
            return;
        } else {
            m->ns++;
        }
    }
    m->s[i].n++;
}

void
proxy_metrics_upstream(struct proxy_metrics *m, int64_t us, enum proxy_upstream_outcome outcome)
{
    if (m == NULL)
        return;
    observe(&m->upstream, us);
    if (outcome == PROXY_UPSTREAM_TIMEOUT)
        m->up_timeout++;
    else if (outcome == PROXY_UPSTREAM_NOT_SENT)
        m->up_not_sent++;
    else if (outcome == PROXY_UPSTREAM_FAILED)
        m->up_failed++;
}

void
proxy_metrics_redis(struct proxy_metrics *m, int64_t us, int error)
{
    if (m == NULL)
        return;
    observe(&m->redis, us);
    if (error)
        m->redis_errors++;
}

static void
hist_text(FILE *f, const char *name, const char *help, const struct hist *h)
{
    unsigned long long cum = 0;

    fprintf(f, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    for (int i = 0; i < NBUCKETS - 1; i++) {
        cum += h->b[i];
        fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, bucket_s[i], cum);
    }
    fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n", name, h->count);
    fprintf(f, "%s_sum %.6f\n%s_count %llu\n", name, h->sum, name, h->count);
}

/* The Prometheus text exposition (format 0.0.4).  Returns a new string. */
static char *
render(struct proxy *px, size_t *len)
{
    struct proxy_metrics *m = px->metrics;
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);

    if (f == NULL)
        return NULL;
    fprintf(f,
            "# HELP sendcap_requests_total Calls answered, by route, decision, reason and status.\n"
            "# TYPE sendcap_requests_total counter\n");
    for (size_t i = 0; i < m->ns; i++)
        fprintf(f, "sendcap_requests_total{%s} %llu\n", m->s[i].labels, m->s[i].n);
    hist_text(f, "sendcap_request_duration_seconds", "Time from request to answer.", &m->total);
    hist_text(f, "sendcap_upstream_duration_seconds", "Time of each call to Resend.", &m->upstream);
    hist_text(f, "sendcap_redis_duration_seconds", "Time of each call.lua round trip.", &m->redis);
    fprintf(f,
            "# HELP sendcap_inflight_requests Calls received and not yet answered.\n"
            "# TYPE sendcap_inflight_requests gauge\nsendcap_inflight_requests %ld\n",
            proxy_http_inflight(px->http));
    fprintf(f,
            "# HELP sendcap_open_connections Agent connections open now.\n"
            "# TYPE sendcap_open_connections gauge\nsendcap_open_connections %ld\n",
            proxy_http_conns(px->http));
    fprintf(f,
            "# HELP sendcap_pending_body_bytes Request body bytes received and held "
            "(bounded by --max-pending-body).\n"
            "# TYPE sendcap_pending_body_bytes gauge\nsendcap_pending_body_bytes %lld\n",
            (long long)proxy_http_pending_body(px->http));
    fprintf(f,
            "# HELP sendcap_upstream_inflight Calls to Resend started and not finished.\n"
            "# TYPE sendcap_upstream_inflight gauge\nsendcap_upstream_inflight %ld\n",
            proxy_upstream_inflight(px->upstream));
    fprintf(f,
            "# HELP sendcap_redis_up Whether the Redis connection is up with scripts loaded.\n"
            "# TYPE sendcap_redis_up gauge\nsendcap_redis_up %d\n",
            store_redis_async_ready(px->redis));
    fprintf(f,
            "# HELP sendcap_redis_errors_total call.lua round trips that failed or timed out.\n"
            "# TYPE sendcap_redis_errors_total counter\nsendcap_redis_errors_total %llu\n",
            m->redis_errors);
    fprintf(f,
            "# HELP sendcap_upstream_errors_total Calls to Resend that got no answer, by kind.\n"
            "# TYPE sendcap_upstream_errors_total counter\n"
            "sendcap_upstream_errors_total{kind=\"timeout\"} %llu\n"
            "sendcap_upstream_errors_total{kind=\"not_sent\"} %llu\n"
            "sendcap_upstream_errors_total{kind=\"failed_after_send\"} %llu\n",
            m->up_timeout, m->up_not_sent, m->up_failed);
    fprintf(f,
            "# HELP sendcap_audit_pending Call records not yet acknowledged by Redis.\n"
            "# TYPE sendcap_audit_pending gauge\nsendcap_audit_pending %ld\n",
            store_audit_log_pending(px->audit));
    fprintf(f,
            "# HELP sendcap_start_time_seconds When this process started.\n"
            "# TYPE sendcap_start_time_seconds gauge\nsendcap_start_time_seconds %.3f\n",
            (double)m->started / 1000.0);
    fclose(f);
    return buf;
}

static void
text_reply(struct proxy_http_request *req, int status, const char *ctype, const char *body,
           size_t len)
{
    proxy_http_add_header(req, "Content-Type", ctype);
    proxy_http_add_header(req, "Cache-Control", "no-store");
    proxy_http_respond(req, status, body, len);
}

static void
text_str(struct proxy_http_request *req, int status, const char *ctype, const char *body)
{
    text_reply(req, status, ctype, body, strlen(body));
}

void
proxy_metrics_handle(struct proxy_http_request *req, void *arg)
{
    struct proxy *px = arg;
    const char *t = proxy_http_target(req);
    size_t n = strcspn(t, "?");

    if (strcmp(proxy_http_method(req), "GET") != 0 && strcmp(proxy_http_method(req), "HEAD") != 0) {
        text_str(req, 405, "text/plain", "method not allowed\n");
    } else if (n == 8 && strncmp(t, "/healthz", 8) == 0) {
        text_str(req, 200, "application/json", "{\"status\":\"ok\"}\n");
    } else if (n == 7 && strncmp(t, "/readyz", 7) == 0) {
        /* Ready: Redis connected with the scripts loaded; the master key was
         * proven at start-up (sendcapd does not start without it). */
        if (store_redis_async_ready(px->redis))
            text_str(req, 200, "application/json",
                     "{\"status\":\"ready\",\"redis\":\"up\",\"master_key\":\"loaded\"}\n");
        else
            text_str(req, 503, "application/json",
                     "{\"status\":\"not ready\",\"redis\":\"down\",\"master_key\":\"loaded\"}\n");
    } else if (n == 8 && strncmp(t, "/metrics", 8) == 0) {
        size_t len = 0;
        char *body = render(px, &len);
        if (body == NULL) {
            text_str(req, 503, "text/plain", "out of memory\n");
            return;
        }
        text_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", body, len);
        free(body);
    } else {
        text_str(req, 404, "text/plain", "not found: /healthz, /readyz, /metrics\n");
    }
}

void
proxy_metrics_refused(struct proxy_http_request *req, int status, const char *message, void *arg)
{
    (void)arg;
    text_reply(req, status, "text/plain", message, strlen(message));
}
