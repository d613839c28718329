/*
 * order_writer.c - group commit for POST /orders (see order_writer.h).
 */
#include "orderd/store/order_writer.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "orderd/store/batch_queue.h"
#include "orderd/base/bg_thread.h"
#include "orderd/base/clock.h"
#include "orderd/base/log.h"
#include "orderd/base/metrics.h"
#include "orderd/db/order_db.h"

typedef struct write_job {
    batch_item link; /* first: the queue holds write_jobs as batch_items; has the deadline */
    order_create_req req;
    order_create_done done;
    void *arg;
    log_origin origin; /* the request's id and trace, for the batch's log lines and SQL */
} write_job;

struct order_writer {
    order_writer_options opts;
    batch_queue queue;
    bg_thread threads; /* end when the queue is stopped and empty */
};

static void answer(write_job *job, orderd_err err, const order *row)
{
    order_doc doc = {0};
    if (err == ORDERD_OK)
        err = order_doc_from_order(row, &doc);
    job->done(job->arg, err, err == ORDERD_OK ? &doc : NULL);
    order_create_req_clear(&job->req);
    free(job);
}

static void answer_timeout(batch_item *item)
{
    answer((write_job *)item, ORDERD_ERR_TIMEOUT, NULL);
}

/* one commit's jobs may end this much after their own deadline, at most */
#define DEADLINE_SLACK_NS (UINT64_C(50) * 1000 * 1000)

/* Inserts n live jobs in one statement and commit, and answers them. */
static void write_group(order_writer *w, write_job **jobs, int n)
{
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
    db_conn *conn = db_pool_acquire_for(
        w->opts.db, atomic_load_explicit(w->opts.acquire_timeout_ms, memory_order_relaxed),
        deadline, &err);
    if (conn) {
        err = order_db_insert_many(conn, reqs, n, rows);
        db_pool_release(w->opts.db, conn);
    }
    LOG(LOG_DEBUG, NULL, "order writer: %d orders inserted in one commit: %s", n,
        orderd_err_name(err));
    /* committed: tombstones and list generations before anyone hears of
     * it (this process's change feed leaves these rows to us: their
     * changes carry our db_pool_origin) */
    if (err == ORDERD_OK && w->opts.cache)
        order_cache_invalidate_created(w->opts.cache, rows, n);
    log_bind(NULL, 0);
    for (int i = 0; i < n; i++) {
        answer(jobs[i], err, err == ORDERD_OK ? &rows[i] : NULL);
        if (err == ORDERD_OK)
            order_clear(&rows[i]);
    }
}

/*
 * A batch goes out in groups of jobs with close deadlines
 * (batch_deadline_group): normally one group, one commit.
 */
static void write_batch(void *ctx, batch_item **batch, int n)
{
    order_writer *w = ctx;
    while (n > 0) {
        /* never insert what can no longer be acknowledged in time */
        n = batch_drop_expired(batch, n, clock_now_ns(), answer_timeout);
        int g = batch_deadline_group(batch, n, DEADLINE_SLACK_NS);
        if (g > 0)
            write_group(w, (write_job **)batch, g);
        batch += g;
        n -= g;
    }
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

int order_writer_submit(order_writer *w, order_create_req *req, uint64_t deadline_ns,
                        order_create_done done, void *arg)
{
    write_job *job = calloc(1, sizeof *job);
    if (!job)
        return -1;
    job->req = *req;
    job->link.deadline_ns = deadline_ns;
    job->done = done;
    job->arg = arg;
    log_origin_capture(&job->origin);
    if (!batch_queue_push(&w->queue, &job->link)) {
        free(job); /* req's contents were not taken */
        return -1;
    }
    memset(req, 0, sizeof *req);
    return 0;
}
