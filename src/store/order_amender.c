/*
 * order_amender.c - group commit for PATCH and DELETE (see order_amender.h).
 */
#include "orderd/store/order_amender.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "orderd/base/bg_thread.h"
#include "orderd/base/log.h"
#include "orderd/base/metrics.h"
#include "orderd/domain/order_change.h"
#include "orderd/store/batch_queue.h"

typedef struct amend_job {
    batch_item link; /* first: the queue holds amend_jobs as batch_items; has the deadline */
    order_amend amend;
    order_amend_done done;
    void *arg;
    log_origin origin; /* the request's id and trace, for the batch's log lines and SQL */
    bool resent;       /* lost a race once already (order_amend_outcome.retry) */
} amend_job;

struct order_amender {
    order_amender_options opts;
    batch_queue queue;
    bg_thread threads; /* end when the queue is stopped and empty */
};

static void answer(amend_job *job, orderd_err err, const order *row)
{
    order_doc doc = {0};
    bool with_doc = err == ORDERD_OK && job->amend.kind == ORDER_AMEND_SET_STATUS;
    if (with_doc)
        err = order_doc_from_order(row, &doc);
    job->done(job->arg, err, job->amend.to, with_doc && err == ORDERD_OK ? &doc : NULL);
    free(job);
}

static void answer_timeout(batch_item *item)
{
    answer((amend_job *)item, ORDERD_ERR_TIMEOUT, NULL);
}

/* one commit's jobs may end this much after their own deadline, at most */
#define DEADLINE_SLACK_NS (UINT64_C(50) * 1000 * 1000)

/* Two amendments of one order never share a statement (batch_distinct_first). */
static bool same_order(const batch_item *a, const batch_item *b)
{
    return ((const amend_job *)a)->amend.id == ((const amend_job *)b)->amend.id;
}

/* The change a successful outcome made, as the change feed would report
 * it, for order_cache_invalidate_changes. */
static order_change change_made(const order_amend *a, const order_amend_outcome *o)
{
    order_change c = {
        .id = o->row.id,
        .version = o->row.version,
        .old_customer_id = o->row.customer_id,
        .has_old_status = true,
        .old_status = o->old_status,
    };
    if (a->kind == ORDER_AMEND_DELETE) {
        c.op = ORDER_CHANGE_DELETE;
    } else {
        c.op = ORDER_CHANGE_UPDATE;
        c.customer_id = o->row.customer_id;
        c.has_new_status = true;
        c.new_status = o->row.status;
    }
    return c;
}

/*
 * After the commit, before any answer: the tombstones and list
 * generations of every change in one script call, and this process's
 * memory (its change feed leaves these changes to us: they carry our
 * db_pool_origin).
 */
static void invalidate_changed(order_amender *am, amend_job **jobs, const order_amend_outcome *outs,
                               int n)
{
    order_change changes[n];
    int changed = 0;
    for (int i = 0; i < n; i++)
        if (outs[i].err == ORDERD_OK)
            changes[changed++] = change_made(&jobs[i]->amend, &outs[i]);
    if (changed == 0)
        return;
    if (am->opts.cache)
        order_cache_invalidate_changes(am->opts.cache, changes, changed);
    if (am->opts.hot)
        for (int i = 0; i < changed; i++)
            hot_cache_invalidate(am->opts.hot, changes[i].id);
    if (am->opts.hot_lists)
        for (int i = 0; i < changed; i++)
            hot_lists_invalidate_change(am->opts.hot_lists, &changes[i]);
}

/*
 * A statement that failed once sent may still have committed: the
 * connection can break after the commit, before the answer.  This
 * process's change feed then left the change alone (it carries our
 * origin) and no invalidation of ours followed, so: for every order of
 * the batch a tombstone no fill can pass until it expires, the
 * generations of every list we can name it in (all of them but the
 * customer's, unless the request named the owner), the hot entry
 * dropped; and the feed re-reads its window with our own changes in it,
 * which invalidates exactly what did commit, the customer's lists among
 * it, within a few tens of milliseconds.
 */
static void invalidate_unknown(order_amender *am, amend_job **jobs, int n)
{
    order_status every[ORDER_STATUS_COUNT];
    for (int s = 0; s < ORDER_STATUS_COUNT; s++)
        every[s] = (order_status)s;
    for (int i = 0; i < n; i++) {
        const order_amend *a = &jobs[i]->amend;
        if (am->opts.cache)
            order_cache_invalidate(am->opts.cache, a->id, ORDER_CACHE_VERSION_UNKNOWN, false,
                                   a->owner, every, ORDER_STATUS_COUNT);
        if (am->opts.hot)
            hot_cache_invalidate(am->opts.hot, a->id);
    }
    /* the customer may be unknown, so every page may show the order */
    if (am->opts.hot_lists)
        hot_lists_flush(am->opts.hot_lists);
    invalidation_recheck_own(am->opts.feed);
}

/* TEST ONLY (test_hooks.amend_unknown_outcome): the commit happened, and
 * then the answer was lost, as if the connection broke. */
static orderd_err lose_the_answer(order_amend_outcome *outs, int n)
{
    for (int i = 0; i < n; i++)
        order_clear(&outs[i].row);
    return ORDERD_ERR_UNAVAILABLE;
}

/*
 * Applies n live jobs of distinct orders in one statement and commit and
 * answers them, except those that lost a race for the first time: those
 * it moves to the front of jobs, to be sent again, and returns how many.
 */
static int amend_group(void *ctx, batch_item **group, int n)
{
    order_amender *am = ctx;
    amend_job **jobs = (amend_job **)group;
    metric_observe(HISTOGRAM_AMEND_BATCH, (uint64_t)n);
    uint64_t deadline = batch_latest_deadline((batch_item **)jobs, n);
    const order_amend *amends[n];
    order_amend_outcome outs[n];
    log_tag tags[n];
    for (int i = 0; i < n; i++) {
        amends[i] = &jobs[i]->amend;
        tags[i] = log_origin_tag(&jobs[i]->origin);
    }
    /* until the answers: answering frees a job, and its tag with it */
    log_bind(tags, n);
    orderd_err err;
    db_conn *conn = db_pool_acquire_for(
        am->opts.db, atomic_load_explicit(am->opts.acquire_timeout_ms, memory_order_relaxed),
        deadline, &err);
    bool sent = conn != NULL;
    if (conn) {
        err = order_db_amend_many(conn, amends, n, outs);
        if (err == ORDERD_OK && am->opts.test_hooks.amend_unknown_outcome)
            err = lose_the_answer(outs, n);
        db_pool_release(am->opts.db, conn);
    }
    LOG(LOG_DEBUG, NULL, "order amender: %d amendments in one commit: %s", n, orderd_err_name(err));
    if (err == ORDERD_OK)
        invalidate_changed(am, jobs, outs, n);
    else if (sent) /* it may have committed all the same */
        invalidate_unknown(am, jobs, n);
    log_bind(NULL, 0);
    int again = 0;
    for (int i = 0; i < n; i++) {
        amend_job *job = jobs[i];
        if (err == ORDERD_OK && outs[i].retry && !job->resent) {
            job->resent = true;
            jobs[again++] = job;
            continue;
        }
        answer(job, err == ORDERD_OK ? outs[i].err : err, err == ORDERD_OK ? &outs[i].row : NULL);
        if (err == ORDERD_OK)
            order_clear(&outs[i].row);
    }
    return again;
}

/*
 * A batch goes out in groups of jobs with close deadlines
 * (batch_deadline_group) and distinct orders: normally one group, one
 * commit.  What a group leaves (a second amendment of an order, a lost
 * race) goes with the next.
 */
static void amend_batch(void *ctx, batch_item **batch, int n)
{
    static const batch_group_rules rules = {DEADLINE_SLACK_NS, answer_timeout, same_order};
    batch_run_groups(batch, n, &rules, amend_group, ctx);
}

static void amender_run(bg_thread *self, void *arg)
{
    (void)self;
    order_amender *am = arg;
    batch_queue_consume(&am->queue, am->opts.batch_max, amend_batch, am);
}

order_amender *order_amender_create(const order_amender_options *opts)
{
    order_amender *am = calloc(1, sizeof *am);
    if (!am)
        return NULL;
    am->opts = *opts;
    if (am->opts.threads < 1)
        am->opts.threads = 1;
    if (am->opts.batch_max < 1)
        am->opts.batch_max = 1;
    batch_queue_init(&am->queue);
    if (am->opts.standby_after_ms > 0)
        batch_queue_set_standby(&am->queue, (uint64_t)am->opts.standby_after_ms * 1000000u,
                                METRIC_AMEND_STANDBY_BATCHES);
    if (bg_thread_start(&am->threads, "store-amender", am->opts.threads, amender_run, am) != 0) {
        order_amender_destroy(am);
        return NULL;
    }
    return am;
}

void order_amender_stop(order_amender *am)
{
    if (!am)
        return;
    batch_queue_stop(&am->queue);
    bg_thread_stop(&am->threads);
}

void order_amender_destroy(order_amender *am)
{
    if (!am)
        return;
    order_amender_stop(am);
    batch_queue_destroy(&am->queue);
    free(am);
}

int order_amender_submit(order_amender *am, const order_amend *amend, uint64_t deadline_ns,
                         order_amend_done done, void *arg)
{
    amend_job *job = calloc(1, sizeof *job);
    if (!job)
        return -1;
    job->amend = *amend;
    job->link.deadline_ns = deadline_ns;
    job->done = done;
    job->arg = arg;
    log_origin_capture(&job->origin);
    if (!batch_queue_push(&am->queue, &job->link)) {
        free(job);
        return -1;
    }
    return 0;
}
