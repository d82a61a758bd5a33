"""The rebuild replaces the read model from the owners' snapshots, keeps what the consumer
applied meanwhile, and makes older in-flight events stale."""
from __future__ import annotations

import sqlalchemy as sa

from analytics_service.adapters import orm
from analytics_service.bootstrap import CONSUMER
from analytics_service.service_layer import rebuild as rebuilding

from .conftest import customer_event, new_customer_id, viewing_event


def _snapshot(*rows):
    return lambda: iter([list(rows)])


def test_rebuild_replaces_rows_removes_strays_keeps_newer_and_orders(consumer, customers, engine, unit_of_work, factory,
                                                                      api_for):
    kept, fixed, stray, fresh = (new_customer_id() for _ in range(4))
    for cid in (kept, fixed, stray):
        customers.add(factory, cid, rating=3)
    consumer.apply(customer_event(factory, kept, 5, rating=5))     # the consumer is ahead of the snapshot
    with engine.begin() as conn:                                     # a projection bug to repair
        conn.execute(sa.update(orm.customers).where(orm.customers.c.id == fixed).values(rating=1))
    record = f"{factory}-rec"
    consumer.apply(viewing_event(factory, record, 1, commission=10))
    api_for(roles=["finance_admin"], factories=[factory]).post("/api/v1/analytics/orders", json={"orders": [
        {"order_id": "K-1", "customer_id": str(fixed), "order_date": "2026-01-02",
         "items": [{"product_name": "p", "quantity": 1, "unit_price": 7}]}]})

    customers = _snapshot(
        customer_event(factory, kept, 4, rating=4)["data"],
        customer_event(factory, fixed, 1, rating=3)["data"],
        customer_event(factory, fresh, 2, rating=2)["data"])
    viewings = _snapshot(viewing_event(factory, record, 3, commission=30)["data"])
    chosen = list(rebuilding.sources(customers, viewings).values())
    report = rebuilding.rebuild(unit_of_work(), chosen, consumer=CONSUMER)
    assert report["customers"]["kept_newer"] == 1 and report["viewing-records"]["written"] == 1
    assert report["customers"]["removed"] >= 1

    with engine.connect() as conn:
        ratings = dict(conn.execute(sa.select(orm.customers.c.id, orm.customers.c.rating)
                                    .where(orm.customers.c.factory_id == factory)).all())
        commission = conn.execute(sa.select(orm.viewing_records.c.commission)
                                  .where(orm.viewing_records.c.id == record)).scalar()
        versions = dict(conn.execute(sa.select(orm.applied_versions.c.aggregate_id, orm.applied_versions.c.version)
                                     .where(orm.applied_versions.c.aggregate_id.in_([str(fresh), str(fixed)]))).all())
        orders = conn.execute(sa.select(sa.func.count()).select_from(orm.orders)
                              .where(orm.orders.c.factory_id == factory)).scalar()
    assert ratings == {kept: 5, fixed: 3, fresh: 2}           # stray gone, bug repaired, newer kept
    assert commission == 30 and orders == 1
    assert versions == {str(fresh): 2, str(fixed): 1}
    # An event older than the rebuilt version, still in flight, changes nothing.
    assert consumer.apply(customer_event(factory, fresh, 1, rating=5)) == "stale"
    assert consumer.apply(customer_event(factory, fresh, 3, rating=1)) == "applied"
