/*
 * upstream.h - calls to the real Resend API through libcurl's multi
 * interface, driven by the daemon's libevent loop (socket and timer
 * callbacks; nothing blocks).  Connections are kept and reused across calls.
 *
 * Limits (common/limits.h): connect and whole-call timeouts, response header
 * and body size caps, no redirects, no proxy from the environment, and
 * https only unless the upstream is a loopback address (where tests put their
 * fake): a 127.0.0.0/8 or ::1 literal, or localhost resolved once at start-up
 * and pinned.
 */
#ifndef SC_PROXY_UPSTREAM_H
#define SC_PROXY_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "common/limits.h"

struct event_base;
struct proxy_upstream;

enum proxy_upstream_outcome {
    PROXY_UPSTREAM_ANSWERED = 0, /* got a complete HTTP answer (any status) */
    PROXY_UPSTREAM_NOT_SENT,     /* failed before any byte of the request left */
    PROXY_UPSTREAM_FAILED,       /* lost or garbled after the request was sent */
    PROXY_UPSTREAM_TIMEOUT,      /* whole-call or connect deadline passed */
};

struct proxy_upstream_result {
    enum proxy_upstream_outcome outcome;
    int sent;          /* did any of the request leave? (refund decisions) */
    long status;       /* HTTP status when ANSWERED */
    const char *error; /* curl's reason when not ANSWERED */
    int nhdr;
    struct {
        char *name, *value;
    } hdr[SC_UPSTREAM_MAX_HEADERS];
    const char *body; /* borrowed, valid during the callback */
    size_t body_len;
    int64_t latency_ms;
};

/* Runs exactly once per started call, never before proxy_upstream_start
 * returns.  res is borrowed for the duration of the callback. */
typedef void upstream_done_cb(const struct proxy_upstream_result *res, void *arg);

/* Check base_url (scheme, loopback rule; may block resolving localhost, so
 * start-up only) and set up the multi handle.
 * Returns a new client (caller frees), or NULL with err. */
struct proxy_upstream *proxy_upstream_new(struct event_base *base, const char *base_url,
                                          long timeout_ms, char *err, size_t errlen);
void proxy_upstream_free(struct proxy_upstream *up);

/*
 * Trust only the CAs in the PEM file ca_file for the upstream's certificate
 * (NULL: the system store).  The file is read now, once (start-up only: it
 * blocks), and must hold at least one certificate.  The certificate and the
 * host name are verified either way.  Call before the first call starts.
 * Returns 0, or -1 with err.
 */
int proxy_upstream_ca(struct proxy_upstream *up, const char *ca_file, char *err, size_t errlen);

/*
 * Reach the upstream through the egress proxy at url (http://, https://,
 * socks5:// or socks5h://, credentials allowed; NULL: directly).  Always a
 * tunnel (CONNECT), so the proxy sees only TLS; the *_proxy and no_proxy
 * environment variables are never read either way.  Logs the proxy with its
 * credentials masked; err never holds url.  Call before the first call
 * starts.  Returns 0, or -1 with err.
 */
int proxy_upstream_proxy(struct proxy_upstream *up, const char *url, char *err, size_t errlen);

/*
 * Start METHOD base_url+path_query.  headers is taken over (freed, each
 * entry wiped first since it carries the real key).  body is borrowed and
 * must stay valid until cb runs.  Returns 0, or -1 (cb never runs, headers
 * still freed) when the call could not be started.
 */
int proxy_upstream_start(struct proxy_upstream *up, const char *method, const char *path_query,
                         struct curl_slist *headers, const void *body, size_t body_len,
                         upstream_done_cb *cb, void *arg);

/* The whole-call limit of calls started from now on (SIGHUP). */
void proxy_upstream_set_timeout(struct proxy_upstream *up, long timeout_ms);

/* Calls started and not finished. */
long proxy_upstream_inflight(const struct proxy_upstream *up);

/*
 * Another module's transfer on the upstream's libcurl multi handle, so it
 * runs on the same loop with the same socket and timer glue (the webhook
 * worker, proxy/webhook.c).  The caller configures easy completely (its own
 * URL rules, limits and callbacks) and embeds x in the state it sets as
 * CURLOPT_PRIVATE, which must point at x.  x->done runs exactly once, after
 * easy was taken off the multi handle, never before the add returns;
 * proxy_upstream_xfer_cancel takes it off without calling done.
 */
struct proxy_upstream_xfer {
    void (*done)(struct proxy_upstream_xfer *x, CURL *easy, CURLcode rc);
};
int proxy_upstream_xfer_add(struct proxy_upstream *up, CURL *easy);
void proxy_upstream_xfer_cancel(struct proxy_upstream *up, CURL *easy);

#endif
