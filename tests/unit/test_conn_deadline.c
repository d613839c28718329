/*
 * test_conn_deadline.c - the sweeper shuts down sockets past their
 * deadline, and only those; slots come and go; and fd_limit's arithmetic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include "orderd/base/clock.h"
#include "orderd/base/fd_limit.h"
#include "orderd/http/conn_deadline.h"

/* Did the peer of fds[0] see it shut down (EOF) within timeout_ms? */
static bool peer_sees_eof(int peer, int timeout_ms)
{
    struct pollfd p = {.fd = peer, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) != 1)
        return false;
    char c;
    return read(peer, &c, 1) == 0;
}

static void expired_connections_are_shut_down_and_others_kept(void **state)
{
    (void)state;
    conn_deadlines *d = conn_deadlines_create(10, 1000);
    assert_non_null(d);
    int late[2], early[2], none[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, late), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, early), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, none), 0);
    uint64_t now = clock_now_ns();
    conn_slot *a = conn_deadlines_add(d, late[0], now + UINT64_C(3600) * 1000000000);
    conn_slot *b = conn_deadlines_add(d, early[0], now + 20 * 1000000);
    conn_slot *c = conn_deadlines_add(d, none[0], 0);
    assert_int_equal(conn_deadlines_count(d), 3);

    assert_true(peer_sees_eof(early[1], 5000));
    assert_false(peer_sees_eof(late[1], 100));
    assert_false(peer_sees_eof(none[1], 0));
    assert_int_equal(conn_deadlines_expired_total(d), 1);

    /* a deadline moved into the past, then one answered with an idle deadline already past */
    conn_slot_set_deadline(a, clock_now_ns());
    assert_true(peer_sees_eof(late[1], 5000));
    conn_slot_response_sent(c, clock_now_ns());
    assert_true(peer_sees_eof(none[1], 5000));

    conn_deadlines_remove(d, a);
    conn_deadlines_remove(d, b);
    conn_deadlines_remove(d, NULL);
    assert_int_equal(conn_deadlines_count(d), 1);
    conn_deadlines_destroy(d); /* frees c */
    conn_deadlines_destroy(NULL);
    int fds[] = {late[0], late[1], early[0], early[1], none[0], none[1]};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        close(fds[i]);
}

static void the_head_deadline_restarts_only_on_kept_alive_connections(void **state)
{
    (void)state;
    conn_deadlines *d = conn_deadlines_create(10, 1000);
    int fds[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    conn_slot *s = conn_deadlines_add(d, fds[0], clock_now_ns() + 30 * 1000000);
    /* the first request line does not extend the connect deadline */
    conn_slot_request_line(s, clock_now_ns() + UINT64_C(3600) * 1000000000);
    assert_true(peer_sees_eof(fds[1], 5000));
    conn_deadlines_remove(d, s);
    close(fds[0]);
    close(fds[1]);

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    s = conn_deadlines_add(d, fds[0], clock_now_ns() + 30 * 1000000);
    /* after a response: idle deadline, then the next head's own */
    conn_slot_response_sent(s, clock_now_ns() + UINT64_C(3600) * 1000000000);
    assert_false(peer_sees_eof(fds[1], 100));
    conn_slot_request_line(s, clock_now_ns() + 20 * 1000000);
    assert_true(peer_sees_eof(fds[1], 5000));
    conn_deadlines_destroy(d);
    close(fds[0]);
    close(fds[1]);
}

static void fd_limit_leaves_a_reserve(void **state)
{
    (void)state;
    assert_int_equal(fd_limit_connections(20000, 100), 19900);
    assert_int_equal(fd_limit_connections(50, 100), 1);
    assert_int_equal(fd_limit_connections(100000000, 64), 1000000);
    assert_true(fd_limit_raise() >= 64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(expired_connections_are_shut_down_and_others_kept),
        cmocka_unit_test(the_head_deadline_restarts_only_on_kept_alive_connections),
        cmocka_unit_test(fd_limit_leaves_a_reserve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
