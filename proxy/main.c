/*
 * main.c - sendcapd: settings, start-up checks, the event loop, signals.
 *
 * Start-up may block and may exit (bad flags, no master key, Redis
 * unreachable, listen failure): after the loop starts nothing blocks and
 * nothing exits on a per-request failure.  SIGTERM and SIGINT stop accepting,
 * let in-flight requests finish (up to SC_DRAIN_DEADLINE_MS), then exit 0.
 */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"
#include "common/version.h"
#include "proxy.h"
#include "store/upstreams.h"

static const char usage[] =
    "usage: sendcapd [settings]\n"
    "\n"
    "The sendcap proxy: agents call it with a vault key (vk_…) instead of the real\n"
    "Resend key; it enforces the key's policy and forwards to Resend.\n"
    "\n"
    "Signals: SIGTERM/SIGINT finish the calls in flight, then exit 0; SIGHUP reads the\n"
    "settings again and applies --log-level, --log-format, --max-body and\n"
    "--upstream-timeout.\n"
    "Exit codes: 0 stopped cleanly, 1 could not start, 2 bad settings.\n"
    "\n";

static struct event *drain_deadline;
static int g_argc;
static char **g_argv;
static struct proxy_http_limits g_lim;
static struct event *flush_timer;
static int draining;
static int64_t log_drain_until;

/* Retry call records Redis has not acknowledged; when draining, exit once
 * they are all in (or SC_LOG_DRAIN_MS passed). */
static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
    struct proxy *px = arg;
    struct timeval tv = sc_tv_ms(SC_LOG_FLUSH_INTERVAL_MS);

    (void)fd;
    (void)what;
    store_audit_log_flush(px->audit);
    if (draining && log_drain_until > 0) {
        long left = store_audit_log_pending(px->audit);
        if (left == 0 || sc_mono_ms() >= log_drain_until) {
            if (left > 0)
                sc_error("exiting with %ld call records not written to Redis", left);
            else
                sc_info("call records written; exiting");
            event_base_loopexit(px->base, NULL);
            return;
        }
    }
    evtimer_add(flush_timer, &tv);
}

static void
drained(void *arg)
{
    struct proxy *px = arg;

    sc_info("drained: no request in flight");
    log_drain_until = sc_mono_ms() + SC_LOG_DRAIN_MS;
    flush_cb(-1, 0, px);
}

static void
drain_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    struct proxy *px = arg;

    (void)fd;
    (void)what;
    sc_warn("drain deadline passed with %ld requests in flight; exiting",
            proxy_http_inflight(px->http));
    event_base_loopexit(px->base, NULL);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct proxy *px = arg;
    struct timeval tv = sc_tv_ms(SC_DRAIN_DEADLINE_MS);

    (void)what;
    if (drain_deadline != NULL)
        return;
    draining = 1;
    proxy_webhook_stop(px->webhook);
    proxy_held_stop(px->held);
    sc_info("%s: no longer accepting; finishing %ld requests in flight",
            sig == SIGTERM ? "SIGTERM" : "SIGINT", proxy_http_inflight(px->http));
    drain_deadline = evtimer_new(px->base, drain_deadline_cb, px);
    evtimer_add(drain_deadline, &tv);
    proxy_http_drain(px->http, drained, px);
}

/*
 * --workers N: N processes, each a whole sendcapd (its own loop, Redis
 * connection, upstream connections and call-log writer), accepting on the
 * same port through SO_REUSEPORT so the kernel spreads connections over
 * them.  The parent only supervises: it forwards SIGTERM/SIGINT, restarts a
 * worker that dies (at most once a second each), and exits when all have
 * stopped.  Returns the worker's index in each child; never returns in the
 * parent.
 */
static volatile sig_atomic_t parent_stop, parent_hup_pending;

static void
parent_hup(int sig)
{
    (void)sig;
    parent_hup_pending = 1;
}

static void
parent_signal(int sig)
{
    parent_stop = sig;
}

static int
supervise(int n)
{
    pid_t *kids = calloc((size_t)n, sizeof(pid_t));
    int64_t *born = calloc((size_t)n, sizeof(int64_t));
    struct sigaction sa;
    int alive = 0;

    if (kids == NULL || born == NULL)
        sc_fatal("out of memory");
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = parent_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    {
        struct sigaction hup;
        memset(&hup, 0, sizeof(hup));
        hup.sa_handler = parent_hup;
        sigaction(SIGHUP, &hup, NULL);
    }
    for (;;) {
        if (parent_hup_pending) {
            parent_hup_pending = 0;
            for (int i = 0; i < n; i++)
                if (kids[i] > 0)
                    kill(kids[i], SIGHUP);
        }
        for (int i = 0; i < n && !parent_stop; i++) {
            if (kids[i] != 0)
                continue;
            if (born[i] != 0 && sc_mono_ms() - born[i] < 1000) {
                usleep(100000);
                continue;
            }
            kids[i] = fork();
            if (kids[i] < 0)
                sc_fatal("fork: %s", strerror(errno));
            if (kids[i] == 0) {
                signal(SIGTERM, SIG_DFL);
                signal(SIGINT, SIG_DFL);
                signal(SIGHUP, SIG_DFL);
                free(kids);
                free(born);
                return i;
            }
            born[i] = sc_mono_ms();
            alive++;
        }
        if (parent_stop) {
            for (int i = 0; i < n; i++)
                if (kids[i] > 0)
                    kill(kids[i], parent_stop == SIGINT ? SIGINT : SIGTERM);
        }
        {
            int status;
            pid_t p = waitpid(-1, &status, WNOHANG);
            if (p == 0 || (p < 0 && errno == EINTR)) {
                usleep(100000);
                continue;
            }
            if (p < 0)
                break; /* ECHILD: none left */
            for (int i = 0; i < n; i++) {
                if (kids[i] == p) {
                    kids[i] = 0;
                    alive--;
                    if (!parent_stop)
                        sc_error("worker %d (pid %d) stopped (status %d); restarting", i, (int)p,
                                 status);
                }
            }
            if (parent_stop && alive <= 0)
                break;
        }
    }
    sc_info("all workers stopped");
    exit(0);
}

/* Settings from scratch, as at start-up: defaults, file, environment, flags. */
static int
settings(struct sc_config *cfg, char *err, size_t errlen)
{
    if (sc_config_init(cfg, err, errlen) != 0)
        return -1;
    for (int i = 1; i < g_argc;) {
        int r;
        if (strcmp(g_argv[i], "--config") == 0) {
            i += 2;
            continue;
        }
        r = sc_config_flag(cfg, g_argc, g_argv, &i, err, errlen);
        if (r < 0)
            return -1;
        if (r == 0) {
            snprintf(err, errlen, "unknown argument '%s' (try --help)", g_argv[i]);
            return -1;
        }
    }
    return sc_config_check(cfg, err, errlen);
}

/*
 * SIGHUP: read the settings again and apply what can change while running
 * (log level and format, --max-body, --upstream-timeout) to calls that start
 * from now on; calls in flight are untouched.  Every change is logged; a
 * setting that needs a restart is named; a bad file or value changes
 * nothing.
 */
static void
reload_cb(evutil_socket_t sig, short what, void *arg)
{
    struct proxy *px = arg;
    struct sc_config n;
    enum sc_log_level level;
    char err[512];
    int changed = 0;

    (void)sig;
    (void)what;
    if (settings(&n, err, sizeof(err)) != 0 || sc_log_parse_level(n.log_level, &level) != 0) {
        sc_error("SIGHUP: reload refused, the running settings stay: %s",
                 err[0] ? err : "--log-level must be debug, info, warn or error");
        sc_config_free(&n);
        return;
    }
#define RESTART(field, name)                                                                       \
    if (strcmp(n.field, px->cfg.field) != 0)                                                       \
        sc_warn("SIGHUP: %s changed to '%s'; it takes effect on restart", name, n.field);
    RESTART(listen, "listen")
    RESTART(redis_url, "redis")
    RESTART(upstream_url, "upstream-url")
    RESTART(path_prefix, "path-prefix")
    RESTART(metrics_listen, "metrics-listen")
#undef RESTART
    if (strcmp(n.log_level, px->cfg.log_level) != 0) {
        sc_info("SIGHUP: log-level %s -> %s", px->cfg.log_level, n.log_level);
        sc_log_set_level(level);
        px->cfg.log_level = strcmp(n.log_level, "debug") == 0  ? "debug"
                            : strcmp(n.log_level, "info") == 0 ? "info"
                            : strcmp(n.log_level, "warn") == 0 ? "warn"
                                                               : "error";
        changed++;
    }
    if (strcmp(n.log_format, px->cfg.log_format) != 0) {
        sc_info("SIGHUP: log-format %s -> %s", px->cfg.log_format, n.log_format);
        px->cfg.log_format = strcmp(n.log_format, "json") == 0 ? "json" : "text";
        sc_log_set_json(strcmp(n.log_format, "json") == 0);
        changed++;
    }
    if (n.max_body != px->cfg.max_body) {
        sc_info("SIGHUP: max-body %lld -> %lld", (long long)px->cfg.max_body,
                (long long)n.max_body);
        px->cfg.max_body = n.max_body;
        g_lim.max_body = n.max_body;
        proxy_http_set_limits(px->http, &g_lim);
        changed++;
    }
    if (n.upstream_timeout_ms != px->cfg.upstream_timeout_ms) {
        sc_info("SIGHUP: upstream-timeout %lld ms -> %lld ms",
                (long long)px->cfg.upstream_timeout_ms, (long long)n.upstream_timeout_ms);
        px->cfg.upstream_timeout_ms = n.upstream_timeout_ms;
        proxy_upstream_set_timeout(px->upstream, (long)n.upstream_timeout_ms);
        changed++;
    }
    if (changed == 0)
        sc_info("SIGHUP: settings read again; nothing to change");
    sc_config_free(&n);
}

/* Connect once, synchronously, to prove Redis is there and this master key
 * is the one its secrets were sealed with. */
static void
check_redis(struct proxy *px, const struct store_redis_addr *addr)
{
    char err[512];
    struct store_conn *sc = store_redis_connect(addr, err, sizeof(err));
    int r;

    if (sc == NULL)
        sc_fatal("%s", err);
    r = store_upstreams_master_check(sc, px->master_key, err, sizeof(err));
    store_redis_free(sc);
    if (r < 0)
        sc_fatal("%s", err);
    if (r > 0)
        sc_fatal("the master key is not the one the upstreams in this Redis were sealed with");
}

int
main(int argc, char **argv)
{
    struct proxy px;
    struct store_redis_addr addr;
    struct proxy_http_limits lim;
    struct event *sigterm, *sigint, *sighup;
    char err[512];
    enum sc_log_level level;
    struct rlimit nocore = {0, 0};
    int worker = 0;

    /* No core dump may carry a real key. */
    setrlimit(RLIMIT_CORE, &nocore);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    signal(SIGPIPE, SIG_IGN);

    memset(&px, 0, sizeof(px));
    g_argc = argc;
    g_argv = argv;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            fputs(sc_config_help, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("sendcapd %s (commit %s)\n", sc_version, sc_commit);
            return 0;
        }
        if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "sendcapd: --config needs a file\n");
                return 2;
            }
            setenv("SENDCAP_CONFIG", argv[i + 1], 1);
        }
    }
    if (settings(&px.cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "sendcapd: %s\n", err);
        return 2;
    }
    if (sc_log_parse_level(px.cfg.log_level, &level) != 0) {
        fprintf(stderr, "sendcapd: --log-level must be debug, info, warn or error\n");
        return 2;
    }
    sc_log_set_level(level);
    sc_log_set_json(strcmp(px.cfg.log_format, "json") == 0);

    if (store_secret_master_load(&px.cfg, px.master_key, err, sizeof(err)) != 0)
        sc_fatal("%s", err);
    if (store_redis_addr_parse(px.cfg.redis_url, &addr, err, sizeof(err)) != 0 ||
        store_redis_addr_sentinels(&addr, px.cfg.redis_sentinels, px.cfg.redis_master, err,
                                   sizeof(err)) != 0 ||
        store_redis_addr_resolve(&addr, err, sizeof(err)) != 0)
        sc_fatal("%s", err);
    check_redis(&px, &addr);

    if (px.cfg.workers > 1) {
        if (strcmp(strrchr(px.cfg.listen, ':'), ":0") == 0)
            sc_fatal("--workers needs a fixed port in --listen, not port 0");
        worker = supervise((int)px.cfg.workers);
    }
    /* Per process (after --workers forks): the timers' and retries'
     * jitter (sc_jitter_ms) must differ between instances. */
    srandom((unsigned)(getpid() ^ sc_mono_us()));
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        sc_fatal("cannot initialise libcurl");
    /* Without an asynchronous resolver every upstream and webhook name
     * lookup would run on the loop: refuse rather than stall sends. */
    if (!(curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_ASYNCHDNS))
        sc_fatal("this libcurl has no asynchronous DNS resolver (AsynchDNS): its name lookups "
                 "would block the event loop; install a libcurl built with the threaded resolver");
    px.base = event_base_new();
    if (px.base == NULL)
        sc_fatal("cannot create the event loop");
    px.upstream = proxy_upstream_new(px.base, px.cfg.upstream_url, (long)px.cfg.upstream_timeout_ms,
                                     err, sizeof(err));
    if (px.upstream == NULL)
        sc_fatal("%s", err);
    if (proxy_upstream_ca(px.upstream, px.cfg.upstream_ca, err, sizeof(err)) != 0 ||
        proxy_upstream_proxy(px.upstream, px.cfg.upstream_proxy, err, sizeof(err)) != 0)
        sc_fatal("%s", err);
    px.keys = proxy_keycache_new(SC_KEY_CACHE_MAX);
    px.metrics = proxy_metrics_new();
    px.redis = store_redis_async_new(px.base, &addr);
    store_secret_wipe(addr.password, sizeof(addr.password));
    if (px.keys == NULL || px.redis == NULL || px.metrics == NULL)
        sc_fatal("out of memory");
    px.audit = store_audit_log_new(px.redis, px.master_key, px.cfg.log_retention_ms);
    flush_timer = evtimer_new(px.base, flush_cb, &px);
    px.flood = proxy_flood_new(px.base, proxy_call_flood_summary, &px);
    px.sweep =
        proxy_sweep_new(px.base, px.redis, px.cfg.sweep_interval_ms, (int)px.cfg.sweep_batch);
    if (px.audit == NULL || flush_timer == NULL || px.flood == NULL || px.sweep == NULL)
        sc_fatal("out of memory");
    {
        struct timeval tv = sc_tv_ms(SC_LOG_FLUSH_INTERVAL_MS);
        evtimer_add(flush_timer, &tv);
    }
    if ((px.webhook = proxy_webhook_new(&px)) == NULL || (px.held = proxy_held_new(&px)) == NULL)
        sc_fatal("out of memory");

    lim.max_body = px.cfg.max_body;
    lim.read_deadline_ms = SC_HTTP_READ_DEADLINE_MS;
    lim.idle_timeout_ms = SC_HTTP_IDLE_TIMEOUT_MS;
    lim.write_timeout_ms = SC_HTTP_WRITE_TIMEOUT_MS;
    lim.max_conns = (int)px.cfg.max_conns;
    lim.max_conns_per_client = (int)px.cfg.max_conns_per_client;
    lim.max_pending_body = px.cfg.max_pending_body;
    g_lim = lim;
    px.http =
        proxy_http_new(px.base, &lim, proxy_call_handle, proxy_call_head, proxy_call_refused, &px);
    if (px.http == NULL)
        sc_fatal("out of memory");
    if (px.cfg.tls_cert != NULL &&
        proxy_http_tls(px.http, px.cfg.tls_cert, px.cfg.tls_key, err, sizeof(err)) != 0)
        sc_fatal("%s", err);
    if (proxy_http_listen(px.http, px.cfg.listen, px.cfg.workers > 1, err, sizeof(err)) != 0)
        sc_fatal("%s", err);

    if (strcmp(px.cfg.metrics_listen, "off") != 0) {
        char ml[160];
        const char *colon = strrchr(px.cfg.metrics_listen, ':');
        int64_t port;
        if (colon == NULL || sc_parse_i64(colon + 1, 0, 65535, &port) != 0)
            sc_fatal("--metrics-listen: expected HOST:PORT or off, got '%s'",
                     px.cfg.metrics_listen);
        /* each worker gets its own metrics port: base + its index */
        snprintf(ml, sizeof(ml), "%.*s:%lld", (int)(colon - px.cfg.metrics_listen),
                 px.cfg.metrics_listen, port == 0 ? 0 : (long long)port + worker);
        px.metrics_http =
            proxy_http_new(px.base, &lim, proxy_metrics_handle, NULL, proxy_metrics_refused, &px);
        if (px.metrics_http == NULL)
            sc_fatal("out of memory");
        if (proxy_http_listen(px.metrics_http, ml, 0, err, sizeof(err)) != 0)
            sc_fatal("--metrics-listen: %s", err);
    }

    sigterm = evsignal_new(px.base, SIGTERM, signal_cb, &px);
    sigint = evsignal_new(px.base, SIGINT, signal_cb, &px);
    sighup = evsignal_new(px.base, SIGHUP, reload_cb, &px);
    evsignal_add(sigterm, NULL);
    evsignal_add(sigint, NULL);
    evsignal_add(sighup, NULL);

    sc_info("sendcapd listening on %s (%s), upstream %s, call log writer %s, metrics on %s",
            proxy_http_bound(px.http), px.cfg.tls_cert ? "https" : "http", px.cfg.upstream_url,
            store_audit_log_writer(px.audit),
            px.metrics_http ? proxy_http_bound(px.metrics_http) : "off");
    event_base_dispatch(px.base);

    event_free(sigterm);
    event_free(sigint);
    event_free(sighup);
    if (drain_deadline != NULL)
        event_free(drain_deadline);
    event_free(flush_timer);
    /* The last second's flood summary goes to the call log's queue. */
    proxy_flood_free(px.flood);
    /* Redis first: its pending callbacks still answer live requests and
     * touch the call log. */
    proxy_webhook_stop(px.webhook);
    proxy_held_stop(px.held);
    store_redis_async_free(px.redis);
    proxy_sweep_free(px.sweep);
    /* After Redis (its callbacks find the worker) and before the call log
     * (a cap's 429 still waiting is answered and recorded now). */
    proxy_webhook_free(px.webhook);
    proxy_held_free(px.held);
    store_audit_log_free(px.audit);
    proxy_http_free(px.http);
    proxy_http_free(px.metrics_http);
    proxy_metrics_free(px.metrics);
    proxy_upstream_free(px.upstream);
    proxy_keycache_free(px.keys);
    event_base_free(px.base);
    curl_global_cleanup();
    store_secret_wipe(px.master_key, sizeof(px.master_key));
    sc_info("sendcapd stopped");
    return 0;
}
