"""Issue 8: every process of the running set exposes the Prometheus metrics operators need.

The session stack (every HTTP service, the gateway and every relay and consumer of
``testing.WORKERS``, each worker serving ``METRICS_PORT``) gets some traffic through the
gateway; then each process's /metrics is scraped and parsed (other tests share the stack,
so every check is "at least", never "exactly"):

- HTTP services and gateway: ``http_requests_total`` by route and status and the
  ``http_request_duration_seconds`` histogram, non-zero where requests went;
- services with an outbox (and their relays): ``outbox_backlog`` and
  ``outbox_oldest_unsent_age_seconds``; relays count ``outbox_published_total``;
- consumers: ``events_consumed_total`` / ``events_failed_total`` per queue and
  ``dead_letter_queue_depth``;
- the gateway: ``gateway_upstream_request_duration_seconds`` and
  ``gateway_upstream_errors_total`` per upstream service."""
from __future__ import annotations

import time
import uuid

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from crm_testing import (
    HTTP_SERVICES,
    WORKER_READY_SIGNAL,
    WORKERS,
    Process,
    auth_headers,
    free_port,
    gateway_argv,
    prometheus_dir,
    rmtree,
)

pytestmark = pytest.mark.system

FACTORY = f"FM{uuid.uuid4().hex[:6].upper()}"
# The Settings.service name each HTTP process labels its metrics with.
SERVICE_LABEL = {name: name for name in [*HTTP_SERVICES, "gateway"]}
# Services whose outbox has a relay (customer.*, viewing.*, analytics' order.*).
OUTBOX_SERVICES = sorted({"customer", "viewing"} | {svc for svc, tail in WORKERS.values() if tail[0] == "relay"})
# Which traffic reaches each consumer's queue (its bindings): the event's producer.
CONSUMER_SOURCES = {"customer": "viewing", "analytics": "customer", "sync": "customer", "webhook": "customer"}
# What each kind of worker reports as soon as it runs.
FIRST_SIGNAL = WORKER_READY_SIGNAL


Sample = tuple[str, dict, float]


def scrape(url: str) -> list[Sample]:
    resp = requests.get(url, timeout=10)
    assert resp.status_code == 200, f"{url}: {resp.status_code}"
    return [(s.name, s.labels, s.value) for family in text_string_to_metric_families(resp.text)
            for s in family.samples]


def total(samples: list[Sample], name: str, **labels) -> float:
    return sum(value for n, l, value in samples if n == name and all(l.get(k) == v for k, v in labels.items()))


def present(samples: list[Sample], name: str, **labels) -> bool:
    return any(n == name and all(l.get(k) == v for k, v in labels.items()) for n, l, _ in samples)


def eventually(url: str, condition, timeout: float = 30.0) -> list[Sample]:
    """Scrape until ``condition(samples)`` holds (events travel asynchronously; a worker
    opens its metrics port once started)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            samples = scrape(url)
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
            continue
        if condition(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.5)


@pytest.fixture(scope="module")
def observed(stack):
    """The session stack after some traffic: (stack, which producers the traffic reached)."""
    # Events published before a consumer has declared its queue are unroutable (a topic
    # exchange drops them), as on a fresh broker: wait until every queue exists, the way
    # compose starts relays only after consumers are healthy.
    for worker, (_, tail) in WORKERS.items():
        signal = FIRST_SIGNAL[tail[0]]
        samples = eventually(stack.metrics_url(worker), lambda s: present(s, signal), timeout=60)
        assert present(samples, signal), f"{worker} never connected:\n{stack.procs[worker].tail()}"
    admin = auth_headers(roles=["admin"], factories=[FACTORY])
    gw = stack.gateway
    created = requests.post(f"{gw}/api/v1/customers", headers=admin, timeout=30, json={
        "customer": {"name": f"指标客户-{uuid.uuid4().hex[:6]}", "type": "company",
                     "primary_contact_name": "张三", "primary_contact_phone": "13800138000"}})
    assert created.status_code == 201, created.text
    customer_id = created.json()["data"]["id"]
    assert requests.get(f"{gw}/api/v1/customers/{customer_id}", headers=admin, timeout=30).status_code == 200
    assert requests.get(f"{gw}/api/v1/customers/999999999", headers=admin, timeout=30).status_code == 404
    viewing = requests.post(f"{gw}/api/external/viewing-records", timeout=30,
                            headers=auth_headers(roles=["integrator"], factories=[FACTORY]),
                            json={"userId": f"metrics-{uuid.uuid4().hex[:8]}", "customer_name": "李四",
                                  "customer_phone": "13900139000", "property_name": "万科城"})
    for path in ("/api/v1/analytics/overview", "/api/v1/projects"):  # through the proxy to each
        requests.get(f"{gw}{path}", headers=admin, timeout=30)
    requests.get(f"{gw}/readyz", timeout=30)  # the gateway probes every upstream's /readyz
    return stack, {"customer": True, "viewing": viewing.status_code == 200}


@pytest.mark.parametrize("name", [*HTTP_SERVICES, "gateway"])
def test_http_process_counts_requests_by_route_and_status_with_latency(observed, name):
    stack, _ = observed
    samples = scrape(stack.metrics_url(name))
    service = SERVICE_LABEL[name]
    assert total(samples, "http_requests_total", service=service) > 0
    assert total(samples, "http_request_duration_seconds_count", service=service) > 0
    assert present(samples, "http_request_duration_seconds_bucket", service=service, le="0.1")
    routes = {l["route"] for n, l, v in samples if n == "http_requests_total" and v > 0}
    assert "/readyz" in routes or name == "gateway"
    if name == "customer":
        posted = [l for n, l, v in samples if n == "http_requests_total" and v > 0
                  and l["method"] == "POST" and l["status"] == "201"]
        assert posted and posted[0]["route"].startswith("/api/v1/customers"), posted
        assert total(samples, "http_requests_total", service=service, status="404") > 0


@pytest.mark.parametrize("name", OUTBOX_SERVICES)
def test_service_with_an_outbox_reports_backlog_and_oldest_unsent_age(observed, name):
    stack, _ = observed
    samples = scrape(stack.metrics_url(name))  # set by each /readyz (the relay's own too)
    assert present(samples, "outbox_backlog", service=name)
    assert present(samples, "outbox_oldest_unsent_age_seconds", service=name)


def test_gateway_reports_upstream_latency_and_errors_per_service(observed, tmp_path):
    stack, _ = observed
    samples = scrape(stack.metrics_url("gateway"))
    for upstream in ("customer-service", "analytics-service", "sync-worker"):
        assert total(samples, "gateway_upstream_request_duration_seconds_count", service=upstream) > 0, upstream
    # An upstream that is down, without disturbing the shared stack: a second gateway whose
    # sync-worker URL leads nowhere answers for it and counts the error.
    port, metrics_port, prom = free_port(), free_port(), prometheus_dir()
    env = {**stack.env(), "SYNC_SERVICE_URL": f"http://127.0.0.1:{free_port()}", "PROMETHEUS_MULTIPROC_DIR": prom,
           "METRICS_PORT": str(metrics_port)}
    gateway = Process("gateway-sync-down", gateway_argv(port, workers=1), env,
                      ready_url=f"http://127.0.0.1:{port}/healthz", log_dir=tmp_path)
    try:
        gateway.start(wait=60)
        down = requests.get(f"http://127.0.0.1:{port}/api/v1/projects", timeout=30,
                            headers=auth_headers(roles=["admin"], factories=[FACTORY]))
        assert down.status_code in (502, 503, 504), down.text
        samples = scrape(f"http://127.0.0.1:{metrics_port}/metrics")
        assert total(samples, "gateway_upstream_errors_total", service="sync-worker") > 0
        assert present(samples, "gateway_upstream_errors_total", service="sync-worker", kind="unavailable")
        assert total(samples, "gateway_upstream_request_duration_seconds_count", service="sync-worker") > 0
    finally:
        gateway.stop()
        rmtree(prom)


@pytest.mark.parametrize("worker", sorted(w for w, (_, tail) in WORKERS.items() if tail[0] == "relay"))
def test_relay_reports_backlog_and_what_it_published(observed, worker):
    stack, traffic = observed
    service = WORKERS[worker][0]
    url = stack.metrics_url(worker)
    samples = eventually(url, lambda s: present(s, "outbox_backlog", service=service)
                         and (not traffic.get(service) or total(s, "outbox_published_total", service=service) > 0))
    assert present(samples, "outbox_backlog", service=service)
    assert present(samples, "outbox_oldest_unsent_age_seconds", service=service)
    if traffic.get(service):
        assert total(samples, "outbox_published_total", service=service) > 0


@pytest.mark.parametrize("worker", sorted(w for w, (_, tail) in WORKERS.items() if tail[0] == "consume"))
def test_consumer_reports_events_per_queue_and_dead_letter_depth(observed, worker):
    stack, traffic = observed
    service = WORKERS[worker][0]
    queue_prefix = HTTP_SERVICES[service]["dir"] + "."
    expects_events = traffic.get(CONSUMER_SOURCES.get(service, ""), False)
    url = stack.metrics_url(worker)

    def done(s):
        depth = any(n == "dead_letter_queue_depth" and l["queue"].startswith(queue_prefix) for n, l, _ in s)
        return depth and (not expects_events or total(s, "events_consumed_total") > 0)

    samples = eventually(url, done)
    depths = [(l["queue"], v) for n, l, v in samples if n == "dead_letter_queue_depth"]
    assert depths and all(q.startswith(queue_prefix) for q, _ in depths), depths
    if expects_events:
        consumed = [(l["queue"], l["outcome"]) for n, l, v in samples if n == "events_consumed_total" and v > 0]
        assert consumed and all(q.startswith(queue_prefix) for q, _ in consumed), consumed
