"""RFM segments and rating scores at size (``make bench-analyses``).

Loads the tenant of ``bench/analytics_at_size.py`` (100,000 customers, 250,000 orders) into a
fresh analytics database with COPY (or reuses one: ``--db-url``), starts the real service under
gunicorn and measures p50/p95 over HTTP of ``/api/v1/analytics/rfm`` (first page, a segment
filter, a deep page) and ``/api/v1/analytics/rating-scores`` (first and a deep page).

Writes bench/results/analyses_at_size.json. Needs the local PostgreSQL."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import time
from pathlib import Path

import requests
import sqlalchemy as sa
from analytics_at_size import FACTORY, ROOT, SERVICE_DIR, load

from crm_common.migrations import upgrade_head
from crm_testing import Process, auth_headers, base_env, create_database, drop_database, free_port, gunicorn_argv

RESULTS = ROOT / "bench" / "results" / "analyses_at_size.json"


def latency(http: requests.Session, url: str, n: int, **kw) -> dict:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        resp = http.get(url, timeout=120, **kw)
        times.append((time.perf_counter() - started) * 1000)
        assert resp.status_code == 200, resp.text[:300]
    times.sort()
    return {"requests": n, "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1), "max_ms": round(times[-1], 1)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--customers", type=int, default=100_000)
    p.add_argument("--orders", type=int, default=250_000)
    p.add_argument("--requests", type=int, default=20)
    p.add_argument("--db-url", help="reuse a loaded database (e.g. one kept with --keep)")
    p.add_argument("--keep", action="store_true", help="keep the database (prints its URL)")
    p.add_argument("--pythonpath", help="import the service from here first (e.g. an older checkout's code)")
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args(argv)
    load_at_start = round(os.getloadavg()[0], 2)
    db_url = args.db_url
    proc = None
    log_dir = ROOT / "var" / "bench-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    try:
        if db_url is None:
            db_url = create_database("crm_bench_analyses")
            upgrade_head(SERVICE_DIR, db_url)
            engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
            print("loading ...", flush=True)
            print(json.dumps(load(engine, args.customers, 1000, args.orders, 1, random.Random(20261121))), flush=True)
        port = free_port()
        env = base_env(ANALYTICS_DATABASE_URL=db_url, AMQP_URL="amqp://guest:guest@127.0.0.1:1/%2F",
                       LOG_LEVEL="WARNING", CRM_HOME=str(ROOT))
        if args.pythonpath:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [args.pythonpath, env.get("PYTHONPATH")]))
        proc = Process("analytics", gunicorn_argv("analytics_service.app:create_app()", port), env,
                       ready_url=f"http://127.0.0.1:{port}/healthz", log_dir=log_dir).start(wait=60)
        base = f"http://127.0.0.1:{port}/api/v1/analytics"
        http = requests.Session()
        http.headers.update(auth_headers(roles=["sales_admin"], factories=[FACTORY]))
        http.headers["X-Factory-Id"] = FACTORY
        http.get(f"{base}/rfm", timeout=300)
        n = args.requests
        results = {
            "rfm_page_1": latency(http, f"{base}/rfm?page=1&page_size=20", n),
            "rfm_segment_page_1": latency(http, f"{base}/rfm?segment=重要价值客户&page=1&page_size=20", n),
            "rfm_page_2000": latency(http, f"{base}/rfm?page=2000&page_size=20", n),
            "rating_scores_page_1": latency(http, f"{base}/rating-scores?page=1&page_size=20", n),
            "rating_scores_page_2000": latency(http, f"{base}/rating-scores?page=2000&page_size=20", n),
        }
        for name, row in results.items():
            print(f"{name:26} p50 {row['p50_ms']:>9} ms  p95 {row['p95_ms']:>9} ms", flush=True)
        out = {"measured_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
               "customers": args.customers, "orders": args.orders, "latency": results,
               "machine": {"cpus": os.cpu_count(), "load_average_1m_at_start": load_at_start,
                           "load_average_1m_at_end": round(os.getloadavg()[0], 2)},
               "command": "make bench-analyses"}
        out_path = Path(args.out)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n")
        print(f"wrote {out_path}")
        return 0
    finally:
        if proc is not None:
            proc.stop()
        if args.keep or args.db_url:
            print(f"kept {db_url}")
        else:
            drop_database(db_url)


if __name__ == "__main__":
    raise SystemExit(main())
