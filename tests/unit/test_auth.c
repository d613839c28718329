/*
 * test_auth.c - unit tests of src/auth/auth.c: the Authorization header,
 * the verified-token cache in front of jwt_verify, and auth_reload_keys:
 * a swap under concurrent verification drops nothing, retires tokens of
 * the old key, and a bad file keeps the old keys.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "orderd/auth/auth.h"
#include "orderd/base/base64url.h"
#include "orderd/base/metrics.h"

#define UNUSED __attribute__((unused))
#define SECRET "auth-unit-secret"

static char key_path[] = "/tmp/orderd-auth-key-XXXXXX";
static EVP_PKEY *key_a, *key_b;

static void write_key(EVP_PKEY *key)
{
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%s.tmp", key_path);
    FILE *f = fopen(tmp, "w");
    PEM_write_PUBKEY(f, key);
    fclose(f);
    rename(tmp, key_path); /* whole files only, as an operator's mv would */
}

static char *b64(const void *data, size_t n)
{
    char *out = malloc(BASE64URL_ENCODED_LEN(n) + 1);
    base64url_encode(data, n, out);
    return out;
}

static char *sign(EVP_PKEY *key, const char *sub)
{
    char payload[128];
    snprintf(payload, sizeof payload, "{\"sub\":\"%s\",\"exp\":%lld}", sub,
             (long long)time(NULL) + 600);
    const char *header = "{\"alg\":\"RS256\"}";
    char *h = b64(header, strlen(header)), *p = b64(payload, strlen(payload));
    char *input = malloc(strlen(h) + strlen(p) + 2);
    sprintf(input, "%s.%s", h, p);
    unsigned char sig[512];
    size_t n = sizeof sig;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key);
    EVP_DigestSign(ctx, sig, &n, (unsigned char *)input, strlen(input));
    EVP_MD_CTX_free(ctx);
    char *s = b64(sig, n);
    char *token = malloc(strlen(input) + strlen(s) + 16);
    sprintf(token, "Bearer %s.%s", input, s);
    free(h), free(p), free(input), free(s);
    return token;
}

static char *hs_header(const char *sub)
{
    char payload[128];
    snprintf(payload, sizeof payload, "{\"sub\":\"%s\",\"exp\":%lld}", sub,
             (long long)time(NULL) + 600);
    const char *header = "{\"alg\":\"HS256\"}";
    char *h = b64(header, strlen(header)), *p = b64(payload, strlen(payload));
    char *input = malloc(strlen(h) + strlen(p) + 2);
    sprintf(input, "%s.%s", h, p);
    unsigned char mac[32];
    unsigned int n = 0;
    HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (unsigned char *)input, strlen(input), mac, &n);
    char *s = b64(mac, n);
    char *token = malloc(strlen(input) + strlen(s) + 16);
    sprintf(token, "Bearer %s.%s", input, s);
    free(h), free(p), free(input), free(s);
    return token;
}

static orderd_config cfg;

static int setup(void **state UNUSED)
{
    close(mkstemp(key_path));
    key_a = EVP_RSA_gen(2048);
    key_b = EVP_RSA_gen(2048);
    write_key(key_a);
    memset(&cfg, 0, sizeof cfg);
    strcpy(cfg.jwt_secret, SECRET);
    strcpy(cfg.jwt_public_key_file, key_path);
    cfg.jwt_leeway_s = 0;
    cfg.max_connections = 16;
    return 0;
}

static int teardown(void **state UNUSED)
{
    unlink(key_path);
    EVP_PKEY_free(key_a);
    EVP_PKEY_free(key_b);
    return 0;
}

static auth_token_status check(auth *a, const char *header)
{
    token_identity id;
    jwt_result why;
    return auth_authenticate(a, header, &id, &why);
}

static void test_header_forms(void **state UNUSED)
{
    char err[256] = "";
    auth *a = auth_create(&cfg, NULL, err, sizeof err);
    assert_non_null(a);
    assert_true(auth_enabled(a));
    char *t = sign(key_a, "42");
    assert_int_equal(check(a, t), AUTH_TOKEN_VALID);
    assert_int_equal(check(a, NULL), AUTH_TOKEN_MISSING);
    assert_int_equal(check(a, "Basic dTpw"), AUTH_TOKEN_MISSING);
    assert_int_equal(check(a, "Bearer"), AUTH_TOKEN_INVALID);
    assert_int_equal(check(a, "Bearer x.y.z"), AUTH_TOKEN_INVALID);
    t[0] = 'b'; /* the scheme is case-insensitive (RFC 9110 11.1) */
    assert_int_equal(check(a, t), AUTH_TOKEN_VALID);
    free(t);
    auth_destroy(a);
}

static void test_cache_saves_the_signature_check(void **state UNUSED)
{
    char err[256] = "";
    auth *a = auth_create(&cfg, NULL, err, sizeof err);
    char *t = sign(key_a, "7");
    uint64_t before = metric_get(METRIC_AUTH_TOKENS_VERIFIED);
    token_identity id;
    jwt_result why;
    for (int i = 0; i < 10; i++)
        assert_int_equal(auth_authenticate(a, t, &id, &why), AUTH_TOKEN_VALID);
    assert_int_equal(metric_get(METRIC_AUTH_TOKENS_VERIFIED) - before, 1);
    assert_int_equal(id.principal.customer_id, 7);
    free(t);
    auth_destroy(a);
}

typedef struct {
    auth *a;
    const char *header;
    atomic_bool stop;
    atomic_int refused, checked;
} hammer_arg;

static void *hammer(void *arg)
{
    hammer_arg *h = arg;
    while (!atomic_load(&h->stop) || atomic_load(&h->checked) < 100) {
        if (check(h->a, h->header) != AUTH_TOKEN_VALID)
            atomic_fetch_add(&h->refused, 1);
        atomic_fetch_add(&h->checked, 1);
    }
    return NULL;
}

static void test_reload_swaps_keys_without_dropping(void **state UNUSED)
{
    char err[256] = "";
    auth *a = auth_create(&cfg, NULL, err, sizeof err);
    char *old = sign(key_a, "1"), *fresh = sign(key_b, "1");
    char *steady = hs_header("1"); /* the secret stays across reloads */
    assert_int_equal(check(a, old), AUTH_TOKEN_VALID);
    assert_int_equal(check(a, fresh), AUTH_TOKEN_INVALID);

    hammer_arg h = {.a = a, .header = steady};
    pthread_t threads[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&threads[i], NULL, hammer, &h);
    for (int i = 0; i < 20; i++) {
        write_key(i % 2 ? key_a : key_b);
        assert_int_equal(auth_reload_keys(a, SECRET, key_path, err, sizeof err), 0);
    }
    atomic_store(&h.stop, true);
    for (int i = 0; i < 3; i++)
        pthread_join(threads[i], NULL);
    assert_int_equal(atomic_load(&h.refused), 0);

    /* the last file holds key_a; the cached key_b verdicts are gone */
    write_key(key_b);
    assert_int_equal(auth_reload_keys(a, SECRET, key_path, err, sizeof err), 0);
    assert_int_equal(check(a, fresh), AUTH_TOKEN_VALID);
    assert_int_equal(check(a, old), AUTH_TOKEN_INVALID);
    write_key(key_a);
    assert_int_equal(auth_reload_keys(a, SECRET, key_path, err, sizeof err), 0);
    assert_int_equal(check(a, fresh), AUTH_TOKEN_INVALID); /* was cached as valid */

    /* a broken file: the old keys stay */
    FILE *f = fopen(key_path, "w");
    fputs("-----BEGIN PUBLIC KEY-----\nnot base64\n", f);
    fclose(f);
    assert_int_equal(auth_reload_keys(a, SECRET, key_path, err, sizeof err), -1);
    assert_non_null(strstr(err, "no usable key"));
    assert_int_equal(check(a, old), AUTH_TOKEN_VALID);
    write_key(key_a);
    free(old), free(fresh), free(steady);
    auth_destroy(a);
}

static void test_auth_off(void **state UNUSED)
{
    orderd_config off = cfg;
    off.jwt_secret[0] = off.jwt_public_key_file[0] = '\0';
    char err[256] = "";
    auth *a = auth_create(&off, NULL, err, sizeof err);
    assert_non_null(a);
    assert_false(auth_enabled(a));
    assert_null(auth_client_limiter(a));
    assert_null(auth_failure_limiter(a));
    assert_int_equal(auth_reload_keys(a, SECRET, "", err, sizeof err), -1);
    auth_destroy(a);
    strcpy(off.trusted_proxies, "not-an-ip");
    assert_null(auth_create(&off, NULL, err, sizeof err));
    assert_non_null(strstr(err, "trusted_proxies"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_forms),
        cmocka_unit_test(test_cache_saves_the_signature_check),
        cmocka_unit_test(test_reload_swaps_keys_without_dropping),
        cmocka_unit_test(test_auth_off),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
