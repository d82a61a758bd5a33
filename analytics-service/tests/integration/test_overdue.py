"""Seed 001 §7.2 in analytics (issue 15): overdueDays = today − (lastOrderDate + paymentTerms),
lastOrderDate the newest order that was not cancelled (analytics' own order facts), else the
day the debt began — ``crm_common.credit``, the definition customer-service applies. The
kept ``debt_due_date`` (what the overdue count reads from its index) follows every customer
event and every order write, and agrees with the rule applied row by row: per customer
(statistics), in the credit-risk counts and in overall statistics' 风险客户."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from analytics_service.adapters import orm
from crm_common import credit

from .conftest import customer_event

TZ = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime.now(dt.timezone.utc)
TODAY = NOW.astimezone(TZ).date()


def _ago(days: int) -> str:
    return (TODAY - dt.timedelta(days=days)).isoformat()


def _order(customer_id, days: int, status: str = "COMPLETED") -> dict:
    return {"customer_id": str(customer_id), "order_date": _ago(days), "status": status,
            "items": [{"product_name": "冻品猪肉", "quantity": 1, "unit_price": 100}]}


def _debt(days_ago: int) -> dict:
    return {"current_balance": "-500.00", "credit_limit": "100000",
            "debt_since": (NOW - dt.timedelta(days=days_ago)).isoformat()}


def _due_dates(engine, ids) -> dict[int, dt.date | None]:
    c = orm.customers.c
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(c.id, c.debt_due_date).where(c.id.in_(list(ids)))).all())


def test_overdue_counts_from_the_last_order_not_cancelled_everywhere_alike(customers, consumer, engine, factory,
                                                                           api_for):
    finance = api_for(roles=["finance_admin"], factories=[factory])
    viewer = api_for(roles=["factory_admin"], factories=[factory])
    # rating 4 (not at risk by stars): overdue only by the §7.2 rule.
    old_order = customers.add(factory, rating=4, payment_terms=30, **_debt(1))      # order 45 d ago: 15 d overdue
    recent = customers.add(factory, rating=4, payment_terms=30, **_debt(1))         # order 10 d ago: not overdue
    cancelled = customers.add(factory, rating=4, payment_terms=30, **_debt(1))      # 45 d, cancelled 5 d: 15 d
    no_orders = customers.add(factory, rating=4, payment_terms=30, **_debt(40))     # debt began 40 d ago: 10 d
    no_debt = customers.add(factory, rating=4, payment_terms=0)                    # old order, owes nothing
    for n, (cid, days, status) in enumerate([(old_order, 45, "COMPLETED"), (recent, 10, "SHIPPED"),
                                             (cancelled, 5, "PENDING"), (cancelled, 45, "COMPLETED"),
                                             (no_debt, 90, "COMPLETED")]):
        resp = finance.put(f"/api/v1/analytics/orders/OV-{n}", json=_order(cid, days, status))
        assert resp.status_code == 201, resp.get_json()
    ids = [old_order, recent, cancelled, no_orders, no_debt]
    # Before the cancellation the newer order (5 days ago) is the last one: not overdue.
    assert _due_dates(engine, [cancelled])[cancelled] == TODAY + dt.timedelta(days=25)
    assert finance.patch("/api/v1/analytics/orders/OV-2", json={"status": "CANCELLED"}).status_code == 200

    expected = {old_order: 15, recent: 0, cancelled: 15, no_orders: 10, no_debt: 0}
    assert _due_dates(engine, ids) == {
        old_order: TODAY - dt.timedelta(days=15), recent: TODAY + dt.timedelta(days=20),
        cancelled: TODAY - dt.timedelta(days=15), no_orders: TODAY - dt.timedelta(days=10), no_debt: None}
    for cid, days in expected.items():
        stats = viewer.get(f"/api/mobile/{factory}/customers/{cid}/statistics").get_json()["data"]
        assert (stats["isOverdue"], stats["overdueDays"]) == (days > 0, days), cid
    risk = viewer.get("/api/v1/analytics/credit-risk", headers={"X-Factory-Id": factory}).get_json()["data"]
    assert risk["overdue"] == 3 and risk["counts"]["RISK"] == 3
    overall = viewer.get(f"/api/mobile/{factory}/customers/overall-statistics").get_json()["data"]
    assert overall["atRiskCustomers"] == 3

    # A customer event moves the due day too: paid off, then in debt again with longer terms.
    consumer.apply(customer_event(factory, old_order, 2, rating=4, payment_terms=60, **_debt(1)))
    assert _due_dates(engine, [old_order])[old_order] == TODAY + dt.timedelta(days=15)
    stats = viewer.get(f"/api/mobile/{factory}/customers/{old_order}/statistics").get_json()["data"]
    assert (stats["isOverdue"], stats["overdueDays"]) == (False, 0)
    assert viewer.get(f"/api/mobile/{factory}/customers/overall-statistics").get_json()["data"]["atRiskCustomers"] == 2


def test_the_kept_due_day_is_the_rule_of_crm_common_credit(customers, unit_of_work, engine, factory, api_for):
    """Recomputing every due day from the rule changes nothing (what a rebuild does)."""
    finance = api_for(roles=["finance_admin"], factories=[factory])
    cid = customers.add(factory, payment_terms=7, **_debt(3))
    assert finance.put("/api/v1/analytics/orders/KD-1", json=_order(cid, 20)).status_code == 201
    [due] = _due_dates(engine, [cid]).values()
    assert due == credit.debt_due_date(-500, NOW, 7, last_order_date=TODAY - dt.timedelta(days=20), tz=TZ)
    uow = unit_of_work()
    with uow:
        assert uow.read_model.refresh_due_dates(factory) == 0

