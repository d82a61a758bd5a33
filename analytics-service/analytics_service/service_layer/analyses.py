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


def _page(items: list, page: int, page_size: int) -> dict:
    """One offset page of a list computed in full (every customer's score is needed anyway
    for the tenant averages and the RFM cuts)."""
    start = (page - 1) * page_size
    return page_body(items[start:start + page_size], len(items), page, page_size)


# --- rating score ------------------------------------------------------------------------------

def _tenant_buyers(session, ctx: RequestContext, today: dt.date):
    """(totals of the tenant's live customers with orders, all live customers, visible ones)."""
    everyone = q.customers_by_id(session, ctx.factory_id, None)
    totals = {cid: t for cid, t in q.order_totals(session, ctx.factory_id, today).items() if cid in everyone}
    visible = everyone if ctx.scope.everything else q.customers_by_id(session, ctx.factory_id, ctx.scope)
    return totals, everyone, visible


def _score_inputs(t: order_rules.OrderTotals | None, today: dt.date) -> dict:
    t = t or order_rules.OrderTotals()
    days = order_rules.days_since_first_order(t.first_order_date, today)
    return {"total_revenue": t.total_revenue, "on_time_payment_rate": order_rules.on_time_payment_rate(t),
            "order_frequency": order_rules.order_frequency(t.total_orders, days), "days_since_first_order": days}


def _factory_averages(totals: dict, today: dt.date) -> tuple[Decimal | None, Decimal | None]:
    if not totals:
        return None, None
    inputs = [_score_inputs(t, today) for t in totals.values()]
    n = len(inputs)
    return (sum((i["total_revenue"] for i in inputs), Decimal(0)) / n,
            sum((i["order_frequency"] for i in inputs), Decimal(0)) / n)


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
        totals, _everyone, visible = _tenant_buyers(uow.session, ctx, today)
    # A customer the read model does not know yet (created a moment ago) is asked of its owner.
    customer = visible.get(customer_id) or visible_customer(uow, owner, ctx, customer_id)
    avg_revenue, avg_frequency = _factory_averages(totals, today)
    return _score(customer, _score_inputs(totals.get(customer_id), today), avg_revenue, avg_frequency)


def rating_scores(uow, ctx: RequestContext, *, page: int, page_size: int, timezone: str,
                  now: dt.datetime | None = None) -> dict:
    """Every visible live customer's score, best first."""
    today = viewing_rules.local_today(timezone, now)
    with uow:
        totals, _everyone, visible = _tenant_buyers(uow.session, ctx, today)
    avg_revenue, avg_frequency = _factory_averages(totals, today)
    scored = [_score(c, _score_inputs(totals.get(cid), today), avg_revenue, avg_frequency) for cid, c in visible.items()]
    scored.sort(key=lambda s: (-s["total"], s["customer_id"]))
    return _page(scored, page, page_size)


# --- RFM ----------------------------------------------------------------------------------------

def rfm_segments(uow, ctx: RequestContext, *, segment: str | None, page: int, page_size: int, timezone: str,
                 now: dt.datetime | None = None) -> dict:
    """Each visible buyer's R/F/M values, 高/中/低 scores and segment; levels are cut among
    all the tenant's live buyers."""
    today = viewing_rules.local_today(timezone, now)
    with uow:
        totals, _everyone, visible = _tenant_buyers(uow.session, ctx, today)
    rows = [rfm_rules.RfmInput(cid, (today - t.last_order_date).days, t.total_orders, t.total_revenue)
            for cid, t in sorted(totals.items())]
    results = [r for r in rfm_rules.segment_customers(rows) if r.customer_id in visible]
    counts = rfm_rules.segment_counts(results)
    if segment:
        results = [r for r in results if r.segment == segment]
    items = [{"customer_id": r.customer_id, "name": visible[r.customer_id].name, "recency_days": r.recency_days,
              "frequency": r.frequency, "monetary": order_rules.round2(r.monetary),
              "r_score": r.r_score, "f_score": r.f_score, "m_score": r.m_score,
              "r_level": rfm_rules.LEVEL_NAMES[r.r_score], "f_level": rfm_rules.LEVEL_NAMES[r.f_score],
              "m_level": rfm_rules.LEVEL_NAMES[r.m_score], "segment": r.segment} for r in results]
    items.sort(key=lambda i: (rfm_rules.SEGMENTS.index(i["segment"]), -i["monetary"], i["customer_id"]))
    return {"segments": counts, "customers_without_orders": sum(1 for cid in visible if cid not in totals),
            **_page(items, page, page_size)}


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
