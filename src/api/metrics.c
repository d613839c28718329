/*
 * metrics.c (api) - GET /metrics.  The counters live in base/metrics.c;
 * this handler only gathers the gauges owned by the pool, the store and
 * the hot cache, and replies.
 */
#include "orderd/api/metrics.h"

#include <string.h>

#include "orderd/api/app.h"
#include "orderd/base/metrics.h"
#include "orderd/http/problem.h"

void metrics_api_get(void *ctx, request *req)
{
    app *application = ctx;
    const char *redis = order_store_cache_state(application->store);
    metrics_gauges gauges = {
        .cache_up = strcmp(redis, "off") == 0 ? -1 : strcmp(redis, "up") == 0,
        .db_healthy = db_pool_healthy_count(application->db),
        .db_in_use = db_pool_in_use(application->db),
        .hot_hits = application->hot ? hot_cache_hits(application->hot) : 0,
        .hot_entries = application->hot ? hot_cache_size(application->hot) : 0,
    };
    order_store_invalidation_state(application->store, &gauges.invalidation_state);
    size_t len = 0;
    char *body = metrics_render(&gauges, &len);
    if (!body) {
        problem_reply(req, 500, "out of memory", NULL);
        return;
    }
    request_reply_json(req, 200, body, len);
    req->reply.content_type = "text/plain; version=0.0.4";
}
