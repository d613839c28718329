/*
 * list_reader.h - list pages from Redis in batches.
 *
 * A page Redis holds costs one script call; asked from an I/O worker,
 * each page also cost a worker wake-up, a blocking round trip on that
 * worker's own connection and a wake-up back, one page at a time (list
 * by customer ran at a quarter of hot GET).  Here one thread asks Redis
 * for every page waiting at that moment, in one script call
 * (order_cache_list_lookup_many), and answers the hits itself.
 *
 * A page Redis does not hold (or every page, while Redis is down) goes
 * back to its caller as a miss, to be read from PostgreSQL as before,
 * on an I/O worker (order_store_list), with the generation the batch
 * read: that read need not ask Redis again.  Its fill comes back here
 * (list_reader_fill) instead of costing the worker a round trip before
 * its answer, and lands with the next batch, every fill waiting in one
 * script call.  A fill may land late: it is filed under the generation
 * read before PostgreSQL, which any write that could change the page has
 * moved on, and it is dropped past its request's deadline.  The answers
 * are the ones order_cache_list_lookup gives: the same keys and the same
 * read, one script per batch instead of per page.
 *
 * With list pages in process memory (hot_lists.h), a page Redis held is
 * put there too, under a ticket taken when it was submitted.
 */
#ifndef ORDERD_LIST_READER_H
#define ORDERD_LIST_READER_H

#include <stddef.h>
#include <stdint.h>

#include "orderd/base/test_hooks.h"
#include "orderd/cache/hot_lists.h"
#include "orderd/cache/order_cache.h"
#include "orderd/domain/order.h"

typedef struct list_reader list_reader;

/*
 * Called exactly once per submitted page, on the reader's thread: json
 * (malloc'd, the callee's to free) and len for a page Redis held; json
 * NULL for a miss, for Redis being down, and for a page whose deadline
 * had passed before its turn.  generation (valid during the call): for a
 * miss Redis answered, what to file the page read from PostgreSQL under;
 * NULL when Redis did not say.
 */
typedef void (*list_lookup_done)(void *arg, char *json, size_t len, const char *generation);

/* Starts the thread; cache and lists (NULL: none) are borrowed; hooks:
 * list_lookup_delay_ms (TEST ONLY).  NULL when out of memory or it cannot
 * start. */
list_reader *list_reader_create(order_cache *cache, hot_lists *lists, test_hooks hooks);
/* Answers everything still queued (as Redis says) and stops the thread;
 * later submits fail.  Idempotent; NULL-safe. */
void list_reader_stop(list_reader *r);
/* Stops (if not yet) and frees. NULL-safe. */
void list_reader_destroy(list_reader *r);

/* Queues q (copied) for the next batch.  Does not block.  -1 (done not
 * called) when out of memory or stopping. */
int list_reader_submit(list_reader *r, const order_list_query *q, uint64_t deadline_ns,
                       list_lookup_done done, void *arg);

/* Queues q's page (json copied), read from PostgreSQL after a miss under
 * generation, to be filled into Redis by the next batch, unless
 * deadline_ns has passed by then.  Does not block.  -1 (nothing queued)
 * when out of memory or stopping. */
int list_reader_fill(list_reader *r, const order_list_query *q, const char *generation,
                     const char *json, size_t len, uint64_t deadline_ns);

#endif
