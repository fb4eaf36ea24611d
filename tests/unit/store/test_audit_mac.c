/*
 * test_audit_mac.c - the call log's MAC is HMAC-SHA256 of its canonical
 * bytes: store_audit_mac (hand-rolled over SHA256_CTX for speed) against
 * OpenSSL's one-shot HMAC() on the same bytes built here independently,
 * for several keys (the keyed state is cached and must follow a new key),
 * empty and long values, and values with a length given.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "store/audit.h"

static void
expected(const unsigned char key[32], const char *prev, int n, const char *const *names,
         const char *const *vals, char out[65])
{
    size_t cap = 1 << 16, used;
    char *buf = malloc(cap);
    unsigned char md[32];
    unsigned int mdlen = 32;

    assert_non_null(buf);
    used = (size_t)snprintf(buf, cap, "%s\n", prev);
    for (int i = 0; i < n; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%zu:%s=%zu:%s\n", strlen(names[i]),
                                 names[i], strlen(vals[i]), vals[i]);
    assert_true(used < cap);
    HMAC(EVP_sha256(), key, 32, (unsigned char *)buf, used, md, &mdlen);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    free(buf);
}

static void
test_matches_openssl_hmac(void **state)
{
    char *big = malloc(20001);
    const char *names[] = {"r", "w", "seq", "prev", ""};
    const char *vals[][5] = {
        {"v1 packed", "w_abc", "1", "genesis", ""},
        {"", "", "", "", ""},
        {NULL, "w_x", "18446744073709551615", "0123456789abcdef", "a=b:c\n"},
    };
    unsigned char key[32];
    char got[65], want[65];

    (void)state;
    assert_non_null(big);
    memset(big, 'x', 20000);
    big[20000] = '\0';
    vals[2][0] = big;
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < 32; i++)
            key[i] = (unsigned char)(k * 77 + i * 13);
        for (size_t v = 0; v < sizeof(vals) / sizeof(vals[0]); v++) {
            for (int n = 0; n <= 5; n++) {
                const char *prev = n % 2 ? "genesis" : "";
                size_t lens[5];
                store_audit_mac(key, prev, n, names, vals[v], NULL, got);
                expected(key, prev, n, names, vals[v], want);
                assert_string_equal(got, want);
                for (int i = 0; i < n; i++)
                    lens[i] = strlen(vals[v][i]);
                store_audit_mac(key, prev, n, names, vals[v], lens, got);
                assert_string_equal(got, want);
            }
        }
    }
    free(big);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_openssl_hmac),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
