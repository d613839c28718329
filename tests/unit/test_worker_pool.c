#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "orderd/base/worker_pool.h"

static atomic_int ran;

static void count_job(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ran, 1);
}

static void runs_every_job_before_destroy_returns(void **state)
{
    (void)state;
    atomic_store(&ran, 0);
    worker_pool *pool = worker_pool_create(3, 1000);
    assert_non_null(pool);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(worker_pool_submit(pool, count_job, NULL), 0);
    worker_pool_destroy(pool);
    assert_int_equal(atomic_load(&ran), 1000);
}

static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;

static void blocked_job(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&gate);
    pthread_mutex_unlock(&gate);
    atomic_fetch_add(&ran, 1);
}

static void full_queue_refuses_instead_of_blocking(void **state)
{
    (void)state;
    atomic_store(&ran, 0);
    pthread_mutex_lock(&gate);
    worker_pool *pool = worker_pool_create(1, 2);
    assert_int_equal(worker_pool_submit(pool, blocked_job, NULL), 0);
    /* let the single worker take the first job off the queue */
    for (int i = 0; i < 200; i++)
        usleep(1000);
    assert_int_equal(worker_pool_submit(pool, blocked_job, NULL), 0);
    assert_int_equal(worker_pool_submit(pool, blocked_job, NULL), 0);
    assert_int_equal(worker_pool_submit(pool, blocked_job, NULL), -1);
    pthread_mutex_unlock(&gate);
    worker_pool_destroy(pool);
    assert_int_equal(atomic_load(&ran), 3);
}

static void bad_arguments(void **state)
{
    (void)state;
    assert_null(worker_pool_create(0, 10));
    assert_null(worker_pool_create(1, 0));
    worker_pool_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(runs_every_job_before_destroy_returns),
        cmocka_unit_test(full_queue_refuses_instead_of_blocking),
        cmocka_unit_test(bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
