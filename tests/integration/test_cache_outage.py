"""Redis trouble is never an outage: pause, kill, restart, start-up without it."""

import threading
import unittest
import time

from cache_stack import CacheStack, CacheTestCase, metrics, wait_cache_up
from harness import Client, Daemon, admin_url, create_database, drop_database, free_port, main, migrate
from harness import new_customer_id


def redis_failures(client, reason):
    return metrics(client).get(f'orderd_redis_command_failures_total{{reason="{reason}"}}', 0)


class Outages(CacheTestCase):
    stack_env = {"ORDERD_REDIS_COMMAND_TIMEOUT_MS": "50", "ORDERD_REDIS_CONNECT_TIMEOUT_MS": "50"}
    via_proxy = True

    def test_write_during_a_partition_is_never_read_stale_after_it_heals(self):
        order = self.create()
        oid = order["id"]
        for client in (self.ca, self.cb, self.ca, self.cb):
            self.get(client, oid)
        self.assertEqual(self.get(self.cb, oid)[1], "HIT")
        self.wait_filled(oid, "P1:")

        # Redis stays up with the "version 1" entry; orderd just can't reach it
        cut_before = redis_failures(self.cb, "connection")
        self.stack.proxy.partition()
        try:
            resp = self.ca.patch(f"/orders/{oid}", json_body={"status": "paid"})
            self.assertEqual(resp.status, 200, resp)  # writes still succeed
            for client in (self.ca, self.cb, self.cb, self.cb, self.cb):
                during, cache = self.get(client, oid)
                self.assertEqual(during.status, 200, during)
                self.assertEqual(during.json()["version"], 2)
                self.assertIn(cache, ("BYPASS", "MISS"))
            self.assertEqual(self.get(self.cb, oid)[1], "BYPASS")
            ready = self.cb.get("/readyz")
            self.assertEqual(ready.status, 200)
            self.assertEqual(ready.json()["redis"], "down")
            self.assertTrue(self.stack.redis.command("GET", f"order:{oid}").startswith("P1:"))
            self.assertGreater(redis_failures(self.cb, "connection"), cut_before)
        finally:
            self.stack.proxy.heal()

        # Nothing may ever serve the old entry: A replays its journal of
        # invalidations, and every process waits a grace period first.
        deadline = time.monotonic() + 5
        seen_hit = False
        while time.monotonic() < deadline and not seen_hit:
            for client in (self.cb, self.ca):
                after, cache = self.get(client, oid)
                self.assertEqual(after.status, 200, after)
                self.assertEqual(after.json()["version"], 2, f"stale read ({cache})")
                seen_hit |= cache == "HIT"
            time.sleep(0.02)
        self.assertTrue(seen_hit, "caching did not resume within 5 s")

    def test_a_redis_that_stops_answering_costs_a_read_one_timeout(self):
        # filled in Redis by b, so a has it in no memory and must ask Redis
        order = self.create(client=self.cb)
        self.get(self.cb, order["id"])
        self.wait_filled(order["id"], "P1:")
        timeouts_before = redis_failures(self.ca, "timeout")
        self.stack.redis.pause()  # connections stay open; nothing answers
        try:
            started = time.monotonic()
            resp, cache = self.get(self.ca, order["id"])
            took = time.monotonic() - started
        finally:
            self.stack.redis.resume()
        self.assertEqual((resp.status, cache), (200, "BYPASS"), resp)
        self.assertEqual(resp.json()["version"], 1)
        self.assertGreater(redis_failures(self.ca, "timeout"), timeouts_before)
        # 50 ms command timeout; the bound is loose for a loaded machine,
        # and far below what waiting on the paused server would take
        self.assertLess(took, 2.0)
        wait_cache_up(self.stack.a)

    def test_killing_redis_under_load_fails_no_request(self):
        orders = [self.create()["id"] for _ in range(5)]
        stop = threading.Event()
        failures, statuses, lock = [], {}, threading.Lock()

        def load(port, n):
            c = Client(port, timeout=10)
            i = 0
            try:
                while not stop.is_set() and i < 100000:
                    i += 1
                    if i % 10 == 0:
                        resp = c.post("/orders", json_body={"customer_id": new_customer_id(), "total": "1.00"})
                        ok = resp.status == 201
                    else:
                        resp = c.get(f"/orders/{orders[(i + n) % len(orders)]}")
                        ok = resp.status == 200
                    with lock:
                        key = resp.header("X-Cache") or str(resp.status)
                        statuses[key] = statuses.get(key, 0) + 1
                        if not ok:
                            failures.append(resp)
            except Exception as exc:  # a connection error is a failed request too
                with lock:
                    failures.append(exc)
            finally:
                c.close()

        threads = [threading.Thread(target=load, args=(d.port, n))
                   for n, d in enumerate((self.stack.a, self.stack.b, self.stack.a, self.stack.b))]
        for t in threads:
            t.start()
        try:
            time.sleep(1.0)
            self.stack.redis.kill()
            time.sleep(1.5)
            with lock:
                bypassed = statuses.get("BYPASS", 0)
            self.assertGreater(bypassed, 0, statuses)
            self.stack.redis.restart()
            restarted = time.monotonic()
            for d in (self.stack.a, self.stack.b):
                up = wait_cache_up(d, timeout=5)
                self.assertLess(up - restarted, 5.0)
            time.sleep(0.5)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        self.assertEqual(failures, [])
        # after the restart reads hit the cache again, and what it serves is current
        for oid in orders:
            self.get(self.ca, oid)
            resp, cache = self.get(self.cb, oid)
            self.assertEqual(cache, "HIT")
            rows = self.stack_sql(f"SELECT version FROM orders WHERE id = {oid}")
            self.assertEqual(resp.json()["version"], int(rows))

    def stack_sql(self, query):
        from harness import psql
        return psql(self.stack.db_url, query).strip()


class StartWithoutRedis(unittest.TestCase):
    """A daemon whose Redis is not there at start-up still serves."""

    def test_start_up_with_redis_down_serves_from_postgres(self):
        admin = admin_url()
        db_url, db_name = create_database(admin)
        migrate(db_url)
        dead = f"redis://127.0.0.1:{free_port()}"
        d = Daemon(env={"ORDERD_DB_URL": db_url, "ORDERD_REDIS_URL": dead}).start()
        c = Client(d.port)
        try:
            # ready once the change feed has caught up and Redis was found
            # down once: a few milliseconds, and never blocked by Redis
            deadline = time.monotonic() + 5
            ready = c.get("/readyz")
            while ready.status != 200 and time.monotonic() < deadline:
                time.sleep(0.02)
                ready = c.get("/readyz")
            self.assertEqual(ready.status, 200, ready)
            self.assertEqual(ready.json(), {"status": "ready", "postgres": "up", "redis": "down",
                                       "invalidation": "caught_up", "auth": "off"})
            created = c.post("/orders", json_body={"customer_id": new_customer_id(), "total": "3.00"})
            self.assertEqual(created.status, 201)
            started = time.monotonic()
            got = c.get(f"/orders/{created.json()['id']}")
            self.assertEqual(got.status, 200)
            self.assertEqual(got.header("X-Cache"), "BYPASS")
            self.assertLess(time.monotonic() - started, 0.5)  # no timeout paid per request
        finally:
            c.close()
            d.stop()
            d.cleanup()
            drop_database(db_name, admin)

    def test_without_a_redis_url_caching_is_off(self):
        admin = admin_url()
        db_url, db_name = create_database(admin)
        migrate(db_url)
        d = Daemon(env={"ORDERD_DB_URL": db_url}).start()
        c = Client(d.port)
        try:
            self.assertEqual(c.get("/readyz").json()["redis"], "off")
            created = c.post("/orders", json_body={"customer_id": new_customer_id(), "total": "3.00"})
            for _ in range(2):
                self.assertEqual(c.get(f"/orders/{created.json()['id']}").header("X-Cache"), "BYPASS")
        finally:
            c.close()
            d.stop()
            d.cleanup()
            drop_database(db_name, admin)


if __name__ == "__main__":
    main()
