/*
 * rate_limit.h - a GCRA budget per client key, shared by every replica
 * through Redis, decided on the polling thread whenever it can be.
 *
 * Redis holds the truth: one Lua script (GCRA, Redis's own clock) grants
 * a lease of requests at once to the asking process.  The process
 * spends that lease locally, with no round trip, and asks again when it
 * runs out; so every request admitted anywhere was granted by Redis,
 * and one client's budget spent across replicas is limited overall.
 * A key's lease starts at 1 and doubles while leases run out before
 * they expire, up to a tenth of the burst (or of a second's rate); it
 * halves when one expires unspent.  Unspent lease is never handed back:
 * it expires after a tenth of the time the burst takes to refill, so
 * over any window the replicas together admit at most burst + rate x
 * window + a tenth of the burst; with a small budget the lease stays 1
 * and the shared limit is exact.
 * A thread takes half of a key's lease at a time into slots of its own,
 * so the polling threads serving one client share no lock per request.
 * A refusal is remembered until Redis said the next request may come
 * (Retry-After), so a throttled client costs no round trips either.
 *
 * Redis down (the breaker open, or the call failing): the same GCRA runs
 * in-process per key, counted (orderd_rate_limit_fallbacks_total) and
 * logged once per outage; each replica then limits on its own.
 * No redis: in-process only, on purpose.
 *
 * The table of keys is bounded (direct-mapped): an evicted key loses its
 * lease (fewer admissions, never more) and its fallback state.
 */
#ifndef ORDERD_AUTH_RATE_LIMIT_H
#define ORDERD_AUTH_RATE_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orderd/cache/redis.h"

#define RATE_LIMIT_KEY_MAX 80

typedef struct rate_limit_options {
    const char *name;    /* policy name: headers and the Redis key; copied */
    double per_second;   /* > 0 */
    int burst;           /* >= 1: requests allowed at once */
    redis_client *redis; /* borrowed; NULL = in-process only */
    int threads;         /* for the Redis calls (>= 1) */
    size_t queue_max;    /* waiting checks before check_async refuses */
    size_t slots;        /* keys remembered */
} rate_limit_options;

typedef struct rate_verdict {
    bool allowed;
    bool fallback;     /* decided in-process although Redis is configured */
    int remaining;     /* requests still allowed now (approximate across replicas) */
    int reset_s;       /* seconds until the whole burst is available again */
    int retry_after_s; /* !allowed: when to try again (>= 1) */
} rate_verdict;

typedef struct rate_limiter rate_limiter;

/* Registers the script and starts the threads.  NULL on failure. */
rate_limiter *rate_limiter_create(const rate_limit_options *opts);
/*
 * Refuses further check_async calls (-1) and returns once every queued
 * check has called back: before the HTTP server stops, so no connection
 * is left suspended on a limiter thread.  try_local and check still
 * work.  Idempotent; NULL-safe.
 */
void rate_limiter_stop(rate_limiter *rl);
/* Stops (as above), then frees.  NULL-safe. */
void rate_limiter_destroy(rate_limiter *rl);

/* The policy as RateLimit-Policy shows it (draft-ietf-httpapi-ratelimit-headers-10):
 * "<name>";q=<burst>;w=<seconds to refill it>.  Lives as long as rl. */
const char *rate_limiter_policy(const rate_limiter *rl);
const char *rate_limiter_name(const rate_limiter *rl);

/*
 * Decides without blocking when the local lease, a remembered refusal
 * or the fallback can: true with *v.  false: only Redis can say; call
 * rate_limiter_check_async (or _check, off the polling thread).
 */
bool rate_limiter_try_local(rate_limiter *rl, const char *key, rate_verdict *v);

/* Decides, asking Redis when needed; blocks up to the Redis timeouts. */
void rate_limiter_check(rate_limiter *rl, const char *key, rate_verdict *v);

/* done(arg, verdict) on a limiter thread, exactly once, unless -1. */
typedef void rate_limit_done(void *arg, const rate_verdict *v);
/* Queues rate_limiter_check for key (copied).  -1 when the queue is full. */
int rate_limiter_check_async(rate_limiter *rl, const char *key, rate_limit_done *done, void *arg);

#endif
