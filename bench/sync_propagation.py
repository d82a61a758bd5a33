"""Benchmark: customer update -> project visible (issue 3).

Starts a Stack (customer-service, sync-worker, gateway, the customer outbox relay and the
sync consumer, fresh PostgreSQL databases and a RabbitMQ vhost), creates customers with a
project and a contract each, then makes ``--updates`` customer updates through the gateway
from ``--threads`` threads, and measures from the two databases:

- relay: events confirmed by the broker per second, and outbox wait (created -> published);
- worker: events applied per second;
- propagation lag: the event's ``occurred_at`` (customer-service, inside the update's
  transaction) -> the sync history's ``synced_at`` (the projects were rewritten in that same
  transaction), p50/p95/p99, twice: for the saturating burst (lag includes the queue that
  builds when writes outpace the worker) and for a paced phase afterwards (``--paced``
  updates at ``--paced-rate`` per second, below the worker's capacity: the propagation
  delay itself).

Usage: ``make bench-sync`` or ``.venv/bin/python bench/sync_propagation.py [--updates 5000]``.
Writes ``bench/results/sync_propagation.json``."""
from __future__ import annotations

import argparse
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

from crm_common.testing import Stack, auth_headers

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

        print(f"{updates} customer updates through the gateway from {threads} threads ...", flush=True)
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

        sync_db = sa.create_engine(stack.db_urls["sync"], poolclass=sa.pool.NullPool)
        customer_db = sa.create_engine(stack.db_urls["customer"], poolclass=sa.pool.NullPool)

        def synced() -> int:
            with sync_db.connect() as conn:
                return conn.execute(sa.text("SELECT count(*) FROM sync_history WHERE factory_id = :f "
                                            "AND trigger = 'event'"), {"f": factory}).scalar()

        assert wait_for(lambda: synced() >= updates, 300), f"only {synced()} of {updates} synchronised"
        drain_seconds = time.monotonic() - t0 - write_seconds
        paced_from = time.time()

        print(f"{paced} paced updates at {paced_rate}/s ...", flush=True)
        for k in range(paced):
            cid = ids[k % len(ids)]
            started = time.monotonic()
            resp = session().put(f"{stack.gateway}/api/v1/customers/{cid}", timeout=30, json={
                "customer_name": f"基准客户{cid}-paced-{k}", "contact_phone": f"137{k:04d}{cid % 10000:04d}"})
            assert resp.status_code == 200, resp.text
            time.sleep(max(0.0, 1 / paced_rate - (time.monotonic() - started)))
        assert wait_for(lambda: synced() >= updates + paced, 120), "paced updates not synchronised"

        with customer_db.connect() as conn:
            outbox = conn.execute(sa.text(
                "SELECT created_at, published_at FROM outbox WHERE event_type = 'customer.updated' "
                "AND payload::json->>'factory_id' = :f"), {"f": factory}).all()
        with sync_db.connect() as conn:
            history = conn.execute(sa.text(
                "SELECT event_occurred_at, synced_at FROM sync_history WHERE factory_id = :f "
                "AND trigger = 'event' AND outcome = 'success' ORDER BY event_occurred_at"), {"f": factory}).all()
            processed = conn.execute(sa.text(
                "SELECT processed_at FROM processed_events WHERE event_type = 'customer.updated' "
                "AND event_id IN (SELECT event_id FROM sync_history WHERE factory_id = :f)"), {"f": factory}).all()
        sync_db.dispose()
        customer_db.dispose()

    def rate(stamps) -> float:
        stamps = sorted(stamps)
        span = (stamps[-1] - stamps[0]).total_seconds()
        return round(len(stamps) / span, 1) if span > 0 else float("nan")

    burst_outbox = [r for r in outbox if r.created_at.timestamp() < paced_from]
    relay_wait = [(r.published_at - r.created_at).total_seconds() * 1000 for r in burst_outbox]
    lags = [((r.synced_at - r.event_occurred_at).total_seconds() * 1000, r.event_occurred_at.timestamp() < paced_from)
            for r in history]
    lag = [v for v, in_burst in lags if in_burst]
    paced_lag = [v for v, in_burst in lags if not in_burst]
    ms = lambda values, p: round(percentile(values, p), 1)  # noqa: E731
    processed = [r for r in processed if r.processed_at.timestamp() < paced_from]
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
        "relay": {"events": len(burst_outbox), "per_second": rate([r.published_at for r in burst_outbox]),
                  "outbox_wait_ms_p50": ms(relay_wait, 50), "outbox_wait_ms_p95": ms(relay_wait, 95),
                  "outbox_wait_ms_p99": ms(relay_wait, 99)},
        "worker": {"events": len(processed), "per_second": rate([r.processed_at for r in processed])},
        "drain_after_last_write_seconds": round(drain_seconds, 1),
        "burst_lag_ms": {"p50": ms(lag, 50), "p95": ms(lag, 95), "p99": ms(lag, 99),
                         "max": round(max(lag), 1), "mean": round(statistics.fmean(lag), 1)},
        "paced": {"updates": paced, "per_second": paced_rate},
        "propagation_lag_ms": {"p50": ms(paced_lag, 50), "p95": ms(paced_lag, 95), "p99": ms(paced_lag, 99),
                               "max": round(max(paced_lag), 1), "mean": round(statistics.fmean(paced_lag), 1)},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=5000)
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--paced", type=int, default=200, help="updates of the paced (lag) phase")
    parser.add_argument("--paced-rate", type=float, default=10.0, help="updates per second in the paced phase")
    args = parser.parse_args()
    result = run(args.updates, args.customers, args.threads, args.paced, args.paced_rate)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    w, r, k, lag = result["writes"], result["relay"], result["worker"], result["propagation_lag_ms"]
    burst = result["burst_lag_ms"]
    print(f"writes : {w['per_second']}/s through the gateway (HTTP p50 {w['http_ms_p50']} ms, p99 {w['http_ms_p99']} ms)")
    print(f"relay  : {r['per_second']} events/s (outbox wait p50 {r['outbox_wait_ms_p50']} ms, p99 {r['outbox_wait_ms_p99']} ms)")
    print(f"worker : {k['per_second']} events/s")
    print(f"lag    : p50 {lag['p50']} ms, p95 {lag['p95']} ms, p99 {lag['p99']} ms (update -> project rewritten, "
          f"paced {result['paced']['per_second']}/s)")
    print(f"burst  : p50 {burst['p50']} ms, p95 {burst['p95']} ms, p99 {burst['p99']} ms (lag incl. the queue "
          f"while writing as fast as possible)")
    print(f"load   : {result['machine']['load_average_at_end']} (1/5/15-minute load average on {os.cpu_count()} CPUs)")
    print(f"drained {result['drain_after_last_write_seconds']} s after the last write; results in {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
