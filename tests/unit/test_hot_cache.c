#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "orderd/base/metrics.h"
#include "orderd/cache/hot_cache.h"

typedef struct fixture {
    hot_cache *hc;
    int sock[2]; /* sock[0] plays the subscriber connection */
} fixture;

static int setup(void **state)
{
    static fixture f;
    f.hc = hot_cache_create(1000, 60000, 1);
    if (!f.hc || socketpair(AF_UNIX, SOCK_STREAM, 0, f.sock) != 0)
        return -1;
    hot_cache_set_online(f.hc, 0, true, f.sock[0]);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    hot_cache_destroy(f->hc);
    close(f->sock[0]);
    close(f->sock[1]);
    return 0;
}

static void put(hot_cache *hc, int64_t id, int64_t version, const char *json)
{
    hot_cache_put(hc, id, version, json, strlen(json), hot_cache_ticket(hc, id));
}

static void hit_returns_the_bytes_and_version(void **state)
{
    fixture *f = *state;
    int64_t version = 0;
    uint64_t hits_before = metric_get(METRIC_HOT_CACHE_HITS);
    put(f->hc, 1, 3, "{\"id\":1}");
    blob *b = hot_cache_get(f->hc, 1, &version);
    assert_non_null(b);
    assert_int_equal(version, 3);
    assert_int_equal(b->len, 8);
    assert_string_equal(b->data, "{\"id\":1}");
    blob_release(b);
    assert_null(hot_cache_get(f->hc, 2, &version));
    assert_int_equal(metric_get(METRIC_HOT_CACHE_HITS) - hits_before, 1);
}

static void a_stale_ticket_refuses_the_put(void **state)
{
    fixture *f = *state;
    int64_t version = 0;
    uint64_t ticket = hot_cache_ticket(f->hc, 5);
    hot_cache_invalidate(f->hc, 5); /* arrives while the reader talks to Redis */
    hot_cache_put(f->hc, 5, 1, "old", 3, ticket);
    assert_null(hot_cache_get(f->hc, 5, &version));
    put(f->hc, 5, 2, "new");
    blob *b = hot_cache_get(f->hc, 5, &version);
    assert_non_null(b);
    assert_string_equal(b->data, "new");
    blob_release(b);
}

static void an_older_version_never_replaces_a_newer_one(void **state)
{
    fixture *f = *state;
    int64_t version = 0;
    put(f->hc, 6, 4, "v4");
    put(f->hc, 6, 3, "v3");
    blob *b = hot_cache_get(f->hc, 6, &version);
    assert_string_equal(b->data, "v4");
    assert_int_equal(version, 4);
    blob_release(b);
}

static void pending_bytes_on_the_subscriber_close_the_gate(void **state)
{
    fixture *f = *state;
    int64_t version = 0;
    put(f->hc, 7, 1, "x");
    assert_int_equal(write(f->sock[1], "*3\r\n", 4), 4); /* an invalidation on its way */
    assert_null(hot_cache_get(f->hc, 7, &version));
    char buf[8];
    assert_int_equal(read(f->sock[0], buf, sizeof buf), 4);
    blob *b = hot_cache_get(f->hc, 7, &version);
    assert_non_null(b);
    blob_release(b);
    hot_cache_set_busy(f->hc, 0, true); /* the listener is applying a batch */
    assert_null(hot_cache_get(f->hc, 7, &version));
    hot_cache_set_busy(f->hc, 0, false);
}

static void offline_flushes_and_serves_nothing(void **state)
{
    fixture *f = *state;
    int64_t version = 0;
    put(f->hc, 8, 1, "x");
    hot_cache_set_online(f->hc, 0, false, -1);
    assert_null(hot_cache_get(f->hc, 8, &version));
    put(f->hc, 8, 1, "x"); /* puts while offline are dropped */
    hot_cache_set_online(f->hc, 0, true, f->sock[0]);
    assert_null(hot_cache_get(f->hc, 8, &version));
    assert_int_equal(hot_cache_size(f->hc), 0);
}

static void a_blob_outlives_its_invalidation(void **state)
{
    fixture *f = *state;
    int64_t version = 0;
    put(f->hc, 9, 1, "still sending");
    blob *b = hot_cache_get(f->hc, 9, &version);
    hot_cache_invalidate(f->hc, 9);
    hot_cache_flush(f->hc);
    assert_string_equal(b->data, "still sending"); /* ASan would flag a use after free */
    blob_release(b);
}

static void a_full_cache_admits_an_order_on_its_second_offer(void **state)
{
    (void)state;
    int sock[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sock), 0);
    hot_cache *hc = hot_cache_create(64, 60000, 1); /* about one entry per shard */
    hot_cache_set_online(hc, 0, true, sock[0]);
    /* with room, every order is admitted at once */
    assert_true(hot_cache_admit(hc, 1));
    assert_true(hot_cache_admit(hc, 1));
    for (int64_t id = 1; id <= 10000; id++)
        put(hc, id, 1, "x"); /* every shard full */
    /* an order it holds is admitted (a newer version replaces it) */
    assert_true(hot_cache_admit(hc, 10000));
    uint64_t refused_before = metric_get(METRIC_HOT_CACHE_ADMISSIONS_REFUSED);
    int refused = 0, admitted_second = 0;
    for (int64_t id = 20001; id <= 20100; id++) {
        if (!hot_cache_admit(hc, id)) {
            refused++;
            admitted_second += hot_cache_admit(hc, id); /* its second offer */
        }
    }
    assert_int_equal(refused, 100); /* full: no first offer gets in */
    assert_int_equal(admitted_second, 100);
    assert_int_equal(metric_get(METRIC_HOT_CACHE_ADMISSIONS_REFUSED) - refused_before, 100);
    /* admitted once, the slot was cleared: the next full-cache offer of
     * the same order, if it was evicted meanwhile, is a first one again */
    assert_false(hot_cache_admit(hc, 20001));
    /* a flush makes room: admitted at once */
    hot_cache_flush(hc);
    assert_true(hot_cache_admit(hc, 30001));
    hot_cache_destroy(hc);
    close(sock[0]);
    close(sock[1]);
}

static void full_shards_evict_the_oldest(void **state)
{
    (void)state;
    int64_t version = 0;
    int sock[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sock), 0);
    hot_cache *hc = hot_cache_create(64, 60000, 1); /* about one entry per shard */
    hot_cache_set_online(hc, 0, true, sock[0]);
    uint64_t evicted_before = metric_get(METRIC_HOT_CACHE_EVICTIONS_CAPACITY);
    for (int64_t id = 1; id <= 10000; id++)
        put(hc, id, 1, "x");
    assert_true(hot_cache_size(hc) <= 64 * 2 + 64);
    /* every put added one entry; what is missing was evicted, and counted */
    assert_int_equal(metric_get(METRIC_HOT_CACHE_EVICTIONS_CAPACITY) - evicted_before,
                     10000 - hot_cache_size(hc));
    blob *b = hot_cache_get(hc, 10000, &version);
    assert_non_null(b); /* the newest survives */
    blob_release(b);
    hot_cache_destroy(hc);
    close(sock[0]);
    close(sock[1]);
}

static void entries_older_than_max_age_are_not_served(void **state)
{
    (void)state;
    int64_t version = 0;
    int sock[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sock), 0);
    hot_cache *hc = hot_cache_create(100, 30, 1);
    hot_cache_set_online(hc, 0, true, sock[0]);
    put(hc, 1, 1, "x");
    blob *b = hot_cache_get(hc, 1, &version);
    assert_non_null(b);
    blob_release(b);
    usleep(80 * 1000);
    assert_null(hot_cache_get(hc, 1, &version));
    hot_cache_destroy(hc);
    close(sock[0]);
    close(sock[1]);
}

static void every_source_must_be_online_and_quiet(void **state)
{
    (void)state;
    int64_t version = 0;
    int tracking[2], feed[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, tracking), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, feed), 0);
    hot_cache *hc = hot_cache_create(100, 60000, 2);
    hot_cache_set_online(hc, 0, true, tracking[0]);
    put(hc, 1, 1, "x"); /* refused: the second source is not online yet */
    assert_null(hot_cache_get(hc, 1, &version));
    hot_cache_set_online(hc, 1, true, feed[0]);
    put(hc, 1, 1, "x");
    blob *b = hot_cache_get(hc, 1, &version);
    assert_non_null(b);
    blob_release(b);
    assert_int_equal(write(feed[1], "n", 1), 1); /* a notification arrives on the feed */
    assert_null(hot_cache_get(hc, 1, &version));
    char c;
    assert_int_equal(read(feed[0], &c, 1), 1);
    hot_cache_set_busy(hc, 1, true); /* the feed is applying it */
    assert_null(hot_cache_get(hc, 1, &version));
    hot_cache_set_busy(hc, 1, false);
    b = hot_cache_get(hc, 1, &version);
    assert_non_null(b);
    blob_release(b);
    hot_cache_set_online(hc, 1, false, -1); /* one source lost: flushed, offline */
    assert_null(hot_cache_get(hc, 1, &version));
    hot_cache_set_online(hc, 1, true, feed[0]);
    assert_null(hot_cache_get(hc, 1, &version));
    assert_null(hot_cache_create(100, 60000, 0));
    assert_null(hot_cache_create(100, 60000, HOT_CACHE_SOURCES_MAX + 1));
    hot_cache_destroy(hc);
    close(tracking[0]);
    close(tracking[1]);
    close(feed[0]);
    close(feed[1]);
}

/* An attached representation comes back beside the JSON, at its version. */
static void an_attached_representation_is_served_beside_the_json(void **state)
{
    fixture *f = *state;
    int64_t version = 0;
    put(f->hc, 5, 2, "{\"id\":5}");
    blob *alt = (blob *)1;
    blob *json = hot_cache_get_with(f->hc, 5, HOT_CACHE_MSGPACK, &version, &alt);
    assert_non_null(json);
    assert_null(alt); /* nothing attached yet: the caller builds it */
    blob *packed = blob_create("\x81\xa2id\x05", 5);
    hot_cache_attach(f->hc, 5, version, HOT_CACHE_MSGPACK, packed);
    blob_release(packed); /* the cache took its own reference */
    blob_release(json);

    json = hot_cache_get_with(f->hc, 5, HOT_CACHE_MSGPACK, &version, &alt);
    assert_non_null(json);
    assert_non_null(alt);
    assert_int_equal(version, 2);
    assert_int_equal(alt->len, 5);
    assert_memory_equal(alt->data, "\x81\xa2id\x05", 5);
    assert_string_equal(json->data, "{\"id\":5}");
    blob_release(json);
    blob_release(alt);
}

/* A representation of another version never lands, and an invalidation
 * or a new version drops the one attached. */
static void representations_die_with_their_entry(void **state)
{
    fixture *f = *state;
    int64_t version = 0;
    blob *alt = NULL;
    blob *packed = blob_create("old", 3);
    put(f->hc, 6, 4, "{\"id\":6}");
    hot_cache_attach(f->hc, 6, 3, HOT_CACHE_MSGPACK, packed); /* built from version 3 */
    blob *json = hot_cache_get_with(f->hc, 6, HOT_CACHE_MSGPACK, &version, &alt);
    assert_non_null(json);
    assert_null(alt);
    blob_release(json);

    hot_cache_attach(f->hc, 6, 4, HOT_CACHE_MSGPACK, packed);
    assert_true(hot_cache_invalidate(f->hc, 6));
    put(f->hc, 6, 4, "{\"id\":6}"); /* the same version read again */
    json = hot_cache_get_with(f->hc, 6, HOT_CACHE_MSGPACK, &version, &alt);
    assert_non_null(json);
    assert_null(alt); /* the invalidation took it */
    blob_release(json);

    hot_cache_attach(f->hc, 6, 4, HOT_CACHE_MSGPACK, packed);
    put(f->hc, 6, 5, "{\"id\":6,\"v\":5}");
    json = hot_cache_get_with(f->hc, 6, HOT_CACHE_MSGPACK, &version, &alt);
    assert_non_null(json);
    assert_int_equal(version, 5);
    assert_null(alt); /* a new version starts with its JSON alone */
    blob_release(json);

    hot_cache_invalidate(f->hc, 6);
    hot_cache_attach(f->hc, 6, 5, HOT_CACHE_MSGPACK, packed); /* no entry: nothing lands */
    assert_null(hot_cache_get_with(f->hc, 6, HOT_CACHE_MSGPACK, &version, &alt));
    blob_release(packed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(hit_returns_the_bytes_and_version, setup, teardown),
        cmocka_unit_test_setup_teardown(a_stale_ticket_refuses_the_put, setup, teardown),
        cmocka_unit_test_setup_teardown(an_older_version_never_replaces_a_newer_one, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(pending_bytes_on_the_subscriber_close_the_gate, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(offline_flushes_and_serves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(a_blob_outlives_its_invalidation, setup, teardown),
        cmocka_unit_test_setup_teardown(an_attached_representation_is_served_beside_the_json, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(representations_die_with_their_entry, setup, teardown),
        cmocka_unit_test(full_shards_evict_the_oldest),
        cmocka_unit_test(a_full_cache_admits_an_order_on_its_second_offer),
        cmocka_unit_test(entries_older_than_max_age_are_not_served),
        cmocka_unit_test(every_source_must_be_online_and_quiet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
