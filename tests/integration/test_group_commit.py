"""PATCH, DELETE and keyed POST share group commits; each keeps its own outcome.

The orders table is locked while a burst of amendments arrives: the
first amender thread takes what has come and waits on the lock, the
standby thread takes what queued in its first 5 ms and waits too, and
everything else queues behind them.  Once the lock is gone the queue goes out in
shared commits (orderd_amend_batch_size says so), in which a stale If-Match is
a 412, a transition not allowed a 409 and a missing order a 404, for that
request alone, while the others in the same commit succeed.  Two
PATCHes of one order never share a statement: the second sees the
first's result.
"""

import re
import threading
import time
import unittest

from harness import LockSession, StackTestCase, main

def batches(client, histogram="orderd_amend_batch_size"):
    """{le: cumulative count}, count, sum of one batch-size histogram."""
    bucket_re = re.compile(rf'^{histogram}_(bucket\{{le="([^"]+)"\}}|count|sum) (\S+)$')
    text = client.get("/metrics").text
    buckets, count, total = {}, 0.0, 0.0
    for line in text.splitlines():
        m = bucket_re.match(line)
        if not m:
            continue
        if m.group(2) is not None:
            buckets[m.group(2)] = float(m.group(3))
        elif m.group(1) == "count":
            count = float(m.group(3))
        else:
            total = float(m.group(3))
    return buckets, count, total


class GroupCommitTest(StackTestCase):
    stack_env = {"ORDERD_REQUEST_TIMEOUT_MS": "8000"}

    def send_all(self, requests):
        """Sends every (method, path, body, headers) at once; their responses in order."""
        results = [None] * len(requests)
        barrier = threading.Barrier(len(requests))

        def run(i, method, path, body, headers):
            c = self.stack.client(timeout=20)
            try:
                barrier.wait()
                results[i] = c.request(method, path, json_body=body, headers=headers)
            except Exception as e:  # noqa: BLE001 - reported by the test
                results[i] = e
            finally:
                c.close()

        threads = [threading.Thread(target=run, args=(i, *r)) for i, r in enumerate(requests)]
        for t in threads:
            t.start()
        return threads, results

    def send_behind_lock(self, requests):
        """send_all while the orders table is locked; the responses, once
        the lock is gone and every request has been answered."""
        with LockSession(self.stack.db_url):
            threads, results = self.send_all(requests)
            time.sleep(0.8)  # every request reaches orderd and queues behind the lock
        for t in threads:
            t.join(30)
        for r in results:
            self.assertNotIsInstance(r, Exception, r)
        return results

    def test_one_commit_many_outcomes(self):
        orders = [self.create_order() for _ in range(12)]
        ids = [o["id"] for o in orders]
        paid = {"status": "paid"}
        requests = (
            [("PATCH", f"/orders/{i}", paid, None) for i in ids[0:4]]                   # 200
            + [("PATCH", f"/orders/{i}", paid, {"If-Match": '"7"'}) for i in ids[4:6]]  # 412
            + [("PATCH", f"/orders/{i}", {"status": "delivered"}, None) for i in ids[6:8]]  # 409
            + [("DELETE", f"/orders/{i}", None, {"If-Match": '"1"'}) for i in ids[8:10]]    # 204
            + [("DELETE", f"/orders/{ids[10]}", None, {"If-Match": '"5"'})]             # 412
            + [("PATCH", "/orders/9223372036854775807", paid, None)]                    # 404
            + [("PATCH", f"/orders/{ids[11]}", paid, None),                             # one order,
               ("PATCH", f"/orders/{ids[11]}", {"status": "cancelled"}, None)]          # twice
        )
        expected = [200] * 4 + [412] * 2 + [409] * 2 + [204] * 2 + [412, 404]
        _, before_count, before_sum = batches(self.c)
        results = self.send_behind_lock(requests)
        self.assertEqual([r.status for r in results[:len(expected)]], expected,
                         [(r.status, r.text[:120]) for r in results])
        for r in results:
            if r.status >= 400:
                self.assert_problem(r, r.status)
        for r in results[:4]:
            self.assertEqual((r.json()["status"], r.json()["version"]), ("paid", 2))
            self.assertEqual(r.header("ETag"), '"2"')

        # the same order twice: applied one after the other, never at once
        pay, cancel = results[-2:]
        final = self.c.get(f"/orders/{ids[11]}").json()
        if pay.status == 200:  # paid first, then cancelled from paid
            self.assertEqual((pay.json()["version"], cancel.status), (2, 200), cancel)
            self.assertEqual(cancel.json()["version"], 3)
            self.assertEqual((final["status"], final["version"]), ("cancelled", 3))
        else:  # cancelled first; paying a cancelled order is a conflict
            self.assertEqual((pay.status, cancel.status), (409, 200), pay)
            self.assertEqual((final["status"], final["version"]), ("cancelled", 2))

        # PostgreSQL agrees with every answer
        for i in ids[0:4]:
            self.assertEqual(self.stack.sql(f"SELECT status || ' ' || version FROM orders WHERE id = {i}"),
                             "paid 2")
        for i in ids[4:8] + [ids[10]]:
            self.assertEqual(self.stack.sql(f"SELECT status || ' ' || version FROM orders WHERE id = {i}"),
                             "pending 1")
        for i in ids[8:10]:
            self.assertEqual(self.stack.sql(f"SELECT count(*) FROM orders WHERE id = {i}"), "0")
            self.assertEqual(self.c.get(f"/orders/{i}").status, 404)

        # and they shared commits: 14 amendments in fewer statements
        buckets, count, total = batches(self.c)
        commits, amended = count - before_count, total - before_sum
        print(f"\n{amended:.0f} amendments in {commits:.0f} commits")
        self.assertGreaterEqual(amended, len(requests))
        # How the 14 split depends on how many each amender thread took
        # before it blocked, and a second amendment of an order waits for
        # the next statement; that the queued ones shared a commit does not.
        self.assertLess(commits, len(requests), "the queued amendments were not batched")
        self.assertGreater(count - buckets.get("1", count), 0, "no commit carried two amendments")

    def test_keyed_creates_share_a_transaction_and_keep_exactly_once(self):
        """POSTs with Idempotency-Keys queued behind the lock go out together.

        Distinct keys each create an order; the same key and body twice
        create one order, the second answer a replay of the first; the
        same key with another body is a 422 for that request alone.
        """
        prefix = f"gc-{time.monotonic_ns()}"
        body = lambda total: {"customer_id": 4242, "total": total}  # noqa: E731
        requests = (
            [("POST", "/orders", body("1.00"), {"Idempotency-Key": f"{prefix}-{i}"}) for i in range(6)]
            + [("POST", "/orders", body("2.00"), {"Idempotency-Key": f"{prefix}-twice"})] * 2
            + [("POST", "/orders", body("3.00"), {"Idempotency-Key": f"{prefix}-clash"}),
               ("POST", "/orders", body("4.00"), {"Idempotency-Key": f"{prefix}-clash"})]
        )
        _, before_count, before_sum = batches(self.c, "orderd_write_batch_size")
        results = self.send_behind_lock(requests)
        fresh = results[:6]
        self.assertEqual([r.status for r in fresh], [201] * 6, [(r.status, r.text[:120]) for r in fresh])
        self.assertEqual(len({r.json()["id"] for r in fresh}), 6)
        for r in fresh:
            self.assertIsNone(r.header("Idempotent-Replayed"))

        a, b = results[6:8]
        self.assertEqual((a.status, b.status), (201, 201), (a, b))
        self.assertEqual(a.json()["id"], b.json()["id"])
        self.assertEqual(a.body, b.body, "a replay is the first response, byte for byte")
        self.assertEqual(sorted([a.header("Idempotent-Replayed") or "", b.header("Idempotent-Replayed") or ""]),
                         ["", "true"])

        c, d = results[8:10]
        self.assertEqual(sorted([c.status, d.status]), [201, 422], (c, d))
        clash = c if c.status == 422 else d
        self.assert_problem(clash, 422)
        self.assertEqual(self.stack.sql(f"SELECT count(*) FROM idempotency_keys WHERE key LIKE '{prefix}-%'"), "8")
        self.assertEqual(self.stack.sql("SELECT count(*) FROM orders o JOIN idempotency_keys k ON k.order_id = o.id "
                                        f"WHERE k.key LIKE '{prefix}-%'"), "8")

        buckets, count, total = batches(self.c, "orderd_write_batch_size")
        commits, created = count - before_count, total - before_sum
        print(f"\n{created:.0f} keyed creates in {commits:.0f} commits")
        self.assertLess(commits, len(requests), "the queued creates were not batched")
        self.assertGreater(count - buckets.get("1", count), 0, "no commit carried two creates")


if __name__ == "__main__":
    main()
