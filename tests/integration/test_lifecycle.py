"""Start-up and shutdown: SIGTERM/SIGINT drain, readiness, no lost log lines."""

import signal
import subprocess
import threading
import time
import unittest
import uuid

from harness import Client, Daemon, LockSession, Stack, main, new_customer_id


class LifecycleTest(unittest.TestCase):
    def start(self, env=None):
        stack = Stack(env=env).start()
        self.addCleanup(stack.stop, expect_code=None)
        return stack

    def test_sigterm_drains_in_flight_requests_then_exits_0(self):
        stack = self.start({"ORDERD_DRAIN_TIMEOUT_MS": "10000", "ORDERD_REQUEST_TIMEOUT_MS": "10000",
                            "ORDERD_DB_STATEMENT_TIMEOUT_MS": "10000"})
        daemon = stack.daemon
        idle = Client(stack.port)
        self.assertEqual(idle.get("/readyz").status, 200)  # an open keep-alive connection
        result = {}
        with LockSession(stack.db_url) as lock:
            def slow_post():
                c = stack.client()
                try:
                    result["resp"] = c.post("/orders", json_body={"customer_id": new_customer_id(),
                                                                  "total": "5.00"})
                except Exception as e:  # noqa: BLE001 - reported below
                    result["resp"] = e
                finally:
                    c.close()

            poster = threading.Thread(target=slow_post)
            poster.start()
            time.sleep(0.5)  # the POST is now blocked on the lock
            daemon.send_signal(signal.SIGTERM)
            time.sleep(0.2)
            self.assertTrue(daemon.alive(), "orderd exited with a request in flight")
            ready = self.readyz_during_drain(idle, stack.port)
            self.assertEqual(ready, 503, "readyz did not turn 503 during the drain")
            refused = self.new_connection_refused(stack.port)
            threading.Timer(1.0, lock.release).start()
            poster.join(15)
        self.assertFalse(poster.is_alive())
        resp = result["resp"]
        self.assertNotIsInstance(resp, Exception, resp)
        self.assertEqual(resp.status, 201, resp)
        self.assertEqual(daemon.wait(15), 0, daemon.output_tail())
        self.assertTrue(refused, "orderd still accepted new connections while draining")
        self.assertEqual(stack.sql(f"SELECT count(*) FROM orders WHERE id = {resp.json()['id']}"), "1")
        self.assertEqual(len([r for r in daemon.access_records() if r.get("method") == "POST"]), 1)
        idle.close()

    def readyz_during_drain(self, idle, port):
        """/readyz on a connection opened before SIGTERM, else on a new one."""
        for client in (idle, Client(port, timeout=3)):
            try:
                return client.get("/readyz").status
            except OSError:
                continue
            finally:
                client.close()
        return None

    def new_connection_refused(self, port):
        try:
            c = Client(port, timeout=2)
            try:
                c.get("/healthz")
            finally:
                c.close()
        except OSError:
            return True
        return False

    def test_drain_deadline_bounds_the_wait(self):
        stack = self.start({"ORDERD_DRAIN_TIMEOUT_MS": "500", "ORDERD_REQUEST_TIMEOUT_MS": "20000",
                            "ORDERD_DB_STATEMENT_TIMEOUT_MS": "20000"})
        daemon = stack.daemon
        with LockSession(stack.db_url):
            threading.Thread(target=lambda: self.swallow(stack), daemon=True).start()
            time.sleep(0.5)
            start = time.monotonic()
            daemon.send_signal(signal.SIGTERM)
            code = daemon.wait(10)
            elapsed = time.monotonic() - start
        self.assertEqual(code, 0, daemon.output_tail())
        self.assertLess(elapsed, 3.0, f"drain took {elapsed:.1f} s with drain_timeout_ms=500")

    def swallow(self, stack):
        c = stack.client(timeout=30)
        try:
            c.post("/orders", json_body={"customer_id": new_customer_id(), "total": "1"})
        except OSError:
            pass
        finally:
            c.close()

    def test_sigterm_under_load_always_drains_and_exits_0(self):
        """libmicrohttpd 0.9.75's own way to stop accepting
        (MHD_quiesce_daemon) races its polling threads and can abort() the
        process; seen as exit -6 after SIGTERM with requests arriving.  So
        stop a busy daemon many times: every stop must be a clean drain."""
        stack = self.start()
        cycles, requests = 15, 0
        for cycle in range(cycles):
            daemon = Daemon(env={"ORDERD_DB_URL": stack.db_url, "ORDERD_DRAIN_TIMEOUT_MS": "3000"}).start()
            self.addCleanup(daemon.cleanup)
            stop = threading.Event()
            counts = []

            def load():
                sent = 0
                while not stop.is_set() and sent < 5000:  # bounded in count and by the stop below
                    c = Client(daemon.port, timeout=5)
                    try:
                        c.get("/healthz")  # a new connection each time: accepts keep the polling threads busy
                        sent += 1
                    except OSError:
                        pass  # refused or closed once the drain began: expected
                    finally:
                        c.close()
                counts.append(sent)

            threads = [threading.Thread(target=load) for _ in range(6)]
            for t in threads:
                t.start()
            time.sleep(0.3)
            daemon.send_signal(signal.SIGTERM)
            code = daemon.wait(15)
            stop.set()
            for t in threads:
                t.join(10)
            requests += sum(counts)
            self.assertEqual(code, 0, f"cycle {cycle}: orderd exited with {code}\n{daemon.output_tail()}")
        print(f"\n[sigterm under load] cycles={cycles} requests={requests}", flush=True)
        self.assertGreater(requests, cycles * 4, "the load did not reach the daemons")

    def test_sigint_exits_0(self):
        stack = self.start()
        self.assertEqual(stack.get("/healthz").status, 200)
        stack.daemon.send_signal(signal.SIGINT)
        self.assertEqual(stack.daemon.wait(15), 0, stack.daemon.output_tail())

    def test_idle_daemon_stops_quickly(self):
        stack = self.start()
        start = time.monotonic()
        stack.daemon.send_signal(signal.SIGTERM)
        self.assertEqual(stack.daemon.wait(15), 0, stack.daemon.output_tail())
        self.assertLess(time.monotonic() - start, 2.0)

    def test_a_port_in_use_stops_start_up(self):
        # Two daemons silently sharing a port (SO_REUSEPORT) would split
        # traffic between two databases; the second must refuse to start.
        stack = self.start()
        second = Daemon(env={"ORDERD_DB_URL": stack.db_url}, port=stack.port).start(wait=False)
        self.addCleanup(second.cleanup)
        try:
            code = second.wait(10)
        except subprocess.TimeoutExpired:
            second.stop(expect_code=None)
            self.fail(f"a second orderd started on busy port {stack.port}")
        self.assertNotEqual(code, 0)
        self.assertIn("listen", (second.stdout_text() + second.stderr_text()).lower())
        self.assertEqual(stack.get("/healthz").status, 200)

    def test_no_log_line_is_lost_on_a_clean_stop(self):
        stack = self.start()
        c = stack.client()
        ids = [f"lost-{uuid.uuid4().hex}" for _ in range(200)]
        for rid in ids:
            self.assertEqual(c.get("/healthz", headers={"X-Request-ID": rid}).status, 200)
        c.close()
        stack.daemon.send_signal(signal.SIGTERM)  # right away: lines may still be buffered
        self.assertEqual(stack.daemon.wait(15), 0)
        logged = {r.get("request_id") for r in stack.daemon.access_records()}
        missing = [rid for rid in ids if rid not in logged]
        self.assertEqual(missing, [], f"{len(missing)} access log lines lost")
        for line in stack.daemon.log_lines():
            self.assertIsInstance(line, dict, f"torn or non-JSON line: {line!r}")

    def test_concurrent_writers_never_tear_log_lines(self):
        stack = self.start()

        def hammer():
            c = stack.client()
            for _ in range(100):
                c.get("/healthz", headers={"X-Request-ID": uuid.uuid4().hex})
            c.close()

        threads = [threading.Thread(target=hammer) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stack.daemon.send_signal(signal.SIGTERM)
        self.assertEqual(stack.daemon.wait(15), 0)
        lines = stack.daemon.log_lines()
        self.assertTrue(all(isinstance(r, dict) for r in lines), [r for r in lines if not isinstance(r, dict)][:3])
        self.assertGreaterEqual(len(stack.daemon.access_records()), 800)


if __name__ == "__main__":
    main()
