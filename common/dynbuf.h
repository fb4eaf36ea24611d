/*
 * dynbuf.h - a growable byte buffer with a maximum (curl's dynbuf): it
 * fails rather than truncates, so every buffer fed by the network has a
 * bound and nothing is ever cut without the caller knowing.
 *
 * The contents are always NUL-terminated (the NUL is not counted and not
 * held to the maximum) and may hold NUL bytes themselves.  On failure the
 * buffer keeps what it had.  No I/O; allocation as the buffer grows.
 */
#ifndef SC_DYNBUF_H
#define SC_DYNBUF_H

#include <stddef.h>

struct sc_dynbuf {
    char *p;
    size_t len, cap;
    size_t max; /* largest len allowed */
};

enum {
    SC_DYNBUF_OK = 0,
    SC_DYNBUF_NOMEM = -1,    /* allocation failed */
    SC_DYNBUF_TOO_LARGE = -2 /* the addition would pass max */
};

/* An empty buffer that may hold up to max bytes; allocates nothing yet. */
void sc_dynbuf_init(struct sc_dynbuf *b, size_t max);

/* Append n bytes of mem.  SC_DYNBUF_OK, _NOMEM or _TOO_LARGE. */
int sc_dynbuf_add(struct sc_dynbuf *b, const void *mem, size_t n);

/* Empty it, keeping the allocation. */
void sc_dynbuf_reset(struct sc_dynbuf *b);

/* Its length; its bytes: borrowed, valid until the next add or free; ""
 * (never NULL) when nothing was added. */
size_t sc_dynbuf_len(const struct sc_dynbuf *b);
const char *sc_dynbuf_ptr(const struct sc_dynbuf *b);

/* Free the bytes; the buffer is empty again, with the same max. */
void sc_dynbuf_free(struct sc_dynbuf *b);

#endif
