"""Benchmark: customer update -> project visible (issue 3).

Starts a Stack (customer-service, sync-worker, gateway, the customer outbox relay and the
sync consumer, fresh PostgreSQL databases and a RabbitMQ vhost), creates customers with a
project and a contract each, then:

1. stops the relay and the consumer and makes ``--updates`` customer updates through the
   gateway from ``--threads`` threads (they wait in customer-service's outbox);
2. starts the relay alone: events per second through the relay (outbox -> RabbitMQ,
   publisher confirms), from the rows' ``published_at``;
3. starts the consumer: events per second through the worker (queue -> projects and
   contracts rewritten, history written, acked), from ``processed_at``;
4. with everything running, ``--paced`` updates at ``--paced-rate`` per second (below both
   capacities): the propagation lag, event ``occurred_at`` (customer-service, inside the
   update's transaction) -> sync history ``synced_at`` (same transaction as the project
   rewrite), p50/p95/p99.

Usage: ``make bench-sync`` or ``.venv/bin/python bench/sync_propagation.py [--updates 5000]``.
Writes ``bench/results/sync_propagation.json``."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

import pika
import requests
import sqlalchemy as sa

from crm_testing import Stack, auth_headers

QUEUE = "sync-worker.customer-sync"
RESULTS = Path(__file__).resolve().parent / "results" / "sync_propagation.json"


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def wait_for(predicate, timeout: float, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def connected_at(log_text: str, event: str) -> dt.datetime:
    """When the (last started) process connected to the broker, from its JSON log."""
    stamps = [json.loads(line)["timestamp"] for line in log_text.splitlines()
              if line.startswith("{") and f'"{event}"' in line]
    return dt.datetime.fromisoformat(stamps[-1].replace("Z", "+00:00"))


def queue_ready(amqp_url: str) -> bool:
    try:
        conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
        try:
            conn.channel().queue_declare(QUEUE, passive=True)
            return True
        finally:
            if conn.is_open:
                conn.close()
    except pika.exceptions.AMQPError:
        return False


def run(updates: int, customers: int, threads: int, paced: int, paced_rate: float) -> dict:
    with Stack(services=["customer", "sync"], workers=["customer-relay", "sync-consumer"]) as stack:
        assert wait_for(lambda: queue_ready(stack.amqp_url), 60), "sync consumer never declared its queue"
        factory = f"BENCH{uuid.uuid4().hex[:6].upper()}"
        local = threading.local()

        def session() -> requests.Session:
            if not hasattr(local, "s"):
                local.s = requests.Session()
                local.s.headers.update(auth_headers(roles=["admin"], factories=[factory]))
            return local.s

        def post(path, body):
            resp = session().post(stack.gateway + path, json=body, timeout=30)
            assert resp.status_code == 201, resp.text
            return resp.json()["data"]

        print(f"creating {customers} customers with a project and a contract each ...", flush=True)
        ids: list[int] = []
        for i in range(customers):
            c = post("/api/v1/customers", {"customer": {"name": f"基准客户{i:04d}", "type": "company",
                                                        "primary_contact_name": "张三",
                                                        "primary_contact_phone": "13800000000"}})
            post("/api/v1/projects", {"name": f"项目{i}", "customer_id": c["id"]})
            post("/api/v1/contracts", {"contract_no": f"B-{i:05d}", "customer_id": c["id"]})
            ids.append(c["id"])

        sync_db = sa.create_engine(stack.db_urls["sync"], poolclass=sa.pool.NullPool)
        customer_db = sa.create_engine(stack.db_urls["customer"], poolclass=sa.pool.NullPool)

        def scalar(engine, sql, **params):
            with engine.connect() as conn:
                return conn.execute(sa.text(sql), params).scalar()

        def synced() -> int:
            return scalar(sync_db, "SELECT count(*) FROM sync_history WHERE factory_id = :f AND trigger = 'event'",
                          f=factory)

        assert wait_for(lambda: scalar(customer_db, "SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
                        and scalar(sync_db, "SELECT count(*) FROM processed_events") >= customers, 60)
        stack.procs["customer-relay"].stop()
        stack.procs["sync-consumer"].stop()

        print(f"{updates} customer updates through the gateway from {threads} threads "
              f"(relay and consumer stopped) ...", flush=True)
        per_thread = [ids[i::threads] for i in range(threads)]
        counts = [updates // threads + (1 if i < updates % threads else 0) for i in range(threads)]
        failures: list[str] = []
        http_latency: list[float] = []
        lock = threading.Lock()

        def writer(n: int, owned: list[int]):
            for k in range(counts[n]):
                cid = owned[k % len(owned)]
                started = time.perf_counter()
                resp = session().put(f"{stack.gateway}/api/v1/customers/{cid}", timeout=30, json={
                    "customer_name": f"基准客户{cid}-{n}-{k}", "contact_person": f"联系人{k % 97}",
                    "contact_phone": f"139{k % 10000:04d}{cid % 10000:04d}"})
                elapsed = time.perf_counter() - started
                with lock:
                    http_latency.append(elapsed)
                    if resp.status_code != 200:
                        failures.append(resp.text[:200])

        t0 = time.monotonic()
        workers = [threading.Thread(target=writer, args=(n, per_thread[n])) for n in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        write_seconds = time.monotonic() - t0
        assert not failures, failures[:3]
        burst_end = time.time()

        print("relay alone: outbox -> RabbitMQ ...", flush=True)
        stack.start_worker("customer-relay")
        assert wait_for(lambda: scalar(customer_db, "SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0,
                        300), "the relay did not drain the outbox"
        print("consumer: RabbitMQ -> projects and contracts ...", flush=True)
        stack.start_worker("sync-consumer")
        assert wait_for(lambda: synced() >= updates, 300), f"only {synced()} of {updates} synchronised"

        print(f"{paced} paced updates at {paced_rate}/s with everything running ...", flush=True)
        paced_from = time.time()
        for k in range(paced):
            cid = ids[k % len(ids)]
            started = time.monotonic()
            resp = session().put(f"{stack.gateway}/api/v1/customers/{cid}", timeout=30, json={
                "customer_name": f"基准客户{cid}-paced-{k}", "contact_phone": f"137{k:04d}{cid % 10000:04d}"})
            assert resp.status_code == 200, resp.text
            time.sleep(max(0.0, 1 / paced_rate - (time.monotonic() - started)))
        assert wait_for(lambda: synced() >= updates + paced, 120), "paced updates not synchronised"

        with customer_db.connect() as conn:
            published = conn.execute(sa.text(
                "SELECT published_at FROM outbox WHERE event_type = 'customer.updated' "
                "AND payload::json->>'factory_id' = :f AND created_at < to_timestamp(:end)"),
                {"f": factory, "end": burst_end}).scalars().all()
        with sync_db.connect() as conn:
            processed = conn.execute(sa.text(
                "SELECT p.processed_at FROM processed_events p JOIN sync_history h ON h.event_id = p.event_id "
                "WHERE h.factory_id = :f AND h.event_occurred_at < to_timestamp(:end)"),
                {"f": factory, "end": burst_end}).scalars().all()
            lag = conn.execute(sa.text(
                "SELECT extract(epoch FROM synced_at - event_occurred_at) * 1000 FROM sync_history "
                "WHERE factory_id = :f AND trigger = 'event' AND outcome = 'success' "
                "AND event_occurred_at >= to_timestamp(:start)"), {"f": factory, "start": paced_from}).scalars().all()
        sync_db.dispose()
        customer_db.dispose()
        relay_started = connected_at(stack.logs("customer-relay"), "relay_connected")
        worker_started = connected_at(stack.logs("sync-consumer"), "consumer_connected")

    def rate(started: dt.datetime, stamps) -> float:
        """Events per second from the process's connection to its last one done (the relay
        stamps a whole confirmed batch at once, so the stamps alone cannot say)."""
        span = (max(stamps) - started).total_seconds()
        return round(len(stamps) / span, 1) if span > 0 else float("nan")

    lag = [float(v) for v in lag]
    ms = lambda values, p: round(percentile(values, p), 1)  # noqa: E731
    return {
        "benchmark": "sync_propagation",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": sys.version.split()[0],
                    "load_average_at_end": [round(x, 1) for x in os.getloadavg()]},
        "setup": {"customers": customers, "updates": updates, "writer_threads": threads,
                  "projects_per_customer": 1, "contracts_per_customer": 1, "gunicorn_workers": 2},
        "writes": {"seconds": round(write_seconds, 1), "per_second": round(updates / write_seconds, 1),
                   "http_ms_p50": ms([x * 1000 for x in http_latency], 50),
                   "http_ms_p99": ms([x * 1000 for x in http_latency], 99)},
        "relay": {"events": len(published), "per_second": rate(relay_started, published),
                  "drain_seconds": round((max(published) - relay_started).total_seconds(), 1)},
        "worker": {"events": len(processed), "per_second": rate(worker_started, processed),
                   "drain_seconds": round((max(processed) - worker_started).total_seconds(), 1)},
        "paced": {"updates": paced, "per_second": paced_rate},
        "propagation_lag_ms": {"p50": ms(lag, 50), "p95": ms(lag, 95), "p99": ms(lag, 99),
                               "max": round(max(lag), 1), "mean": round(statistics.fmean(lag), 1)},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=5000)
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--paced", type=int, default=150, help="updates of the paced (lag) phase")
    parser.add_argument("--paced-rate", type=float, default=10.0, help="updates per second in the paced phase")
    args = parser.parse_args()
    result = run(args.updates, args.customers, args.threads, args.paced, args.paced_rate)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    w, r, k, lag = result["writes"], result["relay"], result["worker"], result["propagation_lag_ms"]
    print(f"writes : {w['per_second']}/s through the gateway (HTTP p50 {w['http_ms_p50']} ms, p99 {w['http_ms_p99']} ms)")
    print(f"relay  : {r['per_second']} events/s (outbox -> RabbitMQ, confirmed)")
    print(f"worker : {k['per_second']} events/s (RabbitMQ -> projects and contracts rewritten, acked)")
    print(f"lag    : p50 {lag['p50']} ms, p95 {lag['p95']} ms, p99 {lag['p99']} ms "
          f"(update -> project rewritten, paced {result['paced']['per_second']}/s)")
    print(f"load   : {result['machine']['load_average_at_end']} (1/5/15-minute load average on {os.cpu_count()} CPUs)")
    print(f"results in {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
