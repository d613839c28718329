"""The command line: --help, --version, --print-config, bad settings, migrate."""

import os
import re
import subprocess
import tempfile
import unittest

from harness import SOURCE_DIR, create_database, daemon_env, drop_database, free_port, orderd_bin, psql, run_cli

SETTINGS = ["listen", "db_url", "redis_url", "threads", "io_workers", "max_connections",
            "max_connections_per_address", "idle_timeout_s", "request_head_timeout_ms", "request_body_timeout_ms",
            "connection_memory_limit", "body_limit", "request_timeout_ms", "drain_timeout_ms", "db_pool_size",
            "db_acquire_timeout_ms", "db_statement_timeout_ms", "db_connect_timeout_ms", "db_prepared", "sql_dir",
            "log_level", "access_log"]


def print_config(env=None, args=(), cwd=None):
    proc = run_cli(["--print-config", *args], env=env, cwd=cwd)
    values = {}
    for line in proc.stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip().strip('"')
    return proc, values


class InfoTest(unittest.TestCase):
    def test_help_lists_every_setting_with_env_and_flag(self):
        proc = run_cli(["--help"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        text = proc.stdout + proc.stderr
        self.assertIn("migrate", text)
        for key in SETTINGS:
            with self.subTest(key=key):
                self.assertIn("ORDERD_" + key.upper(), text)
                self.assertIn("--" + key.replace("_", "-"), text)

    def test_man_page_and_sample_config_describe_every_setting(self):
        """packaging/orderd.8 and config/orderd.conf name every setting
        --print-config shows; each marked [live] in --help is live in the
        man page and listed as changing on SIGHUP in the sample file."""
        keys = list(print_config()[1])
        self.assertGreater(len(keys), 20)
        help_text = run_cli(["--help"]).stdout
        live = set(re.findall(r"^  --([a-z0-9-]+) \S+  \[live\]$", help_text, re.M))
        live = {flag.replace("-", "_") for flag in live}
        self.assertIn("log_level", live)
        self.assertNotIn("listen", live)
        with open(os.path.join(SOURCE_DIR, "packaging", "orderd.8")) as f:
            man = f.read()
        with open(os.path.join(SOURCE_DIR, "config", "orderd.conf")) as f:
            sample = f.read()
        reload_note = sample[sample.index("SIGHUP"):sample.index("## Server")]
        entries = dict(re.findall(r"^\.BI (\w+) .*\n((?:(?!\.TP).*\n)*)", man, re.M))
        for key in keys:
            with self.subTest(key=key):
                self.assertIn(key, entries, "orderd.8 has no entry")
                self.assertEqual("\\fBlive\\fR" in entries[key], key in live, entries[key])
                self.assertRegex(sample, rf"(?m)^# {key} =")
                self.assertEqual(re.search(rf"\b{key}\b", reload_note) is not None, key in live)

    def test_version(self):
        proc = run_cli(["--version"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertRegex(proc.stdout, r"\d+\.\d+\.\d+")

    def test_print_config_shows_every_setting_and_defaults(self):
        proc, values = print_config()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        for key in SETTINGS:
            self.assertIn(key, values, proc.stdout)
        for key, want in (("listen", "127.0.0.1:8080"), ("max_connections", "0"), ("idle_timeout_s", "60"),
                          ("max_connections_per_address", "256"), ("request_head_timeout_ms", "10000"),
                          ("request_body_timeout_ms", "30000"),
                          ("connection_memory_limit", "16384"), ("body_limit", "65536"),
                          ("request_timeout_ms", "5000"), ("drain_timeout_ms", "10000"), ("db_pool_size", "8"),
                          ("db_acquire_timeout_ms", "1000"), ("db_statement_timeout_ms", "5000"),
                          ("db_connect_timeout_ms", "2000"), ("db_prepared", "true"), ("log_level", "info"),
                          ("access_log", "true")):
            with self.subTest(key=key):
                self.assertEqual(values[key], want)

    def test_print_config_masks_passwords(self):
        proc, values = print_config(env={"ORDERD_DB_URL": "postgres://app:s3cretpw@db.example:5432/orders",
                                         "ORDERD_REDIS_URL": "redis://:r3dispw@cache.example:6379/0"})
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertNotIn("s3cretpw", proc.stdout + proc.stderr)
        self.assertNotIn("r3dispw", proc.stdout + proc.stderr)
        self.assertIn("****", values["db_url"])
        self.assertIn("app", values["db_url"])
        self.assertIn("db.example", values["db_url"])
        self.assertIn("****", values["redis_url"])

    def test_print_config_masks_conninfo_passwords(self):
        proc, values = print_config(env={"ORDERD_DB_URL": "host=db user=app password=s3cretpw dbname=orders"})
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertNotIn("s3cretpw", proc.stdout + proc.stderr)
        self.assertIn("****", values["db_url"])


class PrecedenceTest(unittest.TestCase):
    def test_file_then_env_then_flag(self):
        with tempfile.TemporaryDirectory() as tmp:
            conf = os.path.join(tmp, "orderd.conf")
            with open(conf, "w") as f:
                f.write("# test\ndb_pool_size = 3\nbody_limit = 1000\nthreads = 3  # trailing comment\n")
            _, values = print_config(args=["--config", conf])
            self.assertEqual((values["db_pool_size"], values["body_limit"], values["threads"]), ("3", "1000", "3"))
            _, values = print_config(env={"ORDERD_DB_POOL_SIZE": "4"}, args=["--config", conf])
            self.assertEqual((values["db_pool_size"], values["body_limit"]), ("4", "1000"))
            _, values = print_config(env={"ORDERD_DB_POOL_SIZE": "4", "ORDERD_CONFIG": conf},
                                     args=["--db-pool-size", "5"])
            self.assertEqual((values["db_pool_size"], values["body_limit"]), ("5", "1000"))
            _, values = print_config(args=["--db-pool-size=6", "--config", conf])
            self.assertEqual(values["db_pool_size"], "6")

    def test_config_orderd_conf_in_the_working_directory_is_read(self):
        with tempfile.TemporaryDirectory() as tmp:
            os.mkdir(os.path.join(tmp, "config"))
            with open(os.path.join(tmp, "config", "orderd.conf"), "w") as f:
                f.write("max_connections = 77\n")
            _, values = print_config(cwd=tmp)
            self.assertEqual(values["max_connections"], "77")

    def test_missing_explicit_config_file_fails(self):
        proc = run_cli(["--print-config", "--config", "/nonexistent/orderd.conf"])
        self.assertNotEqual(proc.returncode, 0)


class BadValueTest(unittest.TestCase):
    def assert_rejected(self, setting, env=None, args=(), conf=None):
        with tempfile.TemporaryDirectory() as tmp:
            if conf is not None:
                path = os.path.join(tmp, "bad.conf")
                with open(path, "w") as f:
                    f.write(conf)
                args = ["--config", path, *args]
            proc = run_cli(["--print-config", *args], env=env)
            self.assertEqual(proc.returncode, 2, (proc.stdout, proc.stderr))
            self.assertIn(setting, proc.stderr, proc.stderr)
            # the daemon itself must refuse too, not only --print-config
            try:
                proc = run_cli(list(args), env={"ORDERD_LISTEN": f"127.0.0.1:{free_port()}", **(env or {})},
                               timeout=10)
            except subprocess.TimeoutExpired:
                self.fail(f"orderd started despite a bad {setting}")
            self.assertEqual(proc.returncode, 2, (proc.stdout, proc.stderr))
            self.assertIn(setting, proc.stdout + proc.stderr)

    def test_bad_env_values_name_the_setting(self):
        for key, value in (("db_pool_size", "abc"), ("db_pool_size", "0"), ("db_pool_size", "-1"),
                           ("threads", "many"), ("max_connections", "1x"), ("idle_timeout_s", "-5"),
                           ("body_limit", "-1"), ("request_timeout_ms", "99999999999999999999"),
                           ("log_level", "loud"), ("access_log", "maybe"), ("db_prepared", "2"),
                           ("listen", "nohostport"), ("listen", "127.0.0.1:99999"), ("listen", "127.0.0.1:")):
            with self.subTest(key=key, value=value):
                self.assert_rejected(key, env={f"ORDERD_{key.upper()}": value})

    def test_bad_flag_value_names_the_setting(self):
        self.assert_rejected("db_pool_size", args=["--db-pool-size", "zero"])
        self.assert_rejected("listen", args=["--listen=:::"])

    def test_bad_file_value_names_the_setting(self):
        self.assert_rejected("drain_timeout_ms", conf="drain_timeout_ms = soon\n")

    def test_unknown_flag_fails(self):
        proc = run_cli(["--no-such-flag"])
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("no-such-flag", proc.stdout + proc.stderr)


class MigrateTest(unittest.TestCase):
    def setUp(self):
        self.url, self.name = create_database()
        self.addCleanup(drop_database, self.name)

    def migrate(self):
        return run_cli(["migrate"], env={"ORDERD_DB_URL": self.url})

    def test_migrate_creates_the_schema_and_is_safe_twice(self):
        first = self.migrate()
        self.assertEqual(first.returncode, 0, first.stdout + first.stderr)
        applied = psql(self.url, "SELECT count(*) FROM schema_migrations")
        self.assertGreaterEqual(int(applied), 1)
        self.assertEqual(psql(self.url, "SELECT to_regclass('public.orders') IS NOT NULL"), "t")
        second = self.migrate()
        self.assertEqual(second.returncode, 0, second.stdout + second.stderr)
        self.assertEqual(psql(self.url, "SELECT count(*) FROM schema_migrations"), applied)

    def test_two_concurrent_migrations_both_succeed(self):
        procs = [subprocess.Popen([orderd_bin(), "migrate"], env=daemon_env({"ORDERD_DB_URL": self.url}),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  cwd=tempfile.gettempdir()) for _ in range(3)]
        for p in procs:
            out, err = p.communicate(timeout=60)
            self.assertEqual(p.returncode, 0, out + err)
        files = [f for f in os.listdir(os.path.join(SOURCE_DIR, "sql")) if re.match(r"^\d+_.*\.sql$", f)]
        self.assertEqual(int(psql(self.url, "SELECT count(*) FROM schema_migrations")), len(files))

    def test_migrate_against_an_unreachable_database_fails(self):
        proc = run_cli(["migrate"], env={"ORDERD_DB_URL": "postgres://postgres@127.0.0.1:1/x",
                                         "ORDERD_DB_CONNECT_TIMEOUT_MS": "1000"})
        self.assertNotEqual(proc.returncode, 0)

    def test_migrate_without_a_database_url_fails(self):
        proc = run_cli(["migrate"])
        self.assertNotEqual(proc.returncode, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
