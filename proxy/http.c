/*
 * http.c - HTTP/1.1 request parsing and response writing on bufferevents.
 * See http.h for the rules and why this is not evhttp.
 *
 * The bytes of a request are parsed by proxy/http_parse.c (no I/O); this
 * file feeds it from the bufferevent and keeps the limits that span
 * requests, the deadlines and the connection bookkeeping.
 *
 * Life of a connection: IDLE (keep-alive, idle timer) -> HEAD (first byte
 * seen, absolute read deadline armed) -> BODY -> HANDLING (the
 * handler owns the request; input is left buffered) -> WRITING -> IDLE or
 * closed.  A request outlives its connection: when the client goes away
 * while the request is handled, the request is detached and its response
 * dropped, so the handler can still finish (and audit) it.
 */
#include "http.h"
#include "http_parse.h"
#include "policy/policy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"

/* C_HELD: the head handler holds the request; its body is not read yet.
 * C_LINGER: the answer to a refused request is out; what the client still
 * sends is read and dropped for a bounded time, then the connection closes
 * (so the client reads the answer instead of a reset). */
enum cstate { C_IDLE, C_HEAD, C_HELD, C_BODY, C_HANDLING, C_WRITING, C_LINGER };

/* Open connections of one client IP address (not port), for
 * --max-conns-per-client; one per address with connections, in a small
 * chained hash table.  Its idle list lets it make room at its own limit
 * without walking every idle connection of the server. */
struct http_client {
    struct http_client *next;
    int family;
    size_t addrlen; /* 16, 4 or 0 bytes of addr */
    unsigned char addr[16];
    long n;
    TAILQ_HEAD(, http_conn) idle; /* its C_IDLE connections, longest idle first */
};

#define CLIENT_BUCKETS 4096

struct proxy_http_server {
    struct event_base *base;
    struct proxy_http_limits lim;
    proxy_http_handler *handler;
    proxy_http_head_handler *head;
    proxy_http_error_handler *on_error;
    void *arg;
    struct evconnlistener *listener;
    SSL_CTX *tls; /* NULL: plain HTTP */
    char bound[128];
    TAILQ_HEAD(, http_conn) conns;
    TAILQ_HEAD(, http_conn) idle; /* C_IDLE connections, longest idle first */
    struct http_client *clients[CLIENT_BUCKETS];
    long nconns;
    long inflight;
    int64_t pending_body; /* bytes of request bodies received and held */
    int draining;
    void (*drained)(void *);
    void *drained_arg;
};

struct http_conn {
    TAILQ_ENTRY(http_conn) next;
    TAILQ_ENTRY(http_conn) idle_next;
    TAILQ_ENTRY(http_conn) client_idle_next;
    int in_idle;
    struct http_client *client;
    struct proxy_http_server *srv;
    struct bufferevent *bev;
    struct event *timer;
    struct event *push;   /* plain connections: write the output, see push_cb */
    struct event *resume; /* run process() from the loop (proxy_http_read_body) */
    enum cstate state;
    struct proxy_http_request *req;
    int keepalive;
    int closing; /* close once the response is written */
    int linger;  /* ... after reading and dropping what the client still sends */
    size_t lingered;
    char peer[64];
};

struct proxy_http_request {
    struct proxy_http_server *srv;
    struct http_conn *conn;      /* NULL once the client is gone */
    struct proxy_http_parser *p; /* the request's head, and the state of its body */
    struct evbuffer *body;
    int has_body; /* Content-Length > 0 or chunked */
    struct evbuffer *resp_hdrs;
    int handed;      /* given to the handler (counts as in flight) */
    int reading;     /* the head handler asked for the body; not yet in */
    int late;        /* the read deadline passed while the head handler held it */
    int64_t pending; /* this request's share of srv->pending_body */
    void *data;
    char peer[64];
};

static void conn_free(struct http_conn *c);
static void process(struct http_conn *c);
static void client_put(struct proxy_http_server *srv, struct http_client *k);
static void send_output(struct http_conn *c);

/* ---- small helpers ---- */

static void
arm(struct http_conn *c, int ms)
{
    struct timeval tv = sc_tv_ms(ms);

    evtimer_add(c->timer, &tv);
}

/* A connection with no request in progress may be closed to make room for a
 * new one when --max-conns or its address's --max-conns-per-client is
 * reached (longest idle first, see make_room). */
static void
idle_enter(struct http_conn *c)
{
    if (!c->in_idle) {
        TAILQ_INSERT_TAIL(&c->srv->idle, c, idle_next);
        TAILQ_INSERT_TAIL(&c->client->idle, c, client_idle_next);
        c->in_idle = 1;
    }
}

static void
idle_leave(struct http_conn *c)
{
    if (c->in_idle) {
        TAILQ_REMOVE(&c->srv->idle, c, idle_next);
        TAILQ_REMOVE(&c->client->idle, c, client_idle_next);
        c->in_idle = 0;
    }
}

static struct proxy_http_request *
req_new(struct http_conn *c)
{
    struct proxy_http_request *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->srv = c->srv;
    r->conn = c;
    r->p = proxy_http_parse_new(c->srv->lim.max_body);
    r->body = evbuffer_new();
    r->resp_hdrs = evbuffer_new();
    if (r->p == NULL || r->body == NULL || r->resp_hdrs == NULL) {
        proxy_http_parse_free(r->p);
        if (r->body)
            evbuffer_free(r->body);
        if (r->resp_hdrs)
            evbuffer_free(r->resp_hdrs);
        free(r);
        return NULL;
    }
    sc_strlcpy(r->peer, c->peer, sizeof(r->peer));
    return r;
}

static void
req_free(struct proxy_http_request *r)
{
    if (r == NULL)
        return;
    r->srv->pending_body -= r->pending;
    proxy_http_parse_free(r->p);
    evbuffer_free(r->body);
    evbuffer_free(r->resp_hdrs);
    free(r);
}

/* From here on the request is the handler's and counts as in flight. */
static void
hand(struct proxy_http_request *r)
{
    if (!r->handed) {
        r->handed = 1;
        r->srv->inflight++;
    }
}

/* Refuse the request being read: hand it to the error handler, which
 * answers at once; the connection closes after that answer. */
static void
refuse(struct http_conn *c, int status, const char *msg)
{
    struct proxy_http_request *r = c->req;

    c->closing = 1;
    c->linger = 1; /* what follows the refused part is unread */
    c->keepalive = 0;
    evtimer_del(c->timer);
    bufferevent_disable(c->bev, EV_READ);
    if (r == NULL && (r = req_new(c)) == NULL) {
        conn_free(c);
        return;
    }
    c->req = r;
    c->state = C_HANDLING;
    r->reading = 0;
    hand(r);
    c->srv->on_error(r, status, msg, c->srv->arg);
}

/*
 * May a body be read now?  The budget counts bytes that arrived, not bytes
 * announced: reserving a Content-Length up front let anyone with a key hold
 * the whole budget for the read deadline by sending headers alone
 * (seven "Content-Length: 41943040" heads for 256 MiB), refusing every
 * other caller's body.  A Content-Length body that would not fit in what is
 * held now is refused before it is read; once read, every body counts its
 * bytes as they arrive (count_body), and one that would pass the budget is
 * refused then.
 */
static int
body_fits(struct proxy_http_request *r)
{
    struct proxy_http_server *srv = r->srv;
    int64_t len = proxy_http_parse_length(r->p);

    if (srv->pending_body >= srv->lim.max_pending_body)
        return -1;
    if (proxy_http_parse_framing(r->p) == PROXY_HTTP_FRAMING_LENGTH &&
        len > srv->lim.max_pending_body - srv->pending_body)
        return -1;
    return 0;
}

/* n more body bytes arrived: count them, or -1 past the budget. */
static int
count_body(struct proxy_http_request *r, size_t n)
{
    struct proxy_http_server *srv = r->srv;

    if ((int64_t)n > srv->lim.max_pending_body - srv->pending_body)
        return -1;
    r->pending += (int64_t)n;
    srv->pending_body += (int64_t)n;
    return 0;
}

/* The body is wanted: invite it (Expect: 100-continue) and read it. */
static void
start_body(struct http_conn *c)
{
    struct proxy_http_request *r = c->req;
    const char *expect = proxy_http_header(r, "Expect");

    if (expect != NULL && strcasecmp(expect, "100-continue") == 0 &&
        proxy_http_parse_minor(r->p) == 1 && r->has_body) {
        evbuffer_add(bufferevent_get_output(c->bev), "HTTP/1.1 100 Continue\r\n\r\n", 25);
        send_output(c);
    }
    c->state = C_BODY;
}

static void
deadline_refused(struct http_conn *c)
{
    char msg[96];

    snprintf(msg, sizeof(msg), "the request was not received within %d ms",
             c->srv->lim.read_deadline_ms);
    refuse(c, 408, msg);
}

static void
budget_refused(struct http_conn *c)
{
    char msg[200];

    snprintf(msg, sizeof(msg),
             "sendcap is receiving %lld bytes of request bodies, its limit "
             "(--max-pending-body); retry",
             (long long)c->srv->lim.max_pending_body);
    refuse(c, 503, msg);
}

static void
dispatch(struct http_conn *c)
{
    struct proxy_http_request *r = c->req;

    c->state = C_HANDLING;
    evtimer_del(c->timer);
    r->reading = 0;
    hand(r);
    c->srv->handler(r, c->srv->arg);
}

/*
 * The head is in and its framing decided: settle the connection's
 * keep-alive, then let the head handler decide whether the body is read
 * (or read it at once).  0 to go on reading, -1 to stop.
 */
static int
head_done(struct http_conn *c)
{
    struct proxy_http_request *r = c->req;

    if (proxy_http_parse_minor(r->p) == 0)
        c->keepalive = proxy_http_parse_connection_has(r->p, "keep-alive");
    else
        c->keepalive = !proxy_http_parse_connection_has(r->p, "close");
    r->has_body = proxy_http_parse_framing(r->p) == PROXY_HTTP_FRAMING_CHUNKED ||
                  proxy_http_parse_length(r->p) > 0;
    if (c->srv->head != NULL) {
        /* The head handler decides whether the body is read. */
        c->state = C_HELD;
        hand(r);
        c->srv->head(r, c->srv->arg);
        return -1;
    }
    if (body_fits(r) != 0) {
        budget_refused(c);
        return -1;
    }
    start_body(c);
    return 0;
}

/*
 * Hand the first buffered segment to the request's parser and act on what
 * it found.  0 to go on, -1 to stop (wait for input, or the request left
 * this state).  Body bytes move into the request's body without a copy.
 */
static int
parse_some(struct http_conn *c, struct evbuffer *in)
{
    struct proxy_http_request *r = c->req;
    struct evbuffer_iovec v = {NULL, 0};
    struct proxy_http_parse_out o;
    char msg[200];

    if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
        v.iov_len = 0;
    switch (proxy_http_parse_feed(r->p, v.iov_base, v.iov_len, &o)) {
    case PROXY_HTTP_PARSE_MORE:
        evbuffer_drain(in, o.used);
        return evbuffer_get_length(in) > 0 ? 0 : -1;
    case PROXY_HTTP_PARSE_HEAD:
        evbuffer_drain(in, o.used);
        return head_done(c);
    case PROXY_HTTP_PARSE_BODY:
        if (count_body(r, o.body_len) != 0) {
            budget_refused(c);
            return -1;
        }
        evbuffer_drain(in, o.body_off);
        evbuffer_remove_buffer(in, r->body, o.body_len);
        return 0;
    case PROXY_HTTP_PARSE_DONE:
        evbuffer_drain(in, o.used);
        dispatch(c);
        return -1;
    case PROXY_HTTP_PARSE_ERROR:
        break;
    }
    /* the message lives in the parser, which the answer frees */
    sc_strlcpy(msg, proxy_http_parse_message(r->p), sizeof(msg));
    refuse(c, proxy_http_parse_status(r->p), msg);
    return -1;
}

static void
process(struct http_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);

    for (;;) {
        switch (c->state) {
        case C_IDLE:
            if (evbuffer_get_length(in) == 0)
                return;
            if (c->srv->draining) {
                conn_free(c);
                return;
            }
            idle_leave(c);
            c->req = req_new(c);
            if (c->req == NULL) {
                conn_free(c);
                return;
            }
            c->state = C_HEAD;
            arm(c, c->srv->lim.read_deadline_ms);
            break;
        case C_HEAD:
        case C_BODY:
            if (parse_some(c, in) != 0)
                return;
            break;
        case C_LINGER:
            c->lingered += evbuffer_get_length(in);
            evbuffer_drain(in, evbuffer_get_length(in));
            if (c->lingered > SC_HTTP_LINGER_BYTES)
                conn_free(c);
            return;
        case C_HELD:
            if (c->req->reading && c->req->late)
                deadline_refused(c);
            return;
        case C_HANDLING:
        case C_WRITING:
            return;
        }
    }
}

/* ---- connection events ---- */

static void write_cb(struct bufferevent *bev, void *arg);

/*
 * Plain connections keep no write event armed: what is added to the output
 * is written by push_cb, run from the loop's active queue after the events
 * activated before it.  Two things follow.  An answer that fits the socket
 * buffer costs one writev and no epoll change or extra loop turn (a
 * bufferevent would arm EPOLLOUT, wait a turn, write, disarm).  And the
 * call's record, queued to Redis before the answer (hiredis's flush is
 * activated first), reaches Redis's socket before the client has its
 * answer, so a client's next call, through any sendcapd, sees the record's
 * settlement and email owners.  What does not fit is left to the
 * bufferevent (write event armed, write timeout running) as before.
 */
static void
push_cb(evutil_socket_t fd, short what, void *arg)
{
    struct http_conn *c = arg;
    struct evbuffer *out = bufferevent_get_output(c->bev);

    (void)fd;
    (void)what;
    if (evbuffer_get_length(out) == 0)
        return;
    /* A bufferevent freezes the start of its output (only it drains it);
     * its own write callback thaws it around the write, as here. */
    evbuffer_unfreeze(out, 1);
    evbuffer_write(out, bufferevent_getfd(c->bev));
    evbuffer_freeze(out, 1);
    if (evbuffer_get_length(out) > 0)
        bufferevent_enable(c->bev, EV_WRITE); /* the rest (or the error) */
    else
        write_cb(c->bev, c);
}

/* Have the connection's output written (TLS: the bufferevent does it). */
static void
send_output(struct http_conn *c)
{
    if (c->push != NULL)
        event_active(c->push, EV_WRITE, 1);
}

/*
 * The answer to a request whose body was not (all) read is out.  Closing
 * now, with the client's bytes unread, makes the kernel send a reset, and a
 * reset can destroy the answer before the client reads it.  So say we are
 * done writing, then read and drop what still comes, up to
 * SC_HTTP_LINGER_BYTES or SC_HTTP_LINGER_MS, whichever is first (Apache's
 * lingering close; nginx's lingering_time does the same).
 */
static void
linger(struct http_conn *c)
{
    c->state = C_LINGER;
    c->lingered = 0;
    if (c->srv->tls == NULL)
        shutdown(bufferevent_getfd(c->bev), SHUT_WR);
    bufferevent_enable(c->bev, EV_READ);
    arm(c, SC_HTTP_LINGER_MS);
    process(c);
}

static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    process(arg);
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    process(arg);
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
    struct http_conn *c = arg;

    (void)bev;
    if (c->push != NULL && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
        bufferevent_disable(c->bev, EV_WRITE); /* until push_cb needs it again */
    if (c->state != C_WRITING)
        return;
    if (c->linger && !c->srv->draining) {
        linger(c);
        return;
    }
    if (c->closing || !c->keepalive || c->srv->draining) {
        conn_free(c);
        return;
    }
    c->state = C_IDLE;
    idle_enter(c);
    bufferevent_enable(c->bev, EV_READ);
    arm(c, c->srv->lim.idle_timeout_ms);
    process(c);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct http_conn *c = arg;

    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
        conn_free(c);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct http_conn *c = arg;

    (void)fd;
    (void)what;
    if (c->state == C_IDLE || c->state == C_LINGER) {
        conn_free(c);
        return;
    }
    if (c->state == C_HELD) {
        /* The head handler owns the request: refuse it when it asks for
         * the body (proxy_http_read_body), or let its answer go out. */
        c->req->late = 1;
        return;
    }
    deadline_refused(c);
}

static void
maybe_drained(struct proxy_http_server *srv)
{
    if (srv->draining && srv->nconns == 0 && srv->inflight == 0 && srv->drained != NULL) {
        void (*fn)(void *) = srv->drained;
        srv->drained = NULL;
        fn(srv->drained_arg);
    }
}

static void
conn_free(struct http_conn *c)
{
    struct proxy_http_server *srv = c->srv;
    struct proxy_http_request *orphan = NULL;

    if (c->req != NULL) {
        if (c->req->handed) {
            c->req->conn = NULL; /* the handler still owns it */
            /* Its body was being read for the handler, which now waits for
             * a callback that the connection can no longer give. */
            if (c->req->reading)
                orphan = c->req;
        } else {
            req_free(c->req);
        }
        c->req = NULL;
    }
    TAILQ_REMOVE(&srv->conns, c, next);
    idle_leave(c);
    client_put(srv, c->client);
    srv->nconns--;
    event_free(c->timer);
    if (c->push != NULL)
        event_free(c->push);
    event_free(c->resume);
    bufferevent_free(c->bev);
    free(c);
    if (orphan != NULL) {
        orphan->reading = 0;
        srv->on_error(orphan, 400, "the client closed the connection before its body was complete",
                      srv->arg);
    }
    maybe_drained(srv);
}

static unsigned
client_hash(int family, const unsigned char *a, size_t n)
{
    uint32_t h = 2166136261u ^ (uint32_t)family; /* FNV-1a */

    for (size_t i = 0; i < n; i++)
        h = (h ^ a[i]) * 16777619u;
    return h % CLIENT_BUCKETS;
}

/* Count one more connection of sa's address (the new one is counted
 * before make_room, so closing the address's own idle connection cannot
 * free its entry); NULL on allocation failure. */
static struct http_client *
client_get(struct proxy_http_server *srv, const struct sockaddr *sa)
{
    const unsigned char *a;
    size_t n;
    unsigned h;
    struct http_client *k;

    if (sa->sa_family == AF_INET6) {
        a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        n = 16;
    } else if (sa->sa_family == AF_INET) {
        a = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
        n = 4;
    } else {
        a = (const unsigned char *)"";
        n = 0;
    }
    h = client_hash(sa->sa_family, a, n);
    for (k = srv->clients[h]; k != NULL; k = k->next)
        if (k->family == sa->sa_family && memcmp(k->addr, a, n) == 0)
            break;
    if (k == NULL) {
        if ((k = calloc(1, sizeof(*k))) == NULL)
            return NULL;
        k->family = sa->sa_family;
        k->addrlen = n;
        memcpy(k->addr, a, n);
        TAILQ_INIT(&k->idle);
        k->next = srv->clients[h];
        srv->clients[h] = k;
    }
    k->n++;
    return k;
}

/*
 * Room for a new connection of k (already counted in k->n): at its
 * address's limit, the address's own connection idle the longest goes (all
 * the agents behind one address -- 127.0.0.1 by default, a NAT, a sidecar --
 * share this limit); at the total, the server's (SPEC §3).  Idle connections
 * must not lock callers out; only connections with a request in progress
 * make the new one wait.  0, or -1 when nothing idle can go.
 */
static int
make_room(struct proxy_http_server *srv, struct http_client *k)
{
    if (k->n > srv->lim.max_conns_per_client) {
        if (TAILQ_EMPTY(&k->idle))
            return -1;
        conn_free(TAILQ_FIRST(&k->idle));
    }
    if (srv->nconns >= srv->lim.max_conns) {
        if (TAILQ_EMPTY(&srv->idle))
            return -1;
        conn_free(TAILQ_FIRST(&srv->idle));
    }
    return 0;
}

static void
client_put(struct proxy_http_server *srv, struct http_client *k)
{
    struct http_client **pp;

    if (k == NULL || --k->n > 0)
        return;
    for (pp = &srv->clients[client_hash(k->family, k->addr, k->addrlen)]; *pp != k;
         pp = &(*pp)->next)
        ;
    *pp = k->next;
    free(k);
}

/*
 * The address already has --max-conns-per-client connections, or the server
 * --max-conns, and none of them is idle.  Answer 503
 * in Resend's shape with one non-blocking send and close: no request is read
 * and nothing is recorded, so holding connections open cannot make the
 * proxy do work for the excess ones.  (The answer carries no X-Request-Id:
 * there is no call record.)
 */
static void
refuse_at_accept(evutil_socket_t fd)
{
    static const char body[] =
        "{\"statusCode\":503,\"message\":\"too many open connections, from this address "
        "(--max-conns-per-client) or in total (--max-conns); close idle ones and retry\","
        "\"name\":\"service_unavailable\"}";
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                     "Retry-After: 1\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n",
                     sizeof(body) - 1);
    struct iovec iov[2] = {{head, (size_t)n}, {(void *)body, sizeof(body) - 1}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};

    (void)sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
    shutdown(fd, SHUT_WR);
    evutil_closesocket(fd);
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    struct proxy_http_server *srv = arg;
    struct http_conn *c;
    struct timeval wt = sc_tv_ms(srv->lim.write_timeout_ms);
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0, one = 1;

    struct http_client *client;

    (void)l;
    (void)salen;
    if (srv->draining) {
        evutil_closesocket(fd);
        return;
    }
    if ((client = client_get(srv, sa)) == NULL) {
        evutil_closesocket(fd);
        return;
    }
    if (make_room(srv, client) != 0) {
        client_put(srv, client);
        refuse_at_accept(fd);
        return;
    }
    if ((c = calloc(1, sizeof(*c))) == NULL) {
        client_put(srv, client);
        evutil_closesocket(fd);
        return;
    }
    c->client = client;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->srv = srv;
    if (srv->tls != NULL) {
        SSL *ssl = SSL_new(srv->tls);
        c->bev = ssl ? bufferevent_openssl_socket_new(srv->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                      BEV_OPT_CLOSE_ON_FREE)
                     : NULL;
        if (c->bev == NULL && ssl != NULL)
            SSL_free(ssl);
        if (c->bev != NULL) /* clients that close without close_notify are fine */
            bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
    } else {
        c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
    }
    c->timer = evtimer_new(srv->base, timer_cb, c);
    c->resume = event_new(srv->base, -1, 0, resume_cb, c);
    if (srv->tls == NULL)
        c->push = event_new(srv->base, -1, 0, push_cb, c);
    if (c->bev == NULL || c->timer == NULL || c->resume == NULL ||
        (srv->tls == NULL && c->push == NULL)) {
        if (c->bev)
            bufferevent_free(c->bev);
        else
            evutil_closesocket(fd);
        if (c->timer)
            event_free(c->timer);
        if (c->resume)
            event_free(c->resume);
        if (c->push)
            event_free(c->push);
        free(c);
        client_put(srv, client);
        return;
    }
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, host, sizeof(host));
        port = ntohs(((struct sockaddr_in *)sa)->sin_port);
        snprintf(c->peer, sizeof(c->peer), "%s:%d", host, port);
    } else if (sa->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, host, sizeof(host));
        port = ntohs(((struct sockaddr_in6 *)sa)->sin6_port);
        snprintf(c->peer, sizeof(c->peer), "[%s]:%d", host, port);
    }
    TAILQ_INSERT_TAIL(&srv->conns, c, next);
    srv->nconns++;
    c->state = C_IDLE;
    idle_enter(c);
    /* Stop reading ahead once a pipelined request's worth is buffered. */
    bufferevent_setwatermark(c->bev, EV_READ, 0, SC_HTTP_MAX_HEADER_BYTES * 2);
    bufferevent_set_timeouts(c->bev, NULL, &wt);
    bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
    if (c->push != NULL) /* a new bufferevent starts with EV_WRITE enabled */
        bufferevent_disable(c->bev, EV_WRITE);
    bufferevent_enable(c->bev, c->push != NULL ? EV_READ : EV_READ | EV_WRITE);
    arm(c, srv->lim.read_deadline_ms);
}

/* ---- server ---- */

struct proxy_http_server *
proxy_http_new(struct event_base *base, const struct proxy_http_limits *limits,
               proxy_http_handler *handler, proxy_http_head_handler *head,
               proxy_http_error_handler *on_error, void *arg)
{
    struct proxy_http_server *srv = calloc(1, sizeof(*srv));

    if (srv == NULL)
        return NULL;
    srv->base = base;
    srv->lim = *limits;
    srv->handler = handler;
    srv->head = head;
    srv->on_error = on_error;
    srv->arg = arg;
    TAILQ_INIT(&srv->conns);
    TAILQ_INIT(&srv->idle);
    return srv;
}

/* "1.2.3.4:80" or "[::1]:80", numeric only, port 0-65535 (libevent's
 * parser refuses port 0, which tests use to get a free port). */
static int
parse_hostport(const char *s, struct sockaddr_storage *ss, int *sslen)
{
    char host[INET6_ADDRSTRLEN + 2];
    const char *colon = strrchr(s, ':');
    int64_t port;
    size_t hl;

    if (colon == NULL || sc_parse_i64(colon + 1, 0, 65535, &port) != 0)
        return -1;
    hl = (size_t)(colon - s);
    if (hl >= sizeof(host))
        return -1;
    memcpy(host, s, hl);
    host[hl] = '\0';
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        host[hl - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
            return -1;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        *sslen = sizeof(*a);
        return 0;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
            return -1;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        *sslen = sizeof(*a);
        return 0;
    }
}

int
proxy_http_tls(struct proxy_http_server *srv, const char *cert, const char *key, char *err,
               size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    unsigned long e;

    if (ctx == NULL) {
        snprintf(err, errlen, "TLS: cannot create a context");
        return -1;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_COMPRESSION);
    /* TLS 1.2: forward-secret AEAD only; TLS 1.3 suites are all fine. */
    if (SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1 ||
        SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        e = ERR_get_error();
        snprintf(err, errlen, "TLS: cannot use %s and %s: %s", cert, key,
                 e ? ERR_reason_error_string(e) : "unknown error");
        ERR_clear_error();
        SSL_CTX_free(ctx);
        return -1;
    }
    srv->tls = ctx;
    return 0;
}

int
proxy_http_listen(struct proxy_http_server *srv, const char *hostport, int reuseport, char *err,
                  size_t errlen)
{
    struct sockaddr_storage ss;
    int sslen = sizeof(ss);
    char host[INET6_ADDRSTRLEN];
    socklen_t bl = sizeof(ss);

    memset(&ss, 0, sizeof(ss));
    if (parse_hostport(hostport, &ss, &sslen) != 0) {
        snprintf(err, errlen, "--listen: expected HOST:PORT with a numeric address, got '%s'",
                 hostport);
        return -1;
    }
    srv->listener =
        evconnlistener_new_bind(srv->base, accept_cb, srv,
                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC |
                                    (reuseport ? LEV_OPT_REUSEABLE_PORT : 0),
                                1024, (struct sockaddr *)&ss, sslen);
    if (srv->listener == NULL) {
        snprintf(err, errlen, "cannot listen on %s: %s", hostport, strerror(errno));
        return -1;
    }
    getsockname(evconnlistener_get_fd(srv->listener), (struct sockaddr *)&ss, &bl);
    if (ss.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof(host));
        snprintf(srv->bound, sizeof(srv->bound), "[%s]:%d", host,
                 ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
    } else {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host));
        snprintf(srv->bound, sizeof(srv->bound), "%s:%d", host,
                 ntohs(((struct sockaddr_in *)&ss)->sin_port));
    }
    return 0;
}

const char *
proxy_http_bound(const struct proxy_http_server *srv)
{
    return srv->bound;
}

void
proxy_http_drain(struct proxy_http_server *srv, void (*done)(void *), void *arg)
{
    struct http_conn *c, *tmp;

    srv->draining = 1;
    srv->drained = done;
    srv->drained_arg = arg;
    if (srv->listener != NULL) {
        evconnlistener_free(srv->listener);
        srv->listener = NULL;
    }
    /* Connections waiting for (or part-way through sending) a request are
     * closed; those whose request is being handled finish it first. */
    for (c = TAILQ_FIRST(&srv->conns); c != NULL; c = tmp) {
        tmp = TAILQ_NEXT(c, next);
        if (c->state != C_HELD && c->state != C_HANDLING && c->state != C_WRITING)
            conn_free(c);
    }
    maybe_drained(srv);
}

void
proxy_http_set_limits(struct proxy_http_server *srv, const struct proxy_http_limits *limits)
{
    srv->lim = *limits;
}

long
proxy_http_inflight(const struct proxy_http_server *srv)
{
    return srv->inflight;
}

long
proxy_http_conns(const struct proxy_http_server *srv)
{
    return srv->nconns;
}

int64_t
proxy_http_pending_body(const struct proxy_http_server *srv)
{
    return srv->pending_body;
}

void
proxy_http_free(struct proxy_http_server *srv)
{
    struct http_conn *c;

    if (srv == NULL)
        return;
    srv->drained = NULL;
    while ((c = TAILQ_FIRST(&srv->conns)) != NULL)
        conn_free(c);
    if (srv->listener != NULL)
        evconnlistener_free(srv->listener);
    if (srv->tls != NULL)
        SSL_CTX_free(srv->tls);
    free(srv);
}

/* ---- requests ---- */

const char *
proxy_http_method(const struct proxy_http_request *req)
{
    return proxy_http_parse_method(req->p);
}

const char *
proxy_http_target(const struct proxy_http_request *req)
{
    return proxy_http_parse_target(req->p);
}

int
proxy_http_connection_has(const struct proxy_http_request *req, const char *token)
{
    return proxy_http_parse_connection_has(req->p, token);
}

const char *
proxy_http_header(const struct proxy_http_request *req, const char *name)
{
    const char *n, *v;

    for (int i = 0; proxy_http_parse_header_at(req->p, i, &n, &v) == 0; i++)
        if (policy_header_name_eq(n, name))
            return v;
    return NULL;
}

int
proxy_http_header_count(const struct proxy_http_request *req, const char *name)
{
    return proxy_http_parse_header_count(req->p, name);
}

int
proxy_http_header_at(const struct proxy_http_request *req, int i, const char **name,
                     const char **value)
{
    return proxy_http_parse_header_at(req->p, i, name, value);
}

struct evbuffer *
proxy_http_body(struct proxy_http_request *req)
{
    return req->body;
}

const char *
proxy_http_peer(const struct proxy_http_request *req)
{
    return req->peer;
}

int
proxy_http_client_gone(const struct proxy_http_request *req)
{
    return req->conn == NULL;
}

/*
 * The head handler wants the body.  Nothing runs from inside this call:
 * process() is resumed from the loop, so the handler (or the error handler)
 * never runs before this returns, as the head handler may still be using req.
 */
int
proxy_http_read_body(struct proxy_http_request *req)
{
    struct http_conn *c = req->conn;

    if (c == NULL)
        return -1;
    if (c->state != C_HELD || req->reading)
        return 0; /* asked twice: the first call's promise holds */
    if (!req->late && body_fits(req) != 0)
        return -2;
    req->reading = 1;
    if (!req->late) /* else process() refuses it (408) from C_HELD */
        start_body(c);
    event_active(c->resume, 0, 1);
    return 0;
}

void
proxy_http_set_data(struct proxy_http_request *req, void *data)
{
    req->data = data;
}

void *
proxy_http_get_data(const struct proxy_http_request *req)
{
    return req->data;
}

void
proxy_http_add_header(struct proxy_http_request *req, const char *name, const char *value)
{
    evbuffer_add(req->resp_hdrs, name, strlen(name));
    evbuffer_add(req->resp_hdrs, ": ", 2);
    evbuffer_add(req->resp_hdrs, value, strlen(value));
    evbuffer_add(req->resp_hdrs, "\r\n", 2);
}

static const char *
reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Status";
    }
}

void
proxy_http_respond(struct proxy_http_request *req, int status, const char *body, size_t len)
{
    struct proxy_http_server *srv = req->srv;
    struct http_conn *c = req->conn;

    if (req->handed)
        srv->inflight--;
    if (c != NULL) {
        struct evbuffer *out = bufferevent_get_output(c->bev);
        int close_after, unread;

        /* Answered before its announced body was read (the head handler's
         * refusal, or a refusal while reading): the rest of the connection
         * cannot be parsed, so close it, lingering. */
        unread = c->linger || (c->state != C_HANDLING && req->has_body);
        if (unread) {
            c->closing = 1;
            c->linger = 1;
        }
        evtimer_del(c->timer);
        close_after = c->closing || !c->keepalive || srv->draining;
        const char *method = proxy_http_parse_method(req->p);
        int head = method != NULL && strcmp(method, "HEAD") == 0;
        int minor = proxy_http_parse_minor(req->p);

        char line[64], *o = line;
        const char *rs = reason(status);

        memcpy(o, minor ? "HTTP/1.1 " : "HTTP/1.0 ", 9);
        o = sc_put_u64(o + 9, (uint64_t)status);
        *o++ = ' ';
        memcpy(o, rs, strlen(rs)); /* the longest reason is 21 bytes */
        o += strlen(rs);
        *o++ = '\r';
        *o++ = '\n';
        evbuffer_add(out, line, (size_t)(o - line));
        evbuffer_add_buffer(out, req->resp_hdrs);
        if (status != 204 && !(status >= 100 && status < 200)) {
            o = sc_put_u64(line + 16, len);
            memcpy(line, "Content-Length: ", 16);
            *o++ = '\r';
            *o++ = '\n';
            evbuffer_add(out, line, (size_t)(o - line));
        }
        if (close_after)
            evbuffer_add(out, "Connection: close\r\n", 19);
        else if (minor == 0)
            evbuffer_add(out, "Connection: keep-alive\r\n", 24);
        evbuffer_add(out, "\r\n", 2);
        if (len > 0 && !head)
            evbuffer_add(out, body, len);
        c->closing = close_after;
        c->req = NULL;
        c->state = C_WRITING;
        send_output(c);
    }
    req_free(req);
    maybe_drained(srv);
}
