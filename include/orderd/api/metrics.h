/*
 * metrics.h (api) - GET /metrics: the counters of base/metrics.h plus the
 * gauges other modules own, as Prometheus text.  No I/O, so it is
 * answered on the polling thread.  A row of the route table
 * (api/routes.c); ctx is the app (api/app.h).
 */
#ifndef ORDERD_API_METRICS_H
#define ORDERD_API_METRICS_H

#include "orderd/http/request.h"

void metrics_api_get(void *ctx, request *req);

#endif
