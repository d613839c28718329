/*
 * invalidation.c - the change feed's sink (see invalidation.h).
 */
#include "orderd/store/invalidation.h"

#include <stdlib.h>

#include "orderd/base/clock.h"
#include "orderd/base/metrics.h"

struct invalidation {
    invalidation_options opts;
    change_feed *feed;
};

/* The changed orders and the list pages they may be on (hot_lists.h). */
static void drop_from_memory(invalidation *inv, const order_change *changes, int n)
{
    for (int i = 0; inv->opts.hot && i < n; i++)
        hot_cache_invalidate(inv->opts.hot, changes[i].id);
    for (int i = 0; inv->opts.hot_lists && i < n; i++)
        hot_lists_invalidate_change(inv->opts.hot_lists, &changes[i]);
}

static void apply_changes(void *ctx, const order_change *changes, int n, int64_t changed_at_us,
                          bool pushed)
{
    invalidation *inv = ctx;
    for (int i = 0; i < n; i++)
        metric_inc(pushed ? METRIC_INVALIDATIONS_PUSHED : METRIC_INVALIDATIONS_REPLAYED);
    /*
     * Process memory first: it is what this process serves without
     * asking.  And again once Redis holds the tombstones (or they are
     * journaled): a reader that missed here in between may have read the
     * old entry from Redis and put it back with a ticket taken after the
     * first drop.  The second drop bumps the tickets, so such a put is
     * refused or removed.
     */
    drop_from_memory(inv, changes, n);
    order_cache_invalidate_changes(inv->opts.cache, changes, n);
    drop_from_memory(inv, changes, n);
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
    change_feed_options fo = {
        .url = opts->db_url,
        .connect_timeout_ms = opts->connect_timeout_ms,
        .sync_interval_ms = opts->sync_interval_ms,
        .replay_window_ms = opts->replay_window_ms,
        .retry_max_ms = 2000,
        .own_origin = opts->own_origin,
        .sink = {.ctx = inv,
                 .apply = apply_changes,
                 .state = feed_state_changed,
                 .busy = feed_busy},
    };
    inv->feed = change_feed_start(&fo);
    if (!inv->feed) {
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
    free(inv);
}

void invalidation_recheck_own(invalidation *inv)
{
    if (inv)
        change_feed_reread(inv->feed);
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
