/*
 * test_clock.c - RFC 3339 formatting from fixed inputs; clock sanity.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "orderd/clock.h"

static void check_format(int64_t us, int digits, const char *want)
{
    char out[32];
    size_t n;

    memset(out, 'x', sizeof(out));
    n = clock_format_rfc3339(us, digits, out);
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
}

static void test_epoch(void **state)
{
    (void)state;
    check_format(0, 3, "1970-01-01T00:00:00.000Z");
    check_format(0, 6, "1970-01-01T00:00:00.000000Z");
}

static void test_fixed_instant(void **state)
{
    (void)state;
    check_format(1732766879123456LL, 6, "2024-11-28T04:07:59.123456Z");
    /* Milliseconds truncate, they do not round: .123456 -> .123 */
    check_format(1732766879123456LL, 3, "2024-11-28T04:07:59.123Z");
    check_format(1732766879999999LL, 3, "2024-11-28T04:07:59.999Z");
    check_format(951782400000000LL, 3, "2000-02-29T00:00:00.000Z");
}

static void test_negative(void **state)
{
    (void)state;
    check_format(-1, 6, "1969-12-31T23:59:59.999999Z");
    check_format(-1, 3, "1969-12-31T23:59:59.999Z");
    check_format(-1000000, 3, "1969-12-31T23:59:59.000Z");
    check_format(-1500000, 6, "1969-12-31T23:59:58.500000Z");
}

static void test_out_of_range_is_clamped(void **state)
{
    (void)state;
    check_format(INT64_MAX, 6, "9999-12-31T23:59:59.999999Z");
    check_format(INT64_MIN, 3, "0001-01-01T00:00:00.000Z");
}

static void test_other_digit_counts(void **state)
{
    (void)state;
    check_format(1732766879123456LL, 0, "2024-11-28T04:07:59Z");
    check_format(1732766879123456LL, -5, "2024-11-28T04:07:59Z");
    check_format(1732766879123456LL, 99, "2024-11-28T04:07:59.123456Z");
}

static void test_clocks_advance(void **state)
{
    struct timespec ts = {0, 2000000};
    uint64_t m0, m1;
    int64_t w0, w1;

    (void)state;
    m0 = clock_now_ns();
    w0 = clock_wall_us();
    nanosleep(&ts, NULL);
    m1 = clock_now_ns();
    w1 = clock_wall_us();
    assert_true(m1 - m0 >= 2000000u);
    assert_true(w1 > w0);
    /* The wall clock is in microseconds of this century. */
    assert_true(w0 > 1600000000LL * 1000000LL);
    assert_true(w0 < 4102444800LL * 1000000LL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_epoch),
        cmocka_unit_test(test_fixed_instant),
        cmocka_unit_test(test_negative),
        cmocka_unit_test(test_out_of_range_is_clamped),
        cmocka_unit_test(test_other_digit_counts),
        cmocka_unit_test(test_clocks_advance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
