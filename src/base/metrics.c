/*
 * metrics.c - per-thread metric cells, merged at scrape; the process's
 * own counters and histograms; Prometheus text.
 *
 * A thread's copy of a family lives in a block on the family's list.  At
 * thread exit (a pthread key destructor) each of its blocks is added into
 * the family's retired totals and freed, under the family's lock, which
 * is also what a scrape holds while it reads the live blocks: a block is
 * never read after it is freed, and no count is lost or counted twice.
 */
#include "orderd/base/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orderd/base/buf.h"
#include "orderd/base/fmt.h"

typedef struct metrics_block {
    struct metrics_block *prev, *next; /* the family's threads, under its lock */
    metrics_family *family;
    metrics_cell cells[];
} metrics_block;

_Thread_local metrics_cell *metrics_thread_cells[METRICS_FAMILIES_MAX];

/* ---- the core family's layout ------------------------------------------------ */

/* invalidation lag, microseconds */
static const uint64_t lag_bounds_us[] = {500,    1000,   2000,   5000,    10000,   25000,  50000,
                                         100000, 250000, 500000, 1000000, 2500000, 5000000};
/* jobs per batch: the batches are capped by *_batch_max (at most 1024) */
static const uint64_t batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};

#define NBOUNDS(a) (sizeof(a) / sizeof(a)[0])

const metrics_buckets metrics_histogram_buckets[HISTOGRAM_COUNT] = {
    [HISTOGRAM_INVALIDATION_LAG] = {lag_bounds_us, NBOUNDS(lag_bounds_us), 1e-6},
    [HISTOGRAM_READ_LOOKUP_BATCH] = {batch_bounds, NBOUNDS(batch_bounds), 1},
    [HISTOGRAM_READ_LOAD_BATCH] = {batch_bounds, NBOUNDS(batch_bounds), 1},
    [HISTOGRAM_WRITE_BATCH] = {batch_bounds, NBOUNDS(batch_bounds), 1},
    [HISTOGRAM_AMEND_BATCH] = {batch_bounds, NBOUNDS(batch_bounds), 1},
    [HISTOGRAM_LIST_LOAD_BATCH] = {batch_bounds, NBOUNDS(batch_bounds), 1},
};

#define LAG_CELLS   (NBOUNDS(lag_bounds_us) + 2)
#define BATCH_CELLS (NBOUNDS(batch_bounds) + 2)

const size_t metrics_histogram_offset[HISTOGRAM_COUNT] = {
    [HISTOGRAM_INVALIDATION_LAG] = METRIC_COUNT,
    [HISTOGRAM_READ_LOOKUP_BATCH] = METRIC_COUNT + LAG_CELLS,
    [HISTOGRAM_READ_LOAD_BATCH] = METRIC_COUNT + LAG_CELLS + BATCH_CELLS,
    [HISTOGRAM_WRITE_BATCH] = METRIC_COUNT + LAG_CELLS + 2 * BATCH_CELLS,
    [HISTOGRAM_AMEND_BATCH] = METRIC_COUNT + LAG_CELLS + 3 * BATCH_CELLS,
    [HISTOGRAM_LIST_LOAD_BATCH] = METRIC_COUNT + LAG_CELLS + 4 * BATCH_CELLS,
};

#define CORE_CELLS (METRIC_COUNT + LAG_CELLS + 5 * BATCH_CELLS)

static uint64_t core_retired[CORE_CELLS];
static metrics_cell core_sink[CORE_CELLS];

metrics_family metrics_core_family = {
    .index = 0,
    .cells = CORE_CELLS,
    .retired = core_retired,
    .sink = core_sink,
    .lock = PTHREAD_MUTEX_INITIALIZER,
};

/* ---- families ------------------------------------------------------------------ */

static pthread_mutex_t families_lock = PTHREAD_MUTEX_INITIALIZER;
static metrics_family *families[METRICS_FAMILIES_MAX] = {&metrics_core_family};
static int family_count = 1;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;

metrics_family *metrics_family_create(size_t cells)
{
    metrics_family *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->cells = cells;
    f->retired = calloc(cells, sizeof *f->retired);
    f->sink = calloc(cells, sizeof *f->sink);
    pthread_mutex_init(&f->lock, NULL);
    pthread_mutex_lock(&families_lock);
    bool room = family_count < METRICS_FAMILIES_MAX && f->retired && f->sink;
    if (room) {
        f->index = family_count;
        families[family_count++] = f;
    }
    pthread_mutex_unlock(&families_lock);
    if (!room) {
        pthread_mutex_destroy(&f->lock);
        free(f->retired);
        free(f->sink);
        free(f);
        return NULL;
    }
    return f;
}

/* Thread exit: fold each of the thread's blocks into its family's totals. */
static void thread_exit(void *unused)
{
    (void)unused;
    for (int i = 0; i < METRICS_FAMILIES_MAX; i++) {
        metrics_cell *cells = metrics_thread_cells[i];
        if (!cells)
            continue;
        metrics_thread_cells[i] = NULL;
        metrics_block *b = (metrics_block *)((char *)cells - offsetof(metrics_block, cells));
        metrics_family *f = b->family; /* never the sink: attach does not remember it */
        pthread_mutex_lock(&f->lock);
        for (size_t c = 0; c < f->cells; c++)
            f->retired[c] += atomic_load_explicit(&cells[c], memory_order_relaxed);
        if (b->prev)
            b->prev->next = b->next;
        else
            f->threads = b->next;
        if (b->next)
            b->next->prev = b->prev;
        pthread_mutex_unlock(&f->lock);
        free(b);
    }
}

static void make_key(void)
{
    pthread_key_create(&exit_key, thread_exit);
}

metrics_cell *metrics_thread_attach(metrics_family *f)
{
    pthread_once(&key_once, make_key);
    metrics_block *b = calloc(1, sizeof *b + f->cells * sizeof b->cells[0]);
    if (!b)
        return f->sink; /* not remembered: the next record tries again */
    b->family = f;
    pthread_mutex_lock(&f->lock);
    b->next = f->threads;
    if (f->threads)
        f->threads->prev = b;
    f->threads = b;
    pthread_mutex_unlock(&f->lock);
    /* any non-NULL value: the destructor only runs for threads that set one */
    pthread_setspecific(exit_key, f);
    metrics_thread_cells[f->index] = b->cells;
    return b->cells;
}

void metrics_family_sum(metrics_family *f, uint64_t *out)
{
    pthread_mutex_lock(&f->lock);
    memcpy(out, f->retired, f->cells * sizeof *out);
    for (metrics_block *b = f->threads; b; b = b->next)
        for (size_t c = 0; c < f->cells; c++)
            out[c] += atomic_load_explicit(&b->cells[c], memory_order_relaxed);
    pthread_mutex_unlock(&f->lock);
}

/* ---- rendering ------------------------------------------------------------------ */

static void put_u64(buf *out, uint64_t v)
{
    char num[24];
    buf_append(out, num, fmt_u64(v, num));
}

static void put_double(buf *out, double v)
{
    char num[40];
    int n = snprintf(num, sizeof num, "%.15g", v);
    if (n > 0)
        buf_append(out, num, (size_t)n);
}

void metrics_render_header(buf *out, const char *name, const char *type, const char *help)
{
    buf_puts(out, "# HELP ");
    buf_puts(out, name);
    buf_puts(out, " ");
    buf_puts(out, help);
    buf_puts(out, "\n# TYPE ");
    buf_puts(out, name);
    buf_puts(out, " ");
    buf_puts(out, type);
    buf_puts(out, "\n");
}

/* name_suffix{labels,extra} */
static void put_series(buf *out, const char *name, const char *suffix, const char *labels,
                       const char *extra)
{
    bool any = (labels && *labels) || extra;
    buf_puts(out, name);
    buf_puts(out, suffix);
    if (any)
        buf_puts(out, "{");
    if (labels && *labels) {
        buf_puts(out, labels);
        if (extra)
            buf_puts(out, ",");
    }
    if (extra)
        buf_puts(out, extra);
    buf_puts(out, any ? "} " : " ");
}

void metrics_render_histogram(buf *out, const char *name, const char *labels,
                              const metrics_buckets *b, const uint64_t *cells)
{
    uint64_t cumulative = 0;
    char le[48];
    for (size_t i = 0; i <= b->count; i++) {
        cumulative += cells[i];
        if (i < b->count)
            snprintf(le, sizeof le, "le=\"%g\"", (double)b->bounds[i] * b->scale);
        else
            snprintf(le, sizeof le, "le=\"+Inf\"");
        put_series(out, name, "_bucket", labels, le);
        put_u64(out, cumulative);
        buf_puts(out, "\n");
    }
    put_series(out, name, "_sum", labels, NULL);
    put_double(out, (double)cells[b->count + 1] * b->scale);
    buf_puts(out, "\n");
    put_series(out, name, "_count", labels, NULL);
    put_u64(out, cumulative);
    buf_puts(out, "\n");
}

/* ---- the process's own metrics ---------------------------------------------------- */

static const struct {
    const char *name;
    const char *labels; /* NULL, or one series of a labelled family */
    const char *help;   /* on the first series of a family */
} metric_names[METRIC_COUNT] = {
    [METRIC_DB_ORDER_READS] = {"orderd_db_order_reads_total", NULL,
                               "Single-order reads sent to PostgreSQL"},
    [METRIC_DB_LIST_READS] = {"orderd_db_list_reads_total", NULL,
                              "List queries sent to PostgreSQL"},
    [METRIC_CACHE_HITS] = {"orderd_cache_hits_total", NULL, "Order reads answered from Redis"},
    [METRIC_CACHE_MISSES] = {"orderd_cache_misses_total", NULL,
                             "Order reads Redis could not answer"},
    [METRIC_CACHE_BYPASSES] = {"orderd_cache_bypasses_total", NULL,
                               "Order reads that skipped Redis (down or not configured)"},
    [METRIC_CACHE_LOOKUPS_SKIPPED] = {"orderd_cache_lookups_skipped_total", NULL,
                                      "Order reads sent to PostgreSQL without asking Redis, "
                                      "because Redis answered, and would answer, too few of them"},
    [METRIC_CACHE_FILLS] = {"orderd_cache_fills_total", NULL, "Cache fills Redis accepted"},
    [METRIC_CACHE_FILLS_REFUSED] = {"orderd_cache_fills_refused_total", NULL,
                                    "Cache fills refused because a newer version was cached"},
    [METRIC_CACHE_EARLY_REFRESHES] = {"orderd_cache_early_refreshes_total", NULL,
                                      "Hits that refreshed the entry early (XFetch)"},
    [METRIC_SHARED_READS] = {"orderd_shared_reads_total", NULL,
                             "Misses answered by a PostgreSQL read another request caused"},
    [METRIC_LIST_CACHE_HITS] = {"orderd_list_cache_hits_total", NULL,
                                "List reads answered from Redis"},
    [METRIC_LIST_LOOKUP_BATCHES] = {"orderd_list_lookup_batches_total", NULL,
                                    "Script calls of the list reader, each asking Redis for "
                                    "every list page waiting at that moment"},
    [METRIC_LIST_CACHE_MISSES] = {"orderd_list_cache_misses_total", NULL,
                                  "List reads Redis could not answer"},
    [METRIC_INVALIDATIONS_PUSHED] = {"orderd_invalidations_pushed_total", NULL,
                                     "Order changes applied from PostgreSQL notifications"},
    [METRIC_INVALIDATIONS_REPLAYED] = {"orderd_invalidations_replayed_total", NULL,
                                       "Order changes applied from the change log (catch-up)"},
    [METRIC_INVALIDATIONS_OWN] = {"orderd_invalidations_own_total", NULL,
                                  "Order changes this process wrote and invalidated itself: "
                                  "seen in the change feed, not applied again"},
    [METRIC_HOT_CACHE_HITS] = {"orderd_hot_cache_hits_total", NULL,
                               "Reads answered from process memory"},
    [METRIC_HOT_CACHE_EVICTIONS_CAPACITY] = {"orderd_hot_cache_evictions_total",
                                             "reason=\"capacity\"",
                                             "Entries dropped from process memory to make "
                                             "room (capacity) or for being too old (age)"},
    [METRIC_HOT_CACHE_EVICTIONS_AGE] = {"orderd_hot_cache_evictions_total", "reason=\"age\"", NULL},
    [METRIC_HOT_CACHE_ADMISSIONS_REFUSED] = {"orderd_hot_cache_admissions_refused_total", NULL,
                                             "Orders read after a miss and not put in full "
                                             "process memory: the first miss of each in a while"},
    [METRIC_HOT_LIST_HITS] = {"orderd_hot_list_hits_total", NULL,
                              "List pages answered from process memory"},
    [METRIC_HOT_LIST_EVICTIONS] = {"orderd_hot_list_evictions_total", NULL,
                                   "List pages dropped from process memory to make room"},
    [METRIC_HOT_LIST_GATE_CLOSED] = {"orderd_hot_list_gate_closed_total", NULL,
                                     "List pages in memory not served because an invalidation "
                                     "source was busy or had a message waiting (the read asked "
                                     "Redis)"},
    [METRIC_HOT_LIST_EXPIRED] = {"orderd_hot_list_expired_total", NULL,
                                 "List pages a reader found older than hot_cache_max_age_ms "
                                 "(dropped; the reader asked Redis or PostgreSQL)"},
    [METRIC_HOT_LIST_REFRESHES] = {"orderd_hot_list_refreshes_total", NULL,
                                   "List pages near their max age read again (Redis, else "
                                   "PostgreSQL) in the background, while the old page was "
                                   "still served"},
    [METRIC_DB_ACQUIRE_TIMEOUTS] = {"orderd_db_pool_acquire_timeouts_total", NULL,
                                    "Waits for a PostgreSQL pool connection that timed out"},
    [METRIC_REDIS_BREAKER_OPENED] = {"orderd_redis_breaker_transitions_total", "to=\"open\"",
                                     "Redis circuit breaker state changes, by the new state"},
    [METRIC_REDIS_BREAKER_CLOSED] = {"orderd_redis_breaker_transitions_total", "to=\"closed\"",
                                     NULL},
    [METRIC_REDIS_FAILED_TIMEOUT] = {"orderd_redis_command_failures_total", "reason=\"timeout\"",
                                     "Redis commands that failed (the request went on without "
                                     "Redis), by reason"},
    [METRIC_REDIS_FAILED_CONNECTION] = {"orderd_redis_command_failures_total",
                                        "reason=\"connection\"", NULL},
    [METRIC_REDIS_FAILED_REPLY] = {"orderd_redis_command_failures_total", "reason=\"error\"", NULL},
    [METRIC_CHANGE_FEED_LOSSES] = {"orderd_change_feed_losses_total", NULL,
                                   "Change feed sessions lost (ended, failed or timed out); "
                                   "both caches are bypassed until it catches up again"},
    [METRIC_AUTH_FAILURES] = {"orderd_auth_failures_total", NULL,
                              "Requests refused 401: missing or invalid bearer token"},
    [METRIC_AUTH_TOKENS_VERIFIED] = {"orderd_auth_tokens_verified_total", NULL,
                                     "Token signatures checked (verified-token cache misses)"},
    [METRIC_RATE_LIMITED] = {"orderd_rate_limited_total", NULL,
                             "Requests refused 429 by a rate limit"},
    [METRIC_RATE_LIMIT_LEASES] =
        {"orderd_rate_limit_leases_total", NULL,
         "Rate-limit budget requests sent to Redis (one script call each)"},
    [METRIC_RATE_LIMIT_FALLBACKS] = {"orderd_rate_limit_fallbacks_total", NULL,
                                     "Rate-limit decisions taken in-process because Redis was "
                                     "unreachable"},
    [METRIC_WRITE_STANDBY_BATCHES] = {"orderd_write_standby_batches_total", "queue=\"writer\"",
                                      "Write batches started beside one that had already run "
                                      "past the standby time (a slow commit, a row lock): the "
                                      "second write thread stands by for those"},
    [METRIC_AMEND_STANDBY_BATCHES] = {"orderd_write_standby_batches_total", "queue=\"amender\"",
                                      NULL},
};

static const struct {
    const char *name;
    const char *labels;
    const char *help; /* on the first series of a family */
} histogram_names[HISTOGRAM_COUNT] = {
    [HISTOGRAM_INVALIDATION_LAG] = {"orderd_invalidation_lag_seconds", NULL,
                                    "From a change's statement in PostgreSQL to its "
                                    "invalidation applied in this process"},
    [HISTOGRAM_READ_LOOKUP_BATCH] = {"orderd_read_batch_size", "stage=\"redis\"",
                                     "Requests served by one batch of the batched reader: one "
                                     "Redis lookup (redis) or one PostgreSQL read (postgres)"},
    [HISTOGRAM_READ_LOAD_BATCH] = {"orderd_read_batch_size", "stage=\"postgres\"", NULL},
    [HISTOGRAM_WRITE_BATCH] = {"orderd_write_batch_size", NULL,
                               "Orders inserted by one group commit of the batched writer"},
    [HISTOGRAM_AMEND_BATCH] = {"orderd_amend_batch_size", NULL,
                               "PATCHes and DELETEs applied by one group commit of the batched "
                               "amender"},
    [HISTOGRAM_LIST_LOAD_BATCH] = {"orderd_list_read_batch_size", NULL,
                                   "List pages read by one PostgreSQL statement of the list "
                                   "loader"},
};

void metrics_observe_invalidation_lag_us(int64_t lag_us)
{
    /* the two clocks disagree by a little: count it as instant */
    metric_observe(HISTOGRAM_INVALIDATION_LAG, lag_us < 0 ? 0 : (uint64_t)lag_us);
}

uint64_t metric_get(metric_id id)
{
    uint64_t cells[CORE_CELLS];
    metrics_family_sum(metrics_core, cells);
    return cells[id];
}

static void render_gauge(buf *out, const char *name, const char *help, int64_t value)
{
    metrics_render_header(out, name, "gauge", help);
    buf_puts(out, name);
    buf_puts(out, " ");
    if (value < 0)
        buf_puts(out, "-");
    put_u64(out, value < 0 ? (uint64_t)-value : (uint64_t)value);
    buf_puts(out, "\n");
}

static void render_gauges(buf *out, const metrics_gauges *g)
{
    render_gauge(out, "orderd_cache_up",
                 "1 when Redis is in use, 0 when bypassed (breaker open), -1 when not configured",
                 g->cache_up);
    if (g->cache_up >= 0)
        render_gauge(out, "orderd_redis_breaker_open",
                     "Redis circuit breaker: 1 open (Redis skipped), 0 closed", !g->cache_up);
    render_gauge(out, "orderd_db_connections_healthy", "Pool connections open and healthy",
                 g->db_healthy);
    render_gauge(out, "orderd_db_connections_in_use", "Pool connections handed out or being opened",
                 g->db_in_use);
    render_gauge(out, "orderd_db_pool_waiting", "Threads waiting for a pool connection",
                 g->db_waiting);
    render_gauge(out, "orderd_db_pool_connections_max", "Pool size (connections)", g->db_size);
    render_gauge(out, "orderd_hot_cache_entries", "Entries in the in-process cache",
                 (int64_t)g->hot_entries);
    render_gauge(out, "orderd_hot_list_pages", "List pages in process memory",
                 (int64_t)g->hot_list_pages);
    render_gauge(out, "orderd_hot_list_bytes",
                 "Bytes of list pages in process memory (hot_cache_list_mib caps them)",
                 (int64_t)g->hot_list_bytes);
    render_gauge(out, "orderd_invalidation_feed_state",
                 "PostgreSQL change feed: 2 caught up, 1 catching up, 0 down, -1 none",
                 g->invalidation_state);
}

void metrics_render(buf *out, const metrics_gauges *g)
{
    uint64_t cells[CORE_CELLS];
    metrics_family_sum(metrics_core, cells);
    for (int i = 0; i < METRIC_COUNT; i++) {
        if (metric_names[i].help)
            metrics_render_header(out, metric_names[i].name, "counter", metric_names[i].help);
        put_series(out, metric_names[i].name, "", metric_names[i].labels, NULL);
        put_u64(out, cells[i]);
        buf_puts(out, "\n");
    }
    render_gauges(out, g);
    for (int h = 0; h < HISTOGRAM_COUNT; h++) {
        if (histogram_names[h].help)
            metrics_render_header(out, histogram_names[h].name, "histogram",
                                  histogram_names[h].help);
        metrics_render_histogram(out, histogram_names[h].name, histogram_names[h].labels,
                                 &metrics_histogram_buckets[h],
                                 cells + metrics_histogram_offset[h]);
    }
}
