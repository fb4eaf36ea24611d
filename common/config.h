/*
 * config.h - the settings both programs share (SPEC §1): flag first, then
 * environment, then default.
 *
 * Strings in struct sc_config point into argv, the environment or static
 * defaults: borrowed, valid for the life of the process.  The master key
 * itself is not held here; store/secret loads it from the file or variable.
 */
#ifndef SC_CONFIG_H
#define SC_CONFIG_H

#include <stddef.h>
#include <stdint.h>

struct sc_config {
    const char *listen;          /* host:port */
    const char *redis_url;       /* redis://[:pw@]host:port/db or unix:///path */
    const char *upstream_url;    /* https://api.resend.com */
    const char *master_key_file; /* NULL: see master_key_env */
    const char *master_key_env;  /* SENDCAP_MASTER_KEY (base64), NULL if unset */
    const char *path_prefix;     /* "" or "/resend/v1" */
    const char *log_level;       /* debug|info|warn|error */
    const char *log_format;      /* text|json */
    int64_t max_body;
    int64_t max_pending_body;     /* bodies being received, all connections */
    int64_t max_conns_per_client; /* open connections from one IP address */
    int64_t max_conns;            /* open connections in all */
    int64_t upstream_timeout_ms;
    int64_t log_retention_ms;      /* SENDCAP_LOG_RETENTION, default 30d */
    int64_t workers;               /* sendcapd processes sharing the port */
    const char *metrics_listen;    /* host:port of /healthz, /readyz, /metrics; "off" */
    const char *redis_sentinels;   /* host:port,… : find the master through Sentinel */
    const char *redis_master;      /* the master's name in Sentinel */
    const char *tls_cert;          /* PEM chain for HTTPS to agents, NULL: plain HTTP */
    const char *tls_key;           /* its private key */
    const char *config_path;       /* SENDCAP_CONFIG: a file of SENDCAP_*=value lines */
    const char *upstream_ca;       /* PEM CAs trusted for the upstream, NULL: the system store */
    const char *upstream_proxy;    /* egress proxy URL for the upstream, NULL: none */
    int64_t webhook_timeout_ms;    /* one delivery attempt (webhook or notice) */
    int64_t webhook_retry_base_ms; /* first retry delay: doubles, jittered, for 24 h */
    int64_t sweep_interval_ms;     /* time-based events (SPEC §6): at most 1 h */
    int64_t sweep_batch;           /* keys per sweep script */
    const char *notice_from;       /* owner notices' sender, NULL: no notices */
    const char *notice_upstream;   /* the upstream that sends them, NULL: none */
    char *file_buf;                /* owns the strings read from config_path */
};

/* Fill defaults, then the settings file named by SENDCAP_CONFIG (lines of
 * SENDCAP_NAME=value, # comments; the names of the environment variables),
 * then the environment.  Flags come after, through sc_config_flag; so the
 * order is flag, environment, file, default.  Returns 0, or -1 with a
 * one-line reason in err.  Release with sc_config_free. */
int sc_config_init(struct sc_config *cfg, char *err, size_t errlen);
void sc_config_free(struct sc_config *cfg);

/*
 * If argv[*i] is one of the shared flags (--listen, --redis, --upstream-url,
 * --master-key-file, --max-body, --max-pending-body, --max-conns-per-client,
 * --max-conns, --upstream-timeout, --path-prefix,
 * --log-level, --log-format, --log-retention, --workers, --metrics-listen,
 * --tls-cert, --tls-key, --redis-sentinels, --redis-master, --upstream-ca,
 * --upstream-proxy, --webhook-timeout, --webhook-retry-base, --sweep-interval, --sweep-batch,
 * --notice-from, --notice-upstream; "--flag value" or "--flag=value"), apply it, advance *i past
 * it and return 1.  Return 0 if it is not a shared flag, -1 (with err) if it
 * is one with a bad or missing value.
 */
int sc_config_flag(struct sc_config *cfg, int argc, char **argv, int *i, char *err, size_t errlen);

/* Check cross-field rules after all flags are applied (prefix shape, ...). */
int sc_config_check(const struct sc_config *cfg, char *err, size_t errlen);

/* Help text for the shared flags, for --help screens. */
extern const char sc_config_help[];

#endif
