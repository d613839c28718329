/*
 * metrics.h - the counters and histograms behind /metrics, as Prometheus
 * text.
 *
 * Recording costs no lock and no shared cache line: every metric is a run
 * of 64-bit cells in a *family*, and each thread that records gets its own
 * copy of a family's cells on its first record.  Only that thread writes
 * its copy (a relaxed load and store, a plain add on x86); a scrape sums
 * the copies under the family's lock, plus what exited threads left
 * behind (folded in when a thread exits, so totals never go down).
 */
#ifndef ORDERD_METRICS_H
#define ORDERD_METRICS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct buf; /* base/buf.h */

/* ---- families of per-thread cells ---------------------------------------- */

#define METRICS_FAMILIES_MAX 8

typedef atomic_uint_fast64_t metrics_cell;

/*
 * One family.  Its fields are metrics.c's: the header shows them only so
 * metrics_cells() can stay inline.
 */
typedef struct metrics_family {
    int index; /* into metrics_thread_cells */
    size_t cells;
    struct metrics_block *threads; /* every live thread's copy, under lock */
    uint64_t *retired;             /* what exited threads counted, under lock */
    metrics_cell *sink;            /* shared scratch when a copy cannot be allocated */
    pthread_mutex_t lock;
} metrics_family;

/*
 * A family of cells cells wide, alive until the process exits (families
 * are few and static).  NULL when METRICS_FAMILIES_MAX are in use or out
 * of memory.  Create it before any thread records (start-up).
 */
metrics_family *metrics_family_create(size_t cells);

extern _Thread_local metrics_cell *metrics_thread_cells[METRICS_FAMILIES_MAX];
/* Out of line: the calling thread's first record in f. */
metrics_cell *metrics_thread_attach(metrics_family *f);

/* The calling thread's cells of f (never NULL: out of memory, a shared
 * scratch copy whose counts are lost). */
static inline metrics_cell *metrics_cells(metrics_family *f)
{
    metrics_cell *c = metrics_thread_cells[f->index];
    return c ? c : metrics_thread_attach(f);
}

/* Adds n to a cell of the calling thread's own copy. */
static inline void metrics_cell_add(metrics_cell *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* Sums every thread's copy of f (live and exited) into out[0..cells). */
void metrics_family_sum(metrics_family *f, uint64_t *out);

/* ---- histograms over cells ------------------------------------------------- */

/*
 * Fixed upper bounds, ascending, in the unit observations are recorded in
 * (nanoseconds, items...); scale turns that unit into the exported base
 * unit (1e-9 for seconds from nanoseconds, 1 for counts).  A histogram
 * takes count + 2 cells: one per bound, +Inf, then the sum.
 */
typedef struct metrics_buckets {
    const uint64_t *bounds;
    size_t count;
    double scale;
} metrics_buckets;

#define METRICS_HISTOGRAM_CELLS(b) ((b)->count + 2)

static inline void metrics_observe(metrics_cell *cells, const metrics_buckets *b, uint64_t value)
{
    size_t i = 0;
    while (i < b->count && value > b->bounds[i])
        i++;
    metrics_cell_add(&cells[i], 1);
    metrics_cell_add(&cells[b->count + 1], value);
}

/*
 * Appends one histogram's _bucket, _sum and _count lines for summed cells
 * (metrics_family_sum).  labels: NULL or `key="value"` pairs without
 * braces, e.g. "route=\"/orders\"".  HELP and TYPE are the caller's.
 */
void metrics_render_histogram(struct buf *out, const char *name, const char *labels,
                              const metrics_buckets *b, const uint64_t *cells);

/* Appends "# HELP name help\n# TYPE name type\n". */
void metrics_render_header(struct buf *out, const char *name, const char *type, const char *help);

/* ---- the process's own counters -------------------------------------------- */

typedef enum metric_id {
    METRIC_DB_ORDER_READS = 0, /* single-order reads sent to PostgreSQL */
    METRIC_DB_LIST_READS,
    METRIC_CACHE_HITS,
    METRIC_CACHE_MISSES,
    METRIC_CACHE_BYPASSES,
    METRIC_CACHE_LOOKUPS_SKIPPED, /* reads that did not ask Redis: it answered,
                                     and would answer, too few (lookup_policy.h) */
    METRIC_CACHE_FILLS,           /* fills Redis accepted */
    METRIC_CACHE_FILLS_REFUSED,   /* fills refused: a newer version or tombstone was there */
    METRIC_CACHE_EARLY_REFRESHES,
    METRIC_SHARED_READS, /* misses answered by a read another request of the batch caused */
    METRIC_LIST_CACHE_HITS,
    METRIC_LIST_LOOKUP_BATCHES,
    METRIC_LIST_CACHE_MISSES,
    METRIC_INVALIDATIONS_PUSHED,         /* changes applied from notifications */
    METRIC_INVALIDATIONS_REPLAYED,       /* changes applied from the log (catch-up) */
    METRIC_INVALIDATIONS_OWN,            /* this process's own writes, seen and not applied */
    METRIC_HOT_CACHE_HITS,               /* answered from process memory */
    METRIC_HOT_CACHE_EVICTIONS_CAPACITY, /* the oldest entry made room for a new one */
    METRIC_HOT_CACHE_EVICTIONS_AGE,      /* an entry past its maximum age was dropped */
    METRIC_HOT_CACHE_ADMISSIONS_REFUSED, /* a first miss not put in a full hot cache */
    METRIC_HOT_LIST_HITS,                /* a list page answered from process memory */
    METRIC_HOT_LIST_EVICTIONS,           /* the oldest list page made room for a new one */
    METRIC_HOT_LIST_GATE_CLOSED,    /* a list page held back while an invalidation was pending */
    METRIC_HOT_LIST_EXPIRED,        /* a list page found older than the max age */
    METRIC_HOT_LIST_REFRESHES,      /* a page near its max age read again in the background */
    METRIC_DB_ACQUIRE_TIMEOUTS,     /* no pool connection came free in time */
    METRIC_REDIS_BREAKER_OPENED,    /* breaker transitions closed -> open */
    METRIC_REDIS_BREAKER_CLOSED,    /* breaker transitions open -> closed */
    METRIC_REDIS_FAILED_TIMEOUT,    /* a command got no reply within redis_command_timeout_ms */
    METRIC_REDIS_FAILED_CONNECTION, /* no connection, or it broke mid-command */
    METRIC_REDIS_FAILED_REPLY,      /* Redis answered with an error */
    METRIC_CHANGE_FEED_LOSSES,      /* the change feed lost its session: caches bypassed */
    METRIC_AUTH_FAILURES,           /* requests answered 401 */
    METRIC_AUTH_TOKENS_VERIFIED,    /* signature checks (token cache misses) */
    METRIC_RATE_LIMITED,            /* requests answered 429 */
    METRIC_RATE_LIMIT_LEASES,       /* rate-limit budget leased from Redis (script calls) */
    METRIC_RATE_LIMIT_FALLBACKS,    /* decisions by the in-process limiter: Redis unreachable */
    METRIC_WRITE_STANDBY_BATCHES,   /* writer batches a standby thread took (batch_queue.h) */
    METRIC_AMEND_STANDBY_BATCHES,   /* the same for the amender */
    METRIC_COUNT
} metric_id;

typedef enum metric_histogram_id {
    HISTOGRAM_INVALIDATION_LAG = 0, /* microseconds */
    HISTOGRAM_READ_LOOKUP_BATCH,    /* jobs per Redis lookup of the batched reader */
    HISTOGRAM_READ_LOAD_BATCH,      /* jobs per PostgreSQL read of the batched reader */
    HISTOGRAM_WRITE_BATCH,          /* orders per group commit of the batched writer */
    HISTOGRAM_AMEND_BATCH,          /* PATCHes and DELETEs per group commit of the amender */
    HISTOGRAM_LIST_LOAD_BATCH,      /* list pages per PostgreSQL statement of the list loader */
    HISTOGRAM_COUNT
} metric_histogram_id;

/* The family of the counters and histograms above (static: usable at once). */
extern metrics_family metrics_core_family;
#define metrics_core (&metrics_core_family)
extern const size_t metrics_histogram_offset[HISTOGRAM_COUNT];
extern const metrics_buckets metrics_histogram_buckets[HISTOGRAM_COUNT];

static inline void metric_inc(metric_id id)
{
    metrics_cell_add(&metrics_cells(metrics_core)[id], 1);
}

static inline void metric_observe(metric_histogram_id h, uint64_t value)
{
    metrics_observe(metrics_cells(metrics_core) + metrics_histogram_offset[h],
                    &metrics_histogram_buckets[h], value);
}

/* Summed over every thread. */
uint64_t metric_get(metric_id id);

/*
 * orderd_invalidation_lag_seconds: from the changing statement in
 * PostgreSQL (its clock) to the change applied in this process (ours).
 */
void metrics_observe_invalidation_lag_us(int64_t lag_us);

/* Values owned by other modules, read when /metrics is asked. */
typedef struct metrics_gauges {
    int cache_up; /* 1 up, 0 bypassed, -1 no Redis configured */
    int db_healthy;
    int db_in_use;
    int db_waiting; /* threads waiting in acquire */
    int db_size;    /* the pool's connections */
    uint64_t hot_entries;
    uint64_t hot_list_pages, hot_list_bytes;
    int invalidation_state; /* change feed: 0 down, 1 catching up, 2 caught up, -1 none */
} metrics_gauges;

/* Appends every counter and histogram of this module plus the gauges. */
void metrics_render(struct buf *out, const metrics_gauges *g);

#endif
