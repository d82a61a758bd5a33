"""What a caller asks analytics to do with order facts, as plain data. Every surface (the
batch API, the single-order API) builds these; the handlers in
``service_layer/orders.py`` carry them out."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from crm_common.context import RequestContext

from .eligibility import OverrideRequest
from .orders import DEFAULT_STATUS


@dataclass(frozen=True)
class OrderLineInput:
    product_name: str
    quantity: Decimal
    unit_price: Decimal
    subtotal: Decimal | None = None


@dataclass(frozen=True)
class OrderInput:
    """One order as the caller describes it (defaults are the domain's: ``build_order``)."""
    order_id: str
    customer_id: int
    order_date: dt.date
    status: str = DEFAULT_STATUS
    payment_status: str | None = None
    total_amount: Decimal | None = None
    due_date: dt.date | None = None
    paid_date: dt.date | None = None
    items: tuple[OrderLineInput, ...] = ()
    override: OverrideRequest | None = None


@dataclass(frozen=True)
class RecordOrders:
    """Record new orders and changes of recorded ones, by order id within the tenant."""
    ctx: RequestContext
    orders: tuple[OrderInput, ...]


@dataclass(frozen=True)
class ChangeOrder:
    """Move a recorded order along its lifecycle, or record its payment."""
    ctx: RequestContext
    order_id: str
    status: str | None = None
    payment_status: str | None = None
    paid_date: dt.date | None = None
