"""Invalidation from PostgreSQL commits, on one host (loopback).

Every change to an order, whoever makes it, reaches every orderd process
through PostgreSQL's change feed (sql/0003_order_changes.sql): writes made
with psql are invalidated like orderd's own, a process that starts or
reconnects catches up on what it missed, Cache-Control: no-cache always
answers from PostgreSQL, and /readyz waits until the caches are settled.
The same guarantees across hosts, with network delay, are in
test_consistency_net.py.
"""

import json
import time

from cache_stack import CacheTestCase, metrics, wait_cache_up
from harness import Daemon, main, psql

# How long a change made outside orderd may take to reach a replica.  On
# loopback the feed delivers within milliseconds; the bound is generous so
# that a loaded CI machine under ASan does not make it flaky, and it is far
# below what the caches would otherwise serve (120 s in Redis, 30 s in memory).
BOUND_S = 1.0


def version_of(resp):
    return json.loads(resp.body)["version"] if resp.status == 200 else None


class ChangesOutsideOrderd(CacheTestCase):
    def cache_everywhere(self, order_id):
        for client in (self.ca, self.cb, self.ca, self.cb):
            self.assertEqual(self.get(client, order_id)[0].status, 200)
        # both hot caches hold it now: a second read is answered from memory
        self.assertEqual(self.get(self.cb, order_id)[1], "HIT")

    def wait_for(self, client, order_id, predicate):
        """Seconds until a read satisfies predicate; fails past BOUND_S."""
        start = time.monotonic()
        while True:
            resp, _ = self.get(client, order_id)
            if predicate(resp):
                return time.monotonic() - start
            if time.monotonic() - start > BOUND_S:
                self.fail(f"order {order_id} still {resp.status} {resp.body[:80]!r} "
                          f"after {BOUND_S} s")
            time.sleep(0.002)

    def test_a_psql_update_is_seen_by_every_process(self):
        order = self.create()
        self.cache_everywhere(order["id"])
        psql(self.stack.db_url, f"UPDATE orders SET status = 'paid' WHERE id = {order['id']}")
        for client in (self.ca, self.cb):
            self.wait_for(client, order["id"],
                          lambda r: r.status == 200 and r.json()["status"] == "paid")
            resp, _ = self.get(client, order["id"])
            # the trigger raised the version the statement did not
            self.assertEqual(resp.json()["version"], 2)
            self.assertEqual(resp.header("ETag"), '"2"')

    def test_a_psql_delete_is_seen_by_every_process(self):
        order = self.create()
        self.cache_everywhere(order["id"])
        psql(self.stack.db_url, f"DELETE FROM orders WHERE id = {order['id']}")
        for client in (self.ca, self.cb):
            self.wait_for(client, order["id"], lambda r: r.status == 404)

    def test_a_psql_update_moves_the_order_between_cached_lists(self):
        customer = self.create()["customer_id"]
        order = self.create(customer_id=customer)
        path = f"/orders?customer_id={customer}&status=pending"
        self.assertEqual(len(self.cb.get(path).json()["data"]), 2)
        self.assertEqual(self.cb.get(path).header("X-Cache"), "HIT")
        psql(self.stack.db_url, f"UPDATE orders SET status = 'paid' WHERE id = {order['id']}")
        start = time.monotonic()
        while len(self.cb.get(path).json()["data"]) != 1:
            self.assertLess(time.monotonic() - start, BOUND_S, "the cached list stayed stale")
            time.sleep(0.002)

    def test_no_cache_reads_postgres_at_once(self):
        order = self.create()
        self.cache_everywhere(order["id"])
        # applied straight after the statement: no time for any feed
        psql(self.stack.db_url, f"UPDATE orders SET status = 'cancelled' WHERE id = {order['id']}")
        for client in (self.ca, self.cb):
            for value in ("no-cache", "max-age=0"):
                resp = client.get(f"/orders/{order['id']}", headers={"Cache-Control": value})
                self.assertEqual(resp.status, 200)
                self.assertEqual(resp.json()["status"], "cancelled")
                self.assertEqual(resp.header("X-Cache"), "MISS")
        lst = self.cb.get(f"/orders?customer_id={order['customer_id']}",
                          headers={"Cache-Control": "no-cache"})
        self.assertEqual(lst.json()["data"][0]["status"], "cancelled")

    def test_a_writer_leaves_its_own_changes_to_itself_and_the_others_apply_them(self):
        """Each process tags its sessions' changes (sql/0004_change_origin.sql).

        The writer tombstoned its rows before answering; its own feed only
        counts them.  The other replica applies them, and a psql change,
        which carries no origin, is applied by both.
        """
        before_a, before_b = metrics(self.ca), metrics(self.cb)
        orders = [self.create(client=self.ca) for _ in range(3)]
        self.ca.patch(f"/orders/{orders[0]['id']}", json_body={"status": "paid"},
                      headers={"If-Match": f'"{orders[0]["version"]}"'})
        own = "orderd_invalidations_own_total"
        pushed = "orderd_invalidations_pushed_total"
        deadline = time.monotonic() + BOUND_S
        while metrics(self.cb)[pushed] < before_b[pushed] + 4 or \
                metrics(self.ca)[own] < before_a[own] + 4:
            self.assertLess(time.monotonic(), deadline,
                            f"a: {metrics(self.ca)[own]} own, b: {metrics(self.cb)[pushed]} pushed")
            time.sleep(0.01)
        after_a = metrics(self.ca)
        self.assertEqual(after_a[own], before_a[own] + 4)
        self.assertEqual(after_a[pushed], before_a[pushed], "a applied its own writes again")
        psql(self.stack.db_url, f"UPDATE orders SET status = 'paid' WHERE id = {orders[1]['id']}")
        deadline = time.monotonic() + BOUND_S
        while metrics(self.ca)[pushed] < before_a[pushed] + 1 or \
                metrics(self.cb)[pushed] < before_b[pushed] + 5:
            self.assertLess(time.monotonic(), deadline, "the psql change was not applied by both")
            time.sleep(0.01)
        self.assertEqual(metrics(self.ca)[own], before_a[own] + 4)

    def test_readyz_and_metrics_report_the_feed(self):
        ready = self.cb.get("/readyz")
        self.assertEqual(ready.status, 200)
        self.assertEqual(ready.json()["invalidation"], "caught_up")
        before = metrics(self.cb)
        order = self.create()
        psql(self.stack.db_url, f"UPDATE orders SET status = 'paid' WHERE id = {order['id']}")
        deadline = time.monotonic() + BOUND_S
        while metrics(self.cb)["orderd_invalidation_lag_seconds_count"] < \
                before["orderd_invalidation_lag_seconds_count"] + 2:
            self.assertLess(time.monotonic(), deadline, "no lag sample for two notifications")
            time.sleep(0.01)
        after = metrics(self.cb)
        self.assertEqual(after["orderd_invalidation_feed_state"], 2)
        self.assertGreaterEqual(after["orderd_invalidations_pushed_total"],
                                before["orderd_invalidations_pushed_total"] + 2)
        self.assertEqual(after['orderd_invalidation_lag_seconds_bucket{le="+Inf"}'],
                         after["orderd_invalidation_lag_seconds_count"])


def restart_env(daemon):
    """The settings of daemon, for a new process on a port of its own."""
    return {k: v for k, v in daemon.env.items() if k != "ORDERD_LISTEN"}


class CatchingUp(CacheTestCase):
    def test_a_change_made_while_no_process_listened_is_replayed_at_start(self):
        order = self.create()
        for _ in range(2):
            self.get(self.ca, order["id"])  # in Redis now, for 120 s
        old = (self.stack.a, self.stack.b)
        for d in old:
            d.stop()
            d.cleanup()
        psql(self.stack.db_url, f"UPDATE orders SET status = 'shipped' WHERE id = {order['id']}")
        # what Redis still holds is the old version: only the replay can fix it
        cached = self.stack.redis.command("GET", f"order:{order['id']}")
        self.assertIn('"status":"pending"', cached.decode() if isinstance(cached, bytes) else cached)
        self.stack.a = Daemon(env=restart_env(old[0])).start()
        self.stack.b = Daemon(env=restart_env(old[1])).start()
        for d in (self.stack.a, self.stack.b):
            wait_cache_up(d)
            c = d.client()
            resp = c.get(f"/orders/{order['id']}")
            c.close()
            self.assertEqual(resp.json()["status"], "shipped")
            self.assertEqual(resp.json()["version"], 2)

    def test_a_change_made_while_the_feed_reconnects_is_caught_up(self):
        order = self.create()
        cb = self.stack.b.client()
        self.addCleanup(cb.close)
        for _ in range(2):
            self.get(cb, order["id"])
        # Only this database's feed sessions: the cluster is shared with
        # the suite's other tests, and ending their feeds turned their
        # caches untrusted mid-test (test_cache read BYPASS).
        feeds = ("FROM pg_stat_activity WHERE application_name = 'orderd-change-feed' "
                 "AND datname = current_database()")
        deadline = time.monotonic() + 10
        while psql(self.stack.db_url, f"SELECT count(*) {feeds}") != "2":
            self.assertLess(time.monotonic(), deadline, "both feeds never connected")
            time.sleep(0.05)
        losses_before = [metrics(c).get("orderd_change_feed_losses_total", 0)
                         for c in (self.ca, self.cb)]
        for round_no in range(3):
            # end both feed sessions, then write at once, while they reconnect
            ended = psql(self.stack.db_url,
                         f"SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) {feeds}")
            if round_no == 0:
                self.assertEqual(ended, "2", "the first round ends both processes' feeds")
            psql(self.stack.db_url,
                 f"UPDATE orders SET status = 'paid' WHERE id = {order['id']}")
        wait_cache_up(self.stack.b)
        for client, before in zip((self.ca, self.cb), losses_before):
            self.assertGreater(metrics(client).get("orderd_change_feed_losses_total", 0), before)
        resp, _ = self.get(cb, order["id"])
        self.assertEqual(resp.json()["version"], 4)


if __name__ == "__main__":
    main()
