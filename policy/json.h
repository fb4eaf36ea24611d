/*
 * json.h - the JSON reader of the send path.
 *
 * One pass over the body into a flat array of nodes in document order,
 * strings decoded into one arena: two allocations per body instead of one
 * per value.  It accepts exactly what jansson's json_loadb(...,
 * JSON_REJECT_DUPLICATES) accepts (an object or array at the top, RFC 8259
 * grammar, strict UTF-8, no \u0000, no lone surrogates, integers within
 * int64, reals that do not overflow, nesting up to 2048, no repeated key in
 * any object); tests/fuzz/fuzz_json.c holds it to that with jansson as the
 * oracle.
 *
 * Walking: a container's children follow it; node[i].end is the index just
 * past i's subtree, so the next sibling of i is node[i].end.  An object's
 * children are pairs: a key (a string node), then its value.
 */
#ifndef SC_POLICY_JSON_H
#define SC_POLICY_JSON_H

#include <stddef.h>
#include <stdint.h>

#define POLICY_JSON_MAX_DEPTH 2048 /* jansson's JSON_PARSER_MAX_DEPTH */
/* Values in one body.  Each costs a 24-byte node, so without a bound a body
 * of "[0,0,0,...]" costs 12 times its size (24 with the array's doubling)
 * and a 40 MiB one half a second of the loop.  The largest send SPEC allows
 * (100 batch elements, each with four lists of 50 addresses, tags, headers,
 * attachments and template variables) needs tens of thousands of values;
 * a million leaves room for any real one and bounds a body's nodes at
 * 24 MiB.  Past it: POLICY_JSON_TOO_MANY, a divergence from jansson (which
 * has no such bound) that fuzz_json allows. */
#define POLICY_JSON_MAX_NODES (1u << 20)

enum policy_json_type {
    POLICY_JSON_NULL,
    POLICY_JSON_FALSE,
    POLICY_JSON_TRUE,
    POLICY_JSON_NUMBER,
    POLICY_JSON_STRING,
    POLICY_JSON_ARRAY,
    POLICY_JSON_OBJECT
};

struct policy_json_node {
    uint8_t type;  /* enum policy_json_type */
    uint32_t end;  /* index just past this node's subtree */
    uint32_t len;  /* string: bytes; array: elements; object: members */
    const char *s; /* string: decoded, NUL-terminated; number: its text */
};

struct policy_json {
    struct policy_json_node *node;
    size_t n, cap;
    char *arena; /* decoded strings */
    size_t used;
    uint32_t *seen; /* open-addressed (object, key) pairs for duplicates */
    size_t seen_cap, seen_n;
};

enum {
    POLICY_JSON_OK = 0,
    POLICY_JSON_INVALID = -1,   /* not JSON jansson would read */
    POLICY_JSON_DUPLICATE = -2, /* an object repeats a key */
    POLICY_JSON_NOMEM = -3,
    POLICY_JSON_TOO_MANY = -4 /* more than POLICY_JSON_MAX_NODES values */
};

/* Reads buf[0..len) into *doc (zeroed here).  On failure returns one of the
 * negative codes with a message ("invalid escape", "duplicate object key
 * 'to'") and the line it was found on.  policy_json_free() in every case. */
int policy_json_parse(struct policy_json *doc, const char *buf, size_t len, char *err,
                      size_t errlen, int *line);
void policy_json_free(struct policy_json *doc);

#endif
