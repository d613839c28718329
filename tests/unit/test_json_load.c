/*
 * test_json_load.c - base/json_load.h: the fast path builds what jansson
 * builds, gives up where jansson must speak, and the errors are jansson's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "orderd/base/json_load.h"

static json_t *jansson(const char *text)
{
    return json_loadb(text, strlen(text), JSON_REJECT_DUPLICATES, NULL);
}

static void assert_fast_equals_jansson(const char *text)
{
    json_t *fast = json_load_fast_path(text, strlen(text));
    json_t *slow = jansson(text);
    assert_non_null(fast);
    assert_non_null(slow);
    assert_true(json_equal(fast, slow));
    json_decref(fast);
    json_decref(slow);
}

static void plain_request_bodies_take_the_fast_path(void **state)
{
    (void)state;
    assert_fast_equals_jansson(
        "{\"customer_id\":42,\"currency\":\"USD\",\"total\":\"12.50\","
        "\"items\":[{\"sku\":\"A-1\",\"quantity\":2,\"unit_price\":\"5.00\"}]}");
    assert_fast_equals_jansson(" { \"status\" : \"paid\" } \r\n");
    assert_fast_equals_jansson("[1, -0, 0.5, 1e3, -2.5E-3, true, false, null, \"\", {}, []]");
    json_t *doc = json_load_fast_path("{\"i\":7,\"r\":7.0}", 15);
    assert_true(json_is_integer(json_object_get(doc, "i")));
    assert_true(json_is_real(json_object_get(doc, "r")));
    json_decref(doc);
}

static void unusual_texts_are_left_to_jansson(void **state)
{
    (void)state;
    const char *texts[] = {
        "{\"a\":\"caf\\u00e9\"}",       /* an escape */
        "{\"a\":\"\xc3\xa9\"}",         /* UTF-8 */
        "{\"a\":1,\"a\":2}",            /* a duplicate: jansson's error */
        "{\"a\":99999999999999999999}", /* integer overflow: jansson's error */
        "{\"a\":1e400}",                /* real overflow: jansson's error */
        "{\"a\":01}",                   /* a leading zero */
        "{\"a\":1} x",                  /* text after the value */
        "\"top\"",                      /* not an object or array */
        "",                             /* nothing */
        "{\"a\":-}",                    /* no digits */
        "{\"a\":tru}",                  /* a broken literal */
        "{\"a\":[1,]}",                 /* a trailing comma */
    };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        json_t *fast = json_load_fast_path(texts[i], strlen(texts[i]));
        assert_null(fast);
    }
}

static void errors_are_jansson_s_own(void **state)
{
    (void)state;
    const char *texts[] = {"{\"a\":1,\"a\":2}", "{\"a\":99999999999999999999}", "{\"a\":1} x",
                           "{\"a\":[1,]}"};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        json_error_t mine, theirs;
        json_t *a = json_load_strict(texts[i], strlen(texts[i]), &mine);
        json_t *b = json_loadb(texts[i], strlen(texts[i]), JSON_REJECT_DUPLICATES, &theirs);
        assert_null(a);
        assert_null(b);
        assert_string_equal(mine.text, theirs.text);
        assert_int_equal(mine.line, theirs.line);
        assert_int_equal(mine.column, theirs.column);
        assert_int_equal(json_error_code(&mine), json_error_code(&theirs));
    }
    /* and what jansson accepts after a give-up is still accepted */
    json_t *doc = json_load_strict("{\"a\":\"caf\\u00e9\"}", 17, NULL);
    assert_string_equal(json_string_value(json_object_get(doc, "a")), "caf\xc3\xa9");
    json_decref(doc);
}

static void deep_documents_are_left_to_jansson(void **state)
{
    (void)state;
    char text[256] = "";
    for (int i = 0; i < 40; i++)
        strcat(text, "[");
    strcat(text, "1");
    for (int i = 0; i < 40; i++)
        strcat(text, "]");
    assert_null(json_load_fast_path(text, strlen(text)));
    json_t *doc = json_load_strict(text, strlen(text), NULL);
    assert_non_null(doc);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_request_bodies_take_the_fast_path),
        cmocka_unit_test(unusual_texts_are_left_to_jansson),
        cmocka_unit_test(errors_are_jansson_s_own),
        cmocka_unit_test(deep_documents_are_left_to_jansson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
