"""test_http_conformance.py - raw HTTP/1.1 requests as an attacker sends them.

Each case in CASES is one request (or several, on one socket) written
byte for byte, with the status it must get and whether the connection
must then close or stay open (RFC 9112):

  - "close": the response says `Connection: close` and the server closes
    the socket; after a framing error (two Content-Length values, an
    unknown transfer coding, CL and TE together) anything more on the
    socket could be a smuggled request, so it must be gone;
  - "open": the connection is still usable: a follow-up GET /healthz on
    the same socket is answered 200.

Every 4xx/5xx must be application/problem+json, except the few that
libmicrohttpd 0.9.75 writes itself before orderd sees the request (marked
html=True; docs/HTTP.md says which and why).

The second half (ThroughNginxTest) sends the same bytes through the nginx
of `scripts/stack` and checks that nginx and orderd agree on where every
request ends: no request reaches orderd that nginx did not forward (each
smuggling case hides a `GET /smuggled-...` that must never be seen by
orderd), and nothing nginx passes is answered by orderd with a framing
error.

    python3 tests/integration/test_http_conformance.py
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import unittest

import harness
from harness import Stack, main

HEALTH = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
ORDER = b'{"customer_id": 7, "total": "1.00"}'
# a request hidden in a body: if any server reads the body as the next
# request, /smuggled-<case> appears in a log
SMUGGLED = b"GET /smuggled-%s HTTP/1.1\r\nHost: x\r\n\r\n"
# connection_memory_limit is 16384 by default; the head limit is half of it
HEAD_LIMIT = 8192


def head_of_size(size):
    """GET /healthz whose head (request line to the blank line) is size bytes."""
    start = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: "
    end = b"\r\n\r\n"
    return start + b"a" * (size - len(start) - len(end)) + end


def chunked(body):
    return b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)


class Case:
    def __init__(self, name, raw, status, after, html=False, smuggled=False, check=None, responses=1,
                 interim=False):
        self.name = name
        self.raw = raw
        self.status = status
        self.after = after  # "close" or "open"
        self.html = html    # libmicrohttpd's own answer, documented in docs/HTTP.md
        self.smuggled = smuggled
        self.check = check  # fn(test, status, headers, body) for extra assertions
        self.responses = responses
        self.interim = interim  # a 100 Continue comes first


def no_evil_header(test, status, headers, body):
    test.assertNotIn("x-evil", headers)
    test.assertRegex(headers["x-request-id"][0], harness.UUID_RE)


def echoed_request_id(test, status, headers, body):
    test.assertEqual(headers["x-request-id"], ["abc"])
    test.assertNotIn("x-evil", headers)


def allow_header(test, status, headers, body):
    test.assertIn("GET", headers["allow"][0])


def empty_body(test, status, headers, body):
    test.assertEqual(body, b"")
    test.assertEqual(headers["content-length"], ["15"])


CASES = [
    # -- NUL in the target (the path was cut at the NUL) --
    Case("nul-encoded-path", b"GET /orders/1%00 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "close"),
    Case("nul-raw-path", b"GET /orders/1\x00 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "close"),
    Case("nul-raw-path-tail", b"GET /orders/1\x00/x HTTP/1.1\r\nHost: x\r\n\r\n", 400, "close"),
    Case("nul-encoded-query", b"GET /orders?status=paid%00 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "close"),
    Case("nul-raw-query", b"GET /orders?status=paid\x00 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "close"),
    Case("nul-in-header-value", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", 400, "close"),
    Case("space-in-target", b"GET /heal thz HTTP/1.1\r\nHost: x\r\n\r\n", 400, "close"),
    Case("two-spaces-after-method", b"GET  /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400, "close"),
    Case("fragment-in-target", b"GET /healthz#x HTTP/1.1\r\nHost: x\r\n\r\n", 400, "close"),
    Case("relative-target", b"GET healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400, "close"),
    # -- Content-Length --
    Case("cl-differing", b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         b"Content-Length: %d\r\nContent-Length: 2\r\n\r\n%s" % (len(ORDER), ORDER), 400, "close"),
    Case("cl-identical", b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
         b"Content-Length: 2\r\n\r\nab", 200, "open"),
    Case("cl-too-large", b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         b"Content-Length: 1000000\r\n\r\n", 413, "close"),
    Case("cl-not-a-number", b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400, "close",
         html=True),
    Case("cl-overflows", b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
         413, "close", html=True),
    # -- header syntax --
    Case("space-before-colon", b"GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n", 400, "close"),
    Case("tab-before-colon", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A\t: y\r\n\r\n", 400, "close"),
    Case("obs-fold", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400, "close"),
    Case("bare-lf-everywhere", b"GET /healthz HTTP/1.1\nHost: x\n\n", 400, "close"),
    Case("bare-lf-field-line", b"GET /healthz HTTP/1.1\r\nHost: x\nX-A: y\r\n\r\n", 400, "close"),
    Case("bare-cr-in-value", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400, "close"),
    Case("no-host-http11", b"GET /healthz HTTP/1.1\r\n\r\n", 400, "close"),
    Case("two-hosts", b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "close"),
    Case("host-with-userinfo", b"GET /healthz HTTP/1.1\r\nHost: u@a\r\n\r\n", 400, "close"),
    Case("no-host-http10", b"GET /healthz HTTP/1.0\r\n\r\n", 200, "close"),
    Case("leading-empty-line", b"\r\n" + HEALTH, 200, "open"),
    # what browsers and tools send must still pass: cookies (MHD copies
    # them before parsing), obs-text in a value, colons in values
    Case("browser-like-head", b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nCookie: a=b; c=d\r\n"
         b"Authorization: Basic YTpi\r\nX-Obs: caf\xc3\xa9\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n"
         b"Accept: */*\r\nReferer: http://a/b?c=d:e\r\n\r\n", 200, "open"),
    # -- transfer codings and smuggling --
    Case("te-gzip-chunked", b"POST /orders HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
         + chunked(ORDER), 501, "close"),
    Case("te-chunked-not-last", b"POST /orders HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"
         + chunked(ORDER), 400, "close"),
    Case("te-http10", b"POST /orders HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(ORDER), 400,
         "close"),
    Case("cl-te", b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\n"
         b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED % b"cl-te", 400, "close", smuggled=True),
    Case("te-cl", b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
         b"%x\r\n" % (len(SMUGGLED % b"te-cl") + 4) + b"{}\r\n" + SMUGGLED % b"te-cl" + b"\r\n0\r\n\r\n",
         400, "close", smuggled=True),
    Case("te-te-two-fields", b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n" + SMUGGLED % b"te-te-1",
         400, "close", smuggled=True),
    Case("te-te-xchunked", b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         b"Content-Length: 5\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + SMUGGLED % b"te-te-2",
         400, "close", smuggled=True),
    Case("te-te-space-before-colon", b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         b"Content-Length: 5\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n" + SMUGGLED % b"te-te-3",
         400, "close", smuggled=True),
    Case("te-te-tab-value", b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         b"Transfer-Encoding:\tchunked\r\n\r\n" + chunked(ORDER), 201, "open"),
    Case("chunked-post", b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         b"Transfer-Encoding: chunked\r\n\r\n" + chunked(ORDER), 201, "open"),
    Case("chunk-size-not-hex", b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", 400, "close", html=True),
    # -- CR/LF through X-Request-ID: never echoed into our response --
    Case("request-id-cr-injection", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-ID: abc\rX-Evil: 1\r\n\r\n",
         400, "close"),
    Case("request-id-encoded-crlf", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-ID: abc%0d%0aX-Evil: 1\r\n\r\n",
         200, "open", check=no_evil_header),
    Case("request-id-then-header", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-ID: abc\r\nX-Evil: 1\r\n\r\n",
         200, "open", check=echoed_request_id),
    # -- request-target forms --
    Case("absolute-form", b"GET http://127.0.0.1/healthz HTTP/1.1\r\nHost: x\r\n\r\n", 200, "open"),
    Case("absolute-form-https", b"GET https://example.org/healthz HTTP/1.1\r\nHost: x\r\n\r\n", 200, "open"),
    Case("absolute-form-no-path", b"GET http://127.0.0.1 HTTP/1.1\r\nHost: x\r\n\r\n", 404, "open"),
    # -- methods, bodies, Expect --
    Case("head", b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 200, "open", check=empty_body),
    Case("options", b"OPTIONS /orders HTTP/1.1\r\nHost: x\r\n\r\n", 405, "open", check=allow_header),
    Case("unknown-method", b"BREW /orders HTTP/1.1\r\nHost: x\r\n\r\n", 405, "open"),
    Case("method-not-a-token", b"GE(T /orders HTTP/1.1\r\nHost: x\r\n\r\n", 400, "close"),
    Case("body-on-get", b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 200, "open"),
    Case("expect-100-continue", b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n%s" % (len(ORDER), ORDER), 201, "open",
         interim=True),
    Case("http11-minor-2", b"GET /healthz HTTP/1.2\r\nHost: x\r\n\r\n", 200, "open"),
    Case("http2-version", b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 505, "close", html=True),
    # -- sizes --
    Case("head-at-limit", head_of_size(HEAD_LIMIT), 200, "open"),
    Case("head-over-limit", head_of_size(HEAD_LIMIT + 1), 431, "close"),
    Case("head-over-the-pool", head_of_size(3 * HEAD_LIMIT), 431, "close", html=True),
    # -- pipelining --
    Case("pipelined-100", b"".join(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-ID: pipe-%d\r\n\r\n" % i
                                   for i in range(100)), 200, "open", responses=100),
]


class Conn(harness.RawConn):
    def read_one(self, head_only=False):
        return self.read_response(head_only=head_only)


def run_case(test, case, port, host="127.0.0.1"):
    """Sends case.raw, checks the answers and what became of the socket."""
    # libmicrohttpd's own HTML answers are outside the contract
    # (api/openapi.json says which exist; docs/HTTP.md lists them)
    conn = Conn(port, host=host, timeout=10, contract=not case.html)
    try:
        conn.send(case.raw)
        if case.interim:
            status, _, _ = conn.read_one()
            test.assertEqual(status, 100, case.name)
        for i in range(case.responses):
            status, headers, body = conn.read_one(head_only=case.name == "head")
            test.assertEqual(status, case.status, (case.name, headers, body[:300]))
            if case.responses > 1:
                test.assertEqual(headers["x-request-id"], [f"pipe-{i}"])
        check_body(test, case, status, headers, body)
        closes_header = any("close" in v.lower() for v in headers.get("connection", []))
        if case.after == "close":
            test.assertTrue(closes_header, (case.name, headers))
            test.assertTrue(conn.closed_by_peer(5), f"{case.name}: the connection stayed open")
        else:
            test.assertFalse(closes_header, (case.name, headers))
            conn.send(HEALTH)
            test.assertEqual(conn.read_one()[0], 200, f"{case.name}: the connection is not reusable")
        return status, headers, body
    finally:
        conn.close()


def check_body(test, case, status, headers, body):
    if case.check:
        case.check(test, status, headers, body)
    if status < 400:
        return
    ctype = headers.get("content-type", [""])[0].split(";")[0].strip()
    if case.html:
        # libmicrohttpd's own page: documented, and it must still be an error
        test.assertNotEqual(ctype, "application/problem+json", f"{case.name} is ours now: drop html=True")
        return
    test.assertEqual(ctype, "application/problem+json", (case.name, headers, body[:300]))
    doc = json.loads(body)
    test.assertEqual(doc["status"], status)
    test.assertEqual(doc["request_id"], headers["x-request-id"][0])


class DirectTest(unittest.TestCase):
    """Every case straight against orderd."""

    @classmethod
    def setUpClass(cls):
        cls.stack = Stack().start()

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop()

    def test_cases(self):
        for case in CASES:
            with self.subTest(case=case.name):
                run_case(self, case, self.stack.port)
        self.assertEqual(self.stack.get("/healthz").status, 200)

    def test_nothing_smuggled_was_served(self):
        for case in CASES:
            if case.smuggled:
                run_case(self, case, self.stack.port)
        time.sleep(0.2)  # the log flusher
        paths = [r.get("path", "") for r in self.stack.daemon.access_records()]
        self.assertEqual([p for p in paths if "smuggled" in p], [])

    def test_the_nul_cases_do_not_read_order_1(self):
        # before the fix these answered 200 with order 1
        client = self.stack.client()
        self.addCleanup(client.close)
        order = client.post("/orders", json_body={"customer_id": 7, "total": "1.00"})
        self.assertEqual(order.status, 201)
        oid = order.json()["id"]
        for raw in (b"GET /orders/%d%%00 HTTP/1.1\r\nHost: x\r\n\r\n" % oid,
                    b"GET /orders/%d\x00 HTTP/1.1\r\nHost: x\r\n\r\n" % oid):
            conn = Conn(self.stack.port)
            try:
                conn.send(raw)
                self.assertEqual(conn.read_one()[0], 400)
            finally:
                conn.close()


# ---- through nginx ----------------------------------------------------------

STACK = os.path.join(harness.SOURCE_DIR, "scripts", "stack")


def read_json_lines(path):
    out = []
    try:
        with open(path, errors="replace") as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    except OSError:
        pass
    return out


class ThroughNginxTest(unittest.TestCase):
    """The same bytes through scripts/stack's nginx (plain HTTP listener)."""

    @classmethod
    def setUpClass(cls):
        cls.dir = os.path.join(harness.SOURCE_DIR, ".run", f"conformance-stack-{os.getpid()}")
        cls.http_port = harness.free_port()
        cls.env = harness.daemon_env({
            "ORDERD_BIN": harness.orderd_bin(),
            "ORDERD_STACK_DIR": cls.dir,
            "ORDERD_STACK_HTTP_PORT": cls.http_port,
            "ORDERD_STACK_HTTPS_PORT": harness.free_port(),
            "ORDERD_REPLICAS": 1,
            "ORDERD_STACK_OWNER_PID": os.getpid(),
        })
        proc = subprocess.run([STACK, "up"], env=cls.env, capture_output=True, text=True, timeout=180)
        if proc.returncode != 0:
            subprocess.run([STACK, "down"], env=cls.env, capture_output=True, timeout=120)
            raise RuntimeError(f"scripts/stack up failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")

    @classmethod
    def tearDownClass(cls):
        proc = subprocess.run([STACK, "down"], env=cls.env, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            sys.stderr.write(f"scripts/stack down: {proc.stdout}{proc.stderr}\n")
        elif os.environ.get("ORDERD_TEST_KEEP") != "1":
            shutil.rmtree(cls.dir, ignore_errors=True)

    def send(self, raw):
        """Every response nginx gives before it closes or goes quiet."""
        s = socket.create_connection(("127.0.0.1", self.http_port), timeout=5)
        try:
            s.sendall(raw)
            data = b""
            while True:
                # the first answer may take a while; after it, a short
                # quiet spell means nginx has said all it will
                s.settimeout(0.3 if data else 5)
                try:
                    chunk = s.recv(65536)
                except (socket.timeout, ConnectionResetError):
                    break
                if not chunk:
                    break
                data += chunk
            return data
        finally:
            s.close()

    def test_nginx_and_orderd_agree_on_every_case(self):
        answers = {}
        for case in CASES:
            answers[case.name] = self.send(case.raw)
        time.sleep(1.0)  # both logs are flushed
        logs = os.path.join(self.dir, "logs")
        proxied = read_json_lines(os.path.join(logs, "nginx-access.log"))
        served = [r for r in read_json_lines(os.path.join(logs, "orderd-1.log")) if r.get("msg") == "request"]
        self.assertGreater(len(served), 0, "nothing reached orderd through nginx")

        # orderd saw no request that nginx did not forward: every orderd
        # line has the request id nginx sent upstream
        forwarded_ids = {r.get("request_id") for r in proxied if r.get("upstream_status")}
        # (the stack's own probes and Prometheus's scrapes go to orderd directly)
        unknown = [r for r in served if r.get("request_id") not in forwarded_ids
                   and r.get("path") not in ("/readyz", "/metrics")]
        self.assertEqual(unknown, [], "orderd served requests nginx never forwarded")
        self.assertEqual([r["path"] for r in served if "smuggled" in r.get("path", "")], [])

        # and answered what nginx passed back: the same status for the same request
        upstream = {r.get("request_id"): r.get("upstream_status") for r in proxied}
        for r in served:
            if r.get("path") not in ("/readyz", "/metrics"):
                self.assertEqual(upstream.get(r["request_id"]), str(r["status"]), r)
        for name, data in answers.items():
            first = data.split(b"\r\n", 1)[0].decode("latin-1")
            sys.stderr.write(f"  via nginx {name:28s} {first}\n")

if __name__ == "__main__":
    main()
