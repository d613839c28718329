/*
 * order_db.h - the SQL of orders, through prepared statements.
 *
 * Explicit column lists; money as decimal text; timestamps read as unix
 * microseconds.  Each function takes a connection the caller acquired
 * and releases.  Blocking (see db_pool.h).
 */
#ifndef ORDERD_ORDER_DB_H
#define ORDERD_ORDER_DB_H

#include <stdbool.h>

#include "orderd/db/db_pool.h"
#include "orderd/domain/order.h"

/* The statement table the pool prepares on every connection. */
extern const db_statement order_db_statements[];
extern const int order_db_statement_count;

/* Inserts an order; *out gets the stored row (caller order_clear()s). */
orderd_err order_db_insert(db_conn *conn, const order_create_req *req, order *out);

/*
 * A create under an Idempotency-Key, for order_db_insert_idempotent_many.
 * fingerprint: order_create_fingerprint(req), what a replay must match.
 */
typedef struct order_keyed_create {
    const order_create_req *req;
    const char *key;
    const char *fingerprint;
} order_keyed_create;

typedef struct order_keyed_outcome {
    /* OK, or ORDERD_ERR_IDEMPOTENCY: the key exists with another fingerprint */
    orderd_err err;
    bool replayed; /* the key was complete: response is its first response */
    /* the key vanished between the claim and the lookup (purged): send again */
    bool retry;
    /* OK: the new order (order_clear); replayed: only row.id is set, as
     * the order may have changed or gone since */
    order row;
    char *response; /* OK: the response JSON stored under the key (caller frees) */
} order_keyed_outcome;

/*
 * Keyed creates with distinct keys in one transaction: claims each key
 * (or takes over one older than 24 hours) and inserts its order and
 * response, or finds the key complete and returns its stored response.
 * out[i] tells how creates[i] ended.  The return value is for the
 * transaction as a whole (then no out[i] holds anything).  Concurrent
 * calls with one key create exactly one order: the later waits on the
 * earlier's claim, then replays its result.
 */
orderd_err order_db_insert_idempotent_many(db_conn *conn, const order_keyed_create *creates, int n,
                                           order_keyed_outcome *out);

/*
 * One keyed create on its own (a vanished key is claimed again):
 * *response_json is malloc'd (caller frees), *replayed tells which.
 * On a replay only out->id is set; *response_json is then the authority.
 */
orderd_err order_db_insert_idempotent(db_conn *conn, const order_create_req *req, const char *key,
                                      const char *fingerprint, char **response_json, order *out,
                                      bool *replayed);

/*
 * Inserts n orders with one statement (one commit): out[i] gets the row
 * of reqs[i] (caller order_clear()s each).  All or nothing.
 */
orderd_err order_db_insert_many(db_conn *conn, const order_create_req *const *reqs, int n,
                                order *out);

orderd_err order_db_get(db_conn *conn, int64_t id, order *out);

/*
 * Reads every existing order among ids (n of them, duplicates allowed)
 * in one statement.  *rows is a malloc'd array of *count orders in no
 * particular order (caller order_clear()s each and frees it); ids with
 * no order are simply absent.
 */
orderd_err order_db_get_many(db_conn *conn, const int64_t *ids, int n, order **rows, int *count);

/*
 * Newest first, keyset pagination on (created_at, id).  Fills up to
 * q->limit rows into *rows (malloc'd array, caller frees each with
 * order_clear and the array with free) and says whether more exist.
 */
orderd_err order_db_list(db_conn *conn, const order_list_query *q, order **rows, int *count,
                         bool *has_more);

/* One page of a list: rows (malloc'd, count of them; the caller clears
 * each with order_clear and frees the array), and whether more exist. */
typedef struct order_list_page {
    order *rows;
    int count;
    bool has_more;
} order_list_page;

/* Can q's page be read with others in order_db_list_customers?  A
 * customer's orders, without a status filter: the page customers read. */
bool order_db_list_combines(const order_list_query *q);

/*
 * The pages of n queries (each order_db_list_combines) in one statement:
 * pages[i] is what order_db_list gives for qs[i].  On an error every page
 * is left empty.
 */
orderd_err order_db_list_customers(db_conn *conn, const order_list_query *const *qs, int n,
                                   order_list_page *pages);

/*
 * A PATCH (a status change) or a DELETE of one existing order, for
 * order_db_amend_many.
 */
typedef enum order_amend_kind { ORDER_AMEND_SET_STATUS, ORDER_AMEND_DELETE } order_amend_kind;

typedef struct order_amend {
    order_amend_kind kind;
    int64_t id;
    order_status to;          /* SET_STATUS: when the transition is allowed */
    int64_t expected_version; /* >= 0: only when the version matches */
    int64_t owner;            /* SET_STATUS, > 0: only when it is that customer's order */
} order_amend;

typedef struct order_amend_outcome {
    /* OK, ORDERD_ERR_NOT_FOUND (also for another owner's order),
     * ORDERD_ERR_PRECONDITION (version mismatch) or ORDERD_ERR_CONFLICT
     * (the transition is not allowed from the current status) */
    orderd_err err;
    /* changed nothing only because a commit the statement could not see
     * came first: sent again, it is decided against the newer row */
    bool retry;
    order row; /* OK: the row after, or (DELETE) as it was just before; order_clear() */
    order_status old_status; /* OK: the status it had before */
} order_amend_outcome;

/*
 * Applies n amendments of distinct orders in one statement and commit,
 * each on its own terms: out[i] tells how amends[i] ended.  The return
 * value is for the statement as a whole (then no out[i] holds a row).
 * Rows are locked in id order, so concurrent calls never deadlock.
 */
orderd_err order_db_amend_many(db_conn *conn, const order_amend *const *amends, int n,
                               order_amend_outcome *out);

/* One SET_STATUS amendment on its own (a lost race is decided again),
 * with the errors of order_amend_outcome; *out gets the new row. */
orderd_err order_db_update_status(db_conn *conn, int64_t id, order_status to,
                                  int64_t expected_version, int64_t owner, order *out);

/* One DELETE amendment on its own; *out (when not NULL) gets the row as
 * it was just before the delete (caller order_clear()s). */
orderd_err order_db_delete(db_conn *conn, int64_t id, int64_t expected_version, order *out);

/* Deletes idempotency keys older than 24 hours; returns the count or -1. */
long order_db_expire_idempotency_keys(db_conn *conn);

#endif
