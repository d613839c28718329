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
#include "orderd/http/request_metrics.h"

void metrics_api_get(void *ctx, request *req)
{
    app *application = ctx;
    const char *redis = order_store_cache_state(application->store);
    metrics_gauges gauges = {
        .cache_up = strcmp(redis, "off") == 0 ? -1 : strcmp(redis, "up") == 0,
        .db_healthy = db_pool_healthy_count(application->db),
        .db_in_use = db_pool_in_use(application->db),
        .db_waiting = db_pool_waiting(application->db),
        .db_size = db_pool_size(application->db),
        .hot_entries = application->hot ? hot_cache_size(application->hot) : 0,
    };
    if (application->hot_lists) {
        size_t pages, bytes;
        hot_lists_usage(application->hot_lists, &pages, &bytes);
        gauges.hot_list_pages = pages;
        gauges.hot_list_bytes = bytes;
    }
    order_store_invalidation_state(application->store, &gauges.invalidation_state);
    buf body = BUF_INIT;
    metrics_render(&body, &gauges);
    request_metrics_render(&body);
    size_t len = 0;
    char *text = buf_steal(&body, &len);
    if (!text) {
        problem_reply(req, 500, "out of memory", NULL);
        return;
    }
    request_reply_json(req, 200, text, len);
    req->reply.content_type = "text/plain; version=0.0.4; charset=utf-8";
}
