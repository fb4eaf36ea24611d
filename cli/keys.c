/*
 * keys.c - `sendcap key issue|update|list|show|revoke|rotate`.
 *
 * A vault key is printed once, by `key issue`, and never again: Redis holds
 * only its SHA-256.  Every other command names keys by their public id.
 * Expiry and revocation times come from Redis's clock, the clock the proxy
 * checks them against.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/limits.h"
#include "common/util.h"
#include "policy/policy.h"
#include "store/audit.h"
#include "store/call.h"
#include "store/keys.h"
#include "store/usage.h"

static const char usage[] =
    "usage: sendcap key issue --upstream NAME [--name TEXT] [--owner EMAIL]\n"
    "                         [--daily-cap N] [--from-domain D]... [--to-domain D]...\n"
    "                         [--expires-in DURATION | --expires-at RFC3339]\n"
    "                         [--agent-run-id ID] [--scope sending|full]\n"
    "                         [--monthly-cap N] [--per-recipient-cap N] [--rate N/s|N/m|N/h]\n"
    "                         [--dedupe-window DURATION] [--alert-at PCT[,PCT...]]\n"
    "                         [--rotate-after DURATION|none]\n"
    "                         [--oversight auto|gated|gated-new-recipients|monitored]\n"
    "                         [--hold-ttl DURATION]\n"
    "                         [--allow-public-suffix] [--json]\n"
    "       sendcap key update KEY_ID [any policy flag of key issue but --upstream]\n"
    "                         [--clear-from-domains] [--clear-to-domains] [--json]\n"
    "       sendcap key list [--json] [--all]\n"
    "       sendcap key show KEY_ID [--json]\n"
    "       sendcap key revoke KEY_ID\n"
    "       sendcap key rotate KEY_ID [--grace DURATION] [--json]\n"
    "\n"
    "DURATION is 30s, 15m, 4h or 7d.  A domain rule is example.com (exactly) or\n"
    "*.example.com (its subdomains only); no list means any domain.  A wildcard over a\n"
    "public suffix (*.co.uk) is refused unless --allow-public-suffix.  No --daily-cap\n"
    "(--monthly-cap, --per-recipient-cap, --rate) means none; key update takes 'none'\n"
    "to remove one.  --dedupe-window defaults to 10m; 0 turns it off.  --alert-at\n"
    "(default 80,100; none: off) fires key.usage_threshold events at those percents\n"
    "of the daily and monthly caps.  --rotate-after (default 90d) is the age at\n"
    "which key.rotation_due is sent; none turns it off.  --oversight gated holds every\n"
    "send for 'sendcap approval' (gated-new-recipients: only sends to an address the\n"
    "key never sent to; monitored: forwards and emits send.monitored); a held send\n"
    "expires after --hold-ttl (default 24h).  A list flag given to key\n"
    "update replaces that whole list.  --scope sending (default) allows POST /emails,\n"
    "POST /emails/batch, GET/PATCH /emails/{id} and POST /emails/{id}/cancel; full\n"
    "allows every endpoint but /api-keys.  key list hides revoked and expired keys unless --all.\n"
    "key rotate prints a new vault key with the same policy, daily counter and emails;\n"
    "the old key keeps working for --grace (default 0: it stops now).\n";

static int
text_ok(const char *s)
{
    if (strlen(s) > SC_KEY_TEXT_MAX)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

/* Append a validated, lower-cased domain rule to a comma-joined list. */
static int
add_domain(char *list, size_t cap, const char *rule, const char *flag)
{
    char norm[256];
    size_t n = strlen(list);

    if (policy_domain_rule_normalize(rule, norm, sizeof(norm)) != 0)
        return cli_fail(CLI_USAGE, "%s '%s' is not a domain rule (example.com or *.example.com)",
                        flag, rule);
    if (n + strlen(norm) + 2 > cap)
        return cli_fail(CLI_USAGE, "too many %s rules", flag);
    if (n > 0)
        list[n++] = ',';
    memcpy(list + n, norm, strlen(norm) + 1);
    return 0;
}

/* The Public Suffix List, read from its file: a new list (caller frees),
 * or NULL after printing one line.  A missing list fails closed: without
 * it a wildcard cannot be checked, so it is refused. */
static struct policy_psl *
load_psl(const char *flag, const char *rule)
{
    const char *path = getenv("SENDCAP_PUBLIC_SUFFIX_LIST");
    struct policy_psl *p = NULL;
    FILE *f;
    char *buf = NULL;
    long n;
    int err = 0;

    if (path == NULL || *path == '\0')
        path = SC_PSL_DEFAULT_PATH;
    if ((f = fopen(path, "rb")) == NULL)
        err = errno;
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0 || n > SC_PSL_FILE_MAX ||
        fseek(f, 0, SEEK_SET) != 0 || (buf = malloc((size_t)n)) == NULL ||
        fread(buf, 1, (size_t)n, f) != (size_t)n ||
        (p = policy_psl_parse(buf, (size_t)n)) == NULL || policy_psl_count(p) == 0) {
        cli_fail(CLI_ERR,
                 "%s '%s': cannot read the public suffix list %s%s%s, so the wildcard cannot "
                 "be checked: install Debian's publicsuffix package, or give "
                 "--allow-public-suffix to accept it unchecked",
                 flag, rule, path, err ? ": " : "", err ? strerror(err) : "");
        policy_psl_free(p);
        p = NULL;
    }
    if (f != NULL)
        fclose(f);
    free(buf);
    return p;
}

/* A wildcard whose base is a public suffix ("*.co.uk") would let the key
 * mail (or send as) every customer of a registry: refused unless
 * --allow-public-suffix.  Returns CLI_OK, CLI_USAGE or CLI_ERR. */
static int
check_wildcards(const char *list, const char *flag, struct policy_psl **psl)
{
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char rule[POLICY_DOMAIN_MAX + 3];

        if (n < sizeof(rule) && p[0] == '*') {
            memcpy(rule, p, n);
            rule[n] = '\0';
            if (*psl == NULL && (*psl = load_psl(flag, rule)) == NULL)
                return CLI_ERR;
            if (policy_psl_wildcard_over_suffix(*psl, rule))
                return cli_fail(CLI_USAGE,
                                "%s '%s' ranges over a public suffix (every domain registered "
                                "under it): name your own domain, or give --allow-public-suffix",
                                flag, rule);
        }
        p += n + (e ? 1 : 0);
    }
    return CLI_OK;
}

static json_t *
domains_json(const char *list)
{
    json_t *a = json_array();
    const char *p = list;

    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        json_array_append_new(a, json_stringn(p, n));
        p += n + (e ? 1 : 0);
    }
    return a;
}

static int
stale(const struct store_key *k, int64_t now)
{
    int64_t since = k->last_used_at > 0 ? k->last_used_at : k->created_at;

    return now - since > SC_KEY_STALE_MS;
}

/* A duration in the largest unit that states it exactly: "10m", "90s". */
static const char *
dur_text(int64_t ms, char *buf, size_t len)
{
    static const struct {
        int64_t ms;
        const char *unit;
    } units[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}, {1, "ms"}};

    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (ms > 0 && ms % units[i].ms == 0) {
            snprintf(buf, len, "%lld%s", (long long)(ms / units[i].ms), units[i].unit);
            return buf;
        }
    snprintf(buf, len, "%lld", (long long)ms);
    return buf;
}

/* "50/s", or "" without a rate. */
static const char *
rate_text(const struct store_key *k, char *buf, size_t len)
{
    const char *u = k->rate_window_ms == 1000      ? "s"
                    : k->rate_window_ms == 60000   ? "m"
                    : k->rate_window_ms == 3600000 ? "h"
                                                   : NULL;

    if (k->rate_limit < 0)
        buf[0] = '\0';
    else if (u != NULL)
        snprintf(buf, len, "%lld/%s", (long long)k->rate_limit, u);
    else
        snprintf(buf, len, "%lld/%lldms", (long long)k->rate_limit, (long long)k->rate_window_ms);
    return buf;
}

/* Every limit of a key on one line, for people: "500/d 10000/mo 50/s
 * rcpt:3/d dedupe:10m alert:80,100" ("none" when it has none but the
 * dedupe window). */
static const char *
limits_text(const struct store_key *k, char *buf, size_t len)
{
    char r[40], d[24];
    size_t o = 0;

#define ADD(...)                                                                                   \
    do {                                                                                           \
        if (o < len)                                                                               \
            o += (size_t)snprintf(buf + o, len - o, __VA_ARGS__);                                  \
    } while (0)
    buf[0] = '\0';
    if (k->daily_cap >= 0)
        ADD("%s%lld/d", o ? " " : "", (long long)k->daily_cap);
    if (k->monthly_cap >= 0)
        ADD("%s%lld/mo", o ? " " : "", (long long)k->monthly_cap);
    if (k->rate_limit >= 0)
        ADD("%s%s", o ? " " : "", rate_text(k, r, sizeof(r)));
    if (k->per_recipient_cap >= 0)
        ADD("%srcpt:%lld/d", o ? " " : "", (long long)k->per_recipient_cap);
    ADD("%sdedupe:%s", o ? " " : "",
        k->dedupe_window_ms > 0 ? dur_text(k->dedupe_window_ms, d, sizeof(d)) : "off");
    if (k->alert_at[0])
        ADD(" alert:%s", k->alert_at);
#undef ADD
    return buf;
}

/* The family's usage (store/usage.c); zeros if Redis cannot say, as the
 * listing of the other keys is still worth printing. */
static struct store_usage
usage_of(struct store_conn *c, const struct store_key *k, int64_t now)
{
    struct store_usage u;
    char err[256];

    if (store_usage_get(c, k, now, &u, err, sizeof(err)) != 0)
        memset(&u, 0, sizeof(u));
    return u;
}

static json_t *
cap_or_null(int64_t v)
{
    return v >= 0 ? json_integer(v) : json_null();
}

static json_t *
alert_json(const char *list)
{
    json_t *a = json_array();

    for (const char *p = list; *p;) {
        json_array_append_new(a, json_integer(strtol(p, NULL, 10)));
        p += strcspn(p, ",");
        p += *p == ',';
    }
    return a;
}

static json_t *
key_json(const struct store_key *k, int64_t now)
{
    char c[32], e[32], r[32], u[32], d[24];
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "id", k->id, "name", k->name, "owner", k->owner,
                  "upstream", k->upstream, "scope", k->scope, "status", store_keys_status(k, now));

    json_object_set_new(o, "daily_cap", cap_or_null(k->daily_cap));
    json_object_set_new(o, "monthly_cap", cap_or_null(k->monthly_cap));
    json_object_set_new(o, "per_recipient_cap", cap_or_null(k->per_recipient_cap));
    json_object_set_new(o, "rate",
                        k->rate_limit >= 0
                            ? json_pack("{s:I, s:I, s:s}", "limit", (json_int_t)k->rate_limit,
                                        "window_ms", (json_int_t)k->rate_window_ms, "text",
                                        rate_text(k, r, sizeof(r)))
                            : json_null());
    json_object_set_new(o, "dedupe_window",
                        k->dedupe_window_ms > 0
                            ? json_string(dur_text(k->dedupe_window_ms, d, sizeof(d)))
                            : json_null());
    json_object_set_new(o, "dedupe_window_ms", json_integer(k->dedupe_window_ms));
    json_object_set_new(o, "alert_at", alert_json(k->alert_at));
    json_object_set_new(o, "rotate_after",
                        k->rotate_after_ms > 0
                            ? json_string(dur_text(k->rotate_after_ms, d, sizeof(d)))
                            : json_null());
    json_object_set_new(o, "oversight", json_string(k->oversight));
    json_object_set_new(o, "hold_ttl", json_string(dur_text(k->hold_ttl_ms, d, sizeof(d))));
    json_object_set_new(o, "from_domains", domains_json(k->from_domains));
    json_object_set_new(o, "to_domains", domains_json(k->to_domains));
    json_object_set_new(o, "agent_run_id",
                        k->agent_run_id[0] ? json_string(k->agent_run_id) : json_null());
    json_object_set_new(o, "created_at", json_string(cli_time(k->created_at, c, sizeof(c))));
    json_object_set_new(o, "expires_at",
                        k->expires_at ? json_string(cli_time(k->expires_at, e, sizeof(e)))
                                      : json_null());
    json_object_set_new(o, "revoked_at",
                        k->revoked_at ? json_string(cli_time(k->revoked_at, r, sizeof(r)))
                                      : json_null());
    json_object_set_new(o, "last_used_at",
                        k->last_used_at ? json_string(cli_time(k->last_used_at, u, sizeof(u)))
                                        : json_null());
    json_object_set_new(o, "stale", json_boolean(stale(k, now)));
    return o;
}

/* key_json plus the family's usage: used_today (as before) and "usage"
 * {daily, monthly, rate}, each {used, limit} (limit null without a cap). */
static json_t *
key_usage_json(struct store_conn *c, const struct store_key *k, int64_t now)
{
    struct store_usage u = usage_of(c, k, now);
    json_t *o = key_json(k, now);

    json_object_set_new(o, "used_today", json_integer(u.daily));
    json_object_set_new(
        o, "usage",
        json_pack("{s:{s:I, s:o}, s:{s:I, s:o}, s:o}", "daily", "used", (json_int_t)u.daily,
                  "limit", cap_or_null(k->daily_cap), "monthly", "used", (json_int_t)u.monthly,
                  "limit", cap_or_null(k->monthly_cap), "rate",
                  k->rate_limit >= 0 ? json_pack("{s:I, s:I, s:I}", "used", (json_int_t)u.rate,
                                                 "limit", (json_int_t)k->rate_limit, "window_ms",
                                                 (json_int_t)k->rate_window_ms)
                                     : json_null()));
    return o;
}

/* A key's policy as key issue and key update read it from the command line:
 * one parser, so both take the same flags with the same checks. */
struct policy_flags {
    struct store_key_spec spec;
    char from[STORE_KEY_DOMAINS_MAX], to[STORE_KEY_DOMAINS_MAX];
    const char *exp_in, *exp_at;
    const char *id; /* key update's KEY_ID */
    int json, allow_ps, clear_from, clear_to;
};

/* A cap: a whole number from min, or "none" (-1). */
static int
cap_arg(const char *flag, const char *v, int64_t min, int64_t *out)
{
    if (strcmp(v, "none") == 0) {
        *out = -1;
        return 0;
    }
    if (sc_parse_i64(v, min, SC_KEY_CAP_MAX, out) != 0)
        return cli_fail(CLI_USAGE, "%s: expected a whole number from %lld to %d, or none; got '%s'",
                        flag, (long long)min, SC_KEY_CAP_MAX, v);
    return 0;
}

/* Parse key issue's (update == 0) or key update's (update == 1) arguments
 * into pf; spec.set names what was given.  CLI_OK, or the exit code after
 * printing one line. */
static int
policy_flags_parse(struct policy_flags *pf, int update, int argc, char **argv)
{
    struct store_key_spec *spec = &pf->spec;
    struct cli_once once = {{NULL}, 0};
    struct policy_psl *psl = NULL;
    int r;

    memset(pf, 0, sizeof(*pf));
    store_keys_spec_init(spec);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--json") == 0) {
            pf->json = 1;
            continue;
        }
        if (strcmp(a, "--allow-public-suffix") == 0) {
            pf->allow_ps = 1;
            continue;
        }
        if (update &&
            (strcmp(a, "--clear-from-domains") == 0 || strcmp(a, "--clear-to-domains") == 0)) {
            *(a[8] == 'f' ? &pf->clear_from : &pf->clear_to) = 1;
            spec->set |= a[8] == 'f' ? STORE_KEY_SET_FROM_DOMAINS : STORE_KEY_SET_TO_DOMAINS;
            continue;
        }
        if (update && a[0] != '-' && pf->id == NULL) {
            pf->id = a;
            continue;
        }
        if (a[0] != '-' || v == NULL)
            return cli_fail(CLI_USAGE, "unexpected or incomplete argument '%s'\n%s", a, usage);
        i++;
        if (strcmp(a, "--from-domain") != 0 && strcmp(a, "--to-domain") != 0 &&
            cli_once(&once, a) != 0)
            return CLI_USAGE;
        if (strcmp(a, "--upstream") == 0) {
            if (update)
                return cli_fail(CLI_USAGE, "key update cannot move a key to another upstream: "
                                           "issue a new key on it");
            spec->upstream = v;
        } else if (strcmp(a, "--name") == 0 || strcmp(a, "--owner") == 0 ||
                   strcmp(a, "--agent-run-id") == 0) {
            if (!text_ok(v))
                return cli_fail(CLI_USAGE, "%s: at most %d characters, no control characters", a,
                                SC_KEY_TEXT_MAX);
            if (a[2] == 'n') {
                spec->name = v;
                spec->set |= STORE_KEY_SET_NAME;
            } else if (a[2] == 'o') {
                spec->owner = v;
                spec->set |= STORE_KEY_SET_OWNER;
            } else {
                spec->agent_run_id = v;
                spec->set |= STORE_KEY_SET_AGENT_RUN_ID;
            }
        } else if (strcmp(a, "--daily-cap") == 0) {
            if (cap_arg(a, v, 0, &spec->daily_cap) != 0)
                return CLI_USAGE;
            spec->set |= STORE_KEY_SET_DAILY_CAP;
        } else if (strcmp(a, "--monthly-cap") == 0) {
            if (cap_arg(a, v, 0, &spec->monthly_cap) != 0)
                return CLI_USAGE;
            spec->set |= STORE_KEY_SET_MONTHLY_CAP;
        } else if (strcmp(a, "--per-recipient-cap") == 0) {
            if (cap_arg(a, v, 1, &spec->per_recipient_cap) != 0)
                return CLI_USAGE;
            spec->set |= STORE_KEY_SET_PER_RECIPIENT_CAP;
        } else if (strcmp(a, "--rate") == 0) {
            if (strcmp(v, "none") == 0) {
                spec->rate_limit = -1;
                spec->rate_window_ms = 0;
            } else if (store_keys_rate_parse(v, &spec->rate_limit, &spec->rate_window_ms) != 0) {
                return cli_fail(CLI_USAGE,
                                "--rate: expected N/s, N/m or N/h (N from 1 to %d), or none; "
                                "got '%s'",
                                SC_KEY_RATE_MAX, v);
            }
            spec->set |= STORE_KEY_SET_RATE;
        } else if (strcmp(a, "--dedupe-window") == 0) {
            if (store_keys_dedupe_parse(v, &spec->dedupe_window_ms) != 0)
                return cli_fail(CLI_USAGE,
                                "--dedupe-window: expected 0 (off) or a duration from 1s to 7d, "
                                "got '%s'",
                                v);
            spec->set |= STORE_KEY_SET_DEDUPE;
        } else if (strcmp(a, "--alert-at") == 0) {
            if (strcmp(v, "none") == 0)
                spec->alert_at[0] = '\0';
            else if (store_keys_alert_parse(v, spec->alert_at, sizeof(spec->alert_at)) != 0)
                return cli_fail(CLI_USAGE,
                                "--alert-at: expected percents from 1 to 100, comma-separated "
                                "(at most %d), or none; got '%s'",
                                SC_KEY_ALERT_AT_MAX, v);
            spec->set |= STORE_KEY_SET_ALERT_AT;
        } else if (strcmp(a, "--rotate-after") == 0) {
            if (store_keys_rotate_after_parse(v, &spec->rotate_after_ms) != 0)
                return cli_fail(CLI_USAGE,
                                "--rotate-after: expected a duration from 1s to 3650d, or none; "
                                "got '%s'",
                                v);
            spec->set |= STORE_KEY_SET_ROTATE_AFTER;
        } else if (strcmp(a, "--oversight") == 0) {
            if (store_keys_oversight_parse(v, &spec->oversight) != 0)
                return cli_fail(CLI_USAGE,
                                "--oversight: expected auto, gated, gated-new-recipients or "
                                "monitored; got '%s'",
                                v);
            spec->set |= STORE_KEY_SET_OVERSIGHT;
        } else if (strcmp(a, "--hold-ttl") == 0) {
            if (store_keys_hold_ttl_parse(v, &spec->hold_ttl_ms) != 0)
                return cli_fail(CLI_USAGE,
                                "--hold-ttl: expected a duration from 1s to 30d; got '%s'", v);
            spec->set |= STORE_KEY_SET_HOLD_TTL;
        } else if (strcmp(a, "--from-domain") == 0) {
            if (add_domain(pf->from, sizeof(pf->from), v, a) != 0)
                return CLI_USAGE;
            spec->set |= STORE_KEY_SET_FROM_DOMAINS;
        } else if (strcmp(a, "--to-domain") == 0) {
            if (add_domain(pf->to, sizeof(pf->to), v, a) != 0)
                return CLI_USAGE;
            spec->set |= STORE_KEY_SET_TO_DOMAINS;
        } else if (strcmp(a, "--expires-in") == 0) {
            pf->exp_in = v;
            if (sc_parse_duration_ms(v, &spec->expires_in_ms) != 0 || spec->expires_in_ms <= 0)
                return cli_fail(CLI_USAGE, "--expires-in: expected a duration like 7d, got '%s'",
                                v);
            spec->set |= STORE_KEY_SET_EXPIRY;
        } else if (strcmp(a, "--expires-at") == 0) {
            pf->exp_at = v;
            if (sc_parse_rfc3339_ms(v, &spec->expires_at_ms) != 0)
                return cli_fail(CLI_USAGE,
                                "--expires-at: expected RFC 3339 like 2026-12-31T23:59:59Z, "
                                "got '%s'",
                                v);
            spec->set |= STORE_KEY_SET_EXPIRY;
        } else if (strcmp(a, "--scope") == 0) {
            if (strcmp(v, "sending") != 0 && strcmp(v, "full") != 0)
                return cli_fail(CLI_USAGE, "--scope must be sending or full, got '%s'", v);
            spec->scope = v;
            spec->set |= STORE_KEY_SET_SCOPE;
        } else {
            return cli_fail(CLI_USAGE, "unknown option '%s'\n%s", a, usage);
        }
    }
    if (!update && spec->upstream == NULL)
        return cli_fail(CLI_USAGE, "--upstream NAME is required\n%s", usage);
    if (update && pf->id == NULL)
        return cli_fail(CLI_USAGE, "missing KEY_ID\n%s", usage);
    if (update && spec->set == 0)
        return cli_fail(CLI_USAGE,
                        "key update %s: nothing to change; give a policy flag (see "
                        "sendcap key --help)",
                        pf->id);
    if (pf->exp_in != NULL && pf->exp_at != NULL)
        return cli_fail(CLI_USAGE, "give --expires-in or --expires-at, not both");
    if ((pf->clear_from && pf->from[0]) || (pf->clear_to && pf->to[0]))
        return cli_fail(CLI_USAGE, "give a domain list or clear it, not both");
    if (!pf->allow_ps) {
        r = check_wildcards(pf->from, "--from-domain", &psl);
        if (r == CLI_OK)
            r = check_wildcards(pf->to, "--to-domain", &psl);
        policy_psl_free(psl);
        if (r != CLI_OK)
            return r;
    }
    spec->from_domains = pf->from;
    spec->to_domains = pf->to;
    return CLI_OK;
}

/* policy_flags_parse, then Redis's clock (which an --expires-at must be
 * after).  CLI_OK with *now, or the exit code after printing one line. */
static int
policy_flags_load(struct cli *cli, struct policy_flags *pf, int update, int argc, char **argv,
                  int64_t *now)
{
    char err[512];
    int r = policy_flags_parse(pf, update, argc, argv);

    if (r != CLI_OK)
        return r;
    if (cli_conn(cli) == NULL)
        return CLI_ERR;
    if (store_redis_time(cli->conn, now, err, sizeof(err)) != 0)
        return cli_fail(CLI_ERR, "%s", err);
    if (pf->exp_at != NULL && pf->spec.expires_at_ms <= *now)
        return cli_fail(CLI_USAGE, "--expires-at %s is in the past", pf->exp_at);
    return CLI_OK;
}

static json_t *issue_changes(const struct store_key *rec, int64_t now);

static int
issue(struct cli *cli, int argc, char **argv)
{
    struct policy_flags *pf = malloc(sizeof(*pf));
    struct store_key rec;
    char vk[64] = "", err[512], e[32], line[256];
    int r;
    int64_t now;

    if (pf == NULL)
        return cli_fail(CLI_ERR, "out of memory");
    r = policy_flags_load(cli, pf, 0, argc, argv, &now);
    if (r != CLI_OK || (r = cli_admin_ready(cli)) != CLI_OK)
        goto done;
    r = store_keys_issue(cli->conn, &pf->spec, vk, sizeof(vk), &rec, err, sizeof(err));
    if (r != 0) {
        r = cli_fail(cli_store_exit(r), "%s", err);
        goto done;
    }
    if (pf->json) {
        json_t *o = key_json(&rec, now);
        json_object_set_new(o, "key", json_string(vk));
        cli_print_json(o);
    } else {
        printf("id:       %s\n", rec.id);
        printf("key:      %s\n", vk);
        printf("upstream: %s   scope: %s   daily cap: ", rec.upstream, rec.scope);
        if (rec.daily_cap >= 0)
            printf("%lld", (long long)rec.daily_cap);
        else
            printf("none");
        printf("   expires: %s\n", cli_time(rec.expires_at, e, sizeof(e)));
        printf("controls: %s\n", limits_text(&rec, line, sizeof(line)));
        fprintf(stderr, "The vault key is shown only now: hand it to the agent and keep no "
                        "other copy.\n");
    }
    r = cli_admin_record(cli, "key.issue", rec.id, issue_changes(&rec, now));
done:
    store_secret_wipe(vk, sizeof(vk));
    free(pf);
    return r;
}

/* The fields key update can change, in the order it reports them: the
 * names of key_json's members. */
static const char *const policy_members[] = {
    "name",
    "owner",
    "agent_run_id",
    "scope",
    "daily_cap",
    "monthly_cap",
    "per_recipient_cap",
    "rate",
    "dedupe_window",
    "alert_at",
    "from_domains",
    "to_domains",
    "expires_at",
    "rotate_after",
    "oversight",
    "hold_ttl",
    NULL,
};

/* A key_json member for people: null is "none" ("any" for a domain list,
 * "off" for the dedupe window), a list is comma-joined, a rate is N/unit. */
static void
member_text(const char *name, const json_t *v, char *buf, size_t len)
{
    if (json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0)) {
        snprintf(buf, len, "%s",
                 strstr(name, "domains")  ? "any"
                 : strstr(name, "dedupe") ? "off"
                                          : "none");
    } else if (json_is_object(v) && json_is_string(json_object_get(v, "text"))) {
        snprintf(buf, len, "%s", json_string_value(json_object_get(v, "text")));
    } else if (json_is_string(v)) {
        snprintf(buf, len, "%s", json_string_value(v));
    } else if (json_is_integer(v)) {
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
    } else if (json_is_array(v)) {
        size_t i, o = 0;
        json_t *el;

        buf[0] = '\0';
        json_array_foreach(v, i, el)
        {
            char one[300];

            member_text(name, el, one, sizeof(one));
            if (o < len)
                o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? "," : "", one);
        }
    } else {
        char *d = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        snprintf(buf, len, "%s", d ? d : "?");
        free(d);
    }
}

static int
update(struct cli *cli, int argc, char **argv)
{
    struct policy_flags *pf = malloc(sizeof(*pf));
    struct store_key *before = malloc(sizeof(*before)), *after = malloc(sizeof(*after));
    json_t *ob = NULL, *oa = NULL, *changed = NULL;
    char err[512];
    int64_t now;
    int r;

    if (pf == NULL || before == NULL || after == NULL) {
        r = cli_fail(CLI_ERR, "out of memory");
        goto done;
    }
    r = policy_flags_load(cli, pf, 1, argc, argv, &now);
    if (r != CLI_OK || (r = cli_admin_ready(cli)) != CLI_OK)
        goto done;
    r = store_keys_update(cli->conn, pf->id, &pf->spec, before, after, err, sizeof(err));
    if (r > 0) {
        r = cli_fail(CLI_NOTFOUND, "no key with id '%s'", pf->id);
        goto done;
    }
    if (r < 0) {
        r = cli_fail(CLI_ERR, "%s", err);
        goto done;
    }
    /* What changed is read from the record as it was and as it is, both
     * from the script's one atomic step, not from the flags. */
    ob = key_json(before, now);
    oa = key_json(after, now);
    changed = json_object();
    for (const char *const *m = policy_members; *m != NULL; m++) {
        json_t *a = json_object_get(ob, *m), *b = json_object_get(oa, *m);

        if (!json_equal(a, b))
            json_object_set_new(changed, *m, json_pack("{s:O, s:O}", "old", a, "new", b));
    }
    if (pf->json) {
        json_object_set(oa, "changed", changed);
        cli_print_json(json_incref(oa));
    } else if (json_object_size(changed) == 0) {
        printf("%s: nothing changed (the policy already was so)\n", after->id);
    } else {
        const char *m;
        json_t *c;

        printf("updated %s; its next call on every instance uses:\n", after->id);
        json_object_foreach(changed, m, c)
        {
            char o[512], n[512];

            member_text(m, json_object_get(c, "old"), o, sizeof(o));
            member_text(m, json_object_get(c, "new"), n, sizeof(n));
            printf("  %-18s %s \u2192 %s\n", m, o, n);
        }
    }
    /* A no-op update changes nothing, so the trail gets no record. */
    r = json_object_size(changed) == 0
            ? CLI_OK
            : cli_admin_record(cli, "key.update", after->id, json_incref(changed));
done:
    json_decref(ob);
    json_decref(oa);
    json_decref(changed);
    free(pf);
    free(before);
    free(after);
    return r;
}

struct list_ctx {
    int json, all;
    int64_t now;
    struct cli_table *t;
    struct store_conn *conn;
};

static int
list_one(const struct store_key *k, void *arg)
{
    struct list_ctx *lc = arg;
    const char *status = store_keys_status(k, lc->now);
    struct store_usage u;
    char cap[48], month[48], rate[64], lim[256], e[32], l[32], r[32];

    if (!lc->all && strcmp(status, "active") != 0)
        return 0;
    if (lc->json) {
        cli_print_json(key_usage_json(lc->conn, k, lc->now));
        return 0;
    }
    u = usage_of(lc->conn, k, lc->now);
    if (k->daily_cap >= 0)
        snprintf(cap, sizeof(cap), "%lld/%lld", u.daily, (long long)k->daily_cap);
    else
        snprintf(cap, sizeof(cap), "%lld/-", u.daily);
    if (k->monthly_cap >= 0)
        snprintf(month, sizeof(month), "%lld/%lld", u.monthly, (long long)k->monthly_cap);
    else
        snprintf(month, sizeof(month), "%lld/-", u.monthly);
    if (k->rate_limit >= 0)
        snprintf(rate, sizeof(rate), "%lld/%s", u.rate, rate_text(k, r, sizeof(r)));
    else
        snprintf(rate, sizeof(rate), "-");
    {
        const char *cells[11] = {k->id,
                                 k->name[0] ? k->name : "-",
                                 status,
                                 k->upstream,
                                 cap,
                                 month,
                                 rate,
                                 limits_text(k, lim, sizeof(lim)),
                                 cli_time(k->expires_at, e, sizeof(e)),
                                 cli_time(k->last_used_at, l, sizeof(l)),
                                 stale(k, lc->now) ? "stale" : ""};
        cli_table_row(lc->t, cells);
    }
    return 0;
}

static int
list(struct cli *cli, int argc, char **argv)
{
    /* TODAY/CAP and MONTH/CAP are emails used/cap; RATE is requests in the
     * current window/the rate; LIMITS every control in short. */
    static const char *const hdr[11] = {"ID",        "NAME",      "STATUS", "UPSTREAM",
                                        "TODAY/CAP", "MONTH/CAP", "RATE",   "LIMITS",
                                        "EXPIRES",   "LAST USED", "STALE"};
    struct list_ctx lc = {0, 0, 0, NULL, NULL};
    char err[512];
    int ret = CLI_OK;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            lc.json = 1;
        else if (strcmp(argv[i], "--all") == 0)
            lc.all = 1;
        else
            return cli_fail(CLI_USAGE, "unexpected argument '%s'\n%s", argv[i], usage);
    }
    if (cli_conn(cli) == NULL)
        return CLI_ERR;
    if (store_redis_time(cli->conn, &lc.now, err, sizeof(err)) != 0)
        return cli_fail(CLI_ERR, "%s", err);
    lc.conn = cli->conn;
    if (!lc.json)
        lc.t = cli_table_new(11, hdr);
    if (store_keys_each(cli->conn, list_one, &lc, err, sizeof(err)) != 0)
        ret = cli_fail(CLI_ERR, "%s", err);
    else if (lc.t != NULL)
        cli_table_print(lc.t);
    cli_table_free(lc.t);
    return ret;
}

struct denials {
    json_t *list;
};

static void
denial_row(const struct store_audit_row *r, void *arg)
{
    struct denials *d = arg;
    int64_t t = 0;
    char ts[40] = "";

    sc_parse_i64(r->v[STORE_AUDIT_TIME], 0, INT64_MAX, &t);
    if (t)
        sc_format_time_ms(t, ts, sizeof(ts));
    json_array_append_new(
        d->list, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "time", ts, "request_id",
                           r->v[STORE_AUDIT_REQUEST_ID], "route", r->v[STORE_AUDIT_ROUTE], "reason",
                           r->v[STORE_AUDIT_REASON], "status", r->v[STORE_AUDIT_STATUS],
                           "recipient_domains", r->v[STORE_AUDIT_RECIPIENT_DOMAINS]));
}

static int
show(struct cli *cli, int argc, char **argv)
{
    const char *id = NULL;
    struct store_key k;
    struct denials dn;
    char err[512];
    int json = 0, r;
    int64_t now;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (argv[i][0] != '-' && id == NULL)
            id = argv[i];
        else
            return cli_fail(CLI_USAGE, "unexpected argument '%s'\n%s", argv[i], usage);
    }
    if (id == NULL)
        return cli_fail(CLI_USAGE, "missing KEY_ID\n%s", usage);
    if (cli_conn(cli) == NULL)
        return CLI_ERR;
    if (store_redis_time(cli->conn, &now, err, sizeof(err)) != 0)
        return cli_fail(CLI_ERR, "%s", err);
    r = store_keys_get(cli->conn, id, &k, err, sizeof(err));
    if (r < 0)
        return cli_fail(CLI_ERR, "%s", err);
    if (r > 0)
        return cli_fail(CLI_NOTFOUND, "no key with id '%s'", id);
    {
        struct store_audit_query q;
        memset(&q, 0, sizeof(q));
        q.key_id = k.id;
        q.decision = "denied";
        q.limit = 5;
        dn.list = json_array();
        if (store_audit_query(cli->conn, &q, denial_row, &dn, err, sizeof(err)) != 0) {
            json_decref(dn.list);
            return cli_fail(CLI_ERR, "%s", err);
        }
    }
    if (json) {
        json_t *o = key_usage_json(cli->conn, &k, now), *ev = json_array();
        json_object_set_new(o, "recent_denials", dn.list);
        json_object_set_new(o, "recent_events", ev);
        if ((r = cli_key_events(cli, k.id, ev)) != CLI_OK) {
            json_decref(o);
            return r;
        }
        cli_print_json(o);
    } else {
        struct store_usage u = usage_of(cli->conn, &k, now);
        char t[32], rt[40], dw[24];

        printf("id:            %s\n", k.id);
        printf("name:          %s\n", k.name[0] ? k.name : "-");
        printf("owner:         %s\n", k.owner[0] ? k.owner : "-");
        printf("status:        %s\n", store_keys_status(&k, now));
        printf("upstream:      %s\n", k.upstream);
        printf("scope:         %s\n", k.scope);
        if (k.daily_cap >= 0)
            printf("daily cap:     %lld\n", (long long)k.daily_cap);
        else
            printf("daily cap:     none\n");
        if (k.monthly_cap >= 0)
            printf("monthly cap:   %lld\n", (long long)k.monthly_cap);
        else
            printf("monthly cap:   none\n");
        if (k.per_recipient_cap >= 0)
            printf("per recipient: %lld a day to one address\n", (long long)k.per_recipient_cap);
        else
            printf("per recipient: none\n");
        printf("rate:          %s\n", k.rate_limit >= 0 ? rate_text(&k, rt, sizeof(rt)) : "none");
        printf("dedupe window: %s\n",
               k.dedupe_window_ms > 0 ? dur_text(k.dedupe_window_ms, dw, sizeof(dw)) : "off");
        printf("alert at:      %s\n", k.alert_at[0] ? k.alert_at : "none");
        printf("rotate after:  %s\n",
               k.rotate_after_ms > 0 ? dur_text(k.rotate_after_ms, rt, sizeof(rt)) : "none");
        printf("oversight:     %s (held sends expire after %s)\n", k.oversight,
               dur_text(k.hold_ttl_ms, rt, sizeof(rt)));
        printf("from domains:  %s\n", k.from_domains[0] ? k.from_domains : "any");
        printf("to domains:    %s\n", k.to_domains[0] ? k.to_domains : "any");
        printf("agent_run_id:  %s\n", k.agent_run_id[0] ? k.agent_run_id : "-");
        printf("created:       %s\n", cli_time(k.created_at, t, sizeof(t)));
        printf("expires:       %s\n", cli_time(k.expires_at, t, sizeof(t)));
        printf("revoked:       %s\n", cli_time(k.revoked_at, t, sizeof(t)));
        printf("last used:     %s%s\n", cli_time(k.last_used_at, t, sizeof(t)),
               stale(&k, now) ? " (stale)" : "");
        printf("used today:    %lld", u.daily);
        if (k.daily_cap >= 0)
            printf(" of %lld", (long long)k.daily_cap);
        printf(" (UTC day, resets 00:00 UTC)\n");
        printf("used in month: %lld", u.monthly);
        if (k.monthly_cap >= 0)
            printf(" of %lld", (long long)k.monthly_cap);
        printf(" (UTC month, resets on the 1st, 00:00 UTC)\n");
        if (k.rate_limit >= 0)
            printf("rate window:   %lld of %lld requests in the last %s\n", u.rate,
                   (long long)k.rate_limit, dur_text(k.rate_window_ms, dw, sizeof(dw)));
        {
            char spark[128];
            long long total, peak;
            if (cli_usage_sparkline(cli, k.id, now, spark, sizeof(spark), &total, &peak) == 0)
                printf("last 24 hours: [%s] %lld sent, at most %lld in an hour (UTC hours)\n",
                       spark, total, peak);
        }
        printf("recent denials:%s\n", json_array_size(dn.list) ? "" : " none");
        for (size_t i = 0; i < json_array_size(dn.list); i++) {
            json_t *d = json_array_get(dn.list, i);
            printf("  %s  %s  %s %s  %s\n", json_string_value(json_object_get(d, "time")),
                   json_string_value(json_object_get(d, "request_id")),
                   json_string_value(json_object_get(d, "status")),
                   json_string_value(json_object_get(d, "reason")),
                   json_string_value(json_object_get(d, "route")));
        }
        json_decref(dn.list);
        return cli_key_events(cli, k.id, NULL);
    }
    return CLI_OK;
}

static int
revoke(struct cli *cli, int argc, char **argv)
{
    char err[512], t[32];
    int64_t at;
    int already, r;

    if (argc != 1 || argv[0][0] == '-')
        return cli_fail(CLI_USAGE, "usage: sendcap key revoke KEY_ID");
    if (cli_conn(cli) == NULL || cli_admin_ready(cli) != CLI_OK)
        return CLI_ERR;
    r = store_keys_revoke(cli->conn, argv[0], &at, &already, err, sizeof(err));
    if (r < 0)
        return cli_fail(CLI_ERR, "%s", err);
    if (r > 0)
        return cli_fail(CLI_NOTFOUND, "no key with id '%s'", argv[0]);
    printf("%s %s at %s\n", already ? "already revoked:" : "revoked", argv[0],
           cli_time(at, t, sizeof(t)));
    if (already)
        return CLI_OK;
    return cli_admin_record(
        cli, "key.revoke", argv[0],
        json_pack("{s:{s:n, s:s}}", "revoked_at", "old", "new", cli_time(at, t, sizeof(t))));
}

static int
rotate(struct cli *cli, int argc, char **argv)
{
    const char *id = NULL;
    int64_t grace = 0, old_exp = 0, now, before_exp = 0;
    char be[32];
    struct store_key k;
    char vk[64], err[512], t[32];
    int json = 0, r;
    struct cli_once once = {{NULL}, 0};

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--grace") == 0 && i + 1 < argc) {
            if (cli_once(&once, argv[i]) != 0)
                return CLI_USAGE;
            if (sc_parse_duration_ms(argv[++i], &grace) != 0)
                return cli_fail(CLI_USAGE, "--grace: expected a duration like 1h, got '%s'",
                                argv[i]);
        } else if (argv[i][0] != '-' && id == NULL) {
            id = argv[i];
        } else {
            return cli_fail(CLI_USAGE, "unexpected argument '%s'\n%s", argv[i], usage);
        }
    }
    if (id == NULL)
        return cli_fail(CLI_USAGE, "missing KEY_ID\n%s", usage);
    if (cli_conn(cli) == NULL || cli_admin_ready(cli) != CLI_OK)
        return CLI_ERR;
    /* The old key's expiry before, for the trail; the rotation reports after. */
    if (store_keys_get(cli->conn, id, &k, err, sizeof(err)) == 0)
        before_exp = k.expires_at;
    r = store_keys_rotate(cli->conn, id, grace, vk, sizeof(vk), &k, &old_exp, err, sizeof(err));
    if (r > 0)
        return cli_fail(CLI_NOTFOUND, "no key with id '%s'", id);
    if (r < 0)
        return cli_fail(CLI_ERR, "%s", err);
    if (store_redis_time(cli->conn, &now, err, sizeof(err)) != 0)
        now = k.created_at;
    if (json) {
        json_t *o = key_json(&k, now);
        json_object_set_new(o, "key", json_string(vk));
        json_object_set_new(o, "rotated_from", json_string(id));
        json_object_set_new(o, "old_key_expires_at", json_string(cli_time(old_exp, t, sizeof(t))));
        cli_print_json(o);
    } else {
        printf("id:       %s (rotated from %s; same policy, daily counter and emails)\n", k.id, id);
        printf("key:      %s\n", vk);
        printf("old key:  %s stops at %s\n", id, cli_time(old_exp, t, sizeof(t)));
        fprintf(stderr, "The vault key is shown only now: hand it to the agent and keep no "
                        "other copy.\n");
    }
    store_secret_wipe(vk, sizeof(vk));
    return cli_admin_record(cli, "key.rotate", id,
                            json_pack("{s:{s:n, s:s}, s:{s:s?, s:s}}", "successor", "old", "new",
                                      k.id, "expires_at", "old",
                                      before_exp ? cli_time(before_exp, be, sizeof(be)) : NULL,
                                      "new", cli_time(old_exp, t, sizeof(t))));
}

/* key.issue's changed fields: every policy member the new key has, and its
 * upstream, each from none (never the vault key or its hash). */
static json_t *
issue_changes(const struct store_key *rec, int64_t now)
{
    json_t *o = key_json(rec, now), *c = json_object();

    json_object_set_new(c, "upstream", json_pack("{s:n, s:s}", "old", "new", rec->upstream));
    for (const char *const *m = policy_members; *m != NULL; m++) {
        json_t *v = json_object_get(o, *m);

        if (v != NULL && !json_is_null(v) && !(json_is_string(v) && json_string_length(v) == 0) &&
            !(json_is_array(v) && json_array_size(v) == 0))
            json_object_set_new(c, *m, json_pack("{s:n, s:O}", "old", "new", v));
    }
    json_decref(o);
    return c;
}

int
cli_cmd_key(struct cli *cli, int argc, char **argv)
{
    static const struct cli_sub subs[] = {
        {"issue", issue},   {"update", update}, {"list", list}, {"show", show},
        {"revoke", revoke}, {"rotate", rotate}, {NULL, NULL},
    };

    return cli_dispatch(cli, "key", usage, subs, argc, argv);
}
