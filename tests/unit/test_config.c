/*
 * test_config.c - the settings loader: precedence default < file < env <
 * flag, every kind of bad value naming the setting and where it came
 * from, commands, URL masking and the sample config file.
 *
 * Runs in a scratch working directory so a config/orderd.conf of the
 * caller is never picked up by accident.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "orderd/base/config.h"

extern char **environ;

static char g_old_cwd[4096];
static char g_tmpdir[] = "/tmp/orderd_test_config_XXXXXX";
static orderd_config g_cfg;
static char g_err[512];

static void clear_orderd_env(void)
{
    char name[256];
    bool again = true;

    /* Unsetting while walking environ would skip entries: restart each time. */
    while (again) {
        again = false;
        for (char **e = environ; *e != NULL; e++) {
            size_t n = strcspn(*e, "=");
            if (strncmp(*e, "ORDERD_", 7) == 0 && n < sizeof(name)) {
                memcpy(name, *e, n);
                name[n] = '\0';
                unsetenv(name);
                again = true;
                break;
            }
        }
    }
}

static int group_setup(void **state)
{
    (void)state;
    if (getcwd(g_old_cwd, sizeof(g_old_cwd)) == NULL || mkdtemp(g_tmpdir) == NULL ||
        chdir(g_tmpdir) != 0)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (chdir(g_old_cwd) != 0)
        return -1;
    return rmdir(g_tmpdir);
}

static int test_setup(void **state)
{
    (void)state;
    clear_orderd_env();
    return 0;
}

/* argv without the program name, NULL-terminated. */
static int load_args(const char *const *args)
{
    char *argv[32] = {"orderd"};
    int argc = 1;

    for (; args != NULL && args[argc - 1] != NULL; argc++)
        argv[argc] = (char *)args[argc - 1];
    memset(g_err, 0, sizeof(g_err));
    return config_load(&g_cfg, argc, argv, g_err, sizeof(g_err));
}

#define LOAD(...) load_args((const char *const[]){__VA_ARGS__, NULL})

static void expect_error(int rc, const char *want_substring)
{
    assert_int_equal(rc, -1);
    if (strstr(g_err, want_substring) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", g_err, want_substring);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_defaults(void **state)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    (void)state;
    assert_int_equal(load_args(NULL), 0);
    assert_string_equal(g_err, "");
    assert_int_equal(g_cfg.command, ORDERD_CMD_SERVE);
    assert_string_equal(g_cfg.config_path, "");
    assert_string_equal(g_cfg.listen_host, "127.0.0.1");
    assert_int_equal(g_cfg.listen_port, 8080);
    assert_int_equal(g_cfg.threads, cpus > 256 ? 256 : cpus);
    assert_int_equal(g_cfg.io_workers, 8);
    assert_int_equal(g_cfg.max_connections, 0);
    assert_int_equal(g_cfg.max_connections_per_address, 256);
    assert_int_equal(g_cfg.idle_timeout_s, 60);
    assert_int_equal(g_cfg.request_head_timeout_ms, 10000);
    assert_int_equal(g_cfg.request_body_timeout_ms, 30000);
    assert_int_equal(g_cfg.connection_memory_limit, 16384);
    assert_int_equal(g_cfg.body_limit, 65536);
    assert_int_equal(g_cfg.request_timeout_ms, 5000);
    assert_int_equal(g_cfg.drain_timeout_ms, 10000);
    assert_string_equal(g_cfg.db_url, "");
    assert_int_equal(g_cfg.db_pool_size, 8);
    assert_int_equal(g_cfg.db_acquire_timeout_ms, 1000);
    assert_int_equal(g_cfg.db_statement_timeout_ms, 5000);
    assert_int_equal(g_cfg.db_connect_timeout_ms, 2000);
    assert_true(g_cfg.db_prepared);
    assert_string_equal(g_cfg.sql_dir, ORDERD_SQL_DIR);
    assert_string_equal(g_cfg.redis_url, "");
    assert_int_equal(g_cfg.log_level, LOG_INFO);
    assert_true(g_cfg.access_log);
}

static void test_precedence(void **state)
{
    char path[] = "/tmp/orderd_test_conf_XXXXXX";
    int fd = mkstemp(path);

    (void)state;
    assert_true(fd >= 0);
    close(fd);
    write_file(path, "threads = 3\ndb_pool_size = 4\nlog_level = debug\n");

    assert_int_equal(LOAD("--config", path), 0);
    assert_string_equal(g_cfg.config_path, path);
    assert_int_equal(g_cfg.threads, 3);
    assert_int_equal(g_cfg.db_pool_size, 4);
    assert_int_equal(g_cfg.io_workers, 4); /* 0 follows db_pool_size */

    setenv("ORDERD_THREADS", "5", 1);
    setenv("ORDERD_LOG_LEVEL", "warn", 1);
    assert_int_equal(LOAD("--config", path), 0);
    assert_int_equal(g_cfg.threads, 5);          /* env beats file */
    assert_int_equal(g_cfg.db_pool_size, 4);     /* file beats default */
    assert_int_equal(g_cfg.log_level, LOG_WARN); /* env beats file */

    assert_int_equal(LOAD("--threads=7", "--config", path), 0);
    assert_int_equal(g_cfg.threads, 7); /* flag beats env, wherever it stands */
    assert_int_equal(LOAD("--config", path, "--threads", "9", "--log-level", "error"), 0);
    assert_int_equal(g_cfg.threads, 9);
    assert_int_equal(g_cfg.log_level, LOG_ERROR);

    /* ORDERD_CONFIG names the file; --config wins over it. */
    unsetenv("ORDERD_THREADS");
    setenv("ORDERD_CONFIG", path, 1);
    assert_int_equal(load_args(NULL), 0);
    assert_int_equal(g_cfg.threads, 3);
    assert_string_equal(g_cfg.config_path, path);
    expect_error(LOAD("--config", "/nonexistent/orderd.conf"), "/nonexistent/orderd.conf");
    assert_non_null(strstr(g_err, "(from --config)"));
    setenv("ORDERD_CONFIG", "/nonexistent/x.conf", 1);
    expect_error(load_args(NULL), "config: cannot read \"/nonexistent/x.conf\"");
    assert_non_null(strstr(g_err, "(from ORDERD_CONFIG)"));
    unlink(path);
}

static void test_default_file_in_cwd(void **state)
{
    (void)state;
    assert_int_equal(mkdir("config", 0700), 0);
    write_file("config/orderd.conf", "# local settings\n\nmax_connections = 77\n");
    assert_int_equal(load_args(NULL), 0);
    assert_int_equal(g_cfg.max_connections, 77);
    assert_string_equal(g_cfg.config_path, "config/orderd.conf");
    unlink("config/orderd.conf");
    rmdir("config");

    assert_int_equal(load_args(NULL), 0); /* absent is fine */
    assert_string_equal(g_cfg.config_path, "");
    assert_int_equal(g_cfg.max_connections, 0);
}

static void test_file_syntax(void **state)
{
    char path[] = "/tmp/orderd_test_conf_XXXXXX";
    int fd = mkstemp(path);
    char want[600];

    (void)state;
    assert_true(fd >= 0);
    close(fd);
    write_file(path, "  # indented comment\n"
                     "\n"
                     "db_url=postgres://u:p@h/db#frag   # trailing comment\n"
                     "sql_dir = \"/opt/with # hash \"\n"
                     "\tbody_limit\t=\t64K\r\n"
                     "redis_url =\n");
    assert_int_equal(LOAD("--config", path), 0);
    assert_string_equal(g_cfg.db_url, "postgres://u:p@h/db#frag");
    assert_string_equal(g_cfg.sql_dir, "/opt/with # hash ");
    assert_int_equal(g_cfg.body_limit, 65536);
    assert_string_equal(g_cfg.redis_url, "");

    write_file(path, "threads = 2\nbogus_key = 1\n");
    snprintf(want, sizeof(want), "%s:2: unknown setting \"bogus_key\"", path);
    expect_error(LOAD("--config", path), want);

    write_file(path, "threads 2\n");
    snprintf(want, sizeof(want), "%s:1: expected \"key = value\"", path);
    expect_error(LOAD("--config", path), want);

    write_file(path, "\n\ndb_pool_size = abc\n");
    snprintf(want, sizeof(want),
             "db_pool_size: must be an integer from 1 to 1024, got \"abc\" (from %s:3)", path);
    expect_error(LOAD("--config", path), want);
    assert_string_equal(g_err, want);

    write_file(path, "sql_dir = \"unterminated\n");
    expect_error(LOAD("--config", path), "sql_dir: bad quoted value");

    /* a NUL must not hide the rest of a line (found by tests/fuzz) */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    static const char nul_line[] = "threads = 2\ndb_pool_size = 3\0 = 4\n";
    fwrite(nul_line, 1, sizeof nul_line - 1, f);
    fclose(f);
    snprintf(want, sizeof(want), "%s:2: a NUL byte in the line", path);
    expect_error(LOAD("--config", path), want);
    unlink(path);
}

static void test_value_errors_name_setting_and_source(void **state)
{
    char long_url[1100];

    (void)state;
    setenv("ORDERD_DB_POOL_SIZE", "abc", 1);
    assert_int_equal(load_args(NULL), -1);
    assert_string_equal(g_err, "db_pool_size: must be an integer from 1 to 1024, got \"abc\" "
                               "(from ORDERD_DB_POOL_SIZE)");
    unsetenv("ORDERD_DB_POOL_SIZE");

    expect_error(LOAD("--db-pool-size", "0"), "db_pool_size: must be an integer from 1 to 1024, "
                                              "got \"0\" (from --db-pool-size)");
    expect_error(LOAD("--threads", "257"), "threads: must be an integer from 0 to 256");
    expect_error(LOAD("--io-workers=-1"), "io_workers: must be an integer from 0 to 1024");
    expect_error(LOAD("--max-connections", "1e3"), "max_connections: must be an integer");
    expect_error(LOAD("--idle-timeout-s", " 5"), "idle_timeout_s: must be an integer");
    expect_error(LOAD("--request-timeout-ms", "99999999999999999999"), "request_timeout_ms:");
    expect_error(LOAD("--drain-timeout-ms", ""), "drain_timeout_ms: must be an integer");
    expect_error(LOAD("--db-acquire-timeout-ms", "0"), "db_acquire_timeout_ms:");
    expect_error(LOAD("--db-statement-timeout-ms", "x"), "db_statement_timeout_ms:");
    expect_error(LOAD("--db-connect-timeout-ms", "x"), "db_connect_timeout_ms:");
    expect_error(LOAD("--body-limit", "64X"),
                 "body_limit: must be a size from 1 to 67108864 bytes");
    assert_non_null(strstr(g_err, "got \"64X\" (from --body-limit)"));
    expect_error(LOAD("--body-limit", "65M"), "body_limit: must be a size");
    expect_error(LOAD("--body-limit", "-1"), "body_limit: must be a size");
    expect_error(LOAD("--connection-memory-limit", "1K"), "connection_memory_limit:");
    expect_error(LOAD("--db-prepared", "maybe"), "db_prepared: must be true or false");
    assert_non_null(strstr(g_err, "got \"maybe\" (from --db-prepared)"));
    setenv("ORDERD_ACCESS_LOG", "2", 1);
    expect_error(load_args(NULL), "access_log: must be true or false");
    assert_non_null(strstr(g_err, "(from ORDERD_ACCESS_LOG)"));
    unsetenv("ORDERD_ACCESS_LOG");
    expect_error(LOAD("--log-level", "verbose"),
                 "log_level: must be one of debug, info, warn, error, got \"verbose\"");
    expect_error(LOAD("--listen", "8080"), "listen: must be host:port");
    assert_non_null(strstr(g_err, "got \"8080\" (from --listen)"));

    memset(long_url, 'a', sizeof(long_url) - 1);
    long_url[sizeof(long_url) - 1] = '\0';
    expect_error(LOAD("--db-url", long_url), "db_url: longer than 1023 bytes (from --db-url)");
    assert_null(strstr(g_err, "aaaa")); /* a secret is never echoed */
    expect_error(LOAD("--sql-dir", long_url), "sql_dir: longer than 511 bytes");
}

static void test_flags_and_commands(void **state)
{
    (void)state;
    expect_error(LOAD("--bogus"), "unknown flag \"--bogus\"");
    expect_error(LOAD("--bogus=1"), "unknown flag \"--bogus\"");
    expect_error(LOAD("-x"), "unknown flag \"-x\"");
    expect_error(LOAD("--db_pool_size", "3"), "unknown flag \"--db_pool_size\"");
    expect_error(LOAD("--threads"), "threads: --threads needs a value");
    expect_error(LOAD("--db-url", "--threads", "2"), "db_url: --db-url needs a value");
    expect_error(LOAD("--config"), "config: --config needs a value");
    expect_error(LOAD("frobnicate"), "unknown command \"frobnicate\"");
    expect_error(LOAD("migrate", "serve"), "unexpected argument \"serve\"");

    assert_int_equal(load_args(NULL), 0);
    assert_int_equal(g_cfg.command, ORDERD_CMD_SERVE);
    assert_int_equal(LOAD("serve"), 0);
    assert_int_equal(g_cfg.command, ORDERD_CMD_SERVE);
    assert_int_equal(LOAD("--db-pool-size", "3", "migrate", "--sql-dir=/x"), 0);
    assert_int_equal(g_cfg.command, ORDERD_CMD_MIGRATE);
    assert_int_equal(g_cfg.db_pool_size, 3);
    assert_string_equal(g_cfg.sql_dir, "/x");
    assert_int_equal(LOAD("--print-config"), 0);
    assert_int_equal(g_cfg.command, ORDERD_CMD_PRINT_CONFIG);
    assert_int_equal(LOAD("--version"), 0);
    assert_int_equal(g_cfg.command, ORDERD_CMD_VERSION);
    /* Help answers even next to a mistake. */
    assert_int_equal(LOAD("--bogus", "-h"), 0);
    assert_int_equal(g_cfg.command, ORDERD_CMD_HELP);
    assert_int_equal(LOAD("--threads", "x", "--help"), 0);
    assert_int_equal(g_cfg.command, ORDERD_CMD_HELP);

    assert_int_equal(LOAD("--threads", "4", "--io-workers=2", "--db-pool-size", "16"), 0);
    assert_int_equal(g_cfg.threads, 4);
    assert_int_equal(g_cfg.io_workers, 2);
    assert_int_equal(LOAD("--db-pool-size", "16"), 0);
    assert_int_equal(g_cfg.io_workers, 16);
    assert_int_equal(LOAD("--db-url="), 0); /* an empty value is a value */
    assert_string_equal(g_cfg.db_url, "");
}

static void test_bools(void **state)
{
    static const char *const yes[] = {"true", "1", "yes", "on", "TRUE", "On"};
    static const char *const no[] = {"false", "0", "no", "off", "False", "OFF"};

    (void)state;
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(LOAD("--db-prepared", no[i], "--access-log", no[i]), 0);
        assert_false(g_cfg.db_prepared);
        assert_false(g_cfg.access_log);
        setenv("ORDERD_DB_PREPARED", yes[i], 1);
        assert_int_equal(LOAD("--access-log", yes[i]), 0);
        assert_true(g_cfg.db_prepared);
        assert_true(g_cfg.access_log);
        unsetenv("ORDERD_DB_PREPARED");
    }
}

static void test_sizes(void **state)
{
    (void)state;
    assert_int_equal(LOAD("--body-limit", "64K"), 0);
    assert_int_equal(g_cfg.body_limit, 65536);
    assert_int_equal(LOAD("--body-limit", "2k"), 0);
    assert_int_equal(g_cfg.body_limit, 2048);
    assert_int_equal(LOAD("--body-limit", "1M"), 0);
    assert_int_equal(g_cfg.body_limit, 1048576);
    assert_int_equal(LOAD("--body-limit=1"), 0);
    assert_int_equal(g_cfg.body_limit, 1);
    assert_int_equal(LOAD("--connection-memory-limit", "131072"), 0);
    assert_int_equal(g_cfg.connection_memory_limit, 131072);
    expect_error(LOAD("--body-limit", "K"), "body_limit:");
    expect_error(LOAD("--body-limit", "64KB"), "body_limit:");
    expect_error(LOAD("--body-limit", "0"), "body_limit:");
    expect_error(LOAD("--body-limit", "9999999999999999999M"), "body_limit:");
}

static void test_listen(void **state)
{
    static const char *const bad[] = {
        "",
        "8080",
        ":8080",
        "127.0.0.1:",
        "127.0.0.1:0",
        "1.2.3.4:65536",
        "1.2.3.4:80x",
        "1.2.3.4:-1",
        "256.1.1.1:80",
        "example.com:80",
        "[::1]",
        "[::1]8080",
        "::1:8080",
        "[nothost]:80",
        "1.2.3:80",
    };

    (void)state;
    assert_int_equal(LOAD("--listen", "localhost:80"), 0);
    assert_string_equal(g_cfg.listen_host, "127.0.0.1");
    assert_int_equal(g_cfg.listen_port, 80);
    assert_int_equal(LOAD("--listen=0.0.0.0:65535"), 0);
    assert_string_equal(g_cfg.listen_host, "0.0.0.0");
    assert_int_equal(g_cfg.listen_port, 65535);
    setenv("ORDERD_LISTEN", "[::1]:9000", 1);
    assert_int_equal(load_args(NULL), 0);
    assert_string_equal(g_cfg.listen_host, "::1");
    assert_int_equal(g_cfg.listen_port, 9000);
    unsetenv("ORDERD_LISTEN");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = LOAD("--listen", bad[i]);
        if (rc != -1 || strstr(g_err, "listen: must be host:port") == NULL)
            fail_msg("listen \"%s\" accepted or wrong error: %s", bad[i], g_err);
    }
}

static void check_mask(const char *in, const char *want)
{
    char out[256];

    config_mask_url(in, out, sizeof(out));
    assert_string_equal(out, want);
}

static void test_mask_url(void **state)
{
    char small[12];

    (void)state;
    check_mask("postgres://user:pw@host/db", "postgres://user:****@host/db");
    check_mask("postgresql://user:p@ss@h:5432/db", "postgresql://user:****@h:5432/db");
    check_mask("postgres://user@host/db", "postgres://user@host/db");
    check_mask("postgres://host/db?user=u&password=s3cret&sslmode=require",
               "postgres://host/db?user=u&password=****&sslmode=require");
    check_mask("postgres://u:a@h/db?sslpassword=k", "postgres://u:****@h/db?sslpassword=****");
    check_mask("postgres://u:pa?ss#w@h/db", "postgres://u:****@h/db");
    check_mask("postgres://u:p@h?password=x", "postgres://u:****@h?password=****");
    check_mask("postgres://h:5432/db?sslmode=require#x", "postgres://h:5432/db?sslmode=require#x");
    check_mask("redis://:pw@h", "redis://:****@h");
    check_mask("redis://h:6379/0", "redis://h:6379/0");
    check_mask("host=x password=xyz dbname=d", "host=x password=**** dbname=d");
    check_mask("password = 'a b\\' c' host=x", "password = **** host=x");
    check_mask("host=x mypassword=visible", "host=x mypassword=visible");
    check_mask("", "");

    /* Truncation keeps a NUL and never shows any of the password. */
    config_mask_url("redis://:secretpw@host", small, sizeof(small));
    assert_string_equal(small, "redis://:**");
    config_mask_url("postgres://u:pw@h", small, 1);
    assert_string_equal(small, "");
}

static char *capture(void (*fn)(FILE *, const void *), const void *arg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    assert_non_null(f);
    fn(f, arg);
    fclose(f);
    return text;
}

static void print_config_to(FILE *f, const void *cfg)
{
    config_print(cfg, f);
}

static void print_usage_to(FILE *f, const void *unused)
{
    (void)unused;
    config_print_usage(f);
}

static int count_lines(const char *text)
{
    int n = 0;

    for (; *text != '\0'; text++)
        n += *text == '\n';
    return n;
}

static void test_print_config(void **state)
{
    char *text;

    (void)state;
    assert_int_equal(LOAD("--db-url", "postgres://app:hunter2@db/orders", "--redis-url",
                          "redis://:topsecret@cache:6379/0", "--listen", "[::1]:81", "--jwt-secret",
                          "s3cr3t-key=="),
                     0);
    text = capture(print_config_to, &g_cfg);
    assert_int_equal(count_lines(text), 47);
    assert_true(strncmp(text, "listen = [::1]:81\nthreads = ", 28) == 0);
    assert_non_null(strstr(text, "\ndb_url = postgres://app:****@db/orders\n"));
    assert_non_null(strstr(text, "\nredis_url = redis://:****@cache:6379/0\n"));
    assert_non_null(strstr(text, "\nbody_limit = 65536\n"));
    assert_non_null(strstr(text, "\ndb_prepared = true\n"));
    assert_non_null(strstr(text, "\nlog_level = info\n"));
    assert_null(strstr(text, "hunter2"));
    assert_null(strstr(text, "topsecret"));
    assert_non_null(strstr(text, "\njwt_secret = ****\n"));
    assert_null(strstr(text, "s3cr3t"));
    free(text);
}

/* --print-config's output must load back as the same values: a string
 * the file parser would cut (a " #" comment, white space at an end) is
 * printed in quotes (found by tests/fuzz/fuzz_config.c). */
static void test_print_config_quotes_what_the_file_would_cut(void **state)
{
    char *text;

    (void)state;
    assert_int_equal(LOAD("--sql-dir", "/srv/sql #1", "--redis-url", " redis://cache:6379 "), 0);
    text = capture(print_config_to, &g_cfg);
    assert_non_null(strstr(text, "\nsql_dir = \"/srv/sql #1\"\n"));
    assert_non_null(strstr(text, "\nredis_url = \" redis://cache:6379 \"\n"));
    free(text);

    assert_int_equal(LOAD("--sql-dir", "/srv/sql#1"), 0); /* a '#' inside a word is no comment */
    text = capture(print_config_to, &g_cfg);
    assert_non_null(strstr(text, "\nsql_dir = /srv/sql#1\n"));
    free(text);
}

static void test_usage(void **state)
{
    char *text = capture(print_usage_to, NULL);

    (void)state;
    assert_non_null(strstr(text, "migrate"));
    assert_non_null(strstr(text, "--print-config"));
    assert_non_null(strstr(text, "--config FILE"));
    assert_non_null(strstr(text, "--db-pool-size N"));
    assert_non_null(strstr(text, "ORDERD_DB_POOL_SIZE"));
    assert_non_null(strstr(text, "--listen HOST:PORT"));
    assert_non_null(strstr(text, "default \"127.0.0.1:8080\""));
    assert_non_null(strstr(text, "--connection-memory-limit BYTES"));
    free(text);
}

/*
 * Uncommenting every "# key = value" line of the shipped sample file must
 * give exactly the defaults (sql_dir aside: its default is a build path),
 * and the sample must document every setting.
 */
static void test_sample_file_matches_defaults(void **state)
{
    char sample[1024], out[] = "/tmp/orderd_test_sample_XXXXXX";
    char *line = NULL;
    size_t cap = 0;
    int fd = mkstemp(out), keys = 0;
    orderd_config defaults;
    FILE *in, *f;

    (void)state;
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    snprintf(sample, sizeof(sample), "%s/../config/orderd.conf", ORDERD_SQL_DIR);
    in = fopen(sample, "r");
    assert_non_null(in);
    while (getline(&line, &cap, in) != -1) {
        size_t n = strspn(line + 2, "abcdefghijklmnopqrstuvwxyz_");
        if (strncmp(line, "# ", 2) == 0 && n > 0 && strncmp(line + 2 + n, " =", 2) == 0) {
            fputs(line + 2, f);
            keys++;
        }
    }
    free(line);
    fclose(in);
    fclose(f);
    assert_int_equal(keys, 47);

    assert_int_equal(load_args(NULL), 0);
    defaults = g_cfg;
    assert_int_equal(LOAD("--config", out), 0);
    unlink(out);
    memset(g_cfg.sql_dir, 0, sizeof(g_cfg.sql_dir));
    memset(defaults.sql_dir, 0, sizeof(defaults.sql_dir));
    memset(g_cfg.config_path, 0, sizeof(g_cfg.config_path));
    memset(defaults.config_path, 0, sizeof(defaults.config_path));
    assert_memory_equal(&g_cfg, &defaults, sizeof(defaults));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, test_setup),
        cmocka_unit_test_setup(test_precedence, test_setup),
        cmocka_unit_test_setup(test_default_file_in_cwd, test_setup),
        cmocka_unit_test_setup(test_file_syntax, test_setup),
        cmocka_unit_test_setup(test_value_errors_name_setting_and_source, test_setup),
        cmocka_unit_test_setup(test_flags_and_commands, test_setup),
        cmocka_unit_test_setup(test_bools, test_setup),
        cmocka_unit_test_setup(test_sizes, test_setup),
        cmocka_unit_test_setup(test_listen, test_setup),
        cmocka_unit_test_setup(test_mask_url, test_setup),
        cmocka_unit_test_setup(test_print_config, test_setup),
        cmocka_unit_test_setup(test_print_config_quotes_what_the_file_would_cut, test_setup),
        cmocka_unit_test_setup(test_usage, test_setup),
        cmocka_unit_test_setup(test_sample_file_matches_defaults, test_setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
