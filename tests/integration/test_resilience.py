"""PostgreSQL being slow, locked, exhausted or restarted."""

import threading
import time
import unittest

from harness import LockSession, PgInstance, Stack, StackTestCase, main, new_customer_id


def concurrent_posts(stack, n, total="1.00"):
    """Starts n POSTs at once; returns (threads, results) where results[i] = (response|exception, seconds)."""
    results = [None] * n
    barrier = threading.Barrier(n)

    def worker(i):
        c = stack.client(timeout=30)
        try:
            barrier.wait()
            start = time.monotonic()
            try:
                resp = c.post("/orders", json_body={"customer_id": new_customer_id(), "total": total})
            except Exception as e:  # noqa: BLE001 - reported by the test
                resp = e
            results[i] = (resp, time.monotonic() - start)
        finally:
            c.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    return threads, results


def probe_healthz(stack):
    """Seconds for one GET /healthz on a fresh connection."""
    c = stack.client(timeout=5)
    try:
        start = time.monotonic()
        resp = c.get("/healthz")
        elapsed = time.monotonic() - start
        return resp.status, elapsed
    finally:
        c.close()


class LockedTableTest(StackTestCase):
    DEADLINE_MS = 1500
    stack_env = {"ORDERD_REQUEST_TIMEOUT_MS": str(DEADLINE_MS),
                 "ORDERD_DB_STATEMENT_TIMEOUT_MS": str(DEADLINE_MS)}

    def test_healthz_answers_while_32_posts_wait_on_a_locked_table(self):
        margin = 1.0  # generous for a loaded 2-core machine under ASan
        with LockSession(self.stack.db_url):
            threads, results = concurrent_posts(self.stack, 32)
            time.sleep(0.3)  # let them reach the lock and fill the pool
            probes = []
            for _ in range(8):
                probes.append(probe_healthz(self.stack))
                time.sleep(0.1)
            for t in threads:
                t.join(self.DEADLINE_MS / 1000 + margin + 5)
            still_waiting = sum(t.is_alive() for t in threads)
        self.assertEqual(still_waiting, 0, "POSTs still hanging after the deadline")
        for status, elapsed in probes:
            self.assertEqual(status, 200)
            self.assertLess(elapsed, 0.1, f"/healthz took {elapsed * 1000:.0f} ms: {probes}")
        for resp, elapsed in results:
            self.assertNotIsInstance(resp, Exception, resp)
            self.assertIn(resp.status, (503, 504), resp)
            self.assert_problem(resp, resp.status)
            self.assertLess(elapsed, self.DEADLINE_MS / 1000 + margin, f"{elapsed:.2f} s: {resp}")
        # after the lock is gone the pool is healthy again
        self.assertEqual(self.create_order()["status"], "pending")
        self.assertEqual(self.c.get("/readyz").status, 200)

    def test_posts_queued_behind_a_lock_each_end_by_their_own_deadline(self):
        """POSTs 0.2 s apart queue up while the writers wait on the lock.

        The queued ones then go out together; a statement for all of them
        would be cancelled at the last one's deadline, a second past the
        first one's.
        """
        margin = 0.75
        results = [None] * 8

        def post(i):
            c = self.stack.client(timeout=30)
            try:
                start = time.monotonic()
                resp = c.post("/orders", json_body={"customer_id": new_customer_id(), "total": "1.00"})
                results[i] = (resp, time.monotonic() - start)
            finally:
                c.close()

        with LockSession(self.stack.db_url):
            threads = []
            for i in range(len(results)):
                threads.append(threading.Thread(target=post, args=(i,)))
                threads[-1].start()
                time.sleep(0.2)
            for t in threads:
                t.join(self.DEADLINE_MS / 1000 + 10)
        elapsed = [f"{r[1]:.2f}" for r in results if r]
        for resp, seconds in results:
            self.assertIn(resp.status, (503, 504), resp)
            self.assertLess(seconds, self.DEADLINE_MS / 1000 + margin, elapsed)

    def assert_read_ends_by_the_deadline(self, path):
        """GET path behind the lock: a problem (503 or 504) by the deadline,
        then 200 once the lock is gone."""
        with LockSession(self.stack.db_url):
            start = time.monotonic()
            resp = self.c.get(path)
            elapsed = time.monotonic() - start
        self.assertIn(resp.status, (503, 504), resp)
        self.assert_problem(resp, resp.status)
        self.assertLess(elapsed, self.DEADLINE_MS / 1000 + 1.0)
        self.assertEqual(self.c.get(path).status, 200)

    def test_reads_also_end_by_the_deadline(self):
        self.assert_read_ends_by_the_deadline(f"/orders/{self.create_order()['id']}")

    def test_list_pages_also_end_by_the_deadline(self):
        # a customer's page is read by the list loader, not an I/O worker
        order = self.create_order()
        self.assert_read_ends_by_the_deadline(f"/orders?customer_id={order['customer_id']}")


class ReconnectBehindLockTest(StackTestCase):
    """A connection cancelled at a deadline is reopened while the lock still holds.

    statement_timeout is the server's safety net, longer than the request
    deadline as an operator sets it; the reopened connection must not wait
    for it (preparing a statement waits for the tables it names).
    """
    DEADLINE_MS = 800
    stack_env = {"ORDERD_DB_POOL_SIZE": "1", "ORDERD_REQUEST_TIMEOUT_MS": str(DEADLINE_MS),
                 "ORDERD_DB_STATEMENT_TIMEOUT_MS": "6000"}

    def post_elapsed(self):
        start = time.monotonic()
        resp = self.c.post("/orders", json_body={"customer_id": new_customer_id(), "total": "1.00"})
        return resp, time.monotonic() - start

    def test_each_post_behind_the_lock_ends_by_its_own_deadline(self):
        with LockSession(self.stack.db_url):
            answers = [self.post_elapsed() for _ in range(3)]  # each cancels, the next reconnects
        for resp, elapsed in answers:
            self.assertIn(resp.status, (503, 504), resp)
            self.assert_problem(resp, resp.status)
            self.assertLess(elapsed, self.DEADLINE_MS / 1000 + 1.0, [f"{e:.2f} s" for _, e in answers])
        self.assertEqual(self.create_order()["status"], "pending")


class StatementTimeoutTest(StackTestCase):
    stack_env = {"ORDERD_REQUEST_TIMEOUT_MS": "10000", "ORDERD_DB_STATEMENT_TIMEOUT_MS": "500"}

    def test_statement_timeout_ends_a_blocked_query(self):
        with LockSession(self.stack.db_url):
            start = time.monotonic()
            resp = self.c.post("/orders", json_body={"customer_id": new_customer_id(), "total": "1.00"})
            elapsed = time.monotonic() - start
        self.assertIn(resp.status, (503, 504), resp)
        self.assert_problem(resp, resp.status)
        self.assertLess(elapsed, 3.0, "statement_timeout did not cut the query")
        self.assertEqual(self.create_order()["status"], "pending")


class PoolExhaustionTest(StackTestCase):
    stack_env = {"ORDERD_DB_POOL_SIZE": "1", "ORDERD_IO_WORKERS": "4", "ORDERD_DB_ACQUIRE_TIMEOUT_MS": "300",
                 "ORDERD_REQUEST_TIMEOUT_MS": "5000", "ORDERD_DB_STATEMENT_TIMEOUT_MS": "5000"}

    def test_no_free_connection_is_503_with_retry_after(self):
        with LockSession(self.stack.db_url) as lock:
            holder, holder_results = concurrent_posts(self.stack, 1)
            time.sleep(0.5)  # the only pooled connection is now stuck on the lock
            start = time.monotonic()
            resp = self.c.post("/orders", json_body={"customer_id": new_customer_id(), "total": "1.00"})
            elapsed = time.monotonic() - start
            lock.release()
            holder[0].join(10)
        self.assert_problem(resp, 503)
        retry_after = resp.header("Retry-After")
        self.assertIsNotNone(retry_after, resp)
        self.assertTrue(retry_after.isdigit() and int(retry_after) >= 1, retry_after)
        self.assertLess(elapsed, 2.0, "acquire did not give up at its deadline")
        first, _ = holder_results[0]
        self.assertEqual(first.status, 201, first)  # the lock holder's victim finished once released
        self.assertEqual(self.create_order()["status"], "pending")


class PostgresRestartTest(unittest.TestCase):
    """Uses a private PostgreSQL so restarting it disturbs no other test."""

    @classmethod
    def setUpClass(cls):
        cls.pg = PgInstance().start()

    @classmethod
    def tearDownClass(cls):
        cls.pg.destroy()

    def setUp(self):
        self.stack = Stack(admin=self.pg.url, env={"ORDERD_DB_CONNECT_TIMEOUT_MS": "1000",
                                                    "ORDERD_DB_ACQUIRE_TIMEOUT_MS": "500",
                                                    "ORDERD_REQUEST_TIMEOUT_MS": "3000"}).start()
        self.addCleanup(self.stack.stop)

    def post(self):
        c = self.stack.client(timeout=10)
        try:
            return c.post("/orders", json_body={"customer_id": new_customer_id(), "total": "2.00"})
        finally:
            c.close()

    def recovers_within(self, seconds):
        start = time.monotonic()
        statuses = []
        while time.monotonic() - start < seconds:
            try:
                resp = self.post()
                statuses.append(resp.status)
                if resp.status == 201:
                    got = self.stack.get(f"/orders/{resp.json()['id']}")
                    if got.status == 200:
                        return time.monotonic() - start
            except OSError as e:
                statuses.append(repr(e))
            time.sleep(0.1)
        self.fail(f"no successful request within {seconds} s after the restart: {statuses[-10:]}")

    def test_requests_succeed_again_after_a_restart(self):
        pid = self.stack.daemon.pid
        for _ in range(4):  # every pooled connection has been used
            self.assertEqual(self.post().status, 201)
        self.pg.restart(mode="fast")
        self.recovers_within(5.0)
        # all pooled connections, not just one, were replaced
        for _ in range(12):
            self.assertEqual(self.post().status, 201)
        self.assertTrue(self.stack.daemon.alive())
        self.assertEqual(self.stack.daemon.pid, pid)

    def test_down_is_503_and_not_ready_then_recovers(self):
        self.assertEqual(self.post().status, 201)
        self.pg.stop(mode="fast")
        try:
            resp = self.post()
            self.assertEqual(resp.status, 503, resp)
            self.assertEqual(resp.header("Content-Type").split(";")[0], "application/problem+json")
            listed = self.stack.get(f"/orders?customer_id={new_customer_id()}")
            self.assertEqual(listed.status, 503, listed)
            self.assertEqual(listed.header("Content-Type").split(";")[0], "application/problem+json")
            ready = self.stack.get("/readyz")
            self.assertEqual(ready.status, 503, ready)
            self.assertEqual(probe_healthz(self.stack)[0], 200)
        finally:
            self.pg.start()
        self.recovers_within(5.0)
        self.assertEqual(self.stack.get("/readyz").status, 200)


if __name__ == "__main__":
    main()
