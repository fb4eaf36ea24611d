/*
 * events.c - the C side of the event schema (events.h): delivery states
 * and the body a webhook receives.
 */
#include "events.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/util.h"

static const char *const delivery_names[] = {
    [STORE_DELIVERY_PENDING] = "pending",
    [STORE_DELIVERY_DELIVERED] = "delivered",
    [STORE_DELIVERY_FAILED] = "failed",
};

const char *
store_delivery_name(enum store_delivery_status s)
{
    if ((unsigned)s >= sizeof(delivery_names) / sizeof(delivery_names[0]))
        return "unknown";
    return delivery_names[s];
}

/* One decimal field of a state ending at '|' or NUL; advances *p past it. */
static int
field_i64(const char **p, int64_t *out)
{
    const char *s = *p;
    int64_t v = 0;

    if (*s == '|' || *s == '\0') {
        *out = 0; /* an empty field: none */
    } else {
        for (; *s >= '0' && *s <= '9'; s++) {
            if (v > (INT64_MAX - 9) / 10)
                return -1;
            v = v * 10 + (*s - '0');
        }
        *out = v;
    }
    if (*s == '|')
        s++;
    else if (*s != '\0')
        return -1;
    *p = s;
    return 0;
}

int
store_delivery_parse(const char *s, struct store_delivery *out)
{
    const char *bar = strchr(s, '|');
    int64_t attempts, status;

    memset(out, 0, sizeof(*out));
    int bars = 0;
    for (const char *q = s; *q; q++)
        bars += *q == '|';
    if (bar == NULL || bars != 5)
        return -1;
    size_t n = (size_t)(bar - s);
    int found = 0;
    for (size_t i = 0; i < sizeof(delivery_names) / sizeof(delivery_names[0]); i++) {
        if (strlen(delivery_names[i]) == n && memcmp(s, delivery_names[i], n) == 0) {
            out->status = (enum store_delivery_status)i;
            found = 1;
        }
    }
    if (!found)
        return -1;
    s = bar + 1;
    if (field_i64(&s, &attempts) != 0 || field_i64(&s, &out->next_at) != 0 ||
        field_i64(&s, &status) != 0 || field_i64(&s, &out->last_at) != 0 ||
        field_i64(&s, &out->first_at) != 0 || *s != '\0')
        return -1;
    if (attempts > 1000000 || status > 999)
        return -1;
    out->attempts = (int)attempts;
    out->last_status = (int)status;
    return 0;
}

int
store_delivery_format(const struct store_delivery *d, char *buf, size_t len)
{
    char st[12] = "";

    if (d->last_status > 0)
        snprintf(st, sizeof(st), "%d", d->last_status);
    int n = snprintf(buf, len, "%s|%d|%" PRId64 "|%s|%" PRId64 "|%" PRId64,
                     store_delivery_name(d->status), d->attempts, d->next_at, st, d->last_at,
                     d->first_at);
    if (n < 0 || (size_t)n >= len)
        return -1;
    return n;
}

char *
store_event_body(const struct store_event *ev)
{
    char when[40];
    json_error_t jerr;
    json_t *data = json_loads(ev->data ? ev->data : "", JSON_REJECT_DUPLICATES, &jerr);

    if (data == NULL || !json_is_object(data)) {
        json_decref(data);
        return NULL;
    }
    sc_format_time_ms(ev->at, when, sizeof(when));
    json_t *o = json_pack("{s:s, s:s, s:o}", "type", ev->type, "created_at", when, "data", data);
    if (o == NULL)
        return NULL;
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

void
store_event_clear(struct store_event *ev)
{
    free(ev->data);
    ev->data = NULL;
}
