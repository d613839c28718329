/*
 * order_writer.c - group commit for POST /orders, with and without an
 * Idempotency-Key (see order_writer.h).
 */
#include "orderd/store/order_writer.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "orderd/store/batch_queue.h"
#include "orderd/base/bg_thread.h"
#include "orderd/base/log.h"
#include "orderd/base/metrics.h"
#include "orderd/db/order_db.h"

typedef struct write_job {
    batch_item link; /* first: the queue holds write_jobs as batch_items; has the deadline */
    order_create_req req;
    char *key;         /* owned; NULL: a create without an Idempotency-Key */
    char *fingerprint; /* owned, with key: order_create_fingerprint(&req) */
    bool resent;       /* the key vanished once already (order_keyed_outcome.retry) */
    order_create_done done;
    void *arg;
    log_origin origin; /* the request's id and trace, for the batch's log lines and SQL */
} write_job;

struct order_writer {
    order_writer_options opts;
    batch_queue queue;
    bg_thread threads; /* end when the queue is stopped and empty */
};

static void job_free(write_job *job)
{
    order_create_req_clear(&job->req);
    free(job->key);
    free(job->fingerprint);
    free(job);
}

static void answer(write_job *job, orderd_err err, const order *row)
{
    order_doc doc = {0};
    if (err == ORDERD_OK)
        err = order_doc_from_order(row, &doc);
    job->done(job->arg, err, err == ORDERD_OK ? &doc : NULL, false);
    job_free(job);
}

/* A keyed create's answer is the response stored under its key, byte for
 * byte, whether this commit stored it or an earlier one (a replay). */
static void answer_keyed(write_job *job, order_keyed_outcome *o)
{
    order_doc doc = {0};
    orderd_err err = o->err;
    if (err == ORDERD_OK && o->replayed) {
        err = order_doc_from_stored_json(o->response, &doc);
    } else if (err == ORDERD_OK) {
        doc = (order_doc){.json = o->response,
                          .len = strlen(o->response),
                          .id = o->row.id,
                          .version = o->row.version};
    } else {
        free(o->response);
    }
    o->response = NULL; /* the doc has it, or it is gone */
    job->done(job->arg, err, err == ORDERD_OK ? &doc : NULL, err == ORDERD_OK && o->replayed);
    job_free(job);
}

static void answer_timeout(batch_item *item)
{
    answer((write_job *)item, ORDERD_ERR_TIMEOUT, NULL);
}

/* The pages in process memory that a new order of this customer belongs
 * on (hot_lists.h). */
static void drop_customer_lists(order_writer *w, int64_t customer_id)
{
    if (!w->opts.hot_lists)
        return;
    order_change c = {.op = ORDER_CHANGE_INSERT,
                      .customer_id = customer_id,
                      .has_new_status = true,
                      .new_status = ORDER_PENDING};
    hot_lists_invalidate_change(w->opts.hot_lists, &c);
}

/* After the Redis invalidation, before the answers. */
static void drop_created_lists(order_writer *w, const order *created, int n)
{
    for (int i = 0; i < n; i++)
        drop_customer_lists(w, created[i].customer_id);
}

/*
 * After creates that were sent and failed: the commit may have happened
 * all the same (the connection broke before its answer), under ids we do
 * not know, and our change feed leaves our own changes to us.  So the
 * lists such orders would be on move now, before the 503s, and the feed
 * re-reads its window with our changes in it, which tombstones whatever
 * ids did commit (order_amender.c does the same for amendments).
 */
static void invalidate_unknown_creates(order_writer *w, write_job **jobs, int n)
{
    int64_t *customer_ids = calloc((size_t)n, sizeof *customer_ids);
    for (int i = 0; customer_ids && i < n; i++)
        customer_ids[i] = jobs[i]->req.customer_id;
    if (w->opts.cache && customer_ids)
        order_cache_invalidate_maybe_created(w->opts.cache, customer_ids, n);
    free(customer_ids);
    /* out of memory, the feed's re-read below still moves the lists */
    for (int i = 0; i < n; i++)
        drop_customer_lists(w, jobs[i]->req.customer_id);
    invalidation_recheck_own(w->opts.feed);
}

/* Acquires a connection for a group that must end by deadline. */
static db_conn *group_conn(order_writer *w, uint64_t deadline, orderd_err *err)
{
    return db_pool_acquire_for(
        w->opts.db, atomic_load_explicit(w->opts.acquire_timeout_ms, memory_order_relaxed),
        deadline, err);
}

/* one commit's jobs may end this much after their own deadline, at most */
#define DEADLINE_SLACK_NS (UINT64_C(50) * 1000 * 1000)

/* Inserts n live jobs in one statement and commit, and answers them all
 * (a batch_group_fn). */
static int write_group(void *ctx, batch_item **group, int n)
{
    order_writer *w = ctx;
    write_job **jobs = (write_job **)group;
    metric_observe(HISTOGRAM_WRITE_BATCH, (uint64_t)n);
    uint64_t deadline = batch_latest_deadline((batch_item **)jobs, n);

    const order_create_req *reqs[n];
    order rows[n];
    for (int i = 0; i < n; i++)
        reqs[i] = &jobs[i]->req;
    log_tag tags[n];
    for (int i = 0; i < n; i++)
        tags[i] = log_origin_tag(&jobs[i]->origin);
    /* until the answers: answering frees a job, and its tag with it */
    log_bind(tags, n);
    orderd_err err;
    db_conn *conn = group_conn(w, deadline, &err);
    bool sent = conn != NULL;
    if (conn) {
        err = order_db_insert_many(conn, reqs, n, rows);
        if (err == ORDERD_OK && w->opts.test_hooks.create_unknown_outcome) {
            for (int i = 0; i < n; i++)
                order_clear(&rows[i]);
            err = ORDERD_ERR_UNAVAILABLE; /* TEST ONLY: committed, answer lost */
        }
        db_pool_release(w->opts.db, conn);
    }
    LOG(LOG_DEBUG, NULL, "order writer: %d orders inserted in one commit: %s", n,
        orderd_err_name(err));
    /* committed: tombstones and list generations before anyone hears of
     * it (this process's change feed leaves these rows to us: their
     * changes carry our db_pool_origin) */
    if (err == ORDERD_OK && w->opts.cache)
        order_cache_invalidate_created(w->opts.cache, rows, n);
    if (err == ORDERD_OK)
        drop_created_lists(w, rows, n);
    else if (sent)
        invalidate_unknown_creates(w, jobs, n);
    log_bind(NULL, 0);
    for (int i = 0; i < n; i++) {
        answer(jobs[i], err, err == ORDERD_OK ? &rows[i] : NULL);
        if (err == ORDERD_OK)
            order_clear(&rows[i]);
    }
    return 0; /* every one answered */
}

/*
 * Keyed creates of n live jobs with distinct keys in one transaction
 * (order_db_insert_idempotent_many), and answers them, except those whose
 * key vanished for the first time: a batch_group_fn, it moves those to the
 * front of the group, to be sent again, and returns how many.
 */
static int write_keyed_group(void *ctx, batch_item **group, int n)
{
    order_writer *w = ctx;
    write_job **jobs = (write_job **)group;
    metric_observe(HISTOGRAM_WRITE_BATCH, (uint64_t)n);
    uint64_t deadline = batch_latest_deadline((batch_item **)jobs, n);
    order_keyed_create creates[n];
    order_keyed_outcome outs[n];
    log_tag tags[n];
    for (int i = 0; i < n; i++) {
        creates[i] = (order_keyed_create){&jobs[i]->req, jobs[i]->key, jobs[i]->fingerprint};
        tags[i] = log_origin_tag(&jobs[i]->origin);
    }
    log_bind(tags, n);
    orderd_err err;
    db_conn *conn = group_conn(w, deadline, &err);
    bool sent = conn != NULL;
    if (conn) {
        err = order_db_insert_idempotent_many(conn, creates, n, outs);
        if (err == ORDERD_OK && w->opts.test_hooks.create_unknown_outcome) {
            for (int i = 0; i < n; i++) {
                order_clear(&outs[i].row);
                free(outs[i].response);
            }
            err = ORDERD_ERR_UNAVAILABLE; /* TEST ONLY: committed, answer lost */
        }
        db_pool_release(w->opts.db, conn);
    }
    LOG(LOG_DEBUG, NULL, "order writer: %d keyed creates in one commit: %s", n,
        orderd_err_name(err));
    if (err == ORDERD_OK && w->opts.cache) {
        order created[n];
        int count = 0;
        for (int i = 0; i < n; i++)
            if (outs[i].err == ORDERD_OK && !outs[i].replayed)
                created[count++] = outs[i].row; /* borrowed */
        if (count > 0)
            order_cache_invalidate_created(w->opts.cache, created, count);
        drop_created_lists(w, created, count);
    } else if (err != ORDERD_OK && sent) {
        invalidate_unknown_creates(w, jobs, n);
    }
    log_bind(NULL, 0);
    int again = 0;
    for (int i = 0; i < n; i++) {
        write_job *job = jobs[i];
        if (err != ORDERD_OK) {
            answer(job, err, NULL);
            continue;
        }
        if (outs[i].retry && !job->resent) {
            job->resent = true;
            jobs[again++] = job;
        } else if (outs[i].retry) {
            LOG(LOG_ERROR, NULL, "order writer: idempotency key neither claimable nor complete");
            answer(job, ORDERD_ERR_INTERNAL, NULL);
        } else {
            answer_keyed(job, &outs[i]);
        }
        order_clear(&outs[i].row);
    }
    return again;
}

static bool has_no_key(const batch_item *item)
{
    return ((const write_job *)item)->key == NULL;
}

/* One key never twice in a transaction (batch_distinct_first). */
static bool same_key(const batch_item *a, const batch_item *b)
{
    return strcmp(((const write_job *)a)->key, ((const write_job *)b)->key) == 0;
}

/*
 * A batch goes out in groups of jobs with close deadlines
 * (batch_deadline_group): the creates without a key in one statement,
 * those with one in one transaction (a key's claim must commit with its
 * order and response); normally one group of each.  A second create
 * under one key waits for the next transaction, and then replays the
 * first's response.
 */
static void write_batch(void *ctx, batch_item **batch, int n)
{
    static const batch_group_rules plain_rules = {DEADLINE_SLACK_NS, answer_timeout, NULL};
    static const batch_group_rules keyed_rules = {DEADLINE_SLACK_NS, answer_timeout, same_key};
    int plain = batch_partition(batch, n, has_no_key);
    batch_run_groups(batch, plain, &plain_rules, write_group, ctx);
    batch_run_groups(batch + plain, n - plain, &keyed_rules, write_keyed_group, ctx);
}

static void writer_run(bg_thread *self, void *arg)
{
    (void)self;
    order_writer *w = arg;
    batch_queue_consume(&w->queue, w->opts.batch_max, write_batch, w);
}

order_writer *order_writer_create(const order_writer_options *opts)
{
    order_writer *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->opts = *opts;
    if (w->opts.threads < 1)
        w->opts.threads = 1;
    if (w->opts.batch_max < 1)
        w->opts.batch_max = 1;
    batch_queue_init(&w->queue);
    if (w->opts.standby_after_ms > 0)
        batch_queue_set_standby(&w->queue, (uint64_t)w->opts.standby_after_ms * 1000000u,
                                METRIC_WRITE_STANDBY_BATCHES);
    if (bg_thread_start(&w->threads, "store-writer", w->opts.threads, writer_run, w) != 0) {
        order_writer_destroy(w);
        return NULL;
    }
    return w;
}

void order_writer_stop(order_writer *w)
{
    if (!w)
        return;
    batch_queue_stop(&w->queue);
    bg_thread_stop(&w->threads);
}

void order_writer_destroy(order_writer *w)
{
    if (!w)
        return;
    order_writer_stop(w);
    batch_queue_destroy(&w->queue);
    free(w);
}

int order_writer_submit(order_writer *w, order_create_req *req, const char *idempotency_key,
                        uint64_t deadline_ns, order_create_done done, void *arg)
{
    write_job *job = calloc(1, sizeof *job);
    if (!job)
        return -1;
    if (idempotency_key) {
        job->key = strdup(idempotency_key);
        job->fingerprint = order_create_fingerprint(req);
        if (!job->key || !job->fingerprint) {
            free(job->key);
            free(job->fingerprint);
            free(job);
            return -1;
        }
    }
    job->req = *req;
    job->link.deadline_ns = deadline_ns;
    job->done = done;
    job->arg = arg;
    log_origin_capture(&job->origin);
    if (!batch_queue_push(&w->queue, &job->link)) {
        free(job->key);
        free(job->fingerprint);
        free(job); /* req's contents were not taken */
        return -1;
    }
    memset(req, 0, sizeof *req);
    return 0;
}
