/*
 * router.c - the route table.  Four paths do not need a trie; a switch on
 * the path keeps routing to a few string compares per request.
 */
#include "orderd/http/router.h"

#include <string.h>

#include "orderd/base/parse.h"

typedef struct route_def {
    const char *pattern;
    const char *allow;
    unsigned methods; /* bit per http_method */
} route_def;

#define M(m) (1u << (m))

static const route_def routes[ROUTE_COUNT] = {
    [ROUTE_NONE] = {"", "", 0},
    [ROUTE_ORDERS] = {"/orders", "GET, HEAD, POST", M(HTTP_GET) | M(HTTP_HEAD) | M(HTTP_POST)},
    [ROUTE_ORDER] = {"/orders/:id", "GET, HEAD, PATCH, DELETE",
                     M(HTTP_GET) | M(HTTP_HEAD) | M(HTTP_PATCH) | M(HTTP_DELETE)},
    [ROUTE_HEALTHZ] = {"/healthz", "GET, HEAD", M(HTTP_GET) | M(HTTP_HEAD)},
    [ROUTE_READYZ] = {"/readyz", "GET, HEAD", M(HTTP_GET) | M(HTTP_HEAD)},
    [ROUTE_METRICS] = {"/metrics", "GET, HEAD", M(HTTP_GET) | M(HTTP_HEAD)},
};

static route_id route_of_path(const char *path, const char **id_text)
{
    static const char orders_prefix[] = "/orders/";
    *id_text = NULL;
    if (strcmp(path, "/orders") == 0)
        return ROUTE_ORDERS;
    if (strncmp(path, orders_prefix, sizeof orders_prefix - 1) == 0) {
        const char *rest = path + sizeof orders_prefix - 1;
        /* "/orders/1/items" is no route of ours; "/orders/" has an empty id */
        if (strchr(rest, '/') != NULL)
            return ROUTE_NONE;
        *id_text = rest;
        return ROUTE_ORDER;
    }
    if (strcmp(path, "/healthz") == 0)
        return ROUTE_HEALTHZ;
    if (strcmp(path, "/readyz") == 0)
        return ROUTE_READYZ;
    if (strcmp(path, "/metrics") == 0)
        return ROUTE_METRICS;
    return ROUTE_NONE;
}

route_match router_match(http_method method, const char *path, route_id *route, int64_t *id)
{
    const char *id_text;
    *route = route_of_path(path, &id_text);
    if (*route == ROUTE_NONE)
        return ROUTE_NOT_FOUND;
    if (!(routes[*route].methods & M(method)))
        return ROUTE_METHOD_NOT_ALLOWED;
    if (*route == ROUTE_ORDER && !parse_positive_i64(id_text, id))
        return ROUTE_BAD_ID;
    return ROUTE_MATCHED;
}

const char *route_pattern(route_id route)
{
    return (unsigned)route < ROUTE_COUNT ? routes[route].pattern : "";
}

const char *route_allow(route_id route)
{
    return (unsigned)route < ROUTE_COUNT ? routes[route].allow : "";
}

http_method http_method_parse(const char *method)
{
    static const struct {
        const char *name;
        http_method method;
    } names[] = {
        {"GET", HTTP_GET}, {"HEAD", HTTP_HEAD},   {"POST", HTTP_POST},
        {"PUT", HTTP_PUT}, {"PATCH", HTTP_PATCH}, {"DELETE", HTTP_DELETE},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(method, names[i].name) == 0)
            return names[i].method;
    return HTTP_OTHER;
}
