/*
 * order_amender.h - PATCH and DELETE /orders/:id in batches: group
 * commit for the writes that change an existing order.
 *
 * Each used to cost a commit of its own, and a commit waits for its WAL
 * flush.  The amender threads take every amendment waiting at a given
 * moment and apply them with one statement (order_db_amend_many: one
 * commit), each on its own terms: a version mismatch (412), a transition
 * not allowed (409) or a missing order (404) fails only its own request.
 * Two amendments of one order never share a statement; the later waits
 * for the next one, so they apply in the order they came.  The cache is
 * then invalidated for all of them with one script call, and only then
 * is each answered: a 2xx is sent only once the change is durable and
 * no later read can see the order as it was.  As in the writer, one
 * batch is in flight and the second thread stands by for one that runs
 * long: an amendment waiting on a row lock another transaction holds.
 *
 * A statement that fails once sent may still have committed (the
 * connection broke after the commit, before its answer): its requests get
 * a 503, and the amender invalidates their orders as if they had changed
 * to a version nobody knows, so no read serves what they were before.
 */
#ifndef ORDERD_ORDER_AMENDER_H
#define ORDERD_ORDER_AMENDER_H

#include <stdatomic.h>
#include <stdint.h>

#include "orderd/cache/hot_cache.h"
#include "orderd/cache/hot_lists.h"
#include "orderd/cache/order_cache.h"
#include "orderd/db/db_pool.h"
#include "orderd/db/order_db.h"
#include "orderd/base/test_hooks.h"
#include "orderd/store/invalidation.h"
#include "orderd/store/order_doc.h"

typedef struct order_amender order_amender;

typedef struct order_amender_options {
    db_pool *db;          /* borrowed */
    order_cache *cache;   /* borrowed; NULL = no Redis */
    hot_cache *hot;       /* borrowed; NULL = no in-process cache */
    hot_lists *hot_lists; /* borrowed; list pages beside it; NULL = none */
    invalidation *feed;   /* borrowed; NULL = no change feed (caching off) */
    /* longest wait for a pool connection; borrowed from the store, which
     * a reload may change meanwhile */
    const atomic_int *acquire_timeout_ms;
    int threads; /* batches in flight at once, at most */
    /* every thread but the first starts a batch only once the first has
     * been on one this long (batch_queue_set_standby); 0: each at once */
    int standby_after_ms;
    int batch_max;
    test_hooks test_hooks; /* TEST ONLY: amend_unknown_outcome */
} order_amender_options;

/* Starts the amender threads. NULL when out of memory or none can start. */
order_amender *order_amender_create(const order_amender_options *opts);
/* Answers everything queued and stops the threads; later submits fail.
 * The amender stays valid until order_amender_destroy. Idempotent. */
void order_amender_stop(order_amender *am);
/* Stops (if not yet) and frees. NULL-safe. */
void order_amender_destroy(order_amender *am);

/*
 * Queues one amendment.  done is called exactly once, on an amender
 * thread: for a status change with the new row's doc (callee owns
 * doc->json), for a delete with doc NULL, or with an error.  -1 when
 * stopping or out of memory (done not called).
 */
int order_amender_submit(order_amender *am, const order_amend *amend, uint64_t deadline_ns,
                         order_amend_done done, void *arg);

#endif
