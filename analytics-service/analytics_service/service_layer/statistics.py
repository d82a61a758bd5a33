"""Use cases of the statistics surfaces: each opens a read-only unit of work, asks the
queries for aggregates and lets the domain rules turn them into figures.

Figures are returned as plain dicts with snake_case keys; each API surface's schema names
them (camelCase on /api/mobile)."""
from __future__ import annotations

import datetime as dt
from dataclasses import fields as dataclass_fields
from decimal import Decimal
from typing import Callable
from zoneinfo import ZoneInfo

from crm_common.context import RequestContext
from crm_common.db import utcnow
from crm_common.errors import NotFound

from ..adapters import queries as q
from ..domain import customers as customer_rules
from ..domain import orders as order_rules
from ..domain import viewings as viewing_rules
from .owner import CustomerOwner, OwnedCustomer, OwnerUnavailable, unavailable

NOT_FOUND_MESSAGE = "客户 {id} 不存在或已被删除"
RATINGS_DESC = ("5", "4", "3", "2", "1")
RATINGS_ASC = ("1", "2", "3", "4", "5")
FIGURES = [field.name for field in dataclass_fields(customer_rules.CustomerFigures)]


def read_about(uow, owner: CustomerOwner, ctx: RequestContext, customer_id: int,
               read: Callable[[object], object] = lambda session: None) -> tuple[object, object]:
    """(the customer, ``read(session)``) for a customer the caller may see: the read model's
    row when it is in the caller's tenant and domains (one unit of work for both); 404 when
    the read model has it otherwise (deleted, another tenant's or domain's); and for a
    customer the read model does not know yet (created a moment ago), the owner's answer for
    this caller — never "deleted" for a customer that exists."""
    with uow:
        row = q.customer(uow.session, ctx.factory_id, customer_id, ctx.scope)
        if row is not None:
            return row, read(uow.session)
        known = q.knows_customer(uow.session, customer_id)
    owned = None
    if not known:
        try:
            owned = owner.customer(customer_id)
        except OwnerUnavailable as exc:
            raise unavailable(exc) from exc
    if owned is None:
        raise NotFound(NOT_FOUND_MESSAGE.format(id=customer_id), error_code="CUSTOMER_NOT_FOUND")
    with uow:
        return owned, read(uow.session)


def visible_customer(uow, owner: CustomerOwner, ctx: RequestContext, customer_id: int):
    return read_about(uow, owner, ctx, customer_id)[0]


# --- seed 001 §5.1, §5.2 --------------------------------------------------------------------

def customer_statistics(uow, owner: CustomerOwner, ctx: RequestContext, customer_id: int, *, timezone: str,
                        now: dt.datetime | None = None) -> dict:
    today = viewing_rules.local_today(timezone, now)
    c, (totals, products) = read_about(uow, owner, ctx, customer_id, lambda session: (
        q.order_totals(session, ctx.factory_id, today, [customer_id]).get(customer_id, order_rules.OrderTotals()),
        q.products(session, ctx.factory_id, customer_id)))
    figures = order_rules.customer_statistics(
        c.id, totals, products, c.credit_limit, c.current_balance, today,
        customer_rules.credit_utilization(c.credit_limit, c.current_balance))
    days = overdue_days(c, totals.last_order_date, today, timezone)
    return {**figures, "is_overdue": days > 0, "overdue_days": days}


def overdue_days(c, last_order_date: dt.date | None, today: dt.date, timezone: str) -> int:
    """逾期天数 of seed 001 §7.2 for a read-model row, with the last counted order date of
    analytics' own order facts; for a customer the read model does not know yet (created
    a moment ago) the owner's count, the same rule over the orders it has heard of."""
    if isinstance(c, OwnedCustomer):
        return c.overdue_days
    return customer_rules.overdue_days(c.current_balance, c.debt_since, c.payment_terms, today,
                                       last_order_date=last_order_date, tz=ZoneInfo(timezone))


def purchase_history(uow, owner: CustomerOwner, ctx: RequestContext, customer_id: int) -> list[dict]:
    return read_about(uow, owner, ctx, customer_id,
                      lambda session: q.purchase_history(session, ctx.factory_id, customer_id))[1]


# --- seed 001 §5.3, §5.4, §7.3–7.5 -----------------------------------------------------------

def _sum(groups, key: str, label=lambda v: v) -> dict:
    """Customers per value of ``key`` over the summary groups."""
    out: dict = {}
    for g in groups:
        name = label(getattr(g, key))
        out[name] = out.get(name, 0) + int(g.customers)
    return out


def overall_statistics(uow, ctx: RequestContext, *, timezone: str, now: dt.datetime | None = None) -> dict:
    """§5.4 from the tenant's kept summary (a few hundred rows at most, whatever the number
    of customers) plus the two clock-dependent counts, each from an index."""
    now = now or utcnow()
    with uow:
        groups = q.summary_groups(uow.session, ctx.factory_id, ctx.scope)
        new, overdue = q.clock_counts(uow.session, ctx.factory_id, ctx.scope,
                                      since=viewing_rules.month_start(timezone, now),
                                      today=viewing_rules.local_today(timezone, now))
    f = customer_rules.CustomerFigures(*(sum(getattr(g, name) for g in groups) for name in FIGURES))
    ratings = _ratings(groups, RATINGS_DESC)
    return {
        "total_customers": f.customers,
        "active_customers": f.active,
        "inactive_customers": f.customers - f.active,
        "new_customers_this_month": new,
        "type_distribution": _types(groups),
        "industry_distribution": _industries(groups),
        "rating_distribution": ratings,
        "financial_summary": {
            "total_credit_limit": f.credit_limit,
            "total_current_balance": f.current_balance,
            "total_available_credit": f.available_credit,
            "customers_with_outstanding": f.with_outstanding,
            "avg_credit_utilization": order_rules.round2(f.utilization_sum * 100 / f.with_credit_limit)
            if f.with_credit_limit else Decimal(0),
        },
        "vip_customers": ratings["5"],
        "at_risk_customers": customer_rules.at_risk_count(ratings["1"] + ratings["2"], overdue),
    }


def _ratings(groups, order: tuple[str, ...]) -> dict[str, int]:
    counts = _sum(groups, "rating", str)
    return {key: counts.get(key, 0) for key in order}


def _types(groups) -> dict[str, int]:
    """企业/个人/经销商/零售 always present; no or an unknown type: 其他."""
    return {**{label: 0 for label in customer_rules.CUSTOMER_TYPES.values()},
            **_sum(groups, "type", lambda code: customer_rules.type_label(code or None))}


def _industries(groups) -> dict[str, int]:
    """Most first (ties by name); no industry: 其他."""
    counts = _sum(groups, "industry_type", lambda v: customer_rules.industry_label(v or None))
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _groups(uow, ctx: RequestContext) -> list:
    with uow:
        return q.summary_groups(uow.session, ctx.factory_id, ctx.scope)


def rating_distribution(uow, ctx: RequestContext) -> dict[str, int]:
    return _ratings(_groups(uow, ctx), RATINGS_ASC)


def type_distribution(uow, ctx: RequestContext) -> dict[str, int]:
    return _types(_groups(uow, ctx))


def industry_distribution(uow, ctx: RequestContext) -> dict[str, int]:
    return _industries(_groups(uow, ctx))


def vip_customers(uow, ctx: RequestContext, limit: int) -> list[dict]:
    with uow:
        rows = q.vip_customers(uow.session, ctx.factory_id, ctx.scope, limit)
    return [{"id": r.id, "name": r.name, "rating": r.rating, "total_revenue": Decimal(r.total_revenue),
             "total_orders": int(r.total_orders),
             "avg_order_amount": order_rules.round2(Decimal(r.total_revenue) / r.total_orders) if r.total_orders else None,
             "last_order_date": q._as_date(r.last_order_date)} for r in rows]


# --- order summaries for customer-service ----------------------------------------------------

def order_summaries(uow, ctx: RequestContext, customer_ids: list[int], *, timezone: str,
                    now: dt.datetime | None = None) -> dict[str, dict]:
    """Per customer id: totalOrders, totalRevenue, lastOrderDate, customerLifetimeValue.
    Ids with orders, or known live customers without any; unknown ids are absent."""
    today = viewing_rules.local_today(timezone, now)
    ids = sorted(set(customer_ids))
    with uow:
        rows = q.order_summaries(uow.session, ctx.factory_id, ids)
        known = q.visible_customer_ids(uow.session, ctx.factory_id, ids, ctx.scope)
    out: dict[str, dict] = {}
    if not ctx.scope.everything:
        rows = [r for r in rows if r.customer_id in known]
    for cid in sorted(known):
        out[str(cid)] = {"total_orders": 0, "total_revenue": Decimal(0), "last_order_date": None,
                         "customer_lifetime_value": None}
    for r in rows:
        first = q._as_date(r.first_order_date)
        days = order_rules.days_since_first_order(first, today)
        clv = order_rules.lifetime_value(Decimal(r.total_revenue), int(r.total_orders), days)
        out[str(r.customer_id)] = {"total_orders": int(r.total_orders), "total_revenue": Decimal(r.total_revenue),
                                   "last_order_date": q._as_date(r.last_order_date),
                                   "customer_lifetime_value": order_rules.round2(clv) if clv is not None else None}
    return out


# --- seed 002 §4 ------------------------------------------------------------------------------

def external_statistics(uow, ctx: RequestContext, date_from: dt.date | None, date_to: dt.date | None,
                        *, timezone: str) -> dict:
    start, end = viewing_rules.period_bounds(date_from, date_to, timezone)
    with uow:
        viewing = q.viewing_totals(uow.session, ctx.factory_id, start, end)
        leads = q.customers_by_lead_status(uow.session, ctx.factory_id,
                                           (viewing_rules.COMPLETED_UNPAID, viewing_rules.COMPLETED_PAID), start, end)
    return {
        "viewing_count": int(viewing.viewing_count),
        "completed_unpaid_count": leads.get(viewing_rules.COMPLETED_UNPAID, 0),
        "completed_paid_count": leads.get(viewing_rules.COMPLETED_PAID, 0),
        "total_commission": Decimal(viewing.total_commission),
        "period": {"date_from": date_from, "date_to": date_to},
    }
