/*
 * webhooks.c - `sendcap webhook add|list|remove|test` (SPEC §6).
 *
 * The signing secret is printed once, by add, and never again: list shows
 * no secret, and the record holds it sealed.  test emits a webhook.test
 * event for one webhook and waits for a sendcapd to deliver it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "common/limits.h"
#include "common/util.h"
#include "store/admin.h"
#include "store/webhooks.h"

static const char usage[] =
    "usage: sendcap webhook add URL [--event TYPE]... [--key KEY_ID] [--json]\n"
    "       sendcap webhook list [--json]\n"
    "       sendcap webhook remove WEBHOOK_ID\n"
    "       sendcap webhook test WEBHOOK_ID\n"
    "\n"
    "add prints the signing secret (whsec_...) once; keep it: it is never shown again.\n"
    "URL: https://, or http:// to 127.0.0.0/8, [::1] or localhost only.\n"
    "--event limits the webhook to those event types (default: every type); --key to\n"
    "the events of that key and the keys rotated from it.\n"
    "test sends a webhook.test event to that webhook through a running sendcapd and\n"
    "waits for the outcome: exit 0 delivered, 1 not.\n";

static int
add(struct cli *cli, int argc, char **argv)
{
    const char *url = NULL, *key = "";
    char events[STORE_WEBHOOK_EVENTS_MAX] = "", id[STORE_WEBHOOK_ID_MAX];
    char secret[STORE_WEBHOOK_SECRET_MAX], err[512], shown[STORE_WEBHOOK_URL_MAX + 8];
    unsigned char mk[SC_MASTER_KEY_LEN];
    struct cli_once once = {{NULL}, 0};
    int json = 0, r;

    for (int i = 0; i < argc; i++) {
        const char *v = NULL;
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--event") == 0 || strncmp(argv[i], "--event=", 8) == 0) {
            v = argv[i][7] == '=' ? argv[i] + 8 : (i + 1 < argc ? argv[++i] : NULL);
            if (v == NULL || *v == '\0' || strchr(v, ',') != NULL ||
                strlen(v) >= STORE_EVENT_TYPE_MAX)
                return cli_fail(CLI_USAGE, "--event needs one event type, e.g. key.revoked");
            size_t n = strlen(events);
            if (sc_cat(events + n, sizeof(events) - n, n ? "," : "", v, NULL) >= sizeof(events) - n)
                return cli_fail(CLI_USAGE, "too many --event types");
        } else if (strcmp(argv[i], "--key") == 0 || strncmp(argv[i], "--key=", 6) == 0) {
            if (cli_once(&once, argv[i]) != 0)
                return CLI_USAGE;
            key = argv[i][5] == '=' ? argv[i] + 6 : (i + 1 < argc ? argv[++i] : "");
            if (*key == '\0')
                return cli_fail(CLI_USAGE, "--key needs a KEY_ID");
        } else if (argv[i][0] != '-' && url == NULL) {
            url = argv[i];
        } else {
            return cli_fail(CLI_USAGE, "unexpected argument '%s'\n%s", argv[i], usage);
        }
    }
    if (url == NULL)
        return cli_fail(CLI_USAGE, "missing URL\n%s", usage);
    if (store_webhooks_url_check(url, err, sizeof(err)) != 0)
        return cli_fail(CLI_USAGE, "%s", err);
    if (store_secret_master_load(&cli->cfg, mk, err, sizeof(err)) != 0)
        return cli_fail(CLI_ERR, "%s", err);
    if (cli_conn(cli) == NULL || cli_admin_ready(cli) != CLI_OK) {
        store_secret_wipe(mk, sizeof(mk));
        return CLI_ERR;
    }
    r = store_webhooks_add(cli->conn, mk, url, events, key, id, secret, err, sizeof(err));
    store_secret_wipe(mk, sizeof(mk));
    if (r != 0)
        return cli_fail(cli_store_exit(r), "%s", err);
    if (json)
        cli_print_json(json_pack("{s:s, s:s, s:s}", "id", id, "url", url, "secret", secret));
    else
        printf("added webhook %s\nsigning secret (shown once): %s\n", id, secret);
    store_secret_wipe(secret, sizeof(secret));
    /* Never the signing secret; the URL without its path (store/admin.h). */
    store_admin_url_text(url, shown, sizeof(shown));
    return cli_admin_record(cli, "webhook.add", id,
                            json_pack("{s:{s:n, s:s}, s:{s:n, s:s}, s:{s:n, s:s}}", "url", "old",
                                      "new", shown, "events", "old", "new",
                                      events[0] ? events : "all", "key", "old", "new",
                                      key && key[0] ? key : "all"));
}

struct list_ctx {
    int json;
    struct cli_table *t;
};

static int
list_one(const struct store_webhook *w, void *arg)
{
    struct list_ctx *lc = arg;
    char created[32];

    cli_time(w->created_at, created, sizeof(created));
    if (lc->json) {
        cli_print_json(json_pack("{s:s, s:s, s:s, s:s?, s:s}", "id", w->id, "url", w->url, "events",
                                 w->events, "key", w->key[0] ? w->key : NULL, "created_at",
                                 created));
    } else {
        const char *cells[5] = {w->id, w->url, w->events[0] ? w->events : "all",
                                w->key[0] ? w->key : "all", created};
        cli_table_row(lc->t, cells);
    }
    return 0;
}

static int
list(struct cli *cli, int argc, char **argv)
{
    static const char *const hdr[5] = {"ID", "URL", "EVENTS", "KEY", "CREATED"};
    struct list_ctx lc = {0, NULL};
    char err[512];
    int ret = CLI_OK;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            lc.json = 1;
        else
            return cli_fail(CLI_USAGE, "unexpected argument '%s'\n%s", argv[i], usage);
    }
    if (cli_conn(cli) == NULL)
        return CLI_ERR;
    if (!lc.json)
        lc.t = cli_table_new(5, hdr);
    if (store_webhooks_each(cli->conn, list_one, &lc, err, sizeof(err)) != 0)
        ret = cli_fail(CLI_ERR, "%s", err);
    else if (lc.t != NULL)
        cli_table_print(lc.t);
    cli_table_free(lc.t);
    return ret;
}

/* The one WEBHOOK_ID argument of remove and test. */
static const char *
one_id(int argc, char **argv)
{
    if (argc != 1 || argv[0][0] == '-') {
        cli_fail(CLI_USAGE, "expected one WEBHOOK_ID\n%s", usage);
        return NULL;
    }
    return argv[0];
}

static int
remove_cmd(struct cli *cli, int argc, char **argv)
{
    const char *id = one_id(argc, argv);
    char err[512];
    int r;

    if (id == NULL)
        return CLI_USAGE;
    if (cli_conn(cli) == NULL || cli_admin_ready(cli) != CLI_OK)
        return CLI_ERR;
    if ((r = store_webhooks_remove(cli->conn, id, err, sizeof(err))) != 0)
        return cli_fail(cli_store_exit(r), "%s", err);
    printf("removed webhook %s\n", id);
    return cli_admin_record(cli, "webhook.remove", id, NULL);
}

/*
 * A sendcapd takes the event within its poll (about a second), then has
 * the attempt's timeout; the wait allows both twice over.  Polling Redis
 * every 100 ms is the CLI's own time, not the daemon's.
 */
static int
test_cmd(struct cli *cli, int argc, char **argv)
{
    const char *id = one_id(argc, argv);
    char err[512], eid[STORE_EVENT_ID_MAX], when[32];
    struct store_delivery d;
    int64_t wait_ms = 2 * (cli->cfg.webhook_timeout_ms + SC_WEBHOOK_LEASE_MARGIN_MS);
    int r;

    if (id == NULL)
        return CLI_USAGE;
    if (cli_conn(cli) == NULL)
        return CLI_ERR;
    if ((r = store_webhooks_test(cli->conn, id, eid, err, sizeof(err))) != 0)
        return cli_fail(cli_store_exit(r), "%s", err);
    printf("sent webhook.test event evt_%s to %s\n", eid, id);
    fflush(stdout);
    for (int64_t t0 = sc_mono_ms(); sc_mono_ms() - t0 < wait_ms;) {
        struct timespec ts = {0, 100 * 1000000L};
        if ((r = store_webhooks_state(cli->conn, eid, id, &d, err, sizeof(err))) < 0)
            return cli_fail(CLI_ERR, "%s", err);
        if (r == 1 && d.status == STORE_DELIVERY_DELIVERED) {
            printf("delivered: HTTP %d\n", d.last_status);
            return CLI_OK;
        }
        if (r == 1 && d.attempts > 0) {
            if (d.last_status > 0)
                printf("not delivered: the receiver answered HTTP %d", d.last_status);
            else
                printf("not delivered: no answer (connection refused, timed out or not allowed)");
            if (d.status == STORE_DELIVERY_PENDING)
                printf("; next attempt at %s\n", cli_time(d.next_at, when, sizeof(when)));
            else
                putchar('\n');
            return CLI_ERR;
        }
        if (r == 0)
            return cli_fail(CLI_ERR, "the test event's delivery state is gone (webhook removed?)");
        nanosleep(&ts, NULL);
    }
    return cli_fail(CLI_ERR,
                    "no sendcapd delivered the test event within %lld s: is one running on this "
                    "Redis? (it stays queued)",
                    (long long)(wait_ms / 1000));
}

int
cli_cmd_webhook(struct cli *cli, int argc, char **argv)
{
    static const struct cli_sub subs[] = {
        {"add", add}, {"list", list}, {"remove", remove_cmd}, {"test", test_cmd}, {NULL, NULL},
    };

    return cli_dispatch(cli, "webhook", usage, subs, argc, argv);
}
