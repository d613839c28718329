/*
 * main.c - configuration, signals, and the start/stop order.  Nothing else.
 *
 * Start: config -> log -> PostgreSQL pool -> Redis cache (optional) ->
 * order store -> HTTP server.
 * Stop (SIGTERM/SIGINT): /readyz turns 503 -> stop accepting -> drain
 * in-flight requests up to drain_timeout_ms -> stop the server -> close
 * the pool -> flush the log -> exit 0.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orderd/api/app.h"
#include "orderd/cache/redis.h"
#include "orderd/base/clock.h"
#include "orderd/base/config.h"
#include "orderd/db/db_pool.h"
#include "orderd/db/janitor.h"
#include "orderd/base/log.h"
#include "orderd/db/migrate.h"
#include "orderd/db/order_db.h"
#include "orderd/store/order_store.h"
#include "orderd/http/probe.h"
#include "orderd/http/server.h"
#include "orderd/cache/tracking.h"

/*
 * The race test needs the classic (racy) cache to show what the default
 * prevents.  It is an environment switch, not a setting, so no config
 * file or --help ever offers it, and it shouts when used.
 */
static long test_fill_delay_ms(void)
{
    const char *v = getenv("ORDERD_TEST_FILL_DELAY_MS");
    long ms = v ? strtol(v, NULL, 10) : 0;
    if (ms <= 0 || ms >= 1000)
        return 0;
    LOG(LOG_WARN, NULL, "ORDERD_TEST_FILL_DELAY_MS=%ld: cache fills are delayed; for tests only",
        ms);
    return ms;
}

static bool unsafe_classic_cache_requested(void)
{
    const char *v = getenv("ORDERD_TEST_UNSAFE_CLASSIC_CACHE");
    if (!v || strcmp(v, "1") != 0)
        return false;
    LOG(LOG_WARN, NULL,
        "ORDERD_TEST_UNSAFE_CLASSIC_CACHE=1: cache fills and invalidations are NOT race-safe; "
        "for tests only");
    return true;
}

static int serve(const orderd_config *cfg, const sigset_t *stop_signals)
{
    if (cfg->db_url[0] == '\0') {
        LOG(LOG_ERROR, NULL, "db_url is not set (ORDERD_DB_URL or --db-url)");
        return 2;
    }
    int rc = 1;
    db_pool_options pool_opts = {
        .url = cfg->db_url,
        .size = cfg->db_pool_size,
        .statement_timeout_ms = cfg->db_statement_timeout_ms,
        .connect_timeout_ms = cfg->db_connect_timeout_ms,
        .prepared = cfg->db_prepared,
        .statements = order_db_statements,
        .statement_count = order_db_statement_count,
    };
    app application = {.cfg = cfg};
    server *srv = NULL;
    redis_client *redis = NULL;
    tracking *hot_tracking = NULL;
    janitor *housekeeping = NULL;

    application.db = db_pool_create(&pool_opts);
    if (!application.db) {
        LOG(LOG_ERROR, NULL, "cannot create the PostgreSQL pool");
        goto out;
    }
    if (cfg->redis_url[0]) {
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
        redis = redis_client_create(&cache_opts, &why);
        if (!redis) {
            LOG(LOG_ERROR, NULL, "redis_url: %s", why);
            rc = 2;
            goto out;
        }
    }
    if (redis && cfg->hot_cache_entries > 0) {
        application.hot =
            hot_cache_create((size_t)cfg->hot_cache_entries, cfg->hot_cache_max_age_ms);
        hot_tracking = application.hot
                           ? tracking_start(redis, application.hot, cfg->redis_probe_interval_ms)
                           : NULL;
        if (!hot_tracking) {
            LOG(LOG_ERROR, NULL, "cannot start the hot cache");
            goto out;
        }
    }
    order_store_options store_opts = {
        .db = application.db,
        .db_acquire_timeout_ms = cfg->db_acquire_timeout_ms,
        .cache = redis,
        .hot = application.hot,
        .ttl_ms = (int64_t)cfg->cache_ttl_s * 1000,
        .jitter_pct = cfg->cache_ttl_jitter_pct,
        .negative_ttl_ms = (int64_t)cfg->cache_negative_ttl_s * 1000,
        .list_ttl_ms = (int64_t)cfg->cache_list_ttl_s * 1000,
        /* outlives any read in flight: reads end by their deadline */
        .tombstone_ttl_ms = 2 * (int64_t)cfg->request_timeout_ms + 5000,
        .xfetch_beta = cfg->cache_xfetch_beta_pct / 100.0,
        .unsafe_classic_cache = unsafe_classic_cache_requested(),
        .test_fill_delay_ms = test_fill_delay_ms(),
    };
    application.store = order_store_create(&store_opts);
    if (!application.store)
        goto out;
    srv = server_start(&application);
    if (!srv)
        goto out;
    housekeeping = janitor_start(application.db, 3600);

    char extra[256];
    snprintf(extra, sizeof extra,
             "\"listen\":\"%s:%u\",\"threads\":%d,\"db_pool_size\":%d,\"version\":\"%s\"",
             cfg->listen_host, (unsigned)cfg->listen_port, cfg->threads, cfg->db_pool_size,
             ORDERD_VERSION);
    log_write(LOG_INFO, NULL, extra, "listening");

    int sig = 0;
    sigwait(stop_signals, &sig);
    LOG(LOG_INFO, NULL, "received %s, draining for up to %d ms", strsignal(sig),
        cfg->drain_timeout_ms);

    atomic_store(&application.draining, true);
    server_stop_accepting(srv);
    uint64_t deadline = clock_now_ns() + (uint64_t)cfg->drain_timeout_ms * UINT64_C(1000000);
    int left = server_wait_idle(srv, deadline);
    if (left > 0) {
        /* cancel what still runs so the remaining requests answer now
         * (503/504) and the process exits close to its deadline */
        LOG(LOG_WARN, NULL, "drain deadline passed with %d requests in flight; cancelling them",
            left);
        db_pool_abort(application.db);
    }
    rc = 0;

out:
    janitor_stop(housekeeping);
    /* reads parked in the reader resume their connections first: MHD must
     * not stop with a connection suspended */
    if (application.store)
        order_store_stop(application.store);
    server_stop(srv);
    order_store_destroy(application.store);
    tracking_stop(hot_tracking);
    hot_cache_destroy(application.hot);
    redis_client_destroy(redis);
    db_pool_destroy(application.db);
    LOG(LOG_INFO, NULL, "stopped");
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

    /* Block the stop signals before any thread starts so every thread
     * inherits the mask and only sigwait() in serve() receives them. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
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
