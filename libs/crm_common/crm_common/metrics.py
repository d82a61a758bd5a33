"""Prometheus metrics shared by every process.

Under gunicorn with several workers set ``PROMETHEUS_MULTIPROC_DIR`` (the Procfile and the
images do) so that ``/metrics`` aggregates all workers."""
from __future__ import annotations

import os
import time

from flask import Flask, g, request
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, multiprocess

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests handled",
                        ["service", "method", "route", "status"])
HTTP_LATENCY = Histogram("http_request_duration_seconds", "HTTP request latency",
                         ["service", "method", "route"], buckets=LATENCY_BUCKETS)


def gauge(name: str, doc: str, labels: list[str]) -> Gauge:
    """A gauge that aggregates sensibly across worker processes: the value most recently
    set by any live process wins (a backlog refreshed by the worker that served the last
    scrape replaces the stale value another worker set earlier)."""
    kwargs = {"multiprocess_mode": "livemostrecent"} if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else {}
    return Gauge(name, doc, labels, **kwargs)


def install_request_metrics(app: Flask, service: str) -> None:
    @app.before_request
    def _start_timer():
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _observe(response):
        started = g.get("metrics_started")
        if started is not None:
            route = request.url_rule.rule if request.url_rule is not None else "unmatched"
            HTTP_REQUESTS.labels(service, request.method, route, str(response.status_code)).inc()
            HTTP_LATENCY.labels(service, request.method, route).observe(time.perf_counter() - started)
        return response


def registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        reg = CollectorRegistry()
        multiprocess.MultiProcessCollector(reg)
        return reg
    return REGISTRY


def start_metrics_server(port: int | None) -> None:
    """Serve ``/metrics`` on ``METRICS_PORT`` (CONTRACT §3: never on a public port): relays
    and consumers call it at start, gunicorn's master once its workers may write samples
    (all workers aggregated through ``PROMETHEUS_MULTIPROC_DIR``). ``METRICS_ADDR`` binds
    another address than every interface (127.0.0.1 for a process on a shared host)."""
    if port:
        from prometheus_client import start_http_server
        start_http_server(int(port), addr=os.environ.get("METRICS_ADDR") or "0.0.0.0", registry=registry())
