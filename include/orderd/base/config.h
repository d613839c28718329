/*
 * config.h - every setting of orderd in one typed table.
 *
 * Precedence: built-in default < config file < environment < flags.
 * The file is config/orderd.conf (relative to the working directory) or
 * the one named by --config / ORDERD_CONFIG; lines are "key = value",
 * '#' starts a comment.  For a key such as db_pool_size the environment
 * variable is ORDERD_DB_POOL_SIZE and the flag --db-pool-size.
 * Everything is checked once at start-up; the struct is read-only after.
 * The file is the installed etc/orderd/orderd.conf instead when this is
 * the installed binary (paths.h).
 *
 * Reload (SIGHUP, reload.h) loads a whole new struct the same way and
 * compares it with the running one (config_diff): settings marked live
 * in the table reach the running modules through reload hooks; the
 * struct the modules borrowed at start-up is never written.
 */
#ifndef ORDERD_CONFIG_H
#define ORDERD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "orderd/base/log.h"

typedef enum orderd_command {
    ORDERD_CMD_SERVE = 0,    /* default: run the daemon */
    ORDERD_CMD_MIGRATE,      /* "orderd migrate": apply sql/ and exit */
    ORDERD_CMD_HELP,         /* --help */
    ORDERD_CMD_VERSION,      /* --version */
    ORDERD_CMD_PRINT_CONFIG, /* --print-config */
    ORDERD_CMD_PROBE,        /* --probe: is the daemon on `listen` ready? */
} orderd_command;

typedef struct orderd_config {
    orderd_command command;
    char config_path[256]; /* the file that was read, "" when none */

    /* server */
    char listen_host[64]; /* from ORDERD_LISTEN host:port */
    uint16_t listen_port;
    int threads;                     /* MHD polling threads; 0 in the table = CPU count */
    int io_workers;                  /* blocking-I/O worker threads; 0 = db_pool_size */
    int max_connections;             /* 0 in the table = from RLIMIT_NOFILE (main.c) */
    int max_connections_per_address; /* 0 = no limit */
    int idle_timeout_s;
    int request_head_timeout_ms; /* line + headers must arrive by then */
    int request_body_timeout_ms; /* the body, from the end of the headers */
    size_t connection_memory_limit;
    size_t body_limit;
    int request_timeout_ms;
    int drain_timeout_ms;

    /* PostgreSQL */
    char db_url[1024]; /* libpq URI or conninfo; "" = not configured */
    int db_pool_size;
    int db_acquire_timeout_ms;
    int db_statement_timeout_ms;
    int db_connect_timeout_ms;
    bool db_prepared;               /* false: unnamed statements (pgbouncer txn mode) */
    bool db_trace_application_name; /* statements name their request's traceparent */
    char sql_dir[512];              /* migrations folder for "orderd migrate" */

    /* Redis (the cache issue) */
    char redis_url[1024]; /* redis://host:port[/db]; "" = caching off */
    int redis_connect_timeout_ms;
    int redis_command_timeout_ms;
    int redis_failure_threshold;
    int redis_probe_interval_ms;
    int cache_ttl_s;
    int cache_ttl_jitter_pct;
    int cache_negative_ttl_s;
    int cache_list_ttl_s;
    int cache_xfetch_beta_pct;
    int cache_lookup_min_hit_pct;
    int hot_cache_entries;
    int hot_cache_max_age_ms;
    int hot_cache_list_mib;
    int invalidation_sync_interval_ms;

    /* authentication and rate limits (src/auth/) */
    char jwt_secret[512];          /* HS256 key; "" = none */
    char jwt_public_key_file[512]; /* PEM or JWKS; "" = none */
    int jwt_leeway_s;
    char jwt_issuer[256];             /* "" = iss not checked */
    char jwt_audience[256];           /* "" = aud not checked */
    int rate_limit_rps;               /* 0 = off */
    int rate_limit_burst;             /* 0 = rate_limit_rps */
    int rate_limit_auth_fail_per_min; /* 0 = off */
    int rate_limit_auth_fail_burst;
    char trusted_proxies[1024]; /* "a.b.c.d, 10.0.0.0/8, ::1" */

    /* logging */
    log_level log_level;
    bool access_log;
} orderd_config;

/*
 * Fills cfg from defaults, file, environment (envp-style lookups through
 * getenv) and argv.  On success returns 0.  On a bad value, unknown flag
 * or unreadable explicit file, returns -1 with a one-line message in err
 * that names the setting (e.g. "db_pool_size: must be an integer from 1
 * to 1024, got \"abc\" (from ORDERD_DB_POOL_SIZE)").
 */
int config_load(orderd_config *cfg, int argc, char **argv, char *err, size_t errlen);

/* Prints the usage text (commands, every setting with env and flag). */
void config_print_usage(FILE *out);

/* Prints "key = value" for every setting, passwords in URLs masked as ****. */
void config_print(const orderd_config *cfg, FILE *out);

/* True when a reload applies key's new value (the table marks it live). */
bool config_is_live(const char *key);

/*
 * Called by config_diff for each setting whose value differs: its key,
 * whether it is live, and both values as --print-config shows them
 * (passwords masked).  The strings last only for the call.
 */
typedef void (*config_change_fn)(void *ctx, const char *key, bool live, const char *old_value,
                                 const char *new_value);

/* Calls fn, in table order, for every setting that differs between old
 * and next; returns how many did. */
int config_diff(const orderd_config *old, const orderd_config *next, config_change_fn fn,
                void *ctx);

/* Copies the live settings of src into dst; the others stay as they are. */
void config_copy_live(orderd_config *dst, const orderd_config *src);

/*
 * Copies url into out with the password part (user:PASSWORD@, or a
 * password=... conninfo pair) replaced by "****". Always NUL-terminates.
 */
void config_mask_url(const char *url, char *out, size_t outlen);

#endif
