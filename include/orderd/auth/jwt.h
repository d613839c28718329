/*
 * jwt.h - JSON Web Tokens (RFC 7519) signed with JWS compact
 * serialisation (RFC 7515): verification only, on OpenSSL's EVP API.
 *
 * The algorithm is never the token's choice.  Each configured key
 * carries the one algorithm it may verify: the shared secret HS256, an
 * RSA key (2048 bits or more) RS256, an EC P-256 key ES256.  A token's
 * "alg" only selects among those keys, so "none", anything else, and an
 * HS256 token "signed" with the public key's bytes all fail (the public
 * key is never used as an HMAC secret).
 *
 * Claims checked: exp (required), nbf (when present), both with a
 * leeway; iss and aud when the rules name them.  sub and scope are
 * returned for the permission checks (permissions.h).
 */
#ifndef ORDERD_AUTH_JWT_H
#define ORDERD_AUTH_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JWT_TOKEN_MAX 8192 /* longer tokens are refused unread */
#define JWT_SUB_MAX   64
#define JWT_SCOPE_MAX 256

typedef enum jwt_result {
    JWT_OK = 0,
    JWT_MALFORMED,      /* not three base64url parts of JSON, or a claim of the wrong type */
    JWT_ALG_REFUSED,    /* alg none, unknown, or no key configured for it */
    JWT_BAD_SIGNATURE,  /* no configured key of that algorithm verifies it */
    JWT_EXPIRED,        /* exp (plus leeway) has passed, or exp is missing */
    JWT_NOT_YET_VALID,  /* nbf (minus leeway) is in the future */
    JWT_WRONG_ISSUER,   /* iss missing or not jwt_issuer */
    JWT_WRONG_AUDIENCE, /* aud missing or without jwt_audience */
} jwt_result;

/* A short English phrase for logs and problem details ("the token has expired"). */
const char *jwt_result_text(jwt_result r);

typedef struct jwt_rules {
    const char *issuer;   /* "" or NULL: not checked */
    const char *audience; /* "" or NULL: not checked */
    int leeway_s;
} jwt_rules;

typedef struct jwt_claims {
    char sub[JWT_SUB_MAX + 1];     /* "" when absent */
    char scope[JWT_SCOPE_MAX + 1]; /* space-separated; "" when absent */
    int64_t exp;                   /* unix seconds */
} jwt_claims;

/* An immutable set of verification keys; shared by reference count. */
typedef struct jwt_keys jwt_keys;

/*
 * Loads the keys: secret (NUL-terminated, used as bytes; "" = no HS256)
 * and public_key_file ("" = none): a PEM public key or a JWKS document
 * ({"keys":[...]} of RSA and EC P-256 keys, "kid" optional).  NULL with
 * a message in err when the file cannot be read or holds no usable key,
 * or when neither is given.  The caller holds one reference.
 */
jwt_keys *jwt_keys_load(const char *secret, const char *public_key_file, char *err, size_t errlen);
/* Another reference to keys; returns keys. */
jwt_keys *jwt_keys_ref(jwt_keys *keys);
/* Drops a reference; the last one frees.  NULL-safe. */
void jwt_keys_unref(jwt_keys *keys);
/* How many public keys were loaded (tests, logs). */
size_t jwt_keys_public_count(const jwt_keys *keys);

/*
 * Verifies token (len bytes, not NUL-terminated) against keys and rules
 * at now_s (unix seconds) and fills *out on JWT_OK.  Does no I/O and
 * takes no lock: any thread.
 */
jwt_result jwt_verify(const jwt_keys *keys, const jwt_rules *rules, const char *token, size_t len,
                      int64_t now_s, jwt_claims *out);

#endif
