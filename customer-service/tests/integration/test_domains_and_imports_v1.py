"""Business-domain mapping from positions/departments (configurable table) and the
import transaction of POST /api/v1/customers with its external-sync audit."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from crm_common.config import Settings
from crm_testing import TEST_JWT_SECRET
from customer_service.bootstrap import service_of


@pytest.fixture(scope="module")
def mapped_app(pg_url):
    from customer_service.app import create_app
    mapping = {"ROLE_STD_AGENT": ["GENERAL_WAREHOUSING"], "POS_COLD_LEAD": ["COLD_CHAIN"],
               "DEPT_PORT": ["PORT_LOGISTICS"]}
    return create_app(Settings.from_env("customer", {
        "CUSTOMER_DATABASE_URL": pg_url, "JWT_SECRET": TEST_JWT_SECRET, "DOMAIN_MAPPING": json.dumps(mapping)}))


def test_positions_and_departments_map_to_more_domains(mapped_app, headers_for, factory):
    client = mapped_app.test_client()
    admin = headers_for(factories=[factory])
    for name, domain in (("冷链", "COLD_CHAIN"), ("港口", "PORT_LOGISTICS"), ("仓储", "GENERAL_WAREHOUSING")):
        assert client.post("/api/v1/customers", headers=admin,
                           json={"customer": {"name": name, "business_domain": domain}}).status_code == 201
    lead = headers_for(roles=["viewer"], factories=[factory], domains=[], positions=["POS_COLD_LEAD"],
                       departments=["DEPT_PORT"])
    names = sorted(c["name"] for c in client.get("/api/v1/customers", headers=lead).get_json()["data"]["items"])
    assert names == ["冷链", "港口"]
    nobody = headers_for(roles=["viewer"], factories=[factory], domains=[], positions=["POS_UNKNOWN"])
    assert client.get("/api/v1/customers", headers=nobody).get_json()["data"]["total"] == 0


def _rows(app, sql, **params):
    with service_of(app).engine.connect() as conn:
        return conn.execute(sa.text(sql), params).all()


def test_failing_company_upsert_rolls_back_the_import_and_leaves_a_failed_audit_row(app, client, headers_for, factory):
    h = headers_for(factories=[factory])
    resp = client.post("/api/v1/customers", headers=h, json={
        "customer": {"name": "导入失败"}, "company": {"id": 987654321},
        "external_sync": {"source": "RB", "remote_id": f"r-{factory}"}})
    assert resp.status_code == 404 and resp.get_json()["error_code"] == "COMPANY_NOT_FOUND"
    assert _rows(app, "SELECT id FROM customers WHERE factory_id = :f", f=factory) == []
    assert _rows(app, "SELECT id FROM outbox WHERE payload LIKE :p", p=f"%{factory}%") == []
    audit = _rows(app, "SELECT sync_status, entity_id, error_message FROM external_sync WHERE factory_id = :f", f=factory)
    assert [(r[0], r[1]) for r in audit] == [("FAILED", None)] and "COMPANY_NOT_FOUND" in audit[0][2]


def test_successful_import_writes_customer_company_event_and_success_row_together(app, client, headers_for, factory):
    h = headers_for(factories=[factory])
    resp = client.post("/api/v1/customers", headers=h, json={
        "customer": {"name": "导入成功", "source": "RB", "source_ref_id": "u-77"},
        "company": {"source": "RB", "source_ref_id": "c-77", "name": "RB公司"}})
    assert resp.status_code == 201
    customer = resp.get_json()["data"]
    assert customer["customer_code"].startswith("RB-") and customer["company"]["source_ref_id"] == "c-77"
    audit = _rows(app, "SELECT sync_status, entity_id, source, remote_id FROM external_sync WHERE factory_id = :f",
                  f=factory)
    assert [tuple(r) for r in audit] == [("SUCCESS", str(customer["id"]), "RB", "u-77")]
    again = client.post("/api/v1/customers", headers=h, json={
        "customer": {"name": "换个名字", "source": "RB", "source_ref_id": "u-77"}})
    assert again.status_code == 409 and again.get_json()["error_code"] == "CUSTOMER_DUPLICATED"
    assert str(customer["id"]) in again.get_json()["message"]
    assert len(_rows(app, "SELECT id FROM customers WHERE factory_id = :f", f=factory)) == 1
