/*
 * upstream.c - libcurl multi on libevent.  See upstream.h.
 *
 * The glue follows curl's own multi-event.c / hiperfifo.c examples: curl
 * tells us which sockets to watch (socket callback) and when to wake it
 * (timer callback); libevent calls curl_multi_socket_action back.  Finished
 * transfers are collected with curl_multi_info_read after each action.
 */
#include "upstream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/dynbuf.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"
#include "store/secret.h"

struct proxy_upstream {
    struct event_base *base;
    CURLM *multi;
    struct event *timer;
    char *base_url;
    int allow_http;
    struct curl_slist *pin; /* CURLOPT_RESOLVE entry for a plain-http localhost */
    char *ca_pem;           /* --upstream-ca's contents, NULL: the system store */
    char *proxy;            /* --upstream-proxy (may hold credentials), NULL: none */
    size_t ca_len;
    long timeout_ms;
    long inflight;
    CURL *pool[SC_UPSTREAM_MAX_IDLE_CONNS];
    int npool;
};

struct sock {
    struct event *ev;
    curl_socket_t fd;
};

struct ucall {
    struct proxy_upstream_xfer x; /* first, done NULL: CURLOPT_PRIVATE tells
                                   * a call from another module's transfer */
    struct proxy_upstream *up;
    CURL *easy;
    struct curl_slist *headers;
    int attempts; /* requests libcurl was about to make for this call */
    upstream_done_cb *cb;
    void *arg;
    char *url;
    struct sc_dynbuf body; /* at most SC_UPSTREAM_MAX_RESPONSE */
    struct sc_dynbuf hbuf; /* header lines "name\0value\0...", at most
                            * SC_UPSTREAM_MAX_RESPONSE_HEADERS */
    int nhdr;              /* header fields in hbuf */
    int too_large;
    int64_t t0;
    char errbuf[CURL_ERROR_SIZE];
};

static void check_done(struct proxy_upstream *up);

static void
wipe_slist(struct curl_slist *l)
{
    for (struct curl_slist *p = l; p != NULL; p = p->next)
        store_secret_wipe(p->data, strlen(p->data));
    curl_slist_free_all(l);
}

static void
event_cb(evutil_socket_t fd, short what, void *arg)
{
    struct proxy_upstream *up = arg;
    int running, flags = 0;

    if (what & EV_READ)
        flags |= CURL_CSELECT_IN;
    if (what & EV_WRITE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(up->multi, fd, flags, &running);
    check_done(up);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct proxy_upstream *up = arg;
    int running;

    (void)fd;
    (void)what;
    curl_multi_socket_action(up->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(up);
}

static int
multi_timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
    struct proxy_upstream *up = arg;
    struct timeval tv = sc_tv_ms(timeout_ms);

    (void)multi;
    if (timeout_ms < 0) {
        evtimer_del(up->timer);
    } else if (timeout_ms == 0) {
        /* "Now" (a transfer just added, a connection to reuse): run it in
         * this turn of the loop, after the current callback returns, rather
         * than through a 0 ms timer, which costs the loop another epoll_wait
         * per send. libcurl asks that socket_action not be called from here. */
        evtimer_del(up->timer);
        event_active(up->timer, EV_TIMEOUT, 1);
    } else {
        evtimer_add(up->timer, &tv);
    }
    return 0;
}

static int
sock_cb(CURL *easy, curl_socket_t s, int what, void *arg, void *sockp)
{
    struct proxy_upstream *up = arg;
    struct sock *sk = sockp;
    short kind;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (sk != NULL) {
            event_free(sk->ev);
            free(sk);
        }
        curl_multi_assign(up->multi, s, NULL);
        return 0;
    }
    kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
           ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
    if (sk == NULL) {
        sk = calloc(1, sizeof(*sk));
        if (sk == NULL || (sk->ev = event_new(up->base, s, kind, event_cb, up)) == NULL) {
            free(sk);
            return -1;
        }
        sk->fd = s;
        curl_multi_assign(up->multi, s, sk);
    } else {
        /* Same event, new interest: libevent folds the del and add into
         * one epoll change (or none). */
        event_del(sk->ev);
        event_assign(sk->ev, up->base, s, kind, event_cb, up);
    }
    event_add(sk->ev, NULL);
    return 0;
}

/*
 * Called by libcurl right before it sends the request on a connection, new
 * or reused.  A second call for one transfer is libcurl's silent retry: when
 * a reused keep-alive connection closes without an answer, it re-sends the
 * request on a fresh connection.  For a send Resend did receive that would
 * be a second email under one reservation, so the retry is refused and the
 * call fails as "failed after sending" (502, reservation kept).
 */
static int
prereq_cb(void *arg, char *conn_primary_ip, char *conn_local_ip, int conn_primary_port,
          int conn_local_port)
{
    struct ucall *c = arg;

    (void)conn_primary_ip;
    (void)conn_local_ip;
    (void)conn_primary_port;
    (void)conn_local_port;
    return c->attempts++ == 0 ? CURL_PREREQFUNC_OK : CURL_PREREQFUNC_ABORT;
}

static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct ucall *c = arg;
    size_t n = size * nmemb;

    switch (sc_dynbuf_add(&c->body, ptr, n)) {
    case SC_DYNBUF_OK:
        return n;
    case SC_DYNBUF_TOO_LARGE:
        c->too_large = 1;
        return 0; /* makes curl fail the transfer with CURLE_WRITE_ERROR */
    default:
        return 0;
    }
}

/* Collect "Name: value" lines of the final response.  A status line
 * ("HTTP/...") starts a new response (after 100 Continue), so it resets. */
static size_t
header_cb(char *ptr, size_t size, size_t nitems, void *arg)
{
    struct ucall *c = arg;
    size_t n = size * nitems, nl, vl;
    char *colon, *v, *end = ptr + n;

    if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
        sc_dynbuf_reset(&c->hbuf);
        c->nhdr = 0;
        return n;
    }
    while (end > ptr && (end[-1] == '\n' || end[-1] == '\r'))
        end--;
    if (end == ptr)
        return n;
    colon = memchr(ptr, ':', (size_t)(end - ptr));
    if (colon == NULL || colon == ptr)
        return n;
    nl = (size_t)(colon - ptr);
    v = colon + 1;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    vl = (size_t)(end - v);
    /* Past either bound the answer cannot be relayed unchanged (SPEC §3):
     * fail it (502) rather than pass on some of its fields. */
    if (c->nhdr >= SC_UPSTREAM_MAX_HEADERS || sc_dynbuf_len(&c->hbuf) + nl + vl + 2 > c->hbuf.max) {
        c->too_large = 1;
        return 0;
    }
    /* Room was checked above: only out of memory can fail these. */
    if (sc_dynbuf_add(&c->hbuf, ptr, nl) != SC_DYNBUF_OK ||
        sc_dynbuf_add(&c->hbuf, "", 1) != SC_DYNBUF_OK ||
        sc_dynbuf_add(&c->hbuf, v, vl) != SC_DYNBUF_OK ||
        sc_dynbuf_add(&c->hbuf, "", 1) != SC_DYNBUF_OK)
        return 0;
    c->nhdr++;
    return n;
}

static void
ucall_free(struct ucall *c)
{
    struct proxy_upstream *up = c->up;

    if (c->easy != NULL) {
        curl_multi_remove_handle(up->multi, c->easy);
        if (up->npool < SC_UPSTREAM_MAX_IDLE_CONNS) {
            /* Kept configured (easy_new); the per-call options are all set
             * again by the next proxy_upstream_start.  Nothing of this call
             * stays reachable: the header list is freed below and replaced
             * before the next transfer. */
            curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, NULL);
            curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, NULL);
            curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, NULL);
            up->pool[up->npool++] = c->easy;
        } else {
            curl_easy_cleanup(c->easy);
        }
    }
    wipe_slist(c->headers);
    free(c->url);
    sc_dynbuf_free(&c->body);
    sc_dynbuf_free(&c->hbuf);
    free(c);
}

static void
finish(struct ucall *c, CURLcode rc)
{
    struct proxy_upstream_result res;
    curl_off_t sent = 0;

    memset(&res, 0, sizeof(res));
    curl_easy_getinfo(c->easy, CURLINFO_REQUEST_SIZE, &sent);
    res.sent = sent > 0 || c->attempts > 1; /* a refused retry means one went out */
    if (rc == CURLE_OK) {
        res.outcome = PROXY_UPSTREAM_ANSWERED;
        curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &res.status);
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        res.outcome = PROXY_UPSTREAM_TIMEOUT;
    } else if (!res.sent) {
        res.outcome = PROXY_UPSTREAM_NOT_SENT;
    } else {
        res.outcome = PROXY_UPSTREAM_FAILED;
    }
    if (rc != CURLE_OK)
        res.error = c->too_large   ? "the upstream answer is larger than allowed"
                    : c->errbuf[0] ? c->errbuf
                                   : curl_easy_strerror(rc);
    for (size_t off = 0; off < sc_dynbuf_len(&c->hbuf) && res.nhdr < SC_UPSTREAM_MAX_HEADERS;) {
        char *h = c->hbuf.p; /* res.hdr is char *: the caller may edit in place */
        res.hdr[res.nhdr].name = h + off;
        off += strlen(h + off) + 1;
        res.hdr[res.nhdr].value = h + off;
        off += strlen(h + off) + 1;
        res.nhdr++;
    }
    res.body = sc_dynbuf_ptr(&c->body);
    res.body_len = sc_dynbuf_len(&c->body);
    res.latency_ms = sc_mono_ms() - c->t0;
    c->up->inflight--;
    c->cb(&res, c->arg);
    ucall_free(c);
}

static void
check_done(struct proxy_upstream *up)
{
    CURLMsg *m;
    int left;

    while ((m = curl_multi_info_read(up->multi, &left)) != NULL) {
        struct proxy_upstream_xfer *x = NULL;

        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (x != NULL && x->done != NULL) {
            CURL *easy = m->easy_handle;
            CURLcode rc = m->data.result;
            curl_multi_remove_handle(up->multi, easy);
            x->done(x, easy, rc);
        } else if (x != NULL) {
            finish((struct ucall *)x, m->data.result);
        }
    }
}

static int
loopback_sa(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr) >> 24 == 127;
    if (sa->sa_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr);
    return 0;
}

/*
 * Plain http carries the real key in clear, so it is allowed only where it
 * cannot leave the machine (issue #11).  That is decided on addresses, not
 * on how a name starts: "127.0.0.1.evil.example" is a DNS name like any
 * other.  A host passes if it is a numeric loopback literal (127.0.0.0/8,
 * ::1), or is "localhost" and every address it resolves to now is one; then
 * *pin gets a CURLOPT_RESOLVE entry holding exactly those addresses, so
 * libcurl never asks again and a later change of the name's answer cannot
 * move the key.  Start-up only: getaddrinfo blocks.  Returns 0, or -1 with
 * err.
 */
static int
loopback_pin(const char *host, long port, struct curl_slist **pin, char *err, size_t errlen)
{
    struct in_addr a4;
    struct in6_addr a6;
    struct addrinfo hints, *res = NULL;
    char entry[512], addr[INET6_ADDRSTRLEN];
    size_t hl = strlen(host);
    int n = 0, rc;

    if (inet_pton(AF_INET, host, &a4) == 1) {
        if ((ntohl(a4.s_addr) >> 24) == 127)
            return 0;
        goto refuse;
    }
    if (hl > 2 && host[0] == '[' && host[hl - 1] == ']' && hl - 2 < sizeof(addr)) {
        memcpy(addr, host + 1, hl - 2);
        addr[hl - 2] = '\0';
        if (inet_pton(AF_INET6, addr, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6))
            return 0;
        goto refuse;
    }
    if (strcasecmp(host, "localhost") != 0)
        goto refuse;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if ((rc = getaddrinfo(host, NULL, &hints, &res)) != 0) {
        snprintf(err, errlen, "--upstream-url: cannot resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    snprintf(entry, sizeof(entry), "%s:%ld:", host, port);
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        rc = getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof(addr), NULL, 0, NI_NUMERICHOST);
        if (!loopback_sa(ai->ai_addr) || rc != 0) {
            freeaddrinfo(res);
            snprintf(err, errlen,
                     "--upstream-url: %s resolves to an address that is not loopback; plain http "
                     "is allowed only to loopback",
                     host);
            return -1;
        }
        rc = snprintf(entry + strlen(entry), sizeof(entry) - strlen(entry),
                      ai->ai_family == AF_INET6 ? "%s[%s]" : "%s%s", n++ ? "," : "", addr);
        if (rc < 0 || strlen(entry) >= sizeof(entry) - 1) {
            freeaddrinfo(res);
            snprintf(err, errlen, "--upstream-url: %s resolves to too many addresses", host);
            return -1;
        }
    }
    freeaddrinfo(res);
    if (n == 0 || (*pin = curl_slist_append(NULL, entry)) == NULL) {
        snprintf(err, errlen, "--upstream-url: cannot resolve %s", host);
        return -1;
    }
    return 0;
refuse:
    snprintf(err, errlen,
             "--upstream-url: must be https:// (plain http is allowed only to loopback: "
             "127.0.0.0/8, [::1] or localhost), got host '%s'",
             host);
    return -1;
}

struct proxy_upstream *
proxy_upstream_new(struct event_base *base, const char *base_url, long timeout_ms, char *err,
                   size_t errlen)
{
    struct proxy_upstream *up = NULL;
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *path = NULL, *port = NULL;
    struct curl_slist *pin = NULL;

    if (u == NULL || curl_url_set(u, CURLUPART_URL, base_url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        snprintf(err, errlen, "--upstream-url: not a URL: '%s'", base_url);
        goto fail;
    }
    if (curl_url_get(u, CURLUPART_QUERY, &path, 0) == CURLUE_OK) {
        snprintf(err, errlen, "--upstream-url: must not carry a query");
        goto fail;
    }
    if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0) {
        snprintf(err, errlen, "--upstream-url: must be https://, got '%s'", base_url);
        goto fail;
    }
    if (strcmp(scheme, "http") == 0 &&
        (curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
         loopback_pin(host, strtol(port, NULL, 10), &pin, err, errlen) != 0))
        goto fail;
    up = calloc(1, sizeof(*up));
    if (up == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    up->base = base;
    up->allow_http = strcmp(scheme, "http") == 0;
    up->pin = pin;
    pin = NULL;
    up->timeout_ms = timeout_ms;
    up->base_url = strdup(base_url);
    if (up->base_url != NULL) {
        size_t n = strlen(up->base_url);
        while (n > 0 && up->base_url[n - 1] == '/')
            up->base_url[--n] = '\0';
    }
    up->multi = curl_multi_init();
    up->timer = evtimer_new(base, timer_cb, up);
    if (up->base_url == NULL || up->multi == NULL || up->timer == NULL) {
        snprintf(err, errlen, "cannot set up libcurl");
        proxy_upstream_free(up);
        up = NULL;
        goto fail;
    }
    curl_multi_setopt(up->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(up->multi, CURLMOPT_SOCKETDATA, up);
    curl_multi_setopt(up->multi, CURLMOPT_TIMERFUNCTION, multi_timer_cb);
    curl_multi_setopt(up->multi, CURLMOPT_TIMERDATA, up);
    curl_multi_setopt(up->multi, CURLMOPT_MAXCONNECTS, (long)SC_UPSTREAM_MAX_IDLE_CONNS);
fail:
    curl_free(scheme);
    curl_free(host);
    curl_free(path);
    curl_free(port);
    curl_slist_free_all(pin);
    curl_url_cleanup(u);
    return up;
}

void
proxy_upstream_free(struct proxy_upstream *up)
{
    if (up == NULL)
        return;
    for (int i = 0; i < up->npool; i++)
        curl_easy_cleanup(up->pool[i]);
    if (up->multi != NULL)
        curl_multi_cleanup(up->multi);
    if (up->timer != NULL)
        event_free(up->timer);
    curl_slist_free_all(up->pin);
    free(up->ca_pem);
    if (up->proxy != NULL)
        store_secret_wipe(up->proxy, strlen(up->proxy));
    free(up->proxy);
    free(up->base_url);
    free(up);
}

/* How many certificates the PEM text holds (0 if none parse). */
static int
pem_certs(const char *pem, size_t len)
{
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    STACK_OF(X509_INFO) *infos = b ? PEM_X509_INFO_read_bio(b, NULL, NULL, NULL) : NULL;
    int n = 0;

    for (int i = 0; infos != NULL && i < sk_X509_INFO_num(infos); i++)
        n += sk_X509_INFO_value(infos, i)->x509 != NULL;
    sk_X509_INFO_pop_free(infos, X509_INFO_free);
    BIO_free(b);
    return n;
}

/*
 * The file is read into memory once and handed to libcurl as a blob, so no
 * connection reads the file system later (the unit's ProtectSystem, a file
 * replaced while running) and a bad file stops the start, not the 1st call.
 */
int
proxy_upstream_ca(struct proxy_upstream *up, const char *ca_file, char *err, size_t errlen)
{
    FILE *f;
    char *buf = NULL;
    size_t n;

    if (ca_file == NULL)
        return 0;
    if ((f = fopen(ca_file, "r")) == NULL || (buf = malloc(SC_UPSTREAM_CA_MAX_BYTES + 1)) == NULL) {
        snprintf(err, errlen, "--upstream-ca: cannot read %s", ca_file);
        goto fail;
    }
    n = fread(buf, 1, SC_UPSTREAM_CA_MAX_BYTES + 1, f);
    if (ferror(f) || n > SC_UPSTREAM_CA_MAX_BYTES) {
        snprintf(err, errlen, "--upstream-ca: cannot read %s (at most %ld bytes)", ca_file,
                 (long)SC_UPSTREAM_CA_MAX_BYTES);
        goto fail;
    }
    if (pem_certs(buf, n) == 0) {
        snprintf(err, errlen, "--upstream-ca: %s holds no PEM certificate", ca_file);
        goto fail;
    }
    fclose(f);
    free(up->ca_pem);
    up->ca_pem = buf;
    up->ca_len = n;
    return 0;
fail:
    if (f != NULL)
        fclose(f);
    free(buf);
    return -1;
}

int
proxy_upstream_proxy(struct proxy_upstream *up, const char *url, char *err, size_t errlen)
{
    CURLU *u;
    char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL;
    int ret = -1;

    if (url == NULL)
        return 0;
    /* The URL may carry a password: no message below repeats it. */
    if ((u = curl_url()) == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        snprintf(err, errlen, "--upstream-proxy: not a URL like http://[user:password@]host:port");
        goto done;
    }
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0 &&
        strcmp(scheme, "socks5") != 0 && strcmp(scheme, "socks5h") != 0) {
        snprintf(err, errlen,
                 "--upstream-proxy: must be http://, https://, socks5:// or socks5h://");
        goto done;
    }
    if ((up->proxy = strdup(url)) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    curl_url_get(u, CURLUPART_USER, &user, 0);
    sc_info("upstream proxy %s://%s%s:%s (a CONNECT tunnel; the *_proxy variables are not used)",
            scheme, user != NULL ? "***@" : "", host, port);
    ret = 0;
done:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(user);
    curl_url_cleanup(u);
    return ret;
}

void
proxy_upstream_set_timeout(struct proxy_upstream *up, long timeout_ms)
{
    up->timeout_ms = timeout_ms;
}

long
proxy_upstream_inflight(const struct proxy_upstream *up)
{
    return up->inflight;
}

int
proxy_upstream_xfer_add(struct proxy_upstream *up, CURL *easy)
{
    return curl_multi_add_handle(up->multi, easy) == CURLM_OK ? 0 : -1;
}

void
proxy_upstream_xfer_cancel(struct proxy_upstream *up, CURL *easy)
{
    curl_multi_remove_handle(up->multi, easy);
}

/* A new easy handle with the options every call shares. */
static CURL *
easy_new(struct proxy_upstream *up)
{
    CURL *e = curl_easy_init();

    if (e == NULL)
        return NULL;
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
#if CURL_AT_LEAST_VERSION(7, 87, 0)
    /* A call that times out while its name lookup hangs would otherwise
     * join libcurl's resolver thread on this loop, stalling every call
     * until getaddrinfo gives up (it_attack_upstream_dns). */
    curl_easy_setopt(e, CURLOPT_QUICK_EXIT, 1L);
#endif
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, up->allow_http ? "http,https" : "https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    /* Only --upstream-proxy: libcurl would otherwise read *_proxy, and even
     * with an explicit proxy it reads no_proxy, which could route around it. */
    curl_easy_setopt(e, CURLOPT_PROXY, up->proxy != NULL ? up->proxy : "");
    curl_easy_setopt(e, CURLOPT_NOPROXY, "");
    curl_easy_setopt(e, CURLOPT_HTTPPROXYTUNNEL, up->proxy != NULL ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L); /* forward exactly what was checked */
    if (up->pin != NULL)
        curl_easy_setopt(e, CURLOPT_RESOLVE, up->pin);
    /* Verification is libcurl's default; said here so no edit can lose it. */
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    /* Never below TLS 1.2, whatever the host's OpenSSL policy allows (#14). */
    curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (up->ca_pem != NULL) {
        /* Only these CAs: without clearing CAPATH, Debian's libcurl would
         * still trust /etc/ssl/certs beside them. */
        struct curl_blob blob = {up->ca_pem, up->ca_len, CURL_BLOB_NOCOPY};
        curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
        curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
    }
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)SC_UPSTREAM_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)SC_UPSTREAM_MAX_RESPONSE);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, prereq_cb);
    return e;
}

int
proxy_upstream_start(struct proxy_upstream *up, const char *method, const char *path_query,
                     struct curl_slist *headers, const void *body, size_t body_len,
                     upstream_done_cb *cb, void *arg)
{
    struct ucall *c = calloc(1, sizeof(*c));
    size_t ul;
    int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;

    if (c == NULL) {
        wipe_slist(headers);
        return -1;
    }
    c->up = up;
    c->headers = headers;
    c->cb = cb;
    c->arg = arg;
    sc_dynbuf_init(&c->body, SC_UPSTREAM_MAX_RESPONSE);
    sc_dynbuf_init(&c->hbuf, SC_UPSTREAM_MAX_RESPONSE_HEADERS);
    c->t0 = sc_mono_ms();
    ul = strlen(up->base_url) + strlen(path_query) + 1;
    c->url = malloc(ul);
    c->easy = up->npool > 0 ? up->pool[--up->npool] : easy_new(up);
    if (c->url == NULL || c->easy == NULL) {
        ucall_free(c);
        return -1;
    }
    snprintf(c->url, ul, "%s%s", up->base_url, path_query);

    curl_easy_setopt(c->easy, CURLOPT_URL, c->url);
    curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c);
    curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, up->timeout_ms);
    curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->easy, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(c->easy, CURLOPT_PREREQDATA, c);
    curl_easy_setopt(c->easy, CURLOPT_HTTPGET, 1L); /* resets what the last call chose */
    curl_easy_setopt(c->easy, CURLOPT_CUSTOMREQUEST, get || post ? NULL : method);
    if (!get &&
        (body_len > 0 || post || strcmp(method, "PATCH") == 0 || strcmp(method, "PUT") == 0)) {
        /* Borrowed: the body lives as long as the call.  Below 64 KiB
         * libcurl sends it in the same write as the request head. */
        curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, body_len > 0 ? body : "");
    }
    if (curl_multi_add_handle(up->multi, c->easy) != CURLM_OK) {
        ucall_free(c);
        return -1;
    }
    up->inflight++;
    return 0;
}
