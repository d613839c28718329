"""W3C Trace Context: traceparent kept or started, tracestate carried, the
trace in every log line of the request (the batched reader's and writer's
too), and in PostgreSQL's application_name while the request's SQL runs."""

import re
import threading
import time

from harness import JSON_HEADERS, LockSession, StackTestCase, main, new_customer_id, psql

TRACEPARENT_RE = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$")
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


def parts(resp):
    """(trace_id, span_id, flags) of the response's traceparent."""
    value = resp.header("traceparent") or ""
    m = TRACEPARENT_RE.match(value)
    if not m:
        raise AssertionError(f"response traceparent {value!r} is not 00-<32 hex>-<16 hex>-<flags>")
    return m.groups()


class HeadersTest(StackTestCase):
    def test_a_valid_traceparent_is_continued_with_a_new_span(self):
        for flags in ("01", "00"):
            with self.subTest(flags=flags):
                resp = self.c.get("/healthz", headers={"traceparent": f"00-{TRACE}-{PARENT}-{flags}"})
                trace, span, got_flags = parts(resp)
                self.assertEqual(trace, TRACE)
                self.assertNotEqual(span, PARENT)
                self.assertNotEqual(span, "0" * 16)
                self.assertEqual(got_flags, flags)

    def test_tracestate_is_carried_with_a_valid_traceparent_only(self):
        state = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
        resp = self.c.get("/healthz", headers={"traceparent": f"00-{TRACE}-{PARENT}-01", "tracestate": state})
        self.assertEqual(resp.header("tracestate"), state)
        resp = self.c.get("/healthz", headers={"traceparent": "garbage", "tracestate": state})
        self.assertIsNone(resp.header("tracestate"))
        resp = self.c.get("/healthz", headers={"tracestate": state})
        self.assertIsNone(resp.header("tracestate"))

    def test_a_later_version_is_read_as_far_as_version_00_goes(self):
        resp = self.c.get("/healthz", headers={"traceparent": f"01-{TRACE}-{PARENT}-01-what-comes-next"})
        self.assertEqual(parts(resp)[0], TRACE)

    def test_an_invalid_traceparent_starts_a_new_trace(self):
        bad = [
            f"00-{TRACE.upper()}-{PARENT}-01",   # uppercase hex
            f"00-{'0' * 32}-{PARENT}-01",        # all-zero trace id
            f"00-{TRACE}-{'0' * 16}-01",         # all-zero parent id
            f"ff-{TRACE}-{PARENT}-01",           # version ff
            f"00-{TRACE}-{PARENT}-01-extra",     # version 00 has nothing after the flags
            f"00-{TRACE}-{PARENT}-1",            # short flags
            f"00-{TRACE[:-1]}-{PARENT}-01",      # short trace id
            f"00_{TRACE}_{PARENT}_01",           # wrong separators
            f"01-{TRACE}-{PARENT}-01x",          # a later version, but no '-' after the 55
            "",
        ]
        seen = set()
        for value in bad:
            with self.subTest(value=value):
                trace, _, flags = parts(self.c.get("/healthz", headers={"traceparent": value}))
                self.assertNotEqual(trace, TRACE.lower())
                self.assertNotEqual(trace, "0" * 32)
                self.assertEqual(flags, "01")
                seen.add(trace)
        self.assertEqual(len(seen), len(bad))

    def test_without_a_traceparent_every_request_starts_its_own_trace(self):
        traces = {parts(self.c.get("/healthz"))[0] for _ in range(20)}
        self.assertEqual(len(traces), 20)

    def test_every_kind_of_response_names_its_span(self):
        order = self.create_order()
        for method, path, body, headers in [("GET", f"/orders/{order['id']}", None, {}),
                                            ("GET", "/nope", None, {}),
                                            ("POST", "/orders", "{", JSON_HEADERS),
                                            ("PUT", "/orders/1", None, {}),
                                            ("GET", "/metrics", None, {})]:
            with self.subTest(method=method, path=path):
                resp = self.c.request(method, path, body=body,
                                      headers={**headers, "traceparent": f"00-{TRACE}-{PARENT}-01"})
                self.assertEqual(parts(resp)[0], TRACE)


class LogTest(StackTestCase):
    stack_env = {"ORDERD_LOG_LEVEL": "debug"}

    def lines_of(self, trace, predicate, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            found = [r for r in self.stack.daemon.log_lines()
                     if isinstance(r, dict) and r.get("trace_id") == trace and predicate(r)]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def test_the_access_line_carries_the_trace_and_span(self):
        resp = self.c.get("/healthz", headers={"traceparent": f"00-{TRACE}-{PARENT}-01"})
        trace, span, _ = parts(resp)
        lines = self.lines_of(trace, lambda r: r.get("msg") == "request" and
                              r.get("request_id") == resp.header("X-Request-ID"))
        self.assertEqual(len(lines), 1)
        self.assertEqual(lines[0]["span_id"], span)

    def test_the_batched_writer_and_reader_lines_carry_the_trace(self):
        create = self.c.post("/orders", json_body={"customer_id": new_customer_id(), "total": "1.00"},
                             headers={"traceparent": f"00-{TRACE}-{PARENT}-01"})
        self.assertEqual(create.status, 201)
        trace, span, _ = parts(create)
        writer = self.lines_of(trace, lambda r: r.get("msg", "").startswith("order writer:"))
        self.assertEqual(len(writer), 1, "the writer's line for this request")
        self.assertEqual(writer[0]["span_id"], span)
        self.assertEqual(writer[0]["request_id"], create.header("X-Request-ID"))

        other = "a" * 31 + "1"
        read = self.c.get(f"/orders/{create.json()['id']}",
                          headers={"traceparent": f"00-{other}-{PARENT}-01", "Cache-Control": "no-cache"})
        self.assertEqual(read.status, 200)
        _, read_span, _ = parts(read)
        reader = self.lines_of(other, lambda r: r.get("msg", "").startswith("order reader:"))
        self.assertEqual(len(reader), 1, "the reader's PostgreSQL line for this request")
        self.assertEqual(reader[0]["span_id"], read_span)
        access = self.lines_of(other, lambda r: r.get("msg") == "request")
        self.assertEqual([r["span_id"] for r in access], [read_span])

    def test_every_line_of_a_request_has_its_trace(self):
        resp = self.c.post("/orders", json_body={"customer_id": new_customer_id(), "total": "2.00"})
        trace, span, _ = parts(resp)
        rid = resp.header("X-Request-ID")
        self.lines_of(trace, lambda r: r.get("msg") == "request")
        mine = [r for r in self.stack.daemon.log_lines() if isinstance(r, dict) and r.get("request_id") == rid]
        self.assertGreaterEqual(len(mine), 2)  # the writer's and the access line
        for r in mine:
            self.assertEqual((r.get("trace_id"), r.get("span_id")), (trace, span), r)


class SqlTraceTest(StackTestCase):
    """While a request's statement waits on a lock, pg_stat_activity shows
    it under application_name "orderd/<the response's traceparent>"."""

    def blocked_names(self):
        rows = psql(self.stack.db_url,
                    "SELECT application_name FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'")
        return [r for r in rows.splitlines() if r]

    def run_blocked(self, method, path, body=None, headers=None):
        """Sends the request while the orders table is locked; returns
        (the response, the application_names seen waiting on the lock)."""
        result = {}
        lock = LockSession(self.stack.db_url)
        try:
            def send():
                c = self.stack.client()
                try:
                    result["resp"] = c.request(method, path, body=body, headers=headers)
                finally:
                    c.close()
            t = threading.Thread(target=send)
            t.start()
            deadline = time.monotonic() + 10
            names = []
            while not names and time.monotonic() < deadline:
                names = self.blocked_names()
                time.sleep(0.05)
        finally:
            lock.release()
        t.join(timeout=15)
        return result.get("resp"), names

    def check(self, resp, names, status):
        self.assertIsNotNone(resp)
        self.assertEqual(resp.status, status, resp)
        self.assertEqual(names, ["orderd/" + resp.header("traceparent")])
        self.assertEqual(parts(resp)[0], TRACE)

    def test_the_batched_writer_names_the_request(self):
        resp, names = self.run_blocked("POST", "/orders",
                                       body=f'{{"customer_id":{new_customer_id()},"total":"1.00"}}',
                                       headers={**JSON_HEADERS, "traceparent": f"00-{TRACE}-{PARENT}-01"})
        self.check(resp, names, 201)

    def test_the_batched_reader_names_the_request(self):
        oid = self.create_order()["id"]
        resp, names = self.run_blocked("GET", f"/orders/{oid}",
                                       headers={"Cache-Control": "no-cache",
                                                "traceparent": f"00-{TRACE}-{PARENT}-01"})
        self.check(resp, names, 200)

    def test_a_worker_request_names_the_request(self):
        oid = self.create_order()["id"]
        resp, names = self.run_blocked("PATCH", f"/orders/{oid}", body='{"status":"paid"}',
                                       headers={**JSON_HEADERS, "If-Match": '"1"',
                                                "traceparent": f"00-{TRACE}-{PARENT}-01"})
        self.check(resp, names, 200)


class SqlTraceUnnamedTest(SqlTraceTest):
    """The same without prepared statements (behind pgbouncer)."""
    stack_env = {"ORDERD_DB_PREPARED": "false"}


class SqlTraceOffTest(StackTestCase):
    stack_env = {"ORDERD_DB_TRACE_APPLICATION_NAME": "false"}

    def test_statements_keep_the_connection_name(self):
        resp, names = SqlTraceTest.run_blocked(self, "POST", "/orders",
                                               body=f'{{"customer_id":{new_customer_id()},"total":"1.00"}}',
                                               headers={**JSON_HEADERS, "traceparent": f"00-{TRACE}-{PARENT}-01"})
        self.assertEqual(resp.status, 201, resp)
        self.assertEqual(names, ["orderd"])

    blocked_names = SqlTraceTest.blocked_names


if __name__ == "__main__":
    main()
