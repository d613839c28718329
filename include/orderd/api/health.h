/*
 * health.h - /healthz (liveness, no I/O: answered on the polling thread),
 * /readyz (readiness: one PostgreSQL round trip, on a worker) and
 * /metrics (counters, no I/O: polling thread).
 */
#ifndef ORDERD_HEALTH_H
#define ORDERD_HEALTH_H

#include "orderd/api/app.h"
#include "orderd/http/request.h"

void health_live(app *application, request *req);
void health_ready(app *application, request *req);
void health_metrics(app *application, request *req);

#endif
