/*
 * order_reader.c - batched reads of single orders (see order_reader.h).
 */
#include "orderd/store/order_reader.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "orderd/store/batch_queue.h"
#include "orderd/base/bg_thread.h"
#include "orderd/base/clock.h"
#include "orderd/base/log.h"
#include "orderd/base/metrics.h"
#include "orderd/db/order_db.h"

typedef struct read_job {
    batch_item link; /* first: the queues hold read_jobs as batch_items; has the deadline */
    int64_t id;
    uint64_t ticket;     /* hot cache ticket, taken before the first lookup */
    int64_t min_version; /* the tombstone the lookup saw: older rows are stale */
    bool bypass;         /* Redis was down: read PostgreSQL, fill nothing */
    bool fresh;          /* Cache-Control: no-cache: read PostgreSQL, then fill */
    const char *cache_status;
    order_read_done done; /* NULL: an early refresh nobody waits for */
    void *arg;
    log_origin origin; /* the request's id and trace, for this stage's log lines and SQL */
} read_job;

struct order_reader {
    order_reader_options opts;
    batch_queue lookups, loads;
    bg_thread lookup_thread, load_thread; /* each ends when its queue is stopped and empty */
};

/*
 * Binds the calling thread to the n jobs' requests (log.h), in tags
 * (n of them, the caller's); unbind before the first job is answered,
 * because answering frees it.
 */
static void bind_jobs(read_job **jobs, int n, log_tag *tags)
{
    for (int i = 0; i < n; i++)
        tags[i] = log_origin_tag(&jobs[i]->origin);
    log_bind(tags, n);
}

/* ---- answers ----------------------------------------------------------------- */

/* Answers job (json is copied) and frees it. */
static void answer(read_job *job, orderd_err err, const char *json, size_t len, int64_t version)
{
    if (job->done) {
        order_doc doc = {.id = job->id, .version = version};
        if (err == ORDERD_OK) {
            doc.json = malloc(len + 1);
            if (doc.json) {
                memcpy(doc.json, json, len);
                doc.json[len] = '\0';
                doc.len = len;
            } else {
                err = ORDERD_ERR_INTERNAL;
            }
        }
        job->done(job->arg, err, err == ORDERD_OK ? &doc : NULL, job->cache_status);
    }
    free(job);
}

/* ---- lookup stage ------------------------------------------------------------ */

static void lookup_batch(void *ctx, batch_item **batch, int n)
{
    order_reader *r = ctx;
    read_job **jobs = (read_job **)batch;
    if (n < 1)
        return; /* never from batch_queue_consume; the arrays below need n >= 1 */
    metric_observe(HISTOGRAM_READ_LOOKUP_BATCH, (uint64_t)n);
    int64_t ids[n];
    order_cache_read found[n];
    for (int i = 0; i < n; i++) {
        ids[i] = jobs[i]->id;
        if (r->opts.hot)
            jobs[i]->ticket = hot_cache_ticket(r->opts.hot, ids[i]);
    }
    log_tag tags[n];
    bind_jobs(jobs, n, tags);
    order_cache_lookup_many(r->opts.cache, ids, n, found);
    LOG(LOG_DEBUG, NULL, "order reader: %d orders looked up in Redis", n);
    log_bind(NULL, 0);
    for (int i = 0; i < n; i++) {
        read_job *job = jobs[i];
        order_cache_read *f = &found[i];
        switch (f->result) {
        case ORDER_CACHE_HIT:
        case ORDER_CACHE_REFRESH:
            metric_inc(METRIC_CACHE_HITS);
            job->cache_status = CACHE_STATUS_HIT;
            if (r->opts.hot)
                hot_cache_put(r->opts.hot, job->id, f->version, f->json, f->len, job->ticket);
            if (f->result == ORDER_CACHE_REFRESH) {
                /* XFetch: this one reader renews the entry in the
                 * background; its own answer does not wait for that */
                read_job *refresh = calloc(1, sizeof *refresh);
                if (refresh) {
                    *refresh = (read_job){.link.deadline_ns = job->link.deadline_ns,
                                          .id = job->id,
                                          .ticket = job->ticket,
                                          .min_version = f->version,
                                          .origin = job->origin};
                    metric_inc(METRIC_CACHE_EARLY_REFRESHES);
                    if (!batch_queue_push(&r->loads, &refresh->link))
                        free(refresh);
                }
            }
            answer(job, ORDERD_OK, f->json, f->len, f->version);
            break;
        case ORDER_CACHE_ABSENT:
            metric_inc(METRIC_CACHE_HITS);
            job->cache_status = CACHE_STATUS_HIT;
            answer(job, ORDERD_ERR_NOT_FOUND, NULL, 0, 0);
            break;
        case ORDER_CACHE_MISS:
            metric_inc(METRIC_CACHE_MISSES);
            job->cache_status = CACHE_STATUS_MISS;
            job->min_version = f->version;
            if (!batch_queue_push(&r->loads, &job->link))
                answer(job, ORDERD_ERR_UNAVAILABLE, NULL, 0, 0);
            break;
        case ORDER_CACHE_DOWN:
            metric_inc(METRIC_CACHE_BYPASSES);
            job->cache_status = CACHE_STATUS_BYPASS;
            job->bypass = true;
            if (!batch_queue_push(&r->loads, &job->link))
                answer(job, ORDERD_ERR_UNAVAILABLE, NULL, 0, 0);
            break;
        }
        free(f->json);
    }
}

static void lookup_run(bg_thread *self, void *arg)
{
    (void)self;
    order_reader *r = arg;
    batch_queue_consume(&r->lookups, r->opts.batch_max, lookup_batch, r);
}

/* ---- load stage -------------------------------------------------------------- */

/* Answers from Redis what a previous batch filled meanwhile; compacts
 * jobs to those still missing and returns their count. */
static int recheck(order_reader *r, read_job **jobs, int n)
{
    int64_t ids[n];
    order_cache_read found[n];
    for (int i = 0; i < n; i++)
        ids[i] = jobs[i]->id;
    order_cache_lookup_many(r->opts.cache, ids, n, found);
    int left = 0;
    for (int i = 0; i < n; i++) {
        order_cache_read *f = &found[i];
        bool usable = (f->result == ORDER_CACHE_HIT || f->result == ORDER_CACHE_REFRESH) &&
                      f->version >= jobs[i]->min_version && jobs[i]->done && !jobs[i]->fresh;
        if (usable)
            answer(jobs[i], ORDERD_OK, f->json, f->len, f->version);
        else
            jobs[left++] = jobs[i];
        free(f->json);
    }
    return left;
}

static order_doc *find_doc(order_doc *docs, int count, int64_t id)
{
    for (int i = 0; i < count; i++)
        if (docs[i].id == id)
            return &docs[i];
    return NULL;
}

/* Fills Redis (and the hot cache) with what this batch read. */
static void fill(order_reader *r, read_job **jobs, int n, order_doc *docs, int count,
                 int64_t read_ms)
{
    order_cache_fill_item items[n];
    int m = 0;
    uint64_t now = clock_now_ns();
    for (int i = 0; i < n; i++) {
        read_job *job = jobs[i];
        /* past its deadline our read may predate a tombstone that has
         * expired since (order_cache.h): fill nothing for it */
        if (job->bypass || now >= job->link.deadline_ns)
            continue;
        bool seen = false;
        for (int k = 0; k < m && !seen; k++)
            seen = items[k].id == job->id;
        if (seen)
            continue;
        order_doc *d = find_doc(docs, count, job->id);
        items[m] = (order_cache_fill_item){.id = job->id, .absent = d == NULL};
        if (d) {
            items[m].version = d->version;
            items[m].json = d->json;
            items[m].len = d->len;
            /* into the hot cache first: the echo of our own fill
             * (tracking.c) only re-reads keys the hot cache holds, so an
             * entry put after the echo would never be refreshed */
            if (r->opts.hot)
                hot_cache_put(r->opts.hot, job->id, d->version, d->json, d->len, job->ticket);
        }
        m++;
    }
    if (m == 0)
        return;
    order_cache_fill_many(r->opts.cache, items, m, read_ms);
    /* a refused fill means Redis has something newer: ours must not stay */
    for (int k = 0; k < m; k++)
        if (!items[k].accepted && !items[k].absent && r->opts.hot)
            hot_cache_invalidate(r->opts.hot, items[k].id);
}

/*
 * One "WHERE id = ANY($1)" for the distinct ids of the batch's n jobs,
 * rendered: *docs (caller clears each and frees it) holds the *count
 * orders found, *read_ms how long the read took (for the fill).
 */
static orderd_err read_docs(order_reader *r, batch_item **batch, int n, order_doc **docs,
                            int *count, int64_t *read_ms)
{
    read_job **jobs = (read_job **)batch;
    int64_t ids[n];
    int distinct = 0;
    for (int i = 0; i < n; i++) {
        bool seen = false;
        for (int k = 0; k < distinct && !seen; k++)
            seen = ids[k] == jobs[i]->id;
        if (!seen)
            ids[distinct++] = jobs[i]->id;
    }
    orderd_err err;
    uint64_t deadline = batch_latest_deadline(batch, n);
    db_conn *conn = db_pool_acquire_for(
        r->opts.db, atomic_load_explicit(r->opts.acquire_timeout_ms, memory_order_relaxed),
        deadline, &err);
    order *rows = NULL;
    int found = 0;
    uint64_t started = clock_now_ns();
    if (conn) {
        err = order_db_get_many(conn, ids, distinct, &rows, &found);
        db_pool_release(r->opts.db, conn);
        for (int k = 0; k < distinct; k++)
            metric_inc(METRIC_DB_ORDER_READS);
        for (int k = distinct; k < n; k++)
            metric_inc(METRIC_SHARED_READS);
    }
    if (r->opts.test_hooks.fill_delay_ms > 0)
        nanosleep(&(struct timespec){.tv_nsec = r->opts.test_hooks.fill_delay_ms * 1000000L}, NULL);
    *read_ms = (int64_t)((clock_now_ns() - started) / 1000000u);

    *docs = found ? calloc((size_t)found, sizeof **docs) : NULL;
    if (found && !*docs)
        err = ORDERD_ERR_INTERNAL;
    *count = 0;
    for (int k = 0; err == ORDERD_OK && k < found; k++)
        if ((err = order_doc_from_order(&rows[k], &(*docs)[k])) == ORDERD_OK)
            (*count)++;
    for (int k = 0; k < found; k++)
        order_clear(&rows[k]);
    free(rows);
    return err;
}

static void answer_timeout(batch_item *item)
{
    answer((read_job *)item, ORDERD_ERR_TIMEOUT, NULL, 0, 0);
}

static void load_batch(void *ctx, batch_item **batch, int n)
{
    order_reader *r = ctx;
    read_job **jobs = (read_job **)batch;
    n = batch_drop_expired(batch, n, clock_now_ns(), answer_timeout);
    bool cache_up = r->opts.cache && order_cache_is_up(r->opts.cache);
    if (n > 0 && cache_up)
        n = recheck(r, jobs, n);
    if (n == 0)
        return;

    metric_observe(HISTOGRAM_READ_LOAD_BATCH, (uint64_t)n);
    order_doc *docs = NULL;
    int count = 0;
    int64_t read_ms = 0;
    log_tag tags[n];
    bind_jobs(jobs, n, tags);
    orderd_err err = read_docs(r, batch, n, &docs, &count, &read_ms);
    LOG(LOG_DEBUG, NULL, "order reader: %d orders read from PostgreSQL in %lld ms: %s", n,
        (long long)read_ms, orderd_err_name(err));
    if (err == ORDERD_OK && cache_up)
        fill(r, jobs, n, docs, count, read_ms);
    log_bind(NULL, 0);
    for (int i = 0; i < n; i++) {
        order_doc *d = err == ORDERD_OK ? find_doc(docs, count, jobs[i]->id) : NULL;
        if (err != ORDERD_OK)
            answer(jobs[i], err, NULL, 0, 0);
        else if (d)
            answer(jobs[i], ORDERD_OK, d->json, d->len, d->version);
        else
            answer(jobs[i], ORDERD_ERR_NOT_FOUND, NULL, 0, 0);
    }
    for (int k = 0; k < count; k++)
        order_doc_clear(&docs[k]);
    free(docs);
}

static void load_run(bg_thread *self, void *arg)
{
    (void)self;
    order_reader *r = arg;
    batch_queue_consume(&r->loads, r->opts.batch_max, load_batch, r);
}

/* ---- lifecycle ----------------------------------------------------------------- */

order_reader *order_reader_create(const order_reader_options *opts)
{
    order_reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->opts = *opts;
    if (r->opts.batch_max < 1)
        r->opts.batch_max = 1;
    batch_queue_init(&r->lookups);
    batch_queue_init(&r->loads);
    if (bg_thread_start(&r->load_thread, "read-load", 1, load_run, r) != 0 ||
        bg_thread_start(&r->lookup_thread, "read-lookup", 1, lookup_run, r) != 0) {
        order_reader_destroy(r);
        return NULL;
    }
    return r;
}

void order_reader_stop(order_reader *r)
{
    if (!r)
        return;
    /* lookups first: what they pass on must still find the loader */
    batch_queue_stop(&r->lookups);
    bg_thread_stop(&r->lookup_thread);
    batch_queue_stop(&r->loads);
    bg_thread_stop(&r->load_thread);
}

void order_reader_destroy(order_reader *r)
{
    if (!r)
        return;
    order_reader_stop(r);
    batch_queue_destroy(&r->lookups);
    batch_queue_destroy(&r->loads);
    free(r);
}

int order_reader_submit(order_reader *r, int64_t id, uint64_t deadline_ns, bool fresh,
                        order_read_done done, void *arg)
{
    read_job *job = calloc(1, sizeof *job);
    if (!job)
        return -1;
    *job = (read_job){.link.deadline_ns = deadline_ns, .id = id, .done = done, .arg = arg};
    log_origin_capture(&job->origin);
    /* without Redis there is nothing to look up: straight to the loader */
    if (!r->opts.cache) {
        metric_inc(METRIC_CACHE_BYPASSES);
        job->bypass = true;
        job->cache_status = CACHE_STATUS_BYPASS;
    } else if (fresh) {
        /* the client asked for PostgreSQL's answer: skip both caches,
         * and take the hot-cache ticket now, before the read, so the
         * refill cannot land over an invalidation that comes meanwhile */
        metric_inc(METRIC_CACHE_MISSES);
        job->fresh = true;
        job->cache_status = CACHE_STATUS_MISS;
        if (r->opts.hot)
            job->ticket = hot_cache_ticket(r->opts.hot, id);
    }
    bool lookup = r->opts.cache && !fresh;
    if (!batch_queue_push(lookup ? &r->lookups : &r->loads, &job->link)) {
        free(job);
        return -1;
    }
    return 0;
}
