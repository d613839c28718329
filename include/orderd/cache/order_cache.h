/*
 * order_cache.h - the versioned entry protocol for orders in Redis, on
 * top of redis.h.  The store (order_store.c, order_reader.c,
 * order_writer.c) decides when; this module knows how.
 *
 * Why versions: the classic read-through cache (GET; on miss read the
 * database and SET; on write DEL) has a race.  Reader R misses and reads
 * version 1; writer W commits version 2 and DELs; R then SETs version 1,
 * and every later reader sees version 1 until the TTL ends.  Here:
 *  - W, after commit, writes a tombstone "T2" (not a DEL) in a Lua script
 *    that never replaces a newer entry;
 *  - R fills through a Lua script that refuses when the cached version is
 *    newer than what R read, so R's "P1" loses to W's "T2";
 *  - a negative entry ("no such order") is only ever set with NX, so it
 *    cannot overwrite a tombstone either.
 * The tombstone must outlive any read still in flight: readers drop their
 * fill once past their request deadline, and tombstone_ttl_ms exceeds it.
 * Lists: list keys embed a generation counter that every write bumps in
 * the same script; a reader reads the generation before PostgreSQL, so a
 * late fill lands under a generation no later reader asks for.
 */
#ifndef ORDERD_ORDER_CACHE_H
#define ORDERD_ORDER_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orderd/base/test_hooks.h"
#include "orderd/cache/redis.h"
#include "orderd/domain/order.h"
#include "orderd/domain/order_change.h"

typedef struct order_cache order_cache;

typedef struct order_cache_options {
    redis_client *redis; /* borrowed */
    int64_t ttl_ms;
    int jitter_pct;
    int64_t negative_ttl_ms;
    int64_t list_ttl_ms;
    int64_t tombstone_ttl_ms;
    double xfetch_beta;
    test_hooks test_hooks; /* TEST ONLY: unsafe_classic_cache */
} order_cache_options;

order_cache *order_cache_create(const order_cache_options *opts);

/*
 * A reload: takes the lifetimes and xfetch_beta of opts (the rest is
 * ignored) for every later fill and invalidation; any thread may call it
 * while others use the cache.  tombstone_ttl_ms is only ever raised,
 * since reads started under an older, longer deadline may be in flight.
 */
void order_cache_set_ttls(order_cache *oc, const order_cache_options *opts);

/* NULL-safe. */
void order_cache_destroy(order_cache *oc);

typedef enum order_cache_result {
    ORDER_CACHE_HIT = 0, /* *json / *version filled */
    ORDER_CACHE_ABSENT,  /* cached "no such order" */
    ORDER_CACHE_MISS,    /* read PostgreSQL, then fill */
    ORDER_CACHE_REFRESH, /* a hit, but this reader should refresh it early (XFetch) */
    ORDER_CACHE_DOWN,    /* Redis unusable: read PostgreSQL, don't fill */
} order_cache_result;

/*
 * One order's answer in a batch lookup.  HIT/REFRESH: json is malloc'd
 * (caller frees) and is the API body as cached, version its version.
 * MISS: version is the tombstone's (0 when there was none): any row
 * loaded to answer this read must be at least that new.
 */
typedef struct order_cache_read {
    order_cache_result result;
    char *json;
    size_t len;
    int64_t version;
} order_cache_read;

/* One MGET for n ids: out[i] answers ids[i] (all DOWN when Redis is). */
void order_cache_lookup_many(order_cache *oc, const int64_t *ids, int n, order_cache_read *out);

typedef struct order_cache_fill_item {
    int64_t id;
    bool absent;     /* cache "no such order" (never over anything) */
    int64_t version; /* present: the version read, and its JSON */
    const char *json;
    size_t len;
    bool accepted; /* out: Redis took it */
} order_cache_fill_item;

/* Fills what a batch read from PostgreSQL: one script call.  read_ms is
 * how long the read took (XFetch uses it). */
void order_cache_fill_many(order_cache *oc, order_cache_fill_item *items, int n, int64_t read_ms);

/*
 * The new_version for a write whose outcome is unknown (its connection
 * broke after the statement was sent): a tombstone no fill can pass,
 * whatever version did commit, until it expires.
 */
#define ORDER_CACHE_VERSION_UNKNOWN INT64_MAX

/*
 * After a committed write: tombstone (or, deleted, a "deleted" marker)
 * at new_version, and bump the generation of every list the order could
 * be in: global, its customer's, and each status in statuses.  Durable:
 * journaled when Redis is down (redis.h).  true when it reached Redis
 * now, false when it was journaled (or is the test-only classic kind).
 */
bool order_cache_invalidate(order_cache *oc, int64_t id, int64_t new_version, bool deleted,
                            int64_t customer_id, const order_status *statuses, int nstatuses);

/* order_cache_invalidate for a batch of new orders (version 1, pending):
 * one script call.  Durable, and answers, like it. */
bool order_cache_invalidate_created(order_cache *oc, const order *created, int n);

/* After creates whose outcome is unknown (they may have committed, under
 * ids not known): the lists new orders of these customers would be on
 * move to new generations.  Durable, and answers, like the above. */
bool order_cache_invalidate_maybe_created(order_cache *oc, const int64_t *customer_ids, int n);

/*
 * Lists: a HIT fills *json (malloc'd); a MISS fills *generation, to pass
 * to order_cache_list_fill after reading PostgreSQL.
 */
order_cache_result order_cache_list_lookup(order_cache *oc, const order_list_query *q, char **json,
                                           size_t *len, char generation[24]);
void order_cache_list_fill(order_cache *oc, const order_list_query *q, const char *generation,
                           const char *json, size_t len);

/*
 * n list pages in one script call (the same read as order_cache_list_lookup
 * for each): json[i] (malloc'd, *len[i]) for each page cached, NULL for
 * the others; generation[i] the generation each page was looked up under,
 * for order_cache_list_fill(_many) after PostgreSQL, or "" where Redis did
 * not say (then a reader asks again).  Counts the hits and the misses it
 * knows the generation of.  false (nothing filled) when Redis is down or
 * not trusted; n must be at most ORDER_CACHE_LIST_BATCH_MAX.
 */
#define ORDER_CACHE_LIST_BATCH_MAX 64
bool order_cache_list_lookup_many(order_cache *oc, const order_list_query *const *queries, int n,
                                  char **json, size_t *len, char (*generation)[24]);

/* One page read from PostgreSQL, to be filed under the generation its
 * lookup saw (everything borrowed). */
typedef struct order_cache_list_fill_item {
    const order_list_query *query;
    const char *generation;
    const char *json;
    size_t len;
} order_cache_list_fill_item;

/* order_cache_list_fill for n pages (at most ORDER_CACHE_LIST_BATCH_MAX)
 * in one script call; nothing while Redis is not trusted. */
void order_cache_list_fill_many(order_cache *oc, const order_cache_list_fill_item *items, int n);

/*
 * Changes PostgreSQL published (db/change_feed.h), from any writer: one
 * script call sets each order's tombstone (or deleted marker) unless
 * something at least as new is cached, and bumps every list generation
 * the changes touch.  Durable like order_cache_invalidate.
 */
void order_cache_invalidate_changes(order_cache *oc, const order_change *changes, int n);

/*
 * Trust.  A new order_cache is untrusted: lookups answer DOWN and fills
 * are dropped, so reads go to PostgreSQL, until set_trusted(true) says
 * every change that could make an entry stale has been applied (the
 * change feed is caught up).  Invalidations are always written.
 */
void order_cache_set_trusted(order_cache *oc, bool trusted);

/* Is the cache usable for reads right now: Redis up and trusted? */
bool order_cache_is_up(order_cache *oc);
/* Is Redis itself reachable (whatever the trust)? */
bool order_cache_redis_is_up(order_cache *oc);

#endif
