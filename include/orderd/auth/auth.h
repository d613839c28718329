/*
 * auth.h - authentication and rate limits for one process: the keys
 * (swapped on reload), the verified-token cache, the two rate limiters
 * and the trusted proxies, made from the settings once.
 *
 * Auth is on when a key is configured (jwt_secret and/or
 * jwt_public_key_file); rate limits are on when rate_limit_rps > 0 (the
 * client budget, keyed by the token's sub or else the address) and
 * rate_limit_auth_fail_per_min > 0 with auth on (failed
 * authentications, keyed by address).  Everything here is thread-safe.
 */
#ifndef ORDERD_AUTH_AUTH_H
#define ORDERD_AUTH_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "orderd/auth/client_address.h"
#include "orderd/auth/jwt.h"
#include "orderd/auth/rate_limit.h"
#include "orderd/auth/token_cache.h"
#include "orderd/base/config.h"
#include "orderd/cache/redis.h"

typedef struct auth auth;

/*
 * cfg is borrowed for auth's life (issuer, audience, leeway are read
 * from it); redis may be NULL (rate limits per process).  NULL with a
 * message in err when a key file or trusted_proxies is bad.
 */
auth *auth_create(const orderd_config *cfg, redis_client *redis, char *err, size_t errlen);
/* Answers every rate-limit check waiting for Redis and refuses new ones
 * (the gate then answers 503): before the HTTP server stops.  NULL-safe. */
void auth_stop(auth *a);
/* Stops (as above) and frees.  NULL-safe. */
void auth_destroy(auth *a);

/* Is a key configured (are tokens required)? */
bool auth_enabled(const auth *a);

/*
 * Loads secret and public_key_file (as jwt_keys_load) and, when that
 * worked, makes them the keys every later verification uses; requests
 * in flight finish with the keys they started with, and tokens cached
 * under the old keys are verified again.  On failure the old keys stay
 * and err says why.  0 or -1.  Any thread (SIGHUP, a reload hook).
 * Auth off stays off: a reload cannot turn it on or off.
 */
int auth_reload_keys(auth *a, const char *secret, const char *public_key_file, char *err,
                     size_t errlen);

typedef enum auth_token_status {
    AUTH_TOKEN_VALID = 0,
    AUTH_TOKEN_MISSING, /* no Authorization: Bearer header */
    AUTH_TOKEN_INVALID, /* see *why */
} auth_token_status;

/*
 * Checks an Authorization header value (NULL = absent): the Bearer
 * token, from the cache or verified.  On AUTH_TOKEN_VALID *id is filled.
 * No I/O: fine on the polling thread.
 */
auth_token_status auth_authenticate(auth *a, const char *authorization, token_identity *id,
                                    jwt_result *why);

/* The client budget / the failed-authentication budget; NULL = off. */
rate_limiter *auth_client_limiter(auth *a);
rate_limiter *auth_failure_limiter(auth *a);

/* The client's address, X-Forwarded-For believed from trusted proxies
 * only (client_address.h).  out has CLIENT_ADDRESS_MAX + 1 bytes. */
void auth_client_address(const auth *a, const char *peer, const char *forwarded_for, char *out);

#endif
