/*
 * permissions.c - the rules of permissions.h.  Pure: no I/O, no locks.
 */
#include "orderd/auth/permissions.h"

#include <string.h>

#include "orderd/base/parse.h"

static unsigned scope_bit(const char *word, size_t n)
{
    static const char staff[] = "orders:staff", admin[] = "orders:admin";
    if (n == sizeof staff - 1 && memcmp(word, staff, n) == 0)
        return AUTH_SCOPE_STAFF;
    if (n == sizeof admin - 1 && memcmp(word, admin, n) == 0)
        return AUTH_SCOPE_ADMIN | AUTH_SCOPE_STAFF;
    return 0;
}

void auth_principal_from_claims(const jwt_claims *claims, auth_principal *out)
{
    memset(out, 0, sizeof *out);
    int64_t id;
    if (parse_positive_i64(claims->sub, &id))
        out->customer_id = id;
    for (const char *p = claims->scope; *p;) {
        size_t n = strcspn(p, " ");
        out->scopes |= scope_bit(p, n);
        p += n;
        p += strspn(p, " ");
    }
}

static bool is_staff(const auth_principal *p)
{
    return p->unchecked || (p->scopes & AUTH_SCOPE_STAFF);
}

auth_verdict auth_may_read_order(const auth_principal *p, int64_t owner)
{
    if (is_staff(p) || (p->customer_id > 0 && p->customer_id == owner))
        return AUTH_ALLOW;
    return p->customer_id > 0 ? AUTH_HIDE : AUTH_FORBID;
}

auth_verdict auth_narrow_list(const auth_principal *p, order_list_query *q)
{
    if (is_staff(p))
        return AUTH_ALLOW;
    if (p->customer_id <= 0 || (q->has_customer_id && q->customer_id != p->customer_id))
        return AUTH_FORBID;
    q->has_customer_id = true;
    q->customer_id = p->customer_id;
    return AUTH_ALLOW;
}

auth_verdict auth_may_create(const auth_principal *p, int64_t *customer_id)
{
    if (is_staff(p))
        return AUTH_ALLOW;
    if (p->customer_id <= 0 || (*customer_id != 0 && *customer_id != p->customer_id))
        return AUTH_FORBID;
    *customer_id = p->customer_id;
    return AUTH_ALLOW;
}

auth_verdict auth_may_set_status(const auth_principal *p, order_status to, int64_t *owner)
{
    *owner = 0;
    if (is_staff(p))
        return AUTH_ALLOW;
    if (p->customer_id <= 0 || to != ORDER_CANCELLED)
        return AUTH_FORBID;
    *owner = p->customer_id;
    return AUTH_ALLOW;
}

auth_verdict auth_may_delete(const auth_principal *p)
{
    return p->unchecked || (p->scopes & AUTH_SCOPE_ADMIN) ? AUTH_ALLOW : AUTH_FORBID;
}
