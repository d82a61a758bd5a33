"""Customer rules analytics needs, as plain functions (no database, no web), each figure the
database also computes with its SQL form beside it (``*_sql``; tests/integration/
test_formulas.py runs both over one table of inputs).

The credit rules (type labels, credit, overdue debt, the 信用风险等级 levels) are the shared
library's ``crm_common.credit``, the same ones customer-service applies — overdue counted
from the last counted (not cancelled) order's date, which analytics takes from its own order
facts (``customer_order_totals``) and customer-service from their events; this module adds
what only analytics needs: the labels of the distributions, 风险客户 of §5.4, and what one
customer adds to its tenant's summary (``CustomerFigures``), which the consumer keeps in step
with the read model so that overall statistics and the distributions never scan customers.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa

from crm_common.credit import (  # noqa: F401
    CUSTOMER_TYPES,
    RISK_LEVELS,
    available_credit,
    credit_utilization,
    days_past_due,
    days_past_due_sql,
    debt_due_at,
    debt_due_date,
    exceeds_credit_limit,
    is_overdue,
    is_past_due_sql,
    overdue_days,
    risk_level,
    risk_level_sql,
)

OTHER_LABEL = "其他"
ACTIVE = "active"
# Summary keys are never NULL (they are a primary key): a missing value is "".
NONE_KEY = ""
# Utilisation fractions are summed to this many places: exact sums, and far more than the
# 2 decimals of the average shown.
UTILIZATION_PLACES = Decimal("1e-12")


def type_label(code: str | None) -> str:
    """企业/个人/经销商/零售; a missing or unknown type counts as 其他."""
    return CUSTOMER_TYPES.get(code or "", OTHER_LABEL)


def industry_label(industry: str | None) -> str:
    """The industry as stored; customers without one are counted under 其他."""
    industry = (industry or "").strip()
    return industry or OTHER_LABEL


def is_at_risk(rating: int, overdue: bool) -> bool:
    """风险客户 of seed 001 §5.4: 1-2 stars, or an overdue debt (§7.2: ``overdue_days`` > 0)."""
    return rating <= 2 or overdue


def at_risk_count(one_or_two_stars: int, overdue_with_more_stars: int) -> int:
    """How many customers ``is_at_risk``, counted without a scan: the 1-2 star customers (from
    the summary) plus those with 3-5 stars whose debt is overdue (``debt_due_date`` before
    today, from an index) — nobody twice."""
    return one_or_two_stars + overdue_with_more_stars


def utilization_fraction(credit_limit: Decimal, current_balance: Decimal) -> Decimal:
    """|balance| / limit (0 without a limit), to ``UTILIZATION_PLACES``: the part of the
    average credit utilisation one customer contributes."""
    limit = Decimal(credit_limit)
    if limit <= 0:
        return Decimal(0)
    # Half up, as PostgreSQL's round(numeric) of the SQL form below.
    return (abs(Decimal(current_balance)) / limit).quantize(UTILIZATION_PLACES, rounding=ROUND_HALF_UP)


def utilization_fraction_sql(credit_limit, current_balance) -> sa.ColumnElement:
    return sa.case((credit_limit > 0, sa.func.round(
        sa.cast(sa.func.abs(current_balance), sa.Numeric(38, 16)) / credit_limit, 12)), else_=0)


# --- what one customer adds to its tenant's summary ------------------------------------------------

@dataclass(frozen=True)
class SummaryKey:
    """A group of the tenant's summary: what the distributions are cut by."""
    factory_id: str
    business_domain: str
    type: str
    industry_type: str
    rating: int


@dataclass(frozen=True)
class CustomerFigures:
    """The sums of §5.4 over a group of live customers; one customer's own figures are its
    contribution (``of``)."""
    customers: int = 0
    active: int = 0
    with_outstanding: int = 0
    with_credit_limit: int = 0
    credit_limit: Decimal = Decimal(0)
    current_balance: Decimal = Decimal(0)
    available_credit: Decimal = Decimal(0)
    utilization_sum: Decimal = Decimal(0)

    def __add__(self, other: "CustomerFigures") -> "CustomerFigures":
        return CustomerFigures(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def __neg__(self) -> "CustomerFigures":
        return CustomerFigures(*(-getattr(self, f.name) for f in fields(self)))

    @property
    def empty(self) -> bool:
        return all(not getattr(self, f.name) for f in fields(self))

    @classmethod
    def of(cls, status: str | None, credit_limit: Decimal, current_balance: Decimal) -> "CustomerFigures":
        limit, balance = Decimal(credit_limit), Decimal(current_balance)
        return cls(customers=1, active=int(status == ACTIVE), with_outstanding=int(balance < 0),
                   with_credit_limit=int(limit > 0), credit_limit=limit, current_balance=balance,
                   available_credit=available_credit(limit, balance),
                   utilization_sum=utilization_fraction(limit, balance))


def summary_key(row) -> SummaryKey:
    """The group a read-model row (mapping) counts in."""
    return SummaryKey(row["factory_id"], row["business_domain"] or NONE_KEY, row["type"] or NONE_KEY,
                      row["industry_type"] or NONE_KEY, int(row["rating"]))


def contribution(row) -> tuple[SummaryKey, CustomerFigures] | None:
    """What a read-model row adds to its tenant's summary; a deleted customer adds nothing."""
    if row["deleted_at"] is not None:
        return None
    return summary_key(row), CustomerFigures.of(row["status"], row["credit_limit"], row["current_balance"])


def summary_key_sql(c) -> list[sa.ColumnElement]:
    """``summary_key`` over the customers table ``c`` (filter it by ``deleted_at IS NULL``)."""
    return [c.factory_id, sa.func.coalesce(c.business_domain, NONE_KEY).label("business_domain"),
            sa.func.coalesce(c.type, NONE_KEY).label("type"),
            sa.func.coalesce(c.industry_type, NONE_KEY).label("industry_type"), c.rating]


def customer_figures_sql(c) -> list[sa.ColumnElement]:
    """``CustomerFigures`` summed over a group of the customers table ``c``."""
    one = lambda cond: sa.func.sum(sa.case((cond, 1), else_=0))  # noqa: E731
    return [
        sa.func.count().label("customers"),
        one(c.status == ACTIVE).label("active"),
        one(c.current_balance < 0).label("with_outstanding"),
        one(c.credit_limit > 0).label("with_credit_limit"),
        sa.func.sum(c.credit_limit).label("credit_limit"),
        sa.func.sum(c.current_balance).label("current_balance"),
        sa.func.sum(c.credit_limit - sa.func.abs(c.current_balance)).label("available_credit"),
        sa.func.sum(utilization_fraction_sql(c.credit_limit, c.current_balance)).label("utilization_sum"),
    ]
