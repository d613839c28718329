/*
 * hot_cache.h - an in-process cache of order responses in front of Redis,
 * read on the HTTP polling thread with no I/O.
 *
 * Coherence across processes comes from invalidation *sources*, each a
 * stream of "this order changed" arriving on a socket: PostgreSQL's
 * change feed (store/invalidation.c, every committed change from any
 * writer) and Redis client-side caching (tracking.c, every change to an
 * "order:" key).  Either one drops the entry; whichever arrives first
 * wins.  Three rules keep reads from going stale:
 *
 *  1. Fill tickets.  A reader takes a ticket (its shard's invalidation
 *     sequence) *before* asking Redis; the put is refused if an
 *     invalidation landed in that shard meanwhile.
 *  2. The gate.  Before serving, hot_cache_get() checks that nothing is
 *     waiting on any source's socket (one poll(), timeout 0) and that no
 *     listener is halfway through applying a batch.  If either, it
 *     answers "not here" and the request takes the normal path.  What
 *     the gate cannot see is an invalidation still on the wire: that is
 *     the bound docs/CONSISTENCY.md states and tests measure.
 *  3. Offline means empty.  Until every source is online (connected and,
 *     for the change feed, caught up), and whenever one drops, the cache
 *     is flushed and serves nothing.  Every entry also has a maximum age.
 *
 * Bodies are immutable refcounted blobs (base/blob.h): a hit hands the
 * same bytes to libmicrohttpd without copying, and an invalidation never
 * frees memory a response is still sending.
 *
 * An entry is filled with the order's JSON; other representations of the
 * same version (application/msgpack) are attached to it later, built by
 * the reader from that JSON the first time one is asked for.  They live
 * and die with the entry: an invalidation, a flush, an eviction or a put
 * of another version drops them all, so each is exactly as fresh as the
 * JSON beside it.
 */
#ifndef ORDERD_HOT_CACHE_H
#define ORDERD_HOT_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orderd/base/blob.h"

typedef struct hot_cache hot_cache;

#define HOT_CACHE_SOURCES_MAX 4

/* max_entries > 0; entries older than max_age_ms are not served; sources
 * (1..HOT_CACHE_SOURCES_MAX) invalidation streams must all be online
 * before anything is served.  NULL on a bad argument or no memory. */
hot_cache *hot_cache_create(size_t max_entries, int64_t max_age_ms, int sources);

/* A reload: entries older than max_age_ms are no longer served, from
 * the next lookup on.  Any thread, any time. */
void hot_cache_set_max_age(hot_cache *hc, int64_t max_age_ms);
/* NULL-safe. */
void hot_cache_destroy(hot_cache *hc);

/*
 * A hit: the response body with a reference for the caller (blob_release
 * when done) and its order version in *version.  NULL (*version
 * untouched) when absent, too old, offline, or an invalidation may be
 * pending.  Never blocks on I/O: one ioctl and a shard mutex.
 */
blob *hot_cache_get(hot_cache *hc, int64_t id, int64_t *version);

/* The representations an entry may hold beside its JSON. */
typedef enum hot_cache_repr { HOT_CACHE_MSGPACK = 0, HOT_CACHE_REPRS } hot_cache_repr;

/*
 * As hot_cache_get (the JSON and its version), and *alt gets the entry's
 * representation repr too: a reference for the caller, or NULL when none
 * was attached yet.  *alt is untouched when the lookup misses.
 */
blob *hot_cache_get_with(hot_cache *hc, int64_t id, hot_cache_repr repr, int64_t *version,
                         blob **alt);

/*
 * Keeps body as id's representation repr, only if id is still cached at
 * version: an invalidation since then dropped the entry and whatever it
 * held, so a representation built from older JSON never lands.  Takes a
 * reference of its own (the caller keeps its one).  A representation
 * already attached stays.
 */
void hot_cache_attach(hot_cache *hc, int64_t id, int64_t version, hot_cache_repr repr, blob *body);

/* Whether id has an entry, servable or not (the gate may be closed, or it
 * may be too old): a shard mutex, no I/O.  For statistics only: the
 * answer may be out of date by the time it is used. */
bool hot_cache_holds(hot_cache *hc, int64_t id);

/*
 * Whether an order read after a miss should be put: yes while id's shard
 * has room or holds id; when the shard is full, only on the second time
 * in a while that id is offered (a doorkeeper, as in TinyLFU).  Why: with
 * far more orders read than the cache holds, every put evicted one, at
 * the cost of a malloc, a copy and a free on the reading thread and the
 * allocator's, and an order read once displaced one read again.  A
 * refusal is remembered in a slot of a table twice the shard's buckets
 * (another refusal may overwrite it) and counted.  Never a question of
 * freshness: a put refused only costs a later miss.
 */
bool hot_cache_admit(hot_cache *hc, int64_t id);

/* Taken before reading Redis; see rule 1. */
uint64_t hot_cache_ticket(hot_cache *hc, int64_t id);
/* Stores json at version unless the ticket is stale or the cache is offline. */
void hot_cache_put(hot_cache *hc, int64_t id, int64_t version, const char *json, size_t len,
                   uint64_t ticket);

/* ---- for the invalidation sources and local writes ---- */

/* Drops id; returns whether it was cached (worth re-reading). */
bool hot_cache_invalidate(hot_cache *hc, int64_t id);
void hot_cache_flush(hot_cache *hc);
/* Source source_index (0..sources-1) goes online, with the socket its
 * invalidations arrive on, or offline (fd ignored).  Either way the cache
 * is flushed. */
void hot_cache_set_online(hot_cache *hc, int source_index, bool online, int fd);
/* A source brackets reading and applying a batch with busy true/false. */
void hot_cache_set_busy(hot_cache *hc, int source_index, bool busy);

/* ---- for hot_lists.h, which serves list pages under the same rules ---- */

/* Online, and no invalidation pending on any source (rules 2 and 3): what
 * a hit must see after its lookup.  One poll(), no lock. */
bool hot_cache_gate_open(hot_cache *hc);
/* How many flushes there have been: a flush (or going offline) drops
 * every list page filled before it too. */
uint64_t hot_cache_flushes(hot_cache *hc);
/* The live maximum age (hot_cache_set_max_age). */
int64_t hot_cache_max_age_ms(hot_cache *hc);

/* Entries held, for /metrics (hits and evictions are base/metrics.h counters). */
size_t hot_cache_size(hot_cache *hc);

#endif
