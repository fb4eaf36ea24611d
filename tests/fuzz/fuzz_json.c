/*
 * fuzz_json.c - libFuzzer target: policy/json.c against jansson.
 *
 * The send path reads bodies with policy/json.c; jansson decides what JSON
 * is everywhere else.  Any input on which they disagree (acceptance, a
 * repeated key, or the tree read) aborts; see json_diff.h.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "json_diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *why = json_diff((const char *)data, size);

    if (why != NULL) {
        fprintf(stderr, "fuzz_json: %s\n", why);
        abort();
    }
    return 0;
}
