/*
 * request_trace.c - traceparent and tracestate in and out (see
 * request_trace.h).
 */
#include "orderd/http/request_trace.h"

#include <microhttpd.h>

void request_trace_begin(request *req, const char *traceparent, const char *tracestate)
{
    trace_start(&req->trace, traceparent);
    req->tracestate = NULL;
    /* only the first tracestate header: libmicrohttpd keeps each line
     * apart, and a caller that splits the list is rare */
    if (req->trace.parent_id[0] != '\0' && trace_tracestate_valid(tracestate))
        req->tracestate = tracestate;
    req->log = (log_tag){.request_id = req->request_id, .trace = &req->trace};
}

void request_trace_add_headers(const request *req, struct MHD_Response *resp)
{
    char traceparent[TRACEPARENT_LEN + 1];
    trace_format_traceparent(&req->trace, traceparent);
    MHD_add_response_header(resp, "traceparent", traceparent);
    if (req->tracestate)
        MHD_add_response_header(resp, "tracestate", req->tracestate);
}
