#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "orderd/base/buf.h"

static void appends_and_stays_nul_terminated(void **state)
{
    (void)state;
    buf b = BUF_INIT;
    assert_true(buf_puts(&b, "{\"a\":"));
    assert_true(buf_append(&b, "12345", 2));
    assert_true(buf_puts(&b, "}"));
    assert_int_equal(b.len, 8);
    assert_string_equal(b.data, "{\"a\":12}");
    buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
}

static void grows_past_the_first_block(void **state)
{
    (void)state;
    buf b = BUF_INIT;
    char chunk[1000];
    memset(chunk, 'x', sizeof chunk);
    for (int i = 0; i < 100; i++)
        assert_true(buf_append(&b, chunk, sizeof chunk));
    assert_int_equal(b.len, 100000);
    assert_true(b.cap > b.len);
    assert_int_equal(b.data[b.len], '\0');
    assert_int_equal(b.data[99999], 'x');
    buf_free(&b);
}

static void starts_in_caller_storage_and_moves_out(void **state)
{
    (void)state;
    char storage[8];
    buf b;
    buf_init_in(&b, storage, sizeof storage);
    assert_true(buf_puts(&b, "1234567"));
    assert_ptr_equal(b.data, storage); /* 7 bytes and the NUL still fit */
    assert_true(buf_puts(&b, "89"));
    assert_ptr_not_equal(b.data, storage);
    assert_string_equal(b.data, "123456789");
    buf_free(&b); /* frees the heap copy, never the storage */
}

static void reserve_then_commit_writes_in_place(void **state)
{
    (void)state;
    buf b = BUF_INIT;
    assert_true(buf_puts(&b, "ab"));
    assert_true(buf_reserve(&b, 3));
    assert_true(b.cap - b.len > 3);
    memcpy(b.data + b.len, "cde", 3);
    buf_commit(&b, 3);
    assert_string_equal(b.data, "abcde");
    buf_free(&b);
}

static void steal_hands_the_bytes_on(void **state)
{
    (void)state;
    buf b = BUF_INIT;
    buf_puts(&b, "hello");
    size_t len = 0;
    char *s = buf_steal(&b, &len);
    assert_string_equal(s, "hello");
    assert_int_equal(len, 5);
    assert_null(b.data); /* b no longer owns them */
    free(s);

    /* still in caller storage: the caller gets a heap copy anyway */
    char storage[16];
    buf_init_in(&b, storage, sizeof storage);
    buf_puts(&b, "stack");
    s = buf_steal(&b, NULL);
    assert_ptr_not_equal(s, storage);
    assert_string_equal(s, "stack");
    free(s);

    /* an empty buffer gives "" */
    b = BUF_INIT;
    s = buf_steal(&b, &len);
    assert_string_equal(s, "");
    assert_int_equal(len, 0);
    free(s);
}

static void adopt_keeps_growing_a_preallocated_block(void **state)
{
    (void)state;
    char *block = malloc(4);
    assert_non_null(block);
    buf b = buf_adopt(block, 0, 4);
    assert_true(buf_puts(&b, "abc"));
    assert_ptr_equal(b.data, block);
    assert_true(buf_puts(&b, "defgh"));
    assert_string_equal(b.data, "abcdefgh");
    buf_free(&b);
}

static void an_impossible_size_fails_the_buffer_for_good(void **state)
{
    (void)state;
    buf b = BUF_INIT;
    assert_true(buf_puts(&b, "kept"));
    assert_false(buf_reserve(&b, SIZE_MAX));
    assert_true(b.failed);
    assert_false(buf_puts(&b, "x")); /* nothing after a failure */
    assert_string_equal(b.data, "kept");
    assert_null(buf_steal(&b, NULL));
    assert_null(b.data);
    buf_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(appends_and_stays_nul_terminated),
        cmocka_unit_test(grows_past_the_first_block),
        cmocka_unit_test(starts_in_caller_storage_and_moves_out),
        cmocka_unit_test(reserve_then_commit_writes_in_place),
        cmocka_unit_test(steal_hands_the_bytes_on),
        cmocka_unit_test(adopt_keeps_growing_a_preallocated_block),
        cmocka_unit_test(an_impossible_size_fails_the_buffer_for_good),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
