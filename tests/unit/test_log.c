/*
 * test_log.c - the JSON logger: escaping, levels, the access line, and
 * many threads logging at once with nothing lost or torn.  Every line is
 * read back from a temporary file and parsed with jansson.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <pthread.h>

#include "orderd/base/log.h"

#define THREADS          8
#define LINES_PER_THREAD 3000

static int temp_fd(void)
{
    char path[] = "/tmp/orderd_test_log_XXXXXX";
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    unlink(path);
    return fd;
}

/* Everything written to fd so far; caller frees. */
static char *read_all(int fd)
{
    off_t size = lseek(fd, 0, SEEK_END);
    char *buf = malloc((size_t)size + 1);

    assert_non_null(buf);
    assert_int_equal(pread(fd, buf, (size_t)size, 0), size);
    buf[size] = '\0';
    return buf;
}

/* Parses every line of text as one JSON object; returns a JSON array. */
static json_t *parse_lines(const char *text)
{
    json_t *lines = json_array();
    const char *p = text;

    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        json_error_t jerr;
        json_t *obj;

        assert_non_null(nl); /* every line is complete */
        obj = json_loadb(p, (size_t)(nl - p), JSON_REJECT_DUPLICATES, &jerr);
        if (obj == NULL)
            fail_msg("line is not JSON (%s): %.*s", jerr.text, (int)(nl - p), p);
        assert_true(json_is_object(obj));
        json_array_append_new(lines, obj);
        p = nl + 1;
    }
    return lines;
}

static json_t *log_lines(int fd)
{
    char *text = read_all(fd);
    json_t *lines = parse_lines(text);

    free(text);
    return lines;
}

static const char *str_field(json_t *obj, const char *name)
{
    json_t *v = json_object_get(obj, name);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void assert_ts_format(const char *ts)
{
    assert_non_null(ts);
    /* 2024-11-28T04:07:59.123Z */
    assert_int_equal(strlen(ts), 24);
    assert_int_equal(ts[4], '-');
    assert_int_equal(ts[10], 'T');
    assert_int_equal(ts[19], '.');
    assert_int_equal(ts[23], 'Z');
}

static void test_level_names(void **state)
{
    log_level level;

    (void)state;
    assert_string_equal(log_level_name(LOG_DEBUG), "debug");
    assert_string_equal(log_level_name(LOG_INFO), "info");
    assert_string_equal(log_level_name(LOG_WARN), "warn");
    assert_string_equal(log_level_name(LOG_ERROR), "error");
    assert_true(log_level_parse("warn", &level));
    assert_int_equal(level, LOG_WARN);
    assert_true(log_level_parse("DEBUG", &level));
    assert_int_equal(level, LOG_DEBUG);
    assert_false(log_level_parse("verbose", &level));
    assert_false(log_level_parse("", &level));
}

static void check_escape(const char *in, const char *want)
{
    char out[256];

    assert_int_equal(log_json_escape(out, sizeof(out), in), strlen(want));
    assert_string_equal(out, want);
}

static void test_json_escape(void **state)
{
    (void)state;
    check_escape("plain", "plain");
    check_escape("", "");
    check_escape(NULL, "");
    check_escape("say \"hi\"", "say \\\"hi\\\"");
    check_escape("back\\slash", "back\\\\slash");
    check_escape("a\nb\tc\rd", "a\\nb\\tc\\rd");
    check_escape("\x01\x1f\b\f", "\\u0001\\u001f\\b\\f");
    check_escape("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
                 "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    /* Not UTF-8: a lone continuation byte, a truncated sequence, an
     * overlong '/', a surrogate. */
    check_escape("a\x80z", "a\\ufffdz");
    check_escape("a\xc3", "a\\ufffd");
    check_escape("\xc0\xaf", "\\ufffd\\ufffd");
    check_escape("\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd");
}

static void test_json_escape_truncates_whole_units(void **state)
{
    char out[8];

    (void)state;
    assert_int_equal(log_json_escape(NULL, 0, "a\"b"), 4);
    assert_int_equal(log_json_escape(out, 3, "a\"b"), 4);
    assert_string_equal(out, "a"); /* never half of \" */
    assert_int_equal(log_json_escape(out, 2, "\xc3\xa9"), 2);
    assert_string_equal(out, ""); /* never half of a character */
    assert_int_equal(log_json_escape(out, 7, "\x01"), 6);
    assert_string_equal(out, "\\u0001");
}

typedef struct worker_arg {
    int id;
} worker_arg;

static void *worker(void *p)
{
    const worker_arg *arg = p;
    char rid[32], extra[64];

    snprintf(rid, sizeof(rid), "req-%d", arg->id);
    for (int i = 0; i < LINES_PER_THREAD; i++) {
        snprintf(extra, sizeof(extra), "\"thread\":%d,\"seq\":%d", arg->id, i);
        log_write(LOG_INFO, rid, extra, "thread %d line %d \"quoted\"\n\ttab", arg->id, i);
        LOG(LOG_DEBUG, rid, "filtered %d", i);
    }
    return NULL;
}

static void test_threads_lose_nothing(void **state)
{
    pthread_t threads[THREADS];
    worker_arg args[THREADS];
    int next_seq[THREADS] = {0};
    int fd = temp_fd();
    json_t *lines, *line;
    size_t i;

    (void)state;
    assert_int_equal(log_start(LOG_INFO, fd), 0);
    for (int t = 0; t < THREADS; t++) {
        args[t].id = t;
        assert_int_equal(pthread_create(&threads[t], NULL, worker, &args[t]), 0);
    }
    LOG(LOG_INFO, NULL, "main thread");
    for (int t = 0; t < THREADS; t++)
        pthread_join(threads[t], NULL);
    log_stop();

    lines = log_lines(fd);
    assert_int_equal(json_array_size(lines), THREADS * LINES_PER_THREAD + 1);
    json_array_foreach(lines, i, line)
    {
        char want[128];
        int t, seq;

        assert_ts_format(str_field(line, "ts"));
        assert_string_equal(str_field(line, "level"), "info");
        if (strcmp(str_field(line, "msg"), "main thread") == 0) {
            assert_null(json_object_get(line, "request_id"));
            continue;
        }
        t = (int)json_integer_value(json_object_get(line, "thread"));
        seq = (int)json_integer_value(json_object_get(line, "seq"));
        assert_in_range(t, 0, THREADS - 1);
        /* One thread's lines arrive in the order it logged them. */
        assert_int_equal(seq, next_seq[t]);
        next_seq[t]++;
        snprintf(want, sizeof(want), "thread %d line %d \"quoted\"\n\ttab", t, seq);
        assert_string_equal(str_field(line, "msg"), want);
        snprintf(want, sizeof(want), "req-%d", t);
        assert_string_equal(str_field(line, "request_id"), want);
    }
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(next_seq[t], LINES_PER_THREAD);
    json_decref(lines);
    close(fd);
}

static void test_flusher_writes_without_shutdown(void **state)
{
    int fd = temp_fd();
    json_t *lines = NULL;

    (void)state;
    assert_int_equal(log_start(LOG_INFO, fd), 0);
    LOG(LOG_INFO, NULL, "first");
    log_flush();
    lines = log_lines(fd);
    assert_int_equal(json_array_size(lines), 1);
    json_decref(lines);

    /* No flush call: the flusher thread must write it within a few ticks. */
    LOG(LOG_INFO, NULL, "second");
    for (int tries = 0; tries < 200; tries++) {
        struct timespec ts = {0, 5000000};
        lines = log_lines(fd);
        if (json_array_size(lines) == 2)
            break;
        json_decref(lines);
        lines = NULL;
        nanosleep(&ts, NULL);
    }
    assert_non_null(lines);
    assert_string_equal(str_field(json_array_get(lines, 1), "msg"), "second");
    json_decref(lines);
    log_stop();
    log_stop(); /* idempotent */
    close(fd);
}

static void test_level_filtering(void **state)
{
    int fd = temp_fd();
    access_record rec = {.method = "GET", .path = "/", .route = "", .status = 200};
    json_t *lines;

    (void)state;
    assert_int_equal(log_start(LOG_WARN, fd), 0);
    assert_false(log_enabled(LOG_DEBUG));
    assert_false(log_enabled(LOG_INFO));
    assert_true(log_enabled(LOG_WARN));
    assert_true(log_enabled(LOG_ERROR));
    LOG(LOG_DEBUG, NULL, "debug");
    LOG(LOG_INFO, NULL, "info");
    LOG(LOG_WARN, NULL, "warn");
    LOG(LOG_ERROR, "r1", "error %d", 42);
    log_access(&rec); /* an info line: filtered too */
    log_stop();

    lines = log_lines(fd);
    assert_int_equal(json_array_size(lines), 2);
    assert_string_equal(str_field(json_array_get(lines, 0), "level"), "warn");
    assert_string_equal(str_field(json_array_get(lines, 0), "msg"), "warn");
    assert_string_equal(str_field(json_array_get(lines, 1), "level"), "error");
    assert_string_equal(str_field(json_array_get(lines, 1), "msg"), "error 42");
    assert_string_equal(str_field(json_array_get(lines, 1), "request_id"), "r1");
    json_decref(lines);
    close(fd);
}

static void test_access_line(void **state)
{
    int fd = temp_fd();
    access_record rec = {
        .ts_us = 1732766879123456LL,
        .request_id = "abc-123",
        .method = "GET",
        .path = "/orders/\"x\"\n",
        .route = "/orders/:id",
        .status = 404,
        .duration_ms = 1.5,
        .bytes = 123,
        .remote = "127.0.0.1:53412",
    };
    json_t *lines, *line;
    char *text;

    (void)state;
    assert_int_equal(log_start(LOG_INFO, fd), 0);
    log_access(&rec);
    rec.cache = "HIT";
    rec.duration_ms = 0.0004;
    trace_context trace;
    trace_start(&trace, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    rec.trace = &trace;
    log_access(&rec);
    log_stop();

    text = read_all(fd);
    assert_non_null(strstr(text, "\"duration_ms\":1.500,"));
    assert_non_null(strstr(text, "\"duration_ms\":0.000,"));
    lines = parse_lines(text);
    free(text);
    assert_int_equal(json_array_size(lines), 2);
    line = json_array_get(lines, 0);
    assert_string_equal(str_field(line, "ts"), "2024-11-28T04:07:59.123Z");
    assert_string_equal(str_field(line, "level"), "info");
    assert_string_equal(str_field(line, "msg"), "request");
    assert_string_equal(str_field(line, "request_id"), "abc-123");
    assert_string_equal(str_field(line, "method"), "GET");
    assert_string_equal(str_field(line, "path"), "/orders/\"x\"\n");
    assert_string_equal(str_field(line, "route"), "/orders/:id");
    assert_int_equal(json_integer_value(json_object_get(line, "status")), 404);
    assert_true(json_real_value(json_object_get(line, "duration_ms")) == 1.5);
    assert_int_equal(json_integer_value(json_object_get(line, "bytes")), 123);
    assert_string_equal(str_field(line, "remote"), "127.0.0.1:53412");
    assert_null(json_object_get(line, "cache"));
    assert_null(json_object_get(line, "trace_id"));
    assert_string_equal(str_field(json_array_get(lines, 1), "cache"), "HIT");
    assert_string_equal(str_field(json_array_get(lines, 1), "trace_id"),
                        "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_string_equal(str_field(json_array_get(lines, 1), "span_id"), trace.span_id);
    json_decref(lines);
    close(fd);
}

/* The per-thread timestamp cache must notice every new second, and the
 * integer formatting must match "%.3f". */
static void test_access_line_timestamps_and_numbers(void **state)
{
    int fd = temp_fd();
    access_record rec = {
        .request_id = "r", .method = "GET", .path = "/", .route = "", .remote = ""};
    const int64_t ts[] = {1732766879999000LL, 1732766880000999LL, 1732766880001000LL,
                          1732766939500000LL};
    const char *want[] = {"2024-11-28T04:07:59.999Z", "2024-11-28T04:08:00.000Z",
                          "2024-11-28T04:08:00.001Z", "2024-11-28T04:08:59.500Z"};
    const double ms[] = {0.0005, 12.3456, 1000.0, 0.999};
    const char *ms_text[] = {"\"duration_ms\":0.001,", "\"duration_ms\":12.346,",
                             "\"duration_ms\":1000.000,", "\"duration_ms\":0.999,"};
    json_t *lines;
    char *text;

    (void)state;
    assert_int_equal(log_start(LOG_INFO, fd), 0);
    for (int i = 0; i < 4; i++) {
        rec.ts_us = ts[i];
        rec.duration_ms = ms[i];
        rec.status = 200 + i;
        rec.bytes = (uint64_t)i * 1000000007ULL;
        log_access(&rec);
    }
    log_stop();
    text = read_all(fd);
    for (int i = 0; i < 4; i++)
        assert_non_null(strstr(text, ms_text[i]));
    lines = parse_lines(text);
    free(text);
    assert_int_equal(json_array_size(lines), 4);
    for (int i = 0; i < 4; i++) {
        json_t *line = json_array_get(lines, (size_t)i);
        assert_string_equal(str_field(line, "ts"), want[i]);
        assert_int_equal(json_integer_value(json_object_get(line, "status")), 200 + i);
        assert_int_equal(json_integer_value(json_object_get(line, "bytes")), i * 1000000007LL);
    }
    json_decref(lines);
    close(fd);
}

static void test_a_bound_batch_writes_the_line_once_per_request(void **state)
{
    int fd = temp_fd();
    json_t *lines;
    char *text;
    trace_context traces[3];
    log_tag tags[3] = {{.request_id = "r0", .trace = &traces[0]},
                       {.request_id = "r1", .trace = &traces[1]},
                       {.request_id = "r2", .trace = NULL}};

    (void)state;
    for (int i = 0; i < 3; i++)
        trace_start(&traces[i], NULL);
    assert_int_equal(log_start(LOG_INFO, fd), 0);
    log_bind(tags, 3);
    LOG(LOG_WARN, NULL, "batch of %d", 3);
    log_bind(tags + 1, 1);
    LOG(LOG_WARN, NULL, "one");
    log_origin origin;
    log_origin_capture(&origin);
    log_bind(NULL, 0);
    LOG(LOG_WARN, NULL, "none");
    log_stop();
    text = read_all(fd);
    lines = parse_lines(text);
    free(text);
    assert_int_equal(json_array_size(lines), 5);
    for (int i = 0; i < 3; i++) {
        json_t *line = json_array_get(lines, (size_t)i);
        char rid[3] = {'r', (char)('0' + i), '\0'};
        assert_string_equal(str_field(line, "msg"), "batch of 3");
        assert_string_equal(str_field(line, "request_id"), rid);
        assert_int_equal(json_integer_value(json_object_get(line, "batch_size")), 3);
        assert_string_equal(str_field(line, "batch_trace_id"), traces[0].trace_id);
        if (i < 2) {
            assert_string_equal(str_field(line, "trace_id"), traces[i].trace_id);
            assert_string_equal(str_field(line, "span_id"), traces[i].span_id);
        } else {
            assert_null(json_object_get(line, "trace_id"));
        }
    }
    json_t *one = json_array_get(lines, 3);
    assert_string_equal(str_field(one, "trace_id"), traces[1].trace_id);
    assert_null(json_object_get(one, "batch_size"));
    assert_null(json_object_get(json_array_get(lines, 4), "trace_id"));
    /* the copy names the same request and trace, without the borrowed strings */
    log_tag copy = log_origin_tag(&origin);
    assert_string_equal(copy.request_id, "r1");
    assert_non_null(copy.trace);
    assert_string_equal(copy.trace->span_id, traces[1].span_id);
    json_decref(lines);
    close(fd);
}

static void test_bound_request_id_is_used_when_none_is_given(void **state)
{
    int fd = temp_fd();
    json_t *lines;
    char *text;

    (void)state;
    assert_int_equal(log_start(LOG_INFO, fd), 0);
    log_bind(&(log_tag){.request_id = "req-42"}, 1);
    LOG(LOG_WARN, NULL, "deep inside");
    LOG(LOG_WARN, "explicit", "named");
    log_bind(NULL, 0);
    LOG(LOG_WARN, NULL, "outside");
    log_stop();
    text = read_all(fd);
    lines = parse_lines(text);
    free(text);
    assert_int_equal(json_array_size(lines), 3);
    assert_string_equal(str_field(json_array_get(lines, 0), "request_id"), "req-42");
    assert_string_equal(str_field(json_array_get(lines, 1), "request_id"), "explicit");
    assert_null(json_object_get(json_array_get(lines, 2), "request_id"));
    json_decref(lines);
    close(fd);
}

static void test_extra_json_and_odd_messages(void **state)
{
    int fd = temp_fd();
    json_t *lines, *line;
    char *big = malloc(100001);

    (void)state;
    assert_non_null(big);
    memset(big, 'b', 100000);
    big[100000] = '\0';
    assert_int_equal(log_start(LOG_DEBUG, fd), 0);
    log_write(LOG_INFO, "", "", "empty extra");
    log_write(LOG_DEBUG, NULL, "\"error\":\"timeout\",\"attempt\":2", "with extra");
    LOG(LOG_INFO, NULL, "bad \xff byte");
    LOG(LOG_INFO, NULL, "before big");
    LOG(LOG_INFO, NULL, "%s", big); /* larger than a thread's buffer */
    LOG(LOG_INFO, NULL, "after big");
    log_stop();

    lines = log_lines(fd);
    assert_int_equal(json_array_size(lines), 6);
    line = json_array_get(lines, 0);
    assert_string_equal(str_field(line, "msg"), "empty extra");
    assert_null(json_object_get(line, "request_id"));
    line = json_array_get(lines, 1);
    assert_string_equal(str_field(line, "level"), "debug");
    assert_string_equal(str_field(line, "error"), "timeout");
    assert_int_equal(json_integer_value(json_object_get(line, "attempt")), 2);
    assert_string_equal(str_field(json_array_get(lines, 2), "msg"), "bad \xef\xbf\xbd byte");
    assert_string_equal(str_field(json_array_get(lines, 3), "msg"), "before big");
    assert_string_equal(str_field(json_array_get(lines, 4), "msg"), big);
    assert_string_equal(str_field(json_array_get(lines, 5), "msg"), "after big");
    json_decref(lines);
    free(big);
    close(fd);
}

static void test_reinit_switches_fd(void **state)
{
    int fd1 = temp_fd(), fd2 = temp_fd();
    json_t *lines;

    (void)state;
    assert_int_equal(log_start(LOG_INFO, fd1), 0);
    LOG(LOG_INFO, NULL, "to one");
    assert_int_equal(log_start(LOG_INFO, fd2), 0);
    LOG(LOG_INFO, NULL, "to two");
    log_stop();

    lines = log_lines(fd1);
    assert_int_equal(json_array_size(lines), 1);
    assert_string_equal(str_field(json_array_get(lines, 0), "msg"), "to one");
    json_decref(lines);
    lines = log_lines(fd2);
    assert_int_equal(json_array_size(lines), 1);
    assert_string_equal(str_field(json_array_get(lines, 0), "msg"), "to two");
    json_decref(lines);
    close(fd1);
    close(fd2);
}

static void test_stderr_before_init_and_after_shutdown(void **state)
{
    int err_fd = temp_fd(), log_fd = temp_fd(), saved = dup(2);
    json_t *lines;

    (void)state;
    assert_true(saved >= 0);
    assert_int_equal(dup2(err_fd, 2), 2);
    LOG(LOG_INFO, NULL, "early");
    assert_int_equal(log_start(LOG_INFO, log_fd), 0);
    LOG(LOG_INFO, NULL, "running");
    log_stop();
    LOG(LOG_INFO, NULL, "late");
    dup2(saved, 2);
    close(saved);

    lines = log_lines(err_fd);
    assert_int_equal(json_array_size(lines), 2);
    assert_string_equal(str_field(json_array_get(lines, 0), "msg"), "early");
    assert_string_equal(str_field(json_array_get(lines, 1), "msg"), "late");
    json_decref(lines);
    lines = log_lines(log_fd);
    assert_int_equal(json_array_size(lines), 1);
    assert_string_equal(str_field(json_array_get(lines, 0), "msg"), "running");
    json_decref(lines);
    close(err_fd);
    close(log_fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level_names),
        cmocka_unit_test(test_json_escape),
        cmocka_unit_test(test_json_escape_truncates_whole_units),
        cmocka_unit_test(test_stderr_before_init_and_after_shutdown),
        cmocka_unit_test(test_threads_lose_nothing),
        cmocka_unit_test(test_flusher_writes_without_shutdown),
        cmocka_unit_test(test_level_filtering),
        cmocka_unit_test(test_access_line),
        cmocka_unit_test(test_access_line_timestamps_and_numbers),
        cmocka_unit_test(test_bound_request_id_is_used_when_none_is_given),
        cmocka_unit_test(test_a_bound_batch_writes_the_line_once_per_request),
        cmocka_unit_test(test_extra_json_and_odd_messages),
        cmocka_unit_test(test_reinit_switches_fd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
