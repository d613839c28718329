#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "orderd/http/request_id.h"

static void valid_client_ids_are_kept(void **state)
{
    (void)state;
    char out[REQUEST_ID_MAX + 1];
    request_id_assign("abc-123_X.y", out);
    assert_string_equal(out, "abc-123_X.y");

    char longest[REQUEST_ID_MAX + 1];
    memset(longest, 'a', REQUEST_ID_MAX);
    longest[REQUEST_ID_MAX] = '\0';
    assert_true(request_id_is_valid(longest));
    request_id_assign(longest, out);
    assert_string_equal(out, longest);
}

static void invalid_client_ids_are_replaced(void **state)
{
    (void)state;
    char too_long[REQUEST_ID_MAX + 2];
    memset(too_long, 'a', REQUEST_ID_MAX + 1);
    too_long[REQUEST_ID_MAX + 1] = '\0';
    const char *bad[] = {"", "has space", "semi;colon", "new\nline", "ünï", too_long};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(request_id_is_valid(bad[i]));
        char out[REQUEST_ID_MAX + 1];
        request_id_assign(bad[i], out);
        assert_int_equal(strlen(out), 36);
        assert_string_not_equal(out, bad[i]);
    }
    assert_false(request_id_is_valid(NULL));
}

static void generated_ids_are_uuid_v4_and_differ(void **state)
{
    (void)state;
    char a[37], b[37];
    request_id_generate(a);
    request_id_generate(b);
    assert_string_not_equal(a, b);
    assert_int_equal(strlen(a), 36);
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            assert_int_equal(a[i], '-');
        else
            assert_non_null(strchr("0123456789abcdef", a[i]));
    }
    assert_int_equal(a[14], '4');           /* version */
    assert_non_null(strchr("89ab", a[19])); /* variant */
    assert_true(request_id_is_valid(a));    /* our own ids pass our own check */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_client_ids_are_kept),
        cmocka_unit_test(invalid_client_ids_are_replaced),
        cmocka_unit_test(generated_ids_are_uuid_v4_and_differ),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
