/*
 * fuzz_order_body.c - POST and PATCH /orders bodies: the bytes a client
 * sends, through the same checks the handlers run (orders_api.h's
 * orders_api_parse_json_body, then order.h's validators).
 *
 * Invariants:
 *  - a refused body gets a 400/415/422 whose body is problem+json with
 *    that status, and a 422 only when the body is an object;
 *  - an accepted create is in range, its items are canonical JSON, and
 *    the request rebuilt from what was parsed parses to the same
 *    fingerprint (parse -> print -> parse is stable);
 *  - an accepted patch names a status that re-parses to itself;
 *  - field errors always render as a problem document.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "orderd/api/orders_api.h"
#include "orderd/domain/order.h"
#include "orderd/http/problem.h"

/*
 * The reply is problem+json, valid JSON, with the status it was sent
 * with; a 422 (a value out of range) only for a body that is an object,
 * as for every other value error.
 */
static void check_problem_reply(const request *req)
{
    int s = req->reply.status;
    FUZZ_CHECK(s == 400 || s == 415 || s == 422);
    if (s == 422) {
        json_t *doc = json_loadb(req->body, req->body_len, JSON_DECODE_INT_AS_REAL, NULL);
        FUZZ_CHECK(json_is_object(doc));
        json_decref(doc);
    }
    FUZZ_CHECK(req->reply.content_type &&
               strcmp(req->reply.content_type, PROBLEM_CONTENT_TYPE) == 0);
    FUZZ_CHECK(req->reply.body && strlen(req->reply.body) == req->reply.body_len);
    json_t *doc = json_loadb(req->reply.body, req->reply.body_len, 0, NULL);
    FUZZ_CHECK(doc && json_integer_value(json_object_get(doc, "status")) == s);
    json_decref(doc);
}

static void check_errors_render(const field_errors *errs)
{
    FUZZ_CHECK(errs->count >= 1 && errs->count <= FIELD_ERRORS_MAX);
    size_t len = 0;
    char *text = problem_render(422, "invalid", "/orders", "fuzz", errs, NULL, &len);
    FUZZ_CHECK(text);
    json_t *doc = json_loadb(text, len, 0, NULL);
    FUZZ_CHECK(doc && json_array_size(json_object_get(doc, "errors")) == errs->count);
    json_decref(doc);
    free(text);
}

/* What was accepted, printed back as a body, must be accepted as the same order. */
static void check_create_round_trip(const order_create_req *c)
{
    FUZZ_CHECK(c->customer_id >= 1);
    FUZZ_CHECK(c->total_cents >= 0 && c->total_cents <= ORDER_MONEY_MAX_CENTS);
    FUZZ_CHECK(strlen(c->currency) == 3 && currency_is_active(c->currency));
    json_t *items = json_loads(c->items_json, JSON_REJECT_DUPLICATES, NULL);
    FUZZ_CHECK(json_is_array(items) && json_array_size(items) <= ORDER_MAX_ITEMS);
    char *again = json_dumps(items, JSON_COMPACT | JSON_PRESERVE_ORDER);
    FUZZ_CHECK(again && strcmp(again, c->items_json) == 0); /* canonical */
    free(again);

    char total[32];
    money_format(c->total_cents, total);
    json_t *body = json_pack("{sI ss ss so}", "customer_id", (json_int_t)c->customer_id, "total",
                             total, "currency", c->currency, "items", items);
    FUZZ_CHECK(body);
    order_create_req back = {0};
    field_errors errs;
    FUZZ_CHECK(order_create_parse(body, &back, &errs));
    char *fp1 = order_create_fingerprint(c), *fp2 = order_create_fingerprint(&back);
    FUZZ_CHECK(fp1 && fp2 && strcmp(fp1, fp2) == 0);
    free(fp1);
    free(fp2);
    order_create_req_clear(&back);
    json_decref(body);
}

static void check_patch_round_trip(order_status to)
{
    const char *name = order_status_name(to);
    FUZZ_CHECK(name);
    json_t *body = json_pack("{ss}", "status", name);
    order_status back;
    field_errors errs;
    FUZZ_CHECK(order_patch_parse(body, &back, &errs) && back == to);
    json_decref(body);
}

static void check_document(const json_t *doc)
{
    field_errors errs;
    order_create_req create = {0};
    if (order_create_parse(doc, &create, &errs))
        check_create_round_trip(&create);
    else
        check_errors_render(&errs);
    order_create_req_clear(&create);

    order_status to;
    if (order_patch_parse(doc, &to, &errs))
        check_patch_round_trip(to);
    else
        check_errors_render(&errs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    request req = {.content_type_json = true, .has_content_type = true, .request_id = "fuzz"};
    req.body = malloc(size + 1); /* owned and NUL-terminated, as server.c leaves it */
    if (!req.body)
        return 0;
    memcpy(req.body, data, size);
    req.body[size] = '\0';
    req.body_len = size;
    req.body_cap = size + 1;

    json_t *doc = orders_api_parse_json_body(&req);
    if (doc) {
        FUZZ_CHECK(json_is_object(doc) && req.reply.status == 0 && !req.reply.body);
        check_document(doc);
        json_decref(doc);
    } else {
        check_problem_reply(&req);
    }
    free(req.reply.body);
    free(req.body);
    return 0;
}
