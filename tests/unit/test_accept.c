/*
 * test_accept.c - content negotiation on Accept (http/accept.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "orderd/http/accept.h"

static const char *const offers[] = {"application/json", "application/msgpack"};
#define JSON    0
#define MSGPACK 1
#define NEITHER (-1)

static int choose(const char *accept)
{
    return accept_choose(accept, offers, 2);
}

static void no_field_is_json(void **state)
{
    (void)state;
    assert_int_equal(choose(NULL), JSON);
    assert_int_equal(accept_quality(NULL, "application/msgpack"), ACCEPT_Q_MAX);
}

static void exact_types(void **state)
{
    (void)state;
    assert_int_equal(choose("application/json"), JSON);
    assert_int_equal(choose("application/msgpack"), MSGPACK);
    assert_int_equal(choose("text/html"), NEITHER);
    assert_int_equal(choose("application/x-msgpack"), NEITHER);
    assert_int_equal(choose("application/msgpackx"), NEITHER);
    assert_int_equal(choose("application/jso"), NEITHER);
}

static void names_ignore_case_and_parameters_are_ignored(void **state)
{
    (void)state;
    assert_int_equal(choose("Application/MsgPack"), MSGPACK);
    assert_int_equal(choose("APPLICATION/JSON; charset=utf-8"), JSON);
    assert_int_equal(choose("application/msgpack;v=1;Q=0.5, application/json;q=0.4"), MSGPACK);
    assert_int_equal(choose("application/msgpack; x=\"a,b;q=0\"; q=0.9, application/json;q=0.8"),
                     MSGPACK);
    assert_int_equal(choose("application/msgpack;x=\"q=0,\\\"\""), MSGPACK);
}

static void wildcards(void **state)
{
    (void)state;
    assert_int_equal(choose("*/*"), JSON); /* a tie: JSON */
    assert_int_equal(choose("application/*"), JSON);
    assert_int_equal(choose("text/*"), NEITHER);
    assert_int_equal(choose("text/html, */*;q=0.1"), JSON);
    assert_int_equal(choose("text/html, application/xhtml+xml, */*;q=0.8"), JSON);
    /* browsers' default: msgpack is only covered by the wildcard too */
    assert_int_equal(choose("text/html,application/xml;q=0.9,*/*;q=0.8"), JSON);
}

static void the_most_specific_range_gives_the_weight(void **state)
{
    (void)state;
    assert_int_equal(choose("*/*, application/json;q=0"), MSGPACK);
    assert_int_equal(choose("application/*;q=0.2, application/msgpack"), MSGPACK);
    assert_int_equal(choose("application/msgpack;q=0.1, */*"), JSON);
    assert_int_equal(choose("application/*;q=0, */*"), NEITHER);
    assert_int_equal(choose("*/*;q=0, application/msgpack;q=0.001"), MSGPACK);
    assert_int_equal(accept_quality("application/msgpack;q=0.1, */*", "application/msgpack"), 100);
    /* equally specific: the highest weight */
    assert_int_equal(
        accept_quality("application/json;q=0.2, application/json;q=0.7", "application/json"), 700);
}

static void weights(void **state)
{
    (void)state;
    assert_int_equal(choose("application/json;q=0.5, application/msgpack"), MSGPACK);
    assert_int_equal(choose("application/json, application/msgpack;q=0.999"), JSON);
    assert_int_equal(choose("application/json;q=0.5, application/msgpack;q=0.5"), JSON);
    assert_int_equal(choose("application/msgpack;q=1.000, application/json;q=1"), JSON);
    assert_int_equal(accept_quality("application/json;q=0.25", "application/json"), 250);
    assert_int_equal(accept_quality("application/json;q=0.", "application/json"), 0);
    assert_int_equal(accept_quality("application/json ; q=1.0", "application/json"), 1000);
}

static void q_zero_refuses(void **state)
{
    (void)state;
    assert_int_equal(choose("application/json;q=0"), NEITHER);
    assert_int_equal(choose("application/json;q=0.000, application/msgpack;q=0"), NEITHER);
    assert_int_equal(choose("application/json;q=0, application/msgpack"), MSGPACK);
    assert_int_equal(choose("*/*;q=0"), NEITHER);
}

/* Malformed members are skipped; nothing well-formed is no field at all. */
static void malformed_members(void **state)
{
    (void)state;
    assert_int_equal(choose(""), JSON);
    assert_int_equal(choose(" , ,"), JSON);
    assert_int_equal(choose("garbage"), JSON);
    assert_int_equal(choose("application"), JSON);
    assert_int_equal(choose("*/json"), JSON);
    assert_int_equal(choose("application/msgpack;q=2"), JSON);      /* q out of range */
    assert_int_equal(choose("application/msgpack;q=0.1234"), JSON); /* four decimals */
    assert_int_equal(choose("application/msgpack;q=\"0.5\""), JSON);
    assert_int_equal(choose("application/msgpack;q="), JSON);
    assert_int_equal(choose("application/msgpack;=1"), JSON);
    assert_int_equal(choose("application/msgpack junk"), JSON);
    assert_int_equal(choose("application/msgpack;x=\"unterminated"), JSON);
    assert_int_equal(choose("/msgpack"), JSON);
    assert_int_equal(choose("application/"), JSON);
    /* a bad member beside a good one: the good one counts */
    assert_int_equal(choose("garbage, application/msgpack"), MSGPACK);
    assert_int_equal(choose("application/json;q=9, application/msgpack"), MSGPACK);
    assert_int_equal(choose("text/html;q=bad, text/plain"), NEITHER);
    assert_int_equal(choose("application/json;x=\"a\\\", application/msgpack"), JSON);
}

static void whitespace_and_empty_elements(void **state)
{
    (void)state;
    assert_int_equal(choose("  application/msgpack  "), MSGPACK);
    assert_int_equal(choose("\tapplication/msgpack\t;\tq=0.5\t,application/json;q=0.1"), MSGPACK);
    assert_int_equal(choose(",,application/msgpack,,"), MSGPACK);
    assert_int_equal(choose("application/msgpack;;q=0.9;"), MSGPACK);
}

static void a_single_offer(void **state)
{
    (void)state;
    static const char *const one[] = {"application/msgpack"};
    assert_int_equal(accept_choose("application/msgpack", one, 1), 0);
    assert_int_equal(accept_choose("application/json", one, 1), -1);
    assert_int_equal(accept_quality("text/html", "noslash"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_field_is_json),
        cmocka_unit_test(exact_types),
        cmocka_unit_test(names_ignore_case_and_parameters_are_ignored),
        cmocka_unit_test(wildcards),
        cmocka_unit_test(the_most_specific_range_gives_the_weight),
        cmocka_unit_test(weights),
        cmocka_unit_test(q_zero_refuses),
        cmocka_unit_test(malformed_members),
        cmocka_unit_test(whitespace_and_empty_elements),
        cmocka_unit_test(a_single_offer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
