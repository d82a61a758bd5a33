"""Analyses of seed 001's 核心业务逻辑 over a tenant: the rating score (客户评级算法), the
RFM segmentation (客户细分策略), credit risk level counts (信用风险等级), and the read
model's freshness."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from crm_common.context import RequestContext
from crm_common.db import utcnow
from crm_common.paging import page_body

from ..adapters import queries as q
from ..adapters.repositories import Freshness
from ..domain import customers as customer_rules
from ..domain import orders as order_rules
from ..domain import rating as rating_rules
from ..domain import rfm as rfm_rules
from ..domain import viewings as viewing_rules
from .owner import CustomerOwner
from .statistics import visible_customer


def _offset(page: int, page_size: int) -> int:
    return (page - 1) * page_size


# --- rating score ------------------------------------------------------------------------------

def _score_inputs(t: order_rules.OrderTotals | None, today: dt.date) -> dict:
    t = t or order_rules.OrderTotals()
    days = order_rules.days_since_first_order(t.first_order_date, today)
    return {"total_revenue": t.total_revenue, "on_time_payment_rate": order_rules.on_time_payment_rate(t),
            "order_frequency": order_rules.order_frequency(t.total_orders, days), "days_since_first_order": days}


def _factory_averages(session, ctx: RequestContext, today: dt.date) -> tuple[Decimal | None, Decimal | None]:
    """Mean revenue and mean order frequency over the tenant's live buyers (every domain):
    the sums from one grouped query, divided here as the rule divides them."""
    n, revenue, frequency = q.rating_averages(session, ctx.factory_id, today)
    if not n:
        return None, None
    return revenue / n, frequency / n


def _score(customer, inputs: dict, avg_revenue, avg_frequency) -> dict:
    score = rating_rules.rating_score(total_revenue=inputs["total_revenue"], factory_avg_revenue=avg_revenue,
                                      on_time_payment_rate=inputs["on_time_payment_rate"],
                                      order_frequency=inputs["order_frequency"],
                                      factory_avg_frequency=avg_frequency,
                                      days_since_first_order=inputs["days_since_first_order"])
    r = lambda v: None if v is None else order_rules.round2(v)  # noqa: E731
    return {"customer_id": customer.id, "name": customer.name, "current_rating": customer.rating,
            "parts": {"order_amount": score.order_amount, "payment_timeliness": score.payment_timeliness,
                      "order_frequency": score.order_frequency, "cooperation_years": score.cooperation_years},
            "total": score.total, "stars": score.stars,
            "inputs": {"total_revenue": order_rules.round2(inputs["total_revenue"]),
                       "on_time_payment_rate": r(inputs["on_time_payment_rate"]),
                       "order_frequency": r(inputs["order_frequency"]),
                       "days_since_first_order": inputs["days_since_first_order"],
                       "factory_avg_revenue": r(avg_revenue), "factory_avg_frequency": r(avg_frequency)}}


def rating_score(uow, owner: CustomerOwner, ctx: RequestContext, customer_id: int, *, timezone: str,
                 now: dt.datetime | None = None) -> dict:
    today = viewing_rules.local_today(timezone, now)
    with uow:
        found = q.customers_by_id(uow.session, ctx.factory_id, ctx.scope, [customer_id]).get(customer_id)
        totals = q.order_totals(uow.session, ctx.factory_id, today, [customer_id]).get(customer_id)
        avg_revenue, avg_frequency = _factory_averages(uow.session, ctx, today)
    # A customer the read model does not know yet (created a moment ago) is asked of its owner.
    customer = found or visible_customer(uow, owner, ctx, customer_id)
    return _score(customer, _score_inputs(totals if found else None, today), avg_revenue, avg_frequency)


def rating_scores(uow, ctx: RequestContext, *, page: int, page_size: int, timezone: str,
                  now: dt.datetime | None = None) -> dict:
    """Every visible live customer's score, best first: scored, sorted and paged in SQL
    (``rating.rating_total_sql``); each listed score is then written out by the rule."""
    today = viewing_rules.local_today(timezone, now)
    with uow:
        avg_revenue, avg_frequency = _factory_averages(uow.session, ctx, today)
        rows, total = q.rating_page(uow.session, ctx.factory_id, ctx.scope, today, avg_revenue, avg_frequency,
                                    page_size, _offset(page, page_size))
    items = [_score(row, _score_inputs(q.totals_of(row), today), avg_revenue, avg_frequency) for row in rows]
    return page_body(items, total, page, page_size)


# --- RFM ----------------------------------------------------------------------------------------

def rfm_segments(uow, ctx: RequestContext, *, segment: str | None, page: int, page_size: int, timezone: str,
                 now: dt.datetime | None = None) -> dict:
    """Each visible buyer's R/F/M values, 高/中/低 scores and segment; levels are cut among
    all the tenant's live buyers (``rfm.level_sql``), the page and the counts per segment
    come from SQL."""
    today = viewing_rules.local_today(timezone, now)
    with uow:
        rows, found, visible = q.rfm_page(uow.session, ctx.factory_id, ctx.scope, segment, page_size,
                                          _offset(page, page_size))
    counts = {name: found.get(name, 0) for name in rfm_rules.SEGMENTS}
    items = [{"customer_id": r.customer_id, "name": r.name, "recency_days": (today - r.last_order_date).days,
              "frequency": int(r.total_orders), "monetary": order_rules.round2(r.total_revenue),
              "r_score": r.r_score, "f_score": r.f_score, "m_score": r.m_score,
              "r_level": rfm_rules.LEVEL_NAMES[r.r_score], "f_level": rfm_rules.LEVEL_NAMES[r.f_score],
              "m_level": rfm_rules.LEVEL_NAMES[r.m_score], "segment": r.segment} for r in rows]
    listed = counts.get(segment, 0) if segment else sum(counts.values())
    return {"segments": counts, "customers_without_orders": visible - sum(counts.values()),
            **page_body(items, listed, page, page_size)}


# --- credit risk ---------------------------------------------------------------------------------

def credit_risk(uow, ctx: RequestContext, *, timezone: str, now: dt.datetime | None = None) -> dict:
    """Live customers per 信用风险等级, and how many are overdue (seed 001 §7.2 — the debt
    counted from the last counted order's date in analytics' own order facts, else from
    the day it began — on today's date in ``timezone``, as customer-service counts it):
    one grouped query over the kept due days (``customers.debt_due_date``)."""
    today = viewing_rules.local_today(timezone, now)
    with uow:
        found, overdue = q.credit_risk_counts(uow.session, ctx.factory_id, ctx.scope, today)
    counts = {level: found.get(level, 0) for level in customer_rules.RISK_LEVELS}
    return {"total": sum(counts.values()), "counts": counts, "overdue": overdue,
            "levels": [{"level": level, **meta, "count": counts[level]}
                       for level, meta in customer_rules.RISK_LEVELS.items()]}


# --- freshness -----------------------------------------------------------------------------------

def freshness(uow, backlog: dict | None, now: dt.datetime | None = None) -> dict:
    """Per source: the newest event applied, how long it took to apply, how old it is."""
    now = now or utcnow()
    with uow:
        sources = q.event_sources(uow.session)
    out = []
    for name in Freshness.SOURCES:
        row = sources.get(name)
        occurred = row.last_occurred_at if row else None
        applied = row.last_applied_at if row else None
        out.append({
            "producer": name,
            "last_event_id": row.last_event_id if row else None,
            "last_event_type": row.last_event_type if row else None,
            "last_occurred_at": occurred, "last_applied_at": applied,
            "apply_lag_seconds": round((applied - occurred).total_seconds(), 3) if occurred and applied else None,
            "age_seconds": round((now - occurred).total_seconds(), 3) if occurred else None,
            "events_applied": int(row.events_applied) if row else 0,
        })
    return {"sources": out, "consumer": backlog}
