"""The Debian package, installed for real: apt-get install ./orderd_*.deb, run, purge.

This changes the machine it runs on (it installs /usr/bin/orderd, creates
the orderd user, then purges both), so it guards itself:
  - it runs only as root;
  - it refuses to touch a machine where orderd is already there in any
    form: the package known to dpkg, /usr/bin/orderd, /etc/orderd, the
    unit file, an orderd user or group, or a `cmake --install` in
    /usr/local.
When a guard stops it, it exits 77 and ctest reports it as skipped, unless
ORDERD_TEST_PACKAGE_REQUIRED=1 (scripts/test sets it when root), where a guard
is a failure.

Then: scripts/package builds the .deb in a fresh folder; `apt-get install
./orderd_*.deb` installs it; `orderd --version`, the installed paths, `systemd-analyze verify` and
`security --offline` of the unit; `orderd migrate` against the test
PostgreSQL; the installed binary started as the orderd user with its
installed config (only db_url, redis_url and listen come from the
environment) under a notify socket, serving a POST and a GET; then
`apt-get purge`, after which no file of the package, no enablement link,
no user and no group is left.  Last, `cmake --install` of this test's own
build (the default prefix, /usr/local): without a flag that binary finds
its migrations and its config; its files are removed again from
install_manifest.txt.  The steps are numbered: they share one install.
"""

import grp
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

from harness import (SOURCE_DIR, Client, Daemon, NotifySocket, create_database,  # noqa: E402
                     drop_database, free_port, psql, tmp_base)

BIN = "/usr/bin/orderd"
CONFIG = "/etc/orderd/orderd.conf"
UNIT = "/lib/systemd/system/orderd.service"
WANTS = "/etc/systemd/system/multi-user.target.wants/orderd.service"
# `cmake --install` with the default prefix, from the build this test belongs to
LOCAL_BIN = "/usr/local/bin/orderd"
LOCAL_PATHS = (LOCAL_BIN, "/usr/local/share/orderd", "/usr/local/etc/orderd",
               "/usr/local/lib/systemd/system/orderd.service", "/usr/local/share/man/man8/orderd.8.gz")
SKIP = 77
# apt-get rather than dpkg: it waits for the dpkg lock another installer
# may hold instead of failing at once; with the dependencies present (the
# build needed them) it never goes to the network
APT = ["apt-get", "-y", "-q", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=300"]
APT_ENV = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}


def run(args, check=True, **kw):
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    return proc


def dpkg_knows_orderd():
    proc = run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}", "orderd"], check=False)
    return proc.returncode == 0 and proc.stdout.strip() not in ("", "un")


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def group_exists(name):
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def why_not_here():
    """None when this machine may be used, else the reason."""
    if os.geteuid() != 0:
        return "the package test installs into the system: run it as root"
    if dpkg_knows_orderd():
        return "an orderd package is installed here; the test will not replace it"
    for path in (BIN, "/etc/orderd", UNIT, WANTS) + LOCAL_PATHS:
        if os.path.lexists(path):
            return f"{path} exists; the test will not overwrite it"
    if user_exists("orderd") or group_exists("orderd"):
        return "an orderd user or group exists; the test will not take it over"
    return None


class InstalledDaemon(Daemon):
    """The installed binary as the unit runs it: user orderd, no new privileges."""

    def __init__(self, env):
        super().__init__(env=env)
        self.env.pop("ORDERD_LOG_LEVEL")  # only db_url, redis_url and listen from outside

    def command(self):
        return ["setpriv", "--reuid=orderd", "--regid=orderd", "--clear-groups", "--no-new-privs", BIN]


class PackageTest(unittest.TestCase):
    installed = False

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="orderd-package.", dir=tmp_base())
        env = {**os.environ, "ORDERD_PACKAGE_BUILD_DIR": os.path.join(cls.tmp, "build")}
        proc = run([os.path.join(SOURCE_DIR, "scripts", "package"), os.path.join(cls.tmp, "dist")], env=env)
        cls.deb = proc.stdout.strip().splitlines()[-1]
        run(APT + ["install", cls.deb], env=APT_ENV)
        cls.installed = True
        cls.files = [f for f in run(["dpkg-query", "-L", "orderd"]).stdout.splitlines() if f.strip()]

    @classmethod
    def tearDownClass(cls):
        if cls.installed and dpkg_knows_orderd():
            run(APT + ["purge", "orderd"], check=False, env=APT_ENV)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_1_installed_files_user_and_paths(self):
        for path in (BIN, CONFIG, UNIT, "/usr/share/orderd/sql/0001_orders.sql",
                     "/usr/share/man/man8/orderd.8.gz"):
            self.assertIn(path, self.files)
            self.assertTrue(os.path.exists(path), path)
        user = pwd.getpwnam("orderd")
        self.assertLess(user.pw_uid, 1000, "not a system user")
        self.assertEqual(user.pw_dir, "/nonexistent")
        self.assertFalse(os.path.exists(user.pw_dir))
        self.assertIn(os.path.basename(user.pw_shell), ("nologin", "false"))
        st = os.stat(CONFIG)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o640)
        self.assertEqual((st.st_uid, st.st_gid), (0, grp.getgrnam("orderd").gr_gid))
        depends = run(["dpkg-deb", "-f", self.deb, "Depends"]).stdout
        for lib in ("libmicrohttpd12", "libpq5", "libhiredis0.14", "libjansson4", "adduser"):
            self.assertIn(lib, depends)

        self.assertEqual(run([BIN, "--version"]).stdout.strip(), "orderd 0.1.0")
        # no flag, another working directory: the installed paths
        printed = run([BIN, "--print-config"], cwd="/").stdout
        self.assertIn("sql_dir = /usr/share/orderd/sql\n", printed)

    def test_2_unit_file_lints_clean(self):
        # --man=no: whether man(1) finds pages is the machine's business
        proc = run(["systemd-analyze", "verify", "--man=no", UNIT], check=False)
        self.assertEqual((proc.returncode, proc.stderr.strip()), (0, ""), proc.stdout)
        proc = run(["systemd-analyze", "security", "--offline=yes", "--threshold=30", UNIT], check=False)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn("Overall exposure level for orderd.service", proc.stdout)
        with open(UNIT) as f:
            unit = f.read()
        for line in ("Type=notify", "ExecStart=/usr/bin/orderd\n", "ExecReload=/bin/kill -HUP $MAINPID",
                     "WatchdogSec=", "User=orderd", "ProtectSystem=strict", "NoNewPrivileges=yes",
                     "PrivateTmp=yes"):
            self.assertIn(line, unit)

    def test_3_migrate_and_serve(self):
        admin = os.environ.get("ORDERD_TEST_DB_URL")
        if not admin:
            self.fail("ORDERD_TEST_DB_URL is not set (scripts/test sets it)")
        db_url, db_name = create_database(admin)
        self.addCleanup(drop_database, db_name, admin)
        env = {"ORDERD_DB_URL": db_url, "PATH": os.environ.get("PATH", "")}
        proc = run([BIN, "migrate"], env=env, cwd="/")
        self.assertEqual(psql(db_url, "SELECT count(*) FROM orders"), "0", proc.stdout)

        sock = NotifySocket()
        self.addCleanup(sock.close)
        port = free_port()
        daemon = InstalledDaemon({**sock.env(), "ORDERD_DB_URL": db_url,
                                  "ORDERD_REDIS_URL": os.environ.get("ORDERD_TEST_REDIS_URL", ""),
                                  "ORDERD_LISTEN": f"127.0.0.1:{port}"})
        daemon.port = port
        daemon.start()
        self.addCleanup(daemon.cleanup)
        try:
            self.assertIsNotNone(sock.wait_for("READY", timeout=30), daemon.output_tail())
            listening = daemon.wait_log(lambda r: r.get("msg") == "listening")
            self.assertEqual(listening["config"], CONFIG, daemon.output_tail())
            c = Client(port)
            created = c.post("/orders", json_body={"customer_id": 7, "total": "4.20", "currency": "EUR"})
            self.assertEqual(created.status, 201, created)
            got = c.get(created.header("Location"))
            self.assertEqual(got.status, 200, got)
            self.assertEqual(got.json()["total"], "4.20")
            c.close()
            self.assertEqual(self.uid_of(daemon.pid), pwd.getpwnam("orderd").pw_uid)
        finally:
            daemon.stop(sig=signal.SIGTERM)

    @staticmethod
    def uid_of(pid):
        """The real uid of pid (setpriv execs orderd in place: the child is the daemon)."""
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Uid:"):
                    return int(line.split()[1])
        raise AssertionError(f"no Uid line for {pid}")

    def test_4_purge_leaves_nothing(self):
        if shutil.which("systemctl"):
            # enabled as an admin would; the package must take the link away
            run(["systemctl", "enable", "orderd.service"])
            self.assertTrue(os.path.islink(WANTS))
        run(APT + ["purge", "orderd"], env=APT_ENV)
        type(self).installed = False
        self.assertFalse(dpkg_knows_orderd())
        left = [f for f in self.files if os.path.lexists(f) and not os.path.isdir(f)]
        self.assertEqual(left, [])
        for path in ("/etc/orderd", "/usr/share/orderd", WANTS):
            self.assertFalse(os.path.lexists(path), path)
        self.assertFalse(user_exists("orderd"))
        self.assertFalse(group_exists("orderd"))

    def test_5_default_prefix_install_finds_its_files(self):
        build = os.environ.get("ORDERD_BUILD_DIR")
        if not build:
            self.fail("ORDERD_BUILD_DIR is not set (tests/CMakeLists.txt sets it)")
        run(["cmake", "--install", build])
        manifest = os.path.join(build, "install_manifest.txt")
        self.addCleanup(self.uninstall, manifest)
        with open("/usr/local/etc/orderd/orderd.conf", "a") as f:
            f.write("max_connections = 77\n")
        printed = run([LOCAL_BIN, "--print-config"], cwd="/").stdout
        self.assertIn("sql_dir = /usr/local/share/orderd/sql\n", printed)
        self.assertIn("max_connections = 77\n", printed)  # its config file was read
        admin = os.environ.get("ORDERD_TEST_DB_URL")
        if not admin:
            self.fail("ORDERD_TEST_DB_URL is not set (scripts/test sets it)")
        db_url, db_name = create_database(admin)
        self.addCleanup(drop_database, db_name, admin)
        run([LOCAL_BIN, "migrate"], env={"ORDERD_DB_URL": db_url, "PATH": os.environ.get("PATH", "")}, cwd="/")
        self.assertEqual(psql(db_url, "SELECT count(*) FROM orders"), "0")

    @staticmethod
    def uninstall(manifest):
        with open(manifest) as f:
            for path in f.read().split():
                if os.path.lexists(path):
                    os.unlink(path)
        # the folders the install made; rmdir takes only empty ones
        for folder in ("/usr/local/share/orderd/sql", "/usr/local/share/orderd", "/usr/local/etc/orderd",
                       "/usr/local/lib/systemd/system", "/usr/local/lib/systemd", "/usr/local/share/man/man8"):
            try:
                os.rmdir(folder)
            except OSError:
                pass  # not empty: something else of the machine's lives there
        leftovers = [p for p in LOCAL_PATHS if os.path.lexists(p)]
        if leftovers:
            raise AssertionError(f"left behind by the uninstall: {leftovers}")


if __name__ == "__main__":
    reason = why_not_here()
    if reason:
        if os.environ.get("ORDERD_TEST_PACKAGE_REQUIRED") == "1":
            print(f"FAIL: {reason} (ORDERD_TEST_PACKAGE_REQUIRED=1)")
            sys.exit(1)
        print(f"SKIP: {reason}")
        sys.exit(SKIP)
    unittest.main(verbosity=2)
