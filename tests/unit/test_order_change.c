/*
 * test_order_change.c - parsing what sql/0003_order_changes.sql publishes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "orderd/domain/order_change.h"

static int parse_all(const char *payload, order_change *out, int cap, order_change_reader *r)
{
    if (!order_change_reader_open(r, payload, strlen(payload)))
        return -2;
    int n = 0, rc;
    while (n < cap && (rc = order_change_reader_next(r, &out[n])) == 1)
        n++;
    return rc == -1 ? -1 : n;
}

static void the_trigger_s_three_kinds_parse(void **state)
{
    (void)state;
    /* what psql showed for an insert of 2 rows, an update and a delete */
    const char *payload = "741 1796113073981541\n"
                          "I 1 1 2 - - pending\n"
                          "I 2 1 3 - - pending\n"
                          "U 2 2 3 3 pending paid\n"
                          "D 3 1 - 4 pending -";
    order_change c[8];
    order_change_reader r;
    assert_int_equal(parse_all(payload, c, 8, &r), 4);
    assert_int_equal(r.txid, 741);
    assert_int_equal(r.changed_at_us, 1796113073981541);
    assert_int_equal(c[0].op, ORDER_CHANGE_INSERT);
    assert_int_equal(c[0].id, 1);
    assert_int_equal(c[0].version, 1);
    assert_int_equal(c[0].customer_id, 2);
    assert_int_equal(c[0].old_customer_id, 0);
    assert_false(c[0].has_old_status);
    assert_true(c[0].has_new_status);
    assert_int_equal(c[0].new_status, ORDER_PENDING);
    assert_int_equal(c[2].op, ORDER_CHANGE_UPDATE);
    assert_int_equal(c[2].version, 2);
    assert_int_equal(c[2].old_status, ORDER_PENDING);
    assert_int_equal(c[2].new_status, ORDER_PAID);
    assert_int_equal(c[3].op, ORDER_CHANGE_DELETE);
    assert_int_equal(c[3].customer_id, 0);
    assert_int_equal(c[3].old_customer_id, 4);
    assert_false(c[3].has_new_status);
}

static void a_header_alone_is_an_empty_batch(void **state)
{
    (void)state;
    order_change c[1];
    order_change_reader r;
    assert_int_equal(parse_all("5 6", c, 1, &r), 0);
    assert_int_equal(parse_all("5 6\n", c, 1, &r), 0);
}

static void the_writer_s_origin_is_read_when_present(void **state)
{
    (void)state;
    order_change c[2];
    order_change_reader r;
    assert_int_equal(
        parse_all("741 1796113073981541 9f3ac0de11aa42b7\nI 1 1 2 - - pending", c, 2, &r), 1);
    assert_string_equal(r.origin, "9f3ac0de11aa42b7");
    assert_int_equal(r.txid, 741);
    assert_int_equal(parse_all("741 1796113073981541\nI 1 1 2 - - pending", c, 2, &r), 1);
    assert_string_equal(r.origin, ""); /* psql, or a row older than the origin */
    assert_int_equal(parse_all("5 6 0123456789abcdef0123456789abcdef", c, 2, &r), 0);
    assert_int_equal(strlen(r.origin), ORDER_CHANGE_ORIGIN_MAX);
}

static void malformed_payloads_are_refused(void **state)
{
    (void)state;
    order_change c[2];
    order_change_reader r;
    const char *bad_headers[] = {"",
                                 "5",
                                 "5 x",
                                 "x 6",
                                 "5 6 7 8",
                                 "-5 6",
                                 "5 99999999999999999999",
                                 "5 6 Ab",
                                 "5 6 a-b",
                                 "5 6 0123456789abcdef0123456789abcdef0"};
    for (size_t i = 0; i < sizeof bad_headers / sizeof *bad_headers; i++)
        assert_int_equal(parse_all(bad_headers[i], c, 2, &r), -2);
    const char *bad_lines[] = {
        "1 2\nX 1 1 2 - - pending",       /* unknown op */
        "1 2\nI 0 1 2 - - pending",       /* id must be positive */
        "1 2\nI 1 1 2 - - shipping",      /* unknown status */
        "1 2\nI 1 1 2 3 - pending",       /* an insert has no old customer */
        "1 2\nU 1 2 3 3 - paid",          /* an update has an old status */
        "1 2\nD 1 1 4 4 pending -",       /* a delete has no new customer */
        "1 2\nI 1 1 2 - - pending extra", /* too many fields */
        "1 2\nI 1 1 2 - -",               /* too few */
        "1 2\nII 1 1 2 - - pending",      /* op is one letter */
    };
    for (size_t i = 0; i < sizeof bad_lines / sizeof *bad_lines; i++)
        assert_int_equal(parse_all(bad_lines[i], c, 2, &r), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_trigger_s_three_kinds_parse),
        cmocka_unit_test(a_header_alone_is_an_empty_batch),
        cmocka_unit_test(the_writer_s_origin_is_read_when_present),
        cmocka_unit_test(malformed_payloads_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
