#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "orderd/http/router.h"

static void orders_collection_routes(void **state)
{
    (void)state;
    route_id r;
    int64_t id = -1;
    assert_int_equal(router_match(HTTP_GET, "/orders", &r, &id), ROUTE_MATCHED);
    assert_int_equal(r, ROUTE_ORDERS);
    assert_int_equal(router_match(HTTP_POST, "/orders", &r, &id), ROUTE_MATCHED);
    assert_int_equal(router_match(HTTP_HEAD, "/orders", &r, &id), ROUTE_MATCHED);
    assert_int_equal(router_match(HTTP_DELETE, "/orders", &r, &id), ROUTE_METHOD_NOT_ALLOWED);
    assert_int_equal(r, ROUTE_ORDERS);
    assert_string_equal(route_allow(r), "GET, HEAD, POST");
}

static void order_item_routes_and_ids(void **state)
{
    (void)state;
    route_id r;
    int64_t id = 0;
    assert_int_equal(router_match(HTTP_GET, "/orders/42", &r, &id), ROUTE_MATCHED);
    assert_int_equal(r, ROUTE_ORDER);
    assert_int_equal(id, 42);
    assert_int_equal(router_match(HTTP_PATCH, "/orders/9223372036854775807", &r, &id),
                     ROUTE_MATCHED);
    assert_true(id == INT64_MAX);
    assert_int_equal(router_match(HTTP_POST, "/orders/1", &r, &id), ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(route_allow(r), "GET, HEAD, PATCH, DELETE");
    assert_string_equal(route_pattern(r), "/orders/:id");
}

static void bad_ids_are_400_not_404(void **state)
{
    (void)state;
    const char *bad[] = {
        "/orders/0",   "/orders/-1", "/orders/abc", "/orders/", "/orders/9223372036854775808",
        "/orders/1.5", "/orders/+1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        route_id r;
        int64_t id;
        assert_int_equal(router_match(HTTP_GET, bad[i], &r, &id), ROUTE_BAD_ID);
        assert_int_equal(r, ROUTE_ORDER);
    }
}

static void unknown_paths_are_404(void **state)
{
    (void)state;
    const char *unknown[] = {"/", "/order", "/orders/1/items", "/ordersx", "/healthz/", "/ORDERS"};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        route_id r;
        int64_t id;
        assert_int_equal(router_match(HTTP_GET, unknown[i], &r, &id), ROUTE_NOT_FOUND);
        assert_int_equal(r, ROUTE_NONE);
        assert_string_equal(route_pattern(r), "");
    }
}

static void health_routes(void **state)
{
    (void)state;
    route_id r;
    int64_t id;
    assert_int_equal(router_match(HTTP_GET, "/healthz", &r, &id), ROUTE_MATCHED);
    assert_int_equal(r, ROUTE_HEALTHZ);
    assert_int_equal(router_match(HTTP_GET, "/readyz", &r, &id), ROUTE_MATCHED);
    assert_int_equal(r, ROUTE_READYZ);
    assert_int_equal(router_match(HTTP_POST, "/readyz", &r, &id), ROUTE_METHOD_NOT_ALLOWED);
}

static void method_names(void **state)
{
    (void)state;
    assert_int_equal(http_method_parse("GET"), HTTP_GET);
    assert_int_equal(http_method_parse("PATCH"), HTTP_PATCH);
    assert_int_equal(http_method_parse("DELETE"), HTTP_DELETE);
    assert_int_equal(http_method_parse("get"), HTTP_OTHER);
    assert_int_equal(http_method_parse("BREW"), HTTP_OTHER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(orders_collection_routes),
        cmocka_unit_test(order_item_routes_and_ids),
        cmocka_unit_test(bad_ids_are_400_not_404),
        cmocka_unit_test(unknown_paths_are_404),
        cmocka_unit_test(health_routes),
        cmocka_unit_test(method_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
