/*
 * test_request_guard.c - the strict request checks, on heads laid out as
 * libmicrohttpd 0.9.75 leaves them: every CR and LF of a line end and the
 * first colon of a field line overwritten by NUL, the SP after the method
 * and the SP before the version too.  tests/integration/
 * test_http_conformance.py sends the same shapes to the real daemon.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "orderd/http/request_guard.h"

typedef struct parsed {
    char buf[1024];
    request_head head;
} parsed;

/*
 * Lays raw (len bytes, NULs allowed) out as libmicrohttpd does.  The
 * target's length is its C string's, as the URI log callback measures it.
 */
static void lay_out(parsed *p, const char *raw, size_t len)
{
    assert_true(len < sizeof p->buf);
    memcpy(p->buf, raw, len);
    char *b = p->buf;
    /* the request line ends at the first LF */
    char *lf = memchr(b, '\n', len);
    assert_non_null(lf);
    char *line_end = (lf > b && lf[-1] == '\r') ? lf - 1 : lf;
    char *sp = memchr(b, ' ', (size_t)(line_end - b));
    assert_non_null(sp);
    *sp = '\0';
    char *target = sp + 1;
    char *vsp = line_end - 1;
    while (vsp > target && *vsp != ' ')
        vsp--;
    *vsp = '\0';
    p->head.method = b;
    p->head.target = target;
    p->head.target_len = strlen(target);
    p->head.version = vsp + 1;
    /* line ends and the first colon of each field line */
    bool colon_done = true; /* the request line has none */
    for (char *c = line_end; c < b + len; c++) {
        if (*c == '\r' && c + 1 < b + len && c[1] == '\n') {
            c[0] = c[1] = '\0';
            c++;
            colon_done = false;
        } else if (*c == '\n') {
            *c = '\0';
            colon_done = false;
        } else if (*c == ':' && !colon_done) {
            *c = '\0';
            colon_done = true;
        }
    }
    p->head.head_size = len;
}

#define LAY_OUT(p, lit) lay_out((p), (lit), sizeof(lit) - 1)

static int check(const char *raw, size_t len, request_framing *framing, const char **detail)
{
    parsed p;
    lay_out(&p, raw, len);
    return request_guard_check_head(&p.head, framing, detail);
}

#define CHECK(lit, framing, detail) check((lit), sizeof(lit) - 1, (framing), (detail))

static void a_plain_head_passes(void **state)
{
    (void)state;
    request_framing f;
    const char *detail = NULL;
    assert_int_equal(CHECK("GET /orders/1 HTTP/1.1\r\nHost: x\r\n\r\n", &f, &detail), 0);
    assert_int_equal(f.content_length, -1);
    assert_false(f.chunked);
    assert_int_equal(CHECK("POST /orders HTTP/1.1\r\nHost: a:80\r\nContent-Length: 12\r\n"
                           "Content-Length: 12\r\nX-Empty:\r\nX-Tab:\tv \r\n\r\n",
                           &f, &detail),
                     0);
    assert_int_equal(f.content_length, 12);
    assert_int_equal(CHECK("POST /orders HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n",
                           &f, &detail),
                     0);
    assert_true(f.chunked);
    /* HTTP/1.0 may omit Host */
    assert_int_equal(CHECK("GET / HTTP/1.0\r\n\r\n", &f, &detail), 0);
}

static void framing_conflicts_are_refused(void **state)
{
    (void)state;
    request_framing f;
    const char *detail = NULL;
    static const struct {
        const char *raw;
        int status;
    } cases[] = {
        {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 02\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
         400},
        {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n",
         400},
        {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
        {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 501},
        {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked \r\n\r\n", 501},
        {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        detail = NULL;
        int got = check(cases[i].raw, strlen(cases[i].raw), &f, &detail);
        if (got != cases[i].status)
            fail_msg("case %zu (%s): got %d", i, cases[i].raw, got);
        assert_non_null(detail);
    }
}

static void lax_syntax_is_refused(void **state)
{
    (void)state;
    request_framing f;
    const char *detail;
    const char *bad[] = {
        "GET / HTTP/1.1\r\nHost : x\r\n\r\n", /* whitespace before the colon */
        "GET / HTTP/1.1\r\nHost: x\r\nX-A\t: y\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", /* obs-fold */
        "GET / HTTP/1.1\nHost: x\r\n\r\n",                   /* bare LF, request line */
        "GET / HTTP/1.1\r\nHost: x\n\r\n",                   /* bare LF, field line */
        "GET / HTTP/1.1\r\nHost: x\r\n\n",                   /* bare LF, blank line */
        "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n",    /* CR inside a value */
        "GET / HTTP/1.1\r\n\r\n",                            /* no Host */
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",      /* two Hosts */
        "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n",
        "G(T / HTTP/1.1\r\nHost: x\r\n\r\n",        /* the method is not a token */
        "GET / HTTP/1.2\r\n\r\n",                   /* read as HTTP/1.1: Host is required */
        "GET / HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n", /* an empty name */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        detail = NULL;
        int got = check(bad[i], strlen(bad[i]), &f, &detail);
        if (got != 400)
            fail_msg("case %zu (%s): got %d", i, bad[i], got);
        assert_non_null(detail);
    }
}

static void a_nul_is_refused_wherever_it_is(void **state)
{
    (void)state;
    request_framing f;
    const char *detail = NULL;
    /* in the target: its C string ends before the version's SP */
    static const char in_target[] = "GET /orders/1\0x HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(check(in_target, sizeof in_target - 1, &f, &detail), 400);
    assert_string_equal(detail, "the request target holds a NUL byte");
    /* in a value */
    static const char in_value[] = "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n";
    assert_int_equal(check(in_value, sizeof in_value - 1, &f, &detail), 400);
}

static void two_spaces_after_the_method_are_refused(void **state)
{
    (void)state;
    /* libmicrohttpd skips the second SP: the target starts one later */
    parsed p;
    LAY_OUT(&p, "GET  / HTTP/1.1\r\nHost: x\r\n\r\n");
    p.head.target++;
    p.head.target_len--;
    request_framing f;
    const char *detail = NULL;
    assert_int_equal(request_guard_check_head(&p.head, &f, &detail), 400);
}

static void raw_targets(void **state)
{
    (void)state;
    const char *detail = NULL;
    assert_int_equal(request_guard_check_target("/orders/1?status=paid&limit=2", &detail), 0);
    assert_int_equal(request_guard_check_target("http://h:8080/orders", &detail), 0);
    assert_int_equal(request_guard_check_target("HTTPS://h/", &detail), 0);
    const char *bad[] = {"/orders/1%00",
                         "/orders?status=paid%00",
                         "/a b",
                         "/a\tb",
                         "/a#f",
                         "orders/1",
                         "/\x7f",
                         "/\xc3\xa9",
                         "*",
                         ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        detail = NULL;
        if (request_guard_check_target(bad[i], &detail) != 400)
            fail_msg("target %zu (%s) passed", i, bad[i]);
        assert_non_null(detail);
    }
    /* an encoded byte that is not NUL is the router's business */
    assert_int_equal(request_guard_check_target("/orders/%31", &detail), 0);
}

static void absolute_form_yields_its_path(void **state)
{
    (void)state;
    assert_string_equal(request_guard_origin_path("/orders/1"), "/orders/1");
    assert_string_equal(request_guard_origin_path("http://h:80/orders/1"), "/orders/1");
    assert_string_equal(request_guard_origin_path("https://h"), "/");
    assert_string_equal(request_guard_origin_path("HTTP://h/x/y"), "/x/y");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_plain_head_passes),
        cmocka_unit_test(framing_conflicts_are_refused),
        cmocka_unit_test(lax_syntax_is_refused),
        cmocka_unit_test(a_nul_is_refused_wherever_it_is),
        cmocka_unit_test(two_spaces_after_the_method_are_refused),
        cmocka_unit_test(raw_targets),
        cmocka_unit_test(absolute_form_yields_its_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
