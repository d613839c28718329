"""Every acknowledged write survives a PostgreSQL crash, in every group commit.

POST without a key, POST with an Idempotency-Key, PATCH and DELETE all
go through batched commits (order_writer.c, order_amender.c) or their own
transaction.  A 2xx may be sent only once the change is durable.  The
proof: client threads drive orders through their whole lives (create,
pay, ship, some deleted) against a private PostgreSQL, which is stopped
with `pg_ctl stop -m immediate` (no shutdown checkpoint: what is not in
the WAL on disk is gone) in the middle of the load, and restarted.  Then
every order must be at least where its last acknowledged write left it:

  - an acknowledged create is present (or deleted by a later DELETE);
  - an acknowledged PATCH's version is there, or a newer one that a
    later request (sent, maybe never answered) made;
  - an acknowledged DELETE left no row;
  - nothing is ahead of what was acknowledged unless a request was
    sent that could have done it;
  - an acknowledged Idempotency-Key, sent again after the restart with the
    same body, replays the same order: exactly once, across the crash.

It prints the counts: requests, acknowledged writes of each kind, and
what PostgreSQL had after recovery.
"""

import random
import threading
import time
import unittest
import uuid

from harness import Client, PgInstance, Stack, main, new_customer_id, psql

THREADS = 8
LOAD_BEFORE_CRASH_S = 1.5
LOAD_DURING_OUTAGE_S = 0.5
MAX_REQUESTS_PER_THREAD = 20000  # bounds the loop whatever the speed
MIN_ACKED = 50                   # fewer: the test did not test much


class OrderLife:
    """What one client thread did to one order, and what was acknowledged."""

    def __init__(self, oid, key=None, body=None):
        self.id = oid
        self.key = key              # the Idempotency-Key it was created under
        self.body = body
        self.acked_version = 1      # version of the last 2xx
        self.acked_deleted = False
        self.unanswered = False     # a request sent that got no 2xx: it may have committed
        self.unanswered_delete = False


class Worker(threading.Thread):
    def __init__(self, port, stop, seed):
        super().__init__(daemon=True)
        self.port = port
        self.stop = stop
        self.rng = random.Random(seed)
        self.lives = []
        self.counts = {"requests": 0, "post": 0, "post_key": 0, "patch": 0, "delete": 0,
                       "failed": 0}
        self.unexpected = []        # 4xx/5xx that no crash explains

    def client(self):
        return Client(self.port, timeout=10)

    def send(self, c, method, path, **kw):
        """The response, or None when the request got no answer."""
        self.counts["requests"] += 1
        try:
            return getattr(c, method)(path, **kw)
        except OSError:
            return None

    def create(self, c):
        body = {"customer_id": new_customer_id(), "total": "3.50"}
        key = str(uuid.uuid4()) if self.rng.random() < 0.5 else None
        headers = {"Idempotency-Key": key} if key else None
        resp = self.send(c, "post", "/orders", json_body=body, headers=headers)
        if resp is None or resp.status != 201:
            self.note_failure(resp)
            return None
        self.counts["post_key" if key else "post"] += 1
        life = OrderLife(resp.json()["id"], key, body)
        self.lives.append(life)
        return life

    def note_failure(self, resp):
        self.counts["failed"] += 1
        # an outage answers 503 (or 504 at a deadline); anything else is a bug
        if resp is not None and resp.status not in (503, 504):
            self.unexpected.append((resp.status, resp.text[:200]))

    def amend(self, c, life, status):
        headers = {"If-Match": f'"{life.acked_version}"'} if self.rng.random() < 0.5 else None
        resp = self.send(c, "patch", f"/orders/{life.id}", json_body={"status": status},
                         headers=headers)
        if resp is None or resp.status != 200:
            life.unanswered = True
            self.note_failure(resp)
            return False
        version = resp.json()["version"]
        if version != life.acked_version + 1:
            self.unexpected.append((200, f"order {life.id}: version {version} after "
                                         f"{life.acked_version}"))
        life.acked_version = version
        self.counts["patch"] += 1
        return True

    def delete(self, c, life):
        resp = self.send(c, "delete", f"/orders/{life.id}",
                         headers={"If-Match": f'"{life.acked_version}"'})
        if resp is None or resp.status != 204:
            life.unanswered = life.unanswered_delete = True
            self.note_failure(resp)
            return
        life.acked_deleted = True
        self.counts["delete"] += 1

    def run(self):
        c = self.client()
        try:
            while not self.stop.is_set() and self.counts["requests"] < MAX_REQUESTS_PER_THREAD:
                life = self.create(c)
                if life is None:
                    time.sleep(0.01)  # the outage: don't spin
                    c.close()
                    c = self.client()
                    continue
                if self.amend(c, life, "paid") and self.amend(c, life, "shipped"):
                    if self.rng.random() < 0.3:
                        self.delete(c, life)
        finally:
            c.close()


def stored_versions(db_url, ids):
    """{id: version} of the orders among ids that PostgreSQL has."""
    found = {}
    ids = list(ids)
    for i in range(0, len(ids), 5000):
        chunk = ",".join(str(x) for x in ids[i:i + 5000])
        out = psql(db_url, f"SELECT id, version FROM orders WHERE id IN ({chunk})")
        for line in out.splitlines():
            if "|" in line:
                oid, version = line.split("|")
                found[int(oid)] = int(version)
    return found


class CrashDurabilityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = PgInstance().start()

    @classmethod
    def tearDownClass(cls):
        cls.pg.destroy()

    def test_every_acknowledged_write_survives_an_immediate_stop(self):
        stack = Stack(admin=self.pg.url, env={"ORDERD_DB_CONNECT_TIMEOUT_MS": "1000",
                                              "ORDERD_DB_ACQUIRE_TIMEOUT_MS": "500",
                                              "ORDERD_REQUEST_TIMEOUT_MS": "2000"}).start()
        self.addCleanup(stack.stop)
        stop = threading.Event()
        workers = [Worker(stack.port, stop, seed) for seed in range(THREADS)]
        for w in workers:
            w.start()
        time.sleep(LOAD_BEFORE_CRASH_S)
        self.pg.stop(mode="immediate")
        time.sleep(LOAD_DURING_OUTAGE_S)
        stop.set()
        for w in workers:
            w.join(30)
        self.assertFalse(any(w.is_alive() for w in workers), "a client thread hangs")
        self.pg.start()
        self.assertTrue(stack.daemon.alive(), "orderd died with its database")

        lives = [life for w in workers for life in w.lives]
        counts = {k: sum(w.counts[k] for w in workers) for k in workers[0].counts}
        acked = counts["post"] + counts["post_key"] + counts["patch"] + counts["delete"]
        stored = stored_versions(stack.db_url, (life.id for life in lives))
        missing, behind, ahead = [], [], []
        for life in lives:
            version = stored.get(life.id)
            if life.acked_deleted:
                if version is not None:
                    missing.append((life.id, "acknowledged DELETE, row still there"))
            elif version is None:
                if not life.unanswered_delete:
                    missing.append((life.id, f"acknowledged at version {life.acked_version}, "
                                             "row gone"))
            elif version < life.acked_version:
                behind.append((life.id, version, life.acked_version))
            elif version > life.acked_version and not life.unanswered:
                ahead.append((life.id, version, life.acked_version))
        print(f"\ncrash test: {counts['requests']} requests, {acked} writes acknowledged "
              f"({counts['post']} POST, {counts['post_key']} POST with a key, "
              f"{counts['patch']} PATCH, {counts['delete']} DELETE), {counts['failed']} failed; "
              f"after recovery {len(stored)} of {len(lives)} orders present, "
              f"{len(missing)} lost, {len(behind)} behind, {len(ahead)} ahead")
        self.assertGreaterEqual(acked, MIN_ACKED, "too little was acknowledged to mean anything")
        self.assertGreater(counts["failed"], 0, "the crash came after the load: nothing was cut")
        self.assertEqual([u for w in workers for u in w.unexpected], [])
        self.assertEqual(missing, [], "acknowledged writes lost")
        self.assertEqual(behind, [], "orders behind their acknowledged version")
        self.assertEqual(ahead, [], "orders changed by no request")
        self.check_keys_replay(stack, [life for life in lives if life.key])

    def check_keys_replay(self, stack, keyed):
        """Every acknowledged key, sent again, names the same order: once."""
        deadline = time.monotonic() + 15
        c = Client(stack.port, timeout=10)
        try:
            replayed = 0
            for life in keyed:
                while True:
                    resp = c.post("/orders", json_body=life.body,
                                  headers={"Idempotency-Key": life.key})
                    if resp.status != 503 or time.monotonic() > deadline:
                        break
                    time.sleep(0.1)  # orderd's pool is still reconnecting
                self.assertEqual(resp.status, 201, resp)
                self.assertEqual(resp.header("Idempotent-Replayed"), "true", resp)
                self.assertEqual(resp.json()["id"], life.id)
                replayed += 1
            print(f"crash test: {replayed} acknowledged keys replayed their order after recovery")
        finally:
            c.close()


if __name__ == "__main__":
    main()
