"""The overdue rule of crm_common.credit (one definition for isOverdue, overdueDays,
overdueAmount and riskLevel); its SQL twin is checked in tests/integration/test_credit_sql.py."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from crm_common import credit

TODAY = dt.date(2026, 3, 31)


def test_the_first_day_past_the_terms_is_overdue_by_one_day_and_risky():
    """Issue 14: isOverdue, overdueDays and riskLevel agree on the first day past the terms."""
    ordered = TODAY - dt.timedelta(days=31)
    days = credit.overdue_days(D(-100), None, 30, TODAY, last_order_date=ordered)
    assert days == 1 and credit.is_overdue(D(-100), None, 30, TODAY, last_order_date=ordered)
    assert credit.risk_level(4, D(10000), D(-100), days) == "RISK"
    on_the_due_day = TODAY - dt.timedelta(days=30)
    assert credit.overdue_days(D(-100), None, 30, TODAY, last_order_date=on_the_due_day) == 0
    assert not credit.is_overdue(D(-100), None, 30, TODAY, last_order_date=on_the_due_day)


def test_the_last_order_dates_the_debt_and_a_debt_without_orders_dates_from_when_it_began():
    long_ago = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    assert credit.overdue_days(D(-1), long_ago, 30, TODAY, last_order_date=TODAY) == 0
    assert credit.overdue_days(D(-1), long_ago, 30, TODAY) == (TODAY - dt.date(2025, 1, 31)).days
    assert credit.overdue_days(D(0), long_ago, 30, TODAY) == 0
    assert credit.overdue_amount(D("-12.50"), 3) == D("12.50") and credit.overdue_amount(D("-12.50"), 0) == 0
