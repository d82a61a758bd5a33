"""Each credit rule of crm_common.credit in Python and in SQL gives the same answer for the
same inputs, run on the real PostgreSQL over one table of cases (boundaries included: the
due day itself, the first day past it, 30 and 31 days, utilisation at 30/70 % and at a
half cent, no limit, no debt, no order known)."""
from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from crm_common import credit
from crm_common.db import make_engine
from crm_testing import create_database, drop_database

TODAY = dt.date(2026, 3, 31)
SHANGHAI = ZoneInfo("Asia/Shanghai")

metadata = sa.MetaData()
cases = sa.Table(
    "credit_cases", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("rating", sa.SmallInteger, nullable=False),
    sa.Column("credit_limit", sa.Numeric(18, 2), nullable=False),
    sa.Column("current_balance", sa.Numeric(18, 2), nullable=False),
    sa.Column("payment_terms", sa.Integer, nullable=False),
    sa.Column("debt_since", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_order_date", sa.Date, nullable=True),
)


def _inputs():
    limits = [D(0), D(1000), D("333.33")]
    # -0.05 of 1000 is 0.005 %: half a cent, rounded up in both forms.
    balances = [D(0), D(50), D("-0.05"), D(-1), D(-299), D(-300), D(-700), D("-700.01"), D(-1000), D("-1000.01")]
    terms = [0, 30]
    orders = [None, TODAY, TODAY - dt.timedelta(days=30), TODAY - dt.timedelta(days=31),
              TODAY - dt.timedelta(days=61), TODAY - dt.timedelta(days=62)]
    # 23:30 UTC is the next day in Shanghai: the day a debt began depends on the time zone.
    since = [None, dt.datetime(2026, 2, 28, 23, 30, tzinfo=dt.timezone.utc),
             dt.datetime(2026, 1, 1, 8, 0, tzinfo=dt.timezone.utc)]
    for n, (rating, limit, balance, term, order, began) in enumerate(
            itertools.product([1, 3, 5], limits, balances, terms, orders, since)):
        yield {"id": n, "rating": rating, "credit_limit": limit, "current_balance": balance.quantize(D("0.01")),
               "payment_terms": term, "debt_since": began, "last_order_date": order}


@pytest.fixture(scope="module")
def engine():
    url = create_database("crm_credit")
    engine = make_engine(url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(cases.insert(), list(_inputs()))
    yield engine
    engine.dispose()
    drop_database(url)


@pytest.mark.parametrize("tz_name", ["UTC", "Asia/Shanghai"])
def test_every_credit_rule_agrees_in_python_and_in_sql(engine, tz_name):
    tz = ZoneInfo(tz_name)
    c = cases.c
    days = credit.overdue_days_sql(c.current_balance, c.debt_since, c.payment_terms, c.last_order_date, TODAY, tz_name)
    due = credit.debt_due_date_sql(c.current_balance, c.debt_since, c.payment_terms, c.last_order_date, tz_name)
    stmt = sa.select(
        c.id, c.rating, c.credit_limit, c.current_balance, c.payment_terms, c.debt_since, c.last_order_date,
        credit.available_credit_sql(c.credit_limit, c.current_balance).label("available"),
        credit.credit_utilization_sql(c.credit_limit, c.current_balance).label("utilization"),
        credit.exceeds_credit_limit_sql(c.credit_limit, c.current_balance).label("exceeds"),
        credit.debt_due_date_sql(c.current_balance, c.debt_since, c.payment_terms, c.last_order_date,
                                 tz_name).label("due"),
        days.label("days"),
        credit.risk_level_sql(c.rating, c.credit_limit, c.current_balance, days).label("risk"),
        credit.is_at_risk_sql(c.rating, days).label("at_risk"),
        # From a kept due day (a column holding debt_due_date), as a read model counts it.
        credit.days_past_due_sql(due, TODAY).label("past_due_days"),
        credit.is_past_due_sql(due, TODAY).label("past_due"),
    ).order_by(c.id)
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    assert len(rows) > 1000
    seen_days = set()
    for r in rows:
        python_days = credit.overdue_days(r.current_balance, r.debt_since, r.payment_terms, TODAY,
                                          last_order_date=r.last_order_date, tz=tz)
        expected = {
            "available": credit.available_credit(r.credit_limit, r.current_balance),
            "utilization": credit.credit_utilization(r.credit_limit, r.current_balance),
            "exceeds": credit.exceeds_credit_limit(r.credit_limit, r.current_balance),
            "due": credit.debt_due_date(r.current_balance, r.debt_since, r.payment_terms,
                                        last_order_date=r.last_order_date, tz=tz),
            "days": python_days,
            "risk": credit.risk_level(r.rating, r.credit_limit, r.current_balance, python_days),
            "at_risk": credit.is_at_risk(r.rating, credit.is_overdue(
                r.current_balance, r.debt_since, r.payment_terms, TODAY, last_order_date=r.last_order_date, tz=tz)),
            "past_due_days": python_days,
            "past_due": python_days > 0,
        }
        got = {key: getattr(r, key) for key in expected}
        assert got == expected, f"case {r.id}: {dict(r._mapping)}"
        seen_days.add(python_days)
    # The table reaches every branch: not overdue, the first day past due, past 30 and 31 days.
    assert {0, 1, 30, 31} <= seen_days

