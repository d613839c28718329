/*
 * order_store.c - the store's door (order_store.h): owns the cache
 * protocol, the batched reader, writer and amender, and runs the
 * blocking calls.
 *
 * Read one order:  the hot cache (on the polling thread, orders_api.c),
 * else order_reader.c in batches: Redis, then PostgreSQL for the misses,
 * the answer, then a versioned fill.  A hit close to expiry is renewed early by one
 * reader (XFetch), so a hot key does not send every process to
 * PostgreSQL when it expires.  Redis down: PostgreSQL only, "BYPASS".
 * Write:  PostgreSQL commits -> the cache's invalidation (tombstone +
 * list generations) -> only then does the caller answer, which is what
 * makes "no stale read after a write's response" hold (order_cache.h).
 */
#include "orderd/store/order_store.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "orderd/base/clock.h"
#include "orderd/base/metrics.h"
#include "orderd/cache/order_cache.h"
#include "orderd/db/order_db.h"
#include "orderd/store/invalidation.h"
#include "orderd/store/order_amender.h"
#include "orderd/store/list_loader.h"
#include "orderd/store/list_reader.h"
#include "orderd/store/order_reader.h"
#include "orderd/store/order_writer.h"

/*
 * How long one write batch runs (statement and commit) before a second
 * starts beside it.  Well above a commit under load here (1 to 3 ms),
 * so the second thread is for the stuck batch, not the usual one.
 */
#define WRITE_STANDBY_AFTER_MS 5

struct order_store {
    db_pool *db;
    order_cache *cache;            /* NULL: caching off */
    hot_cache *hot;                /* NULL: no in-process cache */
    hot_lists *hot_lists;          /* NULL: no list pages in process memory */
    order_reader *reader;          /* GET /orders/:id, batched */
    list_reader *lists;            /* list pages from Redis, batched; NULL without Redis */
    list_loader *loader;           /* customers' list pages from PostgreSQL, batched */
    order_writer *writer;          /* POST /orders: group commit */
    order_amender *amender;        /* PATCH and DELETE: group commit */
    invalidation *feed;            /* NULL: caching off */
    redis_client *redis;           /* borrowed; NULL: caching off */
    atomic_int acquire_timeout_ms; /* a reload may change it (order_store_set_live) */
};

/* The cache lifetimes of opts: at start and on every reload. */
static order_cache_options cache_lifetimes(const order_store_options *opts)
{
    return (order_cache_options){
        .ttl_ms = opts->ttl_ms,
        .jitter_pct = opts->jitter_pct,
        .negative_ttl_ms = opts->negative_ttl_ms,
        .list_ttl_ms = opts->list_ttl_ms,
        .tombstone_ttl_ms = opts->tombstone_ttl_ms,
        .xfetch_beta = opts->xfetch_beta,
    };
}

order_store *order_store_create(const order_store_options *opts)
{
    order_store *store = calloc(1, sizeof *store);
    if (!store)
        return NULL;
    store->db = opts->db;
    store->hot = opts->cache ? opts->hot : NULL;
    store->hot_lists = store->hot ? opts->hot_lists : NULL;
    atomic_init(&store->acquire_timeout_ms, opts->db_acquire_timeout_ms);
    if (opts->cache) {
        order_cache_options co = cache_lifetimes(opts);
        co.redis = opts->cache;
        co.test_hooks = opts->test_hooks;
        store->cache = order_cache_create(&co);
        if (!store->cache)
            goto fail;
        store->redis = opts->cache;
        invalidation_options io = {
            .db_url = opts->db_url,
            .connect_timeout_ms = opts->db_connect_timeout_ms,
            .sync_interval_ms = opts->feed_sync_interval_ms,
            .replay_window_ms = opts->feed_replay_window_ms,
            .cache = store->cache,
            .hot = store->hot,
            .hot_lists = store->hot_lists,
            .hot_source = opts->hot_feed_source,
            .own_origin = db_pool_origin(opts->db),
        };
        store->feed = invalidation_start(&io);
        if (!store->feed)
            goto fail;
        store->lists = list_reader_create(store->cache, store->hot_lists, opts->test_hooks);
        if (!store->lists)
            goto fail;
    }
    order_reader_options ro = {
        .db = opts->db,
        .cache = store->cache,
        .hot = store->hot,
        .acquire_timeout_ms = &store->acquire_timeout_ms,
        .batch_max = 256,
        .lookup_min_hit_pct = opts->lookup_min_hit_pct,
        .test_hooks = opts->test_hooks,
    };
    store->reader = order_reader_create(&ro);
    if (!store->reader)
        goto fail;
    /*
     * Two statements in flight are enough: PostgreSQL served as many
     * batched pages per second to two pgbench clients as to eight, and
     * more loaders would each take fewer pages from the queue.  Sixteen
     * pages a statement at most keeps one statement's rendering (about a
     * millisecond) short beside the other's round trip.
     */
    list_loader_options lo = {
        .db = opts->db,
        .acquire_timeout_ms = &store->acquire_timeout_ms,
        .statements = 2,
        .pages_max = 16,
        .test_hooks = opts->test_hooks,
    };
    store->loader = list_loader_create(&lo);
    if (!store->loader)
        goto fail;
    order_writer_options wo = {
        .db = opts->db,
        .cache = store->cache,
        .hot_lists = store->hot_lists,
        .feed = store->feed,
        .test_hooks = opts->test_hooks,
        .acquire_timeout_ms = &store->acquire_timeout_ms,
        /*
         * One batch in flight, so the next fills while it commits; a
         * second thread only for a batch that takes longer than
         * WRITE_STANDBY_AFTER_MS (a slow commit, a key another
         * transaction is inserting).  Two threads taking turns made
         * batches half the size, and each batch's statement, triggers
         * and commit cost about as much as its rows (docs/PERFORMANCE.md,
         * session 8).
         */
        .threads = 2,
        .standby_after_ms = WRITE_STANDBY_AFTER_MS,
        .batch_max = 256,
    };
    store->writer = order_writer_create(&wo);
    if (!store->writer)
        goto fail;
    order_amender_options ao = {
        .db = opts->db,
        .cache = store->cache,
        .hot = store->hot,
        .hot_lists = store->hot_lists,
        .feed = store->feed,
        .test_hooks = opts->test_hooks,
        .acquire_timeout_ms = &store->acquire_timeout_ms,
        /*
         * As the writer: one batch in flight, a second one once the first
         * has taken WRITE_STANDBY_AFTER_MS.  An amendment can wait on a
         * row lock another transaction holds; with a single thread that
         * batch would hold up every other PATCH until its deadline, so
         * the second thread stands by for it.  Rows are locked in id
         * order, so two statements wait for each other, never deadlock.
         */
        .threads = 2,
        .standby_after_ms = WRITE_STANDBY_AFTER_MS,
        .batch_max = 256,
    };
    store->amender = order_amender_create(&ao);
    if (!store->amender)
        goto fail;
    return store;
fail:
    order_store_destroy(store);
    return NULL;
}

static int acquire_timeout_ms(order_store *store)
{
    return atomic_load_explicit(&store->acquire_timeout_ms, memory_order_relaxed);
}

void order_store_set_live(order_store *store, const order_store_options *opts)
{
    atomic_store_explicit(&store->acquire_timeout_ms, opts->db_acquire_timeout_ms,
                          memory_order_relaxed);
    /* the replay window first: it must cover every entry cached under the
     * new lifetimes by the time the first of them is filled */
    invalidation_widen_replay_window(store->feed, opts->feed_replay_window_ms);
    if (store->hot)
        hot_cache_set_max_age(store->hot, opts->hot_max_age_ms);
    if (!store->cache)
        return;
    order_cache_options co = cache_lifetimes(opts);
    order_cache_set_ttls(store->cache, &co);
}

void order_store_destroy(order_store *store)
{
    if (!store)
        return;
    order_amender_destroy(store->amender);
    order_writer_destroy(store->writer);
    order_reader_destroy(store->reader);
    list_loader_destroy(store->loader); /* it fills through the list reader */
    list_reader_destroy(store->lists);
    invalidation_stop(store->feed);
    order_cache_destroy(store->cache);
    free(store);
}

const char *order_store_cache_state(order_store *store)
{
    if (!store->cache)
        return "off";
    return order_cache_redis_is_up(store->cache) ? "up" : "down";
}

const char *order_store_invalidation_state(order_store *store, int *state_num)
{
    if (!store->feed) {
        *state_num = -1;
        return "off";
    }
    change_feed_state state = invalidation_state(store->feed);
    *state_num = (int)state;
    return change_feed_state_name(state);
}

bool order_store_caches_settled(order_store *store)
{
    return !store->feed || (redis_client_is_settled(store->redis) &&
                            invalidation_state(store->feed) == CHANGE_FEED_CAUGHT_UP);
}

void order_store_stop(order_store *store)
{
    if (!store)
        return;
    order_reader_stop(store->reader);
    /* the list reader's last misses still find the loader running; the
     * loader's last fills are then refused by the stopped reader (and
     * dropped: the next process to miss those pages fills them) */
    list_reader_stop(store->lists);
    list_loader_stop(store->loader);
    order_writer_stop(store->writer);
    order_amender_stop(store->amender);
}

int order_store_create_async(order_store *store, order_create_req *req, const char *idempotency_key,
                             uint64_t deadline_ns, order_create_done done, void *arg)
{
    return order_writer_submit(store->writer, req, idempotency_key, deadline_ns, done, arg);
}

int order_store_get_async(order_store *store, int64_t id, uint64_t deadline_ns, bool fresh,
                          order_read_done done, void *arg)
{
    return order_reader_submit(store->reader, id, deadline_ns, fresh, done, arg);
}

int order_store_set_status_async(order_store *store, int64_t id, order_status to,
                                 int64_t expected_version, int64_t owner, uint64_t deadline_ns,
                                 order_amend_done done, void *arg)
{
    order_amend a = {ORDER_AMEND_SET_STATUS, id, to, expected_version, owner};
    return order_amender_submit(store->amender, &a, deadline_ns, done, arg);
}

int order_store_delete_async(order_store *store, int64_t id, int64_t expected_version,
                             uint64_t deadline_ns, order_amend_done done, void *arg)
{
    order_amend a = {ORDER_AMEND_DELETE, id, ORDER_PENDING, expected_version, 0};
    return order_amender_submit(store->amender, &a, deadline_ns, done, arg);
}

/* ---- lists ------------------------------------------------------------------ */

static orderd_err list_from_db(order_store *store, const order_list_query *q, uint64_t deadline_ns,
                               char **json, size_t *len);

int order_store_list_lookup_async(order_store *store, const order_list_query *q,
                                  uint64_t deadline_ns, list_lookup_done done, void *arg)
{
    if (!store->lists)
        return -1;
    return list_reader_submit(store->lists, q, deadline_ns, done, arg);
}

orderd_err order_store_list(order_store *store, const order_list_query *q, uint64_t deadline_ns,
                            bool fresh, const char *known_generation, char **json, size_t *len,
                            const char **cache_status)
{
    hot_lists_ticket ticket = {0};
    if (store->hot_lists)
        ticket = hot_lists_ticket_for(store->hot_lists, q);
    char generation[24] = "";
    order_cache_result looked = ORDER_CACHE_DOWN;
    if (store->cache && !fresh && known_generation) {
        /* the list reader missed it a moment ago: don't ask again */
        snprintf(generation, sizeof generation, "%s", known_generation);
        looked = ORDER_CACHE_MISS;
    } else if (store->cache && !fresh) {
        looked = order_cache_list_lookup(store->cache, q, json, len, generation);
    }
    if (looked == ORDER_CACHE_HIT) {
        *cache_status = CACHE_STATUS_HIT;
        if (store->hot_lists)
            hot_lists_put(store->hot_lists, q, *json, *len, ticket);
        return ORDERD_OK;
    }
    *cache_status = looked == ORDER_CACHE_MISS ? CACHE_STATUS_MISS : CACHE_STATUS_BYPASS;
    orderd_err err = list_from_db(store, q, deadline_ns, json, len);
    if (err == ORDERD_OK && store->hot_lists)
        hot_lists_put(store->hot_lists, q, *json, *len, ticket);
    /* filed under the generation read before PostgreSQL: if a write
     * bumped it meanwhile, no later reader looks here.  The list reader
     * fills it once this has returned (the answer does not wait on
     * Redis); without one, or when it refuses, it is filled here. */
    if (err == ORDERD_OK && looked == ORDER_CACHE_MISS && clock_now_ns() < deadline_ns &&
        (!store->lists ||
         list_reader_fill(store->lists, q, generation, *json, *len, deadline_ns) != 0))
        order_cache_list_fill(store->cache, q, generation, *json, *len);
    return err;
}

/* A page on its way through the list loader. */
typedef struct list_read {
    order_store *store;
    order_list_query query;
    hot_lists_ticket ticket; /* taken before the read */
    char generation[24];     /* to file the page under in Redis; "" = no fill (BYPASS) */
    uint64_t deadline_ns;
    order_list_done done;
    void *arg;
} list_read;

static void list_read_loaded(void *arg, orderd_err err, char *json, size_t len)
{
    list_read *rd = arg;
    order_store *store = rd->store;
    if (err == ORDERD_OK && store->hot_lists)
        hot_lists_put(store->hot_lists, &rd->query, json, len, rd->ticket);
    /* as order_store_list files it, but a loader must not block on
     * Redis: a fill the list reader refuses (stopping, out of memory) is
     * dropped, and the next miss of the page fills it */
    if (err == ORDERD_OK && rd->generation[0] && clock_now_ns() < rd->deadline_ns)
        (void)list_reader_fill(store->lists, &rd->query, rd->generation, json, len,
                               rd->deadline_ns);
    rd->done(rd->arg, err, json, len, rd->generation[0] ? CACHE_STATUS_MISS : CACHE_STATUS_BYPASS);
    free(rd);
}

int order_store_list_read_async(order_store *store, const order_list_query *q, uint64_t deadline_ns,
                                const char *known_generation, order_list_done done, void *arg)
{
    if (!order_db_list_combines(q) || (store->cache && (!known_generation || !store->lists)))
        return -1;
    list_read *rd = calloc(1, sizeof *rd);
    if (!rd)
        return -1;
    *rd = (list_read){
        .store = store, .query = *q, .deadline_ns = deadline_ns, .done = done, .arg = arg};
    if (known_generation && (size_t)snprintf(rd->generation, sizeof rd->generation, "%s",
                                             known_generation) >= sizeof rd->generation) {
        free(rd);
        return -1;
    }
    if (store->hot_lists)
        rd->ticket = hot_lists_ticket_for(store->hot_lists, q);
    if (list_loader_submit(store->loader, q, deadline_ns, list_read_loaded, rd) != 0) {
        free(rd);
        return -1;
    }
    return 0;
}

static orderd_err list_from_db(order_store *store, const order_list_query *q, uint64_t deadline_ns,
                               char **json, size_t *len)
{
    orderd_err err;
    db_conn *conn = db_pool_acquire_for(store->db, acquire_timeout_ms(store), deadline_ns, &err);
    if (!conn)
        return err;
    metric_inc(METRIC_DB_LIST_READS);
    order *rows = NULL;
    int count = 0;
    bool has_more = false;
    err = order_db_list(conn, q, &rows, &count, &has_more);
    db_pool_release(store->db, conn);
    if (err != ORDERD_OK)
        return err;

    err = order_page_to_json(rows, count, has_more, json, len);
    for (int i = 0; i < count; i++)
        order_clear(&rows[i]);
    free(rows);
    return err;
}
