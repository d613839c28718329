/*
 * main.c - configuration, signals, and the start/stop order.  Nothing else.
 *
 * Start: config -> log -> PostgreSQL pool -> Redis cache (optional) ->
 * order store -> auth -> HTTP server.  SIGHUP rereads the JWT keys.
 * Stop (SIGTERM/SIGINT): /readyz turns 503 -> stop accepting -> drain
 * in-flight requests up to drain_timeout_ms -> stop the server -> close
 * the pool -> flush the log -> exit 0.
 * serve() is open_service -> run_until_stopped -> drain -> close_service.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orderd/api/app.h"
#include "orderd/api/auth_gate.h"
#include "orderd/api/routes.h"
#include "orderd/auth/auth.h"
#include "orderd/cache/redis.h"
#include "orderd/base/clock.h"
#include "orderd/base/config.h"
#include "orderd/base/test_hooks.h"
#include "orderd/db/db_pool.h"
#include "orderd/db/janitor.h"
#include "orderd/base/log.h"
#include "orderd/db/migrate.h"
#include "orderd/db/order_db.h"
#include "orderd/store/order_store.h"
#include "orderd/http/probe.h"
#include "orderd/http/server.h"
#include "orderd/cache/tracking.h"

/* What serve() opens, in start order; close_service() stops it in reverse. */
typedef struct service {
    app application; /* the handlers' context */
    redis_client *redis;
    tracking *hot_tracking;
    server *srv;
    janitor *housekeeping;
} service;

/* the hot cache's invalidation sources (hot_cache.h) */
enum { HOT_SOURCE_TRACKING = 0, HOT_SOURCE_FEED = 1 };

/*
 * How far back the change feed replays at first start: the longest any
 * cached entry can live (a Redis entry with its jitter, a list page, a
 * hot-cache entry), plus the longest read in flight.  Changes older than
 * that can only concern entries that have expired.
 */
static int64_t replay_window_ms(const orderd_config *cfg)
{
    int64_t longest = (int64_t)cfg->cache_ttl_s * 1000 * (100 + cfg->cache_ttl_jitter_pct) / 100;
    int64_t list = (int64_t)cfg->cache_list_ttl_s * 1000;
    if (list > longest)
        longest = list;
    if (cfg->hot_cache_max_age_ms > longest)
        longest = cfg->hot_cache_max_age_ms;
    return longest + 2 * (int64_t)cfg->request_timeout_ms + 5000;
}

/* Redis and, on top of it, the hot cache.  0, or the exit code. */
static int open_cache(service *s)
{
    const orderd_config *cfg = s->application.cfg;
    redis_client_options cache_opts = {
        .url = cfg->redis_url,
        .connect_timeout_ms = cfg->redis_connect_timeout_ms,
        .command_timeout_ms = cfg->redis_command_timeout_ms,
        .failure_threshold = cfg->redis_failure_threshold,
        .probe_interval_ms = cfg->redis_probe_interval_ms,
        /* three probe rounds: every other process that journaled
         * writes during the outage has replayed them by then */
        .recovery_grace_ms = 3 * cfg->redis_probe_interval_ms,
        .journal_max = 100000,
    };
    const char *why = NULL;
    s->redis = redis_client_create(&cache_opts, &why);
    if (!s->redis) {
        LOG(LOG_ERROR, NULL, "redis_url: %s", why);
        return 2;
    }
    if (cfg->hot_cache_entries > 0) {
        /* two invalidation sources: Redis tracking and the change feed */
        s->application.hot =
            hot_cache_create((size_t)cfg->hot_cache_entries, cfg->hot_cache_max_age_ms, 2);
        s->hot_tracking = s->application.hot
                              ? tracking_start(s->redis, s->application.hot, HOT_SOURCE_TRACKING,
                                               cfg->redis_probe_interval_ms)
                              : NULL;
        if (!s->hot_tracking) {
            LOG(LOG_ERROR, NULL, "cannot start the hot cache");
            return 1;
        }
    }
    return 0;
}

static order_store *open_store(service *s)
{
    const orderd_config *cfg = s->application.cfg;
    order_store_options store_opts = {
        .db = s->application.db,
        .db_acquire_timeout_ms = cfg->db_acquire_timeout_ms,
        .cache = s->redis,
        .hot = s->application.hot,
        .ttl_ms = (int64_t)cfg->cache_ttl_s * 1000,
        .jitter_pct = cfg->cache_ttl_jitter_pct,
        .negative_ttl_ms = (int64_t)cfg->cache_negative_ttl_s * 1000,
        .list_ttl_ms = (int64_t)cfg->cache_list_ttl_s * 1000,
        /* outlives any read in flight: reads end by their deadline */
        .tombstone_ttl_ms = 2 * (int64_t)cfg->request_timeout_ms + 5000,
        .xfetch_beta = cfg->cache_xfetch_beta_pct / 100.0,
        .db_url = cfg->db_url,
        .db_connect_timeout_ms = cfg->db_connect_timeout_ms,
        .feed_sync_interval_ms = cfg->invalidation_sync_interval_ms,
        .feed_replay_window_ms = replay_window_ms(cfg),
        .hot_feed_source = HOT_SOURCE_FEED,
        .test_hooks = test_hooks_from_env(),
    };
    return order_store_create(&store_opts);
}

/* Tokens and rate limits (auth.h).  0, or the exit code. */
static int open_auth(service *s)
{
    const orderd_config *cfg = s->application.cfg;
    char err[512] = "";
    s->application.auth = auth_create(cfg, s->redis, err, sizeof err);
    if (!s->application.auth) {
        LOG(LOG_ERROR, NULL, "%s", err);
        return 2;
    }
    if (!auth_enabled(s->application.auth))
        LOG(LOG_WARN, NULL,
            "auth is off: no jwt_secret or jwt_public_key_file, so anyone may read, change "
            "and delete every order");
    if (cfg->rate_limit_rps > 0 && !s->redis)
        LOG(LOG_WARN, NULL, "rate limits are per process: no redis_url to share them through");
    return 0;
}

/*
 * Start, in this order: PostgreSQL pool -> Redis and the hot cache
 * (optional) -> order store -> auth -> HTTP server -> janitor.  0, or the exit
 * code; what did start is left in *s for close_service().
 */
static int open_service(service *s)
{
    const orderd_config *cfg = s->application.cfg;
    db_pool_options pool_opts = {
        .url = cfg->db_url,
        .size = cfg->db_pool_size,
        .statement_timeout_ms = cfg->db_statement_timeout_ms,
        .connect_timeout_ms = cfg->db_connect_timeout_ms,
        .prepared = cfg->db_prepared,
        .statements = order_db_statements,
        .statement_count = order_db_statement_count,
    };
    s->application.db = db_pool_create(&pool_opts);
    if (!s->application.db) {
        LOG(LOG_ERROR, NULL, "cannot create the PostgreSQL pool");
        return 1;
    }
    if (cfg->redis_url[0]) {
        int rc = open_cache(s);
        if (rc != 0)
            return rc;
    }
    s->application.store = open_store(s);
    if (!s->application.store)
        return 1;
    int rc = open_auth(s);
    if (rc != 0)
        return rc;
    server_options server_opts = {
        .cfg = cfg,
        .routes = api_routes,
        .route_count = api_route_count,
        .handler_ctx = &s->application,
        .gate = auth_gate,
    };
    s->srv = server_start(&server_opts);
    if (!s->srv)
        return 1;
    s->housekeeping = janitor_start(s->application.db, 3600);
    return 0;
}

/*
 * SIGHUP: the JWT keys again, from the same settings (the key file may
 * have been replaced).  Requests in flight keep the keys they started
 * with; a bad file keeps the old keys.
 */
static void reload_keys(service *s)
{
    const orderd_config *cfg = s->application.cfg;
    char err[512] = "";
    if (auth_reload_keys(s->application.auth, cfg->jwt_secret, cfg->jwt_public_key_file, err,
                         sizeof err) == 0)
        LOG(LOG_INFO, NULL, "SIGHUP: JWT keys reloaded");
    else
        LOG(LOG_WARN, NULL, "SIGHUP: JWT keys not reloaded, the old ones stay: %s", err);
}

/* Says where it listens, then waits for SIGTERM or SIGINT (SIGHUP reloads
 * the keys meanwhile). */
static void run_until_stopped(service *s, const sigset_t *stop_signals)
{
    const orderd_config *cfg = s->application.cfg;
    char extra[256];
    snprintf(extra, sizeof extra,
             "\"listen\":\"%s:%u\",\"threads\":%d,\"db_pool_size\":%d,\"version\":\"%s\"",
             cfg->listen_host, (unsigned)cfg->listen_port, cfg->threads, cfg->db_pool_size,
             ORDERD_VERSION);
    log_write(LOG_INFO, NULL, extra, "listening");

    int sig = 0;
    while (sigwait(stop_signals, &sig) == 0 && sig == SIGHUP)
        reload_keys(s);
    LOG(LOG_INFO, NULL, "received %s, draining for up to %d ms", strsignal(sig),
        cfg->drain_timeout_ms);
}

/* /readyz turns 503 -> stop accepting -> in-flight requests finish, up to
 * drain_timeout_ms. */
static void drain(service *s)
{
    const orderd_config *cfg = s->application.cfg;
    atomic_store(&s->application.draining, true);
    server_stop_accepting(s->srv);
    uint64_t deadline = clock_now_ns() + (uint64_t)cfg->drain_timeout_ms * UINT64_C(1000000);
    int left = server_wait_idle(s->srv, deadline);
    if (left > 0) {
        /* cancel what still runs so the remaining requests answer now
         * (503/504) and the process exits close to its deadline */
        LOG(LOG_WARN, NULL, "drain deadline passed with %d requests in flight; cancelling them",
            left);
        db_pool_abort(s->application.db);
    }
}

/* Stops whatever open_service() started, in reverse. */
static void close_service(service *s)
{
    janitor_stop(s->housekeeping);
    /* reads parked in the reader resume their connections first: MHD must
     * not stop with a connection suspended */
    order_store_stop(s->application.store);
    auth_stop(s->application.auth); /* and requests waiting for a rate-limit check */
    server_stop(s->srv);
    order_store_destroy(s->application.store);
    auth_destroy(s->application.auth); /* its limiter threads use Redis */
    tracking_stop(s->hot_tracking);
    hot_cache_destroy(s->application.hot);
    redis_client_destroy(s->redis);
    db_pool_destroy(s->application.db);
    LOG(LOG_INFO, NULL, "stopped");
}

static int serve(const orderd_config *cfg, const sigset_t *stop_signals)
{
    if (cfg->db_url[0] == '\0') {
        LOG(LOG_ERROR, NULL, "db_url is not set (ORDERD_DB_URL or --db-url)");
        return 2;
    }
    service s = {.application = {.cfg = cfg}};
    int rc = open_service(&s);
    if (rc == 0) {
        run_until_stopped(&s, stop_signals);
        drain(&s);
    }
    close_service(&s);
    return rc;
}

int main(int argc, char **argv)
{
    orderd_config cfg;
    char err[512];
    if (config_load(&cfg, argc, argv, err, sizeof err) != 0) {
        fprintf(stderr, "orderd: %s\n", err);
        return 2;
    }
    switch (cfg.command) {
    case ORDERD_CMD_HELP:
        config_print_usage(stdout);
        return 0;
    case ORDERD_CMD_VERSION:
        printf("orderd %s\n", ORDERD_VERSION);
        return 0;
    case ORDERD_CMD_PRINT_CONFIG:
        config_print(&cfg, stdout);
        return 0;
    case ORDERD_CMD_PROBE:
        return probe_ready(cfg.listen_host, cfg.listen_port, 2000);
    case ORDERD_CMD_MIGRATE:
    case ORDERD_CMD_SERVE:
        break;
    }

    /* Block the stop signals (and SIGHUP, the key reload) before any
     * thread starts so every thread inherits the mask and only sigwait()
     * in serve() receives them. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (log_start(cfg.log_level, 1) != 0) {
        fprintf(stderr, "orderd: cannot start the logger\n");
        return 1;
    }
    int rc;
    if (cfg.command == ORDERD_CMD_MIGRATE) {
        if (cfg.db_url[0] == '\0') {
            LOG(LOG_ERROR, NULL, "db_url is not set (ORDERD_DB_URL or --db-url)");
            rc = 2;
        } else {
            rc = migrate_run(cfg.db_url, cfg.sql_dir) == 0 ? 0 : 1;
        }
    } else {
        rc = serve(&cfg, &stop_signals);
    }
    log_stop();
    return rc;
}
