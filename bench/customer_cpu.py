"""customer-service CPU per request, in process (issue 19's read and write goals).

The Flask app of customer-service on a fresh PostgreSQL database, called through Flask's
test client in this process: CPU per request is ``time.process_time`` over N requests
(the test client's own work included, about 0.1 ms), which a busy machine barely moves.
Then, with ``--size``, the list, search and detail at that many customers: p50/p95 of the
same in-process requests (wall clock). ``--profile ROW`` prints a cProfile (CPU time) of
one row instead.

    .venv/bin/python bench/customer_cpu.py                       # CPU rows, ~1 min
    .venv/bin/python bench/customer_cpu.py --size 100000         # + reads at 100k
    .venv/bin/python bench/customer_cpu.py --profile update      # where update's CPU goes
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bulk_create  # noqa: E402
import customers_at_size  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from common import format_table, percentile  # noqa: E402

from crm_common.config import Settings  # noqa: E402
from crm_testing import TEST_JWT_SECRET, auth_headers, migrated_database  # noqa: E402

FACTORY = customers_at_size.FACTORY
ROWS = ("v1 detail", "mobile detail", "v1 create", "v1 update", "mobile update", "bulk create 100")


def make_app(url: str):
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    from customer_service.app import create_app
    settings = Settings.from_env("customer", {
        "CUSTOMER_DATABASE_URL": url, "JWT_SECRET": TEST_JWT_SECRET,
        "AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/%2F",
        # the mobile detail asks analytics for lifetime values: a port nobody listens on
        "ANALYTICS_SERVICE_URL": "http://127.0.0.1:9", "ORDER_SUMMARY_TIMEOUT": "0.2"})
    return create_app(settings)


class Rows:
    def __init__(self, client, headers):
        self.client, self.headers = client, headers
        self.ids: list[int] = []
        self.n = 0

    def create(self) -> int:
        self.n += 1
        resp = self.client.post("/api/v1/customers", headers=self.headers, json={"customer": {
            "name": f"写入-{uuid.uuid4().hex[:12]}", "type": "company", "value_level": "normal",
            "industry_type": "制造业", "primary_contact_name": "张三", "primary_contact_phone": "13800138000",
            "notes": "bench"}})
        assert resp.status_code == 201, resp.get_data(as_text=True)[:300]
        cid = resp.get_json()["data"]["id"]
        self.ids.append(cid)
        return cid

    def op(self, row: str):
        c, h = self.client, self.headers
        if row == "v1 create":
            return self.create
        ids = list(self.ids)

        def pick():
            self.n += 1
            return ids[self.n % len(ids)]
        if row == "v1 detail":
            return lambda: _ok(c.get(f"/api/v1/customers/{pick()}", headers=h))
        if row == "mobile detail":
            return lambda: _ok(c.get(f"/api/mobile/{FACTORY}/customers/{pick()}", headers=h))
        if row == "v1 update":
            return lambda: _ok(c.put(f"/api/v1/customers/{pick()}", headers=h,
                                     json={"contact_person": f"李{self.n}", "notes": f"bench update {self.n}"}))
        if row == "mobile update":
            return lambda: _ok(c.put(f"/api/mobile/{FACTORY}/customers/{pick()}", headers=h,
                                     json={"contactPerson": f"李{self.n}", "notes": f"bench update {self.n}"}))
        if row == "bulk create 100":
            return lambda: _ok(c.post("/api/v1/customers/bulk-create/", headers=h, json={
                "customers": bulk_create.records(100, uuid.uuid4().hex[:10])}), 201)
        raise ValueError(row)


def _ok(resp, status: int = 200):
    assert resp.status_code == status, resp.get_data(as_text=True)[:300]


def cpu_per_call(op, n: int, warmup: int = 20) -> float:
    for _ in range(warmup):
        op()
    started = time.process_time()
    for _ in range(n):
        op()
    return (time.process_time() - started) * 1000 / n


def wall(op, n: int, warmup: int = 5) -> dict:
    for _ in range(warmup):
        op()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        op()
        samples.append((time.perf_counter() - started) * 1000)
    return {"p50": percentile(samples, 50), "p95": percentile(samples, 95)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=300, help="requests per CPU row (bulk: n/20)")
    parser.add_argument("--rounds", type=int, default=3, help="best of this many rounds per row")
    parser.add_argument("--rows", default=",".join(ROWS))
    parser.add_argument("--size", type=int, default=0, help="also list/search/detail at this many customers")
    parser.add_argument("--profile", help="cProfile (CPU) one row instead of timing")
    args = parser.parse_args(argv)
    from customer_service.cli import SERVICE_DIR
    with migrated_database(SERVICE_DIR, "crm_bench_cpu") as url:
        app = make_app(url)
        client = app.test_client()
        rows = Rows(client, auth_headers(roles=["admin"], factories=[FACTORY]))
        for _ in range(200):
            rows.create()
        if args.profile:
            op = rows.op(args.profile)
            cpu_per_call(op, 20)
            prof = cProfile.Profile(time.process_time)
            prof.enable()
            for _ in range(args.n):
                op()
            prof.disable()
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(60)
            pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(40)
            print(out.getvalue())
            return 0
        table = []
        for row in args.rows.split(","):
            n = max(5, args.n // 20) if row.startswith("bulk") else args.n
            best = min(cpu_per_call(rows.op(row), n, warmup=3 if row.startswith("bulk") else 20)
                       for _ in range(args.rounds))
            table.append([row, n, round(best, 2)])
        print(format_table(["customer-service in process", "requests", "CPU ms/request (best round)"], table,
                           title=f"CPU per request ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
                                 f"load {os.getloadavg()[0]:.1f})"))
        if args.size:
            print(f"loading {args.size:,} customers ...", flush=True)
            customers_at_size.load(url, args.size)
            engine = sa.create_engine(url)
            with engine.connect() as conn:
                first = conn.execute(sa.text("SELECT min(id) FROM customers WHERE factory_id = :f AND created_by = "
                                             "'bench'"), {"f": FACTORY}).scalar()
            engine.dispose()
            rng = random.Random(7)
            pages = max(1, min(500, args.size // 20))
            h = rows.headers
            reads = {
                "v1 list (page_size 20, page <= 500)": lambda: _ok(client.get(
                    f"/api/v1/customers?page={rng.randint(1, pages)}&page_size=20", headers=h)),
                "v1 search (keyword, page 1)": lambda: _ok(client.get(
                    f"/api/v1/customers?keyword={_keyword(rng, args.size)}&page=1&page_size=20", headers=h)),
                "v1 detail": lambda: _ok(client.get(f"/api/v1/customers/{first + rng.randrange(args.size)}",
                                                    headers=h)),
                "mobile list (size 20)": lambda: _ok(client.get(
                    f"/api/mobile/{FACTORY}/customers?page={rng.randint(1, pages)}&size=20", headers=h)),
                "mobile search (keyword)": lambda: _ok(client.get(
                    f"/api/mobile/{FACTORY}/customers/search?keyword={_keyword(rng, args.size)}", headers=h)),
            }
            table = [[name, round((r := wall(op, 100))["p50"], 1), round(r["p95"], 1)] for name, op in reads.items()]
            print(format_table(["read at size, in process", "p50 ms", "p95 ms"], table,
                               title=f"{args.size:,} customers in one factory (load {os.getloadavg()[0]:.1f})"))
    return 0


def _keyword(rng: random.Random, count: int) -> str:
    """A selective keyword, as make bench's: one customer's number, in its name and its code."""
    return f"{rng.randint(1, count):06d}"


if __name__ == "__main__":
    sys.exit(main())
