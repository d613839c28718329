/*
 * test_client_address.c - unit tests of src/auth/client_address.c:
 * X-Forwarded-For is believed from trusted proxies only, walked from the
 * right; the list's addresses and CIDRs, IPv4 and IPv6.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "orderd/auth/client_address.h"

#define UNUSED __attribute__((unused))

static void test_parse(void **state UNUSED)
{
    char err[128];
    proxy_list *l = proxy_list_parse("10.0.0.0/8, 127.0.0.1,::1 , fd00::/8", err, sizeof err);
    assert_non_null(l);
    assert_true(proxy_list_contains(l, "10.200.3.4"));
    assert_true(proxy_list_contains(l, "127.0.0.1"));
    assert_false(proxy_list_contains(l, "127.0.0.2"));
    assert_true(proxy_list_contains(l, "::1"));
    assert_true(proxy_list_contains(l, "fd12::5"));
    assert_false(proxy_list_contains(l, "fe80::1"));
    assert_false(proxy_list_contains(l, "not an address"));
    proxy_list_destroy(l);
    l = proxy_list_parse("", err, sizeof err);
    assert_non_null(l);
    assert_false(proxy_list_contains(l, "127.0.0.1"));
    proxy_list_destroy(l);
    const char *bad[] = {"10.0.0.0/33", "nginx", "1.2.3.4/", "1.2.3.4/x", "::1/129"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_null(proxy_list_parse(bad[i], err, sizeof err));
        assert_non_null(strstr(err, "trusted_proxies"));
    }
    l = proxy_list_parse("0.0.0.0/0", err, sizeof err);
    assert_true(proxy_list_contains(l, "8.8.8.8"));
    proxy_list_destroy(l);
}

static void test_forwarded_for(void **state UNUSED)
{
    char err[128], out[CLIENT_ADDRESS_MAX + 1];
    proxy_list *l = proxy_list_parse("127.0.0.1, 10.0.0.0/8", err, sizeof err);
    /* an untrusted peer's header is ignored */
    client_address(l, "192.0.2.1", "198.51.100.7", out);
    assert_string_equal(out, "192.0.2.1");
    /* a trusted peer: the rightmost hop it did not vouch for */
    client_address(l, "127.0.0.1", "198.51.100.7", out);
    assert_string_equal(out, "198.51.100.7");
    client_address(l, "127.0.0.1", "6.6.6.6, 198.51.100.7, 10.1.1.1", out);
    assert_string_equal(out, "198.51.100.7");
    /* whatever a client writes at the left does not matter */
    client_address(l, "127.0.0.1", "10.9.9.9,203.0.113.5", out);
    assert_string_equal(out, "203.0.113.5");
    /* every hop trusted: the leftmost */
    client_address(l, "127.0.0.1", "10.0.0.5, 10.0.0.6", out);
    assert_string_equal(out, "10.0.0.5");
    /* junk stops the walk at the last good address */
    client_address(l, "127.0.0.1", "garbage", out);
    assert_string_equal(out, "127.0.0.1");
    client_address(l, "127.0.0.1", NULL, out);
    assert_string_equal(out, "127.0.0.1");
    client_address(l, "127.0.0.1", "", out);
    assert_string_equal(out, "127.0.0.1");
    proxy_list_destroy(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_forwarded_for),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
