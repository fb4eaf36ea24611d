/*
 * audit.c - writing, querying and verifying the call log.  See audit.h for
 * the storage layout and the chain.
 */
#include "audit.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "common/log.h"
#include "common/util.h"

const char *const store_audit_fields[STORE_AUDIT_NFIELDS] = {
    "time", "request_id", "key_id", "agent_run_id", "claimed_agent_run_id", "method", "path",
    "route", "recipients", "from_domain", "recipient_domains", "recipient_addresses", "decision",
    "reason", "status", "upstream_status", "email_ids", "latency_ms", "upstream_latency_ms",
    "client", "user_agent", "client_gone", "count",
};

/* The chain fields that follow the record's fields. */
#define NCHAIN 4 /* w, seq, prev, mac */

void
store_audit_set(struct store_audit_rec *r, enum store_audit_field f, const char *value)
{
    free(r->v[f]);
    r->v[f] = strdup(value ? value : "");
}

void
store_audit_set_i64(struct store_audit_rec *r, enum store_audit_field f, int64_t v)
{
    char num[24];

    store_audit_set(r, f, sc_fmt_i64(num, v));
}

void
store_audit_setf(struct store_audit_rec *r, enum store_audit_field f, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    free(r->v[f]);
    r->v[f] = s ? s : strdup("");
}

void
store_audit_clear(struct store_audit_rec *r)
{
    for (int i = 0; i < STORE_AUDIT_NFIELDS; i++) {
        free(r->v[i]);
        r->v[i] = NULL;
    }
}

char *
store_audit_pack(const struct store_audit_rec *r)
{
    size_t total = 3;
    char *out, *o;

    for (int i = 0; i < STORE_AUDIT_NFIELDS; i++)
        total += (r->v[i] ? strlen(r->v[i]) : 0) + 24;
    if ((out = malloc(total)) == NULL)
        return NULL;
    memcpy(out, "v1", 2);
    o = out + 2;
    for (int i = 0; i < STORE_AUDIT_NFIELDS; i++) {
        const char *v = r->v[i] ? r->v[i] : "";
        if (i == SA_COUNT && *v == '\0')
            break; /* the optional last field */
        size_t n = strlen(v);
        o = sc_put_u64(o, n);
        *o++ = ':';
        memcpy(o, v, n);
        o += n;
    }
    *o = '\0';
    return out;
}

/* Unpack into row->v, values copied NUL-terminated into a new row->buf.
 * Refuses anything malformed (an edited record), leaving the row empty. */
static int
unpack(const char *p, size_t n, struct store_audit_row *row)
{
    const char *end = p + n;
    char *o;

    if (n < 2 || memcmp(p, "v1", 2) != 0 || (row->buf = malloc(n + STORE_AUDIT_NFIELDS)) == NULL)
        return -1;
    p += 2;
    o = row->buf;
    for (int i = 0; i < STORE_AUDIT_NFIELDS; i++) {
        size_t len = 0;
        int digits = 0;
        if (i == SA_COUNT && p == end) { /* the optional last field */
            *o = '\0';
            row->v[i] = o;
            break;
        }
        while (p < end && *p >= '0' && *p <= '9' && digits < 9) {
            len = len * 10 + (size_t)(*p++ - '0');
            digits++;
        }
        if (digits == 0 || p >= end || *p++ != ':' || len > (size_t)(end - p)) {
            free(row->buf);
            row->buf = NULL;
            return -1;
        }
        memcpy(o, p, len);
        o[len] = '\0';
        row->v[i] = o;
        o += len + 1;
        p += len;
    }
    return p == end ? 0 : (free(row->buf), row->buf = NULL, -1);
}

void
store_audit_key(const unsigned char mk[SC_MASTER_KEY_LEN], unsigned char out[32])
{
    static const char label[] = "sendcap/v1/audit";
    unsigned int n = 32;

    HMAC(EVP_sha256(), mk, SC_MASTER_KEY_LEN, (const unsigned char *)label, sizeof(label) - 1,
         out, &n);
}

/*
 * HMAC-SHA256 (RFC 2104) over SHA256_CTX: the inner and outer states after
 * the padded key are made once per key and copied per record as plain
 * structs.  OpenSSL 3's HMAC_CTX and EVP paths fetch SHA-256 from their
 * provider and allocate on every init or copy, which cost several times the
 * hashing of a record.  test_audit_mac holds this to OpenSSL's HMAC().
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static SHA256_CTX mac_inner, mac_outer;
static unsigned char mac_keyed_for[32];
static int mac_keyed;

static void
mac_update_u64(SHA256_CTX *c, uint64_t v, char sep)
{
    char b[24], *o = sc_put_u64(b, v);

    *o++ = sep;
    SHA256_Update(c, b, (size_t)(o - b));
}

void
store_audit_mac(const unsigned char key[32], const char *prev, int n, const char *const *names,
                const char *const *values, const size_t *lens, char out[65])
{
    static const char hx[] = "0123456789abcdef";
    unsigned char md[32];
    SHA256_CTX c;

    if (!mac_keyed || memcmp(mac_keyed_for, key, 32) != 0) {
        unsigned char pad[64];
        memset(pad, 0x36, sizeof(pad));
        for (int i = 0; i < 32; i++)
            pad[i] ^= key[i];
        SHA256_Init(&mac_inner);
        SHA256_Update(&mac_inner, pad, sizeof(pad));
        memset(pad, 0x5c, sizeof(pad));
        for (int i = 0; i < 32; i++)
            pad[i] ^= key[i];
        SHA256_Init(&mac_outer);
        SHA256_Update(&mac_outer, pad, sizeof(pad));
        OPENSSL_cleanse(pad, sizeof(pad));
        memcpy(mac_keyed_for, key, 32);
        mac_keyed = 1;
    }
    /* The MAC'd bytes: "prev\n" then "<len(name)>:<name>=<len(value)>:<value>\n"
     * for each field. */
    c = mac_inner;
    SHA256_Update(&c, prev, strlen(prev));
    SHA256_Update(&c, "\n", 1);
    for (int i = 0; i < n; i++) {
        size_t vl = lens ? lens[i] : strlen(values[i]), nl = strlen(names[i]);
        mac_update_u64(&c, nl, ':');
        SHA256_Update(&c, names[i], nl);
        SHA256_Update(&c, "=", 1);
        mac_update_u64(&c, vl, ':');
        SHA256_Update(&c, values[i], vl);
        SHA256_Update(&c, "\n", 1);
    }
    SHA256_Final(md, &c);
    c = mac_outer;
    SHA256_Update(&c, md, sizeof(md));
    SHA256_Final(md, &c);
    OPENSSL_cleanse(&c, sizeof(c));
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hx[md[i] >> 4];
        out[2 * i + 1] = hx[md[i] & 15];
    }
    out[64] = '\0';
}
#pragma GCC diagnostic pop

/* ---- writer ---- */

struct qrec {
    struct qrec *next;
    struct store_audit_log *log;
    int argc;
    char **argv;
    int sent;
};

struct store_audit_log {
    struct store_async *as;
    struct store_audit_chain ch;
    struct qrec *head, *tail;
    long queued;
    long lost; /* records not queued because the queue was full */
    struct event *kick; /* sends the records of one loop turn, see kick_cb */
    int64_t err_logged_ms; /* when a refused write was last logged */
};

static void kick_cb(evutil_socket_t fd, short what, void *arg);

struct store_audit_log *
store_audit_log_new(struct store_async *as, const unsigned char mk[SC_MASTER_KEY_LEN],
                    int64_t retention_ms)
{
    struct store_audit_log *l = calloc(1, sizeof(*l));

    if (l == NULL)
        return NULL;
    l->as = as;
    l->kick = event_new(store_redis_async_base(as), -1, 0, kick_cb, l);
    if (l->kick == NULL || store_audit_chain_init(&l->ch, mk, retention_ms) != 0) {
        if (l->kick != NULL)
            event_free(l->kick);
        free(l);
        return NULL;
    }
    return l;
}

void
store_audit_argv_free(char **argv, int argc)
{
    (void)argc; /* one block: see store_audit_chain_seal */
    free(argv);
}

static void
qrec_free(struct qrec *q)
{
    if (q == NULL)
        return;
    store_audit_argv_free(q->argv, q->argc);
    free(q);
}

void
store_audit_log_free(struct store_audit_log *l)
{
    if (l == NULL)
        return;
    while (l->head != NULL) {
        struct qrec *q = l->head;
        l->head = q->next;
        qrec_free(q);
    }
    event_free(l->kick);
    store_secret_wipe(l->ch.key, sizeof(l->ch.key));
    free(l);
}

const char *
store_audit_log_writer(const struct store_audit_log *l)
{
    return l->ch.writer;
}

long
store_audit_log_pending(const struct store_audit_log *l)
{
    return l->queued;
}

/* Records sent in one log_write call: those that finished in one loop turn
 * (up to LOG_BATCH_MAX, and within store_redis_async_eval's argument limit). */
#define LOG_BATCH_MAX 8

struct batch {
    struct store_audit_log *log;
    int n;
    struct qrec *q[LOG_BATCH_MAX];
};

static void
written(redisReply *r, const char *errstr, void *arg)
{
    struct batch *b = arg;
    struct store_audit_log *l = b->log;

    (void)r;
    if (errstr != NULL && sc_mono_ms() - l->err_logged_ms >= 10000) {
        l->err_logged_ms = sc_mono_ms();
        if (strstr(errstr, "OOM") != NULL)
            sc_error("audit: Redis is out of memory (maxmemory) and refuses call records; "
                     "they wait in memory. Free memory in Redis or raise maxmemory.");
        else
            sc_warn("audit: call records not written yet: %s", errstr);
    }
    for (int i = 0; i < b->n; i++) {
        struct qrec *q = b->q[i], **pp = &l->head, *prev = NULL;

        if (errstr != NULL) {
            /* Keep it for the next flush; a re-send of a record Redis did
             * write is a no-op (log_write.lua).  Only the records of this
             * call: those of others still in flight get their own answer (a
             * lost connection fails them all, one callback each).  Marking
             * them unsent too let the next flush send a record twice at
             * once, and its second answer then found it freed by the
             * first. */
            q->sent = 0;
            continue;
        }
        /* Replies come in order, but a record re-sent after an error can
         * be acknowledged out of queue order: unlink wherever it is. */
        for (; *pp != NULL && *pp != q; pp = &(*pp)->next)
            prev = *pp;
        if (*pp == q) {
            *pp = q->next;
            if (l->tail == q)
                l->tail = prev;
            l->queued--;
            qrec_free(q);
        }
    }
    free(b);
}

void
store_audit_log_flush(struct store_audit_log *l)
{
    struct qrec *q = l->head;

    while (q != NULL) {
        const char *argv[STORE_REDIS_MAX_ARGS], *errstr;
        struct batch *b = calloc(1, sizeof(*b));
        int argc = 1;

        if (b == NULL)
            return; /* out of memory: the 100 ms retry flushes again */
        b->log = l;
        argv[0] = "sc:log"; /* KEYS[1]; each record's argv[0] is the same */
        for (; q != NULL && b->n < LOG_BATCH_MAX; q = q->next) {
            if (q->sent)
                continue;
            if (argc + q->argc - 1 > STORE_REDIS_MAX_ARGS)
                break;
            for (int i = 1; i < q->argc; i++)
                argv[argc++] = q->argv[i];
            b->q[b->n++] = q;
        }
        if (b->n == 0 ||
            store_redis_async_eval(l->as, STORE_SCRIPT_LOG_WRITE, 1, argc, argv, NULL, written, b,
                                   &errstr) != 0) {
            free(b); /* nothing to send, or not connected: later, in order */
            return;
        }
        for (int i = 0; i < b->n; i++)
            b->q[i]->sent = 1;
    }
}

/*
 * Records written during a turn of the loop go out together, in one
 * log_write call, from this event: activated by the first of them, it runs
 * after the callbacks already queued in that turn (libevent runs active
 * events in order), so the calls answered in one turn share one script.
 * It writes to Redis's socket at once (store_redis_async_push), not at the
 * end of the turn: proxy/http.c writes each answer from an event activated
 * after its record, and the record must be on Redis's socket first, so
 * that the client's next call, through any sendcapd, sees its settlement.
 */
static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct store_audit_log *l = arg;

    (void)fd;
    (void)what;
    store_audit_log_flush(l);
    store_redis_async_push(l->as);
}

int
store_audit_chain_init(struct store_audit_chain *ch, const unsigned char mk[SC_MASTER_KEY_LEN],
                       int64_t retention_ms)
{
    memset(ch, 0, sizeof(*ch));
    ch->retention_ms = retention_ms;
    store_audit_key(mk, ch->key);
    memcpy(ch->writer, "w_", 2);
    if (store_secret_random_base62(ch->writer + 2, 12) != 0)
        return -1;
    sc_strlcpy(ch->prev, "genesis", sizeof(ch->prev));
    return 0;
}

char **
store_audit_chain_seal(struct store_audit_chain *ch, struct store_audit_rec *rec,
                       const char *intent, const struct store_audit_settle *st, int *argcp)
{
    const char *names[1 + NCHAIN];
    const char *vals[1 + NCHAIN];
    char seq[24], mac[65], cutoff[24], refund[24], ttl[24], nids[24];
    char *packed;
    int n = 0, a = 0, argc;
    char **argv;
    const char **src;
    size_t bytes = 0;
    int64_t now = sc_now_ms();

    for (int i = 0; i < STORE_AUDIT_NFIELDS; i++)
        if (rec->v[i] == NULL && (rec->v[i] = strdup("")) == NULL)
            return NULL;
    if ((packed = store_audit_pack(rec)) == NULL)
        return NULL;
    names[n] = "r";
    vals[n++] = packed;
    sc_fmt_i64(seq, (int64_t)(ch->seq + 1));
    names[n] = "w";
    vals[n++] = ch->writer;
    names[n] = "seq";
    vals[n++] = seq;
    names[n] = "prev";
    vals[n++] = ch->prev;
    store_audit_mac(ch->key, ch->prev, n, names, vals, NULL, mac);
    names[n] = "mac";
    vals[n++] = mac;

    argc = 1 + 13 + (st ? (int)st->nids : 0) + 2 * n + 3;
    src = calloc((size_t)argc, sizeof(*src));
    if (src == NULL) {
        free(packed);
        return NULL;
    }
    sc_fmt_i64(cutoff, ch->retention_ms > 0 ? now - ch->retention_ms : 0);
    src[a++] = "sc:log";
    src[a++] = ch->writer;
    src[a++] = seq;
    src[a++] = cutoff;
    src[a++] = intent ? intent : "";
    src[a++] = rec->v[SA_KEY_ID];
    src[a++] = rec->v[SA_AGENT_RUN_ID];
    src[a++] = rec->v[SA_CLAIMED_RUN_ID];
    src[a++] = rec->v[SA_TIME];
    src[a++] = sc_fmt_i64(refund, st ? st->refund : 0);
    src[a++] = st && st->counter_key ? st->counter_key : "";
    src[a++] = st && st->family ? st->family : "";
    src[a++] = sc_fmt_i64(ttl, st ? st->owner_ttl_s : 0);
    src[a++] = sc_fmt_i64(nids, st ? (int64_t)st->nids : 0);
    for (size_t i = 0; st && i < st->nids; i++)
        src[a++] = st->ids[i];
    for (int i = 0; i < n; i++) {
        src[a++] = names[i];
        src[a++] = vals[i];
    }
    src[a++] = st && st->idem_key ? st->idem_key : "";
    src[a++] = st && st->idem_value ? st->idem_value : "";
    src[a++] = st && st->idem_kept ? "1" : "0";
    /* One block: the pointers, then the strings they point to. */
    for (int i = 0; i < argc; i++)
        bytes += strlen(src[i]) + 1;
    argv = malloc((size_t)argc * sizeof(char *) + bytes);
    if (argv != NULL) {
        char *o = (char *)(argv + argc);
        for (int i = 0; i < argc; i++) {
            size_t l = strlen(src[i]) + 1;
            argv[i] = memcpy(o, src[i], l);
            o += l;
        }
    }
    free(src);
    free(packed);
    if (argv == NULL)
        return NULL;
    ch->seq++;
    memcpy(ch->prev, mac, sizeof(mac));
    *argcp = argc;
    return argv;
}

/* Seal the record into a queued log_write call. */
static struct qrec *
seal(struct store_audit_log *l, struct store_audit_rec *rec, const char *intent,
     const struct store_audit_settle *st)
{
    struct qrec *q = calloc(1, sizeof(*q));

    if (q == NULL)
        return NULL;
    q->log = l;
    q->argv = store_audit_chain_seal(&l->ch, rec, intent, st, &q->argc);
    if (q->argv == NULL) {
        free(q);
        return NULL;
    }
    return q;
}

static void
enqueue(struct store_audit_log *l, struct qrec *q)
{
    if (l->tail)
        l->tail->next = q;
    else
        l->head = q;
    l->tail = q;
    l->queued++;
}

void
store_audit_log_write(struct store_audit_log *l, struct store_audit_rec *rec, const char *intent,
                      const struct store_audit_settle *st)
{
    struct qrec *q;

    if (l->queued >= STORE_AUDIT_QUEUE_MAX) {
        /* Not sealed, so the chain has no hole: the loss is declared, with
         * a MAC, once there is room again. */
        l->lost++;
        store_audit_clear(rec);
        return;
    }
    if (l->lost > 0) {
        struct store_audit_rec lost = {{0}};
        char t[24];
        snprintf(t, sizeof(t), "%lld", (long long)sc_now_ms());
        store_audit_set(&lost, SA_TIME, t);
        store_audit_set(&lost, SA_ROUTE, "audit.lost");
        store_audit_set(&lost, SA_DECISION, "error");
        store_audit_setf(&lost, SA_REASON, "audit_records_lost:%ld", l->lost);
        if ((q = seal(l, &lost, NULL, NULL)) != NULL) {
            sc_error("audit: %ld records were not written while Redis was away", l->lost);
            enqueue(l, q);
            l->lost = 0;
        }
        store_audit_clear(&lost);
    }
    q = seal(l, rec, intent, st);
    store_audit_clear(rec);
    if (q == NULL) {
        l->lost++;
        return;
    }
    enqueue(l, q);
    event_active(l->kick, EV_WRITE, 1);
}

/* ---- reading ---- */

/* Fill a row from a stream entry [id, [f, v, f, v, ...]]. */
static int
row_from_entry(const redisReply *e, struct store_audit_row *row)
{
    const redisReply *kv;

    memset(row, 0, sizeof(*row));
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[1]->type != REDIS_REPLY_ARRAY)
        return -1;
    row->stream_id = e->element[0]->str;
    kv = e->element[1];
    for (size_t i = 0; i + 1 < kv->elements; i += 2)
        if (strcmp(kv->element[i]->str, "r") == 0)
            return unpack(kv->element[i + 1]->str, kv->element[i + 1]->len, row);
    return -1;
}

/* An intent: the packed record call.lua stored before forwarding. */
static int
row_from_intent(const redisReply *h, struct store_audit_row *row)
{
    memset(row, 0, sizeof(*row));
    if (h->type != REDIS_REPLY_STRING || unpack(h->str, h->len, row) != 0)
        return -1;
    row->stream_id = "";
    row->unknown_outcome = 1;
    return 0;
}

int
store_audit_row_matches(const struct store_audit_query *q, const struct store_audit_row *r)
{
    int64_t t = 0;

    if (q->key_id && strcmp(r->v[SA_KEY_ID], q->key_id) != 0)
        return 0;
    if (q->agent_run_id && strcmp(r->v[SA_AGENT_RUN_ID], q->agent_run_id) != 0 &&
        strcmp(r->v[SA_CLAIMED_RUN_ID], q->agent_run_id) != 0)
        return 0;
    if (q->decision && strcmp(r->v[SA_DECISION], q->decision) != 0)
        return 0;
    sc_parse_i64(r->v[SA_TIME], 0, INT64_MAX, &t);
    if (q->since_ms && t < q->since_ms)
        return 0;
    if (q->until_ms && t > q->until_ms)
        return 0;
    return 1;
}

/* Collected rows: replies are kept alive until the rows are printed. */
struct rows {
    struct store_audit_row *r;
    size_t n, cap;
    redisReply **keep;
    size_t nkeep, capkeep;
};

static int
rows_add(struct rows *rs, const struct store_audit_row *row)
{
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 256;
        struct store_audit_row *n = realloc(rs->r, cap * sizeof(*n));
        if (n == NULL)
            return -1;
        rs->r = n;
        rs->cap = cap;
    }
    rs->r[rs->n++] = *row;
    return 0;
}

static int
keep(struct rows *rs, redisReply *r)
{
    if (rs->nkeep == rs->capkeep) {
        size_t cap = rs->capkeep ? rs->capkeep * 2 : 64;
        redisReply **n = realloc(rs->keep, cap * sizeof(*n));
        if (n == NULL)
            return -1;
        rs->keep = n;
        rs->capkeep = cap;
    }
    rs->keep[rs->nkeep++] = r;
    return 0;
}

static void
rows_free(struct rows *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        free(rs->r[i].buf);
    for (size_t i = 0; i < rs->nkeep; i++)
        freeReplyObject(rs->keep[i]);
    free(rs->keep);
    free(rs->r);
}

static int
cmp_time(const void *a, const void *b)
{
    const struct store_audit_row *x = a, *y = b;
    int64_t tx = 0, ty = 0;

    sc_parse_i64(x->v[SA_TIME], 0, INT64_MAX, &tx);
    sc_parse_i64(y->v[SA_TIME], 0, INT64_MAX, &ty);
    if (tx != ty)
        return tx < ty ? -1 : 1;
    return strcmp(x->stream_id, y->stream_id);
}

#define PAGE 500

/* Newest-first walk of an index zset: fetch entries by id, pipelined. */
static int
walk_index(struct store_conn *c, const char *zkey, const struct store_audit_query *q,
           struct rows *rs, char *err, size_t errlen)
{
    redisContext *ctx = store_redis_ctx(c);
    char max[32], min[32];
    long offset = 0, found = 0;

    snprintf(max, sizeof(max), "%lld", q->until_ms ? (long long)q->until_ms : (long long)INT64_MAX);
    snprintf(min, sizeof(min), "%lld", (long long)q->since_ms);
    for (;;) {
        redisReply *ids = store_redis_cmd(c, err, errlen, "ZREVRANGEBYSCORE %s %s %s LIMIT %ld %d",
                                          zkey, max, min, offset, PAGE);
        if (ids == NULL)
            return -1;
        if (ids->elements == 0) {
            freeReplyObject(ids);
            return 0;
        }
        for (size_t i = 0; i < ids->elements; i++)
            redisAppendCommand(ctx, "XRANGE sc:log %s %s", ids->element[i]->str,
                               ids->element[i]->str);
        for (size_t i = 0; i < ids->elements; i++) {
            redisReply *r = NULL;
            struct store_audit_row row;
            if (redisGetReply(ctx, (void **)&r) != REDIS_OK || r == NULL) {
                snprintf(err, errlen, "redis: %s", ctx->errstr);
                freeReplyObject(ids);
                return -1;
            }
            if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
                row_from_entry(r->element[0], &row) == 0) {
                if (store_audit_row_matches(q, &row) && rows_add(rs, &row) == 0) {
                    keep(rs, r); /* the row's stream id points into it */
                    found++;
                    continue;
                }
                free(row.buf);
            }
            freeReplyObject(r);
        }
        offset += (long)ids->elements;
        freeReplyObject(ids);
        if (q->limit > 0 && found >= q->limit)
            return 0;
    }
}

/* Newest-first walk of the whole stream between since and until. */
static int
walk_stream(struct store_conn *c, const struct store_audit_query *q, struct rows *rs, char *err,
            size_t errlen)
{
    char end[48], start[32];
    long found = 0;

    if (q->until_ms)
        snprintf(end, sizeof(end), "%lld", (long long)q->until_ms + 60000); /* ids are Redis time */
    else
        sc_strlcpy(end, "+", sizeof(end));
    snprintf(start, sizeof(start), "%lld", (long long)(q->since_ms > 60000 ? q->since_ms - 60000 : 0));
    for (;;) {
        redisReply *r = store_redis_cmd(c, err, errlen, "XREVRANGE sc:log %s %s COUNT %d", end,
                                        start, PAGE);
        size_t n;
        if (r == NULL)
            return -1;
        n = r->elements;
        if (n == 0) {
            freeReplyObject(r);
            return 0;
        }
        keep(rs, r);
        for (size_t i = 0; i < n; i++) {
            struct store_audit_row row;
            if (row_from_entry(r->element[i], &row) != 0)
                continue;
            if (store_audit_row_matches(q, &row) && rows_add(rs, &row) == 0)
                found++;
            else
                free(row.buf);
        }
        if (q->limit > 0 && found >= q->limit)
            return 0;
        /* next page: strictly before the oldest id seen */
        snprintf(end, sizeof(end), "(%s", r->element[n - 1]->element[0]->str);
        if (n < PAGE)
            return 0;
    }
}

int
store_audit_query(struct store_conn *c, const struct store_audit_query *q,
                  void (*fn)(const struct store_audit_row *, void *), void *arg, char *err,
                  size_t errlen)
{
    struct rows rs = {0};
    redisReply *ints = NULL;
    char zkey[600], max[32], min[32];
    size_t from;
    int ret = -1;

    if (q->agent_run_id) {
        snprintf(zkey, sizeof(zkey), "sc:lr:%s", q->agent_run_id);
        if (walk_index(c, zkey, q, &rs, err, errlen) != 0)
            goto done;
    } else if (q->key_id) {
        snprintf(zkey, sizeof(zkey), "sc:lk:%s", q->key_id);
        if (walk_index(c, zkey, q, &rs, err, errlen) != 0)
            goto done;
    } else if (walk_stream(c, q, &rs, err, errlen) != 0) {
        goto done;
    }
    /* Intents with no final record: the outcome of those calls is unknown. */
    snprintf(max, sizeof(max), "%lld", q->until_ms ? (long long)q->until_ms + 60000 : (long long)INT64_MAX);
    snprintf(min, sizeof(min), "%lld", (long long)(q->since_ms > 60000 ? q->since_ms - 60000 : 0));
    ints = store_redis_cmd(c, err, errlen, "ZRANGEBYSCORE sc:intents %s %s", min, max);
    if (ints == NULL)
        goto done;
    for (size_t i = 0; i < ints->elements; i++) {
        redisReply *h = store_redis_cmd(c, err, errlen, "GET sc:intent:%s", ints->element[i]->str);
        struct store_audit_row row;
        if (h == NULL)
            goto done;
        if (row_from_intent(h, &row) == 0 && store_audit_row_matches(q, &row) &&
            rows_add(&rs, &row) == 0)
            row.buf = NULL; /* owned by rs now */
        free(row.buf);
        freeReplyObject(h);
    }
    if (rs.n > 1)
        qsort(rs.r, rs.n, sizeof(rs.r[0]), cmp_time);
    from = (q->limit > 0 && rs.n > (size_t)q->limit) ? rs.n - (size_t)q->limit : 0;
    for (size_t i = from; i < rs.n; i++)
        fn(&rs.r[i], arg);
    ret = 0;
done:
    if (ints)
        freeReplyObject(ints);
    rows_free(&rs);
    return ret;
}

int
store_audit_tail(struct store_conn *c, const struct store_audit_query *q,
                 void (*fn)(const struct store_audit_row *, void *), void *arg,
                 volatile int *stop, char *err, size_t errlen)
{
    char last[64] = "$";

    while (!*stop) {
        redisReply *r = store_redis_cmd(c, err, errlen, "XREAD COUNT 200 BLOCK 500 STREAMS sc:log %s",
                                        last);
        if (r == NULL)
            return *stop ? 0 : -1;
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
            const redisReply *entries = r->element[0]->element[1];
            for (size_t i = 0; i < entries->elements; i++) {
                struct store_audit_row row;
                if (row_from_entry(entries->element[i], &row) == 0) {
                    if (store_audit_row_matches(q, &row))
                        fn(&row, arg);
                    free(row.buf);
                }
                sc_strlcpy(last, entries->element[i]->element[0]->str, sizeof(last));
            }
        }
        freeReplyObject(r);
    }
    return 0;
}

/* ---- verifying ---- */

struct vrec {
    unsigned writer;
    unsigned long long seq;
    unsigned char prev[32], mac[32];
    int genesis;
    char id[32];
};

static int
unhex(const char *s, unsigned char out[32])
{
    if (strlen(s) != 64)
        return -1;
    for (int i = 0; i < 32; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char ch = s[2 * i + k];
            v <<= 4;
            if (ch >= '0' && ch <= '9')
                v |= (unsigned)(ch - '0');
            else if (ch >= 'a' && ch <= 'f')
                v |= (unsigned)(ch - 'a' + 10);
            else
                return -1;
        }
        out[i] = (unsigned char)v;
    }
    return 0;
}

static int
cmp_vrec(const void *a, const void *b)
{
    const struct vrec *x = a, *y = b;

    if (x->writer != y->writer)
        return x->writer < y->writer ? -1 : 1;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return 0;
}

int
store_audit_verify_log(struct store_conn *c, const unsigned char mk[SC_MASTER_KEY_LEN],
                       int64_t since_ms, int64_t retention_ms, int64_t now_ms,
                       struct store_audit_verify *out, char *err, size_t errlen)
{
    unsigned char key[32];
    struct vrec *v = NULL;
    size_t nv = 0, capv = 0;
    char **writers = NULL;
    size_t nw = 0;
    char start[48];
    long long added = -1, length = -1, maxdel = 0;
    int ret = -1;
    redisReply *info;

    memset(out, 0, sizeof(*out));
    store_audit_key(mk, key);

    /* Redis 7 counts every entry ever added and the newest id ever removed
     * (by trimming or XDEL): a recent removal is a deleted record. */
    info = store_redis_cmd(c, err, errlen, "XINFO STREAM sc:log");
    if (info == NULL) {
        if (strstr(err, "no such key") != NULL) {
            err[0] = '\0';
            return 0; /* an empty log verifies */
        }
        return -1;
    }
    for (size_t i = 0; i + 1 < info->elements; i += 2) {
        const char *k = info->element[i]->str;
        const redisReply *val = info->element[i + 1];
        if (strcmp(k, "length") == 0)
            length = val->integer;
        else if (strcmp(k, "entries-added") == 0)
            added = val->integer;
        else if (strcmp(k, "max-deleted-entry-id") == 0 && val->type == REDIS_REPLY_STRING)
            maxdel = strtoll(val->str, NULL, 10);
    }
    freeReplyObject(info);
    if (since_ms == 0 && retention_ms > 0 && maxdel > 0 && maxdel > now_ms - retention_ms + 3600000) {
        char t[32];
        sc_format_time_ms(maxdel, t, sizeof(t));
        snprintf(out->problem, sizeof(out->problem),
                 "a record written at %s, younger than the retention period, was deleted from the "
                 "log",
                 t);
    }

    snprintf(start, sizeof(start), "%lld", (long long)since_ms);
    for (;;) {
        redisReply *r = store_redis_cmd(c, err, errlen, "XRANGE sc:log %s + COUNT 1000", start);
        size_t n;
        if (r == NULL)
            goto done;
        n = r->elements;
        for (size_t i = 0; i < n; i++) {
            const redisReply *e = r->element[i], *kv = e->element[1];
            const char *names[64], *vals[64];
            size_t lens[64];
            const char *w = NULL, *seq = NULL, *prev = NULL, *mac = NULL;
            char want[65];
            int nf = 0;
            struct vrec rec;

            memset(&rec, 0, sizeof(rec));
            sc_strlcpy(rec.id, e->element[0]->str, sizeof(rec.id));
            for (size_t k = 0; k + 1 < kv->elements && nf < 64; k += 2) {
                const char *name = kv->element[k]->str;
                if (strcmp(name, "mac") == 0) {
                    mac = kv->element[k + 1]->str;
                    continue;
                }
                if (strcmp(name, "w") == 0)
                    w = kv->element[k + 1]->str;
                else if (strcmp(name, "seq") == 0)
                    seq = kv->element[k + 1]->str;
                else if (strcmp(name, "prev") == 0)
                    prev = kv->element[k + 1]->str;
                names[nf] = name;
                vals[nf] = kv->element[k + 1]->str;
                lens[nf++] = kv->element[k + 1]->len;
            }
            out->records++;
            if (w == NULL || seq == NULL || prev == NULL || mac == NULL) {
                if (out->problem[0] == '\0')
                    snprintf(out->problem, sizeof(out->problem),
                             "record %s is not a sendcap record (no writer chain): inserted",
                             rec.id);
                continue;
            }
            store_audit_mac(key, prev, nf, names, vals, lens, want);
            if (strcmp(want, mac) != 0) {
                if (out->problem[0] == '\0')
                    snprintf(out->problem, sizeof(out->problem),
                             "record %s (writer %s, seq %s) does not match its MAC: modified or "
                             "forged",
                             rec.id, w, seq);
                continue;
            }
            rec.seq = strtoull(seq, NULL, 10);
            rec.genesis = strcmp(prev, "genesis") == 0;
            if (!rec.genesis)
                unhex(prev, rec.prev);
            unhex(mac, rec.mac);
            {
                size_t k;
                for (k = 0; k < nw && strcmp(writers[k], w) != 0; k++)
                    ;
                if (k == nw) {
                    char **nwp = realloc(writers, (nw + 1) * sizeof(*nwp));
                    if (nwp == NULL)
                        goto oom;
                    writers = nwp;
                    writers[nw++] = strdup(w);
                }
                rec.writer = (unsigned)k;
            }
            if (nv == capv) {
                size_t cap = capv ? capv * 2 : 4096;
                struct vrec *nvp = realloc(v, cap * sizeof(*nvp));
                if (nvp == NULL)
                    goto oom;
                v = nvp;
                capv = cap;
            }
            v[nv++] = rec;
        }
        if (n > 0)
            snprintf(start, sizeof(start), "(%s", r->element[n - 1]->element[0]->str);
        freeReplyObject(r);
        if (n < 1000)
            break;
    }
    out->writers = (long)nw;
    if (nv > 1)
        qsort(v, nv, sizeof(v[0]), cmp_vrec);
    for (size_t i = 0; i < nv && out->problem[0] == '\0'; i++) {
        const struct vrec *cur = &v[i];
        const struct vrec *p = (i > 0 && v[i - 1].writer == cur->writer) ? &v[i - 1] : NULL;

        if (p == NULL) {
            /* The first record of a writer in range. */
            if (since_ms == 0 && cur->seq != 1 && added == length)
                snprintf(out->problem, sizeof(out->problem),
                         "records 1 to %llu of writer %s are missing: deleted (nothing was ever "
                         "trimmed from this log)",
                         cur->seq - 1, writers[cur->writer]);
            else if (cur->seq == 1 && !cur->genesis)
                snprintf(out->problem, sizeof(out->problem),
                         "record %s claims to start writer %s's chain but does not: inserted",
                         cur->id, writers[cur->writer]);
            continue;
        }
        if (cur->seq == p->seq)
            snprintf(out->problem, sizeof(out->problem),
                     "records %s and %s of writer %s share seq %llu: one was inserted", p->id,
                     cur->id, writers[cur->writer], cur->seq);
        else if (cur->seq != p->seq + 1)
            snprintf(out->problem, sizeof(out->problem),
                     "records %llu to %llu of writer %s (between %s and %s) are missing: deleted",
                     p->seq + 1, cur->seq - 1, writers[cur->writer], p->id, cur->id);
        else if (cur->genesis || memcmp(cur->prev, p->mac, 32) != 0)
            snprintf(out->problem, sizeof(out->problem),
                     "record %s (writer %s, seq %llu) does not follow record %s: the chain is "
                     "broken (replaced or reordered)",
                     cur->id, writers[cur->writer], cur->seq, p->id);
    }
    ret = 0;
    goto done;
oom:
    snprintf(err, errlen, "out of memory");
done:
    for (size_t k = 0; k < nw; k++)
        free(writers[k]);
    free(writers);
    free(v);
    store_secret_wipe(key, sizeof(key));
    return ret;
}
