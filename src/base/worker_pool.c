/*
 * worker_pool.c - a fixed set of threads draining a bounded ring of jobs.
 */
#include "orderd/base/worker_pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "orderd/base/bg_thread.h"

typedef struct job {
    worker_fn fn;
    void *arg;
} job;

struct worker_pool {
    pthread_mutex_t lock;
    pthread_cond_t not_empty;
    job *ring;
    size_t capacity, head, count;
    bool stopping;
    bg_thread workers; /* end when the ring is stopping and empty */
};

static void worker_run(bg_thread *self, void *arg)
{
    (void)self;
    worker_pool *pool = arg;
    for (;;) {
        pthread_mutex_lock(&pool->lock);
        while (pool->count == 0 && !pool->stopping)
            pthread_cond_wait(&pool->not_empty, &pool->lock);
        if (pool->count == 0) { /* stopping and nothing left to run */
            pthread_mutex_unlock(&pool->lock);
            return;
        }
        job j = pool->ring[pool->head];
        pool->head = (pool->head + 1) % pool->capacity;
        pool->count--;
        pthread_mutex_unlock(&pool->lock);
        j.fn(j.arg);
    }
}

worker_pool *worker_pool_create(int threads, size_t queue_capacity)
{
    if (threads < 1 || queue_capacity < 1)
        return NULL;
    worker_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return NULL;
    pool->ring = calloc(queue_capacity, sizeof *pool->ring);
    if (!pool->ring) {
        free(pool);
        return NULL;
    }
    pool->capacity = queue_capacity;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->not_empty, NULL);
    if (bg_thread_start(&pool->workers, "io-worker", threads, worker_run, pool) != 0) {
        worker_pool_destroy(pool);
        return NULL;
    }
    return pool;
}

int worker_pool_submit(worker_pool *pool, worker_fn fn, void *arg)
{
    int rc = -1;
    pthread_mutex_lock(&pool->lock);
    if (!pool->stopping && pool->count < pool->capacity) {
        pool->ring[(pool->head + pool->count) % pool->capacity] = (job){fn, arg};
        pool->count++;
        pthread_cond_signal(&pool->not_empty);
        rc = 0;
    }
    pthread_mutex_unlock(&pool->lock);
    return rc;
}

void worker_pool_destroy(worker_pool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->lock);
    pool->stopping = true;
    pthread_cond_broadcast(&pool->not_empty);
    pthread_mutex_unlock(&pool->lock);
    bg_thread_stop(&pool->workers);
    pthread_cond_destroy(&pool->not_empty);
    pthread_mutex_destroy(&pool->lock);
    free(pool->ring);
    free(pool);
}
