"""The rating scores and RFM segments computed in SQL (rating.rating_total_sql, rfm.level_sql,
segment_sql; queries.rating_page, rfm_page) against the Python rules (rating.rating_score,
rfm.segment_customers) over one tenant built from a table of inputs with ties: equal last
order dates, order counts and revenues, a customer exactly at the average, repeating
fractions, a buyer only of cancelled orders, a deleted buyer, and a buyer in another
business domain (levels are cut among all live buyers, lists show the caller's domains)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from analytics_service.adapters import queries as q
from analytics_service.domain import orders as order_rules
from analytics_service.domain import rating as rating_rules
from analytics_service.domain import rfm as rfm_rules
from analytics_service.service_layer import analyses
from crm_common.auth import DomainScope, Principal
from crm_common.context import RequestContext

from .conftest import customer_event, new_customer_id

TZ = "Asia/Shanghai"
NOW = dt.datetime(2026, 11, 21, 4, 0, tzinfo=dt.timezone.utc)
TODAY = dt.date(2026, 11, 21)

# Per customer: (business domain, deleted, orders); an order is
# (days before TODAY, amount, days to pay (None: unpaid), due after (days), status).
PAID, LATE = 10, 45
TENANT = [
    ("D1", False, [(400, D("3000.00"), PAID, 30, "COMPLETED"), (100, D("3000.00"), LATE, 30, "COMPLETED"),
                   (3, D("3000.00"), None, 30, "COMPLETED")]),
    ("D1", False, [(60, D("600.00"), PAID, 30, "COMPLETED"), (20, D("600.00"), None, 30, "COMPLETED")]),
    ("D1", False, [(60, D("600.00"), LATE, 30, "COMPLETED"), (20, D("600.00"), None, 30, "SHIPPED")]),  # ties
    ("D1", False, [(200, D("100.00"), LATE, 30, "COMPLETED")]),
    ("D2", False, [(200, D("100.00"), PAID, 30, "COMPLETED")]),                      # tie, other domain
    ("D1", False, [(10, D("0.01"), None, 30, "PENDING")]),                           # under 30 days
    ("D1", False, [(90, D("1000.00"), PAID, 30, "COMPLETED"), (91, D("1000.00"), LATE, 30, "COMPLETED"),
                   (92, D("1000.00"), PAID, 30, "COMPLETED")]),                      # 1/3 late
    ("D1", False, [(5, D("999.00"), None, 30, "CANCELLED")]),                        # no counted order
    ("D1", False, []),                                                               # no order at all
    ("D1", True, [(1, D("50000.00"), PAID, 30, "COMPLETED")]),                       # deleted buyer
    ("D2", False, [(2000, D("1234.56"), PAID, 0, "COMPLETED"), (730, D("1234.56"), 0, 0, "COMPLETED")]),
    ("D1", False, [(365, D("1290.31"), PAID, 30, "COMPLETED")]),
    ("D1", False, [(1500, D("5.00"), PAID, 30, "COMPLETED")]),                       # 流失预警
    ("D1", False, [(900, D("5000.00"), PAID, 30, "COMPLETED"), (800, D("5000.00"), PAID, 30, "COMPLETED"),
                   (700, D("5000.00"), LATE, 30, "COMPLETED"), (600, D("5000.00"), PAID, 30, "COMPLETED")]),
    ("D1", False, [(2, D("20000.00"), None, 30, "CONFIRMED")]),                      # 重要发展
]


def _context(factory: str, domains: tuple[str, ...] | None) -> RequestContext:
    scope = DomainScope(True, frozenset()) if domains is None else DomainScope(False, frozenset(domains))
    return RequestContext(principal=Principal(sub="t"), factory_id=factory, scope=scope, trace_id=None)


@pytest.fixture
def tenant(customers, consumer, factory, unit_of_work):
    ids, orders, n = [], [], 0
    for domain, deleted, rows in TENANT:
        cid = customers.add(factory, new_customer_id(), business_domain=domain, rating=3)
        if deleted:
            consumer.apply(customer_event(factory, cid, 2, business_domain=domain, deleted_at=NOW.isoformat()))
        ids.append(cid)
        for ago, amount, pay, due, status in rows:
            day = TODAY - dt.timedelta(days=ago)
            paid = None if pay is None else min(day + dt.timedelta(days=pay), TODAY)
            n += 1
            orders.append(order_rules.build_order(
                order_id=f"A-{n}", customer_id=cid, order_date=day, status=status,
                payment_status="PAID" if paid else "UNPAID", total_amount=amount,
                due_date=day + dt.timedelta(days=due), paid_date=paid, items=[]))
    uow = unit_of_work()
    with uow:
        uow.orders.save(factory, [(o, 1) for o in orders], source="test", now=NOW)
        uow.orders.refresh_totals(factory, ids)
        uow.commit()
    return ids


def _reference(uow, factory: str, domains):
    """What the rules say, customer by customer, in Python."""
    ctx = _context(factory, domains)
    with uow:
        everyone = q.customers_by_id(uow.session, factory, None)
        visible = q.customers_by_id(uow.session, factory, ctx.scope)
        totals = {cid: t for cid, t in q.order_totals(uow.session, factory, TODAY).items() if cid in everyone}
    inputs = {cid: analyses._score_inputs(t, TODAY) for cid, t in totals.items()}
    avg_revenue = sum((i["total_revenue"] for i in inputs.values()), D(0)) / len(inputs)
    avg_frequency = sum((i["order_frequency"] for i in inputs.values()), D(0)) / len(inputs)
    scores = [analyses._score(c, analyses._score_inputs(totals.get(cid), TODAY), avg_revenue, avg_frequency)
              for cid, c in visible.items()]
    scores.sort(key=lambda s: (-s["total"], s["customer_id"]))
    rows = [rfm_rules.RfmInput(cid, (TODAY - t.last_order_date).days, t.total_orders, t.total_revenue)
            for cid, t in sorted(totals.items())]
    results = [r for r in rfm_rules.segment_customers(rows) if r.customer_id in visible]
    results.sort(key=lambda r: (rfm_rules.SEGMENTS.index(r.segment), -r.monetary, r.customer_id))
    return scores, results, rfm_rules.segment_counts(results), len(visible) - len(results), (avg_revenue,
                                                                                               avg_frequency)


@pytest.mark.parametrize("domains", [None, ("D1",)])
def test_rating_scores_in_sql_equal_the_rule(tenant, factory, unit_of_work, domains):
    scores, _results, _counts, _without, averages = _reference(unit_of_work(), factory, domains)
    ctx = _context(factory, domains)
    listed = analyses.rating_scores(unit_of_work(), ctx, page=1, page_size=100, timezone=TZ, now=NOW)
    assert listed["items"] == scores and listed["total"] == len(scores)
    assert any(s["total"] == t["total"] for s in scores for t in scores if s is not t)  # a tie, broken by id
    uow = unit_of_work()
    with uow:  # the SQL total of every row is the rule's total, to the cent
        rows, _n = q.rating_page(uow.session, factory, ctx.scope, TODAY, *averages, 100, 0)
        for row in rows:
            inputs = analyses._score_inputs(q.totals_of(row), TODAY)
            expected = rating_rules.rating_score(
                total_revenue=inputs["total_revenue"], factory_avg_revenue=averages[0],
                on_time_payment_rate=inputs["on_time_payment_rate"], order_frequency=inputs["order_frequency"],
                factory_avg_frequency=averages[1], days_since_first_order=inputs["days_since_first_order"])
            assert row.score == expected.total, row
    for page in (1, 2, 3, 4):
        got = analyses.rating_scores(unit_of_work(), ctx, page=page, page_size=3, timezone=TZ, now=NOW)
        assert got["items"] == scores[(page - 1) * 3:page * 3] and got["total"] == len(scores)
    one = scores[1]
    assert analyses.rating_score(unit_of_work(), None, ctx, one["customer_id"], timezone=TZ, now=NOW) == one


@pytest.mark.parametrize("domains", [None, ("D1",)])
def test_rfm_segments_in_sql_equal_the_rule(tenant, factory, unit_of_work, domains):
    _scores, results, counts, without, _averages = _reference(unit_of_work(), factory, domains)
    ctx = _context(factory, domains)
    got = analyses.rfm_segments(unit_of_work(), ctx, segment=None, page=1, page_size=100, timezone=TZ, now=NOW)
    assert got["segments"] == counts and got["customers_without_orders"] == without == 2
    assert [(i["customer_id"], i["recency_days"], i["frequency"], i["monetary"], i["r_score"], i["f_score"],
             i["m_score"], i["segment"]) for i in got["items"]] == [
        (r.customer_id, r.recency_days, r.frequency, r.monetary, r.r_score, r.f_score, r.m_score, r.segment)
        for r in results]
    assert got["total"] == len(results) and len({r.segment for r in results}) >= 4
    for page in (1, 2, 3):
        paged = analyses.rfm_segments(unit_of_work(), ctx, segment=None, page=page, page_size=4, timezone=TZ,
                                      now=NOW)
        assert [i["customer_id"] for i in paged["items"]] == [r.customer_id for r in results[(page - 1) * 4:page * 4]]
    for name in rfm_rules.SEGMENTS:
        only = analyses.rfm_segments(unit_of_work(), ctx, segment=name, page=1, page_size=100, timezone=TZ, now=NOW)
        assert [i["customer_id"] for i in only["items"]] == [r.customer_id for r in results if r.segment == name]
        assert only["total"] == counts[name]


LEVEL_TABLES = [
    [5], [7, 7, 7, 7], [10, 20, 30], [1, 2, 3, 4, 5, 6], [1, 1, 2, 2, 3, 3], [1, 1, 1, 2], [3, 1, 2, 2, 2, 9, 9],
    [0, 0, 0, 0, 0, 0, 1, 1, 1], list(range(1, 31)) + [15] * 7, [4, 4, 8, 8, 8, 8, 12, 12, 12],
]


@pytest.mark.parametrize("values", LEVEL_TABLES)
@pytest.mark.parametrize("higher_is_better", [True, False])
def test_level_sql_cuts_as_the_rule(engine, values, higher_is_better):
    table = sa.values(sa.column("i", sa.Integer), sa.column("v", sa.Integer), name="t").data(list(enumerate(values)))
    level = rfm_rules.level_sql(table.c.v, sa.func.count().over(), higher_is_better).label("level")
    with engine.connect() as conn:
        got = dict(conn.execute(sa.select(table.c.i, level)).all())
    assert [got[i] for i in range(len(values))] == rfm_rules.levels(values, higher_is_better)
