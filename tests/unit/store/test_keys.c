/*
 * test_keys.c - the stored forms of a key's controls (store/keys.h): the
 * parsers key issue/update use (rate, alert percents, dedupe window), the
 * record reader's defaults for absent fields, and the monthly counter's
 * month.  Tables of cases; the record reader is fed RESP through hiredis's
 * own reader, as Redis would answer HGETALL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "store/keys.h"
#include "store/usage.h"

static void
rate_cases(void **state)
{
    static const struct {
        const char *in;
        int ok;
        int64_t limit, window;
    } c[] = {
        {"50/s", 1, 50, 1000},  {"1/m", 1, 1, 60000},
        {"7/h", 1, 7, 3600000}, {"1000000/s", 1, 1000000, 1000},
        {"1000001/s", 0, 0, 0}, {"0/s", 0, 0, 0},
        {"-1/s", 0, 0, 0},      {"50", 0, 0, 0},
        {"/s", 0, 0, 0},        {"50/", 0, 0, 0},
        {"50/d", 0, 0, 0},      {"50/S", 0, 0, 0},
        {"50/ss", 0, 0, 0},     {"1.5/s", 0, 0, 0},
        {" 5/s", 0, 0, 0},      {"5/s ", 0, 0, 0},
        {"", 0, 0, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        int64_t l = -9, wms = -9;
        int r = store_keys_rate_parse(c[i].in, &l, &wms);

        if ((r == 0) != c[i].ok)
            fail_msg("rate '%s': got %d", c[i].in, r);
        if (c[i].ok && (l != c[i].limit || wms != c[i].window))
            fail_msg("rate '%s': %lld per %lld", c[i].in, (long long)l, (long long)wms);
    }
}

static void
alert_cases(void **state)
{
    static const struct {
        const char *in, *out; /* out NULL: refused */
    } c[] = {
        {"80", "80"},
        {"100,80,90", "80,90,100"},
        {"80,80,100", "80,100"},
        {"1,100", "1,100"},
        {"1,2,3,4,5,6,7,8,9,10", "1,2,3,4,5,6,7,8,9,10"},
        {"1,2,3,4,5,6,7,8,9,10,10", "1,2,3,4,5,6,7,8,9,10"},
        {"91,92,93,94,95,96,97,98,99,100", "91,92,93,94,95,96,97,98,99,100"},
        {"1,2,3,4,5,6,7,8,9,10,11", NULL},
        {"0", NULL},
        {"101", NULL},
        {"-5", NULL},
        {"80,", NULL},
        {",80", NULL},
        {"80,,90", NULL},
        {"", NULL},
        {"8 0", NULL},
        {"80%", NULL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        char out[STORE_KEY_ALERT_MAX] = "unchanged";
        int r = store_keys_alert_parse(c[i].in, out, sizeof(out));

        if ((r == 0) != (c[i].out != NULL))
            fail_msg("alert '%s': got %d", c[i].in, r);
        if (c[i].out != NULL && strcmp(out, c[i].out) != 0)
            fail_msg("alert '%s': '%s', want '%s'", c[i].in, out, c[i].out);
    }
}

static void
dedupe_cases(void **state)
{
    static const struct {
        const char *in;
        int64_t ms; /* -1: refused */
    } c[] = {
        {"0", 0},          {"1s", 1000},        {"10m", 600000}, {"2s", 2000},
        {"7d", 604800000}, {"168h", 604800000}, {"8d", -1},      {"999ms", -1},
        {"1000ms", 1000},  {"0s", -1},          {"", -1},        {"10", -1},
        {"-1s", -1},       {"1x", -1},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        int64_t ms = -7;
        int r = store_keys_dedupe_parse(c[i].in, &ms);

        if ((r == 0) != (c[i].ms >= 0))
            fail_msg("dedupe '%s': got %d", c[i].in, r);
        if (c[i].ms >= 0 && ms != c[i].ms)
            fail_msg("dedupe '%s': %lld", c[i].in, (long long)ms);
    }
}

static void
rotate_after_cases(void **state)
{
    static const struct {
        const char *in;
        int64_t ms; /* -1: refused */
    } c[] = {
        {"none", 0},
        {"90d", 7776000000LL},
        {"1m", 60000},
        {"1s", 1000},
        {"3650d", 3650LL * 86400000},
        {"3651d", -1},
        {"0", -1},
        {"0s", -1},
        {"999ms", -1},
        {"", -1},
        {"-1d", -1},
        {"None", -1},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        int64_t ms = -7;
        int r = store_keys_rotate_after_parse(c[i].in, &ms);

        if ((r == 0) != (c[i].ms >= 0))
            fail_msg("rotate-after '%s': got %d", c[i].in, r);
        if (c[i].ms >= 0 && ms != c[i].ms)
            fail_msg("rotate-after '%s': %lld", c[i].in, (long long)ms);
    }
}

/* --hold-ttl: a duration from 1s to 30d, nothing else (no "off": a held
 * send must end); --oversight: the four modes, spelled exactly. */
static void
oversight_cases(void **state)
{
    static const struct {
        const char *in;
        int64_t ms; /* -1: refused */
    } ttl[] = {
        {"2s", 2000}, {"24h", 86400000}, {"30d", 30LL * 86400000},
        {"31d", -1},  {"0", -1},         {"0s", -1},
        {"", -1},     {"none", -1},
    };
    static const struct {
        const char *in;
        int ok;
    } mode[] = {
        {"auto", 1},      {"gated", 1},  {"gated-new-recipients", 1},
        {"monitored", 1}, {"Gated", 0},  {"", 0},
        {"gated-new", 0}, {"gated ", 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(ttl) / sizeof(ttl[0]); i++) {
        int64_t ms = -7;
        int r = store_keys_hold_ttl_parse(ttl[i].in, &ms);

        if ((r == 0) != (ttl[i].ms >= 0))
            fail_msg("hold-ttl '%s': got %d", ttl[i].in, r);
        if (ttl[i].ms >= 0 && ms != ttl[i].ms)
            fail_msg("hold-ttl '%s': %lld", ttl[i].in, (long long)ms);
    }
    for (size_t i = 0; i < sizeof(mode) / sizeof(mode[0]); i++) {
        const char *out = NULL;
        int r = store_keys_oversight_parse(mode[i].in, &out);

        if ((r == 0) != mode[i].ok)
            fail_msg("oversight '%s': got %d", mode[i].in, r);
        if (r == 0 && strcmp(out, mode[i].in) != 0)
            fail_msg("oversight '%s' stored as '%s'", mode[i].in, out);
    }
}

/* A flat HGETALL reply of n field/value strings, through hiredis's reader. */
static redisReply *
hgetall(const char *const *fv, size_t n)
{
    char buf[4096];
    size_t o = (size_t)snprintf(buf, sizeof(buf), "*%zu\r\n", n);
    redisReader *rd = redisReaderCreate();
    void *reply = NULL;

    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "$%zu\r\n%s\r\n", strlen(fv[i]), fv[i]);
    assert_int_equal(redisReaderFeed(rd, buf, o), REDIS_OK);
    assert_int_equal(redisReaderGetReply(rd, &reply), REDIS_OK);
    redisReaderFree(rd);
    assert_non_null(reply);
    return reply;
}

static void
record_defaults_and_values(void **state)
{
    static const char *const old[] = {"id", "key_a", "daily_cap", ""};
    static const char *const empty[] = {
        "id",         "key_b", "monthly_cap", "", "per_recipient_cap", "",
        "rate_limit", "",      "alert_at",    "", "dedupe_window_ms",  ""};
    static const char *const full[] = {
        "id",         "key_c", "monthly_cap",    "100",  "per_recipient_cap", "3",
        "rate_limit", "50",    "rate_window_ms", "1000", "dedupe_window_ms",  "0",
        "alert_at",   "80,100"};
    static const char *const bad[] = {"id", "key_d", "monthly_cap", "ten"};
    static const char *const rot[] = {"id", "key_e", "rotate_after_ms", "0"};
    static const char *const rot60[] = {"id", "key_f", "rotate_after_ms", "60000"};
    struct store_key k;
    redisReply *r;

    (void)state;
    /* A record written before the controls existed: every one at its default. */
    r = hgetall(old, 4);
    assert_int_equal(store_keys_from_reply(r, &k), 0);
    assert_int_equal(k.monthly_cap, -1);
    assert_int_equal(k.per_recipient_cap, -1);
    assert_int_equal(k.rate_limit, -1);
    assert_int_equal(k.rate_window_ms, 0);
    assert_int_equal(k.dedupe_window_ms, STORE_KEY_DEDUPE_DEFAULT_MS);
    assert_string_equal(k.alert_at, STORE_KEY_ALERT_DEFAULT); /* SPEC §6: 80,100 */
    assert_string_equal(k.alert_at, "80,100");
    assert_int_equal(k.rotate_after_ms, SC_KEY_ROTATE_AFTER_DEFAULT_MS);
    freeReplyObject(r);

    /* rotate_after_ms: absent is the default (above), "0" is off. */
    r = hgetall(rot, 4);
    assert_int_equal(store_keys_from_reply(r, &k), 0);
    assert_int_equal(k.rotate_after_ms, 0);
    freeReplyObject(r);
    r = hgetall(rot60, 4);
    assert_int_equal(store_keys_from_reply(r, &k), 0);
    assert_int_equal(k.rotate_after_ms, 60000);
    freeReplyObject(r);

    r = hgetall(empty, 12);
    assert_int_equal(store_keys_from_reply(r, &k), 0);
    assert_string_equal(k.alert_at, ""); /* --alert-at none */
    assert_int_equal(k.monthly_cap, -1);
    assert_int_equal(k.rate_limit, -1);
    assert_int_equal(k.dedupe_window_ms, STORE_KEY_DEDUPE_DEFAULT_MS);
    freeReplyObject(r);

    r = hgetall(full, 14);
    assert_int_equal(store_keys_from_reply(r, &k), 0);
    assert_int_equal(k.monthly_cap, 100);
    assert_int_equal(k.per_recipient_cap, 3);
    assert_int_equal(k.rate_limit, 50);
    assert_int_equal(k.rate_window_ms, 1000);
    assert_int_equal(k.dedupe_window_ms, 0);
    assert_string_equal(k.alert_at, "80,100");
    freeReplyObject(r);

    r = hgetall(bad, 4);
    assert_int_equal(store_keys_from_reply(r, &k), -1);
    freeReplyObject(r);
}

static void
month_cases(void **state)
{
    static const struct {
        int64_t ms;
        int month;
    } c[] = {
        {0, 197001},
        {1796164941155LL, 202612}, /* 2026-12-01T22:42Z */
        {1798761599999LL, 202612}, /* 2026-12-31T23:59:59.999Z */
        {1798761600000LL, 202701}, /* 2027-01-01T00:00Z */
        {951782400000LL, 200002},  /* 2000-02-29T00:00Z */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
        if (store_usage_month(c[i].ms) != c[i].month)
            fail_msg("%lld: %d, want %d", (long long)c[i].ms, store_usage_month(c[i].ms),
                     c[i].month);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rate_cases),         cmocka_unit_test(alert_cases),
        cmocka_unit_test(dedupe_cases),       cmocka_unit_test(record_defaults_and_values),
        cmocka_unit_test(rotate_after_cases), cmocka_unit_test(month_cases),
        cmocka_unit_test(oversight_cases),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
