/*
 * config.c - shared settings: defaults, environment, flags.  See config.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "limits.h"
#include "util.h"

/* clang-format off */
const char sc_config_help[] =
    "Settings (flag, else environment, else default):\n"
    "  (SENDCAP_CONFIG=FILE, or sendcapd --config FILE: a file of SENDCAP_*=value lines,\n"
    "   read before the environment; sendcapd re-reads it on SIGHUP)\n"
    "  --listen HOST:PORT         SENDCAP_LISTEN            127.0.0.1:8025\n"
    "  --redis URL                SENDCAP_REDIS_URL         redis://127.0.0.1:6379/0\n"
    "                             (redis://[:password@]host:port/db or unix:///path/redis.sock)\n"
    "  --redis-sentinels LIST     SENDCAP_REDIS_SENTINELS   (none) host:port,… of Redis Sentinels\n"
    "  --redis-master NAME        SENDCAP_REDIS_MASTER      (none) the master's name in Sentinel\n"
    "  --upstream-url URL         SENDCAP_UPSTREAM_URL      https://api.resend.com\n"
    "  --master-key-file PATH     SENDCAP_MASTER_KEY_FILE   (or SENDCAP_MASTER_KEY, base64)\n"
    "  --max-body BYTES           SENDCAP_MAX_BODY          41943040\n"
    "  --max-pending-body BYTES   SENDCAP_MAX_PENDING_BODY  268435456 (bodies being received, in all)\n"
    "  --max-conns-per-client N   SENDCAP_MAX_CONNS_PER_CLIENT 512 (open connections from one address)\n"
    "  --max-conns N              SENDCAP_MAX_CONNS         10000 (open connections in all)\n"
    "  --upstream-timeout DUR     SENDCAP_UPSTREAM_TIMEOUT  30s\n"
    "  --path-prefix PATH         SENDCAP_PATH_PREFIX       (none)\n"
    "  --log-level LEVEL          SENDCAP_LOG_LEVEL         info (debug|info|warn|error)\n"
    "  --log-format FORMAT        SENDCAP_LOG_FORMAT        text (text|json: one JSON object per line)\n"
    "  --log-retention DUR        SENDCAP_LOG_RETENTION     30d (how long the call log is kept)\n"
    "  --workers N                SENDCAP_WORKERS           1 (sendcapd processes sharing --listen)\n"
    "  --metrics-listen HOST:PORT SENDCAP_METRICS_LISTEN    127.0.0.1:9025 (/healthz /readyz /metrics; off)\n"
    "  --tls-cert FILE            SENDCAP_TLS_CERT          (none: plain HTTP) PEM certificate chain\n"
    "  --tls-key FILE             SENDCAP_TLS_KEY           (none) PEM private key of --tls-cert\n"
    "  --upstream-ca FILE         SENDCAP_UPSTREAM_CA       (the system store) PEM CAs trusted for the upstream\n"
    "  --upstream-proxy URL       SENDCAP_UPSTREAM_PROXY    (none) egress proxy; *_proxy variables are ignored\n"
    "  --webhook-timeout DUR      SENDCAP_WEBHOOK_TIMEOUT   10s (one webhook or notice delivery attempt)\n"
    "  --webhook-retry-base DUR   SENDCAP_WEBHOOK_RETRY_BASE 5s (first retry delay; doubles, jittered, 24 h)\n"
    "  --sweep-interval DUR       SENDCAP_SWEEP_INTERVAL    10m (time-based events; at most 1h)\n"
    "  --sweep-batch N            SENDCAP_SWEEP_BATCH       100 (keys per sweep script, 1 to 1000)\n"
    "  --notice-from ADDRESS      SENDCAP_NOTICE_FROM       (none) sender of owner notices\n"
    "  --notice-upstream NAME     SENDCAP_NOTICE_UPSTREAM   (none) upstream that sends owner notices\n";
/* clang-format on */

enum opt {
    O_LISTEN,
    O_REDIS,
    O_UPSTREAM,
    O_MKF,
    O_MAXBODY,
    O_UTIMEOUT,
    O_PREFIX,
    O_LOGLEVEL,
    O_RETENTION,
    O_WORKERS,
    O_METRICS,
    O_LOGFORMAT,
    O_TLSCERT,
    O_TLSKEY,
    O_SENTINELS,
    O_MASTER,
    O_MAXPENDING,
    O_CONNSPERCLIENT,
    O_MAXCONNS,
    O_UPCA,
    O_UPPROXY,
    O_WHTIMEOUT,
    O_WHRETRY,
    O_SWEEP,
    O_SWEEPBATCH,
    O_NOTICEFROM,
    O_NOTICEUP
};

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
    {"--max-pending-body", "SENDCAP_MAX_PENDING_BODY", O_MAXPENDING},
    {"--max-conns-per-client", "SENDCAP_MAX_CONNS_PER_CLIENT", O_CONNSPERCLIENT},
    {"--max-conns", "SENDCAP_MAX_CONNS", O_MAXCONNS},
    {"--upstream-timeout", "SENDCAP_UPSTREAM_TIMEOUT", O_UTIMEOUT},
    {"--path-prefix", "SENDCAP_PATH_PREFIX", O_PREFIX},
    {"--log-level", "SENDCAP_LOG_LEVEL", O_LOGLEVEL},
    {"--log-format", "SENDCAP_LOG_FORMAT", O_LOGFORMAT},
    {"--log-retention", "SENDCAP_LOG_RETENTION", O_RETENTION},
    {"--workers", "SENDCAP_WORKERS", O_WORKERS},
    {"--metrics-listen", "SENDCAP_METRICS_LISTEN", O_METRICS},
    {"--redis-sentinels", "SENDCAP_REDIS_SENTINELS", O_SENTINELS},
    {"--redis-master", "SENDCAP_REDIS_MASTER", O_MASTER},
    {"--tls-cert", "SENDCAP_TLS_CERT", O_TLSCERT},
    {"--tls-key", "SENDCAP_TLS_KEY", O_TLSKEY},
    {"--upstream-ca", "SENDCAP_UPSTREAM_CA", O_UPCA},
    {"--upstream-proxy", "SENDCAP_UPSTREAM_PROXY", O_UPPROXY},
    {"--webhook-timeout", "SENDCAP_WEBHOOK_TIMEOUT", O_WHTIMEOUT},
    {"--webhook-retry-base", "SENDCAP_WEBHOOK_RETRY_BASE", O_WHRETRY},
    {"--sweep-interval", "SENDCAP_SWEEP_INTERVAL", O_SWEEP},
    {"--sweep-batch", "SENDCAP_SWEEP_BATCH", O_SWEEPBATCH},
    {"--notice-from", "SENDCAP_NOTICE_FROM", O_NOTICEFROM},
    {"--notice-upstream", "SENDCAP_NOTICE_UPSTREAM", O_NOTICEUP},
};

static int
apply(struct sc_config *cfg, enum opt o, const char *name, const char *v, char *err, size_t errlen)
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
    case O_LOGFORMAT:
        if (strcmp(v, "text") != 0 && strcmp(v, "json") != 0) {
            snprintf(err, errlen, "%s must be text or json, got '%s'", name, v);
            return -1;
        }
        cfg->log_format = v;
        break;
    case O_SENTINELS:
        cfg->redis_sentinels = v;
        break;
    case O_MASTER:
        cfg->redis_master = v;
        break;
    case O_TLSCERT:
        cfg->tls_cert = v;
        break;
    case O_TLSKEY:
        cfg->tls_key = v;
        break;
    case O_METRICS:
        cfg->metrics_listen = v;
        break;
    case O_UPCA:
        cfg->upstream_ca = v;
        break;
    case O_UPPROXY:
        cfg->upstream_proxy = v;
        break;
    case O_NOTICEFROM:
        cfg->notice_from = *v ? v : NULL;
        break;
    case O_NOTICEUP:
        cfg->notice_upstream = *v ? v : NULL;
        break;
    case O_WHTIMEOUT:
    case O_WHRETRY:
    case O_SWEEP:
        /* Bounds: an attempt fits in its lease; a sweep runs at least hourly. */
        if (sc_parse_duration_ms(v, &n) != 0 || n < 1000 ||
            n > (o == O_WHTIMEOUT ? 60000 : 3600000)) {
            snprintf(err, errlen, "%s: expected a duration from 1s to %s, got '%s'", name,
                     o == O_WHTIMEOUT ? "60s" : "1h", v);
            return -1;
        }
        if (o == O_WHTIMEOUT)
            cfg->webhook_timeout_ms = n;
        else if (o == O_WHRETRY)
            cfg->webhook_retry_base_ms = n;
        else
            cfg->sweep_interval_ms = n;
        break;
    case O_SWEEPBATCH:
        if (sc_parse_i64(v, 1, SC_SWEEP_BATCH_MAX, &n) != 0) {
            snprintf(err, errlen, "%s: expected 1 to %d, got '%s'", name, SC_SWEEP_BATCH_MAX, v);
            return -1;
        }
        cfg->sweep_batch = n;
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
            snprintf(err, errlen, "%s: expected a duration of at least 1m like 30d, got '%s'", name,
                     v);
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
    case O_MAXPENDING:
        if (sc_parse_i64(v, 1, INT64_C(1) << 40, &n) != 0) {
            snprintf(err, errlen, "%s: expected a byte count, got '%s'", name, v);
            return -1;
        }
        cfg->max_pending_body = n;
        break;
    case O_CONNSPERCLIENT:
    case O_MAXCONNS:
        if (sc_parse_i64(v, 1, 1000000, &n) != 0) {
            snprintf(err, errlen, "%s: expected 1 to 1000000, got '%s'", name, v);
            return -1;
        }
        if (o == O_MAXCONNS)
            cfg->max_conns = n;
        else
            cfg->max_conns_per_client = n;
        break;
    }
    return 0;
}

/* Apply a settings file: SENDCAP_NAME=value lines.  Strings point into
 * cfg->file_buf. */
static int
apply_file(struct sc_config *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char *line, *next;
    long n;
    int lineno = 0;

    if (f == NULL) {
        snprintf(err, errlen, "cannot read settings file %s", path);
        return -1;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || n > SC_CONFIG_FILE_MAX ||
        fseek(f, 0, SEEK_SET) != 0 || (cfg->file_buf = malloc((size_t)n + 1)) == NULL ||
        fread(cfg->file_buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        snprintf(err, errlen, "cannot read settings file %s (at most 64 KiB)", path);
        return -1;
    }
    fclose(f);
    cfg->file_buf[n] = '\0';
    for (line = cfg->file_buf; line != NULL; line = next) {
        char *eq, *v, *e;
        size_t k;

        lineno++;
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        while (*line == ' ' || *line == '\t')
            line++;
        if (*line == '\0' || *line == '#')
            continue;
        if (strncmp(line, "export ", 7) == 0)
            line += 7;
        eq = strchr(line, '=');
        if (eq == NULL) {
            snprintf(err, errlen, "%s:%d: expected NAME=value", path, lineno);
            return -1;
        }
        *eq = '\0';
        v = eq + 1;
        e = v + strlen(v);
        while (e > v && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
            *--e = '\0';
        if (e - v >= 2 && (*v == '"' || *v == '\'') && e[-1] == *v) {
            e[-1] = '\0';
            v++;
        }
        for (k = 0; k < sizeof(opts) / sizeof(opts[0]); k++)
            if (strcmp(line, opts[k].env) == 0)
                break;
        if (k == sizeof(opts) / sizeof(opts[0])) {
            if (strcmp(line, "SENDCAP_MASTER_KEY") == 0) {
                snprintf(err, errlen,
                         "%s:%d: put the master key in a file (SENDCAP_MASTER_KEY_FILE)", path,
                         lineno);
                return -1;
            }
            snprintf(err, errlen, "%s:%d: unknown setting %s", path, lineno, line);
            return -1;
        }
        if (*v != '\0' && apply(cfg, opts[k].opt, line, v, err, errlen) != 0)
            return -1;
    }
    return 0;
}

void
sc_config_free(struct sc_config *cfg)
{
    free(cfg->file_buf);
    cfg->file_buf = NULL;
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
    cfg->log_format = "text";
    cfg->max_body = SC_HTTP_DEFAULT_MAX_BODY;
    cfg->max_pending_body = SC_HTTP_DEFAULT_MAX_PENDING_BODY;
    cfg->max_conns_per_client = SC_HTTP_DEFAULT_MAX_CONNS_PER_CLIENT;
    cfg->max_conns = SC_HTTP_MAX_CONNS;
    cfg->upstream_timeout_ms = SC_UPSTREAM_DEFAULT_TIMEOUT_MS;
    cfg->log_retention_ms = SC_LOG_DEFAULT_RETENTION_MS;
    cfg->workers = 1;
    cfg->webhook_timeout_ms = SC_WEBHOOK_DEFAULT_TIMEOUT_MS;
    cfg->webhook_retry_base_ms = SC_WEBHOOK_DEFAULT_RETRY_BASE_MS;
    cfg->sweep_interval_ms = SC_SWEEP_DEFAULT_INTERVAL_MS;
    cfg->sweep_batch = SC_SWEEP_DEFAULT_BATCH;
    cfg->metrics_listen = "127.0.0.1:9025";
    cfg->master_key_env = getenv("SENDCAP_MASTER_KEY");
    if (cfg->master_key_env != NULL && *cfg->master_key_env == '\0')
        cfg->master_key_env = NULL;
    cfg->config_path = getenv("SENDCAP_CONFIG");
    if (cfg->config_path != NULL && *cfg->config_path != '\0' &&
        apply_file(cfg, cfg->config_path, err, errlen) != 0)
        return -1;

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
    if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL)) {
        snprintf(err, errlen, "--tls-cert and --tls-key go together");
        return -1;
    }
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
