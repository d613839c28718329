/*
 * test_order.c - unit tests of the order domain (src/domain/order.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "orderd/domain/order.h"
#include "test_json_util.h"

#define UNUSED __attribute__((unused))

/* ---- helpers ----------------------------------------------------------- */

#define MSG_FORMAT   "must be a decimal amount such as \"12.50\""
#define MSG_NEGATIVE "must not be negative"
#define MSG_DECIMALS "must have at most two decimal places"
#define MSG_MAX      "must not exceed 9999999999.99"
#define MSG_TYPE     "must be a string or number"

/* Runs order_create_parse on JSON text; the request is cleared after. */
static bool create(const char *json_text, order_create_req *out, field_errors *errs)
{
    json_t *body = test_json_parse(json_text);
    bool ok = order_create_parse(body, out, errs);
    json_decref(body);
    return ok;
}

static void assert_create_ok(const char *json_text, int64_t customer_id, int64_t total,
                             const char *currency, const char *items_json)
{
    order_create_req req = {0};
    field_errors errs = {0};
    if (!create(json_text, &req, &errs))
        fail_msg("%s: %s %s", json_text, errs.list[0].field, errs.list[0].message);
    assert_int_equal(errs.count, 0);
    assert_int_equal(req.customer_id, customer_id);
    assert_int_equal(req.total_cents, total);
    assert_string_equal(req.currency, currency);
    assert_string_equal(req.items_json, items_json);
    order_create_req_clear(&req);
}

/* Expects exactly one field error. */
static void assert_create_error(const char *json_text, const char *field, const char *message)
{
    order_create_req req = {.customer_id = 99, .items_json = NULL};
    field_errors errs = {0};
    assert_false(create(json_text, &req, &errs));
    if (errs.count != 1)
        fail_msg("%s: %zu errors, first %s: %s", json_text, errs.count, errs.list[0].field,
                 errs.list[0].message);
    assert_string_equal(errs.list[0].field, field);
    assert_string_equal(errs.list[0].message, message);
    assert_int_equal(req.customer_id, 99);
    assert_null(req.items_json);
}

/* ---- status ------------------------------------------------------------ */

static void test_status_names(void **state UNUSED)
{
    assert_string_equal(order_status_name(ORDER_PENDING), "pending");
    assert_string_equal(order_status_name(ORDER_PAID), "paid");
    assert_string_equal(order_status_name(ORDER_SHIPPED), "shipped");
    assert_string_equal(order_status_name(ORDER_DELIVERED), "delivered");
    assert_string_equal(order_status_name(ORDER_CANCELLED), "cancelled");
    assert_null(order_status_name(ORDER_STATUS_COUNT));
    assert_null(order_status_name((order_status)-1));
}

static void test_status_parse_round_trips(void **state UNUSED)
{
    for (int i = 0; i < ORDER_STATUS_COUNT; i++) {
        order_status s = ORDER_STATUS_COUNT;
        assert_true(order_status_parse(order_status_name((order_status)i), &s));
        assert_int_equal(s, i);
    }
}

static void test_status_parse_rejects(void **state UNUSED)
{
    const char *bad[] = {"PAID", "Paid", "paid ", " paid", "", "canceled", "unknown"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        order_status s = ORDER_SHIPPED;
        assert_false(order_status_parse(bad[i], &s));
        assert_int_equal(s, ORDER_SHIPPED);
    }
    order_status s;
    assert_false(order_status_parse(NULL, &s));
}

static void test_status_transitions(void **state UNUSED)
{
    /* rows: from, columns: to (pending, paid, shipped, delivered, cancelled) */
    static const bool allowed[ORDER_STATUS_COUNT][ORDER_STATUS_COUNT] = {
        [ORDER_PENDING] = {false, true, false, false, true},
        [ORDER_PAID] = {false, false, true, false, true},
        [ORDER_SHIPPED] = {false, false, false, true, false},
        [ORDER_DELIVERED] = {false, false, false, false, false},
        [ORDER_CANCELLED] = {false, false, false, false, false},
    };
    for (int from = 0; from < ORDER_STATUS_COUNT; from++) {
        for (int to = 0; to < ORDER_STATUS_COUNT; to++) {
            if (order_status_can_transition((order_status)from, (order_status)to) !=
                allowed[from][to])
                fail_msg("transition %d -> %d", from, to);
        }
    }
    assert_false(order_status_can_transition(ORDER_STATUS_COUNT, ORDER_PAID));
    assert_false(order_status_can_transition(ORDER_PENDING, ORDER_STATUS_COUNT));
}

/* ---- order_create_parse: scalar fields --------------------------------- */

static void test_create_minimal(void **state UNUSED)
{
    assert_create_ok("{\"customer_id\":7,\"total\":\"12.50\"}", 7, 1250, "USD", "[]");
    assert_create_ok("{\"customer_id\":7,\"total\":12.5}", 7, 1250, "USD", "[]");
    assert_create_ok("{\"customer_id\":7,\"total\":0}", 7, 0, "USD", "[]");
    assert_create_ok("{\"total\":1,\"customer_id\":9223372036854775807}", INT64_MAX, 100, "USD",
                     "[]");
}

static void test_create_currency(void **state UNUSED)
{
    const char *good[] = {"AED", "CHF", "EUR", "GBP", "JPY", "USD", "XCG", "XOF", "ZWG"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char body[96];
        snprintf(body, sizeof body, "{\"customer_id\":1,\"total\":1,\"currency\":\"%s\"}", good[i]);
        assert_create_ok(body, 1, 100, good[i], "[]");
    }
}

/*
 * Every three-letter code is tried: the count catches a code lost from
 * the table or one bsearch cannot find because the table is unsorted.
 */
static void test_create_currency_table(void **state UNUSED)
{
    json_t *body = test_json_parse("{\"customer_id\":1,\"total\":1}");
    int accepted = 0;
    char code[4] = {0};
    for (code[0] = 'A'; code[0] <= 'Z'; code[0]++) {
        for (code[1] = 'A'; code[1] <= 'Z'; code[1]++) {
            for (code[2] = 'A'; code[2] <= 'Z'; code[2]++) {
                json_object_set_new(body, "currency", json_string(code));
                order_create_req req = {0};
                field_errors errs = {0};
                if (order_create_parse(body, &req, &errs)) {
                    assert_string_equal(req.currency, code);
                    accepted++;
                    order_create_req_clear(&req);
                }
            }
        }
    }
    json_decref(body);
    assert_int_equal(accepted, 155);
}

static void test_create_currency_rejected(void **state UNUSED)
{
    const char *msg = "must be an active ISO 4217 code such as \"USD\"";
    const char *bad[] = {"usd", "Usd", "XXX", "HRK", "US", "USDD", "", "U$D", "ZZZ", "AAA"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[96];
        snprintf(body, sizeof body, "{\"customer_id\":1,\"total\":1,\"currency\":\"%s\"}", bad[i]);
        assert_create_error(body, "currency", msg);
    }
    assert_create_error("{\"customer_id\":1,\"total\":1,\"currency\":\"US\\u0000\"}", "currency",
                        msg);
    assert_create_error("{\"customer_id\":1,\"total\":1,\"currency\":840}", "currency",
                        "must be a string");
    assert_create_error("{\"customer_id\":1,\"total\":1,\"currency\":null}", "currency",
                        "must be a string");
}

static void test_create_customer_id(void **state UNUSED)
{
    assert_create_error("{\"total\":1}", "customer_id", "is required");
    assert_create_error("{\"customer_id\":0,\"total\":1}", "customer_id",
                        "must be a positive integer");
    assert_create_error("{\"customer_id\":-5,\"total\":1}", "customer_id",
                        "must be a positive integer");
    assert_create_error("{\"customer_id\":5.0,\"total\":1}", "customer_id", "must be an integer");
    assert_create_error("{\"customer_id\":\"5\",\"total\":1}", "customer_id", "must be an integer");
    assert_create_error("{\"customer_id\":true,\"total\":1}", "customer_id", "must be an integer");
}

static void test_create_total(void **state UNUSED)
{
    assert_create_error("{\"customer_id\":1}", "total", "is required");
    assert_create_error("{\"customer_id\":1,\"items\":[]}", "total", "is required");
    assert_create_error("{\"customer_id\":1,\"total\":-1}", "total", MSG_NEGATIVE);
    assert_create_error("{\"customer_id\":1,\"total\":1.005}", "total", MSG_DECIMALS);
    assert_create_error("{\"customer_id\":1,\"total\":\"1e3\"}", "total", MSG_FORMAT);
    assert_create_error("{\"customer_id\":1,\"total\":null}", "total", MSG_TYPE);
    assert_create_error("{\"customer_id\":1,\"total\":10000000000}", "total", MSG_MAX);
}

static void test_create_unknown_field(void **state UNUSED)
{
    assert_create_error("{\"customer_id\":1,\"total\":1,\"note\":\"x\"}", "note", "unknown field");
    assert_create_error("{\"customer_id\":1,\"total\":1,\"Total\":1}", "Total", "unknown field");
}

static void test_create_not_an_object(void **state UNUSED)
{
    assert_create_error("[]", "body", "must be a JSON object");
    assert_create_error("42", "body", "must be a JSON object");
}

static void test_create_collects_all_errors(void **state UNUSED)
{
    order_create_req req = {0};
    field_errors errs = {0};
    assert_false(create(
        "{\"zz\":1,\"currency\":\"usd\",\"total\":\"x\",\"customer_id\":0,\"aa\":2}", &req, &errs));
    assert_int_equal(errs.count, 5);
    /* known fields in a fixed order, then unknown keys as written */
    assert_string_equal(errs.list[0].field, "customer_id");
    assert_string_equal(errs.list[1].field, "total");
    assert_string_equal(errs.list[2].field, "currency");
    assert_string_equal(errs.list[3].field, "zz");
    assert_string_equal(errs.list[4].field, "aa");
    assert_null(req.items_json);
}

static void test_create_errors_capped_known_first(void **state UNUSED)
{
    char body[1024] = "{\"customer_id\":-1";
    for (int i = 0; i < 30; i++) {
        size_t n = strlen(body);
        snprintf(body + n, sizeof body - n, ",\"k%d\":%d", i, i);
    }
    strcat(body, "}");
    order_create_req req = {0};
    field_errors errs = {0};
    assert_false(create(body, &req, &errs));
    assert_int_equal(errs.count, FIELD_ERRORS_MAX);
    assert_string_equal(errs.list[0].field, "customer_id");
    assert_string_equal(errs.list[1].field, "total");
    assert_string_equal(errs.list[1].message, "is required");
    assert_string_equal(errs.list[2].field, "k0");
}

static void test_create_resets_errs(void **state UNUSED)
{
    order_create_req req = {0};
    field_errors errs = {.count = 5};
    assert_true(create("{\"customer_id\":1,\"total\":1}", &req, &errs));
    assert_int_equal(errs.count, 0);
    order_create_req_clear(&req);
}

/* ---- order_create_parse: items ----------------------------------------- */

static void test_create_items_compute_total(void **state UNUSED)
{
    assert_create_ok("{\"customer_id\":3,\"currency\":\"EUR\",\"items\":["
                     "{\"sku\":\"A-1\",\"quantity\":2,\"unit_price\":1.5},"
                     "{\"unit_price\":\"0.10\",\"quantity\":3,\"sku\":\"b_2.x\"}]}",
                     3, 330, "EUR",
                     "[{\"sku\":\"A-1\",\"quantity\":2,\"unit_price\":\"1.50\"},"
                     "{\"sku\":\"b_2.x\",\"quantity\":3,\"unit_price\":\"0.10\"}]");
}

static void test_create_items_total_matches(void **state UNUSED)
{
    assert_create_ok("{\"customer_id\":3,\"total\":\"12.50\",\"items\":["
                     "{\"sku\":\"A\",\"quantity\":5,\"unit_price\":\"2.50\"}]}",
                     3, 1250, "USD", "[{\"sku\":\"A\",\"quantity\":5,\"unit_price\":\"2.50\"}]");
}

static void test_create_items_total_mismatch(void **state UNUSED)
{
    assert_create_error("{\"customer_id\":3,\"total\":12,\"items\":["
                        "{\"sku\":\"A\",\"quantity\":5,\"unit_price\":\"2.50\"}]}",
                        "total", "must equal the sum of the items (12.50)");
}

static void test_create_items_not_array(void **state UNUSED)
{
    assert_create_error("{\"customer_id\":1,\"total\":1,\"items\":{}}", "items",
                        "must be an array");
    assert_create_error("{\"customer_id\":1,\"items\":null}", "items", "must be an array");
}

static void test_create_item_not_object(void **state UNUSED)
{
    assert_create_error("{\"customer_id\":1,\"items\":[{\"sku\":\"A\",\"quantity\":1,"
                        "\"unit_price\":1},{\"sku\":\"B\",\"quantity\":1,\"unit_price\":1},7]}",
                        "items[2]", "must be an object");
}

static void test_create_item_missing_fields(void **state UNUSED)
{
    order_create_req req = {0};
    field_errors errs = {0};
    assert_false(create("{\"customer_id\":1,\"items\":[{}]}", &req, &errs));
    assert_int_equal(errs.count, 3);
    assert_string_equal(errs.list[0].field, "items[0].sku");
    assert_string_equal(errs.list[1].field, "items[0].quantity");
    assert_string_equal(errs.list[2].field, "items[0].unit_price");
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(errs.list[i].message, "is required");
}

static void assert_item_error(const char *item, const char *field, const char *message)
{
    char body[512];
    snprintf(body, sizeof body, "{\"customer_id\":1,\"items\":[%s]}", item);
    assert_create_error(body, field, message);
}

static void test_create_item_quantity(void **state UNUSED)
{
    const char *range = "must be between 1 and 1000000";
    assert_item_error("{\"sku\":\"A\",\"quantity\":0,\"unit_price\":1}", "items[0].quantity",
                      range);
    assert_item_error("{\"sku\":\"A\",\"quantity\":-2,\"unit_price\":1}", "items[0].quantity",
                      range);
    assert_item_error("{\"sku\":\"A\",\"quantity\":1000001,\"unit_price\":1}", "items[0].quantity",
                      range);
    assert_item_error("{\"sku\":\"A\",\"quantity\":1.0,\"unit_price\":1}", "items[0].quantity",
                      "must be an integer");
    assert_item_error("{\"sku\":\"A\",\"quantity\":\"2\",\"unit_price\":1}", "items[0].quantity",
                      "must be an integer");
    assert_create_ok("{\"customer_id\":1,\"items\":[{\"sku\":\"A\",\"quantity\":1000000,"
                     "\"unit_price\":\"0.01\"}]}",
                     1, 1000000, "USD",
                     "[{\"sku\":\"A\",\"quantity\":1000000,\"unit_price\":\"0.01\"}]");
}

static void test_create_item_sku(void **state UNUSED)
{
    const char *msg = "must be 1 to 64 characters of A-Z a-z 0-9 . _ -";
    assert_item_error("{\"sku\":\"\",\"quantity\":1,\"unit_price\":1}", "items[0].sku", msg);
    assert_item_error("{\"sku\":\"a b\",\"quantity\":1,\"unit_price\":1}", "items[0].sku", msg);
    assert_item_error("{\"sku\":\"a\\\"b\",\"quantity\":1,\"unit_price\":1}", "items[0].sku", msg);
    assert_item_error("{\"sku\":\"caf\\u00e9\",\"quantity\":1,\"unit_price\":1}", "items[0].sku",
                      msg);
    assert_item_error("{\"sku\":\"A\\u0000B\",\"quantity\":1,\"unit_price\":1}", "items[0].sku",
                      "must be a string");
    assert_item_error("{\"sku\":12,\"quantity\":1,\"unit_price\":1}", "items[0].sku",
                      "must be a string");

    char sku[ORDER_SKU_MAX + 2];
    char item[256];
    memset(sku, 'S', sizeof sku - 1);
    sku[sizeof sku - 1] = '\0';
    snprintf(item, sizeof item, "{\"sku\":\"%s\",\"quantity\":1,\"unit_price\":1}", sku);
    assert_item_error(item, "items[0].sku", msg);

    sku[ORDER_SKU_MAX] = '\0';
    char body[320], expected[256];
    snprintf(body, sizeof body,
             "{\"customer_id\":1,\"items\":[{\"sku\":\"%s\",\"quantity\":1,\"unit_price\":1}]}",
             sku);
    snprintf(expected, sizeof expected, "[{\"sku\":\"%s\",\"quantity\":1,\"unit_price\":\"1.00\"}]",
             sku);
    assert_create_ok(body, 1, 100, "USD", expected);
}

static void test_create_item_unit_price(void **state UNUSED)
{
    assert_item_error("{\"sku\":\"A\",\"quantity\":1,\"unit_price\":\"1.005\"}",
                      "items[0].unit_price", MSG_DECIMALS);
    assert_item_error("{\"sku\":\"A\",\"quantity\":1,\"unit_price\":-1}", "items[0].unit_price",
                      MSG_NEGATIVE);
    assert_item_error("{\"sku\":\"A\",\"quantity\":1,\"unit_price\":false}", "items[0].unit_price",
                      MSG_TYPE);
}

static void test_create_item_unknown_key(void **state UNUSED)
{
    assert_item_error("{\"sku\":\"A\",\"quantity\":1,\"unit_price\":1,\"color\":\"red\"}",
                      "items[0].color", "unknown field");
}

static void test_create_items_max(void **state UNUSED)
{
    char *body = malloc(16384);
    assert_non_null(body);
    for (int count = ORDER_MAX_ITEMS; count <= ORDER_MAX_ITEMS + 1; count++) {
        size_t n = (size_t)snprintf(body, 16384, "{\"customer_id\":1,\"items\":[");
        for (int i = 0; i < count; i++)
            n += (size_t)snprintf(body + n, 16384 - n,
                                  "%s{\"sku\":\"S%d\",\"quantity\":1,\"unit_price\":1}",
                                  i > 0 ? "," : "", i);
        snprintf(body + n, 16384 - n, "]}");

        order_create_req req = {0};
        field_errors errs = {0};
        bool ok = create(body, &req, &errs);
        if (count == ORDER_MAX_ITEMS) {
            assert_true(ok);
            assert_int_equal(req.total_cents, 100 * ORDER_MAX_ITEMS);
            order_create_req_clear(&req);
        } else {
            assert_false(ok);
            assert_int_equal(errs.count, 1);
            assert_string_equal(errs.list[0].field, "items");
            assert_string_equal(errs.list[0].message, "must have at most 100 items");
        }
    }
    free(body);
}

static void test_create_items_sum_too_large(void **state UNUSED)
{
    assert_create_error("{\"customer_id\":1,\"items\":[{\"sku\":\"A\",\"quantity\":1000000,"
                        "\"unit_price\":\"9999999999.99\"}]}",
                        "items", "the sum of the items must not exceed 9999999999.99");
    assert_create_error("{\"customer_id\":1,\"items\":["
                        "{\"sku\":\"A\",\"quantity\":1,\"unit_price\":\"9999999999.99\"},"
                        "{\"sku\":\"B\",\"quantity\":1,\"unit_price\":\"0.01\"}]}",
                        "items", "the sum of the items must not exceed 9999999999.99");
}

static void test_create_item_error_paths_indexed(void **state UNUSED)
{
    order_create_req req = {0};
    field_errors errs = {0};
    assert_false(create("{\"customer_id\":1,\"items\":["
                        "{\"sku\":\"A\",\"quantity\":1,\"unit_price\":1},"
                        "{\"sku\":\"B\",\"quantity\":0,\"unit_price\":1},"
                        "\"C\"]}",
                        &req, &errs));
    assert_int_equal(errs.count, 2);
    assert_string_equal(errs.list[0].field, "items[1].quantity");
    assert_string_equal(errs.list[1].field, "items[2]");
}

static void test_create_req_clear(void **state UNUSED)
{
    order_create_req req = {0};
    field_errors errs = {0};
    assert_true(create("{\"customer_id\":1,\"total\":1}", &req, &errs));
    order_create_req_clear(&req);
    assert_null(req.items_json);
    assert_int_equal(req.customer_id, 0);
    order_create_req_clear(&req);
    order_create_req_clear(NULL);
}

/* ---- fingerprint ------------------------------------------------------- */

static char *fingerprint_of(const char *json_text)
{
    order_create_req req = {0};
    field_errors errs = {0};
    if (!create(json_text, &req, &errs))
        fail_msg("%s: %s %s", json_text, errs.list[0].field, errs.list[0].message);
    char *fp = order_create_fingerprint(&req);
    assert_non_null(fp);
    order_create_req_clear(&req);
    return fp;
}

static void test_fingerprint_text(void **state UNUSED)
{
    char *fp = fingerprint_of("{\"customer_id\":7,\"total\":\"12.50\"}");
    assert_string_equal(fp, "7|1250|USD|[]");
    free(fp);
    fp = fingerprint_of(
        "{\"customer_id\":7,\"currency\":\"EUR\",\"items\":[{\"sku\":\"A\",\"quantity\":2,"
        "\"unit_price\":1}]}");
    assert_string_equal(fp, "7|200|EUR|[{\"sku\":\"A\",\"quantity\":2,\"unit_price\":\"1.00\"}]");
    free(fp);
}

static void test_fingerprint_same_meaning(void **state UNUSED)
{
    char *a = fingerprint_of("{\"customer_id\":7,\"total\":12.5,\"currency\":\"USD\","
                             "\"items\":[{\"sku\":\"A\",\"quantity\":5,\"unit_price\":2.5}]}");
    char *b = fingerprint_of("{\"items\":[{\"unit_price\":\"2.50\",\"sku\":\"A\",\"quantity\":5}],"
                             "\"customer_id\":7}");
    assert_string_equal(a, b);
    char *c = fingerprint_of("{\"customer_id\":7,\"total\":\"12.51\"}");
    assert_string_not_equal(a, c);
    free(a);
    free(b);
    free(c);
}

/* ---- order_patch_parse ------------------------------------------------- */

static bool patch(const char *json_text, order_status *status, field_errors *errs)
{
    json_t *body = test_json_parse(json_text);
    bool ok = order_patch_parse(body, status, errs);
    json_decref(body);
    return ok;
}

static void assert_patch_error(const char *json_text, const char *field, const char *message)
{
    order_status s = ORDER_DELIVERED;
    field_errors errs = {0};
    assert_false(patch(json_text, &s, &errs));
    assert_int_equal(errs.count, 1);
    assert_string_equal(errs.list[0].field, field);
    assert_string_equal(errs.list[0].message, message);
    assert_int_equal(s, ORDER_DELIVERED);
}

static void test_patch_valid(void **state UNUSED)
{
    order_status s = ORDER_PENDING;
    field_errors errs = {.count = 3};
    assert_true(patch("{\"status\":\"cancelled\"}", &s, &errs));
    assert_int_equal(s, ORDER_CANCELLED);
    assert_int_equal(errs.count, 0);
    assert_true(patch("{\"status\":\"paid\"}", &s, &errs));
    assert_int_equal(s, ORDER_PAID);
}

static void test_patch_errors(void **state UNUSED)
{
    const char *names = "must be one of pending, paid, shipped, delivered, cancelled";
    assert_patch_error("{}", "status", "is required");
    assert_patch_error("{\"status\":1}", "status", "must be a string");
    assert_patch_error("{\"status\":null}", "status", "must be a string");
    assert_patch_error("{\"status\":\"PAID\"}", "status", names);
    assert_patch_error("{\"status\":\"paid\\u0000x\"}", "status", names);
    assert_patch_error("{\"status\":\"paid\",\"version\":2}", "version", "unknown field");
    assert_patch_error("[\"paid\"]", "body", "must be a JSON object");
}

static void test_patch_collects_all_errors(void **state UNUSED)
{
    order_status s;
    field_errors errs = {0};
    assert_false(patch("{\"state\":\"paid\",\"x\":1}", &s, &errs));
    assert_int_equal(errs.count, 3);
    assert_string_equal(errs.list[0].field, "status");
    assert_string_equal(errs.list[1].field, "state");
    assert_string_equal(errs.list[2].field, "x");
}

/* ---- order_to_json ----------------------------------------------------- */

static void test_order_to_json(void **state UNUSED)
{
    order o = {
        .id = 1,
        .customer_id = 7,
        .status = ORDER_PENDING,
        .currency = "USD",
        .total_cents = 1250,
        .items_json = strdup("[{\"sku\":\"A-1\",\"quantity\":5,\"unit_price\":\"2.50\"}]"),
        .version = 1,
        .created_at_us = INT64_C(1795838879123456),
        .updated_at_us = INT64_C(1795842000000001),
    };
    size_t len = 0;
    char *json = order_to_json(&o, &len);
    assert_non_null(json);
    assert_string_equal(json,
                        "{\"id\":1,\"customer_id\":7,\"status\":\"pending\",\"currency\":"
                        "\"USD\",\"total\":\"12.50\",\"items\":[{\"sku\":\"A-1\",\"quantity\":"
                        "5,\"unit_price\":\"2.50\"}],\"version\":1,\"created_at\":\"2026-11-"
                        "28T04:07:59.123456Z\",\"updated_at\":\"2026-11-28T05:00:00.000001Z\"}");
    assert_int_equal(len, strlen(json));

    json_error_t err;
    json_t *parsed = json_loads(json, 0, &err);
    assert_non_null(parsed);
    assert_int_equal(json_array_size(json_object_get(parsed, "items")), 1);
    json_decref(parsed);
    int64_t customer = 0;
    assert_true(order_json_customer_id(json, len, &customer));
    assert_int_equal(customer, 7);
    free(json);
    order_clear(&o);
}

/* The permission check on a cached body reads customer_id from the prefix. */
static void test_order_json_customer_id(void **state UNUSED)
{
    int64_t c = 0;
    const char *ok = "{\"id\":9223372036854775807,\"customer_id\":9223372036854775807,\"x\":1}";
    assert_true(order_json_customer_id(ok, strlen(ok), &c));
    assert_int_equal(c, INT64_MAX);
    const char *bad[] = {"",
                         "{\"id\":1}",
                         "{\"id\":1,\"customer\":2,",
                         "{\"id\":1,\"customer_id\":",
                         "{\"id\":1,\"customer_id\":-2,",
                         "{\"id\":1,\"customer_id\":0,",
                         "{\"id\":1,\"customer_id\":9999999999999999999,",
                         "{\"customer_id\":2,\"id\":1}",
                         "{\"id\":1,\"customer_id\":12345678901234567890,"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c = -1;
        assert_false(order_json_customer_id(bad[i], strlen(bad[i]), &c));
        assert_int_equal(c, -1);
    }
    /* the length bounds the read, not a NUL */
    assert_false(order_json_customer_id(ok, 20, &c));
}

static void test_order_to_json_extremes(void **state UNUSED)
{
    order o = {
        .id = INT64_MAX,
        .customer_id = INT64_MAX,
        .status = ORDER_CANCELLED,
        .currency = "EUR",
        .total_cents = ORDER_MONEY_MAX_CENTS,
        .items_json = NULL,
        .version = INT64_MAX,
        .created_at_us = 0,
        .updated_at_us = 0,
    };
    size_t len = 0;
    char *json = order_to_json(&o, &len);
    assert_non_null(json);
    assert_string_equal(json, "{\"id\":9223372036854775807,\"customer_id\":9223372036854775807,"
                              "\"status\":\"cancelled\",\"currency\":\"EUR\",\"total\":"
                              "\"9999999999.99\",\"items\":[],\"version\":9223372036854775807,"
                              "\"created_at\":\"1970-01-01T00:00:00.000000Z\",\"updated_at\":"
                              "\"1970-01-01T00:00:00.000000Z\"}");
    assert_int_equal(len, strlen(json));
    free(json);
}

static void test_order_clear(void **state UNUSED)
{
    order o = {.id = 5, .items_json = strdup("[]"), .version = 2};
    order_clear(&o);
    assert_null(o.items_json);
    assert_int_equal(o.id, 0);
    assert_int_equal(o.version, 0);
    order_clear(&o);
    order_clear(NULL);
}

/* ---- cursors ----------------------------------------------------------- */

static void assert_cursor_round_trip(int64_t created_at_us, int64_t id)
{
    char text[64];
    size_t n = order_cursor_encode(created_at_us, id, text);
    assert_int_equal(n, strlen(text));
    assert_true(n > 0 && n < 64);
    assert_int_equal(
        strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), n);
    int64_t c = 0, i = 0;
    assert_true(order_cursor_decode(text, &c, &i));
    assert_int_equal(c, created_at_us);
    assert_int_equal(i, id);
}

static void test_cursor_round_trip(void **state UNUSED)
{
    assert_cursor_round_trip(INT64_C(1795838879123456), 1);
    assert_cursor_round_trip(0, 42);
    assert_cursor_round_trip(-1, INT64_MAX);
    assert_cursor_round_trip(INT64_MAX, INT64_MAX);
    assert_cursor_round_trip(INT64_MIN, 7);
}

static void test_cursor_distinct(void **state UNUSED)
{
    char a[64], b[64];
    order_cursor_encode(1000, 1, a);
    order_cursor_encode(1000, 2, b);
    assert_string_not_equal(a, b);
    order_cursor_encode(1001, 1, b);
    assert_string_not_equal(a, b);
}

static void test_cursor_rejects_malformed(void **state UNUSED)
{
    char text[64], bad[80];
    int64_t c = 11, i = 22;
    size_t n = order_cursor_encode(INT64_C(1795838879123456), 99, text);

    assert_false(order_cursor_decode(NULL, &c, &i));
    assert_false(order_cursor_decode("", &c, &i));
    assert_false(order_cursor_decode("1795838879123456.99", &c, &i));
    assert_false(order_cursor_decode("AAAAAAAAAAAAAAAAAAAAAAAAAAAA", &c, &i));

    snprintf(bad, sizeof bad, "%sA", text); /* trailing junk */
    assert_false(order_cursor_decode(bad, &c, &i));
    snprintf(bad, sizeof bad, "%s=", text); /* padding */
    assert_false(order_cursor_decode(bad, &c, &i));
    snprintf(bad, sizeof bad, "%.*s", (int)n - 1, text); /* truncated */
    assert_false(order_cursor_decode(bad, &c, &i));
    snprintf(bad, sizeof bad, " %s", text);
    assert_false(order_cursor_decode(bad, &c, &i));

    /* every single-character change is caught */
    for (size_t pos = 0; pos < n; pos++) {
        strcpy(bad, text);
        bad[pos] = bad[pos] == 'B' ? 'C' : 'B';
        assert_false(order_cursor_decode(bad, &c, &i));
        bad[pos] = '+';
        assert_false(order_cursor_decode(bad, &c, &i));
        bad[pos] = '/';
        assert_false(order_cursor_decode(bad, &c, &i));
    }
    assert_int_equal(c, 11);
    assert_int_equal(i, 22);
}

static void test_cursor_rejects_bad_id(void **state UNUSED)
{
    char text[64];
    int64_t c = 11, i = 22;
    order_cursor_encode(1000, 0, text);
    assert_false(order_cursor_decode(text, &c, &i));
    order_cursor_encode(1000, -5, text);
    assert_false(order_cursor_decode(text, &c, &i));
    assert_int_equal(c, 11);
    assert_int_equal(i, 22);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_status_parse_round_trips),
        cmocka_unit_test(test_status_parse_rejects),
        cmocka_unit_test(test_status_transitions),
        cmocka_unit_test(test_create_minimal),
        cmocka_unit_test(test_create_currency),
        cmocka_unit_test(test_create_currency_table),
        cmocka_unit_test(test_create_currency_rejected),
        cmocka_unit_test(test_create_customer_id),
        cmocka_unit_test(test_create_total),
        cmocka_unit_test(test_create_unknown_field),
        cmocka_unit_test(test_create_not_an_object),
        cmocka_unit_test(test_create_collects_all_errors),
        cmocka_unit_test(test_create_errors_capped_known_first),
        cmocka_unit_test(test_create_resets_errs),
        cmocka_unit_test(test_create_items_compute_total),
        cmocka_unit_test(test_create_items_total_matches),
        cmocka_unit_test(test_create_items_total_mismatch),
        cmocka_unit_test(test_create_items_not_array),
        cmocka_unit_test(test_create_item_not_object),
        cmocka_unit_test(test_create_item_missing_fields),
        cmocka_unit_test(test_create_item_quantity),
        cmocka_unit_test(test_create_item_sku),
        cmocka_unit_test(test_create_item_unit_price),
        cmocka_unit_test(test_create_item_unknown_key),
        cmocka_unit_test(test_create_items_max),
        cmocka_unit_test(test_create_items_sum_too_large),
        cmocka_unit_test(test_create_item_error_paths_indexed),
        cmocka_unit_test(test_create_req_clear),
        cmocka_unit_test(test_fingerprint_text),
        cmocka_unit_test(test_fingerprint_same_meaning),
        cmocka_unit_test(test_patch_valid),
        cmocka_unit_test(test_patch_errors),
        cmocka_unit_test(test_patch_collects_all_errors),
        cmocka_unit_test(test_order_to_json),
        cmocka_unit_test(test_order_json_customer_id),
        cmocka_unit_test(test_order_to_json_extremes),
        cmocka_unit_test(test_order_clear),
        cmocka_unit_test(test_cursor_round_trip),
        cmocka_unit_test(test_cursor_distinct),
        cmocka_unit_test(test_cursor_rejects_malformed),
        cmocka_unit_test(test_cursor_rejects_bad_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
