#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "orderd/store/lookup_policy.h"

static int64_t next_id = 1;

/* n misses of orders never read before; how many the policy sent to Redis. */
static int distinct_misses(lookup_policy *p, int n)
{
    int asked = 0;
    for (int i = 0; i < n; i++)
        asked += lookup_policy_should_ask(p, next_id++);
    return asked;
}

/* n misses over the same `orders` orders, round robin. */
static int repeated_misses(lookup_policy *p, int n, int orders)
{
    int asked = 0;
    for (int i = 0; i < n; i++)
        asked += lookup_policy_should_ask(p, 1000000000 + i % orders);
    return asked;
}

/* A policy whose windows both measured nothing: skipping. */
static void make_poor(lookup_policy *p, int min_hit_pct)
{
    assert_int_equal(lookup_policy_init(p, min_hit_pct), 0);
    assert_int_equal(distinct_misses(p, LOOKUP_POLICY_WINDOW), LOOKUP_POLICY_WINDOW);
    lookup_policy_record(p, LOOKUP_POLICY_WINDOW, 0);
}

static void starts_out_asking(void **state)
{
    (void)state;
    lookup_policy p;
    assert_int_equal(lookup_policy_init(&p, 20), 0);
    assert_int_equal(distinct_misses(&p, 5000), 5000);
    lookup_policy_destroy(&p);
}

static void redis_alone_below_the_rate_does_not_skip(void **state)
{
    (void)state;
    lookup_policy p;
    assert_int_equal(lookup_policy_init(&p, 20), 0);
    /* no window of misses measured yet: they might come back */
    lookup_policy_record(&p, LOOKUP_POLICY_WINDOW, 0);
    assert_int_equal(repeated_misses(&p, 500, 1), 500);
    lookup_policy_destroy(&p);
}

static void both_rates_below_skip_all_but_the_samples(void **state)
{
    (void)state;
    lookup_policy p;
    assert_int_equal(lookup_policy_init(&p, 20), 0);
    assert_int_equal(distinct_misses(&p, LOOKUP_POLICY_WINDOW), LOOKUP_POLICY_WINDOW);
    /* one hit short of 20% */
    lookup_policy_record(&p, LOOKUP_POLICY_WINDOW, LOOKUP_POLICY_WINDOW / 5 - 1);
    /* three more windows of misses close meanwhile, none of them re-reads */
    assert_int_equal(distinct_misses(&p, 100 * LOOKUP_POLICY_SAMPLE_EVERY), 100);
    lookup_policy_destroy(&p);
}

static void redis_at_the_rate_keeps_asking(void **state)
{
    (void)state;
    lookup_policy p;
    assert_int_equal(lookup_policy_init(&p, 25), 0);
    assert_int_equal(distinct_misses(&p, LOOKUP_POLICY_WINDOW), LOOKUP_POLICY_WINDOW);
    lookup_policy_record(&p, LOOKUP_POLICY_WINDOW, LOOKUP_POLICY_WINDOW / 4);
    assert_int_equal(distinct_misses(&p, 3000), 3000);
    lookup_policy_destroy(&p);
}

static void misses_that_come_back_bring_asking_back(void **state)
{
    (void)state;
    lookup_policy p;
    make_poor(&p, 20);
    /* Redis is empty (nothing filled it), but the same orders keep
     * missing: once a window of them is measured, every read asks, so
     * Redis gets filled and can answer them */
    int first = repeated_misses(&p, LOOKUP_POLICY_WINDOW, 8);
    assert_int_equal(first, LOOKUP_POLICY_WINDOW / LOOKUP_POLICY_SAMPLE_EVERY);
    assert_int_equal(repeated_misses(&p, 2000, 8), 2000);
    lookup_policy_destroy(&p);
}

/* Two misses of the same new order: the second is a re-read. */
static int read_twice(lookup_policy *p, int pairs)
{
    int asked = 0;
    for (int i = 0; i < pairs; i++, next_id++)
        asked += lookup_policy_should_ask(p, next_id) + lookup_policy_should_ask(p, next_id);
    return asked;
}

static void a_re_read_rate_at_the_minimum_asks_below_it_skips(void **state)
{
    (void)state;
    lookup_policy p;
    make_poor(&p, 50);
    /* a window that is exactly half re-reads: asking again after it */
    read_twice(&p, LOOKUP_POLICY_WINDOW / 2);
    /* the next is one re-read short of half, and every read of it asks */
    int asked = read_twice(&p, LOOKUP_POLICY_WINDOW / 2 - 1);
    asked += distinct_misses(&p, 2);
    assert_int_equal(asked, LOOKUP_POLICY_WINDOW);
    /* after it, skipping */
    assert_int_equal(distinct_misses(&p, 10 * LOOKUP_POLICY_SAMPLE_EVERY), 10);
    lookup_policy_destroy(&p);
}

static void nothing_is_decided_before_a_window_is_full(void **state)
{
    (void)state;
    lookup_policy p;
    assert_int_equal(lookup_policy_init(&p, 50), 0);
    assert_int_equal(distinct_misses(&p, LOOKUP_POLICY_WINDOW), LOOKUP_POLICY_WINDOW);
    /* 0 hits in batches that add up to one short of a window */
    for (int i = 0; i < LOOKUP_POLICY_WINDOW - 1; i++)
        lookup_policy_record(&p, 1, 0);
    assert_int_equal(distinct_misses(&p, 100), 100);
    lookup_policy_record(&p, 1, 0);
    assert_int_equal(distinct_misses(&p, LOOKUP_POLICY_SAMPLE_EVERY), 1);
    lookup_policy_destroy(&p);
}

static void samples_that_hit_again_bring_asking_back(void **state)
{
    (void)state;
    lookup_policy p;
    make_poor(&p, 20);
    assert_int_equal(distinct_misses(&p, LOOKUP_POLICY_SAMPLE_EVERY), 1);
    /* another process filled what this one reads: half the samples hit */
    lookup_policy_record(&p, LOOKUP_POLICY_WINDOW, LOOKUP_POLICY_WINDOW / 2);
    assert_int_equal(distinct_misses(&p, 3000), 3000);
    lookup_policy_destroy(&p);
}

static void each_window_starts_afresh(void **state)
{
    (void)state;
    lookup_policy p;
    assert_int_equal(lookup_policy_init(&p, 20), 0);
    assert_int_equal(distinct_misses(&p, LOOKUP_POLICY_WINDOW), LOOKUP_POLICY_WINDOW);
    /* a rich window, then a poor one: the poor one decides */
    lookup_policy_record(&p, LOOKUP_POLICY_WINDOW, LOOKUP_POLICY_WINDOW);
    lookup_policy_record(&p, LOOKUP_POLICY_WINDOW, 0);
    assert_int_equal(distinct_misses(&p, 10 * LOOKUP_POLICY_SAMPLE_EVERY), 10);
    lookup_policy_destroy(&p);
}

static void zero_never_skips(void **state)
{
    (void)state;
    lookup_policy p;
    assert_int_equal(lookup_policy_init(&p, 0), 0);
    for (int i = 0; i < 10; i++)
        lookup_policy_record(&p, LOOKUP_POLICY_WINDOW, 0);
    assert_int_equal(distinct_misses(&p, 5000), 5000);
    lookup_policy_destroy(&p);
}

static void a_hundred_skips_unless_every_lookup_hits(void **state)
{
    (void)state;
    lookup_policy p;
    assert_int_equal(lookup_policy_init(&p, 100), 0);
    assert_int_equal(distinct_misses(&p, LOOKUP_POLICY_WINDOW), LOOKUP_POLICY_WINDOW);
    lookup_policy_record(&p, LOOKUP_POLICY_WINDOW, LOOKUP_POLICY_WINDOW);
    assert_int_equal(distinct_misses(&p, 100), 100);
    lookup_policy_record(&p, LOOKUP_POLICY_WINDOW, LOOKUP_POLICY_WINDOW - 1);
    assert_int_equal(distinct_misses(&p, LOOKUP_POLICY_SAMPLE_EVERY), 1);
    lookup_policy_destroy(&p);
}

static void a_huge_batch_does_not_overflow(void **state)
{
    (void)state;
    lookup_policy p;
    make_poor(&p, 30);
    /* 100 * 2^30 overflows 32 bits; 40% is above 30% */
    lookup_policy_record(&p, UINT32_C(1) << 30, (UINT32_C(1) << 30) / 10 * 4);
    assert_int_equal(distinct_misses(&p, 100), 100);
    lookup_policy_destroy(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(starts_out_asking),
        cmocka_unit_test(redis_alone_below_the_rate_does_not_skip),
        cmocka_unit_test(both_rates_below_skip_all_but_the_samples),
        cmocka_unit_test(redis_at_the_rate_keeps_asking),
        cmocka_unit_test(misses_that_come_back_bring_asking_back),
        cmocka_unit_test(a_re_read_rate_at_the_minimum_asks_below_it_skips),
        cmocka_unit_test(nothing_is_decided_before_a_window_is_full),
        cmocka_unit_test(samples_that_hit_again_bring_asking_back),
        cmocka_unit_test(each_window_starts_afresh),
        cmocka_unit_test(zero_never_skips),
        cmocka_unit_test(a_hundred_skips_unless_every_lookup_hits),
        cmocka_unit_test(a_huge_batch_does_not_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
