/*
 * test_idempotency.c - the Idempotency-Key value forwarded upstream
 * (policy_request_idempotency_value): the family prefix, the 256-character
 * boundary where the hash stands in, the real SHA-256 the daemon passes
 * (store_secret_key_hash), and an output buffer too small.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "policy/policy.h"
#include "store/secret.h"

static int hashed;

/* A stand-in hash: records the call, writes the length as 64 hex digits. */
static void
fake_hash(const char *s, size_t n, char *hex)
{
    (void)s;
    hashed++;
    snprintf(hex, POLICY_SHA256_HEX, "%064zx", n);
}

static void
test_boundary(void **state)
{
    static const struct {
        const char *family;
        size_t vlen; /* value: vlen times 'k' */
        int hashed;
    } cases[] = {
        {"fam_1", 1, 0},
        {"fam_1", 250, 0}, /* 5 + 1 + 250 = 256: as sent */
        {"fam_1", 251, 1}, /* 257: hashed */
        {"fam_1", 256, 1},
        {"k_0123456789abcdef0123456789abcdef", 221, 0}, /* 34 + 1 + 221 */
        {"k_0123456789abcdef0123456789abcdef", 222, 1},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char value[300], out[400], want[400];

        memset(value, 'k', cases[i].vlen);
        value[cases[i].vlen] = '\0';
        hashed = 0;
        assert_int_equal(policy_request_idempotency_value(cases[i].family, value, 256, fake_hash,
                                                          out, sizeof(out)),
                         0);
        if (cases[i].hashed)
            snprintf(want, sizeof(want), "%s:sha256:%064zx", cases[i].family, cases[i].vlen);
        else
            snprintf(want, sizeof(want), "%s:%s", cases[i].family, value);
        if (strcmp(out, want) != 0 || hashed != cases[i].hashed)
            fail_msg("case %zu: '%s', expected '%s' (hashed %d)", i, out, want, hashed);
        assert_true(strlen(out) <= 256 || cases[i].hashed == 0);
    }
}

static void
test_real_hash(void **state)
{
    char value[301], out[400];

    (void)state;
    memset(value, 'k', 300);
    value[300] = '\0';
    assert_int_equal(policy_request_idempotency_value("fam", value, 256, store_secret_key_hash, out,
                                                      sizeof(out)),
                     0);
    /* python3 -c "import hashlib; print(hashlib.sha256(b'k'*300).hexdigest())" */
    assert_string_equal(
        out, "fam:sha256:17b16d8ef494060fefa36a6a41567b8c32d213a17e02b7eeae86158cc4495461");
}

static void
test_too_small(void **state)
{
    char out[8];

    (void)state;
    assert_int_equal(policy_request_idempotency_value("fam", "abc", 256, fake_hash, out, 8), 0);
    assert_string_equal(out, "fam:abc");
    assert_int_equal(policy_request_idempotency_value("fam", "abcd", 256, fake_hash, out, 8), -1);
    assert_int_equal(policy_request_idempotency_value("fam", "abc", 5, fake_hash, out, 8), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boundary),
        cmocka_unit_test(test_real_hash),
        cmocka_unit_test(test_too_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
