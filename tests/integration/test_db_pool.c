/*
 * test_db_pool.c - migrations and the connection pool against a real
 * PostgreSQL (ORDERD_TEST_DB_URL, see test_db_util.h).  The SQL of orders
 * is tested in test_db_orders.c.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "orderd/base/clock.h"
#include "orderd/db/db_pool.h"
#include "orderd/db/migrate.h"
#include "orderd/db/order_db.h"

#include "test_db_util.h"

#define MS (1000ull * 1000)

static test_db db;
static PGconn *admin; /* a plain session on the test database */

/* Statements for pool-level checks (not part of orderd). */
enum { T_PID, T_SLEEP, T_SETTING, T_PREPARED_COUNT, T_XACT_ID, T_COUNT };
static const db_statement test_statements[] = {
    [T_PID] = {"t_pid", "SELECT pg_backend_pid()", 0},
    [T_SLEEP] = {"t_sleep", "SELECT pg_sleep($1::float8)", 1},
    [T_SETTING] = {"t_setting", "SELECT current_setting($1::text)", 1},
    [T_PREPARED_COUNT] = {"t_prepared_count", "SELECT count(*) FROM pg_prepared_statements", 0},
    /* Two calls give one id only inside one transaction. */
    [T_XACT_ID] = {"t_xact_id", "SELECT pg_current_xact_id()::text", 0},
};

static db_pool *pool_new(int size, bool prepared, const db_statement *statements, int count)
{
    db_pool_options opts = {
        .url = db.conninfo,
        .size = size,
        .statement_timeout_ms = 5000,
        .connect_timeout_ms = 2000,
        .prepared = prepared,
        .statements = statements,
        .statement_count = count,
    };
    db_pool *pool = db_pool_create(&opts);
    assert_non_null(pool);
    return pool;
}

static db_pool *test_pool_new(int size)
{
    return pool_new(size, true, test_statements, T_COUNT);
}

static db_conn *acquire_ok(db_pool *pool)
{
    orderd_err err = ORDERD_ERR_INTERNAL;
    db_conn *conn = db_pool_acquire(pool, clock_now_ns() + 5000 * MS, &err);
    assert_int_equal(err, ORDERD_OK);
    assert_non_null(conn);
    return conn;
}

/* Runs a test statement and returns its single value (static copy). */
static const char *value_of(db_conn *conn, int index, const char *param, orderd_err *err)
{
    static char value[256];
    const char *params[] = {param};
    PGresult *res = db_exec(conn, index, params, err);
    value[0] = '\0';
    if (*err == ORDERD_OK && PQntuples(res) == 1)
        snprintf(value, sizeof value, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return value;
}

static long backend_pid(db_conn *conn)
{
    orderd_err err;
    long pid = atol(value_of(conn, T_PID, NULL, &err));
    assert_int_equal(err, ORDERD_OK);
    assert_true(pid > 0);
    return pid;
}

/* Terminates a backend and waits until its session is really gone. */
static void terminate_backend(long pid)
{
    assert_non_null(test_db_query(admin, "SELECT pg_terminate_backend(%ld)", pid));
    for (int i = 0; i < 500; i++) {
        const char *n =
            test_db_query(admin, "SELECT count(*) FROM pg_stat_activity WHERE pid = %ld", pid);
        assert_non_null(n);
        if (strcmp(n, "0") == 0)
            return;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fail_msg("backend %ld did not exit", pid);
}

static uint64_t elapsed_ms(uint64_t since_ns)
{
    return (clock_now_ns() - since_ns) / MS;
}

static order_create_req make_req(int64_t customer_id, int64_t total_cents, const char *items)
{
    order_create_req req = {.customer_id = customer_id, .total_cents = total_cents};
    memcpy(req.currency, "EUR", 4);
    req.items_json = (char *)items;
    return req;
}

/* ---- migrations --------------------------------------------------------- */

static void *migrate_thread(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)migrate_run(db.conninfo, db.sql_dir);
}

static int group_setup(void **state)
{
    (void)state;
    if (test_db_create(&db) != 0)
        return -1;
    /* Two replicas migrating at once: the advisory lock serialises them. */
    pthread_t threads[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&threads[i], NULL, migrate_thread, NULL);
    int failures = 0;
    for (int i = 0; i < 2; i++) {
        void *rc;
        pthread_join(threads[i], &rc);
        failures += (intptr_t)rc != 0;
    }
    if (failures != 0) {
        fprintf(stderr, "concurrent migrate_run failed\n");
        return -1;
    }
    admin = test_db_connect(db.conninfo);
    return admin != NULL ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    PQfinish(admin);
    test_db_drop(&db);
    return 0;
}

static void test_migrations_recorded_once(void **state)
{
    (void)state;
    const char *versions =
        test_db_query(admin, "SELECT string_agg(version || ':' || name, ',' ORDER BY version) "
                             "FROM schema_migrations");
    assert_non_null(versions);
    assert_string_equal(versions,
                        "1:0001_orders.sql,2:0002_idempotency_keys.sql,3:0003_order_changes.sql,"
                        "4:0004_change_origin.sql");
    const char *before =
        test_db_query(admin, "SELECT max(applied_at)::text FROM schema_migrations");
    char applied_at[64];
    snprintf(applied_at, sizeof applied_at, "%s", before);

    assert_int_equal(migrate_run(db.conninfo, db.sql_dir), 0);
    assert_string_equal(test_db_query(admin, "SELECT count(*) FROM schema_migrations"), "4");
    assert_string_equal(test_db_query(admin, "SELECT max(applied_at)::text FROM schema_migrations"),
                        applied_at);
    assert_int_equal(migrate_run(db.conninfo, "/nonexistent/sql"), -1);
}

/* ---- pool --------------------------------------------------------------- */

static void test_acquire_release(void **state)
{
    (void)state;
    db_pool *pool = test_pool_new(2);
    assert_int_equal(db_pool_healthy_count(pool), 2);
    assert_int_equal(db_pool_in_use(pool), 0);

    db_conn *conn = acquire_ok(pool);
    assert_int_equal(db_pool_in_use(pool), 1);
    orderd_err err;
    assert_string_equal(value_of(conn, T_SETTING, "application_name", &err), "orderd");
    assert_string_equal(value_of(conn, T_SETTING, "statement_timeout", &err), "5s");
    assert_string_equal(value_of(conn, T_PREPARED_COUNT, NULL, &err), "5");
    db_pool_release(pool, conn);
    assert_int_equal(db_pool_in_use(pool), 0);
    assert_int_equal(db_pool_ping(pool, clock_now_ns() + 1000 * MS), ORDERD_OK);

    /* A connection handed back inside a transaction comes back clean. */
    db_pool_destroy(pool);
    pool = test_pool_new(1);
    conn = acquire_ok(pool);
    assert_int_equal(db_exec_simple(conn, "BEGIN"), ORDERD_OK);
    char in_txn[32];
    snprintf(in_txn, sizeof in_txn, "%s", value_of(conn, T_XACT_ID, NULL, &err));
    assert_string_equal(value_of(conn, T_XACT_ID, NULL, &err), in_txn);
    db_pool_release(pool, conn);
    conn = acquire_ok(pool);
    char first[32];
    snprintf(first, sizeof first, "%s", value_of(conn, T_XACT_ID, NULL, &err));
    assert_int_equal(err, ORDERD_OK);
    assert_string_not_equal(value_of(conn, T_XACT_ID, NULL, &err), first);
    db_pool_release(pool, conn);
    db_pool_destroy(pool);
    db_pool_destroy(NULL);
}

static void test_acquire_times_out_when_all_taken(void **state)
{
    (void)state;
    db_pool *pool = test_pool_new(2);
    db_conn *a = acquire_ok(pool), *b = acquire_ok(pool);

    uint64_t start = clock_now_ns();
    orderd_err err = ORDERD_OK;
    assert_null(db_pool_acquire(pool, start + 200 * MS, &err));
    assert_int_equal(err, ORDERD_ERR_BUSY);
    uint64_t waited = elapsed_ms(start);
    assert_true(waited >= 199);
    assert_true(waited < 450);

    /* A deadline already in the past does not wait at all. */
    start = clock_now_ns();
    assert_null(db_pool_acquire(pool, start - 1, &err));
    assert_int_equal(err, ORDERD_ERR_BUSY);
    assert_true(elapsed_ms(start) < 50);

    db_pool_release(pool, a);
    db_pool_release(pool, b);
    db_pool_destroy(pool);
}

/* Asserts that one acquire_for on the exhausted pool fails BUSY after ~200 ms. */
static void assert_busy_after_200ms(db_pool *pool, int wait_ms, uint64_t deadline_ns)
{
    uint64_t start = clock_now_ns();
    orderd_err err = ORDERD_OK;
    assert_null(db_pool_acquire_for(pool, wait_ms, deadline_ns, &err));
    assert_int_equal(err, ORDERD_ERR_BUSY);
    uint64_t waited = elapsed_ms(start);
    assert_true(waited >= 199);
    assert_true(waited < 450);
}

static void test_acquire_for_waits_the_shorter_and_sets_the_deadline(void **state)
{
    (void)state;
    db_pool *pool = test_pool_new(1);
    db_conn *held = acquire_ok(pool);
    /* the acquire budget is the shorter, then the request's deadline */
    assert_busy_after_200ms(pool, 200, clock_now_ns() + 60000 * MS);
    assert_busy_after_200ms(pool, 60000, clock_now_ns() + 200 * MS);
    db_pool_release(pool, held);

    /* the deadline holds for statements: cancelled long before the
     * pool's statement_timeout (5 s) would end the sleep */
    uint64_t start = clock_now_ns();
    orderd_err err = ORDERD_ERR_INTERNAL;
    db_conn *conn = db_pool_acquire_for(pool, 1000, start + 300 * MS, &err);
    assert_non_null(conn);
    assert_int_equal(err, ORDERD_OK);
    const char *params[] = {"3"};
    PGresult *res = db_exec(conn, T_SLEEP, params, &err);
    assert_int_equal(err, ORDERD_ERR_TIMEOUT);
    PQclear(res);
    assert_true(elapsed_ms(start) < 2000);
    db_pool_release(pool, conn);
    db_pool_destroy(pool);
}

typedef struct delayed_release {
    db_pool *pool;
    db_conn *conn;
} delayed_release;

static void *release_later(void *arg)
{
    delayed_release *r = arg;
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    db_pool_release(r->pool, r->conn);
    return NULL;
}

static void test_waiter_gets_released_connection(void **state)
{
    (void)state;
    db_pool *pool = test_pool_new(1);
    delayed_release r = {pool, acquire_ok(pool)};
    pthread_t t;
    pthread_create(&t, NULL, release_later, &r);

    uint64_t start = clock_now_ns();
    orderd_err err;
    db_conn *conn = db_pool_acquire(pool, start + 3000 * MS, &err);
    assert_non_null(conn);
    assert_int_equal(err, ORDERD_OK);
    assert_true(elapsed_ms(start) < 1000);
    pthread_join(t, NULL);
    db_pool_release(pool, conn);
    db_pool_destroy(pool);
}

static void test_terminated_backend_is_replaced(void **state)
{
    (void)state;
    db_pool *pool = test_pool_new(1);
    orderd_err err;

    /* Killed while idle in the pool: noticed on acquire, reopened. */
    db_conn *conn = acquire_ok(pool);
    long first = backend_pid(conn);
    db_pool_release(pool, conn);
    terminate_backend(first);
    conn = acquire_ok(pool);
    long second = backend_pid(conn);
    assert_true(second != first);
    /* A reopened session prepares each statement on its first use, under
     * the holder's deadline (db_pool.c conn_open): so far T_PID and the
     * count itself, where the first session prepared all five at start. */
    assert_string_equal(value_of(conn, T_PREPARED_COUNT, NULL, &err), "2");

    /* Killed while held: the next statement fails as UNAVAILABLE, the slot
     * is dropped on release and the next acquire opens a new session. */
    terminate_backend(second);
    PGresult *res = db_exec(conn, T_PID, NULL, &err);
    PQclear(res);
    assert_int_equal(err, ORDERD_ERR_UNAVAILABLE);
    assert_int_equal(db_exec_simple(conn, "SELECT 1"), ORDERD_ERR_UNAVAILABLE);
    db_pool_release(pool, conn);
    assert_int_equal(db_pool_healthy_count(pool), 0);

    conn = acquire_ok(pool);
    long third = backend_pid(conn);
    assert_true(third != second);
    assert_int_equal(db_pool_healthy_count(pool), 1);
    db_pool_release(pool, conn);
    db_pool_destroy(pool);
}

static void test_statement_timeout(void **state)
{
    (void)state;
    db_pool_options opts = {.url = db.conninfo,
                            .size = 1,
                            .statement_timeout_ms = 100,
                            .connect_timeout_ms = 2000,
                            .prepared = true,
                            .statements = test_statements,
                            .statement_count = T_COUNT};
    db_pool *pool = db_pool_create(&opts);
    assert_non_null(pool);
    db_conn *conn = acquire_ok(pool);
    orderd_err err;
    const char *params[] = {"2"};
    uint64_t start = clock_now_ns();
    PGresult *res = db_exec(conn, T_SLEEP, params, &err);
    assert_int_equal(err, ORDERD_ERR_TIMEOUT);
    assert_string_equal(db_sqlstate(res), "57014");
    PQclear(res);
    assert_true(elapsed_ms(start) < 1000);
    /* A timed-out statement leaves the connection usable. */
    backend_pid(conn);
    db_pool_release(pool, conn);
    assert_int_equal(db_pool_healthy_count(pool), 1);
    db_pool_destroy(pool);
}

static void test_unreachable_server_fails_fast(void **state)
{
    (void)state;
    /* Port 1 on loopback refuses at once. */
    db_pool_options opts = {.url = "postgresql://orderd@127.0.0.1:1/orderd",
                            .size = 3,
                            .connect_timeout_ms = 1000,
                            .prepared = true,
                            .statements = test_statements,
                            .statement_count = T_COUNT};
    db_pool *pool = db_pool_create(&opts);
    assert_non_null(pool);
    assert_int_equal(db_pool_healthy_count(pool), 0);

    /* Each acquire either tries a slot whose retry time has come, or
     * (every slot backing off) fails at once; none waits for the deadline. */
    for (int i = 0; i < 6; i++) {
        uint64_t start = clock_now_ns();
        orderd_err err = ORDERD_OK;
        assert_null(db_pool_acquire(pool, start + 3000 * MS, &err));
        assert_int_equal(err, ORDERD_ERR_UNAVAILABLE);
        assert_true(elapsed_ms(start) < 1000);
    }
    assert_int_equal(db_pool_ping(pool, clock_now_ns() + 3000 * MS), ORDERD_ERR_UNAVAILABLE);
    assert_int_equal(db_pool_in_use(pool), 0);
    db_pool_destroy(pool);

    opts.size = 0;
    assert_null(db_pool_create(&opts));
}

static void test_unnamed_statements(void **state)
{
    (void)state;
    db_pool *pool = pool_new(1, false, test_statements, T_COUNT);
    db_conn *conn = acquire_ok(pool);
    orderd_err err;
    assert_string_equal(value_of(conn, T_PREPARED_COUNT, NULL, &err), "0");
    db_pool_release(pool, conn);
    db_pool_destroy(pool);

    pool = pool_new(1, false, order_db_statements, order_db_statement_count);
    conn = acquire_ok(pool);
    order_create_req req = make_req(7, 1234, "[]");
    order created, fetched;
    assert_int_equal(order_db_insert(conn, &req, &created), ORDERD_OK);
    assert_int_equal(order_db_get(conn, created.id, &fetched), ORDERD_OK);
    assert_int_equal(fetched.total_cents, 1234);
    order_clear(&created);
    order_clear(&fetched);
    db_pool_release(pool, conn);
    db_pool_destroy(pool);
}

int main(void)
{
    if (test_db_env(&db, "orderd_test_pool") != 0)
        return 1;

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrations_recorded_once),
        cmocka_unit_test(test_acquire_release),
        cmocka_unit_test(test_acquire_times_out_when_all_taken),
        cmocka_unit_test(test_acquire_for_waits_the_shorter_and_sets_the_deadline),
        cmocka_unit_test(test_waiter_gets_released_connection),
        cmocka_unit_test(test_terminated_backend_is_replaced),
        cmocka_unit_test(test_statement_timeout),
        cmocka_unit_test(test_unreachable_server_fails_fast),
        cmocka_unit_test(test_unnamed_statements),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
