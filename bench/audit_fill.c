/*
 * audit_fill.c - fill a Redis with N call records, exactly as sendcapd
 * writes them (store_audit_chain_seal + log_write.lua), for the call-log
 * benchmark.  Records are spread over R agent runs and 100 keys.
 *
 * usage: sendcap-bench-audit-fill RECORDS RUNS   (settings from the environment)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/util.h"
#include "store/audit.h"
#include "store/redis.h"
#include "store/secret.h"

int
main(int argc, char **argv)
{
    struct sc_config cfg;
    struct store_redis_addr addr;
    struct store_conn *c;
    struct store_audit_chain ch;
    unsigned char mk[SC_MASTER_KEY_LEN];
    char err[512];
    long n, runs, batch = 1000;
    int64_t t0;

    if (argc != 3 || (n = strtol(argv[1], NULL, 10)) <= 0 ||
        (runs = strtol(argv[2], NULL, 10)) <= 0) {
        fprintf(stderr, "usage: %s RECORDS RUNS\n", argv[0]);
        return 2;
    }
    if (sc_config_init(&cfg, err, sizeof(err)) != 0 ||
        store_secret_master_load(&cfg, mk, err, sizeof(err)) != 0 ||
        store_redis_addr_parse(cfg.redis_url, &addr, err, sizeof(err)) != 0 ||
        (c = store_redis_connect(&addr, err, sizeof(err))) == NULL) {
        fprintf(stderr, "fill: %s\n", err);
        return 1;
    }
    store_audit_chain_init(&ch, mk, cfg.log_retention_ms);
    {
        /* load the script once */
        const char *a[1] = {"x"};
        redisReply *r = store_redis_eval(c, STORE_SCRIPT_LOG_WRITE, 0, 0, a, err, sizeof(err));
        if (r)
            freeReplyObject(r);
    }
    t0 = sc_now_ms() - n; /* one record per ms, ending now */
    for (long i = 0; i < n; i += batch) {
        long m = i + batch <= n ? batch : n - i;
        for (long j = 0; j < m; j++) {
            struct store_audit_rec rec = {{0}};
            long k = i + j;
            char **av;
            int ac;
            char *full[160];
            store_audit_setf(&rec, STORE_AUDIT_TIME, "%lld", (long long)(t0 + k));
            store_audit_setf(&rec, STORE_AUDIT_REQUEST_ID, "req_bench%011ld", k);
            store_audit_setf(&rec, STORE_AUDIT_KEY_ID, "key_bench%07ld", k % 100);
            store_audit_setf(&rec, STORE_AUDIT_AGENT_RUN_ID, "run-%ld", k % runs);
            store_audit_set(&rec, STORE_AUDIT_METHOD, "POST");
            store_audit_set(&rec, STORE_AUDIT_PATH, "/emails");
            store_audit_set(&rec, STORE_AUDIT_ROUTE, "emails.send");
            store_audit_set(&rec, STORE_AUDIT_RECIPIENTS, "1");
            store_audit_set(&rec, STORE_AUDIT_FROM_DOMAIN, "example.com");
            store_audit_set(&rec, STORE_AUDIT_RECIPIENT_DOMAINS, "example.org");
            store_audit_setf(&rec, STORE_AUDIT_RECIPIENT_ADDRESSES, "user%ld@example.org",
                             k % 5000);
            store_audit_set(&rec, STORE_AUDIT_DECISION, k % 10 ? "allowed" : "denied");
            store_audit_set(&rec, STORE_AUDIT_REASON, k % 10 ? "ok" : "to_domain");
            store_audit_set(&rec, STORE_AUDIT_STATUS, k % 10 ? "200" : "403");
            store_audit_set(&rec, STORE_AUDIT_UPSTREAM_STATUS, k % 10 ? "200" : "");
            store_audit_set(&rec, STORE_AUDIT_EMAIL_IDS,
                            k % 10 ? "4ef9a7d2-7d6c-4d1e-9c3a-1b2c3d4e5f60" : "");
            store_audit_set(&rec, STORE_AUDIT_LATENCY_MS, "12");
            store_audit_set(&rec, STORE_AUDIT_UPSTREAM_LATENCY_MS, k % 10 ? "11" : "");
            store_audit_set(&rec, STORE_AUDIT_CLIENT, "127.0.0.1:40000");
            store_audit_set(&rec, STORE_AUDIT_USER_AGENT, "resend-node:6.38.0");
            av = store_audit_chain_seal(&ch, &rec, NULL, NULL, &ac);
            store_audit_clear(&rec);
            full[0] = "EVALSHA";
            full[1] = (char *)store_redis_script(STORE_SCRIPT_LOG_WRITE)->sha;
            full[2] = "1";
            for (int x = 0; x < ac; x++)
                full[3 + x] = av[x];
            redisAppendCommandArgv(store_redis_ctx(c), ac + 3, (const char **)full, NULL);
            store_audit_argv_free(av, ac);
        }
        for (long j = 0; j < m; j++) {
            redisReply *r;
            if (redisGetReply(store_redis_ctx(c), (void **)&r) != REDIS_OK) {
                fprintf(stderr, "fill: %s\n", store_redis_ctx(c)->errstr);
                return 1;
            }
            if (r->type == REDIS_REPLY_ERROR) {
                fprintf(stderr, "fill: %s\n", r->str);
                return 1;
            }
            freeReplyObject(r);
        }
    }
    store_redis_free(c);
    return 0;
}
