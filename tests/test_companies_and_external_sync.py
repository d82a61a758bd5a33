"""Seed 003 companies, the one-transaction import of POST /api/v1/customers (company
upsert + customer + external-sync audit), the external-sync queries and the customer
status state machine, end to end through the gateway."""
from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.system


@pytest.fixture
def admin(client_for, factory):
    return client_for(roles=["admin"], factories=[factory], sub="u-op", name="操作员")


def sync_rows(api, **params):
    resp = api.get("/api/v1/external-sync", params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]


# --- companies --------------------------------------------------------------------------

def test_company_upsert_by_code_creates_then_updates_the_same_company(admin):
    created = admin.post("/api/v1/companies", json={"company_code": "SH-001", "name": "上海普全", "industry_type": "物流"})
    assert created.status_code == 201, created.text
    company = created.json()["data"]
    assert company["company_code"] == "SH-001" and company["version"] == 1
    updated = admin.post("/api/v1/companies", json={"company_code": "SH-001", "address": "上海市浦东新区"})
    assert updated.status_code == 200
    assert updated.json()["data"]["id"] == company["id"] and updated.json()["data"]["address"] == "上海市浦东新区"
    assert updated.json()["data"]["name"] == "上海普全" and updated.json()["data"]["version"] == 2
    read = admin.get(f"/api/v1/companies/{company['id']}")
    assert read.status_code == 200 and read.json()["data"]["industry_type"] == "物流"


def test_company_upsert_by_source_and_ref_and_the_paginated_filtered_list(admin):
    first = admin.post("/api/v1/companies", json={"source": "RB", "source_ref_id": "rb-1", "name": "RB一号"})
    again = admin.post("/api/v1/companies", json={"source": "RB", "source_ref_id": "rb-1", "name": "RB一号改"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["data"]["id"] == again.json()["data"]["id"]
    for i in range(3):
        admin.post("/api/v1/companies", json={"company_code": f"KW-{i}", "name": f"关键字公司{i}"})
    page = admin.get("/api/v1/companies", params={"keyword": "关键字", "page": 2, "page_size": 2}).json()["data"]
    assert (page["total"], page["page"], page["page_size"], page["total_pages"], len(page["items"])) == (3, 2, 2, 2, 1)
    by_source = admin.get("/api/v1/companies", params={"source": "RB"}).json()["data"]
    assert [c["name"] for c in by_source["items"]] == ["RB一号改"]
    assert admin.get("/api/v1/companies", params={"page_size": 101}).status_code == 400


def test_company_errors_roles_and_tenants(client_for, factory, admin):
    assert admin.post("/api/v1/companies", json={"name": "无键"}).status_code == 400
    assert admin.post("/api/v1/companies", json={"company_code": "NEW-1"}).json()["error_code"] == "COMPANY_NOT_FOUND"
    assert admin.post("/api/v1/companies", json={"id": 987654321}).status_code == 404
    viewer = client_for(roles=["viewer"], factories=[factory])
    assert viewer.post("/api/v1/companies", json={"company_code": "V", "name": "v"}).status_code == 403
    cid = admin.post("/api/v1/companies", json={"company_code": "T-1", "name": "租户公司"}).json()["data"]["id"]
    assert viewer.get(f"/api/v1/companies/{cid}").status_code == 200
    stranger = client_for(roles=["admin"], factories=["X" + factory])
    assert stranger.get(f"/api/v1/companies/{cid}").status_code == 404
    assert stranger.get("/api/v1/companies").json()["data"]["total"] == 0
    cold_only = client_for(roles=["viewer"], factories=[factory], domains=["COLD_CHAIN"])
    assert cold_only.get(f"/api/v1/companies/{cid}").status_code == 404


# --- the import transaction ---------------------------------------------------------------

def test_customer_with_a_new_company_is_created_in_one_transaction(admin):
    resp = admin.post("/api/v1/customers", json={"customer": {"name": "带公司客户"},
                                                 "company": {"company_code": "TX-1", "name": "事务公司"}})
    assert resp.status_code == 201, resp.text
    assert resp.json()["data"]["company"]["company_code"] == "TX-1"
    detail = admin.get(f"/api/v1/customers/{resp.json()['data']['id']}").json()["data"]
    assert detail["company"]["name"] == "事务公司"


def test_failing_company_upsert_rolls_back_everything_and_audits_the_failure(admin):
    remote = f"rm-{uuid.uuid4().hex[:8]}"
    resp = admin.post("/api/v1/customers", json={
        "customer": {"name": "回滚客户"}, "company": {"company_code": "NOPE", "industry_type": "无名称"},
        "external_sync": {"source": "RB", "remote_id": remote}})
    assert resp.status_code == 400 and resp.json()["error_code"] == "COMPANY_NOT_FOUND"
    assert admin.get("/api/v1/customers", params={"keyword": "回滚客户"}).json()["data"]["total"] == 0
    assert admin.get("/api/v1/companies").json()["data"]["total"] == 0
    rows = sync_rows(admin, remoteId=remote, source="RB")["items"]
    assert [(r["sync_status"], r["entity_id"]) for r in rows] == [("FAILED", None)]
    assert "COMPANY_NOT_FOUND" in rows[0]["error_message"] and rows[0]["operator_id"] == "u-op"


def test_duplicate_customer_rolls_back_the_new_company(admin):
    assert admin.post("/api/v1/customers", json={"customer": {"name": "已存在客户"}}).status_code == 201
    resp = admin.post("/api/v1/customers", json={"customer": {"name": "已存在客户"},
                                                 "company": {"company_code": "ROLL-1", "name": "不该留下"}})
    assert resp.status_code == 409 and resp.json()["error_code"] == "CUSTOMER_DUPLICATED"
    assert admin.get("/api/v1/companies", params={"keyword": "ROLL"}).json()["data"]["total"] == 0


def test_import_records_success_and_a_repeated_remote_id_is_recognised_not_duplicated(admin):
    remote = f"rm-{uuid.uuid4().hex[:8]}"
    first = admin.post("/api/v1/customers", json={"customer": {"name": "外部导入"},
                                                  "external_sync": {"source": "RB", "remote_id": remote}})
    assert first.status_code == 201, first.text
    cid = first.json()["data"]["id"]
    assert first.json()["data"]["source"] == "RB" and first.json()["data"]["source_ref_id"] == remote
    repeat = admin.post("/api/v1/customers", json={"customer": {"name": "外部导入二次", "source": "RB",
                                                                "source_ref_id": remote}})
    assert repeat.status_code == 409 and repeat.json()["error_code"] == "CUSTOMER_DUPLICATED"
    assert str(cid) in repeat.json()["message"]
    assert admin.get("/api/v1/customers", params={"keyword": "外部导入"}).json()["data"]["total"] == 1
    by_remote = sync_rows(admin, remoteId=remote, source="RB")
    assert [r["sync_status"] for r in by_remote["items"]] == ["FAILED", "SUCCESS"]  # newest first
    by_entity = sync_rows(admin, entityType="customer", entityId=str(cid))
    assert [(r["sync_status"], r["remote_id"]) for r in by_entity["items"]] == [("SUCCESS", remote)]
    assert sync_rows(admin, entity_type="customer", entity_id=str(cid)) == by_entity
    assert sync_rows(admin, remote_id=remote, source="OTHER")["total"] == 0


def test_external_sync_query_is_paginated_validated_and_tenant_scoped(client_for, factory, admin):
    remote = f"rm-{uuid.uuid4().hex[:8]}"
    for i in range(3):  # one import, then two repeats refused: three audit rows
        admin.post("/api/v1/customers", json={"customer": {"name": f"分页{i}"},
                                              "external_sync": {"source": "RB", "remote_id": remote}})
    page = sync_rows(admin, remoteId=remote, page=1, page_size=2)
    assert (page["total"], len(page["items"]), page["total_pages"]) == (3, 2, 2)
    assert admin.get("/api/v1/external-sync").status_code == 400
    assert admin.get("/api/v1/external-sync", params={"remoteId": remote, "page_size": 500}).status_code == 400
    stranger = client_for(roles=["admin"], factories=["X" + factory])
    assert sync_rows(stranger, remoteId=remote)["total"] == 0


def test_restricted_token_sees_sync_rows_of_its_domains_only(client_for, factory, admin):
    gw_remote, cold_remote = f"gw-{uuid.uuid4().hex[:6]}", f"cold-{uuid.uuid4().hex[:6]}"
    for name, domain, remote in (("仓储导入", "GENERAL_WAREHOUSING", gw_remote), ("冷链导入", "COLD_CHAIN", cold_remote)):
        assert admin.post("/api/v1/customers", json={"customer": {"name": name, "business_domain": domain},
                                                     "external_sync": {"source": "RB", "remote_id": remote}}).status_code == 201
    agent = client_for(roles=["viewer"], factories=[factory], domains=["GENERAL_WAREHOUSING"])
    assert sync_rows(agent, remoteId=gw_remote)["total"] == 1
    assert sync_rows(agent, remoteId=cold_remote)["total"] == 0


# --- status state machine (seed 003 UpdateCustomerStatusUseCase) ---------------------------

def test_status_changes_follow_the_state_machine_and_record_the_operator(admin):
    cid = admin.post("/api/v1/customers", json={"customer": {"name": "状态机", "status": "potential"}}).json()["data"]["id"]
    url = f"/api/v1/customers/{cid}/status"
    steps = [("active", 200), ("frozen", 200), ("potential", 409), ("blacklisted", 200), ("active", 409),
             ("inactive", 200)]
    for target, expected in steps:
        resp = admin.patch(url, json={"status": target, "reason": f"到 {target}"})
        assert resp.status_code == expected, (target, resp.text)
        if expected == 409:
            assert resp.json()["error_code"] == "STATUS_TRANSITION_NOT_ALLOWED"
    detail = admin.get(f"/api/v1/customers/{cid}").json()["data"]
    assert detail["status"] == "inactive"
    assert (detail["status_changed_by"], detail["status_changed_by_name"]) == ("u-op", "操作员")
    assert admin.patch(url, json={"status": "unknown"}).status_code == 400
