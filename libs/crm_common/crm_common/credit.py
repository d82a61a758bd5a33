"""Credit rules of seed 001 that more than one service applies (customer-service on the
customer, analytics-service on its read model): customer type labels, available credit,
utilisation, overdue debt and the 信用风险等级 table. Pure functions, no I/O."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

# Stored type codes -> the Chinese labels seed 001 shows.
CUSTOMER_TYPES = {"company": "企业", "individual": "个人", "dealer": "经销商", "retail": "零售"}


def available_credit(credit_limit: Decimal, current_balance: Decimal) -> Decimal:
    """可用额度 = 信用额度 - abs(当前余额) (seed 001)."""
    return Decimal(credit_limit) - abs(Decimal(current_balance))


def debt(current_balance: Decimal) -> Decimal:
    """What the customer owes (negative balance means debt)."""
    balance = Decimal(current_balance)
    return -balance if balance < 0 else Decimal(0)


def credit_utilization(credit_limit: Decimal, current_balance: Decimal) -> Decimal | None:
    """abs(currentBalance) / creditLimit × 100, in percent; ``None`` without a limit."""
    limit = Decimal(credit_limit)
    if limit <= 0:
        return None
    return (abs(Decimal(current_balance)) / limit * 100).quantize(Decimal("0.01"))


def exceeds_credit_limit(credit_limit: Decimal, current_balance: Decimal) -> bool:
    """Warning condition of seed 001 §4.1: currentBalance < -creditLimit."""
    return Decimal(current_balance) < -Decimal(credit_limit)


def debt_due_at(current_balance: Decimal, debt_since: dt.datetime | None,
                payment_terms: int | None) -> dt.datetime | None:
    """When the current debt falls overdue: ``debt_since`` + payment terms (no debt: ``None``)."""
    if Decimal(current_balance) >= 0 or debt_since is None:
        return None
    return debt_since + dt.timedelta(days=int(payment_terms or 0))


def overdue_days(current_balance: Decimal, debt_since: dt.datetime | None, payment_terms: int | None,
                 now: dt.datetime) -> int:
    """Days past the payment terms of the current debt (0 when not overdue)."""
    due = debt_due_at(current_balance, debt_since, payment_terms)
    return 0 if due is None else max(0, (now - due).days)


def is_overdue(current_balance: Decimal, debt_since: dt.datetime | None, payment_terms: int | None,
               now: dt.datetime) -> bool:
    due = debt_due_at(current_balance, debt_since, payment_terms)
    return due is not None and now > due


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
    owes = Decimal(current_balance) < 0
    if (owes and exceeds_credit_limit(credit_limit, current_balance)) or days_overdue > 30:
        return "HIGH_RISK"
    if rating <= 2 or (utilization is not None and utilization > 70) or days_overdue > 0:
        return "RISK"
    if rating == 5 and (utilization is None or utilization < 30):
        return "EXCELLENT"
    return "NORMAL"
