"""The analysts' dashboard at size (``make bench-dashboard``, issue 18).

Loads one tenant of 100,000 customers, 200,000 viewing records and 250,000 orders
(1,000,000 order lines) into a fresh analytics database with bench/analytics_at_size.py's
COPY loader, starts analytics-service (gunicorn, 2 workers × 4 threads) and the gateway
(``gateway serve``, 2 workers), as in the other benches, and measures in Debian's headless Chromium (Playwright):

- first visit: navigation → the sign-in form usable (the page's own scripts ran);
- sign-in: paste an analyst token, click → every card drawn (body[data-state=ready]);
- a signed-in analyst opening the page again (the token is in the tab's sessionStorage):
  navigation → every card drawn, i.e. the page's time to interactive, over ``--loads``
  reloads; when each card was drawn (the page's ``card-ready:<id>`` marks); and, from
  the browser's Resource Timing, each data call's latency
  (request sent → response end) and its total (queued in the browser included);
- each data call alone through the gateway, sequentially with ``requests`` (no browser).

Writes bench/results/dashboard.json; ``--screenshot PATH`` also saves what the analyst sees.
Needs the local PostgreSQL and /usr/bin/chromium (scripts/ensure-browser.sh)."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa
from playwright.sync_api import sync_playwright

from crm_common.migrations import migrations_home, upgrade_head
from crm_testing import (
    Process,
    base_env,
    create_database,
    drop_database,
    free_port,
    gateway_argv,
    gunicorn_argv,
    make_token,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))

from analytics_at_size import FACTORY, load  # noqa: E402 - its 100k-tenant COPY loader
from common import summarize  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "dashboard.json"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--lang=zh-CN"]
TTI_GOAL_MS = 2000  # issue 18: interactive within 2 s on this machine


def endpoint_of(url: str) -> str:
    """A data call's name in the tables: its path, with the tenant left out."""
    return urlsplit(url).path.replace(f"/api/mobile/{FACTORY}/", "/api/mobile/{factoryId}/")


def browser_figures(gateway: str, token: str, loads: int, screenshot: Path | None) -> dict:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = chromium.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN",
                                       timezone_id="Asia/Shanghai")
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))

        started = time.perf_counter()
        page.goto(f"{gateway}/dashboard/")
        page.wait_for_selector("body[data-state=signed-out]")
        first_visit_ms = (time.perf_counter() - started) * 1000
        nav = page.evaluate("() => performance.getEntriesByType('navigation')[0].toJSON()")

        page.fill("#token-input", token)
        started = time.perf_counter()
        page.click("#token-form button[type=submit]")
        page.wait_for_selector("body[data-state=ready]")
        sign_in_ms = (time.perf_counter() - started) * 1000
        states = page.locator(".card").evaluate_all("cs => cs.map(c => [c.dataset.chart, c.dataset.state])")
        if screenshot:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)

        tti, cards, latency, total = [], defaultdict(list), defaultdict(list), defaultdict(list)
        for _ in range(loads):
            page.reload()
            page.wait_for_selector("body[data-state=ready]")
            tti.append(page.evaluate("() => performance.getEntriesByName('dashboard-ready')[0].startTime"))
            for mark in page.evaluate("() => performance.getEntriesByType('mark').map(m => [m.name, m.startTime])"):
                if mark[0].startswith("card-ready:"):
                    cards[mark[0].split(":", 1)[1]].append(mark[1])
            for entry in page.evaluate("() => performance.getEntriesByType('resource').map(e => e.toJSON())"):
                if "/api/" in entry["name"]:
                    name = endpoint_of(entry["name"])
                    latency[name].append(entry["responseEnd"] - entry["requestStart"])
                    total[name].append(entry["responseEnd"] - entry["startTime"])
        chromium.close()
    return {
        "first_visit_sign_in_form_ms": round(first_visit_ms, 1),
        "first_visit_dom_content_loaded_ms": round(nav["domContentLoadedEventEnd"], 1),
        "sign_in_to_every_card_drawn_ms": round(sign_in_ms, 1),
        "card_states": dict(states),
        "time_to_interactive_ms": summarize(tti),
        "card_drawn_ms": {card: summarize(times) for card, times in cards.items()},
        "data_calls_in_browser": {name: {"latency": summarize(latency[name]), "with_browser_queue": summarize(total[name])}
                                  for name in sorted(latency)},
        "page_errors": errors,
    }


def direct_figures(gateway: str, token: str, requests_per_call: int) -> dict:
    """Each of the page's data calls alone, one after the other, through the gateway."""
    today = dt.date.today()
    month_end = today.replace(day=1) - dt.timedelta(days=1)  # the last whole month
    year = {"date_from": (today - dt.timedelta(days=365)).isoformat(), "date_to": today.isoformat()}
    month = {"date_from": month_end.replace(day=1).isoformat(), "date_to": month_end.isoformat()}
    calls = {
        "/api/mobile/{factoryId}/customers/overall-statistics": (f"/api/mobile/{FACTORY}/customers/overall-statistics", {}),
        "/api/mobile/{factoryId}/customers/type-distribution": (f"/api/mobile/{FACTORY}/customers/type-distribution", {}),
        "/api/mobile/{factoryId}/customers/industry-distribution": (f"/api/mobile/{FACTORY}/customers/industry-distribution", {}),
        "/api/mobile/{factoryId}/customers/rating-distribution": (f"/api/mobile/{FACTORY}/customers/rating-distribution", {}),
        "/api/mobile/{factoryId}/customers/vip": (f"/api/mobile/{FACTORY}/customers/vip", {"limit": 10}),
        "/api/v1/analytics/rfm": ("/api/v1/analytics/rfm", {"page_size": 1}),
        "/api/v1/analytics/credit-risk": ("/api/v1/analytics/credit-risk", {}),
        "/api/v1/analytics/rating-scores": ("/api/v1/analytics/rating-scores", {"page_size": 10}),
        "/api/external/statistics (12 months)": ("/api/external/statistics", year),
        "/api/external/statistics (one month)": ("/api/external/statistics", month),
        "/api/v1/analytics/freshness": ("/api/v1/analytics/freshness", {}),
    }
    http = requests.Session()
    http.headers.update({"Authorization": f"Bearer {token}", "X-Factory-Id": FACTORY})
    out = {}
    for name, (path, params) in calls.items():
        http.get(gateway + path, params=params, timeout=120)  # warm
        times = []
        for _ in range(requests_per_call):
            started = time.perf_counter()
            resp = http.get(gateway + path, params=params, timeout=120)
            times.append((time.perf_counter() - started) * 1000)
            assert resp.status_code == 200, f"{name}: {resp.status_code} {resp.text[:300]}"
        out[name] = summarize(times)
    return out


def print_table(result: dict) -> None:
    b = result["browser"]
    tti = b["time_to_interactive_ms"]
    print(f"\nfirst visit → sign-in form usable: {b['first_visit_sign_in_form_ms']} ms "
          f"(DOMContentLoaded {b['first_visit_dom_content_loaded_ms']} ms)")
    print(f"sign-in click → every card drawn: {b['sign_in_to_every_card_drawn_ms']} ms")
    print(f"time to interactive (signed in, every card drawn), {tti['count']} loads: "
          f"p50 {tti['p50_ms']} ms, p95 {tti['p95_ms']} ms (goal ≤ {TTI_GOAL_MS} ms)")
    print("\neach card drawn (navigation → its chart or its error), p50 / p95 ms:")
    for card, times in sorted(b["card_drawn_ms"].items(), key=lambda kv: kv[1]["p50_ms"]):
        print(f"  {card:24} {times['p50_ms']:>9} {times['p95_ms']:>9}")
    print(f"\n{'data call':58} {'alone p50':>10} {'p95':>8} {'in page p50':>12} {'p95':>8} {'+queue p95':>11}")
    for name, alone in result["direct"].items():
        page = b["data_calls_in_browser"].get(name.split(" (")[0], {})  # the page's 13 periods share a row
        lat, q = page.get("latency", {}), page.get("with_browser_queue", {})
        print(f"{name:58} {alone['p50_ms']:>10} {alone['p95_ms']:>8} {lat.get('p50_ms', '—'):>12} "
              f"{lat.get('p95_ms', '—'):>8} {q.get('p95_ms', '—'):>11}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--customers", type=int, default=100_000)
    p.add_argument("--viewings", type=int, default=200_000)
    p.add_argument("--orders", type=int, default=250_000)
    p.add_argument("--lines-per-order", type=int, default=4)
    p.add_argument("--loads", type=int, default=10, help="signed-in page loads measured")
    p.add_argument("--requests", type=int, default=20, help="direct requests per data call")
    p.add_argument("--screenshot", type=Path, help="save the signed-in page as a PNG here")
    args = p.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: run scripts/ensure-browser.sh", file=sys.stderr)
        return 2
    load_at_start = round(os.getloadavg()[0], 2)
    db_url = create_database("crm_bench_dashboard")
    log_dir = ROOT / "var" / "bench-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    procs: list[Process] = []
    try:
        upgrade_head(migrations_home("analytics_service"), db_url)
        engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
        print("loading ...", flush=True)
        sizes = load(engine, args.customers, args.viewings, args.orders, args.lines_per_order, random.Random(20261121))
        engine.dispose()
        print(json.dumps(sizes), flush=True)
        analytics_port, gateway_port = free_port(), free_port()
        env = base_env(ANALYTICS_DATABASE_URL=db_url, AMQP_URL="amqp://guest:guest@127.0.0.1:1/%2F",
                       ANALYTICS_SERVICE_URL=f"http://127.0.0.1:{analytics_port}", LOG_LEVEL="WARNING",
                       CRM_HOME=str(ROOT))
        for name, argv, port in (("analytics", gunicorn_argv("analytics_service.app:create_app()", analytics_port),
                                  analytics_port),
                                 ("gateway", gateway_argv(gateway_port), gateway_port)):
            procs.append(Process(f"dashboard-{name}", argv, env,
                                 ready_url=f"http://127.0.0.1:{port}/healthz", log_dir=log_dir).start(wait=60))
        gateway = f"http://127.0.0.1:{gateway_port}"
        token = make_token(roles=["analyst"], factories=[FACTORY], name="基准分析员")
        print("browser ...", flush=True)
        browser = browser_figures(gateway, token, args.loads, args.screenshot)
        print("direct ...", flush=True)
        direct = direct_figures(gateway, token, args.requests)
        result = {"measured_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                  "data": sizes, "browser": browser, "direct": direct,
                  "machine": {"cpus": os.cpu_count(), "load_average_1m_at_start": load_at_start,
                              "load_average_1m_at_end": round(os.getloadavg()[0], 2)},
                  "service": "analytics-service under gunicorn, 2 workers x 4 threads; the gateway (gateway serve), 2 workers; "
                             "one local PostgreSQL; Debian's Chromium, headless",
                  "command": "make bench-dashboard"}
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
        print_table(result)
        print(f"\nwrote {RESULTS}")
        if args.screenshot:
            print(f"screenshot: {args.screenshot}")
        return 0
    finally:
        for proc in procs:
            proc.stop()
        drop_database(db_url)


if __name__ == "__main__":
    raise SystemExit(main())
