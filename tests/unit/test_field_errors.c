/*
 * test_field_errors.c - unit tests of the (field, message) error list
 * (src/base/field_errors.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "orderd/base/field_errors.h"

#define UNUSED __attribute__((unused))

static void test_field_errors_add_formats(void **state UNUSED)
{
    field_errors errs = {0};
    field_errors_add(&errs, "items[2].quantity", "must be between %d and %d", 1, 1000000);
    assert_int_equal(errs.count, 1);
    assert_string_equal(errs.list[0].field, "items[2].quantity");
    assert_string_equal(errs.list[0].message, "must be between 1 and 1000000");
}

static void test_field_errors_add_caps(void **state UNUSED)
{
    field_errors errs = {0};
    for (int i = 0; i < FIELD_ERRORS_MAX + 5; i++)
        field_errors_add(&errs, "f", "error %d", i);
    assert_int_equal(errs.count, FIELD_ERRORS_MAX);
    assert_string_equal(errs.list[FIELD_ERRORS_MAX - 1].message, "error 15");
}

static void test_field_errors_add_truncates(void **state UNUSED)
{
    char long_field[200], long_message[300];
    memset(long_field, 'f', sizeof long_field - 1);
    long_field[sizeof long_field - 1] = '\0';
    memset(long_message, 'm', sizeof long_message - 1);
    long_message[sizeof long_message - 1] = '\0';
    field_errors errs = {0};
    field_errors_add(&errs, long_field, "%s", long_message);
    assert_int_equal(strlen(errs.list[0].field), sizeof errs.list[0].field - 1);
    assert_int_equal(strlen(errs.list[0].message), sizeof errs.list[0].message - 1);
    field_errors_add(&errs, NULL, "x");
    assert_string_equal(errs.list[1].field, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_field_errors_add_formats),
        cmocka_unit_test(test_field_errors_add_caps),
        cmocka_unit_test(test_field_errors_add_truncates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
