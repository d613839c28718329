/*
 * test_redis_scripts.c - unit tests of script registration in
 * src/cache/redis.c: the same source gets its first id back (two rate
 * limiters register one script, and a rebuilt one registers it again),
 * and a registration past the table's room fails instead of overwriting.
 * No Redis is needed: registering only records the source and its SHA1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "orderd/cache/redis.h"

#define UNUSED __attribute__((unused))

static int make_client(void **state)
{
    /* port 1: nothing listens; the breaker stays open, which is fine here */
    redis_client_options o = {.url = "redis://127.0.0.1:1",
                              .connect_timeout_ms = 50,
                              .command_timeout_ms = 50,
                              .failure_threshold = 1,
                              .probe_interval_ms = 1000,
                              .recovery_grace_ms = 100,
                              .journal_max = 16};
    const char *why = NULL;
    *state = redis_client_create(&o, &why);
    return *state ? 0 : -1;
}

static int free_client(void **state)
{
    redis_client_destroy(*state);
    return 0;
}

static void test_the_same_source_gets_its_first_id(void **state)
{
    redis_client *c = *state;
    int a = redis_client_script_add(c, "return 1");
    int b = redis_client_script_add(c, "return 2");
    assert_true(a >= 0 && b >= 0 && a != b);
    assert_int_equal(redis_client_script_add(c, "return 1"), a);
    assert_int_equal(redis_client_script_add(c, "return 2"), b);
}

static void test_sixteen_distinct_scripts_fit_and_the_next_fails(void **state)
{
    redis_client *c = *state;
    char source[32];
    for (int i = 0; i < 16; i++) {
        snprintf(source, sizeof source, "return %d", i);
        assert_int_equal(redis_client_script_add(c, source), i);
    }
    assert_int_equal(redis_client_script_add(c, "return 16"), -1);
    assert_int_equal(redis_client_script_add(c, "return 3"), 3); /* still found */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_the_same_source_gets_its_first_id, make_client,
                                        free_client),
        cmocka_unit_test_setup_teardown(test_sixteen_distinct_scripts_fit_and_the_next_fails,
                                        make_client, free_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
