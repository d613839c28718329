"""Idempotency-Key on POST /orders: replays, conflicts, races, expiry."""

import threading
import uuid

from harness import StackTestCase, main, new_customer_id


class IdempotencyTest(StackTestCase):
    def post(self, key, body, client=None):
        return (client or self.c).post("/orders", json_body=body, headers={"Idempotency-Key": key})

    def count(self, cid):
        return int(self.stack.sql(f"SELECT count(*) FROM orders WHERE customer_id = {cid}"))

    def test_same_key_and_body_replays_the_first_response(self):
        key, cid = str(uuid.uuid4()), new_customer_id()
        body = {"customer_id": cid, "total": "10.00"}
        first = self.post(key, body)
        self.assertEqual(first.status, 201, first)
        self.assertNotEqual((first.header("Idempotent-Replayed") or "").lower(), "true")
        again = self.post(key, body)
        self.assertEqual(again.status, 201, again)
        self.assertEqual(again.json(), first.json())
        self.assertEqual(again.header("Location"), first.header("Location"))
        self.assertEqual((again.header("Idempotent-Replayed") or "").lower(), "true", again)
        self.assertEqual(self.count(cid), 1)

    def test_replay_survives_later_changes_to_the_order(self):
        key, cid = str(uuid.uuid4()), new_customer_id()
        body = {"customer_id": cid, "total": "10.00"}
        first = self.post(key, body)
        oid = first.json()["id"]
        self.assertEqual(self.c.patch(f"/orders/{oid}", json_body={"status": "paid"}).status, 200)
        again = self.post(key, body)
        self.assertEqual(again.status, 201, again)
        self.assertEqual(again.json()["id"], oid)
        self.assertEqual(self.count(cid), 1)

    def test_same_meaning_with_other_formatting_is_a_replay(self):
        key, cid = str(uuid.uuid4()), new_customer_id()
        first = self.c.post("/orders", body=f'{{"customer_id":{cid},"total":"10.00"}}',
                            headers={"Idempotency-Key": key, "Content-Type": "application/json"})
        self.assertEqual(first.status, 201, first)
        again = self.c.post("/orders", body=f'{{ "total" : "10.00",\n "customer_id" : {cid} }}',
                            headers={"Idempotency-Key": key, "Content-Type": "application/json"})
        self.assertEqual(again.status, 201, again)
        self.assertEqual(again.json()["id"], first.json()["id"])

    def test_same_key_with_another_body_is_422(self):
        key, cid = str(uuid.uuid4()), new_customer_id()
        self.assertEqual(self.post(key, {"customer_id": cid, "total": "10.00"}).status, 201)
        self.assert_problem(self.post(key, {"customer_id": cid, "total": "11.00"}), 422)
        self.assertEqual(self.count(cid), 1)

    def test_different_keys_create_different_orders(self):
        cid = new_customer_id()
        body = {"customer_id": cid, "total": "10.00"}
        a = self.post(str(uuid.uuid4()), body).json()
        b = self.post(str(uuid.uuid4()), body).json()
        self.assertNotEqual(a["id"], b["id"])
        self.assertEqual(self.count(cid), 2)

    def test_a_rejected_body_does_not_burn_the_key(self):
        key, cid = str(uuid.uuid4()), new_customer_id()
        self.assert_problem(self.post(key, {"customer_id": cid, "total": "1.001"}), 422)
        resp = self.post(key, {"customer_id": cid, "total": "1.00"})
        self.assertEqual(resp.status, 201, resp)

    def test_concurrent_retries_create_exactly_one_order(self):
        key, cid = str(uuid.uuid4()), new_customer_id()
        body = {"customer_id": cid, "total": "42.00"}
        n = 16
        barrier = threading.Barrier(n)
        responses = [None] * n

        def worker(i):
            c = self.stack.client()
            try:
                barrier.wait()
                responses[i] = self.post(key, body, client=c)
            finally:
                c.close()

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertTrue(all(r is not None for r in responses), responses)
        self.assertEqual(self.count(cid), 1)
        created = [r for r in responses if r.status == 201]
        self.assertTrue(created, responses)
        self.assertEqual({r.json()["id"] for r in created}, {created[0].json()["id"]})
        for r in responses:
            if r.status != 201:
                # a retry racing the first may be told to come back, never a 5xx
                self.assert_problem(r, 409)
        self.assertEqual(self.post(key, body).json()["id"], created[0].json()["id"])

    def test_keys_expire_after_24_hours(self):
        key, cid = str(uuid.uuid4()), new_customer_id()
        first = self.post(key, {"customer_id": cid, "total": "10.00"})
        self.assertEqual(first.status, 201, first)
        self.stack.sql(f"UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = '{key}'")
        again = self.post(key, {"customer_id": cid, "total": "11.00"})
        self.assertEqual(again.status, 201, again)
        self.assertNotEqual(again.json()["id"], first.json()["id"])
        self.assertEqual(self.count(cid), 2)


if __name__ == "__main__":
    main()
