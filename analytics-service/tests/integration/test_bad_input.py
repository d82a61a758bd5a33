"""Input that cannot be valid is a 400 in the surface's envelope naming the field, on every
analytics endpoint that takes input — never a 500, never a silent change, nothing written
(issue 13)."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from analytics_service.adapters import orm

ITEM = {"product_name": "p", "quantity": 1, "unit_price": 1}


def order(**kw):
    return {"order_id": "BAD-1", "customer_id": "1", "order_date": "2026-01-05", "items": [ITEM], **kw}


@pytest.mark.parametrize("raw, field", [
    (json.dumps({"orders": [order(order_date="9999-12-31")]}), "orders.0.order_date"),
    (json.dumps({"orders": [order(order_date="0001-01-01")]}), "orders.0.order_date"),
    (json.dumps({"orders": [order(paid_date="2150-01-01")]}), "orders.0.paid_date"),
    (json.dumps({"orders": [order(items=[{**ITEM, "quantity": 999999999999, "unit_price": 999999999999999}])]}),
     "orders.0.items.0.quantity"),
    (json.dumps({"orders": [order(items=[{**ITEM, "quantity": 10**9, "unit_price": 10**12}])]}),
     "orders.0.items.0.subtotal"),
    (json.dumps({"orders": [order(total_amount=10**13)]}), "orders.0.total_amount"),
    (json.dumps({"orders": [order(total_amount=0.125)]}), "orders.0.total_amount"),
    ('{"orders": [{"order_id": "BAD-1", "customer_id": "1", "order_date": "2026-01-05", "total_amount": '
     + "9" * 25 + "}]}", "orders.0.total_amount"),
    ('{"orders": [{"order_id": "BAD-1", "customer_id": "1", "order_date": "2026-01-05", "total_amount": '
     + "9" * 4000 + "}]}", "_schema"),
    ('{"orders": [{"order_id": "BAD-1", "customer_id": "1", "order_date": "2026-01-05", "total_amount": '
     + "9" * 5000 + "}]}", "_schema"),
    (json.dumps({"orders": [order(order_id="A\u0000B")]}), "orders.0.order_id"),
    ('{"orders": [{"order_id": "A\\ud800", "customer_id": "1", "order_date": "2026-01-05", "total_amount": 1}]}',
     "orders.0.order_id"),
    (json.dumps({"orders": [order(customer_id="9" * 5000)]}), "orders.0.customer_id"),
    ("[" * 1000 + "]" * 1000, "_schema"),
    ("false", "_schema"), ("null", "_schema"), ("1", "_schema"), ('"orders"', "_schema"),
])
def test_an_order_batch_that_cannot_be_valid_is_400_naming_the_field_and_writes_nothing(
        raw, field, engine, factory, api_for):
    resp = api_for(roles=["finance_admin"], factories=[factory]).post(
        "/api/v1/analytics/orders", data=raw.encode("utf-8", "surrogatepass"),
        headers={"Content-Type": "application/json"})
    assert resp.status_code == 400, resp.get_data(as_text=True)[:300]
    body = resp.get_json()
    assert (body["success"], body["code"]) == (False, 4000) and field in body["errors"], body
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(orm.orders)
                            .where(orm.orders.c.factory_id == factory)).scalar() == 0


@pytest.mark.parametrize("query, field", [
    ({"date_to": "9999-12-31"}, "date_to"), ({"date_from": "0001-01-01"}, "date_from"),
    ({"date_from": "2026-02-30"}, "date_from"), ({"date_from": "2026-01-01\x00"}, "date_from"),
])
def test_statistics_periods_out_of_range_are_400_on_the_external_envelope(query, field, factory, api_for):
    resp = api_for(roles=["integrator"], factories=[factory]).get("/api/external/statistics", query_string=query)
    assert resp.status_code == 400
    body = resp.get_json()
    assert (body["success"], body["error"]) == (False, "VALIDATION_ERROR") and field in body["errors"]


def test_bad_query_values_on_the_tenant_api_are_400_in_its_envelope(factory, api_for):
    api = api_for(roles=["sales_admin"], factories=[factory])
    for limit in ("1\x00", "9" * 5000, "-1", "abc"):
        resp = api.get(f"/api/mobile/{factory}/customers/vip", query_string={"limit": limit})
        assert resp.status_code == 400 and resp.get_json()["code"] == 400 and "limit" in resp.get_json()["errors"]


def test_order_summaries_and_order_changes_refuse_what_cannot_be_valid(customers, factory, api_for):
    api = api_for(roles=["finance_admin"], factories=[factory])
    bad_ids = api.post("/api/v1/analytics/order-summaries", json={"customer_ids": ["0", "x", 2**63]},
                       headers={"X-Factory-Id": factory})
    assert bad_ids.status_code == 400 and set(bad_ids.get_json()["errors"]) == \
        {"customer_ids.0", "customer_ids.1", "customer_ids.2"}
    cid = customers.add(factory)
    assert api.put("/api/v1/analytics/orders/X-1", json={k: v for k, v in order(customer_id=str(cid)).items()
                                                         if k != "order_id"}).status_code == 201
    change = api.patch("/api/v1/analytics/orders/X-1", json={"paid_date": "9999-12-31"})
    assert change.status_code == 400 and "paid_date" in change.get_json()["errors"]
    assert api.patch("/api/v1/analytics/orders/X-1", json={"status": "LOST"}).status_code == 400
