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
    [METRIC_INVALIDATIONS_PUSHED] = {"orderd_invalidations_pushed_total",
                                     "Order changes applied from PostgreSQL notifications"},
    [METRIC_INVALIDATIONS_REPLAYED] = {"orderd_invalidations_replayed_total",
                                       "Order changes applied from the change log (catch-up)"},
    [METRIC_AUTH_FAILURES] = {"orderd_auth_failures_total",
                              "Requests refused 401: missing or invalid bearer token"},
    [METRIC_AUTH_TOKENS_VERIFIED] = {"orderd_auth_tokens_verified_total",
                                     "Token signatures checked (verified-token cache misses)"},
    [METRIC_RATE_LIMITED] = {"orderd_rate_limited_total", "Requests refused 429 by a rate limit"},
    [METRIC_RATE_LIMIT_LEASES] =
        {"orderd_rate_limit_leases_total",
         "Rate-limit budget requests sent to Redis (one script call each)"},
    [METRIC_RATE_LIMIT_FALLBACKS] = {"orderd_rate_limit_fallbacks_total",
                                     "Rate-limit decisions taken in-process because Redis was "
                                     "unreachable"},
};

/* upper bounds in microseconds; the last bucket is +Inf */
static const int64_t lag_bounds_us[] = {500,    1000,   2000,   5000,    10000,   25000,  50000,
                                        100000, 250000, 500000, 1000000, 2500000, 5000000};
#define LAG_BUCKETS (sizeof lag_bounds_us / sizeof lag_bounds_us[0])
static atomic_uint_fast64_t lag_counts[LAG_BUCKETS + 1];
static atomic_uint_fast64_t lag_sum_us;

void metrics_observe_invalidation_lag_us(int64_t lag_us)
{
    if (lag_us < 0)
        lag_us = 0; /* the two clocks disagree by a little: count it as instant */
    size_t b = 0;
    while (b < LAG_BUCKETS && lag_us > lag_bounds_us[b])
        b++;
    atomic_fetch_add_explicit(&lag_counts[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&lag_sum_us, (uint_fast64_t)lag_us, memory_order_relaxed);
}

/* Prometheus histogram text: cumulative buckets, then sum and count. */
static size_t render_lag(char *out, size_t cap)
{
    const char *name = "orderd_invalidation_lag_seconds";
    size_t n = (size_t)snprintf(out, cap,
                                "# HELP %s From a change's statement in PostgreSQL to its "
                                "invalidation applied in this process\n# TYPE %s histogram\n",
                                name, name);
    uint64_t cumulative = 0;
    for (size_t b = 0; b <= LAG_BUCKETS && n < cap; b++) {
        cumulative += atomic_load_explicit(&lag_counts[b], memory_order_relaxed);
        if (b < LAG_BUCKETS)
            n += (size_t)snprintf(out + n, cap - n, "%s_bucket{le=\"%g\"} %llu\n", name,
                                  (double)lag_bounds_us[b] / 1e6, (unsigned long long)cumulative);
        else
            n += (size_t)snprintf(out + n, cap - n, "%s_bucket{le=\"+Inf\"} %llu\n", name,
                                  (unsigned long long)cumulative);
    }
    if (n < cap)
        n += (size_t)snprintf(out + n, cap - n, "%s_sum %.6f\n%s_count %llu\n", name,
                              (double)atomic_load_explicit(&lag_sum_us, memory_order_relaxed) / 1e6,
                              name, (unsigned long long)cumulative);
    return n;
}

uint64_t metric_get(metric_id id)
{
    return atomic_load_explicit(&metrics_counters[id], memory_order_relaxed);
}

char *metrics_render(const metrics_gauges *g, size_t *len)
{
    size_t cap = 8192;
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
    if (n < cap)
        n += (size_t)snprintf(out + n, cap - n,
                              "# HELP orderd_invalidation_feed_state PostgreSQL change feed: 2 "
                              "caught up, 1 catching up, 0 down, -1 none\n"
                              "# TYPE orderd_invalidation_feed_state gauge\n"
                              "orderd_invalidation_feed_state %d\n",
                              g->invalidation_state);
    if (n < cap)
        n += render_lag(out + n, cap - n);
    *len = n < cap ? n : cap - 1;
    return out;
}
