/*
 * db_pool.h - a fixed-size pool of libpq connections.
 *
 * Each connection prepares the statement table once after it connects
 * (or, with prepared = false, every call sends the SQL text as an unnamed
 * statement, which is what pgbouncer's transaction pooling needs).
 * Acquire waits at most until a deadline.  A connection found broken is
 * re-established on a later acquire with exponential backoff (100 ms
 * doubling to 2 s), so PostgreSQL restarts heal without restarting orderd.
 *
 * Blocking: every call here may block on the network; call it from I/O
 * worker threads, never from an HTTP polling thread.
 */
#ifndef ORDERD_DB_POOL_H
#define ORDERD_DB_POOL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "orderd/base/error.h"

typedef struct db_statement {
    const char *name; /* prepared statement name */
    const char *sql;
    int nparams;
} db_statement;

typedef struct db_pool_options {
    const char *url;          /* libpq URI / conninfo; copied */
    int size;                 /* connections, >= 1 */
    int statement_timeout_ms; /* SET statement_timeout on each connection; 0 = none */
    int connect_timeout_ms;   /* per connection attempt */
    bool prepared;            /* named prepared statements (default) or unnamed */
    /* each statement runs with application_name "<name>/<traceparent>" of
     * the request the thread is bound to (log.h log_bind), so
     * pg_stat_activity and log_line_prefix %a name the trace */
    bool trace_application_name;
    const db_statement *statements; /* borrowed; must outlive the pool */
    int statement_count;
} db_pool_options;

typedef struct db_pool db_pool;
typedef struct db_conn db_conn;

/*
 * Creates the pool and tries to open every connection once.  Succeeds
 * even when PostgreSQL is down (connections are then opened lazily);
 * returns NULL only on allocation failure or a bad option.
 */
db_pool *db_pool_create(const db_pool_options *opts);
/* Closes every connection. Callers must have released all. NULL-safe. */
void db_pool_destroy(db_pool *pool);

/*
 * The id this pool's sessions publish their changes under: each session
 * sets orderd.origin to it, and the change-log trigger puts it in every
 * change it publishes (sql/0004_change_origin.sql), so this process's
 * change feed can tell its own writes (change_feed_options.own_origin).
 * 16 lowercase hex digits, random per pool; the pool owns the string.
 */
const char *db_pool_origin(const db_pool *pool);

/*
 * Takes a healthy connection, waiting until deadline_ns (clock_now_ns()
 * base).  Returns NULL with *err = ORDERD_ERR_BUSY when none came free in
 * time, ORDERD_ERR_UNAVAILABLE when PostgreSQL cannot be reached.
 */
db_conn *db_pool_acquire(db_pool *pool, uint64_t deadline_ns, orderd_err *err);
/*
 * The acquire of one request (or batch): waits at most wait_ms (the
 * acquire budget; then ORDERD_ERR_BUSY) and never past deadline_ns, and
 * on success sets deadline_ns as the connection's statement deadline
 * (db_conn_set_deadline), so no statement outlives what it serves.
 */
db_conn *db_pool_acquire_for(db_pool *pool, int wait_ms, uint64_t deadline_ns, orderd_err *err);
/* Gives the connection back; a broken one is closed and reopened later. */
void db_pool_release(db_pool *pool, db_conn *conn);

/*
 * Statements on conn are cancelled at deadline_ns (clock_now_ns() base;
 * 0 = only statement_timeout applies) and then fail with
 * ORDERD_ERR_TIMEOUT.  Holds until release.  A request sets its own
 * deadline so no statement outlives the request it serves.
 */
void db_conn_set_deadline(db_conn *conn, uint64_t deadline_ns);

/*
 * Shutdown past its drain deadline: cancels every running statement and
 * makes acquire fail at once.  There is no way back.
 */
void db_pool_abort(db_pool *pool);

/*
 * Runs statement number index of the table with text parameters
 * (NULL = SQL NULL).  Returns the result (caller PQclear()s) or NULL.
 * *err classifies failures: ORDERD_OK when the result status is
 * PGRES_TUPLES_OK or PGRES_COMMAND_OK; ORDERD_ERR_TIMEOUT for
 * query_canceled / lock_not_available (57014, 55P03);
 * ORDERD_ERR_UNAVAILABLE when the connection broke (then marked broken);
 * ORDERD_ERR_INTERNAL otherwise.  On an error the result (if any) is
 * still returned so callers can read the SQLSTATE.
 */
PGresult *db_exec(db_conn *conn, int index, const char *const *params, orderd_err *err);
/* Runs a fixed SQL command without parameters (BEGIN, COMMIT, ROLLBACK). */
orderd_err db_exec_simple(db_conn *conn, const char *sql);

/* The SQLSTATE of a failed result ("23505"), or "" */
const char *db_sqlstate(const PGresult *res);

/* One cheap round trip ("SELECT 1") on some pool connection, for /readyz. */
orderd_err db_pool_ping(db_pool *pool, uint64_t deadline_ns);

/* Connections currently open and healthy / in use (for /readyz, metrics). */
int db_pool_healthy_count(db_pool *pool);
int db_pool_in_use(db_pool *pool);
/* Threads waiting in acquire for a connection to come free (for metrics). */
int db_pool_waiting(db_pool *pool);
/* The pool's connections (its size option). */
int db_pool_size(const db_pool *pool);

#endif
