/*
 * health.h - /healthz (liveness, no I/O: answered on the polling thread)
 * and /readyz (readiness: one PostgreSQL round trip, on a worker).
 */
#ifndef ORDERD_HEALTH_H
#define ORDERD_HEALTH_H

#include "orderd/api/app.h"
#include "orderd/http/request.h"

void health_live(app *application, request *req);
void health_ready(app *application, request *req);

#endif
