/*
 * worker_pool.h - threads that run blocking work (PostgreSQL, Redis) so
 * the HTTP polling threads never wait on I/O.
 *
 * A bounded FIFO: submit never blocks; when the queue is full it fails
 * and the caller answers 503 at once instead of queueing without limit.
 */
#ifndef ORDERD_WORKER_POOL_H
#define ORDERD_WORKER_POOL_H

#include <stddef.h>

typedef struct worker_pool worker_pool;
typedef void (*worker_fn)(void *arg);

/* threads >= 1, queue_capacity >= 1. NULL on failure. */
worker_pool *worker_pool_create(int threads, size_t queue_capacity);
/* Queues fn(arg). Returns 0, or -1 when full or shutting down. */
int worker_pool_submit(worker_pool *pool, worker_fn fn, void *arg);
/* Runs what is queued, then joins every thread. NULL-safe. */
void worker_pool_destroy(worker_pool *pool);

#endif
