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
/* Connections served at once (--max-conns, SENDCAP_MAX_CONNS).  At the
 * limit, the connection idle the longest is closed to make room; when none
 * is idle the new one is closed on accept. */
#define SC_HTTP_MAX_CONNS 10000
/* Open connections from one client IP address (--max-conns-per-client,
 * SENDCAP_MAX_CONNS_PER_CLIENT); the next one is answered 503. */
#define SC_HTTP_DEFAULT_MAX_CONNS_PER_CLIENT 512
/* Largest request body (--max-body, SENDCAP_MAX_BODY). */
#define SC_HTTP_DEFAULT_MAX_BODY 41943040L
/* Largest chunk-size line or trailer line of a chunked body. */
#define SC_HTTP_MAX_CHUNK_LINE 1024
/* Bytes of request bodies being received or held in memory by requests in
 * flight, all connections together (--max-pending-body,
 * SENDCAP_MAX_PENDING_BODY); a request that would pass it gets 503 before
 * its body is read. */
#define SC_HTTP_DEFAULT_MAX_PENDING_BODY 268435456LL
/* After answering a request whose body was not read (a refusal, 413, an
 * unknown key), read and drop what the client still sends for up to this
 * long or this many bytes, then close: closing with unread input sends a
 * reset, which can destroy the answer before the client reads it. */
#define SC_HTTP_LINGER_MS 2000
#define SC_HTTP_LINGER_BYTES (1024 * 1024)

/* ---- upstream (proxy/upstream.c) ---- */

/* Whole-call limit for one upstream request (--upstream-timeout). */
#define SC_UPSTREAM_DEFAULT_TIMEOUT_MS 30000

/* Events (SPEC §6).  A delivery attempt is leased for its timeout plus a
 * margin, so a slow attempt is never taken by a second instance while it
 * runs; retries double from the base, jittered, and stop after 24 h. */
#define SC_WEBHOOK_DEFAULT_TIMEOUT_MS 10000
#define SC_WEBHOOK_LEASE_MARGIN_MS 5000
#define SC_WEBHOOK_DEFAULT_RETRY_BASE_MS 5000
#define SC_WEBHOOK_RETRY_MAX_MS 3600000
#define SC_WEBHOOK_GIVE_UP_MS (24LL * 3600000)
#define SC_WEBHOOK_MAX_RESPONSE 65536 /* bytes of a receiver's answer read */
#define SC_SWEEP_DEFAULT_INTERVAL_MS 600000
/* Reading events (`event list`, `key show`): at most this many stream
 * entries are looked at per command (newest first), and `event list`
 * prints at most the newest SC_EVENT_LIST_MAX matches; `key show` the
 * last SC_EVENT_SHOW_MAX of its key. */
#define SC_EVENT_SCAN_MAX 200000
#define SC_EVENT_LIST_MAX 1000
#define SC_EVENT_SHOW_MAX 10

/* The sweep (proxy/sweep.c) reads this many keys per script (--sweep-batch),
 * so no script runs long on Redis's one thread, and leaves this gap between
 * its batches, so a sweep of many keys takes a small share of Redis from the
 * sends.  Its lease lasts SC_SWEEP_LEASE_PCT % of the interval from each
 * batch: it outlives a sweep of ordinary size, yet runs out before the next
 * tick, so some instance sweeps at every interval. */
#define SC_SWEEP_DEFAULT_BATCH 100
#define SC_SWEEP_BATCH_MAX 1000
#define SC_SWEEP_BATCH_GAP_MS 10
#define SC_SWEEP_LEASE_PCT 90
/* TCP + TLS connect limit, within the whole-call limit. */
#define SC_UPSTREAM_CONNECT_TIMEOUT_MS 10000
/* Largest upstream response body we relay; larger -> 502. */
#define SC_UPSTREAM_MAX_RESPONSE (64L * 1024 * 1024)
/* Largest upstream response header block. */
#define SC_UPSTREAM_MAX_RESPONSE_HEADERS (64 * 1024)
/* Idle upstream connections kept for reuse. */
#define SC_UPSTREAM_MAX_IDLE_CONNS 64
/* Header fields of one upstream answer; more -> 502, as a header block
 * over SC_UPSTREAM_MAX_RESPONSE_HEADERS: the answer is relayed unchanged
 * or not at all, never with fields silently dropped. */
#define SC_UPSTREAM_MAX_HEADERS 100
/* Largest --upstream-ca file; it is read once at start-up and kept in memory. */
#define SC_UPSTREAM_CA_MAX_BYTES (1L * 1024 * 1024)

/* ---- Redis (store/redis.c) ---- */

/* Every Redis command, sync or async, must be answered within this long. */
#define SC_REDIS_COMMAND_TIMEOUT_MS 1000
#define SC_REDIS_CONNECT_TIMEOUT_MS 1000
/* A command's deadline that fires this much later than it should (the loop
 * was busy) is moved once by a whole SC_REDIS_COMMAND_TIMEOUT_MS. */
#define SC_REDIS_LOOP_SLACK_MS 100
/* Reconnect backoff of the daemon's async connection: doubles from MIN to MAX. */
#define SC_REDIS_RECONNECT_MIN_MS 50
#define SC_REDIS_RECONNECT_MAX_MS 500
/* Largest number of async commands queued on the connection at once. */
#define SC_REDIS_MAX_PENDING 100000
/* The connection keeps the buffer it formats EVALSHA in (a send's commands
 * are the same few sizes), up to this size: a rare larger one (a held
 * send's sealed body, megabytes) is freed after use, not kept. */
#define SC_REDIS_FMT_KEEP_MAX (64 * 1024)

/* ---- daemon ---- */

/* Key records cached in the daemon (policy + decrypted real key). The cache
 * is only ever a copy: each call still checks revocation and expiry in Redis. */
#define SC_KEY_CACHE_MAX 65536
/* Unknown, revoked and expired keys are remembered this long, so a caller
 * repeating one is refused before its body is read and without a Redis
 * round trip each time; a key issued within this long after a caller tried
 * it is refused for that long. */
#define SC_KEY_NEG_CACHE_MS 1000
/* A call whose key record changed while call.lua was asked (the cache was
 * cold or outdated) re-reads it and asks again at most this many times,
 * then gets 503: a record rewritten on every read is a fault, not a race. */
#define SC_KEY_STALE_RETRIES 2
/* Slots of that memory (direct-mapped, fixed). */
#define SC_KEY_NEG_CACHE_SLOTS 4096
/* How long the proxy remembers which key family sent an email, so that
 * sending-scope keys can read and change only their own (seconds). */
#define SC_EMAIL_OWNER_TTL_S (30 * 86400)
/* Hours one `sendcap usage` reads (a pipelined HGETALL each): 400 days. */
#define SC_USAGE_MAX_HOURS (400 * 24)
/* Longest Idempotency-Key accepted from an agent (Resend's own limit). */
#define SC_IDEMPOTENCY_KEY_MAX 256
/* SIGTERM: in-flight requests get this long to finish. */
#define SC_DRAIN_DEADLINE_MS 30000

/* Call records of callers without a known vault key (proxy/flood.c): one
 * by one up to this many a second per client address, then one summary
 * record a second (SPEC §3). */
#define SC_UNAUTH_RECORDS_PER_S 50
/* Client addresses tracked for that; the rest share one bound. */
#define SC_UNAUTH_MAX_ADDRS 4096
/* Label sets of the request counter in /metrics (proxy/metrics.c); past
 * it, calls are counted under route="other", so the table is fixed. */
#define SC_METRICS_MAX_SERIES 2048
/* Largest --config / SENDCAP_CONFIG settings file (common/config.c): it
 * holds a few dozen SENDCAP_*=value lines. */
#define SC_CONFIG_FILE_MAX 65536

/* ---- call log (store/audit.c) ---- */

/* How long call records are kept (--log-retention, SENDCAP_LOG_RETENTION). */
#define SC_LOG_DEFAULT_RETENTION_MS (30LL * 86400 * 1000)
/* The daemon retries unacknowledged records this often. */
#define SC_LOG_FLUSH_INTERVAL_MS 100
/* SIGTERM: after the last call, this long to get its records into Redis. */
#define SC_LOG_DRAIN_MS 5000
/* Records a writer holds in memory while Redis is away; past it the oldest
 * unsent are dropped and counted, and a MAC'd "lost" record states the gap. */
#define SC_LOG_QUEUE_MAX 100000
/* Records sent in one log_write.lua call: those that finished in one loop
 * turn, up to this many (within store_redis_async_eval's argument limit). */
#define SC_LOG_BATCH_MAX 8

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
/* Longest name, owner or agent_run_id of a key, as `key issue` accepts it.
 * A key record's text fields (upstream too, at most SC_UPSTREAM_NAME_MAX)
 * are held in buffers of STORE_KEY_TEXT_MAX bytes (store/keys.h), which
 * must keep room above this, so a record read back is never cut. */
#define SC_KEY_TEXT_MAX 200
/* Bounds of a key's controls (SPEC §5) as key issue/update accept them:
 * the largest cap, the largest --rate N, the most --alert-at percents, and the longest
 * --dedupe-window (each remembered send is one Redis string for that long). */
#define SC_KEY_CAP_MAX 1000000000 /* --daily-cap, --monthly-cap, --per-recipient-cap */
#define SC_KEY_RATE_MAX 1000000
#define SC_KEY_ALERT_AT_MAX 10
#define SC_KEY_DEDUPE_WINDOW_MAX_MS (7LL * 86400 * 1000)
/* --rotate-after (SPEC §6): a key older than this gets key.rotation_due.
 * The default is Resend's advice (rotate every 90 days); 0 is off. */
#define SC_KEY_ROTATE_AFTER_DEFAULT_MS (90LL * 86400 * 1000)
#define SC_KEY_ROTATE_AFTER_MAX_MS (3650LL * 86400 * 1000)

/* Held sends (SPEC §7).  --hold-ttl: how long a held send waits for a
 * decision before the sweep expires it (default 24 h, SPEC; at most 30
 * days, the call log's default retention).  A decided held record stays
 * readable (GET /emails/held_…) for SC_HELD_KEEP_S.  The forwarder of
 * approved sends polls every SC_HELD_POLL_MS and leases one for
 * SC_HELD_LEASE_MS past the upstream timeout (a crash lets another
 * instance retry it then, with the same Idempotency-Key); a send Resend
 * did not answer is retried at most SC_HELD_ATTEMPTS_MAX times.  `approval
 * approve` waits at most SC_HELD_APPROVE_WAIT_MS for the outcome.  A held
 * body is at most SC_HELD_BODY_MAX bytes once sealed. */
#define SC_HELD_TTL_DEFAULT_MS (86400LL * 1000)
#define SC_HELD_TTL_MAX_MS (30LL * 86400 * 1000)
#define SC_HELD_KEEP_S (30 * 86400)
#define SC_HELD_POLL_MS 500
#define SC_HELD_LEASE_MS 5000
#define SC_HELD_ATTEMPTS_MAX 5
#define SC_HELD_APPROVE_WAIT_MS 30000
/* Where `key issue` reads the Public Suffix List (Debian's publicsuffix
 * package; SENDCAP_PUBLIC_SUFFIX_LIST overrides), and its largest size
 * (the 2023 list is 0.3 MB). */
#define SC_PSL_DEFAULT_PATH "/usr/share/publicsuffix/public_suffix_list.dat"
#define SC_PSL_FILE_MAX (16L * 1024 * 1024)
/* Longest upstream name. */
#define SC_UPSTREAM_NAME_MAX 64
/* Largest secret sealed under the master key (a real Resend key is at most
 * SC_REAL_KEY_MAX; this bounds store_secret_seal for any caller). */
#define SC_SECRET_MAX 65536
/* The admin trail (store/admin.h): the longest --actor, the largest
 * changed-fields text of one record, and how often a CLI re-seals its
 * record when another CLI appended to the one chain first (each retry
 * follows a new head, so only a burst of that many concurrent changes
 * could exhaust it). */
#define SC_ADMIN_ACTOR_MAX 128
#define SC_ADMIN_CHANGES_MAX 65536
#define SC_ADMIN_RETRY_MAX 64

/* Largest sealed data (a held send: its route and body; the body is at
 * most --max-body, 40 MiB by default). */
#define SC_SEALED_DATA_MAX (256LL * 1024 * 1024)
/* Held sends (SPEC §7) waiting for a person, per key family: past either
 * bound a gated key's next held send is refused (429) until some are
 * decided, so one agent cannot fill Redis with sealed bodies (and stop
 * every key's sends, Redis being noeviction). */
#define SC_HELD_FAMILY_MAX 1000
/* An approved held send Resend answers 429 (its team's rate limit) waits
 * its Retry-After, kept between these, and is tried again without using
 * one of its attempts; after SC_HELD_WAIT_GIVE_UP_MS of such waits it
 * fails, its sends kept (an earlier attempt may have gone). */
#define SC_HELD_WAIT_MIN_MS 1000
#define SC_HELD_WAIT_MAX_MS 60000
#define SC_HELD_WAIT_GIVE_UP_MS (24LL * 3600000)
#define SC_HELD_FAMILY_BYTES (256LL * 1024 * 1024)

#endif
