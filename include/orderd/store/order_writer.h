/*
 * order_writer.h - POST /orders in batches: group commit.
 *
 * A plain INSERT per request costs a commit, and a commit waits for the
 * WAL to reach disk; with synchronous_commit on, that flush is what
 * limits POST throughput.  The writer threads take every create waiting
 * at a given moment, insert them with one statement (one commit, one
 * flush), invalidate the cache for all of them with one script call, and
 * only then answer each: an order is acknowledged only once it is
 * durable, exactly as before.  One batch is in flight at a time, and the
 * next fills meanwhile; the second thread is a standby for a batch that
 * runs long (options.standby_after_ms, batch_queue_set_standby).
 *
 * Creates with an Idempotency-Key are batched too, in a transaction of
 * their own around the keys (order_db_insert_idempotent_many): each key
 * is claimed, its order inserted and its response stored in one commit,
 * or the key is found complete and its first response replayed.  A 409
 * of one key (another body) fails only its own request.
 */
#ifndef ORDERD_ORDER_WRITER_H
#define ORDERD_ORDER_WRITER_H

#include <stdatomic.h>
#include <stdint.h>

#include "orderd/db/db_pool.h"
#include "orderd/domain/order.h"
#include "orderd/cache/hot_lists.h"
#include "orderd/cache/order_cache.h"
#include "orderd/store/invalidation.h"
#include "orderd/store/order_doc.h"
#include "orderd/base/test_hooks.h"

typedef struct order_writer order_writer;

typedef struct order_writer_options {
    db_pool *db;          /* borrowed */
    order_cache *cache;   /* borrowed; NULL = no Redis */
    hot_lists *hot_lists; /* borrowed; list pages in process memory; NULL = none */
    invalidation *feed;   /* borrowed; NULL = no change feed (caching off) */
    /* longest wait for a pool connection; borrowed from the store, which
     * a reload may change meanwhile */
    const atomic_int *acquire_timeout_ms;
    int threads; /* batches in flight at once, at most */
    /* every thread but the first starts a batch only once the first has
     * been on one this long (batch_queue_set_standby); 0: each at once */
    int standby_after_ms;
    int batch_max;
    test_hooks test_hooks; /* TEST ONLY: create_unknown_outcome */
} order_writer_options;

/* Starts the writer threads. NULL when out of memory or none can start. */
order_writer *order_writer_create(const order_writer_options *opts);
/* Answers everything queued and stops the threads; later submits fail.
 * The writer stays valid until order_writer_destroy. Idempotent. */
void order_writer_stop(order_writer *w);
/* Stops (if not yet) and frees. NULL-safe. */
void order_writer_destroy(order_writer *w);

/*
 * Queues one create, under idempotency_key when not NULL (copied); takes
 * req's contents (the caller's *req is left empty).  done is called
 * exactly once, on a writer thread.  -1 when stopping or out of memory
 * (done not called, *req untouched).
 */
int order_writer_submit(order_writer *w, order_create_req *req, const char *idempotency_key,
                        uint64_t deadline_ns, order_create_done done, void *arg);

#endif
