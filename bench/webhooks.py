"""Benchmark: customer change -> webhook received (issue 16).

Starts a Stack (customer-service, webhook-service, the gateway, the customer outbox relay,
webhook-service's consumer and delivery worker, fresh PostgreSQL databases and a RabbitMQ
vhost) and a fast receiver in this process (127.0.0.1, answers 200 at once), then:

1. latency at a steady rate: ``--rate`` customer updates per second through the gateway
   for ``--seconds``; for each event, its ``occurred_at`` (set by customer-service in the
   writing transaction) -> the receiver has the POST, p50/p95/p99;
2. throughput: with the delivery worker stopped, ``--burst`` updates wait as pending
   deliveries (one subscription, then four); the worker is started and the receiver's
   first to last arrival gives deliveries per second (one subscription: at most
   ``WEBHOOK_CONCURRENCY_PER_SUBSCRIPTION`` in flight; four: up to ``WEBHOOK_CONCURRENCY``).

The receiver runs in the bench process on the same 2 cores, so throughput is a floor of
what the worker can do. Worker settings are the defaults (``WEBHOOK_POLL_SECONDS`` 0.2 s
bounds how soon an idle worker picks up a new delivery).

Usage: ``make bench-webhooks`` or ``.venv/bin/python bench/webhooks.py [--rate 20]``.
Writes ``bench/results/webhooks.json``."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import format_table, summarize  # noqa: E402

from crm_testing import Stack, auth_headers, wait_for  # noqa: E402
from crm_testing.receiver import WebhookReceiver  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "webhooks.json"


def occurred(call) -> float:
    return dt.datetime.fromisoformat(call.event["occurred_at"].replace("Z", "+00:00")).timestamp()


def run(customers: int, rate: float, seconds: float, burst: int) -> dict:
    receiver = WebhookReceiver().start()
    with Stack(services=["customer", "webhook"],
               workers=["customer-relay", "webhook-consumer", "webhook-deliverer"]) as stack:
        factory = f"WH{uuid.uuid4().hex[:6].upper()}"
        local = threading.local()

        def session() -> requests.Session:
            if not hasattr(local, "s"):
                local.s = requests.Session()
                local.s.headers.update(auth_headers(roles=["admin"], factories=[factory]))
            return local.s

        def subscribe(path: str) -> None:
            resp = session().post(f"{stack.gateway}/api/v1/webhooks",
                                  json={"url": receiver.url(path), "events": ["customer.*"]}, timeout=30)
            assert resp.status_code == 201, resp.text

        def update(customer_id: int, note: str) -> None:
            resp = session().put(f"{stack.gateway}/api/v1/customers/{customer_id}", json={"notes": note}, timeout=30)
            assert resp.status_code == 200, resp.text

        webhook_db = sa.create_engine(stack.db_urls["webhook"], poolclass=sa.pool.NullPool)

        def pending() -> int:
            with webhook_db.connect() as conn:
                return conn.execute(sa.text("SELECT count(*) FROM deliveries WHERE state = 'pending'")).scalar()

        def deliveries() -> int:
            with webhook_db.connect() as conn:
                return conn.execute(sa.text("SELECT count(*) FROM deliveries")).scalar()

        subscribe("/steady")
        print(f"creating {customers} customers ...", flush=True)
        ids = []
        for i in range(customers):
            resp = session().post(f"{stack.gateway}/api/v1/customers", timeout=30, json={
                "customer": {"name": f"推送基准{factory}-{i:04d}", "type": "company"}})
            assert resp.status_code == 201, resp.text
            ids.append(resp.json()["data"]["id"])
        assert wait_for(lambda: len(receiver.accepted("/steady")) >= customers and pending() == 0, 120)

        total = int(rate * seconds)
        print(f"steady: {total} updates at {rate}/s, each event timed to the receiver ...", flush=True)
        mark = len(receiver.snapshot())
        started = time.monotonic()
        for k in range(total):
            update(ids[k % len(ids)], f"steady-{k}")
            time.sleep(max(0.0, (k + 1) / rate - (time.monotonic() - started)))
        assert wait_for(lambda: len(receiver.accepted("/steady")) >= customers + total, 120), "not all received"
        steady = [c for c in receiver.snapshot()[mark:] if c.accepted]
        latency_ms = [(c.at - occurred(c)) * 1000 for c in steady]

        def drain(subscriptions: int) -> dict:
            stack.procs["webhook-deliverer"].stop()
            before = deliveries()
            print(f"throughput: {burst} updates -> {burst * subscriptions} pending deliveries "
                  f"({subscriptions} subscription(s)), then the worker ...", flush=True)
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda k: update(ids[k % len(ids)], f"burst-{subscriptions}-{k}"), range(burst)))
            expected = burst * subscriptions
            assert wait_for(lambda: deliveries() - before >= expected and pending() >= expected, 300, 0.5), \
                "the consumer did not record every delivery"
            mark = len(receiver.snapshot())
            stack.start_worker("webhook-deliverer")
            assert wait_for(lambda: pending() == 0, 600, 0.5), "the worker did not drain"
            calls = receiver.snapshot()[mark:]
            span = calls[-1].at - calls[0].at
            return {"subscriptions": subscriptions, "deliveries": len(calls),
                    "seconds": round(span, 2), "per_second": round((len(calls) - 1) / span, 1)}

        one = drain(1)
        for path in ("/b", "/c", "/d"):
            subscribe(path)
        four = drain(4)
        webhook_db.dispose()
    receiver.stop()
    return {
        "benchmark": "webhooks",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": sys.version.split()[0],
                    "load_average_at_end": [round(x, 1) for x in os.getloadavg()]},
        "setup": {"customers": customers, "rate_per_second": rate, "seconds": seconds, "burst": burst,
                  "worker": "defaults: WEBHOOK_CONCURRENCY 16, 4 per subscription, WEBHOOK_POLL_SECONDS 0.2"},
        "latency_event_to_received": summarize(latency_ms),
        "throughput": [one, four],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--rate", type=float, default=20.0, help="updates per second in the latency phase")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the latency phase")
    parser.add_argument("--burst", type=int, default=1000, help="updates queued for each throughput phase")
    args = parser.parse_args()
    result = run(args.customers, args.rate, args.seconds, args.burst)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    lat = result["latency_event_to_received"]
    print(format_table(
        ["webhooks", "deliveries", "p50 ms", "p95 ms", "p99 ms", "max ms", "deliveries/s"],
        [[f"event -> received at {args.rate:g} updates/s", lat["count"], lat["p50_ms"], lat["p95_ms"],
          lat["p99_ms"], lat["max_ms"], None]]
        + [[f"drain to a fast receiver, {t['subscriptions']} subscription(s)", t["deliveries"], None, None, None,
            None, t["per_second"]] for t in result["throughput"]],
        title="Webhooks (bench/webhooks.py)"))
    print(f"load: {result['machine']['load_average_at_end']} (1/5/15-minute load average on {os.cpu_count()} CPUs)")
    print(f"results in {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
