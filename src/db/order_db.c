/*
 * order_db.c - the SQL of orders, through the pool's statement table.
 *
 * Every parameter and every column travels as text.  Money goes out as
 * "12.34" (money_format) and comes back as numeric::text, parsed with
 * money_parse_text, so no value ever passes through a double.  Timestamps
 * come back as bigint unix microseconds, and list cursors go in the same
 * way and are rebuilt in SQL exactly (seconds and microseconds are added
 * separately so even year-9999 values stay exact in interval arithmetic).
 */
#include "orderd/db/order_db.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orderd/base/buf.h"
#include "orderd/base/fmt.h"
#include "orderd/base/log.h"

enum {
    ST_INSERT,
    ST_INSERT_MANY,
    ST_GET,
    ST_GET_MANY,
    ST_LIST,
    ST_LIST_CUSTOMER,
    ST_LIST_STATUS,
    ST_LIST_CUSTOMER_STATUS,
    ST_LIST_CUSTOMER_MANY,
    ST_AMEND_MANY,
    ST_IDEM_CLAIM_MANY,
    ST_IDEM_LOOKUP_MANY,
    ST_IDEM_COMPLETE_MANY,
    ST_IDEM_EXPIRE,
    ST_COUNT
};

/* The columns row_to_order() reads, in this order. */
#define ORDER_COLUMNS                                                                              \
    "id, customer_id, status, currency::text, total::text, items::text, version, "                 \
    "(extract(epoch FROM created_at) * 1000000)::bigint, "                                         \
    "(extract(epoch FROM updated_at) * 1000000)::bigint"

/* Parameter $n (unix microseconds) as the exact timestamptz. */
#define TS_FROM_US(n)                                                                              \
    "(timestamptz 'epoch' + ($" n "::bigint / 1000000) * interval '1 second'"                      \
    " + ($" n "::bigint % 1000000) * interval '1 microsecond')"

/* Keyset page: rows strictly older than ($ts, $id), newest first.  The row
 * comparison matches the (..., created_at DESC, id DESC) indexes, so each
 * query is one index range scan that stops after LIMIT rows. */
#define LIST_SQL(where, ts, id, limit)                                                             \
    "SELECT " ORDER_COLUMNS " FROM orders WHERE " where "(created_at, id) < (" TS_FROM_US(         \
        ts) ", $" id "::bigint) ORDER BY created_at DESC, id DESC LIMIT $" limit "::int"

#define IDEM_TTL "interval '24 hours'"

const db_statement order_db_statements[] = {
    [ST_INSERT] = {"order_insert",
                   "INSERT INTO orders (customer_id, status, currency, total, items) "
                   "VALUES ($1::bigint, 'pending', $2::text, $3::numeric, $4::jsonb) "
                   "RETURNING " ORDER_COLUMNS,
                   4},
    /* One statement, so one commit (one WAL flush) for a whole batch.  The
     * rows are inserted in ord order and take their ids from the sequence
     * in that order, so RETURNING sorted by id lines up with the input;
     * order_db_insert_many checks that it does. */
    [ST_INSERT_MANY] = {"order_insert_many",
                        "WITH ins AS (INSERT INTO orders (customer_id, status, currency, total, "
                        "items) SELECT (e->>'c')::bigint, 'pending', e->>'cur', "
                        "(e->>'t')::numeric(12,2), e->'i' "
                        "FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(e, ord) "
                        "ORDER BY ord RETURNING " ORDER_COLUMNS ") "
                        "SELECT * FROM ins ORDER BY id",
                        1},
    [ST_GET] = {"order_get", "SELECT " ORDER_COLUMNS " FROM orders WHERE id = $1::bigint", 1},
    [ST_GET_MANY] = {"order_get_many",
                     "SELECT " ORDER_COLUMNS " FROM orders WHERE id = ANY($1::bigint[])", 1},
    [ST_LIST] = {"order_list", LIST_SQL("", "1", "2", "3"), 3},
    [ST_LIST_CUSTOMER] = {"order_list_customer",
                          LIST_SQL("customer_id = $1::bigint AND ", "2", "3", "4"), 4},
    [ST_LIST_STATUS] = {"order_list_status", LIST_SQL("status = $1::text AND ", "2", "3", "4"), 4},
    [ST_LIST_CUSTOMER_STATUS] = {"order_list_customer_status",
                                 LIST_SQL("customer_id = $1::bigint AND status = $2::text AND ",
                                          "3", "4", "5"),
                                 5},
    /*
     * Several customers' pages in one statement (order_db_list_customers):
     * arrays of (customer, cursor timestamp, cursor id, limit), one
     * element per page.  Each page is the order_list_customer query,
     * run per element by the LATERAL join (one index range scan each);
     * the result carries the page's 1-based position (column 10) and
     * comes sorted by page, then newest first (columns 8 and 1 are
     * created_at in microseconds and id).  PostgreSQL served about 1.9x
     * the pages per second this way at 8 pages a statement
     * (docs/PERFORMANCE.md, session 14).
     */
    [ST_LIST_CUSTOMER_MANY] = {"order_list_customer_many",
                               "SELECT o.*, q.ord FROM unnest($1::bigint[], $2::bigint[], "
                               "$3::bigint[], $4::int[]) WITH ORDINALITY AS q(cust, ts, cid, lim, "
                               "ord) CROSS JOIN LATERAL (SELECT " ORDER_COLUMNS
                               " FROM orders WHERE customer_id = q.cust AND (created_at, id) < "
                               "(timestamptz 'epoch' + (q.ts / 1000000) * interval '1 second' + "
                               "(q.ts % 1000000) * interval '1 microsecond', q.cid) ORDER BY "
                               "created_at DESC, id DESC LIMIT q.lim) AS o ORDER BY 10, 8 DESC, 1 "
                               "DESC",
                               4},
    /*
     * PATCHes and DELETEs of distinct orders, one statement and one commit
     * for all of them ($1: [{"id":7,"op":"p"|"d","to":"paid",
     * "f":["pending"],"v":-1,"o":0}, ...], order_db_amend_many).  l locks
     * every named row first, in id order (the index scan of id = ANY
     * returns them sorted), so two such statements never deadlock; it
     * also reads each row as it is once locked, the newest committed
     * version, which is what a request that changed nothing is answered
     * from.  u and d decide and apply each change in one step, so two
     * concurrent PATCHes cannot both succeed from the same status.  The
     * result has one row per request, in request order: ORDER_COLUMNS of
     * the changed row (the row before, for a delete; all NULL when
     * nothing changed), then the request's position when it changed, and
     * the locked row's version, customer and status (NULL: no such order).
     */
    [ST_AMEND_MANY] =
        {"order_amend_many",
         "WITH r AS (SELECT (e->>'id')::bigint AS rid, e->>'op' AS op, e->>'to' AS to_status, "
         "ARRAY(SELECT jsonb_array_elements_text(e->'f')) AS allowed, "
         "(e->>'v')::bigint AS expected, (e->>'o')::bigint AS owner, ord "
         "FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(e, ord)), "
         "l AS MATERIALIZED (SELECT id AS lid, version AS lversion, customer_id AS lcustomer, "
         "status AS lstatus FROM orders WHERE id = ANY (ARRAY(SELECT rid FROM r)) "
         "ORDER BY id FOR UPDATE), "
         "u AS (UPDATE orders SET status = r.to_status, version = version + 1, "
         "updated_at = now() FROM r JOIN l ON lid = rid "
         "WHERE r.op = 'p' AND id = rid AND status = ANY (r.allowed) "
         "AND (r.expected < 0 OR version = r.expected) "
         "AND (r.owner = 0 OR customer_id = r.owner) "
         "RETURNING " ORDER_COLUMNS ", r.ord AS done), "
         "d AS (DELETE FROM orders USING r JOIN l ON lid = rid "
         "WHERE r.op = 'd' AND id = rid AND (r.expected < 0 OR version = r.expected) "
         "RETURNING " ORDER_COLUMNS ", r.ord AS done) "
         "SELECT x.*, lversion, lcustomer, lstatus FROM r LEFT JOIN l ON lid = rid "
         "LEFT JOIN (SELECT * FROM u UNION ALL SELECT * FROM d) x ON x.done = r.ord "
         "ORDER BY r.ord",
         1},
    /*
     * Keyed creates ($1: [{"k":key,"fp":fingerprint,"c":7,"cur":"USD",
     * "t":"12.50","i":[...]}, ...], distinct keys): claims each key, or
     * takes over one that has expired, and inserts an order for every key
     * it claimed; one row per claimed request, ORDER_COLUMNS then a
     * counter and the request's position.  ON CONFLICT DO UPDATE locks an
     * existing key row even when its WHERE is false, and when the row is
     * another transaction's uncommitted claim it first waits for that
     * transaction to end; the keys are claimed in key order, so two
     * batches wait for each other, never in a cycle.  The orders are
     * inserted in request order and take their ids in that order (as in
     * order_insert_many), which lines each up with its request.
     */
    [ST_IDEM_CLAIM_MANY] =
        {"idem_claim_many",
         "WITH r AS (SELECT e->>'k' AS key, e->>'fp' AS fp, (e->>'c')::bigint AS c, "
         "e->>'cur' AS cur, (e->>'t')::numeric(12,2) AS t, e->'i' AS i, ord "
         "FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(e, ord)), "
         "claim AS (INSERT INTO idempotency_keys (key, fingerprint) "
         "SELECT key, fp FROM r ORDER BY key "
         "ON CONFLICT (key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, "
         "order_id = NULL, response = NULL, created_at = now() "
         "WHERE idempotency_keys.created_at < now() - " IDEM_TTL " RETURNING key), "
         "todo AS (SELECT r.*, row_number() OVER (ORDER BY ord) AS k FROM r "
         "WHERE key IN (SELECT key FROM claim)), "
         "ins AS (INSERT INTO orders (customer_id, status, currency, total, items) "
         "SELECT c, 'pending', cur, t, i FROM todo ORDER BY ord RETURNING " ORDER_COLUMNS ") "
         "SELECT n.*, todo.ord FROM (SELECT *, row_number() OVER (ORDER BY id) AS k FROM ins) n "
         "JOIN todo USING (k) ORDER BY todo.ord",
         1},
    /* The keys of $1 (a JSON array of strings) that someone else owns:
     * run after the claim, so in a new snapshot that sees their commits. */
    [ST_IDEM_LOOKUP_MANY] = {"idem_lookup_many",
                             "SELECT key, fingerprint, order_id, response FROM idempotency_keys "
                             "WHERE key IN (SELECT jsonb_array_elements_text($1::jsonb))",
                             1},
    /* $1: [{"k":key,"id":7,"r":response}, ...] */
    [ST_IDEM_COMPLETE_MANY] = {"idem_complete_many",
                               "UPDATE idempotency_keys AS k SET order_id = (e->>'id')::bigint, "
                               "response = e->>'r' FROM jsonb_array_elements($1::jsonb) AS e "
                               "WHERE k.key = e->>'k'",
                               1},
    [ST_IDEM_EXPIRE] = {"idem_expire",
                        "DELETE FROM idempotency_keys WHERE created_at < now() - " IDEM_TTL, 0},
};

const int order_db_statement_count = ST_COUNT;

_Static_assert(sizeof order_db_statements / sizeof order_db_statements[0] == ST_COUNT,
               "one statement per enum value");

/* The range of timestamptz we let a cursor name (0001-01-01 .. 9999-12-31);
 * anything outside would make PostgreSQL fail with "out of range". */
#define CURSOR_US_MIN INT64_C(-62135596800000000)
#define CURSOR_US_MAX INT64_C(253402300799999999)

/* ---- rows --------------------------------------------------------------- */

static bool text_to_i64(const char *text, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0')
        return false;
    *out = v;
    return true;
}

/*
 * jsonb prints ", " and ": " between tokens; the API promises compact
 * JSON and the items were compact when they went in.  JSON whitespace
 * outside strings carries no meaning, so dropping it is lossless (and
 * jsonb keeps sku, quantity, unit_price in that order: it sorts keys by
 * length first).
 */
static char *json_compact(const char *in)
{
    char *out = malloc(strlen(in) + 1);
    if (out == NULL)
        return NULL;
    char *w = out;
    bool in_string = false, escaped = false;
    for (const char *r = in; *r != '\0'; r++) {
        char c = *r;
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
            continue;
        }
        *w++ = c;
    }
    *w = '\0';
    return out;
}

/* Fills *out from row of a result whose columns are ORDER_COLUMNS. */
static orderd_err row_to_order(const PGresult *res, int row, order *out)
{
    memset(out, 0, sizeof *out);
    const char *why = NULL;
    const char *currency = PQgetvalue(res, row, 3);
    if (!text_to_i64(PQgetvalue(res, row, 0), &out->id) ||
        !text_to_i64(PQgetvalue(res, row, 1), &out->customer_id) ||
        !order_status_parse(PQgetvalue(res, row, 2), &out->status) || strlen(currency) != 3 ||
        !money_parse_text(PQgetvalue(res, row, 4), &out->total_cents, &why) ||
        !text_to_i64(PQgetvalue(res, row, 6), &out->version) ||
        !text_to_i64(PQgetvalue(res, row, 7), &out->created_at_us) ||
        !text_to_i64(PQgetvalue(res, row, 8), &out->updated_at_us)) {
        LOG(LOG_ERROR, NULL, "order_db: unexpected order row (id %s, total %s%s%s)",
            PQgetvalue(res, row, 0), PQgetvalue(res, row, 4), why != NULL ? ": " : "",
            why != NULL ? why : "");
        memset(out, 0, sizeof *out);
        return ORDERD_ERR_INTERNAL;
    }
    memcpy(out->currency, currency, 4);
    out->items_json = json_compact(PQgetvalue(res, row, 5));
    if (out->items_json == NULL) {
        memset(out, 0, sizeof *out);
        return ORDERD_ERR_INTERNAL;
    }
    return ORDERD_OK;
}

/* Runs a statement that returns at most one order; NOT_FOUND on none. */
static orderd_err exec_one_order(db_conn *conn, int index, const char *const *params, order *out)
{
    orderd_err err;
    PGresult *res = db_exec(conn, index, params, &err);
    if (err == ORDERD_OK)
        err = PQntuples(res) == 1 ? row_to_order(res, 0, out) : ORDERD_ERR_NOT_FOUND;
    PQclear(res);
    return err;
}

/* ---- insert / get / list ------------------------------------------------ */

orderd_err order_db_insert(db_conn *conn, const order_create_req *req, order *out)
{
    char customer[24], total[32];
    memset(out, 0, sizeof *out);
    snprintf(customer, sizeof customer, "%lld", (long long)req->customer_id);
    money_format(req->total_cents, total);
    const char *params[] = {customer, req->currency, total,
                            req->items_json != NULL ? req->items_json : "[]"};
    orderd_err err = exec_one_order(conn, ST_INSERT, params, out);
    /* RETURNING always yields the row; none means something odd. */
    return err == ORDERD_ERR_NOT_FOUND ? ORDERD_ERR_INTERNAL : err;
}

orderd_err order_db_insert_many(db_conn *conn, const order_create_req *const *reqs, int n,
                                order *out)
{
    memset(out, 0, (size_t)n * sizeof *out);
    /* [{"c":7,"cur":"USD","t":"12.50","i":[...]}, ...]: every part is
     * already canonical JSON (items_json) or needs no escaping */
    size_t cap = 2, len = 0;
    for (int i = 0; i < n; i++)
        cap += 80 + (reqs[i]->items_json ? strlen(reqs[i]->items_json) : 2);
    char *doc = malloc(cap);
    if (doc == NULL)
        return ORDERD_ERR_INTERNAL;
    doc[len++] = '[';
    for (int i = 0; i < n; i++) {
        const order_create_req *r = reqs[i];
        const char *items = r->items_json ? r->items_json : "[]";
        size_t items_len = strlen(items);
        if (i)
            doc[len++] = ',';
        memcpy(doc + len, "{\"c\":", 5);
        len += 5;
        len += fmt_u64((uint64_t)r->customer_id, doc + len); /* validated > 0 */
        memcpy(doc + len, ",\"cur\":\"", 8);
        len += 8;
        memcpy(doc + len, r->currency, 3);
        len += 3;
        memcpy(doc + len, "\",\"t\":\"", 7);
        len += 7;
        len += money_format(r->total_cents, doc + len);
        memcpy(doc + len, "\",\"i\":", 6);
        len += 6;
        memcpy(doc + len, items, items_len);
        len += items_len;
        doc[len++] = '}';
    }
    doc[len++] = ']';
    doc[len] = '\0';
    const char *params[] = {doc};
    orderd_err err;
    PGresult *res = db_exec(conn, ST_INSERT_MANY, params, &err);
    free(doc);
    if (err == ORDERD_OK && PQntuples(res) != n)
        err = ORDERD_ERR_INTERNAL;
    int done = 0;
    for (; err == ORDERD_OK && done < n; done++) {
        err = row_to_order(res, done, &out[done]);
        /* the input order must hold (see ST_INSERT_MANY) */
        const char *items = reqs[done]->items_json ? reqs[done]->items_json : "[]";
        if (err == ORDERD_OK && (out[done].customer_id != reqs[done]->customer_id ||
                                 out[done].total_cents != reqs[done]->total_cents ||
                                 strcmp(out[done].items_json, items) != 0)) {
            LOG(LOG_ERROR, NULL, "order_db: batch insert returned rows out of order");
            err = ORDERD_ERR_INTERNAL;
        }
    }
    if (err != ORDERD_OK)
        for (int i = 0; i < n; i++)
            order_clear(&out[i]);
    PQclear(res);
    return err;
}

orderd_err order_db_get(db_conn *conn, int64_t id, order *out)
{
    char id_text[24];
    memset(out, 0, sizeof *out);
    snprintf(id_text, sizeof id_text, "%lld", (long long)id);
    const char *params[] = {id_text};
    return exec_one_order(conn, ST_GET, params, out);
}

orderd_err order_db_get_many(db_conn *conn, const int64_t *ids, int n, order **rows, int *count)
{
    *rows = NULL;
    *count = 0;
    if (n <= 0)
        return ORDERD_OK;
    /* a PostgreSQL array literal: "{1,2,3}" */
    size_t cap = (size_t)n * 21 + 3, len = 0;
    char *array = malloc(cap);
    if (array == NULL)
        return ORDERD_ERR_INTERNAL;
    array[len++] = '{';
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(array + len, cap - len, i ? ",%lld" : "%lld", (long long)ids[i]);
    array[len++] = '}';
    array[len] = '\0';
    const char *params[] = {array};
    orderd_err err;
    PGresult *res = db_exec(conn, ST_GET_MANY, params, &err);
    free(array);
    int found = err == ORDERD_OK ? PQntuples(res) : 0;
    if (found > 0) {
        *rows = calloc((size_t)found, sizeof **rows);
        if (*rows == NULL)
            err = ORDERD_ERR_INTERNAL;
    }
    for (int i = 0; err == ORDERD_OK && i < found; i++) {
        err = row_to_order(res, i, &(*rows)[i]);
        if (err == ORDERD_OK)
            (*count)++;
    }
    if (err != ORDERD_OK) {
        for (int i = 0; i < *count; i++)
            order_clear(&(*rows)[i]);
        free(*rows);
        *rows = NULL;
        *count = 0;
    }
    PQclear(res);
    return err;
}

/* The page size asked for, within 1..ORDER_LIST_LIMIT_MAX. */
static int list_limit(const order_list_query *q)
{
    int limit = q->limit;
    if (limit < 1)
        limit = ORDER_LIST_LIMIT_DEFAULT;
    if (limit > ORDER_LIST_LIMIT_MAX)
        limit = ORDER_LIST_LIMIT_MAX;
    return limit;
}

/*
 * The keyset position the page starts after.  The first page uses the
 * newest possible position, so all four list statements keep one shape
 * (and one plan) for every page; a cursor beyond the range a timestamptz
 * can hold is clamped into it.
 */
static void list_position(const order_list_query *q, int64_t *ts, int64_t *id)
{
    *ts = CURSOR_US_MAX;
    *id = INT64_MAX;
    if (!q->has_cursor)
        return;
    *ts = q->cursor_created_at_us;
    *id = q->cursor_id;
    if (*ts > CURSOR_US_MAX) {
        *ts = CURSOR_US_MAX;
        *id = INT64_MAX;
    } else if (*ts < CURSOR_US_MIN) {
        *ts = CURSOR_US_MIN;
    }
}

/*
 * The list statement for q's filters.  Their values (customer, status)
 * go first into params; *n says how many.
 */
static int list_statement(const order_list_query *q, const char *customer, const char *status,
                          const char **params, int *n)
{
    *n = 0;
    if (q->has_customer_id && q->has_status) {
        params[(*n)++] = customer;
        params[(*n)++] = status;
        return ST_LIST_CUSTOMER_STATUS;
    }
    if (q->has_customer_id) {
        params[(*n)++] = customer;
        return ST_LIST_CUSTOMER;
    }
    if (q->has_status) {
        params[(*n)++] = status;
        return ST_LIST_STATUS;
    }
    return ST_LIST;
}

/*
 * The first keep rows of res as a new array in *rows (caller clears each
 * order and frees the array); on an error nothing is left allocated.
 */
static orderd_err list_rows(PGresult *res, int keep, order **rows)
{
    order *list = calloc(keep > 0 ? (size_t)keep : 1, sizeof *list);
    if (list == NULL)
        return ORDERD_ERR_INTERNAL;
    for (int i = 0; i < keep; i++) {
        orderd_err err = row_to_order(res, i, &list[i]);
        if (err != ORDERD_OK) {
            for (int j = 0; j < i; j++)
                order_clear(&list[j]);
            free(list);
            return err;
        }
    }
    *rows = list;
    return ORDERD_OK;
}

orderd_err order_db_list(db_conn *conn, const order_list_query *q, order **rows, int *count,
                         bool *has_more)
{
    *rows = NULL;
    *count = 0;
    *has_more = false;

    int limit = list_limit(q);
    int64_t ts, id;
    list_position(q, &ts, &id);
    char customer[24], ts_text[24], id_text[24], limit_text[16];
    snprintf(customer, sizeof customer, "%lld", (long long)q->customer_id);
    snprintf(ts_text, sizeof ts_text, "%lld", (long long)ts);
    snprintf(id_text, sizeof id_text, "%lld", (long long)id);
    /* One extra row tells whether another page exists. */
    snprintf(limit_text, sizeof limit_text, "%d", limit + 1);
    const char *status = q->has_status ? order_status_name(q->status) : NULL;
    if (q->has_status && status == NULL)
        return ORDERD_ERR_INTERNAL;

    const char *params[5];
    int n;
    int index = list_statement(q, customer, status, params, &n);
    params[n++] = ts_text;
    params[n++] = id_text;
    params[n++] = limit_text;

    orderd_err err;
    PGresult *res = db_exec(conn, index, params, &err);
    if (err != ORDERD_OK)
        goto out;
    int found = PQntuples(res);
    int keep = found > limit ? limit : found;
    err = list_rows(res, keep, rows);
    if (err != ORDERD_OK)
        goto out;
    *count = keep;
    *has_more = found > limit;
out:
    PQclear(res);
    return err;
}

bool order_db_list_combines(const order_list_query *q)
{
    return q->has_customer_id && !q->has_status;
}

/* Appends the n values (as text) to b as one array literal: "{1,2,3}". */
static void append_array(buf *b, const int64_t *values, int n)
{
    buf_puts(b, "{");
    for (int i = 0; i < n; i++) {
        char text[24];
        snprintf(text, sizeof text, "%s%lld", i ? "," : "", (long long)values[i]);
        buf_puts(b, text);
    }
    buf_puts(b, "}");
}

/* Clears every page's rows (and zeroes the pages). */
static void list_pages_clear(order_list_page *pages, int n)
{
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < pages[i].count; k++)
            order_clear(&pages[i].rows[k]);
        free(pages[i].rows);
        pages[i] = (order_list_page){0};
    }
}

orderd_err order_db_list_customers(db_conn *conn, const order_list_query *const *qs, int n,
                                   order_list_page *pages)
{
    int64_t *columns = malloc(4 * (size_t)n * sizeof *columns);
    if (!columns)
        return ORDERD_ERR_INTERNAL;
    int64_t *customers = columns, *tss = columns + n, *ids = columns + 2 * n,
            *limits = columns + 3 * n;
    for (int i = 0; i < n; i++)
        pages[i] = (order_list_page){0};
    for (int i = 0; i < n; i++) {
        if (!order_db_list_combines(qs[i])) {
            free(columns);
            return ORDERD_ERR_INTERNAL;
        }
        customers[i] = qs[i]->customer_id;
        list_position(qs[i], &tss[i], &ids[i]);
        /* one extra row tells whether another page exists */
        limits[i] = list_limit(qs[i]) + 1;
    }
    buf arrays[4] = {BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT};
    char *params[4];
    bool built = true;
    for (int k = 0; k < 4; k++) {
        append_array(&arrays[k], columns + k * n, n);
        params[k] = buf_steal(&arrays[k], NULL);
        built = built && params[k];
    }
    free(columns);

    orderd_err err = ORDERD_ERR_INTERNAL;
    PGresult *res =
        built ? db_exec(conn, ST_LIST_CUSTOMER_MANY, (const char *const *)params, &err) : NULL;
    for (int i = 0; err == ORDERD_OK && i < n; i++) {
        pages[i].rows = calloc((size_t)list_limit(qs[i]), sizeof *pages[i].rows);
        if (!pages[i].rows)
            err = ORDERD_ERR_INTERNAL;
    }
    int found = err == ORDERD_OK ? PQntuples(res) : 0;
    for (int r = 0; err == ORDERD_OK && r < found; r++) {
        long long ord = strtoll(PQgetvalue(res, r, 9), NULL, 10);
        if (ord < 1 || ord > n) {
            err = ORDERD_ERR_INTERNAL;
            break;
        }
        order_list_page *page = &pages[ord - 1];
        if (page->count == list_limit(qs[ord - 1])) {
            page->has_more = true; /* the extra row */
            continue;
        }
        err = row_to_order(res, r, &page->rows[page->count]);
        if (err == ORDERD_OK)
            page->count++;
    }
    if (err != ORDERD_OK)
        list_pages_clear(pages, n);
    PQclear(res);
    for (int k = 0; k < 4; k++)
        free(params[k]);
    return err;
}

/* ---- update / delete ---------------------------------------------------- */

/*
 * Runs statement index with the JSON document in *doc as its one
 * parameter; takes the buffer (it is left empty).  NULL with
 * ORDERD_ERR_INTERNAL when the document could not be built.
 */
static PGresult *exec_with_doc(db_conn *conn, int index, buf *doc, orderd_err *err)
{
    char *param = buf_steal(doc, NULL);
    if (param == NULL) {
        *err = ORDERD_ERR_INTERNAL;
        return NULL;
    }
    const char *params[] = {param};
    PGresult *res = db_exec(conn, index, params, err);
    free(param);
    return res;
}

/* Appends a's element of ST_AMEND_MANY's parameter. false: out of memory
 * or a status without a name. */
static bool amend_to_json(const order_amend *a, buf *b)
{
    char num[24];
    buf_puts(b, "{\"id\":");
    buf_append(b, num, fmt_u64((uint64_t)a->id, num)); /* ids are positive */
    if (a->kind == ORDER_AMEND_DELETE) {
        buf_puts(b, ",\"op\":\"d\"");
    } else {
        const char *to = order_status_name(a->to);
        if (to == NULL)
            return false;
        buf_puts(b, ",\"op\":\"p\",\"to\":\"");
        buf_puts(b, to);
        /* the statuses `to` may be reached from */
        buf_puts(b, "\",\"f\":[");
        bool first = true;
        for (int s = 0; s < ORDER_STATUS_COUNT; s++) {
            if (!order_status_can_transition((order_status)s, a->to))
                continue;
            buf_puts(b, first ? "\"" : ",\"");
            buf_puts(b, order_status_name((order_status)s));
            buf_puts(b, "\"");
            first = false;
        }
        buf_puts(b, "],\"o\":");
        buf_append(b, num, fmt_u64((uint64_t)(a->owner > 0 ? a->owner : 0), num));
    }
    buf_puts(b, ",\"v\":");
    if (a->expected_version >= 0)
        buf_append(b, num, fmt_u64((uint64_t)a->expected_version, num));
    else
        buf_puts(b, "-1");
    return buf_puts(b, "}");
}

/*
 * Why a's request changed nothing, from the row as it was once locked
 * (version, customer and status; absent: no such order).  The version
 * comes before the transition, as a precondition comes first.  When the
 * locked row would have passed every check, the statement's snapshot saw
 * an older version that did not: a commit came in between, and sending
 * the request again decides it against the newer row.
 */
static orderd_err unchanged_reason(const order_amend *a, const PGresult *res, int row, bool *retry)
{
    *retry = false;
    if (PQgetisnull(res, row, 10))
        return ORDERD_ERR_NOT_FOUND;
    int64_t version, customer;
    order_status status;
    if (!text_to_i64(PQgetvalue(res, row, 10), &version) ||
        !text_to_i64(PQgetvalue(res, row, 11), &customer) ||
        !order_status_parse(PQgetvalue(res, row, 12), &status))
        return ORDERD_ERR_INTERNAL;
    if (a->kind == ORDER_AMEND_SET_STATUS && a->owner > 0 && customer != a->owner)
        return ORDERD_ERR_NOT_FOUND; /* another customer's order is none of theirs */
    if (a->expected_version >= 0 && version != a->expected_version)
        return ORDERD_ERR_PRECONDITION;
    if (a->kind == ORDER_AMEND_SET_STATUS && !order_status_can_transition(status, a->to))
        return ORDERD_ERR_CONFLICT;
    *retry = true;
    return ORDERD_ERR_CONFLICT;
}

orderd_err order_db_amend_many(db_conn *conn, const order_amend *const *amends, int n,
                               order_amend_outcome *out)
{
    memset(out, 0, (size_t)n * sizeof *out);
    buf doc = BUF_INIT;
    bool ok = buf_puts(&doc, "[");
    for (int i = 0; i < n && ok; i++)
        ok = (i == 0 || buf_puts(&doc, ",")) && amend_to_json(amends[i], &doc);
    if (!ok || !buf_puts(&doc, "]")) {
        buf_free(&doc);
        return ORDERD_ERR_INTERNAL;
    }
    orderd_err err;
    PGresult *res = exec_with_doc(conn, ST_AMEND_MANY, &doc, &err);
    if (err == ORDERD_OK && PQntuples(res) != n) {
        LOG(LOG_ERROR, NULL, "order_db: %d amendments answered with %d rows", n, PQntuples(res));
        err = ORDERD_ERR_INTERNAL;
    }
    for (int i = 0; i < n && err == ORDERD_OK; i++) {
        order_amend_outcome *o = &out[i];
        if (PQgetisnull(res, i, 9)) {
            o->err = unchanged_reason(amends[i], res, i, &o->retry);
            continue;
        }
        o->err = row_to_order(res, i, &o->row);
        if (o->err == ORDERD_OK && !order_status_parse(PQgetvalue(res, i, 12), &o->old_status))
            o->err = ORDERD_ERR_INTERNAL;
    }
    PQclear(res);
    if (err != ORDERD_OK) {
        for (int i = 0; i < n; i++)
            order_clear(&out[i].row);
        memset(out, 0, (size_t)n * sizeof *out);
    }
    return err;
}

/* One amendment: its outcome's error, its row into *out when it changed.
 * A lost race is decided again against the newer row, as a batch would. */
static orderd_err amend_one(db_conn *conn, const order_amend *a, order *out)
{
    order_amend_outcome o;
    for (int attempt = 0;; attempt++) {
        orderd_err err = order_db_amend_many(conn, &a, 1, &o);
        if (err != ORDERD_OK)
            return err;
        if (!o.retry || attempt == 1)
            break;
    }
    if (o.err == ORDERD_OK && out != NULL)
        *out = o.row;
    else
        order_clear(&o.row);
    return o.err;
}

orderd_err order_db_update_status(db_conn *conn, int64_t id, order_status to,
                                  int64_t expected_version, int64_t owner, order *out)
{
    memset(out, 0, sizeof *out);
    order_amend a = {ORDER_AMEND_SET_STATUS, id, to, expected_version, owner};
    return amend_one(conn, &a, out);
}

orderd_err order_db_delete(db_conn *conn, int64_t id, int64_t expected_version, order *out)
{
    if (out != NULL)
        memset(out, 0, sizeof *out);
    order_amend a = {ORDER_AMEND_DELETE, id, ORDER_PENDING, expected_version, 0};
    return amend_one(conn, &a, out);
}

/* ---- idempotency keys --------------------------------------------------- */

/* Appends s as a JSON string: the key and fingerprint may hold any
 * visible character, and a response is JSON itself. */
static void append_json_string(buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    buf_puts(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            buf_append(b, esc, 2);
        } else if (*p < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
            buf_append(b, esc, 6);
        } else {
            buf_append(b, p, 1);
        }
    }
    buf_puts(b, "\"");
}

static void append_i64(buf *b, int64_t v)
{
    char num[24];
    buf_append(b, num, fmt_u64((uint64_t)v, num)); /* ids and customers are positive */
}

/* ST_IDEM_CLAIM_MANY's parameter, into b. */
static void claim_doc(const order_keyed_create *creates, int n, buf *out)
{
    buf b = BUF_INIT;
    buf_puts(&b, "[");
    for (int i = 0; i < n; i++) {
        const order_create_req *r = creates[i].req;
        char total[32];
        money_format(r->total_cents, total);
        buf_puts(&b, i ? ",{\"k\":" : "{\"k\":");
        append_json_string(&b, creates[i].key);
        buf_puts(&b, ",\"fp\":");
        append_json_string(&b, creates[i].fingerprint);
        buf_puts(&b, ",\"c\":");
        append_i64(&b, r->customer_id);
        buf_puts(&b, ",\"cur\":\"");
        buf_append(&b, r->currency, 3);
        buf_puts(&b, "\",\"t\":\"");
        buf_puts(&b, total);
        buf_puts(&b, "\",\"i\":");
        buf_puts(&b, r->items_json ? r->items_json : "[]");
        buf_puts(&b, "}");
    }
    buf_puts(&b, "]");
    *out = b;
}

/* Reads the orders the claim inserted into out[] (each at its request's
 * position), with the response each key will store; claimed[i] says
 * which.  Returns how many. */
static orderd_err read_claimed(const PGresult *res, int n, order_keyed_outcome *out, bool *claimed,
                               int *count)
{
    *count = 0;
    for (int row = 0; row < PQntuples(res); row++) {
        int64_t ord;
        if (!text_to_i64(PQgetvalue(res, row, 10), &ord) || ord < 1 || ord > n || claimed[ord - 1])
            return ORDERD_ERR_INTERNAL;
        order_keyed_outcome *o = &out[ord - 1];
        orderd_err err = row_to_order(res, row, &o->row);
        if (err != ORDERD_OK)
            return err;
        size_t len;
        o->response = order_to_json(&o->row, &len);
        if (o->response == NULL)
            return ORDERD_ERR_INTERNAL;
        claimed[ord - 1] = true;
        (*count)++;
    }
    return ORDERD_OK;
}

/* Stores each claimed key's order and response, in the open transaction. */
static orderd_err complete_claimed(db_conn *conn, const order_keyed_create *creates, int n,
                                   const order_keyed_outcome *out, const bool *claimed, int count)
{
    buf b = BUF_INIT;
    buf_puts(&b, "[");
    bool first = true;
    for (int i = 0; i < n; i++) {
        if (!claimed[i])
            continue;
        buf_puts(&b, first ? "{\"k\":" : ",{\"k\":");
        append_json_string(&b, creates[i].key);
        buf_puts(&b, ",\"id\":");
        append_i64(&b, out[i].row.id);
        buf_puts(&b, ",\"r\":");
        append_json_string(&b, out[i].response);
        buf_puts(&b, "}");
        first = false;
    }
    buf_puts(&b, "]");
    orderd_err err;
    PGresult *res = exec_with_doc(conn, ST_IDEM_COMPLETE_MANY, &b, &err);
    if (err == ORDERD_OK && atoi(PQcmdTuples(res)) != count)
        err = ORDERD_ERR_INTERNAL;
    PQclear(res);
    return err;
}

/* The request among the unclaimed ones that has key; -1 when none. */
static int unclaimed_with_key(const order_keyed_create *creates, int n, const bool *claimed,
                              const char *key)
{
    for (int i = 0; i < n; i++)
        if (!claimed[i] && strcmp(creates[i].key, key) == 0)
            return i;
    return -1;
}

/*
 * Someone else owns the unclaimed keys (they have committed: the claim
 * waited for them).  A complete key with the same fingerprint replays its
 * stored response; another fingerprint is a misuse of the key; a key
 * that is gone (purged between the claim and now) is sent again.
 */
static orderd_err look_up_unclaimed(db_conn *conn, const order_keyed_create *creates, int n,
                                    order_keyed_outcome *out, const bool *claimed)
{
    buf b = BUF_INIT;
    buf_puts(&b, "[");
    bool first = true;
    for (int i = 0; i < n; i++) {
        if (claimed[i])
            continue;
        if (!first)
            buf_puts(&b, ",");
        append_json_string(&b, creates[i].key);
        out[i].retry = true; /* until the lookup finds it */
        first = false;
    }
    buf_puts(&b, "]");
    orderd_err err;
    PGresult *res = exec_with_doc(conn, ST_IDEM_LOOKUP_MANY, &b, &err);
    for (int row = 0; err == ORDERD_OK && row < PQntuples(res); row++) {
        int i = unclaimed_with_key(creates, n, claimed, PQgetvalue(res, row, 0));
        if (i < 0)
            continue;
        order_keyed_outcome *o = &out[i];
        o->retry = false;
        if (strcmp(PQgetvalue(res, row, 1), creates[i].fingerprint) != 0) {
            o->err = ORDERD_ERR_IDEMPOTENCY;
        } else if (PQgetisnull(res, row, 2) || PQgetisnull(res, row, 3) ||
                   !text_to_i64(PQgetvalue(res, row, 2), &o->row.id)) {
            LOG(LOG_ERROR, NULL, "order_db: idempotency key neither claimable nor complete");
            o->err = ORDERD_ERR_INTERNAL;
        } else {
            /* only the id: the stored response is the answer, and the
             * order itself may have changed or gone since */
            o->response = strdup(PQgetvalue(res, row, 3));
            o->replayed = true;
            o->err = o->response ? ORDERD_OK : ORDERD_ERR_INTERNAL;
        }
    }
    PQclear(res);
    return err;
}

static void keyed_outcomes_clear(order_keyed_outcome *out, int n)
{
    for (int i = 0; i < n; i++) {
        order_clear(&out[i].row);
        free(out[i].response);
    }
    memset(out, 0, (size_t)n * sizeof *out);
}

/*
 * How concurrent retries end up with one order: the first caller's claim
 * inserts the key row and keeps it uncommitted until the order and its
 * response are written.  A second caller's claim (INSERT ... ON CONFLICT)
 * blocks on that row until the first commits, then finds a fresh key it
 * may not take over and returns no row; its lookup runs as a new
 * statement (READ COMMITTED: a new snapshot) and so sees the committed
 * response.  Had the first rolled back, the second's insert succeeds and
 * it becomes the owner.  Only a lookup that finds no row at all (the key
 * was purged between the two statements) sends the request again.
 */
orderd_err order_db_insert_idempotent_many(db_conn *conn, const order_keyed_create *creates, int n,
                                           order_keyed_outcome *out)
{
    memset(out, 0, (size_t)n * sizeof *out);
    bool claimed[n];
    memset(claimed, 0, sizeof claimed);
    /*
     * The completion and the lookup find their keys by the primary key,
     * and must never scan the table instead.  A generic plan (built at
     * the sixth execution and then kept) is costed from the statistics of
     * that moment: for a new, empty-when-analyzed or fast-growing
     * idempotency_keys that is a handful of rows, and the plan scans the
     * whole table until the next ANALYZE (5 ms per batch at 50,000 keys;
     * keyed POST after a plain POST load 3,200 req/s, 6,640 with custom
     * plans).  A custom plan is costed from the table's size at each
     * execution.  Only this transaction's statements.
     */
    orderd_err err = db_exec_simple(conn, "BEGIN; SET LOCAL plan_cache_mode = force_custom_plan");
    if (err != ORDERD_OK) {
        db_exec_simple(conn, "ROLLBACK");
        return err;
    }
    buf doc;
    claim_doc(creates, n, &doc);
    PGresult *res = exec_with_doc(conn, ST_IDEM_CLAIM_MANY, &doc, &err);
    int count = 0;
    if (err == ORDERD_OK)
        err = read_claimed(res, n, out, claimed, &count);
    PQclear(res);
    if (err == ORDERD_OK && count > 0)
        err = complete_claimed(conn, creates, n, out, claimed, count);
    if (err == ORDERD_OK && count < n)
        err = look_up_unclaimed(conn, creates, n, out, claimed);
    if (err == ORDERD_OK)
        err = db_exec_simple(conn, "COMMIT");
    else /* on a broken connection this fails at once; the server has rolled back by then */
        db_exec_simple(conn, "ROLLBACK");
    if (err != ORDERD_OK)
        keyed_outcomes_clear(out, n);
    return err;
}

orderd_err order_db_insert_idempotent(db_conn *conn, const order_create_req *req, const char *key,
                                      const char *fingerprint, char **response_json, order *out,
                                      bool *replayed)
{
    order_keyed_create create = {req, key, fingerprint};
    order_keyed_outcome o = {0};
    *response_json = NULL;
    *replayed = false;
    memset(out, 0, sizeof *out);
    for (int attempt = 0; attempt < 2; attempt++) {
        orderd_err err = order_db_insert_idempotent_many(conn, &create, 1, &o);
        if (err != ORDERD_OK)
            return err;
        if (!o.retry)
            break;
    }
    if (o.retry) {
        LOG(LOG_ERROR, NULL, "order_db: idempotency key neither claimable nor complete");
        return ORDERD_ERR_INTERNAL;
    }
    if (o.err != ORDERD_OK) {
        orderd_err err = o.err;
        keyed_outcomes_clear(&o, 1);
        return err;
    }
    *out = o.row;
    *response_json = o.response;
    *replayed = o.replayed;
    return ORDERD_OK;
}

long order_db_expire_idempotency_keys(db_conn *conn)
{
    orderd_err err;
    PGresult *res = db_exec(conn, ST_IDEM_EXPIRE, NULL, &err);
    long n = err == ORDERD_OK ? atol(PQcmdTuples(res)) : -1;
    PQclear(res);
    return n;
}
