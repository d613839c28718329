/*
 * db_pool.c - a fixed-size pool of libpq connections.
 *
 * Every slot is in one of four states, changed only under pool->mutex:
 *
 *   EMPTY       no connection; may be (re)opened from retry_at_ns on
 *   IDLE        open and free
 *   BUSY        handed out by db_pool_acquire
 *   CONNECTING  taken by an acquirer that is opening it right now
 *
 * The mutex guards the bookkeeping only.  Connecting, the liveness check,
 * queries, ROLLBACK on release and PQfinish all happen after the slot has
 * been taken (BUSY or CONNECTING), without the mutex, so one slow or dead
 * server never stalls threads that only want a free connection.  The
 * thread holding a slot is the only one that touches its PGconn.
 */
#include "orderd/db/db_pool.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "orderd/base/clock.h"
#include "orderd/base/fmt.h"
#include "orderd/base/log.h"
#include "orderd/base/metrics.h"
#include "orderd/base/random.h"

#define BACKOFF_MIN_NS (100ull * 1000 * 1000)
#define BACKOFF_MAX_NS (2000ull * 1000 * 1000)
#define POOL_SIZE_MAX  1024
/* PostgreSQL keeps NAMEDATALEN - 1 bytes of application_name */
#define APP_NAME_MAX           63
#define SET_APP_NAME_SQL       "SELECT pg_catalog.set_config('application_name', $1, false)"
#define SET_APP_NAME_STATEMENT "orderd_set_application_name"
/* prepared_mask has one bit per statement and one for set_config */
#define STATEMENTS_MAX        63
#define PREPARED_SET_APP_NAME (1ull << STATEMENTS_MAX)

typedef enum slot_state { SLOT_EMPTY = 0, SLOT_IDLE, SLOT_BUSY, SLOT_CONNECTING } slot_state;

struct db_conn {
    db_pool *pool;
    PGconn *pg;           /* only the holder of the slot touches it */
    bool failed;          /* holder only: the connection broke while in use */
    uint64_t deadline_ns; /* holder only: statements are cancelled past it; 0 = none */
    /* pool->mutex */
    slot_state state;
    uint64_t retry_at_ns; /* EMPTY: earliest time to try connecting */
    /* Wait after the next failed attempt, 0 = BACKOFF_MIN_NS; written under
     * the mutex, and only by the holder, who alone reads it. */
    uint64_t backoff_ns;
    /* holder only: the session's application_name as orderd last set
     * it, and as it was at connect (the URL may choose it); "" unknown */
    char app_name[APP_NAME_MAX + 1];
    char base_app_name[APP_NAME_MAX + 1];
    /* holder only: bit i = statements[i] is prepared on this session,
     * bit PREPARED_SET_APP_NAME = the set_config statement is */
    uint64_t prepared_mask;
};

struct db_pool {
    pthread_mutex_t mutex;
    pthread_cond_t cond; /* a slot left BUSY/CONNECTING, or a retry time passed */
    char *url;
    int size;
    int statement_timeout_ms;
    int connect_timeout_ms;
    bool prepared;
    bool trace_application_name;
    char origin[17]; /* db_pool_origin */
    const db_statement *statements;
    int statement_count;
    db_conn *slots;
    int waiting;          /* acquirers asleep on cond, under mutex (for /metrics) */
    atomic_bool aborting; /* db_pool_abort(): cancel everything now */
};

/* ---- helpers ------------------------------------------------------------ */

/* libpq messages span lines ("...failed\n\tIs the server running...");
 * a log line must not. */
static const char *one_line(const char *msg, char *buf, size_t len)
{
    snprintf(buf, len, "%s", msg != NULL ? msg : "");
    for (char *p = buf; *p != '\0'; p++)
        if (*p == '\n' || *p == '\t' || *p == '\r')
            *p = ' ';
    for (size_t n = strlen(buf); n > 0 && buf[n - 1] == ' ';)
        buf[--n] = '\0';
    return buf;
}

/*
 * Server notices would otherwise go to stderr as raw text.  A FATAL that
 * arrives while the session is idle (pg_terminate_backend, a restart) is
 * delivered here too, as a notice: it means the server is closing this
 * session, so the slot is marked failed before the EOF even arrives.
 * Called from libpq inside calls made by the slot's holder only.
 */
static void notice_receive(void *arg, const PGresult *res)
{
    db_conn *c = arg;
    const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    bool fatal =
        severity != NULL && (strcmp(severity, "FATAL") == 0 || strcmp(severity, "PANIC") == 0);
    if (fatal)
        c->failed = true;
    char buf[512];
    LOG(fatal ? LOG_WARN : LOG_INFO, NULL, "postgres: %s",
        one_line(PQresultErrorMessage(res), buf, sizeof buf));
}

static bool sqlstate_is(const PGresult *res, const char *state)
{
    return strcmp(db_sqlstate(res), state) == 0;
}

static const db_statement set_app_name_statement = {SET_APP_NAME_STATEMENT, SET_APP_NAME_SQL, 1};

/*
 * Opens one connection for slot c, outside the pool mutex, and with
 * prepare_all prepares every statement on it.  Returns NULL after logging
 * why.  application_name comes before the URL so a URL can override it;
 * connect_timeout comes after so the setting wins.
 *
 * Only the pool's first connections prepare everything here, at start-up,
 * where a bad statement should stop the service loudly.  A connection
 * reopened later prepares each statement on first use instead (db_exec),
 * under the holder's deadline: a blocking PQprepare waits for the tables
 * it names, so behind a lock it would hold the request a whole
 * statement_timeout past its deadline, once per statement.
 */
static PGconn *conn_open(const db_pool *pool, db_conn *c, bool quiet, bool prepare_all)
{
    char timeout[16];
    const char *keys[4], *values[4];
    int n = 0;
    keys[n] = "application_name";
    values[n++] = "orderd";
    keys[n] = "dbname";
    values[n++] = pool->url;
    if (pool->connect_timeout_ms > 0) {
        /* libpq counts whole seconds; round up so we never wait less. */
        snprintf(timeout, sizeof timeout, "%d", (pool->connect_timeout_ms + 999) / 1000);
        keys[n] = "connect_timeout";
        values[n++] = timeout;
    }
    keys[n] = NULL;
    values[n] = NULL;

    char buf[512];
    PGconn *pg = PQconnectdbParams(keys, values, 1);
    if (PQstatus(pg) != CONNECTION_OK) {
        if (quiet)
            LOG(LOG_DEBUG, NULL, "db connect failed: %s",
                one_line(PQerrorMessage(pg), buf, sizeof buf));
        else
            LOG(LOG_WARN, NULL, "db connect failed: %s",
                one_line(PQerrorMessage(pg), buf, sizeof buf));
        goto fail;
    }
    PQsetNoticeReceiver(pg, notice_receive, c);

    /* one round trip; the origin is hex digits, so it needs no quoting */
    char sql[128];
    snprintf(sql, sizeof sql, "SET statement_timeout = %d; SET orderd.origin = '%s'",
             pool->statement_timeout_ms, pool->origin);
    PGresult *set_res = PQexec(pg, sql);
    bool set = PQresultStatus(set_res) == PGRES_COMMAND_OK;
    PQclear(set_res);
    if (!set) {
        LOG(LOG_WARN, NULL, "db connect: setting statement_timeout and orderd.origin failed: %s",
            one_line(PQerrorMessage(pg), buf, sizeof buf));
        goto fail;
    }
    const char *name = PQparameterStatus(pg, "application_name");
    snprintf(c->base_app_name, sizeof c->base_app_name, "%s", name ? name : "");
    snprintf(c->app_name, sizeof c->app_name, "%s", c->base_app_name);
    c->prepared_mask = 0;
    for (int i = -1; prepare_all && pool->prepared && i < pool->statement_count; i++) {
        /* -1: the statement that names the session after its trace */
        const db_statement *st = i < 0 ? &set_app_name_statement : &pool->statements[i];
        if (i < 0 && !pool->trace_application_name)
            continue;
        PGresult *res = PQprepare(pg, st->name, st->sql, st->nparams, NULL);
        bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
        if (!ok) {
            /* A bad statement is a bug, not an outage: say so loudly. */
            LOG(LOG_ERROR, NULL, "db connect: preparing %s failed: %s", st->name,
                one_line(PQerrorMessage(pg), buf, sizeof buf));
            goto fail;
        }
        c->prepared_mask |= i < 0 ? PREPARED_SET_APP_NAME : 1ull << i;
    }
    return pg;

fail:
    PQfinish(pg);
    return NULL;
}

/*
 * True when an idle connection still looks usable.  An idle session
 * receives nothing unless the server is going away (pg_terminate_backend,
 * restart: a FATAL message, then EOF), so readable data is read until the
 * socket is quiet; EOF turns the status to CONNECTION_BAD.  One
 * non-blocking poll() per acquire is the whole cost on the happy path.
 */
static bool conn_alive(db_conn *c)
{
    PGconn *pg = c->pg;
    for (int round = 0; round < 4; round++) {
        if (c->failed || PQstatus(pg) != CONNECTION_OK)
            return false;
        struct pollfd p = {.fd = PQsocket(pg), .events = POLLIN};
        int n = poll(&p, 1, 0);
        if (n <= 0)
            return n == 0 || errno == EINTR;
        if (p.revents & (POLLERR | POLLHUP | POLLNVAL))
            return false;
        if (!PQconsumeInput(pg))
            return false;
        PGnotify *note;
        while ((note = PQnotifies(pg)) != NULL)
            PQfreemem(note);
    }
    return !c->failed && PQstatus(pg) == CONNECTION_OK;
}

static struct timespec timespec_from_ns(uint64_t ns)
{
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000ull),
                          .tv_nsec = (long)(ns % 1000000000ull)};
    return ts;
}

/* Under the mutex: a connect attempt on c failed; back off before the next. */
static void slot_connect_failed(db_conn *c, uint64_t now)
{
    uint64_t wait = c->backoff_ns != 0 ? c->backoff_ns : BACKOFF_MIN_NS;
    c->state = SLOT_EMPTY;
    c->retry_at_ns = now + wait;
    c->backoff_ns = wait * 2 < BACKOFF_MAX_NS ? wait * 2 : BACKOFF_MAX_NS;
}

/*
 * Opens a connection for the taken slot c (its old one, if any, is closed
 * first).  On success c is BUSY and returned; on failure the slot goes
 * back to EMPTY with its backoff and NULL is returned.
 */
static db_conn *slot_connect(db_pool *pool, db_conn *c, orderd_err *err)
{
    if (c->pg != NULL) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    /* While the server stays down, repeated failures are logged at debug
     * level: one warning per outage keeps the log readable.  backoff_ns
     * is only ever touched by the slot's holder, which is us. */
    bool was_failing = c->backoff_ns != 0;
    c->failed = false;
    PGconn *pg = conn_open(pool, c, was_failing, false);

    pthread_mutex_lock(&pool->mutex);
    if (pg == NULL) {
        slot_connect_failed(c, clock_now_ns());
        pthread_cond_broadcast(&pool->cond);
        pthread_mutex_unlock(&pool->mutex);
        *err = ORDERD_ERR_UNAVAILABLE;
        return NULL;
    }
    c->pg = pg;
    c->state = SLOT_BUSY;
    c->backoff_ns = 0;
    pthread_mutex_unlock(&pool->mutex);
    if (was_failing)
        LOG(LOG_INFO, NULL, "db connection re-established");
    *err = ORDERD_OK;
    return c;
}

/* ---- create / destroy --------------------------------------------------- */

db_pool *db_pool_create(const db_pool_options *opts)
{
    if (opts == NULL || opts->url == NULL || opts->size < 1 || opts->size > POOL_SIZE_MAX ||
        opts->statement_count < 0 || opts->statement_count > STATEMENTS_MAX ||
        (opts->statement_count > 0 && opts->statements == NULL) || opts->statement_timeout_ms < 0 ||
        opts->connect_timeout_ms < 0)
        return NULL;

    db_pool *pool = calloc(1, sizeof *pool);
    if (pool == NULL)
        return NULL;
    pool->url = strdup(opts->url);
    pool->slots = calloc((size_t)opts->size, sizeof *pool->slots);
    if (pool->url == NULL || pool->slots == NULL)
        goto fail_alloc;
    pool->size = opts->size;
    pool->statement_timeout_ms = opts->statement_timeout_ms;
    pool->connect_timeout_ms = opts->connect_timeout_ms;
    pool->prepared = opts->prepared;
    pool->trace_application_name = opts->trace_application_name;
    pool->origin[fmt_hex_u64(random_u64(), pool->origin)] = '\0';
    pool->statements = opts->statements;
    pool->statement_count = opts->statement_count;

    /* Waits are on CLOCK_MONOTONIC so deadlines from clock_now_ns() hold
     * even when the wall clock jumps. */
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0)
        goto fail_alloc;
    int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(&pool->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0)
        goto fail_alloc;
    if (pthread_mutex_init(&pool->mutex, NULL) != 0) {
        pthread_cond_destroy(&pool->cond);
        goto fail_alloc;
    }

    /* Stop at the first failure: when the server is down or unreachable,
     * trying every slot would only multiply the connect timeout at
     * start-up.  The remaining EMPTY slots open lazily on acquire. */
    bool reachable = true;
    for (int i = 0; i < pool->size; i++) {
        db_conn *c = &pool->slots[i];
        c->pool = pool;
        c->state = SLOT_EMPTY;
        if (!reachable)
            continue;
        c->pg = conn_open(pool, c, false, true);
        if (c->pg != NULL) {
            c->state = SLOT_IDLE;
        } else {
            slot_connect_failed(c, clock_now_ns());
            reachable = false;
        }
    }
    return pool;

fail_alloc:
    free(pool->slots);
    free(pool->url);
    free(pool);
    return NULL;
}

void db_pool_destroy(db_pool *pool)
{
    if (pool == NULL)
        return;
    for (int i = 0; i < pool->size; i++)
        PQfinish(pool->slots[i].pg);
    pthread_cond_destroy(&pool->cond);
    pthread_mutex_destroy(&pool->mutex);
    free(pool->slots);
    free(pool->url);
    free(pool);
}

/* ---- acquire / release -------------------------------------------------- */

db_conn *db_pool_acquire(db_pool *pool, uint64_t deadline_ns, orderd_err *err)
{
    orderd_err ignored;
    if (err == NULL)
        err = &ignored;

    pthread_mutex_lock(&pool->mutex);
    for (;;) {
        uint64_t now = clock_now_ns();
        uint64_t wake = deadline_ns;
        db_conn *idle = NULL, *empty = NULL;
        bool any_taken = false;
        for (int i = 0; i < pool->size; i++) {
            db_conn *c = &pool->slots[i];
            switch (c->state) {
            case SLOT_IDLE:
                if (idle == NULL)
                    idle = c;
                break;
            case SLOT_BUSY:
            case SLOT_CONNECTING:
                any_taken = true;
                break;
            case SLOT_EMPTY:
                if (c->retry_at_ns <= now) {
                    if (empty == NULL)
                        empty = c;
                } else if (c->retry_at_ns < wake) {
                    wake = c->retry_at_ns;
                }
                break;
            }
        }

        if (idle != NULL) {
            idle->state = SLOT_BUSY;
            pthread_mutex_unlock(&pool->mutex);
            if (conn_alive(idle)) {
                *err = ORDERD_OK;
                return idle;
            }
            LOG(LOG_WARN, NULL, "db connection lost while idle; reconnecting");
            return slot_connect(pool, idle, err);
        }
        if (empty != NULL) {
            empty->state = SLOT_CONNECTING;
            pthread_mutex_unlock(&pool->mutex);
            return slot_connect(pool, empty, err);
        }
        /* Every slot is EMPTY and backing off: nobody will release one
         * before a retry time, so waiting would only turn "PostgreSQL is
         * down" into a slow timeout. */
        if (!any_taken) {
            pthread_mutex_unlock(&pool->mutex);
            *err = ORDERD_ERR_UNAVAILABLE;
            return NULL;
        }
        if (now >= deadline_ns || atomic_load(&pool->aborting)) {
            pthread_mutex_unlock(&pool->mutex);
            if (now >= deadline_ns)
                metric_inc(METRIC_DB_ACQUIRE_TIMEOUTS);
            *err = ORDERD_ERR_BUSY;
            return NULL;
        }
        struct timespec ts = timespec_from_ns(wake);
        pool->waiting++;
        pthread_cond_timedwait(&pool->cond, &pool->mutex, &ts);
        pool->waiting--;
    }
}

db_conn *db_pool_acquire_for(db_pool *pool, int wait_ms, uint64_t deadline_ns, orderd_err *err)
{
    uint64_t wait_until = clock_now_ns() + (uint64_t)(wait_ms > 0 ? wait_ms : 0) * 1000000u;
    db_conn *conn = db_pool_acquire(pool, wait_until < deadline_ns ? wait_until : deadline_ns, err);
    if (conn != NULL)
        db_conn_set_deadline(conn, deadline_ns);
    return conn;
}

void db_pool_release(db_pool *pool, db_conn *conn)
{
    if (pool == NULL || conn == NULL)
        return;

    /* the rollback below must not be cancelled for a deadline that passed */
    conn->deadline_ns = 0;
    /* A connection must go back outside any transaction, or the next user
     * would run inside someone else's. */
    if (!conn->failed) {
        PGTransactionStatusType ts = PQtransactionStatus(conn->pg);
        if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
            LOG(LOG_WARN, NULL, "db connection released inside a transaction; rolling back");
            if (db_exec_simple(conn, "ROLLBACK") != ORDERD_OK)
                conn->failed = true;
        } else if (ts != PQTRANS_IDLE) {
            conn->failed = true;
        }
    }
    bool failed = conn->failed;
    if (failed) {
        PQfinish(conn->pg);
        conn->pg = NULL;
        conn->failed = false;
    }

    pthread_mutex_lock(&pool->mutex);
    if (failed) {
        /* The first reconnect may happen at once; backoff only starts
         * when a connect attempt fails. */
        conn->state = SLOT_EMPTY;
        conn->retry_at_ns = clock_now_ns();
    } else {
        conn->state = SLOT_IDLE;
    }
    pthread_cond_broadcast(&pool->cond);
    pthread_mutex_unlock(&pool->mutex);
}

/* ---- queries ------------------------------------------------------------ */

const char *db_sqlstate(const PGresult *res)
{
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return state != NULL ? state : "";
}

/* what: the statement name, or the SQL of a simple command, for the log. */
static orderd_err result_classify(db_conn *conn, const PGresult *res, const char *what)
{
    ExecStatusType st = PQresultStatus(res);
    if (res != NULL && (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK))
        return ORDERD_OK;

    char buf[512];
    const char *state = db_sqlstate(res);
    const char *msg = res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(conn->pg);
    one_line(msg, buf, sizeof buf);

    if (sqlstate_is(res, "57014")) { /* cancelled: statement_timeout or our deadline */
        LOG(LOG_DEBUG, NULL, "db %s timed out: %s", what, buf);
        return ORDERD_ERR_TIMEOUT;
    }
    /* Class 08 is connection_exception; 57P01..57P03 are the server
     * shutting down or not yet accepting sessions. */
    if (PQstatus(conn->pg) == CONNECTION_BAD || strncmp(state, "08", 2) == 0 ||
        strncmp(state, "57P0", 4) == 0) {
        conn->failed = true;
        LOG(LOG_WARN, NULL, "db connection broke during %s: %s", what, buf);
        return ORDERD_ERR_UNAVAILABLE;
    }
    if (sqlstate_is(res, "57014") || sqlstate_is(res, "55P03")) {
        LOG(LOG_DEBUG, NULL, "db %s timed out: %s", what, buf);
        return ORDERD_ERR_TIMEOUT;
    }
    /* Serialization failures (40001, 40P01) land here too: nothing in
     * orderd runs above READ COMMITTED, so they would be a bug as well. */
    LOG(LOG_ERROR, NULL, "db %s failed (%s): %s", what, state, buf);
    return ORDERD_ERR_INTERNAL;
}

/* The moment the current statement must end: the holder's deadline, or now when aborting. */
static uint64_t statement_limit(const db_conn *conn)
{
    if (atomic_load(&conn->pool->aborting))
        return 1;
    return conn->deadline_ns;
}

/*
 * Waits for the statement just sent and returns its last result.  At the
 * limit it asks the server to cancel (the statement then fails with
 * 57014, which classifies as a timeout) and marks the connection failed:
 * a cancel request that arrives after the statement finished would hit
 * whatever this backend runs next, so the connection is not reused.
 */
static PGresult *wait_result(db_conn *conn)
{
    PGconn *pg = conn->pg;
    bool cancelled = false;
    while (PQisBusy(pg)) {
        uint64_t limit = statement_limit(conn);
        uint64_t now = clock_now_ns();
        if (limit != 0 && now >= limit && !cancelled) {
            char errbuf[256];
            PGcancel *cancel = PQgetCancel(pg);
            if (cancel) {
                PQcancel(cancel, errbuf, sizeof errbuf);
                PQfreeCancel(cancel);
            }
            cancelled = true;
            conn->failed = true;
        }
        /* slices of at most 100 ms so an abort is noticed promptly */
        int wait_ms = 100;
        if (!cancelled && limit != 0 && (limit - now) / 1000000u < 100u)
            wait_ms = (int)((limit - now) / 1000000u) + 1;
        struct pollfd pfd = {.fd = PQsocket(pg), .events = POLLIN};
        if (poll(&pfd, 1, wait_ms) < 0 && errno != EINTR)
            break;
        if (!PQconsumeInput(pg))
            break; /* the connection broke: PQgetResult reports it */
    }
    PGresult *last = NULL, *res;
    while ((res = PQgetResult(pg)) != NULL) {
        PQclear(last);
        last = res;
    }
    return last;
}

void db_conn_set_deadline(db_conn *conn, uint64_t deadline_ns)
{
    conn->deadline_ns = deadline_ns;
}

void db_pool_abort(db_pool *pool)
{
    atomic_store(&pool->aborting, true);
    pthread_mutex_lock(&pool->mutex);
    pthread_cond_broadcast(&pool->cond);
    pthread_mutex_unlock(&pool->mutex);
}

static bool send_statement(db_conn *conn, const db_statement *st, const char *const *params)
{
    const db_pool *pool = conn->pool;
    return pool->prepared
               ? PQsendQueryPrepared(conn->pg, st->name, st->nparams, params, NULL, NULL, 0)
               : PQsendQueryParams(conn->pg, st->sql, st->nparams, NULL, params, NULL, NULL, 0);
}

/*
 * The application_name a statement on this thread should run under: the
 * bound request's traceparent (log.h log_bind; a batch's first request),
 * after the connection's own name when both fit, or that name alone when
 * no request is bound.  False when there is nothing to say.
 */
static bool wanted_app_name(const db_conn *conn, char out[APP_NAME_MAX + 1])
{
    int n;
    const log_tag *tags = log_bound(&n);
    if (n == 0 || !tags[0].trace) {
        snprintf(out, APP_NAME_MAX + 1, "%s", conn->base_app_name);
        return out[0] != '\0';
    }
    char traceparent[TRACEPARENT_LEN + 1];
    trace_format_traceparent(tags[0].trace, traceparent);
    size_t base = strlen(conn->base_app_name);
    if (base > 0 && base + 1 + TRACEPARENT_LEN <= APP_NAME_MAX)
        snprintf(out, APP_NAME_MAX + 1, "%s/%s", conn->base_app_name, traceparent);
    else
        memcpy(out, traceparent, TRACEPARENT_LEN + 1);
    return true;
}

/*
 * Runs st under application_name name in one round trip: set_config and
 * the statement in one pipeline (libpq pipeline mode), then the sync.
 * Returns the statement's result, or set_config's when that failed (the
 * statement is then skipped by the server), or the sync's when that did
 * not arrive (NULL when there was none).  A pipeline libpq cannot
 * leave marks the connection failed: it is not reused.
 */
static PGresult *exec_named(db_conn *conn, const db_statement *st, const char *const *params,
                            const char *name)
{
    PGconn *pg = conn->pg;
    const char *values[1] = {name};
    if (!PQenterPipelineMode(pg))
        return send_statement(conn, st, params) ? wait_result(conn) : NULL;
    bool sent = (conn->pool->prepared
                     ? PQsendQueryPrepared(pg, SET_APP_NAME_STATEMENT, 1, values, NULL, NULL, 0)
                     : PQsendQueryParams(pg, SET_APP_NAME_SQL, 1, NULL, values, NULL, NULL, 0)) &&
                send_statement(conn, st, params) && PQpipelineSync(pg);
    PGresult *set = sent ? wait_result(conn) : NULL;
    PGresult *res = sent ? wait_result(conn) : NULL;
    PGresult *sync = sent ? wait_result(conn) : NULL;
    bool set_ok = PQresultStatus(set) == PGRES_TUPLES_OK;
    bool synced = PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
    if (!synced || !PQexitPipelineMode(pg))
        conn->failed = true;
    if (!synced) {
        /* Outside a transaction block the pipeline is one implicit
         * transaction, and it commits at the sync: a statement that
         * answered but whose sync did not come back (the connection
         * broke, or the commit itself failed) may not be durable.  Its
         * outcome is unknown, so it is a failure, never an OK. */
        PQclear(set);
        PQclear(res);
        return sync;
    }
    PQclear(sync);
    if (set_ok) {
        snprintf(conn->app_name, sizeof conn->app_name, "%s", name);
        PQclear(set);
        return res;
    }
    PQclear(res);
    return set;
}

/*
 * Prepares st on conn unless its bit says it already is (see conn_open),
 * and like any statement under the holder's deadline.  A prepared
 * statement outlives a rolled-back transaction, so the bit stays true.
 */
static orderd_err prepare_once(db_conn *conn, const db_statement *st, uint64_t bit)
{
    if (!conn->pool->prepared || (conn->prepared_mask & bit) != 0)
        return ORDERD_OK;
    PGresult *res =
        PQsendPrepare(conn->pg, st->name, st->sql, st->nparams, NULL) ? wait_result(conn) : NULL;
    orderd_err err = result_classify(conn, res, st->name);
    PQclear(res);
    if (err == ORDERD_OK)
        conn->prepared_mask |= bit;
    return err;
}

PGresult *db_exec(db_conn *conn, int index, const char *const *params, orderd_err *err)
{
    orderd_err ignored;
    if (err == NULL)
        err = &ignored;
    const db_pool *pool = conn->pool;
    if (index < 0 || index >= pool->statement_count) {
        LOG(LOG_ERROR, NULL, "db_exec: no statement number %d", index);
        *err = ORDERD_ERR_INTERNAL;
        return NULL;
    }
    if (conn->failed) {
        *err = ORDERD_ERR_UNAVAILABLE;
        return NULL;
    }
    const db_statement *st = &pool->statements[index];
    char name[APP_NAME_MAX + 1];
    bool rename = pool->trace_application_name && wanted_app_name(conn, name) &&
                  strcmp(name, conn->app_name) != 0;
    *err = prepare_once(conn, st, 1ull << index);
    if (*err == ORDERD_OK && rename)
        *err = prepare_once(conn, &set_app_name_statement, PREPARED_SET_APP_NAME);
    if (*err != ORDERD_OK) {
        conn->app_name[0] = '\0'; /* a failed transaction undoes set_config */
        return NULL;
    }
    PGresult *res;
    if (rename) {
        res = exec_named(conn, st, params, name);
    } else {
        res = send_statement(conn, st, params) ? wait_result(conn) : NULL;
    }
    *err = result_classify(conn, res, st->name);
    if (*err != ORDERD_OK)
        conn->app_name[0] = '\0'; /* a failed transaction undoes set_config */
    return res;
}

orderd_err db_exec_simple(db_conn *conn, const char *sql)
{
    if (conn->failed) /* e.g. cancelled: its transaction dies with it */
        return ORDERD_ERR_UNAVAILABLE;
    PGresult *res = PQsendQuery(conn->pg, sql) ? wait_result(conn) : NULL;
    orderd_err err = result_classify(conn, res, sql);
    if (err != ORDERD_OK || strcmp(sql, "ROLLBACK") == 0)
        conn->app_name[0] = '\0'; /* the rollback undid set_config: name unknown */
    PQclear(res);
    return err;
}

orderd_err db_pool_ping(db_pool *pool, uint64_t deadline_ns)
{
    orderd_err err;
    db_conn *conn = db_pool_acquire(pool, deadline_ns, &err);
    if (conn == NULL)
        return err;
    db_conn_set_deadline(conn, deadline_ns);
    err = db_exec_simple(conn, "SELECT 1");
    db_pool_release(pool, conn);
    return err;
}

int db_pool_healthy_count(db_pool *pool)
{
    int n = 0;
    pthread_mutex_lock(&pool->mutex);
    for (int i = 0; i < pool->size; i++)
        n += pool->slots[i].state == SLOT_IDLE || pool->slots[i].state == SLOT_BUSY;
    pthread_mutex_unlock(&pool->mutex);
    return n;
}

int db_pool_in_use(db_pool *pool)
{
    int n = 0;
    pthread_mutex_lock(&pool->mutex);
    for (int i = 0; i < pool->size; i++)
        n += pool->slots[i].state == SLOT_BUSY || pool->slots[i].state == SLOT_CONNECTING;
    pthread_mutex_unlock(&pool->mutex);
    return n;
}

int db_pool_waiting(db_pool *pool)
{
    pthread_mutex_lock(&pool->mutex);
    int n = pool->waiting;
    pthread_mutex_unlock(&pool->mutex);
    return n;
}

const char *db_pool_origin(const db_pool *pool)
{
    return pool->origin;
}

int db_pool_size(const db_pool *pool)
{
    return pool->size;
}
