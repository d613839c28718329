/*
 * request_trace.h - W3C Trace Context on the wire: a request's
 * traceparent and tracestate headers in, its span's traceparent out.
 * The ids themselves are base/trace.h's.
 */
#ifndef ORDERD_REQUEST_TRACE_H
#define ORDERD_REQUEST_TRACE_H

#include "orderd/http/request.h"

struct MHD_Response;

/*
 * Sets req->trace from the request's `traceparent` (kept when valid, a
 * new trace otherwise, a new span id always), req->tracestate (carried
 * on only with a valid traceparent, as the specification asks) and
 * req->log.  Both header values may be NULL (absent); they are
 * libmicrohttpd's (request_headers.h).  On the polling thread, when the
 * request begins.
 */
void request_trace_begin(request *req, const char *traceparent, const char *tracestate);

/* Adds `traceparent` naming req's span, and the caller's `tracestate`. */
void request_trace_add_headers(const request *req, struct MHD_Response *resp);

#endif
