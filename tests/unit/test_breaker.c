#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "orderd/cache/breaker.h"

static void opens_after_threshold_consecutive_failures(void **state)
{
    (void)state;
    breaker b;
    breaker_init(&b, 3);
    assert_true(breaker_allows(&b));
    assert_false(breaker_record(&b, false, 1));
    assert_false(breaker_record(&b, false, 2));
    assert_true(breaker_allows(&b));
    assert_true(breaker_record(&b, false, 3)); /* the third opens it */
    assert_false(breaker_allows(&b));
    assert_int_equal(b.opened_at_ns, 3);
    assert_int_equal(b.times_opened, 1);
    assert_string_equal(breaker_state_name(b.state), "open");
}

static void a_success_resets_the_count(void **state)
{
    (void)state;
    breaker b;
    breaker_init(&b, 2);
    breaker_record(&b, false, 1);
    breaker_record(&b, true, 2);
    assert_false(breaker_record(&b, false, 3));
    assert_true(breaker_allows(&b));
    assert_true(breaker_record(&b, false, 4));
}

static void only_a_successful_probe_closes_it(void **state)
{
    (void)state;
    breaker b;
    breaker_init(&b, 1);
    assert_true(breaker_record(&b, false, 10));
    /* late request results while open change nothing */
    assert_false(breaker_record(&b, true, 11));
    assert_false(breaker_allows(&b));
    assert_false(breaker_probe_result(&b, false));
    assert_false(breaker_allows(&b));
    assert_true(breaker_probe_result(&b, true));
    assert_true(breaker_allows(&b));
    assert_int_equal(b.consecutive_failures, 0);
    /* a probe result while closed is not a transition */
    assert_false(breaker_probe_result(&b, true));
    assert_true(breaker_record(&b, false, 12));
    assert_int_equal(b.times_opened, 2);
}

static void threshold_below_one_means_one(void **state)
{
    (void)state;
    breaker b;
    breaker_init(&b, 0);
    assert_true(breaker_record(&b, false, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(opens_after_threshold_consecutive_failures),
        cmocka_unit_test(a_success_resets_the_count),
        cmocka_unit_test(only_a_successful_probe_closes_it),
        cmocka_unit_test(threshold_below_one_means_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
