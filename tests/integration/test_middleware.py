"""Request ids, Server-Timing, the access log and health endpoints."""

import time
import uuid

from harness import (JSON_HEADERS, LOG_TS_RE, SERVER_TIMING_RE, UUID_RE, RawConn, StackTestCase, main,
                     new_customer_id)


class RequestIdTest(StackTestCase):
    def rid(self, sent):
        return self.c.get("/healthz", headers={"X-Request-ID": sent}).header("X-Request-ID")

    def test_valid_ids_are_kept(self):
        for sent in ("abc", "A-b_c.9", "x" * 128, "0", str(uuid.uuid4())):
            with self.subTest(sent=sent):
                self.assertEqual(self.rid(sent), sent)

    def test_invalid_ids_are_replaced_by_a_uuid(self):
        for sent in ("x" * 129, "has space", "semi;colon", "slash/", "quote\"", "é", "a+b", "tab\tx"):
            with self.subTest(sent=sent):
                got = self.c.request("GET", "/healthz",
                                     headers={"X-Request-ID": sent.encode("utf-8").decode("latin-1")})
                rid = got.header("X-Request-ID")
                self.assertNotEqual(rid, sent)
                self.assertRegex(rid or "", UUID_RE)

    def test_empty_id_is_replaced(self):
        raw = RawConn(self.stack.port)
        try:
            raw.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-ID: \r\n\r\n")
            _, headers, _ = raw.read_response()
        finally:
            raw.close()
        self.assertRegex(headers["x-request-id"][0], UUID_RE)

    def test_generated_ids_are_uuids_and_unique(self):
        ids = {self.c.get("/healthz").header("X-Request-ID") for _ in range(20)}
        self.assertEqual(len(ids), 20)
        for rid in ids:
            self.assertRegex(rid, UUID_RE)

    def test_every_kind_of_response_carries_the_id_and_timing(self):
        order = self.create_order()
        oid = order["id"]
        cases = [
            ("GET", "/healthz", None, {}),
            ("GET", "/readyz", None, {}),
            ("GET", f"/orders/{oid}", None, {}),
            ("GET", f"/orders/{oid}", None, {"If-None-Match": '"1"'}),  # 304
            ("GET", "/orders?limit=1", None, {}),
            ("POST", "/orders", f'{{"customer_id":{new_customer_id()},"total":"1.00"}}', JSON_HEADERS),
            ("POST", "/orders", "{", JSON_HEADERS),  # 400
            ("POST", "/orders", "{}", {"Content-Type": "text/plain"}),  # 415
            ("POST", "/orders", "{}", JSON_HEADERS),  # 422
            ("GET", "/orders/abc", None, {}),  # 400
            ("GET", "/nope", None, {}),  # 404
            ("PUT", f"/orders/{oid}", None, {}),  # 405
            ("DELETE", f"/orders/{oid}", None, {}),  # 204
        ]
        for method, path, body, headers in cases:
            with self.subTest(method=method, path=path, headers=headers):
                sent = f"t-{uuid.uuid4().hex}"
                resp = self.c.request(method, path, body=body, headers={**headers, "X-Request-ID": sent})
                self.assertEqual(resp.header("X-Request-ID"), sent, resp)
                self.assertRegex(resp.header("Server-Timing") or "", SERVER_TIMING_RE, resp)
                if resp.status >= 400:
                    self.assertEqual(self.assert_problem(resp, resp.status)["request_id"], sent)


class AccessLogTest(StackTestCase):
    def test_one_line_per_request_with_every_field(self):
        order = self.create_order()
        daemon = self.stack.daemon
        cases = [
            ("GET", f"/orders/{order['id']}", None, {}, 200, "/orders/:id"),
            ("POST", "/orders", f'{{"customer_id":{new_customer_id()},"total":"1.00"}}', JSON_HEADERS, 201,
             "/orders"),
            ("GET", "/orders", None, {}, 200, "/orders"),
            ("GET", "/healthz", None, {}, 200, "/healthz"),
            ("GET", "/orders/abc", None, {}, 400, "/orders/:id"),
            ("GET", "/nowhere", None, {}, 404, None),
            ("POST", "/orders", "{", JSON_HEADERS, 400, "/orders"),
        ]
        sent = []
        for method, path, body, headers, status, route in cases:
            rid = f"log-{uuid.uuid4().hex}"
            client = self.stack.client()
            client.conn.connect()
            local_port = client.conn.sock.getsockname()[1]
            resp = client.request(method, path, body=body, headers={**headers, "X-Request-ID": rid})
            client.close()
            self.assertEqual(resp.status, status, resp)
            sent.append((rid, method, path, status, route, len(resp.body), local_port))
        for rid, method, path, status, route, nbytes, local_port in sent:
            with self.subTest(method=method, path=path):
                rec = daemon.wait_log(lambda r, rid=rid: r.get("msg") == "request" and r.get("request_id") == rid)
                self.assertIsNotNone(rec, f"no access log line for {rid}")
                self.assertRegex(rec["ts"], LOG_TS_RE)
                self.assertEqual(rec["level"], "info")
                self.assertEqual(rec["method"], method)
                self.assertEqual(rec["path"], path)
                self.assertEqual(rec["status"], status)
                self.assertIsInstance(rec["route"], str)
                if route is not None:
                    self.assertEqual(rec["route"], route)
                self.assertIsInstance(rec["duration_ms"], (int, float))
                self.assertGreaterEqual(rec["duration_ms"], 0)
                self.assertEqual(rec["bytes"], nbytes)
                self.assertEqual(rec["remote"], f"127.0.0.1:{local_port}")
        time.sleep(0.3)  # a duplicate would have been flushed by now
        for rid, *_ in sent:
            self.assertEqual(len(daemon.access_records(rid)), 1, rid)

    def test_every_stdout_line_is_json_with_ts_level_msg(self):
        self.c.get("/healthz")
        self.c.get("/nope")
        self.assertIsNotNone(self.stack.daemon.wait_log(lambda r: r.get("path") == "/nope"))
        for line in self.stack.daemon.log_lines():
            self.assertIsInstance(line, dict, f"not a JSON line: {line!r}")
            self.assertRegex(line.get("ts", ""), LOG_TS_RE, line)
            self.assertIn(line.get("level"), ("debug", "info", "warn", "error"), line)
            self.assertIsInstance(line.get("msg"), str, line)

    def test_startup_line_says_where_it_listens(self):
        rec = self.stack.daemon.wait_log(lambda r: r.get("msg") == "listening")
        self.assertIsNotNone(rec)
        self.assertEqual(rec.get("listen"), f"127.0.0.1:{self.stack.port}")


class AccessLogOffTest(StackTestCase):
    stack_env = {"ORDERD_ACCESS_LOG": "false"}

    def test_access_log_can_be_turned_off(self):
        rid = f"off-{uuid.uuid4().hex}"
        self.assertEqual(self.c.get("/healthz", headers={"X-Request-ID": rid}).status, 200)
        time.sleep(0.5)
        self.assertEqual(self.stack.daemon.access_records(rid), [])


class HealthTest(StackTestCase):
    def test_healthz(self):
        resp = self.c.get("/healthz")
        self.assertEqual(resp.status, 200, resp)

    def test_readyz_reports_postgres_up(self):
        resp = self.c.get("/readyz")
        self.assertEqual(resp.status, 200, resp)
        doc = resp.json()
        self.assertEqual(doc.get("postgres"), "up", doc)
        self.assertEqual(doc.get("status"), "ready", doc)


if __name__ == "__main__":
    main()
