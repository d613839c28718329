/*
 * orders_api.h - the /orders handlers: parse and validate the request,
 * call the order store, map orderd_err to HTTP.
 *
 * They block (PostgreSQL), so server.c runs them on an I/O worker.
 */
#ifndef ORDERD_ORDERS_API_H
#define ORDERD_ORDERS_API_H

#include "orderd/app.h"
#include "orderd/request.h"

/* GET/POST /orders and GET/PATCH/DELETE /orders/:id. Fills req->reply. */
void orders_api_handle(app *application, request *req);

/*
 * GET/HEAD /orders/:id from the in-process hot cache, on the polling
 * thread (no I/O).  Returns true when it answered (reply filled), false
 * when the request must take the normal path.
 */
bool orders_api_try_hot(app *application, request *req);

#endif
