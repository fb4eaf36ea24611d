/*
 * test_route.c - route classification of every Resend endpoint under both
 * scopes, table-driven.
 *
 * tests/data/routes.tsv states, for each endpoint of resend/openapi.yaml and
 * each route the Node SDK calls beyond it, which class it has and whether a
 * sending-scope key, a full-scope key, and a full-scope key with a cap or a
 * to-domain list may call it.  The test also reads the OpenAPI file itself,
 * so an endpoint missing from routes.tsv fails it.
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

struct row {
    char method[8], path[160], source[16], cls[16];
    int sending, full, full_capped;
};

static struct row rows[400];
static int nrows;

static const char *
data_path(const char *name, char *buf, size_t len)
{
    const char *dir = getenv("SENDCAP_TEST_DATA");

    snprintf(buf, len, "%s/%s", dir ? dir : "tests/data", name);
    return buf;
}

/* "/emails/{email_id}/cancel" -> "/emails/x1/cancel" (a concrete path). */
static void
concrete(const char *pattern, char *out, size_t len)
{
    size_t o = 0;

    for (const char *p = pattern; *p && o + 3 < len; p++) {
        if (*p == '{') {
            const char *e = strchr(p, '}');
            memcpy(out + o, "x1", 2);
            o += 2;
            p = e;
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
}

static int
load_rows(void **state)
{
    char path[512], line[512];
    FILE *f;

    (void)state;
    f = fopen(data_path("routes.tsv", path, sizeof(path)), "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        struct row *r = &rows[nrows];
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (sscanf(line, "%7s\t%159s\t%15s\t%15s\t%d\t%d\t%d", r->method, r->path, r->source,
                   r->cls, &r->sending, &r->full, &r->full_capped) != 7)
            return -1;
        nrows++;
    }
    fclose(f);
    return nrows > 100 ? 0 : -1;
}

static enum policy_route_class
cls_of(const char *s)
{
    if (strcmp(s, "send") == 0)
        return POLICY_ROUTE_SEND;
    if (strcmp(s, "own_email") == 0)
        return POLICY_ROUTE_OWN_EMAIL;
    if (strcmp(s, "blind_send") == 0)
        return POLICY_ROUTE_BLIND_SEND;
    if (strcmp(s, "forbidden") == 0)
        return POLICY_ROUTE_FORBIDDEN;
    if (strcmp(s, "whoami") == 0)
        return POLICY_ROUTE_WHOAMI;
    return POLICY_ROUTE_FULL;
}

static void
test_every_row(void **state)
{
    (void)state;
    for (int i = 0; i < nrows; i++) {
        const struct row *r = &rows[i];
        const struct policy_route *rt = NULL;
        char p[200];

        concrete(r->path, p, sizeof(p));
        if (policy_route_match(r->method, p, &rt) != POLICY_ROUTE_OK) {
            fail_msg("%s %s is not routed", r->method, r->path);
        }
        if (rt->cls != cls_of(r->cls))
            fail_msg("%s %s: class %d, expected %s", r->method, r->path, rt->cls, r->cls);
        if (policy_route_allowed(rt, POLICY_SCOPE_SENDING, 0, 0) != r->sending)
            fail_msg("%s %s: sending scope wrong", r->method, r->path);
        if (policy_route_allowed(rt, POLICY_SCOPE_FULL, 0, 0) != r->full)
            fail_msg("%s %s: full scope wrong", r->method, r->path);
        if (policy_route_allowed(rt, POLICY_SCOPE_FULL, 1, 0) != r->full_capped ||
            policy_route_allowed(rt, POLICY_SCOPE_FULL, 0, 1) != r->full_capped)
            fail_msg("%s %s: full scope with a cap or to-list wrong", r->method, r->path);
        /* A sending-scope key with a cap is never allowed more. */
        if (policy_route_allowed(rt, POLICY_SCOPE_SENDING, 1, 1) > r->sending)
            fail_msg("%s %s: capped sending scope wrong", r->method, r->path);
    }
}

/* Every endpoint in the OpenAPI file has a row. */
static void
test_openapi_covered(void **state)
{
    char path[512], line[512], cur[200] = "";
    FILE *f = fopen(data_path("resend-openapi.yaml", path, sizeof(path)), "r");
    int in_paths = 0, seen = 0;

    (void)state;
    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        char m[16];
        if (strncmp(line, "paths:", 6) == 0) {
            in_paths = 1;
            continue;
        }
        if (in_paths && line[0] >= 'a' && line[0] <= 'z')
            in_paths = 0;
        if (!in_paths)
            continue;
        if (strncmp(line, "  /", 3) == 0 && line[3 + strcspn(line + 3, ": ")] == ':') {
            sscanf(line + 2, "%199[^:]", cur);
            continue;
        }
        if (sscanf(line, "    %15[a-z]:", m) == 1 && line[4] != ' ' &&
            (strcmp(m, "get") == 0 || strcmp(m, "post") == 0 || strcmp(m, "put") == 0 ||
             strcmp(m, "patch") == 0 || strcmp(m, "delete") == 0)) {
            int found = 0;
            for (char *c = m; *c; c++)
                *c = (char)(*c - 32);
            for (int i = 0; i < nrows; i++)
                if (strcmp(rows[i].method, m) == 0 && strcmp(rows[i].path, cur) == 0)
                    found = 1;
            if (!found)
                fail_msg("OpenAPI endpoint %s %s has no row in routes.tsv", m, cur);
            seen++;
        }
    }
    fclose(f);
    assert_true(seen >= 100);
}

static void
test_names_and_specifics(void **state)
{
    const struct policy_route *r;

    (void)state;
    assert_int_equal(policy_route_match("POST", "/emails", &r), POLICY_ROUTE_OK);
    assert_string_equal(r->name, "emails.send");
    assert_int_equal(policy_route_match("POST", "/emails/batch", &r), POLICY_ROUTE_OK);
    assert_string_equal(r->name, "emails.batch");
    assert_int_equal(policy_route_match("GET", "/emails/batch", &r), POLICY_ROUTE_OK);
    assert_string_equal(r->name, "emails.get"); /* an id that happens to be "batch" */
    assert_int_equal(policy_route_match("GET", "/emails/receiving", &r), POLICY_ROUTE_OK);
    assert_string_equal(r->name, "emails.receiving.list");
    assert_int_equal(policy_route_match("GET", "/contacts/imports/x", &r), POLICY_ROUTE_OK);
    assert_string_equal(r->name, "contacts.imports.get");
    assert_int_equal(policy_route_match("GET", "/contacts/a@b.com", &r), POLICY_ROUTE_OK);
    assert_string_equal(r->name, "contacts.get");
    /* unknown paths and methods */
    assert_int_equal(policy_route_match("GET", "/nope", &r), POLICY_ROUTE_NOT_FOUND);
    assert_int_equal(policy_route_match("GET", "/", &r), POLICY_ROUTE_NOT_FOUND);
    assert_int_equal(policy_route_match("GET", "/emails/x/y/z/w", &r), POLICY_ROUTE_NOT_FOUND);
    assert_int_equal(policy_route_match("DELETE", "/emails", &r), POLICY_ROUTE_BAD_METHOD);
    assert_int_equal(policy_route_match("PUT", "/emails/x1", &r), POLICY_ROUTE_BAD_METHOD);
    assert_int_equal(policy_route_match("HEAD", "/emails", &r), POLICY_ROUTE_BAD_METHOD);
    assert_int_equal(policy_route_match("post", "/emails", &r), POLICY_ROUTE_BAD_METHOD);
    assert_int_equal(policy_route_match("POST", "/Emails", &r), POLICY_ROUTE_NOT_FOUND);
    /* anything under /api-keys, known or not, any method: forbidden */
    assert_int_equal(policy_route_match("GET", "/api-keys/a/b/c", &r), POLICY_ROUTE_OK);
    assert_int_equal(r->cls, POLICY_ROUTE_FORBIDDEN);
    assert_int_equal(policy_route_match("PUT", "/api-keys", &r), POLICY_ROUTE_OK);
    assert_int_equal(r->cls, POLICY_ROUTE_FORBIDDEN);
    assert_int_equal(policy_route_match("GET", "/api-keysX", &r), POLICY_ROUTE_NOT_FOUND);
}

static void
test_table_has_no_orphans(void **state)
{
    size_t n;
    const struct policy_route *t = policy_route_table(&n);

    (void)state;
    /* Every route the proxy knows is one the expectations speak of. */
    for (size_t i = 0; i < n; i++) {
        int found = 0;
        for (int j = 0; j < nrows && !found; j++) {
            char p[200];
            const struct policy_route *r;
            concrete(rows[j].path, p, sizeof(p));
            if (strcmp(rows[j].method, t[i].method) == 0 &&
                policy_route_match(rows[j].method, p, &r) == POLICY_ROUTE_OK && r == &t[i])
                found = 1;
        }
        if (!found)
            fail_msg("route %s %s (%s) has no row in routes.tsv", t[i].method, t[i].pattern,
                     t[i].name);
    }
}

static void
test_domain_rules(void **state)
{
    char out[300];

    (void)state;
    assert_int_equal(policy_domain_rule_normalize("Example.COM", out, sizeof(out)), 0);
    assert_string_equal(out, "example.com");
    assert_int_equal(policy_domain_rule_normalize("*.corp.example.com", out, sizeof(out)), 0);
    assert_string_equal(out, "*.corp.example.com");
    assert_int_equal(policy_domain_rule_normalize("xn--bcher-kva.example", out, sizeof(out)), 0);
    assert_int_equal(policy_domain_rule_normalize("a-b.c", out, sizeof(out)), 0);
    static const char *bad[] = {"",     "com",    "*.com", "*",         "*.",    "a..b",
                                ".a.b", "a.b.",   "-a.b",  "a-.b",      "a_b.c", "a b.c",
                                "a.b*", "**.a.b", "a.*.b", "bücher.de", "a@b.c", "a.b/c"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (policy_domain_rule_normalize(bad[i], out, sizeof(out)) == 0)
            fail_msg("'%s' accepted as a domain rule", bad[i]);
    {
        char label[70], dom[300];
        memset(label, 'a', 64);
        label[64] = '\0';
        snprintf(dom, sizeof(dom), "%s.com", label);
        assert_int_equal(policy_domain_rule_normalize(dom, out, sizeof(out)), -1);
        label[63] = '\0';
        snprintf(dom, sizeof(dom), "%s.com", label);
        assert_int_equal(policy_domain_rule_normalize(dom, out, sizeof(out)), 0);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_row),           cmocka_unit_test(test_openapi_covered),
        cmocka_unit_test(test_names_and_specifics), cmocka_unit_test(test_table_has_no_orphans),
        cmocka_unit_test(test_domain_rules),
    };
    return cmocka_run_group_tests(tests, load_rows, NULL);
}
