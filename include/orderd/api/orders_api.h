/*
 * orders_api.h - the /orders handlers: parse and validate the request,
 * call the order store, map orderd_err to HTTP.
 *
 * They block (PostgreSQL), so server.c runs them on an I/O worker.
 */
#ifndef ORDERD_ORDERS_API_H
#define ORDERD_ORDERS_API_H

#include "orderd/api/app.h"
#include "orderd/domain/order.h"
#include "orderd/http/request.h"

/* GET/POST /orders and PATCH/DELETE /orders/:id, on an I/O worker.
 * Fills req->reply. */
void orders_api_handle(app *application, request *req);

/*
 * POST /orders, first half, on the polling thread (no I/O): checks the
 * Idempotency-Key's form, the media type and the body.  true with *out
 * filled (caller passes it on or clears it); false with the reply set.
 */
bool orders_api_check_create(request *req, order_create_req *out);

/*
 * POST /orders without an Idempotency-Key, second half, for a suspended
 * req: queues the create for the next group commit (order_writer.h),
 * taking *create's contents.  A writer thread calls request_resume when
 * the reply is ready.  -1 (not resumed, *create untouched) when the
 * writer is stopping.
 */
int orders_api_create(app *application, request *req, order_create_req *create);

/*
 * GET/HEAD /orders/:id through the batched reader (order_reader.h), for a
 * suspended req; does not block.  A reader thread calls request_resume
 * when the reply is ready.  -1 (not resumed) when the reader is stopping.
 */
int orders_api_read(app *application, request *req);

/*
 * GET/HEAD /orders/:id from the in-process hot cache, on the polling
 * thread (no I/O).  Returns true when it answered (reply filled), false
 * when the request must take the normal path.
 */
bool orders_api_try_hot(app *application, request *req);

#endif
