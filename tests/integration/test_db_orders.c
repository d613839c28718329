/*
 * test_db_orders.c - order_db (insert, get, keyset lists, status updates,
 * delete, batched amendments, idempotency keys) against a real PostgreSQL through the pool
 * (ORDERD_TEST_DB_URL, see test_db_util.h).
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

static order_create_req make_req(int64_t customer_id, int64_t total_cents, const char *items)
{
    order_create_req req = {.customer_id = customer_id, .total_cents = total_cents};
    memcpy(req.currency, "EUR", 4);
    req.items_json = (char *)items;
    return req;
}

static int group_setup(void **state)
{
    (void)state;
    if (test_db_create(&db) != 0 || migrate_run(db.conninfo, db.sql_dir) != 0)
        return -1;
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

static db_pool *orders_pool;
static db_conn *oc; /* a connection from orders_pool, held per test */

static int orders_setup(void **state)
{
    (void)state;
    db_pool_options opts = {.url = db.conninfo,
                            .size = 8,
                            .statement_timeout_ms = 5000,
                            .connect_timeout_ms = 2000,
                            .prepared = true,
                            .statements = order_db_statements,
                            .statement_count = order_db_statement_count};
    orders_pool = db_pool_create(&opts);
    if (orders_pool == NULL)
        return -1;
    orderd_err err;
    oc = db_pool_acquire(orders_pool, clock_now_ns() + 5000 * MS, &err);
    return oc != NULL ? 0 : -1;
}

static int orders_teardown(void **state)
{
    (void)state;
    db_pool_release(orders_pool, oc);
    db_pool_destroy(orders_pool);
    orders_pool = NULL;
    oc = NULL;
    return 0;
}

static void assert_same_order(const order *a, const order *b)
{
    assert_int_equal(a->id, b->id);
    assert_int_equal(a->customer_id, b->customer_id);
    assert_int_equal(a->status, b->status);
    assert_string_equal(a->currency, b->currency);
    assert_int_equal(a->total_cents, b->total_cents);
    assert_string_equal(a->items_json, b->items_json);
    assert_int_equal(a->version, b->version);
    assert_int_equal(a->created_at_us, b->created_at_us);
    assert_int_equal(a->updated_at_us, b->updated_at_us);
}

static int64_t unique_customer(void)
{
    static int64_t next;
    return (int64_t)getpid() * 1000 + ++next;
}

static void test_insert_and_get(void **state)
{
    (void)state;
    const char *items = "[{\"sku\":\"A-1\",\"quantity\":2,\"unit_price\":\"5.25\"},"
                        "{\"sku\":\"say \\\"hi\\\" \",\"quantity\":1,\"unit_price\":\"0.00\"}]";
    order_create_req req = make_req(unique_customer(), 1050, items);
    order created, fetched;
    int64_t before = clock_wall_us();
    assert_int_equal(order_db_insert(oc, &req, &created), ORDERD_OK);
    assert_true(created.id > 0);
    assert_int_equal(created.customer_id, req.customer_id);
    assert_int_equal(created.status, ORDER_PENDING);
    assert_string_equal(created.currency, "EUR");
    assert_int_equal(created.total_cents, 1050);
    assert_string_equal(created.items_json, items); /* compact, keys in order */
    assert_int_equal(created.version, 1);
    assert_true(created.created_at_us >= before - 5000000);
    assert_true(created.created_at_us <= clock_wall_us() + 5000000);
    assert_int_equal(created.updated_at_us, created.created_at_us);

    assert_int_equal(order_db_get(oc, created.id, &fetched), ORDERD_OK);
    assert_same_order(&created, &fetched);
    order_clear(&fetched);

    /* The extremes of numeric(12,2) survive the trip unchanged. */
    int64_t totals[] = {0, 1, 999999999999};
    for (size_t i = 0; i < sizeof totals / sizeof totals[0]; i++) {
        order_create_req r = make_req(req.customer_id, totals[i], "[]");
        order o;
        assert_int_equal(order_db_insert(oc, &r, &o), ORDERD_OK);
        assert_int_equal(o.total_cents, totals[i]);
        assert_string_equal(o.items_json, "[]");
        assert_int_equal(order_db_get(oc, o.id, &fetched), ORDERD_OK);
        assert_int_equal(fetched.total_cents, totals[i]);
        order_clear(&o);
        order_clear(&fetched);
    }

    assert_int_equal(order_db_get(oc, INT64_MAX, &fetched), ORDERD_ERR_NOT_FOUND);
    order_clear(&created);
}

/* Pages through q and checks the rows come newest first without gaps. */
static int list_all(order_list_query q, int64_t *ids, int max)
{
    int total = 0, pages = 0;
    int64_t last_ts = INT64_MAX, last_id = INT64_MAX;
    for (;;) {
        order *rows;
        int count;
        bool more;
        assert_int_equal(order_db_list(oc, &q, &rows, &count, &more), ORDERD_OK);
        assert_true(count <= q.limit);
        for (int i = 0; i < count; i++) {
            assert_true(rows[i].created_at_us < last_ts ||
                        (rows[i].created_at_us == last_ts && rows[i].id < last_id));
            last_ts = rows[i].created_at_us;
            last_id = rows[i].id;
            assert_true(total < max);
            ids[total++] = rows[i].id;
            order_clear(&rows[i]);
        }
        free(rows);
        pages++;
        assert_true(pages < 1000);
        if (!more)
            break;
        assert_int_equal(count, q.limit);
        q.has_cursor = true;
        q.cursor_created_at_us = last_ts;
        q.cursor_id = last_id;
    }
    return total;
}

static void test_list_keyset_pages(void **state)
{
    (void)state;
    int64_t customer = unique_customer();
    int64_t ids[7];
    for (int i = 0; i < 7; i++) {
        order_create_req req = make_req(customer, 100 + i, "[]");
        order o, moved;
        assert_int_equal(order_db_insert(oc, &req, &o), ORDERD_OK);
        ids[i] = o.id;
        if (i % 2 == 1) {
            assert_int_equal(order_db_update_status(oc, o.id, ORDER_PAID, -1, 0, &moved),
                             ORDERD_OK);
            order_clear(&moved);
        }
        order_clear(&o);
    }

    int64_t got[64];
    order_list_query q = {.has_customer_id = true, .customer_id = customer, .limit = 3};
    assert_int_equal(list_all(q, got, 64), 7);
    for (int i = 0; i < 7; i++)
        assert_int_equal(got[i], ids[6 - i]);

    q.has_status = true;
    q.status = ORDER_PAID;
    q.limit = 2;
    assert_int_equal(list_all(q, got, 64), 3);
    assert_int_equal(got[0], ids[5]);
    assert_int_equal(got[1], ids[3]);
    assert_int_equal(got[2], ids[1]);

    q.limit = 100;
    assert_int_equal(list_all(q, got, 64), 3);

    /* Status only and no filter: this customer's newest orders lead. */
    order_list_query all = {.limit = 1};
    order *rows;
    int count;
    bool more;
    assert_int_equal(order_db_list(oc, &all, &rows, &count, &more), ORDERD_OK);
    assert_int_equal(count, 1);
    assert_true(more);
    assert_int_equal(rows[0].id, ids[6]);
    order_clear(&rows[0]);
    free(rows);
    order_list_query paid = {.has_status = true, .status = ORDER_PAID, .limit = 1};
    assert_int_equal(order_db_list(oc, &paid, &rows, &count, &more), ORDERD_OK);
    assert_int_equal(count, 1);
    assert_int_equal(rows[0].id, ids[5]);
    order_clear(&rows[0]);
    free(rows);

    /* Cursors outside the timestamp range are clamped, not errors. */
    order_list_query odd = {.has_customer_id = true,
                            .customer_id = customer,
                            .limit = 10,
                            .has_cursor = true,
                            .cursor_created_at_us = INT64_MAX,
                            .cursor_id = 1};
    assert_int_equal(order_db_list(oc, &odd, &rows, &count, &more), ORDERD_OK);
    assert_int_equal(count, 7);
    for (int i = 0; i < count; i++)
        order_clear(&rows[i]);
    free(rows);
    odd.cursor_created_at_us = INT64_MIN;
    assert_int_equal(order_db_list(oc, &odd, &rows, &count, &more), ORDERD_OK);
    assert_int_equal(count, 0);
    assert_false(more);
    free(rows);
}

/* Fails unless page holds exactly what order_db_list gives for q. */
static void assert_page_as_alone(const order_list_query *q, const order_list_page *page)
{
    order *rows;
    int count;
    bool more;
    assert_int_equal(order_db_list(oc, q, &rows, &count, &more), ORDERD_OK);
    assert_int_equal(page->count, count);
    assert_int_equal(page->has_more, more);
    for (int i = 0; i < count; i++) {
        assert_int_equal(page->rows[i].id, rows[i].id);
        assert_int_equal(page->rows[i].customer_id, rows[i].customer_id);
        assert_int_equal(page->rows[i].created_at_us, rows[i].created_at_us);
        assert_int_equal(page->rows[i].version, rows[i].version);
        assert_int_equal(page->rows[i].status, rows[i].status);
        order_clear(&rows[i]);
    }
    free(rows);
}

/*
 * Several customers' pages in one statement are each the page
 * order_db_list reads alone: the first page and a cursor's, different
 * limits, the same page twice, a customer with no orders, and pages
 * that end exactly at the limit (no more) or one row before it.
 */
static void test_list_customers_in_one_statement(void **state)
{
    (void)state;
    int64_t customers[3];
    int64_t newest[3][5];
    for (int c = 0; c < 3; c++) {
        customers[c] = unique_customer();
        for (int i = 0; i < 5; i++) {
            order_create_req req = make_req(customers[c], 10 * c + i, "[]");
            order o;
            assert_int_equal(order_db_insert(oc, &req, &o), ORDERD_OK);
            newest[c][4 - i] = o.id;
            order_clear(&o);
        }
    }
    int64_t empty = unique_customer();
    order_list_query qs[] = {
        {.has_customer_id = true, .customer_id = customers[0], .limit = 2},
        {.has_customer_id = true, .customer_id = customers[1], .limit = 5},
        {.has_customer_id = true, .customer_id = empty, .limit = 3},
        {.has_customer_id = true, .customer_id = customers[2], .limit = 4},
        {.has_customer_id = true, .customer_id = customers[0], .limit = 2},
        {.has_customer_id = true, .customer_id = customers[1], .limit = 100},
        {.has_customer_id = true, .customer_id = customers[2], .limit = 2},
    };
    /* the last page starts after customer 2's second newest order */
    order second;
    assert_int_equal(order_db_get(oc, newest[2][1], &second), ORDERD_OK);
    qs[6].has_cursor = true;
    qs[6].cursor_created_at_us = second.created_at_us;
    qs[6].cursor_id = second.id;
    order_clear(&second);

    enum { N = sizeof qs / sizeof qs[0] };
    const order_list_query *ptrs[N];
    for (int i = 0; i < N; i++)
        ptrs[i] = &qs[i];
    order_list_page pages[N];
    assert_int_equal(order_db_list_customers(oc, ptrs, N, pages), ORDERD_OK);
    int expected_counts[N] = {2, 5, 0, 4, 2, 5, 2};
    bool expected_more[N] = {true, false, false, true, true, false, true};
    for (int i = 0; i < N; i++) {
        assert_int_equal(pages[i].count, expected_counts[i]);
        assert_int_equal(pages[i].has_more, expected_more[i]);
        assert_page_as_alone(&qs[i], &pages[i]);
    }
    assert_int_equal(pages[6].rows[0].id, newest[2][2]);
    assert_int_equal(pages[6].rows[1].id, newest[2][3]);
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < pages[i].count; k++)
            order_clear(&pages[i].rows[k]);
        free(pages[i].rows);
    }

    /* a query it cannot combine is refused, not answered wrongly */
    order_list_query by_status = {.has_customer_id = true,
                                  .customer_id = customers[0],
                                  .has_status = true,
                                  .status = ORDER_PAID,
                                  .limit = 2};
    assert_false(order_db_list_combines(&by_status));
    const order_list_query *mixed[] = {&qs[0], &by_status};
    assert_int_equal(order_db_list_customers(oc, mixed, 2, pages), ORDERD_ERR_INTERNAL);
    assert_null(pages[0].rows);
}

static void test_update_status(void **state)
{
    (void)state;
    order_create_req req = make_req(unique_customer(), 500, "[]");
    order o, u;
    assert_int_equal(order_db_insert(oc, &req, &o), ORDERD_OK);

    assert_int_equal(order_db_update_status(oc, o.id, ORDER_PAID, 1, 0, &u), ORDERD_OK);
    assert_int_equal(u.status, ORDER_PAID);
    assert_int_equal(u.version, 2);
    assert_int_equal(u.created_at_us, o.created_at_us);
    assert_true(u.updated_at_us >= o.updated_at_us);
    order_clear(&u);

    assert_int_equal(order_db_update_status(oc, o.id, ORDER_PAID, -1, 0, &u), ORDERD_ERR_CONFLICT);
    assert_int_equal(order_db_update_status(oc, o.id, ORDER_PENDING, 2, 0, &u),
                     ORDERD_ERR_CONFLICT);
    assert_int_equal(order_db_update_status(oc, o.id, ORDER_SHIPPED, 1, 0, &u),
                     ORDERD_ERR_PRECONDITION);
    /* A stale version wins over an impossible transition: 412 before 409. */
    assert_int_equal(order_db_update_status(oc, o.id, ORDER_PENDING, 1, 0, &u),
                     ORDERD_ERR_PRECONDITION);
    assert_int_equal(order_db_update_status(oc, o.id, ORDER_SHIPPED, -1, 0, &u), ORDERD_OK);
    assert_int_equal(u.version, 3);
    order_clear(&u);
    assert_int_equal(order_db_update_status(oc, o.id, ORDER_CANCELLED, 3, 0, &u),
                     ORDERD_ERR_CONFLICT);
    assert_int_equal(order_db_update_status(oc, o.id, ORDER_DELIVERED, 3, 0, &u), ORDERD_OK);
    assert_int_equal(u.status, ORDER_DELIVERED);
    assert_int_equal(u.version, 4);
    order_clear(&u);

    order c;
    assert_int_equal(order_db_insert(oc, &req, &c), ORDERD_OK);
    /* an owner that is not the order's: not found, whatever else is wrong */
    assert_int_equal(order_db_update_status(oc, c.id, ORDER_CANCELLED, -1, c.customer_id + 1, &u),
                     ORDERD_ERR_NOT_FOUND);
    assert_int_equal(order_db_update_status(oc, c.id, ORDER_CANCELLED, 7, c.customer_id + 1, &u),
                     ORDERD_ERR_NOT_FOUND);
    assert_int_equal(order_db_update_status(oc, c.id, ORDER_CANCELLED, -1, c.customer_id, &u),
                     ORDERD_OK);
    assert_int_equal(u.status, ORDER_CANCELLED);
    order_clear(&u);
    assert_int_equal(order_db_update_status(oc, c.id, ORDER_PAID, -1, 0, &u), ORDERD_ERR_CONFLICT);

    assert_int_equal(order_db_update_status(oc, INT64_MAX, ORDER_PAID, -1, 0, &u),
                     ORDERD_ERR_NOT_FOUND);
    assert_int_equal(order_db_update_status(oc, INT64_MAX, ORDER_PAID, 1, 0, &u),
                     ORDERD_ERR_NOT_FOUND);
    order_clear(&o);
    order_clear(&c);
}

static void test_delete(void **state)
{
    (void)state;
    order_create_req req = make_req(unique_customer(), 500, "[]");
    order o, fetched, gone;
    assert_int_equal(order_db_insert(oc, &req, &o), ORDERD_OK);
    assert_int_equal(order_db_delete(oc, o.id, 2, &gone), ORDERD_ERR_PRECONDITION);
    assert_int_equal(gone.id, 0);
    assert_int_equal(order_db_delete(oc, o.id, 1, &gone), ORDERD_OK);
    assert_same_order(&gone, &o);
    order_clear(&gone);
    assert_int_equal(order_db_delete(oc, o.id, -1, NULL), ORDERD_ERR_NOT_FOUND);
    assert_int_equal(order_db_delete(oc, o.id, 1, NULL), ORDERD_ERR_NOT_FOUND);
    assert_int_equal(order_db_get(oc, o.id, &fetched), ORDERD_ERR_NOT_FOUND);
    order_clear(&o);

    assert_int_equal(order_db_insert(oc, &req, &o), ORDERD_OK);
    assert_int_equal(order_db_delete(oc, o.id, -1, NULL), ORDERD_OK);
    order_clear(&o);
}

/* ---- batched amendments (order_db_amend_many) ------------------------------ */

static order new_order(int64_t customer)
{
    order_create_req req = make_req(customer, 700, "[]");
    order o;
    assert_int_equal(order_db_insert(oc, &req, &o), ORDERD_OK);
    return o;
}

static long version_of(int64_t id)
{
    const char *v =
        test_db_query(admin, "SELECT version FROM orders WHERE id = %lld", (long long)id);
    assert_non_null(v);
    return v[0] ? atol(v) : -1; /* -1: no such row */
}

/* Each amendment of one statement ends on its own terms. */
static void test_amend_many_outcomes_are_per_row(void **state)
{
    (void)state;
    int64_t customer = unique_customer();
    order o[6];
    for (int i = 0; i < 6; i++)
        o[i] = new_order(customer);
    const order_amend a[] = {
        {ORDER_AMEND_SET_STATUS, o[0].id, ORDER_PAID, -1, 0},      /* applies */
        {ORDER_AMEND_SET_STATUS, o[1].id, ORDER_PAID, 5, 0},       /* stale version: 412 */
        {ORDER_AMEND_SET_STATUS, o[2].id, ORDER_DELIVERED, -1, 0}, /* pending -> delivered: 409 */
        {ORDER_AMEND_SET_STATUS, INT64_MAX, ORDER_PAID, -1, 0},    /* no such order */
        {ORDER_AMEND_SET_STATUS, o[3].id, ORDER_CANCELLED, -1, customer + 1}, /* not theirs */
        {ORDER_AMEND_DELETE, o[4].id, ORDER_PENDING, 1, 0},                   /* applies */
        {ORDER_AMEND_DELETE, o[5].id, ORDER_PENDING, 9, 0}, /* stale version: 412 */
    };
    enum { N = sizeof a / sizeof a[0] };
    const order_amend *amends[N];
    for (int i = 0; i < N; i++)
        amends[i] = &a[i];
    order_amend_outcome out[N];
    assert_int_equal(order_db_amend_many(oc, amends, N, out), ORDERD_OK);

    const orderd_err expected[N] = {ORDERD_OK,
                                    ORDERD_ERR_PRECONDITION,
                                    ORDERD_ERR_CONFLICT,
                                    ORDERD_ERR_NOT_FOUND,
                                    ORDERD_ERR_NOT_FOUND,
                                    ORDERD_OK,
                                    ORDERD_ERR_PRECONDITION};
    for (int i = 0; i < N; i++) {
        assert_int_equal(out[i].err, expected[i]);
        assert_false(out[i].retry);
    }
    assert_int_equal(out[0].row.id, o[0].id);
    assert_int_equal(out[0].row.status, ORDER_PAID);
    assert_int_equal(out[0].row.version, 2);
    assert_int_equal(out[0].old_status, ORDER_PENDING);
    assert_same_order(&out[5].row, &o[4]); /* a delete returns the row as it was */
    assert_int_equal(out[5].old_status, ORDER_PENDING);
    for (int i = 0; i < N; i++)
        order_clear(&out[i].row);

    /* and PostgreSQL agrees: only the two that applied changed anything */
    assert_int_equal(version_of(o[0].id), 2);
    for (int i = 1; i < 4; i++)
        assert_int_equal(version_of(o[i].id), 1);
    assert_int_equal(version_of(o[4].id), -1);
    assert_int_equal(version_of(o[5].id), 1);
    for (int i = 0; i < 6; i++)
        order_clear(&o[i]);
}

typedef struct amend_call {
    const order_amend *amend;
    int n;
    order_amend_outcome out[16];
    orderd_err err;
} amend_call;

static void *amend_on_own_connection(void *arg)
{
    amend_call *call = arg;
    orderd_err err;
    db_conn *conn = db_pool_acquire(orders_pool, clock_now_ns() + 5000 * MS, &err);
    if (conn == NULL) {
        call->err = err;
        return NULL;
    }
    const order_amend *amends[16];
    for (int i = 0; i < call->n; i++)
        amends[i] = &call->amend[i];
    call->err = order_db_amend_many(conn, amends, call->n, call->out);
    db_pool_release(orders_pool, conn);
    return NULL;
}

/* Until some session of the test database waits for a row lock. */
static void wait_for_a_lock_waiter(void)
{
    for (int i = 0; i < 500; i++) {
        const char *n =
            test_db_query(admin, "SELECT count(*) FROM pg_stat_activity WHERE "
                                 "datname = current_database() AND wait_event_type = 'Lock'");
        assert_non_null(n);
        if (atoi(n) > 0)
            return;
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    fail_msg("the amendment never waited for the row lock");
}

/*
 * A commit that lands while the statement waits for the row's lock: the
 * statement's snapshot still shows the old status, from which the change
 * is not allowed, while the row it locked allows it.  That is a lost
 * race, not a conflict: marked for sending again, which then applies.
 */
static void test_amend_many_marks_a_lost_race_for_a_retry(void **state)
{
    (void)state;
    order o = new_order(unique_customer());
    assert_non_null(test_db_query(admin, "BEGIN"));
    assert_non_null(
        test_db_query(admin, "UPDATE orders SET status = 'paid' WHERE id = %lld", (long long)o.id));
    order_amend ship = {ORDER_AMEND_SET_STATUS, o.id, ORDER_SHIPPED, -1, 0};
    amend_call call = {.amend = &ship, .n = 1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, amend_on_own_connection, &call), 0);
    wait_for_a_lock_waiter();
    assert_non_null(test_db_query(admin, "COMMIT"));
    pthread_join(t, NULL);
    assert_int_equal(call.err, ORDERD_OK);
    assert_int_not_equal(call.out[0].err, ORDERD_OK);
    assert_true(call.out[0].retry);
    assert_int_equal(version_of(o.id), 2);

    order shipped;
    assert_int_equal(order_db_update_status(oc, o.id, ORDER_SHIPPED, -1, 0, &shipped), ORDERD_OK);
    assert_int_equal(shipped.status, ORDER_SHIPPED);
    assert_int_equal(shipped.version, 3);
    order_clear(&shipped);
    order_clear(&o);
}

/*
 * Two statements amending the same orders, named in opposite orders, at
 * the same time, round after round: rows are locked in id order, so one
 * waits for the other and neither is ever chosen as a deadlock victim
 * (that would be a failed statement).  Each order ends at the version of
 * the amendments that applied to it.
 */
static void test_amend_many_concurrent_batches_never_deadlock(void **state)
{
    (void)state;
    enum { ROUNDS = 30, ORDERS = 10 };
    int64_t customer = unique_customer();
    for (int round = 0; round < ROUNDS; round++) {
        order o[ORDERS];
        order_amend up[ORDERS], down[ORDERS];
        for (int i = 0; i < ORDERS; i++) {
            o[i] = new_order(customer);
            up[i] = (order_amend){ORDER_AMEND_SET_STATUS, o[i].id, ORDER_PAID, -1, 0};
        }
        for (int i = 0; i < ORDERS; i++)
            down[i] =
                (order_amend){ORDER_AMEND_SET_STATUS, o[ORDERS - 1 - i].id, ORDER_CANCELLED, -1, 0};
        amend_call a = {.amend = up, .n = ORDERS}, b = {.amend = down, .n = ORDERS};
        pthread_t ta, tb;
        assert_int_equal(pthread_create(&ta, NULL, amend_on_own_connection, &a), 0);
        assert_int_equal(pthread_create(&tb, NULL, amend_on_own_connection, &b), 0);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        assert_int_equal(a.err, ORDERD_OK);
        assert_int_equal(b.err, ORDERD_OK);
        for (int i = 0; i < ORDERS; i++) {
            const order_amend_outcome *pay = &a.out[i], *cancel = &b.out[ORDERS - 1 - i];
            /* paid then cancelled, or cancelled and then paying fails */
            long applied = (pay->err == ORDERD_OK) + (cancel->err == ORDERD_OK);
            assert_true(cancel->err == ORDERD_OK);
            assert_int_equal(version_of(o[i].id), 1 + applied);
            order_clear(&a.out[i].row);
            order_clear(&b.out[i].row);
            order_clear(&o[i]);
        }
    }
}

static long orders_of(int64_t customer)
{
    return atol(test_db_query(admin, "SELECT count(*) FROM orders WHERE customer_id = %lld",
                              (long long)customer));
}

static void test_idempotent_insert(void **state)
{
    (void)state;
    char key[64];
    snprintf(key, sizeof key, "key-%ld-single", (long)getpid());
    order_create_req req = make_req(unique_customer(), 4200, "[]");
    char *first = NULL, *again = NULL, *other = NULL;
    order o1, o2, o3;
    bool replayed = true;

    assert_int_equal(order_db_insert_idempotent(oc, &req, key, "fp-a", &first, &o1, &replayed),
                     ORDERD_OK);
    assert_false(replayed);
    assert_non_null(first);
    size_t len;
    char *rendered = order_to_json(&o1, &len);
    assert_string_equal(first, rendered);
    free(rendered);

    assert_int_equal(order_db_insert_idempotent(oc, &req, key, "fp-a", &again, &o2, &replayed),
                     ORDERD_OK);
    assert_true(replayed);
    assert_string_equal(again, first);
    assert_int_equal(o2.id, o1.id);
    order_clear(&o2);
    free(again);

    /* Same key, another body. */
    assert_int_equal(order_db_insert_idempotent(oc, &req, key, "fp-b", &other, &o3, &replayed),
                     ORDERD_ERR_IDEMPOTENCY);
    assert_null(other);
    assert_int_equal(orders_of(req.customer_id), 1);

    /* After 24 hours the key is free again, even for another body. */
    assert_non_null(test_db_query(admin,
                                  "UPDATE idempotency_keys SET created_at = now() - "
                                  "interval '24 hours 1 second' WHERE key = '%s'",
                                  key));
    assert_int_equal(order_db_insert_idempotent(oc, &req, key, "fp-b", &other, &o3, &replayed),
                     ORDERD_OK);
    assert_false(replayed);
    assert_true(o3.id != o1.id);
    assert_int_equal(orders_of(req.customer_id), 2);
    assert_int_equal(order_db_insert_idempotent(oc, &req, key, "fp-b", &again, &o2, &replayed),
                     ORDERD_OK);
    assert_true(replayed);
    assert_int_equal(o2.id, o3.id);
    assert_string_equal(again, other);
    free(again);
    order_clear(&o2);

    /* Expiry removes only old keys. */
    assert_non_null(test_db_query(admin,
                                  "UPDATE idempotency_keys SET created_at = now() - "
                                  "interval '25 hours' WHERE key = '%s'",
                                  key));
    assert_true(order_db_expire_idempotency_keys(oc) >= 1);
    assert_string_equal(
        test_db_query(admin, "SELECT count(*) FROM idempotency_keys WHERE key = '%s'", key), "0");
    assert_int_equal(order_db_expire_idempotency_keys(oc), 0);

    free(first);
    free(other);
    order_clear(&o1);
    order_clear(&o3);
}

#define RACERS 8

typedef struct racer {
    pthread_barrier_t *start;
    const order_create_req *req;
    const char *key;
    orderd_err err;
    bool replayed;
    int64_t id;
    char *response;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    orderd_err err;
    db_conn *conn = db_pool_acquire(orders_pool, clock_now_ns() + 5000 * MS, &err);
    pthread_barrier_wait(r->start);
    if (conn == NULL) {
        r->err = err;
        return NULL;
    }
    order o;
    r->err =
        order_db_insert_idempotent(conn, r->req, r->key, "fp-race", &r->response, &o, &r->replayed);
    r->id = o.id;
    order_clear(&o);
    db_pool_release(orders_pool, conn);
    return NULL;
}

static void test_idempotent_insert_concurrent(void **state)
{
    (void)state;
    /* The test holds one of the 8 connections; give it back for the race. */
    db_pool_release(orders_pool, oc);
    oc = NULL;
    char key[64];
    snprintf(key, sizeof key, "key-%ld-race", (long)getpid());
    order_create_req req = make_req(unique_customer(), 999, "[]");
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, RACERS);
    racer racers[RACERS];
    pthread_t threads[RACERS];
    for (int i = 0; i < RACERS; i++) {
        racers[i] = (racer){.start = &start, .req = &req, .key = key};
        pthread_create(&threads[i], NULL, race, &racers[i]);
    }
    for (int i = 0; i < RACERS; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&start);

    int fresh = 0;
    for (int i = 0; i < RACERS; i++) {
        assert_int_equal(racers[i].err, ORDERD_OK);
        assert_int_equal(racers[i].id, racers[0].id);
        assert_string_equal(racers[i].response, racers[0].response);
        fresh += !racers[i].replayed;
    }
    assert_int_equal(fresh, 1);
    assert_int_equal(orders_of(req.customer_id), 1);
    for (int i = 0; i < RACERS; i++)
        free(racers[i].response);

    orderd_err err;
    oc = db_pool_acquire(orders_pool, clock_now_ns() + 5000 * MS, &err);
    assert_non_null(oc);
}

int main(void)
{
    if (test_db_env(&db, "orderd_test_orders") != 0)
        return 1;
#define T(f) cmocka_unit_test_setup_teardown(f, orders_setup, orders_teardown)
    const struct CMUnitTest tests[] = {
        T(test_insert_and_get),
        T(test_list_keyset_pages),
        T(test_list_customers_in_one_statement),
        T(test_update_status),
        T(test_delete),
        T(test_idempotent_insert),
        T(test_idempotent_insert_concurrent),
        T(test_amend_many_outcomes_are_per_row),
        T(test_amend_many_marks_a_lost_race_for_a_retry),
        T(test_amend_many_concurrent_batches_never_deadlock),
    };
#undef T
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
