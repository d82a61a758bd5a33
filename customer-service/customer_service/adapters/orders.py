"""Order facts (the latest state of each order an order event named) and each customer's
order summary (``domain.orders``)."""
from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_common.db import upsert

from ..domain.model import OrderSummary
from ..domain.orders import OrderFact
from . import orm

f = orm.order_facts.c


class OrderRepository:
    def __init__(self, session: Session):
        self.session = session

    def customer_of(self, factory_id: str, order_id: str) -> int | None:
        """The customer an order was recorded for so far (``None``: a new order)."""
        return self.session.scalar(sa.select(f.customer_id).where(f.factory_id == factory_id, f.order_id == order_id))

    def save(self, factory_id: str, fact: OrderFact, version: int, now) -> None:
        values = {"customer_id": fact.customer_id, "status": fact.status, "order_date": fact.order_date,
                  "total_amount": Decimal(fact.total_amount), "version": version, "updated_at": now}
        upsert(self.session, orm.order_facts, {"factory_id": factory_id, "order_id": fact.order_id, **values},
               index_elements=[f.factory_id, f.order_id], set_=values)

    def facts_of(self, customer_id: int) -> list[OrderFact]:
        rows = self.session.execute(sa.select(f.order_id, f.customer_id, f.status, f.order_date, f.total_amount)
                                    .where(f.customer_id == customer_id))
        return [OrderFact(*row) for row in rows]

    def save_summary(self, summary: OrderSummary, now) -> None:
        s = orm.customer_orders.c
        values = {"factory_id": summary.factory_id, "open_orders": summary.open_orders,
                  "total_orders": summary.total_orders, "total_revenue": summary.total_revenue,
                  "first_order_date": summary.first_order_date, "last_order_date": summary.last_order_date,
                  "updated_at": now}
        upsert(self.session, orm.customer_orders, {"customer_id": summary.customer_id, **values},
               index_elements=[s.customer_id], set_=values)
