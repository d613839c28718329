"""The application/msgpack representation of GET /orders/{id} and GET /orders.

Two daemons share PostgreSQL and Redis (cache_stack.py), so a msgpack read
meets every path: PostgreSQL (MISS), Redis (whose entries stay JSON), the
hot cache (where the msgpack bytes are kept beside the JSON), and an
invalidation made by the other process.  Every answer is also checked
against api/openapi.json by the harness, msgpack bodies included.
"""

import json
import sys
import time

from cache_stack import CacheTestCase, metrics
from harness import main, new_customer_id

try:
    import msgpack
except ImportError:  # another python3 first on PATH: Debian's python3-msgpack
    sys.path.append("/usr/lib/python3/dist-packages")
    import msgpack

MSGPACK = {"Accept": "application/msgpack"}


def unpack(resp):
    return msgpack.unpackb(resp.body, raw=False, strict_map_key=True)


class Representations(CacheTestCase):
    def order(self, client=None, items=True):
        body = {"customer_id": new_customer_id(), "currency": "EUR"}
        if items:
            body["items"] = [{"sku": "BOOK-1", "quantity": 2, "unit_price": "9.99"},
                             {"sku": "PEN", "quantity": 1, "unit_price": "0.05"}]
        else:
            body["total"] = "12.50"
        resp = (client or self.ca).post("/orders", json_body=body)
        self.assertEqual(resp.status, 201, resp)
        return resp.json()

    def hot_hits(self, client):
        return metrics(client).get("orderd_hot_cache_hits_total", 0.0)

    def test_one_order_as_msgpack_is_the_json_document(self):
        order = self.order()
        oid = order["id"]
        packed = self.ca.get(f"/orders/{oid}", headers=MSGPACK)
        self.assertEqual(packed.status, 200, packed)
        self.assertEqual(packed.header("Content-Type"), "application/msgpack")
        self.assertEqual(packed.header("Vary"), "Accept")
        plain = self.ca.get(f"/orders/{oid}")
        self.assertEqual(plain.header("Content-Type"), "application/json")
        self.assertEqual(plain.header("Vary"), "Accept")
        doc = unpack(packed)
        self.assertEqual(doc, plain.json())
        self.assertEqual(doc, order)
        self.assertEqual(list(doc), list(plain.json()))  # the same keys, in the same order
        self.assertEqual(doc["total"], "20.03")  # money stays a decimal string
        self.assertIsInstance(doc["created_at"], str)
        self.assertLess(len(packed.body), len(plain.body))

    def test_etags_differ_and_each_gives_its_own_304(self):
        oid = self.order()["id"]
        plain = self.ca.get(f"/orders/{oid}")
        packed = self.ca.get(f"/orders/{oid}", headers=MSGPACK)
        self.assertEqual(plain.header("ETag"), '"1"')
        self.assertEqual(packed.header("ETag"), '"1.m"')
        for client in (self.ca, self.cb):  # from whichever layer answers
            for _ in range(2):
                nm = client.get(f"/orders/{oid}", headers={**MSGPACK, "If-None-Match": '"1.m"'})
                self.assertEqual(nm.status, 304, nm)
                self.assertEqual(nm.header("ETag"), '"1.m"')
                self.assertEqual(nm.header("Vary"), "Accept")
                self.assertEqual(nm.body, b"")
                nj = client.get(f"/orders/{oid}", headers={"If-None-Match": '"1"'})
                self.assertEqual(nj.status, 304, nj)
                self.assertEqual(nj.header("Vary"), "Accept")
                # the other representation's tag names other bytes: a full answer
                cross = client.get(f"/orders/{oid}", headers={**MSGPACK, "If-None-Match": '"1"'})
                self.assertEqual(cross.status, 200, cross)
                self.assertEqual(cross.header("ETag"), '"1.m"')
                cross = client.get(f"/orders/{oid}", headers={"If-None-Match": '"1.m"'})
                self.assertEqual(cross.status, 200, cross)
                self.assertEqual(cross.header("ETag"), '"1"')

    def test_second_msgpack_read_is_a_hit_and_the_hot_cache_serves_it(self):
        oid = self.order()["id"]
        first = self.ca.get(f"/orders/{oid}", headers=MSGPACK)
        self.assertEqual(first.header("X-Cache"), "MISS")
        self.wait_filled(oid, "P1:")
        # Redis keeps the JSON only
        entry = self.stack.redis.command("GET", f"order:{oid}")
        self.assertTrue(entry.split(":", 3)[3].startswith('{"id":'), entry)
        second = self.ca.get(f"/orders/{oid}", headers=MSGPACK)
        self.assertEqual(second.status, 200, second)
        self.assertEqual(second.header("X-Cache"), "HIT")
        self.assertEqual(second.body, first.body)
        # once in process memory, msgpack reads are hot-cache hits with the same bytes
        deadline = time.monotonic() + 5
        while True:
            before = self.hot_hits(self.ca)
            again = self.ca.get(f"/orders/{oid}", headers=MSGPACK)
            self.assertEqual(again.body, first.body)
            self.assertEqual(again.header("X-Cache"), "HIT")
            if self.hot_hits(self.ca) > before:
                break
            self.assertLess(time.monotonic(), deadline, "no msgpack read was answered from process memory")
            time.sleep(0.01)
        for _ in range(3):
            self.assertEqual(self.ca.get(f"/orders/{oid}", headers=MSGPACK).body, first.body)

    def test_a_patch_invalidates_the_msgpack_representation(self):
        oid = self.order()["id"]
        for client in (self.ca, self.cb, self.ca, self.cb):
            client.get(f"/orders/{oid}", headers=MSGPACK)
        self.wait_filled(oid, "P1:")
        for client in (self.ca, self.cb):
            self.assertEqual(unpack(client.get(f"/orders/{oid}", headers=MSGPACK))["status"], "pending")
        resp = self.ca.patch(f"/orders/{oid}", json_body={"status": "paid"}, headers={"If-Match": '"1.m"'})
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.header("Content-Type"), "application/json")  # writes answer in JSON
        self.assertEqual(resp.header("ETag"), '"2"')
        for client in (self.ca, self.cb):
            after = client.get(f"/orders/{oid}", headers=MSGPACK)
            doc = unpack(after)
            self.assertEqual((doc["status"], doc["version"]), ("paid", 2), client)
            self.assertEqual(after.header("ETag"), '"2.m"')
            self.assertEqual(doc, client.get(f"/orders/{oid}").json())
        # the JSON tag still works for If-Match; a stale one of either form is 412
        stale = self.ca.patch(f"/orders/{oid}", json_body={"status": "shipped"}, headers={"If-Match": '"1.m"'})
        self.assertEqual(stale.status, 412, stale)
        ok = self.ca.patch(f"/orders/{oid}", json_body={"status": "shipped"}, headers={"If-Match": '"2"'})
        self.assertEqual(ok.status, 200, ok)
        self.assertEqual(unpack(self.cb.get(f"/orders/{oid}", headers=MSGPACK))["status"], "shipped")

    def test_a_list_as_msgpack_is_the_json_page(self):
        cid = new_customer_id()
        ids = []
        for _ in range(3):
            resp = self.ca.post("/orders", json_body={"customer_id": cid, "total": "1.25"})
            self.assertEqual(resp.status, 201, resp)
            ids.append(resp.json()["id"])
        path = f"/orders?customer_id={cid}&limit=2"
        for attempt in range(2):  # PostgreSQL, then Redis's JSON page converted
            packed = self.ca.get(path, headers=MSGPACK)
            self.assertEqual(packed.status, 200, packed)
            self.assertEqual(packed.header("Content-Type"), "application/msgpack")
            self.assertEqual(packed.header("Vary"), "Accept")
            plain = self.ca.get(path)
            self.assertEqual(plain.header("Vary"), "Accept")
            page = unpack(packed)
            self.assertEqual(page, plain.json())
            self.assertEqual(list(page), ["data", "next_cursor"])
            self.assertEqual([o["id"] for o in page["data"]], ids[::-1][:2])
            self.assertIsInstance(page["next_cursor"], str)
        last = unpack(self.ca.get(path + f"&cursor={page['next_cursor']}", headers=MSGPACK))
        self.assertEqual([o["id"] for o in last["data"]], ids[:1])
        self.assertIsNone(last["next_cursor"])  # nil, as JSON's null

    def test_negotiation(self):
        oid = self.order(items=False)["id"]
        cases = [
            ("application/msgpack", "application/msgpack"),
            ("application/json", "application/json"),
            ("*/*", "application/json"),
            ("application/*", "application/json"),
            ("application/json;q=0.5, application/msgpack", "application/msgpack"),
            ("application/msgpack;q=0.5, application/json;q=0.5", "application/json"),
            ("*/*, application/json;q=0", "application/msgpack"),
            ("text/html, application/msgpack;q=0.1", "application/msgpack"),
            ("APPLICATION/MSGPACK; charset=x", "application/msgpack"),
            ("garbage", "application/json"),
        ]
        for accept, want in cases:
            for path in (f"/orders/{oid}", "/orders?limit=1"):
                resp = self.ca.get(path, headers={"Accept": accept})
                self.assertEqual(resp.status, 200, (accept, resp))
                self.assertEqual(resp.header("Content-Type"), want, accept)

    def test_406_for_what_is_not_offered(self):
        oid = self.order(items=False)["id"]
        for accept in ("text/html", "application/json;q=0, application/msgpack;q=0", "*/*;q=0", "image/*"):
            for path in (f"/orders/{oid}", "/orders", "/orders/999999999"):
                resp = self.ca.get(path, headers={"Accept": accept})
                self.assertEqual(resp.status, 406, (accept, path, resp))
                self.assertEqual(resp.header("Content-Type"), "application/problem+json")
                self.assertEqual(resp.header("Vary"), "Accept")
                doc = resp.json()
                self.assertEqual(doc["type"], "/problems/not-acceptable")
                self.assertEqual(doc["status"], 406)
        # problems stay JSON whatever Accept says
        missing = self.ca.get("/orders/999999999", headers=MSGPACK)
        self.assertEqual(missing.status, 404, missing)
        self.assertEqual(missing.header("Content-Type"), "application/problem+json")
        self.assertEqual(missing.json()["status"], 404)

    def test_head_has_the_headers_of_the_get(self):
        oid = self.order()["id"]
        get = self.ca.get(f"/orders/{oid}", headers=MSGPACK)
        head = self.ca.request("HEAD", f"/orders/{oid}", headers=MSGPACK)
        self.assertEqual(head.status, 200, head)
        self.assertEqual(head.body, b"")
        for name in ("Content-Type", "ETag", "Vary"):
            self.assertEqual(head.header(name), get.header(name), name)
        self.assertEqual(json.loads(self.ca.get(f"/orders/{oid}").body), unpack(get))


if __name__ == "__main__":
    main()
