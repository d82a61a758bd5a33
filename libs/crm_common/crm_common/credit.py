"""Credit rules of seed 001 that more than one service applies (customer-service on the
customer, analytics-service on its read model): customer type labels, available credit,
utilisation, overdue debt, the 信用风险等级 table and 风险客户. Each rule is written once in
Python and, beside it, once as a SQL expression (``*_sql``) for queries that filter, sort or
count by it; ``tests/integration/test_credit_sql.py`` runs both over one table of inputs on
PostgreSQL. No I/O.

Overdue (seed 001 §4.2 and §7.2, one definition): a customer who owes money
(``currentBalance < 0``) owes it since the last order (``lastOrderDate``; a debt with no order
known, e.g. an opening balance, since the day it began, ``debt_since``); the debt falls due
``paymentTerms`` days later, and every calendar day after that day is a day overdue:
``overdueDays = today - (lastOrderDate + paymentTerms)``, ``isOverdue = overdueDays > 0``, and
while overdue the whole debt is the overdue amount."""
from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

# Stored type codes -> the Chinese labels seed 001 shows.
CUSTOMER_TYPES = {"company": "企业", "individual": "个人", "dealer": "经销商", "retail": "零售"}

CENT = Decimal("0.01")
UTC = dt.timezone.utc


def _number(value) -> sa.ColumnElement:
    return sa.cast(value, sa.Numeric(18, 2)) if not isinstance(value, sa.ColumnElement) else value


# --- available credit, utilisation, over the limit -----------------------------------------------

def available_credit(credit_limit: Decimal, current_balance: Decimal) -> Decimal:
    """可用额度 = 信用额度 - abs(当前余额) (seed 001)."""
    return Decimal(credit_limit) - abs(Decimal(current_balance))


def available_credit_sql(credit_limit, current_balance) -> sa.ColumnElement:
    return credit_limit - sa.func.abs(current_balance)


def debt(current_balance: Decimal) -> Decimal:
    """What the customer owes (negative balance means debt)."""
    balance = Decimal(current_balance)
    return -balance if balance < 0 else Decimal(0)


def credit_utilization(credit_limit: Decimal, current_balance: Decimal) -> Decimal | None:
    """abs(currentBalance) / creditLimit × 100, in percent to the cent (half up); ``None``
    without a limit."""
    limit = Decimal(credit_limit)
    if limit <= 0:
        return None
    return (abs(Decimal(current_balance)) / limit * 100).quantize(CENT, ROUND_HALF_UP)


def credit_utilization_sql(credit_limit, current_balance) -> sa.ColumnElement:
    # PostgreSQL's round(numeric, 2) rounds half away from zero, as ROUND_HALF_UP does here.
    return sa.case((credit_limit > 0, sa.func.round(
        _number(sa.func.abs(current_balance)) * 100 / _number(credit_limit), 2)), else_=sa.null())


def exceeds_credit_limit(credit_limit: Decimal, current_balance: Decimal) -> bool:
    """Warning condition of seed 001 §4.1: currentBalance < -creditLimit."""
    return Decimal(current_balance) < -Decimal(credit_limit)


def exceeds_credit_limit_sql(credit_limit, current_balance) -> sa.ColumnElement:
    return current_balance < -credit_limit


# --- overdue (the one definition, see the module docstring) ---------------------------------------

def _day(moment: dt.date | dt.datetime, tz: dt.tzinfo) -> dt.date:
    if isinstance(moment, dt.datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(tz).date()
    return moment


def debt_due_date(current_balance: Decimal, debt_since: dt.datetime | None, payment_terms: int | None, *,
                  last_order_date: dt.date | None = None, tz: dt.tzinfo = UTC) -> dt.date | None:
    """The day the current debt falls due: (last order date, else the day the debt began, in
    ``tz``) + payment terms; ``None`` without a debt (or without either date)."""
    if Decimal(current_balance) >= 0:
        return None
    since = last_order_date if last_order_date is not None else \
        (_day(debt_since, tz) if debt_since is not None else None)
    return None if since is None else since + dt.timedelta(days=int(payment_terms or 0))


def debt_due_date_sql(current_balance, debt_since, payment_terms, last_order_date, tz: str = "UTC"
                      ) -> sa.ColumnElement:
    since = sa.func.coalesce(last_order_date, sa.cast(sa.func.timezone(tz, debt_since), sa.Date))
    return sa.case((current_balance < 0, since + sa.func.coalesce(payment_terms, 0)), else_=sa.null())


def overdue_days(current_balance: Decimal, debt_since: dt.datetime | None, payment_terms: int | None,
                 now: dt.date | dt.datetime, *, last_order_date: dt.date | None = None,
                 tz: dt.tzinfo = UTC) -> int:
    """逾期天数: calendar days from the due day to ``now``'s day in ``tz`` (0 when not overdue)."""
    due = debt_due_date(current_balance, debt_since, payment_terms, last_order_date=last_order_date, tz=tz)
    return days_past_due(due, now, tz)


def days_past_due(due: dt.date | None, now: dt.date | dt.datetime, tz: dt.tzinfo = UTC) -> int:
    """Calendar days from a due day (``debt_due_date``, e.g. kept on a row) to ``now``'s day."""
    return 0 if due is None else max(0, (_day(now, tz) - due).days)


class _DaysBetween(FunctionElement):
    """``later - earlier`` in days, for two dates (PostgreSQL: date - date; SQLite: julianday)."""
    type = sa.Integer()
    inherit_cache = True


@compiles(_DaysBetween)
def _days_between(element, compiler, **kw):
    later, earlier = list(element.clauses)
    return f"({compiler.process(later, **kw)} - {compiler.process(earlier, **kw)})"


@compiles(_DaysBetween, "sqlite")
def _days_between_sqlite(element, compiler, **kw):
    later, earlier = list(element.clauses)
    return f"CAST(julianday({compiler.process(later, **kw)}) - julianday({compiler.process(earlier, **kw)}) AS INTEGER)"


def days_past_due_sql(due, today: dt.date) -> sa.ColumnElement:
    """``days_past_due`` over a column holding ``debt_due_date`` (PostgreSQL and SQLite)."""
    day = sa.literal(today, sa.Date)
    return sa.case((is_past_due_sql(due, today), _DaysBetween(day, due)), else_=0)


def is_past_due_sql(due, today: dt.date) -> sa.ColumnElement:
    """``days_past_due(due, today) > 0`` over a column holding ``debt_due_date`` (indexable)."""
    return sa.and_(due.is_not(None), due < sa.literal(today, sa.Date))


def overdue_days_sql(current_balance, debt_since, payment_terms, last_order_date, today: dt.date,
                     tz: str = "UTC") -> sa.ColumnElement:
    due = debt_due_date_sql(current_balance, debt_since, payment_terms, last_order_date, tz)
    return sa.func.coalesce(sa.func.greatest(sa.literal(today, sa.Date) - due, 0), 0)


def is_overdue(current_balance: Decimal, debt_since: dt.datetime | None, payment_terms: int | None,
               now: dt.date | dt.datetime, *, last_order_date: dt.date | None = None,
               tz: dt.tzinfo = UTC) -> bool:
    """是否逾期: at least one day past the due day."""
    return overdue_days(current_balance, debt_since, payment_terms, now, last_order_date=last_order_date, tz=tz) > 0


def overdue_amount(current_balance: Decimal, days_overdue: int) -> Decimal:
    """逾期金额: the whole debt once it is overdue (it all fell due with the last order)."""
    return debt(current_balance) if days_overdue > 0 else Decimal(0)


def debt_due_at(current_balance: Decimal, debt_since: dt.datetime | None,
                payment_terms: int | None) -> dt.datetime | None:
    """``debt_since`` + payment terms, as an instant (no debt: ``None``). Kept for readers of
    the instant; the overdue rules above count calendar days from the last order."""
    if Decimal(current_balance) >= 0 or debt_since is None:
        return None
    return debt_since + dt.timedelta(days=int(payment_terms or 0))


# --- risk -----------------------------------------------------------------------------------------

# Credit risk levels of seed 001's 信用风险等级 table.
RISK_LEVELS = {
    "EXCELLENT": {"label": "优质客户", "color": "green"},
    "NORMAL": {"label": "正常客户", "color": "yellow"},
    "RISK": {"label": "风险客户", "color": "orange"},
    "HIGH_RISK": {"label": "高风险客户", "color": "red"},
}


def risk_level(rating: int, credit_limit: Decimal, current_balance: Decimal, days_overdue: int) -> str:
    """High risk: over the credit limit or more than 30 days overdue. Risk: 1-2 stars or
    utilisation above 70% or overdue. Excellent: 5 stars, utilisation below 30%, never
    overdue. Otherwise normal."""
    utilization = credit_utilization(credit_limit, current_balance)
    if exceeds_credit_limit(credit_limit, current_balance) or days_overdue > 30:
        return "HIGH_RISK"
    if rating <= 2 or (utilization is not None and utilization > 70) or days_overdue > 0:
        return "RISK"
    if rating == 5 and (utilization is None or utilization < 30):
        return "EXCELLENT"
    return "NORMAL"


def risk_level_sql(rating, credit_limit, current_balance, days_overdue) -> sa.ColumnElement:
    utilization = credit_utilization_sql(credit_limit, current_balance)
    return sa.case(
        (sa.or_(exceeds_credit_limit_sql(credit_limit, current_balance), days_overdue > 30), "HIGH_RISK"),
        (sa.or_(rating <= 2, sa.func.coalesce(utilization, 0) > 70, days_overdue > 0), "RISK"),
        (sa.and_(rating == 5, sa.func.coalesce(utilization, 0) < 30), "EXCELLENT"),
        else_="NORMAL")


def is_at_risk(rating: int, overdue: bool) -> bool:
    """风险客户 of seed 001 §7.3: 1-2 stars, or an overdue debt."""
    return rating <= 2 or overdue


def is_at_risk_sql(rating, days_overdue) -> sa.ColumnElement:
    return sa.or_(rating <= 2, days_overdue > 0)
