"""The consumer's batches and order writes take their locks in one order: per-customer order
lock first, customer row after. A batch holding a customer's row while it waits for that
customer's order lock (its customer event applied before an ERP's order event) deadlocked with
an order write holding the order lock and waiting for the row."""
from __future__ import annotations

import datetime as dt
import threading

import sqlalchemy as sa
from sqlalchemy.orm import Session

from analytics_service.adapters import orm
from analytics_service.adapters.repositories import Orders
from crm_common.events import make_event
from crm_testing import wait_for

from .conftest import customer_event, new_customer_id


def _erp_order(factory: str, customer_id: int) -> dict:
    return make_event(event_type="order.recorded", producer="erp", aggregate_type="order",
                      aggregate_id=f"erp-{factory}-lock", aggregate_version=1, factory_id=factory,
                      data={"order_id": "ERP-LOCK", "factory_id": factory, "customer_id": str(customer_id),
                            "order_date": (dt.date.today() - dt.timedelta(days=2)).isoformat(),
                            "status": "COMPLETED", "payment_status": "UNPAID",
                            "items": [{"product_name": "p", "quantity": 1, "unit_price": 120}]})


def _waiting_advisory_locks(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")).scalar()


def test_a_batch_with_a_customer_and_its_erp_order_never_deadlocks_with_an_order_write(
        engine, consumer, batch_consumer, customers, factory):
    cid = new_customer_id()
    customers.add(factory, cid)
    outcome: list = []

    with Session(engine) as order_write:   # an order write between its two steps
        order_write.execute(sa.text("SET LOCAL lock_timeout = '10s'"))
        Orders(order_write).lock_customers(factory, [cid])     # 1. the customer's order lock

        def batch():
            try:
                outcome.extend(batch_consumer.apply_batch([customer_event(factory, cid, 2, rating=4),
                                                           _erp_order(factory, cid)]))
            except Exception as exc:  # noqa: BLE001 - reported below
                outcome.append(exc)

        worker = threading.Thread(target=batch, daemon=True)
        worker.start()
        assert wait_for(lambda: _waiting_advisory_locks(engine) > 0 or outcome, timeout=30), "the batch never waited"
        # 2. the customer's row: free, because the batch waits before it locks any row
        c = orm.customers.c
        locked = order_write.execute(sa.select(c.id).where(c.id == cid).with_for_update()).scalar()
        assert locked == cid
        order_write.commit()
    worker.join(30)
    assert not worker.is_alive()
    assert outcome == ["applied", "applied"], outcome
    with engine.connect() as conn:
        row = conn.execute(sa.select(c.rating).where(c.id == cid)).one()
        totals = conn.execute(sa.text("SELECT count(*) FROM orders WHERE factory_id = :f AND order_id = 'ERP-LOCK'"),
                              {"f": factory}).scalar()
    assert (row.rating, totals) == (4, 1)
