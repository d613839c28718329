/*
 * test_reload.c - SIGHUP's reload without the daemon: config_diff and
 * config_copy_live over the settings table, and reload_apply against a
 * real file: live settings change and run the hooks, others are kept,
 * a bad file changes nothing, flags still win over the file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "orderd/base/config.h"
#include "orderd/base/reload.h"

static char g_path[] = "/tmp/orderd_test_reload_XXXXXX";

static void write_config(const char *text)
{
    FILE *f = fopen(g_path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int file_setup(void **state)
{
    (void)state;
    int fd = mkstemp(g_path);
    if (fd < 0)
        return -1;
    close(fd);
    unsetenv("ORDERD_CONFIG");
    unsetenv("ORDERD_LOG_LEVEL");
    unsetenv("ORDERD_REQUEST_TIMEOUT_MS");
    unsetenv("ORDERD_DB_POOL_SIZE");
    return 0;
}

static int file_teardown(void **state)
{
    (void)state;
    unlink(g_path);
    memcpy(g_path + strlen(g_path) - 6, "XXXXXX", 6);
    return 0;
}

/* ---- config_diff ------------------------------------------------------- */

typedef struct seen {
    int count;
    char keys[8][64];
    bool live[8];
    char old_values[8][64], new_values[8][64];
} seen;

static void record(void *ctx, const char *key, bool live, const char *old_value,
                   const char *new_value)
{
    seen *s = ctx;
    assert_true(s->count < 8);
    snprintf(s->keys[s->count], 64, "%s", key);
    snprintf(s->old_values[s->count], 64, "%s", old_value);
    snprintf(s->new_values[s->count], 64, "%s", new_value);
    s->live[s->count++] = live;
}

static void load(orderd_config *cfg, int argc, char **argv)
{
    char err[512];
    if (config_load(cfg, argc, argv, err, sizeof err) != 0)
        fail_msg("config_load: %s", err);
}

static void test_diff_names_each_change_and_whether_it_is_live(void **state)
{
    (void)state;
    char *argv[] = {"orderd", "--config", g_path};
    orderd_config a, b;
    write_config("log_level = info\nrequest_timeout_ms = 5000\ndb_pool_size = 8\n");
    load(&a, 3, argv);
    write_config("log_level = debug\nrequest_timeout_ms = 1234\ndb_pool_size = 9\n");
    load(&b, 3, argv);

    seen s = {0};
    assert_int_equal(config_diff(&a, &b, record, &s), 4);
    /* table order; effective values, so io_workers (0 = db_pool_size) too */
    assert_string_equal(s.keys[0], "io_workers");
    assert_false(s.live[0]);
    assert_string_equal(s.keys[1], "request_timeout_ms");
    assert_true(s.live[1]);
    assert_string_equal(s.old_values[1], "5000");
    assert_string_equal(s.new_values[1], "1234");
    assert_string_equal(s.keys[2], "db_pool_size");
    assert_false(s.live[2]);
    assert_string_equal(s.keys[3], "log_level");
    assert_true(s.live[3]);
    assert_string_equal(s.new_values[3], "debug");

    seen none = {0};
    assert_int_equal(config_diff(&a, &a, record, &none), 0);
}

static void test_diff_sees_a_password_change_but_shows_it_masked(void **state)
{
    (void)state;
    char *argv_a[] = {"orderd", "--db-url", "postgres://u:one@h/db"};
    char *argv_b[] = {"orderd", "--db-url", "postgres://u:two@h/db"};
    orderd_config a, b;
    load(&a, 3, argv_a);
    load(&b, 3, argv_b);
    seen s = {0};
    assert_int_equal(config_diff(&a, &b, record, &s), 1);
    assert_string_equal(s.keys[0], "db_url");
    assert_false(s.live[0]);
    assert_null(strstr(s.old_values[0], "one"));
    assert_null(strstr(s.new_values[0], "two"));
}

static void test_copy_live_copies_only_live_settings(void **state)
{
    (void)state;
    char *argv_a[] = {"orderd", "--log-level", "info", "--db-pool-size", "4"};
    char *argv_b[] = {"orderd", "--log-level", "error", "--db-pool-size", "7"};
    orderd_config a, b;
    load(&a, 5, argv_a);
    load(&b, 5, argv_b);
    config_copy_live(&a, &b);
    assert_int_equal(a.log_level, LOG_ERROR);
    assert_int_equal(a.db_pool_size, 4);
    assert_true(config_is_live("cache_ttl_s"));
    assert_false(config_is_live("listen"));
    assert_false(config_is_live("no_such_setting"));
}

/* ---- reload_apply ------------------------------------------------------- */

typedef struct hook_calls {
    int count;
    int request_timeout_ms;
    log_level level;
} hook_calls;

static void hook(void *ctx, const orderd_config *cfg)
{
    hook_calls *calls = ctx;
    calls->count++;
    calls->request_timeout_ms = cfg->request_timeout_ms;
    calls->level = cfg->log_level;
}

static void test_reload_applies_live_keeps_static_and_runs_hooks(void **state)
{
    (void)state;
    char *argv[] = {"orderd", "--config", g_path};
    orderd_config running;
    write_config("log_level = warn\nrequest_timeout_ms = 5000\ndb_pool_size = 8\n");
    load(&running, 3, argv);
    reload_hooks hooks = {0};
    hook_calls calls = {0};
    assert_int_equal(reload_hooks_add(&hooks, "test", hook, &calls), 0);

    write_config("log_level = error\nrequest_timeout_ms = 700\ndb_pool_size = 3\n");
    assert_int_equal(reload_apply(&hooks, &running, 3, argv), 2);
    assert_int_equal(running.request_timeout_ms, 700);
    assert_int_equal(running.log_level, LOG_ERROR);
    assert_int_equal(running.db_pool_size, 8); /* needs a restart */
    assert_int_equal(calls.count, 1);
    assert_int_equal(calls.request_timeout_ms, 700);

    /* nothing live changed: the hooks still run (a key file may have) */
    assert_int_equal(reload_apply(&hooks, &running, 3, argv), 0);
    assert_int_equal(calls.count, 2);
    assert_int_equal(calls.level, LOG_ERROR);
}

static void test_reload_refuses_a_bad_file_and_keeps_everything(void **state)
{
    (void)state;
    char *argv[] = {"orderd", "--config", g_path};
    orderd_config running;
    write_config("request_timeout_ms = 5000\n");
    load(&running, 3, argv);
    orderd_config before = running;
    reload_hooks hooks = {0};
    hook_calls calls = {0};
    reload_hooks_add(&hooks, "test", hook, &calls);

    write_config("request_timeout_ms = 10\nlog_level = loud\n");
    assert_int_equal(reload_apply(&hooks, &running, 3, argv), -1);
    assert_memory_equal(&running, &before, sizeof before);
    assert_int_equal(calls.count, 0);

    unlink(g_path); /* a file named by --config that is gone is bad too */
    assert_int_equal(reload_apply(&hooks, &running, 3, argv), -1);
    assert_int_equal(running.request_timeout_ms, 5000);
}

static void test_reload_keeps_flags_above_the_file(void **state)
{
    (void)state;
    char *argv[] = {"orderd", "--config", g_path, "--request-timeout-ms", "900"};
    orderd_config running;
    write_config("request_timeout_ms = 5000\ncache_ttl_s = 60\n");
    load(&running, 5, argv);
    assert_int_equal(running.request_timeout_ms, 900);
    reload_hooks hooks = {0};

    write_config("request_timeout_ms = 100\ncache_ttl_s = 30\n");
    assert_int_equal(reload_apply(&hooks, &running, 5, argv), 1);
    assert_int_equal(running.request_timeout_ms, 900);
    assert_int_equal(running.cache_ttl_s, 30);
}

static void test_hook_table_is_bounded(void **state)
{
    (void)state;
    reload_hooks hooks = {0};
    hook_calls calls = {0};
    for (int i = 0; i < RELOAD_HOOKS_MAX; i++)
        assert_int_equal(reload_hooks_add(&hooks, "test", hook, &calls), 0);
    assert_int_equal(reload_hooks_add(&hooks, "one too many", hook, &calls), -1);
    orderd_config cfg = {.request_timeout_ms = 1};
    reload_hooks_run(&hooks, &cfg);
    assert_int_equal(calls.count, RELOAD_HOOKS_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_diff_names_each_change_and_whether_it_is_live,
                                        file_setup, file_teardown),
        cmocka_unit_test_setup_teardown(test_diff_sees_a_password_change_but_shows_it_masked,
                                        file_setup, file_teardown),
        cmocka_unit_test_setup_teardown(test_copy_live_copies_only_live_settings, file_setup,
                                        file_teardown),
        cmocka_unit_test_setup_teardown(test_reload_applies_live_keeps_static_and_runs_hooks,
                                        file_setup, file_teardown),
        cmocka_unit_test_setup_teardown(test_reload_refuses_a_bad_file_and_keeps_everything,
                                        file_setup, file_teardown),
        cmocka_unit_test_setup_teardown(test_reload_keeps_flags_above_the_file, file_setup,
                                        file_teardown),
        cmocka_unit_test(test_hook_table_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
