/*
 * policy_int.h - what files of policy/ share and nothing outside uses.
 */
#ifndef SC_POLICY_INT_H
#define SC_POLICY_INT_H

#include <stdint.h>

/* Punycode's bias adaptation (RFC 3492 §6.1), for the decoder that checks
 * xn-- labels (domain.c) and the encoder that turns the Public Suffix
 * List's IDN rules into xn-- form (psl.c). */
uint32_t policy_punycode_adapt(uint32_t delta, uint32_t points, int first);

#endif
