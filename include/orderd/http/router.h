/*
 * router.h - the route table, and matching a request against it.
 *
 * A table is an array of rows: one method, one path pattern, the handler,
 * and how the server runs it.  The http layer names no handler: the api
 * layer owns the table (api/routes.h) and hands it to server_start.
 * Matching allocates nothing and does no I/O.
 */
#ifndef ORDERD_ROUTER_H
#define ORDERD_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orderd/http/request.h"

/* How the server runs a row's handler. */
typedef enum route_mode {
    /* On the polling thread: the handler fills the reply and does no I/O. */
    ROUTE_INLINE,
    /* On an I/O worker (request_run_on_worker): the handler may block. */
    ROUTE_ON_WORKER,
    /* On the polling thread: the handler fills the reply at once (no I/O),
     * or hands req on (request_suspend, request_run_on_worker) and the
     * thread that gets it calls request_resume when the reply is ready. */
    ROUTE_SELF_SCHEDULED,
} route_mode;

typedef struct route {
    http_method method; /* a GET row also answers HEAD, unless a HEAD row exists */
    /* literal segments and at most one ":id" segment, which must be a
     * positive int64 (request.path_id); e.g. "/orders/:id" */
    const char *pattern;
    request_handler *handler;
    route_mode mode;
    /* patterns with ":id": the 400's detail when the segment is no id */
    const char *bad_id_detail;
    /* true: the server's gate (server.h) is not asked, e.g. health checks */
    bool ungated;
} route;

typedef enum route_status {
    ROUTE_MATCHED = 0,
    ROUTE_NOT_FOUND,          /* 404 */
    ROUTE_METHOD_NOT_ALLOWED, /* 405, see route_match.allow */
    ROUTE_BAD_ID,             /* 400, see route_match.route->bad_id_detail */
} route_status;

typedef struct route_match {
    const route *route;  /* the row, for ROUTE_MATCHED and ROUTE_BAD_ID; else NULL */
    const char *pattern; /* the path's pattern, for logs; "" when not found */
    const char *allow;   /* the path's methods, e.g. "GET, HEAD, POST"; "" when not found */
    int64_t id;          /* the ":id" segment, for ROUTE_MATCHED; else 0 */
} route_match;

typedef struct router router;

/*
 * Checks a table and indexes it by pattern.  routes is borrowed until
 * router_destroy (normally it is a static table).  NULL with *why set to
 * a static message when a row is malformed or repeated, or out of memory.
 */
router *router_create(const route *routes, size_t count, const char **why);
/* NULL-safe. */
void router_destroy(router *r);

/*
 * Matches path (already percent-decoded, without the query string): the
 * path's pattern first (404), then the method (405), then the id (400).
 * The strings in *out live as long as the router.
 */
route_status router_match(const router *r, http_method method, const char *path, route_match *out);

/* The table's distinct patterns, in the order of each one's first row:
 * route_match.pattern is always one of these pointers (or ""). */
size_t router_pattern_count(const router *r);
const char *router_pattern(const router *r, size_t index);

/* Maps libmicrohttpd's method string to http_method. */
http_method http_method_parse(const char *method);
/* "GET", "HEAD", ... ; "OTHER" for HTTP_OTHER. */
const char *http_method_name(http_method m);

#endif
