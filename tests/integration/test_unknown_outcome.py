"""A write whose outcome is unknown leaves no stale read behind.

A PATCH's connection can break after PostgreSQL committed it and before
the answer came back: the client gets a 503, yet the order changed.  The
writing process's change feed leaves that change alone (it carries the
process's own origin, and its writer invalidates its own writes), so
unless the writer invalidates anyway, that process serves the old order
from its memory and Redis until their entries expire.

ORDERD_TEST_AMEND_UNKNOWN_OUTCOME=1 makes every PATCH and DELETE commit and
then fail exactly so (ORDERD_TEST_CREATE_UNKNOWN_OUTCOME=1 every POST).  One process, nothing else to repair its caches:
right after the 503 the order reads as it is in PostgreSQL (Redis holds a
tombstone no fill can pass), and within moments the customer's cached
list does too (the feed re-reads its log with the process's own changes
in it).
"""

import time

from cache_stack import CacheTestCase
from harness import main, new_customer_id, psql


class UnknownOutcomeCase(CacheTestCase):
    """One process whose writes all commit and then fail (stack_env names
    which writes)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # alone: the second process's feed would repair Redis for the first
        cls.stack.b.stop()

    def setUp(self):
        self.ca = self.stack.a.client()
        self.addCleanup(self.ca.close)

    def cached_twice(self, path):
        """GETs path until a HIT; the body of that HIT."""
        for _ in range(50):
            resp = self.ca.get(path)
            self.assertEqual(resp.status, 200, resp)
            if resp.header("X-Cache") == "HIT":
                return resp.json()
            time.sleep(0.02)
        self.fail(f"{path} was never served from a cache")

    def assert_problem_json(self, resp):
        self.assertEqual(resp.header("Content-Type").split(";")[0], "application/problem+json")


class UnknownAmendTest(UnknownOutcomeCase):
    stack_env = {"ORDERD_TEST_AMEND_UNKNOWN_OUTCOME": "1"}

    def test_after_a_503_whose_change_committed_no_read_is_stale(self):
        customer = new_customer_id()
        order = self.create(customer_id=customer)
        oid = order["id"]
        list_path = f"/orders?customer_id={customer}"
        self.assertEqual(self.cached_twice(f"/orders/{oid}")["status"], "pending")
        self.wait_filled(oid, "P1:")
        self.assertEqual(self.cached_twice(list_path)["data"][0]["status"], "pending")

        resp = self.ca.patch(f"/orders/{oid}", json_body={"status": "paid"})
        self.assertEqual(resp.status, 503, resp)
        self.assert_problem_json(resp)
        self.assertEqual(psql(self.stack.db_url, f"SELECT status || ' ' || version FROM orders WHERE id = {oid}"),
                         "paid 2", "the hook must commit before it fails")

        # at once: memory and Redis no longer answer with the old order
        after = self.ca.get(f"/orders/{oid}")
        self.assertEqual((after.json()["status"], after.json()["version"]), ("paid", 2),
                         f"stale read after an unknown outcome (X-Cache {after.header('X-Cache')})")
        entry = self.stack.redis.command("GET", f"order:{oid}")
        self.assertTrue(isinstance(entry, str) and entry.startswith("T"), entry)
        again = self.ca.get(f"/orders/{oid}")
        self.assertEqual(again.json()["version"], 2)

        # soon: the customer's list, which the writer could not name
        start = time.monotonic()
        while True:
            page = self.ca.get(list_path)
            if page.json()["data"][0]["status"] == "paid":
                break
            self.assertLess(time.monotonic() - start, 3.0,
                            f"the customer's list still shows the old order ({page.header('X-Cache')})")
            time.sleep(0.01)
        print(f"\nunknown outcome: order fresh at once, customer list fresh after "
              f"{(time.monotonic() - start) * 1000:.0f} ms")

    def test_a_delete_whose_outcome_is_unknown_is_not_served_either(self):
        order = self.create()
        oid = order["id"]
        self.cached_twice(f"/orders/{oid}")
        resp = self.ca.delete(f"/orders/{oid}")
        self.assertEqual(resp.status, 503, resp)
        self.assertEqual(psql(self.stack.db_url, f"SELECT count(*) FROM orders WHERE id = {oid}"), "0")
        self.assertEqual(self.ca.get(f"/orders/{oid}").status, 404)


class UnknownCreateTest(UnknownOutcomeCase):
    """The same for a POST: the order went in under an id the writer never
    learned, so nothing can tombstone it, but the lists it is on must move
    before the 503 goes out (order_writer.c, invalidate_unknown_creates).
    ORDERD_TEST_CREATE_UNKNOWN_OUTCOME=1 makes every POST commit and fail."""
    stack_env = {"ORDERD_TEST_CREATE_UNKNOWN_OUTCOME": "1"}

    def test_after_a_503_whose_create_committed_its_lists_show_it(self):
        for key in (None, f"unknown-{new_customer_id()}"):
            customer = new_customer_id()
            list_path = f"/orders?customer_id={customer}"
            self.assertEqual(self.cached_twice(list_path)["data"], [])  # an empty page, cached
            headers = {"Idempotency-Key": key} if key else None
            resp = self.ca.post("/orders", json_body={"customer_id": customer, "total": "3.00"},
                                headers=headers)
            self.assertEqual(resp.status, 503, resp)
            self.assert_problem_json(resp)
            oid = psql(self.stack.db_url, f"SELECT id FROM orders WHERE customer_id = {customer}")
            self.assertTrue(oid.isdigit(), f"the hook must commit before it fails ({key=})")
            # at once: this process's own change feed leaves the row to the writer
            page = self.ca.get(list_path)
            self.assertEqual([o["id"] for o in page.json()["data"]], [int(oid)],
                             f"stale list after an unknown create ({key=}, X-Cache {page.header('X-Cache')})")
            self.assertEqual(self.ca.get(f"/orders/{oid}").status, 200)


if __name__ == "__main__":
    main()
