/*
 * lookup_policy.h - whether a read that missed process memory asks Redis
 * before PostgreSQL.
 *
 * Asking Redis pays only when Redis answers often enough.  Each lookup
 * that Redis cannot answer costs an MGET, then the PostgreSQL read it
 * was meant to save, then a fill; and every fill comes back to every
 * process as a client-tracking invalidation, which closes the hot
 * cache's gate for a moment and drops (then re-reads) the entry just
 * put.  Measured on the reference machine, a load of reads that all miss
 * ran 37% slower with the caches on than with them off (docs/PERFORMANCE.md,
 * session 6).  So the reader keeps count: when Redis answered fewer than
 * min_hit_pct percent of the last LOOKUP_POLICY_WINDOW lookups, reads
 * go to PostgreSQL directly and fill nothing in Redis (they still fill
 * the hot cache), except one in LOOKUP_POLICY_SAMPLE_EVERY, which takes
 * the usual path so that the rate keeps being measured and Redis keeps
 * being filled, slowly.  When a window of those samples reaches the
 * rate again, every read asks Redis again.
 *
 * A skipped lookup is read exactly as a request with Cache-Control:
 * no-cache is (order_reader.c): PostgreSQL's answer, with the hot-cache
 * ticket taken before the read.  Skipping never serves anything older.
 *
 * lookup_policy_should_ask is called on the polling threads, so a read
 * that skips Redis goes straight to the load stage; lookup_policy_record
 * only on the reader's lookup thread, which owns the window.
 */
#ifndef ORDERD_LOOKUP_POLICY_H
#define ORDERD_LOOKUP_POLICY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* lookups per measurement */
#define LOOKUP_POLICY_WINDOW 1024
/* while skipping, one read in this many still asks Redis */
#define LOOKUP_POLICY_SAMPLE_EVERY 32

typedef struct lookup_policy {
    int min_hit_pct; /* 0: always ask */
    atomic_bool skipping;
    atomic_uint reads_while_skipping; /* every SAMPLE_EVERYth asks */
    /* the recording thread's */
    uint32_t window_lookups, window_hits;
} lookup_policy;

/* min_hit_pct 0..100; 0 never skips.  Starts out asking. */
void lookup_policy_init(lookup_policy *p, int min_hit_pct);

/* One read that missed process memory: true when it should ask Redis.
 * Any thread. */
bool lookup_policy_should_ask(lookup_policy *p);

/* One thread only.  What Redis said to asked lookups: hits of them it answered (an order
 * or "no such order"); lookups it could not answer because it was down
 * are not counted. */
void lookup_policy_record(lookup_policy *p, uint32_t asked, uint32_t hits);

#endif
