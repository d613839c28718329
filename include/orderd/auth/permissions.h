/*
 * permissions.h - who may do what to which order, from a token's claims.
 *
 *   a customer token (sub = the customer id, a positive integer):
 *       create orders for itself (customer_id omitted means its own),
 *       read and list its own orders, cancel its own (pending or paid:
 *       the transition rules say which);
 *   scope "orders:staff": read and list every order, any status change;
 *   scope "orders:admin": what staff may, and DELETE.
 * scope is the space-separated "scope" claim (RFC 8693 4.2).  A token
 * with neither a customer sub nor a scope is valid and may do nothing.
 *
 * The verdicts say which answer keeps the order's existence hidden: a
 * customer asking for another customer's order gets the 404 a missing
 * order gets, never a 403.
 */
#ifndef ORDERD_AUTH_PERMISSIONS_H
#define ORDERD_AUTH_PERMISSIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "orderd/auth/jwt.h"
#include "orderd/domain/order.h"

#define AUTH_SCOPE_STAFF 0x1u /* orders:staff */
#define AUTH_SCOPE_ADMIN 0x2u /* orders:admin (implies staff) */

typedef struct auth_principal {
    bool unchecked;      /* auth is off: every right */
    int64_t customer_id; /* from sub; 0 = not a customer */
    unsigned scopes;     /* AUTH_SCOPE_* */
} auth_principal;

typedef enum auth_verdict {
    AUTH_ALLOW = 0,
    AUTH_FORBID, /* 403: the caller lacks the right whatever the order */
    AUTH_HIDE,   /* 404: the order is someone else's */
} auth_verdict;

/* The principal a verified token describes. */
void auth_principal_from_claims(const jwt_claims *claims, auth_principal *out);

/* GET /orders/:id of an order belonging to owner. */
auth_verdict auth_may_read_order(const auth_principal *p, int64_t owner);

/* GET /orders: a customer's query is narrowed to its own orders; a
 * customer_id of someone else is AUTH_FORBID. */
auth_verdict auth_narrow_list(const auth_principal *p, order_list_query *q);

/*
 * POST /orders for *customer_id (0: the body named none).  A customer's
 * 0 becomes its own id; staff must name one (left 0: the usual 422).
 */
auth_verdict auth_may_create(const auth_principal *p, int64_t *customer_id);

/*
 * PATCH /orders/:id to status `to`.  On AUTH_ALLOW *owner is the
 * customer the order must belong to (0 = anyone's); the store applies it
 * in the same statement, so an order of someone else is "not found".
 */
auth_verdict auth_may_set_status(const auth_principal *p, order_status to, int64_t *owner);

/* DELETE /orders/:id. */
auth_verdict auth_may_delete(const auth_principal *p);

#endif
