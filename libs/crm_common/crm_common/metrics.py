"""Prometheus metrics shared by every process.

Under gunicorn with several workers set ``PROMETHEUS_MULTIPROC_DIR`` (the Procfile and the
images do) so that ``/metrics`` aggregates all workers."""
from __future__ import annotations

import os
import time

from flask import Flask, Response, g, request
from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram,
                               REGISTRY, generate_latest, multiprocess)

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests handled",
                        ["service", "method", "route", "status"])
HTTP_LATENCY = Histogram("http_request_duration_seconds", "HTTP request latency",
                         ["service", "method", "route"], buckets=LATENCY_BUCKETS)


def gauge(name: str, doc: str, labels: list[str]) -> Gauge:
    """A gauge that aggregates sensibly across worker processes."""
    kwargs = {"multiprocess_mode": "livemax"} if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else {}
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


def metrics_response() -> Response:
    return Response(generate_latest(registry()), mimetype=CONTENT_TYPE_LATEST)


def start_metrics_server(port: int | None) -> None:
    """Background processes (relays, consumers) expose /metrics on ``METRICS_PORT``."""
    if port:
        from prometheus_client import start_http_server
        start_http_server(int(port), addr="0.0.0.0")
