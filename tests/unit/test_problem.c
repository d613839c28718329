#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "orderd/http/problem.h"

static json_t *render_at(const char *instance, int status, const char *detail,
                         const field_errors *errs, const json_t *extra)
{
    size_t len = 0;
    char *text = problem_render(status, detail, instance, "rid-1", errs, extra, &len);
    assert_non_null(text);
    assert_int_equal(len, strlen(text));
    json_t *doc = json_loads(text, 0, NULL);
    free(text);
    assert_non_null(doc);
    return doc;
}

static json_t *render(int status, const char *detail, const field_errors *errs, const json_t *extra)
{
    return render_at("/orders/7", status, detail, errs, extra);
}

static void standard_members(void **state)
{
    (void)state;
    json_t *doc = render(404, "order 7 does not exist", NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(doc, "type")), "/problems/not-found");
    assert_string_equal(json_string_value(json_object_get(doc, "title")), "Not Found");
    assert_int_equal(json_integer_value(json_object_get(doc, "status")), 404);
    assert_string_equal(json_string_value(json_object_get(doc, "detail")),
                        "order 7 does not exist");
    assert_string_equal(json_string_value(json_object_get(doc, "request_id")), "rid-1");
    assert_string_equal(json_string_value(json_object_get(doc, "instance")), "/orders/7");
    assert_null(json_object_get(doc, "errors"));
    json_decref(doc);
}

static void instance_is_the_path_percent_encoded(void **state)
{
    (void)state;
    /* libmicrohttpd hands over the decoded path: "%", spaces, quotes and
     * non-ASCII bytes are encoded again, path characters are kept */
    json_t *doc =
        render_at("/a b/%/\"x\"/\xc3\xa9/~:@!$&'()*+,;=", 404, "no such resource", NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(doc, "instance")),
                        "/a%20b/%25/%22x%22/%C3%A9/~:@!$&'()*+,;=");
    json_decref(doc);
    /* bytes that are not UTF-8 still make a valid JSON string */
    doc = render_at("/\xff\x01", 404, "no such resource", NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(doc, "instance")), "/%FF%01");
    json_decref(doc);
}

static void no_instance_without_a_path(void **state)
{
    (void)state;
    json_t *doc = render_at(NULL, 500, "internal error", NULL, NULL);
    assert_null(json_object_get(doc, "instance"));
    json_decref(doc);
}

static void field_errors_listed_in_order(void **state)
{
    (void)state;
    field_errors errs = {0};
    field_errors_add(&errs, "customer_id", "must be an integer");
    field_errors_add(&errs, "items[1].sku", "must be %d characters or fewer", 64);
    json_t *doc = render(422, "the order is not valid", &errs, NULL);
    json_t *list = json_object_get(doc, "errors");
    assert_int_equal(json_array_size(list), 2);
    json_t *second = json_array_get(list, 1);
    assert_string_equal(json_string_value(json_object_get(second, "field")), "items[1].sku");
    assert_string_equal(json_string_value(json_object_get(second, "message")),
                        "must be 64 characters or fewer");
    assert_string_equal(json_string_value(json_object_get(doc, "title")), "Unprocessable Content");
    json_decref(doc);
}

static void detail_is_escaped(void **state)
{
    (void)state;
    json_t *doc = render(400, "bad \"quote\" and \\ and \n", NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(doc, "detail")),
                        "bad \"quote\" and \\ and \n");
    json_decref(doc);
}

static void extensions_never_override_standard_members(void **state)
{
    (void)state;
    json_t *extra = json_pack("{s:s, s:i}", "postgres", "down", "status", 200);
    json_t *doc = render(503, "PostgreSQL is not reachable", NULL, extra);
    assert_string_equal(json_string_value(json_object_get(doc, "postgres")), "down");
    assert_int_equal(json_integer_value(json_object_get(doc, "status")), 503);
    json_decref(extra);
    json_decref(doc);
}

static void reply_sets_content_type(void **state)
{
    (void)state;
    request req = {0};
    req.path = "/orders";
    strcpy(req.request_id, "abc");
    problem_reply(&req, 415, "the body must be application/json", NULL);
    assert_int_equal(req.reply.status, 415);
    assert_string_equal(req.reply.content_type, "application/problem+json");
    assert_non_null(strstr(req.reply.body, "\"request_id\":\"abc\""));
    assert_non_null(strstr(req.reply.body, "\"instance\":\"/orders\""));
    free(req.reply.body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(standard_members),
        cmocka_unit_test(instance_is_the_path_percent_encoded),
        cmocka_unit_test(no_instance_without_a_path),
        cmocka_unit_test(field_errors_listed_in_order),
        cmocka_unit_test(detail_is_escaped),
        cmocka_unit_test(extensions_never_override_standard_members),
        cmocka_unit_test(reply_sets_content_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
