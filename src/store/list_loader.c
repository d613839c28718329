/*
 * list_loader.c - customers' list pages from PostgreSQL, several per
 * statement (see list_loader.h).
 */
#include "orderd/store/list_loader.h"

#include <stdlib.h>
#include <time.h>

#include "orderd/base/bg_thread.h"
#include "orderd/base/clock.h"
#include "orderd/base/log.h"
#include "orderd/base/metrics.h"
#include "orderd/db/order_db.h"
#include "orderd/store/batch_queue.h"
#include "orderd/store/order_doc.h"

typedef struct page_job {
    batch_item link; /* first: the queue holds page_jobs as batch_items; has the deadline */
    order_list_query query;
    list_load_done done;
    void *arg;
    log_origin origin; /* the request's id and trace, for this stage's log lines and SQL */
} page_job;

struct list_loader {
    list_loader_options opts;
    batch_queue pages;
    bg_thread threads; /* opts.statements of them; they end when pages is stopped and empty */
};

/* Answers job (takes json) and frees it. */
static void answer(page_job *job, orderd_err err, char *json, size_t len)
{
    job->done(job->arg, err, json, len);
    free(job);
}

static void answer_timeout(batch_item *item)
{
    answer((page_job *)item, ORDERD_ERR_TIMEOUT, NULL, 0);
}

/* One statement for the n pages of jobs, into pages (n of them). */
static orderd_err read_pages(list_loader *l, page_job **jobs, int n, order_list_page *pages)
{
    const order_list_query *queries[n];
    log_tag tags[n];
    for (int i = 0; i < n; i++) {
        queries[i] = &jobs[i]->query;
        tags[i] = log_origin_tag(&jobs[i]->origin);
    }
    orderd_err err;
    log_bind(tags, n);
    db_conn *conn = db_pool_acquire_for(
        l->opts.db, atomic_load_explicit(l->opts.acquire_timeout_ms, memory_order_relaxed),
        batch_latest_deadline((batch_item **)jobs, n), &err);
    if (conn) {
        /* one page alone keeps the plain statement: no arrays to build or unnest */
        if (n == 1)
            err = order_db_list(conn, queries[0], &pages[0].rows, &pages[0].count,
                                &pages[0].has_more);
        else
            err = order_db_list_customers(conn, queries, n, pages);
        db_pool_release(l->opts.db, conn);
        for (int i = 0; i < n; i++)
            metric_inc(METRIC_DB_LIST_READS);
    }
    LOG(LOG_DEBUG, NULL, "list loader: %d pages read from PostgreSQL: %s", n, orderd_err_name(err));
    log_bind(NULL, 0);
    return err;
}

/*
 * The pages are rendered and answered one by one after the connection
 * is back in the pool, so the other loader's statement can run
 * meanwhile.
 */
static void load_pages(void *ctx, batch_item **batch, int n)
{
    list_loader *l = ctx;
    page_job **jobs = (page_job **)batch;
    n = batch_drop_expired(batch, n, clock_now_ns(), answer_timeout);
    if (n == 0)
        return;
    if (l->opts.test_hooks.list_load_delay_ms > 0)
        nanosleep(&(struct timespec){.tv_nsec = l->opts.test_hooks.list_load_delay_ms * 1000000L},
                  NULL);
    metric_observe(HISTOGRAM_LIST_LOAD_BATCH, (uint64_t)n);
    order_list_page pages[n];
    for (int i = 0; i < n; i++)
        pages[i] = (order_list_page){0};
    orderd_err err = read_pages(l, jobs, n, pages);
    for (int i = 0; i < n; i++) {
        char *json = NULL;
        size_t len = 0;
        orderd_err page_err = err;
        if (err == ORDERD_OK)
            page_err =
                order_page_to_json(pages[i].rows, pages[i].count, pages[i].has_more, &json, &len);
        for (int k = 0; k < pages[i].count; k++)
            order_clear(&pages[i].rows[k]);
        free(pages[i].rows);
        answer(jobs[i], page_err, page_err == ORDERD_OK ? json : NULL, len);
    }
}

static void loader_run(bg_thread *self, void *arg)
{
    (void)self;
    list_loader *l = arg;
    batch_queue_consume(&l->pages, l->opts.pages_max, load_pages, l);
}

list_loader *list_loader_create(const list_loader_options *opts)
{
    list_loader *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->opts = *opts;
    if (l->opts.statements < 1)
        l->opts.statements = 1;
    if (l->opts.pages_max < 1)
        l->opts.pages_max = 1;
    /* no standbys: each loader takes what is waiting as soon as it is free */
    batch_queue_init(&l->pages);
    if (bg_thread_start(&l->threads, "list-load", l->opts.statements, loader_run, l) != 0) {
        batch_queue_destroy(&l->pages);
        free(l);
        return NULL;
    }
    return l;
}

void list_loader_stop(list_loader *l)
{
    if (!l)
        return;
    batch_queue_stop(&l->pages);
    bg_thread_stop(&l->threads);
}

void list_loader_destroy(list_loader *l)
{
    if (!l)
        return;
    list_loader_stop(l);
    batch_queue_destroy(&l->pages);
    free(l);
}

int list_loader_submit(list_loader *l, const order_list_query *q, uint64_t deadline_ns,
                       list_load_done done, void *arg)
{
    if (!order_db_list_combines(q))
        return -1;
    page_job *job = calloc(1, sizeof *job);
    if (!job)
        return -1;
    *job = (page_job){.link.deadline_ns = deadline_ns, .query = *q, .done = done, .arg = arg};
    log_origin_capture(&job->origin);
    if (!batch_queue_push(&l->pages, &job->link)) {
        free(job);
        return -1;
    }
    return 0;
}
