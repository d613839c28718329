"""redis_util.py - private redis-server instances for the cache tests.

Each instance is a real redis-server on a free loopback port with no
persistence (orderd's cache protocol assumes a restarted Redis is empty),
so a test may kill, pause (SIGSTOP) or restart it without disturbing
anyone else.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from harness import free_port


def redis_server_path():
    path = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.path.exists(path):
        raise RuntimeError("redis-server is not installed (scripts/deps installs it)")
    return path


class RedisInstance:
    """host is where it listens and is asked; netlab.LabRedis overrides it
    and server_command() to run the server inside a network namespace."""

    host = "127.0.0.1"

    def __init__(self):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="orderd-redis.")
        self.proc = None

    @property
    def url(self):
        return f"redis://{self.host}:{self.port}"

    def server_command(self):
        return [redis_server_path(), "--port", str(self.port), "--bind", self.host,
                "--save", "", "--appendonly", "no", "--dir", self.dir,
                "--logfile", os.path.join(self.dir, "redis.log")]

    def start(self, timeout=10):
        self.proc = subprocess.Popen(self.server_command(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.command("PING") == "PONG":
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def kill(self):
        """SIGKILL: Redis and everything it held are gone at once."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def pause(self):
        """SIGSTOP: unreachable (commands time out) but its data survives."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def restart(self):
        """Kills it (if running) and starts an empty one on the same port."""
        self.kill()
        return self.start()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def command(self, *args, timeout=2.0):
        """Sends one command in RESP and returns the decoded reply."""
        payload = f"*{len(args)}\r\n".encode()
        for a in args:
            b = str(a).encode()
            payload += f"${len(b)}\r\n".encode() + b + b"\r\n"
        with socket.create_connection((self.host, self.port), timeout=timeout) as s:
            s.sendall(payload)
            f = s.makefile("rb")
            return _read_reply(f)


def _read_reply(f):
    line = f.readline()
    if not line:
        raise OSError("redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RuntimeError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        return data.decode(errors="replace")
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_read_reply(f) for _ in range(n)]
    raise RuntimeError(f"unexpected redis reply {line!r}")


class TcpProxy:
    """A loopback TCP forwarder that a test can cut, like a network partition.

    While cut, every open connection is closed and new ones are closed at
    once, so nothing sent reaches the server — unlike SIGSTOP, where bytes
    already sent still run when the server wakes up.  The server keeps its
    data throughout.

    subscriber_delay_s holds back what Redis sends on a connection that has
    sent SUBSCRIBE (a daemon's invalidation subscriber), after the
    subscription's own reply, by that long, so a
    test can show what holds without client-tracking messages arriving in
    time: they are neither on the daemon's socket (its gate sees nothing
    pending) nor applied.
    """

    def __init__(self, target_port, subscriber_delay_s=0.0):
        import threading
        self.target_port = target_port
        self.subscriber_delay_s = subscriber_delay_s
        self.port = free_port()
        self.cut = False
        self.lock = threading.Lock()
        self.conns = []
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.listener.settimeout(0.2)
        self.running = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}"

    def _accept(self):
        import threading
        while self.running:
            try:
                client, _ = self.listener.accept()
            except OSError:
                continue
            if self.cut:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns += [client, upstream]
            subscriber = threading.Event()  # set once the client sent SUBSCRIBE
            threading.Thread(target=self._pump, args=(client, upstream, subscriber, None),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, None, subscriber),
                             daemon=True).start()

    def _pump(self, src, dst, marks=None, delayed_when=None):
        import time
        confirmed = False  # the SUBSCRIBE's own reply goes through at once
        try:
            while True:
                data = src.recv(65536)
                if not data or self.cut:
                    break
                if marks is not None and b"SUBSCRIBE" in data.upper():
                    marks.set()
                if delayed_when is not None and delayed_when.is_set() and self.subscriber_delay_s:
                    if confirmed:
                        time.sleep(self.subscriber_delay_s)
                    confirmed = True
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def partition(self):
        self.cut = True
        with self.lock:
            conns, self.conns = self.conns, []
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def heal(self):
        self.cut = False

    def close(self):
        self.running = False
        self.partition()
        self.listener.close()
        self.thread.join(5)
