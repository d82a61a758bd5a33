"""Rate limits per token through the running gateway: in memory (one worker), shared in
Redis across two gunicorn workers, and failing open when Redis is down."""
from __future__ import annotations

import math
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import requests
from prometheus_client.parser import text_string_to_metric_families

from crm_testing import free_port, make_token

PING = "/api/external/viewing-records/ping"
HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


def token_headers(role: str = "integrator") -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(roles=[role], sub=f'{role}-{uuid.uuid4().hex[:8]}')}"}


def burst(url: str, headers: dict, count: int) -> tuple[list[requests.Response], float]:
    started = time.monotonic()
    with requests.Session() as session:
        responses = [session.get(url, headers=headers, timeout=10) for _ in range(count)]
    return responses, time.monotonic() - started


def test_an_integrator_over_ten_per_second_gets_429_while_another_integrator_is_unaffected(gw):
    first = token_headers()
    responses, elapsed = burst(gw.url + PING, first, 25)
    for resp in responses:
        assert all(resp.headers.get(name) for name in HEADERS), dict(resp.headers)
        assert resp.headers["X-RateLimit-Limit"] == "10"
    passed = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code == 429]
    assert len(passed) + len(refused) == 25
    assert 10 <= len(passed) <= 10 + math.ceil(10 * elapsed) + 1, (len(passed), elapsed)
    assert refused, "25 requests in a burst must exceed 10/s"
    limited = refused[0]
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    body = limited.json()
    assert body == {"success": False, "error": "RATE_LIMITED", "message": body["message"]} and body["message"]
    assert limited.headers["X-Trace-Id"]
    assert [int(r.headers["X-RateLimit-Remaining"]) for r in passed[:3]] == [9, 8, 7]

    other = requests.get(gw.url + PING, headers=token_headers(), timeout=10)
    assert other.status_code == 200 and other.headers["X-RateLimit-Remaining"] == "9"

    time.sleep(0.25)  # two emission intervals: the first integrator may send again
    assert requests.get(gw.url + PING, headers=first, timeout=10).status_code == 200


def test_an_admin_is_not_held_to_the_integrator_limit(gw):
    responses, _ = burst(gw.url + PING, token_headers("admin"), 25)
    assert {r.status_code for r in responses} == {200}
    assert int(responses[0].headers["X-RateLimit-Limit"]) > 10


@pytest.fixture(scope="module")
def shared_gateways(start_gateway, redis_url):
    """Two gateway processes (as two replicas would be) on one Redis prefix. Which process
    answers is decided by the test, not by the kernel's accept order, so the proof that
    they share one bucket holds on every run."""
    prefix = f"gateway-test:{uuid.uuid4().hex}"
    env = dict(REDIS_URL=redis_url, RATE_LIMIT_PREFIX=prefix, RATE_LIMITS='{"integrator": {"rate": 1, "burst": 10}}')
    running = [start_gateway("gateway-redis-a", **env), start_gateway("gateway-redis-b", **env)]
    client = redis.Redis.from_url(redis_url)
    yield running, prefix
    keys = list(client.scan_iter(f"{prefix}:*"))  # only this run's keys
    if keys:
        client.delete(*keys)


def count_429(metrics_url: str) -> float:
    text = requests.get(metrics_url, timeout=10).text
    return sum(s.value for family in text_string_to_metric_families(text) for s in family.samples
               if s.name == "http_requests_total" and s.labels.get("status") == "429")


def test_with_redis_two_gateway_processes_share_one_limit(shared_gateways, redis_url):
    gateways, prefix = shared_gateways
    headers = token_headers()

    def one(i):  # requests alternate between the two processes
        return requests.get(gateways[i % 2].url + PING, headers=headers, timeout=10)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(one, range(40)))
    elapsed = time.monotonic() - started
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 429}
    passed = statuses.count(200)
    # one bucket of 10 refilled at 1/s; two separate buckets would let 20 through
    assert 10 <= passed <= 10 + math.ceil(elapsed) + 1, (passed, elapsed)
    assert all(all(r.headers.get(name) for name in HEADERS) for r in responses)
    assert list(redis.Redis.from_url(redis_url).scan_iter(f"{prefix}:*"))
    # each process counts what it answered, on its internal metrics port only
    assert sum(count_429(gw.metrics_url) for gw in gateways) == statuses.count(429)
    assert requests.get(gateways[0].url + "/metrics", timeout=10).status_code == 401


def test_without_redis_the_workers_of_one_gateway_still_share_one_limit(start_gateway):
    """Without a shared store each worker used to count alone (limit × workers). Whichever
    worker the kernel hands each new connection to, the sum stays one bucket."""
    gw = start_gateway("gateway-no-redis", workers=3, RATE_LIMITS='{"integrator": {"rate": 1, "burst": 10}}')
    headers = {**token_headers(), "Connection": "close"}  # a new connection per request
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: requests.get(gw.url + PING, headers=headers, timeout=10).status_code,
                                 range(45)))
    elapsed = time.monotonic() - started
    assert set(statuses) <= {200, 429}
    assert 10 <= statuses.count(200) <= 10 + math.ceil(elapsed) + 1, (statuses.count(200), elapsed)
    ready = requests.get(gw.url + "/readyz", timeout=10).json()["checks"]["rate_limit_store"]
    assert ready["ok"] is True and ready["detail"]["store"] == "shared-file"


def test_when_redis_is_down_the_limiter_fails_open_and_says_so(start_gateway):
    gw = start_gateway("gateway-redis-down", REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
                       RATE_LIMITS='{"integrator": {"rate": 1, "burst": 2}}')
    responses, _ = burst(gw.url + PING, token_headers(), 10)
    assert {r.status_code for r in responses} == {200}
    assert all(r.headers["X-RateLimit-Limit"] == "2" for r in responses)
    assert any(line.get("event") == "rate_limit_store_unavailable" and line.get("level") == "warning"
               for line in gw.log_lines("gateway-redis-down"))
    ready = requests.get(gw.url + "/readyz", timeout=10)
    assert ready.status_code == 200 and ready.json()["checks"]["rate_limit_store"]["ok"] is False
