/*
 * auth.c - see auth.h.
 *
 * The keys are behind a mutex only for the moment it takes to take a
 * reference, and only on a token-cache miss; a reload swaps the pointer
 * first and bumps the generation after, and a verification reads the
 * generation before it takes the keys, so a token verified with old keys
 * is never cached under the new generation.
 */
#include "orderd/auth/auth.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "orderd/base/clock.h"
#include "orderd/base/log.h"
#include "orderd/base/metrics.h"

#define TOKEN_CACHE_SLOTS 16384
#define LIMITER_SLOTS     65536

struct auth {
    const orderd_config *cfg;
    jwt_rules rules;
    pthread_mutex_t keys_lock;
    jwt_keys *keys; /* NULL: auth off */
    atomic_uint_fast64_t generation;
    token_cache *tokens;
    rate_limiter *clients;  /* NULL = off */
    rate_limiter *failures; /* NULL = off */
    proxy_list *proxies;
};

static rate_limiter *limiter_for(const char *name, double per_second, int burst,
                                 redis_client *redis, const orderd_config *cfg)
{
    rate_limit_options o = {
        .name = name,
        .per_second = per_second,
        .burst = burst,
        .redis = redis,
        .threads = 2,
        .queue_max = (size_t)cfg->max_connections + 16,
        .slots = LIMITER_SLOTS,
    };
    return rate_limiter_create(&o);
}

auth *auth_create(const orderd_config *cfg, redis_client *redis, char *err, size_t errlen)
{
    auth *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->cfg = cfg;
    a->rules = (jwt_rules){cfg->jwt_issuer, cfg->jwt_audience, cfg->jwt_leeway_s};
    pthread_mutex_init(&a->keys_lock, NULL);
    a->proxies = proxy_list_parse(cfg->trusted_proxies, err, errlen);
    if (!a->proxies)
        goto fail;
    if (cfg->jwt_secret[0] || cfg->jwt_public_key_file[0]) {
        a->keys = jwt_keys_load(cfg->jwt_secret, cfg->jwt_public_key_file, err, errlen);
        a->tokens = a->keys ? token_cache_create(TOKEN_CACHE_SLOTS) : NULL;
        if (!a->tokens)
            goto fail;
    }
    if (cfg->rate_limit_rps > 0) {
        int burst = cfg->rate_limit_burst > 0 ? cfg->rate_limit_burst : cfg->rate_limit_rps;
        a->clients = limiter_for("client", cfg->rate_limit_rps, burst, redis, cfg);
        if (!a->clients)
            goto fail;
    }
    if (a->keys && cfg->rate_limit_auth_fail_per_min > 0) {
        a->failures = limiter_for("auth-failures", cfg->rate_limit_auth_fail_per_min / 60.0,
                                  cfg->rate_limit_auth_fail_burst, redis, cfg);
        if (!a->failures)
            goto fail;
    }
    return a;
fail:
    if (err && errlen && !err[0])
        snprintf(err, errlen, "cannot set up authentication (out of memory?)");
    auth_destroy(a);
    return NULL;
}

void auth_stop(auth *a)
{
    if (!a)
        return;
    rate_limiter_stop(a->clients);
    rate_limiter_stop(a->failures);
}

void auth_destroy(auth *a)
{
    if (!a)
        return;
    rate_limiter_destroy(a->clients);
    rate_limiter_destroy(a->failures);
    token_cache_destroy(a->tokens);
    jwt_keys_unref(a->keys);
    proxy_list_destroy(a->proxies);
    pthread_mutex_destroy(&a->keys_lock);
    free(a);
}

bool auth_enabled(const auth *a)
{
    return a->tokens != NULL;
}

int auth_reload_keys(auth *a, const char *secret, const char *public_key_file, char *err,
                     size_t errlen)
{
    if (!auth_enabled(a)) {
        snprintf(err, errlen, "auth is off (no key at start); a reload cannot turn it on");
        return -1;
    }
    jwt_keys *fresh = jwt_keys_load(secret, public_key_file, err, errlen);
    if (!fresh)
        return -1;
    pthread_mutex_lock(&a->keys_lock);
    jwt_keys *old = a->keys;
    a->keys = fresh;
    pthread_mutex_unlock(&a->keys_lock);
    atomic_fetch_add(&a->generation, 1);
    jwt_keys_unref(old); /* verifications still holding it finish first */
    return 0;
}

/* The token of "Bearer <token>" (scheme case-insensitive; the token may
 * be empty, which is a bad token), or NULL for no Bearer credentials. */
static const char *bearer_token(const char *header, size_t *len)
{
    if (!header || strncasecmp(header, "Bearer", 6) != 0 || (header[6] != ' ' && header[6] != '\0'))
        return NULL;
    const char *t = header + 6;
    t += strspn(t, " ");
    size_t n = strlen(t);
    while (n > 0 && t[n - 1] == ' ')
        n--;
    *len = n;
    return t;
}

auth_token_status auth_authenticate(auth *a, const char *authorization, token_identity *id,
                                    jwt_result *why)
{
    size_t len = 0;
    const char *token = bearer_token(authorization, &len);
    *why = JWT_MALFORMED;
    if (!token)
        return AUTH_TOKEN_MISSING;
    int64_t now_s = clock_wall_us() / 1000000;
    uint64_t generation = atomic_load(&a->generation);
    if (token_cache_get(a->tokens, token, len, generation, now_s, id)) {
        *why = JWT_OK;
        return AUTH_TOKEN_VALID;
    }
    pthread_mutex_lock(&a->keys_lock);
    jwt_keys *keys = jwt_keys_ref(a->keys);
    pthread_mutex_unlock(&a->keys_lock);
    jwt_claims claims;
    metric_inc(METRIC_AUTH_TOKENS_VERIFIED);
    *why = jwt_verify(keys, &a->rules, token, len, now_s, &claims);
    jwt_keys_unref(keys);
    if (*why != JWT_OK)
        return AUTH_TOKEN_INVALID;
    auth_principal_from_claims(&claims, &id->principal);
    memcpy(id->sub, claims.sub, sizeof id->sub);
    id->exp = claims.exp;
    token_cache_put(a->tokens, token, len, generation, id);
    return AUTH_TOKEN_VALID;
}

rate_limiter *auth_client_limiter(auth *a)
{
    return a->clients;
}

rate_limiter *auth_failure_limiter(auth *a)
{
    return a->failures;
}

void auth_client_address(const auth *a, const char *peer, const char *forwarded_for, char *out)
{
    client_address(a->proxies, peer, forwarded_for, out);
}
