"""Connections: keep-alive, idle timeout, connection and memory limits."""

import socket
import time

from harness import RawConn, StackTestCase, main, new_customer_id, request_json


def closes(headers):
    return any("close" in v.lower() for v in headers.get("connection", []))


class KeepAliveTest(StackTestCase):
    def test_two_gets_on_one_socket(self):
        raw = RawConn(self.stack.port)
        try:
            for _ in range(2):
                raw.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                status, headers, _ = raw.read_response()
                self.assertEqual(status, 200)
                self.assertFalse(closes(headers), headers)
        finally:
            raw.close()

    def test_every_endpoint_keeps_the_connection(self):
        raw = RawConn(self.stack.port)
        try:
            raw.send(request_json("POST", "/orders", {"customer_id": new_customer_id(), "total": "3.00"}))
            status, headers, body = raw.read_response()
            self.assertEqual(status, 201, body)
            self.assertFalse(closes(headers), headers)
            oid = int(headers["location"][0].rsplit("/", 1)[1])
            for req, want in ((request_json("GET", f"/orders/{oid}"), 200),
                              (request_json("GET", "/orders?limit=2"), 200),
                              (request_json("PATCH", f"/orders/{oid}", {"status": "paid"}), 200),
                              (request_json("GET", "/readyz"), 200),
                              (request_json("GET", "/nope"), 404),
                              (request_json("POST", "/orders", {"customer_id": 0}), 422),
                              (request_json("DELETE", f"/orders/{oid}"), 204),
                              (request_json("GET", "/healthz"), 200)):
                raw.send(req)
                status, headers, body = raw.read_response()
                self.assertEqual(status, want, body)
                self.assertFalse(closes(headers), (req, headers))
        finally:
            raw.close()

    def test_pipelined_requests_are_answered_in_order(self):
        raw = RawConn(self.stack.port)
        try:
            ids = [f"pipe-{i}" for i in range(3)]
            raw.send("".join(f"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-ID: {i}\r\n\r\n" for i in ids))
            for rid in ids:
                status, headers, _ = raw.read_response()
                self.assertEqual(status, 200)
                self.assertEqual(headers["x-request-id"], [rid])
        finally:
            raw.close()

    def test_http_1_0_without_keep_alive_is_closed(self):
        raw = RawConn(self.stack.port)
        try:
            raw.send("GET /healthz HTTP/1.0\r\n\r\n")
            status, _, _ = raw.read_response()
            self.assertEqual(status, 200)
            self.assertTrue(raw.closed_by_peer(5))
        finally:
            raw.close()


class IdleTimeoutTest(StackTestCase):
    stack_env = {"ORDERD_IDLE_TIMEOUT_S": "1"}

    def test_idle_socket_after_a_request_is_closed(self):
        raw = RawConn(self.stack.port)
        try:
            raw.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(raw.read_response()[0], 200)
            start = time.monotonic()
            self.assertTrue(raw.closed_by_peer(4), "idle connection still open after 4 s")
            self.assertGreater(time.monotonic() - start, 0.5)
        finally:
            raw.close()

    def test_silent_socket_is_closed(self):
        raw = RawConn(self.stack.port)
        try:
            self.assertTrue(raw.closed_by_peer(4), "silent connection still open after 4 s")
        finally:
            raw.close()

    def test_busy_socket_is_not_closed(self):
        raw = RawConn(self.stack.port)
        try:
            for _ in range(6):
                raw.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertEqual(raw.read_response()[0], 200)
                time.sleep(0.4)
        finally:
            raw.close()


class ConnectionLimitTest(StackTestCase):
    stack_env = {"ORDERD_MAX_CONNECTIONS": "4"}

    def test_connections_over_the_limit_are_refused_and_the_rest_served(self):
        held = []
        try:
            for _ in range(4):
                raw = RawConn(self.stack.port)
                raw.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertEqual(raw.read_response()[0], 200)
                held.append(raw)
            refused = False
            try:
                extra = RawConn(self.stack.port, timeout=3)
                try:
                    extra.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                    extra.read_response()
                except (ConnectionError, socket.timeout, OSError):
                    refused = True
                finally:
                    extra.close()
            except OSError:
                refused = True
            self.assertTrue(refused, "a fifth connection was served with max_connections=4")
            for raw in held:
                raw.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertEqual(raw.read_response()[0], 200)
        finally:
            for raw in held:
                raw.close()
        deadline = time.monotonic() + 5
        while True:
            try:
                self.assertEqual(self.stack.get("/healthz").status, 200)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


class MemoryLimitTest(StackTestCase):
    stack_env = {"ORDERD_CONNECTION_MEMORY_LIMIT": "8192"}

    def test_oversized_headers_are_refused_and_the_daemon_survives(self):
        raw = RawConn(self.stack.port)
        try:
            raw.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + "a" * 40000 + "\r\n\r\n")
            try:
                status, _, _ = raw.read_response()
                self.assertGreaterEqual(status, 400)
            except (ConnectionError, OSError):
                pass  # closing the connection is an acceptable refusal
        finally:
            raw.close()
        self.assertEqual(self.stack.get("/healthz").status, 200)

    def test_normal_requests_fit(self):
        order = self.create_order()
        self.assertEqual(self.c.get(f"/orders/{order['id']}").status, 200)


if __name__ == "__main__":
    main()
