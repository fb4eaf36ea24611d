/*
 * main.c - `sendcap`, the admin and auditor CLI: global settings, dispatch
 * to the command groups, and the helpers they share.
 *
 * Shared settings (--redis, --master-key-file, ...) may stand anywhere on the
 * line; they are taken out before the command group sees its arguments.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"
#include "common/version.h"

static const char usage[] =
    "usage: sendcap [settings] COMMAND ...\n"
    "\n"
    "Commands:\n"
    "  init                                   create the master key file (0600) if missing\n"
    "  upstream add NAME [--from-env VAR]     add a real Resend key (read from stdin or $VAR)\n"
    "  upstream list [--json]                 list upstreams\n"
    "  upstream rotate NAME [--from-env VAR]  replace an upstream's real key; keys follow at once\n"
    "  upstream remove NAME [--force]         remove (--force also revokes its vault keys)\n"
    "  key issue --upstream NAME [options]    issue a vault key (printed once)\n"
    "  key list [--json] [--all]              list vault keys (--all: revoked and expired too)\n"
    "  key show KEY_ID [--json]               show one key\n"
    "  key revoke KEY_ID                      revoke; effective on the very next call\n"
    "  key rotate KEY_ID [--grace DURATION]   new vault key, same policy and counters\n"
    "  log query [filters] [--format F]       the call log (table, json or csv), newest last\n"
    "  log tail [filters]                     follow new calls\n"
    "  log query --admin [--since T] [--until T] [--format F]\n"
    "                                         the admin trail: who changed what\n"
    "  log verify [--since T]                 check the MAC chains of the call log and admin "
    "trail\n"
    "  event list [--since T] [--type TYPE] [--key KEY_ID] [--json]\n"
    "                                         events and their delivery state\n"
    "  webhook add URL [--event T]... [--key K]  add a webhook (prints its secret once)\n"
    "  webhook list|remove ID|test ID         list, remove, or test-deliver to a webhook\n"
    "  approval list [--key KEY_ID] [--json]  held sends of gated keys, waiting for a person\n"
    "  approval show|approve|reject HELD_ID   read one, forward it once, or refuse it\n"
    "  usage [--key KEY_ID] [--by hour|day]   sends, denials and caps per hour or day, charted\n"
    "  doctor [--upstream]                    check Redis, the master key and upstreams\n"
    "\n"
    "Every change is recorded in the admin trail with its actor: --actor TEXT, else\n"
    "the OS user@host.\n"
    "Run 'sendcap COMMAND --help' for a command's options.\n"
    "Exit codes: 0 ok, 1 failed, 2 bad usage, 3 not found.\n\n";

int
cli_store_exit(int store_err)
{
    return store_err == STORE_ERR_NOT_FOUND ? CLI_NOTFOUND : CLI_ERR;
}

int
cli_fail(int code, const char *fmt, ...)
{
    va_list ap;

    fputs("sendcap: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

int
cli_once(struct cli_once *o, const char *opt)
{
    size_t len = strcspn(opt, "=");

    for (size_t i = 0; i < o->n; i++)
        if (strncmp(o->seen[i], opt, len) == 0 && strcspn(o->seen[i], "=") == len)
            return cli_fail(CLI_USAGE, "%.*s is given more than once; give it once", (int)len, opt);
    if (o->n < sizeof(o->seen) / sizeof(o->seen[0]))
        o->seen[o->n++] = opt;
    return 0;
}

int
cli_dispatch(struct cli *cli, const char *group, const char *help, const struct cli_sub *subs,
             int argc, char **argv)
{
    if (argc == 0)
        return cli_fail(CLI_USAGE, "missing subcommand\n%s", help);
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(help, stdout);
            return CLI_OK;
        }
    for (const struct cli_sub *s = subs; s->name != NULL; s++)
        if (strcmp(argv[0], s->name) == 0)
            return s->fn(cli, argc - 1, argv + 1);
    return cli_fail(CLI_USAGE, "unknown subcommand '%s %s'\n%s", group, argv[0], help);
}

struct store_conn *
cli_conn(struct cli *cli)
{
    struct store_redis_addr addr;
    char err[512];

    if (cli->conn != NULL)
        return cli->conn;
    if (store_redis_addr_parse(cli->cfg.redis_url, &addr, err, sizeof(err)) != 0 ||
        store_redis_addr_sentinels(&addr, cli->cfg.redis_sentinels, cli->cfg.redis_master, err,
                                   sizeof(err)) != 0) {
        cli_fail(CLI_ERR, "%s", err);
        return NULL;
    }
    cli->conn = store_redis_connect(&addr, err, sizeof(err));
    store_secret_wipe(addr.password, sizeof(addr.password));
    if (cli->conn == NULL)
        cli_fail(CLI_ERR, "%s", err);
    return cli->conn;
}

void
cli_print_json(json_t *obj)
{
    char *s = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII);

    if (s != NULL) {
        puts(s);
        free(s);
    }
    json_decref(obj);
}

int
cli_format_parse(const char *v, enum cli_format *out)
{
    if (strcmp(v, "table") == 0)
        *out = CLI_FMT_TABLE;
    else if (strcmp(v, "json") == 0)
        *out = CLI_FMT_JSON;
    else if (strcmp(v, "csv") == 0)
        *out = CLI_FMT_CSV;
    else
        return cli_fail(CLI_USAGE, "--format must be table, json or csv");
    return 0;
}

void
cli_csv_field(const char *s, int last)
{
    if (strpbrk(s, ",\"\r\n") != NULL) {
        putchar('"');
        for (; *s; s++) {
            if (*s == '"')
                putchar('"');
            putchar(*s);
        }
        putchar('"');
    } else {
        fputs(s, stdout);
    }
    putchar(last ? '\n' : ',');
}

struct cli_table {
    int ncols;
    size_t nrows, cap;
    char **cells; /* nrows * ncols, row 0 is the header */
};

struct cli_table *
cli_table_new(int ncols, const char *const *headers)
{
    struct cli_table *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    t->ncols = ncols;
    cli_table_row(t, headers);
    return t;
}

void
cli_table_row(struct cli_table *t, const char *const *cells)
{
    if (t->nrows == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 16;
        char **n = realloc(t->cells, ncap * (size_t)t->ncols * sizeof(char *));
        if (n == NULL)
            return;
        t->cells = n;
        t->cap = ncap;
    }
    for (int i = 0; i < t->ncols; i++)
        t->cells[t->nrows * (size_t)t->ncols + (size_t)i] = strdup(cells[i] ? cells[i] : "");
    t->nrows++;
}

/* Display width of a UTF-8 string: count the bytes that start a character. */
static size_t
width(const char *s)
{
    size_t w = 0;

    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            w++;
    return w;
}

void
cli_table_print(struct cli_table *t)
{
    size_t w[32] = {0};

    for (size_t r = 0; r < t->nrows; r++)
        for (int c = 0; c < t->ncols && c < 32; c++) {
            const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];
            if (s != NULL && width(s) > w[c])
                w[c] = width(s);
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (int c = 0; c < t->ncols && c < 32; c++) {
            const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];
            if (s == NULL)
                s = "";
            if (c == t->ncols - 1)
                printf("%s", s);
            else
                printf("%s%*s", s, (int)(w[c] - width(s) + 2), "");
        }
        putchar('\n');
    }
}

void
cli_table_free(struct cli_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

const char *
cli_time(int64_t ms, char *buf, size_t len)
{
    if (ms <= 0) {
        sc_strlcpy(buf, "-", len);
        return buf;
    }
    sc_format_time_ms(ms, buf, len);
    /* People read seconds; drop the milliseconds. */
    if (strlen(buf) == 24)
        memcpy(buf + 19, "Z", 2);
    return buf;
}

char *
cli_read_real_key(const char *from_env)
{
    char buf[SC_REAL_KEY_MAX + 2];
    size_t n = 0;
    char *out;

    if (from_env != NULL) {
        const char *v = getenv(from_env);
        if (v == NULL || *v == '\0') {
            cli_fail(CLI_USAGE, "environment variable %s is not set", from_env);
            return NULL;
        }
        if (strlen(v) > SC_REAL_KEY_MAX) {
            cli_fail(CLI_USAGE, "the key in %s is too long", from_env);
            return NULL;
        }
        sc_strlcpy(buf, v, sizeof(buf));
        n = strlen(buf);
    } else {
        struct termios old, quiet;
        int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
        int c;

        if (tty) {
            fputs("Paste the Resend API key, then press Enter: ", stderr);
            quiet = old;
            quiet.c_lflag &= ~(tcflag_t)ECHO;
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        }
        while ((c = getchar()) != EOF && c != '\n') {
            if (n < sizeof(buf) - 1)
                buf[n++] = (char)c;
            else
                n = sizeof(buf); /* too long: remember, keep draining */
        }
        if (tty) {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
            fputc('\n', stderr);
        }
        if (n >= sizeof(buf) - 1) {
            store_secret_wipe(buf, sizeof(buf));
            cli_fail(CLI_USAGE, "the key on stdin is too long (at most %d characters)",
                     SC_REAL_KEY_MAX);
            return NULL;
        }
        buf[n] = '\0';
    }
    while (n > 0 && (buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        buf[--n] = '\0';
    if (n == 0) {
        cli_fail(CLI_USAGE, "no key given: pipe it on stdin or use --from-env VAR");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (buf[i] <= ' ' || buf[i] > '~') {
            store_secret_wipe(buf, sizeof(buf));
            cli_fail(CLI_USAGE, "the key holds a space or a non-printable character");
            return NULL;
        }
    }
    if (strncmp(buf, "re_", 3) != 0)
        fprintf(stderr, "sendcap: warning: Resend API keys start with re_; this one does not\n");
    out = strdup(buf);
    store_secret_wipe(buf, sizeof(buf));
    if (out == NULL)
        cli_fail(CLI_ERR, "out of memory");
    return out;
}

int
main(int argc, char **argv)
{
    struct cli cli;
    char err[512];
    char **rest;
    int nrest = 0, ret;
    struct rlimit nocore = {0, 0};
    struct cli_once global = {{NULL}, 0};

    /* No core dump may carry a real key. */
    setrlimit(RLIMIT_CORE, &nocore);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

    memset(&cli, 0, sizeof(cli));
    if (sc_config_init(&cli.cfg, err, sizeof(err)) != 0)
        return cli_fail(CLI_USAGE, "%s", err);
    rest = calloc((size_t)argc + 1, sizeof(char *));
    if (rest == NULL)
        return cli_fail(CLI_ERR, "out of memory");
    for (int i = 1; i < argc;) {
        int at = i, r;

        if (strcmp(argv[i], "--actor") == 0 || strncmp(argv[i], "--actor=", 8) == 0) {
            r = cli_actor_flag(&cli, argc, argv, &i);
            if (r == CLI_OK)
                r = cli_once(&global, argv[at]);
            if (r != CLI_OK) {
                free(rest);
                return r;
            }
            continue;
        }
        r = sc_config_flag(&cli.cfg, argc, argv, &i, err, sizeof(err));
        if (r < 0) {
            free(rest);
            return cli_fail(CLI_USAGE, "%s", err);
        }
        if (r > 0 && cli_once(&global, argv[at]) != 0) {
            free(rest);
            return CLI_USAGE;
        }
        if (r == 0)
            rest[nrest++] = argv[i++];
    }
    if (sc_config_check(&cli.cfg, err, sizeof(err)) != 0) {
        free(rest);
        return cli_fail(CLI_USAGE, "%s", err);
    }

    if (nrest == 0) {
        free(rest);
        return cli_fail(CLI_USAGE, "no command given (try 'sendcap --help')");
    }
    if (strcmp(rest[0], "--help") == 0 || strcmp(rest[0], "-h") == 0 ||
        strcmp(rest[0], "help") == 0) {
        fputs(usage, stdout);
        fputs(sc_config_help, stdout);
        free(rest);
        return CLI_OK;
    }
    if (strcmp(rest[0], "--version") == 0) {
        printf("sendcap %s (commit %s)\n", sc_version, sc_commit);
        ret = CLI_OK;
    } else if (strcmp(rest[0], "init") == 0) {
        ret = cli_cmd_init(&cli, nrest - 1, rest + 1);
    } else if (strcmp(rest[0], "upstream") == 0) {
        ret = cli_cmd_upstream(&cli, nrest - 1, rest + 1);
    } else if (strcmp(rest[0], "key") == 0) {
        ret = cli_cmd_key(&cli, nrest - 1, rest + 1);
    } else if (strcmp(rest[0], "log") == 0) {
        ret = cli_cmd_log(&cli, nrest - 1, rest + 1);
    } else if (strcmp(rest[0], "event") == 0) {
        ret = cli_cmd_event(&cli, nrest - 1, rest + 1);
    } else if (strcmp(rest[0], "webhook") == 0) {
        ret = cli_cmd_webhook(&cli, nrest - 1, rest + 1);
    } else if (strcmp(rest[0], "approval") == 0) {
        ret = cli_cmd_approval(&cli, nrest - 1, rest + 1);
    } else if (strcmp(rest[0], "usage") == 0) {
        ret = cli_cmd_usage(&cli, nrest - 1, rest + 1);
    } else if (strcmp(rest[0], "doctor") == 0) {
        ret = cli_cmd_doctor(&cli, nrest - 1, rest + 1);
    } else {
        ret = cli_fail(CLI_USAGE, "unknown command '%s' (try 'sendcap --help')", rest[0]);
    }
    store_redis_free(cli.conn);
    store_secret_wipe(cli.admin_mk, sizeof(cli.admin_mk));
    free(rest);
    return ret;
}
