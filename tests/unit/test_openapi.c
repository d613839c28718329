/*
 * test_openapi.c - the OpenAPI document built into the binary and the
 * route table agree: every row is an operation, every operation a row,
 * and each operation documents the answers its row can give.  The
 * integration harness checks the answers themselves (contract.py).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "orderd/api/embedded.h"
#include "orderd/api/routes.h"
#include "orderd/api/static_file.h"

static const char *const method_keys[HTTP_OTHER] = {
    [HTTP_GET] = "get", [HTTP_HEAD] = "head",   [HTTP_POST] = "post",
    [HTTP_PUT] = "put", [HTTP_PATCH] = "patch", [HTTP_DELETE] = "delete",
};

static json_t *load_document(void)
{
    json_error_t error;
    json_t *doc = json_loadb(embedded_openapi_json.data, embedded_openapi_json.len, 0, &error);
    if (!doc)
        fail_msg("api/openapi.json line %d: %s", error.line, error.text);
    return doc;
}

/* "/orders/:id" -> "/orders/{id}" */
static void openapi_path(const char *pattern, char *out, size_t cap)
{
    const char *id = strstr(pattern, ":id");
    if (id)
        snprintf(out, cap, "%.*s{id}%s", (int)(id - pattern), pattern, id + 3);
    else
        snprintf(out, cap, "%s", pattern);
}

static json_t *operation_of(json_t *doc, const route *row)
{
    char path[128];
    openapi_path(row->pattern, path, sizeof path);
    json_t *item = json_object_get(json_object_get(doc, "paths"), path);
    return json_object_get(item, method_keys[row->method]);
}

static const route *row_of(const char *path, const char *method)
{
    for (size_t i = 0; i < api_route_count; i++) {
        char p[128];
        openapi_path(api_routes[i].pattern, p, sizeof p);
        if (strcmp(p, path) == 0 && strcmp(method_keys[api_routes[i].method], method) == 0)
            return &api_routes[i];
    }
    return NULL;
}

static void document_is_openapi_3_1_of_this_version(void **state)
{
    (void)state;
    json_t *doc = load_document();
    assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
    json_t *info = json_object_get(doc, "info");
    assert_string_equal(json_string_value(json_object_get(info, "version")), ORDERD_VERSION);
    json_decref(doc);
}

static void every_route_is_an_operation(void **state)
{
    (void)state;
    json_t *doc = load_document();
    for (size_t i = 0; i < api_route_count; i++) {
        if (!operation_of(doc, &api_routes[i]))
            fail_msg("route %s %s is not in api/openapi.json", method_keys[api_routes[i].method],
                     api_routes[i].pattern);
    }
    json_decref(doc);
}

static void every_operation_is_a_route(void **state)
{
    (void)state;
    json_t *doc = load_document();
    const char *path, *method;
    json_t *item, *op;
    int operations = 0;
    json_object_foreach(json_object_get(doc, "paths"), path, item)
    {
        json_object_foreach(item, method, op)
        {
            if (strcmp(method, "parameters") == 0 || strcmp(method, "summary") == 0 ||
                strcmp(method, "description") == 0)
                continue;
            operations++;
            if (!row_of(path, method))
                fail_msg("api/openapi.json has %s %s, which src/api/routes.c does not", method,
                         path);
        }
    }
    assert_int_equal(operations, (int)api_route_count);
    json_decref(doc);
}

static bool documents(json_t *op, const char *status)
{
    return json_object_get(json_object_get(op, "responses"), status) != NULL;
}

/*
 * What the server, not the handler, may answer: 413 anywhere; 503 when a
 * row leaves the polling thread (a full queue, a deadline spent waiting);
 * 400 for a pattern's bad ":id".
 */
static void each_operation_documents_what_its_row_can_answer(void **state)
{
    (void)state;
    json_t *doc = load_document();
    for (size_t i = 0; i < api_route_count; i++) {
        const route *row = &api_routes[i];
        json_t *op = operation_of(doc, row);
        assert_non_null(op);
        if (!documents(op, "413") || !documents(op, "500"))
            fail_msg("%s %s: no 413 or 500", method_keys[row->method], row->pattern);
        if (row->mode != ROUTE_INLINE && !documents(op, "503"))
            fail_msg("%s %s runs off the polling thread but documents no 503",
                     method_keys[row->method], row->pattern);
        if (row->mode == ROUTE_INLINE && documents(op, "503"))
            fail_msg("%s %s is answered inline and cannot be 503", method_keys[row->method],
                     row->pattern);
        if (strstr(row->pattern, ":id") && !documents(op, "400"))
            fail_msg("%s %s has an :id but documents no 400", method_keys[row->method],
                     row->pattern);
        if (!json_is_string(json_object_get(op, "operationId")))
            fail_msg("%s %s has no operationId", method_keys[row->method], row->pattern);
    }
    json_decref(doc);
}

static void etags_of_embedded_files_are_quoted_hex(void **state)
{
    (void)state;
    const embedded_file *files[] = {&embedded_openapi_json, &embedded_docs_html,
                                    &embedded_redoc_js};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        const char *tag = files[i]->etag;
        assert_int_equal(strlen(tag), 18);
        assert_int_equal(tag[0], '"');
        assert_int_equal(tag[17], '"');
        for (int k = 1; k < 17; k++)
            assert_true(isxdigit((unsigned char)tag[k]));
        assert_true(files[i]->len > 0);
        assert_int_equal(files[i]->data[files[i]->len], '\0');
    }
}

static void if_none_match_lists(void **state)
{
    (void)state;
    const char *tag = "\"0123456789abcdef\"";
    assert_false(static_file_etag_listed(NULL, tag));
    assert_true(static_file_etag_listed("\"0123456789abcdef\"", tag));
    assert_true(static_file_etag_listed("W/\"0123456789abcdef\"", tag));
    assert_true(static_file_etag_listed("\"x\", \"0123456789abcdef\" ", tag));
    assert_true(static_file_etag_listed(" * ", tag));
    assert_false(static_file_etag_listed("\"0123456789abcde\"", tag));
    assert_false(static_file_etag_listed("0123456789abcdef", tag));
    assert_false(static_file_etag_listed("\"x\",, \"y\"", tag));
    assert_false(static_file_etag_listed("", tag));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(document_is_openapi_3_1_of_this_version),
        cmocka_unit_test(every_route_is_an_operation),
        cmocka_unit_test(every_operation_is_a_route),
        cmocka_unit_test(each_operation_documents_what_its_row_can_answer),
        cmocka_unit_test(etags_of_embedded_files_are_quoted_hex),
        cmocka_unit_test(if_none_match_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
