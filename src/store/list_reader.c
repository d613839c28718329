/*
 * list_reader.c - list pages from Redis in batches (see list_reader.h).
 */
#include "orderd/store/list_reader.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "orderd/base/bg_thread.h"
#include "orderd/base/clock.h"
#include "orderd/base/log.h"
#include "orderd/base/metrics.h"
#include "orderd/store/batch_queue.h"

typedef struct list_job {
    batch_item link; /* first: the queue's */
    order_list_query query;
    /* a lookup: */
    list_lookup_done done;
    void *arg;
    log_origin origin;       /* the submitting request's id and trace */
    hot_lists_ticket ticket; /* taken at submit, before Redis is read */
    /* a fill (done NULL): the page PostgreSQL gave, owned, and the
     * generation its lookup saw */
    char *fill_json;
    size_t fill_len;
    char generation[24];
} list_job;

struct list_reader {
    order_cache *cache;
    hot_lists *lists; /* NULL: no list pages in memory */
    test_hooks hooks;
    batch_queue queue;
    bg_thread thread;
};

static void free_job(list_job *job)
{
    free(job->fill_json);
    free(job);
}

static void answer(list_job *job, char *json, size_t len, const char *generation)
{
    job->done(job->arg, json, len, generation);
    free_job(job);
}

/* Past its deadline: a lookup is a miss, and the I/O worker it goes on to
 * replies 503; a fill is dropped, as order_store_list always did. */
static void expire(batch_item *item)
{
    list_job *job = (list_job *)item;
    if (job->done)
        answer(job, NULL, 0, NULL);
    else
        free_job(job);
}

/* The lookups of a batch (count of them, at the front): one script call. */
static void lookup_pages(list_reader *r, list_job **jobs, int count)
{
    const order_list_query *queries[ORDER_CACHE_LIST_BATCH_MAX];
    char *json[ORDER_CACHE_LIST_BATCH_MAX];
    size_t len[ORDER_CACHE_LIST_BATCH_MAX];
    char generation[ORDER_CACHE_LIST_BATCH_MAX][24];
    log_tag tags[ORDER_CACHE_LIST_BATCH_MAX];
    for (int i = 0; i < count; i++) {
        queries[i] = &jobs[i]->query;
        tags[i] = log_origin_tag(&jobs[i]->origin);
    }
    metric_inc(METRIC_LIST_LOOKUP_BATCHES);
    log_bind(tags, count); /* a warning from the Redis client names every request */
    order_cache_list_lookup_many(r->cache, queries, count, json, len, generation);
    log_bind(NULL, 0);
    for (int i = 0; i < count; i++) {
        if (json[i] && r->lists)
            hot_lists_put(r->lists, &jobs[i]->query, json[i], len[i], jobs[i]->ticket);
        answer(jobs[i], json[i], json[i] ? len[i] : 0, generation[i][0] ? generation[i] : NULL);
    }
}

/* The fills of a batch, after its lookups were answered: one script call. */
static void fill_pages(list_reader *r, list_job **jobs, int count)
{
    order_cache_list_fill_item items[ORDER_CACHE_LIST_BATCH_MAX];
    for (int i = 0; i < count; i++)
        items[i] = (order_cache_list_fill_item){&jobs[i]->query, jobs[i]->generation,
                                                jobs[i]->fill_json, jobs[i]->fill_len};
    order_cache_list_fill_many(r->cache, items, count);
    for (int i = 0; i < count; i++)
        free_job(jobs[i]);
}

static void lookup_batch(void *arg, batch_item **batch, int n)
{
    list_reader *r = arg;
    if (r->hooks.list_lookup_delay_ms > 0)
        nanosleep(&(struct timespec){.tv_nsec = r->hooks.list_lookup_delay_ms * 1000000L}, NULL);
    int count = batch_drop_expired(batch, n, clock_now_ns(), expire);
    list_job *lookups[ORDER_CACHE_LIST_BATCH_MAX], *fills[ORDER_CACHE_LIST_BATCH_MAX];
    int nlookups = 0, nfills = 0;
    for (int i = 0; i < count; i++) {
        list_job *job = (list_job *)batch[i];
        if (job->done)
            lookups[nlookups++] = job;
        else
            fills[nfills++] = job;
    }
    if (nlookups > 0)
        lookup_pages(r, lookups, nlookups);
    if (nfills > 0)
        fill_pages(r, fills, nfills);
}

static void lookup_run(bg_thread *self, void *arg)
{
    (void)self;
    list_reader *r = arg;
    batch_queue_consume(&r->queue, ORDER_CACHE_LIST_BATCH_MAX, lookup_batch, r);
}

list_reader *list_reader_create(order_cache *cache, hot_lists *lists, test_hooks hooks)
{
    list_reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->cache = cache;
    r->lists = lists;
    r->hooks = hooks;
    batch_queue_init(&r->queue);
    if (bg_thread_start(&r->thread, "list-lookup", 1, lookup_run, r) != 0) {
        list_reader_destroy(r);
        return NULL;
    }
    return r;
}

void list_reader_stop(list_reader *r)
{
    if (!r)
        return;
    batch_queue_stop(&r->queue); /* the thread answers what is queued, then ends */
    bg_thread_stop(&r->thread);
}

void list_reader_destroy(list_reader *r)
{
    if (!r)
        return;
    list_reader_stop(r);
    batch_queue_destroy(&r->queue);
    free(r);
}

int list_reader_submit(list_reader *r, const order_list_query *q, uint64_t deadline_ns,
                       list_lookup_done done, void *arg)
{
    list_job *job = malloc(sizeof *job);
    if (!job)
        return -1;
    *job = (list_job){.link.deadline_ns = deadline_ns, .query = *q, .done = done, .arg = arg};
    log_origin_capture(&job->origin);
    if (r->lists)
        job->ticket = hot_lists_ticket_for(r->lists, q);
    if (!batch_queue_push(&r->queue, &job->link)) {
        free(job);
        return -1;
    }
    return 0;
}

int list_reader_fill(list_reader *r, const order_list_query *q, const char *generation,
                     const char *json, size_t len, uint64_t deadline_ns)
{
    list_job *job = calloc(1, sizeof *job);
    char *copy = malloc(len + 1);
    size_t glen = strlen(generation);
    if (!job || !copy || glen >= sizeof job->generation) {
        free(job);
        free(copy);
        return -1;
    }
    memcpy(copy, json, len);
    copy[len] = '\0';
    job->link.deadline_ns = deadline_ns;
    job->query = *q;
    job->fill_json = copy;
    job->fill_len = len;
    memcpy(job->generation, generation, glen + 1);
    if (!batch_queue_push(&r->queue, &job->link)) {
        free_job(job);
        return -1;
    }
    return 0;
}
