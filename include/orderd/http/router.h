/*
 * router.h - method + path -> route.  Pure: no I/O, no allocation.
 */
#ifndef ORDERD_ROUTER_H
#define ORDERD_ROUTER_H

#include <stdint.h>

#include "orderd/http/request.h"

typedef enum route_id {
    ROUTE_NONE = 0, /* no such path: 404 */
    ROUTE_ORDERS,   /* /orders */
    ROUTE_ORDER,    /* /orders/:id */
    ROUTE_HEALTHZ,
    ROUTE_READYZ,
    ROUTE_METRICS,
    ROUTE_COUNT
} route_id;

typedef enum route_match {
    ROUTE_MATCHED = 0,
    ROUTE_NOT_FOUND,          /* 404 */
    ROUTE_METHOD_NOT_ALLOWED, /* 405, see route_allow() */
    ROUTE_BAD_ID,             /* 400: /orders/<not a positive int64> */
} route_match;

/*
 * Matches path (already percent-decoded, without the query string).
 * *route is set whenever the path is known (also for 405 and bad ids);
 * *id is set for ROUTE_ORDER.
 */
route_match router_match(http_method method, const char *path, route_id *route, int64_t *id);

/* Pattern for logs, e.g. "/orders/:id"; "" for ROUTE_NONE. */
const char *route_pattern(route_id route);
/* Allow header value, e.g. "GET, HEAD, POST". */
const char *route_allow(route_id route);

/* Maps libmicrohttpd's method string to http_method. */
http_method http_method_parse(const char *method);

#endif
