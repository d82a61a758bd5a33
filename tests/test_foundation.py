"""Issue 2: the core customer API end to end through the gateway, on real processes."""
from __future__ import annotations

import json
import time
import uuid

import pytest
import requests
from openapi_spec_validator import validate

from crm_testing import Stack, make_token

pytestmark = pytest.mark.system


def new_customer(name=None, **fields):
    return {"customer": {"name": name or f"客户-{uuid.uuid4().hex[:8]}", "type": "company",
                         "primary_contact_name": "张三", "primary_contact_phone": "13800138000", **fields}}


def test_round_trip_create_read_update_list_delete(client_for, factory):
    api = client_for(roles=["admin"], factories=[factory])
    created = api.post("/api/v1/customers", json=new_customer("上海普全公司"))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["success"] is True and body["code"] == 2000
    customer = body["data"]
    assert customer["name"] == "上海普全公司" and customer["factory_id"] == factory
    assert created.headers["ETag"] == '"1"'

    read = api.get(f"/api/v1/customers/{customer['id']}")
    assert read.status_code == 200 and read.json()["data"]["primary_contact_phone"] == "13800138000"

    updated = api.put(f"/api/v1/customers/{customer['id']}", json={"contact_person": "李四", "notes": "改"},
                      headers={"If-Match": read.headers["ETag"]})
    assert updated.status_code == 200, updated.text
    assert updated.json()["data"]["primary_contact_name"] == "李四"
    assert updated.json()["data"]["version"] == 2

    listed = api.get("/api/v1/customers", params={"keyword": "普全", "page": 1, "page_size": 10})
    page = listed.json()["data"]
    assert listed.status_code == 200 and page["total"] == 1 and page["items"][0]["id"] == customer["id"]
    assert page["page"] == 1 and page["page_size"] == 10 and page["total_pages"] == 1

    status = api.patch(f"/api/v1/customers/{customer['id']}/status", json={"status": "inactive", "reason": "暂停合作"})
    assert status.status_code == 200 and status.json()["data"]["status"] == "inactive"
    assert status.json()["data"]["status_changed_by"] == "u-test"

    deleted = api.delete(f"/api/v1/customers/{customer['id']}")
    assert deleted.status_code == 200 and deleted.json()["success"] is True
    assert api.get(f"/api/v1/customers/{customer['id']}").status_code == 404
    assert api.get("/api/v1/customers").json()["data"]["total"] == 0


@pytest.mark.parametrize("path, surface", [
    ("/api/v1/customers", "v1"),
    ("/api/mobile/F001/customers", "mobile"),
    ("/api/external/customers", "external"),
])
def test_missing_expired_and_forged_tokens_get_401_in_the_surface_envelope(stack, path, surface):
    expired = make_token(ttl=-120)
    forged = make_token(secret="someone-elses-secret-0123456789-abcdefgh")
    for headers in ({}, {"Authorization": f"Bearer {expired}"}, {"Authorization": f"Bearer {forged}"},
                    {"Authorization": "Basic abc"}):
        resp = requests.get(stack.gateway + path, headers=headers, timeout=10)
        assert resp.status_code == 401, (headers, resp.text)
        body = resp.json()
        if surface == "v1":
            assert body["success"] is False and body["code"] == 4010
        elif surface == "mobile":
            assert body["code"] == 401 and "message" in body
        else:
            assert body["success"] is False and body["error"] and body["message"]
        assert resp.headers["X-Trace-Id"]


def test_other_factory_gets_404_and_wrong_role_403(client_for, factory):
    owner = client_for(roles=["admin"], factories=[factory])
    cid = owner.post("/api/v1/customers", json=new_customer()).json()["data"]["id"]
    stranger = client_for(roles=["admin"], factories=["OTHER-" + factory])
    assert stranger.get(f"/api/v1/customers/{cid}").status_code == 404
    assert stranger.put(f"/api/v1/customers/{cid}", json={"notes": "x"}).status_code == 404
    # A factory the token does not allow is 403, never the data.
    forbidden = stranger.get(f"/api/v1/customers/{cid}", headers={"X-Factory-Id": factory})
    assert forbidden.status_code == 403 and forbidden.json()["code"] == 4030

    viewer = client_for(roles=["viewer"], factories=[factory])
    assert viewer.get(f"/api/v1/customers/{cid}").status_code == 200
    denied = viewer.post("/api/v1/customers", json=new_customer())
    assert denied.status_code == 403 and denied.json()["success"] is False
    sales = client_for(roles=["sales_admin"], factories=[factory])
    assert sales.delete(f"/api/v1/customers/{cid}").status_code == 403


def test_duplicate_name_is_409_naming_the_field(client_for, factory):
    api = client_for(roles=["admin"], factories=[factory])
    assert api.post("/api/v1/customers", json=new_customer("重名客户")).status_code == 201
    dup = api.post("/api/v1/customers", json=new_customer("重名客户"))
    assert dup.status_code == 409
    assert dup.json()["code"] == 4090 and dup.json()["errors"] == {"name": ["客户名称已存在"]}
    # Another tenant may use the same name.
    other = client_for(roles=["admin"], factories=["X" + factory])
    assert other.post("/api/v1/customers", json=new_customer("重名客户")).status_code == 201


def test_validation_errors_list_every_failing_field(client_for, factory):
    api = client_for(roles=["admin"], factories=[factory])
    resp = api.post("/api/v1/customers", json={"customer": {"name": "", "type": "nope",
                                                             "primary_contact_phone": "123", "extra": 1}})
    assert resp.status_code == 400
    errors = resp.json()["errors"]
    assert set(errors) == {"customer.name", "customer.type", "customer.primary_contact_phone", "customer.extra"}
    assert api.post("/api/v1/customers", data="{not json", headers={"Content-Type": "application/json"}).status_code == 400


def test_stale_if_match_is_412(client_for, factory):
    api = client_for(roles=["admin"], factories=[factory])
    created = api.post("/api/v1/customers", json=new_customer())
    cid, etag = created.json()["data"]["id"], created.headers["ETag"]
    assert api.put(f"/api/v1/customers/{cid}", json={"notes": "first"}, headers={"If-Match": etag}).status_code == 200
    stale = api.put(f"/api/v1/customers/{cid}", json={"notes": "second"}, headers={"If-Match": etag})
    assert stale.status_code == 412 and stale.json()["code"] == 4120
    assert api.get(f"/api/v1/customers/{cid}").json()["data"]["notes"] == "first"


def test_trace_id_is_returned_and_logged_by_the_service(stack, client_for, factory):
    api = client_for(roles=["admin"], factories=[factory])
    request_id = f"req-{uuid.uuid4().hex}"
    resp = api.post("/api/v1/customers", json=new_customer(), headers={"X-Request-ID": request_id})
    assert resp.headers["X-Trace-Id"] == request_id
    generated = api.get("/api/v1/customers")
    assert generated.headers["X-Trace-Id"] and generated.headers["X-Trace-Id"] != request_id
    insane = api.get("/api/v1/customers", headers={"X-Request-ID": "bad id\twith spaces" * 20})
    assert insane.headers["X-Trace-Id"] and " " not in insane.headers["X-Trace-Id"]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = [json.loads(line) for line in stack.logs("customer").splitlines()
                 if line.startswith("{") and request_id in line]
        if lines:
            break
        time.sleep(0.1)
    assert lines, "customer-service never logged the trace id"
    assert all(line["trace_id"] == request_id for line in lines)
    assert any(line.get("sub") == "u-test" for line in lines)


def test_every_service_documents_its_api_as_valid_openapi(stack):
    for name in ("customer", "viewing", "analytics", "sync"):
        spec = requests.get(stack.url(name) + "/openapi.json", timeout=10).json()
        validate(spec)
        assert "/healthz" in spec["paths"] and "/readyz" in spec["paths"]
    customer_spec = requests.get(stack.url("customer") + "/openapi.json", timeout=10).json()
    for path in ("/api/v1/customers", "/api/v1/customers/{customer_id}", "/api/v1/customers/{customer_id}/status"):
        assert path in customer_spec["paths"]
    merged = requests.get(stack.gateway + "/openapi.json", timeout=10).json()
    validate(merged)
    assert "/api/v1/customers/{customer_id}" in merged["paths"]
    assert requests.get(stack.gateway + "/docs", timeout=10).status_code == 200


def test_gateway_answers_503_in_the_envelope_when_customer_service_is_down():
    with Stack(services=["customer"], workers=[], extra_env={"UPSTREAM_READ_TIMEOUT": "2"}) as small:
        headers = {"Authorization": f"Bearer {make_token()}"}
        assert requests.get(small.gateway + "/api/v1/customers", headers=headers, timeout=10).status_code == 200
        small.procs["customer"].stop()
        started = time.monotonic()
        resp = requests.get(small.gateway + "/api/v1/customers", headers=headers, timeout=10)
        assert time.monotonic() - started < 5
        assert resp.status_code in (502, 503)
        body = resp.json()
        assert body["success"] is False and body["code"] in (5020, 5030)
        assert resp.headers["X-Trace-Id"]
        ready = requests.get(small.gateway + "/readyz", timeout=10)
        assert ready.status_code == 200
        assert "customer" in json.dumps(ready.json())


def test_every_process_reports_its_version_and_commit_on_healthz(stack):
    """Issue 23: /healthz adds the package's version (its __version__) and the commit (GIT_COMMIT,
    else the checkout's HEAD) to CONTRACT §1's body."""
    import os
    import subprocess

    from crm_common.release import project_version
    from crm_testing import HTTP_SERVICES, repo_root
    head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=repo_root(), capture_output=True,
                          text=True, timeout=10).stdout.strip()
    commit = os.environ.get("GIT_COMMIT") or head or "unknown"
    urls = {name: (stack.url(name), spec["dir"]) for name, spec in HTTP_SERVICES.items()}
    urls["gateway"] = (stack.gateway, "gateway")
    for name, (url, project) in urls.items():
        body = requests.get(url + "/healthz", timeout=10).json()
        assert body["status"] == "ok", name
        assert (body["version"], body["commit"]) == (project_version(repo_root() / project), commit), name
