/*
 * upstreams.c - `sendcap upstream add|list|rotate|remove`.
 *
 * The real key comes from stdin or --from-env, never from argv (argv is
 * visible to every user of the machine through /proc).  It is sealed at once
 * and the clear copy wiped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/util.h"
#include "store/upstreams.h"

static const char usage[] =
    "usage: sendcap upstream add NAME [--from-env VAR]\n"
    "       sendcap upstream list [--json]\n"
    "       sendcap upstream rotate NAME [--from-env VAR]\n"
    "       sendcap upstream remove NAME [--force]\n"
    "\n"
    "add and rotate read the real Resend key from stdin (one line), or from the\n"
    "environment variable VAR with --from-env; never from the command line.\n"
    "rotate takes effect on the next call of every vault key on NAME.\n"
    "remove refuses while vault keys that are not revoked use NAME; --force revokes them.\n";

/* The fingerprint (re_…last4) of upstream name into fp, "" if there is
 * none: what the admin trail records instead of the real key. */
struct fp_ctx {
    const char *name;
    char *fp;
    size_t len;
};

static int
fp_one(const struct store_upstream *u, void *arg)
{
    struct fp_ctx *f = arg;

    if (strcmp(u->name, f->name) != 0)
        return 0;
    sc_strlcpy(f->fp, u->fingerprint, f->len);
    return 1;
}

static void
fingerprint_of(struct cli *cli, const char *name, char *fp, size_t len)
{
    struct fp_ctx f = {name, fp, len};
    char err[512];

    fp[0] = '\0';
    store_upstreams_each(cli->conn, fp_one, &f, err, sizeof(err));
}

/* A fingerprint as a changed field's value: null when there is none. */
static json_t *
fp_json(const char *fp)
{
    return fp[0] ? json_string(fp) : json_null();
}

static int
put(struct cli *cli, int argc, char **argv, int rotate)
{
    const char *name = NULL, *from_env = NULL;
    unsigned char mk[SC_MASTER_KEY_LEN];
    char err[512], *real = NULL, fp_old[32], fp_new[32];
    int ret = CLI_ERR, r;

    struct cli_once once = {{NULL}, 0};

    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "--from-env", 10) == 0 && cli_once(&once, argv[i]) != 0)
            return CLI_USAGE;
        if (strcmp(argv[i], "--from-env") == 0 && i + 1 < argc)
            from_env = argv[++i];
        else if (strncmp(argv[i], "--from-env=", 11) == 0)
            from_env = argv[i] + 11;
        else if (argv[i][0] != '-' && name == NULL)
            name = argv[i];
        else
            return cli_fail(CLI_USAGE, "unexpected argument '%s'\n%s", argv[i], usage);
    }
    if (name == NULL)
        return cli_fail(CLI_USAGE, "missing upstream NAME\n%s", usage);
    if (!store_upstreams_name_valid(name))
        return cli_fail(CLI_USAGE, "upstream name must be 1-64 of [A-Za-z0-9._-]");
    if (store_secret_master_load(&cli->cfg, mk, err, sizeof(err)) != 0)
        return cli_fail(CLI_ERR, "%s", err);
    if (cli_conn(cli) == NULL || cli_admin_ready(cli) != CLI_OK)
        goto done;
    fingerprint_of(cli, name, fp_old, sizeof(fp_old));
    real = cli_read_real_key(from_env);
    if (real == NULL) {
        ret = CLI_USAGE;
        goto done;
    }
    r = store_upstreams_put(cli->conn, mk, name, real, rotate, err, sizeof(err));
    if (r != 0) {
        ret = cli_fail(cli_store_exit(r), "%s", err);
        goto done;
    }
    printf("%s upstream %s\n", rotate ? "rotated" : "added", name);
    fingerprint_of(cli, name, fp_new, sizeof(fp_new));
    ret = cli_admin_record(
        cli, rotate ? "upstream.rotate" : "upstream.add", name,
        json_pack("{s:{s:o, s:o}}", "fingerprint", "old", fp_json(fp_old), "new", fp_json(fp_new)));
done:
    store_secret_free(real);
    store_secret_wipe(mk, sizeof(mk));
    return ret;
}

struct list_ctx {
    int json;
    struct cli_table *t;
};

static int
list_one(const struct store_upstream *u, void *arg)
{
    struct list_ctx *lc = arg;
    char created[32], rotated[32], keys[24];

    if (lc->json) {
        cli_print_json(
            json_pack("{s:s, s:s, s:s, s:s?, s:I}", "name", u->name, "fingerprint", u->fingerprint,
                      "created_at", cli_time(u->created_at, created, sizeof(created)), "rotated_at",
                      u->rotated_at ? cli_time(u->rotated_at, rotated, sizeof(rotated)) : NULL,
                      "vault_keys", (json_int_t)u->keys));
    } else {
        const char *cells[5] = {u->name, u->fingerprint,
                                cli_time(u->created_at, created, sizeof(created)),
                                cli_time(u->rotated_at, rotated, sizeof(rotated)), keys};
        snprintf(keys, sizeof(keys), "%ld", u->keys);
        cli_table_row(lc->t, cells);
    }
    return 0;
}

static int
list(struct cli *cli, int argc, char **argv)
{
    static const char *const hdr[5] = {"NAME", "KEY", "CREATED", "ROTATED", "VAULT KEYS"};
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
    if (store_upstreams_each(cli->conn, list_one, &lc, err, sizeof(err)) != 0)
        ret = cli_fail(CLI_ERR, "%s", err);
    else if (lc.t != NULL)
        cli_table_print(lc.t);
    cli_table_free(lc.t);
    return ret;
}

static int
remove_cmd(struct cli *cli, int argc, char **argv)
{
    const char *name = NULL;
    int force = 0, r;
    long live = 0;
    char err[512], fp[32];
    json_t *changes;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--force") == 0)
            force = 1;
        else if (argv[i][0] != '-' && name == NULL)
            name = argv[i];
        else
            return cli_fail(CLI_USAGE, "unexpected argument '%s'\n%s", argv[i], usage);
    }
    if (name == NULL)
        return cli_fail(CLI_USAGE, "missing upstream NAME\n%s", usage);
    if (cli_conn(cli) == NULL || cli_admin_ready(cli) != CLI_OK)
        return CLI_ERR;
    fingerprint_of(cli, name, fp, sizeof(fp));
    r = store_upstreams_remove(cli->conn, name, force, &live, err, sizeof(err));
    if (r < 0)
        return cli_fail(cli_store_exit(r), "%s", err);
    if (r == 1)
        return cli_fail(CLI_ERR,
                        "upstream %s is used by %ld vault key%s; revoke them first, or use "
                        "--force to revoke them with it",
                        name, live, live == 1 ? "" : "s");
    if (live > 0)
        printf("removed upstream %s and revoked %ld vault key%s\n", name, live,
               live == 1 ? "" : "s");
    else
        printf("removed upstream %s\n", name);
    changes = json_pack("{s:{s:o, s:n}}", "fingerprint", "old", fp_json(fp), "new");
    if (live > 0)
        json_object_set_new(changes, "vault_keys_revoked",
                            json_pack("{s:n, s:I}", "old", "new", (json_int_t)live));
    return cli_admin_record(cli, "upstream.remove", name, changes);
}

static int
add(struct cli *cli, int argc, char **argv)
{
    return put(cli, argc, argv, 0);
}

static int
rotate_cmd(struct cli *cli, int argc, char **argv)
{
    return put(cli, argc, argv, 1);
}

int
cli_cmd_upstream(struct cli *cli, int argc, char **argv)
{
    static const struct cli_sub subs[] = {
        {"add", add}, {"rotate", rotate_cmd}, {"list", list}, {"remove", remove_cmd}, {NULL, NULL},
    };

    return cli_dispatch(cli, "upstream", usage, subs, argc, argv);
}
