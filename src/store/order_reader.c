/*
 * order_reader.c - batched reads of single orders (see order_reader.h).
 */
#include "orderd/store/order_reader.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "orderd/store/batch_queue.h"
#include "orderd/store/lookup_policy.h"
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
    bool skipped_lookup; /* lookup_policy.h: read PostgreSQL, fill the hot cache only */
    const char *cache_status;
    order_read_done done; /* NULL: an early refresh nobody waits for */
    void *arg;
    log_origin origin; /* the request's id and trace, for this stage's log lines and SQL */
} read_job;

/* One order a load batch read (or found missing), waiting to be filled. */
typedef struct fill_entry {
    uint64_t deadline_ns;       /* the reading job's: past it the fill is dropped */
    order_cache_fill_item item; /* item.json is owned (malloc'd) */
} fill_entry;

/* What one load batch leaves for the fill stage, queued after its answers. */
typedef struct fill_batch {
    batch_item link; /* first: the queue holds fill_batches; deadline unused */
    int64_t read_ms; /* how long the PostgreSQL read took (XFetch) */
    int count;
    fill_entry entries[];
} fill_batch;

/*
 * The rows of the latest PostgreSQL read, for later misses of the same
 * ids (share_recent).  The load thread's alone; valid until the latest
 * deadline of the batch that read them.
 */
typedef struct recent_read {
    order_doc *docs;
    int count;
    int64_t read_ms;
    uint64_t valid_until_ns;
} recent_read;

struct order_reader {
    order_reader_options opts;
    batch_queue lookups, loads, fills;
    /* each ends when its queue is stopped and empty */
    bg_thread lookup_thread, load_thread, fill_thread;
    recent_read recent;
    lookup_policy policy; /* asked on the polling threads, fed by the lookup thread */
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

/*
 * A second chance for the hot cache: a read reaches this thread when the
 * polling thread found no entry, or found one but its gate closed (an
 * invalidation was on a socket or being applied).  Under writes the gate
 * is often closed for a moment at a time: mixed 90/10 had 58% of the ids
 * in memory and answered 20% of its reads from it.  By now the
 * listeners have usually caught up, so ask again, under the same gate,
 * before paying for Redis.  Keeps the jobs still to look up at the front
 * and returns how many they are.
 */
static int answer_from_hot_cache(order_reader *r, read_job **jobs, int n)
{
    if (!r->opts.hot)
        return n;
    int left = 0;
    for (int i = 0; i < n; i++) {
        int64_t version;
        blob *body = hot_cache_get(r->opts.hot, jobs[i]->id, &version);
        if (!body) {
            jobs[left++] = jobs[i];
            continue;
        }
        jobs[i]->cache_status = CACHE_STATUS_HIT;
        answer(jobs[i], ORDERD_OK, body->data, body->len, version);
        blob_release(body);
    }
    return left;
}

static void lookup_batch(void *ctx, batch_item **batch, int n)
{
    order_reader *r = ctx;
    read_job **jobs = (read_job **)batch;
    n = answer_from_hot_cache(r, jobs, n);
    if (n < 1)
        return; /* the arrays below need n >= 1 */
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
    uint32_t answered = 0, asked = 0;
    for (int i = 0; i < n; i++) {
        asked += found[i].result != ORDER_CACHE_DOWN;
        answered += found[i].result == ORDER_CACHE_HIT || found[i].result == ORDER_CACHE_REFRESH ||
                    found[i].result == ORDER_CACHE_ABSENT;
    }
    lookup_policy_record(&r->policy, asked, answered);
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

static order_doc *find_doc(order_doc *docs, int count, int64_t id)
{
    for (int i = 0; i < count; i++)
        if (docs[i].id == id)
            return &docs[i];
    return NULL;
}

static void forget_recent(recent_read *rr)
{
    for (int k = 0; k < rr->count; k++)
        order_doc_clear(&rr->docs[k]);
    free(rr->docs);
    *rr = (recent_read){0};
}

static fill_batch *fill_batch_create(int capacity, int64_t read_ms)
{
    fill_batch *fb = malloc(sizeof *fb + (size_t)capacity * sizeof fb->entries[0]);
    if (fb)
        *fb = (fill_batch){.read_ms = read_ms};
    return fb;
}

static void fill_batch_free(fill_batch *fb)
{
    for (int k = 0; fb && k < fb->count; k++)
        free((char *)fb->entries[k].item.json);
    free(fb);
}

static bool fill_batch_has(const fill_batch *fb, int64_t id)
{
    for (int k = 0; fb && k < fb->count; k++)
        if (fb->entries[k].item.id == id)
            return true;
    return false;
}

/*
 * Adds a fill of id, with d (copied; NULL: "no such order"), unless fb
 * already has one (NULL-safe: no fill batch, no fill).  Past deadline_ns
 * it is dropped: after that the read may predate a tombstone that has
 * expired since (order_cache.h).
 */
static void fill_batch_add(fill_batch *fb, int64_t id, const order_doc *d, uint64_t deadline_ns)
{
    if (!fb || fill_batch_has(fb, id))
        return;
    fill_entry *e = &fb->entries[fb->count];
    *e = (fill_entry){.deadline_ns = deadline_ns, .item = {.id = id, .absent = d == NULL}};
    if (d) {
        char *json = malloc(d->len + 1);
        if (!json)
            return; /* a fill not made only costs a later miss */
        memcpy(json, d->json, d->len + 1);
        e->item.version = d->version;
        e->item.json = json;
        e->item.len = d->len;
    }
    fb->count++;
}

/* Queues fb (taken over) for the fill thread; NULL-safe. */
static void queue_fills(order_reader *r, fill_batch *fb)
{
    if (fb && (fb->count == 0 || !batch_queue_push(&r->fills, &fb->link)))
        fill_batch_free(fb);
}

/*
 * Answers the misses that the latest PostgreSQL read already answered;
 * compacts jobs to the rest and returns their count.  No round trip:
 * this replaces a second MGET ("recheck") that every load batch used to
 * make for the same purpose, so that concurrent misses of one order
 * still cost one PostgreSQL read although fills now land after the
 * answers (test_cache.py, Stampede).
 *
 * Why a row read before this job's lookup is still good enough: any
 * write answered before the job started had committed and left its
 * tombstone in Redis before the job's MGET (order_cache.h), and that
 * MGET saw it (a fill never lowers a version), so min_version is at
 * least the write's and an older row is not shared.  A write that
 * committed after the read began leaves a tombstone that lasts
 * tombstone_ttl_ms, longer than any request's deadline; the reading
 * batch's jobs all started before its read, so while one of their
 * deadlines has not passed (valid_until_ns) no such tombstone can have
 * expired before this job looked.  Jobs with no lookup behind them
 * (bypass, Cache-Control: no-cache) and early refreshes always read
 * PostgreSQL themselves.  test_cache.py (SharedRead) checks both halves
 * of the rule; test_cache_race.py checks it under a 30 ms delay after
 * each read.
 *
 * A shared answer fills Redis again (the first fill may have failed or
 * been dropped; a repeat at the same version is harmless), under the
 * reading batch's deadline for the reason above.  It puts nothing into
 * the hot cache: its ticket is younger than the read.
 */
static int share_recent(order_reader *r, read_job **jobs, int n, bool cache_up)
{
    recent_read *rr = &r->recent;
    if (rr->count > 0 && clock_now_ns() >= rr->valid_until_ns)
        forget_recent(rr);
    if (rr->count == 0)
        return n;
    fill_batch *fills = NULL;
    int left = 0;
    for (int i = 0; i < n; i++) {
        read_job *job = jobs[i];
        bool looked_up = job->done && !job->bypass && !job->fresh && !job->skipped_lookup;
        order_doc *d = looked_up ? find_doc(rr->docs, rr->count, job->id) : NULL;
        if (d && d->version >= job->min_version) {
            metric_inc(METRIC_SHARED_READS);
            if (cache_up && !fills)
                fills = fill_batch_create(n, rr->read_ms);
            fill_batch_add(fills, d->id, d, rr->valid_until_ns);
            answer(job, ORDERD_OK, d->json, d->len, d->version);
        } else {
            jobs[left++] = job;
        }
    }
    queue_fills(r, fills);
    return left;
}

/* Keeps docs (count of them, taken over) for share_recent. */
static void remember_read(order_reader *r, order_doc *docs, int count, int64_t read_ms,
                          uint64_t valid_until_ns)
{
    forget_recent(&r->recent);
    r->recent = (recent_read){
        .docs = docs, .count = count, .read_ms = read_ms, .valid_until_ns = valid_until_ns};
}

/*
 * Puts what this batch read into the hot cache, under each job's ticket,
 * and returns the fills it leaves for Redis (NULL when out of memory: a
 * fill not made only costs a later miss).  Runs before the answers
 * because the hot put must precede the Redis fill: the echo of our own
 * fill (tracking.c) only re-reads keys the hot cache holds, so an entry
 * put after the echo would never be refreshed.
 */
static fill_batch *prepare_fills(order_reader *r, read_job **jobs, int n, order_doc *docs,
                                 int count, int64_t read_ms)
{
    fill_batch *fb = fill_batch_create(n, read_ms);
    uint64_t now = clock_now_ns();
    for (int i = 0; i < n; i++) {
        read_job *job = jobs[i];
        /* past its deadline our read may predate a tombstone that has
         * expired since (order_cache.h): fill nothing for it */
        if (job->bypass || now >= job->link.deadline_ns || fill_batch_has(fb, job->id))
            continue;
        order_doc *d = find_doc(docs, count, job->id);
        if (d && r->opts.hot && hot_cache_admit(r->opts.hot, job->id))
            hot_cache_put(r->opts.hot, job->id, d->version, d->json, d->len, job->ticket);
        if (!job->skipped_lookup)
            fill_batch_add(fb, job->id, d, job->link.deadline_ns);
    }
    return fb;
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

/*
 * The answers go out as soon as PostgreSQL has answered; the Redis fill
 * follows on the fill thread, so a miss costs no more round trips before
 * its answer than a read with the caches off, plus the lookup.  A late
 * fill is safe by the versioned protocol (order_cache.h: it never
 * replaces a newer tombstone, and is dropped past its job's deadline),
 * and the hot put before the answers is guarded by its ticket.
 */
static void load_batch(void *ctx, batch_item **batch, int n)
{
    order_reader *r = ctx;
    read_job **jobs = (read_job **)batch;
    n = batch_drop_expired(batch, n, clock_now_ns(), answer_timeout);
    bool cache_up = r->opts.cache && order_cache_is_up(r->opts.cache);
    n = share_recent(r, jobs, n, cache_up);
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
    log_bind(NULL, 0);
    fill_batch *fills =
        err == ORDERD_OK && cache_up ? prepare_fills(r, jobs, n, docs, count, read_ms) : NULL;
    uint64_t valid_until = batch_latest_deadline(batch, n); /* before answers free the jobs */
    for (int i = 0; i < n; i++) {
        order_doc *d = err == ORDERD_OK ? find_doc(docs, count, jobs[i]->id) : NULL;
        if (err != ORDERD_OK)
            answer(jobs[i], err, NULL, 0, 0);
        else if (d)
            answer(jobs[i], ORDERD_OK, d->json, d->len, d->version);
        else
            answer(jobs[i], ORDERD_ERR_NOT_FOUND, NULL, 0, 0);
    }
    queue_fills(r, fills);
    if (err == ORDERD_OK && count > 0) {
        remember_read(r, docs, count, read_ms, valid_until);
    } else {
        for (int k = 0; k < count; k++)
            order_doc_clear(&docs[k]);
        free(docs);
    }
}

static void load_run(bg_thread *self, void *arg)
{
    (void)self;
    order_reader *r = arg;
    batch_queue_consume(&r->loads, r->opts.batch_max, load_batch, r);
}

/* ---- fill stage -------------------------------------------------------------- */

/* fill batches merged into one script call, at most (each holds up to batch_max orders) */
#define FILL_MERGE_MAX 32
/*
 * How long the fill thread waits, after taking what was queued, for more
 * to merge into the same script call.  Why: under misses every load
 * batch left one or two fills, and each script call cost a round trip on
 * both sides, then came back as one client-tracking message and one
 * re-read (tracking.c): at 1M orders, 1.4 orders per call and about 35 us
 * of orderd's CPU and 30 us of Redis's per round trip.  A fill is off the
 * answer's path and safe to land late (load_batch), and its deadline is
 * checked after the wait (fill_run_batch).
 */
#define FILL_LINGER_NS 1000000L

/*
 * Fills Redis with what up to FILL_MERGE_MAX load batches read: one
 * script call, after their answers have gone out.  Each entry's deadline
 * is checked here, right before the call, not when it was queued.
 */
static void fill_run_batch(void *ctx, batch_item **batch, int n)
{
    order_reader *r = ctx;
    fill_batch **fbs = (fill_batch **)batch;
    int total = 0;
    for (int b = 0; b < n; b++)
        total += fbs[b]->count;
    order_cache_fill_item *items = malloc((size_t)total * sizeof *items);
    int m = 0;
    int64_t read_ms = 0;
    uint64_t now = clock_now_ns();
    for (int b = 0; items && b < n; b++) {
        if (fbs[b]->read_ms > read_ms)
            read_ms = fbs[b]->read_ms;
        for (int k = 0; k < fbs[b]->count; k++)
            if (now < fbs[b]->entries[k].deadline_ns)
                items[m++] = fbs[b]->entries[k].item;
    }
    if (m > 0)
        order_cache_fill_many(r->opts.cache, items, m, read_ms);
    /* a refused fill means Redis has something newer: ours must not stay */
    for (int k = 0; k < m; k++)
        if (!items[k].accepted && !items[k].absent && r->opts.hot)
            hot_cache_invalidate(r->opts.hot, items[k].id);
    free(items);
    for (int b = 0; b < n; b++)
        fill_batch_free(fbs[b]);
}

static void fill_run(bg_thread *self, void *arg)
{
    (void)self;
    order_reader *r = arg;
    batch_item *batch[FILL_MERGE_MAX];
    int n;
    while ((n = batch_queue_take(&r->fills, batch, FILL_MERGE_MAX)) > 0) {
        if (n < FILL_MERGE_MAX) {
            nanosleep(&(struct timespec){.tv_nsec = FILL_LINGER_NS}, NULL);
            n += batch_queue_take_ready(&r->fills, batch + n, FILL_MERGE_MAX - n);
        }
        fill_run_batch(r, batch, n);
    }
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
    if (lookup_policy_init(&r->policy, opts->lookup_min_hit_pct) != 0) {
        free(r);
        return NULL;
    }
    batch_queue_init(&r->lookups);
    batch_queue_init(&r->loads);
    batch_queue_init(&r->fills);
    if (bg_thread_start(&r->fill_thread, "read-fill", 1, fill_run, r) != 0 ||
        bg_thread_start(&r->load_thread, "read-load", 1, load_run, r) != 0 ||
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
    /* in pipeline order: what a stage passes on must still find the next */
    batch_queue_stop(&r->lookups);
    bg_thread_stop(&r->lookup_thread);
    batch_queue_stop(&r->loads);
    bg_thread_stop(&r->load_thread);
    batch_queue_stop(&r->fills);
    bg_thread_stop(&r->fill_thread);
}

void order_reader_destroy(order_reader *r)
{
    if (!r)
        return;
    order_reader_stop(r);
    batch_queue_destroy(&r->lookups);
    batch_queue_destroy(&r->loads);
    batch_queue_destroy(&r->fills);
    forget_recent(&r->recent);
    lookup_policy_destroy(&r->policy);
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
    } else if (r->policy.min_hit_pct > 0 && !(r->opts.hot && hot_cache_holds(r->opts.hot, id)) &&
               !lookup_policy_should_ask(&r->policy, id)) {
        /* Redis answers too few lookups, and too few of the misses come
         * back for a fill to pay (lookup_policy.h): read PostgreSQL as a
         * no-cache read does, ticket first, and fill only the hot cache.
         * A read of an order the hot cache holds found its gate closed
         * (or the entry too old): it neither counts as a miss nor skips,
         * and gets its second chance on the lookup thread.  Counted, the
         * gate's closing under fills would read as misses that come
         * back, which then asked Redis and filled it, which closed the
         * gate more. */
        metric_inc(METRIC_CACHE_LOOKUPS_SKIPPED);
        job->skipped_lookup = true;
        job->cache_status = CACHE_STATUS_MISS;
        if (r->opts.hot)
            job->ticket = hot_cache_ticket(r->opts.hot, id);
    }
    bool lookup = r->opts.cache && !fresh && !job->skipped_lookup;
    if (!batch_queue_push(lookup ? &r->lookups : &r->loads, &job->link)) {
        free(job);
        return -1;
    }
    return 0;
}
