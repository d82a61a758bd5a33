"""Each formula once, its SQL form beside it: both run over one table of inputs on
PostgreSQL and must agree — the per-customer order totals (revenue, dates, payment
behaviour), a customer's utilisation and 风险客户, and the tenant summaries the consumer
keeps (incrementally, event by event) against the same sums recomputed from the customers."""
from __future__ import annotations

import datetime as dt
import random
import uuid
from decimal import Decimal as D

import sqlalchemy as sa

from analytics_service.adapters import orm
from analytics_service.adapters import queries as q
from analytics_service.domain import customers as customer_rules
from analytics_service.domain import orders as order_rules

from .conftest import customer_event, new_customer_id

TODAY = dt.date(2026, 11, 21)
NOW = dt.datetime(2026, 11, 21, 8, 0, tzinfo=dt.timezone.utc)

# status, credit_limit, current_balance, rating, debt_due_date (days from TODAY, None: no debt)
CUSTOMERS = [
    ("active", D(0), D(0), 3, None),
    ("active", D(100000), D("-15000"), 5, 10),
    ("inactive", D(3), D("-1"), 1, -1),             # utilisation 1/3: rounding of a repeating fraction
    ("frozen", D("7.77"), D("-7.77"), 4, -45),
    ("active", D("0.01"), D("-123456789.99"), 2, None),
    ("potential", D(50000), D(500), 4, None),       # a positive balance: nothing owed
    ("active", D(2), D("-0.01"), 3, 0),             # due today: not yet overdue
]


def test_utilisation_and_at_risk_agree_with_their_sql_forms(customers, engine, unit_of_work, factory):
    ids = []
    for status, limit, balance, rating, due in CUSTOMERS:
        cid = customers.add(factory, status=status, credit_limit=limit, current_balance=balance, rating=rating)
        due_date = None if due is None else TODAY + dt.timedelta(days=due)
        with engine.begin() as conn:
            conn.execute(sa.update(orm.customers).where(orm.customers.c.id == cid).values(debt_due_date=due_date))
        ids.append(cid)
    C = orm.customers.c
    with engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(sa.select(
            C.id, customer_rules.utilization_fraction_sql(C.credit_limit, C.current_balance).label("utilization"),
            customer_rules.is_past_due_sql(C.debt_due_date, TODAY).label("overdue")).where(C.id.in_(ids)))}
    at_risk, levels, overdue_count = 0, {}, 0
    for cid, (status, limit, balance, rating, due) in zip(ids, CUSTOMERS):
        due_date = None if due is None else TODAY + dt.timedelta(days=due)
        days = customer_rules.days_past_due(due_date, TODAY)
        assert rows[cid].utilization == customer_rules.utilization_fraction(limit, balance), (limit, balance)
        assert rows[cid].overdue == (days > 0)
        at_risk += customer_rules.is_at_risk(rating, days > 0)
        overdue_count += days > 0
        level = customer_rules.risk_level(rating, limit, balance, days)
        levels[level] = levels.get(level, 0) + 1
    # 风险客户 counted without a scan (the summary's 1-2 stars + the index's overdue 3-5 stars).
    uow = unit_of_work()
    with uow:
        groups = q.summary_groups(uow.session, factory, None)
        _new, overdue = q.clock_counts(uow.session, factory, None, since=NOW, today=TODAY)
        # 信用风险等级 in one grouped query: the same levels as the rule row by row.
        assert q.credit_risk_counts(uow.session, factory, None, TODAY) == (levels, overdue_count)
    low = sum(g.customers for g in groups if g.rating <= 2)
    assert customer_rules.at_risk_count(low, overdue) == at_risk == 3
    assert levels == {"NORMAL": 3, "EXCELLENT": 1, "RISK": 1, "HIGH_RISK": 2} and overdue_count == 2


ORDERS = [  # status, days before TODAY ordered, days to pay (None: unpaid), due after (days), amount
    ("COMPLETED", 90, 40, 30, D("700.00")), ("COMPLETED", 30, 10, 20, D("200.00")),
    ("SHIPPED", 45, None, 30, D("60.00")), ("CANCELLED", 5, None, 30, D("999.00")),
    ("PENDING", 1, None, 30, D("0.01")), ("COMPLETED", 400, 0, 0, D("123456.78")),
    ("CONFIRMED", 31, None, 30, D("5.55")),
]


def test_order_totals_agree_with_their_sql_form(customers, factory, unit_of_work, api_for):
    cid = customers.add(factory)
    orders = []
    for n, (status, ago, pay, due, amount) in enumerate(ORDERS):
        day = TODAY - dt.timedelta(days=ago)
        orders.append(order_rules.build_order(
            order_id=f"F-{n}", customer_id=cid, order_date=day, status=status,
            payment_status="PAID" if pay is not None else "UNPAID", total_amount=amount,
            due_date=day + dt.timedelta(days=due), paid_date=None if pay is None else day + dt.timedelta(days=pay),
            items=[]))
    uow = unit_of_work()
    with uow:
        uow.orders.save(factory, [(o, 1) for o in orders], source="test", now=NOW)
        uow.commit()
    with uow:
        in_sql = q.order_totals(uow.session, factory, TODAY, [cid])[cid]
    assert in_sql == order_rules.order_totals(orders, TODAY)
    assert in_sql.total_orders == 6 and in_sql.unpaid_overdue_orders == 2  # SHIPPED 45 d and CONFIRMED 31 d


def _kept(engine, factory) -> dict:
    s = orm.customer_summaries
    with engine.connect() as conn:
        return {tuple(r[:5]): tuple(r[5:]) for r in conn.execute(
            sa.select(s).where(s.c.factory_id == factory, s.c.customers > 0).order_by(*s.primary_key.columns))}


def customer_history(factory: str, seed: int, ids: list[int], steps: int = 120) -> list[dict]:
    """Random changes of a few customers (rating, status, type, industry, domain, credit,
    deletions), versioned per customer."""
    rnd = random.Random(seed)
    versions = {cid: 0 for cid in ids}
    events = []
    for step in range(steps):
        cid = rnd.choice(ids)
        versions[cid] += 1
        limit = rnd.choice((D(0), D(3), D(1000), D("99.99")))
        events.append(customer_event(
            factory, cid, versions[cid], rating=rnd.randint(1, 5), status=rnd.choice(("active", "inactive", "frozen")),
            type=rnd.choice(("company", "dealer", None)), industry_type=rnd.choice(("餐饮", "零售", None)),
            business_domain=rnd.choice(("D1", "D2")), credit_limit=limit,
            current_balance=-rnd.choice((D(0), D(1), D("0.07"), D(2000))),
            deleted_at=NOW.isoformat() if step % 17 == 16 else None))
    return events


def shuffled_twice(events: list[dict], seed: int) -> list[dict]:
    """Out of order and twice: only the newest version of each customer may count, once."""
    replay = events + list(reversed(events))
    random.Random(seed).shuffle(replay)
    return replay


def test_the_summaries_kept_event_by_event_equal_the_sums_recomputed_from_the_customers(
        consumer, engine, unit_of_work, factory):
    events = customer_history(factory, 19, [new_customer_id() for _ in range(12)])
    for event in shuffled_twice(events, 19):
        consumer.apply(event)
    kept = _kept(engine, factory)
    uow = unit_of_work()
    with uow:
        uow.read_model.recompute_summaries([factory])
        uow.commit()
    assert kept and kept == _kept(engine, factory)
    # And both are the Python sums of the newest state of each customer.
    newest = {}
    for event in events:
        newest[int(event["aggregate_id"])] = event
    expected: dict = {}
    for event in newest.values():
        data = event["data"]
        if data["deleted_at"]:
            continue
        key = customer_rules.SummaryKey(factory, data["business_domain"], data["type"] or "",
                                        data["industry_type"] or "", data["rating"])
        expected[key] = expected.get(key, customer_rules.CustomerFigures()) + customer_rules.CustomerFigures.of(
            data["status"], D(str(data["credit_limit"])), D(str(data["current_balance"])))
    assert kept == {(k.factory_id, k.business_domain, k.type, k.industry_type, k.rating):
                    (f.customers, f.active, f.with_outstanding, f.with_credit_limit, f.credit_limit, f.current_balance,
                     f.available_credit, f.utilization_sum) for k, f in expected.items()}


def test_set_based_batches_give_exactly_what_one_event_at_a_time_gives(consumer, batch_consumer, engine):
    one_by_one, batched = "FONE" + uuid.uuid4().hex[:6], "FMANY" + uuid.uuid4().hex[:6]
    ids, twins = [new_customer_id() for _ in range(15)], [new_customer_id() for _ in range(15)]
    for event in shuffled_twice(customer_history(one_by_one, 23, ids), 23):
        consumer.apply(event)
    replay = shuffled_twice(customer_history(batched, 23, twins), 23)
    outcomes = []
    for start in range(0, len(replay), 50):
        outcomes += batch_consumer.apply_batch(replay[start:start + 50])
    assert outcomes.count("applied") >= len(ids) and "duplicate" in outcomes and "stale" in outcomes
    without_tenant = lambda kept: {key[1:]: value for key, value in kept.items()}  # noqa: E731
    assert without_tenant(_kept(engine, one_by_one)) == without_tenant(_kept(engine, batched))
    C = orm.customers.c
    columns = [C.rating, C.status, C.type, C.industry_type, C.business_domain, C.credit_limit, C.current_balance,
               C.deleted_at, C.version]
    with engine.connect() as conn:
        rows = lambda f, name: {name.get(r[0], r[0]): tuple(r[1:]) for r in conn.execute(  # noqa: E731
            sa.select(C.id, *columns).where(C.factory_id == f))}
        assert rows(one_by_one, {}) == rows(batched, dict(zip(twins, ids)))
