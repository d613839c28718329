/*
 * health.h - /healthz (liveness, no I/O: answered on the polling thread)
 * and /readyz (readiness: one PostgreSQL round trip, on a worker).  Rows
 * of the route table (api/routes.c); ctx is the app (api/app.h).
 */
#ifndef ORDERD_HEALTH_H
#define ORDERD_HEALTH_H

#include "orderd/http/request.h"

void health_live(void *ctx, request *req);
void health_ready(void *ctx, request *req);

#endif
