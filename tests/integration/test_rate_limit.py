"""Rate limits shared across replicas through Redis (issue 10).

- SharedBudget: two replicas, one Redis.  One client's budget spent
  across both replicas is limited overall (not twice); another client is
  unaffected; the budget refills; 429s are problem+json with Retry-After
  and RateLimit / RateLimit-Policy (draft-ietf-httpapi-ratelimit-headers-10);
  failed authentications have their own, stricter budget per address,
  and X-Forwarded-For is believed from a trusted proxy only.
- BusyClient: a big budget is spent mostly from leases (few Redis calls).
- RedisDown: Redis cut off; each replica falls back to its own limiter,
  which still limits, and says so in /metrics and the log; once Redis is
  back the budget is shared again.
"""

import math
import re
import time

import jwt_util as jwt
from cache_stack import CacheTestCase, metrics, wait_cache_up
from harness import StackTestCase, main, new_customer_id

SECRET = "rate-limit-test-secret-0123456789"
RATE_RE = re.compile(r'^"client";r=(\d+);t=(\d+)$')


def bearer(sub):
    return {"Authorization": "Bearer " + jwt.hs256(SECRET, jwt.claims(sub))}


class LimitAsserts:
    assert_problem = StackTestCase.assert_problem

    def assert_limited(self, resp, policy='"client";q=6;w=6'):
        self.assert_problem(resp, 429)
        retry = int(resp.header("Retry-After"))
        self.assertGreaterEqual(retry, 1)
        self.assertEqual(resp.header("RateLimit-Policy"), policy)
        self.assertTrue(resp.header("RateLimit"), resp)
        return retry

    def spend(self, clients, headers, count, path):
        """count GETs alternating over clients: (statuses, seconds taken)."""
        start = time.monotonic()
        statuses = [clients[i % len(clients)].get(path, headers=headers) for i in range(count)]
        return statuses, time.monotonic() - start


class SharedBudget(LimitAsserts, CacheTestCase):
    stack_env = {"ORDERD_JWT_SECRET": SECRET, "ORDERD_RATE_LIMIT_RPS": "1",
                 "ORDERD_RATE_LIMIT_BURST": "6", "ORDERD_RATE_LIMIT_AUTH_FAIL_PER_MIN": "6",
                 "ORDERD_RATE_LIMIT_AUTH_FAIL_BURST": "3", "ORDERD_TRUSTED_PROXIES": "127.0.0.1"}

    def setUp(self):
        super().setUp()
        self.customer = new_customer_id()
        self.auth = bearer(self.customer)
        resp = self.ca.post("/orders", json_body={"total": "2.00"}, headers=self.auth)
        self.assertEqual(resp.status, 201, resp)
        self.path = f"/orders/{resp.json()['id']}"

    def test_one_budget_across_both_replicas(self):
        # 14 requests, 7 on each replica: two private budgets of 6 would
        # admit 12; one shared budget admits 6 (the POST took one) plus
        # what refilled meanwhile at 1 per second
        answers, took = self.spend([self.ca, self.cb], self.auth, 14, self.path)
        admitted = [r for r in answers if r.status == 200]
        limited = [r for r in answers if r.status == 429]
        self.assertEqual(len(admitted) + len(limited), 14, [r.status for r in answers])
        self.assertGreaterEqual(len(admitted), 5)
        self.assertLessEqual(len(admitted), 5 + math.ceil(took) + 1, (len(admitted), took))
        self.assertLess(len(admitted), 12)
        for r in limited:
            self.assert_limited(r)
        for r in admitted:
            self.assertRegex(r.header("RateLimit"), RATE_RE)
            self.assertEqual(r.header("RateLimit-Policy"), '"client";q=6;w=6')
        # both replicas refused: the budget is one
        self.assertTrue(any(r.status == 429 for r in answers[0::2]))
        self.assertTrue(any(r.status == 429 for r in answers[1::2]))

    def test_another_client_is_unaffected(self):
        answers, _ = self.spend([self.ca, self.cb], self.auth, 14, self.path)
        self.assertIn(429, [r.status for r in answers])
        other = bearer(new_customer_id())
        for client in (self.ca, self.cb):
            resp = client.get("/orders", headers=other)
            self.assertEqual(resp.status, 200, resp)
        self.assertEqual(self.ca.get("/healthz").status, 200)  # probes are never limited
        self.assertEqual(self.cb.get("/readyz").status, 200)

    def test_the_budget_refills(self):
        answers, _ = self.spend([self.ca, self.cb], self.auth, 14, self.path)
        retry = self.assert_limited(answers[-1])
        time.sleep(retry + 0.2)
        for client in (self.cb, self.ca):
            resp = client.get(self.path, headers=self.auth)
            if resp.status == 429:  # the other replica's request took the token that refilled
                time.sleep(int(resp.header("Retry-After")) + 0.2)
                resp = client.get(self.path, headers=self.auth)
            self.assertEqual(resp.status, 200, resp)

    def test_failed_authentication_has_a_stricter_budget_per_address(self):
        bad = {"Authorization": "Bearer not-a-token", "X-Forwarded-For": "203.0.113.7"}
        answers = [(self.ca if i % 2 else self.cb).get(self.path, headers=bad) for i in range(6)]
        statuses = [r.status for r in answers]
        self.assertEqual(statuses[:3], [401, 401, 401], statuses)
        self.assertEqual(statuses[3:], [429, 429, 429], statuses)
        self.assert_limited(answers[-1], policy='"auth-failures";q=3;w=30')
        # a valid token from the same address is not held back
        self.assertEqual(self.ca.get(self.path, headers={**self.auth, "X-Forwarded-For": "203.0.113.7"}).status,
                         200)
        # another address (our trusted proxy vouches for the last hop) has its own budget
        other = {**bad, "X-Forwarded-For": "203.0.113.7, 198.51.100.9"}
        self.assertEqual(self.cb.get(self.path, headers=other).status, 401)


class BusyClient(LimitAsserts, CacheTestCase):
    """A big budget: most requests are decided from the local lease, not Redis."""

    stack_env = {"ORDERD_JWT_SECRET": SECRET, "ORDERD_RATE_LIMIT_RPS": "1000",
                 "ORDERD_RATE_LIMIT_BURST": "10000"}

    def test_leases_grow_so_few_requests_wait_for_redis(self):
        auth = bearer(new_customer_id())
        before = [metrics(c).get("orderd_rate_limit_leases_total", 0) for c in (self.ca, self.cb)]
        answers, _ = self.spend([self.ca, self.cb], auth, 300, "/orders?limit=1")
        self.assertEqual({r.status for r in answers}, {200})
        calls = sum(metrics(c)["orderd_rate_limit_leases_total"] - b
                    for c, b in zip((self.ca, self.cb), before))
        # a lease of 1 per request would be 300 calls; doubling leases need far fewer
        self.assertGreaterEqual(calls, 2)
        self.assertLess(calls, 100, calls)
        for r in answers:
            self.assertEqual(r.header("RateLimit-Policy"), '"client";q=10000;w=10')


class RedisDown(LimitAsserts, CacheTestCase):
    via_proxy = True
    stack_env = {"ORDERD_JWT_SECRET": SECRET, "ORDERD_RATE_LIMIT_RPS": "1",
                 "ORDERD_RATE_LIMIT_BURST": "6"}

    def test_the_local_fallback_still_limits(self):
        before = metrics(self.ca).get("orderd_rate_limit_fallbacks_total", 0)
        self.stack.proxy.partition()
        try:
            # no waiting for the breaker: a check that cannot reach Redis
            # falls back at once, and so does every one while it is open
            auth = bearer(new_customer_id())
            answers, took = self.spend([self.ca], auth, 10, "/orders?limit=1")
            statuses = [r.status for r in answers]
            admitted = statuses.count(200)
            self.assertGreaterEqual(admitted, 6, statuses)
            self.assertLessEqual(admitted, 6 + math.ceil(took) + 1, (statuses, took))
            self.assertIn(429, statuses)
            self.assert_limited(answers[statuses.index(429)])
            self.assertGreaterEqual(metrics(self.ca)["orderd_rate_limit_fallbacks_total"] - before, 10)
            self.assertIsNotNone(self.stack.a.wait_log(
                lambda r: r.get("level") == "warn" and "limiting in this process only" in r.get("msg", "")))
            self.assertEqual(self.ca.get("/readyz").json().get("redis"), "down")
        finally:
            self.stack.proxy.heal()

        # Redis back: the budget is one again across both replicas
        for d in (self.stack.a, self.stack.b):
            wait_cache_up(d)
        answers, took = self.spend([self.ca, self.cb], bearer(new_customer_id()), 14, "/orders?limit=1")
        admitted = [r.status for r in answers].count(200)
        self.assertLessEqual(admitted, 6 + math.ceil(took) + 1, (admitted, took))
        self.assertLess(admitted, 12)
        self.assertIsNotNone(self.stack.a.wait_log(
            lambda r: "Redis reachable again, limits shared" in r.get("msg", "")))


if __name__ == "__main__":
    main()
