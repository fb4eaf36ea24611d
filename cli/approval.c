/*
 * approval.c - `sendcap approval list|show|approve|reject` (SPEC §7): the
 * held sends of gated keys, and a person's decision on each.
 *
 * show opens the sealed body with the master key in memory and prints the
 * sender, recipients, subject and text (or the html as text); never a key.
 * approve and reject are atomic in Redis (held_decide.lua: a second
 * approve is refused), each followed by its call-log record naming who
 * decided; approve then waits (bounded) for a sendcapd to forward the send
 * and prints the outcome.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "common/limits.h"
#include "common/util.h"
#include "store/audit.h"
#include "store/held.h"

static const char usage[] =
    "usage: sendcap approval list [--key KEY_ID] [--json]\n"
    "       sendcap approval show HELD_ID [--json]\n"
    "       sendcap approval approve HELD_ID [--note TEXT]\n"
    "       sendcap approval reject HELD_ID --reason TEXT\n"
    "\n"
    "Sends of keys issued with --oversight gated (or gated-new-recipients) wait here.\n"
    "approve forwards one exactly once and prints Resend's id; reject (or no decision\n"
    "within the key's --hold-ttl) gives its reserved sends back and deletes its body.\n";

static int
row(const struct store_held *h, void *arg)
{
    struct cli_table *t = ((void **)arg)[0];
    int json = *(int *)((void **)arg)[1];
    char c[32], e[32], n[24];

    if (json) {
        cli_print_json(json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:s}", "id", h->id, "key_id",
                                 h->key_id, "status", h->status, "route", h->route, "recipients",
                                 (json_int_t)h->sends, "from_domain", h->from_domain, "created_at",
                                 cli_time(h->created_at, c, sizeof(c)), "expires_at",
                                 cli_time(h->expires_at, e, sizeof(e))));
    } else {
        const char *cells[] = {h->id,
                               h->key_id,
                               h->status,
                               sc_fmt_i64(n, h->sends),
                               h->from_domain,
                               cli_time(h->created_at, c, sizeof(c)),
                               cli_time(h->expires_at, e, sizeof(e))};
        cli_table_row(t, cells);
    }
    return 0;
}

static int
list(struct cli *cli, int argc, char **argv)
{
    const char *key = NULL;
    int json = 0;
    char err[256];
    static const char *const heads[] = {"ID",          "KEY",     "STATUS", "RECIPIENTS",
                                        "FROM DOMAIN", "CREATED", "EXPIRES"};
    struct cli_table *t;
    void *arg[2];

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
            key = argv[++i];
        else
            return cli_fail(CLI_USAGE, "unexpected argument '%s'\n%s", argv[i], usage);
    }
    if (cli_conn(cli) == NULL)
        return CLI_ERR;
    t = json ? NULL : cli_table_new(7, heads);
    arg[0] = t;
    arg[1] = &json;
    if (store_held_each(cli->conn, key, row, arg, err, sizeof(err)) != 0) {
        cli_table_free(t);
        return cli_fail(CLI_ERR, "%s", err);
    }
    if (t != NULL)
        cli_table_print(t);
    cli_table_free(t);
    return CLI_OK;
}

/* html as text for a person: tags dropped, the common entities decoded. */
static char *
html_text(const char *html)
{
    size_t n = strlen(html), o = 0;
    char *out = malloc(n + 1);
    int in_tag = 0;

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (html[i] == '<')
            in_tag = 1;
        else if (html[i] == '>')
            in_tag = 0;
        else if (!in_tag) {
            static const struct {
                const char *ent;
                char c;
            } ents[] = {{"&amp;", '&'},  {"&lt;", '<'},   {"&gt;", '>'},
                        {"&quot;", '"'}, {"&#39;", '\''}, {"&nbsp;", ' '}};
            size_t k;
            for (k = 0; k < sizeof(ents) / sizeof(ents[0]); k++)
                if (strncmp(html + i, ents[k].ent, strlen(ents[k].ent)) == 0)
                    break;
            if (k < sizeof(ents) / sizeof(ents[0])) {
                out[o++] = ents[k].c;
                i += strlen(ents[k].ent) - 1;
            } else {
                out[o++] = html[i];
            }
        }
    }
    out[o] = '\0';
    return out;
}

/* "a, b" of a to/cc/bcc value (string or array). */
static void
addrs(const json_t *v, char *out, size_t len)
{
    size_t i;
    json_t *e;

    out[0] = '\0';
    if (json_is_string(v)) {
        sc_strlcpy(out, json_string_value(v), len);
        return;
    }
    json_array_foreach(v, i, e)
    {
        if (json_is_string(e))
            sc_cat(out + strlen(out), len - strlen(out), i ? ", " : "", json_string_value(e), NULL);
    }
}

/* One message of the held send, for a person or as JSON. */
static json_t *
message(const json_t *m)
{
    static const char *const fields[] = {"from", "to", "cc", "bcc", "reply_to"};
    /* What else shapes the email the recipients get, shown as sent. */
    static const char *const extra[] = {"scheduled_at", "headers", "template"};
    json_t *o = json_object();
    const char *text = json_string_value(json_object_get(m, "text"));
    const char *html = json_string_value(json_object_get(m, "html"));
    char *ht = NULL;

    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        char buf[8192];
        const json_t *v = json_object_get(m, fields[i]);
        if (v == NULL)
            continue;
        addrs(v, buf, sizeof(buf));
        json_object_set_new(o, fields[i], json_string(buf));
    }
    json_object_set_new(o, "subject",
                        json_string(json_string_value(json_object_get(m, "subject"))
                                        ? json_string_value(json_object_get(m, "subject"))
                                        : ""));
    /* Most mail clients render the html, not the text: with both, the
     * person sees both, since they may say different things. */
    if (html != NULL)
        ht = html_text(html);
    json_object_set_new(o, "text", json_string(text ? text : ht ? ht : ""));
    if (text != NULL && ht != NULL)
        json_object_set_new(o, "html_as_text", json_string(ht));
    for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
        if (json_object_get(m, extra[i]) != NULL)
            json_object_set(o, extra[i], json_object_get(m, extra[i]));
    if (json_array_size(json_object_get(m, "attachments")) > 0) {
        json_t *names = json_array(), *a;
        size_t i;
        json_array_foreach(json_object_get(m, "attachments"), i, a)
        {
            const char *fn = json_string_value(json_object_get(a, "filename"));
            json_array_append_new(names, json_string(fn ? fn : "(no filename)"));
        }
        json_object_set_new(
            o, "attachments",
            json_integer((json_int_t)json_array_size(json_object_get(m, "attachments"))));
        json_object_set_new(o, "attachment_filenames", names);
    }
    free(ht);
    return o;
}

/* A line of show's output, and a body: what the agent wrote goes to the
 * person's terminal only through cli_term_text, every body line behind
 * "| " so no line of it passes for one of show's own. */
static void
put(const char *label, const char *v)
{
    char *s = cli_term_text(v ? v : "", NULL);

    printf("%-12s %s\n", label, s ? s : "(out of memory)");
    free(s);
}

/* A JSON value on one line: a string as itself, anything else as JSON. */
static void
put_json(const char *label, const json_t *v)
{
    char *s = json_is_string(v) ? NULL : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

    put(label, json_is_string(v) ? json_string_value(v) : s);
    free(s);
}

static void
put_body(const char *v)
{
    char *s = cli_term_text(v ? v : "", "| ");

    printf("| %s\n", s ? s : "(out of memory)");
    free(s);
}

static int
show(struct cli *cli, int argc, char **argv)
{
    const char *id = NULL, *path, *body;
    int json = 0, ret = CLI_ERR, g;
    unsigned char mk[SC_MASTER_KEY_LEN];
    char err[256], c[32], e[32], *pt = NULL;
    size_t blen;
    struct store_held h;
    json_t *doc = NULL, *msgs = json_array(), *m;
    size_t i;

    for (int k = 0; k < argc; k++) {
        if (strcmp(argv[k], "--json") == 0)
            json = 1;
        else if (argv[k][0] != '-' && id == NULL)
            id = argv[k];
        else
            return cli_fail(CLI_USAGE, "unexpected argument '%s'\n%s", argv[k], usage);
    }
    if (id == NULL)
        return cli_fail(CLI_USAGE, "missing HELD_ID\n%s", usage);
    if (cli_conn(cli) == NULL)
        return CLI_ERR;
    if ((g = store_held_get(cli->conn, id, &h, err, sizeof(err))) != 0)
        return g < 0 ? cli_fail(CLI_ERR, "%s", err) : cli_fail(CLI_NOTFOUND, "no held send %s", id);
    if (h.sealed != NULL) {
        if (store_secret_master_load(&cli->cfg, mk, err, sizeof(err)) != 0) {
            cli_fail(CLI_ERR, "%s", err);
            goto done;
        }
        pt = store_held_open(mk, id, h.sealed, &path, &body, &blen, err, sizeof(err));
        store_secret_wipe(mk, sizeof(mk));
        if (pt == NULL) {
            cli_fail(CLI_ERR, "held send %s does not open with this master key: %s", id, err);
            goto done;
        }
        doc = json_loadb(body, blen, 0, NULL);
        if (json_is_array(doc)) {
            json_array_foreach(doc, i, m) json_array_append_new(msgs, message(m));
        } else if (json_is_object(doc)) {
            json_array_append_new(msgs, message(doc));
        }
    }
    if (json) {
        json_t *o =
            json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:o}", "id", h.id, "key_id", h.key_id, "status",
                      h.status, "route", h.route, "recipients", (json_int_t)h.sends, "created_at",
                      cli_time(h.created_at, c, sizeof(c)), "expires_at",
                      cli_time(h.expires_at, e, sizeof(e)), "messages", msgs);
        msgs = NULL;
        json_object_set_new(o, "email_id", h.email_id[0] ? json_string(h.email_id) : json_null());
        json_object_set_new(o, "decided_by",
                            h.decided_by[0] ? json_string(h.decided_by) : json_null());
        cli_print_json(o);
    } else {
        put("id:", h.id);
        put("key:", h.key_id);
        put("status:", h.status);
        put("held:", cli_time(h.created_at, c, sizeof(c)));
        put("expires:", cli_time(h.expires_at, e, sizeof(e)));
        if (h.decided_by[0]) {
            char d[sizeof(h.decided_by) + sizeof(h.note) + 48];
            sc_cat(d, sizeof(d), h.decided_by, " (", cli_time(h.decided_at, c, sizeof(c)), ")",
                   h.note[0] ? ": " : "", h.note, NULL);
            put("decided by:", d);
        }
        if (h.email_id[0])
            put("email id:", h.email_id);
        if (h.error[0])
            put("error:", h.error);
        if (h.sealed == NULL)
            printf("(the body was deleted when it was decided)\n");
        json_array_foreach(msgs, i, m)
        {
            static const char *const f[] = {"from", "to", "cc", "bcc", "reply_to", "subject"};
            printf("\n");
            if (json_array_size(msgs) > 1)
                printf("message %zu of %zu\n", i + 1, json_array_size(msgs));
            for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++)
                if (json_object_get(m, f[k]) != NULL)
                    put(f[k], json_string_value(json_object_get(m, f[k])));
            if (json_object_get(m, "scheduled_at") != NULL)
                put_json("scheduled", json_object_get(m, "scheduled_at"));
            if (json_object_get(m, "headers") != NULL)
                put_json("headers", json_object_get(m, "headers"));
            if (json_object_get(m, "template") != NULL)
                put_json("template", json_object_get(m, "template"));
            if (json_object_get(m, "attachment_filenames") != NULL)
                put_json("attachments", json_object_get(m, "attachment_filenames"));
            printf("\n");
            put_body(json_string_value(json_object_get(m, "text")));
            if (json_object_get(m, "html_as_text") != NULL) {
                printf("\nhtml, as text (what most mail clients show):\n");
                put_body(json_string_value(json_object_get(m, "html_as_text")));
            }
        }
    }
    ret = CLI_OK;
done:
    json_decref(doc);
    json_decref(msgs);
    store_secret_free(pt);
    store_held_clear(&h);
    return ret;
}

/* The decision's call-log record (SPEC §7: every decision is in the call
 * log with who decided). */
static int
record(struct cli *cli, const struct store_held *h, const char *reason, const char *who, char *err,
       size_t errlen)
{
    unsigned char mk[SC_MASTER_KEY_LEN];
    struct store_audit_rec rec;
    char rid[32] = "req_";
    int ret;

    if (store_secret_master_load(&cli->cfg, mk, err, errlen) != 0)
        return -1;
    memset(&rec, 0, sizeof(rec));
    store_secret_random_base62(rid + 4, 20);
    store_audit_set_i64(&rec, STORE_AUDIT_TIME, sc_now_ms());
    store_audit_set(&rec, STORE_AUDIT_REQUEST_ID, rid);
    store_audit_set(&rec, STORE_AUDIT_KEY_ID, h->key_id);
    store_audit_set(&rec, STORE_AUDIT_METHOD, "POST");
    store_audit_set(&rec, STORE_AUDIT_PATH,
                    strcmp(h->route, "emails.batch") == 0 ? "/emails/batch" : "/emails");
    store_audit_set(&rec, STORE_AUDIT_ROUTE, h->route);
    store_audit_set_i64(&rec, STORE_AUDIT_RECIPIENTS, h->sends);
    store_audit_set(&rec, STORE_AUDIT_FROM_DOMAIN, h->from_domain);
    store_audit_set(&rec, STORE_AUDIT_DECISION,
                    strcmp(reason, "approved") == 0 ? "allowed" : "denied");
    store_audit_set(&rec, STORE_AUDIT_REASON, reason);
    store_audit_set(&rec, STORE_AUDIT_EMAIL_IDS, h->id);
    /* The person deciding is this call's client (README: the call log). */
    store_audit_set(&rec, STORE_AUDIT_CLIENT, who);
    store_audit_set(&rec, STORE_AUDIT_USER_AGENT, "sendcap approval");
    ret = store_held_log(cli->conn, mk, cli->cfg.log_retention_ms, &rec, err, errlen);
    store_secret_wipe(mk, sizeof(mk));
    return ret;
}

static int
decide(struct cli *cli, int argc, char **argv, int approve)
{
    const char *id = NULL, *text = NULL;
    char who[512], status[32] = "", err[256];
    struct store_held h;
    int r;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], approve ? "--note" : "--reason") == 0 && i + 1 < argc)
            text = argv[++i];
        else if (argv[i][0] != '-' && id == NULL)
            id = argv[i];
        else
            return cli_fail(CLI_USAGE, "unexpected argument '%s'\n%s", argv[i], usage);
    }
    if (id == NULL)
        return cli_fail(CLI_USAGE, "missing HELD_ID\n%s", usage);
    if (!approve && (text == NULL || text[0] == '\0'))
        return cli_fail(CLI_USAGE, "reject needs --reason TEXT\n%s", usage);
    if (text != NULL && strlen(text) > SC_KEY_TEXT_MAX)
        return cli_fail(CLI_USAGE, "--%s: at most %d characters", approve ? "note" : "reason",
                        SC_KEY_TEXT_MAX);
    /* The admin trail's master key is checked before anything changes. */
    if (cli_conn(cli) == NULL || cli_admin_ready(cli) != CLI_OK)
        return CLI_ERR;
    sc_strlcpy(who, cli_actor(cli), sizeof(who));
    r = store_held_decide(cli->conn, id, approve, who, text ? text : "", status, sizeof(status),
                          err, sizeof(err));
    if (r == 1)
        return cli_fail(CLI_NOTFOUND, "no held send %s", id);
    if (r == 2)
        return cli_fail(CLI_ERR, "held send %s is %s already; nothing was changed", id, status);
    if (r != 0)
        return cli_fail(CLI_ERR, "%s", err);
    if (store_held_get(cli->conn, id, &h, err, sizeof(err)) != 0)
        return cli_fail(CLI_ERR, "%s", err);
    if (record(cli, &h, status, who, err, sizeof(err)) != 0)
        fprintf(stderr, "sendcap: warning: the call-log record of this decision failed: %s\n", err);
    store_held_clear(&h);
    /* The decision is a change a person made: the admin trail has it (an
     * expiry found here was the hold-ttl's, and a revoked key's send was
     * refused by the revocation, not by them). */
    if (strcmp(status, "expired") != 0 && strcmp(status, "revoked") != 0) {
        json_t *changes = json_pack("{s:{s:s,s:s}}", "status", "old", "pending", "new", status);
        if (changes != NULL && text != NULL)
            json_object_set_new(changes, approve ? "note" : "reason",
                                json_pack("{s:n,s:s}", "old", "new", text));
        if (cli_admin_record(cli, approve ? "approval.approve" : "approval.reject", id, changes) !=
            CLI_OK)
            return CLI_ERR;
    }
    if (strcmp(status, "expired") == 0)
        return cli_fail(CLI_ERR,
                        "held send %s had expired (its --hold-ttl passed); its sends "
                        "were given back and nothing was sent",
                        id);
    if (strcmp(status, "revoked") == 0)
        return cli_fail(CLI_ERR,
                        "held send %s was not approved: its key %s has been revoked; it is "
                        "rejected, its sends were given back and nothing was sent",
                        id, h.key_id);
    if (!approve) {
        printf("rejected %s; its sends were given back and its body deleted\n", id);
        return CLI_OK;
    }
    /* A sendcapd forwards it; wait for the outcome, bounded. */
    for (int64_t waited = 0; waited < SC_HELD_APPROVE_WAIT_MS; waited += 100) {
        struct timespec ts = {0, 100 * 1000000L};

        if (store_held_get(cli->conn, id, &h, err, sizeof(err)) != 0)
            return cli_fail(CLI_ERR, "%s", err);
        if (strcmp(h.status, "sent") == 0) {
            printf("approved %s: sent, Resend id %s\n", id, h.email_id);
            store_held_clear(&h);
            return CLI_OK;
        }
        if (strcmp(h.status, "failed") == 0) {
            r = cli_fail(CLI_ERR, "approved %s, but Resend did not take it: %s", id, h.error);
            store_held_clear(&h);
            return r;
        }
        store_held_clear(&h);
        nanosleep(&ts, NULL);
    }
    printf("approved %s; no sendcapd has forwarded it yet (it will be, once one runs)\n", id);
    return CLI_OK;
}

static int
approve(struct cli *cli, int argc, char **argv)
{
    return decide(cli, argc, argv, 1);
}

static int
reject(struct cli *cli, int argc, char **argv)
{
    return decide(cli, argc, argv, 0);
}

int
cli_cmd_approval(struct cli *cli, int argc, char **argv)
{
    static const struct cli_sub subs[] = {
        {"list", list}, {"show", show}, {"approve", approve}, {"reject", reject}, {NULL, NULL},
    };

    return cli_dispatch(cli, "approval", usage, subs, argc, argv);
}
