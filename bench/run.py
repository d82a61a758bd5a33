"""`make bench`: the whole service set on PostgreSQL and RabbitMQ, loaded, against baselines
measured in the same run on the same machine.

One ``crm_testing.Stack`` (every HTTP service, the gateway, every relay and consumer)
is started on fresh databases and a fresh vhost, then:

1. gateway overhead: ``GET /api/v1/customers/{id}`` through the gateway vs straight to
   customer-service vs through nginx, loaded in turn at 1, 8 and 32 clients; the same reads
   while 50 requests hang on a fake service answering after 10 s; the goals as rows;
2. writes: single create and update through the gateway, bulk create (100 per request)
   vs the same rows inserted/updated with psycopg2 into a scratch database migrated like
   customer-service's;
3. reads at size: 100,000 customers in one factory; list, keyword search and detail on
   /api/v1 and /api/mobile through the gateway vs the same SELECTs straight on PostgreSQL;
4. propagation: customer update -> project (sync-worker) and -> statistics read model
   (analytics-service): lag percentiles over paced updates, and events/s through the
   relay and each consumer draining a backlog;
5. memory: peak resident memory of every process tree over the whole run.

Prints the tables and writes ``bench/results/run-<UTC>.json`` and ``latest.json``.

    make bench                                  # 4-5 minutes on 2 quiet cores, up to ~10 busy
    .venv/bin/python bench/run.py --quick       # small sizes, ~2 minutes: checks the harness
    .venv/bin/python bench/run.py --only gateway,reads
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import subprocess
import sys
import threading
import time
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg2
import psycopg2.extras
import requests
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bulk_create  # noqa: E402 - the bulk benchmark's row shapes and raw COPY baseline
import customers_at_size  # noqa: E402 - its 100k-customer loader
from common import (  # noqa: E402
    CpuMeter,
    LoadResult,
    OperationFailed,
    RssSampler,
    format_table,
    http_operation,
    ratio,
    run_load,
    summarize,
    write_results,
)
from gateway_baselines import Nginx, SlowUpstream, find_nginx, gateway_process  # noqa: E402

from crm_common.migrations import migrations_home, upgrade_head  # noqa: E402
from crm_testing import Stack, auth_headers, create_database, drop_database, repo_root, rmtree  # noqa: E402

SECTIONS = ("gateway", "writes", "reads", "propagation")
F_GATEWAY, F_WRITES, F_PROPAGATION = "BENCHGW", "BENCHW", "BENCHP"
F_READS = customers_at_size.FACTORY  # the loader writes this factory
# The limits themselves are proven in gateway/tests; the bench keeps the check but never trips it.
RATE_LIMITS = '{"admin": {"rate": 1000000, "burst": 1000000}}'
CONSUMERS = ("sync-consumer", "analytics-consumer")
# Names written by the paced updates are "同步<round, 6 digits>-<id>"; the drain backlog uses
# rounds below this one, so a drained name never passes for a paced update.
LAG_ROUNDS = 100_000


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def dsn(url: str) -> str:
    return url.replace("postgresql+psycopg2://", "postgresql://")


def keyword(rng: random.Random, count: int) -> str:
    """A selective keyword: one customer's number, in its name and its code."""
    return f"{rng.randint(1, count):06d}"


class ServiceLayer:
    """customer-service's read use cases called in this process on the stack's database
    (what a request costs without HTTP, the gateway and serialisation), and the SQL those
    calls send, captured once per call and replayed with psycopg2 (what PostgreSQL alone
    costs for the same reads). Calls are named, not copied, so the baseline follows the
    service's queries as they change."""

    def __init__(self, db_url: str, factory: str):
        from crm_common.context import system_context
        from crm_common.db import make_engine, make_session_factory
        from customer_service.adapters import orm as customer_orm
        from customer_service.adapters.repository import CustomerFilter
        from customer_service.service_layer import queries
        from customer_service.service_layer.unit_of_work import CustomerUnitOfWork
        customer_orm.start_mappers()
        self.queries = queries
        self.filter, self.uow_class = CustomerFilter, CustomerUnitOfWork
        self.ctx = system_context(factory)
        self.db_url = db_url
        self.engine = make_engine(db_url, pool_size=4)
        self.sessions = make_session_factory(self.engine)
        self.capture_engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
        self.captured: list[tuple[str, object]] = []
        sa.event.listen(self.capture_engine, "before_cursor_execute",
                        lambda _c, _cur, statement, params, _ctx, _many: self.captured.append((statement, params)))
        self.capture_sessions = make_session_factory(self.capture_engine)
        self.statements_per_call: float | None = None
        self.connections: list = []

    def call(self, sessions, spec) -> None:
        """``spec``: (function of ``service_layer.queries``, its subject, keyword arguments);
        the subject is a ``CustomerFilter`` (``"filter"``, or ``("filter", keyword)``), an id
        or a keyword."""
        function, subject, kwargs = spec
        uow = self.uow_class(sessions)
        target = getattr(self.queries, function)
        if subject == "filter" or isinstance(subject, tuple):
            flt = self.filter(keyword=subject[1]) if isinstance(subject, tuple) else self.filter()
            target(uow, self.ctx, flt, **kwargs)
        else:
            target(uow, self.ctx, subject, **kwargs)

    def operation(self, calls: list):
        def make(index):
            position = [index]

            def op():
                position[0] += 1
                self.call(self.sessions, calls[position[0] % len(calls)])
            return op
        return make

    def replay(self, calls: list):
        scripts = []
        for spec in calls:
            self.captured.clear()
            self.call(self.capture_sessions, spec)
            scripts.append(list(self.captured))
        self.statements_per_call = round(sum(map(len, scripts)) / len(scripts), 1)

        def make(index):
            conn = psycopg2.connect(dsn(self.db_url))
            self.connections.append(conn)
            cur, position = conn.cursor(), [index]

            def op():
                position[0] += 1
                for statement, params in scripts[position[0] % len(scripts)]:
                    cur.execute(statement, params)
                    if cur.description is not None:
                        cur.fetchall()
                conn.rollback()  # the service's read transactions end the same way
            return op
        return make

    def close(self) -> None:
        for conn in self.connections:
            conn.close()
        self.engine.dispose()
        self.capture_engine.dispose()


class Bench:
    def __init__(self, stack: Stack, args: argparse.Namespace):
        self.stack, self.args = stack, args
        self.results: dict = {}
        self.tables: list[str] = []
        self.engines: dict[str, sa.Engine] = {}

    # helpers ---------------------------------------------------------------------------
    def session(self, factory: str) -> requests.Session:
        session = requests.Session()
        session.headers.update(auth_headers(roles=["admin"], factories=[factory], sub="bench", name="压测"))
        return session

    def db(self, service: str) -> sa.Engine:
        if service not in self.engines:
            self.engines[service] = sa.create_engine(self.stack.db_urls[service], pool_size=2)
        return self.engines[service]

    def load(self, make_operation, clients: int, seconds: float | None = None, **kw):
        return run_load(make_operation, clients=clients, seconds=seconds or self.args.seconds,
                        warmup=self.args.warmup, **kw)

    def metered_load(self, make_operation, clients: int, processes=("gateway", "customer"), **kw):
        """``load`` plus the CPU each named process tree (and this client) spent per operation
        over the whole run, warm-up included."""
        pids = {name: self.stack.procs[name].proc.pid for name in processes if name in self.stack.procs}
        meter = CpuMeter({**pids, "client": os.getpid()}).start()
        result = self.load(make_operation, clients, **kw)
        done = result.ok + result.errors + result.warmup_ops
        return result, meter.per(done)

    def each(self, factory: str, items: list, call, clients: int = 8) -> list:
        """``call(session, item)`` for every item on ``clients`` threads, each its own session."""
        local = threading.local()

        def run(item):
            if not hasattr(local, "session"):
                local.session = self.session(factory)
            return call(local.session, item)
        with ThreadPoolExecutor(clients) as pool:
            return list(pool.map(run, items))

    def has_path(self, service: str, path: str) -> bool:
        try:
            paths = requests.get(f"{self.stack.url(service)}/openapi.json", timeout=30).json().get("paths", {})
        except (requests.RequestException, ValueError):
            return False
        return path in paths or path.rstrip("/") in paths

    def outbox_drained(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.db("customer").connect() as conn:
                if not conn.execute(sa.text("SELECT 1 FROM outbox WHERE published_at IS NULL LIMIT 1")).first():
                    return
            time.sleep(0.2)
        log("warning: customer outbox not drained")

    def create_customers(self, factory: str, count: int) -> list[int]:
        """``count`` customers through the gateway (bulk when it exists), their ids in order."""
        session = self.session(factory)
        tag = uuid.uuid4().hex[:6]
        if self.bulk_available:
            for start in range(0, count, 100):
                batch = [{"name": f"传播-{tag}-{i:05d}", "type": "company", "primary_contact_name": "张三",
                          "primary_contact_phone": "13800138000"} for i in range(start, min(count, start + 100))]
                resp = session.post(f"{self.stack.gateway}/api/v1/customers/bulk-create/",
                                    json={"customers": batch}, timeout=120)
                if resp.status_code != 201:
                    raise OperationFailed(f"bulk-create -> {resp.status_code}: {resp.text[:300]}")
        else:
            def one(s, i):
                resp = s.post(f"{self.stack.gateway}/api/v1/customers",
                              json={"customer": {"name": f"传播-{tag}-{i:05d}", "type": "company"}}, timeout=60)
                if resp.status_code != 201:
                    raise OperationFailed(f"create -> {resp.status_code}: {resp.text[:300]}")
            self.each(factory, list(range(count)), one)
        with self.db("customer").connect() as conn:
            return list(conn.execute(sa.text("SELECT id FROM customers WHERE factory_id = :f ORDER BY id"),
                                     {"f": factory}).scalars())

    @property
    def bulk_available(self) -> bool:
        if not hasattr(self, "_bulk"):
            self._bulk = self.has_path("customer", "/api/v1/customers/bulk-create/")
        return self._bulk

    # 1. gateway overhead -----------------------------------------------------------------
    def gateway(self) -> None:
        session = self.session(F_GATEWAY)
        resp = session.post(f"{self.stack.gateway}/api/v1/customers", timeout=30,
                            json={"customer": {"name": "网关开销客户", "type": "company",
                                               "primary_contact_name": "张三", "primary_contact_phone": "13800138000"}})
        assert resp.status_code == 201, resp.text
        path = f"/api/v1/customers/{resp.json()['data']['id']}"
        targets = {"customer-service direct": self.stack.url("customer"),
                   "gateway -> customer-service": self.stack.gateway}
        pids = {name: self.stack.procs[name].proc.pid for name in ("gateway", "customer")}
        nginx, nginx_note = None, None
        binary = find_nginx()
        if binary is None:
            nginx_note = "nginx not found (bench/ensure-nginx.sh could not install it)"
        else:
            try:
                nginx = Nginx(binary, f"127.0.0.1:{self.stack.ports['customer']}", self.args.web_workers).start()
                targets["nginx -> customer-service"] = nginx.url
                pids["nginx"] = nginx.proc.pid
            except (OSError, RuntimeError) as exc:
                nginx_note = f"nginx did not start: {exc}"
        if nginx_note:
            log(f"gateway overhead: {nginx_note}; the nginx rows are not available")
        measured: dict[tuple[str, int], dict] = {}
        try:
            for clients in self.args.clients:
                log(f"gateway overhead: {', '.join(targets)} in turn, {clients} clients")
                measured.update(self.interleaved(targets, path, clients, pids))
        finally:
            if nginx is not None:
                nginx.stop()
        rows, data = [], []
        for clients in self.args.clients:
            direct = measured[("customer-service direct", clients)]
            for name in (*targets, *(["nginx -> customer-service"] if nginx is None else [])):
                m = measured.get((name, clients), {"path": name, "clients": clients, "not_available": nginx_note})
                m.update(path=name, rps_vs_direct=ratio(m.get("per_second"), direct["per_second"]),
                         p50_vs_direct=ratio(m.get("p50_ms"), direct["p50_ms"]))
                data.append(m)
                cpu = m.get("cpu_ms_per_request", {})
                rows.append([name, clients, m.get("per_second"), m.get("p50_ms"), m.get("p95_ms"), m.get("p99_ms"),
                             m["rps_vs_direct"], m["p50_vs_direct"], cpu.get("gateway"), cpu.get("nginx"),
                             cpu.get("customer"), m.get("errors")])
        self.results["gateway_overhead"] = data
        self.tables.append(format_table(
            ["GET /api/v1/customers/{id}", "clients", "req/s", "p50 ms", "p95 ms", "p99 ms", "req/s ÷ direct",
             "p50 ÷ direct", "gateway CPU ms/req", "nginx CPU ms/req", "customer CPU ms/req", "errors"], rows,
            title=f"Gateway overhead (closed loop, each client its own keep-alive session; the three targets "
                  f"loaded in turn, {self.args.gateway_rounds} rounds; CPU = process-tree CPU time per request)"))
        try:
            slow = self.slow_upstream(path)
        except Exception as exc:  # noqa: BLE001 - the goals table says what is missing
            log(f"slow upstream failed:\n{traceback.format_exc()}")
            slow = {"failed": f"{type(exc).__name__}: {exc}"}
        self.results["gateway_slow_upstream"] = slow
        self.gateway_goals(measured, slow, nginx_note)

    def interleaved(self, targets: dict[str, str], path: str, clients: int, pids: dict[str, int]) -> dict:
        """Every target loaded in turn, ``--gateway-rounds`` times for a share of ``--seconds``
        each, so that whatever else the machine does falls on every target alike."""
        rounds = self.args.gateway_rounds
        parts: dict[str, list] = {name: [] for name in targets}
        for _ in range(rounds):
            for name, base in targets.items():
                meter = CpuMeter({**pids, "client": os.getpid()}).start()
                result = self.load(lambda _i, url=base + path: http_operation(self.session(F_GATEWAY), "GET", url),
                                   clients, seconds=self.args.seconds / rounds)
                parts[name].append((result, meter.per(1)))  # per(1): milliseconds in all
        out = {}
        for name, runs in parts.items():
            merged = merge_loads([r for r, _ in runs])
            done = merged.ok + merged.errors + merged.warmup_ops
            cpu = {proc: round(sum(c[proc] for _, c in runs) / done, 2) if done else None
                   for proc in (*pids, "client")}
            out[(name, clients)] = {**merged.as_dict(), "cpu_ms_per_request": cpu}
        return out

    def slow_upstream(self, path: str) -> dict:
        """A second gateway of the set whose viewing-service is a fake answering after
        ``--slow-seconds``: the same customer reads at 8 clients with nothing hanging and
        while ``--hanging`` requests wait on the fake, in turn (``--gateway-rounds``
        rounds; after each window with requests hanging, the fake answers them all)."""
        slow = SlowUpstream(self.args.slow_seconds).start()
        proc, prom = gateway_process(self.stack.env(), self.stack.log_dir, self.args.web_workers,
                                     VIEWING_SERVICE_URL=slow.url)
        clients, hanging, rounds = 8, self.args.hanging, self.args.gateway_rounds
        url = proc.url + path
        outcomes: list[int | str] = []
        quiet, during, held, held_to_the_end = [], [], [], []

        def hang(_i):
            try:
                status = self.session(F_GATEWAY).get(proc.url + "/api/external/viewing-records/slow",
                                                     timeout=self.args.slow_seconds + 30).status_code
            except requests.RequestException as exc:
                status = type(exc).__name__
            outcomes.append(status)

        def reads():
            return self.load(lambda _i: http_operation(self.session(F_GATEWAY), "GET", url), clients,
                             seconds=self.args.seconds / rounds)
        try:
            for round_no in range(rounds):
                log(f"slow upstream, round {round_no + 1}: reads with nothing hanging, then with {hanging} hanging")
                quiet.append(reads())
                waiters = [threading.Thread(target=hang, args=(i,), daemon=True) for i in range(hanging)]
                for waiter in waiters:
                    waiter.start()
                deadline = time.monotonic() + 15
                while slow.waiting < hanging and time.monotonic() < deadline:
                    time.sleep(0.05)
                held.append(slow.waiting)
                during.append(reads())
                held_to_the_end.append(slow.waiting)
                slow.release()
                for waiter in waiters:
                    waiter.join(timeout=self.args.slow_seconds + 40)
        finally:
            proc.stop()
            slow.stop()
            rmtree(prom)
        out = {"clients": clients, "hanging": hanging, "rounds": rounds, "held_when_measuring": min(held),
               "held_at_the_end_of_each_window": min(held_to_the_end),
               "hanging_answered_200": sum(1 for status in outcomes if status == 200), "hanging_sent": len(outcomes),
               "quiet": merge_loads(quiet).as_dict(), "during": merge_loads(during).as_dict()}
        out["p99_rise_ms"] = (round(out["during"]["p99_ms"] - out["quiet"]["p99_ms"], 2)
                              if out["during"]["p99_ms"] is not None and out["quiet"]["p99_ms"] is not None else None)
        rows = [[f"nothing hanging ({clients} clients)", out["quiet"]["per_second"], out["quiet"]["p50_ms"],
                 out["quiet"]["p95_ms"], out["quiet"]["p99_ms"], out["quiet"]["max_ms"], out["quiet"]["errors"]],
                [f"{out['held_when_measuring']}+ requests hanging on viewing-service", out["during"]["per_second"],
                 out["during"]["p50_ms"], out["during"]["p95_ms"], out["during"]["p99_ms"], out["during"]["max_ms"],
                 out["during"]["errors"]]]
        self.tables.append(format_table(
            ["GET /api/v1/customers/{id} through a gateway", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors"],
            rows, title=f"One slow upstream (a fake viewing-service answering after {self.args.slow_seconds:g} s, or "
                        f"once the window is over; {rounds} rounds in turn; {out['hanging_answered_200']} of "
                        f"{out['hanging_sent']} hanging requests answered 200, at least "
                        f"{out['held_at_the_end_of_each_window']} still held at the end of each window)"))
        return out

    def gateway_goals(self, measured: dict, slow: dict, nginx_note: str | None) -> None:
        """Issue 19's gateway goals, each a row: measured, target, pass or miss."""
        def get(name, clients, key):
            return measured.get((name, clients), {}).get(key)

        rows = []
        for clients in (8, 32):
            gw = get("gateway -> customer-service", clients, "per_second")
            rows.append([f"throughput ÷ direct, {clients} clients",
                         ratio(gw, get("customer-service direct", clients, "per_second")), ">= 0.9"])
            rows.append([f"throughput ÷ nginx, {clients} clients",
                         ratio(gw, get("nginx -> customer-service", clients, "per_second")), ">= 0.9"])
        gw_p50, direct_p50 = get("gateway -> customer-service", 1, "p50_ms"), get("customer-service direct", 1, "p50_ms")
        rows.append(["added p50 at 1 client (ms)",
                     round(gw_p50 - direct_p50, 2) if gw_p50 is not None and direct_p50 is not None else None, "<= 1"])
        for clients in self.args.clients:
            cpu = (get("gateway -> customer-service", clients, "cpu_ms_per_request") or {}).get("gateway")
            rows.append([f"gateway CPU per proxied request (ms), {clients} clients", cpu, "<= 0.5"])
        rows.append([f"p99 rise with {slow.get('hanging', self.args.hanging)} requests hanging (ms)",
                     slow.get("p99_rise_ms"), "< 5"])
        checks = {">= 0.9": lambda v: v >= 0.9, "<= 1": lambda v: v <= 1, "<= 0.5": lambda v: v <= 0.5,
                  "< 5": lambda v: v < 5}
        goals = []
        for name, value, target in rows:
            verdict = "n/a" if value is None else ("pass" if checks[target](value) else "miss")
            goals.append({"goal": name, "measured": value, "target": target, "verdict": verdict})
        self.results["gateway_goals"] = goals
        note = f"; {nginx_note}" if nginx_note else ""
        self.tables.append(format_table(["gateway goal (issue 19)", "measured", "target", "pass/miss"],
                                        [[g["goal"], "n/a" if g["measured"] is None else f"{g['measured']:.2f}",
                                          g["target"], g["verdict"]] for g in goals],
                                        title=f"Gateway goals (ratios within this run{note})"))

    def customer_goals(self) -> None:
        """Issue 19's customer-service goals, each a row (measured, target, pass or miss),
        from the writes and reads sections of this run (rebuilt after each of them)."""
        rows = []
        for row in (self.results.get("writes") or {}).get("rows", []):
            api, raw = row.get("api"), row.get("raw")
            if not api:
                continue
            if row["operation"].startswith("bulk"):
                rows.append([f"bulk create ÷ raw multi-row INSERT, {row['clients']} clients",
                             ratio(api["per_second"], raw and raw["per_second"]), ">= 0.3"])
            else:
                rows.append([f"{row['operation']}: customer CPU ms/request, {row['clients']} clients",
                             api["cpu_ms_per_request"].get("customer"), "<= 2"])
        for row in (self.results.get("reads") or {}).get("rows", []):
            at_service = row.get("at_service") or {}
            if row["row"] == "v1 detail":
                rows.append(["v1 detail: customer CPU ms/request",
                             (at_service.get("cpu_ms_per_request") or {}).get("customer"), "<= 1.5"])
            rows.append([f"{row['row']}: p95 at customer-service (ms)", at_service.get("p95_ms"), "<= 20"])
        checks = {">= 0.3": lambda v: v >= 0.3, "<= 2": lambda v: v <= 2, "<= 1.5": lambda v: v <= 1.5,
                  "<= 20": lambda v: v <= 20}
        goals = [{"goal": name, "measured": value, "target": target,
                  "verdict": "n/a" if value is None else ("pass" if checks[target](value) else "miss")}
                 for name, value, target in rows]
        self.results["customer_goals"] = goals
        title = "Customer-service goals (issue 19; ratios within this run)"
        self.tables[:] = [t for t in self.tables if not t.startswith(f"### {title}")]
        self.tables.append(format_table(["customer-service goal (issue 19)", "measured", "target", "pass/miss"],
                                        [[g["goal"], "n/a" if g["measured"] is None else f"{g['measured']:.2f}",
                                          g["target"], g["verdict"]] for g in goals], title=title))

    # 2. writes ---------------------------------------------------------------------------
    def writes(self) -> None:
        # Thousands of events follow; the consumers are timed on their own in propagation.
        for name in CONSUMERS:
            if name in self.stack.procs and self.stack.procs[name].alive():
                self.stack.procs[name].stop()
        gw = self.stack.gateway
        created: list[int] = []
        lock = threading.Lock()

        def create_op(_index):
            session = self.session(F_WRITES)

            def op():
                name = f"写入-{uuid.uuid4().hex[:12]}"
                resp = session.post(f"{gw}/api/v1/customers", timeout=60, json={"customer": {
                    "name": name, "type": "company", "value_level": "normal", "industry_type": "制造业",
                    "primary_contact_name": "张三", "primary_contact_phone": "13800138000", "notes": "bench"}})
                if resp.status_code != 201:
                    raise OperationFailed(f"create -> {resp.status_code}: {resp.text[:200]}")
                with lock:
                    created.append(resp.json()["data"]["id"])
            return op

        def update_op(ids: list[int], clients: int):
            def make(index):
                session, mine, n = self.session(F_WRITES), ids[index::clients], [0]

                def op():
                    n[0] += 1
                    cid = mine[n[0] % len(mine)]
                    resp = session.put(f"{gw}/api/v1/customers/{cid}", timeout=60,
                                       json={"contact_person": f"李{n[0]}", "notes": f"bench update {n[0]}"})
                    if resp.status_code != 200:
                        raise OperationFailed(f"update -> {resp.status_code}: {resp.text[:200]}")
                return op
            return make

        def bulk_op(_index):
            session = self.session(F_WRITES)

            def op():
                batch = bulk_create.records(100, uuid.uuid4().hex[:10])
                resp = session.post(f"{gw}/api/v1/customers/bulk-create/", json={"customers": batch}, timeout=120)
                if resp.status_code != 201:
                    raise OperationFailed(f"bulk-create -> {resp.status_code}: {resp.text[:200]}")
            return op

        api: dict[str, dict] = {}
        for clients in self.args.write_clients:
            log(f"writes: single create through the gateway, {clients} clients")
            result, cpu = self.metered_load(create_op, clients)
            api[f"create/{clients}"] = {**result.as_dict(), "cpu_ms_per_request": cpu}
        ids = list(created)
        for clients in self.args.write_clients:
            log(f"writes: single update through the gateway, {clients} clients")
            result, cpu = self.metered_load(update_op(ids, clients), clients)
            api[f"update/{clients}"] = {**result.as_dict(), "cpu_ms_per_request": cpu}
        if self.bulk_available:
            for clients in self.args.bulk_clients:
                log(f"writes: bulk create 100/request through the gateway, {clients} clients")
                result, cpu = self.metered_load(bulk_op, clients, seconds=self.args.seconds * 1.5)
                api[f"bulk/{clients}"] = {**result.as_dict(100), "cpu_ms_per_request": cpu}
        self.outbox_drained()

        # The same rows, straight into a scratch database migrated like customer-service's.
        raw_url = create_database("crm_bench_raw")
        raw: dict[str, dict] = {}
        try:
            upgrade_head(migrations_home("customer_service"), raw_url)
            insert = (f"INSERT INTO customers ({', '.join(bulk_create.RAW_COLUMNS)}) VALUES %s")
            raw_ids: list[int] = []

            connections: list = []

            def connect():
                conn = psycopg2.connect(dsn(raw_url))
                connections.append(conn)
                return conn

            def raw_insert_op(rows_per_op: int):
                def make(_index):
                    conn = connect()
                    cur = conn.cursor()

                    def op():
                        rows = bulk_create.raw_rows(bulk_create.records(rows_per_op, uuid.uuid4().hex[:10]))
                        returned = psycopg2.extras.execute_values(cur, insert + " RETURNING id", rows,
                                                                  page_size=rows_per_op, fetch=True)
                        conn.commit()
                        if rows_per_op == 1:
                            with lock:
                                raw_ids.append(returned[0][0])
                    return op
                return make

            def raw_update_op(clients: int):
                def make(index):
                    conn = connect()
                    cur, mine, n = conn.cursor(), raw_ids[index::clients], [0]

                    def op():
                        n[0] += 1
                        cur.execute("UPDATE customers SET primary_contact_name = %s, notes = %s, version = version + 1, "
                                    "updated_at = now() WHERE id = %s", (f"李{n[0]}", f"bench update {n[0]}",
                                                                         mine[n[0] % len(mine)]))
                        conn.commit()
                    return op
                return make

            for clients in self.args.write_clients:
                log(f"writes: raw single-row INSERT + COMMIT, {clients} connections")
                raw[f"create/{clients}"] = self.load(raw_insert_op(1), clients, seconds=self.args.baseline_seconds).as_dict()
            for clients in self.args.write_clients:
                log(f"writes: raw single-row UPDATE + COMMIT, {clients} connections")
                raw[f"update/{clients}"] = self.load(raw_update_op(clients), clients,
                                                     seconds=self.args.baseline_seconds).as_dict()
            for clients in self.args.bulk_clients:
                log(f"writes: raw execute_values 100 rows + COMMIT, {clients} connections")
                raw[f"bulk/{clients}"] = self.load(raw_insert_op(100), clients,
                                                   seconds=self.args.baseline_seconds).as_dict(100)
            log("writes: raw COPY of 3000 rows, 100 per transaction (bench/bulk_create.py)")
            raw["copy/1"] = bulk_create.run_raw_copy(raw_url, bulk_create.raw_rows(bulk_create.records(3000, "copy")), 100)
        finally:
            for conn in connections:
                conn.close()
            drop_database(raw_url)

        labels = {"create": "single create", "update": "single update", "bulk": "bulk create, 100/request"}
        rows, data = [], []
        for kind, label in labels.items():
            clients_list = self.args.bulk_clients if kind == "bulk" else self.args.write_clients
            for clients in clients_list:
                key = f"{kind}/{clients}"
                a, b = api.get(key), raw.get(key)
                if a is None:
                    rows.append([label, clients, "not available", None, None, None, b and b["per_second"], None,
                                 None, None])
                    data.append({"operation": label, "clients": clients, "api": None, "raw": b,
                                 "note": "POST /api/v1/customers/bulk-create/ not present"})
                    continue
                slower = ratio(b["per_second"], a["per_second"], 1) if b else None
                rows.append([label, clients, a["per_second"], a["p50_ms"], a["p95_ms"], a["p99_ms"],
                             b["per_second"] if b else None, slower, a["cpu_ms_per_request"].get("customer"),
                             a["cpu_ms_per_request"].get("gateway")])
                data.append({"operation": label, "clients": clients, "api": a, "raw": b, "raw_over_api": slower})
        copy = raw["copy/1"]
        rows.append(["raw COPY (baseline only)", 1, None, None, None, None, copy["customers_per_second"], None,
                     None, None])
        self.results["writes"] = {"rows": data, "raw_copy": copy}
        self.tables.append(format_table(
            ["write through the gateway", "clients", "customers/s", "p50 ms", "p95 ms", "p99 ms",
             "raw PG customers/s", "raw ÷ API", "customer CPU ms/req", "gateway CPU ms/req"], rows,
            title="Writes (customers/s; raw = psycopg2 on the same table, same clients, one transaction per op; "
                  "CPU per request, a bulk request being 100 customers)"))
        self.customer_goals()

    # 3. reads at size --------------------------------------------------------------------
    def reads(self) -> None:
        count = self.args.customers
        log(f"reads: loading {count:,} customers into factory {F_READS}")
        load_seconds = customers_at_size.load(self.stack.db_urls["customer"], count)
        log(f"reads: loaded in {load_seconds:.1f} s")
        with self.db("customer").connect() as conn:
            first_id = conn.execute(sa.text("SELECT min(id) FROM customers WHERE factory_id = :f"),
                                    {"f": F_READS}).scalar()
        gw = self.stack.gateway
        mobile = f"{gw}/api/mobile/{F_READS}/customers"
        pages = max(1, min(500, count // 20))
        # Each row: (HTTP request through the gateway, the service-layer call that answers it)
        # from one random draw, so the three columns measure the same work.
        draws = {
            "v1 list (page_size 20, page ≤ 500)": lambda r: (lambda p: (
                (f"{gw}/api/v1/customers", {"page": p, "page_size": 20}),
                ("customer_page", "filter", dict(page=p, page_size=20, with_groups=True))))(r.randint(1, pages)),
            "v1 search (keyword, page 1)": lambda r: (lambda k: (
                (f"{gw}/api/v1/customers", {"keyword": k, "page": 1, "page_size": 20}),
                ("customer_page", ("filter", k), dict(page=1, page_size=20, with_groups=True))))(keyword(r, count)),
            "v1 detail": lambda r: (lambda i: (
                (f"{gw}/api/v1/customers/{i}", None),
                ("customer_detail", i, {})))(first_id + r.randrange(count)),
        }
        if self.has_path("customer", "/api/mobile/{factoryId}/customers"):
            draws["mobile list (size 20)"] = lambda r: (lambda p: (
                (mobile, {"page": p, "size": 20}),
                ("customer_page", "filter", dict(page=p, page_size=20))))(r.randint(1, pages))
        if self.has_path("customer", "/api/mobile/{factoryId}/customers/search"):
            draws["mobile search (keyword, limit 50)"] = lambda r: (lambda k: (
                (f"{mobile}/search", {"keyword": k}),
                ("search_customers", k, dict(limit=50))))(keyword(r, count))
        direct = self.stack.url("customer")

        layer = ServiceLayer(self.stack.db_urls["customer"], F_READS)
        rows, data = [], []
        clients = self.args.read_clients
        try:
            for name, draw in draws.items():
                log(f"reads: {name} through the gateway, {clients} client(s)")

                def make_http(index, draw=draw):
                    session, rng = self.session(F_READS), random.Random(self.args.seed + index)

                    def op():
                        url, params = draw(rng)[0]
                        resp = session.get(url, params=params, timeout=60)
                        if resp.status_code != 200:
                            raise OperationFailed(f"GET {url} {params} -> {resp.status_code}: {resp.text[:200]}")
                    return op
                api = self.load(make_http, clients).as_dict()
                log(f"reads: {name} straight to customer-service, {clients} client(s)")

                def make_direct(index, draw=draw):
                    session, rng = self.session(F_READS), random.Random(self.args.seed + index)

                    def op():
                        url, params = draw(rng)[0]
                        url = direct + url[len(gw):]
                        resp = session.get(url, params=params, timeout=60)
                        if resp.status_code != 200:
                            raise OperationFailed(f"GET {url} {params} -> {resp.status_code}: {resp.text[:200]}")
                    return op
                at_service, cpu = self.metered_load(make_direct, clients, processes=("customer",),
                                                    seconds=self.args.baseline_seconds)
                at_service = {**at_service.as_dict(), "cpu_ms_per_request": cpu}
                calls = [draw(random.Random(self.args.seed * 1000 + i))[1] for i in range(self.args.sql_samples)]
                in_process = sql = None
                note = None
                try:
                    log(f"reads: {name} as its service-layer call, in process")
                    in_process = self.load(layer.operation(calls), clients, seconds=self.args.baseline_seconds).as_dict()
                    log(f"reads: {name} as the SQL that call sends, straight on PostgreSQL")
                    sql = self.load(layer.replay(calls), clients, seconds=self.args.baseline_seconds).as_dict()
                except Exception as exc:  # noqa: BLE001 - the service layer moved: say so, keep the HTTP row
                    note = f"baseline failed: {type(exc).__name__}: {str(exc)[:200]}"
                    log(note)
                slower = ratio(api["p50_ms"], sql and sql["p50_ms"], 1)
                rows.append([name, api["per_second"], api["p50_ms"], api["p95_ms"], api["p99_ms"],
                             at_service["p95_ms"], cpu.get("customer"),
                             in_process and in_process["p50_ms"], sql and sql["p50_ms"], sql and sql["p99_ms"],
                             slower])
                data.append({"row": name, "api": api, "at_service": at_service, "service_layer": in_process,
                             "sql": sql,
                             "p50_over_sql": slower, "statements_per_call": layer.statements_per_call if sql else None,
                             "note": note})
        finally:
            layer.close()
        for name in ("mobile list (size 20)", "mobile search (keyword, limit 50)"):
            if name not in draws:
                rows.append([name, "not available", None, None, None, None, None, None, None, None, None])
        self.results["reads"] = {"customers": count, "factory": F_READS, "load_seconds": round(load_seconds, 1),
                                 "clients": clients, "rows": data}
        self.tables.append(format_table(
            ["read through the gateway", "req/s", "p50 ms", "p95 ms", "p99 ms", "at service p95",
             "customer CPU ms/req", "service layer p50", "SQL p50 ms", "SQL p99 ms", "p50 ÷ SQL"], rows,
            title=f"Reads at size ({count:,} customers in one factory, {clients} client; at service = the same "
                  f"request straight to customer-service, with its CPU per request; service layer = the "
                  f"same call in process; SQL = the statements it sent, replayed with psycopg2)"))
        self.customer_goals()

    # 4. propagation ----------------------------------------------------------------------
    def propagation(self) -> None:
        stack, args = self.stack, self.args
        present = [w for w in CONSUMERS if w in stack.procs]
        if not present:
            self.results["propagation"] = {"note": "no consumer registered in crm_testing.WORKERS"}
            self.tables.append("### Propagation\n\nnot available: neither sync-consumer nor analytics-consumer exists")
            return
        for name in present:  # fresh and empty: the writes section's events are not part of this
            if stack.procs[name].alive():
                stack.procs[name].stop()
        self.purge_queues()
        for name in present:
            stack.start_worker(name)
        customers = args.propagation_customers
        log(f"propagation: {customers} customers and one project each, through the gateway")
        ids = self.create_customers(F_PROPAGATION, customers)
        has_projects = "sync" in stack.ports and self.has_path("sync", "/api/v1/projects")
        if has_projects:
            def project(session, cid):
                resp = session.post(f"{stack.gateway}/api/v1/projects", json={"name": f"项目-{cid}", "customer_id": cid},
                                    timeout=60)
                if resp.status_code != 201:
                    raise OperationFailed(f"project -> {resp.status_code}: {resp.text[:200]}")
            self.each(F_PROPAGATION, ids, project)
        self.outbox_drained()
        self.wait_applied(ids, present, has_projects)

        targets = {}
        if "sync-consumer" in present and has_projects:
            targets["sync-worker: project"] = ("sync", "SELECT customer_id, customer_name FROM projects "
                                                       "WHERE factory_id = :f AND customer_id = ANY(:ids)")
        if "analytics-consumer" in present:
            targets["analytics-service: statistics read model"] = (
                "analytics", "SELECT id, version FROM customers WHERE factory_id = :f AND id = ANY(:ids)")

        drain = self.drain(ids, present)
        consumer_of = {"sync-worker: project": "sync-consumer",
                       "analytics-service: statistics read model": "analytics-consumer"}
        capacity = {name: (drain.get(consumer_of[name]) or {}).get("events_per_second") for name in targets}
        known = [c for c in capacity.values() if c]
        # Below every consumer's capacity when the time budget allows (else the lag is a queue).
        rate = min(args.update_rate, 0.6 * min(known)) if known else args.update_rate
        rate = max(rate, args.updates / args.lag_seconds_max)
        log(f"propagation: {args.updates} updates at {rate:.0f}/s, lag to {', '.join(targets)}")
        lag = self.lag(ids, targets, rate)

        rows = []
        stages = lag.pop("stages")
        for name, m in lag.items():
            saturated = bool(capacity.get(name)) and rate > 0.9 * capacity[name]
            m["offered_rate_over_capacity"] = ratio(rate, capacity.get(name))
            label = f"update -> {name}" + (" (saturated: paced above its capacity)" if saturated else "")
            rows.append([label, m["updates"], m["visible"], m["p50_ms"], m["p95_ms"], m["p99_ms"], m["max_ms"],
                         m.get("events_per_second"), None])
        for name, m in stages.items():
            rows.append([f"  of which {name}", m["count"], None, m["p50_ms"], m["p95_ms"], m["p99_ms"], m["max_ms"],
                         None, None])
        for name, m in drain.items():
            rows.append([f"drain {m['events']} events: {name}", m["events"], m.get("applied"), None, None, None, None,
                         m.get("events_per_second"), m.get("cpu_ms_per_event")])
        self.results["propagation"] = {"customers": customers, "update_rate_per_second": round(rate, 1),
                                       "lag": lag, "lag_stages": stages, "drain": drain,
                                       "poll_interval_ms": args.poll_ms}
        self.tables.append(format_table(
            ["propagation", "updates", "visible", "p50 ms", "p95 ms", "p99 ms", "max ms", "events/s",
             "CPU ms/event"], rows,
            title=f"Propagation (PUT answered -> visible in the owner's database, polled every {args.poll_ms} ms; "
                  f"{args.updates} updates paced at {rate:.0f}/s; drain = a backlog applied from a cold start, "
                  f"first to last event)"))

    def purge_queues(self) -> None:
        import pika

        from crm_common.broker import connection_parameters
        connection = pika.BlockingConnection(connection_parameters(self.stack.amqp_url))
        try:
            for queue in self.queue_names().values():
                channel = connection.channel()
                try:
                    channel.queue_purge(queue)
                except Exception:  # noqa: BLE001 - not declared yet: nothing to purge
                    pass
        finally:
            connection.close()

    @staticmethod
    def queue_names() -> dict[str, str]:
        names = {}
        try:
            from sync_worker.entrypoints.consumer import QUEUE as sync_queue
            names["sync-consumer"] = sync_queue
        except ImportError:
            pass
        try:
            from analytics_service.adapters.broker import QUEUE as analytics_queue
            names["analytics-consumer"] = analytics_queue
        except ImportError:
            pass
        return names

    def wait_applied(self, ids: list[int], consumers: list[str], projects: bool, timeout: float = 120) -> None:
        """Until every customer created above is in each read model (so no backlog is left)."""
        deadline = time.monotonic() + timeout
        checks = []
        if "sync-consumer" in consumers and projects:
            checks.append(("sync", "SELECT count(*) FROM customer_snapshots WHERE customer_id = ANY(:ids)"))
        if "analytics-consumer" in consumers:
            checks.append(("analytics", "SELECT count(*) FROM customers WHERE id = ANY(:ids)"))
        for service, sql in checks:
            while time.monotonic() < deadline:
                with self.db(service).connect() as conn:
                    if conn.execute(sa.text(sql), {"ids": ids}).scalar() >= len(ids):
                        break
                time.sleep(0.2)
            else:
                log(f"warning: {service} has not applied every created customer")

    def put_name(self, session: requests.Session, cid: int, round_no: int) -> int:
        resp = session.put(f"{self.stack.gateway}/api/v1/customers/{cid}", timeout=60,
                           json={"customer_name": f"同步{round_no:06d}-{cid}", "contact_person": f"联系人{round_no}",
                                 "contact_phone": f"139{round_no:08d}"})
        if resp.status_code != 200:
            raise OperationFailed(f"update -> {resp.status_code}: {resp.text[:200]}")
        return resp.json()["data"]["version"]

    def drain(self, ids: list[int], consumers: list[str]) -> dict:
        """Events/s through the customer relay and each consumer: stop them, make a backlog of
        updates, start the relay alone, then the consumers together, and time each from its
        first to its last event (database timestamps), with its CPU per event."""
        stack, n = self.stack, self.args.drain_updates
        relay = "customer-relay" if "customer-relay" in stack.procs else None
        stopped = ([relay] if relay else []) + consumers
        for name in stopped:
            stack.procs[name].stop()
        with self.db("customer").connect() as conn:
            mark = conn.execute(sa.text("SELECT coalesce(max(id), 0) FROM outbox")).scalar()
        log(f"propagation: backlog of {n} updates with {', '.join(stopped)} stopped")
        clients = 8
        per_client = [ids[i::clients] for i in range(clients)]

        def updates(session, index):
            mine = per_client[index]
            for k in range(index, n, clients):
                self.put_name(session, mine[(k // clients) % len(mine)], 1 + k)
        self.each(F_PROPAGATION, list(range(clients)), updates, clients=clients)
        with self.db("customer").connect() as conn:
            event_ids = list(conn.execute(sa.text("SELECT event_id FROM outbox WHERE id > :m"), {"m": mark}).scalars())
        out: dict[str, dict] = {}
        if relay:
            stack.start_worker(relay)
            meter = CpuMeter({relay: stack.procs[relay].proc.pid}).start()
            out[relay] = self.time_stage(
                "customer", "SELECT count(*) FILTER (WHERE published_at IS NOT NULL), min(published_at), "
                            "max(published_at), count(*) FILTER (WHERE published_at = (SELECT min(published_at) "
                            "FROM outbox WHERE id > :m)) FROM outbox WHERE id > :m", {"m": mark}, len(event_ids))
            out[relay]["cpu_ms_per_event"] = meter.per(len(event_ids))[relay]
            if out[relay]["events_per_second"] is None:  # one batch: time it from the relay's connect
                out[relay]["events_per_second"] = self.relay_rate(relay, mark, len(event_ids))
        started = {}
        for name in consumers:
            stack.start_worker(name)
            started[name] = CpuMeter({name: stack.procs[name].proc.pid}).start()
        for name in consumers:
            service = "sync" if name == "sync-consumer" else "analytics"
            out[name] = self.time_stage(
                service, "SELECT count(*), min(processed_at), max(processed_at), count(*) FILTER (WHERE processed_at = "
                         "(SELECT min(processed_at) FROM processed_events WHERE event_id = ANY(:ids))) "
                         "FROM processed_events WHERE event_id = ANY(:ids)", {"ids": event_ids}, len(event_ids))
        for name in consumers:  # both ran side by side; read their CPU once both are done
            out[name]["cpu_ms_per_event"] = started[name].per(len(event_ids))[name]
        return out

    def relay_rate(self, relay: str, mark: int, events: int) -> float | None:
        """Events/s of a relay that published the whole backlog in one batch: from its
        ``relay_connected`` log line to the batch's ``published_at``."""
        connected = None
        for line in self.stack.logs(relay).splitlines():
            if '"relay_connected"' in line:
                try:
                    connected = dt.datetime.fromisoformat(json.loads(line)["timestamp"].replace("Z", "+00:00"))
                except (ValueError, KeyError):
                    pass
        with self.db("customer").connect() as conn:
            published = conn.execute(sa.text("SELECT max(published_at) FROM outbox WHERE id > :m"), {"m": mark}).scalar()
        if connected is None or published is None or published <= connected:
            return None
        return round(events / (published - connected).total_seconds(), 1)

    def time_stage(self, service: str, sql: str, params: dict, expected: int, timeout: float = 150) -> dict:
        """Wait until ``expected`` rows are done; events/s from the first stamp to the last
        (the rows stamped with the first time are not counted: their work came before it)."""
        deadline = time.monotonic() + timeout
        done = first = last = at_first = None
        while time.monotonic() < deadline:
            with self.db(service).connect() as conn:
                done, first, last, at_first = conn.execute(sa.text(sql), params).one()
            if done >= expected:
                break
            time.sleep(0.25)
        span = (last - first).total_seconds() if first and last else 0
        rate = round((done - (at_first or 0)) / span, 1) if span > 0 else None
        log(f"  {service}: {done}/{expected} in {span:.2f} s -> {rate} events/s")
        return {"events": expected, "applied": done, "seconds": round(span, 3), "events_per_second": rate}

    def lag(self, ids: list[int], targets: dict[str, tuple[str, str]], rate: float) -> dict:
        """Paced updates (open loop at ``rate``/s, round-robin over the customers); a poller
        sees each update become visible in each target database."""
        n, senders = self.args.updates, 8
        with self.db("customer").connect() as conn:
            mark = conn.execute(sa.text("SELECT coalesce(max(id), 0) FROM outbox")).scalar()
        acked: dict[int, tuple[float, int, int, int]] = {}  # k -> (t_ack, customer, round, version)
        visible: dict[str, dict[int, float]] = {name: {} for name in targets}
        lock, finished = threading.Lock(), threading.Event()
        start = time.perf_counter() + 0.5
        counter = iter(range(n))

        def sender(session, _index):
            while True:
                with lock:
                    k = next(counter, None)
                if k is None:
                    return
                delay = start + k / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                cid, round_no = ids[k % len(ids)], LAG_ROUNDS + k // len(ids)
                version = self.put_name(session, cid, round_no)
                with lock:
                    acked[k] = (time.perf_counter(), cid, round_no, version)

        def poller():
            engines = {name: self.db(service) for name, (service, _sql) in targets.items()}
            while True:
                last_round = finished.is_set()
                with lock:
                    pending = {name: {k: a for k, a in acked.items() if k not in visible[name]} for name in targets}
                for name, (_service, sql) in targets.items():
                    waiting = pending[name]
                    if not waiting:
                        continue
                    with engines[name].connect() as conn:
                        rows = conn.execute(sa.text(sql), {"f": F_PROPAGATION,
                                                           "ids": sorted({a[1] for a in waiting.values()})}).all()
                    seen_at = time.perf_counter()
                    state = {}
                    for cid, value in rows:  # project name "同步<round>-<id>" or read-model version
                        if isinstance(value, str):
                            value = int(value[2:8]) if value.startswith("同步") else -1
                        state[cid] = max(state.get(cid, -1), value) if name.startswith("analytics") \
                            else min(state.get(cid, 10 ** 9), value)  # every project of the customer
                    for k, (_t, cid, round_no, version) in waiting.items():
                        want = version if name.startswith("analytics") else round_no
                        if state.get(cid, -1) >= want:
                            visible[name][k] = seen_at
                if last_round:
                    return
                time.sleep(self.args.poll_ms / 1000)

        watcher = threading.Thread(target=poller, daemon=True)
        watcher.start()
        self.each(F_PROPAGATION, list(range(senders)), sender, clients=senders)
        sent_at = time.perf_counter()
        deadline = sent_at + self.args.lag_tail_seconds
        while time.perf_counter() < deadline and any(len(v) < len(acked) for v in visible.values()):
            time.sleep(0.1)
        finished.set()
        watcher.join(timeout=30)
        out = {}
        for name in targets:
            lags = [(visible[name][k] - acked[k][0]) * 1000 for k in acked if k in visible[name]]
            summary = summarize([max(0.0, v) for v in lags])
            first = min(acked[k][0] for k in acked)
            last_visible = max(visible[name].values()) if visible[name] else first
            out[name] = {"updates": len(acked), "visible": summary.pop("count"), **summary,
                         "events_per_second": round(len(visible[name]) / (last_visible - first), 1)
                         if last_visible > first else None}
        out["stages"] = self.stages(mark, [service for service, _sql in targets.values()])
        return out

    def stages(self, mark: int, services: list[str]) -> dict:
        """Where the lag goes, from the services' own timestamps of the same events:
        committed -> published (relay), published -> picked up (consumer; the consumer stamps
        an event when it starts applying it)."""
        with self.db("customer").connect() as conn:
            rows = conn.execute(sa.text("SELECT event_id, created_at, published_at FROM outbox "
                                        "WHERE id > :m AND published_at IS NOT NULL"), {"m": mark}).all()
        committed = {r.event_id: r.created_at for r in rows}
        published = {r.event_id: r.published_at for r in rows}
        out = {"customer-relay: committed -> published": summarize(
            [(published[e] - committed[e]).total_seconds() * 1000 for e in committed])}
        for service in services:
            with self.db(service).connect() as conn:
                picked = dict(conn.execute(sa.text("SELECT event_id, processed_at FROM processed_events "
                                                   "WHERE event_id = ANY(:ids)"), {"ids": list(published)}).all())
            out[f"{service} consumer: published -> picked up"] = summarize(
                [(picked[e] - published[e]).total_seconds() * 1000 for e in picked])
        return out

    # 5. memory ---------------------------------------------------------------------------
    def memory(self, peaks: dict[str, dict]) -> None:
        self.results["memory"] = peaks
        rows = [[name, peak["processes"], peak["peak_rss_mib"]] for name, peak in peaks.items()]
        rows.append(["total", sum(p["processes"] for p in peaks.values()),
                     round(sum(p["peak_rss_mib"] for p in peaks.values()), 1)])
        self.tables.append(format_table(["process (tree)", "processes", "peak RSS MiB"], rows,
                                        title="Memory (peak resident set per process tree, sampled every 0.5 s; "
                                              "a service = gunicorn master + workers)"))


def merge_loads(results: list[LoadResult]) -> LoadResult:
    """Several windows of the same load as one."""
    return LoadResult(clients=results[0].clients, seconds=sum(r.seconds for r in results),
                      ok=sum(r.ok for r in results), errors=sum(r.errors for r in results),
                      latencies_ms=[ms for r in results for ms in r.latencies_ms],
                      first_error=next((r.first_error for r in results if r.first_error), None),
                      warmup_ops=sum(r.warmup_ops for r in results))


def machine() -> dict:
    meminfo = Path("/proc/meminfo").read_text().split()
    info = {"cpus": os.cpu_count(), "memory_gib": round(int(meminfo[meminfo.index("MemTotal:") + 1]) / 1024 ** 2, 1),
            "python": platform.python_version(), "platform": platform.platform(),
            "load_average_at_start": os.getloadavg()}
    for key, argv in {"postgresql": ["psql", "--version"], "rabbitmq": ["rabbitmqctl", "version"]}.items():
        try:
            info[key] = subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            info[key] = None
    try:
        info["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                        cwd=repo_root(), timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ints = lambda text: [int(v) for v in text.split(",")]  # noqa: E731
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"sections, comma-separated: {','.join(SECTIONS)}")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per load row")
    parser.add_argument("--baseline-seconds", type=float, default=2.5, help="measured seconds per baseline row")
    parser.add_argument("--warmup", type=float, default=0.5, help="unmeasured seconds before each row")
    parser.add_argument("--clients", type=ints, default=[1, 8, 32], help="gateway overhead concurrency levels")
    parser.add_argument("--gateway-rounds", type=int, default=3,
                        help="gateway overhead: each target's --seconds split into this many turns")
    parser.add_argument("--slow-seconds", type=float, default=10.0, help="how long the slow fake upstream waits")
    parser.add_argument("--hanging", type=int, default=50, help="requests left hanging on the slow upstream")
    parser.add_argument("--write-clients", type=ints, default=[1, 8])
    parser.add_argument("--bulk-clients", type=ints, default=[1, 4])
    parser.add_argument("--read-clients", type=int, default=1)
    parser.add_argument("--sql-samples", type=int, default=40, help="distinct calls captured per read row")
    parser.add_argument("--customers", type=int, default=100_000, help="customers loaded for the reads")
    parser.add_argument("--propagation-customers", type=int, default=300)
    parser.add_argument("--updates", type=int, default=2000, help="paced updates whose lag is measured")
    parser.add_argument("--update-rate", type=float, default=40.0, help="paced updates per second (at most)")
    parser.add_argument("--lag-seconds-max", type=float, default=120.0, help="pace faster rather than exceed this")
    parser.add_argument("--lag-tail-seconds", type=float, default=30.0,
                        help="after the last update, wait at most this long for it to become visible")
    parser.add_argument("--drain-updates", type=int, default=500, help="backlog drained to time events/s")
    parser.add_argument("--poll-ms", type=int, default=10)
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers per HTTP service")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="small sizes: check the harness in ~2 minutes")
    parser.add_argument("--no-write", action="store_true", help="do not write bench/results")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.baseline_seconds, args.warmup = 1.0, 0.5, 0.2
        args.customers, args.propagation_customers, args.updates, args.drain_updates = 5000, 50, 200, 200
        args.sql_samples, args.lag_tail_seconds = 10, 15
    args.only = [s for s in args.only.split(",") if s]
    unknown = set(args.only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    info = machine()
    log(f"starting the set: {info['cpus']} CPUs, {info['memory_gib']} GiB, load average {info['load_average_at_start']}")
    stack = Stack(extra_env={"RATE_LIMITS": RATE_LIMITS}, web_workers=args.web_workers)
    stack.start()
    bench = Bench(stack, args)
    sampler = RssSampler(lambda: {name: p.proc.pid for name, p in stack.procs.items() if p.alive()}).start()
    timings = {}
    try:
        log(f"set up in {time.monotonic() - started:.0f} s: {', '.join(stack.procs)}")
        for section in SECTIONS:
            if section in args.only:
                t0 = time.monotonic()
                try:
                    getattr(bench, section)()
                except Exception as exc:  # noqa: BLE001 - one broken part must not hide the others
                    log(f"{section} failed:\n{traceback.format_exc()}")
                    bench.results[section] = {"failed": f"{type(exc).__name__}: {exc}"}
                    bench.tables.append(f"### {section}\n\nfailed: {type(exc).__name__}: {str(exc)[:300]}")
                timings[section] = round(time.monotonic() - t0, 1)
        bench.memory(sampler.stop())
    finally:
        sampler.stop()
        for engine in bench.engines.values():
            engine.dispose()
        stack.stop()
    info["load_average_at_end"] = os.getloadavg()
    total = round(time.monotonic() - started, 1)
    measured_at = dt.datetime.now(dt.timezone.utc)
    report = {"benchmark": "make bench", "measured_at": measured_at.isoformat(timespec="seconds"),
              "machine": info, "seconds": total, "section_seconds": timings,
              "settings": {k: v for k, v in vars(args).items()}, "results": bench.results,
              "tables": bench.tables}
    header = (f"make bench, {measured_at:%Y-%m-%d %H:%M} UTC, {info['cpus']} CPUs, {info['memory_gib']} GiB, "
              f"{info.get('postgresql')}, RabbitMQ {info.get('rabbitmq')}; load average "
              f"{info['load_average_at_start'][0]:.1f} at start, {info['load_average_at_end'][0]:.1f} at end; "
              f"{total:.0f} s in all")
    print("\n" + header + "\n")
    print("\n\n".join(bench.tables))
    if not args.no_write:
        stamped, latest = write_results(report)
        print(f"\nwritten to {stamped.relative_to(repo_root())} and {latest.relative_to(repo_root())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
