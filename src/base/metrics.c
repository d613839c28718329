/*
 * metrics.c - the counters behind /metrics.
 */
#include "orderd/base/metrics.h"

#include <stdio.h>
#include <stdlib.h>

atomic_uint_fast64_t metrics_counters[METRIC_COUNT];

static const struct {
    const char *name;
    const char *help;
} metric_names[METRIC_COUNT] = {
    [METRIC_DB_ORDER_READS] = {"orderd_db_order_reads_total",
                               "Single-order reads sent to PostgreSQL"},
    [METRIC_DB_LIST_READS] = {"orderd_db_list_reads_total", "List queries sent to PostgreSQL"},
    [METRIC_CACHE_HITS] = {"orderd_cache_hits_total", "Order reads answered from Redis"},
    [METRIC_CACHE_MISSES] = {"orderd_cache_misses_total", "Order reads Redis could not answer"},
    [METRIC_CACHE_BYPASSES] = {"orderd_cache_bypasses_total",
                               "Order reads that skipped Redis (down or not configured)"},
    [METRIC_CACHE_FILLS] = {"orderd_cache_fills_total", "Cache fills Redis accepted"},
    [METRIC_CACHE_FILLS_REFUSED] = {"orderd_cache_fills_refused_total",
                                    "Cache fills refused because a newer version was cached"},
    [METRIC_CACHE_EARLY_REFRESHES] = {"orderd_cache_early_refreshes_total",
                                      "Hits that refreshed the entry early (XFetch)"},
    [METRIC_SHARED_READS] = {"orderd_shared_reads_total",
                             "Misses answered by a PostgreSQL read another request caused"},
    [METRIC_LIST_CACHE_HITS] = {"orderd_list_cache_hits_total", "List reads answered from Redis"},
    [METRIC_LIST_CACHE_MISSES] = {"orderd_list_cache_misses_total",
                                  "List reads Redis could not answer"},
};

uint64_t metric_get(metric_id id)
{
    return atomic_load_explicit(&metrics_counters[id], memory_order_relaxed);
}

char *metrics_render(const metrics_gauges *g, size_t *len)
{
    size_t cap = 4096;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    size_t n = 0;
    for (int i = 0; i < METRIC_COUNT; i++)
        n += (size_t)snprintf(out + n, cap - n, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n",
                              metric_names[i].name, metric_names[i].help, metric_names[i].name,
                              metric_names[i].name, (unsigned long long)metric_get((metric_id)i));
    n += (size_t)snprintf(out + n, cap - n,
                          "# HELP orderd_cache_up 1 when Redis is in use, 0 when bypassed, -1 "
                          "when not configured\n# TYPE orderd_cache_up gauge\norderd_cache_up %d\n"
                          "# TYPE orderd_db_connections_healthy gauge\n"
                          "orderd_db_connections_healthy %d\n"
                          "# TYPE orderd_db_connections_in_use gauge\n"
                          "orderd_db_connections_in_use %d\n"
                          "# HELP orderd_hot_cache_hits_total Reads answered from process memory\n"
                          "# TYPE orderd_hot_cache_hits_total counter\n"
                          "orderd_hot_cache_hits_total %llu\n"
                          "# TYPE orderd_hot_cache_entries gauge\n"
                          "orderd_hot_cache_entries %llu\n",
                          g->cache_up, g->db_healthy, g->db_in_use, (unsigned long long)g->hot_hits,
                          (unsigned long long)g->hot_entries);
    *len = n < cap ? n : cap - 1;
    return out;
}
