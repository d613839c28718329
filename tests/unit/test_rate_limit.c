/*
 * test_rate_limit.c - unit tests of src/auth/rate_limit.c without Redis
 * (the in-process GCRA, which is also the fallback): the burst, the
 * refusal with Retry-After, keys apart, the refill, the policy text, and
 * the asynchronous path.  The Redis path is tested with two replicas in
 * tests/integration/test_rate_limit.py.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "orderd/auth/rate_limit.h"

#define UNUSED __attribute__((unused))

static rate_limiter *make(double rate, int burst)
{
    rate_limit_options o = {.name = "client",
                            .per_second = rate,
                            .burst = burst,
                            .threads = 1,
                            .queue_max = 16,
                            .slots = 64};
    rate_limiter *rl = rate_limiter_create(&o);
    assert_non_null(rl);
    return rl;
}

static void test_burst_then_refused(void **state UNUSED)
{
    rate_limiter *rl = make(1.0 / 60, 3); /* one a minute: nothing refills during the test */
    assert_string_equal(rate_limiter_policy(rl), "\"client\";q=3;w=180");
    rate_verdict v;
    for (int i = 0; i < 3; i++) {
        assert_true(rate_limiter_try_local(rl, "sub:1", &v));
        assert_true(v.allowed);
        assert_false(v.fallback); /* no Redis configured: this is the limiter, not a fallback */
        assert_int_equal(v.remaining, 2 - i);
    }
    assert_true(rate_limiter_try_local(rl, "sub:1", &v));
    assert_false(v.allowed);
    assert_int_equal(v.remaining, 0);
    assert_true(v.retry_after_s >= 59 && v.retry_after_s <= 60);
    assert_true(v.reset_s >= 179 && v.reset_s <= 180);
    /* another key has its own budget */
    assert_true(rate_limiter_try_local(rl, "sub:2", &v));
    assert_true(v.allowed);
    rate_limiter_destroy(rl);
    rate_limiter_destroy(NULL);
}

static void test_refill(void **state UNUSED)
{
    rate_limiter *rl = make(20, 1); /* a token every 50 ms */
    rate_verdict v;
    rate_limiter_check(rl, "ip:127.0.0.1", &v);
    assert_true(v.allowed);
    /* spent: refused soon (a slow machine may refill once or twice first) */
    int tries = 0;
    do
        rate_limiter_check(rl, "ip:127.0.0.1", &v);
    while (v.allowed && ++tries < 1000);
    assert_false(v.allowed);
    struct timespec pause = {0, 120 * 1000 * 1000}; /* more than two intervals */
    nanosleep(&pause, NULL);
    rate_limiter_check(rl, "ip:127.0.0.1", &v);
    assert_true(v.allowed);
    rate_limiter_destroy(rl);
}

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done, allowed;
} tally;

static void on_done(void *arg, const rate_verdict *v)
{
    tally *t = arg;
    pthread_mutex_lock(&t->lock);
    t->done++;
    t->allowed += v->allowed;
    pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->lock);
}

static void test_async(void **state UNUSED)
{
    rate_limiter *rl = make(1.0 / 60, 2);
    tally t = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    for (int i = 0; i < 5; i++)
        assert_int_equal(rate_limiter_check_async(rl, "sub:9", on_done, &t), 0);
    pthread_mutex_lock(&t.lock);
    while (t.done < 5)
        pthread_cond_wait(&t.cond, &t.lock);
    pthread_mutex_unlock(&t.lock);
    assert_int_equal(t.allowed, 2);
    rate_limiter_destroy(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_refused),
        cmocka_unit_test(test_refill),
        cmocka_unit_test(test_async),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
