"""Bulk-create throughput (seed 000) against a raw PostgreSQL insert of the same rows.

Starts customer-service (and the gateway when it is installed) under gunicorn on a fresh
database with ``crm_testing.Stack``, creates ``--customers`` customers through
``POST /api/v1/customers/bulk-create/`` at ``--batch`` per request (sequentially, then
with ``--clients`` concurrent clients), ``--repeat`` rounds each, and inserts the same rows into the customers table
of another fresh database with psycopg2 ``executemany`` and with ``COPY``. Prints a table
and writes ``bench/results/bulk_create.json``.

    make bench-bulk            # or: .venv/bin/python bench/bulk_create.py --customers 3000
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import io
import json
import os
import platform
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg2
import requests

from crm_common.migrations import migrations_home, upgrade_head
from crm_testing import Stack, auth_headers, create_database, drop_database

RESULTS = Path(__file__).resolve().parent / "results" / "bulk_create.json"
FACTORY = "BENCH"


def records(count: int, tag: str) -> list[dict]:
    return [{"name": f"压测客户-{tag}-{i:06d}", "type": "company", "value_level": "normal", "status": "active",
             "business_license_number": f"9111{i:014d}", "industry_type": "制造业", "company_size": "medium",
             "primary_contact_name": "张三", "primary_contact_phone": "13800138000", "notes": "bench"}
            for i in range(count)]


def chunks(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def run_api(base: str, batches: list[list[dict]], clients: int) -> dict:
    headers = auth_headers(roles=["admin"], factories=[FACTORY])
    session_per_thread: dict[int, requests.Session] = {}

    def send(batch: list[dict]) -> float:
        import threading
        session = session_per_thread.setdefault(threading.get_ident(), requests.Session())
        started = time.perf_counter()
        resp = session.post(f"{base}/api/v1/customers/bulk-create/", json={"customers": batch},
                            headers=headers, timeout=120)
        if resp.status_code != 201:
            raise SystemExit(f"bulk-create answered {resp.status_code}: {resp.text[:300]}")
        return time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        latencies = list(pool.map(send, batches))
    elapsed = time.perf_counter() - started
    count = sum(len(b) for b in batches)
    return {"customers": count, "requests": len(batches), "clients": clients, "seconds": round(elapsed, 3),
            "customers_per_second": round(count / elapsed, 1),
            "request_p50_ms": round(statistics.median(latencies) * 1000, 1),
            "request_max_ms": round(max(latencies) * 1000, 1)}


RAW_COLUMNS = ("factory_id", "business_domain", "customer_code", "name", "type", "value_level", "status",
               "business_license_number", "industry_type", "company_size", "primary_contact_name",
               "primary_contact_phone", "notes", "credit_limit", "current_balance", "payment_terms", "rating",
               "source", "viewing_count", "total_commission", "version", "created_at", "updated_at")


def raw_rows(items: list[dict]) -> list[tuple]:
    now = dt.datetime.now(dt.timezone.utc)
    return [(FACTORY, "DEFAULT", f"RAW-{uuid.uuid4().hex[:12].upper()}", r["name"], r["type"], r["value_level"],
             r["status"], r["business_license_number"], r["industry_type"], r["company_size"],
             r["primary_contact_name"], r["primary_contact_phone"], r["notes"], 0, 0, 30, 3, "manual", 0, 0, 1,
             now, now) for r in items]


def psycopg2_dsn(url: str) -> str:
    return url.replace("postgresql+psycopg2://", "postgresql://")


def run_raw_executemany(url: str, rows: list[tuple], batch: int) -> dict:
    sql = (f"INSERT INTO customers ({', '.join(RAW_COLUMNS)}) "
           f"VALUES ({', '.join(['%s'] * len(RAW_COLUMNS))})")
    with psycopg2.connect(psycopg2_dsn(url)) as conn, conn.cursor() as cur:
        started = time.perf_counter()
        for part in chunks(rows, batch):  # one transaction per batch, like one request
            cur.executemany(sql, part)
            conn.commit()
        elapsed = time.perf_counter() - started
    return {"customers": len(rows), "seconds": round(elapsed, 3), "customers_per_second": round(len(rows) / elapsed, 1)}


def run_raw_copy(url: str, rows: list[tuple], batch: int) -> dict:
    def text(value) -> str:
        if value is None:
            return "\\N"
        if isinstance(value, dt.datetime):
            return value.isoformat()
        return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")

    with psycopg2.connect(psycopg2_dsn(url)) as conn, conn.cursor() as cur:
        started = time.perf_counter()
        for part in chunks(rows, batch):
            buf = io.StringIO("".join("\t".join(text(v) for v in row) + "\n" for row in part))
            cur.copy_expert(f"COPY customers ({', '.join(RAW_COLUMNS)}) FROM STDIN", buf)
            conn.commit()
        elapsed = time.perf_counter() - started
    return {"customers": len(rows), "seconds": round(elapsed, 3), "customers_per_second": round(len(rows) / elapsed, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients of the second API run")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per method (best and median reported)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    with_gateway = importlib.util.find_spec("gateway") is not None and \
        importlib.util.find_spec("gateway.app") is not None
    print(f"starting customer-service{' + gateway' if with_gateway else ''} ...", file=sys.stderr)
    runs: dict[str, list[dict]] = {key: [] for key in ("api_sequential", "api_concurrent",
                                                       "raw_executemany", "raw_copy")}
    with Stack(services=["customer"], workers=[], gateway=with_gateway) as stack:
        base = stack.gateway if with_gateway else stack.url("customer")
        run_api(base, [records(args.batch, "warm")], 1)
        for r in range(args.repeat):
            runs["api_sequential"].append(run_api(base, chunks(records(args.customers, f"seq{r}"), args.batch), 1))
            runs["api_concurrent"].append(run_api(base, chunks(records(args.customers, f"par{r}"), args.batch),
                                                  args.clients))

    raw_url = create_database("crm_bench_raw")
    try:
        upgrade_head(migrations_home("customer_service"), raw_url)
        for r in range(args.repeat):
            runs["raw_executemany"].append(run_raw_executemany(raw_url, raw_rows(records(args.customers, f"em{r}")),
                                                               args.batch))
            runs["raw_copy"].append(run_raw_copy(raw_url, raw_rows(records(args.customers, f"copy{r}")), args.batch))
    finally:
        drop_database(raw_url)

    def summary(rounds: list[dict]) -> dict:
        rates = [r["customers_per_second"] for r in rounds]
        best = max(rounds, key=lambda r: r["customers_per_second"])
        return {**best, "best_customers_per_second": max(rates),
                "median_customers_per_second": round(statistics.median(rates), 1), "rounds": rounds}

    results = {key: summary(value) for key, value in runs.items()}
    best = {key: value["best_customers_per_second"] for key, value in results.items()}
    median = {key: value["median_customers_per_second"] for key, value in results.items()}
    ratios = {"raw_executemany_over_api_sequential": round(best["raw_executemany"] / best["api_sequential"], 1),
              "raw_copy_over_api_sequential": round(best["raw_copy"] / best["api_sequential"], 1),
              "raw_executemany_over_api_concurrent": round(best["raw_executemany"] / best["api_concurrent"], 1),
              "api_concurrent_over_api_sequential": round(best["api_concurrent"] / best["api_sequential"], 2),
              "median_raw_executemany_over_api_sequential":
                  round(median["raw_executemany"] / median["api_sequential"], 1)}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    report = {
        "benchmark": "bulk_create", "customers": args.customers, "batch": args.batch, "repeat": args.repeat,
        "path": "client -> gateway -> customer-service -> PostgreSQL" if with_gateway
                else "client -> customer-service -> PostgreSQL",
        "per_record_work": "validation, batch name check, insert, outbox event, serialisation",
        "machine": {"cpus": os.cpu_count(), "load_average_1m": load, "python": platform.python_version(),
                    "platform": platform.platform()},
        "measured_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "results": results, "ratios": ratios,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    print(f"\nbulk create of {args.customers} customers, {args.batch} per request/transaction, "
          f"best and median of {args.repeat} ({report['path']}; load average {load})")
    print(f"{'method':<34}{'best/s':>10}{'median/s':>10}")
    labels = {"api_sequential": "API bulk-create, 1 client", "api_concurrent": f"API bulk-create, {args.clients} clients",
              "raw_executemany": "raw psycopg2 executemany", "raw_copy": "raw PostgreSQL COPY"}
    for key, label in labels.items():
        print(f"{label:<34}{best[key]:>10.1f}{median[key]:>10.1f}")
    print(f"raw executemany / API (1 client): {ratios['raw_executemany_over_api_sequential']}x   "
          f"raw COPY / API: {ratios['raw_copy_over_api_sequential']}x   "
          f"raw executemany / API ({args.clients} clients): {ratios['raw_executemany_over_api_concurrent']}x")
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
