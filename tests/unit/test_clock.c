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
#include <stdio.h>

#include "orderd/base/clock.h"

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

/* The formatter does its own calendar arithmetic; gmtime_r and snprintf
 * are the reference, over the whole range and on every day boundary kind
 * (leap days, century years, year ends, before 1970). */
static void reference(int64_t us, int digits, char out[64])
{
    static const int64_t divisor[7] = {1000000, 100000, 10000, 1000, 100, 10, 1};
    int64_t secs = us / 1000000, frac = us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        secs -= 1;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    if (digits == 0)
        snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    else
        snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%0*lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, digits,
                 (long long)(frac / divisor[digits]));
}

static void test_matches_gmtime_everywhere(void **state)
{
    (void)state;
    const int64_t min_s = -62135596800LL, max_s = 253402300799LL; /* 0001 .. 9999 */
    const int64_t fixed[] = {0,
                             -1,
                             951782400LL * 1000000,           /* 2000-02-29 */
                             4107542399LL * 1000000 + 999999, /* 2100-02-28T23:59:59 */
                             -2203891200LL * 1000000,         /* 1900-03-01 */
                             min_s * 1000000,
                             max_s * 1000000 + 999999};
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 200000; i++) {
        int64_t us;
        if (i < (int)(sizeof fixed / sizeof fixed[0])) {
            us = fixed[i];
        } else {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            us = (min_s + (int64_t)(x % (uint64_t)(max_s - min_s))) * 1000000 +
                 (int64_t)(x >> 40) % 1000000;
        }
        int digits = i % 7;
        char want[64], got[32];
        reference(us, digits, want);
        size_t n = clock_format_rfc3339(us, digits, got);
        assert_int_equal(n, strlen(want));
        assert_string_equal(got, want);
    }
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
        cmocka_unit_test(test_matches_gmtime_everywhere),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
