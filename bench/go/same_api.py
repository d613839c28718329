#!/usr/bin/env python3
"""same_api.py - orderd and the Go service answer the benchmark's requests alike.

    same_api.py ORDERD_BASE GO_BASE

Both must run on one seeded database (bench/go/smoke sets that up).  Sends
the same requests to each and checks that statuses, the headers a client
uses and the JSON bodies agree: single orders (and a cache hit on the
second read), list pages and their cursors (each service must accept the
other's), create, status change, delete, and the error cases the wrk
scripts could meet.  Exit 1 on the first difference.  Standard library only.
"""

import json
import sys
import urllib.error
import urllib.request

JSON = {"Content-Type": "application/json"}


def call(base, method, path, body=None, headers=None):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            status, got_headers, raw = resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        status, got_headers, raw = err.code, err.headers, err.read()
    doc = json.loads(raw) if raw else None
    return status, got_headers, doc


def check(ok, what):
    if not ok:
        raise SystemExit(f"same_api: FAILED: {what}")
    print(f"same_api: ok: {what}")


def both(bases, method, path, body=None, headers=None):
    return [call(b, method, path, body, headers) for b in bases]


def same_shape(a, b):
    """Same keys in the same order, values of the same JSON types, recursively."""
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(same_shape(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(same_shape(x, y) for x, y in zip(a, b))
    return type(a) is type(b) or a is None or b is None


def main():
    bases = sys.argv[1:3]
    if len(bases) != 2:
        raise SystemExit(__doc__)

    (s1, h1, o1), (s2, h2, o2) = both(bases, "GET", "/orders/7", headers={"X-Request-ID": "smoke-7"})
    check(s1 == s2 == 200 and o1 == o2, "GET /orders/7: 200 and the same order")
    check(list(o1) == list(o2) == ["id", "customer_id", "status", "currency", "total", "items", "version",
                                   "created_at", "updated_at"], "the order's fields, in orderd's order")
    check(h1["Content-Type"] == h2["Content-Type"] == "application/json", "Content-Type: application/json")
    check(h1["X-Request-ID"] == h2["X-Request-ID"] == "smoke-7", "X-Request-ID kept")
    check(all(call(b, "GET", "/orders/7")[1]["X-Cache"] == "HIT" for b in bases), "the second read is a cache hit")

    customer = o1["customer_id"]
    path = f"/orders?customer_id={customer}&limit=2"
    (s1, _, p1), (s2, _, p2) = both(bases, "GET", path)
    check(s1 == s2 == 200 and p1 == p2 and list(p1) == ["data", "next_cursor"], f"GET {path}: the same page")
    check(p1["next_cursor"] is not None, "a next_cursor on a full page")
    cursor = p1["next_cursor"]  # the same string from both, as p1 == p2
    pages = [call(b, "GET", f"{path}&cursor={cursor}")[2] for b in bases]
    check(pages[0] == pages[1] and pages[0]["data"], "each follows the cursor to the same next page")
    (s1, _, _), (s2, _, _) = both(bases, "GET", f"{path}&cursor=x{cursor}")
    check(s1 == s2 == 400, "a bad cursor: 400")

    body = {"customer_id": customer, "currency": "EUR",
            "items": [{"sku": "SMOKE-1", "quantity": 2, "unit_price": "9.99"}, {"sku": "SMOKE-2", "quantity": 1,
                                                                                  "unit_price": 5}]}
    created = both(bases, "POST", "/orders", body, JSON)
    check(all(s == 201 for s, _, _ in created), "POST: 201")
    check(all(h["Location"] == f"/orders/{o['id']}" for _, h, o in created), "Location names the new order")
    check(same_shape(created[0][2], created[1][2]), "the created orders have the same shape")
    check(all(o["total"] == "24.98" and o["status"] == "pending" and o["version"] == 1 for _, _, o in created),
          "the total is the items' sum; pending, version 1")
    ids = [o["id"] for _, _, o in created]

    for base, oid in zip(bases, ids):
        check(call(base, "GET", f"/orders/{oid}")[0] == 200, f"{base}: the new order reads back (and is cached)")
        status, _, o = call(base, "PATCH", f"/orders/{oid}", {"status": "paid"}, JSON)
        check(status == 200 and o["status"] == "paid" and o["version"] == 2, f"{base}: PATCH to paid: 200, version 2")
        check(call(base, "GET", f"/orders/{oid}")[2]["status"] == "paid", f"{base}: a read after the PATCH sees it")
        check(call(base, "PATCH", f"/orders/{oid}", {"status": "paid"}, JSON)[0] == 409, f"{base}: PATCH again: 409")
        check(call(base, "GET", f"/orders/{oid}")[0] == 200, f"{base}: read again (cached again)")
        check(call(base, "DELETE", f"/orders/{oid}")[0] == 204, f"{base}: DELETE: 204")
        check(call(base, "GET", f"/orders/{oid}")[0] == 404, f"{base}: a read after the DELETE: 404")

    errors = [("GET", "/orders/abc", None, None, 400), ("GET", "/orders/999999999", None, None, 404),
              ("PATCH", "/orders/999999999", {"status": "paid"}, JSON, 404),
              ("POST", "/orders", b"{\"customer_id\": ", JSON, 400),
              ("POST", "/orders", {"customer_id": 1, "total": "1.00"}, {}, 415),
              ("POST", "/orders", {"customer_id": 0, "total": "1.00"}, JSON, 422),
              ("POST", "/orders", {"customer_id": 1, "total": "1.00", "colour": "red"}, JSON, 422),
              ("PUT", "/orders/1", None, None, 405), ("GET", "/orders?limit=1000", None, None, 400)]
    for method, path, body, headers, want in errors:
        answers = both(bases, method, path, body, headers)
        check(all(s == want and h["Content-Type"] == "application/problem+json" and d["status"] == want
                  for s, h, d in answers), f"{method} {path}: {want} as application/problem+json")
    check(all(call(b, "PUT", "/orders/1")[1]["Allow"] == "GET, HEAD, PATCH, DELETE" for b in bases), "405 with Allow")
    return 0


if __name__ == "__main__":
    sys.exit(main())
