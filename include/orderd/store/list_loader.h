/*
 * list_loader.h - customers' list pages from PostgreSQL, several pages
 * per statement.
 *
 * A page read alone costs PostgreSQL a statement of its own and orderd
 * an I/O worker's wake-up, a blocking round trip and a wake-up back
 * (1.32 context switches a page): caches off, list by customer ran at
 * 6,300 to 6,700 pages/s, and a cold cache's misses could not be served
 * faster than that (docs/PERFORMANCE.md, session 14).  PostgreSQL itself
 * serves about 1.9x the pages per second when a statement reads eight
 * customers' pages at once (order_db_list_customers), and reaches that
 * with two such statements in flight.
 *
 * So the pages wait here, queued straight from the thread that missed
 * (the polling thread, or the list reader's): a fixed number of loader
 * threads (statements in flight) each take every page waiting, up to
 * pages_max, read them in one statement, render each page and answer it.
 * No page waits for company: a free loader takes what is there, one page
 * or sixteen.  Fed from blocking I/O workers instead, at most as many
 * pages wait as there are workers, and a session 14 prototype that
 * combined there was slower than one page per statement.
 *
 * Only pages order_db_list_combines takes come here; other list queries
 * are read one per statement as before.
 */
#ifndef ORDERD_LIST_LOADER_H
#define ORDERD_LIST_LOADER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "orderd/base/error.h"
#include "orderd/base/test_hooks.h"
#include "orderd/db/db_pool.h"
#include "orderd/domain/order.h"

typedef struct list_loader list_loader;

typedef struct list_loader_options {
    db_pool *db; /* borrowed */
    /* longest wait for a pool connection; borrowed from the store, which
     * a reload may change meanwhile */
    const atomic_int *acquire_timeout_ms;
    int statements;        /* loader threads: statements in flight at most (>= 1) */
    int pages_max;         /* pages per statement at most (>= 1) */
    test_hooks test_hooks; /* TEST ONLY: list_load_delay_ms */
} list_loader_options;

/*
 * Called exactly once per submitted page, on a loader thread, and must
 * not block: err ORDERD_OK with json (the page, malloc'd, the callee's)
 * and len; else an error (ORDERD_ERR_TIMEOUT when the deadline passed
 * before its turn) and json NULL.
 */
typedef void (*list_load_done)(void *arg, orderd_err err, char *json, size_t len);

/* Starts the threads. NULL when out of memory or they cannot start. */
list_loader *list_loader_create(const list_loader_options *opts);
/* Answers everything still queued and stops the threads; later submits
 * fail.  Idempotent; NULL-safe. */
void list_loader_stop(list_loader *l);
/* Stops (if not yet) and frees. NULL-safe. */
void list_loader_destroy(list_loader *l);

/* Queues q's page (q copied; order_db_list_combines(q) must hold) for
 * the next statement.  Does not block.  -1 (done not called) when q is
 * not such a page, out of memory or stopping. */
int list_loader_submit(list_loader *l, const order_list_query *q, uint64_t deadline_ns,
                       list_load_done done, void *arg);

#endif
