"""`make soak`: the whole set under a seeded fault schedule, then a checker (issue 20).

Starts a PRIVATE PostgreSQL cluster and a PRIVATE RabbitMQ node (crm_testing.private; the
shared ones are never touched), puts a fault proxy (crm_testing.proxy) between every process
and each of them, starts every service, relay, consumer and the gateway on them
(crm_testing.Stack, Redis for the gateway's rate limits and the customer cache), drives a
mixed load through the gateway (creates, updates, status and rating changes, bulk creates,
viewing records, orders, projects and contracts) and meanwhile injects faults at seeded
random times: broker stop_app/start_app, PostgreSQL restarts (fast and immediate), SIGKILL
of relays, consumers and web workers, SIGSTOP/SIGCONT pauses, network latency and
connection resets. Every fault is healed before the load stops. Then the checker waits for
the system to settle and verifies:

- every write the gateway acknowledged is in its owner's database (and each customer's
  final state is its last acknowledged write, or a later one whose answer was lost);
- every project and contract equals its customer's final name, contact and phone;
- the analytics read model equals `analytics-service rebuild` into a fresh database;
- each consumer's applied-event set equals the producers' outboxes (events its bindings
  route to it): nothing missing, nothing extra, nothing applied twice;
- no valid event in any dead-letter queue; the poison messages injected are all there.

Prints one table and a JSON line; exits 1 when any check fails.

Knobs (environment): SOAK_SECONDS (180), SOAK_SEED (20), SOAK_BROKER_RESTARTS,
SOAK_PG_RESTARTS, SOAK_KILLS, SOAK_PAUSES, SOAK_NET_FAULTS (defaults scale with the
duration: 1 broker restart per 36 s, 1 PostgreSQL restart per 90 s, 1 SIGKILL per 18 s,
minimum 5/2/10), SOAK_WRITERS (4), SOAK_SETTLE_TIMEOUT (max(300, SOAK_SECONDS/2)), SOAK_POISON (3),
SOAK_KEEP_LOGS=1 (keep the process logs, path printed)."""
from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "libs" / "crm_testing"))

import pika  # noqa: E402
import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from crm_testing import HTTP_SERVICES, WORKERS, Stack, make_token, wait_for  # noqa: E402
from crm_testing.private import PrivatePostgres, PrivateRabbit  # noqa: E402
from crm_testing.proxy import FaultProxy  # noqa: E402

PRODUCERS = ("customer", "viewing", "analytics")  # services with an outbox
RELAYS = [w for w in WORKERS if w.endswith("-relay")]
CONSUMERS = [w for w in WORKERS if w.endswith("-consumer")]


def knob(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


@dataclass
class Knobs:
    seconds: int = field(default_factory=lambda: knob("SOAK_SECONDS", 180))
    seed: int = field(default_factory=lambda: knob("SOAK_SEED", 20))
    writers: int = field(default_factory=lambda: knob("SOAK_WRITERS", 4))
    settle_timeout: int = 0  # SOAK_SETTLE_TIMEOUT, default max(300, half the run)
    poison: int = field(default_factory=lambda: knob("SOAK_POISON", 3))

    def __post_init__(self):
        s = self.seconds
        # Consumers drain the backlog the faults left at their own pace (sync-worker's and the
        # webhook consumer's ~15 events/s on a shared 2-core machine): a longer run settles longer.
        self.settle_timeout = knob("SOAK_SETTLE_TIMEOUT", max(300, s // 2))
        self.broker_restarts = knob("SOAK_BROKER_RESTARTS", max(5, s // 36))
        self.pg_restarts = knob("SOAK_PG_RESTARTS", max(2, s // 90))
        self.kills = knob("SOAK_KILLS", max(10, s // 18))
        self.pauses = knob("SOAK_PAUSES", max(3, s // 40))
        self.net_faults = knob("SOAK_NET_FAULTS", max(4, s // 30))


# --- the load ------------------------------------------------------------------------------

class Ledger:
    """What the load did: per customer and field, every attempted value with its outcome
    (True acknowledged, None answer lost, False refused), in order; acked creations."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seq = 0
        self.fields: dict[int, dict[str, list[tuple[int, object, bool | None]]]] = defaultdict(lambda: defaultdict(list))
        self.customers: set[int] = set()
        self.orders: set[str] = set()
        self.viewings: set[tuple[str, str]] = set()
        self.linked: set[int] = set()  # customers with a project and a contract
        self.ops = Counter()  # (kind, outcome)
        self.refusals: dict[str, str] = {}  # kind -> one refusal's answer (4xx), for the report

    def record(self, cid: int, values: dict, outcome: bool | None) -> None:
        with self.lock:
            self.seq += 1
            for name, value in values.items():
                self.fields[cid][name].append((self.seq, value, outcome))

    def candidates(self, cid: int, name: str) -> set:
        """Values the field may hold: the last acknowledged one and any later attempt
        whose answer was lost."""
        history = self.fields[cid][name]
        last_ack = max((i for i, (_s, _v, ok) in enumerate(history) if ok is True), default=None)
        start = 0 if last_ack is None else last_ack
        allowed = {v for _s, v, ok in history[start:] if ok is not False}
        return allowed


class Writer(threading.Thread):
    def __init__(self, n: int, gateway: str, factory: str, ledger: Ledger, stop: threading.Event, seed: int):
        super().__init__(daemon=True, name=f"writer-{n}")
        self.n, self.gateway, self.factory, self.ledger, self.stop = n, gateway, factory, ledger, stop
        self.rng = random.Random(seed * 1000 + n)
        self.http = requests.Session()
        self.http.headers.update({"Authorization": "Bearer " + make_token(
            roles=("admin", "finance_admin"), factories=(factory,), domains=("*",), sub=f"soak-{n}", ttl=6 * 3600),
            "X-Factory-Id": factory})
        self.mine: list[int] = []
        self.status: dict[int, str] = {}
        self.count = 0
        self.errors: list[str] = []

    def call(self, kind: str, method: str, path: str, **kw):
        """(status code or None when the answer was lost, json body or None)."""
        try:
            resp = self.http.request(method, self.gateway + path, timeout=15, **kw)
        except requests.RequestException:
            self.ledger.ops[(kind, "lost")] += 1
            return None, None
        outcome = "acked" if resp.status_code < 300 or resp.status_code == 207 else (
            "unavailable" if resp.status_code >= 500 or resp.status_code == 429 else "refused")
        self.ledger.ops[(kind, outcome)] += 1
        try:
            body = resp.json()
        except ValueError:
            body = None
        if outcome == "refused":
            self.ledger.refusals.setdefault(kind, f"{resp.status_code} {resp.text[:300]}")
        return resp.status_code, body

    @staticmethod
    def outcome(code) -> bool | None:
        if code is None or code >= 500 or code == 429:
            return None
        return code < 300

    def run(self) -> None:
        ops = [("create", 10), ("update", 35), ("status", 8), ("rating", 10), ("bulk", 4), ("viewing", 10),
               ("order", 10), ("link", 8)]
        names, weights = zip(*ops)
        while not self.stop.is_set():
            kind = self.rng.choices(names, weights)[0]
            if kind != "create" and kind != "bulk" and kind != "viewing" and not self.mine:
                kind = "create"
            try:
                getattr(self, f"op_{kind}")()
            except Exception as exc:  # noqa: BLE001 - a bug of the load, not of the system: reported
                self.ledger.ops[(kind, "load_error")] += 1
                self.errors.append(f"{kind}: {type(exc).__name__}: {exc}"[:200])
            self.count += 1
            self.stop.wait(self.rng.uniform(0.01, 0.05))
        self.http.close()

    def _fresh_name(self) -> str:
        return f"浸泡{self.n}-{uuid.uuid4().hex[:10]}"

    def op_create(self) -> None:
        name, contact, phone = self._fresh_name(), f"联系人{self.rng.randint(1, 999)}", f"138{self.rng.randint(0, 99999999):08d}"
        code, body = self.call("create", "POST", "/api/v1/customers", json={"customer": {
            "name": name, "type": "company", "primary_contact_name": contact, "primary_contact_phone": phone,
            "rating": 3, "credit_limit": 1000}})
        if code == 201:
            cid = body["data"]["id"]
            self.mine.append(cid)
            self.status[cid] = "active"
            with self.ledger.lock:
                self.ledger.customers.add(cid)
            self.ledger.record(cid, {"name": name, "contact": contact, "phone": phone, "status": "active",
                                     "rating": 3}, True)

    def op_update(self) -> None:
        cid = self.rng.choice(self.mine)
        values = {"name": self._fresh_name(), "contact": f"联系人{self.rng.randint(1, 999)}",
                  "phone": f"139{self.rng.randint(0, 99999999):08d}"}
        code, _ = self.call("update", "PUT", f"/api/v1/customers/{cid}", json={
            "customer_name": values["name"], "contact_person": values["contact"], "contact_phone": values["phone"]})
        self.ledger.record(cid, values, self.outcome(code))

    def op_status(self) -> None:
        cid = self.rng.choice(self.mine)
        new = "inactive" if self.status.get(cid) == "active" else "active"
        code, _ = self.call("status", "PATCH", f"/api/v1/customers/{cid}/status", json={"status": new})
        ok = self.outcome(code)
        self.ledger.record(cid, {"status": new}, ok)
        if ok:
            self.status[cid] = new

    def op_rating(self) -> None:
        cid = self.rng.choice(self.mine)
        rating = self.rng.randint(1, 5)
        code, _ = self.call("rating", "PUT", f"/api/mobile/{self.factory}/customers/{cid}/rating",
                            params={"rating": rating})
        self.ledger.record(cid, {"rating": rating}, self.outcome(code))

    def op_bulk(self) -> None:
        code, body = self.call("bulk", "POST", "/api/v1/customers/bulk-create/",
                               json={"customers": [{"name": self._fresh_name()} for _ in range(5)]})
        if code in (201, 207) and body:
            with self.ledger.lock:
                for c in body["data"].get("created_customers", []):
                    self.ledger.customers.add(c["id"])

    def op_viewing(self) -> None:
        user, address = f"sk-{self.factory}-{self.n}-{self.rng.randint(1, 40)}", f"地址{self.rng.randint(1, 5)}"
        when = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=self.rng.randint(0, 30))).strftime("%Y-%m-%dT%H:%M:%SZ")
        code, _ = self.call("viewing", "POST", "/api/external/viewing-records", json={
            "userId": user, "property_name": f"小区{address}", "property_address": address, "viewing_time": when,
            "commission": self.rng.randint(0, 900), "viewing_status": self.rng.choice([1, 2, 3])})
        if code == 200:
            with self.ledger.lock:
                self.ledger.viewings.add((user, address))

    def op_order(self) -> None:
        active = [c for c in self.mine if self.status.get(c) == "active"]
        if not active:
            return
        cid = self.rng.choice(active)
        order_id = f"SK-{uuid.uuid4().hex[:12]}"
        day = (dt.date.today() - dt.timedelta(days=self.rng.randint(0, 60))).isoformat()
        code, body = self.call("order", "POST", "/api/v1/analytics/orders", json={"orders": [{
            "order_id": order_id, "customer_id": int(cid), "order_date": day, "status": "COMPLETED",
            "total_amount": self.rng.randint(10, 5000)}]})
        if code == 200:
            with self.ledger.lock:
                self.ledger.orders.add(order_id)

    def op_link(self) -> None:
        cid = self.rng.choice(self.mine)
        if cid in self.ledger.linked:
            return
        p, _ = self.call("link", "POST", "/api/v1/projects", json={"name": f"项目{cid}", "customer_id": cid})
        c, _ = self.call("link", "POST", "/api/v1/contracts", json={"contract_no": f"HT-{cid}", "customer_id": cid})
        if p == 201 and c == 201:
            with self.ledger.lock:
                self.ledger.linked.add(cid)


# --- the faults ----------------------------------------------------------------------------

class Faults:
    def __init__(self, knobs: Knobs, stack: Stack, pg: PrivatePostgres, mq: PrivateRabbit,
                 proxies: dict[str, FaultProxy], stop: threading.Event):
        self.knobs, self.stack, self.pg, self.mq, self.proxies, self.stop = knobs, stack, pg, mq, proxies, stop
        self.rng = random.Random(knobs.seed)
        self.done = Counter()
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.paused: set[int] = set()
        window = knobs.seconds * 0.85
        infra = (["broker_restart"] * knobs.broker_restarts
                 + ["pg_restart_fast"] * ((knobs.pg_restarts + 1) // 2)
                 + ["pg_restart_immediate"] * (knobs.pg_restarts // 2)
                 + [self.rng.choice(["net_latency", "net_reset"]) for _ in range(knobs.net_faults)])
        procs = ["sigkill"] * knobs.kills + ["sigstop"] * knobs.pauses
        self.rng.shuffle(infra)
        self.rng.shuffle(procs)
        self.plans = [self._times(infra, window), self._times(procs, window)]

    def _times(self, kinds: list[str], window: float) -> list[tuple[float, str]]:
        n = max(1, len(kinds))
        start = self.knobs.seconds * 0.05
        return [(start + (i + self.rng.uniform(0, 0.7)) * window / n, kind) for i, kind in enumerate(kinds)]

    def run(self, started: float) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._run_plan, args=(plan, started), daemon=True) for plan in self.plans]
        for t in threads:
            t.start()
        return threads

    def _run_plan(self, plan, started: float) -> None:
        rng = random.Random(self.rng.random())
        for at, kind in plan:
            if self.stop.wait(max(0.0, started + at - time.monotonic())):
                return
            try:
                getattr(self, kind.split("_")[0] if kind.startswith(("sig",)) else kind)(rng)
                with self.lock:
                    self.done[kind] += 1
            except Exception as exc:  # noqa: BLE001 - a fault that could not be injected is reported
                self.errors.append(f"{kind}: {type(exc).__name__}: {exc}"[:300])

    # infrastructure
    def broker_restart(self, rng) -> None:
        self.mq.stop_app()
        time.sleep(rng.uniform(0.5, 3.0))  # down for a while
        self.mq.start_app()

    def pg_restart_fast(self, rng) -> None:
        self.pg.restart(mode="fast", down_for=rng.uniform(0.0, 2.0))

    def pg_restart_immediate(self, rng) -> None:
        self.pg.restart(mode="immediate", down_for=rng.uniform(0.0, 2.0))

    def net_latency(self, rng) -> None:
        proxy = self.proxies[rng.choice(sorted(self.proxies))]
        proxy.latency(rng.uniform(0.01, 0.08))
        time.sleep(rng.uniform(2.0, 5.0))
        proxy.heal()

    def net_reset(self, rng) -> None:
        self.proxies[rng.choice(sorted(self.proxies))].reset_all()

    # processes
    def _targets(self) -> list[str]:
        return RELAYS + CONSUMERS + [f"web:{name}" for name in self.stack.services + ["gateway"]]

    def _web_worker_pid(self, name: str, rng) -> int | None:
        master = self.stack.procs[name].proc.pid
        try:
            children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        except OSError:
            return None
        return int(rng.choice(children)) if children else None

    def sigkill(self, rng) -> None:
        target = rng.choice(self._targets())
        if target.startswith("web:"):
            pid = self._web_worker_pid(target[4:], rng)
            if pid is None:  # its master is forking a new one right now: kill a consumer instead
                target = rng.choice(CONSUMERS)
        if target.startswith("web:"):
            os.kill(pid, signal.SIGKILL)  # gunicorn's master forks a new one
            self.done[f"sigkill {target}"] += 1
            return
        self.stack.procs[target].kill(signal.SIGKILL)
        time.sleep(rng.uniform(0.2, 2.0))  # the supervisor's restart delay
        self.stack.start_worker(target)
        self.done[f"sigkill {target}"] += 1

    def sigstop(self, rng) -> None:
        target = rng.choice(self._targets())
        pid = self._web_worker_pid(target[4:], rng) if target.startswith("web:") else self.stack.procs[target].proc.pid
        if pid is None:
            raise RuntimeError(f"{target}: nothing to pause")
        os.kill(pid, signal.SIGSTOP)
        self.paused.add(pid)
        try:
            time.sleep(rng.uniform(1.0, 5.0))
        finally:
            os.kill(pid, signal.SIGCONT)
            self.paused.discard(pid)

    def heal_all(self) -> None:
        """Whatever a fault left behind: resumed, started, healed."""
        for pid in list(self.paused):
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        for proxy in self.proxies.values():
            proxy.heal()
        try:
            self.mq.start_app()
        except RuntimeError:
            pass  # already running
        for name in RELAYS + CONSUMERS:
            if name in self.stack.procs and not self.stack.procs[name].alive():
                self.stack.start_worker(name)


# --- the checker ---------------------------------------------------------------------------

def topic_matches(pattern: str, key: str) -> bool:
    """AMQP topic matching: ``*`` one word, ``#`` zero or more words."""
    def match(p: list[str], k: list[str]) -> bool:
        if not p:
            return not k
        if p[0] == "#":
            return any(match(p[1:], k[i:]) for i in range(len(k) + 1))
        return bool(k) and (p[0] == "*" or p[0] == k[0]) and match(p[1:], k[1:])
    return match(pattern.split("."), key.split("."))


class Checker:
    def __init__(self, stack: Stack, mq: PrivateRabbit, pg: PrivatePostgres, factory: str, ledger: Ledger):
        self.stack, self.mq, self.pg, self.factory, self.ledger = stack, mq, pg, factory, ledger
        self.engines = {svc: sa.create_engine(url, poolclass=sa.pool.NullPool) for svc, url in stack.db_urls.items()}
        self.vhost = stack.amqp_url.rsplit("/", 1)[1]
        self.http = requests.Session()
        self.http.headers.update({"Authorization": "Bearer " + make_token(
            roles=("admin",), factories=(factory,), domains=("*",), sub="soak-checker", ttl=6 * 3600),
            "X-Factory-Id": factory})

    def close(self):
        for engine in self.engines.values():
            engine.dispose()
        self.http.close()

    def rows(self, svc: str, sql: str, **params):
        with self.engines[svc].connect() as conn:
            return conn.execute(sa.text(sql), params).all()

    # events
    def bindings(self) -> dict[str, list[str]]:
        out = self.mq.ctl("list_bindings", "-p", urllib_unquote(self.vhost), "source_name", "destination_name",
                          "routing_key", "--no-table-headers")
        found: dict[str, list[str]] = defaultdict(list)
        for line in out.splitlines():
            parts = line.split("\t")
            if len(parts) == 3 and parts[0] == "crm.events":
                found[parts[1]].append(parts[2])
        return found

    def event_accounting(self) -> dict[str, dict]:
        outbox = {}
        for svc in PRODUCERS:
            for event_id, event_type in self.rows(svc, "SELECT event_id, event_type FROM outbox"):
                outbox[event_id] = event_type
        result = {}
        for queue, keys in sorted(self.bindings().items()):
            svc = next((s for s, spec in HTTP_SERVICES.items() if queue.startswith(spec["dir"] + ".")), None)
            if svc is None or svc not in self.engines:
                continue
            expected = {e for e, t in outbox.items() if any(topic_matches(k, t) for k in keys)}
            seen = self.rows(svc, "SELECT consumer, event_id FROM processed_events")
            consumers = Counter(c for c, _e in seen)
            name = queue if queue in consumers else (consumers.most_common(1)[0][0] if consumers else queue)
            got = Counter(e for c, e in seen if c == name)
            result[queue] = {"published": len(expected), "applied": len(set(got) & expected),
                             "lost": len(expected - set(got)), "unexpected": len(set(got) - expected),
                             "duplicated": sum(n - 1 for n in got.values() if n > 1)}
        # the sync history records every applied customer event once
        dup = self.rows("sync", "SELECT count(*) FROM (SELECT event_id FROM sync_history WHERE trigger = 'event' "
                                "AND outcome = 'success' GROUP BY event_id HAVING count(*) > 1) d")[0][0]
        for queue in result:
            if queue.startswith("sync-worker."):
                result[queue]["duplicated"] += int(dup)
        return result

    def dead_letters(self) -> dict[str, tuple[int, int]]:
        """queue -> (valid events, poison messages) in its dead-letter queue (peeked, requeued)."""
        from crm_common.events import InvalidEvent, parse_event
        conn = pika.BlockingConnection(pika.URLParameters(self.stack.amqp_url))
        ch = conn.channel()
        out = {}
        try:
            for queue in self.bindings():
                valid = poison = 0
                while True:
                    method, _props, body = ch.basic_get(f"{queue}.dlq", auto_ack=False)
                    if method is None:
                        break
                    try:
                        parse_event(body)
                        valid += 1
                    except InvalidEvent:
                        poison += 1
                out[queue] = (valid, poison)
        finally:
            conn.close()  # unacked: back in the queues
        return out

    # owners' state
    def customers_state(self) -> dict[int, dict]:
        rows = self.rows("customer", "SELECT id, name, primary_contact_name, primary_contact_phone, status, rating "
                                     "FROM customers WHERE factory_id = :f", f=self.factory)
        return {r.id: {"name": r.name, "contact": r.primary_contact_name, "phone": r.primary_contact_phone,
                       "status": r.status, "rating": r.rating} for r in rows}

    def acked_writes(self) -> dict[str, int]:
        state = self.customers_state()
        missing = {"customers": len(self.ledger.customers - set(state))}
        wrong = 0
        for cid, fields in self.ledger.fields.items():
            for name in fields:
                if cid in state and state[cid][name] not in self.ledger.candidates(cid, name):
                    wrong += 1
        missing["customer_fields"] = wrong
        orders = {r[0] for r in self.rows("analytics", "SELECT order_id FROM orders WHERE factory_id = :f", f=self.factory)}
        missing["orders"] = len(self.ledger.orders - orders)
        seen = set()
        for user_id in {u for u, _a in self.ledger.viewings}:
            resp = self.http.get(f"{self.stack.gateway}/api/external/viewing-records/{user_id}",
                                 params={"pageSize": 100}, timeout=30)
            if resp.status_code == 200:
                items = resp.json()["data"]["data"]
                seen |= {(user_id, item.get("property_address")) for item in items}
        missing["viewing_records"] = len(self.ledger.viewings - seen)
        return missing

    def projections(self) -> int:
        truth = {cid: (c["name"], c["contact"], c["phone"]) for cid, c in self.customers_state().items()}
        bad = 0
        for r in self.rows("sync", "SELECT customer_id, customer_name, customer_contact, customer_phone FROM projects"):
            bad += truth.get(r[0]) != (r[1], r[2], r[3])
        for r in self.rows("sync", "SELECT customer_id, customer_name, contact_person, contact_phone FROM contracts"):
            bad += truth.get(r[0]) != (r[1], r[2], r[3])
        return bad

    def analytics_vs_rebuild(self) -> dict[str, int]:
        from crm_common.migrations import migrations_home, upgrade_head
        url = self.pg.create_database("crm_rebuild")
        upgrade_head(migrations_home("analytics_service"), url)
        env = {**self.stack.env(), "ANALYTICS_DATABASE_URL": url}
        done = subprocess.run([str(Path(sys.executable).parent / "analytics-service"), "rebuild"], env=env,
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"analytics-service rebuild failed: {done.stderr[-2000:]}")
        fresh = sa.create_engine(url, poolclass=sa.pool.NullPool)
        diffs = {}
        try:
            for table, key in (("customers", "id"), ("viewing_records", "id"),
                               ("customer_summaries", "factory_id, business_domain, type, industry_type, rating")):
                def load(engine):
                    with engine.connect() as conn:
                        result = conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY {key}"))  # noqa: S608 - fixed names
                        cols = [c for c in result.keys() if c not in ("applied_at", "updated_at")]
                        return {tuple(getattr(r, k.strip()) for k in key.split(",")): tuple(getattr(r, c) for c in cols)
                                for r in result}
                live, rebuilt = load(self.engines["analytics"]), load(fresh)
                diffs[table] = sum(1 for k in set(live) | set(rebuilt) if live.get(k) != rebuilt.get(k))
        finally:
            fresh.dispose()
        return diffs


def urllib_unquote(s: str) -> str:
    import urllib.parse
    return urllib.parse.unquote(s)


def publish_poison(amqp_url: str, count: int) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    ch = conn.channel()
    ch.confirm_delivery()
    for i in range(count):
        ch.basic_publish("crm.events", "customer.updated", f"not an event {i}".encode(),
                         pika.BasicProperties(delivery_mode=2, message_id=f"poison-{i}"))
    conn.close()


def table(rows: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _v in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


def main() -> int:
    knobs = Knobs()
    print(f"soak: {knobs.seconds}s, seed {knobs.seed}, broker restarts {knobs.broker_restarts}, PostgreSQL "
          f"restarts {knobs.pg_restarts}, SIGKILLs {knobs.kills}, pauses {knobs.pauses}, "
          f"network faults {knobs.net_faults}", flush=True)
    factory = f"SK{knobs.seed}{uuid.uuid4().hex[:6].upper()}"
    pg = PrivatePostgres(max_connections=400)
    mq = PrivateRabbit()
    stack = None
    proxies: dict[str, FaultProxy] = {}
    ok = False
    try:
        pg.start()
        mq.start()
        proxies = {"postgres": FaultProxy(pg.port), "rabbitmq": FaultProxy(mq.port)}
        mq.url = f"amqp://guest:guest@127.0.0.1:{proxies['rabbitmq'].port}"  # every process goes through it
        pg_url = f"postgresql+psycopg2://postgres@127.0.0.1:{proxies['postgres'].port}/postgres"
        stack = Stack(pg_admin_url=pg_url, broker=mq, extra_env={
            "REDIS_URL": os.environ.get("SOAK_REDIS_URL", "redis://127.0.0.1:6379/0"),
            "RATE_LIMIT_PREFIX": f"soak-{factory}:",
            "RATE_LIMITS": json.dumps({r: None for r in ("admin", "finance_admin", "integrator")}),
            "DB_POOL_SIZE": "2", "DB_MAX_OVERFLOW": "4"})
        started_stack = time.monotonic()
        stack.start()
        print(f"stack up in {time.monotonic() - started_stack:.0f}s; logs in {stack.log_dir}", flush=True)
        publish_poison(stack.amqp_url, knobs.poison)

        ledger, stop_load, stop_faults = Ledger(), threading.Event(), threading.Event()
        writers = [Writer(i, stack.gateway, factory, ledger, stop_load, knobs.seed) for i in range(knobs.writers)]
        faults = Faults(knobs, stack, pg, mq, proxies, stop_faults)
        started = time.monotonic()
        for w in writers:
            w.start()
        fault_threads = faults.run(started)
        stop_load.wait(knobs.seconds)
        stop_faults.set()
        for t in fault_threads:
            t.join(timeout=120)
        faults.heal_all()
        stop_load.set()
        for w in writers:
            w.join(timeout=60)
        load_stopped = time.monotonic()
        print(f"load stopped after {load_stopped - started:.0f}s; settling", flush=True)

        checker = Checker(stack, mq, pg, factory, ledger)
        state = {}
        last_progress = [time.monotonic()]

        def progress(events) -> None:
            """Every 15 s while settling: what is still missing (to see where the time goes)."""
            if time.monotonic() - last_progress[0] < 15:
                return
            last_progress[0] = time.monotonic()
            behind = {q: e["lost"] for q, e in events.items() if e["lost"]}
            print(f"  settling {time.monotonic() - load_stopped:.0f}s: events not yet applied {behind}, "
                  f"writes {state.get('writes')}, projections off {state.get('projections')}", flush=True)

        def settled():
            try:
                events = checker.event_accounting()
                state.update(events=events, writes=checker.acked_writes(), projections=checker.projections())
            except Exception as exc:  # noqa: BLE001 - not yet (a database still recovering)
                state["error"] = f"{type(exc).__name__}: {exc}"[:300]
                return False
            faults.heal_all()  # a worker that died on its own is restarted (as a supervisor would)
            progress(events)
            return (all(e["lost"] == 0 for e in events.values()) and state["projections"] == 0
                    and not any(state["writes"].values()))

        converged = wait_for(settled, timeout=knobs.settle_timeout, interval=2.0)
        converge_s = time.monotonic() - load_stopped
        analytics = checker.analytics_vs_rebuild()
        if any(analytics.values()) and converged:  # the read model may still be applying the last events
            wait_for(lambda: not any(checker.analytics_vs_rebuild().values()), timeout=60, interval=5)
            analytics = checker.analytics_vs_rebuild()
        dlq = checker.dead_letters()
        checker.close()

        events = state.get("events", {})
        lost = sum(e["lost"] for e in events.values())
        duplicated = sum(e["duplicated"] + e["unexpected"] for e in events.values())
        valid_dead = sum(v for v, _p in dlq.values())
        poison_dead = sum(p for _v, p in dlq.values())
        poison_expected = knobs.poison * sum(1 for q, keys in checker.bindings().items()
                                             if any(topic_matches(k, "customer.updated") for k in keys))
        acked = sum(n for (_k, outcome), n in ledger.ops.items() if outcome == "acked")
        rows = [("seed / duration", f"{knobs.seed} / {knobs.seconds}s, {knobs.writers} writers, factory {factory}"),
                ("operations", ", ".join(f"{k} {n}" for k, n in sorted(Counter(
                    {kind: n for (kind, o), n in ledger.ops.items() if o == 'acked'}).items()))),
                ("operations acked / not", f"{acked} / " + ", ".join(
                    f"{o} {n}" for o, n in sorted(Counter({o: 0 for o in ('lost', 'unavailable', 'refused')}
                                                          | _sum_by_outcome(ledger.ops)).items()) if o != "acked")),
                ("refused by kind", ", ".join(f"{k} {n}" for (k, o), n in sorted(ledger.ops.items())
                                              if o == "refused")),
                ("faults injected", ", ".join(f"{k} {n}" for k, n in sorted(faults.done.items())
                                              if not k.startswith("sigkill "))),
                ("SIGKILL targets", ", ".join(f"{k[8:]} {n}" for k, n in sorted(faults.done.items())
                                              if k.startswith("sigkill "))),
                ("proxy connections reset", str(sum(p.resets for p in proxies.values())))]
        for queue, e in events.items():
            rows.append((f"events {queue}", f"published {e['published']}, applied {e['applied']}, lost {e['lost']}, "
                                            f"duplicated {e['duplicated']}, unexpected {e['unexpected']}"))
        rows += [("lost", str(lost)), ("duplicated", str(duplicated)),
                 ("dead-lettered valid", str(valid_dead)),
                 ("dead-lettered poison", f"{poison_dead} of {poison_expected} injected"),
                 ("acked writes missing", json.dumps(state.get("writes", {}))),
                 ("projects/contracts off", str(state.get("projections"))),
                 ("analytics vs rebuild diff", json.dumps(analytics)),
                 ("time to converge", f"{converge_s:.1f}s" + ("" if converged else " (NOT converged)"))]
        if faults.errors:
            rows.append(("fault errors", "; ".join(faults.errors[:5])))
        load_errors = [e for w in writers for e in w.errors]
        if os.environ.get("SOAK_VERBOSE") == "1":
            rows += [(f"refusal {k}", v) for k, v in sorted(ledger.refusals.items())]
        if load_errors:
            rows.append(("load errors", f"{len(load_errors)}: " + "; ".join(load_errors[:3])))
        if state.get("error"):
            rows.append(("last check error", state["error"]))
        print(table(rows), flush=True)
        ok = bool(converged and lost == 0 and duplicated == 0 and valid_dead == 0 and poison_dead == poison_expected
                  and not any(state.get("writes", {}).values()) and state.get("projections") == 0
                  and not any(analytics.values()))
        print("SOAK_RESULT " + json.dumps({
            "ok": ok, "seed": knobs.seed, "seconds": knobs.seconds, "acked": acked, "faults": dict(faults.done),
            "lost": lost, "duplicated": duplicated, "dead_lettered_valid": valid_dead,
            "dead_lettered_poison": poison_dead, "poison_expected": poison_expected,
            "converge_seconds": round(converge_s, 1), "analytics_diff": analytics, "writes": state.get("writes"),
            "projections": state.get("projections"), "fault_errors": faults.errors}), flush=True)
    finally:
        if stack is not None:
            keep = os.environ.get("SOAK_KEEP_LOGS") == "1" or not ok
            stack.stop()
            if keep:
                print(f"process logs kept in {stack.log_dir}", flush=True)
            else:
                import shutil
                shutil.rmtree(stack.log_dir, ignore_errors=True)
        for proxy in proxies.values():
            proxy.close()
        mq.close()
        pg.close()
    return 0 if ok else 1


def _sum_by_outcome(ops: Counter) -> Counter:
    out = Counter()
    for (_kind, outcome), n in ops.items():
        out[outcome] += n
    return out


if __name__ == "__main__":
    sys.exit(main())
