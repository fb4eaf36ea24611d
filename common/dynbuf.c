/*
 * dynbuf.c - bounded growable byte buffer.  See dynbuf.h.
 */
#include "dynbuf.h"

#include <stdlib.h>
#include <string.h>

void
sc_dynbuf_init(struct sc_dynbuf *b, size_t max)
{
    b->p = NULL;
    b->len = b->cap = 0;
    b->max = max;
}

/* Room for need more bytes and the NUL: capacity doubles from 64, so n
 * adds cost O(log n) allocations. */
static int
reserve(struct sc_dynbuf *b, size_t need)
{
    size_t want, c;
    char *np;

    if (need > b->max - b->len || need >= (size_t)-1 - b->len)
        return SC_DYNBUF_TOO_LARGE;
    want = b->len + need + 1;
    if (want <= b->cap)
        return SC_DYNBUF_OK;
    c = b->cap ? b->cap : 64;
    while (c < want)
        c = c > ((size_t)-1) / 2 ? want : c * 2;
    if ((np = realloc(b->p, c)) == NULL)
        return SC_DYNBUF_NOMEM;
    b->p = np;
    b->cap = c;
    return SC_DYNBUF_OK;
}

int
sc_dynbuf_add(struct sc_dynbuf *b, const void *mem, size_t n)
{
    int r = reserve(b, n);

    if (r != SC_DYNBUF_OK)
        return r;
    if (n > 0)
        memcpy(b->p + b->len, mem, n);
    b->len += n;
    b->p[b->len] = '\0';
    return SC_DYNBUF_OK;
}

void
sc_dynbuf_reset(struct sc_dynbuf *b)
{
    b->len = 0;
    if (b->p != NULL)
        b->p[0] = '\0';
}

size_t
sc_dynbuf_len(const struct sc_dynbuf *b)
{
    return b->len;
}

const char *
sc_dynbuf_ptr(const struct sc_dynbuf *b)
{
    return b->p != NULL ? b->p : "";
}

void
sc_dynbuf_free(struct sc_dynbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
