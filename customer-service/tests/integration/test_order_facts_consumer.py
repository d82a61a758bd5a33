"""The order facts of customer-service's consumer on real PostgreSQL (its transaction,
without the broker): each order counts once in its latest state, whatever order its events
arrive in and however often; an order moving between customers moves its figures; orders
of unknown customers are ignored; the delete rule and the order eligibility follow."""
from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from customer_service.bootstrap import service_of


@pytest.fixture
def customer(client, headers_for, factory):
    def make(**fields):
        body = {"customer": {"name": f"订单客户-{uuid.uuid4().hex[:6]}", **fields}}
        resp = client.post("/api/v1/customers", json=body, headers=headers_for(factories=[factory]))
        assert resp.status_code == 201, resp.get_json()
        return resp.get_json()["data"]["id"]
    return make


def summary(app, customer_id):
    with service_of(app).engine.connect() as conn:
        row = conn.execute(sa.text("SELECT open_orders, total_orders, total_revenue, last_order_date::text "
                                   "FROM customer_orders WHERE customer_id = :id"), {"id": customer_id}).first()
    return None if row is None else (row[0], row[1], int(row[2]), row[3])


def test_each_order_counts_once_in_its_latest_state_even_replayed_and_out_of_order(
        app, consume, order_event, customer, factory):
    cid = customer()
    created = order_event(factory, cid, "O-1", "PENDING", version=1, order_date="2026-01-10", total_amount=500)
    shipped = order_event(factory, cid, "O-1", "SHIPPED", version=2, order_date="2026-01-10", total_amount=500)
    done = order_event(factory, cid, "O-1", "COMPLETED", version=3, order_date="2026-01-10", total_amount=500)
    assert consume(app, done) == "applied"
    assert consume(app, created) == "stale" and consume(app, shipped) == "stale"  # late: older versions
    assert consume(app, done) == "duplicate"
    assert summary(app, cid) == (0, 1, 500, "2026-01-10")
    other = order_event(factory, cid, "O-2", "PENDING", order_date="2026-02-01", total_amount=100)
    consume(app, other)
    assert summary(app, cid) == (1, 2, 600, "2026-02-01")
    cancelled = order_event(factory, cid, "O-2", "CANCELLED", version=2, order_date="2026-02-01", total_amount=100)
    consume(app, cancelled)
    assert summary(app, cid) == (0, 1, 500, "2026-01-10")  # a cancelled order counts in no figure


def test_an_order_moved_to_another_customer_moves_its_figures(app, consume, order_event, customer, factory):
    first, second = customer(), customer()
    consume(app, order_event(factory, first, "O-9", "PENDING", version=1, total_amount=70))
    consume(app, order_event(factory, second, "O-9", "PENDING", version=2, total_amount=70))
    assert summary(app, first) == (0, 0, 0, None) and summary(app, second) == (1, 1, 70, "2026-01-10")


def test_orders_of_a_customer_unknown_to_the_tenant_are_ignored(app, consume, order_event, customer, factory):
    cid = customer()
    assert consume(app, order_event("O" + factory, cid, "O-1")) == "applied"
    assert consume(app, order_event(factory, 999_999_999, "O-2")) == "applied"
    assert summary(app, cid) is None
    with service_of(app).engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM order_facts WHERE factory_id IN (:f, :o)"),
                            {"f": factory, "o": "O" + factory}).scalar() == 0


def test_an_open_order_refuses_the_delete_until_it_is_completed(app, client, headers_for, consume, order_event,
                                                                 customer, factory):
    h = headers_for(factories=[factory])
    cid = customer()
    consume(app, order_event(factory, cid, "O-1", "CONFIRMED"))
    refused = client.delete(f"/api/v1/customers/{cid}", headers=h)
    assert refused.status_code == 409 and refused.get_json()["error_code"] == "CUSTOMER_HAS_OPEN_ORDERS"
    assert refused.get_json()["message"] == "客户有未完成订单，无法删除"
    consume(app, order_event(factory, cid, "O-1", "COMPLETED", version=2))
    assert client.delete(f"/api/v1/customers/{cid}", headers=h).status_code == 200


def test_eligibility_answers_with_the_figures_its_rules_used(app, client, headers_for, consume, order_event, customer,
                                                            factory):
    h = headers_for(factories=[factory])
    cid = customer(credit_limit=1000)
    fine = client.get(f"/api/v1/customers/{cid}/order-eligibility", headers=h).get_json()["data"]
    assert fine == {"customer_id": cid, "eligible": True, "refusals": [], "status": "active", "is_overdue": False,
                    "overdue_days": 0, "risk_level": "NORMAL", "open_orders": 0, "last_order_date": None}
    consume(app, order_event(factory, cid, "O-1", "SHIPPED", order_date="2020-01-01"))
    client.put(f"/api/mobile/{factory}/customers/{cid}/balance?balance=-10", headers=h)
    client.patch(f"/api/v1/customers/{cid}/status", json={"status": "frozen"}, headers=h)
    answer = client.get(f"/api/v1/customers/{cid}/order-eligibility", headers=h).get_json()["data"]
    assert not answer["eligible"] and answer["open_orders"] == 1 and answer["last_order_date"] == "2020-01-01"
    assert [(r["rule"], r["overridable"]) for r in answer["refusals"]] == [
        ("CUSTOMER_INACTIVE", False), ("CUSTOMER_OVERDUE", True), ("CUSTOMER_HIGH_RISK", True)]
    assert all(r["message"] for r in answer["refusals"]) and answer["risk_level"] == "HIGH_RISK"
