/*
 * test_token_cache.c - unit tests of src/auth/token_cache.c: a hit only
 * for the same bytes, the same key generation and before exp; bounded.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "orderd/auth/token_cache.h"

#define UNUSED __attribute__((unused))

static token_identity identity(int64_t customer, int64_t exp)
{
    token_identity id = {.principal = {.customer_id = customer}, .exp = exp};
    strcpy(id.sub, "someone");
    return id;
}

static void test_hit_until_exp(void **state UNUSED)
{
    token_cache *tc = token_cache_create(64);
    token_identity id = identity(42, 1000), out;
    token_cache_put(tc, "tok-a", 5, 1, &id);
    assert_true(token_cache_get(tc, "tok-a", 5, 1, 999, &out));
    assert_int_equal(out.principal.customer_id, 42);
    assert_string_equal(out.sub, "someone");
    assert_false(token_cache_get(tc, "tok-a", 5, 1, 1000, &out)); /* never at or past exp */
    assert_false(token_cache_get(tc, "tok-a", 5, 2, 999, &out));  /* keys reloaded since */
    assert_false(token_cache_get(tc, "tok-b", 5, 1, 999, &out));
    assert_false(token_cache_get(tc, "tok-", 4, 1, 999, &out));
    token_cache_destroy(tc);
    token_cache_destroy(NULL);
}

/* Another thread sees the shared table only (its per-thread front is empty). */
typedef struct {
    token_cache *tc;
    const char *token;
    bool hit;
    token_identity out;
} lookup;

static void *lookup_elsewhere(void *arg)
{
    lookup *l = arg;
    l->hit = token_cache_get(l->tc, l->token, strlen(l->token), 0, 1, &l->out);
    return NULL;
}

static bool seen_by_another_thread(token_cache *tc, const char *token, token_identity *out)
{
    lookup l = {.tc = tc, .token = token};
    pthread_t t;
    pthread_create(&t, NULL, lookup_elsewhere, &l);
    pthread_join(t, NULL);
    *out = l.out;
    return l.hit;
}

static void test_bounded(void **state UNUSED)
{
    /* one slot: the newest token evicts the last */
    token_cache *tc = token_cache_create(1);
    token_identity a = identity(1, 100), b = identity(2, 100), out;
    token_cache_put(tc, "aaaa", 4, 0, &a);
    token_cache_put(tc, "bbbb", 4, 0, &b);
    assert_false(seen_by_another_thread(tc, "aaaa", &out));
    assert_true(seen_by_another_thread(tc, "bbbb", &out));
    assert_int_equal(out.principal.customer_id, 2);
    /* this thread's front holds a few more, as bounded, and as checked */
    char name[16];
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof name, "tok-%d", i);
        token_cache_put(tc, name, strlen(name), 0, &a);
    }
    int hits = 0;
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof name, "tok-%d", i);
        hits += token_cache_get(tc, name, strlen(name), 0, 1, &out);
        assert_false(token_cache_get(tc, name, strlen(name), 0, 100, &out)); /* exp */
        assert_false(token_cache_get(tc, name, strlen(name), 1, 1, &out));   /* generation */
    }
    assert_true(hits >= 1 && hits <= 9);
    /* too long to keep: verified every time */
    static char big[TOKEN_CACHE_TOKEN_MAX + 1];
    memset(big, 'x', sizeof big);
    token_cache_put(tc, big, sizeof big, 0, &a);
    assert_false(token_cache_get(tc, big, sizeof big, 0, 1, &out));
    token_cache_destroy(tc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_until_exp),
        cmocka_unit_test(test_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
