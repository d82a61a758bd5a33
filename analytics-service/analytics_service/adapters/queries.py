"""Read queries over the read model and the order facts (SQLAlchemy Core, portable between
PostgreSQL and SQLite). Every query is scoped to one tenant; customer queries also to the
caller's business domains and to live (not deleted) customers."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_common.auth import DomainScope

from ..domain import customers as customer_rules
from ..domain import orders as order_rules
from ..domain import rating as rating_rules
from ..domain import rfm as rfm_rules
from ..domain.orders import OrderTotals, ProductFigure
from . import orm

C = orm.customers.c
O = orm.orders.c
I = orm.order_items.c
V = orm.viewing_records.c


def live_customers(factory_id: str, scope: DomainScope | None = None):
    """WHERE clause of the tenant's live customers visible in ``scope``."""
    clause = sa.and_(C.factory_id == factory_id, C.deleted_at.is_(None))
    if scope is not None and not scope.everything:
        clause = sa.and_(clause, C.business_domain.in_(sorted(scope.codes)))
    return clause


def customer(session: Session, factory_id: str, customer_id: int, scope: DomainScope | None):
    return session.execute(sa.select(orm.customers).where(
        live_customers(factory_id, scope), C.id == customer_id)).first()


def knows_customer(session: Session, customer_id: int) -> bool:
    """Whether the read model has this customer at all (any tenant, deleted or not)."""
    return session.execute(sa.select(C.id).where(C.id == customer_id)).first() is not None


def visible_customer_ids(session: Session, factory_id: str, ids: Iterable[int], scope: DomainScope | None) -> set[int]:
    return set(session.scalars(sa.select(C.id).where(live_customers(factory_id, scope), C.id.in_(list(ids)))))


# --- orders ----------------------------------------------------------------------------------

def _totals(row) -> OrderTotals:
    return OrderTotals(total_orders=int(row.total_orders), total_revenue=Decimal(row.total_revenue),
                       first_order_date=_as_date(row.first_order_date), last_order_date=_as_date(row.last_order_date),
                       paid_orders=int(row.paid_orders), total_payment_days=int(row.total_payment_days),
                       on_time_paid_orders=int(row.on_time_paid_orders),
                       max_late_days=None if row.max_late_days is None else int(row.max_late_days),
                       unpaid_overdue_orders=int(row.unpaid_overdue_orders),
                       oldest_overdue_due_date=_as_date(row.oldest_overdue_due_date))


def _as_date(value) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])  # SQLite aggregates of dates come back as text


def order_totals(session: Session, factory_id: str, today: dt.date,
                 customer_ids: Iterable[int] | None = None) -> dict[int, OrderTotals]:
    """Per customer, over counted (not cancelled) orders: one grouped query."""
    stmt = sa.select(O.customer_id, *order_rules.order_totals_sql(O, today)).where(O.factory_id == factory_id,
                                                                               O.counted.is_(True))
    if customer_ids is not None:
        stmt = stmt.where(O.customer_id.in_(list(customer_ids)))
    return {int(row.customer_id): _totals(row) for row in session.execute(stmt.group_by(O.customer_id))}


def products(session: Session, factory_id: str, customer_id: int) -> list[ProductFigure]:
    rows = session.execute(
        sa.select(I.product_name, sa.func.sum(I.quantity).label("quantity"), sa.func.sum(I.subtotal).label("revenue"))
        .where(I.factory_id == factory_id, I.customer_id == customer_id, I.counted.is_(True))
        .group_by(I.product_name))
    return [ProductFigure(r.product_name, Decimal(r.quantity), Decimal(r.revenue)) for r in rows]


def purchase_history(session: Session, factory_id: str, customer_id: int) -> list[dict]:
    """Every order of the customer, newest first, each with its lines."""
    orders = [dict(r._mapping) for r in session.execute(
        sa.select(O.id, O.order_id, O.order_date, O.total_amount, O.status, O.payment_status, O.due_date,
                  O.paid_date)
        .where(O.factory_id == factory_id, O.customer_id == customer_id)
        .order_by(O.order_date.desc(), O.id.desc()))]
    lines: dict[int, list[dict]] = {}
    if orders:
        for r in session.execute(sa.select(I.order_pk, I.product_name, I.quantity, I.unit_price, I.subtotal)
                                 .where(I.order_pk.in_([o["id"] for o in orders]))
                                 .order_by(I.order_pk, I.line_no)):
            lines.setdefault(r.order_pk, []).append(dict(r._mapping))
    for order in orders:
        order["products"] = lines.get(order["id"], [])
    return orders


def vip_customers(session: Session, factory_id: str, scope: DomainScope | None, limit: int) -> list:
    """5-star customers or buyers, by revenue (desc), then stars, then id, the first ``limit``.

    Walks the revenue index: the top buyers (all those tied with the last one included),
    then, only when they are fewer than ``limit``, 5-star customers without revenue."""
    T = orm.customer_order_totals.c
    cols = [C.id, C.name, C.rating, T.total_revenue, T.total_orders, T.last_order_date]
    buyers = (sa.select(*cols).select_from(orm.customer_order_totals.join(orm.customers, C.id == T.customer_id))
              .where(T.factory_id == factory_id, live_customers(factory_id, scope)))
    top = session.execute(buyers.order_by(T.total_revenue.desc()).limit(limit)).all()
    if len(top) == limit:
        floor = top[-1].total_revenue
        top = session.execute(buyers.where(T.total_revenue >= floor)).all()
    rows = [r for r in top if r.total_revenue > 0]
    if len(rows) < limit:
        no_revenue = (sa.select(C.id, C.name, C.rating, sa.literal(0).label("total_revenue"),
                                sa.func.coalesce(T.total_orders, 0).label("total_orders"), T.last_order_date)
                      .select_from(orm.customers.outerjoin(orm.customer_order_totals, sa.and_(
                          T.factory_id == C.factory_id, T.customer_id == C.id)))
                      .where(live_customers(factory_id, scope), C.rating == 5,
                             sa.or_(T.customer_id.is_(None), T.total_revenue <= 0))
                      .order_by(C.id).limit(limit))
        rows += [r for r in top if r.total_revenue <= 0 and r.rating != 5] + session.execute(no_revenue).all()
    rows.sort(key=lambda r: (-r.total_revenue, -r.rating, r.id))
    return rows[:limit]


def order_summaries(session: Session, factory_id: str, customer_ids: list[int]) -> list:
    """totalOrders, totalRevenue, first and last order date per customer (kept per customer)."""
    T = orm.customer_order_totals.c
    return session.execute(
        sa.select(T.customer_id, T.total_orders, T.total_revenue, T.first_order_date, T.last_order_date)
        .where(T.factory_id == factory_id, T.customer_id.in_(customer_ids))).all()


# --- customers -------------------------------------------------------------------------------

def summary_groups(session: Session, factory_id: str, scope: DomainScope | None) -> list:
    """The tenant's kept summary groups (``customer_summaries``) in the caller's domains."""
    S = orm.customer_summaries.c
    stmt = sa.select(orm.customer_summaries).where(S.factory_id == factory_id, S.customers > 0)
    if scope is not None and not scope.everything:
        stmt = stmt.where(S.business_domain.in_(sorted(scope.codes)))
    return session.execute(stmt).all()


def clock_counts(session: Session, factory_id: str, scope: DomainScope | None, *, since: dt.datetime,
                 today: dt.date) -> tuple[int, int]:
    """The two figures of §5.4 that move with the clock, in one round trip, each counted from
    its partial index: live customers created at or after ``since``, and live 3-5 star
    customers whose debt is overdue on ``today`` (seed 001 §7.2: their kept ``debt_due_date``
    is before today; the at-risk customers that the summary's 1-2 star counts do not already
    hold)."""
    count = lambda *where: sa.select(sa.func.count()).where(  # noqa: E731
        live_customers(factory_id, scope), *where).scalar_subquery()
    row = session.execute(sa.select(
        count(C.created_at >= since).label("new"),
        count(C.rating > 2, customer_rules.is_past_due_sql(C.debt_due_date, today)).label("overdue"))).one()
    return int(row.new), int(row.overdue)


def credit_risk_counts(session: Session, factory_id: str, scope: DomainScope | None, today: dt.date
                       ) -> tuple[dict[str, int], int]:
    """(live customers per 信用风险等级, how many are overdue on ``today``), in one grouped
    query: each row's overdue days from its kept ``debt_due_date`` (seed 001 §7.2), its
    level by ``crm_common.credit.risk_level_sql``."""
    days = customer_rules.days_past_due_sql(C.debt_due_date, today)
    level = customer_rules.risk_level_sql(C.rating, C.credit_limit, C.current_balance, days).label("level")
    overdue = customer_rules.is_past_due_sql(C.debt_due_date, today)
    rows = session.execute(sa.select(level, sa.func.count().label("n"),
                                     sa.func.sum(sa.case((overdue, 1), else_=0)).label("overdue"))
                           .where(live_customers(factory_id, scope)).group_by(level)).all()
    return {r.level: int(r.n) for r in rows}, sum(int(r.overdue or 0) for r in rows)


def customers_by_id(session: Session, factory_id: str, scope: DomainScope | None, ids=None) -> dict[int, object]:
    stmt = sa.select(C.id, C.name, C.rating, C.business_domain).where(live_customers(factory_id, scope))
    if ids is not None:
        stmt = stmt.where(C.id.in_(list(ids)))
    return {row.id: row for row in session.execute(stmt)}


# --- viewing records (seed 002 §4) -----------------------------------------------------------

def viewing_totals(session: Session, factory_id: str, start: dt.datetime | None, end: dt.datetime | None):
    stmt = sa.select(sa.func.count().label("viewing_count"),
                     sa.func.coalesce(sa.func.sum(V.commission), 0).label("total_commission")
                     ).where(V.factory_id == factory_id)
    return session.execute(stmt.where(*_period(start, end))).one()


def _period(start, end) -> list:
    clauses = []
    if start is not None:
        clauses.append(V.viewing_time >= start)
    if end is not None:
        clauses.append(V.viewing_time < end)
    return clauses


def customers_by_lead_status(session: Session, factory_id: str, statuses: tuple[int, ...],
                             start: dt.datetime | None, end: dt.datetime | None) -> dict[int, int]:
    stmt = (sa.select(C.lead_status, sa.func.count())
            .where(C.factory_id == factory_id, C.deleted_at.is_(None), C.lead_status.in_(statuses)))
    if start is not None or end is not None:
        stmt = stmt.where(sa.exists(sa.select(sa.literal(1)).where(
            V.factory_id == C.factory_id, V.customer_id == C.id, *_period(start, end))))
    return {int(k): int(v) for k, v in session.execute(stmt.group_by(C.lead_status))}


# --- freshness -------------------------------------------------------------------------------

def event_sources(session: Session) -> dict[str, object]:
    return {row.producer: row for row in session.execute(sa.select(orm.event_sources))}


# --- analyses over a tenant's buyers (seed 001 客户评级算法, 客户细分策略) ----------------------------
# The levels, scores and the order of the pages are computed in SQL from the rules' ``*_sql``
# forms (domain/rfm.py, rating.py, orders.py); tests/integration/test_analyses_sql.py runs
# them beside the Python rules over one table of inputs.

def _in_scope(column, scope: DomainScope | None):
    return sa.true() if scope is None or scope.everything else column.in_(sorted(scope.codes))


def _rfm_scored(factory_id: str, scope: DomainScope | None):
    """Every visible buyer with its R/F/M scores and segment; levels are cut among all the
    tenant's live buyers (``customer_order_totals``: counted orders only)."""
    T = orm.customer_order_totals.c
    n = sa.func.count().over()
    ranked = (sa.select(T.customer_id, T.last_order_date, T.total_orders, T.total_revenue, C.name, C.business_domain,
                        rfm_rules.level_sql(T.last_order_date, n).label("r_score"),  # later = fewer days = better
                        rfm_rules.level_sql(T.total_orders, n).label("f_score"),
                        rfm_rules.level_sql(T.total_revenue, n).label("m_score"))
              .select_from(orm.customer_order_totals.join(orm.customers, C.id == T.customer_id))
              .where(T.factory_id == factory_id, live_customers(factory_id, None))).subquery("ranked")
    r = ranked.c
    return (sa.select(r.customer_id, r.last_order_date, r.total_orders, r.total_revenue, r.name,
                      r.r_score, r.f_score, r.m_score,
                      rfm_rules.segment_sql(r.r_score, r.f_score, r.m_score).label("segment"))
            .where(_in_scope(r.business_domain, scope))).subquery("scored")


def _sort_memory(session: Session) -> None:
    """Room for the sorts of a tenant's buyers in memory (PostgreSQL's 4 MB default spills
    100,000 rows to disk), and no parallel workers (each would build the same hash of the
    tenant's order totals again on a machine with two cores), for this transaction only."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SET LOCAL work_mem = '64MB'"))
        session.execute(sa.text("SET LOCAL max_parallel_workers_per_gather = 0"))


def rfm_page(session: Session, factory_id: str, scope: DomainScope | None, segment: str | None,
             limit: int, offset: int) -> tuple[list, dict[str, int], int]:
    """(one page of visible buyers with their scores, by segment then revenue (desc) then id;
    visible buyers per segment; visible live customers), in one statement: the counts per
    segment ride on each row as window counts taken before the segment filter."""
    s = _rfm_scored(factory_id, scope).c
    counted = sa.select(s, *[sa.func.count().filter(s.segment == name).over().label(f"n{i}")
                             for i, name in enumerate(rfm_rules.SEGMENTS)]).subquery("counted")
    c = counted.c
    page = sa.select(c).order_by(rfm_rules.segment_order_sql(c.segment), c.total_revenue.desc(), c.customer_id)
    if segment:
        page = page.where(c.segment == segment)
    _sort_memory(session)
    rows = session.execute(page.limit(limit).offset(offset)).all()
    if rows:
        counts = {name: int(getattr(rows[0], f"n{i}")) for i, name in enumerate(rfm_rules.SEGMENTS)}
    else:  # past the last page: the counts alone
        counts = {r.segment: int(r.n) for r in session.execute(
            sa.select(s.segment, sa.func.count().label("n")).group_by(s.segment))}
    visible = session.scalar(sa.select(sa.func.count()).where(live_customers(factory_id, scope)))
    return rows, counts, int(visible)


def rating_averages(session: Session, factory_id: str, today: dt.date) -> tuple[int, Decimal, Decimal]:
    """(live buyers of the tenant, the sum of their revenue, the sum of their order
    frequencies): what the 客户评级算法's factory averages divide; from the kept
    ``customer_order_totals`` (counted orders, as ``order_totals``)."""
    T = orm.customer_order_totals.c
    days = order_rules.days_since_first_order_sql(T.first_order_date, today)
    row = session.execute(
        sa.select(sa.func.count().label("n"), sa.func.coalesce(sa.func.sum(T.total_revenue), 0).label("revenue"),
                  sa.func.coalesce(sa.func.sum(order_rules.order_frequency_sql(T.total_orders, days)), 0)
                  .label("frequency"))
        .select_from(orm.customer_order_totals.join(orm.customers, C.id == T.customer_id))
        .where(T.factory_id == factory_id, live_customers(factory_id, None))).one()
    return int(row.n), Decimal(row.revenue), Decimal(row.frequency)


def _payments_subquery(factory_id: str, today: dt.date):
    """Per customer, over counted orders: the three payment counts of ``order_totals_sql``
    that ``on_time_payment_rate`` reads (the rest is kept in ``customer_order_totals``)."""
    overdue = sa.and_(O.paid_date.is_(None), O.due_date < today)
    return (sa.select(O.customer_id, sa.func.count(O.paid_date).label("paid_orders"),
                      sa.func.sum(sa.case((O.late_days <= 0, 1), else_=0)).label("on_time_paid_orders"),
                      sa.func.sum(sa.case((overdue, 1), else_=0)).label("unpaid_overdue_orders"))
            .where(O.factory_id == factory_id, O.counted.is_(True)).group_by(O.customer_id).subquery("payments"))


def rating_page(session: Session, factory_id: str, scope: DomainScope | None, today: dt.date,
                avg_revenue: Decimal | None, avg_frequency: Decimal | None, limit: int, offset: int
                ) -> tuple[list, int]:
    """(one page of the visible live customers with their order totals and score, best score
    first then by id; how many are visible). Rows of customers without orders carry NULL
    totals. Revenue, order count and first order come from the kept ``customer_order_totals``;
    the payment counts (the orders fallen due move with the day) from the orders."""
    T = orm.customer_order_totals
    payments = _payments_subquery(factory_id, today)
    p = payments.c
    days = order_rules.days_since_first_order_sql(T.c.first_order_date, today)
    paid, on_time, overdue = (sa.func.coalesce(col, 0) for col in (p.paid_orders, p.on_time_paid_orders,
                                                                    p.unpaid_overdue_orders))
    score = rating_rules.rating_total_sql(
        total_revenue=T.c.total_revenue, factory_avg_revenue=avg_revenue,
        on_time_paid_orders=on_time, fallen_due_orders=paid + overdue,
        order_frequency=order_rules.order_frequency_sql(T.c.total_orders, days), factory_avg_frequency=avg_frequency,
        days_since_first_order=days).label("score")
    _sort_memory(session)
    rows = session.execute(
        sa.select(C.id, C.name, C.rating, T.c.total_orders, T.c.total_revenue, T.c.first_order_date,
                  T.c.last_order_date, paid.label("paid_orders"), on_time.label("on_time_paid_orders"),
                  overdue.label("unpaid_overdue_orders"), score)
        .select_from(orm.customers
                     .outerjoin(T, sa.and_(T.c.factory_id == C.factory_id, T.c.customer_id == C.id))
                     .outerjoin(payments, p.customer_id == C.id))
        .where(live_customers(factory_id, scope))
        .order_by(score.desc(), C.id).limit(limit).offset(offset)).all()
    # Counted apart: a count(*) OVER () on the page query would buffer every row (0.8 of 2.1 s).
    return rows, int(session.scalar(sa.select(sa.func.count()).where(live_customers(factory_id, scope))))


def totals_of(row) -> OrderTotals | None:
    """The ``OrderTotals`` a ``rating_page`` row holds, as far as the rating reads them
    (``None`` without orders)."""
    if row.total_orders is None:
        return None
    return OrderTotals(total_orders=int(row.total_orders), total_revenue=Decimal(row.total_revenue),
                       first_order_date=_as_date(row.first_order_date), last_order_date=_as_date(row.last_order_date),
                       paid_orders=int(row.paid_orders), on_time_paid_orders=int(row.on_time_paid_orders),
                       unpaid_overdue_orders=int(row.unpaid_overdue_orders))

