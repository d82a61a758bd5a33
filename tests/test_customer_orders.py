"""Issue 15, customer side, through the gateway: customer-service learns each order's state
from analytics-service's order events (its own consumer, its own database), refuses to
delete a customer with an order not yet completed or cancelled on every delete (v1, tenant
API, bulk), and answers analytics-service's question before a new order:
``GET /api/v1/customers/{id}/order-eligibility``."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest

from crm_testing import wait_for

pytestmark = pytest.mark.system

OPEN_ORDERS = "客户有未完成订单，无法删除"


def record(api, factory, customer_id, order_id, status, day="2026-01-10"):
    resp = api.post("/api/v1/analytics/orders", headers={"X-Factory-Id": factory}, json={"orders": [{
        "order_id": order_id, "customer_id": int(customer_id), "order_date": day, "status": status,
        "total_amount": 100}]})
    assert resp.status_code == 200, resp.text


def open_orders(api, customer_id) -> int:
    return api.get(f"/api/v1/customers/{customer_id}/order-eligibility").json()["data"]["open_orders"]


def settled(api, customer_id, expected: int) -> None:
    """The order events reach customer-service a moment after analytics recorded the order."""
    assert wait_for(lambda: open_orders(api, customer_id) == expected, timeout=30), f"open orders of {customer_id}"


def new_customer(api, **fields) -> int:
    resp = api.post("/api/v1/customers", json={"customer": {"name": f"订单{uuid.uuid4().hex[:8]}", **fields}})
    assert resp.status_code == 201, resp.text
    return resp.json()["data"]["id"]


def test_every_delete_is_refused_while_an_order_is_open_and_allowed_once_it_is_completed(client_for, factory):
    api = client_for(factories=[factory])
    v1, tenant, bulk = (new_customer(api) for _ in range(3))
    for cid in (v1, tenant, bulk):
        record(api, factory, cid, f"O-{cid}", "PENDING")
    for cid in (v1, tenant, bulk):
        settled(api, cid, 1)

    refused = api.delete(f"/api/v1/customers/{v1}")
    assert refused.status_code == 409 and refused.json() == {
        "success": False, "code": 4090, "message": OPEN_ORDERS, "error_code": "CUSTOMER_HAS_OPEN_ORDERS"}
    refused = api.delete(f"/api/mobile/{factory}/customers/{tenant}")
    assert refused.status_code == 409 and refused.json() == {
        "code": 409, "message": OPEN_ORDERS, "data": None, "errorCode": "CUSTOMER_HAS_OPEN_ORDERS"}
    refused = api.post("/api/v1/customers/bulk-delete/", json={"ids": [bulk]})
    assert refused.status_code == 400 and refused.json()["data"]["failed_ids"] == [{"id": bulk, "error": OPEN_ORDERS}]

    for cid in (v1, tenant, bulk):
        record(api, factory, cid, f"O-{cid}", "COMPLETED")  # the same order, its next state
    for cid in (v1, tenant, bulk):
        settled(api, cid, 0)
    assert api.delete(f"/api/v1/customers/{v1}").status_code == 200
    assert api.delete(f"/api/mobile/{factory}/customers/{tenant}").status_code == 200
    assert api.post("/api/v1/customers/bulk-delete/", json={"ids": [bulk]}).json()["data"]["deleted_ids"] == [bulk]


def test_a_cancelled_order_is_closed_too(client_for, factory):
    api = client_for(factories=[factory])
    cid = new_customer(api)
    record(api, factory, cid, "O-C", "CONFIRMED")
    settled(api, cid, 1)
    record(api, factory, cid, "O-C", "CANCELLED")
    settled(api, cid, 0)
    assert api.delete(f"/api/v1/customers/{cid}").status_code == 200


def test_order_eligibility_is_the_owners_answer_with_each_rule_that_refuses(client_for, factory):
    api = client_for(factories=[factory])
    fine = new_customer(api, credit_limit=1000)
    answer = api.get(f"/api/v1/customers/{fine}/order-eligibility")
    assert answer.status_code == 200 and answer.json()["code"] == 2000
    assert answer.json()["data"] == {"customer_id": fine, "eligible": True, "refusals": [], "status": "active",
                                     "is_overdue": False, "overdue_days": 0, "risk_level": "NORMAL", "open_orders": 0,
                                     "last_order_date": None}

    inactive = new_customer(api)
    assert api.patch(f"/api/v1/customers/{inactive}/status", json={"status": "inactive"}).status_code == 200
    data = api.get(f"/api/v1/customers/{inactive}/order-eligibility").json()["data"]
    assert (data["eligible"], data["status"]) == (False, "inactive")
    assert [(r["rule"], r["overridable"]) for r in data["refusals"]] == [("CUSTOMER_INACTIVE", False)]

    overdue = new_customer(api, credit_limit=1000, payment_terms=30)
    old = (dt.date.today() - dt.timedelta(days=45)).isoformat()
    record(api, factory, overdue, f"O-{overdue}", "SHIPPED", day=old)
    settled(api, overdue, 1)
    assert api.put(f"/api/mobile/{factory}/customers/{overdue}/balance", params={"balance": -50}).status_code == 200
    data = api.get(f"/api/v1/customers/{overdue}/order-eligibility").json()["data"]
    assert (data["eligible"], data["is_overdue"], data["last_order_date"]) == (False, True, old)
    assert data["overdue_days"] in (14, 15, 16)  # the business's today (Asia/Shanghai) may be tomorrow here
    assert [(r["rule"], r["overridable"]) for r in data["refusals"]] == [("CUSTOMER_OVERDUE", True)]
    assert all(r["message"] for r in data["refusals"])


def test_order_eligibility_of_a_customer_the_caller_cannot_see_is_404(client_for, factory):
    api = client_for(factories=[factory])
    cold = new_customer(api, business_domain="COLD_CHAIN")
    assert api.get("/api/v1/customers/999999999/order-eligibility").status_code == 404
    assert client_for(factories=["O" + factory]).get(f"/api/v1/customers/{cold}/order-eligibility").status_code == 404
    warehouse = client_for(roles=["finance_admin"], factories=[factory], domains=["GENERAL_WAREHOUSING"])
    assert warehouse.get(f"/api/v1/customers/{cold}/order-eligibility").status_code == 404
    assert client_for(roles=["viewer"], factories=[factory]).get(
        f"/api/v1/customers/{cold}/order-eligibility").status_code == 200
    assert client_for(roles=["integrator"], factories=[factory]).get(
        f"/api/v1/customers/{cold}/order-eligibility").status_code == 403
