"""harness.py - runs the real orderd against real PostgreSQL, over HTTP.

Python 3 standard library, plus jsonschema (Debian's python3-jsonschema)
for contract.py.  Every test_*.py next to this file imports it, is a
unittest module, and runs on its own:

    python3 tests/integration/test_api_orders.py [-k pattern]

Environment (scripts/test and ctest set these; all are optional):
  ORDERD_BIN            the daemon (default: <source>/build/orderd)
  ORDERD_SOURCE_DIR     the source tree (default: two levels up from here)
  ORDERD_TEST_DB_URL    admin URL of a PostgreSQL where tests may CREATE
                        DATABASE; when unset the harness starts a private
                        throwaway cluster for this process (never skips)
  ORDERD_TEST_PG_BIN    PostgreSQL server binaries (initdb, pg_ctl)
  ORDERD_TEST_REDIS_URL a Redis for the tests that want one
  ORDERD_TEST_KEEP=1    keep each daemon's folder (logs) after the test
  ORDERD_TEST_TMPDIR    where private clusters and daemon folders go, so
                        scripts/test can stop what a killed test left

Under scripts/test every test process shares one PostgreSQL cluster (one
database each), running in parallel: a test that acts on server sessions
(pg_terminate_backend, pg_cancel_backend) must pick them from its own
database (`datname = current_database()`), or it breaks its neighbours.

Each Stack gets a fresh database, runs `orderd migrate`, starts the daemon
on a free 127.0.0.1 port with its stdout/stderr in files, and waits for
/healthz.  Stopping sends SIGTERM and by default demands exit code 0 and
no sanitizer report, so every test also checks the clean shutdown path.

Every answer a Client or RawConn reads is checked against api/openapi.json
(contract.py): an undocumented status, header or field raises
contract.ContractError in the test that received it, and main() exits
non-zero if any was seen, also in a thread that swallowed the exception.
RawConn(contract=False) is for the few tests of what libmicrohttpd itself
answers (oversized headers), which the document does not describe.
"""

import atexit
import collections
import concurrent.futures
import ctypes
import glob
import http.client
import itertools
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

import contract

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("ORDERD_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
RFC3339_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
LOG_TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SERVER_TIMING_RE = re.compile(r"^app;dur=\d+(\.\d+)?$")
JSON_HEADERS = {"Content-Type": "application/json"}
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def tmp_base():
    return os.environ.get("ORDERD_TEST_TMPDIR") or None


_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def _die_with_parent():
    """preexec_fn: a test killed by ctest's timeout takes its children along."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


_cleanups = []


def _run_cleanups():
    while _cleanups:
        fn = _cleanups.pop()
        try:
            fn()
        except Exception:  # noqa: BLE001 - best effort on the way out
            pass


def _on_fatal_signal(signum, _frame):
    _run_cleanups()
    os._exit(128 + signum)


atexit.register(_run_cleanups)
for _sig in (signal.SIGTERM, signal.SIGHUP):
    signal.signal(_sig, _on_fatal_signal)


def orderd_bin():
    path = os.path.abspath(os.environ.get("ORDERD_BIN") or os.path.join(SOURCE_DIR, "build", "orderd"))
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"orderd binary not found at {path}: build it or set ORDERD_BIN")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bin_dir():
    env = os.environ.get("ORDERD_TEST_PG_BIN")
    if env:
        return env
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if not found:
        raise RuntimeError("no PostgreSQL server binaries: set ORDERD_TEST_PG_BIN")
    return os.path.dirname(found[-1])


def psql_path():
    return shutil.which("psql") or os.path.join(pg_bin_dir(), "psql")


def with_database(url, dbname):
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + dbname))


def psql(url, sql, check=True, timeout=60):
    """Runs sql through psql; returns stdout (unaligned, tuples only)."""
    proc = subprocess.run([psql_path(), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
                          capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(f"psql failed ({proc.returncode}) on {sql!r}: {proc.stderr.strip()}")
    return proc.stdout.strip()


# ---- PostgreSQL ------------------------------------------------------------

class PgInstance:
    """A private PostgreSQL cluster in a temp folder (loopback, trust).

    As root the server runs as the postgres user, like scripts/services.
    """

    def __init__(self):
        self.bin = pg_bin_dir()
        self.dir = tempfile.mkdtemp(prefix="orderd-pgtest.", dir=tmp_base())
        _cleanups.append(self.destroy)
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "postgresql.log")
        self.port = None
        self._as_root = os.geteuid() == 0
        if self._as_root:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(["initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                   "--locale=C.UTF-8", "--no-sync"])

    def _cmd(self, args):
        cmd = [os.path.join(self.bin, args[0])] + list(args[1:])
        if self._as_root:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        return cmd

    def _run(self, args, check=True):
        proc = subprocess.run(self._cmd(args), capture_output=True, text=True, timeout=120)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {proc.stdout}{proc.stderr}{self.log_tail()}")
        return proc

    def log_tail(self, n=20):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def _opts(self):
        return (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.dir} "
                f"-c fsync=on -c max_connections=200")

    def start(self):
        for _ in range(5):
            if self.port is None:
                self.port = free_port()
            proc = self._run(["pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60", "-o", self._opts(),
                              "start"], check=False)
            if proc.returncode == 0:
                return self
            self.port = None
        raise RuntimeError("private PostgreSQL did not start:\n" + self.log_tail())

    def stop(self, mode="fast"):
        self._run(["pg_ctl", "-D", self.data, "-w", "-t", "60", "-m", mode, "stop"], check=False)

    def restart(self, mode="fast"):
        self._run(["pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60", "-m", mode, "-o", self._opts(),
                   "restart"])

    @property
    def url(self):
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def destroy(self):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


_own_pg = None
_own_pg_lock = threading.Lock()


def admin_url():
    """ORDERD_TEST_DB_URL, or a private cluster started once per process."""
    global _own_pg
    url = os.environ.get("ORDERD_TEST_DB_URL")
    if url:
        return url
    with _own_pg_lock:
        if _own_pg is None:
            _own_pg = PgInstance().start()
        return _own_pg.url


_db_counter = itertools.count(1)


def create_database(admin=None):
    """A fresh, empty database; returns (url, name)."""
    admin = admin or admin_url()
    name = f"orderd_t{os.getpid()}_{next(_db_counter)}_{random.randrange(1 << 30):x}"
    psql(admin, f"CREATE DATABASE {name}")
    return with_database(admin, name), name


def drop_database(name, admin=None):
    psql(admin or admin_url(), f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", check=False)


class LockSession:
    """An open psql session holding `LOCK TABLE ... IN ACCESS EXCLUSIVE MODE`.

    psql reads from a pipe, so the transaction stays open until release().
    """

    def __init__(self, db_url, table="orders"):
        self.db_url = db_url
        self.table = table
        self._release_lock = threading.Lock()
        self.proc = subprocess.Popen([psql_path(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db_url],
                                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True, preexec_fn=_die_with_parent)
        self.proc.stdin.write(f"BEGIN;\nLOCK TABLE {table} IN ACCESS EXCLUSIVE MODE;\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + 10
        query = ("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                 f"WHERE c.relname = '{table}' AND l.mode = 'AccessExclusiveLock' AND l.granted "
                 # the same table in another test's database may have the same oid
                 "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())")
        while psql(db_url, query) != "1":
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("could not take the table lock: " + self.proc.stderr.read())
            time.sleep(0.05)

    def release(self):
        """Commits and ends the session; safe to call twice, from any thread."""
        with self._release_lock:
            if not self.proc.stdin.closed:
                try:
                    self.proc.stdin.write("COMMIT;\n")
                    self.proc.stdin.close()
                except BrokenPipeError:
                    pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            if not self.proc.stderr.closed:
                self.proc.stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


# ---- HTTP ------------------------------------------------------------------

_contract_breaches = []
_contract_breaches_lock = threading.Lock()


def check_contract(method, target, status, header_pairs, body):
    """contract.check, remembering each breach for main()."""
    try:
        contract.check(method, target, status, header_pairs, body)
    except contract.ContractError as exc:
        with _contract_breaches_lock:
            _contract_breaches.append(str(exc))
        raise


class Response:
    def __init__(self, status, reason, headers, body, elapsed):
        self.status = status
        self.reason = reason
        self.headers = headers  # case-insensitive .get() / .get_all()
        self.body = body
        self.elapsed = elapsed

    @property
    def text(self):
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        return self.headers.get(name)

    def __repr__(self):
        return f"<Response {self.status} {dict(self.headers)} {self.body[:300]!r}>"


class Client:
    """Keep-alive HTTP/1.1 client over one http.client connection."""

    def __init__(self, port, host="127.0.0.1", timeout=30):
        self.host = host
        self.port = port
        self.timeout = timeout
        self.conn = http.client.HTTPConnection(host, port, timeout=timeout)

    def close(self):
        self.conn.close()

    def request(self, method, path, body=None, headers=None, json_body=None):
        headers = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers.setdefault("Content-Type", "application/json")
        if isinstance(body, str):
            body = body.encode()
        start = time.monotonic()
        try:
            self.conn.request(method, path, body=body, headers=headers)
            resp = self.conn.getresponse()
            data = resp.read()
        except Exception:
            self.conn.close()
            raise
        elapsed = time.monotonic() - start
        if resp.will_close:
            self.conn.close()
        check_contract(method, path, resp.status, resp.headers.items(), data)
        return Response(resp.status, resp.reason, resp.headers, data, elapsed)

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def post(self, path, json_body=None, headers=None, body=None):
        return self.request("POST", path, body=body, headers=headers, json_body=json_body)

    def patch(self, path, json_body=None, headers=None, body=None):
        return self.request("PATCH", path, body=body, headers=headers, json_body=json_body)

    def delete(self, path, headers=None):
        return self.request("DELETE", path, headers=headers)


class RawConn:
    """A raw socket that reads whole HTTP/1.1 responses, for keep-alive tests.

    It follows the requests it sends (request line, Content-Length) so it
    can check each answer against the contract; after a chunked body or a
    request line it cannot read, the rest of that connection's answers go
    unchecked.
    """

    def __init__(self, port, host="127.0.0.1", timeout=10, contract=True):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.contract = contract
        self._out = b""     # sent bytes not yet read as requests
        self._skip = 0      # body bytes of the last request still to be sent
        self._lost = False  # requests can no longer be followed
        self._asked = collections.deque()  # (method, target) sent, not yet answered

    def close(self):
        self.sock.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)
        self._note_requests(data)

    def _note_requests(self, data):
        if self._lost:
            return
        self._out += data
        while True:
            if self._skip:
                n = min(self._skip, len(self._out))
                self._out, self._skip = self._out[n:], self._skip - n
                if self._skip:
                    return
            end = self._out.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = self._out[:end].decode("latin-1").split("\r\n")
            self._out = self._out[end + 4:]
            parts = lines[0].split(" ")
            fields = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                fields[name.strip().lower()] = value.strip()
            length = fields.get("content-length", "0")
            if len(parts) != 3 or "chunked" in fields.get("transfer-encoding", "").lower() or not length.isdigit():
                self._lost = True
                return
            self._asked.append((parts[0], parts[1]))
            self._skip = int(length)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed by the server")
        self.buf += chunk

    def _read_until(self, sep):
        while sep not in self.buf:
            self._fill()
        i = self.buf.index(sep)
        out, self.buf = self.buf[:i], self.buf[i + len(sep):]
        return out

    def _read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_response(self, head_only=False):
        """Returns (status, headers {lower name: [values]}, body)."""
        status, headers, body = self._read_response(head_only)
        if 200 <= status and self._asked:
            method, target = self._asked.popleft()
            if self.contract:
                pairs = [(name, value) for name, values in headers.items() for value in values]
                check_contract(method, target, status, pairs, body)
        return status, headers, body

    def _read_response(self, head_only):
        head = self._read_until(b"\r\n\r\n").decode("latin-1")
        lines = head.split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
        if head_only or status in (204, 304) or 100 <= status < 200:
            return status, headers, b""
        if "chunked" in ",".join(headers.get("transfer-encoding", [])).lower():
            body = b""
            while True:
                size = int(self._read_until(b"\r\n").split(b";")[0], 16)
                if size == 0:
                    self._read_until(b"\r\n")
                    return status, headers, body
                body += self._read_exact(size)
                self._read_exact(2)
        if "content-length" in headers:
            return status, headers, self._read_exact(int(headers["content-length"][0]))
        body = self.buf
        self.buf = b""
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                return status, headers, body
            body += chunk

    def response_ready(self, timeout=0.0):
        if self.buf:
            return True
        ready, _, _ = select.select([self.sock], [], [], timeout)
        return bool(ready)

    def closed_by_peer(self, timeout):
        """True when the server closes the socket within timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            ready, _, _ = select.select([self.sock], [], [], left)
            if ready:
                try:
                    chunk = self.sock.recv(65536)
                except (ConnectionResetError, OSError):
                    return True
                if not chunk:
                    return True
                self.buf += chunk


def request_json(method, path, json_body=None):
    headers = ["Host: 127.0.0.1"]
    body = b""
    if json_body is not None:
        body = json.dumps(json_body).encode()
        headers += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return (f"{method} {path} HTTP/1.1\r\n" + "\r\n".join(headers) + "\r\n\r\n").encode() + body


# ---- systemd's notify socket ------------------------------------------------

class NotifySocket:
    """Plays systemd's side of sd_notify(3): a unix datagram socket whose
    address goes into the daemon's NOTIFY_SOCKET.  Each datagram is one
    message of "KEY=value" lines; messages() parses them into dicts.
    abstract=True binds in the abstract namespace ("@name")."""

    def __init__(self, abstract=False):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"orderd-test-notify-{os.getpid()}-{random.randrange(1 << 30)}"
            self.sock.bind("\0" + name)
            self.address = "@" + name
        else:
            self.dir = tempfile.mkdtemp(prefix="orderd-notify.", dir=tmp_base())
            self.address = os.path.join(self.dir, "notify")
            self.sock.bind(self.address)
            os.chmod(self.dir, 0o755)
            os.chmod(self.address, 0o777)
        self.received = []  # every message so far, in order, as (monotonic time, dict)
        self._pending = []  # received but not yet taken by poll or wait_for

    def close(self):
        self.sock.close()
        if not self.address.startswith("@"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def env(self, watchdog_usec=None):
        env = {"NOTIFY_SOCKET": self.address}
        if watchdog_usec:
            env["WATCHDOG_USEC"] = str(watchdog_usec)
        return env

    def _receive(self, timeout):
        """Queues what arrives within timeout seconds (at least one message, if any comes)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                return
            data = self.sock.recv(4096).decode()
            msg = dict(line.split("=", 1) for line in data.split("\n") if "=" in line)
            self.received.append((time.monotonic(), msg))
            self._pending.append(msg)

    def poll(self, timeout):
        """Every message not yet taken, plus what arrives within timeout seconds."""
        self._receive(timeout)
        got, self._pending = self._pending, []
        return got

    def wait_for(self, key, value="1", timeout=20.0):
        """Takes messages up to the first with key=value (None after timeout);
        later ones stay queued for the next call."""
        deadline = time.monotonic() + timeout
        while True:
            while self._pending:
                msg = self._pending.pop(0)
                if msg.get(key) == value:
                    return msg
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self._receive(min(0.2, left))


# ---- the daemon ------------------------------------------------------------

def daemon_env(extra=None):
    """The caller's environment without any ORDERD_* setting, plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERD_")}
    env.update({k: str(v) for k, v in (extra or {}).items()})
    return env


def run_cli(args, env=None, timeout=60, cwd=None):
    """Runs orderd with args to completion; returns CompletedProcess (text)."""
    return subprocess.run([orderd_bin()] + list(args), env=daemon_env(env), capture_output=True, text=True,
                          timeout=timeout, cwd=cwd or tempfile.gettempdir())


def migrate(db_url, env=None):
    proc = run_cli(["migrate"], env={"ORDERD_DB_URL": db_url, **(env or {})})
    if proc.returncode != 0:
        raise RuntimeError(f"orderd migrate failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return proc


class Daemon:
    """One orderd process on a free loopback port.

    host is where it listens and is asked; netlab.Replica overrides it and
    command() to run the daemon inside a network namespace.
    """

    host = "127.0.0.1"

    def __init__(self, env=None, args=(), port=None):
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="orderd-daemon.", dir=tmp_base())
        self.stdout_path = os.path.join(self.dir, "stdout.log")
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        self.env = {"ORDERD_LISTEN": f"127.0.0.1:{self.port}", "ORDERD_LOG_LEVEL": "info", **(env or {})}
        self.args = list(args)
        self.proc = None
        self.returncode = None

    def command(self):
        return [orderd_bin()] + self.args

    def start(self, wait=True, timeout=20):
        out = open(self.stdout_path, "wb")
        err = open(self.stderr_path, "wb")
        # cwd is the daemon's own folder so no config/orderd.conf is read.
        self.proc = subprocess.Popen(self.command(), env=daemon_env(self.env), cwd=self.dir,
                                     stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                     preexec_fn=_die_with_parent)
        _cleanups.append(self._kill)
        out.close()
        err.close()
        if wait:
            self.wait_healthy(timeout)
        return self

    def _kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def wait_healthy(self, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"orderd exited with {self.proc.returncode} at start-up:\n{self.output_tail()}")
            c = Client(self.port, host=self.host, timeout=2)
            try:
                if c.get("/healthz").status == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            finally:
                c.close()
            time.sleep(0.05)
        raise RuntimeError(f"orderd not healthy after {timeout} s:\n{self.output_tail()}")

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout):
        self.returncode = self.proc.wait(timeout=timeout)
        return self.returncode

    def stop(self, sig=signal.SIGTERM, timeout=30, expect_code=0):
        """Stops the daemon; raises AssertionError on an unexpected exit."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"orderd ignored {sig!r} for {timeout} s:\n{self.output_tail()}")
        self.returncode = self.proc.returncode
        problems = []
        if expect_code is not None and self.returncode != expect_code:
            problems.append(f"orderd exited with {self.returncode}, expected {expect_code}")
        report = self.sanitizer_report()
        if report:
            problems.append("sanitizer report:\n" + report)
        if problems:
            raise AssertionError("; ".join(problems) + "\n" + self.output_tail())
        return self.returncode

    def sanitizer_report(self):
        text = self.stderr_text() + self.stdout_text()
        for mark in SANITIZER_MARKS:
            i = text.find(mark)
            if i >= 0:
                return text[max(0, i - 200):i + 4000]
        return ""

    def stdout_text(self):
        with open(self.stdout_path, "rb") as f:
            return f.read().decode("utf-8", errors="replace")

    def stderr_text(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", errors="replace")

    def output_tail(self, n=40):
        out = self.stdout_text().splitlines()[-n:]
        err = self.stderr_text().splitlines()[-n:]
        return ("--- orderd stdout (tail) ---\n" + "\n".join(out) +
                "\n--- orderd stderr (tail) ---\n" + "\n".join(err) + f"\n--- logs in {self.dir}")

    # -- logs --

    def log_lines(self):
        """Every stdout line, parsed; a line that is not JSON is kept as a str."""
        out = []
        for line in self.stdout_text().splitlines():
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append(line)
        return out

    def access_records(self, request_id=None):
        return [r for r in self.log_lines() if isinstance(r, dict) and r.get("msg") == "request"
                and (request_id is None or r.get("request_id") == request_id)]

    def wait_log(self, predicate, timeout=5.0):
        """The first log record matching predicate, waiting for the flusher."""
        deadline = time.monotonic() + timeout
        while True:
            for r in self.log_lines():
                if isinstance(r, dict) and predicate(r):
                    return r
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)

    def cleanup(self):
        if os.environ.get("ORDERD_TEST_KEEP") == "1":
            sys.stderr.write(f"orderd logs kept in {self.dir}\n")
            return
        shutil.rmtree(self.dir, ignore_errors=True)

    def client(self, timeout=30):
        return Client(self.port, host=self.host, timeout=timeout)


class Stack:
    """A fresh database, migrated, with an orderd serving it."""

    def __init__(self, env=None, args=(), admin=None, migrate_db=True):
        self.admin = admin or admin_url()
        self.db_url, self.db_name = create_database(self.admin)
        if migrate_db:
            migrate(self.db_url)
        self.daemon = Daemon(env={"ORDERD_DB_URL": self.db_url, **(env or {})}, args=args)

    def start(self):
        try:
            self.daemon.start()
        except Exception:
            self.daemon.stop(sig=signal.SIGKILL, expect_code=None)
            drop_database(self.db_name, self.admin)
            raise
        return self

    @property
    def port(self):
        return self.daemon.port

    def client(self, timeout=30):
        return self.daemon.client(timeout)

    def get(self, path, headers=None, timeout=30):
        """One GET on a fresh connection, closed afterwards."""
        c = self.client(timeout)
        try:
            return c.get(path, headers=headers)
        finally:
            c.close()

    def sql(self, query):
        return psql(self.db_url, query)

    def stop(self, expect_code=0, keep_logs=False):
        try:
            return self.daemon.stop(expect_code=expect_code)
        finally:
            drop_database(self.db_name, self.admin)
            if not keep_logs:
                self.daemon.cleanup()


# ---- unittest glue ---------------------------------------------------------

_customer_ids = itertools.count(random.randrange(1, 1 << 40) * 1000)


def new_customer_id():
    """A customer id no other test in this database uses."""
    return next(_customer_ids)


def get_together(daemon, paths):
    """GETs every path at once from daemon (a Daemon, or anything with
    client()), each on a connection of its own so they arrive together;
    [(status, X-Cache, body)] in the order of paths."""

    def fetch(path):
        c = daemon.client()
        try:
            resp = c.get(path)
            return resp.status, resp.header("X-Cache"), resp.body
        finally:
            c.close()

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(paths)) as pool:
        return list(pool.map(fetch, paths))


def histogram_delta(before, after, name):
    """(observations, sum) a histogram gained between two metrics()."""
    return (after[f"{name}_count"] - before.get(f"{name}_count", 0),
            after[f"{name}_sum"] - before.get(f"{name}_sum", 0))


class StackTestCase(unittest.TestCase):
    """One Stack shared by the tests of a class; self.c is a keep-alive client."""

    stack_env = {}
    stack = None

    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(env=cls.stack_env).start()

    @classmethod
    def tearDownClass(cls):
        if cls.stack is not None:
            cls.stack.stop()

    def setUp(self):
        self.c = self.stack.client()
        self.addCleanup(self.c.close)
        self._errors_before = self._failure_count()

    def tearDown(self):
        if self._failure_count() > self._errors_before:
            sys.stderr.write(self.stack.daemon.output_tail(20) + "\n")

    def _failure_count(self):
        result = getattr(getattr(self, "_outcome", None), "result", None)
        if result is None:
            return 0
        return len(result.failures) + len(result.errors)

    # -- helpers shared by the test files --

    def create_order(self, client=None, **fields):
        body = {"customer_id": fields.pop("customer_id", None) or new_customer_id(), "total": "12.50"}
        body.update(fields)
        body = {k: v for k, v in body.items() if v is not None}  # total=None: let items decide
        resp = (client or self.c).post("/orders", json_body=body)
        self.assertEqual(resp.status, 201, resp)
        return resp.json()

    def assert_problem(self, resp, status, fields=None):
        """resp is an RFC 7807 problem with this status; returns its JSON."""
        self.assertEqual(resp.status, status, resp)
        ctype = (resp.header("Content-Type") or "").split(";")[0].strip().lower()
        self.assertEqual(ctype, "application/problem+json", resp)
        doc = resp.json()
        for key in ("type", "title", "status", "detail", "request_id"):
            self.assertIn(key, doc, resp)
        self.assertEqual(doc["status"], status, resp)
        self.assertIsInstance(doc["type"], str)
        self.assertIsInstance(doc["title"], str)
        self.assertIsInstance(doc["detail"], str)
        self.assertEqual(doc["request_id"], resp.header("X-Request-ID"), resp)
        if fields is not None:
            named = {e.get("field") for e in doc.get("errors", [])}
            for e in doc.get("errors", []):
                self.assertIsInstance(e.get("message"), str, resp)
                self.assertTrue(e.get("message"), resp)
            for field in fields:
                self.assertIn(field, named, f"no error names {field!r}: {resp}")
        return doc


def main():
    result = unittest.main(verbosity=2, exit=False).result
    if _contract_breaches:
        sys.stderr.write(f"\n{len(_contract_breaches)} answer(s) broke api/openapi.json:\n"
                         + "\n".join(_contract_breaches) + "\n")
        sys.exit(1)
    sys.exit(0 if result.wasSuccessful() else 1)
