/*
 * change_feed.h - every committed change to an order, from PostgreSQL,
 * to one process: the order_changes notifications and log that
 * sql/0003_order_changes.sql writes in the changing transaction.
 *
 * One thread with a connection of its own (outside the pool):
 *
 *   connect -> LISTEN -> catch up -> caught up: apply notifications as
 *   they arrive, and read the log every sync_interval_ms -> on any error,
 *   down: reconnect with backoff, and catch up again.
 *
 * "Caught up" means: every change that committed before the moment the
 * feed last took a snapshot has been handed to the sink, and every change
 * that commits later will be (LISTEN was active before that snapshot).
 * Catching up reads the log for the changes the last snapshot did not
 * see (by transaction id, so a long transaction that commits late is not
 * missed).  The first time, there is no last snapshot: the log's last
 * replay_window_ms are replayed instead, which must cover the longest
 * time a cached entry lives.
 *
 * The periodic log read is what moves the snapshot forward; it also
 * repairs a notification that was lost.  Notifications already applied
 * since the last read are not applied twice.  Once a minute the feed
 * also deletes log rows older than twice the replay window.
 *
 * What this cannot see: a transaction that stays open longer than that
 * retention and commits after its rows were pruned (docs/CONSISTENCY.md).
 */
#ifndef ORDERD_DB_CHANGE_FEED_H
#define ORDERD_DB_CHANGE_FEED_H

#include <stdbool.h>
#include <stdint.h>

#include "orderd/domain/order_change.h"

typedef enum change_feed_state {
    CHANGE_FEED_DOWN = 0,    /* not connected: changes may be missed */
    CHANGE_FEED_CATCHING_UP, /* listening, reading the log */
    CHANGE_FEED_CAUGHT_UP,   /* see above */
} change_feed_state;

/* What the feed calls, on its own thread. */
typedef struct change_feed_sink {
    void *ctx;
    /*
     * n changes of one transaction (committed at or after changed_at_us,
     * wall clock).  pushed: arrived as a notification (its delay is the
     * invalidation lag) rather than read from the log.
     */
    void (*apply)(void *ctx, const order_change *changes, int n, int64_t changed_at_us,
                  bool pushed);
    /* The state changed.  fd is the socket notifications arrive on while
     * CAUGHT_UP, -1 otherwise. */
    void (*state)(void *ctx, change_feed_state state, int fd);
    /* Brackets reading and applying notifications (busy true, then false),
     * so a reader can tell "nothing pending" from "being applied". */
    void (*busy)(void *ctx, bool busy);
} change_feed_sink;

typedef struct change_feed_options {
    const char *url; /* libpq URI or conninfo; copied */
    int connect_timeout_ms;
    int sync_interval_ms;     /* log reads while caught up */
    int64_t replay_window_ms; /* first catch-up: how far back */
    int retry_max_ms;         /* reconnect backoff: 100 ms doubling up to this */
    /* notified changes published under this origin (db_pool_origin) are
     * this process's own writes, which the writer invalidated itself:
     * they are counted, not applied (from the log they are applied).
     * NULL or "" = apply everything */
    const char *own_origin;
    change_feed_sink sink; /* copied */
} change_feed_options;

typedef struct change_feed change_feed;

/* Starts the thread (PostgreSQL may be down). NULL on failure. */
change_feed *change_feed_start(const change_feed_options *opts);
/* Stops the thread; the sink is told DOWN. NULL-safe. */
void change_feed_stop(change_feed *feed);

change_feed_state change_feed_get_state(change_feed *feed);

/*
 * Reads the whole replay window of the log again soon (within 50 ms when
 * connected), this process's own changes and those already notified
 * included, and applies it: for a writer of ours that could not tell
 * whether its commit happened.  Safe from any thread; NULL-safe.
 */
void change_feed_reread(change_feed *feed);

/*
 * A reload made cached entries live longer: later catch-ups replay (and
 * prunes keep) at least replay_window_ms.  Never narrows: entries cached
 * under the old, longer lifetimes may still be served.  Any thread.
 */
void change_feed_widen_replay_window(change_feed *feed, int64_t replay_window_ms);
/* "caught_up", "catching_up" or "down". */
const char *change_feed_state_name(change_feed_state state);

#endif
