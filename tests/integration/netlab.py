"""netlab.py - a few "hosts" on one machine, each in its own network
namespace on one Linux bridge, so multi-host tests see real distance,
loss and partitions instead of 127.0.0.1, where an invalidation always
arrives before the next request.

Python 3 standard library only; needs root, iproute2, nftables and iptables
(`scripts/deps test` installs them).  docs/NETLAB.md has the picture and
how to drive a lab by hand (`python3 -i`, or `python3 netlab.py up`).

  root namespace: this process, the client.  Bridge <lab>b = 198.18.X.1/24
    veth <lab>v<i> (bridge end)  <->  eth0 in namespace <lab>-<host>,
                                       198.18.X.(10+i)/24, lo up

  <lab> = odl<pid>_<n>: every name starts with NAME_PREFIX and carries the
  owning pid, so remove_leftovers() can tell a dead run's lab from a live
  one's.  X is one /24 of 198.18.0.0/15 (RFC 2544), picked from the pid
  and skipped while any interface here already uses it.

Delay.  This kernel has no sch_netem (`tc qdisc add ... netem` says
"Specified qdisc kind is unknown"; CONFIG_NET_SCH_NETEM is not set), nor
nft's queue statement (CONFIG_NFT_QUEUE), but it has NFQUEUE through
iptables-nft.  So a delay is packet level and lives inside the delayed
host's namespace: iptables sends its OUTPUT (leaving the host) and INPUT
(arriving) packets to an NFQUEUE, and a small delayer process in that
namespace (nfqueue_delay.py) accepts each packet `ms` after
it was queued, in order.  Both directions get the delay: a round trip
through a host delayed by D ms takes 2 D longer.  --queue-bypass: with no
delayer bound, packets pass undelayed rather than vanish.

Loss and partitions are nft rules in the host's namespace (table inet
netlab, hooks input/output, priority -10 so they run before the delay
queue): a partition drops everything to and from one peer; loss drops a
random pct of packets (numgen random).
"""

import itertools
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time

import harness
from harness import Daemon, PgInstance, _die_with_parent, migrate, psql, psql_path, with_database
from redis_util import RedisInstance

NAME_PREFIX = "odl"
NAME_RE = re.compile(r"^odl(\d+)_\d+")
IFNAME_MAX = 15
NET_BASE = (198, 18)      # 198.18.0.0/15: 512 /24s
NET_COUNT = 512
HOST_OFFSET = 10          # host i gets .(10 + i)
PG_PORT = 5432
REDIS_PORT = 6379
ORDERD_PORT = 8080
COMMAND_TIMEOUT_S = 30
TEARDOWN_TIMEOUT_S = 10

_lab_counter = itertools.count(1)


def _run(cmd, check=True, timeout=COMMAND_TIMEOUT_S, input_text=None):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input_text)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def _pid_alive(pid):
    """True while pid runs; a zombie waiting for its reaper counts as gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def require_tools():
    missing = [t for t in ("ip", "nft", "iptables") if not shutil.which(t)]
    if missing:
        raise RuntimeError(f"netlab needs {', '.join(missing)}: run scripts/deps test")
    if os.geteuid() != 0:
        raise RuntimeError("netlab needs root (network namespaces)")


def _netns_names():
    out = _run(["ip", "netns", "list"], check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _link_names():
    out = _run(["ip", "-o", "link", "show"], check=False).stdout
    names = []
    for line in out.splitlines():
        parts = line.split(":", 2)
        if len(parts) >= 2:
            names.append(parts[1].strip().split("@")[0])
    return names


def _kill_namespace_processes(ns):
    """SIGKILLs what still runs in ns: only this module's processes live there."""
    out = _run(["ip", "netns", "pids", ns], check=False).stdout
    for pid in (int(p) for p in out.split() if p.isdigit()):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _remove_namespace(ns):
    _kill_namespace_processes(ns)
    _run(["ip", "netns", "delete", ns], check=False)


def remove_leftovers():
    """Removes namespaces and links of labs whose owning process is gone.

    Labs of live processes (another test running right now) are left alone.
    Returns the names removed.
    """
    removed = []
    for ns in _netns_names():
        m = NAME_RE.match(ns)
        if m and not _pid_alive(int(m.group(1))):
            _remove_namespace(ns)
            removed.append(ns)
    for link in _link_names():
        m = NAME_RE.match(link)
        if m and not _pid_alive(int(m.group(1))):
            _run(["ip", "link", "delete", link], check=False)
            removed.append(link)
    return removed


def _used_ipv4_networks():
    out = _run(["ip", "-o", "-4", "addr", "show"], check=False).stdout
    used = set()
    for m in re.finditer(r"inet (\d+)\.(\d+)\.(\d+)\.\d+/", out):
        used.add(tuple(int(x) for x in m.groups()))
    return used


def _pick_network(seed):
    used = _used_ipv4_networks()
    for step in range(NET_COUNT):
        k = (seed + step) % NET_COUNT
        net = (NET_BASE[0], NET_BASE[1] + k // 256, k % 256)
        if net not in used:
            return ".".join(str(x) for x in net)
    raise RuntimeError("no free /24 left in 198.18.0.0/15")


# ---- the lab ---------------------------------------------------------------

class Lab:
    """A bridge and one network namespace per host; see the module doc."""

    def __init__(self, hosts):
        require_tools()
        remove_leftovers()
        self.hosts = list(hosts)
        if len(self.hosts) > 9:
            raise ValueError("at most 9 hosts: interface names must stay within 15 characters")
        self.name = f"{NAME_PREFIX}{os.getpid()}_{next(_lab_counter)}"
        self.bridge = f"{self.name}b"
        self.net = _pick_network(os.getpid())
        self.client_address = f"{self.net}.1"
        self._veths = {h: f"{self.name}v{i}" for i, h in enumerate(self.hosts)}
        self._addresses = {h: f"{self.net}.{HOST_OFFSET + i}" for i, h in enumerate(self.hosts)}
        for name in [self.bridge] + list(self._veths.values()):
            assert len(name) <= IFNAME_MAX, name
        self._delays = {}      # (host, peer|None) -> ms
        self._losses = {}      # (host, peer|None) -> pct
        self._partitions = set()  # (host, peer)
        self._delayers = {}    # host -> Popen
        self._queues = {}      # (host, peer|None) -> queue number
        self.closed = False
        harness._cleanups.append(self.close)
        try:
            self._build()
        except Exception:
            self.close()
            raise

    # -- names --

    def namespace(self, host):
        return f"{self.name}-{host}"

    def address(self, host):
        return self._addresses[host]

    @property
    def network(self):
        return f"{self.net}.0/24"

    def netns_cmd(self, host):
        """The prefix that runs a command inside host's namespace."""
        return ["ip", "netns", "exec", self.namespace(host)]

    def run(self, host, cmd, check=True, timeout=COMMAND_TIMEOUT_S, input_text=None):
        return _run(self.netns_cmd(host) + list(cmd), check=check, timeout=timeout, input_text=input_text)

    def _build(self):
        _run(["ip", "link", "add", self.bridge, "type", "bridge"])
        _run(["ip", "link", "set", self.bridge, "up"])
        _run(["ip", "addr", "add", f"{self.client_address}/24", "dev", self.bridge])
        _run(["sysctl", "-q", "-w", f"net.ipv6.conf.{self.bridge}.disable_ipv6=1"], check=False)
        for host in self.hosts:
            ns, veth = self.namespace(host), self._veths[host]
            _run(["ip", "netns", "add", ns])
            _run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns])
            _run(["sysctl", "-q", "-w", f"net.ipv6.conf.{veth}.disable_ipv6=1"], check=False)
            _run(["ip", "link", "set", veth, "master", self.bridge, "up"])
            self.run(host, ["sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"], check=False)
            _run(["ip", "-n", ns, "link", "set", "lo", "up"])
            _run(["ip", "-n", ns, "addr", "add", f"{self.address(host)}/24", "dev", "eth0"])
            _run(["ip", "-n", ns, "link", "set", "eth0", "up"])

    # -- delay (NFQUEUE + delayer) --

    def _delayer(self, host):
        proc = self._delayers.get(host)
        if proc is None or proc.poll() is not None:
            delayer = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nfqueue_delay.py")
            proc = subprocess.Popen(self.netns_cmd(host) + [sys.executable, "-u", delayer],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, preexec_fn=_die_with_parent)
            self._delayers[host] = proc
        return proc

    def _tell_delayer(self, host, queue, ms):
        proc = self._delayer(host)
        proc.stdin.write(f"delay {queue} {ms}\n".encode())
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], COMMAND_TIMEOUT_S)
        if not ready or proc.stdout.readline().strip() != b"ok":
            raise RuntimeError(f"the delayer in {self.namespace(host)} did not answer")

    def _queue_rules(self, host, peer, queue):
        match_out = ["-d", self.address(peer) if peer else self.network]
        match_in = ["-s", self.address(peer) if peer else self.network]
        target = ["-j", "NFQUEUE", "--queue-num", str(queue), "--queue-bypass"]
        return [("OUTPUT", match_out + target), ("INPUT", match_in + target)]

    def set_delay(self, host, ms, peer=None):
        """Delays host's packets by ms each way: all of them, or only those to
        and from peer (a per-peer delay takes precedence over the host's)."""
        key = (host, peer)
        if peer is not None and peer not in self._addresses:
            raise KeyError(peer)
        if ms <= 0:
            if key in self._delays:
                queue = self._queues[key]
                for chain, rule in self._queue_rules(host, peer, queue):
                    self.run(host, ["iptables", "-w", "-D", chain] + rule, check=False)
                del self._delays[key]
            return
        if key not in self._queues:
            self._queues[key] = 1 + len(self._queues)
        queue = self._queues[key]
        self._tell_delayer(host, queue, ms)
        if key not in self._delays:
            for chain, rule in self._queue_rules(host, peer, queue):
                # per-peer rules go first: the first NFQUEUE match decides
                where = ["-I", chain, "1"] if peer else ["-A", chain]
                self.run(host, ["iptables", "-w"] + where + rule)
        self._delays[key] = ms

    # -- loss and partitions (nft) --

    def set_loss(self, host, pct, peer=None):
        """Drops pct percent of host's packets, each way (all, or to/from peer)."""
        if pct <= 0:
            self._losses.pop((host, peer), None)
        else:
            self._losses[(host, peer)] = int(pct)
        self._apply_filter(host)

    def partition(self, host, peer):
        """Drops everything between host and peer (rules in host's namespace)."""
        self._partitions.add((host, peer))
        self._apply_filter(host)

    def heal(self, host, peer=None):
        """Ends host's partition from peer, or all of host's partitions."""
        self._partitions = {(h, p) for h, p in self._partitions if not (h == host and peer in (None, p))}
        self._apply_filter(host)

    def _apply_filter(self, host):
        rules_in, rules_out = [], []
        for h, peer in sorted(self._partitions):
            if h == host:
                rules_in.append(f"ip saddr {self.address(peer)} drop")
                rules_out.append(f"ip daddr {self.address(peer)} drop")
        for (h, peer), pct in sorted(self._losses.items(), key=lambda kv: str(kv[0])):
            if h == host:
                target = self.address(peer) if peer else self.network
                rules_in.append(f"ip saddr {target} numgen random mod 100 < {pct} drop")
                rules_out.append(f"ip daddr {target} numgen random mod 100 < {pct} drop")
        script = "table inet netlab {}\ndelete table inet netlab\n"
        if rules_in:
            script += ("table inet netlab {\n"
                       "  chain input { type filter hook input priority -10; policy accept;\n    "
                       + "\n    ".join(rules_in) + "\n  }\n"
                       "  chain output { type filter hook output priority -10; policy accept;\n    "
                       + "\n    ".join(rules_out) + "\n  }\n}\n")
        self.run(host, ["nft", "-f", "-"], input_text=script)

    def reset_network(self):
        """No delay, no loss, no partition anywhere."""
        for host, peer in list(self._delays):
            self.set_delay(host, 0, peer)
        touched = {h for h, _ in self._losses} | {h for h, _ in self._partitions}
        self._losses.clear()
        self._partitions.clear()
        for host in touched:
            self._apply_filter(host)

    def describe(self):
        parts = [f"{k[0]}<->{k[1] or 'all'} +{v} ms" for k, v in self._delays.items()]
        parts += [f"{k[0]}<->{k[1] or 'all'} {v}% loss" for k, v in self._losses.items()]
        parts += [f"{h} cut from {p}" for h, p in sorted(self._partitions)]
        return ", ".join(parts) or "no faults"

    def tcp_rtt_ms(self, host, peer, port, samples=15):
        """Median TCP connect time (one round trip) from host to peer:port."""
        code = ("import socket,statistics,sys,time\n"
                "addr=(sys.argv[1],int(sys.argv[2]));out=[]\n"
                "for _ in range(int(sys.argv[3])):\n"
                "  t=time.monotonic();s=socket.create_connection(addr,timeout=5)\n"
                "  out.append((time.monotonic()-t)*1000);s.close()\n"
                "print(statistics.median(out))\n")
        proc = self.run(host, [sys.executable, "-c", code, self.address(peer), str(port), str(samples)])
        return float(proc.stdout.strip())

    # -- teardown --

    def close(self):
        if self.closed:
            return
        self.closed = True
        for proc in self._delayers.values():
            try:
                proc.stdin.close()
                proc.wait(timeout=TEARDOWN_TIMEOUT_S)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait()
        for host in self.hosts:
            _remove_namespace(self.namespace(host))
            # A namespace outlives its name while a socket in it still
            # retransmits (after loss, say); deleting our veth end takes
            # the pair off the bridge at once all the same.
            _run(["ip", "link", "delete", self._veths[host]], check=False)
        _run(["ip", "link", "delete", self.bridge], check=False)


# ---- services inside the lab ---------------------------------------------

class LabPostgres(PgInstance):
    """harness.PgInstance inside the "pg" host, trusting the lab's /24."""

    def __init__(self, lab, host="pg"):
        self.lab, self.lab_host = lab, host
        super().__init__()
        self.port = PG_PORT
        with open(os.path.join(self.data, "pg_hba.conf"), "a") as f:
            f.write(f"host all all {lab.network} trust\n")

    def _cmd(self, args):
        return self.lab.netns_cmd(self.lab_host) + super()._cmd(args)

    def _opts(self):
        return (f"-c listen_addresses={self.lab.address(self.lab_host)} -c port={self.port} "
                f"-c unix_socket_directories={self.dir} -c fsync=on -c max_connections=100")

    @property
    def url(self):
        return f"postgres://postgres@{self.lab.address(self.lab_host)}:{self.port}/postgres"


class LabRedis(RedisInstance):
    """redis_util.RedisInstance inside the "redis" host."""

    def __init__(self, lab, host="redis"):
        self.lab, self.lab_host = lab, host
        super().__init__()
        self.host = lab.address(host)
        self.port = REDIS_PORT

    def server_command(self):
        return self.lab.netns_cmd(self.lab_host) + super().server_command() + ["--protected-mode", "no"]


class Replica(Daemon):
    """harness.Daemon inside its own host, listening on that host's address."""

    def __init__(self, lab, name, env):
        self.lab, self.name = lab, name
        self.host = lab.address(name)
        super().__init__(env={"ORDERD_LISTEN": f"{self.host}:{ORDERD_PORT}", **env}, port=ORDERD_PORT)

    def command(self):
        return self.lab.netns_cmd(self.name) + super().command()

    def readyz(self, timeout=2):
        """(status, JSON body or None) of one GET /readyz, or (None, None)."""
        c = self.client(timeout=timeout)
        try:
            resp = c.get("/readyz")
            try:
                return resp.status, resp.json()
            except ValueError:
                return resp.status, None
        except OSError:
            return None, None
        finally:
            c.close()

    def wait_ready(self, timeout=30):
        """Polls /readyz like a load balancer until 200; returns its JSON."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"orderd {self.name} exited with {self.proc.returncode}:\n{self.output_tail()}")
            status, body = self.readyz()
            if status == 200:
                return body or {}
            time.sleep(0.01)
        raise RuntimeError(f"orderd {self.name} not ready after {timeout} s:\n{self.output_tail()}")


class SqlSession:
    """One psql kept open, so a statement costs one round trip and the
    moment it returns is the moment PostgreSQL answered."""

    MARK = "__netlab_done__"

    def __init__(self, url):
        self.proc = subprocess.Popen([psql_path(), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", url],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     preexec_fn=_die_with_parent)
        self.buf = b""

    def query(self, sql, timeout=10):
        """Runs sql (one statement); returns its output lines."""
        self.proc.stdin.write(f"{sql.rstrip(';')};\n\\echo {self.MARK}\n".encode())
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        mark = f"{self.MARK}\n".encode()
        while mark not in self.buf:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.proc.stdout], [], [], max(0.0, left))
            if not ready:
                raise TimeoutError(f"psql did not answer {sql!r} within {timeout} s")
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise RuntimeError(f"psql ended on {sql!r}: {self.proc.stderr.read().decode(errors='replace')}")
            self.buf += chunk
        out, self.buf = self.buf.split(mark, 1)
        return [line for line in out.decode().splitlines() if line]

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
            try:
                self.proc.wait(timeout=TEARDOWN_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdout, self.proc.stderr):
            f.close()


class OrderdLab:
    """PostgreSQL, Redis and orderd replicas, each on its own lab host.

    The replicas use the pg host for db_url and the redis host for
    redis_url, with the hot cache on (the default).  They are created, not
    started: start() / start_all().
    """

    def __init__(self, replicas=("a", "b"), env=None):
        self.lab = Lab(["pg", "redis"] + list(replicas))
        try:
            self.pg = LabPostgres(self.lab).start()
            self.db_url = with_database(self.pg.url, "orderd")
            psql(self.pg.url, "CREATE DATABASE orderd")
            migrate(self.db_url)
            self.redis = LabRedis(self.lab).start()
            # Redis timeouts for a replica that is not on Redis's host: the
            # defaults (50 ms) suit loopback, while here a delayed replica
            # is 10 ms away through a user-space delayer that waits for the
            # same two CPUs as the rest of the suite.  With 50 ms its
            # breaker opened under load, and a replica that bypasses Redis
            # does not exercise the caches the scenarios are about.
            base = {"ORDERD_DB_URL": self.db_url, "ORDERD_REDIS_URL": self.redis.url,
                    "ORDERD_REDIS_PROBE_INTERVAL_MS": "100", "ORDERD_REDIS_COMMAND_TIMEOUT_MS": "250",
                    "ORDERD_REDIS_CONNECT_TIMEOUT_MS": "250", **(env or {})}
            self.replicas = {name: Replica(self.lab, name, base) for name in replicas}
        except Exception:
            self.close()
            raise

    def __getitem__(self, name):
        return self.replicas[name]

    def start(self, *names, wait_ready=True):
        """Starts the named replicas at once; with wait_ready, returns
        {name: /readyz JSON} once every one of them answers 200."""
        for name in names:
            self.replicas[name].start(wait=False)
        if not wait_ready:
            return {}
        return {name: self.replicas[name].wait_ready() for name in names}

    def stop(self, name, sig=signal.SIGTERM, expect_code=0):
        return self.replicas[name].stop(sig=sig, expect_code=expect_code)

    def kill(self, name):
        """SIGKILL: no drain, no goodbye."""
        return self.replicas[name].stop(sig=signal.SIGKILL, expect_code=None)

    def restart(self, name):
        self.stop(name)
        return self.start(name)

    def restart_pg(self):
        """pg_ctl restart -m fast inside the pg host: every connection drops."""
        self.pg.restart("fast")

    def restart_redis(self):
        """SIGKILL and a fresh, empty redis-server on the same address."""
        self.redis.restart()

    def sql(self, query):
        return psql(self.db_url, query)

    def sql_session(self):
        return SqlSession(self.db_url)

    def close(self):
        """Stops everything (replicas with SIGKILL: a test checks its own
        clean stops) and removes the lab; safe to call twice."""
        for replica in getattr(self, "replicas", {}).values():
            if replica.alive():
                replica.stop(sig=signal.SIGKILL, expect_code=None)
            replica.cleanup()
        if getattr(self, "redis", None):
            self.redis.stop()
        if getattr(self, "pg", None):
            self.pg.destroy()
        self.lab.close()


def _up(args):
    """`netlab.py up [replica...]`: a lab to poke at by hand until Ctrl-C."""
    stack = OrderdLab(replicas=args or ("a", "b"))
    try:
        stack.start(*stack.replicas)
        info = {"client": stack.lab.client_address, "db_url": stack.db_url, "redis_url": stack.redis.url,
                "replicas": {n: f"http://{r.host}:{r.port}" for n, r in stack.replicas.items()},
                "namespaces": {h: stack.lab.namespace(h) for h in stack.lab.hosts}}
        print(json.dumps(info, indent=2), flush=True)
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        stack.close()


def main(argv):
    if argv[:1] == ["cleanup"]:
        for name in remove_leftovers():
            print(f"removed {name}")
    elif argv[:1] == ["up"]:
        _up(argv[1:])
    else:
        sys.stderr.write("usage: netlab.py cleanup | up [replica...]\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
