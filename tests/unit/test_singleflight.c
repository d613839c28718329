#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "orderd/clock.h"
#include "orderd/singleflight.h"

#define SECOND UINT64_C(1000000000)

typedef struct shared {
    singleflight *sf;
    atomic_int loads;
    atomic_int started;
    atomic_int ok;
} shared;

/* Every thread asks for key 7 at once; only a leader "loads" (slowly). */
static void *reader(void *arg)
{
    shared *s = arg;
    atomic_fetch_add(&s->started, 1);
    while (atomic_load(&s->started) < 32)
        ;
    bool leader;
    flight *f = singleflight_begin(s->sf, 7, &leader);
    if (leader) {
        atomic_fetch_add(&s->loads, 1);
        usleep(50 * 1000);
        singleflight_finish(s->sf, f, ORDERD_OK, "{\"v\":3}", 7, 3);
        atomic_fetch_add(&s->ok, 1);
        return NULL;
    }
    char *data;
    size_t len;
    int64_t version;
    orderd_err err =
        singleflight_wait(s->sf, f, clock_now_ns() + 5 * SECOND, &data, &len, &version);
    if (err == ORDERD_OK && len == 7 && memcmp(data, "{\"v\":3}", 7) == 0 && version == 3)
        atomic_fetch_add(&s->ok, 1);
    free(data);
    return NULL;
}

static void concurrent_misses_share_one_load(void **state)
{
    (void)state;
    shared s = {.sf = singleflight_create()};
    pthread_t t[32];
    for (int i = 0; i < 32; i++)
        pthread_create(&t[i], NULL, reader, &s);
    for (int i = 0; i < 32; i++)
        pthread_join(t[i], NULL);
    /* a thread that arrives after the flight ended starts a new one, so
     * allow a few; 32 would mean no sharing at all */
    assert_true(atomic_load(&s.loads) >= 1);
    assert_true(atomic_load(&s.loads) <= 3);
    assert_int_equal(atomic_load(&s.ok), 32);
    singleflight_destroy(s.sf);
}

static void waiters_get_the_leaders_error(void **state)
{
    (void)state;
    singleflight *sf = singleflight_create();
    bool leader;
    flight *lead = singleflight_begin(sf, 1, &leader);
    assert_true(leader);
    flight *follow = singleflight_begin(sf, 1, &leader);
    assert_false(leader);
    assert_ptr_equal(lead, follow);
    singleflight_finish(sf, lead, ORDERD_ERR_NOT_FOUND, NULL, 0, 0);
    char *data;
    size_t len;
    int64_t version;
    assert_int_equal(singleflight_wait(sf, follow, clock_now_ns() + SECOND, &data, &len, &version),
                     ORDERD_ERR_NOT_FOUND);
    assert_null(data);
    /* the finished flight is gone: the next miss leads a new one */
    flight *next = singleflight_begin(sf, 1, &leader);
    assert_true(leader);
    singleflight_finish(sf, next, ORDERD_OK, "x", 1, 1);
    singleflight_destroy(sf);
}

static void waiting_past_the_deadline_times_out(void **state)
{
    (void)state;
    singleflight *sf = singleflight_create();
    bool leader;
    flight *lead = singleflight_begin(sf, 2, &leader);
    flight *follow = singleflight_begin(sf, 2, &leader);
    char *data;
    size_t len;
    int64_t version;
    uint64_t start = clock_now_ns();
    assert_int_equal(singleflight_wait(sf, follow, start + SECOND / 20, &data, &len, &version),
                     ORDERD_ERR_TIMEOUT);
    assert_true(clock_now_ns() - start >= SECOND / 20);
    singleflight_finish(sf, lead, ORDERD_OK, "late", 4, 1); /* frees with the last reference */
    singleflight_destroy(sf);
}

static void different_keys_do_not_share(void **state)
{
    (void)state;
    singleflight *sf = singleflight_create();
    bool l1, l2;
    flight *a = singleflight_begin(sf, 10, &l1);
    flight *b = singleflight_begin(sf, 266, &l2); /* may share a bucket with 10 */
    assert_true(l1);
    assert_true(l2);
    assert_ptr_not_equal(a, b);
    singleflight_finish(sf, a, ORDERD_OK, "a", 1, 1);
    singleflight_finish(sf, b, ORDERD_OK, "b", 1, 1);
    singleflight_destroy(sf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(concurrent_misses_share_one_load),
        cmocka_unit_test(waiters_get_the_leaders_error),
        cmocka_unit_test(waiting_past_the_deadline_times_out),
        cmocka_unit_test(different_keys_do_not_share),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
