/*
 * test_metrics.c - per-thread cells summed at scrape (live threads and
 * exited ones), histograms, and the Prometheus text of the core family.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "orderd/base/buf.h"
#include "orderd/base/metrics.h"

#define THREADS 8
#define ADDS    10000

typedef struct worker_arg {
    metrics_family *family;
    int index;
    pthread_barrier_t *recorded, *may_exit;
} worker_arg;

static void *record(void *p)
{
    worker_arg *a = p;
    for (int i = 0; i < ADDS; i++)
        metrics_cell_add(&metrics_cells(a->family)[0], 1);
    metrics_cell_add(&metrics_cells(a->family)[1], (uint64_t)a->index);
    metric_inc(METRIC_SHARED_READS);
    pthread_barrier_wait(a->recorded);
    pthread_barrier_wait(a->may_exit);
    return NULL;
}

static void cells_sum_over_live_and_exited_threads(void **state)
{
    (void)state;
    metrics_family *f = metrics_family_create(3);
    assert_non_null(f);
    uint64_t shared_before = metric_get(METRIC_SHARED_READS);
    pthread_barrier_t recorded, may_exit;
    pthread_barrier_init(&recorded, NULL, THREADS + 1);
    pthread_barrier_init(&may_exit, NULL, THREADS + 1);
    pthread_t threads[THREADS];
    worker_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (worker_arg){f, i + 1, &recorded, &may_exit};
        assert_int_equal(pthread_create(&threads[i], NULL, record, &args[i]), 0);
    }
    pthread_barrier_wait(&recorded);
    uint64_t sum[3];
    metrics_family_sum(f, sum); /* every thread alive, each with its own copy */
    assert_int_equal(sum[0], THREADS * ADDS);
    assert_int_equal(sum[1], THREADS * (THREADS + 1) / 2);
    assert_int_equal(sum[2], 0);
    assert_int_equal(metric_get(METRIC_SHARED_READS) - shared_before, THREADS);
    pthread_barrier_wait(&may_exit);
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);
    metrics_family_sum(f, sum); /* all gone: their counts stay */
    assert_int_equal(sum[0], THREADS * ADDS);
    assert_int_equal(sum[1], THREADS * (THREADS + 1) / 2);
    assert_int_equal(metric_get(METRIC_SHARED_READS) - shared_before, THREADS);
    metrics_cell_add(&metrics_cells(f)[2], 7); /* and this thread's own adds to them */
    metrics_family_sum(f, sum);
    assert_int_equal(sum[0], THREADS * ADDS);
    assert_int_equal(sum[2], 7);
    pthread_barrier_destroy(&recorded);
    pthread_barrier_destroy(&may_exit);
}

static void families_are_limited(void **state)
{
    (void)state;
    /* the core family and the one above exist; fill the rest */
    int made = 0;
    while (metrics_family_create(1))
        made++;
    assert_true(made <= METRICS_FAMILIES_MAX - 2);
    assert_null(metrics_family_create(1));
}

static void histogram_buckets_sum_and_text(void **state)
{
    (void)state;
    static const uint64_t bounds[] = {1000, 2000, 4000}; /* ns */
    const metrics_buckets b = {bounds, 3, 1e-9};
    metrics_cell cells[METRICS_HISTOGRAM_CELLS(&b)];
    memset(cells, 0, sizeof cells);
    uint64_t values[] = {0, 1000, 1001, 2000, 4001, 100000};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        metrics_observe(cells, &b, values[i]);
    uint64_t plain[5];
    for (int i = 0; i < 5; i++)
        plain[i] = atomic_load(&cells[i]);
    /* le is inclusive: 1000 lands in the first bucket, 1001 in the second */
    assert_int_equal(plain[0], 2);
    assert_int_equal(plain[1], 2);
    assert_int_equal(plain[2], 0);
    assert_int_equal(plain[3], 2);
    assert_int_equal(plain[4], 108002);
    buf out = BUF_INIT;
    metrics_render_histogram(&out, "x_seconds", "route=\"/a\"", &b, plain);
    char *text = buf_steal(&out, NULL);
    assert_string_equal(text, "x_seconds_bucket{route=\"/a\",le=\"1e-06\"} 2\n"
                              "x_seconds_bucket{route=\"/a\",le=\"2e-06\"} 4\n"
                              "x_seconds_bucket{route=\"/a\",le=\"4e-06\"} 4\n"
                              "x_seconds_bucket{route=\"/a\",le=\"+Inf\"} 6\n"
                              "x_seconds_sum{route=\"/a\"} 0.000108002\n"
                              "x_seconds_count{route=\"/a\"} 6\n");
    free(text);
    out = BUF_INIT;
    metrics_render_histogram(&out, "n", NULL, &b, plain);
    text = buf_steal(&out, NULL);
    assert_non_null(strstr(text, "n_bucket{le=\"+Inf\"} 6\nn_sum 0.000108002\nn_count 6\n"));
    free(text);
}

static size_t occurrences(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void the_core_text_has_one_header_per_family(void **state)
{
    (void)state;
    metric_observe(HISTOGRAM_WRITE_BATCH, 3);
    metric_inc(METRIC_REDIS_BREAKER_OPENED);
    metrics_observe_invalidation_lag_us(-5); /* clocks apart: counted as 0 */
    metrics_gauges g = {.cache_up = 1,
                        .db_healthy = 2,
                        .db_in_use = 1,
                        .db_size = 4,
                        .hot_entries = 9,
                        .invalidation_state = 2};
    buf out = BUF_INIT;
    metrics_render(&out, &g);
    char *text = buf_steal(&out, NULL);
    assert_int_equal(occurrences(text, "# TYPE orderd_hot_cache_evictions_total counter\n"), 1);
    assert_int_equal(occurrences(text, "# TYPE orderd_redis_breaker_transitions_total counter\n"),
                     1);
    assert_int_equal(occurrences(text, "# TYPE orderd_read_batch_size histogram\n"), 1);
    assert_non_null(strstr(text, "orderd_redis_breaker_transitions_total{to=\"open\"} 1\n"));
    assert_non_null(strstr(text, "orderd_hot_cache_evictions_total{reason=\"age\"} 0\n"));
    assert_non_null(strstr(text, "orderd_write_batch_size_bucket{le=\"2\"} 0\n"
                                 "orderd_write_batch_size_bucket{le=\"4\"} 1\n"));
    assert_non_null(strstr(text, "orderd_write_batch_size_sum 3\n"));
    assert_non_null(strstr(text, "orderd_invalidation_lag_seconds_bucket{le=\"0.0005\"} 1\n"));
    assert_non_null(strstr(text, "orderd_read_batch_size_count{stage=\"postgres\"} 0\n"));
    assert_non_null(strstr(text, "orderd_redis_breaker_open 0\n"));
    assert_non_null(strstr(text, "orderd_db_pool_connections_max 4\n"));
    assert_non_null(strstr(text, "orderd_hot_cache_entries 9\n"));
    /* every series has a HELP for its family */
    assert_int_equal(occurrences(text, "# HELP "), occurrences(text, "# TYPE "));
    free(text);

    g.cache_up = -1; /* no Redis: no breaker to report */
    out = BUF_INIT;
    metrics_render(&out, &g);
    text = buf_steal(&out, NULL);
    assert_null(strstr(text, "orderd_redis_breaker_open "));
    assert_non_null(strstr(text, "orderd_cache_up -1\n"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cells_sum_over_live_and_exited_threads),
        cmocka_unit_test(families_are_limited),
        cmocka_unit_test(histogram_buckets_sum_and_text),
        cmocka_unit_test(the_core_text_has_one_header_per_family),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
