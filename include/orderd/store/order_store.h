/*
 * order_store.h - the door handlers get and change orders through, so
 * they never know whether a cache exists.  Answers are orders already
 * rendered as JSON (order_doc.h).
 *
 * Behind the door:
 *   order_store.c   lists from PostgreSQL, then a fill: the one call
 *                   that blocks; call it from I/O workers only.
 *   list_reader.c   list pages Redis holds, in batches on its own thread.
 *   list_loader.c   customers' list pages from PostgreSQL, several per
 *                   statement, on its own threads.
 *   order_reader.c  GET /orders/:id in batches on its own threads: Redis,
 *                   then PostgreSQL for the misses, then a versioned fill
 *                   of Redis and the hot cache.
 *   order_writer.c  POST /orders, group-committed on its own threads.
 *   order_amender.c PATCH and DELETE, group-committed on its own threads.
 * The batched calls (the *_async ones) only queue: they never block and answer through a callback.
 * The hot cache itself is read by the handler on the polling thread (orders_api.c), before the
 * store is asked at all.  Every call takes a deadline (clock_now_ns() base).
 *
 * Guarantee: once a write call has returned, no read that starts later,
 * in this or any other orderd process sharing the Redis, returns an older
 * version (order_cache.h explains how).  When Redis is down, reads go to
 * PostgreSQL ("BYPASS") and invalidations are journaled (redis.h).
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
#include "orderd/cache/hot_lists.h"
#include "orderd/domain/order.h"
#include "orderd/store/list_reader.h"
#include "orderd/store/order_doc.h"

typedef struct order_store_options {
    db_pool *db;               /* borrowed; must outlive the store */
    int db_acquire_timeout_ms; /* longest wait for a pool connection (then 503) */
    redis_client *cache;       /* borrowed; NULL = caching off */
    hot_cache *hot;            /* borrowed; NULL = no in-process cache */
    hot_lists *hot_lists;      /* borrowed; list pages beside hot; NULL = none */
    int64_t ttl_ms;            /* present entries, before jitter */
    int jitter_pct;            /* +/- percent on ttl_ms */
    int64_t negative_ttl_ms;   /* "no such order" entries */
    int64_t list_ttl_ms;
    int64_t tombstone_ttl_ms; /* must exceed the longest read (request timeout) */
    double xfetch_beta;       /* early-refresh eagerness; 0 disables */
    int lookup_min_hit_pct;   /* store/lookup_policy.h; 0 = reads always ask Redis */
    /* the change feed (invalidation.h), on whenever caching is */
    const char *db_url;
    int db_connect_timeout_ms;
    int feed_sync_interval_ms;
    int64_t feed_replay_window_ms;
    int hot_feed_source;    /* the feed's invalidation source index in hot */
    int64_t hot_max_age_ms; /* for order_store_set_live; create leaves hot as it is */
    test_hooks test_hooks;  /* TEST ONLY: passed on to the cache and the reader */
} order_store_options;

typedef struct order_store order_store;

/* NULL on allocation failure or when a cache script cannot be registered. */
order_store *order_store_create(const order_store_options *opts);
/*
 * A reload: takes opts' live values (db_acquire_timeout_ms, the cache
 * lifetimes, xfetch_beta, hot_max_age_ms, and the two that only ever
 * grow: tombstone_ttl_ms and feed_replay_window_ms, because entries
 * cached and reads started under the old values may still be about).
 * Everything else in opts is ignored.  Safe while the store serves.
 */
void order_store_set_live(order_store *store, const order_store_options *opts);

/* Stops the batched paths (if not yet) and frees. NULL-safe. */
void order_store_destroy(order_store *store);

/*
 * Reads one order in the next batch (order_reader.h); done is called
 * exactly once, on a reader thread.  fresh (Cache-Control: no-cache):
 * skip Redis, read PostgreSQL, refill.  Does not block.  -1 (done not
 * called) when the store is stopping.
 */
int order_store_get_async(order_store *store, int64_t id, uint64_t deadline_ns, bool fresh,
                          order_read_done done, void *arg);

/*
 * Creates an order in the next group commit (order_writer.h); takes
 * req's contents.  With an idempotency_key (copied), a retry of a
 * completed key gets its first response again, with replayed set.  Does
 * not block; done is called exactly once on another thread.  -1 (done
 * not called) when stopping.
 */
int order_store_create_async(order_store *store, order_create_req *req, const char *idempotency_key,
                             uint64_t deadline_ns, order_create_done done, void *arg);

/*
 * A status change in the next group commit of the amender
 * (order_amender.h).  expected_version < 0: no precondition.  owner > 0:
 * the order must be that customer's (else ORDERD_ERR_NOT_FOUND).  Does
 * not block; done is called exactly once on another thread, with the new
 * row.  -1 (done not called) when stopping.
 */
int order_store_set_status_async(order_store *store, int64_t id, order_status to,
                                 int64_t expected_version, int64_t owner, uint64_t deadline_ns,
                                 order_amend_done done, void *arg);

/* A delete in the next group commit of the amender, as set_status_async;
 * done gets no doc. */
int order_store_delete_async(order_store *store, int64_t id, int64_t expected_version,
                             uint64_t deadline_ns, order_amend_done done, void *arg);

/*
 * A list page from Redis in the next batch (list_reader.h): done gets
 * the page, or NULL for the caller to call order_store_list on an I/O
 * worker.  Does not block.  -1 (done not called) without Redis, or when
 * stopping.
 */
int order_store_list_lookup_async(order_store *store, const order_list_query *q,
                                  uint64_t deadline_ns, list_lookup_done done, void *arg);

/* Renders {"data":[...],"next_cursor":...} into a malloc'd *json:
 * Redis's page, else PostgreSQL's (then filled into Redis, by the list
 * reader after this returns).  fresh: from PostgreSQL, not from the list
 * cache.  known_generation: the generation a lookup that missed this page
 * just read (list_lookup_done's), so Redis is not asked again; NULL to
 * ask.  Either way the page is put into process memory (hot_lists), under
 * a ticket taken first. */
orderd_err order_store_list(order_store *store, const order_list_query *q, uint64_t deadline_ns,
                            bool fresh, const char *known_generation, char **json, size_t *len,
                            const char **cache_status);

/*
 * The answer to one list page read by the list loader: err ORDERD_OK with
 * json (malloc'd, the callee's) and len, else an error and json NULL;
 * cache_status says what the caches did.  Runs on a loader thread and
 * must not block.
 */
typedef void (*order_list_done)(void *arg, orderd_err err, char *json, size_t len,
                                const char *cache_status);

/*
 * A customer's list page from PostgreSQL in the list loader's next
 * statement (list_loader.h), then into process memory and, filed under
 * known_generation, into Redis, as order_store_list does.  Does not
 * block.  known_generation must be the generation a lookup that missed
 * this page just read; NULL only without Redis ("BYPASS").  -1 (done not
 * called) for a page the loader does not take (order_db_list_combines),
 * with Redis but no generation, or when stopping: order_store_list on an
 * I/O worker then reads it, as before.
 */
int order_store_list_read_async(order_store *store, const order_list_query *q, uint64_t deadline_ns,
                                const char *known_generation, order_list_done done, void *arg);

/*
 * Answers every queued batched read and create and refuses new ones
 * (503): at shutdown, so no connection is left suspended when the HTTP
 * server stops.  Idempotent; NULL-safe.
 */
void order_store_stop(order_store *store);

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
