"""analytics-service at size (``make bench-analytics``).

Loads 100,000 customers, 200,000 viewing records and 1,000,000 order lines (250,000 orders)
of one tenant straight into a fresh analytics database with COPY, starts the real service
under gunicorn, and measures:

- latency (p50/p95/max) of overall statistics, the rating, type and industry distributions,
  per-customer statistics, VIP customers and order summaries of 1,000 customers, over HTTP;
- the consumer's throughput draining a backlog: N customer events published to a fresh
  vhost while the consumer is stopped (its queue declared first), then drained by the real
  ``analytics-service consume`` process (events/s from the end of its first transaction to
  the end of its last).

Goals (issue 19): every statistics read ≤ 20 ms p95, the consumer ≥ 1,000 events/s.

Writes bench/results/analytics_at_size.json. Needs the local PostgreSQL and RabbitMQ."""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pika
import requests
import sqlalchemy as sa
from sqlalchemy.orm import Session

from analytics_service.adapters.repositories import ReadModel
from crm_common.events import make_event
from crm_common.migrations import migrations_home, upgrade_head
from crm_testing import (
    Process,
    auth_headers,
    base_env,
    create_database,
    create_vhost,
    delete_vhost,
    drop_database,
    free_port,
    gunicorn_argv,
)

ROOT = Path(__file__).resolve().parent.parent
SERVICE_DIR = migrations_home("analytics_service")  # alembic.ini and migrations/: package data
RESULTS = ROOT / "bench" / "results" / "analytics_at_size.json"
FACTORY = "BENCH-F1"
TYPES = ("company", "individual", "dealer", "retail", None)
INDUSTRIES = ("餐饮", "零售", "批发", "制造", "物流", "其他", None)
PRODUCTS = [f"产品{i:03d}" for i in range(300)]
STATUSES = ("active",) * 8 + ("inactive", "potential")
# Issue 19: overall statistics and every seed 001 distribution ≤ 20 ms p95 at 100,000 customers.
STATISTICS_READS = ("overall_statistics", "rating_distribution", "type_distribution", "industry_distribution",
                    "vip_top_10")


def copy_rows(engine, table: str, columns: list[str], rows) -> int:
    buf = io.StringIO()
    writer = csv.writer(buf)
    n = 0
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
        n += 1
    buf.seek(0)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv, NULL '')", buf)
        raw.commit()
    finally:
        raw.close()
    return n


def load(engine, customers: int, viewings: int, orders: int, lines_per_order: int, rnd: random.Random) -> dict:
    now = dt.datetime.now(dt.timezone.utc)
    today = now.date()
    started = time.perf_counter()

    def customer_rows():
        for cid in range(1, customers + 1):
            limit = rnd.choice((0, 10000, 50000, 100000, 500000))
            balance = -rnd.randrange(0, limit + 1) if limit and rnd.random() < 0.4 else 0
            debt_since = now - dt.timedelta(days=rnd.randrange(0, 90)) if balance < 0 else None
            terms = rnd.choice((0, 15, 30, 60))
            due = debt_since + dt.timedelta(days=terms) if debt_since else None
            created = now - dt.timedelta(days=rnd.randrange(0, 1000))
            yield (cid, FACTORY, "DEFAULT", f"客户{cid}", f"C{cid:08d}", rnd.choice(TYPES), rnd.choice(INDUSTRIES),
                   rnd.choice(STATUSES), rnd.randint(1, 5), limit, balance, terms,
                   debt_since.isoformat() if debt_since else None, due.isoformat() if due else None,
                   rnd.choice((None, 1, 2, 3, 4, 5)), 0, 0, created.isoformat(), None, 1, now.isoformat())

    cols = ["id", "factory_id", "business_domain", "name", "customer_code", "type", "industry_type", "status",
            "rating", "credit_limit", "current_balance", "payment_terms", "debt_since", "debt_due_at",
            "lead_status", "viewing_count", "total_commission", "created_at", "deleted_at", "version", "applied_at"]
    copy_rows(engine, "customers", cols, customer_rows())

    def viewing_rows():
        for vid in range(1, viewings + 1):
            when = now - dt.timedelta(minutes=rnd.randrange(0, 60 * 24 * 365))
            yield (str(vid), FACTORY, rnd.randint(1, customers), f"u{vid}", when.isoformat(), rnd.randint(1, 4),
                   rnd.choice((None, 0, 1)), rnd.choice((0, 0, 100, 250.5, 800)), "小区", "whole_rent", 1,
                   now.isoformat())

    copy_rows(engine, "viewing_records", ["id", "factory_id", "customer_id", "user_id", "viewing_time",
                                          "viewing_status", "viewing_feedback", "commission", "property_name",
                                          "business_type", "version", "applied_at"], viewing_rows())

    items: list[tuple] = []

    def order_rows():
        for pk in range(1, orders + 1):
            cid = rnd.randint(1, customers)
            order_date = today - dt.timedelta(days=rnd.randrange(0, 730))
            due = order_date + dt.timedelta(days=30)
            paid = order_date + dt.timedelta(days=rnd.randrange(0, 60)) if rnd.random() < 0.8 else None
            if paid and paid > today:
                paid = None
            status = "CANCELLED" if rnd.random() < 0.03 else "COMPLETED"
            total = 0
            for line in range(1, lines_per_order + 1):
                qty, price = rnd.randint(1, 50), rnd.choice((9.9, 25, 100, 388))
                subtotal = round(qty * price, 2)
                total += subtotal
                items.append((pk, FACTORY, cid, line, rnd.choice(PRODUCTS), qty, price, subtotal, status != "CANCELLED"))
            yield (pk, FACTORY, f"BO-{pk}", cid, order_date.isoformat(), round(total, 2), status,
                   "PAID" if paid else "UNPAID", due.isoformat(), paid.isoformat() if paid else None,
                   (paid - order_date).days if paid else None, (paid - due).days if paid else None,
                   status != "CANCELLED", "bench", 1, now.isoformat(), now.isoformat())

    copy_rows(engine, "orders", ["id", "factory_id", "order_id", "customer_id", "order_date", "total_amount", "status",
                                 "payment_status", "due_date", "paid_date", "payment_days", "late_days", "counted",
                                 "source", "version", "created_at", "updated_at"], order_rows())
    copy_rows(engine, "order_items", ["order_pk", "factory_id", "customer_id", "line_no", "product_name", "quantity",
                                      "unit_price", "subtotal", "counted"], items)
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('orders', 'id'), (SELECT max(id) FROM orders))"))
        conn.execute(sa.text(  # what every order write keeps in step
            "INSERT INTO customer_order_totals SELECT factory_id, customer_id, count(*), sum(total_amount), "
            "min(order_date), max(order_date) FROM orders WHERE counted GROUP BY factory_id, customer_id"))
    with Session(engine) as session, session.begin():
        read_model = ReadModel(session, ZoneInfo("Asia/Shanghai"))
        read_model.recompute_summaries()  # what the consumer keeps in step
        read_model.refresh_due_dates()    # each debt's due day (seed 001 §7.2), as order writes keep it
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    return {"customers": customers, "viewing_records": viewings, "orders": orders, "order_lines": len(items),
            "load_seconds": round(time.perf_counter() - started, 1)}


def latency(session: requests.Session, method: str, url_for, n: int, **kw) -> dict:
    times = []
    for i in range(n):
        started = time.perf_counter()
        resp = session.request(method, url_for(i), timeout=60, **kw)
        times.append((time.perf_counter() - started) * 1000)
        assert resp.status_code == 200, resp.text[:300]
    times.sort()
    return {"requests": n, "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[int(0.95 * (n - 1))], 1), "max_ms": round(times[-1], 1)}


def consumer_rate(db_url: str, n: int, env: dict, log_dir: Path) -> dict:
    amqp = create_vhost("crm_bench")
    proc = None
    cli = str(Path(sys.executable).parent / "analytics-service")
    try:
        subprocess.run([cli, "consume", "--declare-only"], env={**env, "AMQP_URL": amqp}, check=True,
                       capture_output=True, timeout=120)
        conn = pika.BlockingConnection(pika.URLParameters(amqp))
        channel = conn.channel()
        channel.confirm_delivery()
        base = 10**9
        published = time.perf_counter()
        for i in range(n):
            cid = base + i
            event = make_event(event_type="customer.created" if i % 4 else "customer.updated",
                               producer="customer-service", aggregate_type="customer", aggregate_id=cid,
                               aggregate_version=1, factory_id="BENCH-F2",
                               data={"id": cid, "factory_id": "BENCH-F2", "name": f"事件客户{i}", "type": "company",
                                     "rating": 1 + i % 5, "credit_limit": 1000, "current_balance": -(i % 700),
                                     "debt_since": "2026-01-01T00:00:00Z", "payment_terms": 30, "version": 1})
            channel.basic_publish("crm.events", event["event_type"], json.dumps(event).encode(),
                                  pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                                       message_id=event["event_id"]))
        publish_seconds = time.perf_counter() - published
        conn.close()
        # The backlog is complete: now the consumer starts and drains it.
        started = time.perf_counter()
        proc = Process("analytics-consumer", [cli, "consume"], {**env, "AMQP_URL": amqp}, log_dir=log_dir).start()
        engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            with engine.connect() as c:
                done = c.execute(sa.text("SELECT count(*) FROM processed_events")).scalar()
            if done >= n:
                break
            time.sleep(0.2)
        with engine.connect() as c:
            first, last = c.execute(sa.text("SELECT min(processed_at), max(processed_at) FROM processed_events")).one()
            in_first = c.execute(sa.text("SELECT count(*) FROM processed_events WHERE processed_at = :t"),
                                 {"t": first}).scalar()
            batches = c.execute(sa.text("SELECT count(DISTINCT processed_at) FROM processed_events")).scalar()
        engine.dispose()
        drained = (last - first).total_seconds()
        return {"events": n, "publish_seconds": round(publish_seconds, 2), "drain_seconds": round(drained, 2),
                "events_per_second": round((n - in_first) / drained, 1) if drained else None,
                "transactions": batches,
                "start_to_drained_seconds": round(time.perf_counter() - started, 2)}
    finally:
        if proc is not None:
            proc.stop()
        delete_vhost(amqp)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--customers", type=int, default=100_000)
    p.add_argument("--viewings", type=int, default=200_000)
    p.add_argument("--orders", type=int, default=250_000)
    p.add_argument("--lines-per-order", type=int, default=4)
    p.add_argument("--requests", type=int, default=100)
    p.add_argument("--events", type=int, default=3_000)
    p.add_argument("--keep", action="store_true", help="keep the database (prints its URL)")
    args = p.parse_args(argv)
    rnd = random.Random(20261121)
    load_at_start = round(os.getloadavg()[0], 2)  # other work on the machine skews every figure
    db_url = create_database("crm_bench_analytics")
    proc = None
    log_dir = ROOT / "var" / "bench-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    try:
        upgrade_head(SERVICE_DIR, db_url)
        engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
        print("loading ...", flush=True)
        sizes = load(engine, args.customers, args.viewings, args.orders, args.lines_per_order, rnd)
        print(json.dumps(sizes), flush=True)
        port = free_port()
        env = base_env(ANALYTICS_DATABASE_URL=db_url, AMQP_URL="amqp://guest:guest@127.0.0.1:1/%2F",
                       LOG_LEVEL="WARNING", CRM_HOME=str(ROOT))
        proc = Process("analytics", gunicorn_argv("analytics_service.app:create_app()", port), env,
                       ready_url=f"http://127.0.0.1:{port}/healthz", log_dir=log_dir).start(wait=60)
        base = f"http://127.0.0.1:{port}"
        http = requests.Session()
        http.headers.update(auth_headers(roles=["sales_admin"], factories=[FACTORY]))
        for _ in range(5):  # warm the connection pools
            http.get(f"{base}/api/mobile/{FACTORY}/customers/overall-statistics", timeout=60)
        ids = [rnd.randint(1, args.customers) for _ in range(args.requests)]
        batches = [[str(rnd.randint(1, args.customers)) for _ in range(1000)] for _ in range(20)]
        mobile = f"{base}/api/mobile/{FACTORY}/customers"
        results = {
            "overall_statistics": latency(http, "GET", lambda i: f"{mobile}/overall-statistics", args.requests),
            "rating_distribution": latency(http, "GET", lambda i: f"{mobile}/rating-distribution", args.requests),
            "type_distribution": latency(http, "GET", lambda i: f"{mobile}/type-distribution", args.requests),
            "industry_distribution": latency(http, "GET", lambda i: f"{mobile}/industry-distribution", args.requests),
            "customer_statistics": latency(http, "GET",
                                           lambda i: f"{base}/api/mobile/{FACTORY}/customers/{ids[i]}/statistics",
                                           args.requests),
            "vip_top_10": latency(http, "GET", lambda i: f"{base}/api/mobile/{FACTORY}/customers/vip", 50),
        }
        results["order_summaries_1000_ids"] = {}
        times = []
        for batch in batches:
            started = time.perf_counter()
            resp = http.post(f"{base}/api/v1/analytics/order-summaries", json={"customer_ids": batch},
                             headers={"X-Factory-Id": FACTORY}, timeout=60)
            times.append((time.perf_counter() - started) * 1000)
            assert resp.status_code == 200, resp.text[:300]
        times.sort()
        results["order_summaries_1000_ids"] = {"requests": len(times), "p50_ms": round(statistics.median(times), 1),
                                               "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1)}
        proc.stop()
        proc = None
        print(json.dumps(results), flush=True)
        consumer = consumer_rate(db_url, args.events, env, log_dir)
        print(json.dumps(consumer), flush=True)
        goals = {name: {"goal": "p95 <= 20 ms", "pass": row["p95_ms"] <= 20}
                 for name, row in results.items() if name in STATISTICS_READS}
        goals["consumer"] = {"goal": ">= 1000 events/s",
                             "pass": bool(consumer["events_per_second"]) and consumer["events_per_second"] >= 1000}
        for name, goal in goals.items():
            print(f"{name:24} {goal['goal']:18} {'pass' if goal['pass'] else 'MISS'}", flush=True)
        out = {"measured_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
               "data": sizes, "latency": results, "consumer": consumer, "goals": goals,
               "machine": {"cpus": os.cpu_count(), "load_average_1m_at_start": load_at_start,
                           "load_average_1m_at_end": round(os.getloadavg()[0], 2)},
               "service": "gunicorn, 2 workers x 4 threads, one local PostgreSQL 15",
               "command": "make bench-analytics"}
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n")
        print(f"wrote {RESULTS}")
        return 0
    finally:
        if proc is not None:
            proc.stop()
        if args.keep:
            print(f"kept {db_url}")
        else:
            drop_database(db_url)


if __name__ == "__main__":
    raise SystemExit(main())
