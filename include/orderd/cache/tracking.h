/*
 * tracking.h - keeps the hot cache coherent with Redis client-side
 * caching, RESP2 two-connection mode (hiredis 0.14 has no RESP3):
 *
 *   subscriber S:  CLIENT ID -> n;  SUBSCRIBE __redis__:invalidate
 *   tracker    T:  CLIENT TRACKING on REDIRECT n BCAST PREFIX order:
 *
 * Redis then sends S the name of every "order:" key that any client
 * changes (or that expires or is evicted), and S's thread drops that id
 * from the hot cache.  T only has to stay connected: tracking lives and
 * dies with it.  If either connection drops, the hot cache goes offline
 * (and is flushed) until both are back.
 *
 * With list pages in memory (hot_lists.h) T tracks "gen:" keys too, and
 * every list generation that changes bumps its slot there.
 */
#ifndef ORDERD_TRACKING_H
#define ORDERD_TRACKING_H

#include "orderd/cache/redis.h"
#include "orderd/cache/hot_cache.h"
#include "orderd/cache/hot_lists.h"

typedef struct tracking tracking;

/* Starts the listener thread, which drives the hot cache's invalidation
 * source source_index; redis, hot and lists (NULL: none) are borrowed.
 * NULL on failure. */
tracking *tracking_start(redis_client *redis, hot_cache *hot, hot_lists *lists, int source_index,
                         int retry_interval_ms);
/* Stops the thread and takes the hot cache offline. NULL-safe. */
void tracking_stop(tracking *t);

#endif
