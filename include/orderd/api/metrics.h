/*
 * metrics.h (api) - GET /metrics: the counters of base/metrics.h plus the
 * gauges other modules own, as Prometheus text.  No I/O, so it is
 * answered on the polling thread.
 */
#ifndef ORDERD_API_METRICS_H
#define ORDERD_API_METRICS_H

#include "orderd/api/app.h"
#include "orderd/http/request.h"

void metrics_api_get(app *application, request *req);

#endif
