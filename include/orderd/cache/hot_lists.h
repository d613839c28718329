/*
 * hot_lists.h - list pages (GET /orders?...) in process memory, beside the
 * hot cache of single orders and under its rules (hot_cache.h): a page is
 * served on the polling thread only while that cache is online and its
 * gate is open, and every flush of it drops the pages too.
 *
 * A page depends on one list generation (cache_list_gen_key: a customer's,
 * a status's or the global one), as its Redis copy does.  Here a
 * generation is a slot: one of HOT_LISTS_SLOTS counters, picked by hashing
 * the generation key.  Invalidating a generation bumps its slot, and a
 * page is served only while its slot still holds the value the page was
 * filled under.  Generations that share a slot drop each other's pages:
 * a miss, never a stale read.
 *
 * Tickets, as for orders: a reader takes one before it asks Redis or
 * PostgreSQL and puts with it; the put is refused if the slot moved or the
 * cache was flushed meanwhile.  Validity is checked again on every get,
 * so a bump that lands between a put's check and its insertion still wins.
 *
 * Who invalidates: whatever tells the hot cache that an order changed
 * names the change's generations here too: the change feed (every
 * writer's commits), Redis tracking of "gen:" keys, and this process's
 * own writes after their Redis invalidation, before they answer.
 *
 * Memory: at most max_bytes of pages and keys, the oldest dropped first.
 */
#ifndef ORDERD_HOT_LISTS_H
#define ORDERD_HOT_LISTS_H

#include <stddef.h>
#include <stdint.h>

#include "orderd/base/blob.h"
#include "orderd/cache/hot_cache.h"
#include "orderd/domain/order.h"
#include "orderd/domain/order_change.h"

typedef struct hot_lists hot_lists;

#define HOT_LISTS_SLOTS 16384

/* What a reader saw before it read; hot_lists_put compares. */
typedef struct hot_lists_ticket {
    uint64_t slot_seq;
    uint64_t flushes;
} hot_lists_ticket;

/* gate is borrowed and must outlive the lists; max_bytes > 0.  NULL on a
 * bad argument or no memory. */
hot_lists *hot_lists_create(hot_cache *gate, size_t max_bytes);
/* NULL-safe. */
void hot_lists_destroy(hot_lists *hl);

/* The page for q with a reference for the caller (blob_release), or NULL:
 * absent, invalidated, too old, or the gate is closed.  No I/O but one
 * poll(); a shard mutex.
 *
 * refresh_due (NULL: not asked) is set true for one caller per page, the
 * first to be served it once it has lived past its refresh point, between
 * half and three quarters of the max age (by the page's key): that caller
 * reads the page again in the background, as a miss would (Redis under
 * its current generation, else PostgreSQL), and puts it, under a ticket
 * taken first, so a page read often is replaced before it expires and no
 * reader waits for it.  Pages that expire together (filled together,
 * after a start or a flush) would otherwise all miss together, every max
 * age; their refresh points spread them over a quarter of it. */
blob *hot_lists_get(hot_lists *hl, const order_list_query *q, bool *refresh_due);

/* Taken before reading q's page from Redis or PostgreSQL. */
hot_lists_ticket hot_lists_ticket_for(hot_lists *hl, const order_list_query *q);

/* Keeps a copy of json as q's page, unless the ticket is stale or the
 * gate's cache is offline. */
void hot_lists_put(hot_lists *hl, const order_list_query *q, const char *json, size_t len,
                   hot_lists_ticket ticket);

/* ---- for the invalidation sources and local writes ---- */

/* One generation, by its key ("gen:customer:7"): what Redis tracking names. */
void hot_lists_invalidate_generation(hot_lists *hl, const char *gen_key);
/* Every generation the change can move its order into or out of. */
void hot_lists_invalidate_change(hot_lists *hl, const order_change *c);
/* Every page: for a change whose generations are not known. */
void hot_lists_flush(hot_lists *hl);

/* Pages held and their bytes, for /metrics. */
void hot_lists_usage(hot_lists *hl, size_t *pages, size_t *bytes);

#endif
