/*
 * test_json_util.h - JSON test input for the unit tests that take JSON
 * values (test_order.c, test_money.c).  Include after <cmocka.h>.
 */
#ifndef ORDERD_TEST_JSON_UTIL_H
#define ORDERD_TEST_JSON_UTIL_H

#include <jansson.h>

/*
 * Parses a test's JSON text: any value, not just objects, and "\u0000"
 * inside strings, so tests can send what a client could.  A typo in the
 * test itself fails the test.  Caller json_decref()s.
 */
static json_t *test_json_parse(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (v == NULL)
        fail_msg("bad test JSON %s: %s", text, err.text);
    return v;
}

#endif
