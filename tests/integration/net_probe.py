"""net_probe.py - write/read rounds against orderd replicas and the
counting of stale reads, for test_consistency_net.py.

A round: read the order through the far replica first (so its caches hold
the old version), write it through one replica (or in PostgreSQL), note
when the answer arrived, then read it through the far replica(s) at once.
A read is stale when it shows an older version than the write's answer
(ETag or "version"), the same version with another status (a plain SQL
UPDATE need not bump the version today), 404 for an order that exists, or
200 for a deleted one.  Its age is measured from the write's answer to
the moment the read was *sent*, so a read counted beyond the bound was
certainly sent that late.  A round's lag is measured the same way, to the
sending of its first fresh read: from then on the replica no longer
served the old version (its answer may take longer, e.g. a miss that goes
to a far Redis).

Each round probes in one of two ways, alternating:
  "lag":     polls normal GETs until the write shows (or LAG_DEADLINE_S:
             the round fails), then one no-cache GET;
  "nocache": one no-cache GET right after the first normal read.
A no-cache GET refills the caches, so it must not come before the
polling that measures how long the old version stays visible.

Each order has a customer of its own, so the customer's list page
(GET /orders?customer_id=...) holds that order alone.  Every read of the
order is followed by a read of that page, judged the same way (the order
missing from the page, or shown in an older state, is stale; a deleted
one still listed is stale), so list pages held in a replica's memory or
in Redis are held to the same bound.  Before a POST the reader is made
to cache the new customer's empty page, which the POST must move.
"""

import http.client
import math
import threading
import time

from harness import new_customer_id, psql

BOUND_MS = 100.0           # the contract's bound on invalidation lag (docs state the number)
LAG_DEADLINE_S = 2.0       # a write not visible by then fails its round
POLL_INTERVAL_S = 0.002
MAX_VIOLATING_ROUNDS = 5   # rounds beyond the bound after which a scenario stops: the proof is in
LIFE = ["pending", "paid", "shipped", "delivered"]
NOCACHE_HEADERS = [{"Cache-Control": "no-cache"}, {"Cache-Control": "max-age=0"}]


class OrderState:
    """What a fresh read of one order shows, and when that became true."""

    def __init__(self, oid, version=None, status=None, gone=False, acked_at=None, customer_id=None):
        self.id = oid
        self.customer_id = customer_id  # None: an id with no known customer, no list read
        self.version = version
        self.status = status
        self.gone = gone
        self.acked_at = acked_at if acked_at is not None else time.monotonic()

    def next_write(self):
        """("patch", status) along the order's life, then ("delete", None)."""
        i = LIFE.index(self.status)
        return ("patch", LIFE[i + 1]) if i + 1 < len(LIFE) else ("delete", None)

    def list_path(self):
        return f"/orders?customer_id={self.customer_id}"

    def __repr__(self):
        return f"<order {self.id} {'gone' if self.gone else f'v{self.version} {self.status}'}>"


def judge(resp, state):
    """"fresh", "stale" or "error" (no answer about the order at all)."""
    if resp is None:
        return "error"
    if state.gone:
        return {200: "stale", 404: "fresh"}.get(resp.status, "error")
    if resp.status == 404:
        return "stale"
    if resp.status != 200:
        return "error"
    try:
        body = resp.json()
        version = int(body["version"])
        etag = int((resp.header("ETag") or "").strip('"'))
    except (ValueError, KeyError, TypeError):
        return "error"
    if body.get("id") != state.id:
        return "error"
    seen = min(version, etag)
    if seen < state.version or (seen == state.version and body.get("status") != state.status):
        return "stale"
    return "fresh"


def judge_list(resp, state):
    """The same verdicts for the customer's list page, which holds the
    order alone (or nothing, once it is deleted or before it exists)."""
    if resp is None or resp.status != 200:
        return "error"
    try:
        entries = [e for e in resp.json()["data"] if e.get("id") == state.id]
        version = int(entries[0]["version"]) if entries else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return "error"
    if state.gone:
        return "stale" if entries else "fresh"
    if not entries:
        return "stale"
    if version < state.version or (version == state.version and entries[0].get("status") != state.status):
        return "stale"
    return "fresh"


def percentile(values, pct):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100.0 * len(ordered)) - 1)]


def fmt_ms(value):
    return "-" if value is None else f"{value:.2f}"


class Tally:
    """The counts one scenario prints and asserts on."""

    FIELDS = ("rounds", "reads", "stale_rounds", "failed_rounds", "violating_rounds", "nocache_reads",
              "nocache_stale", "errors", "write_failures", "primed", "primable",
              "list_reads", "list_stale", "list_nocache_stale", "list_primed", "list_primable")

    def __init__(self, name):
        self.name = name
        self.started = time.monotonic()
        for field in self.FIELDS:
            setattr(self, field, 0)
        self.stale_ages = []   # ms from the write's answer to the sending of each stale read
        self.lags = []         # ms from the write's answer to the sending of the first fresh read
        self.list_lags = []    # the same for the customer's list page
        self.stale_by_cache = {}  # X-Cache of the stale answers
        self.stale_samples = []   # the first stale reads, described
        self.beyond_samples = []  # the first stale reads beyond the bound, described
        self.errors_by_kind = {}  # HTTP status (or "conn") of the answers that were no answer
        self.extra = {}

    def error(self, resp):
        self.errors += 1
        kind = "conn" if resp is None else str(resp.status)
        self.errors_by_kind[kind] = self.errors_by_kind.get(kind, 0) + 1

    def merge(self, other):
        self.started = min(self.started, other.started)
        for field in self.FIELDS:
            setattr(self, field, getattr(self, field) + getattr(other, field))
        self.stale_ages += other.stale_ages
        self.stale_samples += other.stale_samples
        self.beyond_samples += other.beyond_samples
        self.lags += other.lags
        self.list_lags += other.list_lags
        for mine, theirs in ((self.stale_by_cache, other.stale_by_cache),
                             (self.errors_by_kind, other.errors_by_kind)):
            for k, v in theirs.items():
                mine[k] = mine.get(k, 0) + v

    @property
    def beyond(self):
        return [a for a in self.stale_ages if a >= BOUND_MS]

    def line(self):
        lag_p50, lag_p99 = percentile(self.lags, 50), percentile(self.lags, 99)
        list_p50, list_p99 = percentile(self.list_lags, 50), percentile(self.list_lags, 99)
        by_cache = ",".join(f"{k}:{v}" for k, v in sorted(self.stale_by_cache.items())) or "-"
        by_kind = ",".join(f"{k}:{v}" for k, v in sorted(self.errors_by_kind.items())) or "-"
        parts = [f"[{self.name}] rounds={self.rounds}", f"stale_rounds={self.stale_rounds}",
                 f"stale_reads={len(self.stale_ages)}", f"beyond_{BOUND_MS:g}ms={len(self.beyond)}",
                 f"worst_stale_ms={fmt_ms(max(self.stale_ages, default=None))}",
                 f"stale_by_x_cache={by_cache}", f"failed_rounds={self.failed_rounds}",
                 f"lag_ms_p50={fmt_ms(lag_p50)}", f"lag_ms_p99={fmt_ms(lag_p99)}",
                 f"lag_ms_max={fmt_ms(max(self.lags, default=None))}",
                 f"nocache_reads={self.nocache_reads}", f"nocache_stale={self.nocache_stale}",
                 f"primed={self.primed}/{self.primable}", f"reads={self.reads}", f"errors={self.errors}({by_kind})",
                 f"write_failures={self.write_failures}",
                 f"list_reads={self.list_reads}", f"list_stale={self.list_stale}",
                 f"list_lag_ms_p50={fmt_ms(list_p50)}", f"list_lag_ms_p99={fmt_ms(list_p99)}",
                 f"list_nocache_stale={self.list_nocache_stale}",
                 f"list_primed={self.list_primed}/{self.list_primable}"]
        parts += [f"{k}={v}" for k, v in self.extra.items()]
        parts.append(f"elapsed_s={time.monotonic() - self.started:.1f}")
        return " ".join(parts)


class Prober:
    """One client: its own keep-alive connection to every replica and its
    own Tally, so several can run in threads."""

    def __init__(self, stack, tally):
        self.stack = stack
        self.tally = tally
        self.clients = {name: r.client(timeout=10) for name, r in stack.replicas.items()}
        self.next_id = None  # a guess at the id the next POST gets, to read it before it exists
        self.customer_id = None  # the customer of the next POST, once chosen
        self.view_turn = 0  # which of the order and its list page is read first
        self.nocache_turn = 0

    def close(self):
        """Closes the connections (the next request opens a new one): a
        replica told to stop waits for idle keep-alive connections."""
        for c in self.clients.values():
            c.close()

    # -- one request --

    def request(self, name, method, path, **kw):
        """(response or None on a transport error, sent at, answered at)."""
        sent = time.monotonic()
        try:
            resp = self.clients[name].request(method, path, **kw)
        except (OSError, http.client.HTTPException):
            resp = None
        return resp, sent, time.monotonic()

    def read(self, name, state, headers=None, view="item"):
        """One judged GET of the order (view "item") or of its customer's
        list page ("list"): (outcome, response, sent at); stale ones are
        counted with their age, among the same stale_ages either way."""
        listed = view == "list"
        path = state.list_path() if listed else f"/orders/{state.id}"
        resp, sent, _ = self.request(name, "GET", path, headers=headers)
        outcome = (judge_list if listed else judge)(resp, state)
        self.tally.reads += 1
        self.tally.list_reads += listed
        if outcome == "error":
            self.tally.error(resp)
        elif outcome == "stale":
            age = (sent - state.acked_at) * 1000.0
            self.tally.stale_ages.append(age)
            self.tally.list_stale += listed
            cache = ("list:" if listed else "") + (resp.header("X-Cache") or "?")
            sample = (f"{name} {view} {state!r} got {resp.status} ETag={resp.header('ETag')} X-Cache={cache} "
                      f"age={age:.2f}ms wall={time.time() - (time.monotonic() - sent):.6f}")
            for samples, counts in ((self.tally.stale_samples, True), (self.tally.beyond_samples, age >= BOUND_MS)):
                if counts and len(samples) < 5:
                    samples.append(sample)
            self.tally.stale_by_cache[cache] = self.tally.stale_by_cache.get(cache, 0) + 1
        return outcome, resp, sent

    def nocache_read(self, name, state, view="item"):
        headers = NOCACHE_HEADERS[self.nocache_turn % len(NOCACHE_HEADERS)]
        self.nocache_turn += 1
        listed = view == "list"
        path = state.list_path() if listed else f"/orders/{state.id}"
        resp, _, _ = self.request(name, "GET", path, headers=headers)
        outcome = (judge_list if listed else judge)(resp, state)
        self.tally.nocache_reads += 1
        if outcome == "stale":
            self.tally.nocache_stale += 1
            self.tally.list_nocache_stale += listed
        elif outcome == "error":
            self.tally.error(resp)
        return outcome

    def pre_read(self, name, state, judged=True):
        """Reads through name so its caches hold the current version (a
        second read when the first missed), the order and its customer's
        list page; counts whether each was cached.  judged=False for an
        id that is only a guess."""
        views = ("item", "list") if state.customer_id is not None else ("item",)
        for view in views:
            listed = view == "list"
            for _ in range(2):
                if judged:
                    _, resp, _ = self.read(name, state, view=view)
                else:
                    path = state.list_path() if listed else f"/orders/{state.id}"
                    resp, _, _ = self.request(name, "GET", path)
                if resp is not None and resp.header("X-Cache") == "HIT":
                    self.tally.list_primed += listed
                    self.tally.primed += not listed
                    break
            self.tally.list_primable += listed
            self.tally.primable += not listed

    # -- after a write --

    def observe(self, names, state, probe, deadline_s=LAG_DEADLINE_S):
        """Reads state through every replica in names right after its
        write: the order and its customer's list page, in turns which of
        them first.  A lag is recorded for the view read first from each
        replica only: the other one's first read waits for that answer
        (a miss may go to a far Redis), which says nothing about when it
        became fresh.  Stale reads of both views count all the same."""
        views = ("item", "list") if state.customer_id is not None else ("item",)
        if probe == "lag":  # its own turns: rounds alternate the probes too
            self.view_turn += 1
            if self.view_turn % 2:
                views = views[::-1]
        targets = [(name, view) for name in names for view in views]
        lags = {"item": self.tally.lags, "list": self.tally.list_lags}
        pending = []
        for name, view in targets:
            outcome, _, sent = self.read(name, state, view=view)
            if outcome != "fresh":
                pending.append((name, view))
            elif probe == "lag" and view == views[0]:
                lags[view].append((sent - state.acked_at) * 1000.0)
        if probe == "nocache":
            for name, view in targets:
                self.nocache_read(name, state, view)
            return
        deadline = state.acked_at + deadline_s
        while pending and time.monotonic() < deadline:
            time.sleep(POLL_INTERVAL_S)
            for name, view in list(pending):
                outcome, _, sent = self.read(name, state, view=view)
                if outcome == "fresh":
                    lags[view].append((sent - state.acked_at) * 1000.0)
                    pending.remove((name, view))
        for _, view in pending:
            self.tally.failed_rounds += 1
            lags[view].append(deadline_s * 1000.0)  # censored: at least this
        for name, view in targets:
            self.nocache_read(name, state, view)

    # -- writes --

    def resync(self, oid):
        """The order as PostgreSQL has it (after a write that went wrong)."""
        row = psql(self.stack.db_url, f"SELECT version, status, customer_id FROM orders WHERE id = {oid}")
        if not row:
            return OrderState(oid, gone=True)
        version, status, customer_id = row.split("|")
        return OrderState(oid, int(version), status, customer_id=int(customer_id))

    def api_write(self, name, state):
        """Writes the order's next step through name: POST when state is
        None or gone.  Returns (new state or None when it failed, ok)."""
        if state is None or state.gone:
            customer_id = self.next_customer_id()
            self.customer_id = None  # the next POST is for a customer of its own
            resp, _, answered = self.request(name, "POST", "/orders",
                                             json_body={"customer_id": customer_id, "total": "9.99"})
            if resp is None or resp.status != 201:
                return None, False
            body = resp.json()
            self.next_id = body["id"] + 1
            return OrderState(body["id"], body["version"], body["status"], acked_at=answered,
                              customer_id=body["customer_id"]), True
        kind, status = state.next_write()
        if kind == "patch":
            resp, _, answered = self.request(name, "PATCH", f"/orders/{state.id}", json_body={"status": status},
                                             headers={"If-Match": f'"{state.version}"'})
            if resp is None or resp.status != 200:
                return None, False
            body = resp.json()
            return OrderState(state.id, body["version"], body["status"], acked_at=answered,
                              customer_id=state.customer_id), True
        resp, _, answered = self.request(name, "DELETE", f"/orders/{state.id}")
        if resp is None or resp.status != 204:
            return None, False
        return OrderState(state.id, gone=True, acked_at=answered, customer_id=state.customer_id), True

    def next_customer_id(self):
        """The customer the next POST is for, chosen ahead so that its
        (empty) list page can be cached first."""
        if self.customer_id is None:
            self.customer_id = new_customer_id()
        return self.customer_id

    def sql_write(self, session, state):
        """The order's next step as plain SQL (no version bump of its own)."""
        kind, status = state.next_write()
        if kind == "patch":
            rows = session.query(f"UPDATE orders SET status = '{status}' WHERE id = {state.id} "
                                 "RETURNING version, status")
            answered = time.monotonic()
            version, got = rows[0].split("|")
            return OrderState(state.id, int(version), got, acked_at=answered, customer_id=state.customer_id)
        rows = session.query(f"DELETE FROM orders WHERE id = {state.id} RETURNING id")
        answered = time.monotonic()
        assert rows, f"order {state.id} was not there to delete"
        return OrderState(state.id, gone=True, acked_at=answered, customer_id=state.customer_id)

    # -- rounds --

    def api_round(self, state, writer, reader, probe):
        """One round; returns the order's state afterwards."""
        before = self._marks()
        if state is not None and not state.gone:
            self.pre_read(reader, state)
        elif self.next_id is not None:
            # a cached "no such order", and the new customer's cached empty
            # page, that the POST must clear
            self.pre_read(reader, OrderState(self.next_id, gone=True, customer_id=self.next_customer_id()),
                          judged=False)
        new, ok = self.api_write(writer, state)
        if not ok:
            self.tally.write_failures += 1
            return self.resync(state.id) if state is not None and not state.gone else None
        self.tally.rounds += 1
        self.observe([reader], new, probe)
        self._count_violation(before)
        return new

    def sql_round(self, session, state, readers, probe, deadline_s=LAG_DEADLINE_S):
        before = self._marks()
        for name in readers:
            self.pre_read(name, state)
        new = self.sql_write(session, state)
        self.tally.rounds += 1
        self.observe(readers, new, probe, deadline_s)
        self._count_violation(before)
        return new

    def _marks(self):
        return len(self.tally.stale_ages), len(self.tally.beyond), self.tally.failed_rounds

    def _count_violation(self, before):
        stale, beyond, failed = self._marks()
        if stale != before[0]:
            self.tally.stale_rounds += 1
        if (beyond, failed) != before[1:]:
            self.tally.violating_rounds += 1

    def done(self, seconds, max_rounds, since=None):
        """Time, round count or proof enough: the bounds of every loop."""
        since = self.tally.started if since is None else since
        return (time.monotonic() - since >= seconds or self.tally.rounds >= max_rounds
                or self.tally.violating_rounds >= MAX_VIOLATING_ROUNDS)


def in_thread(fn):
    """Runs fn() in a thread; join() re-raises what it raised."""
    errors = []

    def run():
        try:
            fn()
        except BaseException as e:  # noqa: BLE001 - handed to the joiner
            errors.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def join(timeout=120):
        thread.join(timeout)
        if thread.is_alive():
            raise AssertionError("a round thread did not finish in time")
        if errors:
            raise errors[0]

    return join


def lag_metric_p99(replica):
    """p99 estimate of orderd_invalidation_lag_seconds (bucket upper bound),
    "absent" while the daemon has no such histogram."""
    c = replica.client(timeout=5)
    try:
        resp = c.get("/metrics")
    except OSError:
        return "unreachable"
    finally:
        c.close()
    buckets, count = [], None
    for line in resp.text.splitlines():
        if line.startswith("orderd_invalidation_lag_seconds_bucket{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((math.inf if le == "+Inf" else float(le), float(line.rsplit(" ", 1)[1])))
        elif line.startswith("orderd_invalidation_lag_seconds_count"):
            count = float(line.rsplit(" ", 1)[1])
    if not buckets or not count:
        return "absent" if not buckets else "no-samples"
    for le, cumulative in sorted(buckets):
        if cumulative >= 0.99 * count:
            return f"<={le * 1000:g}ms" if le != math.inf else ">last-bucket"
    return "?"
