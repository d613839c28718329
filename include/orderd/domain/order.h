/*
 * order.h - the order domain: fields, validation, status transitions,
 * the JSON codec and list cursors.  Pure code: no I/O, no globals.
 * Amounts are int64 cents, parsed and formatted by money.h.
 */
#ifndef ORDERD_ORDER_H
#define ORDERD_ORDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orderd/base/field_errors.h"
#include "orderd/domain/money.h"

#define ORDER_MAX_ITEMS        100
#define ORDER_SKU_MAX          64
#define ORDER_QUANTITY_MAX     1000000
#define ORDER_CURRENCY_DEFAULT "USD"

typedef enum order_status {
    ORDER_PENDING = 0,
    ORDER_PAID,
    ORDER_SHIPPED,
    ORDER_DELIVERED,
    ORDER_CANCELLED,
    ORDER_STATUS_COUNT
} order_status;

/* "pending", "paid", ...; NULL for an out-of-range value. */
const char *order_status_name(order_status s);
/* Parses an exact lower-case status name. false when unknown. */
bool order_status_parse(const char *name, order_status *out);
/* pending->paid->shipped->delivered, pending|paid->cancelled. */
bool order_status_can_transition(order_status from, order_status to);

/* ---- create / patch requests ------------------------------------------ */

typedef struct order_create_req {
    int64_t customer_id;
    int64_t total_cents;
    char currency[4];
    /* Canonical JSON array of items, compact, keys in the order
     * sku, quantity, unit_price (unit_price as a "12.34" string);
     * "[]" when the request had none.  Owned: freed by
     * order_create_req_clear. */
    char *items_json;
} order_create_req;

/*
 * Validates a POST /orders body.  Accepted keys: customer_id (integer > 0),
 * total (money, >= 0), currency (optional ISO 4217 code, default USD),
 * items (optional array of {sku, quantity, unit_price}, at most
 * ORDER_MAX_ITEMS).  With items, total is computed when absent and must
 * equal the sum when present.  Unknown keys, wrong types and out-of-range
 * values each add a field error.  Returns true when *out is filled (caller
 * clears it); false when errs has at least one entry and *out is untouched.
 * errs is reset first.  A body that is not an object is one error on the
 * field "body".
 */
bool order_create_parse(const json_t *body, order_create_req *out, field_errors *errs);
void order_create_req_clear(order_create_req *req);

/*
 * A canonical text of the request (same meaning -> same text) used to
 * recognise an Idempotency-Key replay with the same body.  Caller frees.
 */
char *order_create_fingerprint(const order_create_req *req);

/* Validates a PATCH body: exactly {"status": "<name>"}.  errs as above. */
bool order_patch_parse(const json_t *body, order_status *status, field_errors *errs);

/* ---- the order and its JSON ------------------------------------------- */

typedef struct order {
    int64_t id;
    int64_t customer_id;
    order_status status;
    char currency[4];
    int64_t total_cents;
    char *items_json; /* owned JSON array text, as stored */
    int64_t version;
    int64_t created_at_us; /* unix microseconds, UTC */
    int64_t updated_at_us;
} order;

/* Frees what the order owns (items_json) and zeroes it. NULL-safe. */
void order_clear(order *o);

/*
 * Renders an order as compact JSON:
 * {"id":1,"customer_id":7,"status":"pending","currency":"USD",
 *  "total":"12.50","items":[...],"version":1,
 *  "created_at":"2026-11-28T04:07:59.123456Z","updated_at":"..."}
 * Returns a malloc'd NUL-terminated string (caller frees) and its length
 * in *len; NULL on allocation failure.
 */
char *order_to_json(const order *o, size_t *len);

/*
 * The customer_id of an order order_to_json rendered (a response body, a
 * cache entry), read from the fixed prefix {"id":N,"customer_id":M,
 * without parsing the rest: the permission check on a cached read.
 * false when json does not start that way.
 */
bool order_json_customer_id(const char *json, size_t len, int64_t *customer_id);

/* ---- list queries and cursors ----------------------------------------- */

#define ORDER_LIST_LIMIT_DEFAULT 20
#define ORDER_LIST_LIMIT_MAX     100

typedef struct order_list_query {
    bool has_customer_id;
    int64_t customer_id;
    bool has_status;
    order_status status;
    int limit;
    /* keyset position: rows strictly older than (created_at, id) */
    bool has_cursor;
    int64_t cursor_created_at_us;
    int64_t cursor_id;
} order_list_query;

/*
 * Opaque cursor text (URL-safe, no padding) for the position after the
 * row (created_at_us, id).  Returns the length written (< 64).
 */
size_t order_cursor_encode(int64_t created_at_us, int64_t id, char out[64]);
/* false when text is not a cursor this service issued. */
bool order_cursor_decode(const char *text, int64_t *created_at_us, int64_t *id);

#endif
