/*
 * events.h - events (SPEC §6): what they are in Redis, for the C side.
 *
 * Events are written only by Lua, by store/lua/lib/events.lua's sc_emit(),
 * in the same script as the change they report (call.lua for a send's
 * events, key_*.lua and upstream_rotate.lua for the CLI's), so an event
 * exists exactly when its cause does.  Schema (the Lua file says the same):
 *   sc:events          stream, one entry an event, trimmed to 30 days:
 *                      fields type, key (key id, "" for none), family, at
 *                      (Redis ms), data (JSON object; never a key value, a
 *                      real key or an email body)
 *   sc:webhooks        set of webhook ids; sc:wh:<id> hash: url, events
 *                      (comma-joined types, "" = all), key and family ("" =
 *                      every key), sealed (the signing secret), created_at
 *   sc:whq             zset "<event id>|<target>" scored by the Redis ms of
 *                      the next attempt (a lease: whoever takes a delivery
 *                      pushes its score past the attempt's deadline);
 *                      target: a webhook id, or "notice" (the owner's mail)
 *   sc:evs:<event id>  hash: per target, its delivery state (below)
 *   sc:notice          exists while a sendcapd that sends owner notices runs
 * The body delivered is {"type":…,"created_at":RFC 3339,"data":{…}}, and
 * the webhook-id of every attempt is "evt_" followed by the stream id.
 */
#ifndef SC_STORE_EVENTS_H
#define SC_STORE_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#define STORE_EVENT_KEEP_MS (30LL * 86400000) /* the stream's MINID trim */
#define STORE_EVENT_ID_MAX 48                 /* "<ms>-<seq>" and its NUL */
#define STORE_EVENT_TYPE_MAX 32

/* One entry of sc:events. */
struct store_event {
    char id[STORE_EVENT_ID_MAX];
    char type[STORE_EVENT_TYPE_MAX];
    char key[40];    /* key id, "" for none */
    char family[40]; /* "" for none */
    int64_t at;      /* Redis ms */
    char *data;      /* JSON object text; owned by the event */
};

/* The delivery state of one target, stored as
 * "<state>|<attempts>|<next_at>|<last_status>|<last_at>|<first_at>". */
enum store_delivery_status {
    STORE_DELIVERY_PENDING = 0,
    STORE_DELIVERY_DELIVERED,
    STORE_DELIVERY_FAILED, /* gave up: 24 h of attempts */
};
struct store_delivery {
    enum store_delivery_status status;
    int attempts;
    int64_t next_at;  /* Redis ms of the next attempt (pending) */
    int last_status;  /* HTTP status of the last attempt, 0 = none or no answer */
    int64_t last_at;  /* Redis ms of the last attempt, 0 = none */
    int64_t first_at; /* when the delivery was queued */
};

/* Parse a stored state.  0 or -1. */
int store_delivery_parse(const char *s, struct store_delivery *out);

/* Format one ("pending|0|…") into buf.  Returns the length, or -1 if it
 * does not fit. */
int store_delivery_format(const struct store_delivery *d, char *buf, size_t len);

/* "pending", "delivered" or "failed". */
const char *store_delivery_name(enum store_delivery_status s);

/* The body a webhook receives for ev: a new string (caller frees), or NULL
 * when ev->data is not a JSON object. */
char *store_event_body(const struct store_event *ev);

/* Free what ev owns (its data). */
void store_event_clear(struct store_event *ev);

#endif
