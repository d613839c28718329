#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "orderd/base/metrics.h"
#include "orderd/cache/hot_lists.h"

typedef struct fixture {
    hot_cache *gate;
    hot_lists *hl;
    int sock[2]; /* sock[0] plays the subscriber connection */
} fixture;

static fixture *make(size_t max_bytes, int64_t max_age_ms)
{
    static fixture f;
    f.gate = hot_cache_create(1000, max_age_ms, 1);
    f.hl = f.gate ? hot_lists_create(f.gate, max_bytes) : NULL;
    if (!f.hl || socketpair(AF_UNIX, SOCK_STREAM, 0, f.sock) != 0)
        return NULL;
    hot_cache_set_online(f.gate, 0, true, f.sock[0]);
    return &f;
}

static int setup(void **state)
{
    *state = make(1 << 20, 60000);
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    hot_lists_destroy(f->hl);
    hot_cache_destroy(f->gate);
    close(f->sock[0]);
    close(f->sock[1]);
    return 0;
}

static order_list_query by_customer(int64_t customer)
{
    return (order_list_query){.has_customer_id = true, .customer_id = customer, .limit = 20};
}

static void put(hot_lists *hl, const order_list_query *q, const char *json)
{
    hot_lists_put(hl, q, json, strlen(json), hot_lists_ticket_for(hl, q));
}

/* the page's text, or "" when none is served; *refresh_due (unless NULL)
 * whether this reader was asked to refresh it */
static const char *served_refresh(hot_lists *hl, const order_list_query *q, bool *refresh_due)
{
    static char text[256];
    if (refresh_due)
        *refresh_due = true; /* hot_lists_get must set it either way */
    blob *b = hot_lists_get(hl, q, refresh_due);
    text[0] = '\0';
    if (b) {
        snprintf(text, sizeof text, "%s", b->data);
        blob_release(b);
    }
    return text;
}

static const char *served(hot_lists *hl, const order_list_query *q)
{
    return served_refresh(hl, q, NULL);
}

static void each_query_gets_its_own_page(void **state)
{
    fixture *f = *state;
    order_list_query a = by_customer(7), b = by_customer(7), c = by_customer(8);
    b.limit = 5;
    uint64_t hits_before = metric_get(METRIC_HOT_LIST_HITS);
    put(f->hl, &a, "a");
    put(f->hl, &b, "b");
    assert_string_equal(served(f->hl, &a), "a");
    assert_string_equal(served(f->hl, &b), "b");
    assert_string_equal(served(f->hl, &c), "");
    assert_int_equal(metric_get(METRIC_HOT_LIST_HITS) - hits_before, 2);
    size_t pages, bytes;
    hot_lists_usage(f->hl, &pages, &bytes);
    assert_int_equal(pages, 2);
    assert_true(bytes > 2);
}

static void a_change_drops_every_page_of_its_generations(void **state)
{
    fixture *f = *state;
    order_list_query mine = by_customer(7), limited = by_customer(7), other = by_customer(9);
    limited.limit = 5;
    order_list_query all = {.limit = 20};
    order_list_query paid = {.has_status = true, .status = ORDER_PAID, .limit = 20};
    order_list_query shipped = {.has_status = true, .status = ORDER_SHIPPED, .limit = 20};
    put(f->hl, &mine, "mine");
    put(f->hl, &limited, "limited");
    put(f->hl, &other, "other");
    put(f->hl, &all, "all");
    put(f->hl, &paid, "paid");
    put(f->hl, &shipped, "shipped");
    /* customer 7's order goes from pending to paid */
    order_change c = {.op = ORDER_CHANGE_UPDATE,
                      .id = 1,
                      .version = 2,
                      .customer_id = 7,
                      .old_customer_id = 7,
                      .has_old_status = true,
                      .old_status = ORDER_PENDING,
                      .has_new_status = true,
                      .new_status = ORDER_PAID};
    hot_lists_invalidate_change(f->hl, &c);
    assert_string_equal(served(f->hl, &mine), "");
    assert_string_equal(served(f->hl, &limited), "");
    assert_string_equal(served(f->hl, &all), "");
    assert_string_equal(served(f->hl, &paid), "");
    /* generations it cannot touch keep their pages */
    assert_string_equal(served(f->hl, &other), "other");
    assert_string_equal(served(f->hl, &shipped), "shipped");
}

static void a_tracked_generation_key_drops_its_pages(void **state)
{
    fixture *f = *state;
    order_list_query q = by_customer(11);
    put(f->hl, &q, "page");
    hot_lists_invalidate_generation(f->hl, "gen:customer:12");
    assert_string_equal(served(f->hl, &q), "page");
    hot_lists_invalidate_generation(f->hl, "gen:customer:11");
    assert_string_equal(served(f->hl, &q), "");
}

static void a_stale_ticket_refuses_the_put(void **state)
{
    fixture *f = *state;
    order_list_query q = by_customer(21);
    hot_lists_ticket t = hot_lists_ticket_for(f->hl, &q);
    hot_lists_invalidate_generation(f->hl, "gen:customer:21"); /* while the reader reads */
    hot_lists_put(f->hl, &q, "old", 3, t);
    assert_string_equal(served(f->hl, &q), "");
    put(f->hl, &q, "new");
    assert_string_equal(served(f->hl, &q), "new");
}

static void a_bump_after_the_put_check_still_wins(void **state)
{
    fixture *f = *state;
    order_list_query q = by_customer(22);
    put(f->hl, &q, "page"); /* checked and inserted */
    hot_lists_invalidate_generation(f->hl, "gen:customer:22");
    assert_string_equal(served(f->hl, &q), "");
    size_t pages, bytes;
    hot_lists_usage(f->hl, &pages, &bytes);
    assert_int_equal(pages, 0); /* the get dropped what can never be served */
}

static void flushes_of_either_kind_drop_every_page(void **state)
{
    fixture *f = *state;
    order_list_query q = by_customer(31);
    put(f->hl, &q, "page");
    hot_lists_ticket t = hot_lists_ticket_for(f->hl, &q);
    hot_lists_flush(f->hl);
    assert_string_equal(served(f->hl, &q), "");
    hot_lists_put(f->hl, &q, "late", 4, t);
    assert_string_equal(served(f->hl, &q), "");

    put(f->hl, &q, "again");
    t = hot_lists_ticket_for(f->hl, &q);
    hot_cache_flush(f->gate); /* FLUSHALL, or a source reconnecting */
    assert_string_equal(served(f->hl, &q), "");
    hot_lists_put(f->hl, &q, "late", 4, t);
    assert_string_equal(served(f->hl, &q), "");
}

static void a_closed_gate_or_offline_serves_nothing(void **state)
{
    fixture *f = *state;
    order_list_query q = by_customer(41);
    put(f->hl, &q, "page");
    assert_int_equal(write(f->sock[1], "x", 1), 1); /* an invalidation on the wire */
    assert_string_equal(served(f->hl, &q), "");
    char byte;
    assert_int_equal(read(f->sock[0], &byte, 1), 1);
    assert_string_equal(served(f->hl, &q), "page");

    hot_cache_set_online(f->gate, 0, false, -1);
    assert_string_equal(served(f->hl, &q), "");
    put(f->hl, &q, "while offline");
    hot_cache_set_online(f->gate, 0, true, f->sock[0]);
    assert_string_equal(served(f->hl, &q), ""); /* going online flushed it */
}

static void the_byte_budget_evicts_the_oldest(void **state)
{
    (void)state;
    /* 16 shards of 4 KiB: about twenty 100-byte pages each */
    fixture *f = make(16 * 4096, 60000);
    assert_non_null(f);
    char page[100];
    memset(page, 'p', sizeof page - 1);
    page[sizeof page - 1] = '\0';
    uint64_t evicted_before = metric_get(METRIC_HOT_LIST_EVICTIONS);
    for (int64_t c = 1; c <= 2000; c++) {
        order_list_query q = by_customer(c);
        put(f->hl, &q, page);
    }
    size_t pages, bytes;
    hot_lists_usage(f->hl, &pages, &bytes);
    assert_true(bytes <= 16 * 4096);
    assert_true(pages < 2000 && pages > 100);
    assert_int_equal(metric_get(METRIC_HOT_LIST_EVICTIONS) - evicted_before, 2000 - pages);
    order_list_query newest = by_customer(2000), oldest = by_customer(1);
    assert_string_equal(served(f->hl, &newest), page);
    assert_string_equal(served(f->hl, &oldest), "");
    void *s = f;
    teardown(&s);
}

static void pages_older_than_max_age_are_not_served(void **state)
{
    (void)state;
    fixture *f = make(1 << 20, 1);
    assert_non_null(f);
    order_list_query q = by_customer(51);
    put(f->hl, &q, "page");
    usleep(30 * 1000); /* the coarse clock ticks every few ms */
    assert_string_equal(served(f->hl, &q), "");
    void *s = f;
    teardown(&s);
}

static void one_reader_refreshes_a_page_past_three_quarters_of_its_age(void **state)
{
    (void)state;
    /* max age 2 s: due from 1.5 s; the sleep leaves 0.1 s to spare below
     * that and 0.4 s above, for a slow machine, before the page expires */
    fixture *f = make(1 << 20, 2000);
    assert_non_null(f);
    order_list_query q = by_customer(61), other = by_customer(62);
    bool due;
    put(f->hl, &q, "page");
    put(f->hl, &other, "other");
    assert_string_equal(served_refresh(f->hl, &q, &due), "page");
    assert_false(due); /* young */
    usleep(1600 * 1000);
    assert_string_equal(served_refresh(f->hl, &q, &due), "page");
    assert_true(due); /* the first reader past 1.5 s */
    assert_string_equal(served_refresh(f->hl, &q, &due), "page");
    assert_false(due);                                   /* only the first */
    assert_string_equal(served(f->hl, &other), "other"); /* not asked: not claimed */
    assert_string_equal(served_refresh(f->hl, &other, &due), "other");
    assert_true(due);
    put(f->hl, &q, "refreshed"); /* what the refresh puts replaces the page */
    assert_string_equal(served_refresh(f->hl, &q, &due), "refreshed");
    assert_false(due); /* young again */
    assert_string_equal(served_refresh(f->hl, &(order_list_query){0}, &due), "");
    assert_false(due); /* no page, nothing to refresh */
    void *s = f;
    teardown(&s);
}

static int64_t elapsed_ms(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)(now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

static void pages_filled_together_are_refreshed_over_a_quarter_of_the_max_age(void **state)
{
    (void)state;
    /* max age 4 s: refresh points from 2 s to 3 s.  Polls every 20 ms
     * note when each page first comes due.  A stall of the machine can
     * only make pages look due later, and bunch them: the bounds below
     * leave half a second for it. */
    enum { PAGES = 64 };
    fixture *f = make(1 << 20, 4000);
    assert_non_null(f);
    /* taken before the puts: the time since then is at least each page's age */
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    order_list_query q[PAGES];
    for (int i = 0; i < PAGES; i++) {
        q[i] = by_customer(1000 + i);
        put(f->hl, &q[i], "page");
    }
    int64_t first_due_ms[PAGES];
    int due_count = 0;
    for (int i = 0; i < PAGES; i++)
        first_due_ms[i] = -1;
    while (due_count < PAGES && elapsed_ms(&start) < 3800) {
        for (int i = 0; i < PAGES; i++) {
            bool due;
            assert_string_equal(served_refresh(f->hl, &q[i], &due), "page");
            if (due) {
                assert_int_equal(first_due_ms[i], -1); /* once per page */
                first_due_ms[i] = elapsed_ms(&start);
                due_count++;
            }
        }
        usleep(20 * 1000);
    }
    assert_int_equal(due_count, PAGES); /* each by three quarters (+0.8 s) */
    int64_t earliest = first_due_ms[0], latest = first_due_ms[0];
    for (int i = 1; i < PAGES; i++) {
        earliest = first_due_ms[i] < earliest ? first_due_ms[i] : earliest;
        latest = first_due_ms[i] > latest ? first_due_ms[i] : latest;
    }
    /* the coarse clock the pages use may be a tick (4 ms) off the test's */
    assert_true(earliest >= 2000 - 5);     /* none before half the max age */
    assert_true(latest - earliest >= 500); /* spread, not one moment */
    void *s = f;
    teardown(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(each_query_gets_its_own_page, setup, teardown),
        cmocka_unit_test_setup_teardown(a_change_drops_every_page_of_its_generations, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_tracked_generation_key_drops_its_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(a_stale_ticket_refuses_the_put, setup, teardown),
        cmocka_unit_test_setup_teardown(a_bump_after_the_put_check_still_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(flushes_of_either_kind_drop_every_page, setup, teardown),
        cmocka_unit_test_setup_teardown(a_closed_gate_or_offline_serves_nothing, setup, teardown),
        cmocka_unit_test(the_byte_budget_evicts_the_oldest),
        cmocka_unit_test(pages_older_than_max_age_are_not_served),
        cmocka_unit_test(one_reader_refreshes_a_page_past_three_quarters_of_its_age),
        cmocka_unit_test(pages_filled_together_are_refreshed_over_a_quarter_of_the_max_age),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
