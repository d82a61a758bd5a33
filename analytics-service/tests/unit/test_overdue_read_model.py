"""Seed 001 §7.2 in the read model, on SQLite in memory (no services): each customer's kept
due day follows its last counted (not cancelled) order, else the day its debt began, and the
overdue count, the credit-risk levels and the per-row rule of ``crm_common.credit`` agree."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from analytics_service.adapters import orm
from analytics_service.adapters import queries as q
from analytics_service.domain import orders as o
from analytics_service.service_layer.projection import customer_row
from analytics_service.service_layer.unit_of_work import AnalyticsUnitOfWork
from crm_common import credit

TZ = ZoneInfo("Asia/Shanghai")
TODAY = dt.date(2026, 11, 30)
NOW = dt.datetime(2026, 11, 30, 4, 0, tzinfo=dt.timezone.utc)
F = "F1"


@pytest.fixture
def uow():
    engine = sa.create_engine("sqlite://")
    orm.metadata.create_all(engine)
    yield AnalyticsUnitOfWork(sessionmaker(engine), timezone="Asia/Shanghai")
    engine.dispose()


def _customer(cid: int, version: int = 1, *, balance="-500", terms=30, since=NOW - dt.timedelta(days=1), rating=4):
    return customer_row({"id": cid, "factory_id": F, "rating": rating, "credit_limit": "100000",
                         "current_balance": balance, "payment_terms": terms,
                         "debt_since": since.isoformat() if since else None}, version)


def _order(order_id: str, cid: int, days_ago: int, status: str = "COMPLETED") -> o.Order:
    return o.build_order(order_id=order_id, customer_id=cid, order_date=TODAY - dt.timedelta(days=days_ago),
                         status=status, payment_status="UNPAID", total_amount=D(100), due_date=None, paid_date=None,
                         items=[])


def _write_orders(uow, *orders: o.Order) -> None:
    with uow:
        uow.orders.save(F, [(order, 1) for order in orders], source="test", now=NOW)
        ids = {order.customer_id for order in orders}
        uow.orders.refresh_totals(F, ids)
        uow.read_model.refresh_due_dates(F, ids)
        uow.commit()


def _due(uow) -> dict[int, dt.date | None]:
    c = orm.customers.c
    with uow:
        return dict(uow.session.execute(sa.select(c.id, c.debt_due_date)).all())


def test_the_due_day_follows_the_last_order_that_was_not_cancelled(uow):
    with uow:
        uow.read_model.apply_customers([_customer(1), _customer(2), _customer(3, since=NOW - dt.timedelta(days=40)),
                                        _customer(4, balance="0", since=None)])
        uow.commit()
    # No order yet: the day each debt began (in Shanghai) + 30.
    assert _due(uow) == {1: TODAY + dt.timedelta(days=29), 2: TODAY + dt.timedelta(days=29),
                         3: TODAY - dt.timedelta(days=10), 4: None}
    _write_orders(uow, _order("A", 1, 45), _order("B", 2, 45), _order("C", 2, 5, "PENDING"), _order("D", 4, 90))
    assert _due(uow) == {1: TODAY - dt.timedelta(days=15), 2: TODAY + dt.timedelta(days=25),
                         3: TODAY - dt.timedelta(days=10), 4: None}
    _write_orders(uow, _order("C", 2, 5, "CANCELLED"))       # the newer order no longer counts
    assert _due(uow)[2] == TODAY - dt.timedelta(days=15)

    with uow:
        _new, overdue = q.clock_counts(uow.session, F, None, since=NOW, today=TODAY)
        levels, overdue_too = q.credit_risk_counts(uow.session, F, None, TODAY)
        totals = q.order_totals(uow.session, F, TODAY)
    # The same answer as the rule applied row by row with each customer's last counted order.
    rows = {1: ("-500", NOW - dt.timedelta(days=1)), 2: ("-500", NOW - dt.timedelta(days=1)),
            3: ("-500", NOW - dt.timedelta(days=40)), 4: ("0", None)}
    days = {cid: credit.overdue_days(D(balance), since, 30, TODAY, tz=TZ,
                                     last_order_date=totals[cid].last_order_date if cid in totals else None)
            for cid, (balance, since) in rows.items()}
    assert days == {1: 15, 2: 15, 3: 10, 4: 0}
    assert overdue == overdue_too == 3 and levels == {"RISK": 3, "NORMAL": 1}


def test_a_customer_event_applied_after_the_orders_sees_them(uow):
    """The customer's event can arrive after its first order (created a moment ago)."""
    _write_orders(uow, _order("A", 7, 45))
    with uow:
        uow.read_model.apply_customers([_customer(7)])
        uow.commit()
    assert _due(uow) == {7: TODAY - dt.timedelta(days=15)}
    with uow:   # paid off: no debt, no due day; a new debt with 60 days' terms
        uow.read_model.apply_customers([_customer(7, 2, balance="0", since=None)])
        uow.commit()
    assert _due(uow) == {7: None}
    with uow:
        uow.read_model.apply_customers([_customer(7, 3, terms=60)])
        uow.commit()
    assert _due(uow) == {7: TODAY + dt.timedelta(days=15)}
