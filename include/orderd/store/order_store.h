/*
 * order_store.h - where handlers get and change orders.
 *
 * The read path (Redis first, then PostgreSQL, then fill Redis) and write
 * invalidation live here, so handlers never know whether a cache exists.
 * Reads return the order already rendered as JSON (order_doc), the form
 * both the cache and the HTTP response want.  Every call takes a deadline
 * (clock_now_ns() base) and blocks: call from I/O workers only.
 *
 * Guarantee: once a write call has returned, no read that starts later,
 * in this or any other orderd process sharing the Redis, returns an older
 * version (order_store.c explains how).  When Redis is down, reads go to
 * PostgreSQL ("BYPASS") and invalidations are journaled (cache.h).
 */
#ifndef ORDERD_ORDER_STORE_H
#define ORDERD_ORDER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orderd/cache/redis.h"
#include "orderd/db/db_pool.h"
#include "orderd/base/error.h"
#include "orderd/base/test_hooks.h"
#include "orderd/cache/hot_cache.h"
#include "orderd/domain/order.h"

typedef struct order_doc {
    char *json; /* owned, NUL-terminated; freed by order_doc_clear */
    size_t len;
    int64_t id;
    int64_t version;
} order_doc;

/* X-Cache values; static strings. */
#define CACHE_STATUS_HIT    "HIT"
#define CACHE_STATUS_MISS   "MISS"
#define CACHE_STATUS_BYPASS "BYPASS"

typedef struct order_store_options {
    db_pool *db;               /* borrowed; must outlive the store */
    int db_acquire_timeout_ms; /* longest wait for a pool connection (then 503) */
    redis_client *cache;       /* borrowed; NULL = caching off */
    hot_cache *hot;            /* borrowed; NULL = no in-process cache */
    int64_t ttl_ms;            /* present entries, before jitter */
    int jitter_pct;            /* +/- percent on ttl_ms */
    int64_t negative_ttl_ms;   /* "no such order" entries */
    int64_t list_ttl_ms;
    int64_t tombstone_ttl_ms; /* must exceed the longest read (request timeout) */
    double xfetch_beta;       /* early-refresh eagerness; 0 disables */
    /* the change feed (invalidation.h), on whenever caching is */
    const char *db_url;
    int db_connect_timeout_ms;
    int feed_sync_interval_ms;
    int64_t feed_replay_window_ms;
    int hot_feed_source;   /* the feed's invalidation source index in hot */
    test_hooks test_hooks; /* TEST ONLY: passed on to the cache and the reader */
} order_store_options;

void order_doc_clear(order_doc *doc);

typedef struct order_store order_store;

/* NULL on allocation failure or when a cache script cannot be registered. */
order_store *order_store_create(const order_store_options *opts);
void order_store_destroy(order_store *store);

/*
 * The answer to one read: err ORDERD_OK with doc (the callee owns
 * doc->json), ORDERD_ERR_NOT_FOUND, or an error; cache_status says where
 * it came from.  Runs on a reader thread and must not block.
 */
typedef void (*order_read_done)(void *arg, orderd_err err, order_doc *doc,
                                const char *cache_status);

/*
 * Reads one order in the next batch (order_reader.h); done is called
 * exactly once, on another thread.  fresh (Cache-Control: no-cache):
 * skip Redis, read PostgreSQL, refill.  Unlike the other calls this one does
 * not block.  -1 (done not called) when the store is stopping.
 */
int order_store_get_async(order_store *store, int64_t id, uint64_t deadline_ns, bool fresh,
                          order_read_done done, void *arg);

/*
 * Creates an order under an Idempotency-Key (not NULL), in its own
 * transaction: a replay returns the first response's JSON and sets
 * *replayed.  Creates without a key go to order_store_create_async.
 */
orderd_err order_store_create_idempotent(order_store *store, const order_create_req *req,
                                         const char *idempotency_key, uint64_t deadline_ns,
                                         order_doc *out, bool *replayed);

/* The answer to one create: ORDERD_OK with doc (callee owns doc->json) or an error. */
typedef void (*order_create_done)(void *arg, orderd_err err, order_doc *doc);

/*
 * Creates an order without an idempotency key in the next group commit
 * (order_writer.h); takes req's contents.  Does not block; done is called
 * exactly once on another thread.  -1 (done not called) when stopping.
 */
int order_store_create_async(order_store *store, order_create_req *req, uint64_t deadline_ns,
                             order_create_done done, void *arg);

/* expected_version < 0: no precondition. */
orderd_err order_store_set_status(order_store *store, int64_t id, order_status to,
                                  int64_t expected_version, uint64_t deadline_ns, order_doc *out);

orderd_err order_store_delete(order_store *store, int64_t id, int64_t expected_version,
                              uint64_t deadline_ns);

/* Renders {"data":[...],"next_cursor":...} into a malloc'd *json.
 * fresh: from PostgreSQL, not from the list cache. */
orderd_err order_store_list(order_store *store, const order_list_query *q, uint64_t deadline_ns,
                            bool fresh, char **json, size_t *len, const char **cache_status);

/*
 * Answers every queued batched read and create and refuses new ones
 * (503): at shutdown, so no connection is left suspended when the HTTP
 * server stops.
 */
void order_store_stop_async(order_store *store);

/* "up", "down" or "off", for /readyz. */
const char *order_store_cache_state(order_store *store);

/*
 * The change feed for /readyz and /metrics: "caught_up", "catching_up",
 * "down", or "off" without caching; *state_num 2/1/0/-1 the same.
 */
const char *order_store_invalidation_state(order_store *store, int *state_num);

/*
 * May this process report ready, as far as its caches go?  Redis has
 * settled (redis.h) and the change feed has caught up; true without
 * caching.
 */
bool order_store_caches_settled(order_store *store);

#endif
