"""The tenant customer API (seed 001) with 100,000 customers in one factory.

Starts customer-service (and the gateway when it is installed) under gunicorn on a fresh
PostgreSQL database with ``crm_testing.Stack(services=["customer"], workers=[])``,
loads ``--customers`` customers straight into its database (one INSERT ... SELECT through
SQLAlchemy Core: loading is not what is measured), then measures, one request at a time
through the gateway:

- list: ``GET /api/mobile/BENCH/customers`` on random pages (newest first, and by name),
- search: ``GET .../search?keyword=`` with selective keywords (a name, code or contact
  fragment matching a handful of customers) and with a broad one (one customer in eight),
- detail: ``GET .../{id}`` of random customers,

as p50/p95 latencies, then the export of every customer (``GET .../export``): wall time,
file size, and the peak resident memory of the gunicorn workers while it ran (sampled
from /proc every 20 ms); and last the Excel import of ``--import-rows`` (10,000: the most
one file may hold) new customers into another factory. analytics-service is not
started: order figures stay null and each call to it fails at once (connection refused).

Prints a table and writes ``bench/results/customers_at_size.json``.

    make bench-customers        # or: .venv/bin/python bench/customers_at_size.py --customers 20000
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import sys
import threading
import time
from pathlib import Path

import openpyxl
import requests
import sqlalchemy as sa

from crm_testing import Stack, auth_headers, free_port

RESULTS = Path(__file__).resolve().parent / "results" / "customers_at_size.json"
FACTORY = "BENCH"
CITIES = ["上海", "北京", "广州", "深圳", "杭州", "成都", "武汉", "南京"]
INDUSTRIES = ["餐饮", "零售", "批发", "食品加工", "商超", "电商", "酒店", "其他"]
SURNAMES = ["张", "王", "李", "赵", "刘", "陈", "杨", "黄"]
TYPES = ["company", "individual", "dealer", "retail"]
TYPE_LABELS = ["企业", "个人", "经销商", "零售"]


def sql_array(values: list[str]) -> str:
    return "ARRAY[" + ",".join(f"'{v}'" for v in values) + "]"


LOAD = sa.text(f"""
INSERT INTO customers (
    factory_id, business_domain, customer_code, name, type, status, industry_type,
    primary_contact_name, primary_contact_phone, email, address, credit_limit, current_balance,
    debt_since, payment_terms, rating, source, viewing_count, total_commission, version,
    created_at, updated_at, created_by)
SELECT :factory, 'DEFAULT', 'C-' || lpad(g::text, 8, '0'),
       ({sql_array(CITIES)})[1 + g % 8] || ({sql_array(INDUSTRIES)})[1 + (g / 8) % 8] || '客户' || lpad(g::text, 6, '0'),
       ({sql_array(TYPES)})[1 + g % 4],
       CASE WHEN g % 20 = 0 THEN 'inactive' ELSE 'active' END,
       ({sql_array(INDUSTRIES)})[1 + (g / 8) % 8],
       ({sql_array(SURNAMES)})[1 + g % 8] || '经理' || (g % 1000),
       '138' || lpad(g::text, 8, '0'),
       'c' || g || '@example.com',
       ({sql_array(CITIES)})[1 + g % 8] || '市某某路' || (g % 500) || '号',
       (g % 10) * 10000,
       CASE WHEN g % 10 = 0 THEN -((g % 7) + 1) * 1000 ELSE 0 END,
       CASE WHEN g % 10 = 0 THEN now() - ((g % 60) || ' days')::interval END,
       30, 1 + g % 5, 'manual', 0, 0, 1,
       now() - ((:count - g) || ' seconds')::interval, now(), 'bench'
FROM generate_series(1, :count) AS g
""")


def load(db_url: str, count: int) -> float:
    started = time.perf_counter()
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(LOAD, {"factory": FACTORY, "count": count})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE customers"))
    engine.dispose()
    return time.perf_counter() - started


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def measure(session: requests.Session, urls: list[tuple[str, dict]], name: str = "") -> dict:
    timings = []
    for url, params in urls:
        started = time.perf_counter()
        resp = session.get(url, params=params, timeout=60)
        timings.append((time.perf_counter() - started) * 1000)
        if resp.status_code != 200:
            raise SystemExit(f"{url} {params} answered {resp.status_code}: {resp.text[:300]}")
    result = {"requests": len(timings), "p50_ms": round(percentile(timings, 50), 1),
              "p95_ms": round(percentile(timings, 95), 1), "max_ms": round(max(timings), 1)}
    print(f"  {name}: {result}", flush=True)
    return result


def worker_pids(master_pid: int) -> list[int]:
    try:
        children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    except FileNotFoundError:
        return []
    return [int(pid) for pid in children]


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def export(session: requests.Session, url: str, pids: list[int]) -> dict:
    before = {pid: rss_mb(pid) for pid in pids}
    peak = dict(before)
    done = threading.Event()

    def sample():
        while not done.is_set():
            for pid in pids:
                peak[pid] = max(peak[pid], rss_mb(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    size = 0
    with session.get(url, stream=True, timeout=300) as resp:
        if resp.status_code != 200:
            raise SystemExit(f"export answered {resp.status_code}: {resp.text[:300]}")
        rows = int(resp.headers.get("X-Total-Count", 0))
        for chunk in resp.iter_content(256 * 1024):
            size += len(chunk)
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    busiest = max(pids, key=lambda pid: peak[pid] - before[pid])
    return {"seconds": round(seconds, 1), "rows": rows, "bytes": size,
            "worker_rss_before_mb": round(before[busiest], 1), "worker_rss_peak_mb": round(peak[busiest], 1),
            "worker_rss_growth_mb": round(peak[busiest] - before[busiest], 1)}


def import_rows(session: requests.Session, base: str, rows: int) -> dict:
    """POST /import of ``rows`` new customers (the largest file the import accepts by
    default is 10,000 rows) into an empty factory."""
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("客户")
    sheet.append(["客户名称", "客户代码", "客户类型", "行业", "联系人", "联系电话", "邮箱", "信用额度", "付款期限", "评级"])
    for g in range(1, rows + 1):
        sheet.append([f"导入客户{g:06d}", f"I-{g:08d}", TYPE_LABELS[g % 4], INDUSTRIES[g % 8], f"{SURNAMES[g % 8]}经理",
                      f"139{g:08d}", f"i{g}@example.com", (g % 10) * 10000, 30, 1 + g % 5])
    buffer = io.BytesIO()
    book.save(buffer)
    content = buffer.getvalue()
    started = time.perf_counter()
    resp = session.post(f"{base}/import", files={"file": ("customers.xlsx", content)}, timeout=300)
    seconds = time.perf_counter() - started
    if resp.status_code != 200:
        raise SystemExit(f"import answered {resp.status_code}: {resp.text[:300]}")
    return {"rows": rows, "bytes": len(content), "seconds": round(seconds, 1),
            "imported": resp.json()["data"]["successCount"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300, help="requests per measured endpoint")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--import-rows", type=int, default=10_000)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    load_at_start = [round(x, 1) for x in os.getloadavg()]  # other work on the machine skews latencies
    try:
        import gateway.app  # noqa: F401
        with_gateway = True
    except ImportError:
        with_gateway = False
    # analytics-service is not part of this run: point at a closed port so that order
    # figures fail at once instead of reaching whatever may listen on the default port.
    extra = {"ANALYTICS_SERVICE_URL": f"http://127.0.0.1:{free_port()}", "LOG_LEVEL": "WARNING"}
    print(f"starting customer-service{' and the gateway' if with_gateway else ''}…", flush=True)
    with Stack(services=["customer"], workers=[], gateway=with_gateway, extra_env=extra) as stack:
        base = (stack.gateway if with_gateway else stack.url("customer")) + f"/api/mobile/{FACTORY}/customers"
        load_seconds = load(stack.db_urls["customer"], args.customers)
        print(f"loaded {args.customers} customers in {load_seconds:.1f} s", flush=True)
        session = requests.Session()
        session.headers.update(auth_headers(roles=["admin"], factories=[FACTORY, f"{FACTORY}-IMPORT"]))
        session.get(base, params={"size": 1}, timeout=60)  # warm up both workers' pools
        n, count = args.requests, args.customers
        pages = min(max(1, count // 20), 500)
        first_id = sa.create_engine(stack.db_urls["customer"]).connect().execute(
            sa.text("SELECT min(id) FROM customers WHERE factory_id = :f"), {"f": FACTORY}).scalar()

        def selective_keyword() -> str:
            g = rng.randint(1, count)
            return rng.choice([f"{g:06d}", f"C-{g:08d}"[:9], f"{SURNAMES[g % 8]}经理{g % 1000}",
                               f"{CITIES[g % 8]}{INDUSTRIES[(g // 8) % 8]}客户{g:06d}"])

        plan = {
            "list (newest first, size 20)": [(base, {"page": rng.randint(1, pages), "size": 20}) for _ in range(n)],
            "list (by name, size 20)": [(base, {"page": rng.randint(1, pages), "size": 20, "sortBy": "name",
                                                "sortOrder": "asc"}) for _ in range(n)],
            "search (selective keyword)": [(f"{base}/search", {"keyword": selective_keyword()}) for _ in range(n)],
            "search (broad: 1 in 8 match)": [(f"{base}/search", {"keyword": rng.choice(INDUSTRIES)})
                                             for _ in range(max(20, n // 5))],
            "detail": [(f"{base}/{first_id + rng.randrange(count)}", {}) for _ in range(n)],
        }
        results = {name: measure(session, urls, name) for name, urls in plan.items()}
        pids = worker_pids(stack.procs["customer"].proc.pid)
        print("exporting…", flush=True)
        exported = export(session, f"{base}/export", pids)
        print(f"importing {args.import_rows} rows…", flush=True)
        imported = import_rows(session, base.replace(f"/{FACTORY}/", f"/{FACTORY}-IMPORT/"), args.import_rows)

    report = {
        "customers": args.customers, "through_gateway": with_gateway, "load_seconds": round(load_seconds, 1),
        "latency": results, "export": exported, "import": imported,
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": platform.platform(),
                    "load_average_at_start": load_at_start, "load_average_at_end": [round(x, 1) for x in os.getloadavg()]},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    print(f"\n{args.customers} customers in one factory, {'through the gateway' if with_gateway else 'direct'}, "
          f"{os.cpu_count()} CPUs, load average {load_at_start[0]} at start")
    print(f"{'endpoint':34} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, r in results.items():
        print(f"{name:34} {r['requests']:>8} {r['p50_ms']:>8} {r['p95_ms']:>8} {r['max_ms']:>8}")
    print(f"\nexport: {exported['rows']} customers, {exported['bytes'] / 1e6:.1f} MB in {exported['seconds']} s; "
          f"gunicorn worker RSS {exported['worker_rss_before_mb']} -> {exported['worker_rss_peak_mb']} MB "
          f"(+{exported['worker_rss_growth_mb']} MB)")
    print(f"import: {imported['rows']} rows (.xlsx, {imported['bytes'] / 1e6:.1f} MB) in {imported['seconds']} s, "
          f"{imported['imported']} imported")
    print(f"written to {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")


if __name__ == "__main__":
    main()
