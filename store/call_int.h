/*
 * call_int.h - inside store/call.c, shared with its unit test only.
 */
#ifndef SC_STORE_CALL_INT_H
#define SC_STORE_CALL_INT_H

#include <hiredis/hiredis.h>

#include "call.h"

/* Read call.lua's reply by position into out (kind STORE_CALL_BAD_REPLY
 * when it is not one the script gives).  For STALE, the record is parsed
 * into *key (its hash set to key_hash) and out->key points to it; out->sealed
 * borrows from r.  Pure: no I/O. */
void store_call_reply_parse(const redisReply *r, const char *key_hash,
                            struct store_call_result *out, struct store_key *key);

#endif
