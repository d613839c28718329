"""Every way a request can be wrong, and the problem+json that says so."""

import re

from harness import RawConn, StackTestCase, main, new_customer_id

JSON = {"Content-Type": "application/json"}


class MalformedJsonTest(StackTestCase):
    def test_malformed_json_is_400_saying_where(self):
        body = '{\n  "customer_id": 1,\n  "total": @\n}'
        doc = self.assert_problem(self.c.post("/orders", body=body, headers=JSON), 400)
        text = str(doc)
        self.assertRegex(text, re.compile(r"line\D{0,4}3\b", re.I), doc)
        self.assertRegex(text, re.compile(r"col(umn)?\D{0,4}\d+", re.I), doc)

    def test_truncated_and_empty_bodies_are_400(self):
        for body in ('{"customer_id": 1,', "", "nul", '{"a":1}}', '{"a":1} x'):
            with self.subTest(body=body):
                self.assert_problem(self.c.post("/orders", body=body, headers=JSON), 400)

    def test_invalid_utf8_is_400(self):
        body = b'{"customer_id": 1, "total": "1.00", "currency": "\xff\xfe"}'
        self.assert_problem(self.c.post("/orders", body=body, headers=JSON), 400)

    def test_malformed_patch_is_400(self):
        order = self.create_order()
        self.assert_problem(self.c.patch(f"/orders/{order['id']}", body='{"status":', headers=JSON), 400)

    def test_non_object_body_is_rejected(self):
        for body in ("[]", '"x"', "1", "null"):
            with self.subTest(body=body):
                resp = self.c.post("/orders", body=body, headers=JSON)
                self.assertIn(resp.status, (400, 422), resp)
                self.assert_problem(resp, resp.status)


class ValidationTest(StackTestCase):
    def post(self, body):
        return self.c.post("/orders", json_body=body)

    def test_each_bad_field_is_named(self):
        doc = self.assert_problem(self.post({"customer_id": "7", "total": -1, "currency": "DOLLARS", "bogus": 1}),
                                  422, fields=["customer_id", "total", "currency", "bogus"])
        self.assertGreaterEqual(len(doc["errors"]), 4)

    def test_customer_id(self):
        for value in ("7", 0, -5, 1.5, None, True, [1], {"a": 1}):
            with self.subTest(value=value):
                self.assert_problem(self.post({"customer_id": value, "total": "1.00"}), 422,
                                    fields=["customer_id"])
        self.assert_problem(self.post({"total": "1.00"}), 422, fields=["customer_id"])

    def test_customer_id_beyond_int64_is_422(self):
        # valid JSON whose number does not fit: out of range, not malformed
        for raw in ("9223372036854775808", "99999999999999999999"):
            with self.subTest(raw=raw):
                resp = self.c.post("/orders", body=f'{{"customer_id": {raw}, "total": "1.00"}}', headers=JSON)
                self.assert_problem(resp, 422, fields=["customer_id"])
        # a body that is no object is a 400 whatever its numbers (found by tests/fuzz)
        for body in ("[99999999999999999999]", "99999999999999999999"):
            with self.subTest(body=body):
                self.assert_problem(self.c.post("/orders", body=body, headers=JSON), 400)

    def test_total(self):
        for value in (-1, "-1.00", "1.234", 1.234, "abc", "", " 1.00", "1e3", "10000000000.00", 10000000000,
                      True, None, [], {"v": 1}, "NaN", "0x10"):
            with self.subTest(value=value):
                self.assert_problem(self.post({"customer_id": new_customer_id(), "total": value}), 422,
                                    fields=["total"])
        self.assert_problem(self.post({"customer_id": new_customer_id()}), 422, fields=["total"])

    def test_currency(self):
        for value in ("US", "USDX", "", 840, ["USD"], "U$D"):
            with self.subTest(value=value):
                self.assert_problem(self.post({"customer_id": new_customer_id(), "total": "1.00",
                                               "currency": value}), 422, fields=["currency"])

    def test_unknown_fields(self):
        self.assert_problem(self.post({"customer_id": new_customer_id(), "total": "1.00", "status": "paid",
                                       "id": 5}), 422, fields=["status", "id"])

    def test_items(self):
        base = {"customer_id": new_customer_id()}
        self.assert_problem(self.post({**base, "items": "x"}), 422, fields=["items"])
        self.assert_problem(self.post({**base, "items": {"sku": "a"}}), 422, fields=["items"])
        cases = [
            ({"quantity": 1, "unit_price": "1.00"}, "items[0].sku"),
            ({"sku": "", "quantity": 1, "unit_price": "1.00"}, "items[0].sku"),
            ({"sku": "x" * 65, "quantity": 1, "unit_price": "1.00"}, "items[0].sku"),
            ({"sku": 5, "quantity": 1, "unit_price": "1.00"}, "items[0].sku"),
            ({"sku": "a", "quantity": 0, "unit_price": "1.00"}, "items[0].quantity"),
            ({"sku": "a", "quantity": -1, "unit_price": "1.00"}, "items[0].quantity"),
            ({"sku": "a", "quantity": 1.5, "unit_price": "1.00"}, "items[0].quantity"),
            ({"sku": "a", "quantity": "2", "unit_price": "1.00"}, "items[0].quantity"),
            ({"sku": "a", "quantity": 1000001, "unit_price": "1.00"}, "items[0].quantity"),
            ({"sku": "a", "quantity": 1, "unit_price": "-1.00"}, "items[0].unit_price"),
            ({"sku": "a", "quantity": 1, "unit_price": "1.001"}, "items[0].unit_price"),
            ({"sku": "a", "quantity": 1}, "items[0].unit_price"),
        ]
        for item, field in cases:
            with self.subTest(item=item):
                self.assert_problem(self.post({**base, "items": [item]}), 422, fields=[field])
        doc = self.assert_problem(self.post({**base, "items": [{"sku": "a", "quantity": 1, "unit_price": "1.00"},
                                                                {"sku": "b", "quantity": 1, "unit_price": "1",
                                                                 "color": "red"}]}), 422)
        self.assertTrue(any(e["field"].startswith("items[1]") for e in doc["errors"]), doc)

    def test_too_many_items(self):
        items = [{"sku": f"s{i}", "quantity": 1, "unit_price": "1.00"} for i in range(101)]
        self.assert_problem(self.post({"customer_id": new_customer_id(), "items": items}), 422, fields=["items"])

    def test_items_sum_over_the_maximum(self):
        items = [{"sku": "a", "quantity": 2, "unit_price": "9999999999.99"}]
        self.assert_problem(self.post({"customer_id": new_customer_id(), "items": items}), 422)

    def test_nothing_is_stored_on_422(self):
        cid = new_customer_id()
        self.assert_problem(self.post({"customer_id": cid, "total": "1.001"}), 422)
        self.assertEqual(self.stack.sql(f"SELECT count(*) FROM orders WHERE customer_id = {cid}"), "0")


class BodyLimitTest(StackTestCase):
    def test_content_length_over_the_limit_is_413_before_the_body_arrives(self):
        raw = RawConn(self.stack.port)
        try:
            raw.send("POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: 100000000\r\n\r\n" + "{" + " " * 1000)
            self.assertTrue(raw.response_ready(timeout=5), "no answer before the rest of a 100 MB body")
            status, headers, body = raw.read_response()
        finally:
            raw.close()
        self.assertEqual(status, 413)
        self.assertEqual(headers["content-type"][0].split(";")[0], "application/problem+json")

    def test_body_one_byte_over_the_limit_is_413(self):
        body = '{"customer_id": 1, "total": "1.00"}'
        body += " " * (65537 - len(body))
        self.assert_problem(self.c.post("/orders", body=body, headers=JSON), 413)

    def test_body_exactly_at_the_limit_is_accepted(self):
        body = f'{{"customer_id": {new_customer_id()}, "total": "1.00"}}'
        body += " " * (65536 - len(body))
        resp = self.c.post("/orders", body=body, headers=JSON)
        self.assertEqual(resp.status, 201, resp)

    def test_chunked_body_over_the_limit_is_413(self):
        raw = RawConn(self.stack.port)
        try:
            raw.send("POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n")
            chunk = b" " * 8192
            sent = 0
            # Stop sending once the server answers: it may close right after.
            while sent < 200000 and not raw.response_ready(timeout=0.02):
                try:
                    raw.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                except OSError:
                    break
                sent += len(chunk)
            if sent >= 200000:
                try:
                    raw.send(b"0\r\n\r\n")
                except OSError:
                    pass
            self.assertTrue(raw.response_ready(timeout=5), "no answer to an oversized chunked body")
            status, headers, _ = raw.read_response()
        finally:
            raw.close()
        self.assertEqual(status, 413)
        self.assertEqual(headers["content-type"][0].split(";")[0], "application/problem+json")


class ContentTypeTest(StackTestCase):
    def test_post_without_json_content_type_is_415(self):
        body = f'{{"customer_id": {new_customer_id()}, "total": "1.00"}}'
        for headers in ({}, {"Content-Type": "text/plain"}, {"Content-Type": "application/x-www-form-urlencoded"},
                        {"Content-Type": "application/jsonx"}):
            with self.subTest(headers=headers):
                self.assert_problem(self.c.post("/orders", body=body, headers=headers), 415)

    def test_patch_without_json_content_type_is_415(self):
        order = self.create_order()
        self.assert_problem(self.c.patch(f"/orders/{order['id']}", body='{"status":"paid"}',
                                         headers={"Content-Type": "text/plain"}), 415)


class BadIdTest(StackTestCase):
    IDS = ["0", "-1", "abc", "99999999999999999999", "9223372036854775808", "1.5", "1e3", "%20", "0x10", "+1"]

    def test_bad_ids_are_400_for_every_method(self):
        for bad in self.IDS:
            with self.subTest(id=bad):
                self.assert_problem(self.c.get(f"/orders/{bad}"), 400)
                self.assert_problem(self.c.delete(f"/orders/{bad}"), 400)
                self.assert_problem(self.c.patch(f"/orders/{bad}", json_body={"status": "paid"}), 400)

    def test_largest_id_is_valid(self):
        self.assert_problem(self.c.get("/orders/9223372036854775807"), 404)


class BadQueryTest(StackTestCase):
    def test_bad_query_parameters_are_400(self):
        for query in ("limit=0", "limit=101", "limit=abc", "limit=-1", "limit=1.5", "limit=",
                      "foo=1", "limit=1&limit=2", "status=paid&status=paid",
                      "cursor=garbage", "cursor=", "cursor=%00%01",
                      "status=bogus", "status=PAID", "status=",
                      "customer_id=x", "customer_id=0", "customer_id=-3", "customer_id=99999999999999999999"):
            with self.subTest(query=query):
                self.assert_problem(self.c.get(f"/orders?{query}"), 400)

    def test_good_query_parameters_are_200(self):
        for query in ("", "limit=1", "limit=100", "status=paid", f"customer_id={new_customer_id()}",
                      "status=cancelled&limit=5"):
            with self.subTest(query=query):
                resp = self.c.get(f"/orders?{query}")
                self.assertEqual(resp.status, 200, resp)

    def test_cursor_from_another_listing_position_still_works(self):
        cid = new_customer_id()
        for _ in range(3):
            self.create_order(customer_id=cid)
        cursor = self.c.get(f"/orders?customer_id={cid}&limit=1").json()["next_cursor"]
        self.assertIsNotNone(cursor)
        tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
        resp = self.c.get(f"/orders?customer_id={cid}&limit=1&cursor={tampered}")
        self.assertIn(resp.status, (200, 400), resp)


class RoutingTest(StackTestCase):
    def test_unknown_paths_are_404(self):
        for path in ("/", "/nope", "/orders/1/extra", "/Orders", "/healthz/x"):
            with self.subTest(path=path):
                self.assert_problem(self.c.get(path), 404)

    def allow(self, resp):
        return {m.strip() for m in (resp.header("Allow") or "").split(",") if m.strip()}

    def test_wrong_methods_are_405_with_allow(self):
        for method, path, allowed in (("PUT", "/orders/1", {"GET", "PATCH", "DELETE"}),
                                      ("POST", "/orders/1", {"GET", "PATCH", "DELETE"}),
                                      ("DELETE", "/orders", {"GET", "POST"}),
                                      ("PATCH", "/orders", {"GET", "POST"}),
                                      ("POST", "/healthz", {"GET"}),
                                      ("DELETE", "/readyz", {"GET"})):
            with self.subTest(method=method, path=path):
                resp = self.c.request(method, path, body=b"{}", headers=JSON)
                self.assert_problem(resp, 405)
                self.assertLessEqual(allowed, self.allow(resp), resp)
                self.assertNotIn(method, self.allow(resp))


if __name__ == "__main__":
    main()
