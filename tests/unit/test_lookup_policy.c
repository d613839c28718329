#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "orderd/store/lookup_policy.h"

/* Asks n reads; returns how many the policy sent to Redis. */
static int ask_many(lookup_policy *p, int n)
{
    int asked = 0;
    for (int i = 0; i < n; i++)
        asked += lookup_policy_should_ask(p);
    return asked;
}

static void starts_out_asking(void **state)
{
    (void)state;
    lookup_policy p;
    lookup_policy_init(&p, 20);
    assert_int_equal(ask_many(&p, 5000), 5000);
}

static void a_window_below_the_rate_skips_all_but_the_samples(void **state)
{
    (void)state;
    lookup_policy p;
    lookup_policy_init(&p, 20);
    /* one hit short of 20% over exactly one window */
    lookup_policy_record(&p, LOOKUP_POLICY_WINDOW, LOOKUP_POLICY_WINDOW / 5 - 1);
    int n = 100 * LOOKUP_POLICY_SAMPLE_EVERY;
    assert_int_equal(ask_many(&p, n), 100);
}

static void a_window_at_the_rate_keeps_asking(void **state)
{
    (void)state;
    lookup_policy p;
    lookup_policy_init(&p, 25);
    lookup_policy_record(&p, LOOKUP_POLICY_WINDOW, LOOKUP_POLICY_WINDOW / 4);
    assert_int_equal(ask_many(&p, 1000), 1000);
}

static void nothing_is_decided_before_a_window_is_full(void **state)
{
    (void)state;
    lookup_policy p;
    lookup_policy_init(&p, 50);
    /* 0 hits in batches that add up to one short of a window */
    for (int i = 0; i < LOOKUP_POLICY_WINDOW - 1; i++)
        lookup_policy_record(&p, 1, 0);
    assert_int_equal(ask_many(&p, 100), 100);
    lookup_policy_record(&p, 1, 0);
    assert_int_equal(ask_many(&p, LOOKUP_POLICY_SAMPLE_EVERY), 1);
}

static void samples_that_hit_again_bring_asking_back(void **state)
{
    (void)state;
    lookup_policy p;
    lookup_policy_init(&p, 20);
    lookup_policy_record(&p, LOOKUP_POLICY_WINDOW, 0);
    assert_int_equal(ask_many(&p, LOOKUP_POLICY_SAMPLE_EVERY), 1);
    /* the samples' window: half of them were hits */
    lookup_policy_record(&p, LOOKUP_POLICY_WINDOW, LOOKUP_POLICY_WINDOW / 2);
    assert_int_equal(ask_many(&p, 1000), 1000);
}

static void each_window_starts_afresh(void **state)
{
    (void)state;
    lookup_policy p;
    lookup_policy_init(&p, 20);
    /* a rich window, then a poor one: the poor one decides */
    lookup_policy_record(&p, LOOKUP_POLICY_WINDOW, LOOKUP_POLICY_WINDOW);
    lookup_policy_record(&p, LOOKUP_POLICY_WINDOW, 0);
    assert_int_equal(ask_many(&p, 10 * LOOKUP_POLICY_SAMPLE_EVERY), 10);
}

static void zero_never_skips(void **state)
{
    (void)state;
    lookup_policy p;
    lookup_policy_init(&p, 0);
    for (int i = 0; i < 10; i++)
        lookup_policy_record(&p, LOOKUP_POLICY_WINDOW, 0);
    assert_int_equal(ask_many(&p, 1000), 1000);
}

static void a_hundred_skips_unless_every_lookup_hits(void **state)
{
    (void)state;
    lookup_policy p;
    lookup_policy_init(&p, 100);
    lookup_policy_record(&p, LOOKUP_POLICY_WINDOW, LOOKUP_POLICY_WINDOW);
    assert_int_equal(ask_many(&p, 100), 100);
    lookup_policy_record(&p, LOOKUP_POLICY_WINDOW, LOOKUP_POLICY_WINDOW - 1);
    assert_int_equal(ask_many(&p, LOOKUP_POLICY_SAMPLE_EVERY), 1);
}

static void a_huge_batch_does_not_overflow(void **state)
{
    (void)state;
    lookup_policy p;
    lookup_policy_init(&p, 30);
    /* 100 * 2^30 overflows 32 bits; 40% is above 30% */
    lookup_policy_record(&p, UINT32_C(1) << 30, (UINT32_C(1) << 30) / 10 * 4);
    assert_int_equal(ask_many(&p, 100), 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(starts_out_asking),
        cmocka_unit_test(a_window_below_the_rate_skips_all_but_the_samples),
        cmocka_unit_test(a_window_at_the_rate_keeps_asking),
        cmocka_unit_test(nothing_is_decided_before_a_window_is_full),
        cmocka_unit_test(samples_that_hit_again_bring_asking_back),
        cmocka_unit_test(each_window_starts_afresh),
        cmocka_unit_test(zero_never_skips),
        cmocka_unit_test(a_hundred_skips_unless_every_lookup_hits),
        cmocka_unit_test(a_huge_batch_does_not_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
