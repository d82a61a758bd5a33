"""Customer rules analytics needs, as plain functions (no database, no web).

Copied on purpose from customer-service's ``domain/rules.py`` (services share no code but
the common library): type labels, credit, overdue debt and the credit risk levels of seed
001's 信用风险等级 table. Unit tests in tests/unit/test_customer_rules.py pin them."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

# Stored type codes -> the Chinese labels seed 001 shows.
CUSTOMER_TYPES = {"company": "企业", "individual": "个人", "dealer": "经销商", "retail": "零售"}
OTHER_LABEL = "其他"


def type_label(code: str | None) -> str:
    """企业/个人/经销商/零售; a missing or unknown type counts as 其他."""
    return CUSTOMER_TYPES.get(code or "", OTHER_LABEL)


def industry_label(industry: str | None) -> str:
    """The industry as stored; customers without one are counted under 其他."""
    industry = (industry or "").strip()
    return industry or OTHER_LABEL


def available_credit(credit_limit: Decimal, current_balance: Decimal) -> Decimal:
    """可用额度 = 信用额度 - abs(当前余额) (seed 001)."""
    return Decimal(credit_limit) - abs(Decimal(current_balance))


def credit_utilization(credit_limit: Decimal, current_balance: Decimal) -> Decimal | None:
    """abs(currentBalance) / creditLimit × 100, in percent; ``None`` without a limit."""
    limit = Decimal(credit_limit)
    if limit <= 0:
        return None
    return (abs(Decimal(current_balance)) / limit * 100).quantize(Decimal("0.01"))


def exceeds_credit_limit(credit_limit: Decimal, current_balance: Decimal) -> bool:
    """currentBalance < -creditLimit (seed 001 §4.1's warning)."""
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
    if due is None:
        return 0
    return max(0, (now - due).days)


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
    overdue. Otherwise normal. (Same rule as customer-service.)"""
    utilization = credit_utilization(credit_limit, current_balance)
    owes = Decimal(current_balance) < 0
    if (owes and exceeds_credit_limit(credit_limit, current_balance)) or days_overdue > 30:
        return "HIGH_RISK"
    if rating <= 2 or (utilization is not None and utilization > 70) or days_overdue > 0:
        return "RISK"
    if rating == 5 and (utilization is None or utilization < 30):
        return "EXCELLENT"
    return "NORMAL"


def is_at_risk(rating: int, overdue: bool) -> bool:
    """风险客户 of seed 001 §5.4: 1-2 stars, or debt past its payment terms."""
    return rating <= 2 or overdue
