/*
 * test_header.c - which headers cross the proxy (policy/header.c), as a
 * table: request headers never forwarded (hop-by-hop, named in
 * Connection, credentials, framing, ours, overrides, Idempotency_Key) and
 * response headers never relayed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "policy/policy.h"

static void
test_request(void **state)
{
    static const struct {
        const char *name, *connection;
        int dropped;
    } cases[] = {
        {"Host", NULL, 1},
        {"authorization", NULL, 1},
        {"Connection", NULL, 1},
        {"Keep-Alive", NULL, 1},
        {"Proxy-Connection", NULL, 1},
        {"Proxy-Authorization", NULL, 1},
        {"Proxy-Authenticate", NULL, 1},
        {"te", NULL, 1},
        {"Trailer", NULL, 1},
        {"Transfer-Encoding", NULL, 1},
        {"Upgrade", NULL, 1},
        {"CONTENT-LENGTH", NULL, 1},
        {"Expect", NULL, 1},
        {"X-Agent-Run-Id", NULL, 1},
        {"Accept-Encoding", NULL, 1},
        {"X-HTTP-Method-Override", NULL, 1},
        {"X-Rewrite-URL", NULL, 1},
        {"Idempotency_Key", NULL, 1},
        {"Idempotency-Key", NULL, 0},
        {"Content-Type", NULL, 0},
        {"User-Agent", NULL, 0},
        {"X-Custom", NULL, 0},
        {"Hosts", NULL, 0},
        {"Authorizatio", NULL, 0},
        /* named in Connection: hop-by-hop for this request only */
        {"X-Custom", "X-Custom", 1},
        {"x-custom", "keep-alive, X-CUSTOM", 1},
        {"X-Custom", "keep-alive,X-Custom", 1},
        {"X-Custom", " \tX-Custom\t,close", 1},
        {"X-Custom", "X-Custom2", 0},
        {"X-Custom", "X-Cust", 0},
        {"X-Custom", "close", 0},
        {"X-Custom", "", 0},
        {"X-Custom", ",,, ,", 0},
        {"User-Agent", "X-Custom", 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (policy_header_request_dropped(
                cases[i].name, cases[i].connection != NULL &&
                                   policy_header_has_token(cases[i].connection, cases[i].name)) !=
            cases[i].dropped)
            fail_msg("request header %zu '%s' (Connection '%s'): expected %d", i, cases[i].name,
                     cases[i].connection ? cases[i].connection : "(none)", cases[i].dropped);
}

static void
test_response(void **state)
{
    static const struct {
        const char *name;
        int dropped;
    } cases[] = {
        {"Connection", 1},
        {"keep-alive", 1},
        {"Proxy-Connection", 1},
        {"Transfer-Encoding", 1},
        {"Upgrade", 1},
        {"Trailer", 1},
        {"TE", 1},
        {"content-length", 1},
        {"X-Request-Id", 1},
        {"Content-Type", 0},
        {"ratelimit-remaining", 0},
        {"Retry-After", 0},
        {"x-resend-foo", 0},
        {"X-Request-Ids", 0},
        {"Set-Cookie", 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (policy_header_response_dropped(cases[i].name) != cases[i].dropped)
            fail_msg("response header '%s': expected %d", cases[i].name, cases[i].dropped);
}

static void
test_name_eq(void **state)
{
    /* Every pair strcasecmp calls equal, and the near misses: the first
     * byte's inline check must never turn away a match, nor let through a
     * pair differing elsewhere or in length. */
    static const struct {
        const char *a, *b;
        int eq;
    } cases[] = {
        {"Connection", "connection", 1},
        {"CONNECTION", "Connection", 1},
        {"x-request-id", "X-Request-Id", 1},
        {"", "", 1},
        {"@a", "`a", 0}, /* 0x40 and 0x60: alike once 0x20 is set, not equal */
        {"[", "{", 0},
        {"^", "~", 0},
        {"_x", "_X", 1},
        {"1a", "1A", 1},
        {"Connection", "Connections", 0},
        {"Connection", "Konnection", 0},
        {"Connection", "", 0},
        {"", "C", 0},
        {"Content-Length", "Content-Lengtj", 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (policy_header_name_eq(cases[i].a, cases[i].b) != cases[i].eq)
            fail_msg("'%s' vs '%s': expected %d", cases[i].a, cases[i].b, cases[i].eq);
        if (policy_header_name_eq(cases[i].b, cases[i].a) != cases[i].eq)
            fail_msg("'%s' vs '%s': expected %d", cases[i].b, cases[i].a, cases[i].eq);
    }
    /* Exhaustively over the first byte: the same answer as strcasecmp. */
    for (int x = 1; x < 256; x++)
        for (int y = 1; y < 256; y++) {
            char a[3] = {(char)x, 'q', 0}, b[3] = {(char)y, 'Q', 0};
            if (policy_header_name_eq(a, b) != (strcasecmp(a, b) == 0))
                fail_msg("first bytes %d and %d disagree with strcasecmp", x, y);
        }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_response),
        cmocka_unit_test(test_name_eq),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
