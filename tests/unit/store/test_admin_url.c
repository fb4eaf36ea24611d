/*
 * test_admin_url.c - store_admin_url_text, the webhook URL as the admin
 * trail records it: scheme and authority kept, any path, query or
 * fragment (where chat webhooks carry their credential) replaced by "/…",
 * and a short buffer cut, never overrun.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "store/admin.h"

static void
test_cases(void **state)
{
    static const struct {
        const char *url, *want;
    } cases[] = {
        {"https://hooks.example.com/T0/B0/secretpart", "https://hooks.example.com/…"},
        {"https://hooks.example.com", "https://hooks.example.com"},
        {"https://hooks.example.com/", "https://hooks.example.com/"},
        {"https://hooks.example.com?token=abc", "https://hooks.example.com/…"},
        {"https://hooks.example.com#frag", "https://hooks.example.com/…"},
        {"http://127.0.0.1:8080/hook?k=v", "http://127.0.0.1:8080/…"},
        {"http://[::1]:9/x", "http://[::1]:9/…"},
        {"not a url", "…"},
        {"", "…"},
    };
    char out[128];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        store_admin_url_text(cases[i].url, out, sizeof(out));
        assert_string_equal(out, cases[i].want);
        assert_null(strstr(out, "secretpart"));
        assert_null(strstr(out, "token"));
    }
}

static void
test_short_buffer(void **state)
{
    char out[12];

    (void)state;
    memset(out, 'x', sizeof(out));
    store_admin_url_text("https://hooks.example.com/secret", out, 10);
    assert_int_equal(strlen(out), 9);
    assert_int_equal(out[11], 'x');
    store_admin_url_text("https://a", out, 0); /* nothing written */
    assert_int_equal(out[0], 'h');
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_short_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
