/*
 * policy_int.h - what files of policy/ share and nothing outside uses.
 */
#ifndef SC_POLICY_INT_H
#define SC_POLICY_INT_H

#include <stddef.h>
#include <stdint.h>

/* Punycode's bias adaptation (RFC 3492 §6.1), for the decoder that checks
 * xn-- labels (domain.c) and the encoder that turns the Public Suffix
 * List's IDN rules into xn-- form (psl.c). */
uint32_t policy_punycode_adapt(uint32_t delta, uint32_t points, int first);

/* The one UTF-8 decoder of policy/ (utf8.c), held to what jansson accepts
 * (RFC 3629: no overlong form, no surrogate half, nothing past U+10FFFF,
 * no lead byte 0x80-0xC1 or 0xF5-0xFF, not cut short).  Length of the
 * well-formed character at p (n >= 1 bytes readable), 1 for ASCII, 0 if
 * p starts none; stores its code point in *cp when cp is not NULL. */
size_t policy_utf8_decode(const unsigned char *p, size_t n, uint32_t *cp);

#endif
