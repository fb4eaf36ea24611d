/*
 * test_audit_pack.c - a call record's packed form ("v1" then <len>:<value>
 * per field) survives store_audit_pack -> store_audit_row_unpack unchanged:
 * with and without the optional last field (count), old 22-field records
 * read back with count "", and edited records are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/util.h"
#include "store/audit.h"

static void
fill(struct store_audit_rec *rec, int variant)
{
    memset(rec, 0, sizeof(*rec));
    for (int i = 0; i < STORE_AUDIT_NFIELDS; i++) {
        char v[64];
        switch (variant) {
        case 0: /* every field set, with separators and digits inside */
            snprintf(v, sizeof(v), "%d:%s:v%d,12:x", i, store_audit_fields[i], i);
            break;
        case 1: /* all empty */
            v[0] = '\0';
            break;
        default: /* alternate empty and long */
            if (i % 2)
                snprintf(v, sizeof(v), "%060d", i);
            else
                v[0] = '\0';
        }
        store_audit_set(rec, (enum store_audit_field)i, v);
    }
}

static void
round_trip(struct store_audit_rec *rec, int with_count)
{
    struct store_audit_row row;
    char *p;

    if (!with_count)
        store_audit_set(rec, STORE_AUDIT_COUNT, "");
    p = store_audit_pack(rec);
    assert_non_null(p);
    assert_memory_equal(p, "v1", 2);
    memset(&row, 0, sizeof(row));
    assert_int_equal(store_audit_row_unpack(p, strlen(p), &row), 0);
    for (int i = 0; i < STORE_AUDIT_NFIELDS; i++)
        assert_string_equal(row.v[i], rec->v[i]);
    free(row.buf);
    free(p);
}

static void
test_round_trip(void **state)
{
    struct store_audit_rec rec;

    (void)state;
    for (int variant = 0; variant < 3; variant++) {
        for (int with_count = 0; with_count < 2; with_count++) {
            fill(&rec, variant);
            if (with_count)
                store_audit_set(&rec, STORE_AUDIT_COUNT, "1234");
            round_trip(&rec, with_count);
            store_audit_clear(&rec);
        }
    }
}

/* A record without count packs as the 22-field form, byte for byte what
 * older writers stored; one with count adds exactly its field. */
static void
test_optional_count(void **state)
{
    struct store_audit_rec rec;
    char *p22, *p23;
    size_t n22;

    (void)state;
    memset(&rec, 0, sizeof(rec));
    store_audit_set(&rec, STORE_AUDIT_TIME, "1700000000000");
    store_audit_set(&rec, STORE_AUDIT_REASON, "ok");
    p22 = store_audit_pack(&rec);
    assert_non_null(p22);
    store_audit_set(&rec, STORE_AUDIT_COUNT, "77");
    p23 = store_audit_pack(&rec);
    assert_non_null(p23);
    n22 = strlen(p22);
    assert_int_equal(strlen(p23), n22 + 4);
    assert_memory_equal(p23, p22, n22);
    assert_string_equal(p23 + n22, "2:77");
    free(p22);
    free(p23);
    store_audit_clear(&rec);
}

/* An old record, written out by hand: 22 fields, no count. */
static void
test_old_record(void **state)
{
    char old[512] = "v1";
    struct store_audit_row row;

    (void)state;
    for (int i = 0; i < STORE_AUDIT_NFIELDS - 1; i++) {
        const char *v = i == STORE_AUDIT_REQUEST_ID ? "req_old"
                        : i == STORE_AUDIT_DECISION ? "allowed"
                                                    : "";
        snprintf(old + strlen(old), sizeof(old) - strlen(old), "%zu:%s", strlen(v), v);
    }
    memset(&row, 0, sizeof(row));
    assert_int_equal(store_audit_row_unpack(old, strlen(old), &row), 0);
    assert_string_equal(row.v[STORE_AUDIT_REQUEST_ID], "req_old");
    assert_string_equal(row.v[STORE_AUDIT_DECISION], "allowed");
    assert_string_equal(row.v[STORE_AUDIT_COUNT], "");
    free(row.buf);
}

/* The format, not one field, is optional past STORE_AUDIT_NREQUIRED: a
 * record of any length from NREQUIRED to NFIELDS reads, each absent field
 * as ""; and pack stops after the last non-empty optional field, leaving
 * empty ones before it in place. */
static void
test_optional_fields(void **state)
{
    (void)state;
    for (int k = STORE_AUDIT_NREQUIRED; k <= STORE_AUDIT_NFIELDS; k++) {
        char rec[1024] = "v1";
        struct store_audit_row row;
        for (int i = 0; i < k; i++) {
            char v[8];
            snprintf(v, sizeof(v), "f%d", i);
            snprintf(rec + strlen(rec), sizeof(rec) - strlen(rec), "%zu:%s", strlen(v), v);
        }
        memset(&row, 0, sizeof(row));
        assert_int_equal(store_audit_row_unpack(rec, strlen(rec), &row), 0);
        for (int i = 0; i < STORE_AUDIT_NFIELDS; i++) {
            char want[8];
            snprintf(want, sizeof(want), "f%d", i);
            assert_string_equal(row.v[i], i < k ? want : "");
        }
        free(row.buf);
    }
    for (int last = STORE_AUDIT_NREQUIRED; last < STORE_AUDIT_NFIELDS; last++) {
        struct store_audit_rec rec;
        struct store_audit_row row;
        char *base, *p, tail[32];
        memset(&rec, 0, sizeof(rec));
        store_audit_set(&rec, STORE_AUDIT_REQUEST_ID, "req_x");
        base = store_audit_pack(&rec); /* exactly the required fields */
        assert_non_null(base);
        store_audit_set(&rec, (enum store_audit_field)last, "9");
        p = store_audit_pack(&rec);
        assert_non_null(p);
        {
            size_t o = 0;
            for (int i = STORE_AUDIT_NREQUIRED; i < last; i++)
                o += sc_cat(tail + o, sizeof(tail) - o, "0:", NULL);
            sc_cat(tail + o, sizeof(tail) - o, "1:9", NULL);
        }
        assert_int_equal(strlen(p), strlen(base) + strlen(tail));
        assert_memory_equal(p, base, strlen(base));
        assert_string_equal(p + strlen(base), tail);
        memset(&row, 0, sizeof(row));
        assert_int_equal(store_audit_row_unpack(p, strlen(p), &row), 0);
        assert_string_equal(row.v[last], "9");
        free(row.buf);
        free(base);
        free(p);
        store_audit_clear(&rec);
    }
}

/* Edited or cut records are refused, leaving no buffer behind. */
static void
test_malformed(void **state)
{
    struct store_audit_rec rec;
    struct store_audit_row row;
    char *good, buf[2048];
    size_t n;

    (void)state;
    fill(&rec, 0);
    good = store_audit_pack(&rec);
    assert_non_null(good);
    n = strlen(good);
    static const char *bad[] = {"", "v", "v2", "v10:", "v1x", "v11:a", "v11234567890:a"};
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        memset(&row, 0, sizeof(row));
        assert_int_equal(store_audit_row_unpack(bad[k], strlen(bad[k]), &row), -1);
        assert_null(row.buf);
    }
    /* every strict prefix of a good record but the 22-field one is cut */
    for (size_t cut = 0; cut < n; cut++) {
        int r;
        memset(&row, 0, sizeof(row));
        r = store_audit_row_unpack(good, cut, &row);
        if (r == 0) {
            /* only the 22-field prefix may read: count was cut whole */
            assert_string_equal(row.v[STORE_AUDIT_COUNT], "");
            free(row.buf);
        } else {
            assert_null(row.buf);
        }
    }
    /* trailing junk */
    snprintf(buf, sizeof(buf), "%s0:", good);
    memset(&row, 0, sizeof(row));
    assert_int_equal(store_audit_row_unpack(buf, strlen(buf), &row), -1);
    assert_null(row.buf);
    free(good);
    store_audit_clear(&rec);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip), cmocka_unit_test(test_optional_count),
        cmocka_unit_test(test_old_record), cmocka_unit_test(test_optional_fields),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
