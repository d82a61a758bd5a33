"""Issue 13: input that can never be valid answers 400 in the surface's envelope, naming
the field where there is one — never a 500 — in every service, through the gateway:
NUL characters and lone surrogates in query values, JSON strings and path segments, JSON
nested 1,000 deep, 5,000-digit integers, NaN, path integers past 64 bits."""
from __future__ import annotations

import re

import pytest

DEEP = "[" * 1000 + "]" * 1000
HUGE = "9" * 5000


def _json(client, method, path, raw: str):
    return client.session.request(method, client.base + path, data=raw.encode("utf-8", "surrogatepass"),
                                  headers={"Content-Type": "application/json"}, timeout=30)


def assert_400(resp, surface: str, field: str | None = None):
    assert resp.status_code == 400, (resp.status_code, resp.text[:300])
    body = resp.json()
    if surface == "v1":
        assert body["success"] is False and body["code"] == 4000
    elif surface == "mobile":
        assert body["code"] == 400
    else:
        assert body["success"] is False and body["error"]
    if field is not None:
        assert field in (body.get("errors") or {}), body
    assert resp.headers["X-Trace-Id"]


@pytest.fixture
def admin(client_for, factory):
    return client_for(roles=["admin"], factories=[factory])


@pytest.fixture
def integrator(client_for, factory):
    return client_for(roles=["integrator"], factories=[factory])


def test_nul_and_lone_surrogates_in_json_strings_name_the_field(stack, admin, integrator):
    assert_400(_json(admin, "POST", "/api/v1/customers", '{"customer": {"name": "a\\u0000b"}}'), "v1", "customer.name")
    assert_400(_json(integrator, "POST", "/api/external/customers", '{"userId": "\\ud800"}'), "external", "userId")
    assert_400(_json(integrator, "POST", "/api/external/viewing-records",
                     '{"userId": "u1", "property_name": "x\\u0000"}'), "external", "property_name")
    assert_400(_json(admin, "POST", "/api/v1/projects", '{"name": "p\\u0000", "customer_id": 1}'), "v1", "name")
    assert_400(_json(integrator, "POST", "/api/v1/webhooks", '{"url": "http://h.example/\\u0000", "events": ["*"]}'),
               "v1", "url")


def test_nul_in_query_values_and_path_segments(stack, admin, integrator, factory):
    assert_400(admin.get(f"/api/mobile/{factory}/customers/search", params={"keyword": "a\x00"}), "mobile", "keyword")
    assert_400(admin.get("/api/v1/customers", params={"keyword": "\x00"}), "v1", "keyword")
    assert_400(admin.get("/api/v1/projects", params={"keyword": "\x00"}), "v1", "keyword")
    assert_400(admin.get("/api/v1/analytics/rfm", params={"segment": "\x00"}), "v1", "segment")
    assert_400(integrator.get("/api/external/viewing-records/a%00b"), "external")


@pytest.mark.parametrize("path, surface, method", [
    ("/api/v1/customers", "v1", "POST"),
    ("/api/external/customers", "external", "POST"),
    ("/api/external/viewing-records", "external", "POST"),
    ("/api/v1/analytics/orders", "v1", "POST"),
    ("/api/v1/contracts", "v1", "POST"),
    ("/api/v1/webhooks", "v1", "POST"),
])
def test_deep_nesting_huge_integers_and_nan_are_400(stack, admin, path, surface, method):
    for raw in (DEEP, '{"a": ' + DEEP + "}", '{"customer": {"credit_limit": ' + HUGE + "}}",
                '{"quantity": NaN}', '{"x": Infinity}'):
        assert_400(_json(admin, method, path, raw), surface)


def test_path_integers_past_64_bits_are_not_found_not_crashes(stack, admin):
    for path in ("/api/v1/customers/" + "9" * 30, "/api/v1/projects/" + "9" * 25, "/api/v1/customers/" + "9" * 3000):
        resp = admin.get(path)
        assert resp.status_code == 404, (path[:40], resp.status_code)


def raw_request(url: str, head: bytes) -> tuple[int, dict, bytes]:
    """One request written byte for byte (requests refuses to send what we want to test)."""
    import socket
    import urllib.parse
    parts = urllib.parse.urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head)
        data = b""
        while True:  # until the server closes, or the body its Content-Length announces is in
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            head_part, sep, rest = data.partition(b"\r\n\r\n")
            length = re.search(rb"(?im)^content-length:\s*(\d+)", head_part) if sep else None
            if length and len(rest) >= int(length.group(1)):
                break
    header_blob, _, body = data.partition(b"\r\n\r\n")
    lines = header_blob.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split(" ")[1]), headers, body


@pytest.mark.parametrize("case, status", [("long-uri", 414), ("big-header", 431), ("crlf-header", 400)])
def test_errors_the_http_server_produces_itself_are_in_the_envelope_with_a_trace_id(stack, case, status):
    import json
    path = "/api/external/customers"
    if case == "long-uri":
        head = f"GET {path}?q={'x' * 9000} HTTP/1.1\r\nHost: t\r\n\r\n".encode()
    elif case == "big-header":
        head = f"GET {path} HTTP/1.1\r\nHost: t\r\nX-Big: {'y' * 9000}\r\n\r\n".encode()
    else:
        head = f"GET {path} HTTP/1.1\r\nHost: t\r\nX-Evil: a\rb\r\n\r\n".encode()
    for base in (stack.gateway, stack.url("customer")):
        code, headers, body = raw_request(base, head)
        assert code == status, (case, base, code, body[:200])
        assert headers["content-type"].startswith("application/json") and headers["x-trace-id"]
        parsed = json.loads(body)
        assert parsed["success"] is False and parsed["message"], parsed
        if base != stack.gateway and case == "long-uri":  # the service checks it knowing the path: its envelope
            assert set(parsed) <= {"success", "error", "message", "errors"}, (case, base, parsed)
