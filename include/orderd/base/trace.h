/*
 * trace.h - W3C Trace Context (https://www.w3.org/TR/trace-context/):
 * the ids that tie one request's log lines, response headers and SQL to
 * a distributed trace.  Pure: parsing and formatting, ids from
 * base/random.h.
 *
 * Each request is one span.  It continues the caller's trace when the
 * request carries a valid `traceparent`, or starts a new trace when it
 * carries none or an invalid one; either way it gets a new span id of
 * its own, which the response's `traceparent` names.
 */
#ifndef ORDERD_TRACE_H
#define ORDERD_TRACE_H

#include <stdbool.h>
#include <stddef.h>

#define TRACE_ID_HEX    32
#define TRACE_SPAN_HEX  16
#define TRACEPARENT_LEN 55 /* "00-" trace "-" span "-" flags */
#define TRACESTATE_MAX  512

typedef struct trace_context {
    char trace_id[TRACE_ID_HEX + 1];    /* lowercase hex, never all zeros */
    char span_id[TRACE_SPAN_HEX + 1];   /* this request's span */
    char parent_id[TRACE_SPAN_HEX + 1]; /* the caller's span; "" when the trace starts here */
    bool sampled;                       /* the caller's sampled flag; true for a new trace */
} trace_context;

/*
 * Parses a traceparent header value into trace_id, parent_id and sampled
 * (span_id untouched).  False, *out untouched, when it is not valid:
 * version 00 must be exactly 55 characters; a later version at least 55,
 * with a '-' after them if longer (its extra fields are ignored, as the
 * specification asks); version ff, uppercase hex, and all-zero ids are
 * invalid.  NULL is invalid.
 */
bool trace_parse_traceparent(const char *value, trace_context *out);

/*
 * The context of a request that arrived with header traceparent (NULL
 * when absent): the caller's trace when valid, else a new trace; a new
 * span id either way.
 */
void trace_start(trace_context *t, const char *traceparent);

/* Writes "00-<trace_id>-<span_id>-<flags>" and a NUL into out. */
void trace_format_traceparent(const trace_context *t, char out[TRACEPARENT_LEN + 1]);

/*
 * Is value a tracestate we may carry on: at most TRACESTATE_MAX bytes of
 * printable ASCII, with at least one list member?  (The members are
 * other vendors'; we pass them through without reading them.)
 */
bool trace_tracestate_valid(const char *value);

#endif
