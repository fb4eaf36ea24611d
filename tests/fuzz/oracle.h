/*
 * oracle.h - the fuzz targets' independent check of the allowlist
 * "example.com,*.corp.example": written without policy/domain.c, so a bug
 * there cannot hide in both.
 */
#ifndef SC_FUZZ_ORACLE_H
#define SC_FUZZ_ORACLE_H

#include <string.h>

#define ORACLE_LIST "example.com,*.corp.example"

static inline int
oracle(const char *d)
{
    size_t n = strlen(d), sl = strlen(".corp.example");

    if (strcmp(d, "example.com") == 0)
        return 1;
    return n > sl && strcmp(d + n - sl, ".corp.example") == 0 && d[n - sl - 1] != '.';
}

#endif
