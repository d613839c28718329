/*
 * test_blob.c - unit tests of the shared immutable bytes (src/base/blob.c).
 * ASan checks the other half: nothing leaks, nothing is freed early.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "orderd/base/blob.h"

static void create_copies_the_bytes_and_terminates_them(void **state)
{
    (void)state;
    char text[] = "{\"id\":1}";
    blob *b = blob_create(text, 8);
    assert_non_null(b);
    text[0] = 'x'; /* the blob has its own copy */
    assert_int_equal(b->len, 8);
    assert_string_equal(b->data, "{\"id\":1}");
    assert_int_equal(atomic_load(&b->refs), 1);
    blob_release(b);
}

static void the_last_release_frees(void **state)
{
    (void)state;
    blob *b = blob_create("abc", 3);
    assert_ptr_equal(blob_retain(b), b);
    assert_int_equal(atomic_load(&b->refs), 2);
    blob_release(b);
    assert_string_equal(b->data, "abc"); /* still held once */
    blob_release(b);
    blob_release(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_copies_the_bytes_and_terminates_them),
        cmocka_unit_test(the_last_release_frees),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
