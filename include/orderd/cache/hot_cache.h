/*
 * hot_cache.h - an in-process cache of order responses in front of Redis,
 * read on the HTTP polling thread with no I/O.
 *
 * Coherence across processes comes from Redis client-side caching
 * (tracking.c): Redis pushes an invalidation for every change to an
 * "order:" key, from any process, to our subscriber connection, and the
 * entry is dropped.  Three rules keep reads from going stale:
 *
 *  1. Fill tickets.  A reader takes a ticket (its shard's invalidation
 *     sequence) *before* asking Redis; the put is refused if an
 *     invalidation landed in that shard meanwhile.
 *  2. The gate.  Redis queues an invalidation while it runs the write,
 *     before the writer's client can possibly send anyone a new request.
 *     So before serving, hot_cache_get() checks that nothing is waiting
 *     on the subscriber socket (ioctl FIONREAD) and that the listener is
 *     not halfway through applying a batch.  If either, it answers "not
 *     here" and the request takes the normal path.
 *  3. Offline means empty.  Until the subscriber and the tracking
 *     connection are both up, and whenever either drops, the cache is
 *     flushed and serves nothing.  Every entry also has a maximum age.
 *
 * Bodies are immutable refcounted blobs: a hit hands the same bytes to
 * libmicrohttpd without copying, and an invalidation never frees memory
 * a response is still sending.
 */
#ifndef ORDERD_HOT_CACHE_H
#define ORDERD_HOT_CACHE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hot_blob {
    atomic_int refs;
    int64_t version;
    size_t len;
    char data[]; /* the response body, len bytes + NUL */
} hot_blob;

/* Drops one reference; the last frees it. NULL-safe. */
void hot_blob_release(hot_blob *blob);

typedef struct hot_cache hot_cache;

/* max_entries > 0; entries older than max_age_ms are not served. */
hot_cache *hot_cache_create(size_t max_entries, int64_t max_age_ms);
/* NULL-safe. */
void hot_cache_destroy(hot_cache *hc);

/*
 * A hit: a blob with a reference for the caller (hot_blob_release when
 * done).  NULL when absent, too old, offline, or an invalidation may be
 * pending.  Never blocks on I/O: one ioctl and a shard mutex.
 */
hot_blob *hot_cache_get(hot_cache *hc, int64_t id);

/* Taken before reading Redis; see rule 1. */
uint64_t hot_cache_ticket(hot_cache *hc, int64_t id);
/* Stores json at version unless the ticket is stale or the cache is offline. */
void hot_cache_put(hot_cache *hc, int64_t id, int64_t version, const char *json, size_t len,
                   uint64_t ticket);

/* ---- for the invalidation listener (tracking.c) and local writes ---- */

/* Drops id; returns whether it was cached (worth re-reading). */
bool hot_cache_invalidate(hot_cache *hc, int64_t id);
void hot_cache_flush(hot_cache *hc);
/* online with the subscriber's socket fd, or offline (fd ignored; flushes). */
void hot_cache_set_online(hot_cache *hc, bool online, int subscriber_fd);
/* The listener brackets reading and applying a batch with busy true/false. */
void hot_cache_set_busy(hot_cache *hc, bool busy);

/* Counters for /metrics. */
uint64_t hot_cache_hits(hot_cache *hc);
size_t hot_cache_size(hot_cache *hc);

#endif
