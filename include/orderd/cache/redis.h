/*
 * redis.h - the Redis client orderd uses (hiredis 0.14), made safe to lean on.
 *
 * - One connection per calling thread (hiredis contexts are not
 *   thread-safe), opened lazily with a connect timeout; the command
 *   timeout is set again after every (re)connect, because
 *   redisReconnect() would not re-apply redisSetTimeout().
 * - A circuit breaker: after `failure_threshold` consecutive failures
 *   every call returns REDIS_RC_UNAVAILABLE at once; a recovery thread PINGs
 *   every probe_interval_ms and closes the breaker once Redis has
 *   answered for recovery_grace_ms.  It starts open, so the same applies
 *   at start-up.
 * - Durable writes (invalidations): a write that fails, or is skipped
 *   while the breaker is open, is journaled and replayed by the recovery thread
 *   before the breaker closes, so this process never reads entries it
 *   failed to invalidate.  If the journal overflows, the recovery thread flushes
 *   the Redis database instead (orderd wants a database of its own).
 *
 * Every call blocks for at most about connect + command timeout: call
 * from I/O workers, never from an HTTP polling thread.
 */
#ifndef ORDERD_CACHE_REDIS_H
#define ORDERD_CACHE_REDIS_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct redis_client_options {
    const char *url; /* redis://[:password@]host[:port][/db]; copied */
    int connect_timeout_ms;
    int command_timeout_ms;
    int failure_threshold; /* consecutive failures that open the breaker */
    int probe_interval_ms;
    int recovery_grace_ms; /* Redis must answer this long before it is used again */
    size_t journal_max;    /* journaled writes before falling back to a flush */
} redis_client_options;

typedef enum redis_rc {
    REDIS_RC_OK = 0,
    REDIS_RC_NIL,         /* the key does not exist */
    REDIS_RC_UNAVAILABLE, /* breaker open, timeout, connection or server error */
} redis_rc;

typedef struct redis_client redis_client;

/* Parses the URL and starts the recovery thread; Redis may be down.  NULL
 * (with *why set to a static message) on a bad URL or no memory. */
redis_client *redis_client_create(const redis_client_options *opts, const char **why);
/* Stops the recovery thread.  Threads that used the cache must have ended. NULL-safe. */
void redis_client_destroy(redis_client *c);

/*
 * A new connection of the caller's own (authenticated, database
 * selected, both timeouts set), outside the per-thread ones; for the
 * invalidation listener.  NULL when Redis cannot be reached.  Caller
 * redisFree()s it.
 */
redisContext *redis_client_open_connection(redis_client *c);

/* Registers a Lua script before first use; returns its id (>= 0) or -1.
 * The same source again returns the id it got the first time. */
int redis_client_script_add(redis_client *c, const char *source);

/* Is the breaker closed (Redis usable)? */
bool redis_client_is_up(redis_client *c);
/*
 * Has start-up decided: the breaker closed once, or Redis was found
 * unreachable once?  Until then a write may not reach Redis while other
 * processes trust it, so the process does not report ready.
 */
bool redis_client_is_settled(redis_client *c);
/* Times the breaker opened since start (tests, metrics). */
uint64_t redis_client_times_opened(redis_client *c);

/*
 * Any command, on this thread's connection and under the breaker.  On
 * REDIS_RC_OK *reply is Redis's answer (caller freeReplyObject()s).
 */
redis_rc redis_client_command(redis_client *c, int argc, const char **argv, const size_t *argvlen,
                              redisReply **reply);

/* SET key value PX ttl_ms [NX]. */
redis_rc redis_client_set(redis_client *c, const char *key, const char *value, size_t len,
                          int64_t ttl_ms, bool only_if_absent);

/*
 * EVALSHA of script id with nkeys keys followed by args (argc in all).
 * On REDIS_RC_OK *reply is the script's reply (caller freeReplyObject()s);
 * reply may be NULL when the caller does not want it.
 */
redis_rc redis_client_eval(redis_client *c, int script, int nkeys, int argc,
                           const char *const *argv, const size_t *argvlen, redisReply **reply);

/*
 * As redis_client_eval for a write that must not be lost: when it cannot run now
 * it is journaled (copied) and replayed before the breaker closes.  true
 * when it ran now, false when it was journaled.
 */
bool redis_client_eval_durable(redis_client *c, int script, int nkeys, int argc,
                               const char *const *argv, const size_t *argvlen);

#endif
