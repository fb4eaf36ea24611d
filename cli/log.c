/*
 * log.c - `sendcap log query|tail|verify`: the auditor's view of the call
 * log (store/audit.h).
 *
 * Rows come out oldest first ("newest last"); --limit keeps the newest N.
 * A call whose final record never arrived (the daemon died mid-send) shows
 * its intent with outcome "unknown".  Formats: an aligned table for people,
 * JSON (one object per line) and CSV with a header row.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/limits.h"
#include "common/util.h"
#include "store/audit.h"
#include "store/keys.h"

static const char usage[] =
    "usage: sendcap log query [--key KEY_ID] [--agent-run-id ID] [--since T] [--until T]\n"
    "                         [--decision allowed|denied|error] [--limit N]\n"
    "                         [--format table|json|csv]\n"
    "       sendcap log tail  [the same filters and --format, but --admin]\n"
    "       sendcap log query --admin [--since T] [--until T] [--limit N] [--format F]\n"
    "       sendcap log verify [--since T]\n"
    "\n"
    "T is RFC 3339 (2026-11-23T13:00:00Z) or a duration meaning that long ago (15m, 2h, 7d).\n"
    "query prints the newest N matching calls (default 1000), oldest first.\n"
    "query --admin prints the admin trail: every change made with this CLI, its actor\n"
    "and the changed fields' old and new values.\n"
    "verify checks every writer's MAC chain, and the admin trail's, and exits 1 at the\n"
    "first modified, deleted, inserted or reordered record.\n";

struct out {
    enum cli_format fmt;
    struct cli_table *t;
    long rows;
};

static const char *const table_hdr[12] = {"TIME",   "REQUEST",  "KEY",      "RUN",
                                          "ROUTE",  "RCPT",     "DECISION", "REASON",
                                          "STATUS", "UPSTREAM", "TO",       "EMAIL IDS"};

static void
time_text(const char *ms, char *buf, size_t len)
{
    int64_t t = 0;

    if (sc_parse_i64(ms, 0, INT64_MAX, &t) != 0 || t == 0) {
        sc_strlcpy(buf, "", len);
        return;
    }
    sc_format_time_ms(t, buf, len);
}

static json_t *
list_json(const char *s)
{
    json_t *a = json_array();

    while (s && *s) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        json_array_append_new(a, json_stringn(s, n));
        s += n + (e ? 1 : 0);
    }
    return a;
}

static json_t *
num_or_null(const char *s)
{
    int64_t v;

    if (s[0] == '\0' || sc_parse_i64(s, INT64_MIN, INT64_MAX, &v) != 0)
        return json_null();
    return json_integer(v);
}

static void
print_row(const struct store_audit_row *r, void *arg)
{
    struct out *o = arg;
    char t[40];

    o->rows++;
    time_text(r->v[STORE_AUDIT_TIME], t, sizeof(t));
    if (o->fmt == CLI_FMT_JSON) {
        json_t *j = json_object();
        for (int f = 0; f < STORE_AUDIT_NFIELDS; f++) {
            const char *name = store_audit_fields[f];
            if (f == STORE_AUDIT_TIME)
                json_object_set_new(j, name, json_string(t));
            else if (f == STORE_AUDIT_RECIPIENTS || f == STORE_AUDIT_STATUS ||
                     f == STORE_AUDIT_UPSTREAM_STATUS || f == STORE_AUDIT_LATENCY_MS ||
                     f == STORE_AUDIT_UPSTREAM_LATENCY_MS || f == STORE_AUDIT_COUNT)
                json_object_set_new(j, name, num_or_null(r->v[f]));
            else if (f == STORE_AUDIT_RECIPIENT_DOMAINS || f == STORE_AUDIT_RECIPIENT_ADDRESSES ||
                     f == STORE_AUDIT_EMAIL_IDS)
                json_object_set_new(j, name, list_json(r->v[f]));
            else if (f == STORE_AUDIT_CLIENT_GONE)
                json_object_set_new(j, name, json_boolean(r->v[f][0] == '1'));
            else
                json_object_set_new(j, name, json_string(r->v[f]));
        }
        json_object_set_new(j, "outcome", json_string(r->unknown_outcome ? "unknown" : "known"));
        cli_print_json(j);
    } else if (o->fmt == CLI_FMT_CSV) {
        for (int f = 0; f < STORE_AUDIT_NFIELDS; f++) {
            if (f == STORE_AUDIT_TIME) {
                cli_csv_field(t, 0);
            } else if (f == STORE_AUDIT_RECIPIENT_DOMAINS || f == STORE_AUDIT_RECIPIENT_ADDRESSES ||
                       f == STORE_AUDIT_EMAIL_IDS) {
                char *v = strdup(r->v[f]);
                for (char *p = v; p && *p; p++)
                    if (*p == ',')
                        *p = ';';
                cli_csv_field(v ? v : "", 0);
                free(v);
            } else {
                cli_csv_field(r->v[f], 0);
            }
        }
        cli_csv_field(r->unknown_outcome ? "unknown" : "known", 1);
    } else {
        const char *cells[12] = {t,
                                 r->v[STORE_AUDIT_REQUEST_ID],
                                 r->v[STORE_AUDIT_KEY_ID],
                                 r->v[STORE_AUDIT_AGENT_RUN_ID],
                                 r->v[STORE_AUDIT_ROUTE],
                                 r->v[STORE_AUDIT_RECIPIENTS],
                                 r->v[STORE_AUDIT_DECISION],
                                 r->unknown_outcome ? "outcome_unknown" : r->v[STORE_AUDIT_REASON],
                                 r->unknown_outcome ? "?" : r->v[STORE_AUDIT_STATUS],
                                 r->v[STORE_AUDIT_UPSTREAM_STATUS],
                                 r->v[STORE_AUDIT_RECIPIENT_DOMAINS],
                                 r->v[STORE_AUDIT_EMAIL_IDS]};
        cli_table_row(o->t, cells);
    }
    if (o->fmt != CLI_FMT_TABLE)
        fflush(stdout);
}

static void
csv_header(void)
{
    for (int f = 0; f < STORE_AUDIT_NFIELDS; f++)
        cli_csv_field(store_audit_fields[f], 0);
    cli_csv_field("outcome", 1);
}

int
cli_parse_t(const char *s, int64_t now, int64_t *out)
{
    int64_t d;

    if (sc_parse_rfc3339_ms(s, out) == 0)
        return 0;
    if (sc_parse_duration_ms(s, &d) == 0) {
        *out = now - d;
        return 0;
    }
    return -1;
}

static volatile int stop;

static void
on_sigint(int sig)
{
    (void)sig;
    stop = 1;
}

static int
query_or_tail(struct cli *cli, int argc, char **argv, int tail)
{
    struct store_audit_query q;
    struct out o = {CLI_FMT_TABLE, NULL, 0};
    const char *since = NULL, *until = NULL;
    char err[512];
    int64_t now, n;
    int ret = CLI_OK, r;
    struct cli_once once = {{NULL}, 0};

    memset(&q, 0, sizeof(q));
    q.limit = 1000;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL)
            return cli_fail(CLI_USAGE, "'%s' needs a value\n%s", a, usage);
        i++;
        if (cli_once(&once, a) != 0)
            return CLI_USAGE;
        if (strcmp(a, "--key") == 0)
            q.key_id = v;
        else if (strcmp(a, "--agent-run-id") == 0)
            q.agent_run_id = v;
        else if (strcmp(a, "--since") == 0)
            since = v;
        else if (strcmp(a, "--until") == 0)
            until = v;
        else if (strcmp(a, "--decision") == 0) {
            if (strcmp(v, "allowed") && strcmp(v, "denied") && strcmp(v, "error"))
                return cli_fail(CLI_USAGE, "--decision must be allowed, denied or error");
            q.decision = v;
        } else if (strcmp(a, "--limit") == 0) {
            if (sc_parse_i64(v, 1, 10000000, &n) != 0)
                return cli_fail(CLI_USAGE, "--limit: expected a positive number, got '%s'", v);
            q.limit = (long)n;
        } else if (strcmp(a, "--format") == 0) {
            if (cli_format_parse(v, &o.fmt) != 0)
                return CLI_USAGE;
        } else {
            return cli_fail(CLI_USAGE, "unknown option '%s'\n%s", a, usage);
        }
    }
    if (cli_conn(cli) == NULL)
        return CLI_ERR;
    if (store_redis_time(cli->conn, &now, err, sizeof(err)) != 0)
        return cli_fail(CLI_ERR, "%s", err);
    if (since && cli_parse_t(since, now, &q.since_ms) != 0)
        return cli_fail(CLI_USAGE, "--since: expected RFC 3339 or a duration, got '%s'", since);
    if (until && cli_parse_t(until, now, &q.until_ms) != 0)
        return cli_fail(CLI_USAGE, "--until: expected RFC 3339 or a duration, got '%s'", until);
    /* The store reads until_ms 0 as "no --until", so an --until at the epoch
     * returned every row: at or before the epoch, no record is that old.
     * (A --since at or before it means every record, as 0 does.) */
    if (until && q.until_ms <= 0)
        q.until_ms = -1;
    if (o.fmt == CLI_FMT_CSV)
        csv_header();
    if (tail) {
        if (o.fmt == CLI_FMT_TABLE) /* a table cannot be aligned while it grows */
            o.fmt = CLI_FMT_JSON;
        signal(SIGINT, on_sigint);
        signal(SIGTERM, on_sigint);
        if (store_audit_tail(cli->conn, &q, print_row, &o, &stop, err, sizeof(err)) != 0)
            return cli_fail(CLI_ERR, "%s", err);
        return CLI_OK;
    }
    if (o.fmt == CLI_FMT_TABLE)
        o.t = cli_table_new(12, table_hdr);
    cli_progress_start("reading the call log");
    r = store_audit_query(cli->conn, &q, print_row, &o, err, sizeof(err));
    cli_progress_end();
    if (r != 0)
        ret = cli_fail(CLI_ERR, "%s", err);
    else if (o.t != NULL)
        cli_table_print(o.t);
    cli_table_free(o.t);
    return ret;
}

static int
verify(struct cli *cli, int argc, char **argv)
{
    unsigned char mk[SC_MASTER_KEY_LEN];
    struct store_audit_verify v;
    int64_t now, since = 0;
    char err[512];
    int r;
    struct cli_once once = {{NULL}, 0};

    if (store_secret_master_load(&cli->cfg, mk, err, sizeof(err)) != 0)
        return cli_fail(CLI_ERR, "%s", err);
    if (cli_conn(cli) == NULL)
        return CLI_ERR;
    if (store_redis_time(cli->conn, &now, err, sizeof(err)) != 0)
        return cli_fail(CLI_ERR, "%s", err);
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--since") == 0 && i + 1 < argc) {
            if (cli_once(&once, argv[i]) != 0)
                return CLI_USAGE;
            if (cli_parse_t(argv[++i], now, &since) != 0)
                return cli_fail(CLI_USAGE, "--since: expected RFC 3339 or a duration");
        } else {
            return cli_fail(CLI_USAGE, "unexpected argument '%s'\n%s", argv[i], usage);
        }
    }
    cli_progress_start("verifying the call log");
    r = store_audit_verify_log(cli->conn, mk, since, cli->cfg.log_retention_ms, now, &v, err,
                               sizeof(err));
    cli_progress_end();
    if (r != 0) {
        store_secret_wipe(mk, sizeof(mk));
        return cli_fail(CLI_ERR, "%s", err);
    }
    if (v.problem[0] != '\0')
        printf("FAILED after %ld records: %s\n", v.records, v.problem);
    else
        printf("verified %ld records from %ld writers: every chain is intact\n", v.records,
               v.writers);
    /* The admin trail is checked either way: both verdicts are printed. */
    r = cli_admin_verify(cli, mk, since);
    store_secret_wipe(mk, sizeof(mk));
    return v.problem[0] != '\0' ? CLI_ERR : r;
}

static int
query(struct cli *cli, int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--admin") == 0)
            return cli_admin_query(cli, argc, argv);
    return query_or_tail(cli, argc, argv, 0);
}

static int
tail(struct cli *cli, int argc, char **argv)
{
    return query_or_tail(cli, argc, argv, 1);
}

int
cli_cmd_log(struct cli *cli, int argc, char **argv)
{
    static const struct cli_sub subs[] = {
        {"query", query},
        {"tail", tail},
        {"verify", verify},
        {NULL, NULL},
    };

    return cli_dispatch(cli, "log", usage, subs, argc, argv);
}
