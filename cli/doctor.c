/*
 * doctor.c - `sendcap doctor`: checks what sendcap needs of its
 * surroundings and prints one line per check, with the fix when it fails.
 *
 * Local: the master key file's mode.  Redis: reachable, version >= 6.2,
 * maxmemory-policy noeviction, AOF on, maxmemory headroom, every embedded
 * script loads, the master key's check value, the clock against Redis TIME.
 * Each upstream's real key opens; with --upstream each is also tried at
 * Resend (GET /domains).  Exit 0 when every check passes, 1 otherwise.
 * Never prints a real key: an upstream is named by its fingerprint.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "cli.h"
#include "common/limits.h"
#include "common/util.h"
#include "store/upstreams.h"

static const char usage[] =
    "usage: sendcap doctor [--upstream]\n"
    "\n"
    "Checks Redis (reachable, version >= 6.2, maxmemory-policy noeviction, AOF on, maxmemory\n"
    "headroom, scripts load), the master key (file mode 0600, the key this Redis was set up\n"
    "with), the clock against Redis's, and that each upstream's real key decrypts; with\n"
    "--upstream, also calls GET /domains at Resend with each real key.  One line per check;\n"
    "exit 0 if all pass, 1 if any fails.\n";

/* Used memory past this share of maxmemory fails the headroom check. */
#define HEADROOM_PCT 80
/* Clocks further apart than this fail the skew check (ms): expiry and caps
 * go by Redis's clock, record times by the daemon's. */
#define SKEW_MAX_MS 1000

static int failed;

static void check(int ok, const char *name, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
check(int ok, const char *name, const char *fix, const char *fmt, ...)
{
    va_list ap;

    printf("%-4s  %-18s ", ok ? "ok" : "FAIL", name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    if (!ok && fix != NULL)
        printf("; fix: %s", fix);
    putchar('\n');
    failed |= !ok;
}

/* The value of "field:" in an INFO reply, into buf ("" if absent). */
static const char *
info(const char *text, const char *field, char *buf, size_t len)
{
    size_t fl = strlen(field);

    buf[0] = '\0';
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, field, fl) == 0 && p[fl] == ':') {
            size_t n = strcspn(p + fl + 1, "\r\n");
            snprintf(buf, len, "%.*s", (int)n, p + fl + 1);
            break;
        }
    return buf;
}

static void
redis_checks(struct store_conn *c)
{
    char err[512], v[64], pol[64], aof[8], mm[32], used[32];
    redisReply *r = store_redis_cmd(c, err, sizeof(err), "INFO");
    int maj = 0, min = 0;
    long long maxmem, usedmem;

    if (r == NULL || r->type != REDIS_REPLY_STRING) {
        check(0, "redis info", "allow the INFO command to sendcap's Redis user", "INFO failed: %s",
              r ? "not a string" : err);
        if (r)
            freeReplyObject(r);
        return;
    }
    info(r->str, "redis_version", v, sizeof(v));
    sscanf(v, "%d.%d", &maj, &min);
    check(maj > 6 || (maj == 6 && min >= 2), "redis version",
          "upgrade Redis to 6.2 or later (the call log trims with XADD MINID)", "%s",
          v[0] ? v : "unknown");
    info(r->str, "maxmemory_policy", pol, sizeof(pol));
    check(strcmp(pol, "noeviction") == 0, "maxmemory-policy",
          "set 'maxmemory-policy noeviction' in redis.conf (CONFIG SET maxmemory-policy "
          "noeviction now): an evicted key record or counter lets a revoked key back in or "
          "resets a cap",
          "%s", pol[0] ? pol : "unknown");
    info(r->str, "aof_enabled", aof, sizeof(aof));
    check(strcmp(aof, "1") == 0, "aof",
          "set 'appendonly yes' in redis.conf (CONFIG SET appendonly yes now): without it a "
          "restart forgets reservations, revocations and call records since the last snapshot",
          "%s", strcmp(aof, "1") == 0 ? "on" : "off");
    maxmem = strtoll(info(r->str, "maxmemory", mm, sizeof(mm)), NULL, 10);
    usedmem = strtoll(info(r->str, "used_memory", used, sizeof(used)), NULL, 10);
    if (maxmem <= 0)
        check(1, "maxmemory", NULL, "no limit set (%lld MiB used): the host's memory is the limit",
              usedmem >> 20);
    else
        check(usedmem * 100 < maxmem * HEADROOM_PCT, "maxmemory",
              "raise maxmemory or shorten --log-retention: at the limit Redis refuses writes and "
              "sendcap refuses every call (503)",
              "%.1f of %.1f MiB used (%lld%%)", (double)usedmem / 1048576, (double)maxmem / 1048576,
              usedmem * 100 / maxmem);
    freeReplyObject(r);

    for (int i = 0; i < STORE_SCRIPT_COUNT; i++) {
        const struct store_script *s = store_redis_script((enum store_script_id)i);
        redisReply *l = store_redis_cmd(c, err, sizeof(err), "SCRIPT LOAD %s", s->body);
        int ok = l != NULL && l->type == REDIS_REPLY_STRING && strcmp(l->str, s->sha) == 0;
        if (!ok) {
            check(0, "scripts", "allow SCRIPT and EVALSHA to sendcap's Redis user",
                  "%s.lua does not load: %s", s->name, l ? "unexpected reply" : err);
            if (l)
                freeReplyObject(l);
            return;
        }
        freeReplyObject(l);
    }
    check(1, "scripts", NULL, "all %d load", STORE_SCRIPT_COUNT);
}

static void
clock_check(struct store_conn *c)
{
    char err[256];
    int64_t t0 = sc_now_ms(), redis, t1, skew;

    if (store_redis_time(c, &redis, err, sizeof(err)) != 0) {
        check(0, "clock", "allow TIME to sendcap's Redis user", "%s", err);
        return;
    }
    t1 = sc_now_ms();
    skew = redis - (t0 + t1) / 2;
    check(skew <= SKEW_MAX_MS && skew >= -SKEW_MAX_MS, "clock",
          "run NTP (chrony or systemd-timesyncd) on this host and Redis's: expiry and caps go "
          "by Redis's clock, call records by the daemon's",
          "this host is %lld ms %s Redis", (long long)(skew < 0 ? -skew : skew),
          skew > 0 ? "behind" : "ahead of");
}

struct ups {
    char names[64][65];
    char fps[64][32];
    int n, more;
};

static int
collect(const struct store_upstream *u, void *arg)
{
    struct ups *x = arg;

    if (x->n == 64) {
        x->more = 1;
        return 0;
    }
    sc_strlcpy(x->names[x->n], u->name, sizeof(x->names[0]));
    sc_strlcpy(x->fps[x->n++], u->fingerprint, sizeof(x->fps[0]));
    return 0;
}

struct body {
    char buf[4096];
    size_t n;
};

static size_t
body_cb(char *p, size_t size, size_t nmemb, void *arg)
{
    struct body *b = arg;
    size_t n = size * nmemb, room = sizeof(b->buf) - 1 - b->n;

    memcpy(b->buf + b->n, p, n < room ? n : room);
    b->n += n < room ? n : room;
    b->buf[b->n] = '\0';
    return n;
}

/* GET /domains at the upstream with one real key (SPEC: Resend answers a
 * sending-only key 401 restricted_api_key, which still proves the key). */
static void
resend_check(const struct sc_config *cfg, const char *name, const char *fp, const char *real)
{
    CURL *e = curl_easy_init();
    struct curl_slist *h = NULL;
    char url[1024], auth[512], label[96];
    struct body b = {{0}, 0};
    long status = 0;
    CURLcode rc;

    snprintf(label, sizeof(label), "resend %s", name);
    if (e == NULL) {
        check(0, label, NULL, "out of memory");
        return;
    }
    snprintf(url, sizeof(url), "%s/domains", cfg->upstream_url);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", real);
    h = curl_slist_append(h, auth);
    h = curl_slist_append(h, "User-Agent: sendcap-doctor");
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR,
                     strncmp(cfg->upstream_url, "http://", 7) == 0 ? "http" : "https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROXY, cfg->upstream_proxy ? cfg->upstream_proxy : "");
    curl_easy_setopt(e, CURLOPT_NOPROXY, "");
    curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (cfg->upstream_ca != NULL) {
        curl_easy_setopt(e, CURLOPT_CAINFO, cfg->upstream_ca);
        curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
    }
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)SC_UPSTREAM_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)cfg->upstream_timeout_ms);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, body_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
    rc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK)
        check(0, label, "check --upstream-url, --upstream-proxy, --upstream-ca and the network",
              "%s (%s) unreachable: %s", fp, cfg->upstream_url, curl_easy_strerror(rc));
    else if (status == 200)
        check(1, label, NULL, "%s: GET /domains 200, the key works", fp);
    else if (status == 401 && strstr(b.buf, "restricted_api_key") != NULL)
        check(1, label, NULL, "%s: a sending-only key (GET /domains 401 restricted_api_key)", fp);
    else
        check(0, label, "create a key at Resend and 'sendcap upstream rotate NAME'",
              "%s: GET /domains answered %ld: Resend does not accept this key", fp, status);
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    store_secret_wipe(auth, sizeof(auth));
}

int
cli_cmd_doctor(struct cli *cli, int argc, char **argv)
{
    unsigned char mk[SC_MASTER_KEY_LEN];
    int have_mk = 0, upstream = 0;
    char err[512];
    struct stat st;
    struct store_conn *c;
    struct ups *ups;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--upstream") == 0)
            upstream = 1;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return fputs(usage, stdout), CLI_OK;
        else
            return cli_fail(CLI_USAGE, "unexpected argument '%s'\n%s", argv[i], usage);
    }
    failed = 0;

    /* The master key, before Redis: its file needs nothing else. */
    if (cli->cfg.master_key_file != NULL && stat(cli->cfg.master_key_file, &st) == 0 &&
        (st.st_mode & 077) != 0) {
        char fix[600];
        snprintf(fix, sizeof(fix), "chmod 600 %s", cli->cfg.master_key_file);
        check(0, "master key file", fix, "%s is mode %04o: others can read it",
              cli->cfg.master_key_file, (unsigned)(st.st_mode & 07777));
    } else if (store_secret_master_load(&cli->cfg, mk, err, sizeof(err)) != 0) {
        check(0, "master key",
              "set --master-key-file or SENDCAP_MASTER_KEY_FILE ('sendcap init' "
              "creates one)",
              "%s", err);
    } else {
        have_mk = 1;
        check(1, "master key", NULL, "%s",
              cli->cfg.master_key_file ? "file mode 0600" : "from SENDCAP_MASTER_KEY");
    }

    if ((c = cli_conn(cli)) == NULL) {
        check(0, "redis", "start Redis or set --redis / SENDCAP_REDIS_URL", "not reachable");
        store_secret_wipe(mk, sizeof(mk));
        return CLI_ERR;
    }
    check(1, "redis", NULL, "reachable");
    redis_checks(c);
    clock_check(c);
    if (have_mk) {
        int r = store_upstreams_master_check(c, mk, err, sizeof(err));
        check(r == 0, "master key check", "point --master-key-file at the key 'upstream add' used",
              "%s",
              r == 0   ? "matches this Redis (or nothing is sealed yet)"
              : r == 1 ? "another key than this Redis's upstreams were sealed with"
                       : err);
    }
    if ((ups = calloc(1, sizeof(*ups))) == NULL ||
        store_upstreams_each(c, collect, ups, err, sizeof(err)) != 0) {
        check(0, "upstreams", NULL, "cannot list: %s", ups ? err : "out of memory");
        free(ups);
        store_secret_wipe(mk, sizeof(mk));
        return CLI_ERR;
    }
    if (ups->n == 0)
        check(1, "upstreams", NULL, "none yet ('sendcap upstream add NAME')");
    for (int i = 0; i < ups->n; i++) {
        char label[96], *real = NULL;
        snprintf(label, sizeof(label), "upstream %s", ups->names[i]);
        if (have_mk)
            real = store_upstreams_open(c, mk, ups->names[i], err, sizeof(err));
        if (real == NULL) {
            check(0, label, "'sendcap upstream rotate NAME' with the real key",
                  "%s does not decrypt%s%s", ups->fps[i], have_mk ? ": " : " (no master key)",
                  have_mk ? err : "");
            continue;
        }
        check(1, label, NULL, "%s decrypts", ups->fps[i]);
        if (upstream)
            resend_check(&cli->cfg, ups->names[i], ups->fps[i], real);
        store_secret_free(real);
    }
    if (ups->more)
        check(1, "upstreams", NULL, "only the first 64 were checked");
    free(ups);
    store_secret_wipe(mk, sizeof(mk));
    return failed ? CLI_ERR : CLI_OK;
}
