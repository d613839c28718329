/*
 * token_cache.c - see token_cache.h.
 */
#include "orderd/auth/token_cache.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define LOCKS 64
/* the per-thread front: a few tokens each polling thread saw last, so
 * one client's many connections on several threads share no lock */
#define L1_SLOTS     8
#define L1_TOKEN_MAX 1024

typedef struct l1_slot {
    const token_cache *owner; /* NULL = empty; several caches may exist (tests) */
    uint64_t hash;
    size_t len;
    uint64_t generation;
    token_identity id;
    char token[L1_TOKEN_MAX];
} l1_slot;

static _Thread_local l1_slot l1[L1_SLOTS];

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

static l1_slot *l1_find(uint64_t h)
{
    return &l1[h % L1_SLOTS];
}

static void l1_store(const token_cache *tc, uint64_t h, const char *token, size_t len,
                     uint64_t generation, const token_identity *id)
{
    if (len > L1_TOKEN_MAX)
        return;
    l1_slot *s = l1_find(h);
    s->owner = tc;
    s->hash = h;
    s->len = len;
    s->generation = generation;
    s->id = *id;
    memcpy(s->token, token, len);
}

bool token_cache_get(token_cache *tc, const char *token, size_t len, uint64_t generation,
                     int64_t now_s, token_identity *out)
{
    if (len > TOKEN_CACHE_TOKEN_MAX)
        return false;
    uint64_t h = hash_token(token, len);
    const l1_slot *front = l1_find(h);
    if (front->owner == tc && front->hash == h && front->len == len &&
        front->generation == generation && now_s < front->id.exp &&
        CRYPTO_memcmp(front->token, token, len) == 0) {
        *out = front->id;
        return true;
    }
    size_t i = h & tc->mask;
    pthread_mutex_t *lock = &tc->locks[i % LOCKS];
    pthread_mutex_lock(lock);
    slot *s = &tc->slots[i];
    bool hit = s->token && s->hash == h && s->len == len && s->generation == generation &&
               now_s < s->id.exp && CRYPTO_memcmp(s->token, token, len) == 0;
    if (hit)
        *out = s->id;
    pthread_mutex_unlock(lock);
    if (hit)
        l1_store(tc, h, token, len, generation, out);
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
    l1_store(tc, h, token, len, generation, id);
}
