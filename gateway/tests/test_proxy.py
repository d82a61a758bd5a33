"""The gateway under gunicorn in front of real processes: tokens, trace ids, routing,
streaming both ways, size limits, upstream failures, readiness, docs and metrics."""
from __future__ import annotations

import hashlib
import http.client
import os
import socket
import threading
import time
import uuid

import pytest
import requests
from openapi_spec_validator import validate
from prometheus_client.parser import text_string_to_metric_families

from crm_testing import make_token, wait_for

MiB = 1024 * 1024
ADMIN_SUB = "gw-admin"
ADMIN = {"Authorization": f"Bearer {make_token(roles=['admin'], sub=ADMIN_SUB)}"}
VIEWING = "/api/external/viewing-records"


def assert_error_envelope(resp, status: int, path: str) -> dict:
    """The envelope of the path's surface (CONTRACT §4), and always a trace id."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    if path.startswith("/api/mobile/"):
        assert body["code"] == status and body["message"]
    elif path.startswith("/api/external"):
        assert body["success"] is False and body["error"] and body["message"]
    else:
        assert body["success"] is False and body["code"] == status * 10 and body["message"]
    assert "Traceback" not in resp.text
    assert resp.headers["X-Trace-Id"]
    return body


def calls(gw_url: str, key: str) -> int:
    """How many requests carrying ``?key=`` reached the fake viewing-service."""
    return requests.get(f"{gw_url}{VIEWING}/calls", params={"key": key}, headers=ADMIN, timeout=5).json()["calls"]


# --- tokens ---------------------------------------------------------------------------------

def test_public_paths_need_no_token(gw):
    for path in ("/healthz", "/readyz", "/openapi.json", "/docs", "/docs/assets/swagger-ui-bundle.js"):
        resp = requests.get(gw.url + path, timeout=10)
        assert resp.status_code == 200, (path, resp.text)
        assert resp.headers["X-Trace-Id"]
    # metrics are never on the public port (CONTRACT §3): without a token it is 401, with
    # one it is no route at all
    assert requests.get(gw.url + "/metrics", timeout=10).status_code == 401
    assert requests.get(gw.url + "/metrics", headers=ADMIN, timeout=10).status_code == 404


@pytest.mark.parametrize("path", ["/api/v1/customers", "/api/mobile/F1/customers", "/api/external/customers"])
def test_missing_expired_and_forged_tokens_get_401_in_the_surface_envelope(gw, upstreams, path):
    expired = make_token(ttl=-120)
    forged = make_token(secret="someone-elses-secret-0123456789-abcdefgh")
    request_id = f"unauth-{uuid.uuid4().hex}"
    for headers in ({}, {"Authorization": f"Bearer {expired}"}, {"Authorization": f"Bearer {forged}"},
                    {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer not.a.jwt"}):
        resp = requests.get(gw.url + path, headers={**headers, "X-Request-ID": request_id}, timeout=10)
        assert_error_envelope(resp, 401, path)
        assert resp.headers["X-Trace-Id"] == request_id
    if path == "/api/external/customers":
        assert resp.json()["error"] in ("UNAUTHORIZED", "TOKEN_INVALID")
    # rejected before proxying: customer-service never saw these requests
    assert request_id not in upstreams.procs["customer"].log_text()


# --- trace ids ------------------------------------------------------------------------------

def test_trace_id_comes_from_the_caller_or_is_generated_and_travels_upstream(gw):
    request_id = f"req-{uuid.uuid4().hex}"
    resp = requests.get(f"{gw.url}{VIEWING}/echo", headers={**ADMIN, "X-Request-ID": request_id}, timeout=10)
    assert resp.status_code == 200
    assert resp.headers["X-Trace-Id"] == request_id
    seen = resp.json()["headers"]
    assert seen["X-Trace-Id"] == request_id and seen["X-Request-Id"] == request_id

    trace_id = f"trace.{uuid.uuid4().hex}"
    resp = requests.get(f"{gw.url}{VIEWING}/echo", headers={**ADMIN, "X-Trace-Id": trace_id}, timeout=10)
    assert resp.headers["X-Trace-Id"] == trace_id == resp.json()["headers"]["X-Request-Id"]

    for headers in ({}, {"X-Request-ID": "bad id\twith spaces" * 20}):
        resp = requests.get(f"{gw.url}{VIEWING}/echo", headers={**ADMIN, **headers}, timeout=10)
        generated = resp.headers["X-Trace-Id"]
        assert generated and " " not in generated and generated != request_id
        assert resp.json()["headers"]["X-Trace-Id"] == generated

    # gateway errors carry it too
    missing = requests.get(gw.url + "/api/v2/nothing", headers={**ADMIN, "X-Request-ID": request_id}, timeout=10)
    assert missing.status_code == 404 and missing.headers["X-Trace-Id"] == request_id

    # and the gateway's JSON log lines carry trace_id, sub and the upstream
    deadline = time.monotonic() + 5
    lines = []
    while not lines and time.monotonic() < deadline:
        lines = [line for line in gw.log_lines("gateway")
                 if line.get("trace_id") == request_id and line.get("event") == "request"]
        time.sleep(0.05)
    assert any(line.get("sub") == ADMIN_SUB and line.get("upstream") == "viewing-service"
               and line.get("status") == 200 for line in lines), lines


# --- routing and pass-through ---------------------------------------------------------------

def test_routes_reach_the_owning_service(gw):
    cases = {
        f"{VIEWING}/agent_user_12345": "viewing-service",
        "/api/external/statistics/echo": "analytics-service",
        "/api/v1/analytics/echo": "analytics-service",
        "/api/mobile/F1/customers/42/statistics": "analytics-service",
        "/api/mobile/F1/customers/vip": "analytics-service",
    }
    for path, service in cases.items():
        resp = requests.get(gw.url + path, headers=ADMIN, timeout=10)
        assert resp.status_code == 200 and resp.json()["served_by"] == service, path
        assert resp.json()["path"] == path


@pytest.mark.parametrize("path", ["/api/v2/things", "/api/mobile/F1/orders", "/api/external/nothing", "/"])
def test_unknown_paths_get_404_in_the_surface_envelope(gw, path):
    assert_error_envelope(requests.get(gw.url + path, headers=ADMIN, timeout=10), 404, path)


def test_query_string_and_request_headers_reach_the_service_exactly(gw):
    target = (f"{VIEWING}/agent_user_12345?page=1&pageSize=10&property_name=%E4%B8%87%E7%A7%91"
              "&q=a%2Bb+c&path=x%2Fy&date_from=2024-01-01&empty=")
    resp = requests.get(gw.url + target, timeout=10, headers={
        **ADMIN, "If-Match": '"3"', "X-Custom": "值 ok".encode().decode("latin-1"),
        "Connection": "keep-alive, X-Hop", "X-Hop": "only for the next hop",
        "Proxy-Authorization": "Basic c2VjcmV0", "X-Forwarded-For": "10.0.0.1"})
    assert resp.status_code == 200
    echo = resp.json()
    assert echo["raw_uri"] == target
    assert echo["args"]["property_name"] == ["万科"] and echo["args"]["q"] == ["a+b c"]
    assert echo["args"]["path"] == ["x/y"] and echo["args"]["empty"] == [""]
    seen = echo["headers"]
    assert seen["Authorization"] == ADMIN["Authorization"]  # unchanged: services check it again
    assert seen["If-Match"] == '"3"'
    assert seen["X-Custom"].encode("latin-1").decode() == "值 ok"
    assert "X-Hop" not in seen and "Proxy-Authorization" not in seen
    assert seen["X-Forwarded-For"] == "10.0.0.1, 127.0.0.1"


def test_response_headers_pass_through_and_internal_locations_do_not_leak(gw):
    resp = requests.post(f"{gw.url}{VIEWING}/created", headers=ADMIN, json={"a": 1}, timeout=10,
                         allow_redirects=False)
    assert resp.status_code == 201
    assert resp.headers["Location"] == f"{VIEWING}/7"
    assert resp.headers["Retry-After"] == "3"
    assert resp.raw.headers.getlist("Set-Cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert resp.headers["Content-Type"] == "application/json"
    for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-Trace-Id"):
        assert resp.headers[name]


def test_customer_service_round_trip_through_the_gateway(gw):
    factory = f"F{uuid.uuid4().hex[:8].upper()}"
    headers = {"Authorization": f"Bearer {make_token(roles=['admin'], factories=[factory])}"}
    name = f"上海普全-{uuid.uuid4().hex[:6]}"
    created = requests.post(gw.url + "/api/v1/customers", headers=headers, timeout=10,
                            json={"customer": {"name": name, "type": "company"}})
    assert created.status_code == 201, created.text
    customer = created.json()["data"]
    assert created.headers["ETag"] == '"1"'
    assert created.headers["Location"] == f"/api/v1/customers/{customer['id']}"
    listed = requests.get(gw.url + "/api/v1/customers", headers=headers, timeout=10,
                          params={"keyword": name[:4], "page": 1, "page_size": 10})
    assert listed.status_code == 200 and [c["id"] for c in listed.json()["data"]["items"]] == [customer["id"]]
    updated = requests.put(f"{gw.url}/api/v1/customers/{customer['id']}", headers={**headers, "If-Match": '"1"'},
                           json={"notes": "经网关修改"}, timeout=10)
    assert updated.status_code == 200 and updated.headers["ETag"] == '"2"'
    stale = requests.put(f"{gw.url}/api/v1/customers/{customer['id']}", headers={**headers, "If-Match": '"1"'},
                         json={"notes": "过期"}, timeout=10)
    assert stale.status_code == 412 and stale.json()["code"] == 4120  # the service's own answer


# --- request size ---------------------------------------------------------------------------

def _raw_response(sock: socket.socket) -> tuple[int, dict, bytes]:
    resp = http.client.HTTPResponse(sock)
    resp.begin()
    return resp.status, dict(resp.getheaders()), resp.read()


def test_oversized_content_length_is_413_before_proxying(gw):
    limit = int(gw.env["MAX_REQUEST_BYTES"])
    key = uuid.uuid4().hex
    port = int(gw.url.rsplit(":", 1)[1])
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall((f"POST {VIEWING}/upload?key={key} HTTP/1.1\r\nHost: gw\r\n"
                      f"Authorization: {ADMIN['Authorization']}\r\nContent-Type: application/octet-stream\r\n"
                      f"Content-Length: {limit + 1}\r\n\r\n").encode())
        status, headers, body = _raw_response(sock)  # no body sent: the gateway must not wait for it
    assert time.monotonic() - started < 2
    assert status == 413 and headers["X-Trace-Id"]
    assert b'"success":false' in body.replace(b" ", b"") and b"PAYLOAD_TOO_LARGE" in body
    assert calls(gw.url, key) == 0


def test_oversized_chunked_body_is_cut_off_with_413(gw):
    limit = int(gw.env["MAX_REQUEST_BYTES"])
    port = int(gw.url.rsplit(":", 1)[1])
    path = "/api/mobile/F1/customers/vip/upload"  # the fake analytics-service reads what it gets
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall((f"POST {path} HTTP/1.1\r\nHost: gw\r\nAuthorization: {ADMIN['Authorization']}\r\n"
                      "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n").encode())

        def send_chunks():
            block = b"y" * (64 * 1024)
            try:
                for _ in range((limit + MiB) // len(block)):
                    sock.sendall(b"%x\r\n%s\r\n" % (len(block), block))
            except OSError:
                pass  # the gateway may stop reading once it has answered

        sender = threading.Thread(target=send_chunks, daemon=True)
        sender.start()
        status, headers, body = _raw_response(sock)
    assert status == 413, body
    assert b'"code":413' in body.replace(b" ", b"") and headers["X-Trace-Id"]


def test_multi_megabyte_uploads_stream_through(gw):
    payload = os.urandom(6 * MiB)
    resp = requests.post(f"{gw.url}{VIEWING}/upload", data=payload, timeout=30,
                         headers={**ADMIN, "Content-Type": "application/octet-stream"})
    assert resp.status_code == 200, resp.text
    got = resp.json()
    assert got["bytes"] == len(payload) and got["sha256"] == hashlib.sha256(payload).hexdigest()
    assert got["content_length"] == str(len(payload))

    def blocks():
        for i in range(80):
            yield payload[i * 65536:(i + 1) * 65536]

    resp = requests.post(f"{gw.url}{VIEWING}/upload", data=blocks(), headers=ADMIN, timeout=30)
    got = resp.json()
    assert got["bytes"] == 80 * 65536 and got["transfer_encoding"] == "chunked"
    assert got["sha256"] == hashlib.sha256(payload[:80 * 65536]).hexdigest()


def _status_kib(pid: int, field: str) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def test_a_20_mb_download_streams_through_without_growing_the_worker(gw):
    worker = gw.worker_pids("gateway")[0]
    requests.get(f"{gw.url}{VIEWING}/big", params={"mb": 1}, headers=ADMIN, timeout=30).raise_for_status()
    try:  # reset the peak-RSS mark so that VmHWM is the peak of this download alone
        with open(f"/proc/{worker}/clear_refs", "w") as f:
            f.write("5")
        peak_field = "VmHWM"
    except OSError:
        peak_field = None
    before = _status_kib(worker, "VmRSS")
    peak, received = before, 0
    with requests.get(f"{gw.url}{VIEWING}/big", params={"mb": 20}, headers=ADMIN, stream=True, timeout=30) as resp:
        assert resp.status_code == 200
        assert resp.headers["Content-Length"] == str(20 * MiB)
        assert resp.headers["Content-Disposition"] == "attachment; filename*=UTF-8''%E5%AE%A2%E6%88%B7.xlsx"
        assert resp.headers["Content-Type"].startswith("application/vnd.openxmlformats")
        assert resp.headers["ETag"] == '"big-1"'
        for chunk in resp.iter_content(256 * 1024):
            received += len(chunk)
            peak = max(peak, _status_kib(worker, "VmRSS"))
    assert received == 20 * MiB
    if peak_field:
        peak = max(peak, _status_kib(worker, peak_field))
    assert (peak - before) * 1024 < 8 * MiB, f"worker RSS grew by {(peak - before) / 1024:.1f} MiB"


def test_head_passes_through_with_the_length_and_no_body(gw):
    resp = requests.head(f"{gw.url}{VIEWING}/big", params={"mb": 1}, headers=ADMIN, timeout=10)
    assert resp.status_code == 200 and resp.headers["Content-Length"] == str(MiB) and resp.content == b""
    assert resp.headers["X-Trace-Id"]


# --- upstream failures ----------------------------------------------------------------------

def test_an_answer_that_breaks_off_reaches_the_caller_cut_off_never_complete_looking(gw):
    port = int(gw.url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", f"{VIEWING}/broken", headers=ADMIN)
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Content-Length") == str(16 * 64 * 1024)
    with pytest.raises(http.client.IncompleteRead):
        resp.read()
    conn.close()


def test_requests_hanging_on_one_slow_service_hold_up_nobody_else(start_gateway, roomy_fake):
    """Three times as many requests wait on one service as the old gateway had threads
    (1 worker here): the gateway still answers another request at once."""
    gw = _gateway_in_front_of(start_gateway, roomy_fake, f"gw-stall-{uuid.uuid4().hex[:6]}", UPSTREAM_READ_TIMEOUT="30")
    key, finished = uuid.uuid4().hex, []

    def slow(_):
        requests.get(f"{gw.url}{VIEWING}/slow", params={"seconds": 4, "key": key}, headers=ADMIN, timeout=30)
        finished.append(time.monotonic())

    threads = [threading.Thread(target=slow, args=(i,), daemon=True) for i in range(24)]
    for thread in threads:
        thread.start()
    arrived = lambda: requests.get(f"{roomy_fake}{VIEWING}/calls", params={"key": key}, timeout=5).json()["calls"]  # noqa: E731
    assert wait_for(lambda: arrived() >= 24, timeout=10)  # all 24 are waiting in the slow service
    started = time.monotonic()
    fast = requests.get(f"{gw.url}{VIEWING}/calls", params={"key": key}, headers=ADMIN, timeout=30)
    answered = time.monotonic()
    assert fast.status_code == 200 and fast.json()["calls"] == 24
    assert answered - started < 2, answered - started
    assert not finished  # answered while every slow request still waited
    for thread in threads:
        thread.join(timeout=60)
    assert len(finished) == 24


def test_a_service_refusing_connections_gives_503_naming_it(gw):
    for method, path in (("GET", "/api/v1/projects"), ("POST", "/api/v1/contracts")):
        started = time.monotonic()
        resp = requests.request(method, gw.url + path, headers=ADMIN, json={"name": "x"}, timeout=10)
        assert time.monotonic() - started < float(gw.env["UPSTREAM_CONNECT_TIMEOUT"]) + 1.5
        body = assert_error_envelope(resp, 503, path)
        assert "sync-worker" in body["message"]


def test_a_service_slower_than_the_read_timeout_gives_504_and_is_not_retried(gw):
    read_timeout = float(gw.env["UPSTREAM_READ_TIMEOUT"])
    for method, path in (("GET", f"{VIEWING}/slow"), ("POST", f"{VIEWING}/slow"),
                         ("GET", "/api/mobile/F1/customers/vip/slow")):
        key = uuid.uuid4().hex
        started = time.monotonic()
        resp = requests.request(method, gw.url + path, params={"seconds": 3, "key": key}, headers=ADMIN, timeout=10)
        elapsed = time.monotonic() - started
        assert read_timeout - 0.1 <= elapsed < read_timeout + 1.5, elapsed
        body = assert_error_envelope(resp, 504, path)
        assert "service" in body["message"] and "超时" in body["message"]
        if path.startswith(VIEWING):
            assert body["error"] == "GATEWAY_TIMEOUT"
            assert calls(gw.url, key) == 1


# --- readiness, docs, metrics ---------------------------------------------------------------

def test_readyz_lists_every_upstream_and_stays_200_while_one_is_down(gw):
    started = time.monotonic()
    resp = requests.get(gw.url + "/readyz", timeout=10)
    assert time.monotonic() - started < 2
    assert resp.status_code == 200
    checks = resp.json()["checks"]
    for name in ("customer-service", "viewing-service", "analytics-service"):
        assert checks[name]["ok"] is True, checks[name]
    assert checks["sync-worker"]["ok"] is False and checks["sync-worker"]["detail"]["error"]
    assert checks["rate_limit_store"]["ok"] is True


def test_the_merged_openapi_document_is_valid_and_covers_every_service(gw):
    doc = requests.get(gw.url + "/openapi.json", timeout=10).json()
    validate(doc)
    paths = doc["paths"]
    for path in ("/healthz", "/readyz", "/openapi.json",  # the gateway's own
                 "/api/v1/customers", "/api/v1/customers/{customer_id}",       # customer-service
                 "/api/external/viewing-records/{userId}",                      # viewing (fake)
                 "/api/external/statistics", "/api/mobile/{factoryId}/customers/vip"):  # analytics (fake)
        assert path in paths, path
    schemas = doc["components"]["schemas"]
    # customer-service's V1Error keeps its name; the fake's different V1Error is prefixed
    assert "code" in schemas["V1Error"]["properties"]
    assert schemas["ViewingV1Error"]["properties"] == {"reason": {"type": "string"}}
    viewing_op = paths["/api/external/viewing-records/{userId}"]["get"]
    assert viewing_op["responses"]["401"]["content"]["application/json"]["schema"]["$ref"] == \
        "#/components/schemas/ViewingV1Error"
    assert schemas["ViewingPage"]["properties"]["error"]["$ref"] == "#/components/schemas/ViewingV1Error"
    assert "sync-worker: 不可用 / unavailable" in doc["info"]["description"]
    assert "customer-service: ok" in doc["info"]["description"]
    page = requests.get(gw.url + "/docs", timeout=10)
    assert page.status_code == 200 and "swagger-ui" in page.text and "/openapi.json" in page.text


def test_metrics_show_upstream_latency_and_errors(gw):
    requests.get(gw.url + "/api/v1/sync/history", headers=ADMIN, timeout=10)  # one more refused call
    requests.get(f"{gw.url}{VIEWING}/echo", headers=ADMIN, timeout=10)
    text = requests.get(gw.metrics_url, timeout=10).text
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    errors = {(s.labels["service"], s.labels["kind"]): s.value for s in samples
              if s.name == "gateway_upstream_errors_total"}
    assert errors[("sync-worker", "unavailable")] >= 1
    assert any(s.name == "gateway_upstream_request_duration_seconds_count"
               and s.labels["service"] == "viewing-service" and s.value >= 1 for s in samples)
    assert any(s.name == "http_requests_total" and s.labels.get("service") == "gateway" for s in samples)


# --- pooled connections the service closes while idle -------------------------------------------

class OneRequestPerConnection:
    """A raw HTTP upstream that answers the first request of each connection with
    ``Connection: keep-alive`` and then closes the connection when the next request
    arrives, without answering: exactly what a keep-alive connection closed by the service
    an instant before the gateway reused it looks like."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.answered = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn:
            buffer = b""
            while b"\r\n\r\n" not in buffer:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buffer += chunk
            head, _, rest = buffer.partition(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            while len(rest) < length:
                rest += conn.recv(65536)
            body = b'{"ok": true}'
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: keep-alive\r\n"
                         b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            self.answered += 1
            conn.recv(65536)  # the next request on this connection: closed unanswered

    def close(self):
        self.sock.close()


@pytest.fixture
def closing_upstream():
    server = OneRequestPerConnection()
    yield server
    server.close()


def _gateway_in_front_of(start_gateway, url: str, name: str, **env):
    from crm_testing import free_port
    dead = f"http://127.0.0.1:{free_port()}"
    return start_gateway(name, VIEWING_SERVICE_URL=url, CUSTOMER_SERVICE_URL=dead, ANALYTICS_SERVICE_URL=dead,
                         SYNC_SERVICE_URL=dead, **env)


def test_a_connection_idle_past_the_bound_is_never_reused_so_a_post_never_gets_502(start_gateway, closing_upstream):
    gw = _gateway_in_front_of(start_gateway, closing_upstream.url, f"gw-idle-{uuid.uuid4().hex[:6]}",
                              UPSTREAM_MAX_IDLE_SECONDS="0.2")
    with requests.Session() as client:  # one client connection: one gateway thread, one pool slot
        assert client.post(f"{gw.url}{VIEWING}/a", headers=ADMIN, json={}, timeout=10).status_code == 200
        time.sleep(0.5)  # idle longer than UPSTREAM_MAX_IDLE_SECONDS
        again = client.post(f"{gw.url}{VIEWING}/b", headers=ADMIN, json={}, timeout=10)
    assert again.status_code == 200, again.text  # a reused connection would have been closed: 502


def test_a_delete_on_a_connection_closed_under_it_is_sent_once_more(start_gateway, closing_upstream):
    gw = _gateway_in_front_of(start_gateway, closing_upstream.url, f"gw-retry-{uuid.uuid4().hex[:6]}",
                              UPSTREAM_MAX_IDLE_SECONDS="60")
    with requests.Session() as client:
        assert client.post(f"{gw.url}{VIEWING}/a", headers=ADMIN, json={}, timeout=10).status_code == 200
        deleted = client.delete(f"{gw.url}{VIEWING}/a", headers=ADMIN, timeout=10)  # reuses the closing one
        posted = client.post(f"{gw.url}{VIEWING}/c", headers=ADMIN, json={}, timeout=10)
    assert deleted.status_code == 200, deleted.text  # idempotent and bodyless: retried on a new connection
    assert posted.status_code == 502  # a POST is never sent twice: the honest answer is 502
