"""Orders through the HTTP API on PostgreSQL, with customer-service answered by a fake of its
contract over real HTTP: the eligibility check of new orders (refusals, overrides, 404s,
503s), the lifecycle, the events written to the outbox (each one checked against its
contract), and a customer the read model does not know yet."""
from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from analytics_service.adapters import orm
from analytics_service.contracts import CATALOG

TODAY = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


def _order(customer_id, status="PENDING", **kw):
    return {"customer_id": str(customer_id), "order_date": (TODAY - dt.timedelta(days=3)).isoformat(),
            "status": status, "items": [{"product_name": "冻品猪肉", "quantity": 2, "unit_price": 100}], **kw}


def outbox(engine, factory: str) -> list[dict]:
    with engine.connect() as conn:
        events = [json.loads(p) for p in conn.execute(sa.select(orm.outbox.c.payload).order_by(orm.outbox.c.id))
                  .scalars()]
    return [e for e in events if e["factory_id"] == factory]


def order_count(engine, factory: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(orm.orders)
                            .where(orm.orders.c.factory_id == factory)).scalar()


def test_an_order_for_an_eligible_customer_is_recorded_with_the_callers_token_forwarded(
        customers, owner_service, engine, factory, api_for):
    cid = customers.add(factory)
    finance = api_for(roles=["finance_admin"], factories=[factory])
    resp = finance.put("/api/v1/analytics/orders/ORDER-001", json=_order(cid))
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()["data"]
    assert (body["order_id"], body["status"], body["open"], body["version"], body["override"]) == \
        ("ORDER-001", "PENDING", True, 1, None)
    assert body["allowed_statuses"] == ["CONFIRMED", "SHIPPED", "COMPLETED", "CANCELLED"]
    [asked] = owner_service.asked(cid)
    assert asked["headers"]["Authorization"] == finance.headers["Authorization"]
    assert asked["headers"]["X-Factory-Id"] == factory
    [event] = outbox(engine, factory)
    CATALOG.validate(event)
    assert (event["event_type"], event["aggregate_type"], event["data"]["customer_id"]) == \
        ("order.recorded", "order", str(cid))
    # Sent again as it is: nothing changes, nothing is published.
    again = finance.put("/api/v1/analytics/orders/ORDER-001", json=_order(cid))
    assert again.status_code == 200 and again.get_json()["data"]["version"] == 1 and len(outbox(engine, factory)) == 1


def test_an_inactive_customer_is_refused_naming_the_rule_even_with_an_override(customers, engine, factory, api_for):
    cid = customers.add(factory, owner_state={"status": "inactive"})
    finance = api_for(roles=["finance_admin"], factories=[factory])
    resp = finance.put("/api/v1/analytics/orders/X-1", json=_order(cid))
    body = resp.get_json()
    assert resp.status_code == 409 and body["code"] == 4090 and body["error_code"] == "CUSTOMER_INACTIVE"
    assert body["errors"]["customer_id"][0].startswith("CUSTOMER_INACTIVE")
    override = {"rules": ["CUSTOMER_INACTIVE"], "reason": "试试"}
    refused = finance.put("/api/v1/analytics/orders/X-1", json=_order(cid, override=override))
    assert refused.status_code == 400 and "override.rules.0" in refused.get_json()["errors"]
    assert order_count(engine, factory) == 0 and outbox(engine, factory) == []


def test_an_overdue_customer_needs_an_override_which_is_recorded_and_shown_with_the_order(
        customers, engine, factory, api_for):
    cid = customers.add(factory, owner_state={"is_overdue": True, "overdue_days": 40, "risk_level": "HIGH_RISK"})
    finance = api_for(roles=["finance_admin"], factories=[factory])
    refused = finance.put("/api/v1/analytics/orders/OD-1", json=_order(cid))
    assert refused.status_code == 409 and refused.get_json()["error_code"] == "CUSTOMER_OVERDUE"
    assert [m.split(":")[0] for m in refused.get_json()["errors"]["customer_id"]] == \
        ["CUSTOMER_OVERDUE", "CUSTOMER_HIGH_RISK"]
    half = finance.put("/api/v1/analytics/orders/OD-1", json=_order(
        cid, override={"rules": ["CUSTOMER_OVERDUE"], "reason": "只跳过逾期"}))
    assert half.status_code == 409 and half.get_json()["error_code"] == "CUSTOMER_HIGH_RISK"
    override = {"rules": ["CUSTOMER_OVERDUE", "CUSTOMER_HIGH_RISK"], "reason": "客户已承诺本周结清，经理批准"}
    accepted = finance.put("/api/v1/analytics/orders/OD-1", json=_order(cid, override=override))
    assert accepted.status_code == 201
    shown = api_for(roles=["viewer"], factories=[factory]).get("/api/v1/analytics/orders/OD-1").get_json()["data"]
    assert shown["override"]["rules"] == ["CUSTOMER_OVERDUE", "CUSTOMER_HIGH_RISK"]
    assert (shown["override"]["reason"], shown["override"]["operator_id"], shown["override"]["operator_name"]) == \
        ("客户已承诺本周结清，经理批准", "u-test", "测试用户")
    [event] = outbox(engine, factory)
    CATALOG.validate(event)
    assert event["data"]["override"]["operator"] == {"sub": "u-test", "name": "测试用户"}


def test_unknown_foreign_and_hidden_customers_are_404_naming_the_customer(customers, engine, factory, api_for):
    foreign = customers.add("OTHER" + factory)
    hidden = customers.add(factory, business_domain="D2")
    finance = api_for(roles=["finance_admin"], factories=[factory], domains=["D1"])
    for cid in (987654321, foreign, hidden):
        resp = finance.put(f"/api/v1/analytics/orders/N-{cid}", json=_order(cid))
        assert resp.status_code == 404 and resp.get_json()["error_code"] == "CUSTOMER_NOT_FOUND"
        assert str(cid) in resp.get_json()["message"]
    assert order_count(engine, factory) == 0


def test_customer_service_unreachable_or_slow_is_503_with_retry_after_and_nothing_is_written(
        customers, owner_service, engine, factory, api_for):
    cid = customers.add(factory)
    finance = api_for(roles=["finance_admin"], factories=[factory])
    for mode in ("error", "slow"):
        owner_service.mode = mode
        resp = finance.post("/api/v1/analytics/orders", json={"orders": [{**_order(cid), "order_id": "S-1"}]})
        assert resp.status_code == 503, resp.get_json()
        assert resp.headers["Retry-After"] and resp.get_json()["code"] == 5030
        assert resp.get_json()["error_code"] == "CUSTOMER_SERVICE_UNAVAILABLE"
    assert order_count(engine, factory) == 0 and outbox(engine, factory) == []


def test_a_batch_answers_each_orders_outcome_207_when_some_failed_400_when_all_did(customers, factory, api_for):
    ok, inactive = customers.add(factory), customers.add(factory, owner_state={"status": "inactive"})
    finance = api_for(roles=["finance_admin"], factories=[factory])
    mixed = finance.post("/api/v1/analytics/orders", json={"orders": [
        {**_order(ok), "order_id": "B-1"}, {**_order(inactive), "order_id": "B-2"},
        {**_order(987654321), "order_id": "B-3"}]})
    assert mixed.status_code == 207 and mixed.get_json()["code"] == 2070
    data = mixed.get_json()["data"]
    assert (data["created"], data["failed"]) == (1, 2)
    assert [(o["order_id"], o["outcome"], o["http_status"], o["error_code"]) for o in data["orders"]] == [
        ("B-1", "created", None, None), ("B-2", "failed", 409, "CUSTOMER_INACTIVE"),
        ("B-3", "failed", 404, "CUSTOMER_NOT_FOUND")]
    assert data["orders"][1]["refusals"][0] == {"rule": "CUSTOMER_INACTIVE", "message": "客户已停用，不能创建新订单",
                                                "overridable": False}
    none = finance.post("/api/v1/analytics/orders", json={"orders": [{**_order(inactive), "order_id": "B-4"}]})
    assert none.status_code == 400 and none.get_json()["success"] is False and none.get_json()["code"] == 4000
    assert none.get_json()["data"]["orders"][0]["error_code"] == "CUSTOMER_INACTIVE"


def test_the_lifecycle_through_patch_each_change_an_order_updated_event(customers, engine, factory, api_for):
    cid = customers.add(factory)
    finance = api_for(roles=["finance_admin"], factories=[factory])
    assert finance.put("/api/v1/analytics/orders/L-1", json=_order(cid)).status_code == 201
    for status in ("CONFIRMED", "SHIPPED", "COMPLETED"):
        resp = finance.patch("/api/v1/analytics/orders/L-1", json={"status": status})
        assert resp.status_code == 200 and resp.get_json()["data"]["status"] == status
    back = finance.patch("/api/v1/analytics/orders/L-1", json={"status": "PENDING"})
    assert back.status_code == 409 and back.get_json()["error_code"] == "ORDER_STATUS_TRANSITION"
    assert "COMPLETED" in back.get_json()["message"]
    paid = finance.patch("/api/v1/analytics/orders/L-1", json={"paid_date": TODAY.isoformat()})
    assert paid.get_json()["data"]["payment_status"] == "PAID" and paid.get_json()["data"]["open"] is False
    events = outbox(engine, factory)
    for event in events:
        CATALOG.validate(event)
    assert [(e["event_type"], e["aggregate_version"], e["data"]["status"], e["data"]["previous_status"])
            for e in events] == [("order.recorded", 1, "PENDING", None), ("order.updated", 2, "CONFIRMED", "PENDING"),
                                 ("order.updated", 3, "SHIPPED", "CONFIRMED"),
                                 ("order.updated", 4, "COMPLETED", "SHIPPED"),
                                 ("order.updated", 5, "COMPLETED", "COMPLETED")]
    assert events[-1]["changed_fields"] == ["paid_date", "payment_status"]
    assert len({e["aggregate_id"] for e in events}) == 1
    assert finance.patch("/api/v1/analytics/orders/L-1", json={}).status_code == 400
    assert finance.patch("/api/v1/analytics/orders/NOPE", json={"status": "CONFIRMED"}).status_code == 404


def test_orders_and_summaries_outside_the_callers_domains_are_invisible(customers, factory, api_for):
    cid = customers.add(factory, business_domain="D2")
    admin = api_for(roles=["finance_admin"], factories=[factory])
    assert admin.put("/api/v1/analytics/orders/D-1", json=_order(cid)).status_code == 201
    d1 = api_for(roles=["finance_admin"], factories=[factory], domains=["D1"])
    assert d1.get("/api/v1/analytics/orders/D-1").status_code == 404
    assert d1.patch("/api/v1/analytics/orders/D-1", json={"status": "CANCELLED"}).status_code == 404
    summaries = d1.post("/api/v1/analytics/order-summaries", json={"customer_ids": [str(cid)]},
                        headers={"X-Factory-Id": factory}).get_json()["data"]
    assert summaries == {}
    assert api_for(roles=["viewer"], factories=[factory], domains=["D2"]).get(
        "/api/v1/analytics/orders/D-1").status_code == 200


def test_a_customer_the_read_model_does_not_know_yet_is_asked_of_its_owner_never_called_deleted(
        customers, owner_service, factory, api_for):
    cid = customers.add(factory, projected=False)
    owner_service.customers[cid].credit_limit = 10000
    viewer = api_for(roles=["viewer"], factories=[factory])
    stats = viewer.get(f"/api/mobile/{factory}/customers/{cid}/statistics")
    assert stats.status_code == 200, stats.get_json()
    assert stats.get_json()["data"]["totalOrders"] == 0 and stats.get_json()["data"]["creditUtilization"] == 0
    assert viewer.get(f"/api/mobile/{factory}/customers/{cid}/purchase-history").get_json()["data"] == []
    score = api_for(roles=["analyst"], factories=[factory]).get(f"/api/v1/analytics/customers/{cid}/rating-score")
    assert score.status_code == 200 and score.get_json()["data"]["total"] == 0
    # An order recorded meanwhile counts at once.
    finance = api_for(roles=["finance_admin"], factories=[factory])
    assert finance.put("/api/v1/analytics/orders/NEW-1", json=_order(cid)).status_code == 201
    assert viewer.get(f"/api/mobile/{factory}/customers/{cid}/statistics").get_json()["data"]["totalOrders"] == 1
    # Unknown to both: 404; the owner unreachable: 503 (never "deleted").
    missing = viewer.get(f"/api/mobile/{factory}/customers/987654322/statistics")
    assert missing.status_code == 404 and missing.get_json()["code"] == 404
    owner_service.mode = "error"
    down = viewer.get(f"/api/mobile/{factory}/customers/{cid}/statistics")
    assert down.status_code == 503 and down.get_json()["code"] == 503 and down.headers["Retry-After"]


def test_a_customer_the_read_model_knows_elsewhere_is_404_without_asking(customers, owner_service, factory,
                                                                           api_for):
    cid = customers.add(factory, business_domain="D2")
    before = len(owner_service.requests)
    resp = api_for(roles=["viewer"], factories=[factory], domains=["D1"]).get(
        f"/api/mobile/{factory}/customers/{cid}/statistics")
    assert resp.status_code == 404 and len(owner_service.requests) == before


def test_order_paths_take_any_percent_encoded_id_and_refuse_control_characters(customers, factory, api_for):
    cid = customers.add(factory)
    finance = api_for(roles=["finance_admin"], factories=[factory])
    assert finance.put("/api/v1/analytics/orders/PO%2F2026%2F001", json=_order(cid)).status_code == 201
    assert finance.get("/api/v1/analytics/orders/PO%2F2026%2F001").get_json()["data"]["order_id"] == "PO/2026/001"
    bad = finance.get("/api/v1/analytics/orders/A%00B")
    assert bad.status_code == 400 and "order_id" in bad.get_json()["errors"]


def test_only_finance_roles_record_or_change_orders_and_learn_nothing_else(factory, api_for):
    for roles in (["viewer"], ["sales_admin"], ["analyst"], ["integrator"]):
        api = api_for(roles=roles, factories=[factory])
        assert api.put("/api/v1/analytics/orders/Z-1", json={}).status_code == 403
        assert api.patch("/api/v1/analytics/orders/Z-1", json={"status": "NOPE"}).status_code == 403
