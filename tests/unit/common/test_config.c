/*
 * test_config.c - the shared settings: flag > environment > file > default,
 * the settings file's syntax, bad values, and the cross-field check.  Each
 * case is a row: environment, file, flags, and what must come out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/config.h"
#include "common/limits.h"

extern char **environ;

struct row {
    const char *name;
    const char *env[4];  /* NAME=value */
    const char *file;    /* SENDCAP_CONFIG contents, NULL: none */
    const char *argv[6]; /* flags, NULL-terminated */
    int rc;              /* 0, or -1 from init or a flag */
    const char *err;     /* substring of err when rc is -1 */
    const char *listen;  /* expected, NULL: not checked */
    int64_t max_body;    /* expected, 0: not checked */
    int64_t workers;     /* expected, 0: not checked */
};

/* One row per line reads as the table it is. */
/* clang-format off */
static const struct row rows[] = {
    {"defaults", {NULL}, NULL, {NULL}, 0, NULL, "127.0.0.1:8025", SC_HTTP_DEFAULT_MAX_BODY, 1},
    {"file over default", {NULL}, "SENDCAP_LISTEN=10.0.0.1:1\nSENDCAP_MAX_BODY=100\n", {NULL}, 0,
     NULL, "10.0.0.1:1", 100, 1},
    {"environment over file", {"SENDCAP_LISTEN=10.0.0.2:2"}, "SENDCAP_LISTEN=10.0.0.1:1\n", {NULL},
     0, NULL, "10.0.0.2:2", 0, 0},
    {"flag over environment over file", {"SENDCAP_LISTEN=10.0.0.2:2", "SENDCAP_WORKERS=3"},
     "SENDCAP_LISTEN=10.0.0.1:1\nSENDCAP_WORKERS=2\n", {"--listen", "10.0.0.3:3", NULL}, 0, NULL,
     "10.0.0.3:3", 0, 3},
    {"--flag=value form", {NULL}, NULL, {"--max-body=4096", NULL}, 0, NULL, NULL, 4096, 0},
    {"empty environment value is unset", {"SENDCAP_LISTEN="}, "SENDCAP_LISTEN=10.0.0.1:1\n",
     {NULL}, 0, NULL, "10.0.0.1:1", 0, 0},
    {"file syntax: comments, export, quotes, blanks, CR",
     {NULL},
     "# a comment\n\n  export SENDCAP_LISTEN=\"10.0.0.4:4\"\r\nSENDCAP_WORKERS='5'  \n",
     {NULL}, 0, NULL, "10.0.0.4:4", 0, 5},
    {"empty value in the file keeps the default", {NULL}, "SENDCAP_LISTEN=\n", {NULL}, 0, NULL,
     "127.0.0.1:8025", 0, 0},
    {"a repeated flag: the later one is applied (callers refuse repeats first)", {NULL}, NULL,
     {"--workers", "2", "--workers", "4", NULL}, 0, NULL, NULL, 0, 4},
    {"bad byte count", {NULL}, NULL, {"--max-body", "0", NULL}, -1, "--max-body: expected a byte",
     NULL, 0, 0},
    {"junk byte count", {NULL}, NULL, {"--max-body=12k", NULL}, -1, "got '12k'", NULL, 0, 0},
    {"workers out of range in the environment", {"SENDCAP_WORKERS=65"}, NULL, {NULL}, -1,
     "SENDCAP_WORKERS: expected 1 to 64", NULL, 0, 0},
    {"log format", {NULL}, NULL, {"--log-format", "xml", NULL}, -1, "must be text or json", NULL,
     0, 0},
    {"retention under a minute", {NULL}, NULL, {"--log-retention", "30s", NULL}, -1,
     "at least 1m", NULL, 0, 0},
    {"upstream timeout not a duration", {NULL}, NULL, {"--upstream-timeout", "30", NULL}, -1,
     "duration like 30s", NULL, 0, 0},
    {"flag without its value", {NULL}, NULL, {"--listen", NULL}, -1, "--listen needs a value", NULL,
     0, 0},
    {"unknown setting in the file", {NULL}, "SENDCAP_LISTN=1\n", {NULL}, -1,
     ":1: unknown setting SENDCAP_LISTN", NULL, 0, 0},
    {"master key itself in the file", {NULL}, "SENDCAP_MASTER_KEY=abc\n", {NULL}, -1,
     "put the master key in a file", NULL, 0, 0},
    {"line without =", {NULL}, "# ok\nSENDCAP_LISTEN\n", {NULL}, -1, ":2: expected NAME=value",
     NULL, 0, 0},
    {"bad value in the file", {NULL}, "SENDCAP_MAX_CONNS=0\n", {NULL}, -1,
     "SENDCAP_MAX_CONNS: expected 1 to 1000000", NULL, 0, 0},
};
/* clang-format on */

static char cfg_path[64];

static void
clear_env(void)
{
    /* Every SENDCAP_* the test process inherited or a row set. */
    for (;;) {
        char name[128];
        int found = 0;
        for (char **e = environ; *e != NULL; e++) {
            if (strncmp(*e, "SENDCAP_", 8) == 0) {
                size_t n = strcspn(*e, "=");
                if (n < sizeof(name)) {
                    memcpy(name, *e, n);
                    name[n] = '\0';
                    found = 1;
                    break;
                }
            }
        }
        if (!found)
            return;
        unsetenv(name);
    }
}

static void
write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void
test_rows(void **state)
{
    (void)state;
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        const struct row *t = &rows[r];
        struct sc_config cfg;
        char err[256] = "";
        char *argv[8];
        int argc = 0, rc;

        print_message("case: %s\n", t->name);
        clear_env();
        for (int k = 0; t->env[k] != NULL; k++) {
            char buf[128], *eq;
            snprintf(buf, sizeof(buf), "%s", t->env[k]);
            eq = strchr(buf, '=');
            *eq = '\0';
            setenv(buf, eq + 1, 1);
        }
        if (t->file != NULL) {
            write_file(cfg_path, t->file, strlen(t->file));
            setenv("SENDCAP_CONFIG", cfg_path, 1);
        }
        for (; t->argv[argc] != NULL; argc++)
            argv[argc] = (char *)t->argv[argc];
        argv[argc] = NULL;

        rc = sc_config_init(&cfg, err, sizeof(err));
        for (int i = 0; rc == 0 && i < argc;) {
            int f = sc_config_flag(&cfg, argc, argv, &i, err, sizeof(err));
            assert_int_not_equal(f, 0); /* every flag in the rows is a shared one */
            rc = f < 0 ? -1 : 0;
        }
        assert_int_equal(rc, t->rc);
        if (t->rc != 0) {
            if (strstr(err, t->err) == NULL)
                fail_msg("%s: err '%s' lacks '%s'", t->name, err, t->err);
        } else {
            if (t->listen != NULL)
                assert_string_equal(cfg.listen, t->listen);
            if (t->max_body != 0)
                assert_int_equal(cfg.max_body, t->max_body);
            if (t->workers != 0)
                assert_int_equal(cfg.workers, t->workers);
        }
        sc_config_free(&cfg);
    }
    clear_env();
}

/* A settings file past SC_CONFIG_FILE_MAX is refused whole, not read in part. */
static void
test_file_too_large(void **state)
{
    struct sc_config cfg;
    char err[256] = "";
    size_t n = SC_CONFIG_FILE_MAX + 1;
    char *big = malloc(n);

    (void)state;
    assert_non_null(big);
    memset(big, '#', n);
    big[n - 1] = '\n';
    clear_env();
    write_file(cfg_path, big, n);
    setenv("SENDCAP_CONFIG", cfg_path, 1);
    assert_int_equal(sc_config_init(&cfg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "at most 64 KiB"));
    sc_config_free(&cfg);
    /* One byte less is read. */
    write_file(cfg_path, big, n - 1);
    assert_int_equal(sc_config_init(&cfg, err, sizeof(err)), 0);
    sc_config_free(&cfg);
    free(big);
    clear_env();
}

/* A flag that is not a shared one is left to the program (0, not moved). */
static void
test_not_shared(void **state)
{
    struct sc_config cfg;
    char err[256] = "";
    char *argv[] = {"--listener", "x", "--config", "f", NULL};
    int i = 0;

    (void)state;
    clear_env();
    assert_int_equal(sc_config_init(&cfg, err, sizeof(err)), 0);
    assert_int_equal(sc_config_flag(&cfg, 4, argv, &i, err, sizeof(err)), 0);
    assert_int_equal(i, 0);
    i = 2;
    assert_int_equal(sc_config_flag(&cfg, 4, argv, &i, err, sizeof(err)), 0);
    assert_int_equal(i, 2);
    sc_config_free(&cfg);
}

static void
test_check(void **state)
{
    static const struct {
        const char *prefix, *cert, *key;
        int rc;
    } cases[] = {
        {"", NULL, NULL, 0},        {"/resend/v1", NULL, NULL, 0}, {"/resend/", NULL, NULL, -1},
        {"resend", NULL, NULL, -1}, {"/a//b", NULL, NULL, -1},     {"/a/../b", NULL, NULL, -1},
        {"/a%2f", NULL, NULL, -1},  {"", "c.pem", NULL, -1},       {"", NULL, "k.pem", -1},
        {"", "c.pem", "k.pem", 0},
    };
    struct sc_config cfg;
    char err[256];

    (void)state;
    clear_env();
    assert_int_equal(sc_config_init(&cfg, err, sizeof(err)), 0);
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        cfg.path_prefix = cases[k].prefix;
        cfg.tls_cert = cases[k].cert;
        cfg.tls_key = cases[k].key;
        if (sc_config_check(&cfg, err, sizeof(err)) != cases[k].rc)
            fail_msg("case %zu (prefix '%s') should give %d", k, cases[k].prefix, cases[k].rc);
    }
    sc_config_free(&cfg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_file_too_large),
        cmocka_unit_test(test_not_shared),
        cmocka_unit_test(test_check),
    };
    int fd, rc;

    snprintf(cfg_path, sizeof(cfg_path), "/tmp/sendcap-test-config-XXXXXX");
    if ((fd = mkstemp(cfg_path)) < 0)
        return 1;
    close(fd);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    unlink(cfg_path);
    return rc;
}
