"""Issue 15 (and 13's order checks) end to end through the gateway: seed 001's order rules
across the two services. customer-service owns the customer and answers "may it get a new
order?" (``GET /api/v1/customers/{id}/order-eligibility``); analytics-service owns the
orders, asks before recording a new one (with the caller's token) and publishes every
change of an order (``order.recorded``, ``order.updated``).

Needs both sides: analytics-service's order lifecycle and customer-service's
order-eligibility endpoint."""
from __future__ import annotations

import datetime as dt
import json
import random
import subprocess
import sys
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from crm_testing import wait_for

from .event_replay import events_of, publish, wait_applied

pytestmark = pytest.mark.system

TODAY = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


def days_ago(n: int) -> str:
    return (TODAY - dt.timedelta(days=n)).isoformat()


def order(customer_id: int, status: str = "PENDING", days: int = 1, **kw) -> dict:
    return {"customer_id": str(customer_id), "order_date": days_ago(days), "status": status,
            "items": [{"product_name": "冻品猪肉", "quantity": 2, "unit_price": 100}], **kw}


@pytest.fixture
def tenant(client_for, factory):
    admin = client_for(roles=["admin"], factories=[factory])
    finance = client_for(roles=["finance_admin"], factories=[factory], sub="u-fin", name="钱财务")

    def create(name: str, **fields) -> int:
        resp = admin.post("/api/v1/customers", json={"customer": {"name": f"{name}-{factory}", **fields}})
        assert resp.status_code == 201, resp.text
        return resp.json()["data"]["id"]
    return admin, finance, create


def test_a_customer_deactivated_a_moment_ago_gets_no_new_order(tenant, factory):
    admin, finance, create = tenant
    cid = create("停用")
    assert admin.patch(f"/api/v1/customers/{cid}/status", json={"status": "inactive", "reason": "暂停合作"}
                       ).status_code == 200
    # At once: analytics' read model may still think it active; the owner is asked.
    resp = finance.put("/api/v1/analytics/orders/IN-1", json=order(cid))
    assert resp.status_code == 409, resp.text
    body = resp.json()
    assert (body["success"], body["code"], body["error_code"]) == (False, 4090, "CUSTOMER_INACTIVE")
    assert body["errors"]["customer_id"][0].startswith("CUSTOMER_INACTIVE")
    batch = finance.post("/api/v1/analytics/orders", json={"orders": [{**order(cid), "order_id": "IN-2"}]})
    assert batch.status_code == 400 and batch.json()["data"]["orders"][0]["error_code"] == "CUSTOMER_INACTIVE"
    assert finance.get("/api/v1/analytics/orders/IN-1").status_code == 404


def test_an_overdue_customer_is_refused_without_an_override_and_accepted_with_one_recorded(tenant, factory):
    admin, finance, create = tenant
    cid = create("逾期", credit_limit=100000, payment_terms=0)
    # A past order, then a debt with no payment terms: overdue (seed 001 §4.2, §7.2).
    assert finance.put("/api/v1/analytics/orders/OD-0", json=order(cid, "COMPLETED", days=40)).status_code == 201
    assert admin.put(f"/api/mobile/{factory}/customers/{cid}/balance", params={"balance": -5000}).status_code == 200
    eligibility = f"/api/v1/customers/{cid}/order-eligibility"
    assert wait_for(lambda: admin.get(eligibility).json()["data"]["is_overdue"], timeout=15)

    refused = finance.put("/api/v1/analytics/orders/OD-1", json=order(cid))
    assert refused.status_code == 409, refused.text
    rules = [m.split(":")[0] for m in refused.json()["errors"]["customer_id"]]
    assert "CUSTOMER_OVERDUE" in rules and "CUSTOMER_INACTIVE" not in rules
    override = {"rules": rules, "reason": "客户已承诺本周结清欠款，经理批准"}
    accepted = finance.put("/api/v1/analytics/orders/OD-1", json=order(cid, override=override))
    assert accepted.status_code == 201, accepted.text
    shown = finance.get("/api/v1/analytics/orders/OD-1").json()["data"]
    assert shown["override"]["rules"] == rules
    assert (shown["override"]["reason"], shown["override"]["operator_id"], shown["override"]["operator_name"]) == \
        ("客户已承诺本周结清欠款，经理批准", "u-fin", "钱财务")


def test_orders_for_unknown_foreign_or_hidden_customers_are_404_naming_the_customer(tenant, client_for, factory):
    _admin, _finance, create = tenant
    other = client_for(roles=["admin"], factories=["X" + factory])
    foreign = other.post("/api/v1/customers", json={"customer": {"name": f"外租户-{factory}"}}).json()["data"]["id"]
    hidden = create("他域", business_domain="D2")
    finance_d1 = client_for(roles=["finance_admin"], factories=[factory], domains=["D1"])
    for cid in (foreign, hidden, foreign + 10**9):
        resp = finance_d1.put(f"/api/v1/analytics/orders/NF-{cid}", json=order(cid))
        assert resp.status_code == 404, resp.text
        assert resp.json()["error_code"] == "CUSTOMER_NOT_FOUND" and str(cid) in resp.json()["message"]


def test_an_order_moves_forward_only_and_its_cancellation_leaves_every_figure(tenant, client_for, factory):
    _admin, finance, create = tenant
    cid = create("生命周期", rating=5)
    assert finance.put("/api/v1/analytics/orders/LC-1", json=order(cid)).status_code == 201
    assert finance.put("/api/v1/analytics/orders/LC-2", json=order(cid, days=2)).status_code == 201
    for status in ("CONFIRMED", "SHIPPED", "COMPLETED"):
        resp = finance.patch("/api/v1/analytics/orders/LC-1", json={"status": status})
        assert resp.status_code == 200 and resp.json()["data"]["status"] == status
    back = finance.patch("/api/v1/analytics/orders/LC-1", json={"status": "PENDING"})
    assert back.status_code == 409 and back.json()["error_code"] == "ORDER_STATUS_TRANSITION"
    assert finance.patch("/api/v1/analytics/orders/LC-2", json={"status": "CANCELLED"}).status_code == 200
    assert finance.patch("/api/v1/analytics/orders/LC-2", json={"status": "CONFIRMED"}).status_code == 409

    viewer = client_for(roles=["viewer"], factories=[factory])
    stats = viewer.get(f"/api/mobile/{factory}/customers/{cid}/statistics").json()["data"]
    assert (stats["totalOrders"], stats["totalRevenue"]) == (1, 200)       # the cancelled order counts in none
    history = viewer.get(f"/api/mobile/{factory}/customers/{cid}/purchase-history").json()["data"]
    assert {o["orderId"]: o["status"] for o in history} == {"LC-1": "COMPLETED", "LC-2": "CANCELLED"}
    # VIP ranks the read model's customers: this one is there once its event is applied.
    manager = client_for(roles=["sales_admin"], factories=[factory])
    vip = lambda: [(v["id"], v["totalRevenue"], v["totalOrders"])  # noqa: E731
                   for v in manager.get(f"/api/mobile/{factory}/customers/vip").json()["data"]]
    assert wait_for(lambda: vip() == [(str(cid), 200, 1)], timeout=15), vip()


def test_order_events_replayed_twice_and_out_of_order_and_a_rebuild_change_nothing(stack, tenant, client_for,
                                                                                     factory):
    _admin, finance, create = tenant
    cid = create("重放")
    assert finance.put("/api/v1/analytics/orders/RP-1", json=order(cid)).status_code == 201
    assert finance.patch("/api/v1/analytics/orders/RP-1", json={"status": "CANCELLED"}).status_code == 200
    assert finance.put("/api/v1/analytics/orders/RP-2", json=order(cid, "COMPLETED")).status_code == 201
    viewer = client_for(roles=["viewer"], factories=[factory])
    figures = lambda: (viewer.get(f"/api/mobile/{factory}/customers/{cid}/statistics").json()["data"],  # noqa: E731
                       viewer.get(f"/api/mobile/{factory}/customers/{cid}/purchase-history").json()["data"])
    before = figures()
    assert (before[0]["totalOrders"], before[0]["totalRevenue"]) == (1, 200)

    published = [e for e in events_of(stack, "analytics", factory) if e["aggregate_type"] == "order"]
    assert [e["event_type"] for e in published] == ["order.recorded", "order.updated", "order.recorded"]
    # The same events twice more, shuffled, and copies under new ids as another producer
    # would resend them: the cancelled order stays cancelled, nothing counts twice.
    resent = [{**e, "event_id": str(uuid.uuid4()), "producer": "erp"} for e in published]
    replay = published + list(reversed(published)) + resent
    random.Random(15).shuffle(replay)
    publish(stack.amqp_url, replay)
    wait_applied(stack, [e["event_id"] for e in replay])
    assert figures() == before
    assert finance.get("/api/v1/analytics/orders/RP-1").json()["data"]["status"] == "CANCELLED"

    done = subprocess.run([str(Path(sys.executable).parent / "analytics-service"), "rebuild", "--page-size", "100"],
                          env=stack.env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert figures() == before
    engine = sa.create_engine(stack.db_urls["analytics"], poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        statuses = dict(conn.execute(sa.text("SELECT order_id, status FROM orders WHERE factory_id = :f"),
                                     {"f": factory}).all())
    engine.dispose()
    assert statuses == {"RP-1": "CANCELLED", "RP-2": "COMPLETED"}
    assert json.dumps(before, sort_keys=True) == json.dumps(figures(), sort_keys=True)
