/*
 * usage.c - `sendcap usage`: emails sent, calls denied (by reason, caps
 * among them) and errors per hour or day, as a bar table, JSON or CSV.
 *
 * Read from the call log's per-hour counts (store_usage_hours: one HGETALL
 * per hour), never from the records, so a month costs 720 small reads
 * whatever the traffic.  Also the 24-hour sparkline of `key show`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "chart.h"
#include "cli.h"
#include "common/limits.h"
#include "common/util.h"
#include "store/keys.h"
#include "store/usage.h"

static const char usage[] =
    "usage: sendcap usage [--key KEY_ID] [--since T] [--by hour|day] [--format table|json|csv]\n"
    "                     [--ascii]\n"
    "\n"
    "Emails sent, calls denied (CAPPED: by a daily, monthly, per-recipient or rate cap) and\n"
    "errors per UTC hour (default, since 24h) or day (default since 30d), from the call log's\n"
    "per-hour counts; kept as long as the call log (--log-retention).  T is RFC 3339 or a\n"
    "duration meaning that long ago.  The table draws a bar of the emails sent per bucket in\n"
    "Unicode blocks, or '#' with --ascii or when the locale (LC_ALL, LC_CTYPE, LANG) is not\n"
    "UTF-8.\n";

struct bucket {
    int64_t start_ms;
    long long sent, allowed, denied, capped, errors;
    json_t *by_reason[2]; /* denied, error: {reason: calls} */
};

static int
is_cap(const char *reason)
{
    return strcmp(reason, "daily_cap") == 0 || strcmp(reason, "monthly_cap") == 0 ||
           strcmp(reason, "recipient_cap") == 0 || strcmp(reason, "rate_limit") == 0;
}

/* Add one hour's counts to its bucket. */
static void
add_hour(struct bucket *b, const struct store_usage_hour *h)
{
    b->sent += h->sent;
    for (int i = 0; i < h->n; i++) {
        const char *what = h->o[i].what, *reason = strchr(what, ':');
        int k = -1;
        if (reason == NULL)
            continue;
        reason++;
        if (strncmp(what, "allowed:", 8) == 0) {
            b->allowed += h->o[i].calls;
        } else if (strncmp(what, "denied:", 7) == 0) {
            b->denied += h->o[i].calls;
            if (is_cap(reason))
                b->capped += h->o[i].calls;
            k = 0;
        } else if (strncmp(what, "error:", 6) == 0) {
            b->errors += h->o[i].calls;
            k = 1;
        }
        if (k >= 0) {
            json_t *cur = json_object_get(b->by_reason[k], reason);
            json_object_set_new(b->by_reason[k], reason,
                                json_integer(h->o[i].calls + (cur ? json_integer_value(cur) : 0)));
        }
    }
}

/* The columns a table may use: the terminal's, else $COLUMNS, else 80. */
static int
term_width(void)
{
    struct winsize ws;
    const char *c = getenv("COLUMNS");
    int64_t v;

    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    if (c != NULL && sc_parse_i64(c, 1, 10000, &v) == 0)
        return (int)v;
    return 80;
}

static int
want_ascii(int flag)
{
    return flag || cli_chart_need_ascii(getenv("LC_ALL"), getenv("LC_CTYPE"), getenv("LANG"));
}

static void
label(int64_t ms, int by_day, char *buf, size_t len)
{
    char t[40];

    sc_format_time_ms(ms, t, sizeof(t)); /* 2026-11-23T13:00:00.000Z */
    if (by_day)
        snprintf(buf, len, "%.10s", t);
    else
        snprintf(buf, len, "%.10s %.5s", t, t + 11);
}

static void
reasons_csv(json_t *o)
{
    const char *k;
    json_t *v;
    int first = 1;

    json_object_foreach(o, k, v)
    {
        printf("%s%s=%lld", first ? "" : ";", k, (long long)json_integer_value(v));
        first = 0;
    }
}

static int
run(struct cli *cli, int argc, char **argv)
{
    const char *key = NULL, *since_arg = NULL;
    enum cli_format fmt = CLI_FMT_TABLE;
    int by_day = 0, ascii = 0, ret = CLI_OK;
    int64_t now, since, from_h, to_h, nh, nb, bucket_ms;
    struct store_usage_hour *hours = NULL;
    struct bucket *b = NULL;
    struct cli_once once = {{NULL}, 0};
    long long tot[4] = {0, 0, 0, 0};
    char err[512];

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--ascii") == 0) {
            ascii = 1;
            continue;
        }
        if (strcmp(a, "--key") && strcmp(a, "--since") && strcmp(a, "--by") &&
            strcmp(a, "--format"))
            return cli_fail(CLI_USAGE, "unknown option '%s'\n%s", a, usage);
        if (v == NULL)
            return cli_fail(CLI_USAGE, "'%s' needs a value\n%s", a, usage);
        if (cli_once(&once, a) != 0)
            return CLI_USAGE;
        i++;
        if (strcmp(a, "--key") == 0) {
            key = v;
        } else if (strcmp(a, "--since") == 0) {
            since_arg = v;
        } else if (strcmp(a, "--by") == 0) {
            if (strcmp(v, "hour") && strcmp(v, "day"))
                return cli_fail(CLI_USAGE, "--by must be hour or day");
            by_day = strcmp(v, "day") == 0;
        } else if (cli_format_parse(v, &fmt) != 0) {
            return CLI_USAGE;
        }
    }
    if (cli_conn(cli) == NULL)
        return CLI_ERR;
    if (store_redis_time(cli->conn, &now, err, sizeof(err)) != 0)
        return cli_fail(CLI_ERR, "%s", err);
    if (since_arg == NULL) {
        since = now - (by_day ? 29 * 86400000LL : 23 * 3600000LL);
    } else {
        int64_t d;
        if (sc_parse_rfc3339_ms(since_arg, &since) != 0) {
            if (sc_parse_duration_ms(since_arg, &d) != 0)
                return cli_fail(CLI_USAGE, "--since: expected RFC 3339 or a duration, got '%s'",
                                since_arg);
            since = now - d;
        }
    }
    if (since > now)
        since = now;
    if (since < 0)
        since = 0;
    bucket_ms = by_day ? 86400000LL : 3600000LL;
    from_h = since / bucket_ms * bucket_ms / 3600000;
    to_h = now / 3600000;
    nh = to_h - from_h + 1;
    if (nh > SC_USAGE_MAX_HOURS)
        return cli_fail(CLI_USAGE, "--since: at most %d days back", SC_USAGE_MAX_HOURS / 24);
    if (key != NULL) {
        struct store_key k;
        int r = store_keys_get(cli->conn, key, &k, err, sizeof(err));
        if (r < 0)
            return cli_fail(CLI_ERR, "%s", err);
        if (r > 0)
            return cli_fail(CLI_NOTFOUND, "no key with id '%s'", key);
    }
    nb = (to_h * 3600000 / bucket_ms) - (from_h * 3600000 / bucket_ms) + 1;
    hours = calloc((size_t)nh, sizeof(*hours));
    b = calloc((size_t)nb, sizeof(*b));
    if (hours == NULL || b == NULL) {
        ret = cli_fail(CLI_ERR, "out of memory");
        goto done;
    }
    if (store_usage_hours(cli->conn, key, from_h, to_h, hours, err, sizeof(err)) != 0) {
        ret = cli_fail(CLI_ERR, "%s", err);
        goto done;
    }
    for (int64_t i = 0; i < nb; i++) {
        b[i].start_ms = from_h * 3600000 + i * bucket_ms;
        b[i].by_reason[0] = json_object();
        b[i].by_reason[1] = json_object();
    }
    for (int64_t i = 0; i < nh; i++)
        add_hour(&b[((from_h + i) * 3600000 - b[0].start_ms) / bucket_ms], &hours[i]);
    if (fmt == CLI_FMT_CSV)
        puts("bucket,sent,allowed,denied,capped,errors,denied_by_reason,errors_by_reason");
    for (int64_t i = 0; i < nb; i++) {
        char t[40];
        sc_format_time_ms(b[i].start_ms, t, sizeof(t));
        if (strlen(t) == 24)
            memcpy(t + 19, "Z", 2); /* whole hours: no milliseconds */
        tot[0] += b[i].sent;
        tot[1] += b[i].denied;
        tot[2] += b[i].capped;
        tot[3] += b[i].errors;
        if (fmt == CLI_FMT_JSON) {
            json_t *o =
                json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:O, s:O}", "bucket", t, "sent",
                          (json_int_t)b[i].sent, "allowed", (json_int_t)b[i].allowed, "denied",
                          (json_int_t)b[i].denied, "capped", (json_int_t)b[i].capped, "errors",
                          (json_int_t)b[i].errors, "denied_by_reason", b[i].by_reason[0],
                          "errors_by_reason", b[i].by_reason[1]);
            if (key != NULL)
                json_object_set_new(o, "key_id", json_string(key));
            cli_print_json(o);
        } else if (fmt == CLI_FMT_CSV) {
            printf("%s,%lld,%lld,%lld,%lld,%lld,", t, b[i].sent, b[i].allowed, b[i].denied,
                   b[i].capped, b[i].errors);
            reasons_csv(b[i].by_reason[0]);
            putchar(',');
            reasons_csv(b[i].by_reason[1]);
            putchar('\n');
        }
    }
    if (fmt == CLI_FMT_TABLE) {
        struct cli_chart_row *rows = calloc((size_t)nb, sizeof(*rows));
        char(*labels)[32] = calloc((size_t)nb, sizeof(*labels));
        char *text = NULL;
        if (rows != NULL && labels != NULL) {
            for (int64_t i = 0; i < nb; i++) {
                label(b[i].start_ms, by_day, labels[i], sizeof(labels[i]));
                rows[i] = (struct cli_chart_row){labels[i], b[i].sent, b[i].denied, b[i].capped,
                                                 b[i].errors};
            }
            text = cli_chart_render(rows, (size_t)nb, by_day ? "DAY (UTC)" : "HOUR (UTC)",
                                    term_width(), want_ascii(ascii));
        }
        if (text == NULL) {
            ret = cli_fail(CLI_ERR, "out of memory");
        } else {
            fputs(text, stdout);
            printf("total: %lld sent, %lld denied (%lld by a cap), %lld errors%s%s\n", tot[0],
                   tot[1], tot[2], tot[3], key ? " for " : "", key ? key : "");
        }
        free(text);
        free(rows);
        free(labels);
    }
done:
    for (int64_t i = 0; b != NULL && i < nb; i++) {
        json_decref(b[i].by_reason[0]);
        json_decref(b[i].by_reason[1]);
    }
    free(b);
    free(hours);
    return ret;
}

int
cli_cmd_usage(struct cli *cli, int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return CLI_OK;
        }
    return run(cli, argc, argv);
}

int
cli_usage_sparkline(struct cli *cli, const char *key_id, int64_t now_ms, char *out, size_t len,
                    long long *total, long long *peak)
{
    struct store_usage_hour *h = calloc(24, sizeof(*h));
    long long v[24];
    char err[256], *s = NULL;
    int64_t to = now_ms / 3600000;

    *total = *peak = 0;
    if (h == NULL || store_usage_hours(cli->conn, key_id, to - 23, to, h, err, sizeof(err)) != 0) {
        free(h);
        return -1;
    }
    for (int i = 0; i < 24; i++) {
        v[i] = h[i].sent;
        *total += v[i];
        if (v[i] > *peak)
            *peak = v[i];
    }
    free(h);
    if ((s = cli_chart_sparkline(v, 24, want_ascii(0))) == NULL)
        return -1;
    sc_strlcpy(out, s, len);
    free(s);
    return 0;
}
