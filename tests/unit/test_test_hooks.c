/*
 * test_test_hooks.c - unit tests of src/base/test_hooks.c: the switches
 * read from the environment, with the same names and ranges the
 * integration tests (test_cache_race.py, test_unknown_outcome.py,
 * test_cache.py ListBatches and ListLoads) rely on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "orderd/base/test_hooks.h"

#define UNUSED __attribute__((unused))

#define UNSAFE_CLASSIC_CACHE "ORDERD_TEST_UNSAFE_CLASSIC_CACHE"
#define FILL_DELAY_MS        "ORDERD_TEST_FILL_DELAY_MS"
#define AMEND_UNKNOWN        "ORDERD_TEST_AMEND_UNKNOWN_OUTCOME"
#define CREATE_UNKNOWN       "ORDERD_TEST_CREATE_UNKNOWN_OUTCOME"
#define LIST_LOOKUP_DELAY_MS "ORDERD_TEST_LIST_LOOKUP_DELAY_MS"
#define LIST_LOAD_DELAY_MS   "ORDERD_TEST_LIST_LOAD_DELAY_MS"

static int clear_env(void **state UNUSED)
{
    unsetenv(UNSAFE_CLASSIC_CACHE);
    unsetenv(FILL_DELAY_MS);
    unsetenv(AMEND_UNKNOWN);
    unsetenv(CREATE_UNKNOWN);
    unsetenv(LIST_LOOKUP_DELAY_MS);
    unsetenv(LIST_LOAD_DELAY_MS);
    return 0;
}

static void test_all_off_without_env(void **state UNUSED)
{
    test_hooks hooks = test_hooks_from_env();
    assert_false(hooks.unsafe_classic_cache);
    assert_int_equal(hooks.fill_delay_ms, 0);
    assert_false(hooks.amend_unknown_outcome);
    assert_false(hooks.create_unknown_outcome);
    assert_int_equal(hooks.list_lookup_delay_ms, 0);
    assert_int_equal(hooks.list_load_delay_ms, 0);
}

static bool amend_unknown(test_hooks h)
{
    return h.amend_unknown_outcome;
}
static bool create_unknown(test_hooks h)
{
    return h.create_unknown_outcome;
}

/* name=1 turns on the hook is_on reads and no other unknown-outcome
 * hook; anything else leaves it off */
static void assert_unknown_outcome_only_for_1(const char *name, bool (*is_on)(test_hooks))
{
    setenv(name, "1", 1);
    test_hooks on = test_hooks_from_env();
    assert_true(is_on(on));
    assert_int_equal(on.amend_unknown_outcome + on.create_unknown_outcome, 1);
    assert_false(on.unsafe_classic_cache);
    const char *off[] = {"0", "", "true", "11"};
    for (size_t i = 0; i < sizeof off / sizeof off[0]; i++) {
        setenv(name, off[i], 1);
        assert_false(is_on(test_hooks_from_env()));
    }
}

static void test_amend_unknown_outcome_only_for_1(void **state UNUSED)
{
    assert_unknown_outcome_only_for_1(AMEND_UNKNOWN, amend_unknown);
}

static void test_create_unknown_outcome_only_for_1_and_apart_from_amends(void **state UNUSED)
{
    assert_unknown_outcome_only_for_1(CREATE_UNKNOWN, create_unknown);
}

static void test_unsafe_classic_cache_only_for_1(void **state UNUSED)
{
    setenv(UNSAFE_CLASSIC_CACHE, "1", 1);
    assert_true(test_hooks_from_env().unsafe_classic_cache);
    const char *off[] = {"0", "", "true", "yes", "11", " 1"};
    for (size_t i = 0; i < sizeof off / sizeof off[0]; i++) {
        setenv(UNSAFE_CLASSIC_CACHE, off[i], 1);
        assert_false(test_hooks_from_env().unsafe_classic_cache);
    }
    assert_int_equal(test_hooks_from_env().fill_delay_ms, 0);
}

/* Every delay hook's, summed. */
static long all_delays(const test_hooks *h)
{
    return h->fill_delay_ms + h->list_lookup_delay_ms + h->list_load_delay_ms;
}

/* Each delay takes 1..999 ms and ignores anything else; each is its own
 * switch: setting one leaves the others off.  delay picks its field. */
static void check_delay_switch(const char *name, long (*delay)(const test_hooks *))
{
    static const struct {
        const char *value;
        long ms;
    } cases[] = {
        {"30", 30}, {"1", 1}, {"999", 999}, {"1000", 0},  {"0", 0},
        {"-5", 0},  {"x", 0}, {"", 0},      {"25ms", 25},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv(name, cases[i].value, 1);
        test_hooks hooks = test_hooks_from_env();
        if (delay(&hooks) != cases[i].ms)
            fail_msg("%s=\"%s\": %ld, expected %ld", name, cases[i].value, delay(&hooks),
                     cases[i].ms);
        assert_int_equal(all_delays(&hooks), delay(&hooks));
        assert_false(hooks.unsafe_classic_cache);
    }
}

static long fill_delay(const test_hooks *h)
{
    return h->fill_delay_ms;
}

static long list_lookup_delay(const test_hooks *h)
{
    return h->list_lookup_delay_ms;
}

static long list_load_delay(const test_hooks *h)
{
    return h->list_load_delay_ms;
}

static void test_fill_delay_in_range(void **state UNUSED)
{
    check_delay_switch(FILL_DELAY_MS, fill_delay);
}

static void test_list_lookup_delay_in_range(void **state UNUSED)
{
    check_delay_switch(LIST_LOOKUP_DELAY_MS, list_lookup_delay);
}

static void test_list_load_delay_in_range(void **state UNUSED)
{
    check_delay_switch(LIST_LOAD_DELAY_MS, list_load_delay);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_all_off_without_env, clear_env),
        cmocka_unit_test_setup(test_unsafe_classic_cache_only_for_1, clear_env),
        cmocka_unit_test_setup(test_fill_delay_in_range, clear_env),
        cmocka_unit_test_setup(test_amend_unknown_outcome_only_for_1, clear_env),
        cmocka_unit_test_setup(test_create_unknown_outcome_only_for_1_and_apart_from_amends,
                               clear_env),
        cmocka_unit_test_setup(test_list_lookup_delay_in_range, clear_env),
        cmocka_unit_test_setup(test_list_load_delay_in_range, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
