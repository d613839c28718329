/*
 * main.c - configuration, signals, and the start/stop order.  Nothing else.
 *
 * Start: config -> log -> PostgreSQL pool -> Redis cache (optional) ->
 * order store -> auth -> HTTP server -> watchdog (under systemd) -> janitor;
 * READY=1 to systemd once /readyz would answer 200.
 * SIGHUP: reload the settings (reload.h) and the JWT keys,
 * RELOADING=1 ... READY=1.
 * Stop (SIGTERM/SIGINT): STOPPING=1, /readyz turns 503 -> stop accepting
 * -> drain in-flight requests up to drain_timeout_ms -> stop the server
 * -> close the pool -> flush the log -> exit 0.
 * serve() is open_service -> run_until_stopped -> drain -> close_service.
 * Only this thread takes signals: they are blocked before any other
 * thread starts, and it waits for them with sigwaitinfo.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orderd/api/app.h"
#include "orderd/api/health.h"
#include "orderd/api/auth_gate.h"
#include "orderd/api/routes.h"
#include "orderd/auth/auth.h"
#include "orderd/cache/redis.h"
#include "orderd/base/clock.h"
#include "orderd/base/config.h"
#include "orderd/base/fd_limit.h"
#include "orderd/base/test_hooks.h"
#include "orderd/db/db_pool.h"
#include "orderd/db/janitor.h"
#include "orderd/base/log.h"
#include "orderd/base/reload.h"
#include "orderd/base/systemd_notify.h"
#include "orderd/base/watchdog.h"
#include "orderd/db/migrate.h"
#include "orderd/db/order_db.h"
#include "orderd/store/order_store.h"
#include "orderd/http/probe.h"
#include "orderd/http/server.h"
#include "orderd/cache/tracking.h"

/* What serve() opens, in start order; close_service() stops it in reverse. */
typedef struct service {
    app application; /* the handlers' context; its cfg never changes */
    redis_client *redis;
    tracking *hot_tracking;
    server *srv;
    watchdog *watchdog;    /* NULL unless systemd asked for one */
    int watchdog_check_ms; /* how long its self-request may take */
    janitor *housekeeping;
    systemd_notify *notify; /* NULL unless started by systemd */
    /* the settings in force: application.cfg's, with the live ones as the
     * last reload left them; this thread's alone */
    orderd_config running;
    reload_hooks hooks;
    int argc; /* main()'s, for the reload */
    char **argv;
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
        bool lists_ok = true;
        if (s->application.hot && cfg->hot_cache_list_mib > 0) {
            s->application.hot_lists =
                hot_lists_create(s->application.hot, (size_t)cfg->hot_cache_list_mib << 20);
            lists_ok = s->application.hot_lists != NULL;
        }
        s->hot_tracking =
            s->application.hot && lists_ok
                ? tracking_start(s->redis, s->application.hot, s->application.hot_lists,
                                 HOT_SOURCE_TRACKING, cfg->redis_probe_interval_ms)
                : NULL;
        if (!s->hot_tracking) {
            LOG(LOG_ERROR, NULL, "cannot start the hot cache");
            return 1;
        }
    }
    return 0;
}

/* The store's options from cfg: at start-up, and again on every reload
 * (order_store_set_live takes the live ones), so both derive alike. */
static order_store_options store_options(const service *s, const orderd_config *cfg)
{
    order_store_options store_opts = {
        .db = s->application.db,
        .db_acquire_timeout_ms = cfg->db_acquire_timeout_ms,
        .cache = s->redis,
        .hot = s->application.hot,
        .hot_lists = s->application.hot_lists,
        .ttl_ms = (int64_t)cfg->cache_ttl_s * 1000,
        .jitter_pct = cfg->cache_ttl_jitter_pct,
        .negative_ttl_ms = (int64_t)cfg->cache_negative_ttl_s * 1000,
        .list_ttl_ms = (int64_t)cfg->cache_list_ttl_s * 1000,
        /* outlives any read in flight: reads end by their deadline */
        .tombstone_ttl_ms = 2 * (int64_t)cfg->request_timeout_ms + 5000,
        .xfetch_beta = cfg->cache_xfetch_beta_pct / 100.0,
        .lookup_min_hit_pct = cfg->cache_lookup_min_hit_pct,
        .db_url = cfg->db_url,
        .db_connect_timeout_ms = cfg->db_connect_timeout_ms,
        .feed_sync_interval_ms = cfg->invalidation_sync_interval_ms,
        .feed_replay_window_ms = replay_window_ms(cfg),
        .hot_feed_source = HOT_SOURCE_FEED,
        .hot_max_age_ms = cfg->hot_cache_max_age_ms,
        .test_hooks = test_hooks_from_env(),
    };
    return store_opts;
}

/* ---- reload hooks: each hands a module its live settings -------------- */

static void reload_log(void *ctx, const orderd_config *cfg)
{
    (void)ctx;
    log_set_level(cfg->log_level);
}

/*
 * The JWT keys again, from the same settings: the key file may have been
 * replaced.  Requests in flight keep the keys they started with; a bad
 * file keeps the old keys.
 */
static void reload_auth(void *ctx, const orderd_config *cfg)
{
    char err[512] = "";
    if (auth_reload_keys(ctx, cfg->jwt_secret, cfg->jwt_public_key_file, err, sizeof err) == 0)
        LOG(LOG_INFO, NULL, "SIGHUP: JWT keys reloaded");
    else
        LOG(LOG_WARN, NULL, "SIGHUP: JWT keys not reloaded, the old ones stay: %s", err);
}

static void reload_server(void *ctx, const orderd_config *cfg)
{
    server_set_live(ctx, cfg);
}

static void reload_store(void *ctx, const orderd_config *cfg)
{
    service *s = ctx;
    order_store_options opts = store_options(s, cfg);
    order_store_set_live(s->application.store, &opts);
}

/*
 * The watchdog's check: a polling thread accepts a connection and answers
 * GET /healthz (inline, no I/O).  One thread of the pool answers each
 * time, whichever accepts; what stops them all (a lock they share, the
 * listener, an exhausted connection limit) stops the pings.  A single
 * stuck thread among several is not seen: it stops accepting, so another
 * answers, and libmicrohttpd's internal threads offer no per-thread tick
 * to count instead.
 */
static bool polling_threads_answer(void *ctx)
{
    const service *s = ctx;
    const orderd_config *cfg = s->application.cfg;
    return probe_get(cfg->listen_host, cfg->listen_port, "/healthz", "watchdog",
                     s->watchdog_check_ms) == 0;
}

static void start_watchdog(service *s)
{
    uint64_t usec = systemd_watchdog_usec();
    if (usec == 0 || !s->notify)
        return;
    /* ping every half period (sd_watchdog_enabled(3)); a check gives up
     * within half of that, so a slow answer is a missed ping, not two */
    uint64_t period_ns = usec * 1000 / 2;
    s->watchdog_check_ms = (int)(period_ns / 2000000) < 100 ? 100 : (int)(period_ns / 2000000);
    s->watchdog = watchdog_start(s->notify, period_ns, polling_threads_answer, s);
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
 * (optional) -> order store -> auth -> HTTP server -> watchdog (under systemd)
 * -> janitor, then the reload hooks of the modules with live settings.
 * 0, or the exit code; what did start is left in *s for close_service().
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
        .trace_application_name = cfg->db_trace_application_name,
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
    order_store_options store_opts = store_options(s, cfg);
    s->application.store = order_store_create(&store_opts);
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
    start_watchdog(s);
    s->housekeeping = janitor_start(s->application.db, 3600);
    reload_hooks_add(&s->hooks, "log", reload_log, NULL);
    /* the store before the server: a longer request timeout reaches new
     * requests only once tombstones already outlive it */
    reload_hooks_add(&s->hooks, "store", reload_store, s);
    reload_hooks_add(&s->hooks, "server", reload_server, s->srv);
    if (auth_enabled(s->application.auth))
        reload_hooks_add(&s->hooks, "auth", reload_auth, s->application.auth);
    return 0;
}

/* How long one readiness check may wait for PostgreSQL, and how often
 * it is tried until it passes. */
#define READY_CHECK_BUDGET_NS (UINT64_C(1000) * 1000 * 1000)
#define READY_RETRY_NS        (100 * 1000 * 1000)

/* SIGHUP: reload, framed for systemd once it has been told READY=1
 * (before that, the start-up READY=1 is still to come). */
static void reload(service *s, bool ready)
{
    if (ready) {
        char msg[64];
        snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%llu",
                 (unsigned long long)(clock_now_ns() / 1000));
        systemd_notify_send(s->notify, msg);
    }
    LOG(LOG_INFO, NULL, "received SIGHUP, reloading the configuration");
    reload_apply(&s->hooks, &s->running, s->argc, s->argv);
    if (ready)
        systemd_notify_send(s->notify, "READY=1\nSTATUS=serving");
}

/*
 * Says where it listens, tells systemd READY=1 as soon as /readyz would
 * answer 200 (listening, PostgreSQL reachable, caches settled), reloads
 * on SIGHUP, and returns on SIGTERM or SIGINT.
 */
static void run_until_stopped(service *s, const sigset_t *signals)
{
    const orderd_config *cfg = s->application.cfg;
    char extra[700], config_path[520];
    log_json_escape(config_path, sizeof config_path, cfg->config_path);
    snprintf(extra, sizeof extra,
             "\"listen\":\"%s:%u\",\"threads\":%d,\"db_pool_size\":%d,\"version\":\"%s\","
             "\"config\":\"%s\"",
             cfg->listen_host, (unsigned)cfg->listen_port, cfg->threads, cfg->db_pool_size,
             ORDERD_VERSION, config_path);
    log_write(LOG_INFO, NULL, extra, "listening");
    systemd_notify_send(s->notify, "STATUS=waiting for PostgreSQL and the caches to settle");

    bool ready = false;
    for (;;) {
        if (!ready && health_is_ready(&s->application, clock_now_ns() + READY_CHECK_BUDGET_NS)) {
            ready = true;
            LOG(LOG_INFO, NULL, "ready");
            systemd_notify_send(s->notify, "READY=1\nSTATUS=serving");
        }
        siginfo_t info;
        struct timespec retry = {0, READY_RETRY_NS};
        int sig = ready ? sigwaitinfo(signals, &info) : sigtimedwait(signals, &info, &retry);
        if (sig == SIGHUP) {
            reload(s, ready);
        } else if (sig == SIGTERM || sig == SIGINT) {
            LOG(LOG_INFO, NULL, "received %s, draining for up to %d ms", strsignal(sig),
                s->running.drain_timeout_ms);
            return;
        } else if (sig < 0 && errno != EAGAIN && errno != EINTR) {
            LOG(LOG_ERROR, NULL, "waiting for signals failed: %s", strerror(errno));
            return;
        }
    }
}

/* /readyz turns 503 -> stop accepting -> in-flight requests finish, up to
 * drain_timeout_ms. */
static void drain(service *s)
{
    const orderd_config *cfg = &s->running;
    systemd_notify_send(s->notify, "STOPPING=1\nSTATUS=draining");
    /* systemd stops watching once told STOPPING (TimeoutStopSec= bounds
     * the drain), and our own check would fail now that we stop accepting */
    watchdog_stop(s->watchdog);
    s->watchdog = NULL;
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
    watchdog_stop(s->watchdog);
    /* reads parked in the reader resume their connections first: MHD must
     * not stop with a connection suspended */
    order_store_stop(s->application.store);
    auth_stop(s->application.auth); /* and requests waiting for a rate-limit check */
    server_stop(s->srv);
    order_store_destroy(s->application.store);
    auth_destroy(s->application.auth); /* its limiter threads use Redis */
    tracking_stop(s->hot_tracking);
    hot_lists_destroy(s->application.hot_lists);
    hot_cache_destroy(s->application.hot);
    redis_client_destroy(s->redis);
    db_pool_destroy(s->application.db);
    LOG(LOG_INFO, NULL, "stopped");
    systemd_notify_destroy(s->notify);
}

/*
 * Raises RLIMIT_NOFILE and sizes max_connections to it when it is 0: each
 * client connection is one descriptor in epoll, and what is left after
 * the descriptors orderd keeps for itself (pools, Redis, listener, epoll,
 * log) is what a connection limit can honestly promise.
 */
static void fit_connections_to_fd_limit(orderd_config *cfg)
{
    int io_workers = cfg->io_workers > 0 ? cfg->io_workers : cfg->db_pool_size;
    int reserved = 64 + 2 * (cfg->db_pool_size + io_workers + cfg->threads);
    long nofile = fd_limit_raise();
    if (nofile < 0) {
        if (cfg->max_connections == 0)
            cfg->max_connections = 1000;
        LOG(LOG_WARN, NULL, "cannot read RLIMIT_NOFILE; max_connections=%d", cfg->max_connections);
        return;
    }
    int room = fd_limit_connections(nofile, reserved);
    if (cfg->max_connections == 0)
        cfg->max_connections = room;
    else if (cfg->max_connections > room)
        LOG(LOG_WARN, NULL,
            "max_connections=%d is more than the file descriptor limit (%ld) leaves room for "
            "(%d); connections beyond that fail to be accepted",
            cfg->max_connections, nofile, room);
    LOG(LOG_INFO, NULL, "file descriptor limit %ld: max_connections=%d", nofile,
        cfg->max_connections);
}

static int serve(const orderd_config *cfg, const sigset_t *signals, int argc, char **argv)
{
    if (cfg->db_url[0] == '\0') {
        LOG(LOG_ERROR, NULL, "db_url is not set (ORDERD_DB_URL or --db-url)");
        return 2;
    }
    /* a service is a few kilobytes (it holds a whole configuration) */
    service *s = calloc(1, sizeof *s);
    if (!s)
        return 1;
    s->application.cfg = cfg;
    s->running = *cfg;
    s->argc = argc;
    s->argv = argv;
    s->notify = systemd_notify_create();
    int rc = open_service(s);
    if (rc == 0) {
        run_until_stopped(s, signals);
        drain(s);
    }
    close_service(s);
    free(s);
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

    /* Block the signals we act on before any thread starts so every
     * thread inherits the mask and only run_until_stopped receives them. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
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
        fit_connections_to_fd_limit(&cfg);
        rc = serve(&cfg, &signals, argc, argv);
    }
    log_stop();
    return rc;
}
