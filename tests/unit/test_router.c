/*
 * test_router.c - matching against the real route table (api/routes.c),
 * and what router_create refuses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "orderd/api/health.h"
#include "orderd/api/metrics.h"
#include "orderd/api/orders_api.h"
#include "orderd/api/routes.h"
#include "orderd/http/router.h"

static int setup(void **state)
{
    const char *why = NULL;
    router *r = router_create(api_routes, api_route_count, &why);
    if (!r)
        fail_msg("the route table is refused: %s", why);
    *state = r;
    return 0;
}

static int teardown(void **state)
{
    router_destroy(*state);
    return 0;
}

static void orders_collection_routes(void **state)
{
    const router *rt = *state;
    route_match m;
    assert_int_equal(router_match(rt, HTTP_GET, "/orders", &m), ROUTE_MATCHED);
    assert_true(m.route->handler == orders_api_list);
    /* the list reader answers pages Redis holds; the rest go to a worker */
    assert_int_equal(m.route->mode, ROUTE_SELF_SCHEDULED);
    assert_string_equal(m.pattern, "/orders");
    assert_int_equal(router_match(rt, HTTP_POST, "/orders", &m), ROUTE_MATCHED);
    assert_true(m.route->handler == orders_api_create);
    assert_int_equal(m.route->mode, ROUTE_SELF_SCHEDULED);
    assert_int_equal(router_match(rt, HTTP_HEAD, "/orders", &m), ROUTE_MATCHED);
    assert_true(m.route->handler == orders_api_list); /* HEAD where GET is */
    assert_int_equal(router_match(rt, HTTP_DELETE, "/orders", &m), ROUTE_METHOD_NOT_ALLOWED);
    assert_null(m.route);
    assert_string_equal(m.pattern, "/orders");
    assert_string_equal(m.allow, "GET, HEAD, POST");
}

static void order_item_routes_and_ids(void **state)
{
    const router *rt = *state;
    route_match m;
    assert_int_equal(router_match(rt, HTTP_GET, "/orders/42", &m), ROUTE_MATCHED);
    assert_true(m.route->handler == orders_api_get);
    assert_int_equal(m.route->mode, ROUTE_SELF_SCHEDULED);
    assert_int_equal(m.id, 42);
    assert_int_equal(router_match(rt, HTTP_HEAD, "/orders/43", &m), ROUTE_MATCHED);
    assert_true(m.route->handler == orders_api_get);
    assert_int_equal(m.id, 43);
    assert_int_equal(router_match(rt, HTTP_PATCH, "/orders/9223372036854775807", &m),
                     ROUTE_MATCHED);
    assert_true(m.route->handler == orders_api_patch);
    assert_true(m.id == INT64_MAX);
    assert_int_equal(router_match(rt, HTTP_DELETE, "/orders/7", &m), ROUTE_MATCHED);
    assert_true(m.route->handler == orders_api_delete);
    assert_int_equal(router_match(rt, HTTP_POST, "/orders/1", &m), ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(m.allow, "GET, HEAD, PATCH, DELETE");
    assert_string_equal(m.pattern, "/orders/:id");
    /* the method is checked before the id */
    assert_int_equal(router_match(rt, HTTP_PUT, "/orders/abc", &m), ROUTE_METHOD_NOT_ALLOWED);
}

static void bad_ids_are_400_not_404(void **state)
{
    const router *rt = *state;
    const char *bad[] = {"/orders/0",
                         "/orders/-1",
                         "/orders/abc",
                         "/orders/",
                         "/orders/9223372036854775808",
                         "/orders/1.5",
                         "/orders/+1",
                         "/orders/007",
                         "/orders/12345678901234567890"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        route_match m;
        assert_int_equal(router_match(rt, HTTP_GET, bad[i], &m), ROUTE_BAD_ID);
        assert_string_equal(m.pattern, "/orders/:id");
        assert_string_equal(m.route->bad_id_detail,
                            "the order id must be a positive 64-bit integer");
        assert_int_equal(m.id, 0);
    }
}

static void unknown_paths_are_404(void **state)
{
    const router *rt = *state;
    const char *unknown[] = {"/",       "/order", "/orders/1/items", "/ordersx", "/healthz/",
                             "/ORDERS", "",       "/metrics/x"};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        route_match m;
        assert_int_equal(router_match(rt, HTTP_GET, unknown[i], &m), ROUTE_NOT_FOUND);
        assert_null(m.route);
        assert_string_equal(m.pattern, "");
        assert_string_equal(m.allow, "");
    }
}

static void health_routes(void **state)
{
    const router *rt = *state;
    route_match m;
    assert_int_equal(router_match(rt, HTTP_GET, "/healthz", &m), ROUTE_MATCHED);
    assert_true(m.route->handler == health_live);
    assert_int_equal(m.route->mode, ROUTE_INLINE);
    assert_int_equal(router_match(rt, HTTP_GET, "/readyz", &m), ROUTE_MATCHED);
    assert_true(m.route->handler == health_ready);
    assert_int_equal(m.route->mode, ROUTE_ON_WORKER);
    assert_int_equal(router_match(rt, HTTP_HEAD, "/metrics", &m), ROUTE_MATCHED);
    assert_true(m.route->handler == metrics_api_get);
    assert_int_equal(m.route->mode, ROUTE_INLINE);
    assert_int_equal(router_match(rt, HTTP_POST, "/readyz", &m), ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(m.allow, "GET, HEAD");
    assert_int_equal(router_match(rt, HTTP_OTHER, "/healthz", &m), ROUTE_METHOD_NOT_ALLOWED);
}

/* ---- tables of our own ------------------------------------------------- */

static void handler_a(void *ctx, request *req)
{
    (void)ctx;
    (void)req;
}

static void handler_b(void *ctx, request *req)
{
    (void)ctx;
    (void)req;
}

static void an_explicit_head_row_wins_over_get(void **state)
{
    (void)state;
    const route table[] = {
        {HTTP_GET, "/things/:id/parts", handler_a, ROUTE_INLINE, "bad thing", false},
        {HTTP_HEAD, "/things/:id/parts", handler_b, ROUTE_INLINE, "bad thing", false},
        {HTTP_PUT, "/things", handler_a, ROUTE_ON_WORKER, NULL, false},
    };
    const char *why = NULL;
    router *rt = router_create(table, 3, &why);
    assert_non_null(rt);
    route_match m;
    assert_int_equal(router_match(rt, HTTP_HEAD, "/things/5/parts", &m), ROUTE_MATCHED);
    assert_true(m.route->handler == handler_b);
    assert_int_equal(m.id, 5);
    assert_int_equal(router_match(rt, HTTP_GET, "/things/x/parts", &m), ROUTE_BAD_ID);
    assert_string_equal(m.route->bad_id_detail, "bad thing");
    assert_int_equal(router_match(rt, HTTP_GET, "/things/5", &m), ROUTE_NOT_FOUND);
    assert_int_equal(router_match(rt, HTTP_GET, "/things", &m), ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(m.allow, "PUT"); /* no GET row: no HEAD either */
    router_destroy(rt);
    router_destroy(NULL);
}

static void malformed_tables_are_refused(void **state)
{
    (void)state;
    const route bad[][2] = {
        {{HTTP_GET, "orders", handler_a, ROUTE_INLINE, NULL, false}},
        {{HTTP_GET, "/a/:id/:id", handler_a, ROUTE_INLINE, "x", false}},
        {{HTTP_GET, "/a:id", handler_a, ROUTE_INLINE, "x", false}},
        {{HTTP_GET, "/a/:idx", handler_a, ROUTE_INLINE, "x", false}},
        {{HTTP_GET, "/a/:name", handler_a, ROUTE_INLINE, "x", false}},
        {{HTTP_GET, "/a/:id", handler_a, ROUTE_INLINE, NULL, false}},
        {{HTTP_GET, "/a", NULL, ROUTE_INLINE, NULL, false}},
        {{HTTP_OTHER, "/a", handler_a, ROUTE_INLINE, NULL, false}},
        {{HTTP_GET, NULL, handler_a, ROUTE_INLINE, NULL, false}},
        {{HTTP_GET, "/a", handler_a, ROUTE_INLINE, NULL, false},
         {HTTP_GET, "/a", handler_b, ROUTE_ON_WORKER, NULL, false}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t rows = bad[i][1].handler ? 2 : 1;
        const char *why = NULL;
        router *rt = router_create(bad[i], rows, &why);
        if (rt)
            fail_msg("table %zu was accepted", i);
        assert_non_null(why);
    }
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
        cmocka_unit_test_setup_teardown(orders_collection_routes, setup, teardown),
        cmocka_unit_test_setup_teardown(order_item_routes_and_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_ids_are_400_not_404, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_paths_are_404, setup, teardown),
        cmocka_unit_test_setup_teardown(health_routes, setup, teardown),
        cmocka_unit_test(an_explicit_head_row_wins_over_get),
        cmocka_unit_test(malformed_tables_are_refused),
        cmocka_unit_test(method_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
