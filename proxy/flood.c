/*
 * flood.c - the call records of callers without a known vault key, bounded
 * (SPEC §3).
 *
 * A caller with no key, or a malformed, unknown, revoked or expired one, is
 * refused before anything is forwarded, but each refusal is a call record in Redis, and a
 * record costs about 1.6 KB: 20,000 such requests a second would fill a
 * Redis with maxmemory and noeviction in minutes, and then every agent gets
 * 503.  So these records are written one by one only up to
 * SC_UNAUTH_RECORDS_PER_S a second per client address; past that, the
 * refusals of that second are counted and written as one summary record
 * (reason unauthenticated_flood, field count) when the second is over.
 *
 * Addresses are tracked in a fixed table (SC_UNAUTH_MAX_ADDRS): when it is
 * full, the addresses that do not fit share one bucket, recorded with the
 * client "*", so rotating addresses does not lift the bound either.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/limits.h"
#include "common/util.h"
#include "proxy.h"

struct flood_addr {
    struct flood_addr *next;
    int64_t second; /* the second these counts are of */
    long written;   /* records written one by one in it */
    long counted;   /* refusals past the bound, not yet summarised */
    int status;     /* the last refused call's status */
    char addr[64];
};

#define NBUCKETS 1024

struct proxy_flood {
    struct event *tick;
    struct flood_addr *b[NBUCKETS];
    struct flood_addr other; /* the addresses that did not fit */
    size_t n;
    proxy_flood_summary_fn *summary;
    void *arg;
};

/* "1.2.3.4:5678" -> "1.2.3.4"; "[::1]:5678" -> "::1". */
static void
host_of(const char *peer, char *out, size_t len)
{
    const char *colon = strrchr(peer, ':');
    size_t n = colon != NULL ? (size_t)(colon - peer) : strlen(peer);

    if (n >= 2 && peer[0] == '[' && peer[n - 1] == ']') {
        peer++;
        n -= 2;
    }
    if (n >= len)
        n = len - 1;
    memcpy(out, peer, n);
    out[n] = '\0';
}

static unsigned
hash(const char *s)
{
    unsigned h = 2166136261u;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % NBUCKETS;
}

static void
emit(struct proxy_flood *f, struct flood_addr *a)
{
    if (a->counted > 0)
        f->summary(a->addr, a->counted, a->status, f->arg);
    a->counted = 0;
}

/* Once a second: summarise the second that ended, forget quiet addresses. */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct proxy_flood *f = arg;
    int64_t now = sc_mono_ms() / 1000;

    (void)fd;
    (void)what;
    for (size_t i = 0; i < NBUCKETS; i++) {
        struct flood_addr **pp = &f->b[i], *a;
        while ((a = *pp) != NULL) {
            emit(f, a);
            if (a->second < now) { /* nothing this second: forget it */
                *pp = a->next;
                free(a);
                f->n--;
            } else {
                pp = &a->next;
            }
        }
    }
    emit(f, &f->other);
}

struct proxy_flood *
proxy_flood_new(struct event_base *base, proxy_flood_summary_fn *summary, void *arg)
{
    struct proxy_flood *f = calloc(1, sizeof(*f));
    struct timeval one = {1, 0};

    if (f == NULL)
        return NULL;
    f->summary = summary;
    f->arg = arg;
    sc_strlcpy(f->other.addr, "*", sizeof(f->other.addr));
    f->tick = event_new(base, -1, EV_PERSIST, tick_cb, f);
    if (f->tick == NULL || event_add(f->tick, &one) != 0) {
        proxy_flood_free(f);
        return NULL;
    }
    return f;
}

int
proxy_flood_admit(struct proxy_flood *f, const char *peer, int status)
{
    char host[64];
    unsigned h;
    struct flood_addr *a;
    int64_t now = sc_mono_ms() / 1000;

    host_of(peer, host, sizeof(host));
    h = hash(host);
    for (a = f->b[h]; a != NULL && strcmp(a->addr, host) != 0; a = a->next)
        ;
    if (a == NULL && f->n < SC_UNAUTH_MAX_ADDRS && (a = calloc(1, sizeof(*a))) != NULL) {
        sc_strlcpy(a->addr, host, sizeof(a->addr));
        a->next = f->b[h];
        f->b[h] = a;
        f->n++;
    }
    if (a == NULL)
        a = &f->other;
    if (a->second != now) {
        a->second = now;
        a->written = 0;
    }
    a->status = status;
    if (a->written < SC_UNAUTH_RECORDS_PER_S) {
        a->written++;
        return 1;
    }
    a->counted++;
    return 0;
}

void
proxy_flood_free(struct proxy_flood *f)
{
    if (f == NULL)
        return;
    if (f->tick != NULL) {
        event_free(f->tick);
        f->tick = NULL;
    }
    for (size_t i = 0; i < NBUCKETS; i++) {
        struct flood_addr *a, *next;
        for (a = f->b[i]; a != NULL; a = next) {
            next = a->next;
            emit(f, a); /* what the last second counted is not lost */
            free(a);
        }
    }
    emit(f, &f->other);
    free(f);
}
