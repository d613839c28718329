"""The OpenAPI contract: the served document, the lint, and the checks the
harness runs on every answer (contract.py), shown to fail where they must.

  Served     GET /openapi.json is api/openapi.json byte for byte; /docs and
             Redoc's script come with their types and ETags; problem
             documents carry the request path as instance.
  Lint       Redocly's linter (pinned in package.json) accepts the
             document, and rejects a broken copy of it.
  Catches    contract.py rejects undocumented statuses, headers and
             fields, wrong titles, bodies where none belong, a wrong Allow.
"""

import copy
import json
import os
import subprocess
import tempfile
import unittest

import contract
from harness import SOURCE_DIR, StackTestCase, main, new_customer_id

DOCUMENT = os.path.join(SOURCE_DIR, "api", "openapi.json")
REDOC = os.path.join(SOURCE_DIR, "node_modules", "redoc", "bundles", "redoc.standalone.js")
REDOCLY = os.path.join(SOURCE_DIR, "node_modules", ".bin", "redocly")
REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"  # replaced by the build (CMakeLists.txt)
ETAG_RE = r'^"[0-9a-f]{16}"$'


class Served(StackTestCase):
    def test_document_is_the_source_file(self):
        resp = self.c.get("/openapi.json")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.header("Content-Type"), "application/json")
        self.assertRegex(resp.header("ETag"), ETAG_RE)
        with open(DOCUMENT, "rb") as f:
            self.assertEqual(resp.body, f.read(), "the binary serves another document than api/openapi.json")
        self.assertEqual(resp.json()["openapi"], "3.1.0")

    def test_etag_gives_304_and_head_no_body(self):
        tag = self.c.get("/openapi.json").header("ETag")
        for header in (tag, f'W/{tag}', f'"other", {tag}', "*"):
            with self.subTest(header=header):
                resp = self.c.get("/openapi.json", headers={"If-None-Match": header})
                self.assertEqual(resp.status, 304, resp)
                self.assertEqual(resp.header("ETag"), tag)
                self.assertEqual(resp.body, b"")
        self.assertEqual(self.c.get("/openapi.json", headers={"If-None-Match": '"other"'}).status, 200)
        head = self.c.request("HEAD", "/openapi.json")
        self.assertEqual((head.status, head.body, head.header("ETag")), (200, b"", tag))

    def test_docs_page_and_its_script(self):
        page = self.c.get("/docs")
        self.assertEqual(page.status, 200, page)
        self.assertEqual(page.header("Content-Type"), "text/html; charset=utf-8")
        self.assertIn('spec-url="openapi.json"', page.text)
        self.assertIn('src="docs/redoc.standalone.js"', page.text)
        script = self.c.get("/docs/redoc.standalone.js")
        self.assertEqual(script.status, 200)
        self.assertEqual(script.header("Content-Type"), "text/javascript; charset=utf-8")
        self.assertNotEqual(script.header("ETag"), page.header("ETag"))
        # Redoc's bundle from node_modules, with its one foreign URL replaced
        with open(REDOC, "rb") as f:
            before, after = f.read().split(REDOC_LOGO)
        self.assertTrue(script.body.startswith(before) and script.body.endswith(after))
        self.assertTrue(script.body[len(before):].startswith(b"data:image/svg+xml,"))
        self.assertNotIn(b"cdn.redoc.ly", script.body)

    def test_problems_carry_the_request_path_as_instance(self):
        for target, status, instance in (("/orders/abc", 400, "/orders/abc"),
                                         ("/orders/999999999", 404, "/orders/999999999"),
                                         ("/no%20such/%C3%A9?x=1", 404, "/no%20such/%C3%A9"),
                                         ("/orders?limit=0", 400, "/orders")):
            with self.subTest(target=target):
                doc = self.assert_problem(self.c.get(target), status)
                self.assertEqual(doc["instance"], instance)
        doc = self.assert_problem(self.c.post("/orders", json_body={"customer_id": new_customer_id()}), 422)
        self.assertEqual(doc["instance"], "/orders")
        self.assertEqual(doc["title"], "Unprocessable Content")


class Lint(unittest.TestCase):
    def lint(self, path):
        return subprocess.run([REDOCLY, "lint", "--format=stylish", path], cwd=SOURCE_DIR, capture_output=True,
                              text=True, timeout=120)

    def test_the_document_passes_the_linter(self):
        proc = self.lint("api/openapi.json")
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)

    def test_the_linter_rejects_a_broken_document(self):
        with open(DOCUMENT) as f:
            doc = json.load(f)
        del doc["paths"]["/orders/{id}"]["delete"]["operationId"]
        doc["paths"]["/orders"]["get"]["responses"]["400"] = {"description": "no problem+json"}
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "openapi.json")
            with open(path, "w") as f:
                json.dump(doc, f)
            proc = self.lint(path)
        self.assertNotEqual(proc.returncode, 0, proc.stdout)
        for rule in ("operation-operationId", "operation-4xx-problem-details-rfc7807"):
            self.assertIn(rule, proc.stdout + proc.stderr)


def order_body(**change):
    order = {"id": 1, "customer_id": 42, "status": "pending", "currency": "EUR", "total": "12.50",
             "items": [{"sku": "BOOK-1", "quantity": 2, "unit_price": "6.25"}], "version": 1,
             "created_at": "2026-11-28T04:07:59.123456Z", "updated_at": "2026-11-28T04:07:59.123456Z"}
    order.update(change)
    return json.dumps(order).encode()


COMMON = [("X-Request-ID", "abc"), ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
          ("Server-Timing", "app;dur=0.1")]
ORDER_HEADERS = COMMON + [("Content-Type", "application/json"), ("ETag", '"1"'), ("Vary", "Accept"),
                          ("X-Cache", "HIT")]


def problem_body(status, title, slug, **extra):
    return json.dumps({"type": f"/problems/{slug}", "title": title, "status": status, "detail": "d",
                       "instance": "/orders/1", "request_id": "abc", **extra}).encode()


PROBLEM_HEADERS = COMMON + [("Content-Type", "application/problem+json")]


class Catches(unittest.TestCase):
    """Answers made up here, judged without a daemon."""

    def problems(self, method, target, status, headers, body):
        return contract.contract().problems(method, target, status, headers, body)

    def assert_accepted(self, *answer):
        self.assertEqual(self.problems(*answer), [])

    def assert_rejected(self, *answer, says):
        found = self.problems(*answer)
        self.assertTrue(found, "contract.py accepted it")
        self.assertIn(says, " ".join(found))

    def test_a_documented_answer_passes(self):
        self.assert_accepted("GET", "/orders/1", 200, ORDER_HEADERS, order_body())
        self.assert_accepted("GET", "/orders/1?x=1", 304,
                             COMMON + [("ETag", '"1"'), ("Vary", "Accept"), ("X-Cache", "MISS")], b"")
        self.assert_accepted("HEAD", "/orders/1", 200, ORDER_HEADERS, b"")
        self.assert_accepted("GET", "/orders/1", 404, PROBLEM_HEADERS, problem_body(404, "Not Found", "not-found"))

    def test_undocumented_status(self):
        self.assert_rejected("GET", "/orders/1", 418, ORDER_HEADERS, order_body(), says="418 is not documented")
        self.assert_rejected("GET", "/healthz", 503, PROBLEM_HEADERS + [("Retry-After", "1")],
                             problem_body(503, "Service Unavailable", "unavailable"), says="not documented")

    def test_undocumented_field_and_wrong_types(self):
        self.assert_rejected("GET", "/orders/1", 200, ORDER_HEADERS, order_body(colour="red"), says="colour")
        self.assert_rejected("GET", "/orders/1", 200, ORDER_HEADERS, order_body(total=12.5), says="total")
        self.assert_rejected("GET", "/orders/1", 200, ORDER_HEADERS, order_body(total="12.5"), says="total")
        self.assert_rejected("GET", "/orders", 200, COMMON + [("Content-Type", "application/json"), ("X-Cache", "HIT")],
                             json.dumps({"data": [], "next_cursor": 7}).encode(), says="next_cursor")

    def test_msgpack_bodies_are_held_to_the_same_schema(self):
        headers = [h if h[0] != "Content-Type" else ("Content-Type", "application/msgpack") for h in ORDER_HEADERS]
        headers = [h if h[0] != "ETag" else ("ETag", '"1.m"') for h in headers]
        order = json.loads(order_body())
        self.assert_accepted("GET", "/orders/1", 200, headers, contract.msgpack.packb(order))
        self.assert_rejected("GET", "/orders/1", 200, headers, contract.msgpack.packb({**order, "colour": "red"}),
                             says="colour")
        self.assert_rejected("GET", "/orders/1", 200, headers, contract.msgpack.packb({**order, "total": 12.5}),
                             says="total")
        self.assert_rejected("GET", "/orders/1", 200, headers, b"\xc1", says="not one MessagePack document")
        self.assert_rejected("GET", "/orders/1", 200, headers, contract.msgpack.packb(order) + b"\x00",
                             says="not one MessagePack document")
        no_vary = [h for h in headers if h[0] != "Vary"]
        self.assert_rejected("GET", "/orders/1", 200, no_vary, contract.msgpack.packb(order), says="Vary is missing")
        self.assert_accepted("GET", "/orders/1", 406, PROBLEM_HEADERS + [("Vary", "Accept")],
                             problem_body(406, "Not Acceptable", "not-acceptable"))

    def test_headers(self):
        without_id = [h for h in ORDER_HEADERS if h[0] != "X-Request-ID"]
        self.assert_rejected("GET", "/orders/1", 200, without_id, order_body(), says="X-Request-ID is missing")
        self.assert_rejected("GET", "/orders/1", 200, ORDER_HEADERS + [("X-Powered-By", "C")], order_body(),
                             says="x-powered-by is not documented")
        bad_cache = [h if h[0] != "X-Cache" else ("X-Cache", "MAYBE") for h in ORDER_HEADERS]
        self.assert_rejected("GET", "/orders/1", 200, bad_cache, order_body(), says="X-Cache")
        self.assert_rejected("POST", "/orders", 201, ORDER_HEADERS[:-1], order_body(), says="Location is missing")

    def test_problem_documents(self):
        self.assert_rejected("POST", "/orders", 422, PROBLEM_HEADERS,
                             problem_body(422, "Unprocessable Entity", "validation-failed"), says="title")
        self.assert_rejected("GET", "/orders/1", 404, PROBLEM_HEADERS,
                             problem_body(404, "Not Found", "not-found", errors=[{"field": "x", "message": "y"}]),
                             says="errors")
        no_instance = json.loads(problem_body(404, "Not Found", "not-found"))
        del no_instance["instance"]
        self.assert_rejected("GET", "/orders/1", 404, PROBLEM_HEADERS, json.dumps(no_instance).encode(),
                             says="instance")
        self.assert_rejected("GET", "/orders/1", 404, COMMON + [("Content-Type", "application/json")],
                             problem_body(404, "Not Found", "not-found"), says="Content-Type")

    def test_bodies_where_none_belong(self):
        self.assert_rejected("DELETE", "/orders/1", 204, COMMON, b"{}", says="where none is documented")
        self.assert_rejected("HEAD", "/orders/1", 200, ORDER_HEADERS, order_body(), says="HEAD")

    def test_router_answers(self):
        allow = PROBLEM_HEADERS + [("Allow", "GET, HEAD, PATCH, DELETE")]
        body = problem_body(405, "Method Not Allowed", "method-not-allowed")
        self.assert_accepted("PUT", "/orders/1", 405, allow, body)
        self.assert_rejected("PUT", "/orders/1", 405, PROBLEM_HEADERS + [("Allow", "GET, POST")], body, says="Allow")
        self.assert_rejected("GET", "/nope", 200, COMMON, b"", says="(unknown path)")
        self.assert_accepted("GET", "/nope", 404, PROBLEM_HEADERS, problem_body(404, "Not Found", "not-found"))

    def test_checks_do_not_change_the_document(self):
        before = copy.deepcopy(contract.contract().raw)
        self.problems("GET", "/orders/1", 200, ORDER_HEADERS, order_body())
        with open(DOCUMENT) as f:
            self.assertEqual(json.load(f), before)


if __name__ == "__main__":
    main()
