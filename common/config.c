/*
 * config.c - shared settings: defaults, environment, flags.  See config.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "limits.h"
#include "util.h"

const char sc_config_help[] =
    "Settings (flag, else environment, else default):\n"
    "  --listen HOST:PORT         SENDCAP_LISTEN            127.0.0.1:8025\n"
    "  --redis URL                SENDCAP_REDIS_URL         redis://127.0.0.1:6379/0\n"
    "                             (redis://[:password@]host:port/db or unix:///path/redis.sock)\n"
    "  --upstream-url URL         SENDCAP_UPSTREAM_URL      https://api.resend.com\n"
    "  --master-key-file PATH     SENDCAP_MASTER_KEY_FILE   (or SENDCAP_MASTER_KEY, base64)\n"
    "  --max-body BYTES           SENDCAP_MAX_BODY          41943040\n"
    "  --upstream-timeout DUR     SENDCAP_UPSTREAM_TIMEOUT  30s\n"
    "  --path-prefix PATH         SENDCAP_PATH_PREFIX       (none)\n"
    "  --log-level LEVEL          SENDCAP_LOG_LEVEL         info (debug|info|warn|error)\n"
    "  --log-retention DUR        SENDCAP_LOG_RETENTION     30d (how long the call log is kept)\n"
    "  --workers N                SENDCAP_WORKERS           1 (sendcapd processes sharing --listen)\n"
    "  --metrics-listen HOST:PORT SENDCAP_METRICS_LISTEN    127.0.0.1:9025 (/healthz /readyz /metrics; off)\n";

enum opt { O_LISTEN, O_REDIS, O_UPSTREAM, O_MKF, O_MAXBODY, O_UTIMEOUT, O_PREFIX, O_LOGLEVEL,
           O_RETENTION, O_WORKERS, O_METRICS };

static const struct {
    const char *flag;
    const char *env;
    enum opt opt;
} opts[] = {
    {"--listen", "SENDCAP_LISTEN", O_LISTEN},
    {"--redis", "SENDCAP_REDIS_URL", O_REDIS},
    {"--upstream-url", "SENDCAP_UPSTREAM_URL", O_UPSTREAM},
    {"--master-key-file", "SENDCAP_MASTER_KEY_FILE", O_MKF},
    {"--max-body", "SENDCAP_MAX_BODY", O_MAXBODY},
    {"--upstream-timeout", "SENDCAP_UPSTREAM_TIMEOUT", O_UTIMEOUT},
    {"--path-prefix", "SENDCAP_PATH_PREFIX", O_PREFIX},
    {"--log-level", "SENDCAP_LOG_LEVEL", O_LOGLEVEL},
    {"--log-retention", "SENDCAP_LOG_RETENTION", O_RETENTION},
    {"--workers", "SENDCAP_WORKERS", O_WORKERS},
    {"--metrics-listen", "SENDCAP_METRICS_LISTEN", O_METRICS},
};

static int
apply(struct sc_config *cfg, enum opt o, const char *name, const char *v, char *err,
      size_t errlen)
{
    int64_t n;

    switch (o) {
    case O_LISTEN:
        cfg->listen = v;
        break;
    case O_REDIS:
        cfg->redis_url = v;
        break;
    case O_UPSTREAM:
        cfg->upstream_url = v;
        break;
    case O_MKF:
        cfg->master_key_file = v;
        break;
    case O_PREFIX:
        cfg->path_prefix = v;
        break;
    case O_LOGLEVEL:
        cfg->log_level = v;
        break;
    case O_MAXBODY:
        if (sc_parse_i64(v, 1, INT64_C(1) << 40, &n) != 0) {
            snprintf(err, errlen, "%s: expected a byte count, got '%s'", name, v);
            return -1;
        }
        cfg->max_body = n;
        break;
    case O_METRICS:
        cfg->metrics_listen = v;
        break;
    case O_WORKERS:
        if (sc_parse_i64(v, 1, 64, &n) != 0) {
            snprintf(err, errlen, "%s: expected 1 to 64, got '%s'", name, v);
            return -1;
        }
        cfg->workers = n;
        break;
    case O_RETENTION:
        if (sc_parse_duration_ms(v, &n) != 0 || n < 60000) {
            snprintf(err, errlen, "%s: expected a duration of at least 1m like 30d, got '%s'",
                     name, v);
            return -1;
        }
        cfg->log_retention_ms = n;
        break;
    case O_UTIMEOUT:
        if (sc_parse_duration_ms(v, &n) != 0 || n <= 0) {
            snprintf(err, errlen, "%s: expected a duration like 30s, got '%s'", name, v);
            return -1;
        }
        cfg->upstream_timeout_ms = n;
        break;
    }
    return 0;
}

int
sc_config_init(struct sc_config *cfg, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->listen = "127.0.0.1:8025";
    cfg->redis_url = "redis://127.0.0.1:6379/0";
    cfg->upstream_url = "https://api.resend.com";
    cfg->path_prefix = "";
    cfg->log_level = "info";
    cfg->max_body = SC_HTTP_DEFAULT_MAX_BODY;
    cfg->upstream_timeout_ms = SC_UPSTREAM_DEFAULT_TIMEOUT_MS;
    cfg->log_retention_ms = SC_LOG_DEFAULT_RETENTION_MS;
    cfg->workers = 1;
    cfg->metrics_listen = "127.0.0.1:9025";
    cfg->master_key_env = getenv("SENDCAP_MASTER_KEY");
    if (cfg->master_key_env != NULL && *cfg->master_key_env == '\0')
        cfg->master_key_env = NULL;

    for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++) {
        const char *v = getenv(opts[k].env);
        if (v == NULL || *v == '\0')
            continue;
        if (apply(cfg, opts[k].opt, opts[k].env, v, err, errlen) != 0)
            return -1;
    }
    return 0;
}

int
sc_config_flag(struct sc_config *cfg, int argc, char **argv, int *i, char *err, size_t errlen)
{
    const char *arg = argv[*i];

    for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++) {
        size_t fl = strlen(opts[k].flag);
        const char *v;

        if (strncmp(arg, opts[k].flag, fl) != 0)
            continue;
        if (arg[fl] == '=') {
            v = arg + fl + 1;
            *i += 1;
        } else if (arg[fl] == '\0') {
            if (*i + 1 >= argc) {
                snprintf(err, errlen, "%s needs a value", opts[k].flag);
                return -1;
            }
            v = argv[*i + 1];
            *i += 2;
        } else {
            continue;
        }
        return apply(cfg, opts[k].opt, opts[k].flag, v, err, errlen) == 0 ? 1 : -1;
    }
    return 0;
}

int
sc_config_check(const struct sc_config *cfg, char *err, size_t errlen)
{
    const char *p = cfg->path_prefix;
    size_t n = strlen(p);

    if (n > 0 && (p[0] != '/' || p[n - 1] == '/' || strstr(p, "//") != NULL ||
                  strchr(p, '%') != NULL || strstr(p, "..") != NULL || n > 256)) {
        snprintf(err, errlen,
                 "--path-prefix must look like /resend/v1 (leading slash, no trailing slash), "
                 "got '%s'",
                 p);
        return -1;
    }
    return 0;
}
