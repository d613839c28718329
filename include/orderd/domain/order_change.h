/*
 * order_change.h - one change to an order as PostgreSQL publishes it
 * (sql/0003_order_changes.sql): the text of a NOTIFY payload or of an
 * order_changes row, parsed.  Pure: no I/O, no allocation.
 *
 * A payload is a header line "<txid> <changed_at_us> [<origin>]" (origin:
 * the writing orderd process's id, sql/0004_change_origin.sql; absent for
 * any other writer and in rows older than it) and then one line
 * per changed row: "<op> <id> <version> <customer_id> <old_customer_id>
 * <old_status> <new_status>", op 'I', 'U' or 'D', "-" for a value that
 * does not exist (a deleted row has no new customer or status, an
 * inserted one no old ones).
 */
#ifndef ORDERD_DOMAIN_ORDER_CHANGE_H
#define ORDERD_DOMAIN_ORDER_CHANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orderd/domain/order.h"

typedef enum order_change_op {
    ORDER_CHANGE_INSERT = 'I',
    ORDER_CHANGE_UPDATE = 'U',
    ORDER_CHANGE_DELETE = 'D',
} order_change_op;

typedef struct order_change {
    order_change_op op;
    int64_t id;
    int64_t version;         /* the row's version after the change (before, for a delete) */
    int64_t customer_id;     /* 0 for a delete */
    int64_t old_customer_id; /* 0 for an insert */
    bool has_old_status, has_new_status;
    order_status old_status, new_status;
} order_change;

/* Walks one payload; borrows its text, which must outlive the reader. */
/* an origin is 1 to ORDER_CHANGE_ORIGIN_MAX of [0-9a-z] */
#define ORDER_CHANGE_ORIGIN_MAX 32

typedef struct order_change_reader {
    const char *next, *end;
    uint64_t txid;
    int64_t changed_at_us;                    /* clock_timestamp() when the statement ran */
    char origin[ORDER_CHANGE_ORIGIN_MAX + 1]; /* "" when the writer did not say */
} order_change_reader;

/* Reads the header. false when the payload is malformed. */
bool order_change_reader_open(order_change_reader *r, const char *payload, size_t len);

/*
 * The next change: 1 with *out filled, 0 at the end, -1 on a malformed
 * line (the rest of the payload cannot be trusted either).
 */
int order_change_reader_next(order_change_reader *r, order_change *out);

#endif
