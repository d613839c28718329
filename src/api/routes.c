/*
 * routes.c - the route table (see routes.h and http/router.h).
 *
 * Reads of one order, lists, creates, PATCH and DELETE are
 * self-scheduled: the hot cache or bad input answers them on the polling
 * thread, the batched reader, list reader, writer and amender take the
 * rest (a list Redis does not hold goes on to an I/O worker).  Whatever
 * else touches PostgreSQL runs on an I/O worker; what needs no I/O stays
 * inline.
 *
 * Every row is an operation of api/openapi.json: tests/unit/test_openapi.c
 * fails when a row and the document disagree.  Every row but the
 * probes, the contract and the docs page passes the gate first
 * (api/auth_gate.h).
 */
#include "orderd/api/routes.h"

#include "orderd/api/docs.h"
#include "orderd/api/health.h"
#include "orderd/api/metrics.h"
#include "orderd/api/openapi.h"
#include "orderd/api/orders_api.h"

#define ORDER_ID_DETAIL "the order id must be a positive 64-bit integer"

/* method, pattern, handler, how it runs, the 400 for a bad ":id", and
 * whether the gate (auth_gate.c: token, rate limit) is skipped */
const route api_routes[] = {
    {HTTP_GET, "/orders", orders_api_list, ROUTE_SELF_SCHEDULED, NULL, false},
    {HTTP_POST, "/orders", orders_api_create, ROUTE_SELF_SCHEDULED, NULL, false},
    {HTTP_GET, "/orders/:id", orders_api_get, ROUTE_SELF_SCHEDULED, ORDER_ID_DETAIL, false},
    {HTTP_PATCH, "/orders/:id", orders_api_patch, ROUTE_SELF_SCHEDULED, ORDER_ID_DETAIL, false},
    {HTTP_DELETE, "/orders/:id", orders_api_delete, ROUTE_SELF_SCHEDULED, ORDER_ID_DETAIL, false},
    /* probes, scrapers and readers of the contract carry no token, and are never rate limited */
    {HTTP_GET, "/healthz", health_live, ROUTE_INLINE, NULL, true},
    {HTTP_GET, "/readyz", health_ready, ROUTE_ON_WORKER, NULL, true},
    {HTTP_GET, "/metrics", metrics_api_get, ROUTE_INLINE, NULL, true},
    {HTTP_GET, "/openapi.json", openapi_api_get, ROUTE_INLINE, NULL, true},
    {HTTP_GET, "/docs", docs_api_page, ROUTE_INLINE, NULL, true},
    {HTTP_GET, "/docs/redoc.standalone.js", docs_api_script, ROUTE_INLINE, NULL, true},
};

const size_t api_route_count = sizeof api_routes / sizeof api_routes[0];
