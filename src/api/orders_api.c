/*
 * orders_api.c - the /orders handlers.
 *
 * Each handler: check the HTTP-level input (media type, JSON syntax,
 * query string, preconditions), let order.c validate the domain, call the
 * order store, and translate its orderd_err into a status code.  This is
 * the only place that knows both the store's errors and HTTP.
 *
 * Reading one order, creating, changing and deleting one never block the
 * polling thread: the hot cache or the input checks answer at once, or
 * the batched reader, writer or amender takes the request and resumes it.
 *
 * Reads answer in the representation Accept asks for (order_repr.h).
 * The store and Redis deal in JSON only; a msgpack answer is converted
 * from that JSON on the way out (base/json_msgpack.h), and for one order
 * kept beside its JSON in the hot cache, so a hot msgpack read costs no
 * conversion.  Writes answer in JSON.
 */
#include "orderd/api/orders_api.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orderd/api/app.h"
#include "orderd/api/auth_gate.h"
#include "orderd/base/fmt.h"
#include "orderd/api/order_repr.h"
#include "orderd/base/json_load.h"
#include "orderd/base/json_msgpack.h"
#include "orderd/base/metrics.h"
#include "orderd/base/parse.h"
#include "orderd/store/order_store.h"
#include "orderd/http/problem.h"

#define IDEMPOTENCY_KEY_MAX 255
/* on every answer whose representation Accept chose: 200, 304 (and 406) */
#define VARY_ON_ACCEPT "Accept"

/* ---- error mapping ------------------------------------------------------- */

static void reply_store_error(request *req, orderd_err err)
{
    char detail[160];
    switch (err) {
    case ORDERD_ERR_NOT_FOUND:
        snprintf(detail, sizeof detail, "order %" PRId64 " does not exist", req->path_id);
        problem_reply(req, 404, detail, NULL);
        return;
    case ORDERD_ERR_CONFLICT:
        problem_reply(req, 409, "the order's current status does not allow this change", NULL);
        return;
    case ORDERD_ERR_PRECONDITION:
        problem_reply(req, 412, "If-Match does not match the order's current version", NULL);
        return;
    case ORDERD_ERR_IDEMPOTENCY:
        problem_reply(req, 422,
                      "this Idempotency-Key was already used with a different request body", NULL);
        return;
    case ORDERD_ERR_BUSY:
        problem_reply(req, 503, "no database connection became free in time", NULL);
        req->reply.retry_after_s = 1;
        return;
    case ORDERD_ERR_UNAVAILABLE:
        problem_reply(req, 503, "the database is not reachable", NULL);
        req->reply.retry_after_s = 1;
        return;
    case ORDERD_ERR_TIMEOUT:
        problem_reply(req, 504, "the database did not answer before the deadline", NULL);
        return;
    case ORDERD_OK:
    case ORDERD_ERR_INTERNAL:
        break;
    }
    problem_reply(req, 500, "internal error", NULL);
}

/*
 * A permission verdict that is not AUTH_ALLOW into the reply: 403, or
 * for an order of someone else the very 404 a missing order gets.
 * true when it answered.
 */
static bool reply_if_refused(request *req, auth_verdict verdict, const char *forbidden)
{
    if (verdict == AUTH_ALLOW)
        return false;
    if (verdict == AUTH_HIDE)
        reply_store_error(req, ORDERD_ERR_NOT_FOUND);
    else
        problem_reply(req, 403, forbidden, NULL);
    return true;
}

/* May the caller see this rendered order (json from order_to_json)? */
static bool reply_if_not_readable(request *req, const char *json, size_t len)
{
    const auth_principal *p = auth_gate_principal(req);
    if (p->unchecked)
        return false;
    int64_t owner = 0;
    if (!order_json_customer_id(json, len, &owner))
        owner = 0; /* unreadable: nobody's, so only staff see it */
    return reply_if_refused(req, auth_may_read_order(p, owner),
                            "this token may not read orders (no customer sub, no staff scope)");
}

/* ---- input helpers -------------------------------------------------------- */

/*
 * Adds an "out of range" error for every number at or beyond the int64
 * range in doc (parsed with integers as reals), with its JSON path.
 */
static void find_overflowing_numbers(const json_t *v, char *path, size_t len, size_t cap,
                                     field_errors *errs)
{
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d >= 9223372036854775807.0 || d <= -9223372036854775808.0)
            field_errors_add(errs, len ? path : "body", "is out of range");
    } else if (json_is_object(v)) {
        const char *key;
        const json_t *member;
        json_object_foreach((json_t *)v, key, member)
        {
            int n = snprintf(path + len, cap - len, len ? ".%s" : "%s", key);
            if (n > 0 && (size_t)n < cap - len)
                find_overflowing_numbers(member, path, len + (size_t)n, cap, errs);
            path[len] = '\0';
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            int n = snprintf(path + len, cap - len, "[%zu]", i);
            if (n > 0 && (size_t)n < cap - len)
                find_overflowing_numbers(json_array_get(v, i), path, len + (size_t)n, cap, errs);
            path[len] = '\0';
        }
    }
}

/*
 * jansson refuses integers beyond int64 while parsing, but such a body is
 * well-formed JSON with an out-of-range value: a 422 naming the field,
 * like any other range error.  Parse again with integers as reals only to
 * find where they are.  A body that is no object is the 400 any such body
 * gets: its values are never looked at (found by tests/fuzz).
 */
static bool reply_if_numeric_overflow(request *req)
{
    json_t *doc = json_loadb(req->body, req->body_len, JSON_DECODE_INT_AS_REAL, NULL);
    if (!doc)
        return false;
    if (!json_is_object(doc)) {
        json_decref(doc);
        problem_reply(req, 400, "the request body must be a JSON object", NULL);
        return true;
    }
    field_errors errs = {0};
    char path[sizeof errs.list[0].field] = "";
    find_overflowing_numbers(doc, path, 0, sizeof path, &errs);
    json_decref(doc);
    if (errs.count == 0)
        return false;
    problem_reply(req, 422, "a number is out of range", &errs);
    return true;
}

json_t *orders_api_parse_json_body(request *req)
{
    if (!req->content_type_json) {
        problem_reply(req, 415,
                      req->has_content_type ? "the body must be application/json"
                                            : "Content-Type: application/json is required",
                      NULL);
        return NULL;
    }
    if (req->body_len == 0) {
        problem_reply(req, 400, "the request body is empty", NULL);
        return NULL;
    }
    json_error_t error;
    json_t *doc = json_load_strict(req->body, req->body_len, &error);
    if (!doc && json_error_code(&error) == json_error_numeric_overflow &&
        reply_if_numeric_overflow(req))
        return NULL;
    if (!doc) {
        char detail[320];
        snprintf(detail, sizeof detail, "malformed JSON at line %d, column %d: %s", error.line,
                 error.column, error.text);
        problem_reply(req, 400, detail, NULL);
        return NULL;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        problem_reply(req, 400, "the request body must be a JSON object", NULL);
        return NULL;
    }
    return doc;
}

/*
 * If-Match -> expected version: -1 when absent or "*".  false (with a 412
 * reply) for a tag that can never match one of ours.
 */
static bool expected_version_from(request *req, int64_t *expected)
{
    *expected = -1;
    if (!req->if_match)
        return true;
    const char *p = req->if_match;
    while (*p == ' ')
        p++;
    if (strcmp(p, "*") == 0)
        return true;
    /* either representation's tag names the version: both are the order */
    order_repr tag_repr;
    if (!order_repr_parse_etag(p, expected, &tag_repr)) {
        problem_reply(req, 412, "If-Match does not match the order's current version", NULL);
        return false;
    }
    return true;
}

static bool idempotency_key_is_valid(const char *key)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++, n++)
        if (*p < 0x21 || *p > 0x7e || n >= IDEMPOTENCY_KEY_MAX)
            return false;
    return n > 0;
}

static void reply_order(request *req, int status, order_doc *doc)
{
    order_repr_set_etag(req, doc->version, ORDER_REPR_JSON);
    request_reply_json(req, status, doc->json, doc->len);
    doc->json = NULL; /* the reply owns it now */
}

/* Shared bytes as the body (the reply takes the caller's reference). */
static void reply_blob(request *req, int status, order_repr r, blob *body)
{
    req->reply.status = status;
    req->reply.content_type = order_repr_media_type(r);
    req->reply.blob = body;
    req->reply.body_len = body->len; /* for the access log's byte count */
}

/* ---- POST /orders ---------------------------------------------------------- */

/*
 * A customer creates for itself: a body without customer_id gets the
 * token's, a body naming another customer is a 403.  A customer_id that
 * is no integer is left for the validator's 422.  false when it answered.
 */
static bool apply_create_permission(request *req, json_t *body)
{
    const auth_principal *p = auth_gate_principal(req);
    if (p->unchecked)
        return true;
    json_t *given = json_object_get(body, "customer_id");
    int64_t customer_id = json_is_integer(given) ? json_integer_value(given) : 0;
    if (given && !json_is_integer(given))
        return true;
    if (reply_if_refused(req, auth_may_create(p, &customer_id),
                         "this token may create orders only for its own customer id"))
        return false;
    if (!given && customer_id > 0)
        json_object_set_new(body, "customer_id", json_integer(customer_id));
    return true;
}

/*
 * The checks that need no I/O: the Idempotency-Key's form, the media type,
 * the caller's right to create for that customer, and the body.  true
 * with *out filled (caller clears it); false with the reply set.
 */
static bool check_create(request *req, order_create_req *out)
{
    const char *key = req->idempotency_key;
    if (key && !idempotency_key_is_valid(key)) {
        problem_reply(req, 400, "Idempotency-Key must be 1 to 255 visible ASCII characters", NULL);
        return false;
    }
    json_t *body = orders_api_parse_json_body(req);
    if (!body)
        return false;
    if (!apply_create_permission(req, body)) {
        json_decref(body);
        return false;
    }
    field_errors errs = {0};
    bool valid = order_create_parse(body, out, &errs);
    json_decref(body);
    if (!valid)
        problem_reply(req, 422, "the order is not valid", &errs);
    return valid;
}

static void reply_created(request *req, order_doc *doc, bool replayed)
{
    snprintf(req->reply.location, sizeof req->reply.location, "/orders/%" PRId64, doc->id);
    req->reply.idempotent_replay = replayed;
    reply_order(req, 201, doc);
}

/* Runs on a writer thread when the group commit holding this create ends. */
static void create_done(void *arg, orderd_err err, order_doc *doc, bool replayed)
{
    request *req = arg;
    if (err != ORDERD_OK)
        reply_store_error(req, err);
    else
        reply_created(req, doc, replayed);
    request_resume(req); /* req belongs to the polling thread again after this */
}

void orders_api_create(void *ctx, request *req)
{
    app *a = ctx;
    order_create_req create = {0};
    if (!check_create(req, &create))
        return; /* bad input: answered without any I/O */
    request_suspend(req);
    int queued = order_store_create_async(a->store, &create, req->idempotency_key, req->deadline_ns,
                                          create_done, req);
    order_create_req_clear(&create); /* emptied when it was queued */
    if (queued != 0)
        request_resume_overloaded(req);
}

/* ---- GET /orders/:id ------------------------------------------------------- */

/*
 * The order's JSON (version `version`) as msgpack, attached to its hot
 * cache entry when that entry still holds this version, so the next
 * msgpack read of it converts nothing.  NULL when out of memory.
 */
static blob *msgpack_of(app *application, int64_t id, int64_t version, const char *json, size_t len)
{
    size_t n = 0;
    char *packed = json_msgpack_from_text(json, len, &n);
    if (!packed)
        return NULL;
    blob *b = blob_create(packed, n);
    free(packed);
    if (b && application->hot)
        hot_cache_attach(application->hot, id, version, HOT_CACHE_MSGPACK, b);
    return b;
}

/* A read's 200 from the store's doc, in representation r. */
static void reply_read(request *req, order_doc *doc, order_repr r)
{
    if (r == ORDER_REPR_JSON) {
        reply_order(req, 200, doc);
        req->reply.vary = VARY_ON_ACCEPT;
        return;
    }
    int64_t version = doc->version;
    blob *body = msgpack_of(req->handler_ctx, doc->id, version, doc->json, doc->len);
    order_doc_clear(doc);
    if (!body) {
        problem_reply(req, 500, "internal error", NULL);
        return;
    }
    order_repr_set_etag(req, version, r);
    req->reply.vary = VARY_ON_ACCEPT;
    reply_blob(req, 200, r, body);
}

/* Runs on a reader thread when the batched read of GET /orders/:id ends. */
static void read_done(void *arg, orderd_err err, order_doc *doc, const char *cache_status)
{
    request *req = arg;
    order_repr r = order_repr_choose(req); /* negotiated before: not NONE */
    req->reply.cache = cache_status;
    if (err != ORDERD_OK) {
        reply_store_error(req, err);
    } else if (reply_if_not_readable(req, doc->json, doc->len)) {
        req->reply.cache = NULL; /* a hidden order says nothing about caches either */
        order_doc_clear(doc);
    } else if (req->if_none_match &&
               order_repr_if_none_match_hits(req->if_none_match, doc->version, r)) {
        order_repr_set_etag(req, doc->version, r);
        req->reply.vary = VARY_ON_ACCEPT;
        req->reply.status = 304;
        order_doc_clear(doc);
    } else {
        reply_read(req, doc, r);
    }
    request_resume(req); /* req belongs to the polling thread again after this */
}

/*
 * The hot entry's body in representation r: the JSON itself, the msgpack
 * attached beside it, or that msgpack built now (and attached).  Takes
 * the references to json and attached; NULL when out of memory.
 */
static blob *hot_body(app *application, request *req, order_repr r, int64_t version, blob *json,
                      blob *attached)
{
    if (r == ORDER_REPR_JSON)
        return json;
    if (!attached)
        attached = msgpack_of(application, req->path_id, version, json->data, json->len);
    blob_release(json);
    return attached;
}

/* From the in-process hot cache, on the polling thread (no I/O): true
 * when it answered, false when the request must take the batched read. */
static bool reply_from_hot_cache(app *application, request *req, order_repr r)
{
    if (!application->hot || req->no_cache)
        return false;
    int64_t version;
    blob *attached = NULL;
    blob *json = r == ORDER_REPR_MSGPACK
                     ? hot_cache_get_with(application->hot, req->path_id, HOT_CACHE_MSGPACK,
                                          &version, &attached)
                     : hot_cache_get(application->hot, req->path_id, &version);
    if (!json)
        return false;
    if (reply_if_not_readable(req, json->data, json->len)) {
        blob_release(json);
        blob_release(attached);
        return true;
    }
    req->reply.cache = CACHE_STATUS_HIT;
    req->reply.vary = VARY_ON_ACCEPT;
    order_repr_set_etag(req, version, r);
    if (req->if_none_match && order_repr_if_none_match_hits(req->if_none_match, version, r)) {
        req->reply.status = 304;
        blob_release(json);
        blob_release(attached);
        return true;
    }
    blob *body = hot_body(application, req, r, version, json, attached);
    if (!body) {
        req->reply.vary = NULL;
        req->reply.etag[0] = '\0';
        problem_reply(req, 500, "internal error", NULL);
        return true;
    }
    reply_blob(req, 200, r, body);
    return true;
}

void orders_api_get(void *ctx, request *req)
{
    app *a = ctx;
    order_repr r = order_repr_negotiate(req);
    if (r == ORDER_REPR_NONE)
        return; /* 406 */
    if (reply_from_hot_cache(a, req, r))
        return;
    request_suspend(req);
    if (order_store_get_async(a->store, req->path_id, req->deadline_ns, req->no_cache, read_done,
                              req) != 0)
        request_resume_overloaded(req);
}

/* ---- PATCH and DELETE /orders/:id ------------------------------------------ */

/* Runs on an amender thread when the group commit holding this PATCH ends. */
static void patch_done(void *arg, orderd_err err, order_status to, order_doc *doc)
{
    request *req = arg;
    if (err == ORDERD_ERR_CONFLICT) {
        char detail[128];
        snprintf(detail, sizeof detail, "the order cannot move to \"%s\" from its current status",
                 order_status_name(to));
        problem_reply(req, 409, detail, NULL);
    } else if (err != ORDERD_OK) {
        reply_store_error(req, err);
    } else {
        reply_order(req, 200, doc);
    }
    request_resume(req); /* req belongs to the polling thread again after this */
}

void orders_api_patch(void *ctx, request *req)
{
    app *a = ctx;
    int64_t expected;
    if (!expected_version_from(req, &expected))
        return;
    json_t *body = orders_api_parse_json_body(req);
    if (!body)
        return;
    order_status to;
    field_errors errs = {0};
    bool valid = order_patch_parse(body, &to, &errs);
    json_decref(body);
    if (!valid) {
        problem_reply(req, 422, "the change is not valid", &errs);
        return;
    }
    int64_t owner = 0;
    if (reply_if_refused(req, auth_may_set_status(auth_gate_principal(req), to, &owner),
                         "this token may only cancel its own orders"))
        return;
    request_suspend(req);
    if (order_store_set_status_async(a->store, req->path_id, to, expected, owner, req->deadline_ns,
                                     patch_done, req) != 0)
        request_resume_overloaded(req);
}

/* Runs on an amender thread when the group commit holding this DELETE ends. */
static void delete_done(void *arg, orderd_err err, order_status to, order_doc *doc)
{
    (void)to;
    (void)doc; /* a delete has none */
    request *req = arg;
    if (err != ORDERD_OK)
        reply_store_error(req, err);
    else
        req->reply.status = 204;
    request_resume(req); /* req belongs to the polling thread again after this */
}

void orders_api_delete(void *ctx, request *req)
{
    app *a = ctx;
    if (reply_if_refused(req, auth_may_delete(auth_gate_principal(req)),
                         "deleting orders needs the orders:admin scope"))
        return;
    int64_t expected;
    if (!expected_version_from(req, &expected))
        return;
    request_suspend(req);
    if (order_store_delete_async(a->store, req->path_id, expected, req->deadline_ns, delete_done,
                                 req) != 0)
        request_resume_overloaded(req);
}

/* ---- GET /orders ------------------------------------------------------------ */

bool orders_api_parse_list_query(request *req, order_list_query *q)
{
    static const char *const known[] = {"customer_id", "status", "limit", "cursor"};
    field_errors errs = {0};
    memset(q, 0, sizeof *q);
    q->limit = ORDER_LIST_LIMIT_DEFAULT;
    if (req->query_overflow)
        field_errors_add(&errs, "", "too many query parameters (at most %d)", REQUEST_QUERY_MAX);

    for (int i = 0; i < req->query_count; i++) {
        const char *name = req->query[i].name, *value = req->query[i].value;
        bool is_known = false;
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            is_known |= strcmp(name, known[k]) == 0;
        if (!is_known) {
            field_errors_add(&errs, name, "unknown query parameter");
            continue;
        }
        bool repeated = false;
        for (int j = 0; j < i; j++)
            repeated |= strcmp(req->query[j].name, name) == 0;
        if (repeated) {
            field_errors_add(&errs, name, "given more than once");
            continue;
        }
        if (strcmp(name, "customer_id") == 0) {
            q->has_customer_id = parse_positive_i64(value, &q->customer_id);
            if (!q->has_customer_id)
                field_errors_add(&errs, name, "must be a positive 64-bit integer");
        } else if (strcmp(name, "status") == 0) {
            q->has_status = order_status_parse(value, &q->status);
            if (!q->has_status)
                field_errors_add(&errs, name,
                                 "must be one of pending, paid, shipped, delivered, cancelled");
        } else if (strcmp(name, "limit") == 0) {
            int64_t limit;
            if (!parse_positive_i64(value, &limit) || limit > ORDER_LIST_LIMIT_MAX)
                field_errors_add(&errs, name, "must be an integer from 1 to %d",
                                 ORDER_LIST_LIMIT_MAX);
            else
                q->limit = (int)limit;
        } else {
            q->has_cursor = order_cursor_decode(value, &q->cursor_created_at_us, &q->cursor_id);
            if (!q->has_cursor)
                field_errors_add(&errs, name, "is not a cursor returned by this service");
        }
    }
    if (errs.count > 0) {
        problem_reply(req, 400, "the query string is not valid", &errs);
        return false;
    }
    return true;
}

/*
 * What a list request asks for, as the caller may see it: the
 * representation (406 when none), the query (400 when malformed), narrowed
 * to the token's customer (403 when it asks for another's).  False when a
 * reply was queued.  Pure, so a list handed on works it out again.
 */
static bool list_request(request *req, order_list_query *q, order_repr *r)
{
    *r = order_repr_negotiate(req);
    if (*r == ORDER_REPR_NONE)
        return false; /* 406 */
    if (!orders_api_parse_list_query(req, q))
        return false;
    return !reply_if_refused(req, auth_narrow_list(auth_gate_principal(req), q),
                             "this token may list only its own customer's orders");
}

/* A list page in representation r (not JSON), converted from its JSON. */
static void reply_list_converted(request *req, order_repr r, const char *json, size_t len)
{
    size_t packed_len = 0;
    char *packed = json_msgpack_from_text(json, len, &packed_len);
    if (!packed) {
        problem_reply(req, 500, "internal error", NULL);
        return;
    }
    request_reply_body(req, 200, order_repr_media_type(r), packed, packed_len);
}

/* Takes json (a list page, always JSON: in Redis and from PostgreSQL alike). */
static void reply_list(request *req, order_repr r, char *json, size_t len)
{
    req->reply.vary = VARY_ON_ACCEPT;
    if (r == ORDER_REPR_JSON) {
        request_reply_json(req, 200, json, len);
        return;
    }
    reply_list_converted(req, r, json, len);
    free(json);
}

/* On an I/O worker: Redis's page if it holds one by now, else PostgreSQL's. */
static void list_on_worker(void *ctx, request *req)
{
    app *a = ctx;
    order_list_query q;
    order_repr r;
    if (!list_request(req, &q, &r))
        return; /* cannot happen: it passed on the polling thread */
    char *json = NULL;
    size_t len = 0;
    /* the generation the list reader saw when it missed, if it did */
    const char *generation = req->handler_note[0] ? req->handler_note : NULL;
    orderd_err err = order_store_list(a->store, &q, req->deadline_ns, req->no_cache, generation,
                                      &json, &len, &req->reply.cache);
    if (err != ORDERD_OK) {
        reply_store_error(req, err);
        return;
    }
    reply_list(req, r, json, len);
}

/* On a list loader thread: PostgreSQL's page, or the error that kept it. */
static void list_loaded(void *arg, orderd_err err, char *json, size_t len, const char *cache_status)
{
    request *req = arg;
    req->reply.cache = cache_status;
    if (err != ORDERD_OK)
        reply_store_error(req, err);
    else
        reply_list(req, order_repr_negotiate(req), json, len);
    request_resume(req); /* req belongs to the polling thread again after this */
}

/*
 * A suspended list request the caches could not answer: a customer's
 * page joins the list loader's next statement (list_loader.h), any other
 * goes to an I/O worker, as does every page the loader refuses.
 * generation: what a lookup that missed read (NULL: none).
 */
static void list_from_postgres(request *req, const order_list_query *q, const char *generation)
{
    app *a = req->handler_ctx;
    if (order_store_list_read_async(a->store, q, req->deadline_ns, generation, list_loaded, req) ==
        0)
        return;
    if (generation)
        snprintf(req->handler_note, sizeof req->handler_note, "%s", generation);
    request_continue_on_worker(req, list_on_worker);
}

/* On the list reader's thread: a page Redis held, or NULL to read it from
 * PostgreSQL (under the generation Redis gave, when it gave one). */
static void list_looked_up(void *arg, char *json, size_t len, const char *generation)
{
    request *req = arg;
    if (!json) {
        order_list_query q;
        order_repr r;
        if (!list_request(req, &q, &r)) {
            request_resume(req); /* cannot happen: it passed on the polling thread */
            return;
        }
        list_from_postgres(req, &q, generation);
        return;
    }
    req->reply.cache = CACHE_STATUS_HIT;
    reply_list(req, order_repr_negotiate(req), json, len);
    request_resume(req); /* req belongs to the polling thread again after this */
}

/* A page in process memory near its max age, read again on a worker. */
typedef struct list_refresh {
    app *application;
    order_list_query query;
    uint64_t deadline_ns;
} list_refresh;

static void refresh_list_page(void *arg)
{
    list_refresh *job = arg;
    char *json = NULL;
    size_t len = 0;
    const char *cache_status = NULL;
    /* as a miss reads it: Redis's page under the generation Redis holds
     * now (which re-checks what this process may have missed), else
     * PostgreSQL's; put into memory under a ticket taken before the read */
    if (order_store_list(job->application->store, &job->query, job->deadline_ns, false, NULL, &json,
                         &len, &cache_status) == ORDERD_OK)
        metric_inc(METRIC_HOT_LIST_REFRESHES);
    free(json);
    free(job);
}

static void start_list_refresh(app *application, const request *req, const order_list_query *q)
{
    list_refresh *job = malloc(sizeof *job);
    if (!job)
        return; /* the page expires as it would have */
    *job = (list_refresh){application, *q, req->deadline_ns};
    if (request_run_detached(req, refresh_list_page, job) != 0)
        free(job);
}

/* From process memory, on the polling thread (no I/O): true when it answered. */
static bool reply_list_from_memory(app *application, request *req, const order_list_query *q,
                                   order_repr r)
{
    if (!application->hot_lists)
        return false;
    bool refresh_due = false;
    blob *json = hot_lists_get(application->hot_lists, q, &refresh_due);
    if (!json)
        return false;
    if (refresh_due)
        start_list_refresh(application, req, q);
    req->reply.cache = CACHE_STATUS_HIT;
    req->reply.vary = VARY_ON_ACCEPT;
    if (r == ORDER_REPR_JSON) {
        reply_blob(req, 200, r, json); /* the page's bytes, not copied */
        return true;
    }
    reply_list_converted(req, r, json->data, json->len);
    blob_release(json);
    return true;
}

void orders_api_list(void *ctx, request *req)
{
    app *a = ctx;
    order_list_query q;
    order_repr r;
    if (!list_request(req, &q, &r))
        return;
    if (req->no_cache) {
        request_run_on_worker(req, list_on_worker);
        return;
    }
    if (reply_list_from_memory(a, req, &q, r))
        return;
    /* the pages Redis holds are answered in batches, without a worker
     * (list_reader.h), and so are customers' pages from PostgreSQL
     * (list_loader.h); the rest, and all while stopping, are a worker's */
    request_suspend(req);
    if (order_store_list_lookup_async(a->store, &q, req->deadline_ns, list_looked_up, req) != 0)
        list_from_postgres(req, &q, NULL);
}
