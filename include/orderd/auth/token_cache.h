/*
 * token_cache.h - tokens this process has verified, so a client that
 * sends the same bearer token on every request pays for the signature
 * check once.
 *
 * Bounded: a fixed table of slots, direct-mapped by a hash of the token
 * (a new token evicts whatever held its slot).  Never past exp: an entry
 * is served only while now < exp; after that the token is verified in
 * full again (and refused, leeway aside).  Entries carry the key
 * generation they were verified under, so a key reload retires them all.
 * Any thread; a lock per group of slots, and in front of the table a
 * few slots per thread (no lock), so one client's connections spread
 * over several polling threads do not queue on one lock.
 */
#ifndef ORDERD_AUTH_TOKEN_CACHE_H
#define ORDERD_AUTH_TOKEN_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orderd/auth/jwt.h"
#include "orderd/auth/permissions.h"

#define TOKEN_CACHE_TOKEN_MAX 2048 /* longer tokens are verified every time */

/* What a verified token says, as the gate uses it. */
typedef struct token_identity {
    auth_principal principal;
    char sub[JWT_SUB_MAX + 1];
    int64_t exp; /* unix seconds */
} token_identity;

typedef struct token_cache token_cache;

/* slots >= 1 (rounded up to a power of two).  NULL on allocation failure. */
token_cache *token_cache_create(size_t slots);
void token_cache_destroy(token_cache *tc);

/* true with *out when token was stored under generation and now_s < exp. */
bool token_cache_get(token_cache *tc, const char *token, size_t len, uint64_t generation,
                     int64_t now_s, token_identity *out);

/* Remembers a token verified under generation (copied). */
void token_cache_put(token_cache *tc, const char *token, size_t len, uint64_t generation,
                     const token_identity *id);

#endif
