/*
 * order_reader.h - GET /orders/:id in batches.
 *
 * One request at a time, a cache miss costs a worker wake-up, a Redis
 * round trip and a PostgreSQL round trip before its answer, and a Redis
 * fill after it.  Under load the reader shares them: every request
 * waiting at a given moment goes into one batch.
 *
 *   lookup thread:  one MGET for the batch.  Hits (and cached "no such
 *                   order") are answered at once; misses move on.  While
 *                   Redis answers too few lookups (lookup_policy.h),
 *                   most reads skip the MGET and move on at once.
 *   load thread:    misses the latest PostgreSQL read already answered
 *                   are answered from it (no round trip); one
 *                   "WHERE id = ANY($1)" for the rest, the hot-cache
 *                   puts, and the answers.  Batches run one after the
 *                   other, so one process never reads one order twice at
 *                   the same time: this is the in-process stampede
 *                   control.
 *   fill thread:    one script call fills Redis with what one or more
 *                   load batches read, after their answers went out.
 *
 * The version rules of order_cache.h apply unchanged: a miss that saw a
 * tombstone only accepts a row at least that new, a fill never replaces
 * a newer version and is dropped past its request's deadline, and a
 * miss is answered only by a PostgreSQL read that started after its
 * lookup or by one whose batch's deadline has not passed yet (why that
 * is enough: share_recent in order_reader.c).
 */
#ifndef ORDERD_ORDER_READER_H
#define ORDERD_ORDER_READER_H

#include <stdint.h>

#include "orderd/db/db_pool.h"
#include "orderd/base/error.h"
#include "orderd/base/test_hooks.h"
#include "orderd/cache/hot_cache.h"
#include "orderd/cache/order_cache.h"
#include "orderd/store/order_doc.h"

typedef struct order_reader order_reader;

typedef struct order_reader_options {
    db_pool *db;        /* borrowed */
    order_cache *cache; /* borrowed; NULL = no Redis */
    hot_cache *hot;     /* borrowed; NULL = no hot cache */
    /* longest wait for a pool connection; borrowed from the store, which
     * a reload may change meanwhile */
    const atomic_int *acquire_timeout_ms;
    int batch_max;          /* requests per batch */
    int lookup_min_hit_pct; /* lookup_policy.h; 0 = always ask Redis */
    test_hooks test_hooks;  /* TEST ONLY: fill_delay_ms */
} order_reader_options;

/* Starts the lookup and load threads. NULL when out of memory or they cannot start. */
order_reader *order_reader_create(const order_reader_options *opts);
/* Answers everything still queued and stops the threads; later submits
 * fail.  The reader stays valid until order_reader_destroy. Idempotent. */
void order_reader_stop(order_reader *r);
/* Stops (if not yet) and frees. NULL-safe. */
void order_reader_destroy(order_reader *r);

/* Queues a read; done is called exactly once.  fresh: PostgreSQL's
 * answer, never a cached one (the caches are refilled with it).  -1 when
 * stopping or out of memory (done is then not called). */
int order_reader_submit(order_reader *r, int64_t id, uint64_t deadline_ns, bool fresh,
                        order_read_done done, void *arg);

#endif
