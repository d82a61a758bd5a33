"""Use cases of the statistics surfaces: each opens a read-only unit of work, asks the
queries for aggregates and lets the domain rules turn them into figures.

Figures are returned as plain dicts with snake_case keys; each API surface's schema names
them (camelCase on /api/mobile)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from crm_common.context import RequestContext
from crm_common.db import utcnow
from crm_common.errors import NotFound

from ..adapters import queries as q
from ..domain import customers as customer_rules
from ..domain import orders as order_rules
from ..domain import viewings as viewing_rules
from .owner import CustomerOwner, OwnerUnavailable, unavailable

NOT_FOUND_MESSAGE = "客户 {id} 不存在或已被删除"
RATINGS_DESC = ("5", "4", "3", "2", "1")
RATINGS_ASC = ("1", "2", "3", "4", "5")


def visible_customer(uow, owner: CustomerOwner, ctx: RequestContext, customer_id: int):
    """The customer figures are about: the read model's row when it is in the caller's
    tenant and domains; 404 when the read model has it otherwise (deleted, another tenant's
    or domain's); and for a customer the read model does not know yet (created a moment
    ago), the owner's answer for this caller — never "deleted" for a customer that exists."""
    with uow:
        row = q.customer(uow.session, ctx.factory_id, customer_id, ctx.scope)
        known = row is not None or q.knows_customer(uow.session, customer_id)
    if row is not None:
        return row
    if not known:
        try:
            owned = owner.customer(customer_id)
        except OwnerUnavailable as exc:
            raise unavailable(exc) from exc
        if owned is not None:
            return owned
    raise NotFound(NOT_FOUND_MESSAGE.format(id=customer_id), error_code="CUSTOMER_NOT_FOUND")


# --- seed 001 §5.1, §5.2 --------------------------------------------------------------------

def customer_statistics(uow, owner: CustomerOwner, ctx: RequestContext, customer_id: int, *, timezone: str,
                        now: dt.datetime | None = None) -> dict:
    today = viewing_rules.local_today(timezone, now)
    c = visible_customer(uow, owner, ctx, customer_id)
    with uow:
        totals = q.order_totals(uow.session, ctx.factory_id, today, [customer_id]).get(customer_id, order_rules.OrderTotals())
        products = q.products(uow.session, ctx.factory_id, customer_id)
    return order_rules.customer_statistics(
        c.id, totals, products, c.credit_limit, c.current_balance, today,
        customer_rules.credit_utilization(c.credit_limit, c.current_balance))


def purchase_history(uow, owner: CustomerOwner, ctx: RequestContext, customer_id: int) -> list[dict]:
    visible_customer(uow, owner, ctx, customer_id)
    with uow:
        return q.purchase_history(uow.session, ctx.factory_id, customer_id)


# --- seed 001 §5.3, §5.4, §7.3–7.5 -----------------------------------------------------------

def overall_statistics(uow, ctx: RequestContext, *, timezone: str, now: dt.datetime | None = None) -> dict:
    now = now or utcnow()
    with uow:
        groups = q.customer_groups(uow.session, ctx.factory_id, ctx.scope, now=now,
                                   month_start=viewing_rules.month_start(timezone, now))
    total = active = new = outstanding = at_risk = with_limit = 0
    credit = balance = available = util_sum = Decimal(0)
    types = {label: 0 for label in customer_rules.CUSTOMER_TYPES.values()}
    industries: dict[str, int] = {}
    ratings = {key: 0 for key in RATINGS_DESC}
    for g in groups:
        n = int(g.customers)
        total += n
        active += int(g.active)
        new += int(g.new_this_month)
        outstanding += int(g.with_outstanding)
        at_risk += int(g.at_risk)
        with_limit += int(g.with_credit_limit)
        credit += Decimal(g.credit_limit)
        balance += Decimal(g.current_balance)
        available += Decimal(g.available_credit)
        util_sum += Decimal(str(g.utilization_sum))
        label = customer_rules.type_label(g.type)
        types[label] = types.get(label, 0) + n
        industry = customer_rules.industry_label(g.industry_type)
        industries[industry] = industries.get(industry, 0) + n
        ratings[str(g.rating)] = ratings.get(str(g.rating), 0) + n
    return {
        "total_customers": total,
        "active_customers": active,
        "inactive_customers": total - active,
        "new_customers_this_month": new,
        "type_distribution": types,
        "industry_distribution": _by_count(industries),
        "rating_distribution": ratings,
        "financial_summary": {
            "total_credit_limit": credit,
            "total_current_balance": balance,
            "total_available_credit": available,
            "customers_with_outstanding": outstanding,
            "avg_credit_utilization": order_rules.round2(util_sum * 100 / with_limit) if with_limit else Decimal(0),
        },
        "vip_customers": ratings.get("5", 0),
        "at_risk_customers": at_risk,
    }


def _by_count(counts: dict[str, int]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def rating_distribution(uow, ctx: RequestContext) -> dict[str, int]:
    with uow:
        counts = q.count_by(uow.session, ctx.factory_id, ctx.scope, q.C.rating)
    return {key: int(counts.get(int(key), 0)) for key in RATINGS_ASC}


def type_distribution(uow, ctx: RequestContext) -> dict[str, int]:
    with uow:
        counts = q.count_by(uow.session, ctx.factory_id, ctx.scope, q.C.type)
    out = {label: 0 for label in customer_rules.CUSTOMER_TYPES.values()}
    for code, n in counts.items():
        label = customer_rules.type_label(code)
        out[label] = out.get(label, 0) + int(n)
    return out


def industry_distribution(uow, ctx: RequestContext) -> dict[str, int]:
    with uow:
        counts = q.count_by(uow.session, ctx.factory_id, ctx.scope, q.C.industry_type)
    out: dict[str, int] = {}
    for industry, n in counts.items():
        label = customer_rules.industry_label(industry)
        out[label] = out.get(label, 0) + int(n)
    return _by_count(out)


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
