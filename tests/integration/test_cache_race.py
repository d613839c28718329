"""No stale read after a write, across processes: the classic race.

Two orderd processes share a database and a Redis.  A writer moves orders
through their statuses, alternating processes; reader threads hammer the
order being written through both processes.  Every read that *starts*
after a write's response must see that write's version or newer.

ORDERD_TEST_FILL_DELAY_MS widens the window between a reader's
PostgreSQL read and its cache fill (both modes get the same delay), so
the race is hit on most writes instead of by luck.  The same scenario
runs with the protection switched off (ORDERD_TEST_UNSAFE_CLASSIC_CACHE=1:
plain SET fills and DEL invalidation) and must then produce stale reads —
proof that the test can see the failure it guards against.
"""

import threading
import time
import unittest

from cache_stack import CacheStack
from harness import Client, main, new_customer_id

ORDERS = 12
READERS_PER_PROCESS = 3
TRANSITIONS = ["paid", "shipped", "delivered"]


def run_scenario(stack):
    """Returns (violations, reads, writes)."""
    writes = {}       # order id -> [(response time, version)]
    reads = []        # (start time, order id, version)
    current = {"id": None}
    stop = threading.Event()
    lock = threading.Lock()

    def reader(port):
        c = Client(port, timeout=10)
        try:
            while not stop.is_set():
                oid = current["id"]
                if oid is None:
                    time.sleep(0.001)
                    continue
                started = time.monotonic()
                resp = c.get(f"/orders/{oid}")
                if resp.status == 200:
                    with lock:
                        reads.append((started, oid, resp.json()["version"]))
        finally:
            c.close()

    threads = [threading.Thread(target=reader, args=(d.port,))
               for d in (stack.a, stack.b) for _ in range(READERS_PER_PROCESS)]
    for t in threads:
        t.start()
    writers = [Client(stack.a.port), Client(stack.b.port)]
    try:
        for i in range(ORDERS):
            resp = writers[0].post("/orders", json_body={"customer_id": new_customer_id(), "total": "5.00"})
            assert resp.status == 201, resp
            oid = resp.json()["id"]
            writes[oid] = [(time.monotonic(), 1)]
            current["id"] = oid
            time.sleep(0.02)  # let the readers fill the cache
            for n, status in enumerate(TRANSITIONS):
                time.sleep(0.012)
                w = writers[(i + n) % 2]
                resp = w.patch(f"/orders/{oid}", json_body={"status": status})
                assert resp.status == 200, resp
                writes[oid].append((time.monotonic(), resp.json()["version"]))
            time.sleep(0.15)  # keep reading after the last write: a stale entry would show now
    finally:
        stop.set()
        for t in threads:
            t.join(30)
        for w in writers:
            w.close()

    violations = []
    for started, oid, version in reads:
        acked = [v for t, v in writes.get(oid, []) if t < started]
        if acked and version < max(acked):
            violations.append((oid, version, max(acked)))
    return violations, len(reads), sum(len(v) for v in writes.values())


class NoStaleReadAfterWrite(unittest.TestCase):
    env = {"ORDERD_TEST_FILL_DELAY_MS": "30"}

    def run_mode(self, unsafe):
        env = dict(self.env)
        if unsafe:
            env["ORDERD_TEST_UNSAFE_CLASSIC_CACHE"] = "1"
        stack = CacheStack(env=env)
        try:
            return run_scenario(stack)
        finally:
            stack.stop()

    def test_classic_cache_serves_stale_reads(self):
        violations, reads, writes = self.run_mode(unsafe=True)
        print(f"\nclassic (unprotected) cache: {len(violations)} stale reads of {reads} "
              f"after {writes} writes")
        self.assertGreater(reads, 200, "readers did not read enough to mean anything")
        self.assertGreater(len(violations), 0,
                           "the race was never hit: this test could not tell safe from unsafe")

    def test_versioned_fills_never_serve_a_stale_read(self):
        violations, reads, writes = self.run_mode(unsafe=False)
        print(f"\nversioned cache: {len(violations)} stale reads of {reads} after {writes} writes")
        self.assertGreater(reads, 200, "readers did not read enough to mean anything")
        self.assertEqual(violations, [], "stale reads (order, seen, acknowledged)")


if __name__ == "__main__":
    main()
