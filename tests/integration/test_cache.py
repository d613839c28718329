"""The read-through cache seen from outside: X-Cache, invalidation across
two processes, negative entries, lists, deletes, stampede control."""

import concurrent.futures
import json
import threading
import time

from cache_stack import CacheTestCase, metrics
from harness import main, new_customer_id


class ReadThrough(CacheTestCase):
    def test_miss_fills_and_both_processes_then_hit_the_same_bytes(self):
        order = self.create()
        first, cache1 = self.get(self.ca, order["id"])
        self.assertEqual(first.status, 200)
        self.assertEqual(cache1, "MISS")
        self.wait_filled(order["id"], "P1:")
        again, cache2 = self.get(self.ca, order["id"])
        other, cache3 = self.get(self.cb, order["id"])
        self.assertEqual((cache2, cache3), ("HIT", "HIT"))
        self.assertEqual(again.body, first.body)
        self.assertEqual(other.body, first.body)
        self.assertEqual(other.header("ETag"), '"1"')
        self.assertEqual(json.loads(other.body), order)

    def test_ttl_is_about_120s_with_jitter(self):
        order = self.create()
        self.get(self.ca, order["id"])
        self.wait_filled(order["id"], "P1:")
        ttl = self.stack.redis.command("PTTL", f"order:{order['id']}")
        self.assertGreaterEqual(ttl, 108000 - 2000)
        self.assertLessEqual(ttl, 132000)

    def test_a_write_in_one_process_is_seen_by_the_other_at_once(self):
        order = self.create()
        for client in (self.ca, self.cb, self.ca, self.cb):
            self.get(client, order["id"])  # both cached
        resp = self.ca.patch(f"/orders/{order['id']}", json_body={"status": "paid"})
        self.assertEqual(resp.status, 200, resp)
        for client in (self.cb, self.ca):
            after, _ = self.get(client, order["id"])
            self.assertEqual(after.json()["status"], "paid")
            self.assertEqual(after.json()["version"], 2)

    def test_delete_is_seen_by_the_other_process(self):
        order = self.create()
        self.get(self.cb, order["id"])
        self.get(self.cb, order["id"])
        self.assertEqual(self.ca.delete(f"/orders/{order['id']}").status, 204)
        gone, cache = self.get(self.cb, order["id"])
        self.assertEqual(gone.status, 404)
        self.assertEqual(gone.header("Content-Type"), "application/problem+json")
        self.assertEqual(cache, "HIT")  # the writer left a "deleted" marker

    def test_negative_entry_is_cached_and_cleared_when_the_id_comes_to_exist(self):
        latest = self.create()
        next_id = latest["id"] + 1
        first, c1 = self.get(self.ca, next_id)
        self.wait_filled(next_id, "N0:")
        second, c2 = self.get(self.cb, next_id)
        self.assertEqual((first.status, second.status), (404, 404))
        self.assertEqual((c1, c2), ("MISS", "HIT"))
        ttl = self.stack.redis.command("PTTL", f"order:{next_id}")
        self.assertTrue(0 < ttl <= 5000, ttl)
        created = self.create(client=self.cb)
        self.assertEqual(created["id"], next_id, "ids are not sequential; test assumption broken")
        for client in (self.ca, self.cb):
            now, _ = self.get(client, next_id)
            self.assertEqual(now.status, 200, now)

    def test_lists_are_cached_and_every_write_invalidates_them(self):
        customer = new_customer_id()
        self.create(customer_id=customer)
        path = f"/orders?customer_id={customer}&limit=5"
        first = self.ca.get(path)
        second = self.cb.get(path)
        self.assertEqual((first.header("X-Cache"), second.header("X-Cache")), ("MISS", "HIT"))
        self.assertEqual(first.body, second.body)
        status_path = "/orders?status=pending&limit=3"
        self.ca.get(status_path)
        self.assertEqual(self.cb.get(status_path).header("X-Cache"), "HIT")

        newer = self.create(client=self.cb, customer_id=customer)
        after = self.ca.get(path)
        self.assertEqual(after.header("X-Cache"), "MISS")
        self.assertEqual(after.json()["data"][0]["id"], newer["id"])
        self.assertEqual(len(after.json()["data"]), 2)
        # the status view and the global view moved too
        self.assertEqual(self.ca.get(status_path).json()["data"][0]["id"], newer["id"])
        self.assertEqual(self.cb.get("/orders?limit=1").json()["data"][0]["id"], newer["id"])

        self.assertEqual(self.ca.patch(f"/orders/{newer['id']}", json_body={"status": "paid"}).status, 200)
        paid = self.cb.get(f"/orders?customer_id={customer}&status=paid")
        self.assertEqual([o["id"] for o in paid.json()["data"]], [newer["id"]])
        pending = self.cb.get(status_path).json()["data"]
        self.assertNotIn(newer["id"], [o["id"] for o in pending])

    def test_no_generation_key_set_grows_without_bound(self):
        # generations are counters with a TTL; nothing keeps a set of keys
        keys = self.stack.redis.command("KEYS", "gen:*")
        for key in keys:
            self.assertEqual(self.stack.redis.command("TYPE", key), "string")
            self.assertGreater(self.stack.redis.command("PTTL", key), 0)


class ListBatches(CacheTestCase):
    """List pages Redis holds are answered by the list reader, every page
    waiting at that moment in one script call (list_reader.h).  The hook
    holds each batch 300 ms before it asks Redis, so the requests that
    arrive meanwhile share the next batch: each must still get its own
    page, and a page a write changed must not come from the batch."""
    stack_env = {"ORDERD_TEST_LIST_LOOKUP_DELAY_MS": "300"}

    def fetch_all(self, paths):
        def fetch(path):
            c = self.stack.a.client()  # a connection each, so they arrive together
            try:
                resp = c.get(path)
                return resp.status, resp.header("X-Cache"), resp.body
            finally:
                c.close()

        with concurrent.futures.ThreadPoolExecutor(max_workers=len(paths)) as pool:
            return list(pool.map(fetch, paths))

    def from_postgres(self, path):
        resp = self.ca.get(path, headers={"Cache-Control": "no-cache"})
        self.assertEqual(resp.status, 200, resp)
        return resp.body

    def test_a_batch_answers_each_request_with_its_own_page_and_never_a_changed_one(self):
        customers = [new_customer_id() for _ in range(16)]
        orders = {}
        for i, customer in enumerate(customers):
            # pages of different lengths, so a page given to the wrong request shows
            orders[customer] = [self.create(customer_id=customer) for _ in range(i % 3 + 1)]
        paths = [f"/orders?customer_id={c}&limit=5" for c in customers]
        for path in paths:
            self.assertEqual(self.ca.get(path).header("X-Cache"), "MISS")  # fills Redis
        expected = {path: self.from_postgres(path) for path in paths}

        asked = paths * 4  # 64 requests, 4 a page
        before = metrics(self.ca)
        results = self.fetch_all(asked)
        after = metrics(self.ca)
        for path, (status, cache, body) in zip(asked, results):
            self.assertEqual((status, cache), (200, "HIT"), path)
            self.assertEqual(body, expected[path], path)
        self.assertEqual(after["orderd_list_cache_hits_total"] - before["orderd_list_cache_hits_total"], 64)
        self.assertEqual(after["orderd_list_cache_misses_total"], before["orderd_list_cache_misses_total"])
        batches = after["orderd_list_lookup_batches_total"] - before["orderd_list_lookup_batches_total"]
        self.assertLessEqual(batches, 8, f"64 pages took {batches} script calls")

        # the other process changes one customer's order: that page moves
        # to a new generation, so the batch misses it and PostgreSQL answers
        changed = customers[5]
        target = orders[changed][0]["id"]
        self.assertEqual(self.cb.patch(f"/orders/{target}", json_body={"status": "paid"}).status, 200)
        changed_path = f"/orders?customer_id={changed}&limit=5"
        expected[changed_path] = self.from_postgres(changed_path)
        self.assertIn(b'"paid"', expected[changed_path])
        results = self.fetch_all(asked)
        for path, (status, cache, body) in zip(asked, results):
            self.assertEqual(status, 200, path)
            self.assertEqual(body, expected[path], path)
            if path != changed_path:
                self.assertEqual(cache, "HIT", path)


class Stampede(CacheTestCase):
    def test_64_concurrent_misses_cost_one_postgres_read(self):
        order = self.create()  # the create left a tombstone: the next read misses
        before = metrics(self.ca)["orderd_db_order_reads_total"]

        def fetch(_):
            c = self.stack.a.client()  # a connection each, so the 64 arrive together
            try:
                resp = c.get(f"/orders/{order['id']}")
                return resp.status, resp.header("X-Cache"), resp.body
            finally:
                c.close()

        with concurrent.futures.ThreadPoolExecutor(max_workers=64) as pool:
            results = list(pool.map(fetch, range(64)))
        after = metrics(self.ca)
        self.assertTrue(all(status == 200 for status, _, _ in results), results)
        self.assertEqual(len({body for _, _, body in results}), 1)
        self.assertEqual(after["orderd_db_order_reads_total"] - before, 1,
                         f"misses {sum(1 for _, c, _ in results if c == 'MISS')}, "
                         f"shared {after['orderd_shared_reads_total']}")


class SharedRead(CacheTestCase):
    """A miss that reaches the loader while another read of the same order
    is in PostgreSQL's hands shares that read (order_reader.c,
    share_recent), but only if the row is at least as new as the tombstone
    the miss saw.  The delay holds every read for 300 ms after PostgreSQL
    answered, so the second request always arrives while the first is held."""
    stack_env = {"ORDERD_TEST_FILL_DELAY_MS": "300"}

    def start_read(self, order_id):
        """GET order_id on its own connection to process a, in a thread."""
        out = {}

        def fetch():
            c = self.stack.a.client()
            try:
                out["resp"] = c.get(f"/orders/{order_id}")
            finally:
                c.close()
        t = threading.Thread(target=fetch)
        t.start()
        return t, out

    def test_a_second_miss_shares_the_read_in_flight(self):
        order = self.create(client=self.cb)
        before = metrics(self.ca)["orderd_db_order_reads_total"]
        first, got = self.start_read(order["id"])
        time.sleep(0.1)
        second, cache = self.get(self.ca, order["id"])
        first.join(10)
        self.assertEqual((got["resp"].status, second.status), (200, 200))
        self.assertEqual(second.body, got["resp"].body)
        self.assertEqual(cache, "MISS")
        self.assertEqual(metrics(self.ca)["orderd_db_order_reads_total"] - before, 1)

    def test_a_miss_after_a_write_never_shares_an_older_read(self):
        order = self.create(client=self.cb)
        first, got = self.start_read(order["id"])
        time.sleep(0.1)  # the first read has its row (version 1) and is held
        patched = self.cb.patch(f"/orders/{order['id']}", json_body={"status": "paid"})
        self.assertEqual(patched.status, 200, patched)
        # starts after the write's answer: it saw the write's tombstone
        second, _ = self.get(self.ca, order["id"])
        first.join(10)
        self.assertEqual(second.status, 200, second)
        self.assertEqual(second.json()["version"], patched.json()["version"])
        self.assertIn(got["resp"].json()["version"], (1, patched.json()["version"]))


if __name__ == "__main__":
    main()
