/*
 * metrics.h - process-wide counters, served as Prometheus text at /metrics.
 *
 * Relaxed atomics: counting must cost next to nothing on the hot path,
 * and readers only need eventually-consistent totals.
 */
#ifndef ORDERD_METRICS_H
#define ORDERD_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef enum metric_id {
    METRIC_DB_ORDER_READS = 0, /* single-order reads sent to PostgreSQL */
    METRIC_DB_LIST_READS,
    METRIC_CACHE_HITS,
    METRIC_CACHE_MISSES,
    METRIC_CACHE_BYPASSES,
    METRIC_CACHE_FILLS,         /* fills Redis accepted */
    METRIC_CACHE_FILLS_REFUSED, /* fills refused: a newer version or tombstone was there */
    METRIC_CACHE_EARLY_REFRESHES,
    METRIC_SHARED_READS, /* misses answered by a read another request of the batch caused */
    METRIC_LIST_CACHE_HITS,
    METRIC_LIST_CACHE_MISSES,
    METRIC_INVALIDATIONS_PUSHED,   /* changes applied from notifications */
    METRIC_INVALIDATIONS_REPLAYED, /* changes applied from the log (catch-up) */
    METRIC_AUTH_FAILURES,          /* requests answered 401 */
    METRIC_AUTH_TOKENS_VERIFIED,   /* signature checks (token cache misses) */
    METRIC_RATE_LIMITED,           /* requests answered 429 */
    METRIC_RATE_LIMIT_LEASES,      /* rate-limit budget leased from Redis (script calls) */
    METRIC_RATE_LIMIT_FALLBACKS,   /* decisions by the in-process limiter: Redis unreachable */
    METRIC_COUNT
} metric_id;

extern atomic_uint_fast64_t metrics_counters[METRIC_COUNT];

static inline void metric_inc(metric_id id)
{
    atomic_fetch_add_explicit(&metrics_counters[id], 1, memory_order_relaxed);
}

uint64_t metric_get(metric_id id);

/*
 * orderd_invalidation_lag_seconds: from the changing statement in
 * PostgreSQL (its clock) to the change applied in this process (ours).
 * Fixed buckets, relaxed atomics: one call per notification.
 */
void metrics_observe_invalidation_lag_us(int64_t lag_us);

/* Values owned by other modules, read when /metrics is asked. */
typedef struct metrics_gauges {
    int cache_up; /* 1 up, 0 bypassed, -1 no Redis configured */
    int db_healthy;
    int db_in_use;
    uint64_t hot_hits; /* answered from the in-process cache */
    uint64_t hot_entries;
    int invalidation_state; /* change feed: 0 down, 1 catching up, 2 caught up, -1 none */
} metrics_gauges;

/* Renders every counter plus the gauges as Prometheus text into a
 * malloc'd buffer (caller frees). */
char *metrics_render(const metrics_gauges *g, size_t *len);

#endif
