/*
 * invalidation.h - PostgreSQL's change feed applied to this process's
 * caches: every committed change to an order, from any writer (another
 * replica, psql, a batch job), drops the hot-cache entry and writes the
 * versioned tombstone to Redis (order_cache_invalidate_changes), and the
 * feed's state decides whether either cache may be read at all:
 *
 *   caught up -> Redis entries trusted, the hot cache's feed source online;
 *   otherwise -> Redis bypassed (reads go to PostgreSQL), hot cache offline.
 *
 * So a replica that cannot reach Redis no longer leaves the others stale:
 * every replica that can reach Redis repairs it from the feed.  Its own
 * writes (options.own_origin) it leaves alone: the writer invalidated
 * them before answering.
 */
#ifndef ORDERD_STORE_INVALIDATION_H
#define ORDERD_STORE_INVALIDATION_H

#include <stdbool.h>
#include <stdint.h>

#include "orderd/cache/hot_cache.h"
#include "orderd/cache/hot_lists.h"
#include "orderd/cache/order_cache.h"
#include "orderd/db/change_feed.h"

typedef struct invalidation_options {
    const char *db_url; /* copied by the feed */
    int connect_timeout_ms;
    int sync_interval_ms;
    int64_t replay_window_ms; /* longest life of any cached entry, and some */
    order_cache *cache;       /* borrowed; not NULL */
    hot_cache *hot;           /* borrowed; NULL = no hot cache */
    hot_lists *hot_lists;     /* borrowed; list pages beside it; NULL = none */
    int hot_source;           /* the feed's source index in hot */
    const char *own_origin;   /* this process's writes (db_pool_origin): not applied twice */
} invalidation_options;

typedef struct invalidation invalidation;

/* Starts the feed; the caches stay untrusted until it has caught up. */
invalidation *invalidation_start(const invalidation_options *opts);
/* Stops the feed; caches untrusted again. NULL-safe. */
void invalidation_stop(invalidation *inv);

change_feed_state invalidation_state(invalidation *inv);

/*
 * After a write of ours whose outcome is unknown (it may have committed):
 * the feed re-reads its window with our own changes in it
 * (change_feed_reread).  NULL inv: nothing.
 */
void invalidation_recheck_own(invalidation *inv);

/* change_feed_widen_replay_window of the feed. NULL inv: nothing. */
void invalidation_widen_replay_window(invalidation *inv, int64_t replay_window_ms);

#endif
