/*
 * request_metrics.h - orderd_http_requests_total{route,method,status} and
 * orderd_http_request_duration_seconds{route}, counted per polling
 * thread (base/metrics.h cells) and merged only when /metrics is read.
 *
 * route is the route table's pattern ("/orders/:id"), or "unmatched" for
 * a request no row matched, so the series are bounded by the table; the
 * status is the one sent, 499 when the client left before the answer.
 */
#ifndef ORDERD_REQUEST_METRICS_H
#define ORDERD_REQUEST_METRICS_H

#include <stdint.h>

#include "orderd/base/buf.h"
#include "orderd/http/request.h"
#include "orderd/http/router.h"

#define REQUEST_METRICS_ROUTES_MAX 15

/*
 * Takes the route labels from r (borrowed until the next start; the
 * router's patterns are the route table's static strings).  -1 with *why
 * when the table has more than REQUEST_METRICS_ROUTES_MAX patterns or out
 * of memory.  Before the server serves.
 */
int request_metrics_start(const router *r, const char **why);

/* One finished request: req's route and method, the status sent and how
 * long it took.  On the thread that completes it (a polling thread). */
void request_metrics_record(const request *req, int status, uint64_t duration_ns);

/* Appends both families as Prometheus text. */
void request_metrics_render(buf *out);

#endif
