#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "orderd/base/clock.h"
#include "orderd/base/metrics.h"
#include "orderd/store/batch_queue.h"

#define ITEMS 5

static batch_item items[ITEMS];

static void push_all(batch_queue *q)
{
    for (int i = 0; i < ITEMS; i++)
        assert_true(batch_queue_push(q, &items[i]));
}

static void take_hands_out_oldest_first_up_to_max(void **state)
{
    (void)state;
    batch_queue q;
    batch_queue_init(&q);
    push_all(&q);
    batch_item *batch[ITEMS];
    assert_int_equal(batch_queue_take(&q, batch, 3), 3);
    for (int i = 0; i < 3; i++)
        assert_ptr_equal(batch[i], &items[i]);
    assert_int_equal(batch_queue_take(&q, batch, 3), 2);
    assert_ptr_equal(batch[0], &items[3]);
    assert_ptr_equal(batch[1], &items[4]);
    /* emptied and refilled: the tail was reset */
    assert_true(batch_queue_push(&q, &items[0]));
    assert_int_equal(batch_queue_take(&q, batch, 3), 1);
    assert_ptr_equal(batch[0], &items[0]);
    batch_queue_stop(&q);
    batch_queue_destroy(&q);
}

static void take_ready_hands_out_what_is_queued_and_never_waits(void **state)
{
    (void)state;
    batch_queue q;
    batch_queue_init(&q);
    batch_item *batch[ITEMS];
    /* empty and running: a blocking take would wait here for ever */
    assert_int_equal(batch_queue_take_ready(&q, batch, ITEMS), 0);
    push_all(&q);
    assert_int_equal(batch_queue_take_ready(&q, batch, 2), 2);
    assert_ptr_equal(batch[0], &items[0]);
    assert_ptr_equal(batch[1], &items[1]);
    assert_int_equal(batch_queue_take_ready(&q, batch, ITEMS), 3);
    for (int i = 0; i < 3; i++)
        assert_ptr_equal(batch[i], &items[i + 2]);
    assert_int_equal(batch_queue_take_ready(&q, batch, ITEMS), 0);
    /* emptied and refilled: the tail was reset */
    assert_true(batch_queue_push(&q, &items[4]));
    assert_int_equal(batch_queue_take_ready(&q, batch, ITEMS), 1);
    assert_ptr_equal(batch[0], &items[4]);
    batch_queue_stop(&q);
    batch_queue_destroy(&q);
}

static void stop_refuses_new_items_but_hands_out_the_queued(void **state)
{
    (void)state;
    batch_queue q;
    batch_queue_init(&q);
    assert_true(batch_queue_push(&q, &items[0]));
    assert_true(batch_queue_push(&q, &items[1]));
    batch_queue_stop(&q);
    batch_queue_stop(&q); /* idempotent */
    assert_false(batch_queue_push(&q, &items[2]));
    batch_item *batch[ITEMS];
    assert_int_equal(batch_queue_take(&q, batch, ITEMS), 2);
    assert_ptr_equal(batch[0], &items[0]);
    assert_ptr_equal(batch[1], &items[1]);
    /* stopped and empty: 0 at once, no waiting */
    assert_int_equal(batch_queue_take(&q, batch, ITEMS), 0);
    batch_queue_destroy(&q);
    batch_queue_destroy(NULL);
}

static void *take_once(void *arg)
{
    batch_item *batch[ITEMS];
    static int taken;
    taken = batch_queue_take(arg, batch, ITEMS);
    return &taken;
}

static void stop_wakes_a_waiting_consumer(void **state)
{
    (void)state;
    batch_queue q;
    batch_queue_init(&q);
    pthread_t consumer;
    assert_int_equal(pthread_create(&consumer, NULL, take_once, &q), 0);
    /* most likely waiting by then; before or during its wait, take must return */
    nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
    batch_queue_stop(&q);
    void *taken;
    pthread_join(consumer, &taken);
    assert_int_equal(*(int *)taken, 0);
    batch_queue_destroy(&q);
}

typedef struct seen {
    int batches;
    int sizes[ITEMS];
    batch_item *order[ITEMS];
    int count;
} seen;

static void record(void *ctx, batch_item **batch, int n)
{
    seen *s = ctx;
    s->sizes[s->batches++] = n;
    for (int i = 0; i < n; i++)
        s->order[s->count++] = batch[i];
}

static void consume_runs_every_batch_until_stopped_and_empty(void **state)
{
    (void)state;
    batch_queue q;
    batch_queue_init(&q);
    push_all(&q);
    batch_queue_stop(&q);
    seen s = {0};
    batch_queue_consume(&q, 2, record, &s); /* returns: stopped and drained */
    assert_int_equal(s.batches, 3);
    assert_int_equal(s.sizes[0], 2);
    assert_int_equal(s.sizes[1], 2);
    assert_int_equal(s.sizes[2], 1);
    for (int i = 0; i < ITEMS; i++)
        assert_ptr_equal(s.order[i], &items[i]);
    batch_queue_destroy(&q);
}

static batch_item *expired[ITEMS];
static int expired_count;

static void expire(batch_item *item)
{
    expired[expired_count++] = item;
}

static void drop_expired_answers_the_late_and_keeps_the_rest_in_order(void **state)
{
    (void)state;
    uint64_t deadlines[ITEMS] = {10, 5, 20, 5, 30};
    batch_item *batch[ITEMS];
    for (int i = 0; i < ITEMS; i++) {
        items[i].deadline_ns = deadlines[i];
        batch[i] = &items[i];
    }
    expired_count = 0;
    /* a deadline equal to now has passed */
    assert_int_equal(batch_drop_expired(batch, ITEMS, 10, expire), 2);
    assert_ptr_equal(batch[0], &items[2]);
    assert_ptr_equal(batch[1], &items[4]);
    assert_int_equal(expired_count, 3);
    assert_ptr_equal(expired[0], &items[0]);
    assert_ptr_equal(expired[1], &items[1]);
    assert_ptr_equal(expired[2], &items[3]);

    expired_count = 0;
    assert_int_equal(batch_drop_expired(batch, 2, 0, expire), 2); /* none late */
    assert_int_equal(expired_count, 0);
    assert_int_equal(batch_drop_expired(batch, 2, 100, expire), 0); /* all late */
    assert_int_equal(expired_count, 2);
}

static void latest_deadline_is_the_largest(void **state)
{
    (void)state;
    uint64_t deadlines[3] = {3, 9, 4};
    batch_item *batch[3];
    for (int i = 0; i < 3; i++) {
        items[i].deadline_ns = deadlines[i];
        batch[i] = &items[i];
    }
    assert_int_equal(batch_latest_deadline(batch, 3), 9);
    assert_int_equal(batch_latest_deadline(batch, 1), 3);
    assert_int_equal(batch_latest_deadline(batch, 0), 0);
}

static void deadline_groups_keep_close_deadlines_together(void **state)
{
    (void)state;
    batch_item a[6] = {{.deadline_ns = 1000}, {.deadline_ns = 1040}, {.deadline_ns = 1010},
                       {.deadline_ns = 1200}, {.deadline_ns = 1190}, {.deadline_ns = 5000}};
    batch_item *batch[6];
    for (int i = 0; i < 6; i++)
        batch[i] = &a[i];
    assert_int_equal(batch_deadline_group(batch, 6, 50), 3);     /* 1000..1040 */
    assert_int_equal(batch_deadline_group(batch + 3, 3, 50), 2); /* 1190..1200 */
    assert_int_equal(batch_deadline_group(batch + 5, 1, 50), 1);
    assert_int_equal(batch_deadline_group(batch, 6, 10000), 6);
    assert_int_equal(batch_deadline_group(batch, 0, 50), 0);
    /* an earlier deadline after a later one still counts from the spread */
    batch_item b[3] = {{.deadline_ns = 1040}, {.deadline_ns = 1000}, {.deadline_ns = 1060}};
    batch_item *rev[3] = {&b[0], &b[1], &b[2]};
    assert_int_equal(batch_deadline_group(rev, 3, 50), 2);
}

/* items[i]'s kind for the tests below: its deadline */
static bool same_kind(const batch_item *a, const batch_item *b)
{
    return a->deadline_ns == b->deadline_ns;
}

static bool is_even(const batch_item *item)
{
    return item->deadline_ns % 2 == 0;
}

static void partition_is_stable_on_both_sides(void **state)
{
    (void)state;
    batch_item it[6];
    batch_item *batch[6];
    const uint64_t kinds[6] = {1, 2, 3, 4, 6, 5};
    for (int i = 0; i < 6; i++) {
        it[i].deadline_ns = kinds[i];
        batch[i] = &it[i];
    }
    assert_int_equal(batch_partition(batch, 6, is_even), 3);
    const int order[6] = {1, 3, 4, 0, 2, 5};
    for (int i = 0; i < 6; i++)
        assert_ptr_equal(batch[i], &it[order[i]]);
    assert_int_equal(batch_partition(batch, 0, is_even), 0);
}

static void distinct_first_defers_every_later_one_of_a_kind(void **state)
{
    (void)state;
    /* kinds A B A C B A: A, B, C go first; then the second A, second B,
     * third A, each behind its kind's earlier ones */
    batch_item it[6];
    batch_item *batch[6];
    const uint64_t kinds[6] = {10, 20, 10, 30, 20, 10};
    for (int i = 0; i < 6; i++) {
        it[i].deadline_ns = kinds[i];
        batch[i] = &it[i];
    }
    assert_int_equal(batch_distinct_first(batch, 6, same_kind), 3);
    const int order[6] = {0, 1, 3, 2, 4, 5};
    for (int i = 0; i < 6; i++)
        assert_ptr_equal(batch[i], &it[order[i]]);
    /* the deferred ones, taken again: A and B, then the last A alone */
    assert_int_equal(batch_distinct_first(batch + 3, 3, same_kind), 2);
    assert_ptr_equal(batch[3], &it[2]);
    assert_ptr_equal(batch[4], &it[4]);
    assert_ptr_equal(batch[5], &it[5]);
    assert_int_equal(batch_distinct_first(batch + 5, 1, same_kind), 1);
}

/* batch_run_groups: what each call of run saw, as item indexes */
static batch_item group_items[5];
static int calls, group_seen[8][5], group_n[8];
static int expired_count;

static void count_expired(batch_item *item)
{
    (void)item;
    expired_count++;
}

static bool same_tag(const batch_item *a, const batch_item *b)
{
    return (a->deadline_ns & 1) == (b->deadline_ns & 1);
}

/* Sends the group's first item again, once, on the first call. */
static int record_group(void *ctx, batch_item **group, int n)
{
    (void)ctx;
    assert_true(calls < 8);
    for (int i = 0; i < n; i++)
        group_seen[calls][i] = (int)(group[i] - group_items);
    group_n[calls] = n;
    return calls++ == 0 ? 1 : 0;
}

static void run_groups_resends_and_keeps_kinds_apart(void **state)
{
    (void)state;
    /* 0 and 2 are of one kind, 1 and 3 of another (odd and even
     * deadlines), 4 has expired */
    const uint64_t deadlines[5] = {UINT64_MAX - 2, UINT64_MAX - 1, UINT64_MAX - 4, UINT64_MAX - 3,
                                   0};
    batch_item *batch[5];
    for (int i = 0; i < 5; i++) {
        group_items[i].deadline_ns = deadlines[i];
        batch[i] = &group_items[i];
    }
    calls = expired_count = 0;
    batch_group_rules rules = {1000, count_expired, same_tag};
    batch_run_groups(batch, 5, &rules, record_group, NULL);
    assert_int_equal(expired_count, 1);
    /* 0 and 1 first (2 and 3 share their kinds); 0 is sent again and
     * still keeps 2 behind it; 2 goes last */
    const int want[3][2] = {{0, 1}, {0, 3}, {2, -1}};
    const int want_n[3] = {2, 2, 1};
    assert_int_equal(calls, 3);
    for (int c = 0; c < 3; c++) {
        assert_int_equal(group_n[c], want_n[c]);
        for (int i = 0; i < want_n[c]; i++)
            assert_int_equal(group_seen[c][i], want[c][i]);
    }
}

/* ---- standbys -------------------------------------------------------------- */

/* A consumer thread that records which items it took and when; the first
 * batch of a "holding" consumer waits until released. */
typedef struct standby_consumer {
    batch_queue *q;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    bool hold_first; /* the first batch waits for release */
    bool released;
    bool in_first_batch;
    int taken;
    batch_item *got[ITEMS];
    uint64_t got_at_ns[ITEMS];
} standby_consumer;

static void standby_record(void *ctx, batch_item **batch, int n)
{
    standby_consumer *c = ctx;
    uint64_t now = clock_now_ns();
    pthread_mutex_lock(&c->lock);
    bool first = c->taken == 0;
    for (int i = 0; i < n; i++) {
        c->got_at_ns[c->taken] = now;
        c->got[c->taken++] = batch[i];
    }
    if (first && c->hold_first) {
        c->in_first_batch = true;
        pthread_cond_broadcast(&c->changed);
        while (!c->released)
            pthread_cond_wait(&c->changed, &c->lock);
    }
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->lock);
}

static void *standby_run(void *arg)
{
    standby_consumer *c = arg;
    batch_queue_consume(c->q, ITEMS, standby_record, c);
    return NULL;
}

static int consumers_of(batch_queue *q)
{
    pthread_mutex_lock(&q->lock);
    int n = q->consumers;
    pthread_mutex_unlock(&q->lock);
    return n;
}

/* Starts c on q once the consumers before it have registered, so which
 * one is first is decided by the test, not by the scheduler. */
static void standby_start(standby_consumer *c, batch_queue *q, bool hold_first)
{
    *c = (standby_consumer){.q = q, .hold_first = hold_first};
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->changed, NULL);
    int before = consumers_of(q);
    assert_int_equal(pthread_create(&c->thread, NULL, standby_run, c), 0);
    while (consumers_of(q) == before)
        nanosleep(&(struct timespec){0, 1000 * 1000}, NULL);
}

/* Waits (up to 10 s) until c has taken want items; how many it has. */
static int standby_wait_taken(standby_consumer *c, int want)
{
    uint64_t give_up = clock_now_ns() + 10ull * 1000 * 1000 * 1000;
    pthread_mutex_lock(&c->lock);
    while (c->taken < want && clock_now_ns() < give_up) {
        pthread_mutex_unlock(&c->lock);
        nanosleep(&(struct timespec){0, 1000 * 1000}, NULL);
        pthread_mutex_lock(&c->lock);
    }
    int taken = c->taken;
    pthread_mutex_unlock(&c->lock);
    return taken;
}

static void standby_finish(standby_consumer *c)
{
    pthread_join(c->thread, NULL);
    pthread_cond_destroy(&c->changed);
    pthread_mutex_destroy(&c->lock);
}

static void a_standby_takes_nothing_while_the_first_keeps_up(void **state)
{
    (void)state;
    batch_queue q;
    batch_queue_init(&q);
    /* far longer than any batch here takes */
    batch_queue_set_standby(&q, 60ull * 1000 * 1000 * 1000, METRIC_WRITE_STANDBY_BATCHES);
    standby_consumer first, standby;
    standby_start(&first, &q, false);
    standby_start(&standby, &q, false);
    uint64_t counted = metric_get(METRIC_WRITE_STANDBY_BATCHES);
    for (int i = 0; i < ITEMS; i++) {
        assert_true(batch_queue_push(&q, &items[i]));
        assert_int_equal(standby_wait_taken(&first, i + 1), i + 1);
    }
    batch_queue_stop(&q);
    standby_finish(&first);
    standby_finish(&standby);
    assert_int_equal(standby.taken, 0);
    for (int i = 0; i < ITEMS; i++)
        assert_ptr_equal(first.got[i], &items[i]);
    assert_int_equal(metric_get(METRIC_WRITE_STANDBY_BATCHES), counted);
    batch_queue_destroy(&q);
}

static void a_standby_takes_the_work_behind_a_batch_that_runs_long(void **state)
{
    (void)state;
    const uint64_t after_ns = 50 * 1000 * 1000;
    batch_queue q;
    batch_queue_init(&q);
    batch_queue_set_standby(&q, after_ns, METRIC_AMEND_STANDBY_BATCHES);
    standby_consumer first, standby;
    standby_start(&first, &q, true);
    standby_start(&standby, &q, false);
    uint64_t counted = metric_get(METRIC_AMEND_STANDBY_BATCHES);

    /* the first consumer takes item 0 and is stuck on it */
    assert_true(batch_queue_push(&q, &items[0]));
    pthread_mutex_lock(&first.lock);
    while (!first.in_first_batch)
        pthread_cond_wait(&first.changed, &first.lock);
    uint64_t stuck_since = first.got_at_ns[0];
    pthread_mutex_unlock(&first.lock);

    /* item 1 waits behind it, until the standby's time has come */
    assert_true(batch_queue_push(&q, &items[1]));
    assert_int_equal(standby_wait_taken(&standby, 1), 1);
    assert_ptr_equal(standby.got[0], &items[1]);
    assert_true(standby.got_at_ns[0] - stuck_since >= after_ns);
    assert_int_equal(metric_get(METRIC_AMEND_STANDBY_BATCHES), counted + 1);

    /* released, the first takes new work at once again */
    pthread_mutex_lock(&first.lock);
    first.released = true;
    pthread_cond_broadcast(&first.changed);
    pthread_mutex_unlock(&first.lock);
    for (;;) { /* until it waits for work again */
        pthread_mutex_lock(&q.lock);
        bool waiting = q.first_busy_since_ns == 0;
        pthread_mutex_unlock(&q.lock);
        if (waiting)
            break;
        nanosleep(&(struct timespec){0, 1000 * 1000}, NULL);
    }
    assert_true(batch_queue_push(&q, &items[2]));
    assert_int_equal(standby_wait_taken(&first, 2), 2);
    assert_ptr_equal(first.got[1], &items[2]);

    batch_queue_stop(&q);
    standby_finish(&first);
    standby_finish(&standby);
    assert_int_equal(standby.taken, 1);
    batch_queue_destroy(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(take_hands_out_oldest_first_up_to_max),
        cmocka_unit_test(take_ready_hands_out_what_is_queued_and_never_waits),
        cmocka_unit_test(stop_refuses_new_items_but_hands_out_the_queued),
        cmocka_unit_test(stop_wakes_a_waiting_consumer),
        cmocka_unit_test(consume_runs_every_batch_until_stopped_and_empty),
        cmocka_unit_test(drop_expired_answers_the_late_and_keeps_the_rest_in_order),
        cmocka_unit_test(latest_deadline_is_the_largest),
        cmocka_unit_test(deadline_groups_keep_close_deadlines_together),
        cmocka_unit_test(partition_is_stable_on_both_sides),
        cmocka_unit_test(distinct_first_defers_every_later_one_of_a_kind),
        cmocka_unit_test(run_groups_resends_and_keeps_kinds_apart),
        cmocka_unit_test(a_standby_takes_nothing_while_the_first_keeps_up),
        cmocka_unit_test(a_standby_takes_the_work_behind_a_batch_that_runs_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
