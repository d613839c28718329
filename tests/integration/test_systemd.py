"""systemd's notify protocol without systemd: the test plays the manager.

The daemon gets NOTIFY_SOCKET (and WATCHDOG_USEC) pointing at a datagram
socket of ours, as systemd would set them for Type=notify and
WatchdogSec=, and we check what it sends:
  - READY=1 only once /readyz would answer 200 (PostgreSQL up, caches
    settled), not merely once it listens;
  - WATCHDOG=1 about every half period, and none while its own GET
    /healthz cannot be answered (the only connection slot held by us);
  - RELOADING=1 then READY=1 around a SIGHUP;
  - STOPPING=1 on SIGTERM, and no watchdog ping after it.
"""

import os
import signal
import socket
import time
import unittest

from harness import (NotifySocket, Stack, main, migrate)

# half a second: pings every 250 ms, self-check timeout 125 ms
WATCHDOG_USEC = 500000


class NotifyTest(unittest.TestCase):
    def notify_socket(self, abstract=False):
        sock = NotifySocket(abstract=abstract)
        self.addCleanup(sock.close)
        return sock

    def start(self, sock, env=None, migrate_db=True, watchdog_usec=None):
        stack = Stack(env={**sock.env(watchdog_usec), **(env or {})}, migrate_db=migrate_db).start()
        self.addCleanup(stack.stop, expect_code=None)
        return stack

    def test_ready_waits_for_the_readyz_predicate(self):
        """Not migrated, with Redis: the change feed cannot catch up, so
        /readyz is 503 and READY=1 must not come; after `orderd migrate`
        both turn."""
        redis = os.environ.get("ORDERD_TEST_REDIS_URL")
        if not redis:
            self.fail("ORDERD_TEST_REDIS_URL is not set (scripts/test sets it)")
        sock = self.notify_socket()
        stack = self.start(sock, env={"ORDERD_REDIS_URL": redis}, migrate_db=False)
        self.assertEqual(stack.get("/readyz").status, 503)
        early = [m for m in sock.poll(3.0) if m.get("READY") == "1"]
        self.assertEqual(early, [], "READY=1 before /readyz could answer 200")
        self.assertEqual(stack.get("/readyz").status, 503)
        migrate(stack.db_url)
        self.assertIsNotNone(sock.wait_for("READY", timeout=30), stack.daemon.output_tail())
        self.assertEqual(stack.get("/readyz").status, 200)

    def test_ready_reload_and_stopping(self):
        sock = self.notify_socket(abstract=True)
        stack = self.start(sock)
        ready = sock.wait_for("READY")
        self.assertIsNotNone(ready, stack.daemon.output_tail())
        self.assertEqual(stack.get("/readyz").status, 200)

        stack.daemon.send_signal(signal.SIGHUP)
        reloading = sock.wait_for("RELOADING")
        self.assertIsNotNone(reloading, stack.daemon.output_tail())
        self.assertTrue(reloading.get("MONOTONIC_USEC", "").isdigit(), reloading)
        self.assertIsNotNone(sock.wait_for("READY"), stack.daemon.output_tail())
        self.assertEqual(stack.get("/healthz").status, 200)

        stack.daemon.send_signal(signal.SIGTERM)
        self.assertIsNotNone(sock.wait_for("STOPPING"), stack.daemon.output_tail())
        self.assertEqual(stack.daemon.wait(30), 0, stack.daemon.output_tail())

    def test_watchdog_pings_only_while_the_daemon_answers(self):
        sock = self.notify_socket()
        # one polling thread and one connection slot, so holding it makes
        # the watchdog's own GET /healthz unanswerable
        stack = self.start(sock, env={"ORDERD_THREADS": "1", "ORDERD_MAX_CONNECTIONS": "1"},
                           watchdog_usec=WATCHDOG_USEC)
        self.assertIsNotNone(sock.wait_for("READY"), stack.daemon.output_tail())
        self.assertGreaterEqual(self.pings(sock, 5.0), 3, stack.daemon.output_tail())
        # each ping follows a real request, named in the access log
        self.assertGreaterEqual(len(stack.daemon.access_records("watchdog")), 3)

        held = self.hold_the_only_connection(stack.port)
        try:
            sock.poll(1.0)  # a check that began before the hold may still report
            self.assertEqual(self.pings(sock, 3.0), 0,
                             "WATCHDOG=1 while the daemon could not answer its own request")
            self.assertIsNotNone(stack.daemon.wait_log(
                lambda r: r.get("msg", "").startswith("watchdog: the daemon did not answer")),
                stack.daemon.output_tail())
        finally:
            held.close()
        self.assertIsNotNone(sock.wait_for("WATCHDOG", timeout=20), stack.daemon.output_tail())

        stack.daemon.send_signal(signal.SIGTERM)
        self.assertIsNotNone(sock.wait_for("STOPPING"), stack.daemon.output_tail())
        self.assertEqual(stack.daemon.wait(30), 0, stack.daemon.output_tail())
        late = [m for m in sock.poll(0.5) if "WATCHDOG" in m]
        self.assertEqual(late, [], "a watchdog ping after STOPPING=1")

    def test_no_watchdog_thread_for_another_process(self):
        """WATCHDOG_PID names someone else: the variables were inherited."""
        sock = self.notify_socket()
        stack = self.start(sock, env={"WATCHDOG_PID": "1"}, watchdog_usec=WATCHDOG_USEC)
        self.assertIsNotNone(sock.wait_for("READY"), stack.daemon.output_tail())
        self.assertEqual(self.pings(sock, 2.0), 0)

    @staticmethod
    def pings(sock, seconds):
        return len([m for m in sock.poll(seconds) if m.get("WATCHDOG") == "1"])

    def hold_the_only_connection(self, port):
        """A keep-alive connection that has had an answer, so the daemon
        counts it; the watchdog's own request may hold the slot for a
        moment, so this tries again until it gets it (bounded)."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            try:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                if s.recv(4096).startswith(b"HTTP/1.1 200"):
                    return s
            except OSError:
                pass
            s.close()
            time.sleep(0.05)
        self.fail("could not take the daemon's only connection slot")


if __name__ == "__main__":
    main()
