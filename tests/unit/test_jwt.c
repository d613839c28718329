/*
 * test_jwt.c - unit tests of src/auth/jwt.c (and base64url.c): tokens
 * signed here with OpenSSL, verified by jwt_verify.  Every refusal the
 * issue names: forged, expired, not yet valid, wrong audience or
 * issuer, alg none, HS256 "signed" with the public key; and the keys:
 * PEM, JWKS with kids, weak RSA refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "orderd/auth/jwt.h"
#include "orderd/base/base64url.h"

#define UNUSED __attribute__((unused))
#define SECRET "unit-test-secret"

static EVP_PKEY *rsa_key, *ec_key;
static char rsa_pem_path[64], ec_pem_path[64];
static int64_t now_s;

static char *b64(const void *data, size_t n)
{
    char *out = malloc(BASE64URL_ENCODED_LEN(n) + 1);
    base64url_encode(data, n, out);
    return out;
}

/* header.payload, caller frees */
static char *signing_input(const char *header, const char *payload)
{
    char *h = b64(header, strlen(header)), *p = b64(payload, strlen(payload));
    char *out = malloc(strlen(h) + strlen(p) + 2);
    sprintf(out, "%s.%s", h, p);
    free(h);
    free(p);
    return out;
}

static char *with_signature(char *input, const unsigned char *sig, size_t n)
{
    char *s = b64(sig, n);
    char *out = malloc(strlen(input) + strlen(s) + 2);
    sprintf(out, "%s.%s", input, s);
    free(input);
    free(s);
    return out;
}

static char *hs256_with(const void *key, size_t key_len, const char *header, const char *payload)
{
    char *input = signing_input(header, payload);
    unsigned char mac[32];
    unsigned int n = 0;
    HMAC(EVP_sha256(), key, (int)key_len, (unsigned char *)input, strlen(input), mac, &n);
    return with_signature(input, mac, n);
}

static char *hs256(const char *payload)
{
    return hs256_with(SECRET, strlen(SECRET), "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload);
}

static char *pkey_sign(EVP_PKEY *key, const char *header, const char *payload)
{
    char *input = signing_input(header, payload);
    unsigned char der[512], raw[64];
    size_t n = sizeof der;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_equal(EVP_DigestSign(ctx, der, &n, (unsigned char *)input, strlen(input)), 1);
    EVP_MD_CTX_free(ctx);
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC)
        return with_signature(input, der, n);
    /* JWS wants R || S */
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)n);
    BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32);
    ECDSA_SIG_free(sig);
    return with_signature(input, raw, 64);
}

static char *claims(const char *extra)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "{\"sub\":\"42\",\"exp\":%lld%s%s}", (long long)now_s + 600,
             extra[0] ? "," : "", extra);
    return buf;
}

static void write_pem(EVP_PKEY *key, char *path)
{
    strcpy(path, "/tmp/orderd-jwt-XXXXXX");
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    PEM_write_PUBKEY(f, key);
    fclose(f);
}

static int setup(void **state UNUSED)
{
    now_s = (int64_t)time(NULL);
    rsa_key = EVP_RSA_gen(2048);
    ec_key = EVP_EC_gen("P-256");
    assert_non_null(rsa_key);
    assert_non_null(ec_key);
    write_pem(rsa_key, rsa_pem_path);
    write_pem(ec_key, ec_pem_path);
    return 0;
}

static int teardown(void **state UNUSED)
{
    unlink(rsa_pem_path);
    unlink(ec_pem_path);
    EVP_PKEY_free(rsa_key);
    EVP_PKEY_free(ec_key);
    return 0;
}

static jwt_result verify_with(jwt_keys *keys, const char *token, const jwt_rules *rules,
                              jwt_claims *out)
{
    jwt_claims ignored;
    return jwt_verify(keys, rules, token, strlen(token), now_s, out ? out : &ignored);
}

static const jwt_rules plain = {"", "", 30};

/* ---- HS256 ---------------------------------------------------------------- */

static void test_hs256_valid_with_claims(void **state UNUSED)
{
    jwt_keys *keys = jwt_keys_load(SECRET, "", NULL, 0);
    char *t = hs256(claims("\"scope\":\"orders:staff orders:admin\""));
    jwt_claims c;
    assert_int_equal(verify_with(keys, t, &plain, &c), JWT_OK);
    assert_string_equal(c.sub, "42");
    assert_string_equal(c.scope, "orders:staff orders:admin");
    assert_int_equal(c.exp, now_s + 600);
    free(t);
    jwt_keys_unref(keys);
}

static void test_forged_tokens(void **state UNUSED)
{
    jwt_keys *keys = jwt_keys_load(SECRET, "", NULL, 0);
    char *t = hs256(claims(""));
    char *other = hs256_with("guess", 5, "{\"alg\":\"HS256\"}", claims(""));
    assert_int_equal(verify_with(keys, other, &plain, NULL), JWT_BAD_SIGNATURE);
    /* the payload swapped under the signature */
    char *swapped = hs256("{\"sub\":\"43\",\"exp\":9999999999}");
    char *dot = strrchr(swapped, '.');
    char forged[1024];
    snprintf(forged, sizeof forged, "%.*s%s", (int)(dot - swapped), swapped, strrchr(t, '.'));
    assert_int_equal(verify_with(keys, forged, &plain, NULL), JWT_BAD_SIGNATURE);
    /* one signature character changed */
    t[strlen(t) - 2] = t[strlen(t) - 2] == 'A' ? 'B' : 'A';
    assert_int_equal(verify_with(keys, t, &plain, NULL), JWT_BAD_SIGNATURE);
    const char *junk[] = {"",   "a",        "a.b",         "a.b.c.d",
                          "..", "e30.e30.", "!!.e30.AAAA", "e30.e30.AA="};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
        assert_int_not_equal(verify_with(keys, junk[i], &plain, NULL), JWT_OK);
    free(t);
    free(other);
    free(swapped);
    jwt_keys_unref(keys);
}

static void test_time_claims(void **state UNUSED)
{
    jwt_keys *keys = jwt_keys_load(SECRET, "", NULL, 0);
    char payload[256];
    struct {
        long long exp_off, nbf_off;
        jwt_result want;
    } cases[] = {
        {-31, 0, JWT_EXPIRED},
        {-29, 0, JWT_OK}, /* leeway 30 on exp */
        {600, 31, JWT_NOT_YET_VALID},
        {600, 29, JWT_OK}, /* and on nbf */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(payload, sizeof payload, "{\"sub\":\"1\",\"exp\":%lld,\"nbf\":%lld}",
                 (long long)now_s + cases[i].exp_off, (long long)now_s + cases[i].nbf_off);
        char *t = hs256(payload);
        assert_int_equal(verify_with(keys, t, &plain, NULL), cases[i].want);
        free(t);
    }
    char *no_exp = hs256("{\"sub\":\"1\"}");
    assert_int_equal(verify_with(keys, no_exp, &plain, NULL), JWT_EXPIRED);
    char *text_exp = hs256("{\"sub\":\"1\",\"exp\":\"tomorrow\"}");
    assert_int_equal(verify_with(keys, text_exp, &plain, NULL), JWT_MALFORMED);
    free(no_exp);
    free(text_exp);
    jwt_keys_unref(keys);
}

static void test_issuer_and_audience(void **state UNUSED)
{
    jwt_keys *keys = jwt_keys_load(SECRET, "", NULL, 0);
    const jwt_rules strict = {"https://id.test", "orderd", 0};
    struct {
        const char *extra;
        jwt_result want;
    } cases[] = {
        {"\"iss\":\"https://id.test\",\"aud\":\"orderd\"", JWT_OK},
        {"\"iss\":\"https://id.test\",\"aud\":[\"x\",\"orderd\"]", JWT_OK},
        {"\"iss\":\"https://id.test\",\"aud\":\"billing\"", JWT_WRONG_AUDIENCE},
        {"\"iss\":\"https://id.test\",\"aud\":[\"x\"]", JWT_WRONG_AUDIENCE},
        {"\"iss\":\"https://id.test\"", JWT_WRONG_AUDIENCE},
        {"\"iss\":\"https://evil.test\",\"aud\":\"orderd\"", JWT_WRONG_ISSUER},
        {"\"aud\":\"orderd\"", JWT_WRONG_ISSUER},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = hs256(claims(cases[i].extra));
        assert_int_equal(verify_with(keys, t, &strict, NULL), cases[i].want);
        free(t);
    }
    jwt_keys_unref(keys);
}

static void test_alg_none_and_unknown(void **state UNUSED)
{
    jwt_keys *keys = jwt_keys_load(SECRET, rsa_pem_path, NULL, 0);
    const char *headers[] = {"{\"alg\":\"none\"}",  "{\"alg\":\"None\"}", "{\"alg\":\"HS512\"}",
                             "{\"alg\":\"PS256\"}", "{\"typ\":\"JWT\"}",  "{\"alg\":7}"};
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        char *t = hs256_with(SECRET, strlen(SECRET), headers[i], claims(""));
        jwt_result r = verify_with(keys, t, &plain, NULL);
        assert_true(r == JWT_ALG_REFUSED || r == JWT_MALFORMED);
        /* and unsigned, as alg none means */
        *(strrchr(t, '.') + 1) = '\0';
        assert_int_not_equal(verify_with(keys, t, &plain, NULL), JWT_OK);
        free(t);
    }
    char *crit =
        hs256_with(SECRET, strlen(SECRET), "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", claims(""));
    assert_int_equal(verify_with(keys, crit, &plain, NULL), JWT_MALFORMED);
    free(crit);
    jwt_keys_unref(keys);
}

/* ---- public keys ------------------------------------------------------------ */

static void test_rs256_and_es256(void **state UNUSED)
{
    jwt_keys *rsa = jwt_keys_load("", rsa_pem_path, NULL, 0);
    jwt_keys *ec = jwt_keys_load("", ec_pem_path, NULL, 0);
    char *rs = pkey_sign(rsa_key, "{\"alg\":\"RS256\"}", claims(""));
    char *es = pkey_sign(ec_key, "{\"alg\":\"ES256\"}", claims(""));
    assert_int_equal(verify_with(rsa, rs, &plain, NULL), JWT_OK);
    assert_int_equal(verify_with(ec, es, &plain, NULL), JWT_OK);
    /* each key verifies its own algorithm only */
    assert_int_equal(verify_with(rsa, es, &plain, NULL), JWT_ALG_REFUSED);
    assert_int_equal(verify_with(ec, rs, &plain, NULL), JWT_ALG_REFUSED);
    char *es_as_rs = pkey_sign(ec_key, "{\"alg\":\"RS256\"}", claims(""));
    assert_int_equal(verify_with(rsa, es_as_rs, &plain, NULL), JWT_BAD_SIGNATURE);
    free(rs);
    free(es);
    free(es_as_rs);
    jwt_keys_unref(rsa);
    jwt_keys_unref(ec);
}

static void test_hs256_signed_with_the_public_key(void **state UNUSED)
{
    /* the classic confusion: the attacker has the PEM and signs HS256 with it */
    FILE *f = fopen(rsa_pem_path, "rb");
    char pem[4096];
    size_t n = fread(pem, 1, sizeof pem, f);
    fclose(f);
    jwt_keys *pub_only = jwt_keys_load("", rsa_pem_path, NULL, 0);
    jwt_keys *both = jwt_keys_load(SECRET, rsa_pem_path, NULL, 0);
    char *t = hs256_with(pem, n, "{\"alg\":\"HS256\"}", claims(""));
    assert_int_equal(verify_with(pub_only, t, &plain, NULL), JWT_ALG_REFUSED);
    assert_int_equal(verify_with(both, t, &plain, NULL), JWT_BAD_SIGNATURE);
    free(t);
    jwt_keys_unref(pub_only);
    jwt_keys_unref(both);
}

static char *jwk_b64_bn(const EVP_PKEY *key, const char *param)
{
    BIGNUM *bn = NULL;
    EVP_PKEY_get_bn_param(key, param, &bn);
    unsigned char raw[512];
    int n = BN_bn2bin(bn, raw);
    BN_free(bn);
    return b64(raw, (size_t)n);
}

static void test_jwks_with_kids(void **state UNUSED)
{
    char *n = jwk_b64_bn(rsa_key, OSSL_PKEY_PARAM_RSA_N),
         *e = jwk_b64_bn(rsa_key, OSSL_PKEY_PARAM_RSA_E);
    unsigned char point[65];
    size_t plen = 0;
    EVP_PKEY_get_octet_string_param(ec_key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &plen);
    assert_int_equal(plen, 65);
    char *x = b64(point + 1, 32), *y = b64(point + 33, 32);
    char path[] = "/tmp/orderd-jwks-XXXXXX";
    FILE *f = fdopen(mkstemp(path), "w");
    fprintf(f,
            "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"r1\",\"n\":\"%s\",\"e\":\"%s\"},"
            "{\"kty\":\"EC\",\"kid\":\"e1\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"},"
            "{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"},"
            "{\"kty\":\"RSA\",\"use\":\"enc\",\"n\":\"%s\",\"e\":\"%s\"}]}",
            n, e, x, y, n, e);
    fclose(f);
    char err[256] = "";
    jwt_keys *keys = jwt_keys_load("", path, err, sizeof err);
    assert_non_null(keys);
    assert_int_equal(jwt_keys_public_count(keys), 2); /* oct and "enc" skipped */
    char *rs = pkey_sign(rsa_key, "{\"alg\":\"RS256\",\"kid\":\"r1\"}", claims(""));
    char *es = pkey_sign(ec_key, "{\"alg\":\"ES256\",\"kid\":\"e1\"}", claims(""));
    char *es_no_kid = pkey_sign(ec_key, "{\"alg\":\"ES256\"}", claims(""));
    char *wrong_kid = pkey_sign(rsa_key, "{\"alg\":\"RS256\",\"kid\":\"r9\"}", claims(""));
    assert_int_equal(verify_with(keys, rs, &plain, NULL), JWT_OK);
    assert_int_equal(verify_with(keys, es, &plain, NULL), JWT_OK);
    assert_int_equal(verify_with(keys, es_no_kid, &plain, NULL), JWT_OK);
    assert_int_equal(verify_with(keys, wrong_kid, &plain, NULL), JWT_ALG_REFUSED);
    unlink(path);
    free(n), free(e), free(x), free(y), free(rs), free(es), free(es_no_kid), free(wrong_kid);
    jwt_keys_unref(keys);
}

static void test_bad_key_files(void **state UNUSED)
{
    char err[256] = "";
    assert_null(jwt_keys_load("", "", err, sizeof err));
    assert_null(jwt_keys_load("", "/nonexistent/key.pem", err, sizeof err));
    assert_non_null(strstr(err, "cannot be read"));
    /* a 1024-bit RSA key is refused */
    EVP_PKEY *weak = EVP_RSA_gen(1024);
    char path[64];
    write_pem(weak, path);
    err[0] = '\0';
    assert_null(jwt_keys_load("", path, err, sizeof err));
    assert_non_null(strstr(err, "no usable key"));
    unlink(path);
    EVP_PKEY_free(weak);
}

static void test_base64url(void **state UNUSED)
{
    unsigned char out[16];
    size_t n;
    char text[16];
    assert_int_equal(base64url_encode((const unsigned char *)"\xfb\xff", 2, text), 3);
    assert_string_equal(text, "-_8");
    assert_true(base64url_decode("-_8", 3, out, &n));
    assert_int_equal(n, 2);
    assert_memory_equal(out, "\xfb\xff", 2);
    assert_false(base64url_decode("-_9", 3, out, &n)); /* unused bits set */
    assert_false(base64url_decode("A", 1, out, &n));
    assert_false(base64url_decode("AA==", 4, out, &n));
    assert_false(base64url_decode("A+8", 3, out, &n));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hs256_valid_with_claims),
        cmocka_unit_test(test_forged_tokens),
        cmocka_unit_test(test_time_claims),
        cmocka_unit_test(test_issuer_and_audience),
        cmocka_unit_test(test_alg_none_and_unknown),
        cmocka_unit_test(test_rs256_and_es256),
        cmocka_unit_test(test_hs256_signed_with_the_public_key),
        cmocka_unit_test(test_jwks_with_kids),
        cmocka_unit_test(test_bad_key_files),
        cmocka_unit_test(test_base64url),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
