/*
 * test_parse.c - unit tests of the strict text parsers (src/base/parse.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "orderd/base/parse.h"

#define UNUSED __attribute__((unused))

static void test_parse_positive_i64_valid(void **state UNUSED)
{
    int64_t v = 0;
    assert_true(parse_positive_i64("1", &v));
    assert_int_equal(v, 1);
    assert_true(parse_positive_i64("42", &v));
    assert_int_equal(v, 42);
    assert_true(parse_positive_i64("9223372036854775807", &v));
    assert_int_equal(v, INT64_MAX);
}

static void test_parse_positive_i64_rejects(void **state UNUSED)
{
    /* clang-format off */
    const char *bad[] = {"", "0", "00", "01", "-1", "+1", " 1", "1 ", "1a", "1.0", "1e3", "0x1",
                         "9223372036854775808", "18446744073709551616",
                         "99999999999999999999999999"};
    /* clang-format on */
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        int64_t v = 77;
        if (parse_positive_i64(bad[k], &v))
            fail_msg("accepted \"%s\"", bad[k]);
        assert_int_equal(v, 77);
    }
    int64_t v;
    assert_false(parse_positive_i64(NULL, &v));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_positive_i64_valid),
        cmocka_unit_test(test_parse_positive_i64_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
