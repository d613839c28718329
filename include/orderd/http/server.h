/*
 * server.h - the libmicrohttpd daemon: epoll, a pool of polling threads,
 * per-request state, and suspend/resume around blocking handlers.
 *
 * Request path: server.c (access handler) -> router.c (which route) ->
 * request_id.c (X-Request-ID) -> one of:
 *   - answered on the polling thread, no I/O: health.c (/healthz,
 *     /metrics), hot-cache hits (orders_api_try_hot), bad input;
 *   - batched, connection suspended: GET /orders/:id (order_reader.c) and
 *     POST /orders without an Idempotency-Key (order_writer.c);
 *   - the rest on an I/O worker (worker_pool.c), connection suspended.
 * server.c then queues the reply; the completion callback writes the
 * access log line (log.c) and frees the request.
 */
#ifndef ORDERD_SERVER_H
#define ORDERD_SERVER_H

#include <stdint.h>

#include "orderd/api/app.h"

typedef struct server server;

/* Starts listening. NULL (after logging why) when the port cannot be bound. */
server *server_start(app *application);

/*
 * Graceful stop, step 1: stop accepting connections and mark every later
 * response "Connection: close".  In-flight requests go on.
 */
void server_stop_accepting(server *srv);

/* Waits until no request is in flight and clients have closed their
 * connections, or deadline_ns passes. Returns the number of requests
 * still in flight (0 = drained). */
int server_wait_idle(server *srv, uint64_t deadline_ns);

/* Stops the daemon and frees it (after the worker pool is drained). NULL-safe. */
void server_stop(server *srv);

#endif
