/*
 * request_headers.h - the request header fields orderd reads, found in
 * one pass over libmicrohttpd's list.  Each MHD_lookup_connection_value
 * walks the whole list again; ten of them were a tenth of orderd's own
 * instructions on a cached GET.
 *
 * As with MHD_lookup_connection_value, names match without regard to
 * case and the first field of a name wins.  The values are
 * libmicrohttpd's: valid until the request completes.  NULL = absent.
 */
#ifndef ORDERD_REQUEST_HEADERS_H
#define ORDERD_REQUEST_HEADERS_H

struct MHD_Connection;

typedef struct request_headers {
    const char *request_id; /* X-Request-ID */
    const char *traceparent;
    const char *tracestate;
    const char *if_none_match;
    const char *if_match;
    const char *idempotency_key;
    const char *cache_control;
    const char *content_type;
    const char *authorization;
    const char *forwarded_for; /* X-Forwarded-For */
    const char *accept;
} request_headers;

/* Fills *out from conn's request header fields. */
void request_headers_read(struct MHD_Connection *conn, request_headers *out);

#endif
