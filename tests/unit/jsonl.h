/*
 * jsonl.h - the unit tests' reader of their data files: one JSON value per
 * line of tests/data/<path> ($SENDCAP_TEST_DATA/<path> when set), read with
 * getline (no line is cut, however long), returned as one array.  A line
 * that does not parse fails the test, naming the file and the line.
 * Include after <cmocka.h> and <jansson.h>.
 */
#ifndef SC_TESTS_UNIT_JSONL_H
#define SC_TESTS_UNIT_JSONL_H

#include <stdio.h>
#include <stdlib.h>

static json_t *
test_jsonl(const char *path)
{
    const char *dir = getenv("SENDCAP_TEST_DATA");
    char file[512];
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    json_t *all = json_array();
    FILE *f;
    int no = 0;

    snprintf(file, sizeof(file), "%s/%s", dir ? dir : "tests/data", path);
    f = fopen(file, "r");
    if (f == NULL)
        fail_msg("cannot open %s", file);
    while ((n = getline(&line, &cap, f)) >= 0) {
        json_error_t e;
        json_t *o = json_loadb(line, (size_t)n, JSON_ALLOW_NUL, &e);

        no++;
        if (o == NULL)
            fail_msg("%s line %d: %s", path, no, e.text);
        json_array_append_new(all, o);
    }
    free(line);
    fclose(f);
    return all;
}

#endif
