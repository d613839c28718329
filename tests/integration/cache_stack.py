"""cache_stack.py - two orderd processes sharing one database and one Redis.

The cache's guarantees are about several processes, so its tests run two
daemons ("a" and "b") against the same PostgreSQL database and the same
private Redis (redis_util.RedisInstance).
"""

import signal
import threading
import time
import unittest

from harness import Daemon, admin_url, create_database, drop_database, migrate, new_customer_id
from redis_util import RedisInstance, TcpProxy


def metrics(client):
    """GET /metrics as {name: float}."""
    resp = client.get("/metrics")
    if resp.status != 200:
        raise AssertionError(f"/metrics answered {resp.status}")
    values = {}
    for line in resp.text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def bypass_causes(client):
    """Why the process may have gone without its caches, for a failure
    message: its failed Redis commands by reason, and its change feed
    losses (the caches are untrusted until the feed catches up)."""
    m = metrics(client)
    counts = []
    for reason in ("timeout", "connection", "error"):
        name = 'orderd_redis_command_failures_total{reason="%s"}' % reason
        counts.append(f"{reason} {m.get(name, 0):g}")
    # a lost change feed bypasses the caches without any Redis failure
    feed = m.get("orderd_change_feed_losses_total", 0)
    return "redis failures: " + ", ".join(counts) + f"; change feed losses {feed:g}"


class CacheStack:
    def __init__(self, env=None, redis=None, via_proxy=False, subscriber_delay_s=0.0):
        self.admin = admin_url()
        self.db_url, self.db_name = create_database(self.admin)
        migrate(self.db_url)
        self.redis = redis or RedisInstance().start()
        # via_proxy: the daemons reach Redis through a TcpProxy the test can cut
        self.proxy = TcpProxy(self.redis.port, subscriber_delay_s) if via_proxy else None
        redis_url = self.proxy.url if self.proxy else self.redis.url
        base = {"ORDERD_DB_URL": self.db_url, "ORDERD_REDIS_URL": redis_url,
                "ORDERD_REDIS_PROBE_INTERVAL_MS": "100", **(env or {})}
        self.a = Daemon(env=base).start()
        self.b = Daemon(env=base).start()
        for d in (self.a, self.b):
            wait_cache_up(d)

    def stop(self):
        try:
            for d in (self.a, self.b):
                if d.alive():
                    d.stop()
        finally:
            if self.proxy:
                self.proxy.close()
            self.redis.stop()
            drop_database(self.db_name, self.admin)
            for d in (self.a, self.b):
                d.cleanup()


def wait_cache_up(daemon, timeout=10.0):
    """Waits until /readyz says redis is up (the breaker starts open)."""
    c = daemon.client()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            resp = c.get("/readyz")
            if resp.status == 200 and resp.json().get("redis") == "up":
                return time.monotonic()
            time.sleep(0.05)
    finally:
        c.close()
    raise AssertionError(f"redis never came up for the daemon on port {daemon.port}")


class CacheTestCase(unittest.TestCase):
    stack_env = {}
    via_proxy = False
    subscriber_delay_s = 0.0  # with via_proxy: TcpProxy's

    @classmethod
    def setUpClass(cls):
        cls.stack = CacheStack(env=cls.stack_env, via_proxy=cls.via_proxy,
                               subscriber_delay_s=cls.subscriber_delay_s)

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop()

    def setUp(self):
        self.ca = self.stack.a.client()
        self.cb = self.stack.b.client()
        self.addCleanup(self.ca.close)
        self.addCleanup(self.cb.close)

    def create(self, client=None, customer_id=None, total="10.00"):
        resp = (client or self.ca).post("/orders", json_body={
            "customer_id": customer_id or new_customer_id(), "total": total})
        self.assertEqual(resp.status, 201, resp)
        return resp.json()

    def get(self, client, order_id):
        resp = client.get(f"/orders/{order_id}")
        return resp, resp.header("X-Cache")

    def wait_filled(self, order_id, prefix, timeout=5.0):
        """Redis's entry for order_id once it starts with prefix ("P1:",
        "N0:").  A miss is answered before its fill lands (order_reader.h),
        so a test that then looks at Redis, directly or through the other
        process, first waits for the fill; it fails if none lands."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.stack.redis.command("GET", f"order:{order_id}")
            if isinstance(value, str) and value.startswith(prefix):
                return value
            if time.monotonic() > deadline:
                self.fail(f"order:{order_id} is {value!r} after {timeout} s, not {prefix}...")
            time.sleep(0.002)

    def wait_list_filled(self, body, customer="", status="", limit=20, timeout=5.0):
        """Waits until Redis holds body as the page of that list (first
        page).  A list page read from PostgreSQL is answered before the
        list reader fills it (list_reader.h), so a test that then reads
        it through the other process first waits; it fails if none lands."""
        pattern = f"list:*:c={customer};s={status};l={limit};k="
        deadline = time.monotonic() + timeout
        while True:
            for key in self.stack.redis.command("KEYS", pattern) or []:
                value = self.stack.redis.command("GET", key)
                if isinstance(value, str) and value.encode() == body:
                    return key
            if time.monotonic() > deadline:
                # a process whose caches went untrusted files no page
                self.fail(f"no {pattern} holds the page after {timeout} s "
                          f"(a: {bypass_causes(self.ca)}; b: {bypass_causes(self.cb)})")
            time.sleep(0.002)
