/*
 * test_secret.c - sealing real keys, vault key shape and hashing.
 *
 * Tamper cases flip one bit in each part of a sealed value (IV, ciphertext,
 * tag) and change the AAD: every one must fail to open.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/secret.h"

static const unsigned char mk[SC_MASTER_KEY_LEN] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                                    12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                                    23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const char real[] = "re_123456789_abcdefghijklmnopqrstuvwxyz";
static const char aad[] = "sendcap/upstream/prod";

static void
test_round_trip(void **state)
{
    char err[256];
    size_t n = 0;
    char *sealed, *opened, *sealed2;

    (void)state;
    sealed =
        store_secret_seal(mk, aad, (const unsigned char *)real, strlen(real), err, sizeof(err));
    assert_non_null(sealed);
    assert_true(strncmp(sealed, "v1.", 3) == 0);
    assert_null(strstr(sealed, "re_123"));
    opened = store_secret_open(mk, aad, sealed, &n, err, sizeof(err));
    assert_non_null(opened);
    assert_int_equal(n, strlen(real));
    assert_string_equal(opened, real);
    /* A fresh random IV each time: the same key never seals the same way. */
    sealed2 =
        store_secret_seal(mk, aad, (const unsigned char *)real, strlen(real), err, sizeof(err));
    assert_string_not_equal(sealed, sealed2);
    store_secret_free(opened);
    free(sealed);
    free(sealed2);
}

/* Decode, flip one bit at byte offset off (negative: from the end), re-encode. */
static char *
flip(const char *sealed, long off)
{
    unsigned char raw[512];
    long n = store_secret_b64_decode(sealed + 3, raw, sizeof(raw));
    char *b64, *out;

    assert_true(n > 28);
    raw[off >= 0 ? off : n + off] ^= 0x01;
    b64 = store_secret_b64_encode(raw, (size_t)n);
    out = malloc(strlen(b64) + 4);
    memcpy(out, "v1.", 3);
    memcpy(out + 3, b64, strlen(b64) + 1);
    free(b64);
    return out;
}

static void
expect_no_open(const char *sealed, const char *with_aad, const unsigned char *key)
{
    char err[256] = "";
    size_t n;
    char *opened = store_secret_open(key, with_aad, sealed, &n, err, sizeof(err));

    assert_null(opened);
    assert_true(err[0] != '\0');
}

static void
test_tamper(void **state)
{
    char err[256];
    char *sealed =
        store_secret_seal(mk, aad, (const unsigned char *)real, strlen(real), err, sizeof(err));
    unsigned char other[SC_MASTER_KEY_LEN];
    char *t;

    (void)state;
    t = flip(sealed, 0); /* IV */
    expect_no_open(t, aad, mk);
    free(t);
    t = flip(sealed, 11); /* last IV byte */
    expect_no_open(t, aad, mk);
    free(t);
    t = flip(sealed, 12); /* first ciphertext byte */
    expect_no_open(t, aad, mk);
    free(t);
    t = flip(sealed, -17); /* last ciphertext byte */
    expect_no_open(t, aad, mk);
    free(t);
    t = flip(sealed, -1); /* tag */
    expect_no_open(t, aad, mk);
    free(t);
    t = flip(sealed, -16); /* first tag byte */
    expect_no_open(t, aad, mk);
    free(t);
    /* AAD binds the value to its upstream: moved to another, it does not open. */
    expect_no_open(sealed, "sendcap/upstream/prod2", mk);
    expect_no_open(sealed, "", mk);
    /* Another master key. */
    memcpy(other, mk, sizeof(other));
    other[31] ^= 0x80;
    expect_no_open(sealed, aad, other);
    /* Malformed values. */
    expect_no_open("v1.", aad, mk);
    expect_no_open("v2.AAAA", aad, mk);
    expect_no_open("v1.!!!!", aad, mk);
    expect_no_open("v1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", aad, mk);
    free(sealed);
}

static void
test_vault_key_shape(void **state)
{
    char vk[64], vk2[64];

    (void)state;
    assert_int_equal(store_secret_vault_key_new(vk, sizeof(vk)), 0);
    assert_int_equal(store_secret_vault_key_new(vk2, sizeof(vk2)), 0);
    assert_int_equal(strlen(vk), 3 + 43);
    assert_true(strncmp(vk, "vk_", 3) == 0);
    assert_string_not_equal(vk, vk2);
    for (const char *p = vk + 3; *p; p++)
        assert_non_null(
            strchr("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", *p));
    assert_true(store_secret_vault_key_valid(vk));
    assert_false(store_secret_vault_key_valid("vk_short"));
    assert_false(store_secret_vault_key_valid("re_0123456789012345678901234567890123456789012"));
    assert_false(store_secret_vault_key_valid("vk_012345678901234567890123456789012345678901-"));
    assert_true(store_secret_vault_key_valid("vk_0123456789012345678901234567890123456789012"));
    assert_false(store_secret_vault_key_valid("vk_012345678901234567890123456789012345678901"));
    /* too small a buffer */
    assert_int_equal(store_secret_vault_key_new(vk, 46), -1);
}

static void
test_base62_uniform(void **state)
{
    /* Every symbol appears, and none is more than twice as common as the
     * rarest: a gross bias (e.g. modulo on 256) would show. */
    static char buf[62 * 2000 + 1];
    int count[128] = {0}, min = 1 << 30, max = 0;

    (void)state;
    assert_int_equal(store_secret_random_base62(buf, sizeof(buf) - 1), 0);
    for (size_t i = 0; i < sizeof(buf) - 1; i++)
        count[(unsigned char)buf[i]]++;
    for (const char *p = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"; *p;
         p++) {
        if (count[(unsigned char)*p] < min)
            min = count[(unsigned char)*p];
        if (count[(unsigned char)*p] > max)
            max = count[(unsigned char)*p];
    }
    assert_true(min > 0);
    assert_true(max < 2 * min);
}

static void
test_key_hash(void **state)
{
    char hex[SC_KEY_HASH_HEX];

    (void)state;
    /* SHA-256("abc"), FIPS 180-2 appendix B.1 */
    store_secret_key_hash("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void
test_fingerprint_and_b64(void **state)
{
    char fp[32];
    unsigned char out[8];

    (void)state;
    store_secret_real_fingerprint("re_abcdefWXYZ", fp, sizeof(fp));
    assert_string_equal(fp, "re_…WXYZ");
    assert_int_equal(store_secret_b64_decode("YWJj", out, sizeof(out)), 3);
    assert_memory_equal(out, "abc", 3);
    assert_int_equal(store_secret_b64_decode("YWI=", out, sizeof(out)), 2);
    assert_int_equal(store_secret_b64_decode("YWJjZGVmZ2hp", out, 8), -1); /* 9 > 8 */
    assert_int_equal(store_secret_b64_decode("YWJ", out, sizeof(out)), -1);
}

static void
test_master_check_differs(void **state)
{
    unsigned char other[SC_MASTER_KEY_LEN];
    char a[17], b[17];

    (void)state;
    memcpy(other, mk, sizeof(other));
    other[0] ^= 1;
    store_secret_master_check(mk, a);
    store_secret_master_check(other, b);
    assert_int_equal(strlen(a), 16);
    assert_string_not_equal(a, b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_tamper),
        cmocka_unit_test(test_vault_key_shape),
        cmocka_unit_test(test_base62_uniform),
        cmocka_unit_test(test_key_hash),
        cmocka_unit_test(test_fingerprint_and_b64),
        cmocka_unit_test(test_master_check_differs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
