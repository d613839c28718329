/*
 * test_trace.c - W3C traceparent parsing, new traces and spans, and the
 * tracestate we agree to carry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "orderd/base/trace.h"

#define TRACE  "4bf92f3577b34da6a3ce929d0e0e4736"
#define PARENT "00f067aa0ba902b7"

static void a_valid_version_00_is_parsed(void **state)
{
    (void)state;
    trace_context t = {0};
    assert_true(trace_parse_traceparent("00-" TRACE "-" PARENT "-01", &t));
    assert_string_equal(t.trace_id, TRACE);
    assert_string_equal(t.parent_id, PARENT);
    assert_true(t.sampled);
    assert_true(trace_parse_traceparent("00-" TRACE "-" PARENT "-00", &t));
    assert_false(t.sampled);
    /* only bit 0 is "sampled"; other bits do not make it so */
    assert_true(trace_parse_traceparent("00-" TRACE "-" PARENT "-02", &t));
    assert_false(t.sampled);
}

static void invalid_values_are_refused_and_leave_the_context(void **state)
{
    (void)state;
    static const char *const bad[] = {
        NULL,
        "",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-" PARENT "-01", /* uppercase */
        "00-00000000000000000000000000000000-" PARENT "-01", /* zero trace */
        "00-" TRACE "-0000000000000000-01",                  /* zero parent */
        "ff-" TRACE "-" PARENT "-01",                        /* version ff */
        "0g-" TRACE "-" PARENT "-01",                        /* not hex */
        "00-" TRACE "-" PARENT "-01-",                       /* 00 is exactly 55 */
        "00-" TRACE "-" PARENT "-1",
        "00-" TRACE "-" PARENT "-0x",
        "00-" TRACE "x" PARENT "-01",
        "01-" TRACE "-" PARENT "-01x", /* longer needs a '-' after the 55 */
        "00 " TRACE " " PARENT " 01",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        trace_context t = {.trace_id = "kept"};
        assert_false(trace_parse_traceparent(bad[i], &t));
        assert_string_equal(t.trace_id, "kept");
    }
}

static void a_later_version_is_read_up_to_its_first_55_characters(void **state)
{
    (void)state;
    trace_context t = {0};
    assert_true(trace_parse_traceparent("cc-" TRACE "-" PARENT "-01-more-fields", &t));
    assert_string_equal(t.trace_id, TRACE);
    assert_true(trace_parse_traceparent("01-" TRACE "-" PARENT "-01", &t));
}

static bool is_hex(const char *s, size_t n)
{
    if (strlen(s) != n)
        return false;
    bool nonzero = false;
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
        nonzero |= s[i] != '0';
    }
    return nonzero;
}

static void start_continues_a_valid_trace_with_a_new_span(void **state)
{
    (void)state;
    trace_context t;
    trace_start(&t, "00-" TRACE "-" PARENT "-00");
    assert_string_equal(t.trace_id, TRACE);
    assert_string_equal(t.parent_id, PARENT);
    assert_false(t.sampled);
    assert_true(is_hex(t.span_id, 16));
    assert_string_not_equal(t.span_id, PARENT);
    char out[TRACEPARENT_LEN + 1];
    trace_format_traceparent(&t, out);
    assert_int_equal(strlen(out), TRACEPARENT_LEN);
    assert_memory_equal(out, "00-" TRACE "-", 36);
    assert_memory_equal(out + 36, t.span_id, 16);
    assert_string_equal(out + 52, "-00");
}

static void start_without_a_valid_one_begins_a_new_trace(void **state)
{
    (void)state;
    trace_context a, b;
    trace_start(&a, NULL);
    trace_start(&b, "not a traceparent");
    assert_true(is_hex(a.trace_id, 32));
    assert_true(is_hex(b.trace_id, 32));
    assert_string_not_equal(a.trace_id, b.trace_id);
    assert_string_equal(a.parent_id, "");
    assert_true(a.sampled);
    char out[TRACEPARENT_LEN + 1];
    trace_format_traceparent(&a, out);
    /* what we send parses back to what we hold */
    trace_context back = {0};
    assert_true(trace_parse_traceparent(out, &back));
    assert_string_equal(back.trace_id, a.trace_id);
    assert_string_equal(back.parent_id, a.span_id);
    assert_true(back.sampled);
}

static void tracestate_is_carried_when_printable_and_bounded(void **state)
{
    (void)state;
    assert_true(trace_tracestate_valid("congo=t61rcWkgMzE"));
    assert_true(trace_tracestate_valid("rojo=00f067aa0ba902b7, congo=t61rcWkgMzE"));
    assert_false(trace_tracestate_valid(NULL));
    assert_false(trace_tracestate_valid(""));
    assert_false(trace_tracestate_valid(" , ,"));
    assert_false(trace_tracestate_valid("a=b\r\nX-Injected: 1"));
    assert_false(trace_tracestate_valid("a=\x80"));
    char big[TRACESTATE_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_false(trace_tracestate_valid(big));
    big[TRACESTATE_MAX] = '\0';
    assert_true(trace_tracestate_valid(big));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_valid_version_00_is_parsed),
        cmocka_unit_test(invalid_values_are_refused_and_leave_the_context),
        cmocka_unit_test(a_later_version_is_read_up_to_its_first_55_characters),
        cmocka_unit_test(start_continues_a_valid_trace_with_a_new_span),
        cmocka_unit_test(start_without_a_valid_one_begins_a_new_trace),
        cmocka_unit_test(tracestate_is_carried_when_printable_and_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
