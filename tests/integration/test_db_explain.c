/*
 * test_db_explain.c - every list query of order_db must be an index range
 * scan on a table of realistic size: no sequential scan of orders, and no
 * Sort of more than SORT_ROWS_MAX estimated rows (that would mean the index
 * order does not match ORDER BY, so every matching row is read before the
 * first is returned).  A small sort is fine: for a customer with a few
 * dozen orders the planner rightly prefers a bitmap scan and a sort.
 *
 * Seeds 120,000 orders over 5,000 customers, five statuses and about two
 * weeks, ANALYZEs, then EXPLAINs each list statement of
 * order_db_statements under both custom and generic plans (prepared
 * statements switch to a generic plan after five executions), for a first
 * page and for a page in the middle.  ORDERD_TEST_DB_URL: see
 * test_db_util.h.
 */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "orderd/db/migrate.h"
#include "orderd/db/order_db.h"

#include "test_db_util.h"

#define SEED_ROWS     120000
#define SORT_ROWS_MAX 1000

static test_db db;
static PGconn *conn;

/* How each list statement lays out its parameters before the common
 * (cursor timestamp, cursor id, limit) tail. */
typedef struct list_shape {
    const char *name;
    bool customer;
    bool status;
    bool many; /* each parameter an array, one element per page (three pages here) */
} list_shape;

static const list_shape shapes[] = {
    {"order_list", false, false, false},
    {"order_list_customer", true, false, false},
    {"order_list_status", false, true, false},
    {"order_list_customer_status", true, true, false},
    {"order_list_customer_many", true, false, true},
};

/* value, or for a shape of many pages an array of three pages' values:
 * "{v,v,v}" (customers 42, 43, 44 for "42") */
static const char *shape_param(const list_shape *shape, const char *value, char *out, size_t cap)
{
    if (!shape->many)
        return value;
    if (strcmp(value, "42") == 0)
        snprintf(out, cap, "{42,43,44}");
    else
        snprintf(out, cap, "{%s,%s,%s}", value, value, value);
    return out;
}

static int group_setup(void **state)
{
    (void)state;
    if (test_db_create(&db) != 0 || migrate_run(db.conninfo, db.sql_dir) != 0)
        return -1;
    conn = test_db_connect(db.conninfo);
    if (conn == NULL)
        return -1;
    /* Pairs of rows share a timestamp so the id tie-break matters too;
     * status is not a function of the customer. */
    const char *seeded = test_db_query(
        conn,
        "INSERT INTO orders (customer_id, status, currency, total, items, created_at, updated_at) "
        "SELECT 1 + g %% 5000, "
        "(ARRAY['pending','paid','shipped','delivered','cancelled'])[1 + (g / 7) %% 5], "
        "'USD', (g %% 100000) / 100.0, "
        "'[{\"sku\":\"SKU-1\",\"quantity\":1,\"unit_price\":\"1.00\"}]', "
        "timestamptz '2026-11-01 00:00:00+00' + (g / 2) * interval '10 seconds', "
        "timestamptz '2026-11-01 00:00:00+00' + (g / 2) * interval '10 seconds' "
        "FROM generate_series(1, %d) AS g",
        SEED_ROWS);
    if (seeded == NULL || test_db_query(conn, "ANALYZE orders") == NULL)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    PQfinish(conn);
    test_db_drop(&db);
    return 0;
}

/* Appends a failure description to why for each bad node below plan. */
static int plan_check(const json_t *plan, char *why, size_t whylen)
{
    int bad = 0;
    const char *type = json_string_value(json_object_get(plan, "Node Type"));
    const char *rel = json_string_value(json_object_get(plan, "Relation Name"));
    if (type != NULL && strcmp(type, "Seq Scan") == 0 && rel != NULL &&
        strcmp(rel, "orders") == 0) {
        size_t n = strlen(why);
        snprintf(why + n, whylen - n, " [Seq Scan on orders]");
        bad++;
    }
    double rows = json_number_value(json_object_get(plan, "Plan Rows"));
    if (type != NULL && strstr(type, "Sort") != NULL && rows > SORT_ROWS_MAX) {
        size_t n = strlen(why);
        snprintf(why + n, whylen - n, " [%s of %.0f rows]", type, rows);
        bad++;
    }
    const json_t *children = json_object_get(plan, "Plans");
    size_t i;
    const json_t *child;
    json_array_foreach(children, i, child)
    {
        bad += plan_check(child, why, whylen);
    }
    return bad;
}

/* EXPLAINs one execution of the prepared statement name; fails the test
 * with the plan when it scans orders sequentially or sorts. */
static void explain_execute(const char *name, const char *mode, const char *const *params,
                            int nparams)
{
    char sql[2048];
    int n = snprintf(sql, sizeof sql, "EXPLAIN (FORMAT JSON) EXECUTE %s(", name);
    for (int i = 0; i < nparams; i++) {
        char *lit = PQescapeLiteral(conn, params[i], strlen(params[i]));
        assert_non_null(lit);
        n += snprintf(sql + n, sizeof sql - (size_t)n, "%s%s", i ? ", " : "", lit);
        PQfreemem(lit);
    }
    snprintf(sql + n, sizeof sql - (size_t)n, ")");

    assert_non_null(test_db_query(conn, "SET plan_cache_mode = %s", mode));
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("%s failed: %s", sql, PQerrorMessage(conn));
    json_error_t jerr;
    json_t *doc = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
    if (doc == NULL)
        fail_msg("plan of %s is not JSON: %s", name, jerr.text);
    const json_t *plan = json_object_get(json_array_get(doc, 0), "Plan");
    assert_non_null(plan);
    char why[512] = "";
    if (plan_check(plan, why, sizeof why) != 0) {
        printf("%s (%s):%s\n%s\n", sql, mode, why, PQgetvalue(res, 0, 0));
        json_decref(doc);
        PQclear(res);
        fail_msg("%s (%s) plan is not an index range scan:%s", name, mode, why);
    }
    json_decref(doc);
    PQclear(res);
}

static const list_shape *shape_of(const char *name)
{
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        if (strcmp(shapes[i].name, name) == 0)
            return &shapes[i];
    return NULL;
}

static void test_list_queries_use_indexes(void **state)
{
    (void)state;
    /* A cursor from the middle of the newest-first order. */
    char mid_ts[32], mid_id[32];
    const char *v = test_db_query(conn,
                                  "SELECT (extract(epoch FROM created_at) * 1000000)::bigint "
                                  "|| ' ' || id FROM orders ORDER BY created_at DESC, id DESC "
                                  "OFFSET %d LIMIT 1",
                                  SEED_ROWS / 2);
    assert_non_null(v);
    assert_int_equal(sscanf(v, "%31s %31s", mid_ts, mid_id), 2);

    /* The first-page sentinel order_db_list uses. */
    const char *cursors[][2] = {{"253402300799999999", "9223372036854775807"}, {mid_ts, mid_id}};
    const char *modes[] = {"force_custom_plan", "force_generic_plan"};
    const char *limits[] = {"21", "101"};

    int checked = 0;
    for (int s = 0; s < order_db_statement_count; s++) {
        const db_statement *st = &order_db_statements[s];
        if (strncmp(st->name, "order_list", 10) != 0)
            continue;
        const list_shape *shape = shape_of(st->name);
        if (shape == NULL)
            fail_msg("list statement %s is new: teach test_db_explain.c its parameters", st->name);
        PGresult *res = PQprepare(conn, st->name, st->sql, st->nparams, NULL);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            fail_msg("PREPARE %s failed: %s", st->name, PQerrorMessage(conn));
        PQclear(res);

        for (size_t c = 0; c < 2; c++)
            for (size_t l = 0; l < 2; l++)
                for (size_t m = 0; m < 2; m++) {
                    const char *params[5];
                    char arrays[5][80];
                    int n = 0;
                    if (shape->customer) {
                        params[n] = shape_param(shape, "42", arrays[n], sizeof arrays[n]);
                        n++;
                    }
                    if (shape->status)
                        params[n++] = "paid";
                    const char *tail[] = {cursors[c][0], cursors[c][1], limits[l]};
                    for (int t = 0; t < 3; t++, n++)
                        params[n] = shape_param(shape, tail[t], arrays[n], sizeof arrays[n]);
                    assert_int_equal(n, st->nparams);
                    explain_execute(st->name, modes[m], params, n);
                }
        checked++;
    }
    assert_int_equal(checked, (int)(sizeof shapes / sizeof shapes[0]));
}

int main(void)
{
    if (test_db_env(&db, "orderd_test_explain") != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_queries_use_indexes),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
