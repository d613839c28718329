/*
 * lookup_policy.h - whether a read that missed process memory asks Redis
 * before PostgreSQL.
 *
 * Asking Redis pays only when Redis answers often enough.  Each lookup
 * that Redis cannot answer costs an MGET, then the PostgreSQL read it was
 * meant to save, then a fill; and every fill comes back to every process
 * as a client-tracking invalidation, which closes the hot cache's gate
 * for a moment and drops (then re-reads) the entry just put.  When nearly
 * every read misses, that made reads with the caches on slower than with
 * them off (docs/PERFORMANCE.md, session 6).
 *
 * So the reader measures two rates over windows of LOOKUP_POLICY_WINDOW
 * reads that missed process memory:
 *
 *  - what Redis answered: hits among the lookups actually asked;
 *  - what Redis could answer if it were filled: re-reads, i.e. misses of
 *    an order that missed recently too (a table of the last ~2^20
 *    orders that missed, by fingerprint).  Redis filled by those earlier
 *    misses would hold it.  This one keeps a cold Redis from staying
 *    unfilled: a miss that skips Redis fills nothing there.
 *
 * When both are below min_hit_pct percent, reads go to PostgreSQL directly
 * and fill only the hot cache, except one in LOOKUP_POLICY_SAMPLE_EVERY,
 * which takes the usual path (and fills Redis).  As soon as a window has
 * either rate at min_hit_pct or more, every read asks Redis again.  Uniform
 * reads over far more orders than are read in a while (misses that do not
 * come back) skip; a working set that misses memory but comes back, or one
 * that other processes filled, asks.
 *
 * A skipped lookup is read exactly as a request with Cache-Control:
 * no-cache is (order_reader.c): PostgreSQL's answer, with the hot-cache
 * ticket taken before the read.  Skipping never serves anything older.
 *
 * Thread safety: lookup_policy_should_ask runs on the polling threads, so
 * a read that skips Redis goes straight to the load stage;
 * lookup_policy_record only on the reader's lookup thread.  The counters
 * are relaxed atomics: a race costs a slightly wrong estimate, never a
 * wrong answer.
 */
#ifndef ORDERD_LOOKUP_POLICY_H
#define ORDERD_LOOKUP_POLICY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* reads (or lookups) per measurement */
#define LOOKUP_POLICY_WINDOW 1024
/* while skipping, one read in this many still asks Redis */
#define LOOKUP_POLICY_SAMPLE_EVERY 32
/* orders remembered as "missed recently": 4 MiB of fingerprints */
#define LOOKUP_POLICY_RECENT_BITS 20

typedef struct lookup_policy {
    int min_hit_pct; /* 0: always ask */
    atomic_bool skipping;
    atomic_uint reads_while_skipping; /* every SAMPLE_EVERYth asks */
    /* re-reads: every read that missed process memory */
    _Atomic uint32_t *recent; /* 2^LOOKUP_POLICY_RECENT_BITS fingerprints */
    atomic_uint misses, rereads;
    atomic_int reread_pct; /* of the latest full window; 100 before the first */
    /* Redis hits: the recording thread's */
    uint32_t window_lookups, window_hits;
    atomic_int hit_pct; /* of the latest full window; 100 before the first */
} lookup_policy;

/* min_hit_pct 0..100; 0 never skips.  Starts out asking.  -1 when out of
 * memory. */
int lookup_policy_init(lookup_policy *p, int min_hit_pct);
void lookup_policy_destroy(lookup_policy *p);

/* A read of order id missed process memory: true when it should ask
 * Redis.  Any thread. */
bool lookup_policy_should_ask(lookup_policy *p, int64_t id);

/* One thread only.  What Redis said to asked lookups: hits of them it
 * answered (an order or "no such order"); lookups it could not answer
 * because it was down are not counted. */
void lookup_policy_record(lookup_policy *p, uint32_t asked, uint32_t hits);

#endif
