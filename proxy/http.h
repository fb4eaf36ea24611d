/*
 * http.h - sendcapd's HTTP/1.1 server, on libevent bufferevents.
 *
 * Why not evhttp: libevent 2.1 (Debian 12) answers the limits it enforces
 * (body too large, header block too large, malformed framing) with its own
 * HTML page and offers no hook to change it, and it has only idle timers,
 * not an absolute deadline for receiving a request.  SPEC §3 needs every
 * error in Resend's JSON shape and relayd-style hard limits, so the server
 * parses HTTP itself (relayd and h2o do the same) on libevent's buffers.
 *
 * Rules enforced here (RFC 9112): request line "METHOD SP target SP
 * HTTP/1.x"; header names are tokens; no obs-fold; no CR, LF or NUL in
 * values; Transfer-Encoding is "chunked" alone or refused; Transfer-Encoding
 * with Content-Length, or several Content-Length fields, are refused as
 * conflicting framing; every byte count is bounded (see common/limits.h).
 * One request per connection is handled at a time; pipelined requests wait
 * in the input buffer.
 */
#ifndef SC_PROXY_HTTP_H
#define SC_PROXY_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evbuffer;
struct proxy_http_server;
struct proxy_http_request;

struct proxy_http_limits {
    int64_t max_body;         /* --max-body */
    int read_deadline_ms;     /* whole request, from its first byte */
    int idle_timeout_ms;      /* keep-alive connection with nothing to do */
    int write_timeout_ms;     /* response draining to the client */
    int max_conns;            /* --max-conns */
    int max_conns_per_client; /* --max-conns-per-client: from one IP address */
    int64_t max_pending_body; /* --max-pending-body: bodies in flight, all connections */
};

/* A complete request is ready.  The handler owns req until it calls
 * proxy_http_respond (exactly once, now or later from the loop). */
typedef void proxy_http_handler(struct proxy_http_request *req, void *arg);

/* Headers are in and the framing is decided; the body is not read.  The head
 * handler either answers at once with proxy_http_respond (the body is then
 * never read, and the connection is closed after the answer if a body was
 * announced), or calls proxy_http_read_body(req), at once or later from the
 * loop, to have the body read; the proxy_http_handler then runs with the same req
 * once the whole body is in.  The request counts as in flight from the head
 * handler on.  If the head handler is NULL the body is read at once, as
 * before.  The read deadline keeps running while the head handler holds the
 * request (past it, proxy_http_read_body leads to a 408 by the error
 * handler).  If the client goes away meanwhile, the request detaches as it
 * does while handled (proxy_http_client_gone). */
typedef void proxy_http_head_handler(struct proxy_http_request *req, void *arg);

/* The server refused a request before it was complete (framing, limits,
 * deadline, --max-pending-body: 503).  The callback must answer with
 * proxy_http_respond at once; method and target may be NULL when the request
 * line was not read.  After the head phase (a refusal while the body is
 * read for proxy_http_read_body) req is the one the head handler had, and
 * its get_data slot is still set; proxy_http_client_gone(req) may then be
 * true (the client left mid-body: status 400, the answer is dropped). */
typedef void proxy_http_error_handler(struct proxy_http_request *req, int status,
                                      const char *message, void *arg);

/* Returns a new server (caller frees with proxy_http_free), or NULL. */
struct proxy_http_server *proxy_http_new(struct event_base *base,
                                         const struct proxy_http_limits *limits,
                                         proxy_http_handler *handler, proxy_http_head_handler *head,
                                         proxy_http_error_handler *on_error, void *arg);

/* Serve HTTPS: load a PEM certificate chain and key (TLS 1.2 and 1.3 only,
 * forward-secret AEAD ciphers).  Call before listening.  0, or -1 with err.
 * Start-up only. */
int proxy_http_tls(struct proxy_http_server *srv, const char *cert, const char *key, char *err,
                   size_t errlen);

/* Listen on "host:port" ("[::1]:8025" for IPv6; port 0 picks a free one),
 * with SO_REUSEPORT when several workers share the port.  0, or -1 with
 * err.  Start-up only. */
int proxy_http_listen(struct proxy_http_server *srv, const char *hostport, int reuseport, char *err,
                      size_t errlen);

/* The address actually bound, "127.0.0.1:8025" (valid while srv lives). */
const char *proxy_http_bound(const struct proxy_http_server *srv);

/* Stop accepting; close idle connections; finish the others with
 * "Connection: close".  done runs once no connection is left. */
void proxy_http_drain(struct proxy_http_server *srv, void (*done)(void *), void *arg);

/* Change the limits for requests that start from now on (SIGHUP). */
void proxy_http_set_limits(struct proxy_http_server *srv, const struct proxy_http_limits *limits);

/* Requests handed to the handler and not yet answered. */
long proxy_http_inflight(const struct proxy_http_server *srv);

/* Client connections open now (a closed one leaves at once, even while
 * the handler still answers its request). */
long proxy_http_conns(const struct proxy_http_server *srv);

/* Bytes of request bodies being received or held by requests in flight
 * (the total that --max-pending-body bounds), for metrics. */
int64_t proxy_http_pending_body(const struct proxy_http_server *srv);

void proxy_http_free(struct proxy_http_server *srv);

/* ---- request accessors: borrowed pointers, valid until respond ---- */

const char *proxy_http_method(const struct proxy_http_request *req);
const char *proxy_http_target(const struct proxy_http_request *req);
/* First header of that name (case-insensitive), or NULL. */
const char *proxy_http_header(const struct proxy_http_request *req, const char *name);
/* Does any Connection header of the request carry this token (a whole,
 * comma-separated token, case-insensitive)?  1 or 0. */
int proxy_http_connection_has(const struct proxy_http_request *req, const char *token);
/* How many headers of that name the request carries. */
int proxy_http_header_count(const struct proxy_http_request *req, const char *name);
/* Header i (0-based) of n; returns 0 or -1 past the end. */
int proxy_http_header_at(const struct proxy_http_request *req, int i, const char **name,
                         const char **value);
/* The request body (empty when none).  Borrowed. */
struct evbuffer *proxy_http_body(struct proxy_http_request *req);
/* Client address "1.2.3.4:5678". */
const char *proxy_http_peer(const struct proxy_http_request *req);
/* Has the client closed its connection while the request was handled? */
int proxy_http_client_gone(const struct proxy_http_request *req);

/* Read the body of a request held by the head handler.  0: reading (the
 * proxy_http_handler runs once it is in, or the error handler if the
 * framing/limits/deadline refuse it, with the same req, whose get_data slot
 * is kept; neither runs before this call returns); -1: the client is gone
 * (answer with proxy_http_respond, which drops it); -2: --max-pending-body
 * would be passed: nothing was read; answer now (503). */
int proxy_http_read_body(struct proxy_http_request *req);

/* Per-request slot for the handler. */
void proxy_http_set_data(struct proxy_http_request *req, void *data);
void *proxy_http_get_data(const struct proxy_http_request *req);

/* Add a response header (copied).  Content-Length and Connection are set
 * by respond; do not add them. */
void proxy_http_add_header(struct proxy_http_request *req, const char *name, const char *value);

/* Send the response and release req (it must not be used after).  If the
 * client is gone the response is dropped.  body may be NULL when len is 0. */
void proxy_http_respond(struct proxy_http_request *req, int status, const char *body, size_t len);

#endif
