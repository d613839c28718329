#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "orderd/cache/cache_entry.h"

static void keys(void **state)
{
    (void)state;
    char k[48];
    cache_key_order(42, k);
    assert_string_equal(k, "order:42");
    cache_key_gen_customer(7, k);
    assert_string_equal(k, "gen:customer:7");
    cache_key_gen_status(ORDER_SHIPPED, k);
    assert_string_equal(k, "gen:status:shipped");
    cache_key_gen_all(k);
    assert_string_equal(k, "gen:all");
}

static void list_keys_depend_on_the_narrowest_generation(void **state)
{
    (void)state;
    char gen[48], suffix[160];
    order_list_query q = {.limit = 20};
    cache_list_gen_key(&q, gen);
    assert_string_equal(gen, "gen:all");
    q.has_status = true;
    q.status = ORDER_PAID;
    cache_list_gen_key(&q, gen);
    assert_string_equal(gen, "gen:status:paid");
    q.has_customer_id = true;
    q.customer_id = 9;
    cache_list_gen_key(&q, gen);
    assert_string_equal(gen, "gen:customer:9");
    cache_list_suffix(&q, suffix);
    assert_string_equal(suffix, "c=9;s=paid;l=20;k=");

    /* different pages and limits are different keys */
    char other[160];
    q.limit = 21;
    cache_list_suffix(&q, other);
    assert_string_not_equal(suffix, other);
    q.has_cursor = true;
    q.cursor_created_at_us = 1000;
    q.cursor_id = 5;
    cache_list_suffix(&q, suffix);
    assert_string_not_equal(suffix, other);
}

static void present_round_trip(void **state)
{
    (void)state;
    const char *json = "{\"id\":1,\"note\":\"a:b\"}";
    size_t len;
    char *text = cache_entry_render_present(7, 1700000000123, 4, json, strlen(json), &len);
    assert_string_equal(text, "P7:1700000000123:4:{\"id\":1,\"note\":\"a:b\"}");
    cache_entry e;
    assert_true(cache_entry_parse(text, len, &e));
    assert_int_equal(e.kind, CACHE_ENTRY_PRESENT);
    assert_int_equal(e.version, 7);
    assert_int_equal(e.expires_ms, 1700000000123);
    assert_int_equal(e.delta_ms, 4);
    assert_int_equal(e.json_len, strlen(json));
    assert_memory_equal(e.json, json, e.json_len);
    free(text);
}

static void markers_round_trip(void **state)
{
    (void)state;
    char m[32];
    cache_entry e;
    size_t n = cache_entry_render_marker(CACHE_ENTRY_TOMBSTONE, 12, m);
    assert_string_equal(m, "T12:");
    assert_true(cache_entry_parse(m, n, &e));
    assert_int_equal(e.kind, CACHE_ENTRY_TOMBSTONE);
    assert_int_equal(e.version, 12);
    n = cache_entry_render_marker(CACHE_ENTRY_NEGATIVE, 0, m);
    assert_true(cache_entry_parse(m, n, &e));
    assert_int_equal(e.kind, CACHE_ENTRY_NEGATIVE);
    n = cache_entry_render_marker(CACHE_ENTRY_DELETED, 3, m);
    assert_string_equal(m, "D3:");
    assert_true(cache_entry_parse(m, n, &e));
    assert_int_equal(e.kind, CACHE_ENTRY_DELETED);
}

static void garbage_is_rejected(void **state)
{
    (void)state;
    const char *bad[] = {"",          "P",       "P1",  "P1:",
                         "P1:2:",     "P1:2:3:", "X1:", "T1:junk",
                         "T:",        "Tx:",     "N0",  "P99999999999999999999:1:1:{}",
                         "{\"id\":1}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cache_entry e;
        assert_false(cache_entry_parse(bad[i], strlen(bad[i]), &e));
    }
    cache_entry e;
    assert_false(cache_entry_parse(NULL, 0, &e));
}

static void ttl_jitter_stays_in_band(void **state)
{
    (void)state;
    assert_int_equal(cache_ttl_jitter(120000, 10, 0.5), 120000);
    assert_int_equal(cache_ttl_jitter(120000, 10, 0.0), 108000);
    assert_true(cache_ttl_jitter(120000, 10, 0.999999) <= 132000);
    assert_true(cache_ttl_jitter(120000, 10, 0.999999) > 131990);
    assert_int_equal(cache_ttl_jitter(120000, 0, 0.9), 120000);
    assert_int_equal(cache_ttl_jitter(1, 50, 0.0), 1); /* never zero or negative */
}

static void xfetch_refreshes_only_near_expiry(void **state)
{
    (void)state;
    /* 100 s before expiry with a 5 ms recompute: practically never */
    assert_false(cache_should_refresh_early(1000000, 1100000, 5, 1.0, 0.5));
    assert_false(cache_should_refresh_early(1000000, 1100000, 5, 1.0, 1e-9));
    /* at or past expiry: always */
    assert_true(cache_should_refresh_early(1100000, 1100000, 5, 1.0, 1.0));
    assert_true(cache_should_refresh_early(1100001, 1100000, 5, 1.0, 0.9));
    /* 5 ms before expiry, delta 10 ms: -ln(r)*10 >= 5 when r <= e^-0.5 ~ 0.607 */
    assert_true(cache_should_refresh_early(1099995, 1100000, 10, 1.0, 0.6));
    assert_false(cache_should_refresh_early(1099995, 1100000, 10, 1.0, 0.61));
    /* beta 0 disables early refresh */
    assert_false(cache_should_refresh_early(1099999, 1100000, 10, 0.0, 1e-9));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keys),
        cmocka_unit_test(list_keys_depend_on_the_narrowest_generation),
        cmocka_unit_test(present_round_trip),
        cmocka_unit_test(markers_round_trip),
        cmocka_unit_test(garbage_is_rejected),
        cmocka_unit_test(ttl_jitter_stays_in_band),
        cmocka_unit_test(xfetch_refreshes_only_near_expiry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
