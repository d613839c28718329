/*
 * server.h - the libmicrohttpd daemon: epoll, a pool of polling threads,
 * per-request state, and running each request's route.
 *
 * Request path: server.c (access handler) -> request_id.c (X-Request-ID)
 * -> router.c (which row of the route table) -> the row's handler, run
 * as the row says (router.h route_mode):
 *   - inline on the polling thread, no I/O;
 *   - on an I/O worker (worker_pool.c), connection suspended;
 *   - self-scheduled: the handler answers at once or hands the request to
 *     its own threads, which resume it (request.h).
 * server.c then queues the reply; the completion callback writes the
 * access log line (log.c) and frees the request.  The server names no
 * handler: the table and the handlers' context come from the caller.
 */
#ifndef ORDERD_SERVER_H
#define ORDERD_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "orderd/base/config.h"
#include "orderd/http/router.h"

typedef struct server server;

/* What a gate decided. */
typedef enum gate_verdict {
    GATE_PASS,      /* run the route now */
    GATE_ANSWERED,  /* req->reply is set (401, 429, ...): send it */
    GATE_HANDED_ON, /* req is suspended on another thread, which ends with
                     * request_resume_pass (run the route) or, with the
                     * reply set, request_resume */
} gate_verdict;

/*
 * Runs on the polling thread before the handler of every matched row
 * that is not `ungated`: authentication and rate limits.  It may set
 * reply headers a passing request keeps (RateLimit) and fill
 * req->gate_state for the handlers.  ctx is the handlers' context.
 */
typedef gate_verdict request_gate(void *ctx, request *req);

typedef struct server_options {
    const orderd_config *cfg; /* listen, threads, limits, timeouts, access log */
    const route *routes;      /* the route table (router.h) */
    size_t route_count;
    void *handler_ctx;  /* passed to every handler */
    request_gate *gate; /* NULL: every request goes straight to its route */
} server_options;

/*
 * Starts listening.  Everything opts points to is borrowed until
 * server_destroy; opts itself only during the call.  NULL (after logging
 * why) when the table is malformed or the port cannot be bound.
 */
server *server_start(const server_options *opts);

/*
 * A reload: requests that start from now on take cfg's request_timeout_ms
 * and access_log (the rest of cfg is ignored; cfg is read during the call
 * only).  Safe while the server runs: both are atomics.
 */
void server_set_live(server *srv, const orderd_config *cfg);

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
