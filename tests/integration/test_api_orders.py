"""The /orders API as a client sees it: create, read, update, delete, list."""

import threading
from decimal import Decimal

from cache_stack import metrics
from harness import RFC3339_RE, StackTestCase, get_together, histogram_delta, main, new_customer_id


class CreateTest(StackTestCase):
    def test_created_order_has_every_field_and_a_location(self):
        cid = new_customer_id()
        resp = self.c.post("/orders", json_body={"customer_id": cid, "total": "12.50", "currency": "EUR"})
        self.assertEqual(resp.status, 201, resp)
        self.assertTrue(resp.header("Content-Type").startswith("application/json"), resp)
        order = resp.json()
        self.assertEqual(set(order), {"id", "customer_id", "status", "currency", "total", "items", "version",
                                      "created_at", "updated_at"})
        self.assertIsInstance(order["id"], int)
        self.assertGreater(order["id"], 0)
        self.assertEqual(order["customer_id"], cid)
        self.assertEqual(order["status"], "pending")
        self.assertEqual(order["currency"], "EUR")
        self.assertEqual(order["total"], "12.50")
        self.assertEqual(order["items"], [])
        self.assertEqual(order["version"], 1)
        self.assertRegex(order["created_at"], RFC3339_RE)
        self.assertRegex(order["updated_at"], RFC3339_RE)
        location = resp.header("Location")
        self.assertIsNotNone(location, resp)
        self.assertTrue(location.endswith(f"/orders/{order['id']}"), location)
        self.assertEqual(self.c.get(location[location.index("/orders/"):]).json(), order)

    def test_currency_defaults_to_usd(self):
        self.assertEqual(self.create_order()["currency"], "USD")

    def test_charset_in_content_type_is_accepted(self):
        resp = self.c.post("/orders", body=f'{{"customer_id":{new_customer_id()},"total":"1.00"}}',
                           headers={"Content-Type": "application/json; charset=utf-8"})
        self.assertEqual(resp.status, 201, resp)

    def test_largest_total_is_exact(self):
        order = self.create_order(total="9999999999.99")
        self.assertEqual(order["total"], "9999999999.99")
        self.assertEqual(self.stack.sql(f"SELECT total::text FROM orders WHERE id = {order['id']}"), "9999999999.99")
        self.assertEqual(self.c.get(f"/orders/{order['id']}").json()["total"], "9999999999.99")

    def test_largest_total_as_a_json_number_is_exact(self):
        resp = self.c.post("/orders", body=f'{{"customer_id":{new_customer_id()},"total":9999999999.99}}',
                           headers={"Content-Type": "application/json"})
        self.assertEqual(resp.status, 201, resp)
        self.assertEqual(resp.json()["total"], "9999999999.99")

    def test_json_numbers_keep_their_decimal_value(self):
        for raw, want in (("0.3", "0.30"), ("12.5", "12.50"), ("12", "12.00"), ("0", "0.00"), ("1.1", "1.10"),
                          ("4.35", "4.35"), ("0.07", "0.07")):
            resp = self.c.post("/orders", body=f'{{"customer_id":{new_customer_id()},"total":{raw}}}',
                               headers={"Content-Type": "application/json"})
            self.assertEqual(resp.status, 201, (raw, resp))
            self.assertEqual(resp.json()["total"], want, raw)
            oid = resp.json()["id"]
            self.assertEqual(self.stack.sql(f"SELECT total::text FROM orders WHERE id = {oid}"), want, raw)

    def test_items_sum_is_exact(self):
        # 0.1 + 0.2 in doubles is 0.30000000000000004
        order = self.create_order(total=None, items=[{"sku": "A", "quantity": 1, "unit_price": 0.1},
                                                      {"sku": "B", "quantity": 1, "unit_price": 0.2}])
        self.assertEqual(order["total"], "0.30")

    def test_total_is_computed_from_items(self):
        body = {"customer_id": new_customer_id(),
                "items": [{"sku": "SKU-1", "quantity": 3, "unit_price": "19.99"},
                          {"sku": "SKU-2", "quantity": 2, "unit_price": "0.01"}]}
        resp = self.c.post("/orders", json_body=body)
        self.assertEqual(resp.status, 201, resp)
        order = resp.json()
        self.assertEqual(order["total"], "59.99")
        self.assertEqual(len(order["items"]), 2)
        first = order["items"][0]
        self.assertEqual(first["sku"], "SKU-1")
        self.assertEqual(first["quantity"], 3)
        self.assertEqual(Decimal(str(first["unit_price"])), Decimal("19.99"))
        self.assertEqual(Decimal(str(order["items"][1]["unit_price"])), Decimal("0.01"))

    def test_matching_total_with_items_is_accepted(self):
        body = {"customer_id": new_customer_id(), "total": "59.99",
                "items": [{"sku": "SKU-1", "quantity": 3, "unit_price": "19.99"},
                          {"sku": "SKU-2", "quantity": 2, "unit_price": "0.01"}]}
        resp = self.c.post("/orders", json_body=body)
        self.assertEqual(resp.status, 201, resp)
        self.assertEqual(resp.json()["total"], "59.99")

    def test_total_that_does_not_match_items_is_rejected(self):
        body = {"customer_id": new_customer_id(), "total": "60.00",
                "items": [{"sku": "SKU-1", "quantity": 3, "unit_price": "19.99"},
                          {"sku": "SKU-2", "quantity": 2, "unit_price": "0.01"}]}
        self.assert_problem(self.c.post("/orders", json_body=body), 422, fields=["total"])


class GetTest(StackTestCase):
    def test_get_returns_the_order_with_an_etag(self):
        order = self.create_order()
        resp = self.c.get(f"/orders/{order['id']}")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json(), order)
        self.assertEqual(resp.header("ETag"), '"1"')

    def test_if_none_match_gives_304_without_body(self):
        order = self.create_order()
        resp = self.c.get(f"/orders/{order['id']}", headers={"If-None-Match": '"1"'})
        self.assertEqual(resp.status, 304, resp)
        self.assertEqual(resp.body, b"")
        self.assertEqual(resp.header("ETag"), '"1"')
        # the connection is still usable after a body-less response
        self.assertEqual(self.c.get(f"/orders/{order['id']}").status, 200)

    def test_if_none_match_with_an_old_version_gives_200(self):
        order = self.create_order()
        self.assertEqual(self.c.patch(f"/orders/{order['id']}", json_body={"status": "paid"}).status, 200)
        resp = self.c.get(f"/orders/{order['id']}", headers={"If-None-Match": '"1"'})
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.header("ETag"), '"2"')
        self.assertEqual(resp.json()["version"], 2)

    def test_missing_order_is_404(self):
        self.assert_problem(self.c.get("/orders/9223372036854775807"), 404)


class PatchTest(StackTestCase):
    ALLOWED = [("pending", "paid"), ("paid", "shipped"), ("shipped", "delivered"),
               ("pending", "cancelled"), ("paid", "cancelled")]
    PATHS = {"pending": [], "paid": ["paid"], "shipped": ["paid", "shipped"],
             "delivered": ["paid", "shipped", "delivered"], "cancelled": ["cancelled"]}

    def order_in(self, status):
        order = self.create_order()
        for step in self.PATHS[status]:
            resp = self.c.patch(f"/orders/{order['id']}", json_body={"status": step})
            self.assertEqual(resp.status, 200, resp)
            order = resp.json()
        self.assertEqual(order["status"], status)
        return order

    def test_every_allowed_transition(self):
        for src, dst in self.ALLOWED:
            with self.subTest(src=src, dst=dst):
                before = self.order_in(src)
                resp = self.c.patch(f"/orders/{before['id']}", json_body={"status": dst})
                self.assertEqual(resp.status, 200, resp)
                after = resp.json()
                self.assertEqual(after["status"], dst)
                self.assertEqual(after["version"], before["version"] + 1)
                self.assertEqual(resp.header("ETag"), f'"{after["version"]}"')
                self.assertGreaterEqual(after["updated_at"], before["updated_at"])
                self.assertEqual(after["created_at"], before["created_at"])
                self.assertEqual(self.c.get(f"/orders/{before['id']}").json(), after)

    def test_forbidden_transitions_are_409(self):
        for src, dst in [("pending", "shipped"), ("pending", "delivered"), ("pending", "pending"),
                         ("paid", "delivered"), ("paid", "pending"), ("shipped", "cancelled"),
                         ("shipped", "paid"), ("delivered", "cancelled"), ("delivered", "pending"),
                         ("cancelled", "paid"), ("cancelled", "pending")]:
            with self.subTest(src=src, dst=dst):
                before = self.order_in(src)
                resp = self.c.patch(f"/orders/{before['id']}", json_body={"status": dst})
                self.assert_problem(resp, 409)
                self.assertEqual(self.c.get(f"/orders/{before['id']}").json(), before)

    def test_if_match_with_the_current_version_applies(self):
        order = self.create_order()
        resp = self.c.patch(f"/orders/{order['id']}", json_body={"status": "paid"}, headers={"If-Match": '"1"'})
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json()["version"], 2)

    def test_if_match_mismatch_is_412_and_changes_nothing(self):
        order = self.create_order()
        resp = self.c.patch(f"/orders/{order['id']}", json_body={"status": "paid"}, headers={"If-Match": '"7"'})
        self.assert_problem(resp, 412)
        self.assertEqual(self.c.get(f"/orders/{order['id']}").json(), order)

    def test_stale_if_match_after_an_update_is_412(self):
        order = self.create_order()
        self.assertEqual(self.c.patch(f"/orders/{order['id']}", json_body={"status": "paid"}).status, 200)
        resp = self.c.patch(f"/orders/{order['id']}", json_body={"status": "shipped"}, headers={"If-Match": '"1"'})
        self.assert_problem(resp, 412)

    def test_patch_of_a_missing_order_is_404(self):
        self.assert_problem(self.c.patch("/orders/9223372036854775807", json_body={"status": "paid"}), 404)

    def test_patch_body_is_validated(self):
        order = self.create_order()
        self.assert_problem(self.c.patch(f"/orders/{order['id']}", json_body={"status": "bogus"}), 422,
                            fields=["status"])
        self.assert_problem(self.c.patch(f"/orders/{order['id']}", json_body={"status": 3}), 422,
                            fields=["status"])
        self.assert_problem(self.c.patch(f"/orders/{order['id']}", json_body={"status": "paid", "total": "1"}),
                            422, fields=["total"])
        self.assert_problem(self.c.patch(f"/orders/{order['id']}", json_body={}), 422, fields=["status"])

    def test_concurrent_patches_apply_once(self):
        order = self.create_order()
        results = []
        barrier = threading.Barrier(8)

        def worker():
            c = self.stack.client()
            try:
                barrier.wait()
                results.append(c.patch(f"/orders/{order['id']}", json_body={"status": "paid"},
                                       headers={"If-Match": '"1"'}).status)
            finally:
                c.close()

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(results.count(200), 1, results)
        self.assertTrue(all(s in (200, 409, 412) for s in results), results)
        self.assertEqual(self.c.get(f"/orders/{order['id']}").json()["version"], 2)


class DeleteTest(StackTestCase):
    def test_delete_then_404(self):
        order = self.create_order()
        resp = self.c.delete(f"/orders/{order['id']}")
        self.assertEqual(resp.status, 204, resp)
        self.assertEqual(resp.body, b"")
        self.assert_problem(self.c.get(f"/orders/{order['id']}"), 404)
        self.assert_problem(self.c.delete(f"/orders/{order['id']}"), 404)
        self.assert_problem(self.c.patch(f"/orders/{order['id']}", json_body={"status": "paid"}), 404)
        self.assertEqual(self.stack.sql(f"SELECT count(*) FROM orders WHERE id = {order['id']}"), "0")


class ListTest(StackTestCase):
    def make(self, cid, n):
        return [self.create_order(customer_id=cid)["id"] for _ in range(n)]

    def pages(self, query, limit, cursor=None):
        seen, pages = [], 0
        while True:
            path = f"/orders?{query}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
            resp = self.c.get(path)
            self.assertEqual(resp.status, 200, resp)
            doc = resp.json()
            self.assertEqual(set(doc), {"data", "next_cursor"})
            self.assertLessEqual(len(doc["data"]), limit)
            seen += [o["id"] for o in doc["data"]]
            pages += 1
            self.assertLess(pages, 100, "pagination does not end")
            cursor = doc["next_cursor"]
            if cursor is None:
                return seen, pages
            self.assertIsInstance(cursor, str)

    def test_pages_are_newest_first_without_duplicates_or_gaps(self):
        cid = new_customer_id()
        ids = self.make(cid, 7)
        seen, pages = self.pages(f"customer_id={cid}", 3)
        self.assertEqual(seen, list(reversed(ids)))
        self.assertEqual(pages, 3)

    def test_exact_multiple_of_the_limit(self):
        cid = new_customer_id()
        ids = self.make(cid, 4)
        seen, _ = self.pages(f"customer_id={cid}", 2)
        self.assertEqual(seen, list(reversed(ids)))

    def test_new_orders_do_not_shift_later_pages(self):
        cid = new_customer_id()
        ids = self.make(cid, 5)
        first = self.c.get(f"/orders?customer_id={cid}&limit=2").json()
        self.make(cid, 3)
        rest, _ = self.pages(f"customer_id={cid}", 2, cursor=first["next_cursor"])
        self.assertEqual([o["id"] for o in first["data"]] + rest, list(reversed(ids)))

    def test_default_limit_is_20(self):
        cid = new_customer_id()
        self.make(cid, 21)
        doc = self.c.get(f"/orders?customer_id={cid}").json()
        self.assertEqual(len(doc["data"]), 20)
        self.assertIsNotNone(doc["next_cursor"])

    def test_limit_100_is_allowed(self):
        resp = self.c.get("/orders?limit=100")
        self.assertEqual(resp.status, 200, resp)
        self.assertLessEqual(len(resp.json()["data"]), 100)

    def test_status_filter(self):
        cid = new_customer_id()
        ids = self.make(cid, 4)
        for oid in ids[1:3]:
            self.assertEqual(self.c.patch(f"/orders/{oid}", json_body={"status": "paid"}).status, 200)
        doc = self.c.get(f"/orders?customer_id={cid}&status=paid").json()
        self.assertEqual([o["id"] for o in doc["data"]], [ids[2], ids[1]])
        self.assertTrue(all(o["status"] == "paid" and o["customer_id"] == cid for o in doc["data"]))
        self.assertIsNone(doc["next_cursor"])
        only_status = self.c.get("/orders?status=paid&limit=100").json()["data"]
        self.assertTrue(only_status)
        self.assertTrue(all(o["status"] == "paid" for o in only_status))

    def test_customer_filter_excludes_others(self):
        cid, other = new_customer_id(), new_customer_id()
        ids = self.make(cid, 2)
        self.make(other, 2)
        doc = self.c.get(f"/orders?customer_id={cid}").json()
        self.assertEqual([o["id"] for o in doc["data"]], list(reversed(ids)))
        self.assertIsNone(doc["next_cursor"])

    def test_unknown_customer_gives_an_empty_page(self):
        doc = self.c.get(f"/orders?customer_id={new_customer_id()}").json()
        self.assertEqual(doc, {"data": [], "next_cursor": None})

    def test_listed_orders_have_the_full_shape(self):
        cid = new_customer_id()
        order = self.create_order(customer_id=cid)
        self.assertEqual(self.c.get(f"/orders?customer_id={cid}").json()["data"], [order])



class ListLoadTest(StackTestCase):
    """Caches off: customers' pages come from the list loader, several in
    one statement (list_loader.h).  The hook holds each statement 300 ms,
    so the requests that arrive meanwhile share the next one; each must
    get its own page, the one a no-cache read (a statement of its own,
    on an I/O worker) gives."""
    stack_env = {"ORDERD_TEST_LIST_LOAD_DELAY_MS": "300"}

    def test_pages_read_together_are_each_the_page_read_alone(self):
        customers = [new_customer_id() for _ in range(24)]
        for i, cid in enumerate(customers):
            for _ in range(i % 4):
                self.create_order(customer_id=cid)
        paths = [f"/orders?customer_id={c}&limit={1 + i % 3}" for i, c in enumerate(customers)]
        # a cursor's page too: the second page of the customer with three
        first = self.c.get(paths[3]).json()
        self.assertIsNotNone(first["next_cursor"])
        paths.append(f"{paths[3]}&cursor={first['next_cursor']}")
        expected = [self.c.get(p, headers={"Cache-Control": "no-cache"}).body for p in paths]

        before = metrics(self.c)
        results = get_together(self.stack, paths)
        after = metrics(self.c)
        for path, body, (status, cache, got) in zip(paths, expected, results):
            self.assertEqual((status, cache, got), (200, "BYPASS", body), path)
        statements, pages = histogram_delta(before, after, "orderd_list_read_batch_size")
        self.assertEqual(pages, len(paths))
        self.assertLessEqual(statements, 12, f"{len(paths)} pages took {statements} statements")


if __name__ == "__main__":
    main()
