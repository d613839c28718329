/*
 * order_store.h - where handlers get and change orders.
 *
 * The read path (cache first, then PostgreSQL) and write invalidation
 * live here, so handlers never know whether a cache exists.  Reads return
 * the order already rendered as JSON (order_doc), the form both the cache
 * and the HTTP response want.  Every call takes a deadline (clock_now_ns()
 * base) and blocks: call from I/O workers only.
 */
#ifndef ORDERD_ORDER_STORE_H
#define ORDERD_ORDER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orderd/db_pool.h"
#include "orderd/error.h"
#include "orderd/order.h"

typedef struct order_doc {
    char *json;   /* owned, NUL-terminated; freed by order_doc_clear */
    size_t len;
    int64_t id;
    int64_t version;
} order_doc;

void order_doc_clear(order_doc *doc);

typedef struct order_store order_store;

/* db is borrowed and must outlive the store. NULL on allocation failure. */
order_store *order_store_create(db_pool *db);
void order_store_destroy(order_store *store);

orderd_err order_store_get(order_store *store, int64_t id, uint64_t deadline_ns, order_doc *out);

/*
 * Creates an order.  With idempotency_key (may be NULL) a replay returns
 * the first response's JSON and sets *replayed.
 */
orderd_err order_store_create_order(order_store *store, const order_create_req *req,
                                    const char *idempotency_key, uint64_t deadline_ns,
                                    order_doc *out, bool *replayed);

/* expected_version < 0: no precondition. */
orderd_err order_store_set_status(order_store *store, int64_t id, order_status to,
                                  int64_t expected_version, uint64_t deadline_ns, order_doc *out);

orderd_err order_store_delete(order_store *store, int64_t id, int64_t expected_version,
                              uint64_t deadline_ns);

/* Renders {"data":[...],"next_cursor":...} into a malloc'd *json. */
orderd_err order_store_list(order_store *store, const order_list_query *q, uint64_t deadline_ns,
                            char **json, size_t *len);

#endif
