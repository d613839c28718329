/*
 * test_permissions.c - unit tests of src/auth/permissions.c: customers,
 * staff, admin and tokens without rights, for every order operation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "orderd/auth/permissions.h"

#define UNUSED __attribute__((unused))

static auth_principal from(const char *sub, const char *scope)
{
    jwt_claims c = {0};
    strcpy(c.sub, sub);
    strcpy(c.scope, scope);
    auth_principal p;
    auth_principal_from_claims(&c, &p);
    return p;
}

static void test_claims_to_principal(void **state UNUSED)
{
    auth_principal p = from("42", "");
    assert_int_equal(p.customer_id, 42);
    assert_int_equal(p.scopes, 0);
    p = from("alice", "  read orders:staff  ");
    assert_int_equal(p.customer_id, 0);
    assert_int_equal(p.scopes, AUTH_SCOPE_STAFF);
    p = from("7", "orders:admin");
    assert_int_equal(p.scopes, AUTH_SCOPE_STAFF | AUTH_SCOPE_ADMIN);
    /* near misses are no scope */
    p = from("-3", "orders:staffs orders: ORDERS:ADMIN");
    assert_int_equal(p.customer_id, 0);
    assert_int_equal(p.scopes, 0);
}

static void test_customer(void **state UNUSED)
{
    auth_principal p = from("42", "");
    assert_int_equal(auth_may_read_order(&p, 42), AUTH_ALLOW);
    assert_int_equal(auth_may_read_order(&p, 43), AUTH_HIDE);

    order_list_query q = {0};
    assert_int_equal(auth_narrow_list(&p, &q), AUTH_ALLOW);
    assert_true(q.has_customer_id);
    assert_int_equal(q.customer_id, 42);
    q.customer_id = 43;
    assert_int_equal(auth_narrow_list(&p, &q), AUTH_FORBID);

    int64_t customer = 0;
    assert_int_equal(auth_may_create(&p, &customer), AUTH_ALLOW);
    assert_int_equal(customer, 42);
    customer = 43;
    assert_int_equal(auth_may_create(&p, &customer), AUTH_FORBID);

    int64_t owner = -1;
    assert_int_equal(auth_may_set_status(&p, ORDER_CANCELLED, &owner), AUTH_ALLOW);
    assert_int_equal(owner, 42);
    assert_int_equal(auth_may_set_status(&p, ORDER_PAID, &owner), AUTH_FORBID);
    assert_int_equal(auth_may_delete(&p), AUTH_FORBID);
}

static void test_staff_and_admin(void **state UNUSED)
{
    auth_principal staff = from("carol", "orders:staff");
    auth_principal admin = from("root", "orders:admin");
    order_list_query q = {0};
    int64_t owner = -1, customer = 0;
    assert_int_equal(auth_may_read_order(&staff, 99), AUTH_ALLOW);
    assert_int_equal(auth_narrow_list(&staff, &q), AUTH_ALLOW);
    assert_false(q.has_customer_id);
    assert_int_equal(auth_may_set_status(&staff, ORDER_SHIPPED, &owner), AUTH_ALLOW);
    assert_int_equal(owner, 0);
    assert_int_equal(auth_may_create(&staff, &customer), AUTH_ALLOW);
    assert_int_equal(customer, 0); /* staff must name one: the validator's 422 */
    assert_int_equal(auth_may_delete(&staff), AUTH_FORBID);
    assert_int_equal(auth_may_delete(&admin), AUTH_ALLOW);
}

static void test_no_rights_and_auth_off(void **state UNUSED)
{
    auth_principal nobody = from("robot", "something:else");
    order_list_query q = {0};
    int64_t owner, customer = 0;
    assert_int_equal(auth_may_read_order(&nobody, 1), AUTH_FORBID);
    assert_int_equal(auth_narrow_list(&nobody, &q), AUTH_FORBID);
    assert_int_equal(auth_may_create(&nobody, &customer), AUTH_FORBID);
    assert_int_equal(auth_may_set_status(&nobody, ORDER_CANCELLED, &owner), AUTH_FORBID);
    auth_principal off = {.unchecked = true};
    assert_int_equal(auth_may_read_order(&off, 1), AUTH_ALLOW);
    assert_int_equal(auth_may_delete(&off), AUTH_ALLOW);
    assert_int_equal(auth_may_set_status(&off, ORDER_PAID, &owner), AUTH_ALLOW);
    assert_int_equal(owner, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_claims_to_principal),
        cmocka_unit_test(test_customer),
        cmocka_unit_test(test_staff_and_admin),
        cmocka_unit_test(test_no_rights_and_auth_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
