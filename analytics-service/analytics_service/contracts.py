"""The events analytics-service publishes (CONTRACT §5 envelope; ``data`` declared here).

Every change of an order is an event of aggregate ``order`` (``aggregate_id`` = analytics'
row id of the order, ``aggregate_version`` = the order's version, 1 at recording and +1
per change):

- ``order.recorded``: a new order (version 1);
- ``order.updated``: every later change — its status above all, its payment, or its facts
  while it is open; ``changed_fields`` names what changed, ``data.previous_status`` the
  status before.

Both carry the whole order in ``data``. ``open`` is true until the order is COMPLETED or
CANCELLED (customer-service refuses to delete a customer with an open order). The JSON
Schemas of these contracts are committed in ``analytics-service/contracts/events/`` (a test
keeps them in step)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import marshmallow as ma
from marshmallow import fields as f

from crm_common.contracts import EventCatalog, EventContract
from crm_common.events import make_event

from .domain import orders as order_rules

PRODUCER = "analytics-service"


class OrderLineData(ma.Schema):
    product_name = f.String(required=True)
    quantity = f.Decimal(required=True, as_string=False)
    unit_price = f.Decimal(required=True, as_string=False)
    subtotal = f.Decimal(required=True, as_string=False, metadata={"description": "quantity × unit_price, rounded"})


class OperatorData(ma.Schema):
    sub = f.String(required=True)
    name = f.String(required=True, allow_none=True)


class OverrideData(ma.Schema):
    rules = f.List(f.String(validate=ma.validate.OneOf(("CUSTOMER_OVERDUE", "CUSTOMER_HIGH_RISK"))), required=True,
                   metadata={"description": "the overridable refusals the order was recorded past"})
    reason = f.String(required=True)
    operator = f.Nested(OperatorData, required=True)
    at = f.String(required=True, metadata={"format": "date-time"})


class OrderEventData(ma.Schema):
    order_id = f.String(required=True, metadata={"description": "the caller's order number, unique per tenant"})
    factory_id = f.String(required=True)
    customer_id = f.String(required=True, metadata={"description": "customer-service's customer id"})
    order_date = f.Date(required=True)
    status = f.String(required=True, validate=ma.validate.OneOf(order_rules.ORDER_STATUSES))
    open = f.Boolean(required=True, metadata={"description": "true until COMPLETED or CANCELLED"})
    previous_status = f.String(required=True, allow_none=True,
                               validate=ma.validate.OneOf(order_rules.ORDER_STATUSES),
                               metadata={"description": "order.updated: the status before this change; "
                                                        "order.recorded: null"})
    payment_status = f.String(required=True, validate=ma.validate.OneOf(order_rules.PAYMENT_STATUSES))
    total_amount = f.Decimal(required=True, as_string=False)
    due_date = f.Date(required=True)
    paid_date = f.Date(required=True, allow_none=True)
    items = f.List(f.Nested(OrderLineData), required=True)
    override = f.Nested(OverrideData, required=True, allow_none=True,
                        metadata={"description": "set when the order was recorded past overridable refusals"})
    version = f.Integer(required=True, metadata={"description": "= aggregate_version"})


def order_event_data(factory_id: str, order: order_rules.Order, version: int,
                     previous_status: str | None = None) -> dict:
    """The ``data`` of ``order.recorded`` / ``order.updated``: the whole order."""
    override = order.override
    return {
        "order_id": order.order_id, "factory_id": factory_id, "customer_id": str(order.customer_id),
        "order_date": order.order_date, "status": order.status, "open": order.open,
        "previous_status": previous_status, "payment_status": order.payment_status,
        "total_amount": order.total_amount, "due_date": order.due_date, "paid_date": order.paid_date,
        "items": [{"product_name": line.product_name, "quantity": line.quantity, "unit_price": line.unit_price,
                   "subtotal": line.subtotal} for line in order.items],
        "override": None if override is None else {
            "rules": list(override.rules), "reason": override.reason,
            "operator": {"sub": override.operator_id, "name": override.operator_name},
            "at": override.at},
        "version": version,
    }


def _example(event_type: str, previous_status: str | None, status: str, version: int) -> dict:
    """A whole message, fixed (the committed schema files must not change run to run)."""
    order = order_rules.Order(
        order_id="ORDER-001", customer_id=123, order_date=dt.date(2026, 11, 18), total_amount=Decimal(25000),
        status=status, payment_status="UNPAID", due_date=dt.date(2026, 12, 18), paid_date=None,
        items=(order_rules.OrderLine("冻品猪肉", Decimal(200), Decimal(100), Decimal(20000)),
               order_rules.OrderLine("冻品牛肉", Decimal(50), Decimal(100), Decimal(5000))))
    return make_event(event_type=event_type, producer=PRODUCER, aggregate_type="order", aggregate_id=42,
                      aggregate_version=version, factory_id="F001", trace_id="7f3c9a0e2b5d4c1f",
                      actor={"sub": "u-1", "name": "张财务"}, changed_fields=["status"] if previous_status else [],
                      data=order_event_data("F001", order, version, previous_status),
                      occurred_at=dt.datetime(2026, 11, 18, 8, 0, tzinfo=dt.timezone.utc),
                      event_id=f"00000000-0000-4000-8000-00000000000{version}")


CATALOG = EventCatalog(PRODUCER, [
    EventContract("order.recorded", 1, OrderEventData,
                  "A new order was recorded (version 1), with every fact of it.",
                  example=_example("order.recorded", None, order_rules.PENDING, 1)),
    EventContract("order.updated", 1, OrderEventData,
                  "A recorded order changed (its status, its payment, or its facts while open); "
                  "changed_fields names what changed.",
                  example=_example("order.updated", order_rules.PENDING, order_rules.CONFIRMED, 2)),
])
