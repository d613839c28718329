"""test_consistency_net.py - no stale read beyond the bound, across hosts
that are really apart (tests/integration/netlab.py; docs/NETLAB.md).

On 127.0.0.1 an invalidation always lands before the next request; here
PostgreSQL, Redis and each orderd replica sit in their own network
namespace, with per-host delay, partitions and restarts.  Every scenario
prints one line of counts (net_probe.Tally.line) and fails on any stale
read the contract does not allow:

  1 distance   a 0.2 ms from Redis, b 5 ms (each way); write a, read b:
               stale only within BOUND_MS.
  2 start-up   both replicas started at once, rounds both ways as soon as
               both answer /readyz 200, ten times (with a plain SQL write
               while they are down): no stale read at all.
  3 partition  a cut off from Redis while writes go through a; read b:
               stale only within BOUND_MS; after healing, both serve the
               latest versions.
  4 sql        plain UPDATE / DELETE in PostgreSQL: every replica shows it
               within BOUND_MS.
  5 faults     Redis restarted during rounds; PostgreSQL restarted (with a
               SQL write while the listeners reconnect); a replica
               SIGKILLed during writes (every 2xx write is in PostgreSQL).
  6 no-cache   in every round of every scenario, a GET with
               Cache-Control: no-cache (or max-age=0): never stale.

Every read of an order is followed by a read of its customer's list page
(net_probe.py), held to the same bound and counted in the same stale
reads; the line prints the list's own counts (list_reads, list_stale,
list_lag_ms_p50/p99, list_primed) beside them.

    ORDERD_BIN=build/orderd python3 -u tests/integration/test_consistency_net.py [-k distance]
"""

import sys
import threading
import time
import unittest

import net_probe
from harness import main
from net_probe import BOUND_MS, Prober, Tally, in_thread, lag_metric_p99
from netlab import REDIS_PORT, OrderdLab

FAR_MS = 5.0    # b <-> redis, each way
NEAR_MS = 0.2   # a <-> redis, each way
RECONNECT_DEADLINE_S = 5.0  # a write made while the listeners reconnect is seen by then

# (seconds, max rounds, min rounds) per scenario: bounded by time and count
DISTANCE = (25.0, 2000, 200)
PARTITION = (12.0, 1000, 40)
SQL = (15.0, 600, 40)
FAULT_WARMUP_ROUNDS = 200    # rounds before a fault
FAULT_AFTER_S = 3.0          # rounds go on this long after it
FAULT_MAX_SECONDS, FAULT_MAX_ROUNDS, FAULT_MIN_ROUNDS_AFTER = 30.0, 2000, 30
KILL = (1.5, 20)  # seconds of writes before the SIGKILL, min acknowledged writes
STARTUP_CYCLES, STARTUP_SECONDS = 10, 60.0
STARTUP_ROUND_SECONDS, STARTUP_MAX_ROUNDS, STARTUP_MIN_ROUNDS = 1.0, 150, 200
READY_TIMEOUT_S = 20.0
PROBE_ORDER = ("lag", "nocache")


def probe_for(i):
    return PROBE_ORDER[i % len(PROBE_ORDER)]


def wait_settled(replica, timeout=READY_TIMEOUT_S):
    """/readyz 200 with Redis "up" (the breaker starts open); returns the body."""
    deadline = time.monotonic() + timeout
    body = {}
    while time.monotonic() < deadline:
        status, body = replica.readyz()
        if status == 200 and body and body.get("redis") == "up":
            return body
        time.sleep(0.02)
    raise AssertionError(f"replica {replica.name} not ready with redis up after {timeout} s: {body}")


class NetCase(unittest.TestCase):
    """One OrderdLab for the class; every test starts from a quiet network
    with both replicas running, ready and using Redis."""

    replicas = ("a", "b")
    start_replicas = True
    stack = None

    @classmethod
    def setUpClass(cls):
        cls.stack = OrderdLab(cls.replicas)
        if cls.start_replicas:
            cls.stack.start(*cls.replicas)

    @classmethod
    def tearDownClass(cls):
        if cls.stack is None:
            return
        try:
            for name, replica in cls.stack.replicas.items():
                if replica.alive():
                    cls.stack.stop(name)  # exit 0 and no sanitizer report, or this raises
        finally:
            cls.stack.close()

    def setUp(self):
        self.stack.lab.reset_network()
        self.ready = {}
        if self.start_replicas:
            for name, replica in self.stack.replicas.items():
                if not replica.alive():
                    self.stack.start(name)
                self.ready[name] = wait_settled(replica)
        self.probers = []
        self._problems_before = self._problem_count()

    def tearDown(self):
        for p in self.probers:
            p.close()
        if self._problem_count() > self._problems_before:
            for replica in self.stack.replicas.values():
                if replica.proc is not None:
                    sys.stderr.write(replica.output_tail(15) + "\n")

    def _problem_count(self):
        result = getattr(getattr(self, "_outcome", None), "result", None)
        return 0 if result is None else len(result.failures) + len(result.errors)

    def prober(self, name):
        p = Prober(self.stack, Tally(name))
        self.probers.append(p)
        return p

    def report(self, tally, **extra):
        """Prints the scenario's one line, with what the daemons say of themselves."""
        tally.extra.update(extra)
        for name, replica in self.stack.replicas.items():
            tally.extra[f"lag_metric_p99_{name}"] = lag_metric_p99(replica) if replica.alive() else "down"
            state = self.ready.get(name, {}).get("invalidation", "absent")
            tally.extra[f"readyz_invalidation_{name}"] = state
        print("\n" + tally.line(), flush=True)

    def assert_within_bound(self, tally, min_rounds):
        ages = ", ".join(f"{a:.0f}" for a in sorted(tally.beyond)[-10:])
        self.assertEqual(len(tally.beyond), 0, f"stale reads beyond {BOUND_MS:g} ms (oldest ages, ms: {ages}); "
                         f"first ones: {'; '.join(tally.beyond_samples)}")
        self.assertEqual(tally.failed_rounds, 0, f"writes not visible within {net_probe.LAG_DEADLINE_S:g} s")
        self.assertEqual(tally.nocache_stale, 0, "no-cache GETs served stale")
        self.assertGreaterEqual(tally.rounds, min_rounds, "too few rounds to mean anything")

    def assert_lists_cached(self, tally, who):
        """The list reads meant something: the pages were cached before
        the writes (the rounds also prove they were read fresh after)."""
        self.assertGreater(tally.list_reads, 0)
        self.assertGreaterEqual(tally.list_primed, tally.list_primable // 2, f"{who} rarely had the list page cached")


class SteadyNetwork(NetCase):
    def test_1_distance_stale_only_within_the_bound(self):
        lab = self.stack.lab
        lab.set_delay("a", NEAR_MS, peer="redis")
        lab.set_delay("b", FAR_MS, peer="redis")
        rtt_a = lab.tcp_rtt_ms("a", "redis", REDIS_PORT)
        rtt_b = lab.tcp_rtt_ms("b", "redis", REDIS_PORT)
        self.assertGreater(rtt_b, 2 * FAR_MS * 0.8, "the delay to Redis is not in force")
        seconds, max_rounds, min_rounds = DISTANCE
        p = self.prober("1 distance a->b")
        state, i = None, 0
        while not p.done(seconds, max_rounds):
            state = p.api_round(state, "a", "b", probe_for(i))
            i += 1
        self.report(p.tally, rtt_ms_a_redis=f"{rtt_a:.2f}", rtt_ms_b_redis=f"{rtt_b:.2f}")
        self.assert_within_bound(p.tally, min_rounds)
        self.assertGreaterEqual(p.tally.primed, p.tally.primable // 2, "b rarely had the order cached")
        self.assert_lists_cached(p.tally, "b")

    def test_3_partition_from_redis(self):
        lab = self.stack.lab
        seconds, max_rounds, min_rounds = PARTITION
        p = self.prober("3 partition a|redis, read b")
        state = None
        for i in range(3):  # orders b has cached before the cut
            state = p.api_round(state, "a", "b", probe_for(i))
        lab.partition("a", "redis")
        deadline = time.monotonic() + 5
        while (self.stack["a"].readyz()[1] or {}).get("redis") == "up":
            self.assertLess(time.monotonic(), deadline, "a still reaches Redis: the partition did not take")
            state = p.api_round(state, "a", "b", "lag")  # a notices on its next Redis command
        known, i = {}, 0
        while not p.done(seconds, max_rounds):
            state = p.api_round(state, "a", "b", probe_for(i))
            if state is not None:
                known[state.id] = state
            i += 1
        lab.heal("a")
        for name in self.replicas:
            self.ready[name] = wait_settled(self.stack[name])
        healed = Tally("3 after heal")
        checker = Prober(self.stack, healed)
        self.probers.append(checker)
        for order in list(known.values())[-30:]:
            for name in self.replicas:
                checker.read(name, order)
                checker.nocache_read(name, order)
        self.report(p.tally, after_heal_reads=healed.reads, after_heal_stale=len(healed.stale_ages),
                    after_heal_nocache_stale=healed.nocache_stale, after_heal_errors=healed.errors)
        self.assert_within_bound(p.tally, min_rounds)
        self.assertGreaterEqual(p.tally.primed, p.tally.primable // 2, "b rarely had the order cached")
        self.assert_lists_cached(p.tally, "b")
        self.assertEqual((len(healed.stale_ages), healed.nocache_stale), (0, 0),
                         "after healing, a replica served an old version")
        self.assertGreater(healed.reads, 0)

    def test_4_sql_writes_reach_every_replica(self):
        seconds, max_rounds, min_rounds = SQL
        p = self.prober("4 sql writes, read a+b")
        session = self.stack.sql_session()
        self.addCleanup(session.close)
        i = 0
        while not p.done(seconds, max_rounds):
            state, ok = p.api_write("a", None)
            self.assertTrue(ok, "POST through a failed")
            while not state.gone and not p.done(seconds, max_rounds):
                state = p.sql_round(session, state, list(self.replicas), probe_for(i))
                i += 1
        self.report(p.tally)
        self.assert_within_bound(p.tally, min_rounds)
        self.assertGreaterEqual(p.tally.primed, p.tally.primable // 2, "the replicas rarely had the order cached")
        self.assert_lists_cached(p.tally, "the replicas")


class StartUp(NetCase):
    start_replicas = False

    def test_2_rounds_right_after_readyz_are_never_stale(self):
        """Besides the rounds, one order ("parked") is changed in SQL while
        no replica runs, so Redis still holds the old version; it is read
        in every round of the next cycle.  What start-up must never show
        is the parked order's old version: no stale read of it at all.
        The rounds are ordinary writes through one fresh replica read
        through the other, held to the bound of normal operation (the
        notification may still be on its way when the reader asks)."""
        p = self.prober("2 start-up, both ways")
        parked_probe = self.prober("2 parked (changed while down)")
        session = self.stack.sql_session()
        self.addCleanup(session.close)
        state, parked, down_writes, cycles, ready_ms = None, None, 0, 0, []
        started = time.monotonic()
        while cycles < STARTUP_CYCLES and time.monotonic() - started < STARTUP_SECONDS:
            if parked is not None:
                parked = p.sql_write(session, parked)
                down_writes += 1
            t0 = time.monotonic()
            self.ready = self.stack.start(*self.replicas)  # at once; then /readyz 200 on both
            ready_ms.append((time.monotonic() - t0) * 1000)
            cycle_start, i = time.monotonic(), 0
            while not p.done(STARTUP_ROUND_SECONDS, STARTUP_MAX_ROUNDS * (cycles + 1), since=cycle_start):
                writer, reader = ("a", "b") if i % 2 == 0 else ("b", "a")
                if parked is not None:
                    parked_probe.read(reader, parked)
                    parked_probe.read(reader, parked, view="list")
                state = p.api_round(state, writer, reader, probe_for(i // 2))
                i += 1
            if parked is None or parked.gone:
                parked, _ = p.api_write("a", None)
            for name in self.replicas:  # Redis must hold it when the replicas go
                p.pre_read(name, parked)
            p.close()
            parked_probe.close()
            for name in self.replicas:
                self.stack.stop(name)
            cycles += 1
        parked = parked_probe.tally
        self.report(p.tally, cycles=cycles, sql_writes_while_down=down_writes,
                    ready_ms_max=f"{max(ready_ms):.0f}", parked_reads=parked.reads,
                    parked_list_reads=parked.list_reads, parked_stale=len(parked.stale_ages),
                    parked_list_stale=parked.list_stale, parked_errors=parked.errors)
        self.assertEqual(len(parked.stale_ages), 0,
                         f"a change made while no replica ran was served stale after /readyz said 200: "
                         f"{'; '.join(parked.stale_samples)}")
        self.assertEqual(parked.errors, 0, "reads of the parked order failed")
        self.assertGreater(parked.reads, 0)
        self.assertGreaterEqual(cycles, STARTUP_CYCLES // 2, "too few start-up cycles")
        self.assert_within_bound(p.tally, STARTUP_MIN_ROUNDS)


class Faults(NetCase):
    def rounds_around(self, p, fault, max_rounds):
        """Rounds (write a, read b) in a thread; fault() here once
        FAULT_WARMUP_ROUNDS are done; then FAULT_AFTER_S more seconds."""
        stop = threading.Event()

        def rounds():
            state, i = None, 0
            while not stop.is_set() and not p.done(FAULT_MAX_SECONDS, max_rounds):
                state = p.api_round(state, "a", "b", probe_for(i))
                i += 1

        join = in_thread(rounds)
        deadline = time.monotonic() + FAULT_MAX_SECONDS
        while p.tally.rounds < FAULT_WARMUP_ROUNDS and time.monotonic() < deadline:
            time.sleep(0.01)
        at_fault = p.tally.rounds
        fault()  # processes start in this thread: their PDEATHSIG is tied to it
        time.sleep(FAULT_AFTER_S)
        stop.set()
        join()
        return at_fault

    def test_5a_redis_restarted_during_rounds(self):
        p = self.prober("5a redis restart, a->b")
        at_fault = self.rounds_around(p, self.stack.restart_redis, FAULT_MAX_ROUNDS)
        self.report(p.tally, rounds_before_restart=at_fault)
        self.assert_within_bound(p.tally, at_fault + FAULT_MIN_ROUNDS_AFTER)

    def test_5b_postgres_restarted_listeners_catch_up(self):
        p = self.prober("5b postgres restart, a->b")
        state, i = None, 0
        while p.tally.rounds < FAULT_WARMUP_ROUNDS or state is None or state.gone or state.status == "delivered":
            state = p.api_round(state, "a", "b", probe_for(i))
            i += 1
        for name in self.replicas:
            p.pre_read(name, state)
        self.stack.restart_pg()
        session = self.stack.sql_session()
        self.addCleanup(session.close)
        written = p.sql_write(session, state)  # while the listeners reconnect
        caught_up = Tally("5b reconnect")
        checker = Prober(self.stack, caught_up)
        self.probers.append(checker)
        checker.observe(list(self.replicas), written, "lag", RECONNECT_DEADLINE_S)
        state, after = written, time.monotonic()
        at_fault = p.tally.rounds
        while not p.done(FAULT_AFTER_S, at_fault + FAULT_MAX_ROUNDS // 2, since=after):
            state = p.api_round(state, "a", "b", probe_for(i))
            i += 1
        self.report(p.tally, reconnect_write_lag_ms="/".join(f"{x:.0f}" for x in caught_up.lags),
                    reconnect_stale_reads=len(caught_up.stale_ages), reconnect_nocache_stale=caught_up.nocache_stale,
                    rounds_before_restart=at_fault)
        self.assertEqual(caught_up.failed_rounds, 0,
                         f"a SQL write right after the PostgreSQL restart was not seen within {RECONNECT_DEADLINE_S} s")
        self.assertEqual(caught_up.nocache_stale, 0)
        self.assert_within_bound(p.tally, at_fault + FAULT_MIN_ROUNDS_AFTER)

    def test_5c_replica_killed_during_writes(self):
        seconds, min_acked = KILL
        acked = {}  # order id -> last acknowledged OrderState
        in_doubt = {}  # order id -> the write a's death left unanswered: (kind, status)
        writers = [self.prober(f"5c kill a, writer {n}") for n in range(3)]

        def write_until_a_dies(p):
            state, i = None, 0
            while i < 5000:
                attempted = state.next_write() if state is not None and not state.gone else None
                new = p.api_round(state, "a", "b", probe_for(i))
                if p.tally.write_failures:
                    # a is gone; the failed write may or may not have committed
                    if attempted is not None:
                        in_doubt[state.id] = attempted
                    return
                state = new
                acked[state.id] = state
                i += 1

        joins = [in_thread(lambda p=p: write_until_a_dies(p)) for p in writers]
        time.sleep(seconds)
        self.stack.kill("a")
        for join in joins:
            join()
        before_kill = Tally("5c kill a, b reads")
        for p in writers:
            before_kill.merge(p.tally)
        after = Tally("5c after kill")
        checker = Prober(self.stack, after)
        self.probers.append(checker)
        for order in acked.values():
            # after an unanswered write only PostgreSQL knows which state is current
            checker.observe(["b"], checker.resync(order.id) if order.id in in_doubt else order, "lag")
        self.assertTrue(acked, "no write was acknowledged before the kill")
        ids = ",".join(str(i) for i in acked)
        rows = self.stack.sql(f"SELECT id, version, status FROM orders WHERE id IN ({ids})")
        in_pg = {int(r.split("|")[0]): r.split("|")[1:] for r in rows.splitlines() if r}
        lost = [o for o in acked.values()
                if not self.durable(o, in_pg.get(o.id), in_doubt.get(o.id))]
        self.report(before_kill, acked_orders=len(acked), lost_writes=len(lost),
                    after_kill_stale=len(after.stale_ages), after_kill_beyond=len(after.beyond),
                    after_kill_nocache_stale=after.nocache_stale, after_kill_failed=after.failed_rounds)
        self.assertEqual(lost, [], "2xx writes missing from PostgreSQL")
        self.assert_within_bound(before_kill, 0)
        self.assert_within_bound(after, 0)
        self.assertGreaterEqual(before_kill.rounds, min_acked, "too few writes before the kill")

    @staticmethod
    def durable(order, row, unanswered=None):
        """The acknowledged state (or a later one) is what PostgreSQL has.
        unanswered: the write after it that got no answer, which may have
        committed; a delete that did leaves no row."""
        if order.gone:
            return row is None
        if row is None:
            return unanswered is not None and unanswered[0] == "delete"
        version, status = int(row[0]), row[1]
        return version > order.version or (version == order.version and status == order.status)


if __name__ == "__main__":
    main()
