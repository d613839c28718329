/*
 * orders_api.h - the /orders handlers, rows of the route table
 * (api/routes.c): parse and validate the request, call the order store,
 * map orderd_err to HTTP.  ctx is the app (api/app.h).
 */
#ifndef ORDERD_ORDERS_API_H
#define ORDERD_ORDERS_API_H

#include <jansson.h>
#include <stdbool.h>

#include "orderd/domain/order.h"
#include "orderd/http/request.h"

/* GET /orders: one page of the list, on an I/O worker. */
void orders_api_list(void *ctx, request *req);

/*
 * POST /orders, self-scheduled: bad input is answered on the polling
 * thread, and a valid order, with or without an Idempotency-Key, joins
 * the next group commit (order_writer.h), which resumes the request.
 */
void orders_api_create(void *ctx, request *req);

/*
 * GET /orders/:id, self-scheduled: answered on the polling thread from the
 * hot cache when it can be, otherwise by the batched reader
 * (order_reader.h), which resumes the request.
 */
void orders_api_get(void *ctx, request *req);

/* PATCH /orders/:id (a status change), self-scheduled: bad input is
 * answered on the polling thread, the rest joins the next group commit
 * of the amender (order_amender.h), which resumes the request. */
void orders_api_patch(void *ctx, request *req);

/* DELETE /orders/:id, self-scheduled like PATCH. */
void orders_api_delete(void *ctx, request *req);

/* ---- input checks the handlers share (no I/O; public for tests/fuzz) ---- */

/*
 * The JSON object body of POST/PATCH: checks the media type, emptiness,
 * syntax (duplicate keys refused, an integer beyond int64 is a 422 that
 * names the field) and that it is an object.  Returns a new reference the
 * caller decrefs; NULL with the problem reply set in req->reply.
 */
json_t *orders_api_parse_json_body(request *req);

/*
 * GET /orders' query string (req->query, req->query_overflow) into *q,
 * defaults filled.  false (with a 400 listing each bad parameter in
 * req->reply) when any is unknown, repeated or malformed.
 */
bool orders_api_parse_list_query(request *req, order_list_query *q);

#endif
