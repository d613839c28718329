/*
 * test_request.c - request helpers: which Cache-Control values ask for a
 * fresh answer (RFC 9111 5.2.1).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "orderd/http/request.h"

static void no_cache_and_max_age_zero_want_fresh(void **state)
{
    (void)state;
    assert_true(request_cache_control_wants_fresh("no-cache"));
    assert_true(request_cache_control_wants_fresh("No-Cache"));
    assert_true(request_cache_control_wants_fresh("max-age=0"));
    assert_true(request_cache_control_wants_fresh("max-age=\"0\""));
    assert_true(request_cache_control_wants_fresh("max-age=000"));
    assert_true(request_cache_control_wants_fresh("no-transform, no-cache"));
    assert_true(request_cache_control_wants_fresh("  max-stale=5 ,max-age=0"));
}

static void other_directives_do_not(void **state)
{
    (void)state;
    assert_false(request_cache_control_wants_fresh(NULL));
    assert_false(request_cache_control_wants_fresh(""));
    assert_false(request_cache_control_wants_fresh("max-age=10"));
    assert_false(request_cache_control_wants_fresh("max-age="));
    assert_false(request_cache_control_wants_fresh("max-age"));
    assert_false(request_cache_control_wants_fresh("no-store"));
    assert_false(request_cache_control_wants_fresh("no-cachex"));
    assert_false(request_cache_control_wants_fresh("x-no-cache"));
    assert_false(request_cache_control_wants_fresh("max-stale=0"));
    assert_false(request_cache_control_wants_fresh("only-if-cached"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_cache_and_max_age_zero_want_fresh),
        cmocka_unit_test(other_directives_do_not),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
