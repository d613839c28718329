/*
 * token_cache.c - see token_cache.h.
 */
#include "orderd/auth/token_cache.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define LOCKS 64

typedef struct slot {
    uint64_t hash;
    char *token; /* owned copy; NULL = empty */
    size_t len;
    uint64_t generation;
    token_identity id;
} slot;

struct token_cache {
    size_t mask; /* slots - 1 */
    slot *slots;
    pthread_mutex_t locks[LOCKS];
};

static uint64_t hash_token(const char *p, size_t n)
{
    /* FNV-1a: tokens are short, and a collision only costs a compare */
    uint64_t h = UINT64_C(14695981039346656037);
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * UINT64_C(1099511628211);
    return h;
}

token_cache *token_cache_create(size_t slots)
{
    size_t n = 1;
    while (n < slots)
        n <<= 1;
    token_cache *tc = calloc(1, sizeof *tc);
    if (!tc)
        return NULL;
    tc->slots = calloc(n, sizeof *tc->slots);
    if (!tc->slots) {
        free(tc);
        return NULL;
    }
    tc->mask = n - 1;
    for (int i = 0; i < LOCKS; i++)
        pthread_mutex_init(&tc->locks[i], NULL);
    return tc;
}

void token_cache_destroy(token_cache *tc)
{
    if (!tc)
        return;
    for (size_t i = 0; i <= tc->mask; i++)
        free(tc->slots[i].token);
    for (int i = 0; i < LOCKS; i++)
        pthread_mutex_destroy(&tc->locks[i]);
    free(tc->slots);
    free(tc);
}

bool token_cache_get(token_cache *tc, const char *token, size_t len, uint64_t generation,
                     int64_t now_s, token_identity *out)
{
    if (len > TOKEN_CACHE_TOKEN_MAX)
        return false;
    uint64_t h = hash_token(token, len);
    size_t i = h & tc->mask;
    pthread_mutex_t *lock = &tc->locks[i % LOCKS];
    pthread_mutex_lock(lock);
    slot *s = &tc->slots[i];
    bool hit = s->token && s->hash == h && s->len == len && s->generation == generation &&
               now_s < s->id.exp && CRYPTO_memcmp(s->token, token, len) == 0;
    if (hit)
        *out = s->id;
    pthread_mutex_unlock(lock);
    return hit;
}

void token_cache_put(token_cache *tc, const char *token, size_t len, uint64_t generation,
                     const token_identity *id)
{
    if (len > TOKEN_CACHE_TOKEN_MAX)
        return;
    char *copy = malloc(len);
    if (!copy)
        return;
    memcpy(copy, token, len);
    uint64_t h = hash_token(token, len);
    size_t i = h & tc->mask;
    pthread_mutex_t *lock = &tc->locks[i % LOCKS];
    pthread_mutex_lock(lock);
    slot *s = &tc->slots[i];
    char *old = s->token;
    s->hash = h;
    s->token = copy;
    s->len = len;
    s->generation = generation;
    s->id = *id;
    pthread_mutex_unlock(lock);
    free(old);
}
