#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "orderd/base/fmt.h"

static void check_u64(uint64_t v)
{
    char out[32], want[32];
    size_t n = fmt_u64(v, out);
    out[n] = '\0';
    snprintf(want, sizeof want, "%llu", (unsigned long long)v);
    assert_string_equal(out, want);
}

static void integers_match_printf(void **state)
{
    (void)state;
    const uint64_t values[] = {0, 1, 9, 10, 99, 100, 65535, 4294967296ULL, UINT64_MAX};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        check_u64(values[i]);
}

static void millis_match_printf_to_three_decimals(void **state)
{
    (void)state;
    const double values[] = {0, 0.0004, 0.0005, 0.001, 1.5, 12.3456, 999.9995, 1000, 123456.789};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char out[48], want[48];
        size_t n = fmt_millis(values[i], out);
        out[n] = '\0';
        snprintf(want, sizeof want, "%.3f", values[i]);
        assert_string_equal(out, want);
    }
    char out[48];
    size_t n = fmt_millis(-3.0, out);
    out[n] = '\0';
    assert_string_equal(out, "0.000");
}

static void addresses(void **state)
{
    (void)state;
    char out[80];
    struct sockaddr_in in4 = {.sin_family = AF_INET, .sin_port = htons(53412)};
    inet_pton(AF_INET, "127.0.0.1", &in4.sin_addr);
    size_t n = fmt_sockaddr((struct sockaddr *)&in4, out);
    out[n] = '\0';
    assert_string_equal(out, "127.0.0.1:53412");
    inet_pton(AF_INET, "255.10.0.254", &in4.sin_addr);
    in4.sin_port = htons(1);
    n = fmt_sockaddr((struct sockaddr *)&in4, out);
    out[n] = '\0';
    assert_string_equal(out, "255.10.0.254:1");

    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(8080)};
    inet_pton(AF_INET6, "::1", &in6.sin6_addr);
    n = fmt_sockaddr((struct sockaddr *)&in6, out);
    out[n] = '\0';
    assert_string_equal(out, "[::1]:8080");

    struct sockaddr other = {.sa_family = AF_UNIX};
    assert_int_equal(fmt_sockaddr(&other, out), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(integers_match_printf),
        cmocka_unit_test(millis_match_printf_to_three_decimals),
        cmocka_unit_test(addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
