"""SIGHUP reloads the config file under load, and no request fails.

Four client threads send GETs and POSTs on keep-alive connections to
127.0.0.1 (bounded in time and count) while the file flips log_level and
request_timeout_ms and the daemon is sent SIGHUP; the test waits for each
reload through the notify socket (RELOADING=1 ... READY=1).  Then, with
no load, it checks that the new values are in force: an access log line
disappears at log_level = warn, and a PATCH blocked on a table lock
times out after the new request_timeout_ms where the old one let it
through.  A bad file keeps the old configuration and says why; a change
to a setting that is not live is named in a warning and not applied.
"""

import os
import signal
import tempfile
import threading
import time
import unittest
import uuid

from harness import Client, LockSession, NotifySocket, Stack, main, new_customer_id, tmp_base

LOAD_THREADS = 4
LOAD_MAX_REQUESTS = 1500  # per thread
LOAD_MAX_SECONDS = 60
RELOAD_ROUNDS = 6


class ReloadTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="orderd-reload.", dir=tmp_base())
        self.path = os.path.join(self.dir, "orderd.conf")
        self.write_config(log_level="info", request_timeout_ms=5000)
        self.sock = NotifySocket()
        self.addCleanup(self.sock.close)
        env = {**self.sock.env(), "ORDERD_REDIS_URL": os.environ.get("ORDERD_TEST_REDIS_URL", "")}
        # the harness sets the level by environment, which would win over the file
        self.stack = Stack(env=env, args=["--config", self.path])
        self.stack.daemon.env.pop("ORDERD_LOG_LEVEL")
        self.stack.start()
        self.addCleanup(self.stack.stop)
        self.assertIsNotNone(self.sock.wait_for("READY"), self.stack.daemon.output_tail())

    def write_config(self, **settings):
        """Replaces the file in one rename, as an editor or config tool would."""
        tmp = self.path + ".new"
        with open(tmp, "w") as f:
            for key, value in settings.items():
                f.write(f"{key} = {value}\n")
        os.replace(tmp, self.path)

    def reload(self):
        self.stack.daemon.send_signal(signal.SIGHUP)
        self.assertIsNotNone(self.sock.wait_for("RELOADING"), self.stack.daemon.output_tail())
        self.assertIsNotNone(self.sock.wait_for("READY"), self.stack.daemon.output_tail())

    def test_reload_under_load_fails_no_request(self):
        seed = Client(self.stack.port)
        ids = [seed.post("/orders", json_body={"customer_id": new_customer_id(), "total": "3.00"}).json()["id"]
               for _ in range(20)]
        seed.close()
        stop = threading.Event()
        failures, counts = [], []
        deadline = time.monotonic() + LOAD_MAX_SECONDS

        def load(n):
            c = Client(self.stack.port, timeout=15)
            done = 0
            try:
                while not stop.is_set() and done < LOAD_MAX_REQUESTS and time.monotonic() < deadline:
                    if done % 5 == 4:
                        resp = c.post("/orders", json_body={"customer_id": new_customer_id(), "total": "1.00"})
                        ok = resp.status == 201
                    else:
                        resp = c.get(f"/orders/{ids[(done + n) % len(ids)]}")
                        ok = resp.status == 200
                    if not ok:
                        failures.append(resp)
                    done += 1
            except Exception as e:  # noqa: BLE001 - a broken connection is a failure too
                failures.append(e)
            finally:
                counts.append(done)
                c.close()

        threads = [threading.Thread(target=load, args=(n,)) for n in range(LOAD_THREADS)]
        for t in threads:
            t.start()
        try:
            for i in range(RELOAD_ROUNDS):
                time.sleep(0.2)
                if i % 2 == 0:
                    self.write_config(log_level="warn", request_timeout_ms=4000)
                else:
                    self.write_config(log_level="debug", request_timeout_ms=5000)
                self.reload()
        finally:
            stop.set()
            for t in threads:
                t.join(LOAD_MAX_SECONDS + 30)
        self.assertEqual(failures[:5], [], f"{len(failures)} requests failed during reloads")
        self.assertEqual(len(counts), LOAD_THREADS)
        self.assertGreater(sum(counts), 0)
        print(f"{sum(counts)} requests during {RELOAD_ROUNDS} reloads, none failed")
        records = [r for r in self.stack.daemon.log_lines() if isinstance(r, dict)]
        # a reload's lines are judged by the level in force when it starts:
        # the rounds that begin at warn log no info line
        changed = [r for r in records if r.get("msg") == "reload: request_timeout_ms changed"]
        self.assertEqual(len(changed), RELOAD_ROUNDS // 2, self.stack.daemon.output_tail())
        self.assertEqual((changed[0]["old"], changed[0]["new"]), ("5000", "4000"))

    def test_new_log_level_and_timeout_are_in_force(self):
        c = self.stack.client()
        self.addCleanup(c.close)
        order = c.post("/orders", json_body={"customer_id": new_customer_id(), "total": "9.00"}).json()

        # log_level: the access log is written at info
        self.write_config(log_level="warn", request_timeout_ms=5000)
        self.reload()
        quiet = "quiet-" + uuid.uuid4().hex
        self.assertEqual(c.get("/healthz", headers={"X-Request-ID": quiet}).status, 200)
        self.write_config(log_level="info", request_timeout_ms=5000)
        self.reload()
        loud = "loud-" + uuid.uuid4().hex
        self.assertEqual(c.get("/healthz", headers={"X-Request-ID": loud}).status, 200)
        self.assertIsNotNone(self.stack.daemon.wait_log(lambda r: r.get("request_id") == loud))
        self.assertEqual(self.stack.daemon.access_records(quiet), [], "logged at info under log_level = warn")

        # request_timeout_ms: 5000 outlasts a 1.5 s lock, 300 does not
        self.assertEqual(self.patch_under_lock(order, "paid").status, 200)
        self.write_config(log_level="info", request_timeout_ms=300)
        self.reload()
        resp = self.patch_under_lock(order, "shipped")
        self.assertIn(resp.status, (503, 504), resp)
        self.assertEqual(resp.header("Content-Type"), "application/problem+json", resp)

    def patch_under_lock(self, order, status):
        """PATCHes order while the orders table is locked for 1.5 s."""
        with LockSession(self.stack.db_url) as lock:
            threading.Timer(1.5, lock.release).start()
            c = self.stack.client()
            try:
                return c.patch(f"/orders/{order['id']}", json_body={"status": status})
            finally:
                c.close()

    def test_bad_file_keeps_the_old_configuration(self):
        self.write_config(log_level="info", request_timeout_ms="soon")
        self.stack.daemon.send_signal(signal.SIGHUP)
        refused = self.stack.daemon.wait_log(lambda r: r.get("msg", "").startswith("reload refused"), timeout=10)
        self.assertIsNotNone(refused, self.stack.daemon.output_tail())
        self.assertIn("request_timeout_ms", refused["error"])
        self.assertIn(self.path, refused["error"])  # file and line
        self.assertEqual(self.stack.get("/healthz").status, 200)
        # still serving, and a later good file is taken
        self.write_config(log_level="info", request_timeout_ms=4500)
        self.reload()
        self.assertIsNotNone(self.stack.daemon.wait_log(
            lambda r: r.get("msg") == "reload: request_timeout_ms changed" and r.get("new") == "4500"))

    def test_setting_that_is_not_live_is_named_and_kept(self):
        self.write_config(log_level="info", request_timeout_ms=5000, db_pool_size=3)
        self.reload()
        warning = self.stack.daemon.wait_log(lambda r: r.get("setting") == "db_pool_size")
        self.assertIsNotNone(warning, self.stack.daemon.output_tail())
        self.assertEqual(warning["level"], "warn")
        self.assertIn("cannot change while running", warning["msg"])
        self.assertEqual((warning["old"], warning["new"]), ("8", "3"))


if __name__ == "__main__":
    main()
