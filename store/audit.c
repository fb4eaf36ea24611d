/*
 * audit.c - writing the call log: records, their packed form, each writer's
 * MAC chain, and the daemon's async queue to Redis (never blocks the loop).
 * Reading and verifying are store/audit_read.c.  See audit.h for the
 * storage layout and the chain.
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

#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"

/* clang-format off */
const char *const store_audit_fields[STORE_AUDIT_NFIELDS] = {
    "time", "request_id", "key_id", "agent_run_id", "claimed_agent_run_id", "method", "path",
    "route", "recipients", "from_domain", "recipient_domains", "recipient_addresses", "decision",
    "reason", "status", "upstream_status", "email_ids", "latency_ms", "upstream_latency_ms",
    "client", "user_agent", "client_gone", "count",
};
/* clang-format on */

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
    int nf = STORE_AUDIT_NREQUIRED;
    char *out, *o;

    for (int i = 0; i < STORE_AUDIT_NFIELDS; i++)
        total += (r->v[i] ? strlen(r->v[i]) : 0) + 24;
    if ((out = malloc(total)) == NULL)
        return NULL;
    /* optional fields only up to the last non-empty one */
    for (int i = STORE_AUDIT_NREQUIRED; i < STORE_AUDIT_NFIELDS; i++)
        if (r->v[i] && *r->v[i])
            nf = i + 1;
    memcpy(out, "v1", 2);
    o = out + 2;
    for (int i = 0; i < nf; i++) {
        const char *v = r->v[i] ? r->v[i] : "";
        size_t n = strlen(v);
        o = sc_put_u64(o, n);
        *o++ = ':';
        memcpy(o, v, n);
        o += n;
    }
    *o = '\0';
    return out;
}

void
store_audit_key(const unsigned char mk[SC_MASTER_KEY_LEN], unsigned char out[32])
{
    static const char label[] = "sendcap/v1/audit";
    unsigned int n = 32;

    HMAC(EVP_sha256(), mk, SC_MASTER_KEY_LEN, (const unsigned char *)label, sizeof(label) - 1, out,
         &n);
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
    long lost;             /* records not queued because the queue was full */
    struct event *kick;    /* sends the records of one loop turn, see kick_cb */
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

/* One log_write.lua call: the records that finished in one loop turn. */
struct batch {
    struct store_audit_log *log;
    int n;
    struct qrec *q[SC_LOG_BATCH_MAX];
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
        for (; q != NULL && b->n < SC_LOG_BATCH_MAX; q = q->next) {
            if (q->sent)
                continue;
            if (argc + q->argc - 1 > STORE_REDIS_MAX_ARGS)
                break;
            for (int i = 1; i < q->argc; i++)
                argv[argc++] = q->argv[i];
            b->q[b->n++] = q;
        }
        if (b->n == 0 || store_redis_async_eval(l->as, STORE_SCRIPT_LOG_WRITE, 1, argc, argv, NULL,
                                                written, b, &errstr) != 0) {
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

/*
 * The usage token of log_write.lua (+32+m; README "Usage"): what the record
 * adds to its UTC hour's counts, or "" for a record no usage counts (an
 * audit.lost notice, a reason that is not one plain word).  Emails sent are
 * what the send's counter kept: reserved (its recipients; none on a replay,
 * which reserved nothing) less the refund.
 */
static void
usage_token(const struct store_audit_chain *ch, const struct store_audit_rec *rec,
            const struct store_audit_settle *st, char *out, size_t len)
{
    const char *dec = rec->v[STORE_AUDIT_DECISION], *why = rec->v[STORE_AUDIT_REASON];
    int64_t t = 0, calls = 1, sent = 0, at = 0;

    out[0] = '\0';
    if (dec[0] == '\0' || why[0] == '\0' ||
        strspn(dec, "abcdefghijklmnopqrstuvwxyz") != strlen(dec) ||
        strspn(why, "abcdefghijklmnopqrstuvwxyz_") != strlen(why) ||
        sc_parse_i64(rec->v[STORE_AUDIT_TIME], 0, INT64_MAX, &t) != 0)
        return;
    if (rec->v[STORE_AUDIT_COUNT][0] != '\0' &&
        sc_parse_i64(rec->v[STORE_AUDIT_COUNT], 1, INT64_MAX, &calls) != 0)
        return;
    if (strcmp(dec, "allowed") == 0 && st != NULL && st->counter_key != NULL &&
        st->counter_key[0] != '\0' &&
        sc_parse_i64(rec->v[STORE_AUDIT_RECIPIENTS], 0, INT64_MAX, &sent) == 0)
        sent = sent > st->refund ? sent - st->refund : 0;
    if (ch->retention_ms > 0) /* kept as long as the records they count */
        at = (t / 3600000 + 1) * 3600 + (ch->retention_ms + 999) / 1000;
    snprintf(out, len, "%lld %lld %lld %s:%s", (long long)calls, (long long)sent, (long long)at,
             dec, why);
}

char **
store_audit_chain_seal(struct store_audit_chain *ch, struct store_audit_rec *rec,
                       const char *intent, const struct store_audit_settle *st, int *argcp)
{
    const char *names[1 + NCHAIN];
    const char *vals[1 + NCHAIN];
    char seq[24], mac[65], cutoff[24], refund[24], ttl[24], nids[24], usage[160];
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

    usage_token(ch, rec, st, usage, sizeof(usage));
    argc = 1 + 13 + (st ? (int)st->nids : 0) + 3 + 3 + 6 + 1;
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
    src[a++] = rec->v[STORE_AUDIT_KEY_ID];
    src[a++] = rec->v[STORE_AUDIT_AGENT_RUN_ID];
    src[a++] = rec->v[STORE_AUDIT_CLAIMED_RUN_ID];
    src[a++] = rec->v[STORE_AUDIT_TIME];
    src[a++] = sc_fmt_i64(refund, st ? st->refund : 0);
    src[a++] = st && st->counter_key ? st->counter_key : "";
    src[a++] = st && st->family ? st->family : "";
    src[a++] = sc_fmt_i64(ttl, st ? st->owner_ttl_s : 0);
    src[a++] = sc_fmt_i64(nids, st ? (int64_t)st->nids : 0);
    for (size_t i = 0; st && i < st->nids; i++)
        src[a++] = st->ids[i];
    /* r, prev and mac: the script names the fields and has w and seq. */
    src[a++] = packed;
    src[a++] = ch->prev;
    src[a++] = mac;
    src[a++] = st && st->idem_key ? st->idem_key : "";
    src[a++] = st && st->idem_value ? st->idem_value : "";
    src[a++] = st && st->idem_kept ? "1" : "0";
    src[a++] = st && st->monthly_key ? st->monthly_key : "";
    src[a++] = st && st->rcpt_prefix ? st->rcpt_prefix : "";
    src[a++] = st && st->rcpt_given ? st->rcpt_given : "";
    src[a++] = st && st->dedupe_prefix ? st->dedupe_prefix : "";
    src[a++] = st && st->dedupe_ops ? st->dedupe_ops : "";
    src[a++] = st && st->request_id ? st->request_id : "";
    src[a++] = usage;
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

    if (l->queued >= SC_LOG_QUEUE_MAX) {
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
        store_audit_set(&lost, STORE_AUDIT_TIME, t);
        store_audit_set(&lost, STORE_AUDIT_ROUTE, "audit.lost");
        store_audit_set(&lost, STORE_AUDIT_DECISION, "error");
        store_audit_setf(&lost, STORE_AUDIT_REASON, "audit_records_lost:%ld", l->lost);
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
