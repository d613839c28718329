/*
 * orders_api.h - the /orders handlers, rows of the route table
 * (api/routes.c): parse and validate the request, call the order store,
 * map orderd_err to HTTP.  ctx is the app (api/app.h).
 */
#ifndef ORDERD_ORDERS_API_H
#define ORDERD_ORDERS_API_H

#include "orderd/http/request.h"

/* GET /orders: one page of the list, on an I/O worker. */
void orders_api_list(void *ctx, request *req);

/*
 * POST /orders, self-scheduled.  With an Idempotency-Key it moves to an
 * I/O worker (its own transaction).  Without one, bad input is answered on
 * the polling thread and a valid order joins the next group commit
 * (order_writer.h), which resumes the request.
 */
void orders_api_create(void *ctx, request *req);

/*
 * GET /orders/:id, self-scheduled: answered on the polling thread from the
 * hot cache when it can be, otherwise by the batched reader
 * (order_reader.h), which resumes the request.
 */
void orders_api_get(void *ctx, request *req);

/* PATCH /orders/:id (a status change), on an I/O worker. */
void orders_api_patch(void *ctx, request *req);

/* DELETE /orders/:id, on an I/O worker. */
void orders_api_delete(void *ctx, request *req);

#endif
