/*
 * json_diff.h - policy/json.c held to jansson, its oracle.
 *
 * json_diff(buf, len) reads buf with both policy_json_parse and
 * json_loadb(..., JSON_REJECT_DUPLICATES) and says where they disagree, or
 * returns NULL: the same acceptance, a repeated key refused as such by
 * both, and for an accepted body the same tree (types, string bytes,
 * numbers' values, every object member found under its key, array order,
 * subtree extents).  Used by fuzz_json.c and tests/unit/policy/test_json.c.
 *
 * One difference is deliberate: jansson loses a raw NUL byte that directly
 * follows a number or a literal (its lexer "ungets" the NUL, and its
 * stream reads an empty buffer slot as "need a new byte"), so it reads
 * [0<NUL>] as [0].  policy_json refuses every raw NUL, as RFC 8259 does.
 * For input with a NUL the rule here is: refused by policy_json whenever
 * jansson refuses or accepts it, and the same input without its NULs agreed
 * on as above.
 */
#ifndef SC_TESTS_JSON_DIFF_H
#define SC_TESTS_JSON_DIFF_H

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "policy/json.h"

static int
json_diff_number(const struct policy_json_node *n, json_t *j)
{
    char text[512];

    if (n->type != POLICY_JSON_NUMBER || n->len >= sizeof(text))
        return n->type == POLICY_JSON_NUMBER; /* too long to copy here: type only */
    memcpy(text, n->s, n->len);
    text[n->len] = '\0';
    if (json_is_integer(j))
        return strpbrk(text, ".eE") == NULL && strtoll(text, NULL, 10) == json_integer_value(j);
    return strpbrk(text, ".eE") != NULL && strtod(text, NULL) == json_real_value(j);
}

static int
json_diff_same(const struct policy_json *d, size_t i, json_t *j)
{
    const struct policy_json_node *n = &d->node[i];
    size_t k = i + 1;

    switch (json_typeof(j)) {
    case JSON_OBJECT:
        if (n->type != POLICY_JSON_OBJECT || n->len != json_object_size(j))
            return 0;
        for (uint32_t m = 0; m < n->len; m++) {
            const struct policy_json_node *key = &d->node[k];
            json_t *v;
            if (key->type != POLICY_JSON_STRING ||
                (v = json_object_getn(j, key->s, key->len)) == NULL || !json_diff_same(d, k + 1, v))
                return 0;
            k = d->node[k + 1].end;
        }
        return n->end == k;
    case JSON_ARRAY:
        if (n->type != POLICY_JSON_ARRAY || n->len != json_array_size(j))
            return 0;
        for (uint32_t m = 0; m < n->len; m++) {
            if (!json_diff_same(d, k, json_array_get(j, m)))
                return 0;
            k = d->node[k].end;
        }
        return n->end == k;
    case JSON_STRING:
        return n->type == POLICY_JSON_STRING && n->len == json_string_length(j) &&
               memcmp(n->s, json_string_value(j), n->len) == 0 && n->s[n->len] == '\0' &&
               n->end == i + 1;
    case JSON_INTEGER:
    case JSON_REAL:
        return json_diff_number(n, j) && n->end == i + 1;
    case JSON_TRUE:
        return n->type == POLICY_JSON_TRUE && n->end == i + 1;
    case JSON_FALSE:
        return n->type == POLICY_JSON_FALSE && n->end == i + 1;
    case JSON_NULL:
        return n->type == POLICY_JSON_NULL && n->end == i + 1;
    }
    return 0;
}

static const char *json_diff(const char *buf, size_t len);

static const char *
json_diff_nul(const char *buf, size_t len, int rc)
{
    char *t;
    size_t n = 0;
    const char *why;

    if (rc == POLICY_JSON_OK)
        return "policy_json accepts a raw NUL byte";
    if ((t = malloc(len + 1)) == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++)
        if (buf[i] != '\0')
            t[n++] = buf[i];
    why = json_diff(t, n);
    free(t);
    return why;
}

static const char *
json_diff(const char *buf, size_t len)
{
    struct policy_json doc;
    json_error_t jerr;
    char err[160];
    int line, rc = policy_json_parse(&doc, buf, len, err, sizeof(err), &line);
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *why = NULL;

    if (rc == POLICY_JSON_NOMEM || rc == POLICY_JSON_TOO_MANY)
        why = NULL; /* says nothing about acceptance: jansson has no bound */
    else if (memchr(buf, '\0', len) != NULL)
        why = json_diff_nul(buf, len, rc);
    else if ((rc == POLICY_JSON_OK) != (root != NULL))
        why = root != NULL ? "jansson accepts, policy_json refuses"
                           : "policy_json accepts, jansson refuses";
    else if (root == NULL &&
             (rc == POLICY_JSON_DUPLICATE) != (json_error_code(&jerr) == json_error_duplicate_key))
        why = "they refuse for different reasons (repeated key or not)";
    else if (root != NULL && (doc.node[0].end != doc.n || !json_diff_same(&doc, 0, root)))
        why = "both accept, the trees differ";
    json_decref(root);
    policy_json_free(&doc);
    return why;
}

#endif
