"""test_stack.py - the compose topology without Docker (scripts/stack).

Two orderd replicas behind nginx (HTTP/2 + TLS 1.3 and plain HTTP) with a
shared PostgreSQL and Redis, started by `scripts/stack up` on free ports:

  - what one replica writes, the other replica and nginx (over h2) read at
    once, never stale;
  - a replica stopped with SIGTERM in the middle of a load run through nginx
    costs no request, and every order that got a 201 exists exactly once;
  - `scripts/stack down` leaves no process behind.

It also checks docker/docker-compose.yml with `docker-compose config`
(scripts/check-docker, run by test_docker.py, checks it in depth).

    python3 tests/integration/test_stack.py       (ORDERD_BIN as for every test)
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse
import urllib.request

import harness
import jwt_util

STACK = os.path.join(harness.SOURCE_DIR, "scripts", "stack")
COMPOSE_FILE = os.path.join(harness.SOURCE_DIR, "docker", "docker-compose.yml")
SERVICES = {"postgres", "redis", "migrate", "orderd-1", "orderd-2", "nginx", "prometheus"}

LOAD_THREADS = 8
LOAD_SECONDS = 6.0
STOP_AFTER_SECONDS = 2.0
MISSING_ID = 9_000_000_000_000_000


def ensure_docker_compose():
    """Debian's docker-compose (v1) validates a compose file without an engine."""
    if shutil.which("docker-compose"):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], env=env, check=True, stdout=subprocess.DEVNULL, timeout=300)
    subprocess.run(["apt-get", "install", "-y", "-q", "-o", "DPkg::Lock::Timeout=300", "--no-install-recommends",
                    "docker-compose"], env=env, check=True, stdout=subprocess.DEVNULL, timeout=600)


class ComposeFileTest(unittest.TestCase):
    def test_compose_config_is_valid_and_lists_the_services(self):
        ensure_docker_compose()
        proc = subprocess.run(["docker-compose", "-f", COMPOSE_FILE, "config"], capture_output=True, text=True,
                              timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        proc = subprocess.run(["docker-compose", "-f", COMPOSE_FILE, "config", "--services"], capture_output=True,
                              text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(set(proc.stdout.split()), SERVICES)


class TokenClient(harness.Client):
    """harness.Client sending a bearer token on every request: the stack runs with auth on."""

    def __init__(self, token, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.token = token

    def request(self, method, path, body=None, headers=None, json_body=None):
        headers = {"Authorization": "Bearer " + self.token, **(headers or {})}
        return super().request(method, path, body=body, headers=headers, json_body=json_body)


def read_env_file(path):
    values = {}
    with open(path) as f:
        for line in f:
            key, sep, value = line.strip().partition("=")
            if sep:
                values[key] = value
    return values


def port_of(url):
    return int(url.rsplit(":", 1)[1])


def pid_alive(pid):
    """True while pid runs; a zombie waiting for its reaper counts as gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.readline().strip())
    except (OSError, ValueError):
        return None


class StackTest(unittest.TestCase):
    """One stack for the class; the tests run in name order."""

    @classmethod
    def setUpClass(cls):
        cls.dir = os.path.join(harness.SOURCE_DIR, ".run", f"stack-test-{os.getpid()}")
        cls.http_port = harness.free_port()
        cls.https_port = harness.free_port()
        cls.env = harness.daemon_env({
            "ORDERD_BIN": harness.orderd_bin(),
            "ORDERD_STACK_DIR": cls.dir,
            "ORDERD_STACK_HTTP_PORT": cls.http_port,
            "ORDERD_STACK_HTTPS_PORT": cls.https_port,
            "ORDERD_REPLICAS": 2,
            "ORDERD_STACK_PROMETHEUS_PORT": 0,
            "ORDERD_STACK_SCRAPE_INTERVAL": "1s",
            # if this process dies without tearDownClass, the stack goes too
            "ORDERD_STACK_OWNER_PID": os.getpid(),
        })
        started = time.monotonic()
        proc = cls.stack("up", timeout=180)
        if proc.returncode != 0:
            cls.stack("down")
            raise RuntimeError(f"scripts/stack up failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
        sys.stderr.write(f"stack up in {time.monotonic() - started:.1f} s\n{proc.stdout}")
        cls.info = read_env_file(os.path.join(cls.dir, "stack.env"))
        cls.pg_url = cls.info["PG_URL"]
        with open(cls.info["JWT_SECRET_FILE"], "rb") as f:
            secret = f.read().strip()
        cls.token = jwt_util.hs256(secret, jwt_util.claims("stack-test", ttl=3600,
                                                           scope="orders:staff orders:admin"))
        cls.replica_ports = [port_of(cls.info["REPLICA_1_URL"]), port_of(cls.info["REPLICA_2_URL"])]
        # every process the stack runs, to prove `down` leaves none behind
        cls.pids = {
            "supervisor": int(cls.info["SUPERVISOR_PID"]),
            "nginx": int(cls.info["NGINX_PID"]),
            "prometheus": int(cls.info["PROMETHEUS_PID"]),
            "orderd-1": int(cls.info["REPLICA_1_PID"]),
            "orderd-2": int(cls.info["REPLICA_2_PID"]),
            "postgres": read_pid(os.path.join(cls.dir, "pg-stack", "data", "postmaster.pid")),
            "redis": read_pid(os.path.join(cls.dir, "redis-stack", "redis.pid")),
        }
        for name, pid in cls.pids.items():
            if pid is None or not pid_alive(pid):
                cls.stack("down")
                raise RuntimeError(f"{name} is not running after scripts/stack up: {pid}")

    @classmethod
    def tearDownClass(cls):
        proc = cls.stack("down", timeout=120)
        left = {name: pid for name, pid in cls.pids.items() if pid_alive(pid)}
        for pid in left.values():
            os.kill(pid, signal.SIGKILL)
        problems = []
        if proc.returncode != 0:
            problems.append(f"scripts/stack down exited {proc.returncode}: {proc.stderr}")
        if left:
            problems.append(f"still running after scripts/stack down: {left}")
        for i in (1, 2):
            text = cls.log(f"orderd-{i}.log")
            for mark in harness.SANITIZER_MARKS:
                if mark in text:
                    problems.append(f"orderd-{i}: sanitizer report:\n{text[text.find(mark) - 200:][:4000]}")
            code = cls.log(f"orderd-{i}.exit").strip()
            if code != "0":
                problems.append(f"orderd-{i} exited with {code or 'no recorded code'}")
        if problems:
            sys.stderr.write(cls.log("stack.log"))
            raise AssertionError("; ".join(problems))
        if os.environ.get("ORDERD_TEST_KEEP") == "1":
            sys.stderr.write(f"stack logs kept in {cls.dir}/logs\n")
        else:
            shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def stack(cls, command, timeout=60):
        return subprocess.run([STACK, command], env=cls.env, capture_output=True, text=True, timeout=timeout)

    @classmethod
    def log(cls, name):
        try:
            with open(os.path.join(cls.dir, "logs", name), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def client(self, port, timeout=30):
        return TokenClient(self.token, port, timeout=timeout)

    def curl(self, *args):
        """(status, http_version, body) of one curl request, with the token."""
        proc = subprocess.run(["curl", "-s", "-S", "-k", "--max-time", "10", "-w", "\n%{http_code} %{http_version}",
                               "-H", "Authorization: Bearer " + self.token, *args],
                              capture_output=True, text=True, timeout=20)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        body, _, tail = proc.stdout.rpartition("\n")
        status, version = tail.split()
        return int(status), version, body

    def read_via_nginx_h2(self, order_id):
        status, version, body = self.curl("--http2", f"https://127.0.0.1:{self.https_port}/orders/{order_id}")
        self.assertEqual(version, "2", "nginx did not speak HTTP/2 over TLS")
        self.assertEqual(status, 200, body)
        return json.loads(body)

    # -- tests --

    def test_1_replicas_agree_and_are_never_stale(self):
        a = self.client(self.replica_ports[0])
        b = self.client(self.replica_ports[1])
        self.addCleanup(a.close)
        self.addCleanup(b.close)

        resp = a.post("/orders", json_body={"customer_id": harness.new_customer_id(), "total": "12.50"})
        self.assertEqual(resp.status, 201, resp)
        created = resp.json()
        order_id = created["id"]

        resp = b.get(f"/orders/{order_id}")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json(), created)
        self.assertEqual(self.read_via_nginx_h2(order_id), created)
        # A reads it too, so the next reads through A would find a cached copy
        self.assertEqual(a.get(f"/orders/{order_id}").json(), created)

        version = created["version"]
        for status in ("paid", "shipped", "delivered"):
            resp = b.patch(f"/orders/{order_id}", json_body={"status": status})
            self.assertEqual(resp.status, 200, resp)
            updated = resp.json()
            self.assertEqual((updated["status"], updated["version"]), (status, version + 1), resp)
            version = updated["version"]

            resp = a.get(f"/orders/{order_id}", headers={"If-None-Match": f'"{version - 1}"'})
            self.assertEqual(resp.status, 200, f"replica A answered a stale version: {resp}")
            self.assertEqual(resp.json(), updated)
            self.assertEqual(resp.header("ETag"), f'"{version}"')
            self.assertEqual(self.read_via_nginx_h2(order_id), updated)
            status_code, _, body = self.curl(f"http://127.0.0.1:{self.http_port}/orders/{order_id}")
            self.assertEqual(status_code, 200, body)
            self.assertEqual(json.loads(body), updated)

    def test_1_idempotency_key_replays_on_the_other_replica(self):
        a = self.client(self.replica_ports[0])
        b = self.client(self.replica_ports[1])
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        body = {"customer_id": harness.new_customer_id(), "total": "7.25"}
        key = {"Idempotency-Key": f"stack-{os.getpid()}-{time.monotonic_ns()}"}
        first = a.post("/orders", json_body=body, headers=key)
        self.assertEqual(first.status, 201, first)
        again = b.post("/orders", json_body=body, headers=key)
        self.assertEqual(again.status, 201, again)
        self.assertEqual(again.header("Idempotent-Replayed"), "true", again)
        self.assertEqual(again.json(), first.json())
        count = harness.psql(self.pg_url, f"SELECT count(*) FROM orders WHERE customer_id = {body['customer_id']}")
        self.assertEqual(count, "1")

    def prometheus_query(self, query):
        """The instant vector of query, from the stack's Prometheus, as {instance: value}."""
        url = self.info["PROMETHEUS_URL"] + "/api/v1/query?" + urllib.parse.urlencode({"query": query})
        with urllib.request.urlopen(url, timeout=10) as resp:
            doc = json.load(resp)
        self.assertEqual(doc["status"], "success", doc)
        return {r["metric"].get("instance", ""): float(r["value"][1]) for r in doc["data"]["result"]}

    def wait_query(self, query, predicate, what, timeout=30.0):
        deadline = time.monotonic() + timeout
        while True:
            got = self.prometheus_query(query)
            if predicate(got):
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"Prometheus: {what}; {query} = {got}")
            time.sleep(0.2)

    def test_1_prometheus_scrapes_every_replica(self):
        replicas = {f"127.0.0.1:{p}" for p in self.replica_ports}
        self.wait_query('up{job="orderd"}', lambda got: set(got) == replicas and all(v == 1 for v in got.values()),
                        "both replicas up")
        # the rules loaded, and their recording rules evaluate
        with urllib.request.urlopen(self.info["PROMETHEUS_URL"] + "/api/v1/rules", timeout=10) as resp:
            groups = {g["name"] for g in json.load(resp)["data"]["groups"]}
        self.assertEqual(groups, {"orderd.recording", "orderd.alerts"})
        query = 'sum(orderd_http_requests_total{route="/healthz"})'
        before = self.prometheus_query(query).get("", 0.0)  # no series before the first /healthz
        for _ in range(20):
            status, _, _ = self.curl(f"http://127.0.0.1:{self.http_port}/healthz")
            self.assertEqual(status, 200)
        self.wait_query(query, lambda got: got.get("", 0.0) >= before + 20, "the counter rising by 20")

    def test_1_auth_is_on_behind_nginx(self):
        proc = subprocess.run(["curl", "-s", "-k", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}",
                               f"https://127.0.0.1:{self.https_port}/orders/1"],
                              capture_output=True, text=True, timeout=20)
        self.assertEqual(proc.stdout, "401")
        a = self.client(self.replica_ports[0])
        self.assertEqual(a.get("/readyz").json()["auth"], "on")
        a.close()

    def test_1_tls_below_1_3_is_refused(self):
        proc = subprocess.run(["curl", "-s", "-k", "--max-time", "10", "--tls-max", "1.2",
                               f"https://127.0.0.1:{self.https_port}/healthz"], capture_output=True, timeout=20)
        self.assertNotEqual(proc.returncode, 0, "nginx accepted TLS 1.2")

    def test_2_replica_stopped_under_load_costs_no_request(self):
        base = harness.new_customer_id()
        created = {}  # order id -> customer id, for every 201
        failures = []
        counts = {"requests": 0}
        lock = threading.Lock()
        start = time.monotonic()
        deadline = start + LOAD_SECONDS

        def worker(tid):
            client = self.client(self.http_port, timeout=20)
            mine = []
            n = 0
            while time.monotonic() < deadline:
                n += 1
                request_id = f"stack-load-{tid}-{n}"
                headers = {"X-Request-ID": request_id}
                if not mine or n % 3 == 0:
                    customer = base + tid * 100_000 + n
                    op, args = "POST", ("POST", "/orders", None, headers,
                                        {"customer_id": customer, "total": "3.00"})
                    expect = 201
                elif n % 10 == 0:
                    op, args, expect = "GET missing", ("GET", f"/orders/{MISSING_ID}", None, headers), 404
                else:
                    order_id = mine[n % len(mine)]
                    op, args, expect = "GET", ("GET", f"/orders/{order_id}", None, headers), 200
                try:
                    resp = client.request(*args)
                except Exception as exc:  # a connection error is a failed request
                    failures.append((request_id, op, repr(exc)))
                    continue
                finally:
                    with lock:
                        counts["requests"] += 1
                if resp.status != expect:
                    failures.append((request_id, op, resp.status, resp.body[:200]))
                elif op == "POST":
                    order = resp.json()
                    with lock:
                        created[order["id"]] = order["customer_id"]
                    mine.append(order["id"])
                time.sleep(0.005)  # a steady load, not a benchmark
            client.close()

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(LOAD_THREADS)]
        for t in threads:
            t.start()
        time.sleep(STOP_AFTER_SECONDS)
        stopped_pid = self.pids["orderd-1"]
        os.kill(stopped_pid, signal.SIGTERM)
        stopped_at = time.monotonic() - start
        for t in threads:
            t.join(timeout=LOAD_SECONDS + 60)
        elapsed = time.monotonic() - start

        sys.stderr.write(f"load: {counts['requests']} requests, {len(created)} orders created in {elapsed:.1f} s; "
                         f"orderd-1 got SIGTERM at {stopped_at:.1f} s\n")
        if failures:
            sys.stderr.write(self.log("nginx-error.log")[-3000:])
        self.assertEqual(failures[:10], [], f"{len(failures)} failed requests")
        self.assertGreater(len(created), 50)

        # The stopped replica drained and exited 0 (the supervisor records it).
        wait_until = time.monotonic() + 20
        while not self.log("orderd-1.exit") and time.monotonic() < wait_until:
            time.sleep(0.1)
        self.assertEqual(self.log("orderd-1.exit").strip(), "0", self.log("orderd-1.log")[-2000:])
        # Both replicas served the load, so the stop happened under load.
        for i in (1, 2):
            self.assertIn("stack-load-", self.log(f"orderd-{i}.log"), f"orderd-{i} served none of the load")

        # Exactly once: every 201 is one row, and there are no other rows.
        ids = ",".join(str(i) for i in sorted(created))
        found = harness.psql(self.pg_url, f"SELECT count(*) FROM orders WHERE id IN ({ids})")
        self.assertEqual(int(found), len(created))
        rows = harness.psql(self.pg_url, "SELECT id, customer_id FROM orders "
                                         f"WHERE customer_id >= {base} AND customer_id < {base + 100_000_000}")
        in_db = {int(i): int(c) for i, c in (line.split("|") for line in rows.splitlines())}
        self.assertEqual(in_db, created)
        dupes = harness.psql(self.pg_url, "SELECT customer_id FROM orders "
                                          f"WHERE customer_id >= {base} GROUP BY customer_id HAVING count(*) > 1")
        self.assertEqual(dupes, "")

        # nginx still serves, through the replica that is left.
        status, version, _ = self.curl("--http2", f"https://127.0.0.1:{self.https_port}/healthz")
        self.assertEqual((status, version), (200, "2"))
        proc = self.stack("status")
        self.assertRegex(proc.stdout, r"orderd-1\s+exited\(0\)")
        self.assertRegex(proc.stdout, r"orderd-2\s+up")


if __name__ == "__main__":
    harness.main()
