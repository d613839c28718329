"""The read-through cache seen from outside: X-Cache, invalidation across
two processes, negative entries, lists, deletes, stampede control."""

import concurrent.futures
import json
import threading
import time

from cache_stack import CacheTestCase, bypass_causes, metrics
from harness import get_together, histogram_delta, main, new_customer_id


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
        self.wait_list_filled(first.body, customer=customer, limit=5)
        second = self.cb.get(path)
        self.assertEqual((first.header("X-Cache"), second.header("X-Cache")), ("MISS", "HIT"))
        self.assertEqual(first.body, second.body)
        status_path = "/orders?status=pending&limit=3"
        self.wait_list_filled(self.ca.get(status_path).body, status="pending", limit=3)
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
    page, and a page a write changed must not come from the batch.  List
    pages in process memory are off, or they would answer first."""
    stack_env = {"ORDERD_TEST_LIST_LOOKUP_DELAY_MS": "300", "ORDERD_HOT_CACHE_LIST_MIB": "0"}

    def fetch_all(self, paths):
        return get_together(self.stack.a, paths)

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
        for customer, path in zip(customers, paths):
            resp = self.ca.get(path)
            self.assertEqual(resp.header("X-Cache"), "MISS", bypass_causes(self.ca))
            self.wait_list_filled(resp.body, customer=customer, limit=5)
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


class ListLoads(CacheTestCase):
    """A customer's page Redis does not hold is read from PostgreSQL by
    the list loader, with every other page waiting at that moment, in one
    statement (list_loader.h).  The hook holds each statement 300 ms, so
    the misses that arrive meanwhile share the next one.  Each request
    must still get its own page, byte for byte the page a no-cache read
    (one statement of its own) gives, and each page must then be filled
    into Redis under the generation its lookup read.  List pages in
    process memory are off, or they would answer the second round."""
    stack_env = {"ORDERD_TEST_LIST_LOAD_DELAY_MS": "300", "ORDERD_HOT_CACHE_LIST_MIB": "0"}

    def test_misses_share_statements_and_each_gets_and_fills_its_own_page(self):
        customers = [new_customer_id() for _ in range(32)]
        limits = [1 + i % 3 for i in range(32)]
        for i, customer in enumerate(customers):
            # 0 to 3 orders against limits of 1 to 3: empty pages, full
            # pages with more behind them, and pages that end exactly
            for _ in range(i % 4):
                self.create(customer_id=customer)
        paths = [f"/orders?customer_id={c}&limit={n}" for c, n in zip(customers, limits)]
        expected = [self.ca.get(p, headers={"Cache-Control": "no-cache"}).body for p in paths]
        self.assertTrue(any(b'"next_cursor":"' in body for body in expected))
        self.assertTrue(any(b'"data":[]' in body for body in expected))

        before = metrics(self.ca)
        results = get_together(self.stack.a, paths)
        after = metrics(self.ca)
        for path, body, (status, cache, got) in zip(paths, expected, results):
            self.assertEqual((status, cache), (200, "MISS"), f"{path}: {bypass_causes(self.ca)}")
            self.assertEqual(got, body, path)
        statements, pages = histogram_delta(before, after, "orderd_list_read_batch_size")
        self.assertEqual(pages, 32)
        self.assertLessEqual(statements, 16, f"32 pages took {statements} statements")

        for customer, limit, body in zip(customers, limits, expected):
            self.wait_list_filled(body, customer=customer, limit=limit)
        for path, body, (status, cache, got) in zip(paths, expected,
                                                    get_together(self.stack.a, paths)):
            self.assertEqual((status, cache, got), (200, "HIT", body), path)


class HotListChecks:
    """List pages in process memory (hot_lists.h): answered on the polling
    thread once a page has been read, and dropped by every write that can
    change them, whichever process makes it.  Mixed into a CacheTestCase."""

    def memory_hits(self, client):
        return metrics(client)["orderd_hot_list_hits_total"]

    def memory_answers(self, client):
        """Reads that found their page in memory: served, or held back by
        the closed gate (an invalidation source busy, such as the change
        feed's log read every invalidation_sync_interval_ms; the read then
        asks Redis), as (served, held back)."""
        m = metrics(client)
        return m["orderd_hot_list_hits_total"], m["orderd_hot_list_gate_closed_total"]

    def held_in_memory(self, client, path, timeout=5.0):
        """Reads path until an answer comes from memory (the echo of the
        write that made the page can drop the first fill); that body."""
        deadline = time.monotonic() + timeout
        while True:
            before = self.memory_hits(client)
            resp = client.get(path)
            self.assertEqual(resp.status, 200, resp)
            if self.memory_hits(client) == before + 1:
                self.assertEqual(resp.header("X-Cache"), "HIT")
                return resp.body
            self.assertLess(time.monotonic() - deadline, 0, f"{path} never came from memory")
            time.sleep(0.01)

    def settled(self, client, own_before, own_writes):
        """Waits until client has taken in the echoes of the writes made
        through it so far: its change feed has counted own_writes of its
        own since own_before, and a generation bumped in Redis now has
        dropped a page of client's through client tracking.  Tracking
        messages arrive in order on one connection, so every earlier one
        (the writes' own) has been applied by then, and none is left to
        close the gate or drop a page a test is about to count."""
        deadline = time.monotonic() + 10.0
        while metrics(client)["orderd_invalidations_own_total"] < own_before + own_writes:
            self.assertLess(time.monotonic(), deadline, "the change feed never saw the writes")
            time.sleep(0.01)
        sentinel = new_customer_id()
        path = f"/orders?customer_id={sentinel}"
        self.held_in_memory(client, path)
        self.stack.redis.command("INCR", f"gen:customer:{sentinel}")
        while True:
            before = self.memory_hits(client)
            self.assertEqual(client.get(path).status, 200)
            if self.memory_hits(client) == before:
                return
            self.assertLess(time.monotonic(), deadline, "client tracking never delivered the bump")
            time.sleep(0.01)

    def fresh(self, client, path):
        resp = client.get(path, headers={"Cache-Control": "no-cache"})
        self.assertEqual(resp.status, 200, resp)
        return resp.body

    def test_a_page_read_again_comes_from_memory_with_postgres_bytes(self):
        customer = new_customer_id()
        own_before = metrics(self.ca)["orderd_invalidations_own_total"]
        self.create(customer_id=customer)
        self.create(customer_id=customer)
        # the count below is exact: no echo of the creates may close the
        # gate or drop the page while it is taken (one did, under ASan)
        self.settled(self.ca, own_before, 2)
        path = f"/orders?customer_id={customer}&limit=5"
        body = self.held_in_memory(self.ca, path)
        self.assertEqual(body, self.fresh(self.ca, path))
        served, held = self.memory_answers(self.ca)
        for _ in range(5):
            resp = self.ca.get(path)
            self.assertEqual(resp.body, body)
            self.assertEqual(resp.header("Content-Type"), "application/json")
            self.assertEqual(resp.header("Vary"), "Accept")
        packed = self.ca.get(path, headers={"Accept": "application/msgpack"})
        self.assertEqual((packed.status, packed.header("Content-Type")), (200, "application/msgpack"))
        # every one of the six found the page in memory; a read that came
        # while the gate was closed asked Redis instead (counted), and none
        # did more than one of the two
        served_now, held_now = self.memory_answers(self.ca)
        self.assertEqual((served_now - served) + (held_now - held), 6, (served_now - served, held_now - held))
        self.assertGreaterEqual(served_now - served, 1)
        gauges = metrics(self.ca)
        self.assertGreater(gauges["orderd_hot_list_pages"], 0)
        self.assertGreater(gauges["orderd_hot_list_bytes"], len(body))

    # None: another process's write is seen at once, as client tracking
    # delivers it before Redis answers the writer; otherwise the seconds
    # the contract allows (docs/CONSISTENCY.md: 100 ms)
    other_process_bound_s = None

    def check_every_write_moves_the_pages(self, writer, reader):
        customer = new_customer_id()
        first = self.create(client=writer, customer_id=customer)
        paths = [f"/orders?customer_id={customer}&limit=5",
                 f"/orders?customer_id={customer}&status=paid&limit=5",
                 "/orders?status=pending&limit=3", "/orders?limit=2"]

        def each_write_is_read_at_once(write, label):
            for path in paths:
                self.held_in_memory(reader, path)
            resp = write()
            answered = time.monotonic()
            self.assertIn(resp.status, (200, 201, 204), resp)
            bound = self.other_process_bound_s if writer is not reader else None
            for path in paths:
                if bound is None:
                    seen = reader.get(path).body  # at once: the writer has answered
                    self.assertEqual(seen, self.fresh(reader, path), f"{label}: {path}")
                    continue
                # the writer's no-cache read leaves the reader's memory alone
                expected = self.fresh(writer, path)
                while reader.get(path).body != expected:
                    self.assertLess(time.monotonic() - answered, bound,
                                    f"{label}: {path} stale beyond {bound * 1000:g} ms")
                    time.sleep(0.002)

        created = {}

        def post():
            resp = writer.post("/orders", json_body={"customer_id": customer, "total": "3.00"})
            created.update(resp.json())
            return resp

        each_write_is_read_at_once(post, "POST")
        each_write_is_read_at_once(
            lambda: writer.patch(f"/orders/{first['id']}", json_body={"status": "paid"}), "PATCH")
        each_write_is_read_at_once(lambda: writer.delete(f"/orders/{created['id']}"), "DELETE")

    def test_a_write_of_this_process_moves_its_pages(self):
        self.check_every_write_moves_the_pages(self.ca, self.ca)

    def test_a_write_of_the_other_process_moves_the_pages_here(self):
        self.check_every_write_moves_the_pages(self.cb, self.ca)


class HotLists(HotListChecks, CacheTestCase):
    def test_a_generation_bumped_in_redis_drops_the_page(self):
        # what another writer's invalidation, or an operator, does to Redis:
        # client tracking of "gen:" keys brings it to process memory.  (Not
        # in HotListsLateTracking: there every late message closes the gate
        # a moment, and a read then asks Redis, which knows the new
        # generation, so the page would drop without the tracking of it.)
        customer = new_customer_id()
        self.create(customer_id=customer)
        path = f"/orders?customer_id={customer}&limit=5"
        self.held_in_memory(self.ca, path)
        self.stack.redis.command("INCR", f"gen:customer:{customer}")
        deadline = time.monotonic() + 2.0
        while True:
            before = self.memory_hits(self.ca)
            self.assertEqual(self.ca.get(path).status, 200)
            if self.memory_hits(self.ca) == before:
                break  # no longer from memory
            self.assertLess(time.monotonic(), deadline, "the page outlived its generation")
            time.sleep(0.01)


class HotListRefresh(CacheTestCase):
    """A page in process memory read past its refresh point (from half to
    three quarters of its max age, 2 s here) is read again in the
    background (as a miss is: Redis, else PostgreSQL) by its first such
    reader (hot_lists.h), so a page read often never expires under its
    readers: without it, every page filled at one moment would miss at one
    moment, every max age.

    The change feed's log read, every invalidation_sync_interval_ms,
    closes the gate while it runs; a read then goes to Redis, and the list
    reader puts the page back young, so it may never reach its refresh
    point (it failed so once in 13 rounds beside test_stack: 0 refreshes,
    0 expiries).  That keeps the page too, but it is not what this test
    is about: here the feed reads its log once a minute."""
    stack_env = {"ORDERD_HOT_CACHE_MAX_AGE_MS": "2000", "ORDERD_INVALIDATION_SYNC_INTERVAL_MS": "60000"}
    memory_hits = HotListChecks.memory_hits
    held_in_memory = HotListChecks.held_in_memory
    settled = HotListChecks.settled

    def test_a_page_read_often_is_refreshed_before_it_expires(self):
        customer = new_customer_id()
        own_before = metrics(self.ca)["orderd_invalidations_own_total"]
        self.create(customer_id=customer)
        self.settled(self.ca, own_before, 1)
        path = f"/orders?customer_id={customer}&limit=5"
        body = self.held_in_memory(self.ca, path)
        before = metrics(self.ca)
        end = time.monotonic() + 3.5  # past the first page's expiry at 2 s, and the next
        reads = 0
        while time.monotonic() < end:
            resp = self.ca.get(path)
            self.assertEqual((resp.status, resp.body), (200, body))
            reads += 1
            time.sleep(0.02)
        after = metrics(self.ca)
        # (a read may still come from Redis while an invalidation source is
        # busy, the gate's doing: that is why the test counts expiries)
        self.assertGreaterEqual(after["orderd_hot_list_refreshes_total"] - before["orderd_hot_list_refreshes_total"], 1,
                                "held back by the gate: %g" % (after["orderd_hot_list_gate_closed_total"]
                                                              - before["orderd_hot_list_gate_closed_total"]))
        self.assertEqual(after["orderd_hot_list_expired_total"], before["orderd_hot_list_expired_total"],
                         f"the page expired under {reads} reads")
        self.assertGreater(after["orderd_hot_list_hits_total"] - before["orderd_hot_list_hits_total"], reads // 2)
        # the refreshed page drops, as any page does, on a write of this process
        newer = self.create(client=self.ca, customer_id=customer)
        self.assertEqual(self.ca.get(path).json()["data"][0]["id"], newer["id"])


class HotListsLateTracking(HotListChecks, CacheTestCase):
    """The same, with every client-tracking message held back 400 ms: then
    a write of this process is covered only by its own invalidation of its
    pages (its change feed leaves its own changes to it), and one of the
    other process by the change feed.  The feed's notification races the
    writer's answer (PostgreSQL sends both at commit), so the other
    process's writes are held to the contract's bound, not "at once"; 400
    ms of tracking delay is beyond it, so a feed that missed them fails."""
    via_proxy = True
    subscriber_delay_s = 0.4
    other_process_bound_s = 0.1


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
                         f"shared {after['orderd_shared_reads_total']}, {bypass_causes(self.ca)}")


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
