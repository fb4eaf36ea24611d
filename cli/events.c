/*
 * events.c - `sendcap event list`, and `key show`'s recent events (SPEC
 * §6): what happened to which key, and where each delivery stands.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/limits.h"
#include "common/util.h"
#include "store/event_read.h"

static const char usage[] =
    "usage: sendcap event list [--since T] [--type TYPE] [--key KEY_ID] [--json]\n"
    "\n"
    "Events of the last 30 days, oldest first (the newest 1000 that match), each\n"
    "with its deliveries: per webhook (wh_...) or owner notice, the state\n"
    "(pending, delivered, failed), the attempts, and the next attempt (pending)\n"
    "or the last answer's status.  T is RFC 3339 or a DURATION (that long ago).\n";

/* One delivery for people: "wh_x pending 2 tries, next 2026-...Z, last 503". */
static void
delivery_text(const struct store_event_target *t, char *buf, size_t len)
{
    char when[32], st[16] = "none";

    if (t->bad) {
        snprintf(buf, len, "%s (unreadable state)", t->target);
        return;
    }
    if (t->d.last_status > 0)
        snprintf(st, sizeof(st), "%d", t->d.last_status);
    if (t->d.status == STORE_DELIVERY_PENDING)
        snprintf(buf, len, "%s pending %d tries, next %s, last %s", t->target, t->d.attempts,
                 cli_time(t->d.next_at, when, sizeof(when)), st);
    else
        snprintf(buf, len, "%s %s %d tries, last %s at %s", t->target,
                 store_delivery_name(t->d.status), t->d.attempts, st,
                 cli_time(t->d.last_at, when, sizeof(when)));
}

/* A time as RFC 3339 JSON, or null for 0 (none). */
static json_t *
time_json(int64_t ms)
{
    char b[40];

    if (ms <= 0)
        return json_null();
    sc_format_time_ms(ms, b, sizeof(b));
    return json_string(b);
}

static json_t *
event_json(const struct store_event *ev, const struct store_event_target *t, size_t nt)
{
    json_t *dl = json_array(), *data = json_loads(ev->data, 0, NULL);

    for (size_t i = 0; i < nt; i++) {
        const struct store_delivery *d = &t[i].d;
        json_t *o = json_object();

        json_object_set_new(o, "target", json_string(t[i].target));
        json_object_set_new(o, "state",
                            json_string(t[i].bad ? "unknown" : store_delivery_name(d->status)));
        json_object_set_new(o, "attempts", json_integer(d->attempts));
        json_object_set_new(o, "next_at",
                            time_json(d->status == STORE_DELIVERY_PENDING ? d->next_at : 0));
        json_object_set_new(o, "last_status",
                            d->last_status > 0 ? json_integer(d->last_status) : json_null());
        json_object_set_new(o, "last_at", time_json(d->last_at));
        json_object_set_new(o, "first_at", time_json(d->first_at));
        json_array_append_new(dl, o);
    }
    return json_pack("{s:s, s:s, s:o, s:s?, s:s?, s:o, s:o}", "id", ev->id, "type", ev->type,
                     "created_at", time_json(ev->at), "key", ev->key[0] ? ev->key : NULL, "family",
                     ev->family[0] ? ev->family : NULL, "data", data ? data : json_object(),
                     "deliveries", dl);
}

/* Table cells of one event: time, type, key, summary, deliveries. */
static void
event_cells(const struct store_event *ev, const struct store_event_target *t, size_t nt,
            char when[32], char summary[256], char *dl, size_t dlen)
{
    size_t o = 0;

    cli_time(ev->at, when, 32);
    store_event_summary(ev->type, ev->data, summary, 256);
    dl[0] = '\0';
    for (size_t i = 0; i < nt && o + 1 < dlen; i++) {
        char one[200];

        delivery_text(&t[i], one, sizeof(one));
        o += (size_t)snprintf(dl + o, dlen - o, "%s%s", i ? "; " : "", one);
    }
    if (nt == 0)
        sc_strlcpy(dl, "-", dlen);
}

struct out {
    struct cli_table *t; /* NULL: --json (or list != NULL) */
    json_t *list;        /* key show --json */
    int text_lines;      /* key show, text */
    size_t rows;
};

static void
row(const struct store_event *ev, const struct store_event_target *t, size_t nt, void *arg)
{
    struct out *o = arg;
    char when[32], summary[256], dl[1024];

    o->rows++;
    if (o->list != NULL) {
        json_array_append_new(o->list, event_json(ev, t, nt));
        return;
    }
    if (o->t == NULL && !o->text_lines) {
        cli_print_json(event_json(ev, t, nt));
        return;
    }
    event_cells(ev, t, nt, when, summary, dl, sizeof(dl));
    if (o->text_lines) {
        printf("  %s  %s  %s  [%s]\n", when, ev->type, summary, dl);
        return;
    }
    const char *cells[] = {when, ev->type, ev->key[0] ? ev->key : "-", summary, dl};
    cli_table_row(o->t, cells);
}

static int
list(struct cli *cli, int argc, char **argv)
{
    static const char *const hdr[] = {"TIME", "TYPE", "KEY", "SUMMARY", "DELIVERIES"};
    struct store_event_query q = {.limit = SC_EVENT_LIST_MAX};
    struct cli_once once = {0};
    struct out o = {0};
    const char *since = NULL;
    char err[512];
    int json = 0, more = 0;
    int64_t now;

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--json") == 0) {
            json = 1;
            continue;
        }
        if (v == NULL ||
            (strcmp(a, "--since") != 0 && strcmp(a, "--type") != 0 && strcmp(a, "--key") != 0))
            return cli_fail(CLI_USAGE, "unexpected or incomplete argument '%s'\n%s", a, usage);
        if (cli_once(&once, a) != 0)
            return CLI_USAGE;
        i++;
        if (a[2] == 's')
            since = v;
        else if (a[2] == 't')
            q.type = v;
        else
            q.key_id = v;
    }
    if (cli_conn(cli) == NULL)
        return CLI_ERR;
    if (store_redis_time(cli->conn, &now, err, sizeof(err)) != 0)
        return cli_fail(CLI_ERR, "%s", err);
    if (since && cli_parse_t(since, now, &q.since_ms) != 0)
        return cli_fail(CLI_USAGE, "--since: expected RFC 3339 or a duration, got '%s'", since);
    if (!json)
        o.t = cli_table_new(5, hdr);
    if (store_events_query(cli->conn, &q, row, &o, &more, err, sizeof(err)) != 0) {
        cli_table_free(o.t);
        return cli_fail(CLI_ERR, "%s", err);
    }
    if (o.t != NULL) {
        cli_table_print(o.t);
        cli_table_free(o.t);
    }
    if (more)
        fprintf(stderr,
                "sendcap: only the newest %d matching events are shown; narrow with "
                "--since, --type or --key\n",
                SC_EVENT_LIST_MAX);
    return CLI_OK;
}

int
cli_key_events(struct cli *cli, const char *key_id, json_t *list_out)
{
    struct store_event_query q = {.key_id = key_id, .limit = SC_EVENT_SHOW_MAX};
    struct out o = {.list = list_out, .text_lines = list_out == NULL};
    char err[512];
    int more;

    if (list_out == NULL)
        printf("recent events:\n");
    if (store_events_query(cli->conn, &q, row, &o, &more, err, sizeof(err)) != 0)
        return cli_fail(CLI_ERR, "%s", err);
    if (list_out == NULL && o.rows == 0)
        printf("  none\n");
    return CLI_OK;
}

int
cli_cmd_event(struct cli *cli, int argc, char **argv)
{
    static const struct cli_sub subs[] = {{"list", list}, {NULL, NULL}};

    return cli_dispatch(cli, "event", usage, subs, argc, argv);
}
