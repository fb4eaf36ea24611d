/*
 * keys.c - `sendcap key issue|list|show|revoke`.
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

static const char usage[] =
    "usage: sendcap key issue --upstream NAME [--name TEXT] [--owner EMAIL]\n"
    "                         [--daily-cap N] [--from-domain D]... [--to-domain D]...\n"
    "                         [--expires-in DURATION | --expires-at RFC3339]\n"
    "                         [--agent-run-id ID] [--scope sending|full]\n"
    "                         [--allow-public-suffix] [--json]\n"
    "       sendcap key list [--json] [--all]\n"
    "       sendcap key show KEY_ID [--json]\n"
    "       sendcap key revoke KEY_ID\n"
    "       sendcap key rotate KEY_ID [--grace DURATION] [--json]\n"
    "\n"
    "DURATION is 30s, 15m, 4h or 7d.  A domain rule is example.com (exactly) or\n"
    "*.example.com (its subdomains only); no list means any domain.  A wildcard over a\n"
    "public suffix (*.co.uk) is refused unless --allow-public-suffix.  No --daily-cap\n"
    "means no cap.  --scope sending (default) allows POST /emails, POST /emails/batch,\n"
    "GET/PATCH /emails/{id} and POST /emails/{id}/cancel; full allows every endpoint\n"
    "but /api-keys.  key list hides revoked and expired keys unless --all.\n"
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

/* Sends counted today (UTC, by Redis's clock) for the key's family; 0 if
 * Redis cannot say. */
static long long
used_today(struct store_conn *c, const struct store_key *k, int64_t now)
{
    char err[256];
    long long n = 0;

    if (store_call_used_today(c, k->family, now, &n, err, sizeof(err)) != 0)
        n = 0;
    return n;
}

static json_t *
key_json(const struct store_key *k, int64_t now)
{
    char c[32], e[32], r[32], u[32];
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "id", k->id, "name", k->name, "owner", k->owner,
                  "upstream", k->upstream, "scope", k->scope, "status", store_keys_status(k, now));

    json_object_set_new(o, "daily_cap",
                        k->daily_cap >= 0 ? json_integer(k->daily_cap) : json_null());
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

static int
issue(struct cli *cli, int argc, char **argv)
{
    struct store_key_spec spec;
    struct store_key rec;
    char from[STORE_KEY_DOMAINS_MAX] = "", to[STORE_KEY_DOMAINS_MAX] = "";
    char vk[64], err[512];
    const char *exp_in = NULL, *exp_at = NULL;
    int json = 0, allow_ps = 0, r;
    int64_t now;
    struct cli_once once = {{NULL}, 0};
    struct policy_psl *psl = NULL;

    memset(&spec, 0, sizeof(spec));
    spec.name = spec.owner = spec.agent_run_id = "";
    spec.scope = "sending";
    spec.daily_cap = -1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--json") == 0) {
            json = 1;
            continue;
        }
        if (strcmp(a, "--allow-public-suffix") == 0) {
            allow_ps = 1;
            continue;
        }
        if (a[0] != '-' || v == NULL)
            return cli_fail(CLI_USAGE, "unexpected or incomplete argument '%s'\n%s", a, usage);
        i++;
        if (strcmp(a, "--from-domain") != 0 && strcmp(a, "--to-domain") != 0 &&
            cli_once(&once, a) != 0)
            return CLI_USAGE;
        if (strcmp(a, "--upstream") == 0) {
            spec.upstream = v;
        } else if (strcmp(a, "--name") == 0 || strcmp(a, "--owner") == 0 ||
                   strcmp(a, "--agent-run-id") == 0) {
            if (!text_ok(v))
                return cli_fail(CLI_USAGE, "%s: at most %d characters, no control characters", a,
                                SC_KEY_TEXT_MAX);
            if (a[2] == 'n')
                spec.name = v;
            else if (a[2] == 'o')
                spec.owner = v;
            else
                spec.agent_run_id = v;
        } else if (strcmp(a, "--daily-cap") == 0) {
            if (sc_parse_i64(v, 0, 1000000000, &spec.daily_cap) != 0)
                return cli_fail(CLI_USAGE, "--daily-cap: expected a whole number, got '%s'", v);
        } else if (strcmp(a, "--from-domain") == 0) {
            if (add_domain(from, sizeof(from), v, a) != 0)
                return CLI_USAGE;
        } else if (strcmp(a, "--to-domain") == 0) {
            if (add_domain(to, sizeof(to), v, a) != 0)
                return CLI_USAGE;
        } else if (strcmp(a, "--expires-in") == 0) {
            exp_in = v;
            if (sc_parse_duration_ms(v, &spec.expires_in_ms) != 0 || spec.expires_in_ms <= 0)
                return cli_fail(CLI_USAGE, "--expires-in: expected a duration like 7d, got '%s'",
                                v);
        } else if (strcmp(a, "--expires-at") == 0) {
            exp_at = v;
            if (sc_parse_rfc3339_ms(v, &spec.expires_at_ms) != 0)
                return cli_fail(CLI_USAGE,
                                "--expires-at: expected RFC 3339 like 2026-12-31T23:59:59Z, "
                                "got '%s'",
                                v);
        } else if (strcmp(a, "--scope") == 0) {
            if (strcmp(v, "sending") != 0 && strcmp(v, "full") != 0)
                return cli_fail(CLI_USAGE, "--scope must be sending or full, got '%s'", v);
            spec.scope = v;
        } else {
            return cli_fail(CLI_USAGE, "unknown option '%s'\n%s", a, usage);
        }
    }
    if (spec.upstream == NULL)
        return cli_fail(CLI_USAGE, "--upstream NAME is required\n%s", usage);
    if (exp_in != NULL && exp_at != NULL)
        return cli_fail(CLI_USAGE, "give --expires-in or --expires-at, not both");
    if (!allow_ps) {
        r = check_wildcards(from, "--from-domain", &psl);
        if (r == CLI_OK)
            r = check_wildcards(to, "--to-domain", &psl);
        policy_psl_free(psl);
        if (r != CLI_OK)
            return r;
    }
    spec.from_domains = from;
    spec.to_domains = to;
    if (cli_conn(cli) == NULL)
        return CLI_ERR;
    if (store_redis_time(cli->conn, &now, err, sizeof(err)) != 0)
        return cli_fail(CLI_ERR, "%s", err);
    if (exp_at != NULL && spec.expires_at_ms <= now)
        return cli_fail(CLI_USAGE, "--expires-at %s is in the past", exp_at);
    r = store_keys_issue(cli->conn, &spec, vk, sizeof(vk), &rec, err, sizeof(err));
    if (r != 0)
        return cli_fail(cli_store_exit(r), "%s", err);

    if (json) {
        json_t *o = key_json(&rec, now);
        json_object_set_new(o, "key", json_string(vk));
        cli_print_json(o);
    } else {
        char e[32];
        printf("id:       %s\n", rec.id);
        printf("key:      %s\n", vk);
        printf("upstream: %s   scope: %s   daily cap: ", rec.upstream, rec.scope);
        if (rec.daily_cap >= 0)
            printf("%lld", (long long)rec.daily_cap);
        else
            printf("none");
        printf("   expires: %s\n", cli_time(rec.expires_at, e, sizeof(e)));
        fprintf(stderr, "The vault key is shown only now: hand it to the agent and keep no "
                        "other copy.\n");
    }
    store_secret_wipe(vk, sizeof(vk));
    return CLI_OK;
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
    char cap[24], e[32], u[32];

    if (!lc->all && strcmp(status, "active") != 0)
        return 0;
    if (lc->json) {
        json_t *o = key_json(k, lc->now);
        json_object_set_new(o, "used_today", json_integer(used_today(lc->conn, k, lc->now)));
        cli_print_json(o);
        return 0;
    }
    if (k->daily_cap >= 0)
        snprintf(cap, sizeof(cap), "%lld/%lld", used_today(lc->conn, k, lc->now),
                 (long long)k->daily_cap);
    else
        snprintf(cap, sizeof(cap), "%lld/-", used_today(lc->conn, k, lc->now));
    {
        const char *cells[8] = {k->id,
                                k->name[0] ? k->name : "-",
                                status,
                                k->upstream,
                                cap,
                                cli_time(k->expires_at, e, sizeof(e)),
                                cli_time(k->last_used_at, u, sizeof(u)),
                                stale(k, lc->now) ? "stale" : ""};
        cli_table_row(lc->t, cells);
    }
    return 0;
}

static int
list(struct cli *cli, int argc, char **argv)
{
    static const char *const hdr[8] = {"ID",        "NAME",    "STATUS",    "UPSTREAM",
                                       "TODAY/CAP", "EXPIRES", "LAST USED", "STALE"};
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
        lc.t = cli_table_new(8, hdr);
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
        json_t *o = key_json(&k, now);
        json_object_set_new(o, "used_today", json_integer(used_today(cli->conn, &k, now)));
        json_object_set_new(o, "recent_denials", dn.list);
        cli_print_json(o);
    } else {
        char t[32];
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
        printf("from domains:  %s\n", k.from_domains[0] ? k.from_domains : "any");
        printf("to domains:    %s\n", k.to_domains[0] ? k.to_domains : "any");
        printf("agent_run_id:  %s\n", k.agent_run_id[0] ? k.agent_run_id : "-");
        printf("created:       %s\n", cli_time(k.created_at, t, sizeof(t)));
        printf("expires:       %s\n", cli_time(k.expires_at, t, sizeof(t)));
        printf("revoked:       %s\n", cli_time(k.revoked_at, t, sizeof(t)));
        printf("last used:     %s%s\n", cli_time(k.last_used_at, t, sizeof(t)),
               stale(&k, now) ? " (stale)" : "");
        printf("used today:    %lld", used_today(cli->conn, &k, now));
        if (k.daily_cap >= 0)
            printf(" of %lld", (long long)k.daily_cap);
        printf(" (UTC day, resets 00:00 UTC)\n");
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
    if (cli_conn(cli) == NULL)
        return CLI_ERR;
    r = store_keys_revoke(cli->conn, argv[0], &at, &already, err, sizeof(err));
    if (r < 0)
        return cli_fail(CLI_ERR, "%s", err);
    if (r > 0)
        return cli_fail(CLI_NOTFOUND, "no key with id '%s'", argv[0]);
    printf("%s %s at %s\n", already ? "already revoked:" : "revoked", argv[0],
           cli_time(at, t, sizeof(t)));
    return CLI_OK;
}

static int
rotate(struct cli *cli, int argc, char **argv)
{
    const char *id = NULL;
    int64_t grace = 0, old_exp = 0, now;
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
    if (cli_conn(cli) == NULL)
        return CLI_ERR;
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
    return CLI_OK;
}

int
cli_cmd_key(struct cli *cli, int argc, char **argv)
{
    static const struct cli_sub subs[] = {
        {"issue", issue},   {"list", list},     {"show", show},
        {"revoke", revoke}, {"rotate", rotate}, {NULL, NULL},
    };

    return cli_dispatch(cli, "key", usage, subs, argc, argv);
}
