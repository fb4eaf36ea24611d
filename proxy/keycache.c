/*
 * keycache.c - the daemon's copies of key records, by key hash.
 *
 * A chained hash table with a hard entry limit; when full, the bucket the
 * new entry lands in is emptied first (cheap, and good enough: a dropped
 * entry costs one extra Redis round trip on that key's next call).  Real
 * keys are wiped when an entry goes.
 */
#include <stdlib.h>
#include <string.h>

#include "common/limits.h"
#include "common/util.h"
#include "proxy.h"

#define NBUCKETS 4096

struct kc_node {
    struct kc_node *next;
    struct proxy_key_entry e;
};

struct proxy_keycache {
    struct kc_node *b[NBUCKETS];
    size_t n, max;
    struct proxy_key_refusal *neg; /* SC_KEY_NEG_CACHE_SLOTS, direct-mapped */
};

static unsigned
bucket(const char *hash)
{
    unsigned v = 0;

    for (int i = 0; i < 8 && hash[i]; i++)
        v = v * 16 + (unsigned)(hash[i] <= '9' ? hash[i] - '0' : hash[i] - 'a' + 10);
    return v % NBUCKETS;
}

static void
node_free(struct kc_node *n)
{
    if (n == NULL)
        return;
    free(n->e.id);
    free(n->e.family);
    free(n->e.agent_run_id);
    free(n->e.upstream);
    free(n->e.from_domains);
    free(n->e.to_domains);
    store_secret_free(n->e.real_key);
    store_secret_wipe(n, sizeof(*n));
    free(n);
}

struct proxy_keycache *
proxy_keycache_new(size_t max_entries)
{
    struct proxy_keycache *kc = calloc(1, sizeof(*kc));

    if (kc == NULL)
        return NULL;
    kc->max = max_entries;
    kc->neg = calloc(SC_KEY_NEG_CACHE_SLOTS, sizeof(*kc->neg));
    if (kc->neg == NULL) {
        free(kc);
        return NULL;
    }
    return kc;
}

/* ---- refusals ----
 * Keys Redis said are unknown, revoked or expired, remembered for
 * SC_KEY_NEG_CACHE_MS so that a caller repeating one is answered before its
 * body is read and without a Redis round trip each time.  Kept apart from
 * the records, in a fixed direct-mapped table: a flood of made-up keys
 * overwrites only other refusals, never a working key's record.  Only ever
 * used to refuse, so a stale slot can delay a key by at most its lifetime
 * (a key issued just after a caller tried it), never let one through. */

const struct proxy_key_refusal *
proxy_keycache_refusal(struct proxy_keycache *kc, const char *hash, int64_t now_ms)
{
    struct proxy_key_refusal *r = &kc->neg[bucket(hash) % SC_KEY_NEG_CACHE_SLOTS];

    if (r->kind == PROXY_KEY_LIVE || now_ms >= r->until_ms || strcmp(r->hash, hash) != 0)
        return NULL;
    return r;
}

void
proxy_keycache_refuse(struct proxy_keycache *kc, const char *hash, enum proxy_key_state kind,
                      const char *id, int64_t at_ms, int64_t now_ms)
{
    struct proxy_key_refusal *r = &kc->neg[bucket(hash) % SC_KEY_NEG_CACHE_SLOTS];

    memset(r, 0, sizeof(*r));
    sc_strlcpy(r->hash, hash, sizeof(r->hash));
    sc_strlcpy(r->id, id ? id : "", sizeof(r->id));
    r->kind = kind;
    r->at_ms = at_ms;
    r->until_ms = now_ms + SC_KEY_NEG_CACHE_MS;
}

void
proxy_keycache_free(struct proxy_keycache *kc)
{
    if (kc == NULL)
        return;
    for (int i = 0; i < NBUCKETS; i++) {
        while (kc->b[i] != NULL) {
            struct kc_node *n = kc->b[i];
            kc->b[i] = n->next;
            node_free(n);
        }
    }
    free(kc->neg);
    free(kc);
}

struct proxy_key_entry *
proxy_keycache_get(struct proxy_keycache *kc, const char *hash)
{
    for (struct kc_node *n = kc->b[bucket(hash)]; n != NULL; n = n->next)
        if (strcmp(n->e.hash, hash) == 0)
            return &n->e;
    return NULL;
}

void
proxy_keycache_drop(struct proxy_keycache *kc, const char *hash)
{
    struct kc_node **pp = &kc->b[bucket(hash)];

    for (; *pp != NULL; pp = &(*pp)->next) {
        if (strcmp((*pp)->e.hash, hash) == 0) {
            struct kc_node *n = *pp;
            *pp = n->next;
            node_free(n);
            kc->n--;
            return;
        }
    }
}

struct proxy_key_entry *
proxy_keycache_put(struct proxy_keycache *kc, const struct store_key *rec, const char *upver,
                   const char *real_key)
{
    struct kc_node *n;
    unsigned b = bucket(rec->hash);

    proxy_keycache_drop(kc, rec->hash);
    if (kc->n >= kc->max) {
        while (kc->b[b] != NULL) {
            struct kc_node *old = kc->b[b];
            kc->b[b] = old->next;
            node_free(old);
            kc->n--;
        }
    }
    n = calloc(1, sizeof(*n));
    if (n == NULL)
        return NULL;
    memcpy(n->e.hash, rec->hash, sizeof(n->e.hash));
    n->e.id = strdup(rec->id);
    n->e.family = strdup(rec->family);
    n->e.agent_run_id = strdup(rec->agent_run_id);
    n->e.upstream = strdup(rec->upstream);
    n->e.from_domains = strdup(rec->from_domains);
    n->e.to_domains = strdup(rec->to_domains);
    n->e.real_key = strdup(real_key);
    n->e.scope = strcmp(rec->scope, "full") == 0 ? POLICY_SCOPE_FULL : POLICY_SCOPE_SENDING;
    n->e.daily_cap = rec->daily_cap;
    n->e.per_recipient_cap = rec->per_recipient_cap;
    n->e.dedupe_window_ms = rec->dedupe_window_ms;
    n->e.holds = strcmp(rec->oversight, "gated") == 0                  ? PROXY_HOLD_ALL
                 : strcmp(rec->oversight, "gated-new-recipients") == 0 ? PROXY_HOLD_NEW
                                                                       : PROXY_HOLD_NONE;
    memcpy(n->e.gen, rec->gen, sizeof(n->e.gen));
    if (store_call_key_view(rec, n->e.view, sizeof(n->e.view)) != 0)
        n->e.view[0] = '\0';
    memcpy(n->e.upver, upver, strlen(upver) < sizeof(n->e.upver) ? strlen(upver) + 1 : 1);
    if (n->e.id == NULL || n->e.family == NULL || n->e.agent_run_id == NULL ||
        n->e.upstream == NULL || n->e.from_domains == NULL || n->e.to_domains == NULL ||
        n->e.real_key == NULL) {
        node_free(n);
        return NULL;
    }
    n->next = kc->b[b];
    kc->b[b] = n;
    kc->n++;
    return &n->e;
}
