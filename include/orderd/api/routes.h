/*
 * routes.h - every route orderd answers: the table server_start runs
 * (http/router.h).  Every handler in it takes the app (api/app.h) as its
 * ctx.
 *
 * Adding a route is one row in routes.c and one handler in its own file
 * under src/api/.
 */
#ifndef ORDERD_ROUTES_H
#define ORDERD_ROUTES_H

#include <stddef.h>

#include "orderd/http/router.h"

extern const route api_routes[];
extern const size_t api_route_count;

#endif
