"""Reads skip Redis while it answers too few of them, and come back.

A read that misses process memory asks Redis first (one MGET), and when
Redis has nothing either, reads PostgreSQL and fills Redis.  When nearly
every lookup misses (a cold Redis, or far more orders than it holds), that
costs more than it saves (docs/PERFORMANCE.md, session 6), so the reader
measures: once Redis answered fewer than cache_lookup_min_hit_pct percent
(20 by default) of 1,024 lookups, reads go to PostgreSQL directly and fill
only process memory, except one in 32, which takes the usual path
(store/lookup_policy.h).

These tests count exactly what each read did, from the process's metrics
and from Redis itself, so they fail if reads skip too early, too often, too
rarely, fill Redis while skipping, never come back, or serve anything older
than PostgreSQL while skipping.
"""

import http.client
import threading
import time

from cache_stack import CacheStack, metrics
from harness import main, new_customer_id, psql
import unittest

WINDOW = 1024       # lookups per measurement (lookup_policy.h)
SAMPLE_EVERY = 32   # while skipping, one read in this many asks Redis


def seed(db_url, count):
    """count new orders (one customer); their ids, in order."""
    customer = new_customer_id()
    out = psql(db_url, f"INSERT INTO orders (customer_id, currency, total) "
                       f"SELECT {customer}, 'USD', 1.00 FROM generate_series(1, {count}) "
                       f"RETURNING id")
    return [int(line) for line in out.split()]


def filled(redis, oid):
    """Whether Redis holds order oid itself (not a tombstone: the change
    feed tombstones every order the seeding inserted)."""
    value = redis.command("GET", f"order:{oid}")
    return isinstance(value, str) and value.startswith("P")


def redis_orders_present(redis, ids):
    return sum(1 for i in ids if filled(redis, i))


class LookupPolicyTest(unittest.TestCase):
    """Hot cache off, so every read that is not skipped asks Redis."""

    @classmethod
    def setUpClass(cls):
        cls.stack = CacheStack(env={"ORDERD_HOT_CACHE_ENTRIES": "0"})
        # alone: nothing but this test's reads reaches the reader
        cls.stack.b.stop()

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop()

    def setUp(self):
        self.ca = self.stack.a.client()
        self.addCleanup(self.ca.close)

    def counters(self):
        m = metrics(self.ca)
        return (m.get("orderd_cache_lookups_skipped_total", 0.0),
                m.get("orderd_cache_misses_total", 0.0),
                m.get("orderd_cache_hits_total", 0.0))

    def read(self, oid):
        resp = self.ca.get(f"/orders/{oid}")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json()["id"], oid)
        return resp

    def test_1_misses_turn_lookups_off_and_the_samples_still_ask(self):
        extra = 480
        ids = seed(self.stack.db_url, WINDOW + extra)
        skipped0, misses0, hits0 = self.counters()
        # one client, one read at a time: every batch holds one lookup, so
        # the window closes exactly at the 1,024th
        for oid in ids[:WINDOW]:
            self.read(oid)
        skipped1, misses1, _ = self.counters()
        self.assertEqual(skipped1 - skipped0, 0, "skipped before a window was measured")
        self.assertEqual(misses1 - misses0, WINDOW)
        for oid in ids[WINDOW:]:
            self.read(oid)
        skipped2, misses2, hits2 = self.counters()
        samples = extra // SAMPLE_EVERY
        self.assertEqual(skipped2 - skipped1, extra - samples)
        self.assertEqual(misses2 - misses1, samples, "the samples must still ask Redis")
        self.assertEqual(hits2 - hits0, 0)
        # what skipped filled nothing in Redis; each sample filled its order
        deadline = time.monotonic() + 5
        while redis_orders_present(self.stack.redis, ids[WINDOW:]) < samples:
            self.assertLess(time.monotonic(), deadline, "the samples' fills never landed")
            time.sleep(0.02)
        time.sleep(0.2)  # a fill of a skipped read would have landed by now
        self.assertEqual(redis_orders_present(self.stack.redis, ids[WINDOW:]), samples)
        print(f"\nlookup policy: {WINDOW} lookups missed, then {extra} reads: "
              f"{extra - samples} skipped Redis, {samples} asked it; "
              f"Redis holds {samples} of those {extra} orders")

    def test_2_a_change_outside_orderd_is_read_while_skipping(self):
        ids = seed(self.stack.db_url, WINDOW + 64)
        for oid in ids:
            self.read(oid)
        time.sleep(0.2)  # the samples' fills have landed
        # an order no sample filled: Redis has nothing of it to serve, so
        # a read is fresh whether it skips Redis (PostgreSQL's answer) or
        # is a sample (a miss, then PostgreSQL).  A sample that found an
        # old entry would be stale until the feed's tombstone, the bound
        # docs/CONSISTENCY.md states for every cached read.
        oid = next(i for i in reversed(ids) if not filled(self.stack.redis, i))
        skipped0, _, _ = self.counters()
        psql(self.stack.db_url, f"UPDATE orders SET status = 'paid' WHERE id = {oid}")
        first, second = self.read(oid).json(), self.read(oid).json()
        self.assertEqual((first["status"], first["version"]), ("paid", 2))
        self.assertEqual((second["status"], second["version"]), ("paid", 2))
        skipped1, _, _ = self.counters()
        self.assertGreaterEqual(skipped1 - skipped0, 1, "the reads were meant to skip Redis")

    def test_3_when_redis_answers_again_lookups_come_back(self):
        ids = seed(self.stack.db_url, WINDOW + 64)
        for oid in ids:
            self.read(oid)
        skipped0, _, _ = self.counters()
        self.assertGreater(skipped0, 0)
        # A few orders read over and over: each sample fills its order the
        # first time and finds it in Redis after that, so the samples' hit
        # rate climbs to nearly 100%.  A window of samples is 1,024 x 32
        # reads; lean clients on 8 connections, bounded in count and time.
        popular = ids[:20]
        stop = threading.Event()
        errors = []
        reads = [0]
        lock = threading.Lock()

        def reader(k):
            conn = http.client.HTTPConnection("127.0.0.1", self.stack.a.port, timeout=10)
            n = 0
            try:
                while not stop.is_set() and n < 12000:
                    oid = popular[(k + n) % len(popular)]
                    conn.request("GET", f"/orders/{oid}")
                    resp = conn.getresponse()
                    body = resp.read()
                    if resp.status != 200 or f'"id":{oid},'.encode() not in body:
                        errors.append((resp.status, body[:200]))
                        return
                    n += 1
            finally:
                conn.close()
                with lock:
                    reads[0] += n

        threads = [threading.Thread(target=reader, args=(k,)) for k in range(8)]
        started = time.monotonic()
        for t in threads:
            t.start()
        came_back = None
        last_skipped = skipped0
        while time.monotonic() - started < 60 and any(t.is_alive() for t in threads):
            time.sleep(0.5)
            skipped, _, _ = self.counters()
            if skipped == last_skipped and skipped > skipped0:
                came_back = time.monotonic() - started
                break
            last_skipped = skipped
        stop.set()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertIsNotNone(came_back, f"reads still skip Redis after {reads[0]} reads of "
                                        f"{len(popular)} orders that Redis holds")
        # and now every read asks: a block of reads, none skipped
        skipped1, _, hits1 = self.counters()
        for k in range(200):
            self.read(popular[k % len(popular)])
        skipped2, _, hits2 = self.counters()
        self.assertEqual(skipped2, skipped1)
        self.assertGreaterEqual(hits2 - hits1, 190)
        print(f"\nlookup policy: lookups came back {came_back:.1f} s into reading "
              f"{len(popular)} orders over and over ({reads[0]} reads in all)")


if __name__ == "__main__":
    main()
