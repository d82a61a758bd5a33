"""Prometheus metrics shared by every process.

Under gunicorn with several workers set ``PROMETHEUS_MULTIPROC_DIR`` (the Procfile and the
images do) so that ``/metrics`` aggregates all workers."""
from __future__ import annotations

import os
import time

from flask import Flask, Response, current_app, g, has_app_context, request
from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram,
                               REGISTRY, generate_latest, multiprocess)

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
        if started is not None and request.path != "/metrics":
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


# Ready checks (crm_common.web.add_ready_check) that also set gauges describing current
# state; they run on every scrape so that /metrics is fresh without a probe hitting /readyz.
SCRAPE_REFRESHED_CHECKS = ("outbox",)


def refresh_state_gauges() -> None:
    """Run the app's state-describing ready checks (the outbox backlog of a service with an
    outbox sets ``outbox_backlog`` and ``outbox_oldest_unsent_age_seconds``)."""
    if not has_app_context():
        return
    for name, check, _critical in current_app.extensions.get("crm_ready_checks", []):
        if name in SCRAPE_REFRESHED_CHECKS:
            try:
                check()
            except Exception:  # noqa: BLE001 - a scrape never fails on a dependency
                pass


def metrics_response() -> Response:
    refresh_state_gauges()
    return Response(generate_latest(registry()), mimetype=CONTENT_TYPE_LATEST)


def start_metrics_server(port: int | None) -> None:
    """Background processes (relays, consumers) expose /metrics on ``METRICS_PORT``."""
    if port:
        from prometheus_client import start_http_server
        start_http_server(int(port), addr="0.0.0.0")
