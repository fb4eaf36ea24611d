/*
 * limits.h - every limit and timeout sendcap enforces, in one place.
 *
 * Each constant is the default; where a flag or environment variable can
 * override it, the comment names it.  Network-fed buffers in sendcap are
 * bounded by one of these (httpd's SERVER_* block is the model).  libevent
 * and libcurl default to "unlimited" for most of these: we never rely on
 * their defaults.
 */
#ifndef SC_LIMITS_H
#define SC_LIMITS_H

/* ---- HTTP server (proxy/http.c) ---- */

/* Request line plus all header lines; larger -> 413. */
#define SC_HTTP_MAX_HEADER_BYTES (32 * 1024)
/* Number of header fields in one request; more -> 413. */
#define SC_HTTP_MAX_HEADERS 100
/* The whole request (headers and body) must arrive within this long of its
 * first byte: an absolute deadline, not an idle timer, so a client trickling
 * one byte a second cannot hold a connection forever. */
#define SC_HTTP_READ_DEADLINE_MS 30000
/* A keep-alive connection with no request in progress is closed after this. */
#define SC_HTTP_IDLE_TIMEOUT_MS 60000
/* A response must drain to the client within this long. */
#define SC_HTTP_WRITE_TIMEOUT_MS 30000
/* Connections served at once; further ones are closed on accept. */
#define SC_HTTP_MAX_CONNS 10000
/* Largest request body (--max-body, SENDCAP_MAX_BODY). */
#define SC_HTTP_DEFAULT_MAX_BODY 41943040L
/* Largest chunk-size line or trailer line of a chunked body. */
#define SC_HTTP_MAX_CHUNK_LINE 1024

/* ---- upstream (proxy/upstream.c) ---- */

/* Whole-call limit for one upstream request (--upstream-timeout). */
#define SC_UPSTREAM_DEFAULT_TIMEOUT_MS 30000
/* TCP + TLS connect limit, within the whole-call limit. */
#define SC_UPSTREAM_CONNECT_TIMEOUT_MS 10000
/* Largest upstream response body we relay; larger -> 502. */
#define SC_UPSTREAM_MAX_RESPONSE (64L * 1024 * 1024)
/* Largest upstream response header block. */
#define SC_UPSTREAM_MAX_RESPONSE_HEADERS (64 * 1024)
/* Idle upstream connections kept for reuse. */
#define SC_UPSTREAM_MAX_IDLE_CONNS 64

/* ---- Redis (store/redis.c) ---- */

/* Every Redis command, sync or async, must be answered within this long. */
#define SC_REDIS_COMMAND_TIMEOUT_MS 1000
#define SC_REDIS_CONNECT_TIMEOUT_MS 1000
/* Reconnect backoff of the daemon's async connection: doubles from MIN to MAX. */
#define SC_REDIS_RECONNECT_MIN_MS 50
#define SC_REDIS_RECONNECT_MAX_MS 500
/* Largest number of async commands queued on the connection at once. */
#define SC_REDIS_MAX_PENDING 100000

/* ---- daemon ---- */

/* Key records cached in the daemon (policy + decrypted real key). The cache
 * is only ever a copy: each call still checks revocation and expiry in Redis. */
#define SC_KEY_CACHE_MAX 65536
/* How long the proxy remembers which key family sent an email, so that
 * sending-scope keys can read and change only their own (seconds). */
#define SC_EMAIL_OWNER_TTL_S (30 * 86400)
/* Longest Idempotency-Key accepted from an agent (Resend's own limit). */
#define SC_IDEMPOTENCY_KEY_MAX 256
/* SIGTERM: in-flight requests get this long to finish. */
#define SC_DRAIN_DEADLINE_MS 30000

/* ---- call log (store/audit.c) ---- */

/* How long call records are kept (--log-retention, SENDCAP_LOG_RETENTION). */
#define SC_LOG_DEFAULT_RETENTION_MS (30LL * 86400 * 1000)
/* The daemon retries unacknowledged records this often. */
#define SC_LOG_FLUSH_INTERVAL_MS 100
/* SIGTERM: after the last call, this long to get its records into Redis. */
#define SC_LOG_DRAIN_MS 5000

/* ---- key material ---- */

/* Base62 characters of a vault key after "vk_": 43 * log2(62) = 256.03 bits. */
#define SC_VAULT_KEY_CHARS 43
/* Base62 characters of a public key id after "key_". */
#define SC_KEY_ID_CHARS 16
/* Longest real Resend key accepted by `upstream add`. */
#define SC_REAL_KEY_MAX 512
/* A key not used for this long (or never, this long after issue) is "stale"
 * in `sendcap key list`. */
#define SC_KEY_STALE_MS (30LL * 86400 * 1000)
/* Longest name, owner or agent_run_id of a key. */
#define SC_KEY_TEXT_MAX 200
/* Where `key issue` reads the Public Suffix List (Debian's publicsuffix
 * package; SENDCAP_PUBLIC_SUFFIX_LIST overrides), and its largest size
 * (the 2023 list is 0.3 MB). */
#define SC_PSL_DEFAULT_PATH "/usr/share/publicsuffix/public_suffix_list.dat"
#define SC_PSL_FILE_MAX (16L * 1024 * 1024)
/* Longest upstream name. */
#define SC_UPSTREAM_NAME_MAX 64

#endif
