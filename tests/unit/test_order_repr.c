/*
 * test_order_repr.c - the order representations' negotiation and
 * entity tags (api/order_repr.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "orderd/api/order_repr.h"

static void choice_follows_accept(void **state)
{
    (void)state;
    request req = {0};
    assert_int_equal(order_repr_choose(&req), ORDER_REPR_JSON);
    req.accept = "application/msgpack";
    assert_int_equal(order_repr_choose(&req), ORDER_REPR_MSGPACK);
    req.accept = "application/msgpack;q=0.5, application/json";
    assert_int_equal(order_repr_choose(&req), ORDER_REPR_JSON);
    req.accept = "text/html";
    assert_int_equal(order_repr_choose(&req), ORDER_REPR_NONE);
    assert_string_equal(order_repr_media_type(ORDER_REPR_JSON), "application/json");
    assert_string_equal(order_repr_media_type(ORDER_REPR_MSGPACK), "application/msgpack");
}

static void neither_is_a_406_problem_with_vary(void **state)
{
    (void)state;
    request req = {.path = "/orders/1", .accept = "text/html, application/json;q=0"};
    strcpy(req.request_id, "t");
    assert_int_equal(order_repr_negotiate(&req), ORDER_REPR_NONE);
    assert_int_equal(req.reply.status, 406);
    assert_string_equal(req.reply.content_type, "application/problem+json");
    assert_string_equal(req.reply.vary, "Accept");
    assert_non_null(strstr(req.reply.body, "\"/problems/not-acceptable\""));
    free(req.reply.body);

    request ok = {.accept = "*/*"};
    assert_int_equal(order_repr_negotiate(&ok), ORDER_REPR_JSON);
    assert_int_equal(ok.reply.status, 0); /* nothing answered yet */
}

static void each_representation_has_its_own_tag(void **state)
{
    (void)state;
    request req = {0};
    order_repr_set_etag(&req, 42, ORDER_REPR_JSON);
    assert_string_equal(req.reply.etag, "\"42\"");
    order_repr_set_etag(&req, 42, ORDER_REPR_MSGPACK);
    assert_string_equal(req.reply.etag, "\"42.m\"");
    order_repr_set_etag(&req, INT64_MAX, ORDER_REPR_MSGPACK);
    assert_string_equal(req.reply.etag, "\"9223372036854775807.m\"");
}

static void tags_parse_back(void **state)
{
    (void)state;
    int64_t v = 0;
    order_repr r = ORDER_REPR_NONE;
    assert_true(order_repr_parse_etag("\"7\"", &v, &r));
    assert_int_equal(v, 7);
    assert_int_equal(r, ORDER_REPR_JSON);
    assert_true(order_repr_parse_etag(" W/\"7.m\" ", &v, &r));
    assert_int_equal(r, ORDER_REPR_MSGPACK);
    assert_false(order_repr_parse_etag("\".m\"", &v, &r));
    assert_false(order_repr_parse_etag("\"7.x\"", &v, &r));
    assert_false(order_repr_parse_etag("\"7.m.m\"", &v, &r));
    assert_false(order_repr_parse_etag("\"0\"", &v, &r));
    assert_false(order_repr_parse_etag("7", &v, &r));
    assert_false(order_repr_parse_etag("\"99999999999999999999999\"", &v, &r));
}

static void if_none_match_per_representation(void **state)
{
    (void)state;
    assert_true(order_repr_if_none_match_hits("\"3\"", 3, ORDER_REPR_JSON));
    assert_false(order_repr_if_none_match_hits("\"3\"", 3, ORDER_REPR_MSGPACK));
    assert_true(order_repr_if_none_match_hits("\"3.m\"", 3, ORDER_REPR_MSGPACK));
    assert_false(order_repr_if_none_match_hits("\"3.m\"", 3, ORDER_REPR_JSON));
    assert_false(order_repr_if_none_match_hits("\"2.m\"", 3, ORDER_REPR_MSGPACK));
    assert_true(order_repr_if_none_match_hits("\"1\", W/\"3.m\"", 3, ORDER_REPR_MSGPACK));
    assert_true(order_repr_if_none_match_hits("\"3\", \"3.m\"", 3, ORDER_REPR_JSON));
    assert_true(order_repr_if_none_match_hits("*", 3, ORDER_REPR_MSGPACK));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(choice_follows_accept),
        cmocka_unit_test(neither_is_a_406_problem_with_vary),
        cmocka_unit_test(each_representation_has_its_own_tag),
        cmocka_unit_test(tags_parse_back),
        cmocka_unit_test(if_none_match_per_representation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
