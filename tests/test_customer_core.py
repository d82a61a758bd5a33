"""Issue 14 through the gateway: one application core behind the three customer surfaces and
the bulk API — the same side effects (audit rows), the same defaults for ``null``, the same
search, the same overdue rule, the same money rule, whichever surface asks — plus the
audit trail's read endpoints and the clear refusals of the idempotency and factory cases."""
from __future__ import annotations

import datetime as dt
import io
import uuid
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from crm_testing import wait_for

pytestmark = pytest.mark.system

SEED_CREATE = {"name": "上海餐饮有限公司", "customerCode": "C-20251120-001", "type": "企业", "industry": "餐饮",
               "contactPerson": "张经理", "phoneNumber": "13800138000", "creditLimit": 100000, "paymentTerms": 30,
               "rating": 4}
ORDER_FIGURES = ("totalOrders", "totalRevenue", "lastOrderDate")


def mobile(factory: str) -> str:
    return f"/api/mobile/{factory}/customers"


def unique(prefix: str = "客户") -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def mobile_customer(**overrides) -> dict:
    return {**SEED_CREATE, "name": unique(), "customerCode": unique("C-"), **overrides}


def shanghai_today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


def record_order(api, factory, customer_id, day: dt.date, status="SHIPPED", amount=100):
    resp = api.post("/api/v1/analytics/orders", headers={"X-Factory-Id": factory}, json={"orders": [{
        "order_id": unique("O-"), "customer_id": int(customer_id), "order_date": day.isoformat(), "status": status,
        "total_amount": amount}]})
    assert resp.status_code == 200, resp.text


def until_ordered(api, factory, customer_id, orders: int) -> dict:
    """customer-service learns of orders from analytics-service's events, a moment later."""
    detail = wait_for(lambda: (lambda d: d if d["totalOrders"] == orders else None)(
        api.get(f"{mobile(factory)}/{customer_id}").json()["data"]), timeout=30)
    assert detail, f"the order events of {customer_id} never arrived"
    return detail


# --- every tenant-API customer body -----------------------------------------------------------

def test_every_tenant_api_customer_body_carries_its_order_figures(client_for, factory):
    api = client_for(factories=[factory])
    created = api.post(mobile(factory), json=mobile_customer()).json()["data"]
    assert [created[k] for k in ORDER_FIGURES] == [0, 0, None]
    updated = api.put(f"{mobile(factory)}/{created['id']}", json={"notes": "改"}).json()["data"]
    assert [updated[k] for k in ORDER_FIGURES] == [0, 0, None]
    imported = api.post(f"{mobile(factory)}/import/json", json=[mobile_customer()]).json()["data"]
    assert [imported[0][k] for k in ORDER_FIGURES] == [0, 0, None]
    record_order(api, factory, created["id"], dt.date(2025, 11, 18), amount=850)
    until_ordered(api, factory, created["id"], 1)
    listed = {c["id"]: c for c in api.get(mobile(factory)).json()["data"]["content"]}
    assert [listed[created["id"]][k] for k in ORDER_FIGURES] == [1, 850, "2025-11-18"]
    searched = api.get(f"{mobile(factory)}/search", params={"keyword": created["name"]}).json()["data"]
    assert [searched[0][k] for k in ORDER_FIGURES] == [1, 850, "2025-11-18"]


# --- null means "the default" ---------------------------------------------------------------

def test_null_for_an_optional_field_takes_its_default_on_every_surface(client_for, factory):
    api = client_for(factories=[factory])
    tenant = api.post(mobile(factory), json=mobile_customer(creditLimit=None, paymentTerms=None, rating=None,
                                                             industry=None, email=None))
    assert tenant.status_code == 200, tenant.text
    data = tenant.json()["data"]
    assert (data["creditLimit"], data["paymentTerms"], data["rating"], data["industry"]) == (0, 30, 3, None)
    kept = api.put(f"{mobile(factory)}/{data['id']}", json={"paymentTerms": None, "rating": None, "notes": "x"})
    assert kept.status_code == 200 and (kept.json()["data"]["paymentTerms"], kept.json()["data"]["rating"]) == (30, 3)

    nulls = {"type": None, "status": None, "business_domain": None, "source": None, "customer_code": None,
             "credit_limit": None, "rating": None, "payment_terms": None, "value_level": None}
    v1 = api.post("/api/v1/customers", json={"customer": {"name": unique(), **nulls}})
    assert v1.status_code == 201, v1.text
    c = v1.json()["data"]
    assert (c["status"], c["business_domain"], c["source"], c["credit_limit"], c["rating"], c["payment_terms"]) == \
        ("active", "DEFAULT", "manual", 0, 3, 30)
    assert c["customer_code"].startswith("CUS-") and c["type"] is None
    bulk = api.post("/api/v1/customers/bulk-create/", json={"customers": [{"name": unique(), **nulls}]})
    assert bulk.status_code == 201 and bulk.json()["data"]["created_customers"][0]["status"] == "active"

    integrator = client_for(roles=["integrator"], factories=[factory])
    external = integrator.post("/api/external/customers", json={"userId": unique("u-"), "status": None,
                                                                "business_type": None, "name": None})
    assert external.status_code == 200, external.text
    stored = api.get(f"/api/v1/customers/{external.json()['data']['id']}").json()["data"]
    assert (stored["lead_status"], stored["business_type"]) == (1, "whole_rent")


# --- case-insensitive keyword search --------------------------------------------------------------

def test_keyword_search_ignores_case_on_the_tenant_api_and_v1(client_for, factory):
    api = client_for(factories=[factory])
    for name in ("ALI-1", "ALIBABA", "Bob"):
        assert api.post(mobile(factory), json=mobile_customer(name=name)).status_code == 200
    found = api.get(f"{mobile(factory)}/search", params={"keyword": "ali"}).json()["data"]
    assert [c["name"] for c in found] == ["ALI-1", "ALIBABA"]
    listed = api.get("/api/v1/customers", params={"keyword": "aLiBa"}).json()["data"]["items"]
    assert [c["name"] for c in listed] == ["ALIBABA"]


# --- one overdue definition -----------------------------------------------------------------------

def test_the_first_day_past_the_terms_is_overdue_by_one_day_and_risky_everywhere(client_for, factory):
    api = client_for(factories=[factory])
    late = api.post(mobile(factory), json=mobile_customer(paymentTerms=30)).json()["data"]
    on_time = api.post(mobile(factory), json=mobile_customer(paymentTerms=30)).json()["data"]
    today = shanghai_today()
    record_order(api, factory, late["id"], today - dt.timedelta(days=31))
    record_order(api, factory, on_time["id"], today - dt.timedelta(days=30))
    for customer in (late, on_time):
        until_ordered(api, factory, customer["id"], 1)
        assert api.put(f"{mobile(factory)}/{customer['id']}/balance", params={"balance": -100}).status_code == 200
    detail = api.get(f"{mobile(factory)}/{late['id']}").json()["data"]
    assert (detail["isOverdue"], detail["overdueDays"], detail["riskLevel"]) == (True, 1, "RISK")
    due_today = api.get(f"{mobile(factory)}/{on_time['id']}").json()["data"]
    assert (due_today["isOverdue"], due_today["overdueDays"], due_today["riskLevel"]) == (False, 0, "NORMAL")
    debtors = {d["id"]: d for d in api.get(f"{mobile(factory)}/outstanding-balance").json()["data"]}
    assert (debtors[late["id"]]["overdueDays"], debtors[late["id"]]["overdueAmount"]) == (1, 100)
    assert (debtors[on_time["id"]]["overdueDays"], debtors[on_time["id"]]["overdueAmount"]) == (0, 0)
    v1 = api.get(f"/api/v1/customers/{late['id']}").json()["data"]
    assert (v1["is_overdue"], v1["overdue_days"], v1["risk_level"]) == (True, 1, "RISK")


# --- money ----------------------------------------------------------------------------------------

def test_money_with_more_than_two_decimals_is_refused_naming_the_field(client_for, factory):
    api = client_for(factories=[factory])
    refused = api.post(mobile(factory), json=mobile_customer(creditLimit=0.125))
    assert refused.status_code == 400 and "creditLimit" in refused.json()["errors"]
    cid = api.post(mobile(factory), json=mobile_customer()).json()["data"]["id"]
    for path, params, field in (("credit-limit", {"creditLimit": "100.005"}, "creditLimit"),
                                ("balance", {"balance": "-0.001"}, "balance")):
        resp = api.put(f"{mobile(factory)}/{cid}/{path}", params=params)
        assert resp.status_code == 400 and field in resp.json()["errors"], resp.text
    v1 = api.post("/api/v1/customers", json={"customer": {"name": unique(), "credit_limit": 1.999}})
    assert v1.status_code == 400 and "customer.credit_limit" in v1.json()["errors"]
    bulk = api.post("/api/v1/customers/bulk-create/", json={"customers": [{"name": unique(), "credit_limit": 0.001}]})
    assert bulk.status_code == 400 and "credit_limit" in bulk.json()["data"]["failed_customers"][0]["errors"]
    assert api.get(f"{mobile(factory)}/{cid}").json()["data"]["creditLimit"] == 100000  # nothing was rounded in


# --- the clear refusals ---------------------------------------------------------------------------

def test_an_idempotency_key_of_another_user_is_refused_as_such(client_for, factory):
    key = {"Idempotency-Key": f"k-{uuid.uuid4().hex}"}
    body = {"customers": [{"name": unique()}]}
    first = client_for(factories=[factory], sub="u-first").post("/api/v1/customers/bulk-create/", json=body,
                                                                  headers=key)
    assert first.status_code == 201
    other = client_for(factories=[factory], sub="u-other").post("/api/v1/customers/bulk-create/", json=body,
                                                                  headers=key)
    assert other.status_code == 422, other.text
    assert other.json()["error_code"] == "IDEMPOTENCY_KEY_OF_ANOTHER_USER" and "其他用户" in other.json()["message"]


def test_a_token_of_several_factories_must_say_which_one_it_acts_in(client_for, factory):
    api = client_for(roles=["factory_admin"], factories=[factory, "O" + factory])
    refused = api.get("/api/v1/customers")
    assert refused.status_code == 400, refused.text
    assert refused.json()["error_code"] == "FACTORY_REQUIRED" and "X-Factory-Id" in refused.json()["message"]
    assert api.get("/api/v1/customers", headers={"X-Factory-Id": factory}).status_code == 200


# --- the audit trail ------------------------------------------------------------------------------

def test_the_audit_trail_is_readable_paged_newest_first_with_operator_and_time(client_for, factory):
    api = client_for(factories=[factory], name="审计员")
    cid = api.post(mobile(factory), json=mobile_customer(rating=3)).json()["data"]["id"]
    for change in ("rating?rating=4", "rating?rating=5&notes=按时付款", "credit-limit?creditLimit=200000",
                   "balance?balance=-300", "balance?balance=-100", "status?isActive=false"):
        assert api.put(f"{mobile(factory)}/{cid}/{change}").status_code == 200
    ratings = api.get(f"{mobile(factory)}/{cid}/rating-history", params={"size": 1}).json()["data"]
    assert (ratings["totalElements"], ratings["totalPages"], ratings["hasNext"]) == (2, 2, True)
    [newest] = ratings["content"]
    assert (newest["oldRating"], newest["newRating"], newest["notes"], newest["operatorName"]) == (4, 5, "按时付款", "审计员")
    assert newest["operatorId"] == "u-test" and newest["changedAt"].endswith("Z")
    limits = api.get(f"{mobile(factory)}/{cid}/credit-limit-changes").json()["data"]["content"]
    assert [(e["oldLimit"], e["newLimit"]) for e in limits] == [(100000, 200000), (0, 100000)]
    balances = api.get(f"{mobile(factory)}/{cid}/balance-transactions").json()["data"]["content"]
    assert [(e["oldBalance"], e["newBalance"], e["amount"]) for e in balances] == [(-300, -100, 200), (0, -300, -300)]
    statuses = api.get(f"/api/v1/customers/{cid}/status-history").json()["data"]
    assert statuses["total"] == 1 and statuses["items"][0]["to_status"] == "inactive"
    assert statuses["items"][0]["operator_name"] == "审计员"
    v1_ratings = api.get(f"/api/v1/customers/{cid}/rating-history", params={"page": 2, "page_size": 1}).json()["data"]
    assert [(e["old_rating"], e["new_rating"]) for e in v1_ratings["items"]] == [(3, 4)]
    viewer = client_for(roles=["viewer"], factories=[factory])
    assert viewer.get(f"{mobile(factory)}/{cid}/balance-transactions").status_code == 200
    stranger = client_for(factories=["O" + factory])
    assert stranger.get(f"/api/v1/customers/{cid}/rating-history").status_code == 404


def test_a_credit_limit_set_through_every_surface_and_the_bulk_api_is_audited_once(client_for, factory):
    """The external surface (seed 002) carries no credit limit; every other way in does."""
    api = client_for(factories=[factory])
    ids = {
        "v1": api.post("/api/v1/customers", json={"customer": {"name": unique(), "credit_limit": 5000}})
        .json()["data"]["id"],
        "mobile": api.post(mobile(factory), json=mobile_customer(creditLimit=5000)).json()["data"]["id"],
        "bulk": api.post("/api/v1/customers/bulk-create/", json={"customers": [{"name": unique(), "credit_limit": 5000}]})
        .json()["data"]["created_customers"][0]["id"],
        "json import": api.post(f"{mobile(factory)}/import/json", json=[mobile_customer(creditLimit=5000)])
        .json()["data"][0]["id"],
        "excel import": excel_import(api, factory, credit_limit=5000),
    }
    for way, cid in ids.items():
        entries = api.get(f"/api/v1/customers/{cid}/credit-limit-changes").json()["data"]["items"]
        assert [(e["old_limit"], e["new_limit"]) for e in entries] == [(0, 5000)], way


def excel_import(api, factory, credit_limit) -> str:
    book = openpyxl.Workbook()
    book.active.append(["客户名称", "客户代码", "客户类型", "联系人", "联系电话", "信用额度"])
    book.active.append([unique(), unique("X-"), "企业", "张", "13800138000", credit_limit])
    buffer = io.BytesIO()
    book.save(buffer)
    resp = api.post(f"{mobile(factory)}/import", files={"file": ("c.xlsx", buffer.getvalue(), "application/octet-stream")})
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]["successRecords"][0]["id"]
