/*
 * test_json_msgpack.c - the msgpack representation (base/json_msgpack.h):
 * every document is decoded with msgpack-c's own unpacker and compared,
 * value for value and key for key in order, with the JSON it came from.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "orderd/base/json_msgpack.h"
#include "orderd/domain/order.h"

/* Fails the test where msgpack object m and JSON value j differ. */
static void assert_same(const msgpack_object *m, const json_t *j, const char *where)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        if (m->type != MSGPACK_OBJECT_MAP)
            fail_msg("%s: not a map (type %d)", where, m->type);
        assert_int_equal(m->via.map.size, json_object_size(j));
        size_t i = 0;
        const char *key;
        json_t *value;
        json_object_foreach((json_t *)j, key, value)
        {
            const msgpack_object_kv *kv = &m->via.map.ptr[i++];
            assert_int_equal(kv->key.type, MSGPACK_OBJECT_STR);
            assert_int_equal(kv->key.via.str.size, strlen(key));
            assert_memory_equal(kv->key.via.str.ptr, key, strlen(key)); /* same order too */
            assert_same(&kv->val, value, key);
        }
        return;
    }
    case JSON_ARRAY:
        if (m->type != MSGPACK_OBJECT_ARRAY)
            fail_msg("%s: not an array", where);
        assert_int_equal(m->via.array.size, json_array_size(j));
        for (size_t i = 0; i < json_array_size(j); i++)
            assert_same(&m->via.array.ptr[i], json_array_get(j, i), where);
        return;
    case JSON_STRING:
        if (m->type != MSGPACK_OBJECT_STR)
            fail_msg("%s: not a str", where);
        assert_int_equal(m->via.str.size, json_string_length(j));
        assert_memory_equal(m->via.str.ptr, json_string_value(j), json_string_length(j));
        return;
    case JSON_INTEGER:
        if (json_integer_value(j) >= 0) {
            if (m->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                fail_msg("%s: not a positive integer", where);
            assert_true(m->via.u64 == (uint64_t)json_integer_value(j));
        } else {
            if (m->type != MSGPACK_OBJECT_NEGATIVE_INTEGER)
                fail_msg("%s: not a negative integer", where);
            assert_true(m->via.i64 == json_integer_value(j));
        }
        return;
    case JSON_REAL:
        if (m->type != MSGPACK_OBJECT_FLOAT64)
            fail_msg("%s: not a float 64", where);
        assert_true(m->via.f64 == json_real_value(j));
        return;
    case JSON_TRUE:
    case JSON_FALSE:
        if (m->type != MSGPACK_OBJECT_BOOLEAN)
            fail_msg("%s: not a bool", where);
        assert_int_equal(m->via.boolean, json_is_true(j));
        return;
    case JSON_NULL:
        if (m->type != MSGPACK_OBJECT_NIL)
            fail_msg("%s: not nil", where);
        return;
    }
}

/* Converts json, unpacks the result whole (one object, nothing after
 * it) and compares it with jansson's reading of the same text. */
static void round_trip(const char *json)
{
    size_t len = 0;
    char *packed = json_msgpack_from_text(json, strlen(json), &len);
    assert_non_null(packed);

    msgpack_unpacked result;
    msgpack_unpacked_init(&result);
    size_t offset = 0;
    assert_int_equal(msgpack_unpack_next(&result, packed, len, &offset), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(offset, len);

    json_t *doc = json_loads(json, JSON_DECODE_ANY, NULL);
    assert_non_null(doc);
    assert_same(&result.data, doc, "(top)");
    json_decref(doc);
    msgpack_unpacked_destroy(&result);
    free(packed);
}

static char *rendered_order(void)
{
    order o = {
        .id = 12,
        .customer_id = 4200000000LL,
        .status = ORDER_SHIPPED,
        .currency = "EUR",
        .total_cents = 999999999999LL,
        .items_json = strdup("[{\"sku\":\"BOOK-1\",\"quantity\":2,\"unit_price\":\"9.99\"},"
                             "{\"sku\":\"PEN\",\"quantity\":1000000,\"unit_price\":\"0.00\"}]"),
        .version = 300,
        .created_at_us = INT64_C(1795838879123456),
        .updated_at_us = INT64_C(1795842000000001),
    };
    size_t len = 0;
    char *json = order_to_json(&o, &len);
    order_clear(&o);
    assert_non_null(json);
    return json;
}

static void an_order_keeps_every_field(void **state)
{
    (void)state;
    char *json = rendered_order();
    round_trip(json);

    /* and the fields a client reads: money and timestamps as strings */
    size_t len = 0;
    char *packed = json_msgpack_from_text(json, strlen(json), &len);
    assert_non_null(packed);
    assert_true(len < strlen(json)); /* the point of it */
    msgpack_unpacked result;
    msgpack_unpacked_init(&result);
    assert_int_equal(msgpack_unpack_next(&result, packed, len, NULL), MSGPACK_UNPACK_SUCCESS);
    const msgpack_object_map *map = &result.data.via.map;
    assert_int_equal(map->size, 9);
    const msgpack_object *total = &map->ptr[4].val;
    assert_int_equal(total->type, MSGPACK_OBJECT_STR);
    assert_memory_equal(total->via.str.ptr, "9999999999.99", 13);
    const msgpack_object *created = &map->ptr[7].val;
    assert_int_equal(created->type, MSGPACK_OBJECT_STR);
    assert_memory_equal(created->via.str.ptr, "2026-11-28T04:07:59.123456Z", 27);
    msgpack_unpacked_destroy(&result);
    free(packed);
    free(json);
}

static void a_list_page_keeps_data_and_cursor(void **state)
{
    (void)state;
    char *order_json = rendered_order();
    size_t n = 2 * strlen(order_json) + 128;
    char *page = malloc(n);
    assert_non_null(page);
    snprintf(page, n, "{\"data\":[%s,%s],\"next_cursor\":\"AAAB2e3_abc\"}", order_json, order_json);
    round_trip(page);
    round_trip("{\"data\":[],\"next_cursor\":null}");
    free(page);
    free(order_json);
}

static void every_json_type_and_size_class(void **state)
{
    (void)state;
    round_trip("{}");
    round_trip("[]");
    round_trip("[null,true,false,0,-1,-32,-33,127,128,255,256,65535,65536,4294967295,"
               "4294967296,9223372036854775807,-9223372036854775808,1.5,-0.25]");
    round_trip("\"caf\\u00e9 \\u2603 \\ud83d\\ude00 \\\"quoted\\\" \\\\ \\n\"");
    round_trip("\"\\/\\b\\f\\r\\t \\u00E9\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80\"");
    round_trip(" { \"a\" : [ 1 , 2.5e3 , -0 , 1E-2 , { } ] , \"b\" : \"\" } \n");
    /* str 8 / str 16, array 16, map 16 */
    char big[70000];
    size_t n = 0;
    big[n++] = '[';
    for (int i = 0; i < 20; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, "%s%d", i ? "," : "", i);
    n += (size_t)snprintf(big + n, sizeof big - n, ",\"");
    for (int i = 0; i < 300; i++)
        big[n++] = 'x';
    n += (size_t)snprintf(big + n, sizeof big - n, "\",{");
    for (int i = 0; i < 20; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, "%s\"k%02d\":%d", i ? "," : "", i, -i);
    n += (size_t)snprintf(big + n, sizeof big - n, "},\"");
    for (int i = 0; i < 66000; i++)
        big[n++] = 'y';
    snprintf(big + n, sizeof big - n, "\"]");
    round_trip(big);
}

static void not_json_is_null(void **state)
{
    (void)state;
    size_t len = 99;
    assert_null(json_msgpack_from_text("{\"id\":", 6, &len));
    assert_null(json_msgpack_from_text("", 0, &len));
    assert_int_equal(len, 99);
}

/* What jansson refuses, the transcoder refuses too. */
static void malformed_json_is_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"id\":",
        "",
        " ",
        "{} x",
        "{}{}",
        "[1,]",
        "[,1]",
        "{\"a\" 1}",
        "{\"a\":1,}",
        "{1:2}",
        "tru",
        "nul",
        "01",
        "1.",
        ".5",
        "-",
        "1e",
        "+1",
        "\"\\x\"",
        "\"\\u12\"",
        "\"\\ud800\"",
        "\"\\udc00\"",
        "\"\\ud800\\u0041\"",
        "\"a\nb\"",
        "\"\xc3\"",
        "\"\xc0\xaf\"",
        "\"\xed\xa0\x80\"",
        "\"\xf4\x90\x80\x80\"",
        "\"unterminated",
        "[[[",
        "NaN",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        size_t len = 99;
        char *out = json_msgpack_from_text(bad[i], strlen(bad[i]), &len);
        if (out)
            fail_msg("accepted %s", bad[i]);
        assert_int_equal(len, 99);
        assert_null(json_loads(bad[i], JSON_DECODE_ANY, NULL)); /* the oracle agrees */
    }
}

static void nesting_is_bounded(void **state)
{
    (void)state;
    char deep[200];
    for (int depth = 31; depth <= 33; depth++) {
        memset(deep, '[', (size_t)depth);
        memset(deep + depth, ']', (size_t)depth);
        size_t len = 0;
        char *out = json_msgpack_from_text(deep, 2 * (size_t)depth, &len);
        if (depth <= 32) { /* as deep as msgpack-c's unpacker reads */
            assert_non_null(out);
            assert_int_equal(len, (size_t)depth);
            msgpack_unpacked result;
            msgpack_unpacked_init(&result);
            assert_int_equal(msgpack_unpack_next(&result, out, len, NULL), MSGPACK_UNPACK_SUCCESS);
            msgpack_unpacked_destroy(&result);
        } else {
            assert_null(out);
        }
        free(out);
    }
}

/* Past int64 a number is a float, as jansson's JSON_DECODE_INT_AS_REAL reads it. */
static void integers_beyond_int64_become_floats(void **state)
{
    (void)state;
    const char *json = "[9223372036854775808,-9223372036854775809]";
    size_t len = 0;
    char *packed = json_msgpack_from_text(json, strlen(json), &len);
    assert_non_null(packed);
    msgpack_unpacked result;
    msgpack_unpacked_init(&result);
    assert_int_equal(msgpack_unpack_next(&result, packed, len, NULL), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(result.data.via.array.ptr[0].type, MSGPACK_OBJECT_FLOAT64);
    assert_true(result.data.via.array.ptr[0].via.f64 == 9223372036854775808.0);
    assert_true(result.data.via.array.ptr[1].via.f64 == -9223372036854775809.0);
    msgpack_unpacked_destroy(&result);
    free(packed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_order_keeps_every_field),
        cmocka_unit_test(a_list_page_keeps_data_and_cursor),
        cmocka_unit_test(every_json_type_and_size_class),
        cmocka_unit_test(not_json_is_null),
        cmocka_unit_test(malformed_json_is_refused),
        cmocka_unit_test(nesting_is_bounded),
        cmocka_unit_test(integers_beyond_int64_become_floats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
