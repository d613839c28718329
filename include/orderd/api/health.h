/*
 * health.h - /healthz (liveness, no I/O: answered on the polling thread)
 * and /readyz (readiness: one PostgreSQL round trip, on a worker).  Rows
 * of the route table (api/routes.c); ctx is the app (api/app.h).
 */
#ifndef ORDERD_HEALTH_H
#define ORDERD_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include "orderd/api/app.h"
#include "orderd/http/request.h"

void health_live(void *ctx, request *req);
void health_ready(void *ctx, request *req);

/*
 * The /readyz predicate itself, for main.c's READY=1: not draining,
 * PostgreSQL answered a ping before deadline_ns, and the caches have
 * settled (Redis state known, change feed caught up).  Blocks up to the
 * deadline.
 */
bool health_is_ready(app *application, uint64_t deadline_ns);

#endif
