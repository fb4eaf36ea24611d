/*
 * test_psl.c - the Public Suffix List reader and the wildcard question
 * (issue #10 item 12), on a small list in the file's own format, and on
 * Debian's list when it is installed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy/policy.h"

static const char list[] =
    "// ===BEGIN ICANN DOMAINS===\n"
    "com\n"
    "uk\n"
    "co.uk\n"
    "jp\n"
    "// kawasaki.jp: every child is a suffix but city.kawasaki.jp\n"
    "*.kawasaki.jp\n"
    "!city.kawasaki.jp\n"
    "cn\n"
    "\xE5\x85\xAC\xE5\x8F\xB8.cn\n" /* 公司.cn */
    "\xD1\x80\xD1\x84\n"            /* рф */
    "\xD9\x84\xD9\x8A\xD9\x87\xD9\x85\xD8\xA7\xD8\xA8\xD8\xAA\xD9\x83\xD9\x84\xD9\x85\xD9\x88"
    "\xD8\xB4\xD8\xB9\xD8\xB1\xD8\xA8\xD9\x8A\xD8\x9F.example\n" /* RFC 3492 sample A */
    "P\xC5\x99\xC3\xADklad.example   trailing text is ignored\n" /* Příklad: mixed */
    "\n"
    "// ===BEGIN PRIVATE DOMAINS===\n"
    "github.io\r\n"
    "\xFF\xFE.bad\n";

static void
test_wildcards(void **state)
{
    struct policy_psl *p = policy_psl_parse(list, sizeof(list) - 1);
    static const char *const refused[] = {
        "*.com",
        "*.uk",
        "*.co.uk",
        "*.jp",
        "*.kawasaki.jp",
        "*.foo.kawasaki.jp",
        "*.cn",
        "*.xn--55qx5d.cn",
        "*.xn--p1ai",
        "*.github.io",
        "*.xn--egbpdaj6bu4bxfgehfvwxn.example",
        "*.xn--pklad-zsa96e.example",
        "*.zz",
    };
    static const char *const allowed[] = {
        "*.example.com",
        "*.example.co.uk",
        "*.city.kawasaki.jp",
        "*.a.xn--55qx5d.cn",
        "*.example.xn--p1ai",
        "*.me.github.io",
        "co.uk",
        "com",
        "github.io",
        "example.com",
        "*.a.foo.kawasaki.jp",
    };

    (void)state;
    assert_non_null(p);
    assert_int_equal(policy_psl_count(p), 12); /* the line that is not UTF-8 is skipped */
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        if (!policy_psl_wildcard_over_suffix(p, refused[i]))
            fail_msg("%s should range over a public suffix", refused[i]);
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
        if (policy_psl_wildcard_over_suffix(p, allowed[i]))
            fail_msg("%s should not", allowed[i]);
    policy_psl_free(p);
    policy_psl_free(NULL);
}

/* Lines that only a lax decoder reads: an overlong 'a' (C1 A1, E0 81 A1),
 * a surrogate half (ED A0 80), a lead byte past U+10FFFF (F8).  Each is
 * skipped; read laxly, the first two would make a.zz and ab.zw suffixes. */
static void
test_not_utf8(void **state)
{
    static const char bad[] = "com\n"
                              "\xC1\xA1.zz\n"
                              "\xE0\x81\xA1"
                              "b.zw\n"
                              "\xED\xA0\x80.zy\n"
                              "\xF8\x88\x80\x80\x80.zx\n"
                              "\xF4\x90\x80\x80.zv\n";
    struct policy_psl *p = policy_psl_parse(bad, sizeof(bad) - 1);

    (void)state;
    assert_non_null(p);
    assert_int_equal(policy_psl_count(p), 1);
    assert_false(policy_psl_wildcard_over_suffix(p, "*.a.zz"));
    assert_false(policy_psl_wildcard_over_suffix(p, "*.ab.zw"));
    assert_true(policy_psl_wildcard_over_suffix(p, "*.com"));
    policy_psl_free(p);
}

static void
test_empty(void **state)
{
    struct policy_psl *p = policy_psl_parse("// nothing\n", 11);

    (void)state;
    assert_int_equal(policy_psl_count(p), 0);
    /* With no rule, "*" still makes every TLD a suffix. */
    assert_true(policy_psl_wildcard_over_suffix(p, "*.com"));
    assert_false(policy_psl_wildcard_over_suffix(p, "*.example.com"));
    policy_psl_free(p);
}

static void
test_debian_list(void **state)
{
    FILE *f = fopen("/usr/share/publicsuffix/public_suffix_list.dat", "rb");
    struct policy_psl *p;
    char *buf;
    long n;

    (void)state;
    if (f == NULL)
        skip();
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    p = policy_psl_parse(buf, (size_t)n);
    free(buf);
    assert_non_null(p);
    assert_true(policy_psl_count(p) > 5000);
    assert_true(policy_psl_wildcard_over_suffix(p, "*.co.uk"));
    assert_true(policy_psl_wildcard_over_suffix(p, "*.xn--55qx5d.cn"));
    assert_true(policy_psl_wildcard_over_suffix(p, "*.kawasaki.jp"));
    assert_false(policy_psl_wildcard_over_suffix(p, "*.city.kawasaki.jp"));
    assert_false(policy_psl_wildcard_over_suffix(p, "*.example.co.uk"));
    policy_psl_free(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wildcards),
        cmocka_unit_test(test_not_utf8),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_debian_list),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
