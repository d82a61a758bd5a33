"""The gateway's own Prometheus metrics (the shared request metrics come from
``crm_common.metrics``; under gunicorn ``PROMETHEUS_MULTIPROC_DIR`` aggregates workers)."""
from __future__ import annotations

from prometheus_client import Counter, Histogram

from crm_common.metrics import LATENCY_BUCKETS

UPSTREAM_LATENCY = Histogram(
    "gateway_upstream_request_duration_seconds",
    "Time from sending a request upstream until its response headers arrived",
    ["service"], buckets=LATENCY_BUCKETS + (30.0, 60.0))
UPSTREAM_ERRORS = Counter(
    "gateway_upstream_errors_total",
    "Upstream calls that failed: unavailable (refused), timeout, bad_gateway, stream_aborted",
    ["service", "kind"])
RATE_LIMITED = Counter(
    "gateway_rate_limited_total", "Requests refused with 429, by rate-limit policy", ["policy"])
RATE_LIMIT_STORE_ERRORS = Counter(
    "gateway_rate_limit_store_errors_total",
    "Rate-limit checks that failed open because Redis could not be reached")
