/*
 * cli.h - what the `sendcap` command groups share: settings, the Redis
 * connection, exit codes and output helpers.
 *
 * The CLI uses store/ exactly as the daemon does, so the key schema, the
 * Lua scripts and the crypto exist once.  It never prints a real key, and
 * prints a vault key only at the moment `key issue` creates it.
 */
#ifndef SC_CLI_H
#define SC_CLI_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/config.h"
#include "store/redis.h"
#include "store/secret.h"

/* Exit codes, as documented in the README. */
enum {
    CLI_OK = 0,
    CLI_ERR = 1,      /* could not do it: Redis, master key, refused by a rule */
    CLI_USAGE = 2,    /* bad command line */
    CLI_NOTFOUND = 3, /* no such key or upstream */
};

struct cli {
    struct sc_config cfg;
    struct store_conn *conn;
    const char *actor; /* --actor, or NULL: see cli_actor */
    /* The master key, loaded by cli_admin_ready for the admin trail's MAC
     * (wiped at exit). */
    unsigned char admin_mk[SC_MASTER_KEY_LEN];
    int admin_mk_loaded;
};

/* Connect on first use; prints the error and returns NULL on failure. */
struct store_conn *cli_conn(struct cli *cli);

/* Print "sendcap: <msg>" on stderr; returns code. */
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The exit code for a failed store call's enum store_err. */
int cli_store_exit(int store_err);

/* Print one JSON object on one line to stdout, then free it. */
void cli_print_json(json_t *obj);
/* --format of the commands that print rows (log query, log query --admin,
 * usage): cli_format_parse sets *out from "table", "json" or "csv", or
 * prints the usage error and returns CLI_USAGE. */
enum cli_format { CLI_FMT_TABLE, CLI_FMT_JSON, CLI_FMT_CSV };
int cli_format_parse(const char *v, enum cli_format *out);

/* One CSV field on stdout (RFC 4180 quoting when it holds a comma, quote or
 * line break), then ',' or, for the last of a row, a newline. */
void cli_csv_field(const char *s, int last);

/* A table for people: add rows of cells, then print with aligned columns. */
struct cli_table;
struct cli_table *cli_table_new(int ncols, const char *const *headers);
void cli_table_row(struct cli_table *t, const char *const *cells);
void cli_table_print(struct cli_table *t);
void cli_table_free(struct cli_table *t);

/* "2026-11-23T13:30:15Z" or "-" for 0 (buf >= 32). */
const char *cli_time(int64_t ms, char *buf, size_t len);

/* T: RFC 3339, or a DURATION meaning "that long before now".  0 or -1. */
int cli_parse_t(const char *s, int64_t now, int64_t *out);

/* `key show`'s recent events of key_id (the last SC_EVENT_SHOW_MAX, with
 * their delivery state): appended to list when it is not NULL (--json),
 * else printed.  0, or the exit code after printing why. */
int cli_key_events(struct cli *cli, const char *key_id, json_t *list);

/* Read a real Resend key from $var (from_env != NULL) or stdin; refuses
 * empty, over-long or non-printable input.  Returns a new string (caller
 * releases it with store_secret_free), or NULL after printing why. */
char *cli_read_real_key(const char *from_env);

/* s (text an agent wrote) made safe to print on a terminal (term.c):
 * control characters, C1 controls, bidi overrides and bytes that start no
 * UTF-8 character are shown as \xNN / \uNNNN.  nl NULL: a line break is
 * shown too (one line); else it is kept, followed by nl (the body's line
 * prefix), and tabs are kept.  A new string (caller frees), or NULL. */
char *cli_term_text(const char *s, const char *nl);

/* A command group's subcommands: "--help" anywhere prints usage; otherwise
 * argv[0] picks the subcommand, which gets the rest. */
struct cli_sub {
    const char *name;
    int (*fn)(struct cli *cli, int argc, char **argv);
};
int cli_dispatch(struct cli *cli, const char *group, const char *help, const struct cli_sub *subs,
                 int argc, char **argv);

/* The single-valued options one command line gave so far.  Given twice,
 * one value would silently win over the other (a repeated --daily-cap kept
 * the last), so cli_once refuses the second: it returns 0, or CLI_USAGE
 * after printing one line that names the option.  opt is the argument as
 * written ("--redis" or "--redis=URL"); the pointers are borrowed from argv. */
struct cli_once {
    const char *seen[32];
    size_t n;
};
int cli_once(struct cli_once *o, const char *opt);

/* ---- the admin trail (cli/admin.c, store/admin.h) ---- */

/* Who makes this change: --actor TEXT, else "<OS user>@<host>".  Borrowed,
 * valid until exit. */
const char *cli_actor(struct cli *cli);

/* The global --actor TEXT / --actor=TEXT at argv[*i]: sets cli->actor and
 * moves *i past it.  CLI_OK, or CLI_USAGE after printing why. */
int cli_actor_flag(struct cli *cli, int argc, char **argv, int *i);

/* Call before a change: loads the master key the trail is sealed with and
 * refuses one this Redis was not set up with, so no change is made that
 * could not be recorded.  CLI_OK, or the exit code after printing why. */
int cli_admin_ready(struct cli *cli);

/* Record a change made (after cli_admin_ready): action, target, and the
 * changed fields {"field":{"old":…,"new":…}} (taken over; NULL for none;
 * never a secret).  CLI_OK, or CLI_ERR after saying that the change was
 * made but its record could not be written. */
int cli_admin_record(struct cli *cli, const char *action, const char *target, json_t *changes);

/* `log query --admin`: argv holds the options after "query" (--admin among
 * them).  `log verify`'s admin half: CLI_OK silently, or CLI_ERR after printing the
 * first problem. */
int cli_admin_query(struct cli *cli, int argc, char **argv);
int cli_admin_verify(struct cli *cli, const unsigned char mk[SC_MASTER_KEY_LEN], int64_t since);

int cli_cmd_init(struct cli *cli, int argc, char **argv);
int cli_cmd_upstream(struct cli *cli, int argc, char **argv);
int cli_cmd_key(struct cli *cli, int argc, char **argv);
int cli_cmd_log(struct cli *cli, int argc, char **argv);
int cli_cmd_event(struct cli *cli, int argc, char **argv);
int cli_cmd_webhook(struct cli *cli, int argc, char **argv);
int cli_cmd_usage(struct cli *cli, int argc, char **argv);
int cli_cmd_approval(struct cli *cli, int argc, char **argv);
int cli_cmd_doctor(struct cli *cli, int argc, char **argv);

/* Progress of a long call-log read on stderr, only when stderr is a
 * terminal (cli/progress.c): start before the read, end after it (erases the
 * line).  cli_progress_format is the line itself, pure. */
void cli_progress_start(const char *what);
void cli_progress_end(void);
void cli_progress_format(char *buf, size_t len, const char *what, long done, long total,
                         int64_t elapsed_ms);

/* The key's emails sent in each of the last 24 UTC hours (the current one
 * last) as a sparkline (cli/chart.h; ASCII unless the locale is UTF-8) into
 * out, with their total and the largest hour.  0, or -1 if Redis cannot say. */
int cli_usage_sparkline(struct cli *cli, const char *key_id, int64_t now_ms, char *out, size_t len,
                        long long *total, long long *peak);

#endif
