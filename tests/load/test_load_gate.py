"""test_load_gate.py - the CI load gate (tests/load/gate) against the real stack.

A fresh database seeded with bench/seed.sql (2,000 orders, 200 customers),
a private Redis (when redis-server is installed: the shared test Redis
would mix cache keys with other tests' databases, whose order ids are the
same numbers), and orderd with its production defaults (access log on, two
polling threads).  The gate runs five short wrk scenarios (~30 s) and must
pass: p95 under 250 ms, no failed request, every sampled acknowledged
order readable.  Run alone: python3 tests/load/test_load_gate.py
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import harness  # noqa: E402

ROWS = 2000
CUSTOMERS = 200


class PrivateRedis:
    """redis-server on a free loopback port, no persistence, for one test."""

    def __init__(self):
        self.port = harness.free_port()
        self.dir = tempfile.mkdtemp(prefix="orderd-loadredis.")
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            ping = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(self.port), "ping"],
                                  capture_output=True, text=True)
            if ping.stdout.strip() == "PONG":
                return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"private redis-server did not start on port {self.port}")
            time.sleep(0.05)

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class LoadGateTest(unittest.TestCase):
    def setUp(self):
        env = {"ORDERD_THREADS": "2"}
        if shutil.which("redis-server"):
            redis = PrivateRedis()
            self.addCleanup(redis.stop)
            env["ORDERD_REDIS_URL"] = redis.url
        self.stack = harness.Stack(env=env)
        seed = subprocess.run(
            [harness.psql_path(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", f"rows={ROWS}",
             "-v", f"customers={CUSTOMERS}", "-f", os.path.join(harness.SOURCE_DIR, "bench", "seed.sql"),
             "-d", self.stack.db_url],
            capture_output=True, text=True, timeout=120)
        if seed.returncode != 0:
            harness.drop_database(self.stack.db_name, self.stack.admin)
            self.fail(f"seeding failed: {seed.stderr}")
        self.stack.start()
        self.addCleanup(self.stack.stop)

    def test_gate_passes(self):
        gate = os.path.join(HERE, "gate")
        proc = subprocess.run(
            [sys.executable, gate, "--url", f"http://127.0.0.1:{self.stack.port}", "--max-id", str(ROWS),
             "--customers", str(CUSTOMERS)],
            capture_output=True, text=True, timeout=240)
        sys.stdout.write(proc.stdout)
        sys.stderr.write(proc.stderr)
        self.assertEqual(proc.returncode, 0,
                         f"the load gate failed:\n{proc.stdout}{proc.stderr}\n"
                         + self.stack.daemon.output_tail(20))
        self.assertIn("load gate: passed", proc.stdout)


if __name__ == "__main__":
    harness.main()
