/*
 * invalidation.c - the change feed's sink (see invalidation.h).
 */
#include "orderd/store/invalidation.h"

#include <pthread.h>
#include <stdlib.h>

#include "orderd/base/clock.h"
#include "orderd/base/metrics.h"

/* own writes remembered until their notification comes back */
#define WRITTEN_SLOTS 4096

typedef struct written_slot {
    int64_t id, version;
} written_slot;

struct invalidation {
    invalidation_options opts;
    change_feed *feed;
    pthread_mutex_t written_lock;
    written_slot written[WRITTEN_SLOTS]; /* under written_lock, by id */
};

static written_slot *slot_of(invalidation *inv, int64_t id)
{
    return &inv->written[(uint64_t)id % WRITTEN_SLOTS];
}

void invalidation_note_written(invalidation *inv, int64_t id, int64_t version)
{
    if (!inv)
        return;
    pthread_mutex_lock(&inv->written_lock);
    *slot_of(inv, id) = (written_slot){id, version};
    pthread_mutex_unlock(&inv->written_lock);
}

/* Moves the changes this process did not write itself to the front of
 * others; returns how many. */
static int drop_own_writes(invalidation *inv, const order_change *changes, int n,
                           order_change *others)
{
    int left = 0;
    pthread_mutex_lock(&inv->written_lock);
    for (int i = 0; i < n; i++) {
        written_slot *s = slot_of(inv, changes[i].id);
        if (s->id == changes[i].id && s->version == changes[i].version)
            *s = (written_slot){0, 0}; /* applied: its one notification is here */
        else
            others[left++] = changes[i];
    }
    pthread_mutex_unlock(&inv->written_lock);
    return left;
}

static void apply_changes(void *ctx, const order_change *changes, int n, int64_t changed_at_us,
                          bool pushed)
{
    invalidation *inv = ctx;
    for (int i = 0; i < n; i++)
        metric_inc(pushed ? METRIC_INVALIDATIONS_PUSHED : METRIC_INVALIDATIONS_REPLAYED);
    order_change others[n];
    int m = drop_own_writes(inv, changes, n, others);
    /*
     * Process memory first: it is what this process serves without
     * asking.  And again once Redis holds the tombstones (or they are
     * journaled): a reader that missed here in between may have read the
     * old entry from Redis and put it back with a ticket taken after the
     * first drop.  The second drop bumps the tickets, so such a put is
     * refused or removed.
     */
    for (int i = 0; inv->opts.hot && i < m; i++)
        hot_cache_invalidate(inv->opts.hot, others[i].id);
    order_cache_invalidate_changes(inv->opts.cache, others, m);
    for (int i = 0; inv->opts.hot && i < m; i++)
        hot_cache_invalidate(inv->opts.hot, others[i].id);
    if (pushed)
        metrics_observe_invalidation_lag_us((int64_t)clock_wall_us() - changed_at_us);
}

/*
 * Caught up: trust Redis, then let the hot cache serve (it flushes as it
 * comes online).  Anything else: stop serving from both before another
 * change can go unseen.
 */
static void feed_state_changed(void *ctx, change_feed_state state, int fd)
{
    invalidation *inv = ctx;
    bool caught_up = state == CHANGE_FEED_CAUGHT_UP;
    if (!caught_up)
        order_cache_set_trusted(inv->opts.cache, false);
    if (inv->opts.hot)
        hot_cache_set_online(inv->opts.hot, inv->opts.hot_source, caught_up, fd);
    if (caught_up)
        order_cache_set_trusted(inv->opts.cache, true);
}

static void feed_busy(void *ctx, bool busy)
{
    invalidation *inv = ctx;
    if (inv->opts.hot)
        hot_cache_set_busy(inv->opts.hot, inv->opts.hot_source, busy);
}

invalidation *invalidation_start(const invalidation_options *opts)
{
    invalidation *inv = calloc(1, sizeof *inv);
    if (!inv)
        return NULL;
    inv->opts = *opts;
    pthread_mutex_init(&inv->written_lock, NULL);
    change_feed_options fo = {
        .url = opts->db_url,
        .connect_timeout_ms = opts->connect_timeout_ms,
        .sync_interval_ms = opts->sync_interval_ms,
        .replay_window_ms = opts->replay_window_ms,
        .retry_max_ms = 2000,
        .sink = {.ctx = inv,
                 .apply = apply_changes,
                 .state = feed_state_changed,
                 .busy = feed_busy},
    };
    inv->feed = change_feed_start(&fo);
    if (!inv->feed) {
        pthread_mutex_destroy(&inv->written_lock);
        free(inv);
        return NULL;
    }
    return inv;
}

void invalidation_stop(invalidation *inv)
{
    if (!inv)
        return;
    change_feed_stop(inv->feed);
    pthread_mutex_destroy(&inv->written_lock);
    free(inv);
}

void invalidation_widen_replay_window(invalidation *inv, int64_t replay_window_ms)
{
    if (inv)
        change_feed_widen_replay_window(inv->feed, replay_window_ms);
}

change_feed_state invalidation_state(invalidation *inv)
{
    return change_feed_get_state(inv->feed);
}
