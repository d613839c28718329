/*
 * test_money.c - unit tests of amounts and currencies (src/domain/money.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "orderd/domain/money.h"
#include "test_json_util.h"

#define UNUSED __attribute__((unused))

/* ---- helpers ----------------------------------------------------------- */

static void assert_money_json_ok(const char *json_text, int64_t expected)
{
    json_t *v = test_json_parse(json_text);
    int64_t cents = -1;
    const char *why = NULL;
    if (!money_parse_json(v, &cents, &why))
        fail_msg("%s: unexpected error %s", json_text, why);
    assert_int_equal(cents, expected);
    json_decref(v);
}

static void assert_money_json_err(const char *json_text, const char *expected_why)
{
    json_t *v = test_json_parse(json_text);
    int64_t cents = -7;
    const char *why = NULL;
    assert_false(money_parse_json(v, &cents, &why));
    assert_non_null(why);
    assert_string_equal(why, expected_why);
    assert_int_equal(cents, -7);
    json_decref(v);
}

static void assert_money_text_ok(const char *text, int64_t expected)
{
    int64_t cents = -1;
    const char *why = NULL;
    if (!money_parse_text(text, &cents, &why))
        fail_msg("\"%s\": unexpected error %s", text, why);
    assert_int_equal(cents, expected);
}

static void assert_money_text_err(const char *text, const char *expected_why)
{
    int64_t cents = -7;
    const char *why = NULL;
    assert_false(money_parse_text(text, &cents, &why));
    assert_non_null(why);
    assert_string_equal(why, expected_why);
    assert_int_equal(cents, -7);
}

#define MSG_FORMAT   "must be a decimal amount such as \"12.50\""
#define MSG_NEGATIVE "must not be negative"
#define MSG_DECIMALS "must have at most two decimal places"
#define MSG_MAX      "must not exceed 9999999999.99"
#define MSG_TYPE     "must be a string or number"

/* ---- money_format ------------------------------------------------------ */

static void assert_format(int64_t cents, const char *expected)
{
    char out[32];
    memset(out, 'x', sizeof out);
    size_t n = money_format(cents, out);
    assert_string_equal(out, expected);
    assert_int_equal(n, strlen(expected));
}

static void test_money_format(void **state UNUSED)
{
    assert_format(0, "0.00");
    assert_format(5, "0.05");
    assert_format(50, "0.50");
    assert_format(100, "1.00");
    assert_format(12345, "123.45");
    assert_format(ORDER_MONEY_MAX_CENTS, "9999999999.99");
}

static void test_money_format_extremes(void **state UNUSED)
{
    assert_format(-5, "-0.05");
    assert_format(INT64_MAX, "92233720368547758.07");
    assert_format(INT64_MIN, "-92233720368547758.08");
}

/* ---- money_parse_text -------------------------------------------------- */

static void test_money_text_valid(void **state UNUSED)
{
    assert_money_text_ok("12", 1200);
    assert_money_text_ok("12.3", 1230);
    assert_money_text_ok("12.30", 1230);
    assert_money_text_ok("0.30", 30);
    assert_money_text_ok("0", 0);
    assert_money_text_ok("0.00", 0);
    assert_money_text_ok("0.01", 1);
    assert_money_text_ok("9999999999.99", ORDER_MONEY_MAX_CENTS);
}

static void test_money_text_leading_zeros_accepted(void **state UNUSED)
{
    assert_money_text_ok("007.50", 750);
    assert_money_text_ok("0000000000000000000000001", 100);
}

static void test_money_text_malformed(void **state UNUSED)
{
    const char *bad[] = {"",     " 1",  "1 ",    "1.", ".5",  "+1",   "1e3", "1E3",   "1,50",
                         "0x10", "abc", "1.2.3", "-",  "--1", "1.-5", "١",   "12.5a", "."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_money_text_err(bad[i], MSG_FORMAT);
    int64_t cents = 3;
    const char *why = NULL;
    assert_false(money_parse_text(NULL, &cents, &why));
    assert_string_equal(why, MSG_FORMAT);
    assert_int_equal(cents, 3);
}

static void test_money_text_negative(void **state UNUSED)
{
    assert_money_text_err("-1", MSG_NEGATIVE);
    assert_money_text_err("-0.50", MSG_NEGATIVE);
}

static void test_money_text_too_many_decimals(void **state UNUSED)
{
    assert_money_text_err("1.005", MSG_DECIMALS);
    assert_money_text_err("1.000", MSG_DECIMALS);
}

static void test_money_text_too_large(void **state UNUSED)
{
    assert_money_text_err("10000000000", MSG_MAX);
    assert_money_text_err("10000000000.00", MSG_MAX);
    /* far past INT64_MAX: must not overflow on the way */
    assert_money_text_err("99999999999999999999999999999999", MSG_MAX);
}

static void test_money_text_why_may_be_null(void **state UNUSED)
{
    int64_t cents;
    assert_false(money_parse_text("x", &cents, NULL));
}

/* ---- money_parse_json -------------------------------------------------- */

static void test_money_json_integers(void **state UNUSED)
{
    assert_money_json_ok("12", 1200);
    assert_money_json_ok("0", 0);
    assert_money_json_ok("9999999999", 999999999900);
    assert_money_json_err("10000000000", MSG_MAX);
    assert_money_json_err("9223372036854775807", MSG_MAX);
    assert_money_json_err("-1", MSG_NEGATIVE);
}

static void test_money_json_reals_exact(void **state UNUSED)
{
    assert_money_json_ok("0.1", 10);
    assert_money_json_ok("19.99", 1999);
    assert_money_json_ok("9999999999.99", ORDER_MONEY_MAX_CENTS);
    assert_money_json_ok("0.01", 1);
    assert_money_json_ok("0.05", 5);
    assert_money_json_ok("1.10", 110);
    assert_money_json_ok("12.5", 1250);
    assert_money_json_ok("123456.78", 12345678);
    assert_money_json_ok("1.0", 100);
    assert_money_json_ok("0.0", 0);
    assert_money_json_ok("-0.0", 0);
}

static void test_money_json_reals_exponent(void **state UNUSED)
{
    assert_money_json_ok("1e2", 10000);
    assert_money_json_ok("1.5e1", 1500);
    assert_money_json_ok("1e-2", 1);
    assert_money_json_ok("25E-1", 250);
    assert_money_json_ok("9.99999999999e9", ORDER_MONEY_MAX_CENTS);
    assert_money_json_err("1e-3", MSG_DECIMALS);
    assert_money_json_err("1e10", MSG_MAX);
    assert_money_json_err("1e300", MSG_MAX);
    assert_money_json_err("5e-324", MSG_DECIMALS);
}

static void test_money_json_reals_rejected(void **state UNUSED)
{
    assert_money_json_err("1.005", MSG_DECIMALS);
    assert_money_json_err("2.675", MSG_DECIMALS);
    /* 0.1 + 0.2 in binary: the client did not mean 0.30 */
    assert_money_json_err("0.30000000000000004", MSG_DECIMALS);
    assert_money_json_err("-1.5", MSG_NEGATIVE);
    assert_money_json_err("-0.5", MSG_NEGATIVE);
    assert_money_json_err("-1e-300", MSG_NEGATIVE);
    assert_money_json_err("10000000000.0", MSG_MAX);
    assert_money_json_err("9999999999.991", MSG_DECIMALS);
}

static void test_money_json_strings(void **state UNUSED)
{
    assert_money_json_ok("\"0.30\"", 30);
    assert_money_json_ok("\"12\"", 1200);
    assert_money_json_err("\"1e3\"", MSG_FORMAT);
    assert_money_json_err("\" 1\"", MSG_FORMAT);
    assert_money_json_err("\"\"", MSG_FORMAT);
    assert_money_json_err("\"1.\"", MSG_FORMAT);
    assert_money_json_err("\".5\"", MSG_FORMAT);
    assert_money_json_err("\"-1\"", MSG_NEGATIVE);
    assert_money_json_err("\"1.005\"", MSG_DECIMALS);
}

static void test_money_json_embedded_nul(void **state UNUSED)
{
    json_t *v = json_stringn("1\0"
                             "5",
                             3);
    int64_t cents = -7;
    const char *why = NULL;
    assert_false(money_parse_json(v, &cents, &why));
    assert_string_equal(why, MSG_FORMAT);
    assert_int_equal(cents, -7);
    json_decref(v);
}

static void test_money_json_wrong_types(void **state UNUSED)
{
    assert_money_json_err("true", MSG_TYPE);
    assert_money_json_err("null", MSG_TYPE);
    assert_money_json_err("[1]", MSG_TYPE);
    assert_money_json_err("{\"amount\":1}", MSG_TYPE);
    int64_t cents;
    const char *why = NULL;
    assert_false(money_parse_json(NULL, &cents, &why));
    assert_string_equal(why, MSG_TYPE);
}

/* ---- currencies -------------------------------------------------------- */

static void test_currency_is_active(void **state UNUSED)
{
    const char *active[] = {"AED", "CHF", "EUR", "GBP", "JPY", "USD", "XCG", "ZWG"};
    for (size_t i = 0; i < sizeof active / sizeof active[0]; i++)
        assert_true(currency_is_active(active[i]));
    const char *inactive[] = {"usd", "XXX", "XTS", "XAU", "HRK", "ZWL", "US", "USDD", ""};
    for (size_t i = 0; i < sizeof inactive / sizeof inactive[0]; i++)
        assert_false(currency_is_active(inactive[i]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_money_format),
        cmocka_unit_test(test_money_format_extremes),
        cmocka_unit_test(test_money_text_valid),
        cmocka_unit_test(test_money_text_leading_zeros_accepted),
        cmocka_unit_test(test_money_text_malformed),
        cmocka_unit_test(test_money_text_negative),
        cmocka_unit_test(test_money_text_too_many_decimals),
        cmocka_unit_test(test_money_text_too_large),
        cmocka_unit_test(test_money_text_why_may_be_null),
        cmocka_unit_test(test_money_json_integers),
        cmocka_unit_test(test_money_json_reals_exact),
        cmocka_unit_test(test_money_json_reals_exponent),
        cmocka_unit_test(test_money_json_reals_rejected),
        cmocka_unit_test(test_money_json_strings),
        cmocka_unit_test(test_money_json_embedded_nul),
        cmocka_unit_test(test_money_json_wrong_types),
        cmocka_unit_test(test_currency_is_active),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
