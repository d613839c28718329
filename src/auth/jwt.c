/*
 * jwt.c - JWS compact tokens verified with OpenSSL EVP (jwt.h).
 *
 * Why not libjwt 1.10: its jwt_decode() takes one key and lets the
 * token's header pick the algorithm, so an RS256 deployment handed an
 * HS256 token verifies an HMAC keyed with the public key's PEM bytes
 * (the HS/RS confusion; libjwt issue #200 shows it); 1.10 has no way to
 * say "this key, this algorithm only" before the signature is checked,
 * and no JWKS.  Here the key decides the algorithm, and the parts we
 * need (HMAC, RSA PKCS#1 v1.5 and ECDSA over SHA-256) are a few EVP calls.
 */
#include "orderd/auth/jwt.h"

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orderd/base/base64url.h"

#define KEY_FILE_MAX   (1024 * 1024)
#define PUBLIC_KEY_MAX 32
#define KID_MAX        128
#define RSA_BITS_MIN   2048

typedef enum jwt_alg { ALG_HS256, ALG_RS256, ALG_ES256 } jwt_alg;

typedef struct public_key {
    jwt_alg alg;
    char kid[KID_MAX + 1]; /* "" when the file gave none */
    EVP_PKEY *pkey;
} public_key;

struct jwt_keys {
    atomic_int refs;
    unsigned char *secret; /* NULL: no HS256 */
    size_t secret_len;
    public_key pub[PUBLIC_KEY_MAX];
    size_t pub_count;
};

const char *jwt_result_text(jwt_result r)
{
    switch (r) {
    case JWT_OK:
        return "the token is valid";
    case JWT_MALFORMED:
        return "the token is malformed";
    case JWT_ALG_REFUSED:
        return "the token's algorithm is not accepted";
    case JWT_BAD_SIGNATURE:
        return "the token's signature does not verify";
    case JWT_EXPIRED:
        return "the token has expired";
    case JWT_NOT_YET_VALID:
        return "the token is not valid yet";
    case JWT_WRONG_ISSUER:
        return "the token has the wrong issuer";
    case JWT_WRONG_AUDIENCE:
        return "the token is not meant for this service";
    }
    return "the token is not valid";
}

/* ---- keys -------------------------------------------------------------- */

static void format_err(char *err, size_t errlen, const char *what, const char *path)
{
    if (err && errlen)
        snprintf(err, errlen, "jwt_public_key_file %s: %s", path, what);
}

/* The algorithm a key may verify, or -1 when we refuse the key. */
static int alg_of_key(EVP_PKEY *pkey)
{
    switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_RSA:
        return EVP_PKEY_get_bits(pkey) >= RSA_BITS_MIN ? (int)ALG_RS256 : -1;
    case EVP_PKEY_EC: {
        char group[64];
        size_t n = 0;
        if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                           &n) != 1)
            return -1;
        return strcmp(group, "prime256v1") == 0 ? (int)ALG_ES256 : -1;
    }
    default:
        return -1;
    }
}

static bool add_public_key(jwt_keys *keys, EVP_PKEY *pkey, const char *kid)
{
    int alg = alg_of_key(pkey);
    if (alg < 0 || keys->pub_count == PUBLIC_KEY_MAX || strlen(kid) > KID_MAX) {
        EVP_PKEY_free(pkey);
        return false;
    }
    public_key *k = &keys->pub[keys->pub_count++];
    k->alg = (jwt_alg)alg;
    strcpy(k->kid, kid);
    k->pkey = pkey;
    return true;
}

/* A base64url JWK member as a big number; NULL when absent or bad. */
static BIGNUM *jwk_bignum(const json_t *jwk, const char *name, unsigned char *raw, size_t *raw_len)
{
    const char *text = json_string_value(json_object_get(jwk, name));
    size_t n = text ? strlen(text) : 0;
    if (n == 0 || BASE64URL_DECODED_MAX(n) > 1024 || !base64url_decode(text, n, raw, raw_len))
        return NULL;
    return BN_bin2bn(raw, (int)*raw_len, NULL);
}

static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM_BLD *bld)
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

static EVP_PKEY *jwk_rsa(const json_t *jwk)
{
    unsigned char raw[1024];
    size_t len;
    BIGNUM *n = jwk_bignum(jwk, "n", raw, &len);
    BIGNUM *e = jwk_bignum(jwk, "e", raw, &len);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pkey = NULL;
    if (n && e && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) == 1 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) == 1)
        pkey = pkey_from_params("RSA", bld);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return pkey;
}

static EVP_PKEY *jwk_ec(const json_t *jwk)
{
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    const char *x = json_string_value(json_object_get(jwk, "x"));
    const char *y = json_string_value(json_object_get(jwk, "y"));
    if (!crv || strcmp(crv, "P-256") != 0 || !x || !y || strlen(x) != 43 || strlen(y) != 43)
        return NULL;
    /* an uncompressed point: 0x04 || X || Y, 32 bytes each */
    unsigned char point[1 + 2 * BASE64URL_DECODED_MAX(43)];
    size_t xl, yl;
    point[0] = 0x04;
    if (!base64url_decode(x, 43, point + 1, &xl) || xl != 32 ||
        !base64url_decode(y, 43, point + 33, &yl) || yl != 32)
        return NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pkey = NULL;
    if (bld &&
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) == 1 &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 65) == 1)
        pkey = pkey_from_params("EC", bld);
    OSSL_PARAM_BLD_free(bld);
    return pkey;
}

/* {"keys":[...]}: every RSA and EC P-256 signing key; others are skipped. */
static void load_jwks(jwt_keys *keys, const char *text, size_t len)
{
    json_t *doc = json_loadb(text, len, 0, NULL);
    json_t *list = json_object_get(doc, "keys");
    size_t i;
    json_t *jwk;
    json_array_foreach(list, i, jwk)
    {
        const char *kty = json_string_value(json_object_get(jwk, "kty"));
        const char *use = json_string_value(json_object_get(jwk, "use"));
        const char *alg = json_string_value(json_object_get(jwk, "alg"));
        const char *kid = json_string_value(json_object_get(jwk, "kid"));
        if (!kty || (use && strcmp(use, "sig") != 0))
            continue;
        EVP_PKEY *pkey = NULL;
        if (strcmp(kty, "RSA") == 0 && (!alg || strcmp(alg, "RS256") == 0))
            pkey = jwk_rsa(jwk);
        else if (strcmp(kty, "EC") == 0 && (!alg || strcmp(alg, "ES256") == 0))
            pkey = jwk_ec(jwk);
        if (pkey)
            add_public_key(keys, pkey, kid ? kid : "");
    }
    json_decref(doc);
}

/* Every PEM public key in the file (usually one). */
static void load_pem(jwt_keys *keys, const char *text, size_t len)
{
    BIO *bio = BIO_new_mem_buf(text, (int)len);
    EVP_PKEY *pkey;
    while (bio && (pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL)) != NULL)
        add_public_key(keys, pkey, "");
    BIO_free(bio);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *text = malloc(KEY_FILE_MAX + 1);
    size_t n = text ? fread(text, 1, KEY_FILE_MAX + 1, f) : 0;
    fclose(f);
    if (!text || n > KEY_FILE_MAX) {
        free(text);
        return NULL;
    }
    text[n] = '\0';
    *len = n;
    return text;
}

static int load_public_keys(jwt_keys *keys, const char *path, char *err, size_t errlen)
{
    size_t len = 0;
    char *text = read_file(path, &len);
    if (!text) {
        format_err(err, errlen, "cannot be read (or is over 1 MiB)", path);
        return -1;
    }
    size_t lead = strspn(text, " \t\r\n");
    if (text[lead] == '{')
        load_jwks(keys, text, len);
    else
        load_pem(keys, text, len);
    free(text);
    if (keys->pub_count == 0) {
        format_err(err, errlen,
                   "holds no usable key (a PEM or JWKS RSA key of 2048+ bits, or EC P-256)", path);
        return -1;
    }
    return 0;
}

jwt_keys *jwt_keys_load(const char *secret, const char *public_key_file, char *err, size_t errlen)
{
    bool has_secret = secret && secret[0], has_file = public_key_file && public_key_file[0];
    if (!has_secret && !has_file) {
        if (err && errlen)
            snprintf(err, errlen, "no jwt_secret and no jwt_public_key_file");
        return NULL;
    }
    jwt_keys *keys = calloc(1, sizeof *keys);
    if (!keys)
        return NULL;
    atomic_init(&keys->refs, 1);
    if (has_secret) {
        keys->secret_len = strlen(secret);
        keys->secret = malloc(keys->secret_len);
        if (!keys->secret)
            goto fail;
        memcpy(keys->secret, secret, keys->secret_len);
    }
    if (has_file && load_public_keys(keys, public_key_file, err, errlen) != 0)
        goto fail;
    return keys;
fail:
    jwt_keys_unref(keys);
    return NULL;
}

jwt_keys *jwt_keys_ref(jwt_keys *keys)
{
    atomic_fetch_add(&keys->refs, 1);
    return keys;
}

void jwt_keys_unref(jwt_keys *keys)
{
    if (!keys || atomic_fetch_sub(&keys->refs, 1) != 1)
        return;
    for (size_t i = 0; i < keys->pub_count; i++)
        EVP_PKEY_free(keys->pub[i].pkey);
    if (keys->secret)
        OPENSSL_cleanse(keys->secret, keys->secret_len);
    free(keys->secret);
    free(keys);
}

size_t jwt_keys_public_count(const jwt_keys *keys)
{
    return keys->pub_count;
}

/* ---- signatures -------------------------------------------------------- */

static bool hs256_verifies(const jwt_keys *keys, const char *input, size_t n,
                           const unsigned char *sig, size_t sig_len)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (!HMAC(EVP_sha256(), keys->secret, (int)keys->secret_len, (const unsigned char *)input, n,
              mac, &mac_len))
        return false;
    return sig_len == mac_len && CRYPTO_memcmp(mac, sig, mac_len) == 0;
}

/* JWS ES256 signatures are R || S (32 bytes each); EVP wants DER. */
static size_t es256_to_der(const unsigned char *sig, size_t sig_len, unsigned char *der,
                           size_t der_cap)
{
    if (sig_len != 64)
        return 0;
    ECDSA_SIG *ecsig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
    if (!ecsig || !r || !s || ECDSA_SIG_set0(ecsig, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(ecsig);
        return 0;
    }
    int n = i2d_ECDSA_SIG(ecsig, NULL);
    size_t len = 0;
    if (n > 0 && (size_t)n <= der_cap) {
        unsigned char *p = der;
        len = (size_t)i2d_ECDSA_SIG(ecsig, &p);
    }
    ECDSA_SIG_free(ecsig); /* frees r and s */
    return len;
}

static bool pkey_verifies(const public_key *k, const char *input, size_t n,
                          const unsigned char *sig, size_t sig_len)
{
    unsigned char der[80];
    if (k->alg == ALG_ES256) {
        sig_len = es256_to_der(sig, sig_len, der, sizeof der);
        if (sig_len == 0)
            return false;
        sig = der;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
              EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)input, n) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

/* Picks the key(s) alg and kid allow and tries them. */
static jwt_result check_signature(const jwt_keys *keys, jwt_alg alg, const char *kid,
                                  const char *input, size_t n, const unsigned char *sig,
                                  size_t sig_len)
{
    if (alg == ALG_HS256) {
        if (!keys->secret)
            return JWT_ALG_REFUSED;
        return hs256_verifies(keys, input, n, sig, sig_len) ? JWT_OK : JWT_BAD_SIGNATURE;
    }
    bool any = false;
    for (size_t i = 0; i < keys->pub_count; i++) {
        const public_key *k = &keys->pub[i];
        if (k->alg != alg || (kid && k->kid[0] && strcmp(kid, k->kid) != 0))
            continue;
        any = true;
        if (pkey_verifies(k, input, n, sig, sig_len))
            return JWT_OK;
    }
    return any ? JWT_BAD_SIGNATURE : JWT_ALG_REFUSED;
}

/* ---- the token ---------------------------------------------------------- */

static json_t *decode_json_part(const char *part, size_t n)
{
    unsigned char raw[BASE64URL_DECODED_MAX(JWT_TOKEN_MAX)];
    size_t len;
    if (n == 0 || !base64url_decode(part, n, raw, &len))
        return NULL;
    json_t *doc = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL);
    if (doc && !json_is_object(doc)) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

/* The header's alg among the ones we know; "none" and the rest are refused. */
static jwt_result header_alg(const json_t *header, jwt_alg *alg, const char **kid)
{
    const char *name = json_string_value(json_object_get(header, "alg"));
    const json_t *kid_v = json_object_get(header, "kid");
    if (!name || (kid_v && !json_is_string(kid_v)))
        return JWT_MALFORMED;
    /* a critical extension we do not understand must be refused (RFC 7515 4.1.11) */
    if (json_object_get(header, "crit"))
        return JWT_MALFORMED;
    *kid = json_string_value(kid_v);
    if (strcmp(name, "HS256") == 0)
        *alg = ALG_HS256;
    else if (strcmp(name, "RS256") == 0)
        *alg = ALG_RS256;
    else if (strcmp(name, "ES256") == 0)
        *alg = ALG_ES256;
    else
        return JWT_ALG_REFUSED;
    return JWT_OK;
}

/* A NumericDate claim: true with *out when present and a number. */
static bool numeric_date(const json_t *claims, const char *name, int64_t *out, bool *bad)
{
    const json_t *v = json_object_get(claims, name);
    if (!v)
        return false;
    if (!json_is_number(v) || json_number_value(v) > 9e15 || json_number_value(v) < -9e15) {
        *bad = true;
        return false;
    }
    *out = (int64_t)json_number_value(v);
    return true;
}

static bool audience_matches(const json_t *aud, const char *want)
{
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), want) == 0;
    size_t i;
    const json_t *item;
    json_array_foreach(aud, i, item)
    {
        if (json_is_string(item) && strcmp(json_string_value(item), want) == 0)
            return true;
    }
    return false;
}

static bool copy_string_claim(const json_t *claims, const char *name, char *out, size_t cap)
{
    const json_t *v = json_object_get(claims, name);
    out[0] = '\0';
    if (!v)
        return true;
    if (!json_is_string(v) || json_string_length(v) >= cap)
        return false;
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return true;
}

static jwt_result check_claims(const json_t *claims, const jwt_rules *rules, int64_t now_s,
                               jwt_claims *out)
{
    bool bad = false;
    int64_t exp = 0, nbf = 0;
    bool has_exp = numeric_date(claims, "exp", &exp, &bad);
    bool has_nbf = numeric_date(claims, "nbf", &nbf, &bad);
    if (bad || !copy_string_claim(claims, "sub", out->sub, sizeof out->sub) ||
        !copy_string_claim(claims, "scope", out->scope, sizeof out->scope))
        return JWT_MALFORMED;
    if (!has_exp || now_s > exp + rules->leeway_s)
        return JWT_EXPIRED;
    if (has_nbf && now_s + rules->leeway_s < nbf)
        return JWT_NOT_YET_VALID;
    if (rules->issuer && rules->issuer[0]) {
        const char *iss = json_string_value(json_object_get(claims, "iss"));
        if (!iss || strcmp(iss, rules->issuer) != 0)
            return JWT_WRONG_ISSUER;
    }
    if (rules->audience && rules->audience[0] &&
        !audience_matches(json_object_get(claims, "aud"), rules->audience))
        return JWT_WRONG_AUDIENCE;
    out->exp = exp;
    return JWT_OK;
}

jwt_result jwt_verify(const jwt_keys *keys, const jwt_rules *rules, const char *token, size_t len,
                      int64_t now_s, jwt_claims *out)
{
    if (len == 0 || len > JWT_TOKEN_MAX)
        return JWT_MALFORMED;
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
        return JWT_MALFORMED;
    size_t signed_len = (size_t)(dot2 - token), sig_chars = len - signed_len - 1;
    unsigned char sig[BASE64URL_DECODED_MAX(JWT_TOKEN_MAX)];
    size_t sig_len;
    if (sig_chars == 0 || !base64url_decode(dot2 + 1, sig_chars, sig, &sig_len))
        return JWT_MALFORMED;

    json_t *header = decode_json_part(token, (size_t)(dot1 - token));
    if (!header)
        return JWT_MALFORMED;
    jwt_alg alg;
    const char *kid = NULL;
    jwt_result r = header_alg(header, &alg, &kid);
    /* the signature first: nothing in an unverified payload is read */
    if (r == JWT_OK)
        r = check_signature(keys, alg, kid, token, signed_len, sig, sig_len);
    json_decref(header);
    if (r != JWT_OK)
        return r;

    json_t *claims = decode_json_part(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    if (!claims)
        return JWT_MALFORMED;
    r = check_claims(claims, rules, now_s, out);
    json_decref(claims);
    return r;
}
